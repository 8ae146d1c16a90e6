"""Certificate profiles (ACMEProfile, draft-ietf-acme-profiles) and
dns-persist-01 (draft-ietf-acme-dns-persist).  Names under *.t103.test.

Debian's Pebble 2.4 has neither, so the test-only faultproxy stands in for a
CA that has them:
- profiles(): it adds meta.profiles to the directory; what the module asks
  for is read from the newOrder requests it forwards (Pebble ignores the
  member);
- persist(): it shows every http-01 challenge as a dns-persist-01 one and,
  when the module answers it, checks the TXT record at
  _validation-persist.<name> through pebble-challtestsrv's DNS as the CA
  would, then lets a Pebble running with PEBBLE_VA_ALWAYS_VALID complete the
  authorization (or makes it invalid when the record does not match)."""

import json
import re
import urllib.request

import harness
from harness import account_conf, vhosts
import pytest

TIMEOUT = 60

STATUS_CONF = """
<Location /acme-status>
  SetHandler acme-status
  Require ip 127.0.0.1
</Location>
"""


def _status(a, host):
    r = a.get("/acme-status?json", host)
    assert r.status == 200, r
    return {d["name"]: d for d in json.loads(r.text)["domains"]}


def _orders_for(proxy, name):
    return [e.payload for e in proxy.entries(kind="newOrder")
            if e.status == 201 and isinstance(e.payload, dict)
            and name in [i.get("value") for i in e.payload.get("identifiers", [])]]


@pytest.mark.log_allow(r'the CA does not offer the profile "tlsserver"',
                       r"strict\.t103\.test: choosing the certificate profile")
def test_profiles(apache, pebble, faultproxy):
    faultproxy.profiles({"classic": "the usual 90 days", "shortlived": "6 days"})
    offered, fallback, strict = ("offered.t103.test", "fallback.t103.test",
                                 "strict.t103.test")
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 2s\n"
               + STATUS_CONF
               + vhosts(offered, acme_domain="", https_extra="  ACMEProfile shortlived\n")
               + vhosts(fallback, acme_domain="", https_extra="  ACMEProfile tlsserver\n")
               + vhosts(strict, acme_domain="",
                        https_extra="  ACMEProfile tlsserver mandatory\n"),
               acme_server=faultproxy.directory_url)
    a.start()
    a.wait_cert(offered, timeout=TIMEOUT)
    a.wait_cert(fallback, timeout=TIMEOUT)

    # offered: the profile goes into newOrder
    assert [o.get("profile") for o in _orders_for(faultproxy, offered)] == ["shortlived"]
    # not offered, not mandatory: ordered without, and said once
    assert [o.get("profile") for o in _orders_for(faultproxy, fallback)] == [None]
    said = a.log_lines(r'%s: the CA does not offer the profile "tlsserver" '
                       r'\(ACMEProfile\); ordering its default profile\. It offers: '
                       r'classic, shortlived' % re.escape(fallback))
    assert len(said) == 1, a.diagnostics()
    # mandatory and not offered: a configuration error, nothing ordered
    st = a.wait_state(strict, lambda s: (s.get("last_error") or {}).get("kind")
                      == "configuration", timeout=TIMEOUT)
    assert "ACMEProfile" in st["last_error"]["detail"], st
    assert "classic, shortlived" in st["last_error"]["detail"], st
    assert _orders_for(faultproxy, strict) == []

    doc = _status(a, offered)
    assert doc[offered]["profile"] == {"name": "shortlived", "mandatory": False}, doc
    assert doc[strict]["profile"] == {"name": "tlsserver", "mandatory": True}, doc
    assert doc[strict]["state"] == "errored", doc
    assert "ACMEProfile" in doc[strict]["last_error"]["detail"], doc

    # `acmeauto renew` orders what the job orders (handoff/config.json)
    r = a.acmeauto("renew", offered, "--force", "--no-wait")
    assert r.returncode in (0, 5), r
    assert [o.get("profile") for o in _orders_for(faultproxy, offered)] == \
        ["shortlived", "shortlived"], faultproxy.format_log(30)


def _set_txt(challtestsrv, host, value):
    body = json.dumps({"host": host, "value": value}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/set-txt" % challtestsrv.mgmt_port,
                                 data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def _clear_txt(challtestsrv, host):
    body = json.dumps({"host": host}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/clear-txt" % challtestsrv.mgmt_port,
                                 data=body, method="POST")
    urllib.request.urlopen(req, timeout=10).close()


@pytest.mark.log_allow(r"persist\.t103\.test: waiting for authorization")
def test_dns_persist(apache, pebble_factory, proxy_for, challtestsrv):
    name, issuer = "persist.t103.test", "ca.t103.test"
    record_name = "_validation-persist.%s." % name
    p = pebble_factory(env={"PEBBLE_VA_ALWAYS_VALID": "1"})
    proxy = proxy_for(p)
    proxy.persist(issuer, lambda n, t: harness.dns_query(n, t, port=challtestsrv.dns_port))
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERetryDelay 2s\n"
               + "ACMEChallenges dns-persist-01\n" + STATUS_CONF
               + "ACMEDomain %s\n" % name + vhosts(name), pebble=p,
               acme_server=proxy.directory_url)
    try:
        a.start()
        # nothing published yet: the record to publish, in the log and status
        st = a.wait_state(name, lambda s: s.get("last_error"), timeout=TIMEOUT)
        rx = (r'%s IN TXT "%s; accounturi=(https://[^"\s]+)"'
              % (re.escape(record_name), re.escape(issuer)))
        m = re.search(rx, st["last_error"]["hint"] or "")
        assert m, st
        account = m.group(1)
        # the job writes the state, then logs the failure
        a.wait_log(r"publish this DNS record once \(dns-persist-01\): " + rx, timeout=10)
        doc = _status(a, name)
        assert re.search(rx, doc[name]["last_error"]["hint"]), doc
        assert "no TXT record" in doc[name]["last_error"]["detail"], doc
        # no http-01 answer was ever put in place
        assert not a.log_lines(r"http-01 challenge for %s" % re.escape(name))

        # published once, the order completes with no further DNS change
        _set_txt(challtestsrv, record_name, "%s; accounturi=%s" % (issuer, account))
        r = a.acmeauto("renew", name, "--force", "--wait", "60s")
        assert r.returncode == 0, r
        a.wait_cert(name, timeout=TIMEOUT)
        assert [e for e in proxy.entries(kind="challenge") if e.method == "POST"
                and e.payload == {} and e.injected is None and e.status == 200], \
            proxy.format_log(40)
    finally:
        _clear_txt(challtestsrv, record_name)


@pytest.mark.parametrize("line,value", [
    ("ACMEProfile shortlived sometimes", "sometimes"),
    ("ACMEProfile 'short lived'", "short lived"),
])
def test_bad_profile_fails_configtest(apache, line, value):
    a = apache(line + "\nACMEDomain conf.t103.test\n" + vhosts("conf.t103.test"))
    rc, out = a.configtest()
    assert rc != 0, out
    assert "ACMEProfile" in out and value in out, out
