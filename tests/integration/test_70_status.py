"""What the administrator sees (SPEC §4): `SetHandler acme-status` (HTML,
JSON with ?json or Accept: application/json, one domain at /NAME) and the
"Managed certificates" part of mod_status's server-status (ACMEStatus).

Names under *.t70.test; the status pages are asked for over plain HTTP
(port 5002) with the Host of a domain's HTTP vhost; the <Location>s are at
server level, so every vhost has them."""

import json
import re
import secrets
import time

import pytest

from harness import account_conf, b64url, vhosts

TIMEOUT = 90

STATUS_CONF = """
<Location /acme-status>
  SetHandler acme-status
  Require ip 127.0.0.1
</Location>
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
"""


def _json(a, host, path="/acme-status?json", headers=None):
    r = a.get(path, host, headers=headers)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json"), r
    return json.loads(r.text)


def _by_name(doc):
    return {d["name"]: d for d in doc["domains"]}


def _auto(a, host):
    r = a.get("/server-status?auto", host)
    assert r.status == 200, r
    return dict(m.groups() for m in re.finditer(r"^(ACMECertificates\w+): (\d+)$",
                                                r.text, re.M))


def _wait_status(a, host, name, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        d = _by_name(_json(a, host)).get(name)
        if d and pred(d):
            return d
        assert time.monotonic() < deadline, "status of %s: %s" % (name, d)
        time.sleep(0.5)


@pytest.mark.log_allow(r"AA00305: bad\.t70\.test: ")
def test_valid_and_errored(apache, pebble, faultproxy):
    """good: a certificate; bad: its own CA (the proxy: one account per CA)
    and a wrong EAB HMAC, a configuration error."""
    good, bad = "good.t70.test", "bad.t70.test"
    wrong = b64url(secrets.token_bytes(32))
    assert wrong != pebble.eab["kid-1"]
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + STATUS_CONF
               + "ACMEDomain %s\n" % good + vhosts(good)
               + vhosts(bad, https_extra="  ACMEDomain %s\n  ACMEServer %s\n"
                        "  ACMEEAB kid-1 %s\n" % (bad, faultproxy.directory_url, wrong)))
    a.start()
    served = a.wait_cert(good, timeout=TIMEOUT)
    a.wait_state(bad, lambda s: (s.get("last_error") or {}).get("kind")
                 == "configuration", timeout=60, what="a configuration error")

    g = _wait_status(a, good, good, lambda d: d["state"] == "valid")
    assert g["names"] == [good] and g["key"] == good, g
    assert g["key_types"], g
    cert = g["certificate"]
    assert cert["serial"].lstrip("0").upper() == served.serial.lstrip("0").upper(), (cert, served.summary())
    assert "Pebble" in cert["issuer"], cert
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", cert["not_after"]), cert
    assert cert["not_before"] < g["renew_at"] < cert["not_after"], g
    assert g["renew_from"] in ("window", "ari"), g
    assert g["failures"] == 0 and g["last_error"] is None, g
    assert g["restart_pending"] is False and g["expiring"] is False, g

    b = _by_name(_json(a, good))[bad]
    assert b["state"] == "errored", b
    assert b["certificate"] is None and b["key_types"] == [], b
    assert b["failures"] >= 1 and b["next_attempt"], b
    err = b["last_error"]
    assert err["kind"] == "configuration", err
    assert "ACMEEAB" in (err["hint"] or ""), err
    assert err["type"] and err["activity"] and err["detail"] is not None, err

    # the same through Accept:, and one domain at /NAME (by any name)
    doc = _json(a, good, "/acme-status", headers={"Accept": "application/json"})
    assert set(_by_name(doc)) == {good, bad}
    one = _json(a, good, "/acme-status/%s?json" % bad)
    assert one["name"] == bad and one["state"] == "errored", one
    assert a.get("/acme-status/nothere.t70.test?json", good).status == 404
    assert a.get("/acme-status/nothere.t70.test", good).status == 404
    one_html = a.get("/acme-status/%s" % good, good)
    assert one_html.status == 200 and good in one_html.text and bad not in one_html.text

    # HTML for all, with both names and the error's hint
    html = a.get("/acme-status", good)
    assert html.status == 200 and html.headers["content-type"].startswith("text/html")
    assert good in html.text and bad in html.text and "ACMEEAB" in html.text
    assert cert["serial"] in html.text

    # no secret anywhere
    for text in (html.text, json.dumps(doc), a.get("/server-status", good).text):
        assert wrong not in text and pebble.eab["kid-1"] not in text

    # server-status: counters and a section
    assert _auto(a, good) == {"ACMECertificatesTotal": "2", "ACMECertificatesValid": "1",
                              "ACMECertificatesRenewing": "0",
                              "ACMECertificatesErrored": "1",
                              "ACMECertificatesExpiring": "0"}
    st = a.get("/server-status", good).text
    assert "Managed certificates" in st and good in st and bad in st


@pytest.mark.log_allow(r"AA00305: pending\.t70\.test: ")
def test_pending_and_status_off(apache, pebble, faultproxy):
    name = "pending.t70.test"
    faultproxy.down(True)
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEStatus off\nACMERetryDelay 1s\n"
               + STATUS_CONF + "ACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    d = _wait_status(a, name, name, lambda d: d["failures"] >= 1)
    assert d["state"] == "pending", d
    assert d["certificate"] is None and d["renew_at"] is None, d
    assert d["last_error"]["kind"] == "transient", d
    # ACMEStatus off: server-status says nothing about certificates
    r = a.get("/server-status?auto", name)
    assert r.status == 200 and "ServerUptime" in r.text, r
    assert "ACMECertificates" not in r.text
    assert "Managed certificates" not in a.get("/server-status", name).text


@pytest.mark.log_allow(r"AA00305: escape\.t70\.test: ")
def test_html_is_escaped(apache, pebble, faultproxy):
    name = "escape.t70.test"
    evil = '<b id="x">down & out</b>'
    faultproxy.fail_next(n=1000, status=503, kind="newAccount",
                         body={"type": "urn:ietf:params:acme:error:serverInternal",
                               "detail": evil, "status": 503})
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 1s\n"
               + STATUS_CONF + "ACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    d = _wait_status(a, name, name, lambda d: d["failures"] >= 1)
    assert evil in d["last_error"]["detail"], d
    html = a.get("/acme-status", name).text
    assert evil not in html
    assert "&lt;b id=&quot;x&quot;&gt;down &amp; out&lt;/b&gt;" in html, html


@pytest.mark.parametrize("line, value", [
    ("ACMEStatus maybe", "maybe"),
    ("<VirtualHost 127.0.0.1:5443>\n  ServerName st.t70.test\n  ACMEStatus off\n"
     "</VirtualHost>", "VirtualHost"),
], ids=["bad-value", "in-vhost"])
def test_acmestatus_bad_config_fails_configtest(apache, line, value):
    a = apache(line + "\n")
    rc, out = a.configtest()
    assert rc != 0, "configtest accepted %r:\n%s" % (line, out)
    assert "ACMEStatus" in out and value in out, out


def test_acmestatus_on_passes_configtest(apache, pebble):
    a = apache("ACMEStatus on\n")
    rc, out = a.configtest()
    assert rc == 0, out
