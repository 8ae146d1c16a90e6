"""Integration-test harness for mod_acmeauto.

Runs the real pieces on loopback only:

  * pebble-challtestsrv as the DNS server (every A query -> 127.0.0.1, no AAAA),
  * Pebble as the ACME CA (EAB required, default nonce rejection/authz reuse),
  * Apache httpd (/usr/sbin/apache2) in the foreground with the module.

Only the standard library and the openssl/curl command-line tools are used.
The fixtures that wrap these classes live in conftest.py; tests import the
helpers (vhost builders, dns_query, verify_chain) from here.
"""

import base64
import http.client
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

LOOPBACK = "127.0.0.1"

# Fixed ports (loopback only).  Pebble validates http-01 against HTTP_PORT, so
# Apache must listen there; TLS_ALPN_PORT is where Pebble would go for
# tls-alpn-01 (no test uses it yet).
HTTP_PORT = 5002
HTTPS_PORT = 5443
TLS_ALPN_PORT = 5001
PEBBLE_PORT = 14000
PEBBLE_MGMT_PORT = 15000
DNS_PORT = 8053
CHALLTESTSRV_MGMT_PORT = 8055
FIXED_TCP_PORTS = (HTTP_PORT, HTTPS_PORT, PEBBLE_PORT, PEBBLE_MGMT_PORT,
                   DNS_PORT, CHALLTESTSRV_MGMT_PORT)

APACHE_BIN = os.environ.get("ACMEAUTO_HTTPD", "/usr/sbin/apache2")
APACHE_MODULE_DIR = os.environ.get("ACMEAUTO_HTTPD_MODULES",
                                   "/usr/lib/apache2/modules")
MODULE_PATH = os.environ.get("ACMEAUTO_MODULE") or os.path.join(
    REPO_ROOT, "mod_acmeauto", ".libs", "mod_acmeauto.so")
ACMEAUTO_BIN = os.environ.get("ACMEAUTO_CMD") or os.path.join(
    REPO_ROOT, "mod_acmeauto", "acmeauto")
PEBBLE_BIN = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV_BIN = shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"
OPENSSL_BIN = shutil.which("openssl") or "/usr/bin/openssl"
RUN_USER = "www-data"

# Modules every test server loads (mod_log_config, mod_unixd and mod_watchdog
# are compiled into Debian's apache2).
BASE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_host_module", "mod_authz_host.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_basic_module", "mod_auth_basic.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
    ("status_module", "mod_status.so"),
    ("mime_module", "mod_mime.so"),
    ("alias_module", "mod_alias.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("dir_module", "mod_dir.so"),
)

THREADS_PER_CHILD = 25
LOG_TAIL_LINES = int(os.environ.get("ACMEAUTO_LOG_LINES", "120"))

# Log files shown (from where they stood when the test started) in the report
# of a failed test: label -> path.  Apache instances are attached to the test
# item instead (see conftest.py).
SESSION_LOGS = {}


class HarnessError(Exception):
    """The harness could not set up what a test needs."""


# --------------------------------------------------------------------------
# small utilities

def run(cmd, timeout=30, input=None, check=False):
    """Run a command, return CompletedProcess with text stdout/stderr."""
    cp = subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, timeout=timeout,
                        stdin=None if input is not None else subprocess.DEVNULL)
    if check and cp.returncode != 0:
        raise HarnessError("command failed (%d): %s\n%s%s" % (
            cp.returncode, " ".join(cmd), cp.stdout, cp.stderr))
    return cp


def mkdir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    return path


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def read_text(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail(text, n=LOG_TAIL_LINES):
    lines = text.splitlines()
    if len(lines) > n:
        lines = ["[... %d earlier lines cut ...]" % (len(lines) - n)] + lines[-n:]
    return "\n".join(lines)


def port_in_use(port, host=LOOPBACK):
    """True when something already binds host:port (TCP)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def udp_port_in_use(port, host=LOOPBACK):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def wait_ports_free(ports, timeout=15.0):
    """Wait until none of the TCP ports is bound; return the busy ones."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [p for p in ports if port_in_use(p)]
        if not busy or time.monotonic() > deadline:
            return busy
        time.sleep(0.2)


def port_owners(ports):
    cp = run(["ss", "-ltnup"], timeout=10)
    want = tuple(":%d " % p for p in ports)
    return "\n".join(l for l in cp.stdout.splitlines() if any(w in l for w in want))


def can_connect(port, host=LOOPBACK, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_run_user():
    try:
        pwd.getpwnam(RUN_USER)
    except KeyError:
        raise HarnessError("user %s does not exist (Apache children run as it)" % RUN_USER)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_to_std(text):
    """base64url (padded or not) -> standard base64 with '+', '/', '=' padding."""
    return base64.b64encode(b64url_decode(text)).decode()


def kill_process(proc, sig_first=signal.SIGTERM, timeout=15.0, group=False):
    """Stop a Popen we started: sig_first, wait, then SIGKILL (its group if asked)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig_first)
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


# --------------------------------------------------------------------------
# DNS (raw UDP query to challtestsrv)

def dns_query(name, qtype="A", port=DNS_PORT, host=LOOPBACK, timeout=3.0):
    """Send one DNS query; return (rcode, [answer strings of the asked type])."""
    qt = {"A": 1, "AAAA": 28, "TXT": 16, "CAA": 257}[qtype]
    tid = secrets.randbelow(65536)
    header = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(l)]) + l.encode("ascii")
                     for l in name.rstrip(".").split(".")) + b"\0"
    packet = header + qname + struct.pack(">HH", qt, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        while True:
            data, _ = s.recvfrom(65535)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == tid:
                break
    _, flags, qdcount, ancount, _, _ = struct.unpack(">HHHHHH", data[:12])
    off = 12
    for _ in range(qdcount):
        off = _dns_skip_name(data, off) + 4
    answers = []
    for _ in range(ancount):
        off = _dns_skip_name(data, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        rdata = data[off:off + rdlen]
        off += rdlen
        if rtype != qt:
            continue
        if rtype == 1:
            answers.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
        else:
            answers.append(rdata)
    return flags & 0xF, answers


def _dns_skip_name(data, off):
    while True:
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


# --------------------------------------------------------------------------
# OpenSSL helpers

PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def pem_certs(text):
    return [m.group(0) + "\n" for m in PEM_RE.finditer(text)]


@dataclass
class CertInfo:
    """A parsed X.509 certificate (leaf of a served chain, or any PEM)."""
    pem: str
    subject: str = ""
    issuer: str = ""
    serial: str = ""
    not_before: str = ""
    not_after: str = ""
    sans: list = field(default_factory=list)
    key_type: str = ""       # "RSA", "EC", "ED25519", ...
    key_bits: int = 0
    curve: str = ""          # "P-256", "P-384" for EC keys
    text: str = ""

    @property
    def self_signed(self):
        return self.subject == self.issuer

    def summary(self):
        return "subject=%s issuer=%s serial=%s sans=%s key=%s/%s%s" % (
            self.subject, self.issuer, self.serial, ",".join(self.sans),
            self.key_type, self.key_bits, (" " + self.curve) if self.curve else "")


_CURVES = {"prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def parse_cert(pem):
    """Parse one PEM certificate with `openssl x509`."""
    fields = run([OPENSSL_BIN, "x509", "-noout", "-nameopt", "RFC2253", "-subject",
                  "-issuer", "-serial", "-startdate", "-enddate"], input=pem, check=True).stdout
    text = run([OPENSSL_BIN, "x509", "-noout", "-text"], input=pem, check=True).stdout
    info = CertInfo(pem=pem, text=text)
    for line in fields.splitlines():
        key, _, value = line.partition("=")
        value = value.strip()
        if key == "subject":
            info.subject = value
        elif key == "issuer":
            info.issuer = value
        elif key == "serial":
            info.serial = value.upper()
        elif key == "notBefore":
            info.not_before = value
        elif key == "notAfter":
            info.not_after = value
    m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.+)", text)
    if m:
        info.sans = [p.strip()[4:] for p in m.group(1).split(",") if p.strip().startswith("DNS:")]
    m = re.search(r"Public Key Algorithm:\s*(\S+)", text)
    if m:
        algo = m.group(1)
        info.key_type = {"rsaEncryption": "RSA", "id-ecPublicKey": "EC",
                         "ED25519": "ED25519", "rsassaPss": "RSA-PSS"}.get(algo, algo)
    m = re.search(r"Public-Key:\s*\((\d+) bit\)", text)
    if m:
        info.key_bits = int(m.group(1))
    m = re.search(r"NIST CURVE:\s*(\S+)", text)
    if m:
        info.curve = m.group(1)
    else:
        m = re.search(r"ASN1 OID:\s*(\S+)", text)
        if m:
            info.curve = _CURVES.get(m.group(1), m.group(1))
    return info


@dataclass
class ServedCert:
    """What `openssl s_client` saw for one SNI name."""
    name: str
    chain: list                 # PEM strings, leaf first
    leaf: CertInfo
    output: str                 # full s_client output, for diagnostics

    # convenience pass-throughs
    def __getattr__(self, item):
        if item in ("subject", "issuer", "serial", "sans", "key_type", "key_bits",
                    "curve", "not_before", "not_after", "self_signed", "text"):
            return getattr(self.leaf, item)
        raise AttributeError(item)

    def summary(self):
        return "%s: %s (chain of %d)" % (self.name, self.leaf.summary(), len(self.chain))


class CertFetchError(Exception):
    pass


def fetch_served_cert(name, port=HTTPS_PORT, sigalgs=None, timeout=20):
    cmd = [OPENSSL_BIN, "s_client", "-connect", "%s:%d" % (LOOPBACK, port),
           "-servername", name, "-showcerts"]
    if sigalgs:
        cmd += ["-sigalgs", sigalgs]
    try:
        cp = run(cmd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CertFetchError("openssl s_client timed out for %s" % name)
    out = cp.stdout + cp.stderr
    chain = pem_certs(cp.stdout)
    if not chain:
        raise CertFetchError("no certificate from 127.0.0.1:%d for SNI %s:\n%s" % (
            port, name, tail(out, 30)))
    return ServedCert(name=name, chain=chain, leaf=parse_cert(chain[0]), output=out)


def verify_chain(chain, root_pem_file, workdir=None, purpose="sslserver"):
    """`openssl verify` a served chain (leaf first) against a root file.

    Returns (ok, output).
    """
    d = tempfile.mkdtemp(prefix="verify-", dir=workdir)
    try:
        leaf = write_file(os.path.join(d, "leaf.pem"), chain[0])
        cmd = [OPENSSL_BIN, "verify", "-CAfile", root_pem_file]
        if purpose:
            cmd += ["-purpose", purpose]
        if len(chain) > 1:
            cmd += ["-untrusted", write_file(os.path.join(d, "chain.pem"), "".join(chain[1:]))]
        cp = run(cmd + [leaf])
        out = (cp.stdout + cp.stderr).strip()
        return cp.returncode == 0 and out.endswith("OK"), out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_self_signed(directory, names, key="ec"):
    """Self-signed server certificate for `names`; returns (cert, key) paths."""
    mkdir(directory)
    cert = os.path.join(directory, "%s.crt" % names[0])
    keyf = os.path.join(directory, "%s.key" % names[0])
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" \
        else ["-newkey", "rsa:2048"]
    run([OPENSSL_BIN, "req", "-x509", *newkey, "-nodes", "-keyout", keyf, "-out", cert,
         "-days", "2", "-subj", "/CN=%s" % names[0],
         "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)], check=True)
    os.chmod(keyf, 0o600)
    os.chmod(cert, 0o644)
    return cert, keyf


BADNONCE_TRIES = 6      # ACME_BADNONCE_RETRIES + 1 in acme_client.h


def _long_refusal_runs(log, length):
    """How many runs of at least `length` badNonce answers in a row one
    request (method and URL) got, in the proxy's log."""
    runs, current = 0, {}
    for e in log:
        key = (e.method, e.path)
        if e.problem == "badNonce":
            current[key] = current.get(key, 0) + 1
            if current[key] == length:
                runs += 1
        else:
            current[key] = 0
    return runs


def assert_bad_nonces_retried_at_once(apache, name, proxy, within=10.0, give_up_after=None):
    """Every badNonce answer the proxy saw (from the CA or injected) was
    followed by the same request, with another nonce, within `within`
    seconds (far less than the test's ACMERetryDelay), and no attempt of
    `name` failed.  With give_up_after=N (a CA refusing most nonces) a run
    of at least N refusals of one request in a row may end the attempt
    instead, and then every failure logged is that badNonce.  Returns the
    (refused, retry) pairs."""
    pairs = proxy.retries_of("badNonce")
    assert pairs, "no badNonce was answered: nothing was retried\n" + proxy.format_log(60)
    log = sorted(proxy.log, key=lambda e: e.time)
    gave_up = 0
    for refused, retry in pairs:
        assert retry is not None, "%r was never sent again" % (refused,)
        if refused.protected and retry.protected:
            assert retry.protected.get("nonce") != refused.protected.get("nonce"), \
                "retried with the refused nonce: %r" % (retry,)
        gap = retry.time - refused.time
        if gap < within:
            continue
        same = [e for e in log if e.time <= refused.time
                and (e.method, e.path) == (refused.method, refused.path)]
        run = 0
        for e in reversed(same):
            if e.problem != "badNonce":
                break
            run += 1
        assert give_up_after and run >= give_up_after, \
            "%r retried only %.1f s later, after %d refusals in a row" % (refused, gap, run)
        gave_up += 1
    if give_up_after:
        # the module gives up after BADNONCE_TRIES refusals of one request;
        # what it sends next may be the same request (an authorization is
        # fetched again to see why it failed), so the run goes on at once
        gave_up = max(gave_up, _long_refusal_runs(log, BADNONCE_TRIES))
    failed = apache.log_lines(r"AA00305")
    assert len(failed) == gave_up and all("badNonce" in l for l in failed), \
        "attempts failed (%d runs of refusals ended one):\n%s" % (gave_up, "\n".join(failed))
    st = apache.state(name)
    assert st.get("failures", 0) == 0, st
    return pairs


def run_certbot(cmd, logs_dir, attempts=3, **kw):
    """Runs Debian's certbot; again when it gave up on Pebble's nonce
    rejections (its acme library retries a badNonce only once, and Pebble
    refuses 5% of nonces on purpose). Returns the last CompletedProcess."""
    for _ in range(attempts):
        cp = subprocess.run(cmd, **kw)
        if cp.returncode == 0:
            break
        log = read_text(os.path.join(logs_dir, "letsencrypt.log"))
        if "badNonce" not in log[-20000:]:
            break
    return cp


class Pki:
    """Throwaway CA and a server certificate for Pebble's own HTTPS listeners."""

    def __init__(self, directory):
        self.dir = mkdir(directory)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.key_file = os.path.join(self.dir, "server.key")
        self.cert_file = os.path.join(self.dir, "server.pem")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run([OPENSSL_BIN, "req", "-x509", *ec, "-keyout", self.ca_key, "-out", self.ca_file,
             "-days", "3", "-subj", "/CN=acmeauto integration test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True)
        csr = os.path.join(self.dir, "server.csr")
        run([OPENSSL_BIN, "req", "-new", *ec, "-keyout", self.key_file, "-out", csr,
             "-subj", "/CN=localhost"], check=True)
        ext = write_file(os.path.join(self.dir, "server.ext"),
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                         "basicConstraints=critical,CA:FALSE\n"
                         "keyUsage=critical,digitalSignature\n"
                         "extendedKeyUsage=serverAuth\n")
        run([OPENSSL_BIN, "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", self.ca_key,
             "-CAcreateserial", "-out", self.cert_file, "-days", "3", "-extfile", ext], check=True)
        for f in (self.ca_key, self.key_file):
            os.chmod(f, 0o600)
        for f in (self.ca_file, self.cert_file):
            os.chmod(f, 0o644)   # Apache children (www-data) read ca.pem


# --------------------------------------------------------------------------
# pebble-challtestsrv

class ChallTestSrv:
    """Mock DNS: every A query answers 127.0.0.1, AAAA queries get no answer."""

    def __init__(self, directory, dns_port=DNS_PORT, mgmt_port=CHALLTESTSRV_MGMT_PORT):
        self.dir = mkdir(directory)
        self.dns_port = dns_port
        self.mgmt_port = mgmt_port
        self.log_path = os.path.join(self.dir, "challtestsrv.log")
        self.proc = None
        self._log = None

    @staticmethod
    def _supports(flag):
        cp = run([CHALLTESTSRV_BIN, "-h"], timeout=10)
        return re.search(r"^\s*%s\b" % re.escape(flag), cp.stdout + cp.stderr, re.M) is not None

    def start(self, timeout=15.0):
        cmd = [CHALLTESTSRV_BIN,
               "-dns01", "%s:%d" % (LOOPBACK, self.dns_port),
               "-http01", "", "-https01", "", "-tlsalpn01", ""]
        if self._supports("-doh"):
            cmd += ["-doh", ""]
        cmd += ["-management", "%s:%d" % (LOOPBACK, self.mgmt_port),
                "-defaultIPv4", LOOPBACK, "-defaultIPv6", ""]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        SESSION_LOGS["challtestsrv log"] = self.log_path
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError("pebble-challtestsrv exited (%s):\n%s" % (
                    self.proc.returncode, tail(read_text(self.log_path), 40)))
            try:
                rcode, answers = dns_query("ready.harness.test", "A", port=self.dns_port,
                                           timeout=0.5)
                if rcode == 0 and answers == [LOOPBACK] and can_connect(self.mgmt_port):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError("pebble-challtestsrv did not answer DNS:\n%s" %
                                   tail(read_text(self.log_path), 40))
            time.sleep(0.2)
        rcode, answers = dns_query("ready.harness.test", "AAAA", port=self.dns_port)
        if answers:
            raise HarnessError("challtestsrv answers AAAA with %s; Pebble could try IPv6" % answers)

    def manage(self, path, payload):
        """POST to the management API (e.g. "add-a", {"host": .., "addresses": [..]})."""
        req = urllib.request.Request("http://%s:%d/%s" % (LOOPBACK, self.mgmt_port, path),
                                     data=json.dumps(payload).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status

    def stop(self):
        kill_process(self.proc)
        if self._log:
            self._log.close()


# --------------------------------------------------------------------------
# Pebble

def make_eab_keys(n=3):
    """kid-1..kid-n with random 32-byte base64url (unpadded) HMAC keys.

    The last key is drawn until its base64url form contains both '-' and '_'
    so that its standard-base64 form has '+' and '/' (and '=' padding, as
    every 32-byte key has): tests of the standard-base64 spelling use it.
    """
    keys = {}
    for i in range(1, n + 1):
        while True:
            k = b64url(secrets.token_bytes(32))
            if i < n or ("-" in k and "_" in k):
                break
        keys["kid-%d" % i] = k
    return keys


class Pebble:
    """One Pebble ACME server (EAB required) with its log and issuing chain."""

    TOS_URL = "data:text/plain,Do%20what%20thou%20wilt"   # Pebble's fixed ToS

    def __init__(self, directory, pki, dns_port=DNS_PORT, port=PEBBLE_PORT,
                 mgmt_port=PEBBLE_MGMT_PORT, http_port=HTTP_PORT, tls_port=TLS_ALPN_PORT,
                 eab_keys=None, env=None, name="pebble", config=None):
        self.dir = mkdir(directory)
        self.pki = pki
        self.name = name
        self.dns_port = dns_port
        self.port = port
        self.mgmt_port = mgmt_port
        self.http_port = http_port
        self.tls_port = tls_port
        self.eab = dict(eab_keys or make_eab_keys())
        self.env = {"PEBBLE_VA_NOSLEEP": "1"}
        self.env.update(env or {})
        # extra keys of Pebble's config, e.g. {"certificateValidityPeriod": 120}
        self.extra_config = dict(config or {})
        self.directory_url = "https://%s:%d/dir" % (LOOPBACK, port)
        self.config_path = os.path.join(self.dir, "pebble-config.json")
        self.log_path = os.path.join(self.dir, "pebble.log")
        self.root_file = os.path.join(self.dir, "roots.pem")
        self.intermediate_file = os.path.join(self.dir, "intermediates.pem")
        self.roots = []            # PEM strings
        self.intermediates = []    # PEM strings
        self.issuer_subjects = []  # RFC2253 subjects of the intermediates
        self.proc = None
        self._log = None

    # --- lifecycle

    def write_config(self):
        cfg = {"pebble": {
            "listenAddress": "%s:%d" % (LOOPBACK, self.port),
            "managementListenAddress": "%s:%d" % (LOOPBACK, self.mgmt_port),
            "certificate": self.pki.cert_file,
            "privateKey": self.pki.key_file,
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": True,
            "externalAccountMACKeys": self.eab,
        }}
        cfg["pebble"].update(self.extra_config)
        write_file(self.config_path, json.dumps(cfg, indent=2) + "\n", mode=0o600)

    def start(self, timeout=30.0):
        busy = wait_ports_free([self.port, self.mgmt_port], timeout=5)
        if busy:
            raise HarnessError("ports %s busy, cannot start %s:\n%s" % (
                busy, self.name, port_owners(busy)))
        self.write_config()
        env = dict(os.environ)
        env.update(self.env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PEBBLE_BIN, "-config", self.config_path,
             "-dnsserver", "%s:%d" % (LOOPBACK, self.dns_port)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        SESSION_LOGS["%s log" % self.name] = self.log_path
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError("%s exited (%s):\n%s" % (
                    self.name, self.proc.returncode, tail(read_text(self.log_path), 40)))
            try:
                d = self.directory()
                if "newAccount" in d:
                    break
            except (OSError, ValueError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise HarnessError("%s did not answer %s:\n%s" % (
                    self.name, self.directory_url, tail(read_text(self.log_path), 40)))
            time.sleep(0.2)
        self.fetch_issuers()

    def stop(self):
        kill_process(self.proc)
        if self._log:
            self._log.close()

    # --- HTTP access

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.pki.ca_file)

    def fetch(self, path, mgmt=False, timeout=10):
        """GET https://127.0.0.1:PORT/path (management port if mgmt) -> bytes."""
        url = "https://%s:%d/%s" % (LOOPBACK, self.mgmt_port if mgmt else self.port,
                                    path.lstrip("/"))
        with urllib.request.urlopen(url, context=self.ssl_context(), timeout=timeout) as r:
            return r.read()

    def directory(self):
        return json.loads(self.fetch("/dir"))

    def fetch_issuers(self):
        """Fetch /roots/N and /intermediates/N (N = 0.. while present) to PEM files."""
        def collect(kind):
            pems = []
            for i in range(8):
                try:
                    pems.extend(pem_certs(self.fetch("/%s/%d" % (kind, i), mgmt=True).decode()))
                except urllib.error.HTTPError:
                    break
                if not os.environ.get("PEBBLE_ALTERNATE_ROOTS") and \
                        "PEBBLE_ALTERNATE_ROOTS" not in self.env:
                    break
            return pems
        self.roots = collect("roots")
        self.intermediates = collect("intermediates")
        if not self.roots or not self.intermediates:
            raise HarnessError("%s management API gave no roots/intermediates" % self.name)
        write_file(self.root_file, "".join(self.roots))
        write_file(self.intermediate_file, "".join(self.intermediates))
        self.issuer_subjects = [parse_cert(p).subject for p in self.intermediates]
        return self.root_file

    def issued(self, cert):
        """True when a CertInfo/ServedCert was issued by this Pebble."""
        return cert.issuer in self.issuer_subjects

    # --- EAB

    def eab_std(self, kid):
        """The kid's HMAC key in standard base64 with padding."""
        return b64url_to_std(self.eab[kid])

    # --- log

    def log_text(self):
        return read_text(self.log_path)

    def account_count(self):
        """Accounts Pebble has created so far (from its log)."""
        found = re.findall(r"There are now (\d+) accounts in memory", self.log_text())
        return int(found[-1]) if found else 0


# --------------------------------------------------------------------------
# Apache

@dataclass
class Response:
    status: int
    reason: str
    headers: dict
    body: bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class _SNIHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with a chosen SNI name; certificate not verified."""

    def __init__(self, port, sni, timeout):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        super().__init__(LOOPBACK, port, timeout=timeout, context=ctx)
        self._sni = sni
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((LOOPBACK, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)


def http_request(path, host, https=False, port=None, method="GET", headers=None,
                 body=None, timeout=10):
    """One raw request over loopback; `path` is sent byte for byte."""
    port = port or (HTTPS_PORT if https else HTTP_PORT)
    if https:
        conn = _SNIHTTPSConnection(port, host, timeout)
    else:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        hdrs = {"Host": host, "Connection": "close"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def as_user(script, timeout=60, user=RUN_USER):
    """Run a Python script as the server's User (an attacker's CGI/PHP
    script would run so); returns CompletedProcess, raises on failure."""
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    cp = subprocess.run(["/usr/bin/python3", "-c", script], preexec_fn=drop,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")
    if cp.returncode != 0:
        raise HarnessError("script as %s failed (%d):\n%s%s" % (
            user, cp.returncode, cp.stdout, cp.stderr))
    return cp


def vhosts(name, aliases=(), acme_domain=None, https_extra="", http_extra="", http=True):
    """An HTTPS (5443) and an HTTP (5002) <VirtualHost> for `name`.

    acme_domain: None -> no ACMEDomain inside the vhost; "" -> a bare
    `ACMEDomain` (names from ServerName/ServerAlias); a string -> `ACMEDomain
    <string>` inside the HTTPS vhost.  No SSLCertificateFile: the module
    provides the certificate.
    """
    alias = ("  ServerAlias %s\n" % " ".join(aliases)) if aliases else ""
    dom = ""
    if acme_domain is not None:
        dom = ("  ACMEDomain %s\n" % acme_domain).replace(" \n", "\n")
    out = ("<VirtualHost %s:%d>\n  ServerName %s\n%s  SSLEngine on\n%s%s</VirtualHost>\n"
           % (LOOPBACK, HTTPS_PORT, name, alias, dom, https_extra))
    if http:
        out += ("<VirtualHost %s:%d>\n  ServerName %s\n%s%s</VirtualHost>\n"
                % (LOOPBACK, HTTP_PORT, name, alias, http_extra))
    return out


def account_conf(kid, hmac, contact="admin@example.org", tos="on"):
    """Global account directives: EAB, contact, terms of service."""
    out = "ACMEEAB %s %s\n" % (kid, hmac) if hmac is not None else "ACMEEAB %s\n" % kid
    if contact:
        out += "ACMEContact %s\n" % contact
    if tos:
        out += "ACMEAgreeTOS %s\n" % tos
    return out


INDEX_HTML = "<html><body>acmeauto integration test index</body></html>\n"
ERROR_LEVELS = ("warn", "error", "crit", "alert", "emerg")


class Apache:
    """One Apache server root with a generated httpd.conf, run in the foreground.

    conf_body is appended to the generated base config; "@ROOT@" in it is
    replaced by the server root directory (for files a test writes there).
    """

    def __init__(self, root, conf_body="", *, pki=None, pebble=None, load_module=True,
                 module_path=MODULE_PATH, acme_server="default", acme_ca="default",
                 store_dir="default", server_name="main.test", log_level="info",
                 module_log_level="debug", extra_modules=(), base_extra=""):
        self.root = mkdir(root)
        self.pebble = pebble
        self.load_module = load_module
        self.module_path = module_path
        self.conf_dir = mkdir(os.path.join(self.root, "conf"))
        self.logs_dir = mkdir(os.path.join(self.root, "logs"))
        self.run_dir = mkdir(os.path.join(self.root, "run"))
        self.htdocs = mkdir(os.path.join(self.root, "htdocs"))
        write_file(os.path.join(self.htdocs, "index.html"), INDEX_HTML)
        self.conf_path = os.path.join(self.conf_dir, "httpd.conf")
        self.error_log_path = os.path.join(self.logs_dir, "error.log")
        self.access_log_path = os.path.join(self.logs_dir, "access.log")
        self.stderr_path = os.path.join(self.logs_dir, "stderr.log")
        self.pid_file = os.path.join(self.run_dir, "httpd.pid")
        if store_dir == "default":
            store_dir = os.path.join(self.root, "store")
        self.store_dir = store_dir
        if acme_server == "default":
            acme_server = pebble.directory_url if pebble else None
        if acme_ca == "default":
            acme_ca = pki.ca_file if pki else None
        self.proc = None
        self._stopped = False
        self._stderr = None

        lines = [
            'ServerRoot "%s"' % self.root,
            'DefaultRuntimeDir "%s"' % self.run_dir,
            'PidFile "%s"' % self.pid_file,
            'Mutex file:%s default' % self.run_dir,
        ]
        mods = list(BASE_MODULES) + list(extra_modules)
        lines += ["LoadModule %s %s" % (m, f if f.startswith("/") else
                                        os.path.join(APACHE_MODULE_DIR, f)) for m, f in mods]
        if load_module:
            lines.append("LoadModule acmeauto_module %s" % module_path)
        lines += [
            "ServerName %s" % server_name,
            "User %s" % RUN_USER,
            "Group %s" % RUN_USER,
            'ErrorLog "%s"' % self.error_log_path,
            "LogLevel %s%s" % (log_level, (" acmeauto:%s" % module_log_level)
                               if load_module and module_log_level else ""),
            'LogFormat "%h %v:%p \\"%r\\" %>s %b" vhost',
            'CustomLog "%s" vhost' % self.access_log_path,
            "Listen %s:%d" % (LOOPBACK, HTTP_PORT),
            "Listen %s:%d https" % (LOOPBACK, HTTPS_PORT),
            "TypesConfig /etc/mime.types",
            "StartServers 2",
            "ThreadsPerChild %d" % THREADS_PER_CHILD,
            # Debian's mpm_event.conf values: with the compiled-in 75 the
            # parent forks a third child a second or two after every
            # (re)start, and a stop that meets a child in its start-up
            # waits ~10 s for httpd to SIGKILL it (wait_children_started)
            "MinSpareThreads %d" % THREADS_PER_CHILD,
            "MaxSpareThreads %d" % (3 * THREADS_PER_CHILD),
            "MaxRequestWorkers 100",
            "GracefulShutdownTimeout 5",
            "SSLSessionCache shmcb:%s/ssl_scache(512000)" % self.run_dir,
            "SSLProtocol -all +TLSv1.2 +TLSv1.3",
            'DocumentRoot "%s"' % self.htdocs,
            "DirectoryIndex index.html",
            "<Directory />\n  AllowOverride None\n  Require all denied\n</Directory>",
            '<Directory "%s">\n  Require all granted\n</Directory>' % self.htdocs,
        ]
        if base_extra:
            lines.append(base_extra)
        if load_module:
            if store_dir:
                lines.append('ACMEStoreDir "%s"' % store_dir)
            if acme_ca:
                lines.append('ACMECACertificate "%s"' % acme_ca)
            if acme_server:
                lines.append("ACMEServer %s" % acme_server)
        lines.append("# ---- test configuration ----")
        lines.append(conf_body.replace("@ROOT@", self.root))
        write_file(self.conf_path, "\n".join(lines) + "\n")

    # --- lifecycle

    def _cmd(self, *extra):
        return [APACHE_BIN, "-d", self.root, "-f", self.conf_path, *extra]

    def _check_module(self):
        if self.load_module and not os.path.exists(self.module_path):
            raise HarnessError("module under test not built: %s (build it, or point "
                               "ACMEAUTO_MODULE at mod_acmeauto.so)" % self.module_path)

    def configtest(self):
        """`apache2 -t` on this config -> (returncode, combined output)."""
        self._check_module()
        cp = run(self._cmd("-t"), timeout=60)
        return cp.returncode, cp.stdout + cp.stderr

    def start(self, timeout=30.0):
        """Start `apache2 -DFOREGROUND`; wait until both ports accept."""
        self._check_module()
        busy = wait_ports_free([HTTP_PORT, HTTPS_PORT], timeout=15)
        if busy:
            raise HarnessError("ports %s still busy before starting Apache:\n%s" % (
                busy, port_owners(busy)))
        if self.proc is not None and self.proc.poll() is None:
            raise HarnessError("this Apache is already running (pid %d)" % self.proc.pid)
        self._stopped = False
        mark = self.log_mark()
        self._stderr = open(self.stderr_path, "ab")
        env = dict(os.environ, LANG="C", LC_ALL="C")
        self.proc = subprocess.Popen(self._cmd("-DFOREGROUND"), stdout=self._stderr,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError("apache2 exited with %s at startup\n%s" % (
                    self.proc.returncode, self.diagnostics()))
            # The ports accept before the second configuration pass (where
            # the module writes handoff/config.json) has run: wait for it.
            if (can_connect(HTTP_PORT) and can_connect(HTTPS_PORT)
                    and self.log_lines(r"resuming normal operations", since=mark)):
                return self
            if time.monotonic() > deadline:
                raise HarnessError("apache2 did not open its ports in %ss\n%s" % (
                    timeout, self.diagnostics()))
            time.sleep(0.2)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def children(self):
        """PIDs of the parent's children."""
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.pid:
                            out.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    def wait_children_started(self, timeout=5.0):
        """Wait (bounded) until every young child is past its start-up, i.e.
        runs all its worker threads. httpd's event MPM exits from the signal
        handler when a child gets SIGTERM during start-up; if that child is
        inside malloc then, library exit handlers (gnutls, through libcurl
        and libldap) hang on the malloc lock until httpd SIGKILLs it ~10 s
        later. A stop right after a graceful restart would meet that.
        Modules start threads of their own (mod_watchdog's) before the
        MPM's, so "more than one thread" is not enough: a child counts as
        started with ThreadsPerChild workers. Children older than a few
        seconds are past start-up whatever their count (an old generation
        winding down has fewer threads)."""
        deadline = time.monotonic() + timeout
        tick = os.sysconf("SC_CLK_TCK")
        while time.monotonic() < deadline:
            starting = 0
            with open("/proc/uptime") as f:
                uptime = float(f.read().split()[0])
            for pid in self.children():
                try:
                    with open("/proc/%d/status" % pid) as f:
                        threads = int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
                    with open("/proc/%d/stat" % pid) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    age = uptime - int(fields[19]) / tick
                except (OSError, AttributeError, IndexError, ValueError):
                    continue
                starting += threads < THREADS_PER_CHILD and age < 3.0
            if not starting:
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout=20.0):
        """SIGTERM the parent and wait; SIGKILL the process group if it hangs."""
        if self.proc is None or self._stopped:
            return None if self.proc is None else self.proc.returncode
        self._stopped = True
        if self.proc.poll() is None:
            self.wait_children_started()
            kill_process(self.proc, signal.SIGTERM, timeout=timeout, group=True)
        # children of a parent that died or was killed can hold the ports:
        # end what is left of our own process group (it is ours alone,
        # start_new_session=True)
        busy = wait_ports_free([HTTP_PORT, HTTPS_PORT], timeout=5)
        if busy:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_ports_free([HTTP_PORT, HTTPS_PORT], timeout=10)
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        return self.proc.returncode

    # --- logs

    def error_log(self):
        return read_text(self.error_log_path)

    def log_mark(self):
        """Current size of the error log; pass as `since` to only look after it."""
        try:
            return os.path.getsize(self.error_log_path)
        except FileNotFoundError:
            return 0

    def log_lines(self, regex, since=0, levels=None, flags=re.I):
        """Error-log lines matching regex (optionally only at `levels` of acmeauto)."""
        text = self.error_log()[since:]
        rx = re.compile(regex, flags)
        out = []
        for line in text.splitlines():
            if levels is not None:
                m = re.search(r"\[acmeauto:(\w+)\]", line)
                if not m or m.group(1) not in levels:
                    continue
            if rx.search(line):
                out.append(line)
        return out

    def wait_log(self, regex, timeout=30.0, since=0, levels=None, flags=re.I):
        """Wait for an error-log line matching regex; return the line."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.log_lines(regex, since=since, levels=levels, flags=flags)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError("no error-log line matching /%s/ within %ss\n%s" % (
                    regex, timeout, self.diagnostics()))
            time.sleep(0.25)

    def graceful(self, timeout=30.0):
        """Graceful restart as an administrator (or logrotate) would do it;
        returns once the new generation runs."""
        mark = self.log_mark()
        os.kill(self.pid, signal.SIGUSR1)
        self.wait_log(r"resuming normal operations", timeout=timeout, since=mark)
        return mark

    def restarts(self, since=0):
        """Graceful restarts (SIGUSR1 received) logged after `since`."""
        return len(self.log_lines(r"AH00493", since=since))

    def diagnostics(self):
        parts = ["== apache root: %s (pid %s, running=%s)" % (self.root, self.pid, self.running()),
                 "== stderr:", tail(read_text(self.stderr_path), 20),
                 "== error log tail:", tail(self.error_log(), 40)]
        return "\n".join(parts)

    # --- requests and certificates

    def get(self, path, host, https=False, **kw):
        return http_request(path, host, https=https, **kw)

    def served_cert(self, name, port=HTTPS_PORT, sigalgs=None):
        return fetch_served_cert(name, port=port, sigalgs=sigalgs)

    def is_acme_issued(self, cert):
        if self.pebble is not None and self.pebble.issuer_subjects:
            return self.pebble.issued(cert)
        return re.search(r"Pebble Intermediate CA", cert.issuer) is not None

    def wait_cert(self, name, timeout=90.0, port=HTTPS_PORT, sigalgs=None, not_serial=None):
        """Poll (never restarting Apache) until `name` is served a Pebble-issued
        certificate (and, if given, one whose serial differs from not_serial)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if not self.running():
                raise AssertionError("Apache died while waiting for a certificate for %s\n%s"
                                     % (name, self.diagnostics()))
            try:
                last = self.served_cert(name, port=port, sigalgs=sigalgs)
                if self.is_acme_issued(last.leaf) and (not_serial is None or
                                                       last.serial != not_serial):
                    return last
            except CertFetchError as e:   # e.g. during the graceful restart
                last = e
            if time.monotonic() > deadline:
                seen = last.summary() if isinstance(last, ServedCert) else str(last)
                raise AssertionError("no ACME certificate for %s within %ss; last served: %s\n%s"
                                     % (name, timeout, seen, self.diagnostics()))
            time.sleep(1.0)

    def verify_chain(self, served):
        if self.pebble is None:
            raise HarnessError("no pebble attached to this Apache")
        return verify_chain(served.chain, self.pebble.root_file)

    def acmeauto(self, *args, user=None, timeout=120, store=True, input=None):
        """Run the acmeauto command on this server's store (as root, or as
        `user`); returns CompletedProcess (text), never raises on exit code."""
        cmd = [ACMEAUTO_BIN] + (["--store", self.store_dir] if store else []) + list(args)
        pre = None
        if user:
            pw = pwd.getpwnam(user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        return subprocess.run(cmd, preexec_fn=pre, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL if input is None else None,
                              input=input, cwd="/")

    def state(self, name):
        """store/state/<name>.json as a dict; {} when missing or unreadable."""
        try:
            with open(os.path.join(self.store_dir, "state", name + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def wait_state(self, name, pred, timeout=30.0, what="state"):
        """Poll state/<name>.json until pred(state) holds; return the state."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(name)
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("%s not reached in %ss; state/%s.json: %s\n%s" % (
                    what, timeout, name, json.dumps(st, indent=1), self.diagnostics()))
            time.sleep(0.25)

    def wait_set_judged(self, name, timeout=20):
        """After name's certificate went live: wait until the job has taken
        the parent's verdict (in its first tick after the restart, which
        removes staging/<name>/ and writes the state file) and that tick is
        over. A snapshot of the store taken earlier races with it."""
        staging = os.path.join(self.store_dir, "staging", name)
        deadline = time.monotonic() + timeout
        while os.path.exists(staging):
            assert time.monotonic() < deadline, "the job never took the verdict on " + name
            time.sleep(0.05)
        self.wait_job_idle(timeout=max(deadline - time.monotonic(), 1))

    def wait_job_idle(self, timeout=20):
        """Returns once no job tick runs: the job holds state/job.lock (an
        flock: APR's apr_file_lock on Linux) for the whole of a tick. Taking it for a moment only makes
        the job skip a second."""
        path = os.path.join(self.store_dir, "state", "job.lock")
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            assert time.monotonic() < deadline, "no %s" % path
            time.sleep(0.1)
        fd = os.open(path, os.O_RDWR)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    return
                except OSError:
                    assert time.monotonic() < deadline, "the job stays busy"
                    time.sleep(0.05)
        finally:
            os.close(fd)

    def store_files(self):
        out = []
        if self.store_dir and os.path.isdir(self.store_dir):
            for d, _, files in os.walk(self.store_dir):
                out.extend(os.path.join(d, f) for f in files)
        return sorted(out)
