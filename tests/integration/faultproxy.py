"""Test-only fault-injecting HTTPS proxy (and ARI shim) in front of Pebble.

    proxy = FaultProxy("https://127.0.0.1:14000", pki).start()
    a = apache(conf, acme_server=proxy.directory_url)
    proxy.fail_next(2, 503, retry_after=3, path_prefix="/order-plz")
    proxy.ari("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
    ...
    [e for e in proxy.log if e.kind == "newOrder"][0].payload["replaces"]

It listens on 127.0.0.1:<free port> with the harness PKI's server certificate
(the CA the module trusts through ACMECACertificate) and forwards every request
(method, path+query, headers, body) to the upstream Pebble, relaying status,
headers (duplicates such as Link kept) and body.

URLs: the proxy forwards with `Host: 127.0.0.1:<proxy port>`.  Pebble builds
every URL it hands out (directory, Location, Link, order/authz/challenge/
certificate URLs) from the request's Host header, and checks a JWS "url"
against "https://" + Host + path, so the client's signed proxy URLs verify and
all follow-up traffic stays on the proxy without touching JWS bodies.  As a
safety net, any upstream origin left in a response's headers or body is still
rewritten to the proxy's origin.

Controls (thread-safe, affect subsequent requests):
  ari(start, end, retry_after=None, explanation_url=None, cert_id=None)
      (cert_id may also be a predicate: callable(certID) -> bool)
  ari_off()
  fail_next(n, status=503, retry_after=None, body=None,
            content_type="application/problem+json", path_prefix=None, ...)
  delay_next(n, seconds, kind=None, path_prefix=None, method=None)
  hold(status="pending", kinds=("authz",), polls=None) / hold(None)
  clear_faults()
  down(True|False, mode="drop"|"reset"|"502")
  reject_replaces(True|False, status=409, ptype="alreadyReplaced", detail=...)
  clear_log(), entries(kind=None, ...), wait_for(...)
  profiles({name: description} | None)
      meta.profiles in the directory (draft-ietf-acme-profiles); what the
      module asks for is the newOrder entry's payload["profile"]
  persist(issuer, dns_query) / persist(None)
      a CA offering dns-persist-01 (draft-ietf-acme-dns-persist) only: see
      persist() for how it stands in for one
  stop()

Request log: `proxy.log` is a list (copy) of LogEntry, a 5-tuple
(method, path, status, payload, time) -- payload is the decoded JWS payload
(JSON) or None (not a JWS, or POST-as-GET), time is time.monotonic() -- with
extra attributes: kind ("newOrder", "newNonce", "order", "authz", "challenge",
"finalize", "cert", "account", "directory", "renewalInfo", ...), protected
(decoded JWS protected header or None), post_as_get, injected (None or what
answered instead of Pebble: "fail", "down", "ari", "reject_replaces",
"upstream-error", "hold": Pebble's answer with the status rewritten), delayed (seconds a delay_next() held it before forwarding,
or None), wall (time.time()), cert_id (for renewalInfo), problem (the short
ACME problem type of a problem document Pebble answered, e.g. "badNonce",
else None).
"""

import base64
import datetime
import http.client
import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections import namedtuple

OPENSSL_BIN = "/usr/bin/openssl"
LOOPBACK = "127.0.0.1"

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}

PROBLEM_TYPES = {
    429: ("rateLimited", "too many requests (injected by faultproxy)"),
    503: ("serverInternal", "service unavailable (injected by faultproxy)"),
}


# --------------------------------------------------------------------------
# helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    if isinstance(text, bytes):
        text = text.decode("ascii")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc3339(t):
    """datetime (naive = UTC), epoch seconds, or a string (passed through)."""
    if isinstance(t, str):
        return t
    if isinstance(t, (int, float)):
        t = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_id_from(aki_hex, serial_hex):
    """RFC 9773 certID from the AKI keyIdentifier and the serial, both hex
    (colons/spaces allowed): base64url(keyIdentifier) "." base64url(DER
    content octets of the serial INTEGER)."""
    aki = bytes.fromhex(re.sub(r"[^0-9A-Fa-f]", "", aki_hex))
    serial = int(re.sub(r"[^0-9A-Fa-f]", "", serial_hex), 16)
    n = max(1, (serial.bit_length() + 8) // 8)   # room for a sign bit: minimal DER
    sb = serial.to_bytes(n, "big")
    while len(sb) > 1 and sb[0] == 0 and sb[1] < 0x80:
        sb = sb[1:]
    return "%s.%s" % (b64url(aki), b64url(sb))


def cert_id(pem):
    """RFC 9773 certID of a PEM certificate (text or path), via the openssl CLI."""
    if not pem.lstrip().startswith("-----BEGIN") and os.path.exists(pem):
        with open(pem) as f:
            pem = f.read()
    cp = subprocess.run([OPENSSL_BIN, "x509", "-noout", "-serial", "-ext",
                         "authorityKeyIdentifier"], input=pem, capture_output=True,
                        text=True, timeout=30)
    if cp.returncode != 0:
        raise ValueError("openssl x509 failed: %s" % cp.stderr)
    m = re.search(r"^serial=([0-9A-Fa-f]+)", cp.stdout, re.M)
    if not m:
        raise ValueError("no serial in: %s" % cp.stdout)
    serial = m.group(1)
    aki = None
    lines = cp.stdout.splitlines()
    for i, line in enumerate(lines):
        if "Authority Key Identifier" in line:
            for nxt in lines[i + 1:]:
                mm = re.match(r"\s*(?:keyid:)?((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})\s*$", nxt)
                if mm:
                    aki = mm.group(1)
                    break
            break
    if aki is None:
        raise ValueError("certificate has no authorityKeyIdentifier keyid:\n%s" % cp.stdout)
    return cert_id_from(aki, serial)


def decode_jws(body):
    """Flattened JWS bytes -> (protected dict, payload JSON or None, post_as_get)."""
    try:
        jws = json.loads(body)
        if not isinstance(jws, dict) or "protected" not in jws:
            return None, None, False
        protected = json.loads(b64url_decode(jws["protected"]))
        raw = jws.get("payload", "")
        if raw == "":
            return protected, None, True
        return protected, json.loads(b64url_decode(raw)), False
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None, None, False


def _problem_type(headers, body):
    """The short ACME problem type ("badNonce") of a problem+json answer, or None."""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if "problem+json" not in ctype:
        return None
    try:
        t = json.loads(body).get("type", "")
    except (ValueError, AttributeError):
        return None
    return t.rsplit(":", 1)[-1] if isinstance(t, str) else None


# Pebble 2.4's fixed paths -> kind names (directory members are learnt too)
_PEBBLE_KINDS = (
    ("/dir", "directory"), ("/nonce-plz", "newNonce"), ("/sign-me-up", "newAccount"),
    ("/order-plz", "newOrder"), ("/revoke-cert", "revokeCert"),
    ("/rollover-account-key", "keyChange"), ("/my-account/", "account"),
    ("/my-order/", "order"), ("/finalize-order/", "finalize"), ("/authZ/", "authz"),
    ("/chalZ/", "challenge"), ("/certZ/", "cert"), ("/renewal-info", "renewalInfo"),
)


class LogEntry(namedtuple("LogEntry", "method path status payload time")):
    """(method, path, status, payload, time) plus attributes (see module doc)."""

    def __repr__(self):
        return "LogEntry(%s %s -> %s%s kind=%s%s%s%s)" % (
            self.method, self.path, self.status,
            " " + self.problem if getattr(self, "problem", None) else "",
            getattr(self, "kind", None),
            " injected=%s" % self.injected if getattr(self, "injected", None) else "",
            " delayed=%ss" % self.delayed if getattr(self, "delayed", None) else "",
            " payload=%s" % json.dumps(self.payload)[:200] if self.payload is not None else "")


class _Fault:
    def __init__(self, n, status, retry_after, body, content_type, path_prefix, method,
                 kind, headers, nonce, truncate):
        self.n = n
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.content_type = content_type
        self.path_prefix = path_prefix
        self.method = method
        self.kind = kind
        self.headers = dict(headers or {})
        self.nonce = nonce
        self.truncate = truncate

    def matches(self, method, path, kind):
        if self.path_prefix is not None and not path.startswith(self.path_prefix):
            return False
        if self.method is not None and method.upper() != self.method.upper():
            return False
        if self.kind is not None and kind != self.kind:
            return False
        return True

    def body_bytes(self):
        body = self.body
        if body is None:
            if self.status >= 400:
                ptype, detail = PROBLEM_TYPES.get(self.status, ("serverInternal",
                                                                "error injected by faultproxy"))
                body = {"type": "urn:ietf:params:acme:error:" + ptype, "detail": detail,
                        "status": self.status}
            else:
                body = b""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        return body


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, proxy):
        self.proxy = proxy
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # TLS handshake in the connection's own thread (not the accept loop)
        p = self.proxy
        if p._is_down() and p._down_mode == "reset":
            p._append(LogEntry(None, None, 0, None, time.monotonic()), kind=None,
                      injected="down")
            try:
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return
        try:
            request.settimeout(30)
            tls = p._server_ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        p._track(tls, True)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            p._track(tls, False)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass   # client went away etc.; nothing to report


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def _any(self):
        self.server.proxy._handle(self)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any


class FaultProxy:
    def __init__(self, upstream, pki, host=LOOPBACK, port=0, upstream_timeout=30):
        """upstream: Pebble origin or directory URL ("https://127.0.0.1:14000/dir");
        pki: harness.Pki (cert_file, key_file; ca_file to verify Pebble)."""
        u = urllib.parse.urlsplit(upstream)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("faultproxy only talks to loopback, not %r" % upstream)
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 443
        self.upstream_origin = "%s://%s" % (u.scheme, u.netloc)
        self.directory_path = u.path if u.path not in ("", "/") else "/dir"
        self.upstream_timeout = upstream_timeout
        self._client_ctx = ssl.create_default_context(cafile=pki.ca_file)
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(pki.cert_file, pki.key_file)
        self.host = host
        self._req_port = port
        self.port = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._log = []
        self._faults = []
        self._down = False
        self._down_mode = "drop"
        self._reject_replaces = False
        self._ari = None
        self._ari_by_id = {}
        self._ari_preds = []
        self._ari_asked = []
        self._delays = []
        self._hold = None          # (status, kinds, polls) or None
        self._held = {}            # path -> answers held so far
        self._kinds = dict(_PEBBLE_KINDS)
        self._profiles = None
        self._persist = None       # (issuer, dns_query) or None
        self._persist_chall = {}   # challenge path -> (authz path, identifier)
        self._persist_failed = {}  # authz path -> why the record did not match
        self._conns = set()
        self._server = None
        self._thread = None

    # ---------------------------------------------------------- lifecycle

    def start(self):
        self._server = _Server((self.host, self._req_port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="faultproxy-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._close_conns()
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def origin(self):
        return "https://%s:%d" % (self.host, self.port)

    @property
    def directory_url(self):
        return self.origin + self.directory_path

    @property
    def renewal_info_url(self):
        return self.origin + "/renewal-info"

    def url(self, path):
        return self.origin + path

    # ------------------------------------------------------------ controls

    def ari(self, window_start, window_end, retry_after=None, explanation_url=None,
            cert_id=None):
        """Advertise renewalInfo in the directory and answer GET
        /renewal-info/<certID> with this window (for one certID only, if
        given; the general window otherwise).  cert_id may be a predicate
        (callable taking the asked certID), e.g. to give the window to the
        first certificate the client asks about without knowing its ID
        beforehand; predicates are tried after exact IDs, in order."""
        w = {"start": rfc3339(window_start), "end": rfc3339(window_end),
             "retry_after": retry_after, "explanation_url": explanation_url}
        with self._lock:
            if callable(cert_id):
                self._ari_preds.append((cert_id, w))
                if self._ari is None:
                    self._ari = {}
            elif cert_id is not None:
                self._ari_by_id[cert_id] = w
                if self._ari is None:
                    self._ari = {}
            else:
                self._ari = w

    def ari_off(self):
        with self._lock:
            self._ari = None
            self._ari_by_id = {}
            self._ari_preds = []

    @property
    def ari_requests(self):
        """certIDs asked through GET /renewal-info/<certID>, in order."""
        with self._lock:
            return list(self._ari_asked)

    def fail_next(self, n=1, status=503, retry_after=None, body=None,
                  content_type="application/problem+json", path_prefix=None, *,
                  method=None, kind=None, headers=None, nonce=False, truncate=None):
        """The next n matching requests are answered with `status` instead of
        being forwarded.  body: None (a problem document for >= 400, empty
        otherwise), str/bytes (sent as is, e.g. garbage JSON), dict/list
        (JSON).  Matching: path_prefix, method, kind (e.g. "newOrder").
        nonce=True adds a fresh Replay-Nonce from Pebble; truncate=K sends only
        the first K body bytes with the full Content-Length, then closes."""
        f = _Fault(n, status, retry_after, body, content_type, path_prefix, method, kind,
                   headers, nonce, truncate)
        with self._lock:
            self._faults.append(f)
        return f

    def delay_next(self, n, seconds, kind=None, path_prefix=None, method=None):
        """The next n matching requests are held `seconds` before being
        forwarded to Pebble as usual (a slow CA, e.g. to kill the client in
        the middle of a request).  A request still held when its client went
        away is forwarded all the same.  The returned object's `arrived`
        lists the time.monotonic() at which each held request came in (the
        request log has an entry only once it is answered)."""
        f = _Fault(n, None, None, None, None, path_prefix, method, kind, None, False, None)
        f.seconds = seconds
        f.arrived = []
        with self._lock:
            self._delays.append(f)
        return f

    def hold(self, status="pending", kinds=("authz",), polls=None):
        """A CA that does not finish: Pebble's 200 JSON answers of these
        kinds (e.g. "authz", "order") get their "status" replaced by
        `status`, so a client keeps polling.  polls=K: only the first K
        answers of each URL are held, later ones pass as Pebble gave them.
        hold(None) ends it.  Held entries have injected="hold"."""
        with self._lock:
            self._hold = (status, tuple(kinds), polls) if status else None
            self._held = {}

    def clear_faults(self):
        with self._lock:
            self._faults = []
            self._delays = []

    def pending_faults(self):
        with self._lock:
            return sum(f.n for f in self._faults)

    def down(self, on=True, mode="drop"):
        """CA unreachable.  mode "drop": read the request, close without an
        answer; "reset": close (RST) before the TLS handshake; "502": answer
        502 Bad Gateway.  Open keep-alive connections are closed."""
        if mode not in ("drop", "reset", "502"):
            raise ValueError(mode)
        with self._lock:
            self._down = bool(on)
            self._down_mode = mode
        if on:
            self._close_conns()

    def reject_replaces(self, on=True, status=409, ptype="alreadyReplaced",
                        detail="the certificate named in replaces was already replaced"):
        """newOrder with "replaces" is refused with this problem.  The default
        is the refusal RFC 9773 §5 prescribes (409 alreadyReplaced)."""
        with self._lock:
            self._reject_replaces = (status, ptype, detail) if on else False

    # ----------------------------------------------------------------- log

    @property
    def log(self):
        with self._lock:
            return list(self._log)

    def clear_log(self):
        with self._lock:
            self._log = []
            self._ari_asked = []

    def entries(self, kind=None, method=None, path_prefix=None, since=None):
        """Filtered log; since: a time.monotonic() value."""
        out = []
        for e in self.log:
            if kind is not None and e.kind != kind:
                continue
            if method is not None and e.method != method:
                continue
            if path_prefix is not None and not (e.path or "").startswith(path_prefix):
                continue
            if since is not None and e.time < since:
                continue
            out.append(e)
        return out

    def wait_for(self, pred=None, count=1, timeout=30.0, **filters):
        """Wait until `count` log entries match (filters as entries(), plus a
        predicate on the entry); return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.entries(**filters) if pred is None or pred(e)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("faultproxy: %d/%d entries matching %s within %ss;"
                                         " log tail:\n%s" % (len(found), count, filters, timeout,
                                                             self.format_log(30)))
                self._cond.wait(min(left, 0.5))

    def retries_of(self, problem="badNonce"):
        """For each answer Pebble gave with this problem type: (that entry,
        the next request to the same method and path, or None)."""
        log = sorted(self.log, key=lambda e: e.time)
        out = []
        for i, e in enumerate(log):
            if e.problem != problem:
                continue
            nxt = next((n for n in log[i + 1:] if n.method == e.method and n.path == e.path),
                       None)
            out.append((e, nxt))
        return out

    def format_log(self, n=None):
        log = self.log
        if n:
            log = log[-n:]
        t0 = log[0].time if log else 0
        return "\n".join("%+8.3fs %r" % (e.time - t0, e) for e in log)

    def kind_of(self, path):
        p = (path or "").split("?", 1)[0]
        with self._lock:
            kinds = dict(self._kinds)
        if p in kinds:
            return kinds[p]
        for prefix, k in kinds.items():
            if prefix.endswith("/") and p.startswith(prefix):
                return k
        if p.startswith("/renewal-info/"):
            return "renewalInfo"
        return None

    # ------------------------------------------------------------ internals

    def _append(self, entry, **attrs):
        for k in ("kind", "protected", "post_as_get", "injected", "cert_id", "delayed",
                  "problem"):
            attrs.setdefault(k, None)
        attrs.setdefault("wall", time.time())
        entry.__dict__.update(attrs)
        with self._cond:
            self._log.append(entry)
            self._cond.notify_all()
        return entry

    def _track(self, sock, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def _close_conns(self):
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _is_down(self):
        with self._lock:
            return self._down

    def _take_fault(self, method, path, kind, faults=None):
        with self._lock:
            faults = self._faults if faults is None else faults
            for f in faults:
                if f.n > 0 and f.matches(method, path, kind):
                    f.n -= 1
                    if f.n <= 0:
                        faults.remove(f)
                    return f
        return None

    def _rewrite(self, data):
        if isinstance(data, bytes):
            return data.replace(self.upstream_origin.encode(), self.origin.encode())
        return data.replace(self.upstream_origin, self.origin)

    def _upstream(self, method, path, headers, body):
        conn = http.client.HTTPSConnection(self.upstream_host, self.upstream_port,
                                           timeout=self.upstream_timeout,
                                           context=self._client_ctx)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.putheader("Host", "%s:%d" % (self.host, self.port))
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            data = r.read() if method != "HEAD" else b""
            return r.status, r.reason, r.getheaders(), data
        finally:
            conn.close()

    def _fresh_nonce(self):
        with self._lock:
            inv = {v: k for k, v in self._kinds.items()}
        try:
            st, _, hdrs, _ = self._upstream("HEAD", inv.get("newNonce", "/nonce-plz"), [], b"")
            for k, v in hdrs:
                if k.lower() == "replay-nonce":
                    return v
        except (OSError, http.client.HTTPException):
            pass
        return None

    @staticmethod
    def _read_body(h):
        te = (h.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _send(self, h, status, headers, body, head=False, truncate=None):
        """Write a response; headers: list of (name, value)."""
        h.send_response_only(status)
        h.send_header("Date", h.date_time_string())
        no_body = status in (204, 304) or 100 <= status < 200
        for k, v in headers:
            if k.lower() in HOP_BY_HOP or k.lower() in ("content-length", "date", "server"):
                continue
            h.send_header(k, v)
        if not no_body:
            h.send_header("Content-Length", str(len(body)))
        if truncate is not None:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if not head and not no_body:
            h.wfile.write(body if truncate is None else body[:truncate])
        h.wfile.flush()

    def _problem(self, h, status, ptype, detail, head=False, extra=()):
        body = json.dumps({"type": "urn:ietf:params:acme:error:" + ptype, "detail": detail,
                           "status": status}).encode()
        self._send(h, status, [("Content-Type", "application/problem+json")] + list(extra),
                   body, head=head)

    def _handle(self, h):
        t = time.monotonic()
        method = h.command
        path = h.path
        body = self._read_body(h)
        kind = self.kind_of(path)
        protected, payload, pag = decode_jws(body) if body else (None, None, False)
        head = method == "HEAD"
        entry = LogEntry(method, path, None, payload, t)
        attrs = {"kind": kind, "protected": protected, "post_as_get": pag}

        def done(status, injected=None, **more):
            self._append(entry._replace(status=status), injected=injected, **attrs, **more)

        with self._lock:
            is_down, down_mode = self._down, self._down_mode
            reject = self._reject_replaces
            ari = self._ari
            ari_by_id = dict(self._ari_by_id)
            ari_preds = list(self._ari_preds)

        if is_down:
            if down_mode == "502":
                done(502, "down")
                self._send(h, 502, [("Content-Type", "text/plain"), ("Connection", "close")],
                           b"502 Bad Gateway (faultproxy: CA down)\n", head=head)
                h.close_connection = True
            else:
                done(0, "down")
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return

        with self._lock:
            delay = self._take_fault(method, path, kind, self._delays)
        if delay is not None:
            with self._cond:
                delay.arrived.append(t)
                self._cond.notify_all()
            attrs["delayed"] = delay.seconds
            time.sleep(delay.seconds)

        fault = self._take_fault(method, path, kind)
        if fault is not None:
            hdrs = [("Content-Type", fault.content_type)] if fault.content_type else []
            if fault.retry_after is not None:
                hdrs.append(("Retry-After", str(fault.retry_after)))
            if fault.nonce:
                n = self._fresh_nonce()
                if n:
                    hdrs.append(("Replay-Nonce", n))
            hdrs += list(fault.headers.items())
            done(fault.status, "fail", problem=_problem_type(hdrs, fault.body_bytes()))
            self._send(h, fault.status, hdrs, fault.body_bytes(), head=head,
                       truncate=fault.truncate)
            return

        if ari is not None and path.split("?")[0].startswith("/renewal-info"):
            cid = path.split("?")[0][len("/renewal-info"):].lstrip("/")
            if method not in ("GET", "HEAD"):
                done(405, "ari", cert_id=cid)
                self._problem(h, 405, "malformed", "renewalInfo is GET only", head=head,
                              extra=[("Allow", "GET")])
                return
            with self._lock:
                self._ari_asked.append(cid)
            w = ari_by_id.get(cid)
            for pred, pw in ari_preds:
                if w is None and pred(cid):
                    w = pw
            if w is None and ari.get("start"):
                w = ari
            if not cid or "." not in cid or w is None:
                done(404, "ari", cert_id=cid)
                self._problem(h, 404, "malformed", "unknown certID %r" % cid, head=head)
                return
            doc = {"suggestedWindow": {"start": w["start"], "end": w["end"]}}
            if w.get("explanation_url"):
                doc["explanationURL"] = w["explanation_url"]
            hdrs = [("Content-Type", "application/json")]
            if w.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(w["retry_after"])))
            done(200, "ari", cert_id=cid)
            self._send(h, 200, hdrs, json.dumps(doc).encode(), head=head)
            return

        if reject and kind == "newOrder" and isinstance(payload, dict) and "replaces" in payload:
            n = self._fresh_nonce()
            status, ptype, detail = reject
            done(status, "reject_replaces", problem=ptype)
            self._problem(h, status, ptype, detail, head=head,
                          extra=[("Replay-Nonce", n)] if n else [])
            return

        with self._lock:
            persist_chall = self._persist is not None and method == "POST" \
                and path in self._persist_chall and payload == {}
        if persist_chall:
            why = self._persist_check(path, protected)
            if why is not None:
                n = self._fresh_nonce()
                done(200, "persist")
                doc = {"type": "dns-persist-01", "url": self.origin + path,
                       "status": "invalid", "error": {
                           "type": "urn:ietf:params:acme:error:unauthorized",
                           "detail": why, "status": 403}}
                self._send(h, 200, [("Content-Type", "application/json")]
                           + ([("Replay-Nonce", n)] if n else []),
                           json.dumps(doc).encode(), head=head)
                return

        fwd = [(k, v) for k, v in h.headers.items()
               if k.lower() not in HOP_BY_HOP
               and k.lower() not in ("host", "content-length", "accept-encoding", "expect",
                                     "x-forwarded-proto", "x-forwarded-host")]
        try:
            status, _, rhdrs, data = self._upstream(method, path, fwd, body)
        except (OSError, http.client.HTTPException) as e:
            done(502, "upstream-error")
            self._problem(h, 502, "serverInternal", "faultproxy: upstream error: %s" % e,
                          head=head)
            return

        rhdrs = [(k, self._rewrite(v)) for k, v in rhdrs]
        data = self._rewrite(data)
        if kind == "directory" and status == 200 and method == "GET":
            data = self._directory(data, ari is not None)
        with self._lock:
            persist_on = self._persist is not None
        if persist_on and kind == "authz" and status == 200:
            data = self._persist_authz(path.split("?")[0], data)
        if persist_on and kind in ("newOrder", "order") and status in (200, 201):
            data = self._persist_order(kind, data)
        held = self._held_answer(kind, path, status, data) if status == 200 else None
        if held is not None:
            data = held
            done(status, "hold")
            self._send(h, status, rhdrs, data, head=head)
            return
        done(status, problem=_problem_type(rhdrs, data))
        self._send(h, status, rhdrs, data, head=head)

    def _held_answer(self, kind, path, status, data):
        """The body with its status rewritten by hold(), or None."""
        with self._lock:
            if self._hold is None or kind not in self._hold[1]:
                return None
            hstatus, _, polls = self._hold
            n = self._held.get(path, 0)
            if polls is not None and n >= polls:
                return None
            try:
                doc = json.loads(data)
            except ValueError:
                return None
            if not isinstance(doc, dict) or "status" not in doc:
                return None
            self._held[path] = n + 1
        doc["status"] = hstatus
        return json.dumps(doc, indent=2).encode()

    # ------------------------------------- profiles and dns-persist-01 shims

    def profiles(self, profiles):
        """Lists profiles ({name: description}) in the directory's
        meta.profiles; None lists none (Pebble 2.4 has no profiles)."""
        with self._lock:
            self._profiles = dict(profiles) if profiles is not None else None

    def persist(self, issuer, dns_query=None):
        """Stands in for a CA that offers dns-persist-01 (Pebble 2.4 has
        none): every authorization shows its http-01 challenge as a
        dns-persist-01 one (same URL, no token, issuer-domain-names
        [issuer]).  When the module answers it, the proxy looks up the TXT
        record at _validation-persist.<name> through dns_query (the harness's
        query to pebble-challtestsrv) and checks that it names `issuer` and
        the account in the request's "kid", as the CA would.  A match is
        passed on to Pebble, which must run with PEBBLE_VA_ALWAYS_VALID=1 so
        that it completes the authorization without fetching anything; a
        mismatch makes the authorization invalid with an "unauthorized"
        problem saying what was found.  persist(None) turns it off."""
        with self._lock:
            self._persist = (issuer, dns_query) if issuer else None
            self._persist_chall.clear()
            self._persist_failed.clear()

    def _persist_authz(self, path, data):
        """An authorization as the dns-persist-01 CA shows it."""
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        with self._lock:
            issuer = self._persist[0]
            failed = self._persist_failed.get(path)
            ident = (doc.get("identifier") or {}).get("value", "")
            chals = []
            for ch in doc.get("challenges") or []:
                if ch.get("type") != "http-01":
                    continue
                ch = dict(ch, type="dns-persist-01", **{"issuer-domain-names": [issuer]})
                ch.pop("token", None)
                self._persist_chall[urllib.parse.urlsplit(ch["url"]).path] = (path, ident)
                if failed:
                    ch["status"] = "invalid"
                    ch["error"] = {"type": "urn:ietf:params:acme:error:unauthorized",
                                   "detail": failed, "status": 403}
                chals.append(ch)
        doc["challenges"] = chals
        if failed:
            doc["status"] = "invalid"
        return json.dumps(doc, indent=2).encode()

    def _persist_order(self, kind, data):
        """As a CA would: an order with a failed authorization is invalid;
        a new order starts its authorizations afresh (Pebble may hand out
        one it still has pending)."""
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        paths = [urllib.parse.urlsplit(u).path for u in doc.get("authorizations") or []]
        with self._lock:
            if kind == "newOrder":
                for p in paths:
                    self._persist_failed.pop(p, None)
            elif any(p in self._persist_failed for p in paths):
                doc["status"] = "invalid"
                doc["error"] = {"type": "urn:ietf:params:acme:error:unauthorized",
                                "detail": "an authorization failed", "status": 403}
        return json.dumps(doc, indent=2).encode()

    def _persist_check(self, path, protected):
        """None when the published record lets the account in, else why not."""
        with self._lock:
            issuer, query = self._persist
            authz, ident = self._persist_chall[path]
        kid = (protected or {}).get("kid", "")
        name = "_validation-persist." + ident.lstrip("*.")
        _, answers = query(name, "TXT")
        found = []
        for rdata in answers:
            # TXT RDATA: length-prefixed strings, joined
            text, i = b"", 0
            while i < len(rdata):
                text += rdata[i + 1:i + 1 + rdata[i]]
                i += 1 + rdata[i]
            found.append(text.decode("utf-8", "replace"))
        for text in found:
            parts = [p.strip() for p in text.split(";")]
            params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            if parts[0].lower() == issuer and params.get("accounturi") == kid:
                with self._lock:
                    self._persist_failed.pop(authz, None)
                return None
        why = "no TXT record at %s names %s and accounturi=%s (found: %s)" % (
            name, issuer, kid, "; ".join(repr(t) for t in found) or "none")
        with self._lock:
            self._persist_failed[authz] = why
        return why

    def _directory(self, data, with_ari):
        try:
            d = json.loads(data)
        except ValueError:
            return data
        learnt = {}
        for k, v in d.items():
            if isinstance(v, str) and v.startswith(self.origin):
                learnt[v[len(self.origin):]] = k
        with self._lock:
            self._kinds.update(learnt)
        if with_ari:
            d["renewalInfo"] = self.renewal_info_url
        else:
            d.pop("renewalInfo", None)
        with self._lock:
            profiles = self._profiles
        if profiles is not None:
            d.setdefault("meta", {})["profiles"] = profiles
        return json.dumps(d, indent=2).encode()
