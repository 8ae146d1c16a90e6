"""`acmeauto check` (SPEC §4): everything short of issuing — the
configuration the running server resolved, the CA (directory, terms, EAB),
the account at the CA, the job's last configuration error and an http-01
self-test.  Names under *.t84.test.

The test names resolve only in challtestsrv's DNS (for Pebble), so the
command's http-01 self-test is sent to 127.0.0.1 with --connect-to.  A
domain with a CA URL of its own (the session Pebble's directory with a
query) gets an account of its own: one account per CA URL."""

import http.server
import json
import os
import re
import secrets
import socket
import threading

import pytest

from harness import HTTP_PORT, LOOPBACK, b64url, vhosts, write_file

GOOD, TOS, EAB, NOEAB = "good.t84.test", "tos.t84.test", "eab.t84.test", "noeab.t84.test"


def _check(a, *args, connect_to=LOOPBACK):
    return a.acmeauto("check", *args, "--http-port", str(HTTP_PORT),
                      "--connect-to", connect_to)


def _lines(r, name):
    return [l for l in r.stdout.splitlines() if l.startswith(name + ": ")]


def _problems(r, name):
    return [l for l in _lines(r, name) if " -- " in l and ": ok: " not in l]


def _eab_file(a, fname, kid, hmac):
    write_file(os.path.join(a.root, fname), json.dumps({"kid": kid, "hmac": hmac}),
               mode=0o600)


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Another server in front: sends every request elsewhere."""

    def do_GET(self):
        self.send_response(301)
        self.send_header("Location", "https://elsewhere.t84.test/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _closed_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@pytest.mark.log_allow(r"AA00305: (tos|eab|noeab)\.t84\.test: ")
def test_check(apache, pebble):
    terms = pebble.directory()["meta"]["termsOfService"]
    wrong = b64url(secrets.token_bytes(32))
    assert wrong != pebble.eab["kid-2"]
    # An account is the CA's (URL without query) and the key id's: TOS and
    # EAB get key ids of their own, or they would share GOOD's account.
    a = apache("ACMEEAB file:@ROOT@/eab.json\nACMEContact admin@example.org\n"
               "ACMEAgreeTOS on\nACMERetryDelay 2s\n"
               "ACMEDomain %s www.%s\n" % (GOOD, GOOD) + vhosts(GOOD)
               + vhosts(TOS, https_extra="  ACMEDomain %s\n  ACMEServer %s?t84=tos\n"
                        "  ACMEAgreeTOS off\n  ACMEEAB file:@ROOT@/tos.json\n"
                        % (TOS, pebble.directory_url))
               + vhosts(EAB, https_extra="  ACMEDomain %s\n  ACMEServer %s?t84=eab\n"
                        "  ACMEEAB file:@ROOT@/wrong.json\n"
                        % (EAB, pebble.directory_url))
               + vhosts(NOEAB, https_extra="  ACMEDomain %s\n  ACMEServer %s?t84=noeab\n"
                        "  ACMEEAB none\n" % (NOEAB, pebble.directory_url)))
    _eab_file(a, "eab.json", "kid-1", pebble.eab["kid-1"])
    _eab_file(a, "tos.json", "kid-3", pebble.eab["kid-3"])
    _eab_file(a, "wrong.json", "kid-2", wrong)
    a.start()

    # A good setup: an ok line for each part, both names served.
    r = _check(a, GOOD)
    assert r.returncode == 0, r
    ok = "\n".join(_lines(r, GOOD))
    assert not _problems(r, GOOD), r.stdout
    for part in ("ok: configuration: Apache pid %d" % a.pid,
                 "ok: names %s www.%s" % (GOOD, GOOD),
                 "ok: the CA's directory %s is reachable" % pebble.directory_url,
                 "ok: the CA requires External Account Binding; ACMEEAB kid-1",
                 "ok: the CA's terms %s are accepted" % terms,
                 "ok: no configuration error",
                 "ok: http-01: http://%s:%d/.well-known/acme-challenge/" % (GOOD, HTTP_PORT),
                 "ok: http-01: http://www.%s:%d/" % (GOOD, HTTP_PORT)):
        assert part in ok, (part, r.stdout)
    assert " is valid" in ok and "ok: account https://" in ok, r.stdout
    # the test answer is gone again
    token = re.search(r"/acme-challenge/([\w-]+) ", ok).group(1)
    assert not os.path.exists(os.path.join(a.store_dir, "challenges", token))
    r = a.acmeauto("-q", "check", GOOD, "--http-port", str(HTTP_PORT),
                   "--connect-to", LOOPBACK)
    assert r.returncode == 0 and r.stdout == "", r

    # Terms not accepted: said as the brief has it; no account registered.
    r = _check(a, TOS)
    assert r.returncode == 1, r
    assert ("%s: the CA's terms %s are not accepted -- ACMEAgreeTOS on (or "
            "ACMEAgreeTOS %s)" % (TOS, terms, terms)) in _lines(r, TOS), r.stdout

    # A wrong EAB: the registration the job would make is refused.
    r = _check(a, EAB)
    assert r.returncode == 1, r
    eab = [l for l in _problems(r, EAB) if "ACMEEAB" in l.split(" -- ", 1)[1]]
    assert eab, r.stdout
    assert wrong not in r.stdout + r.stderr

    # The CA requires EAB, and ACMEEAB none is configured.
    r = _check(a, NOEAB)
    assert r.returncode == 1, r
    assert any("requires External Account Binding and no ACMEEAB is configured -- "
               "set 'ACMEEAB file:PATH'" in l for l in _problems(r, NOEAB)), r.stdout

    # Without NAME every domain is checked; an unknown NAME is exit 3.
    r = _check(a)
    assert r.returncode == 1, r
    assert _lines(r, GOOD) and _problems(r, TOS) and _problems(r, EAB), r.stdout
    assert not _problems(r, GOOD), r.stdout
    r = _check(a, "nope.t84.test")
    assert r.returncode == 3 and "not a managed domain" in r.stderr, r

    # The job's own configuration error is reported too.
    a.wait_state(TOS, lambda s: (s.get("last_error") or {}).get("kind")
                 == "configuration", what="the job's terms error")
    r = _check(a, TOS)
    assert r.returncode == 1, r
    assert any("the background job's last attempt" in l and "ACMEAgreeTOS" in l
               for l in _problems(r, TOS)), r.stdout

    # http-01 blocked: another server answers the name's traffic...
    srv = http.server.HTTPServer((LOOPBACK, 0), _Redirector)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = _check(a, GOOD, connect_to="%s:%d" % (LOOPBACK, srv.server_address[1]))
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 1, r
    bad = _problems(r, GOOD)
    assert len(bad) == 2, r.stdout
    assert all("was redirected (HTTP 301) to https://elsewhere.t84.test/" in l
               and "proxy" in l for l in bad), bad
    # ... or nothing answers at all.
    r = _check(a, GOOD, connect_to="%s:%d" % (LOOPBACK, _closed_port()))
    assert r.returncode == 1, r
    assert any("got no answer" in l and "firewall" in l for l in _problems(r, GOOD)), r.stdout

    # The server that wrote the configuration is gone.
    pid = a.pid
    a.stop()
    r = _check(a, GOOD)
    assert r.returncode == 1, r
    assert any("Apache pid %d" % pid in l and "no longer runs -- start Apache" in l
               for l in _problems(r, GOOD)), r.stdout


def test_check_usage(apache, pebble):
    a = apache("")
    for args in (["--bogus"], ["--http-port", "http"], ["--http-port", "0"],
                 ["--connect-to", ""], ["--connect-to", "[::1"], ["one", "two"]):
        r = a.acmeauto("check", *args)
        assert r.returncode == 2, (args, r)
    r = a.acmeauto("check", "--help")
    assert r.returncode == 0 and "--connect-to" in r.stdout, r
