"""Errors: fallback certificate, configuration problems reported clearly and
not hammered, and bad directive values rejected by configtest (SPEC §2, §3)."""

import os
import re
import secrets
import time

import pytest

from harness import ERROR_LEVELS, account_conf, assert_bad_nonces_retried_at_once, b64url, vhosts

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


@pytest.mark.log_allow(r"AA00305: fallback\.t20\.test: creating an account .*check ACMEEAB")
def test_fallback_before_certificate(apache, pebble):
    """Before the first certificate exists: a self-signed fallback for all
    the domain's names with an EC P-256 key (README: fallback/<name>/
    ec256.*), and regular requests to that host get 503."""
    name, alias = "fallback.t20.test", "www.fallback.t20.test"
    wrong = b64url(secrets.token_bytes(32))
    a = apache(account_conf("kid-1", wrong) + "ACMEDomain %s %s\n" % (name, alias)
               + vhosts(name, aliases=[alias]))
    a.start()
    served = _assert_fallback(a, name)
    assert set(served.sans) == {name, alias}, served.summary()
    assert (served.key_type, served.curve) == ("EC", "P-256"), served.summary()
    stored = os.path.join(a.store_dir, "fallback", name, "ec256.cert.pem")
    with open(stored) as f:
        assert f.read() == served.chain[0]
    assert a.served_cert(alias).serial == served.serial
    r = a.get("/", name, https=True)
    assert r.status == 503, r
    r = a.get("/index.html", name, https=True)
    assert r.status == 503, r


# A transient failure with ACMERetryDelay 1s would be tried again within
# seconds; configuration problems wait at least an hour (README, Retries).
CONFIG_MIN_WAIT = 3600
OBSERVE = 3          # seconds of "nothing more happens" after a failure (3 job ticks)


def _attempts(proxy, kind):
    """Requests of this kind that reached the CA and were not refused for a
    stale nonce (Pebble refuses 5%; the module retries those at once)."""
    return [e for e in proxy.entries(kind=kind) if e.problem != "badNonce"
            and e.injected is None]


def _assert_config_failure(a, name, hint):
    """The state file says: one configuration failure, next attempt at least
    an hour after it, and a hint naming what to change."""
    st = a.wait_state(name, lambda s: s.get("failures", 0) >= 1, timeout=60,
                      what="a recorded failure")
    err = st.get("last_error") or {}
    assert st["failures"] == 1, st
    assert err.get("kind") == "configuration", st
    assert hint in (err.get("hint") or ""), st
    assert st["next_attempt"] - err["at"] >= CONFIG_MIN_WAIT, st
    assert st["next_attempt"] - time.time() > CONFIG_MIN_WAIT - 120, st
    return st


def _observe_nothing_more(proxy, kind, n, seconds=OBSERVE):
    """A bounded window in which no further attempt of `kind` may arrive."""
    assert len(_attempts(proxy, kind)) == n, proxy.format_log(40)
    with pytest.raises(AssertionError):
        proxy.wait_for(lambda e: e.problem != "badNonce" and e.injected is None,
                       count=n + 1, timeout=seconds, kind=kind)


@pytest.mark.log_allow(r"AA00305: wrongeab\.t20\.test: creating an account")
def test_wrong_eab_hmac(apache, pebble, faultproxy):
    name = "wrongeab.t20.test"
    wrong = b64url(secrets.token_bytes(32))
    assert wrong != pebble.eab["kid-1"]
    a = apache(account_conf("kid-1", wrong) + "ACMERetryDelay 1s\n"
               "ACMEDomain %s\n" % name + vhosts(name), acme_server=faultproxy.directory_url)
    a.start()
    first = a.wait_log(r"AA00305: .*(ACMEEAB|external account)", timeout=60,
                       levels=ERROR_LEVELS)
    _assert_config_failure(a, name, "ACMEEAB")
    assert re.search(r"next attempt in 1h", first), first
    # the CA refused the only registration attempt and created no account
    _observe_nothing_more(faultproxy, "newAccount", 1)
    assert all(e.status >= 400 for e in faultproxy.entries(kind="newAccount")), \
        faultproxy.format_log(40)
    assert len(a.log_lines(r"AA00305")) == 1
    # the server stays up and keeps serving the fallback
    assert a.running()
    _assert_fallback(a, name)
    assert a.get("/", name).status in (200, 503)     # plain HTTP still answered
    assert a.get("/", name, https=True).status == 503
    # the (wrong) secret is not logged
    assert wrong not in a.error_log()


@pytest.mark.log_allow(r"AA00305: \S+\.t20\.test: .*ACMEAgreeTOS")
@pytest.mark.parametrize("tos", [None, "off"], ids=["absent", "off"])
def test_terms_not_accepted(apache, pebble, faultproxy, tos):
    """No ACMEAgreeTOS (or off): no account is even asked for, and the log
    names ACMEAgreeTOS and the CA's terms URL; a configuration problem."""
    name = "notos%s.t20.test" % (tos or "")
    a = apache(account_conf("kid-1", pebble.eab["kid-1"], tos=tos) + "ACMERetryDelay 1s\n"
               + "ACMEDomain %s\n" % name + vhosts(name), acme_server=faultproxy.directory_url)
    a.start()
    line = a.wait_log(r"ACMEAgreeTOS", timeout=60, levels=ERROR_LEVELS)
    assert pebble.TOS_URL in line or "Do what thou wilt" in line, \
        "terms-of-service URL %s not in: %s" % (pebble.TOS_URL, line)
    _assert_config_failure(a, name, "ACMEAgreeTOS")
    _observe_nothing_more(faultproxy, "newAccount", 0)
    assert a.running()
    _assert_fallback(a, name)
    assert a.get("/", name, https=True).status == 503


def test_bad_nonces_are_retried(apache, pebble_factory, proxy_for):
    """badNonce is retried at once: with Pebble rejecting 30% of good nonces
    the certificate comes without a single failed attempt, and every refused
    request is sent again within a moment (ACMERetryDelay is 30 s)."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "30"})
    proxy = proxy_for(p)
    name = "badnonce.t20.test"
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERetryDelay 30s\n"
               + "ACMEDomain %s\n" % name + vhosts(name), pebble=p,
               acme_server=proxy.directory_url)
    # and at least one refusal for sure, whatever Pebble's dice say
    proxy.fail_next(1, 400, kind="newOrder", nonce=True, body={
        "type": "urn:ietf:params:acme:error:badNonce",
        "detail": "JWS has an invalid anti-replay nonce", "status": 400})
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    ok, out = a.verify_chain(served)
    assert ok, out
    pairs = assert_bad_nonces_retried_at_once(a, name, proxy)
    assert any(r.injected == "fail" for r, _ in pairs), pairs


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
    os.chmod(os.path.join(b.root, "eab.json"), 0o600)    # a secret: root only
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
    ("ACMERenewWindow 0%", "ACMERenewWindow", "0%"),
    ("ACMEAgreeTOS", "ACMEAgreeTOS", None),
    ("ACMEContact not-an-email", "ACMEContact", "not-an-email"),
    ("ACMEContact admin@example.org two@@example.org", "ACMEContact", "two@@example.org"),
    ("ACMECACertificate /nonexistent/ca.pem", "ACMECACertificate", "/nonexistent/ca.pem"),
    ("ACMENotifyCmd /nonexistent/notify", "ACMENotifyCmd", "/nonexistent/notify"),
    ("ACMEMaxOrders 0", "ACMEMaxOrders", "0"),
    ("ACMEMaxOrders 65", "ACMEMaxOrders", "65"),
    ("<VirtualHost 127.0.0.1:5443>\n  ServerName orders.t20.test\n"
     "  ACMEMaxOrders 3\n</VirtualHost>", "ACMEMaxOrders", None),
    # dns-01 without the ACMEDNSCmd that answers it.
    ("ACMEChallenges dns-01", "ACMEChallenges", "dns-01"),
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


def test_notify_cmd_not_a_program_fails_configtest(apache):
    """ACMENotifyCmd naming a file nobody may execute."""
    a = apache("ACMENotifyCmd @ROOT@/notify.txt\n")
    path = os.path.join(a.root, "notify.txt")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(path, 0o644)
    rc, out = a.configtest()
    assert rc != 0, out
    assert "ACMENotifyCmd" in out and path in out, out


# --------------------------------------------------------------------------
# a configuration change starts a fresh attempt (README, ACMERetryDelay)

def _edit_conf(a, old, new):
    with open(a.conf_path) as f:
        conf = f.read()
    assert conf.count(old) == 1, "%r not once in %s" % (old, a.conf_path)
    with open(a.conf_path, "w") as f:
        f.write(conf.replace(old, new))
    rc, out = a.configtest()
    assert rc == 0, out


def _fresh_attempt_after_fix(a, proxy, name, old, new, seen):
    """The administrator fixes the configuration (old -> new) and restarts
    gracefully: the job registers at once, an hour before the backoff ends,
    and the certificate comes.  `seen`: newAccount attempts so far."""
    st = a.state(name)
    assert st["next_attempt"] - time.time() > CONFIG_MIN_WAIT - 120, st
    _edit_conf(a, old, new)
    a.graceful()
    t0 = time.monotonic()
    got = proxy.wait_for(lambda e: e.problem != "badNonce" and e.injected is None,
                         count=seen + 1, timeout=15, kind="newAccount")
    assert got[seen].status == 201, got[seen]
    assert got[seen].time - t0 < 10, "registered %.1f s after the restart" % (
        got[seen].time - t0)
    served = a.wait_cert(name, timeout=TIMEOUT)
    ok, out = a.verify_chain(served)
    assert ok, out
    st = a.wait_state(name, lambda s: s.get("failures", 1) == 0 and "last_error" not in s,
                      timeout=15, what="failures reset after success")
    assert st["next_attempt"] == 0, st


@pytest.mark.log_allow(r"AA00305: cfgchange\.t20\.test: creating an account .*ACMEEAB")
def test_config_change_starts_fresh_attempt(apache, pebble, faultproxy):
    """A refused EAB waits an hour; a graceful restart with the same
    configuration keeps that wait, but a corrected ACMEEAB starts a fresh
    attempt at once (the state's backoff belongs to the old configuration)."""
    name = "cfgchange.t20.test"
    wrong = b64url(secrets.token_bytes(32))
    a = apache(account_conf("kid-1", wrong) + "ACMERetryDelay 1s\n"
               "ACMEDomain %s\n" % name + vhosts(name), acme_server=faultproxy.directory_url)
    a.start()
    _assert_config_failure(a, name, "ACMEEAB")
    assert len(_attempts(faultproxy, "newAccount")) == 1, faultproxy.format_log(40)
    # the same configuration again: the hour's wait is kept
    a.graceful()
    _observe_nothing_more(faultproxy, "newAccount", 1)
    assert a.state(name)["failures"] == 1
    _fresh_attempt_after_fix(a, faultproxy, name, "ACMEEAB kid-1 %s\n" % wrong,
                             "ACMEEAB kid-1 %s\n" % pebble.eab["kid-1"], 1)
    assert len(a.log_lines(r"AA00305")) == 1, a.log_lines(r"AA00305")


# --------------------------------------------------------------------------
# ACMEAgreeTOS URL and terms the CA has changed since

OLD_TERMS = "https://127.0.0.1/terms/2019-01.pdf"


@pytest.mark.log_allow(r"AA00305: tosmoved\.t20\.test: creating an account at \S+: "
                       r"the CA's terms of service are now ")
def test_terms_changed_under_agree_tos_url(apache, pebble, faultproxy):
    """ACMEAgreeTOS names terms the CA no longer offers: no account is asked
    for, the log names the CA's terms and the accepted ones, and it is a
    configuration problem (an hour).  Agreeing to the CA's current terms
    (and restarting) registers at once."""
    name = "tosmoved.t20.test"
    assert OLD_TERMS != pebble.TOS_URL
    a = apache(account_conf("kid-1", pebble.eab["kid-1"], tos=OLD_TERMS)
               + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    st = _assert_config_failure(a, name, "ACMEAgreeTOS %s" % pebble.TOS_URL)
    assert pebble.TOS_URL in st["last_error"]["detail"], st
    assert OLD_TERMS in st["last_error"]["detail"], st
    line = a.wait_log(r"AA00305", timeout=5)
    assert "terms of service are now %s, but ACMEAgreeTOS accepts %s" % (
        pebble.TOS_URL, OLD_TERMS) in line, line
    assert re.search(r"next attempt in 1h", line), line
    # the directory was read, no account was asked for
    assert faultproxy.entries(kind="directory"), faultproxy.format_log(40)
    _observe_nothing_more(faultproxy, "newAccount", 0)
    _assert_fallback(a, name)
    _fresh_attempt_after_fix(a, faultproxy, name, "ACMEAgreeTOS %s\n" % OLD_TERMS,
                             "ACMEAgreeTOS %s\n" % pebble.TOS_URL, 0)
