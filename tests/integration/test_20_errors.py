"""Errors: fallback certificate, configuration problems reported clearly and
not hammered, and bad directive values rejected by configtest (SPEC §2, §3)."""

import os
import secrets
import time

import pytest

from harness import ERROR_LEVELS, account_conf, b64url, vhosts

TIMEOUT = 90


def _wrong_eab_server(apache, pebble, name):
    wrong = b64url(secrets.token_bytes(32))
    assert wrong != pebble.eab["kid-1"]
    a = apache(account_conf("kid-1", wrong) + "ACMEDomain %s\n" % name + vhosts(name))
    return a, wrong


def _assert_fallback(a, name):
    served = a.served_cert(name)
    assert not a.is_acme_issued(served.leaf), "unexpected ACME cert: " + served.summary()
    assert served.self_signed, "fallback is not self-signed: " + served.summary()
    return served


def test_fallback_before_certificate(apache, pebble):
    """Before the first certificate exists: self-signed fallback, and regular
    requests to that host get 503."""
    name = "fallback.t20.test"
    a, _ = _wrong_eab_server(apache, pebble, name)
    a.start()
    _assert_fallback(a, name)
    r = a.get("/", name, https=True)
    assert r.status == 503, r
    r = a.get("/index.html", name, https=True)
    assert r.status == 503, r


def test_wrong_eab_hmac(apache, pebble):
    name = "wrongeab.t20.test"
    a, wrong = _wrong_eab_server(apache, pebble, name)
    accounts = pebble.account_count()
    a.start()
    rx = r"ACMEEAB|external account"
    first = a.wait_log(rx, timeout=60, levels=ERROR_LEVELS)
    pebble_mark = os.path.getsize(pebble.log_path)
    # the server stays up and keeps serving the fallback
    assert a.running()
    _assert_fallback(a, name)
    assert a.get("/", name).status in (200, 503)     # plain HTTP still answered
    assert a.get("/", name, https=True).status == 503
    # not retried in a tight loop
    time.sleep(10)
    lines = a.log_lines(rx, levels=ERROR_LEVELS)
    assert len(lines) <= 2, "EAB failure reported %d times in ~10 s:\n%s" % (
        len(lines), "\n".join(lines))
    new_account_posts = pebble.log_text()[pebble_mark:].count("POST /sign-me-up")
    assert new_account_posts <= 2, "%d newAccount requests in ~10 s after the failure" % (
        new_account_posts)
    assert pebble.account_count() == accounts
    # the (wrong) secret is not logged
    assert wrong not in a.error_log()
    assert a.running()
    print("EAB failure line:", first)


def test_terms_not_accepted(apache, pebble):
    """No ACMEAgreeTOS: no account, and the log names ACMEAgreeTOS and the
    CA's terms URL."""
    name = "notos.t20.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"], tos=None)
               + "ACMEDomain %s\n" % name + vhosts(name))
    accounts = pebble.account_count()
    a.start()
    a.wait_log(r"ACMEAgreeTOS", timeout=60, levels=ERROR_LEVELS)
    time.sleep(3)
    log = a.error_log()
    assert pebble.TOS_URL in log or "Do what thou wilt" in log, \
        "terms-of-service URL %s not in the log" % pebble.TOS_URL
    assert pebble.account_count() == accounts, "an account was created"
    assert a.running()
    _assert_fallback(a, name)
    assert a.get("/", name, https=True).status == 503


def test_terms_off_is_not_accepted(apache, pebble):
    name = "tosoff.t20.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"], tos="off")
               + "ACMEDomain %s\n" % name + vhosts(name))
    accounts = pebble.account_count()
    a.start()
    a.wait_log(r"ACMEAgreeTOS", timeout=60, levels=ERROR_LEVELS)
    time.sleep(2)
    assert pebble.account_count() == accounts
    _assert_fallback(a, name)


def test_bad_nonces_are_retried(apache, pebble_factory):
    """badNonce is retried at once: with Pebble rejecting 30% of good nonces
    an order of ~10 signed requests almost never gets through without it."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "30"})
    name = "badnonce.t20.test"
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERetryDelay 5s\n"
               + "ACMEDomain %s\n" % name + vhosts(name), pebble=p)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    ok, out = a.verify_chain(served)
    assert ok, out


# --------------------------------------------------------------------------
# configtest

VALID_CONF = """
ACMEEAB kid-1 {hmac}
ACMEContact admin@example.org ops@example.org
ACMEAgreeTOS on
ACMEKeyType ec256 rsa2048
ACMEChallenges http-01
ACMERenewWindow 33%
ACMEActivationDelay 10m
ACMEAutoRestart On
ACMECheckInterval 12h
ACMERetryDelay 30s
ACMEDomain valid.t20.test www.valid.t20.test
<VirtualHost 127.0.0.1:5443>
  ServerName vhost.t20.test
  ServerAlias alias.t20.test
  SSLEngine on
  ACMEDomain
  ACMEKeyType rsa3072
  ACMERenewWindow 20d
  ACMEAutoRestart off
</VirtualHost>
"""


def test_valid_config_passes_configtest(apache, pebble):
    a = apache(VALID_CONF.format(hmac=pebble.eab["kid-1"]) + vhosts("valid.t20.test"))
    rc, out = a.configtest()
    assert "Invalid command" not in out, "a SPEC §2 directive is not implemented:\n" + out
    assert rc == 0 and "Syntax OK" in out, out


def test_configtest_accepts_directory_url_with_query(apache, pebble):
    a = apache("ACMEServer %s?action=renew&orderId=123456789\n" % pebble.directory_url,
               acme_server=None)
    rc, out = a.configtest()
    assert rc == 0, out


def test_configtest_accepts_eab_none_and_file(apache, pebble):
    a = apache("ACMEEAB none\n")
    assert a.configtest()[0] == 0
    b = apache("ACMEEAB file:@ROOT@/eab.json\n")
    with open(os.path.join(b.root, "eab.json"), "w") as f:
        f.write('{"kid": "kid-1", "hmac": "%s"}' % pebble.eab["kid-1"])
    rc, out = b.configtest()
    assert rc == 0, out


# (conf line(s), directive that must be named, value that must be named or None)
BAD_VALUES = [
    ("ACMEKeyType rsa1024", "ACMEKeyType", "rsa1024"),
    ("ACMERetryDelay 5x", "ACMERetryDelay", "5x"),
    ("ACMECheckInterval -1", "ACMECheckInterval", "-1"),
    ("ACMEAutoRestart maybe", "ACMEAutoRestart", "maybe"),
    ("ACMEEAB kid-1", "ACMEEAB", "kid-1"),
    ("ACMEEAB file:/nonexistent/eab.json", "ACMEEAB", "/nonexistent/eab.json"),
    ("ACMEServer not-a-url", "ACMEServer", "not-a-url"),
    ("ACMEDomain bad_name!", "ACMEDomain", "bad_name!"),
    ("ACMEAgreeTOS bogus-not-url", "ACMEAgreeTOS", "bogus-not-url"),
    ("<VirtualHost 127.0.0.1:5443>\n  ServerName store.t20.test\n"
     "  ACMEStoreDir /tmp/acmeauto-store-in-vhost\n</VirtualHost>", "ACMEStoreDir", None),
    ("ACMERenewWindow 150%", "ACMERenewWindow", "150%"),
    ("ACMEChallenges http-02", "ACMEChallenges", "http-02"),
    ("ACMEActivationDelay soon", "ACMEActivationDelay", "soon"),
    # Only http-01 is implemented; the others must say so, not be ignored.
    ("ACMEChallenges tls-alpn-01", "ACMEChallenges", "tls-alpn-01"),
    ("ACMERenewWindow 0%", "ACMERenewWindow", "0%"),
    ("ACMEAgreeTOS", "ACMEAgreeTOS", None),
    # Found only by looking at the whole configuration (test_config hook).
    ("ACMEDomain dup.t20.test\nACMEDomain www.t20.test dup.t20.test",
     "ACMEDomain", "dup.t20.test"),
]


@pytest.mark.parametrize("line, directive, value", BAD_VALUES,
                         ids=["%s-%s" % (d, v or "in-vhost") for _, d, v in BAD_VALUES])
def test_bad_value_fails_configtest(apache, line, directive, value):
    opts = {"acme_server": None} if directive == "ACMEServer" else {}
    a = apache(line + "\n", **opts)
    rc, out = a.configtest()
    assert rc != 0, "configtest accepted %r:\n%s" % (line, out)
    assert "Invalid command" not in out, "%s is not implemented:\n%s" % (directive, out)
    assert directive.lower() in out.lower(), "message does not name %s:\n%s" % (directive, out)
    if value is not None:
        assert value in out, "message does not name the value %r:\n%s" % (value, out)
