"""`acmeauto import-certbot [DIR] [--dry-run]` (issue 9): a real Certbot
directory, made in the test by Debian's certbot against Pebble (through
the fault proxy, so that the proxy counts every request), is taken over
by a module whose httpd.conf has no ACMEEAB at all: the Certbot
certificate is served after the module's own restart, and a forced
renewal orders with Certbot's account, registering none.  Names under
*.t91.test."""

import glob
import json
import os
import shutil
import subprocess

import pytest

from harness import HTTP_PORT, LOOPBACK, parse_cert, run_certbot, vhosts

CERTBOT = "/usr/bin/certbot"


def _certbot(cbdir, pki, pebble, proxy, name):
    """certbot certonly (standalone on the port Pebble validates http-01 at)
    with EAB, into cbdir; its live/<name>/cert.pem, parsed."""
    cmd = [CERTBOT, "certonly", "--standalone", "--http-01-port", str(HTTP_PORT),
           "--http-01-address", LOOPBACK, "-d", name, "--server", proxy.directory_url,
           "--eab-kid", "kid-1", "--eab-hmac-key=" + pebble.eab["kid-1"],
           "--config-dir", cbdir, "--work-dir", os.path.join(cbdir, "work"),
           "--logs-dir", os.path.join(cbdir, "logs"), "--non-interactive",
           "--agree-tos", "-m", "a@b.test", "--no-eff-email", "--key-type", "ecdsa"]
    env = dict(os.environ, REQUESTS_CA_BUNDLE=pki.ca_file)
    r = run_certbot(cmd, os.path.join(cbdir, "logs"), env=env, capture_output=True,
                    text=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    with open(os.path.join(cbdir, "live", name, "cert.pem")) as f:
        return parse_cert(f.read())


def _accepted(proxy, kind):
    return [e for e in proxy.entries(kind=kind) if e.status in (200, 201)]


def _store_has_account(a):
    return bool(glob.glob(os.path.join(a.store_dir, "accounts", "*", "account.json")))


@pytest.mark.log_allow(r"AA00305: (import|other)\.t91\.test: creating an account .*External "
                       r"Account Binding")
def test_import_certbot(apache, pebble, faultproxy, pki, tmp_path):
    if not os.access(CERTBOT, os.X_OK):
        pytest.fail("Debian's certbot is missing (build/deps installs it)", pytrace=False)
    name, other = "import.t91.test", "other.t91.test"
    cbdir = str(tmp_path / "letsencrypt")
    theirs = _certbot(cbdir, pki, pebble, faultproxy, name)
    assert len(_accepted(faultproxy, "newAccount")) == 1, faultproxy.format_log(40)
    regr = glob.glob(os.path.join(cbdir, "accounts", "*", "*", "*", "regr.json"))
    assert len(regr) == 1, regr
    with open(regr[0]) as f:
        account_url = json.load(f)["uri"]
    # an account at a CA the module does not use: reported, not taken
    elsewhere = os.path.join(cbdir, "accounts", "ca.elsewhere.test", "directory")
    shutil.copytree(os.path.dirname(regr[0]), os.path.join(elsewhere, "0123abcd"))

    # the module, without any EAB: it cannot register at Pebble
    conf = ("ACMEContact admin@example.org\nACMEAgreeTOS on\nACMERetryDelay 2s\n"
            "ACMEKeyType ec256\n"
            "ACMEDomain %s\n" % name + vhosts(name)
            + "ACMEDomain %s\n" % other + vhosts(other))
    a = apache(conf, acme_server=faultproxy.directory_url)
    a.start()
    for n in (name, other):
        a.wait_state(n, lambda st: st.get("last_error"), what="the missing EAB")
    assert a.served_cert(name).self_signed, "fallback expected before the import"

    # --dry-run says all and changes nothing
    r = a.acmeauto("import-certbot", cbdir, "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "account %s: would be imported for %s" % (account_url, faultproxy.directory_url) \
        in r.stdout, r
    assert ("%s: would stage Certbot's %s (serial %s" % (name, name, theirs.serial)).lower() \
        in r.stdout.lower(), r.stdout
    assert not _store_has_account(a)
    assert not os.path.exists(os.path.join(a.store_dir, "staging", name, "staged.json"))

    # the import: the account, the certificate staged, live by the
    # module's own restart
    mark = a.log_mark()
    r = a.acmeauto("import-certbot", cbdir)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "account %s: imported for %s" % (account_url, faultproxy.directory_url) in out, r.stdout + r.stderr
    assert "%s: staged Certbot's %s" % (name, name) in out, r.stdout + r.stderr
    assert "the server makes it live with its own graceful restart" in out, r.stdout + r.stderr
    assert "account %s: skipped: its CA (ca.elsewhere.test/directory) is no ACMEServer " \
        "here (%s)" % (account_url, os.path.join(elsewhere, "0123abcd")) in out, out
    assert "%s: skipped: no valid Certbot certificate covers its names" % other in out, r.stdout + r.stderr
    # other failed for want of EAB values: with the account imported, its
    # back-off is cleared
    assert "%s: its CA's account is imported" % other in out, r.stdout + r.stderr
    assert "SSLCertificateFile" in out and "certbot.timer" in out, r.stdout + r.stderr
    served = a.wait_cert(name, timeout=60)
    assert int(served.serial, 16) == int(theirs.serial, 16), served.summary()
    assert a.restarts(since=mark) >= 1, a.diagnostics()

    # imported again: nothing new
    r = a.acmeauto("import-certbot", cbdir, "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "account %s: already the module's account" % account_url in r.stdout, r.stdout + r.stderr
    assert "%s: skipped: the module's own certificate is valid until" % name in r.stdout, r.stdout + r.stderr

    # a forced renewal with Certbot's account: no registration at all
    r = a.acmeauto("renew", name, "--force", "--wait", "60s")
    assert r.returncode == 0, r.stdout + r.stderr
    renewed = a.served_cert(name)
    assert int(renewed.serial, 16) != int(theirs.serial, 16), renewed.summary()
    assert len(_accepted(faultproxy, "newAccount")) == 1, faultproxy.format_log(40)
    orders = _accepted(faultproxy, "newOrder")
    assert orders and all(e.protected.get("kid") == account_url for e in orders), \
        faultproxy.format_log(40)
    a.wait_state(name, lambda st: st.get("failures") == 0 and not st.get("last_error"),
                 what="the job's failures forgotten")


    # usage, and a directory that is not Certbot's
    r = a.acmeauto("import-certbot", "--help")
    assert r.returncode == 0 and "--dry-run" in r.stdout, r.stdout + r.stderr
    for args in (("import-certbot", "a", "b"), ("import-certbot", "--frob")):
        r = a.acmeauto(*args)
        assert r.returncode == 2, (args, r)
    r = a.acmeauto("import-certbot", str(tmp_path / "nothing"))
    assert r.returncode == 3 and "is no Certbot directory" in r.stderr, r.stdout + r.stderr
