"""Self-tests of the fault proxy / ARI shim (faultproxy.py); no module needed."""

import datetime
import http.client
import json
import os
import urllib.error
import urllib.request

import pytest

from faultproxy import cert_id, cert_id_from, decode_jws
from harness import LOOPBACK, parse_cert, verify_chain


def _get(proxy, pebble, path, method="GET", data=None, headers=None):
    """(status, headers, body) of one request to the proxy."""
    req = urllib.request.Request(proxy.url(path), data=data, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=pebble.ssl_context(), timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _directory(proxy, pebble):
    status, _, body = _get(proxy, pebble, "/dir")
    assert status == 200, body
    return json.loads(body)


def test_directory_shows_proxy_urls_and_ari(faultproxy, pebble):
    d = _directory(faultproxy, pebble)
    urls = [v for v in d.values() if isinstance(v, str)]
    assert urls and all(u.startswith(faultproxy.origin + "/") for u in urls), d
    assert "renewalInfo" not in d
    assert faultproxy.origin != "https://%s:%d" % (LOOPBACK, pebble.port)

    faultproxy.ari(datetime.datetime(2020, 1, 1), 1577923200,   # 2020-01-02 as epoch
                   retry_after=21600, explanation_url="https://127.0.0.1/why")
    d = _directory(faultproxy, pebble)
    assert d["renewalInfo"] == faultproxy.origin + "/renewal-info"
    status, hdrs, body = _get(faultproxy, pebble, "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    assert status == 200, body
    assert json.loads(body) == {"suggestedWindow": {"start": "2020-01-01T00:00:00Z",
                                                    "end": "2020-01-02T00:00:00Z"},
                                "explanationURL": "https://127.0.0.1/why"}
    assert hdrs["Retry-After"] == "21600"
    assert hdrs["Content-Type"] == "application/json"
    assert faultproxy.ari_requests == ["aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"]
    assert faultproxy.entries(kind="renewalInfo")[0].cert_id == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"

    # a window for one certID only; others are unknown (404)
    faultproxy.ari_off()
    faultproxy.ari("2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z", cert_id="AA.AQ")
    assert _get(faultproxy, pebble, "/renewal-info/AA.AQ")[0] == 200
    assert _get(faultproxy, pebble, "/renewal-info/AA.Ag")[0] == 404

    faultproxy.ari_off()
    assert "renewalInfo" not in _directory(faultproxy, pebble)
    assert _get(faultproxy, pebble, "/renewal-info/AA.AQ")[0] == 404   # Pebble's own 404


def test_fail_next_then_normal_service(faultproxy, pebble):
    faultproxy.fail_next(1, 503, retry_after=3, path_prefix="/dir")
    status, hdrs, body = _get(faultproxy, pebble, "/dir")
    assert status == 503
    assert hdrs["Retry-After"] == "3"
    assert hdrs["Content-Type"] == "application/problem+json"
    assert json.loads(body)["type"] == "urn:ietf:params:acme:error:serverInternal"
    assert _get(faultproxy, pebble, "/dir")[0] == 200

    # only matching requests are hit: a newNonce passes, then 429 on newNonce
    faultproxy.fail_next(1, 429, kind="newNonce", nonce=True,
                         body={"type": "urn:ietf:params:acme:error:rateLimited",
                               "detail": "slow down"})
    assert _get(faultproxy, pebble, "/dir")[0] == 200
    status, hdrs, body = _get(faultproxy, pebble, "/nonce-plz", method="HEAD")
    assert status == 429 and hdrs["Replay-Nonce"]
    status, hdrs, _ = _get(faultproxy, pebble, "/nonce-plz", method="HEAD")
    assert status == 200 and hdrs["Replay-Nonce"]

    # 200 with garbage JSON, then a truncated body
    faultproxy.fail_next(1, 200, body="{not json", content_type="application/json")
    status, _, body = _get(faultproxy, pebble, "/dir")
    assert status == 200 and body == b"{not json"
    faultproxy.fail_next(1, 200, body=json.dumps(_directory(faultproxy, pebble)),
                         content_type="application/json", truncate=20)
    conn = http.client.HTTPSConnection(LOOPBACK, faultproxy.port, timeout=10,
                                       context=pebble.ssl_context())
    conn.request("GET", "/dir")
    r = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    conn.close()
    assert faultproxy.pending_faults() == 0
    assert _get(faultproxy, pebble, "/dir")[0] == 200
    assert [e.status for e in faultproxy.log if e.injected == "fail"] == [503, 429, 200, 200]


def test_down_refuses_then_recovers(faultproxy, pebble):
    assert _get(faultproxy, pebble, "/dir")[0] == 200
    faultproxy.down(True)
    with pytest.raises(OSError):
        _get(faultproxy, pebble, "/dir")
    faultproxy.down(True, mode="reset")
    with pytest.raises(OSError):
        _get(faultproxy, pebble, "/dir")
    faultproxy.down(True, mode="502")
    assert _get(faultproxy, pebble, "/dir")[0] == 502
    faultproxy.down(False)
    assert _get(faultproxy, pebble, "/dir")[0] == 200
    downs = [e for e in faultproxy.log if e.injected == "down"]
    assert [e.status for e in downs] == [0, 0, 502]
    assert downs[0].path == "/dir" and downs[1].path is None   # reset: before the request


def test_mini_acme_issuance_through_proxy(apache, faultproxy, pebble, workdir):
    """Nonces and the JWS url check pass through the proxy (Pebble sees the
    proxy's Host); the request log decodes JWS payloads; cert_id() is right."""
    from mini_acme import AcmeError, MiniAcme, write_token_to_docroot
    name = "proxy.t05.test"
    a = apache("<VirtualHost 127.0.0.1:5002>\n  ServerName %s\n</VirtualHost>\n" % name,
               load_module=False, pebble=pebble)
    a.start()
    client = MiniAcme(faultproxy.directory_url, pebble.ssl_context(),
                      os.path.join(workdir, "mini-acme-" + name))
    client.new_account("kid-2", pebble.eab["kid-2"])
    assert client.kid.startswith(faultproxy.origin + "/")
    chain, _ = client.issue([name], write_token_to_docroot(a.htdocs))
    leaf = parse_cert(chain[0])
    assert leaf.sans == [name] and pebble.issued(leaf)
    ok, out = verify_chain(chain, pebble.root_file)
    assert ok, out

    log = faultproxy.log
    assert all(e.injected is None for e in log)
    kinds = [e.kind for e in log]
    for k in ("directory", "newNonce", "newAccount", "newOrder", "authz", "challenge",
              "finalize", "order", "cert"):
        assert k in kinds, kinds
    acct = faultproxy.entries(kind="newAccount")[-1]
    assert acct.status == 201 and acct.payload["termsOfServiceAgreed"] is True
    assert acct.protected["url"] == faultproxy.origin + "/sign-me-up"
    order = [e for e in faultproxy.entries(kind="newOrder") if e.problem != "badNonce"][0]
    assert order.status == 201
    assert order.payload == {"identifiers": [{"type": "dns", "value": name}]}
    assert any(e.post_as_get for e in log if e.kind == "cert")

    # certID of a Pebble-issued certificate, computed here from the DER by hand
    cid = cert_id(chain[0])
    assert cid == _cert_id_by_hand(chain[0])
    aki_b64, serial_b64 = cid.split(".")
    assert "=" not in cid and aki_b64 and serial_b64

    # Pebble 2.4 ignores an unknown "replaces" in newOrder ...
    ids = {"identifiers": [{"type": "dns", "value": name}]}
    st, h, _ = client.post(client.directory["newOrder"], dict(ids, replaces=cid))
    assert st == 201 and h["Location"].startswith(faultproxy.origin + "/")
    assert faultproxy.entries(kind="newOrder")[-1].payload["replaces"] == cid
    # ... and reject_replaces(True) answers RFC 9773's refusal instead
    # (409 alreadyReplaced, with a nonce) ...
    faultproxy.reject_replaces(True)
    with pytest.raises(AcmeError) as ei:
        client.post(client.directory["newOrder"], dict(ids, replaces=cid))
    assert ei.value.status == 409
    assert ei.value.problem["type"] == "urn:ietf:params:acme:error:alreadyReplaced"
    assert client.nonce   # the rejection carried a fresh Replay-Nonce
    st, _, _ = client.post(client.directory["newOrder"], ids)   # without replaces: forwarded
    assert st == 201
    # ... or any other problem asked for
    faultproxy.reject_replaces(True, status=403, ptype="unauthorized", detail="no")
    with pytest.raises(AcmeError) as ei:
        client.post(client.directory["newOrder"], dict(ids, replaces=cid))
    assert ei.value.status == 403
    assert ei.value.problem == {"type": "urn:ietf:params:acme:error:unauthorized",
                                "detail": "no", "status": 403}
    # (Pebble refuses 5% of nonces; the client sends those again)
    last = [e for e in faultproxy.entries(kind="newOrder") if e.problem != "badNonce"]
    assert [e.status for e in last[-3:]] == [409, 201, 403]
    assert [e.injected for e in last[-3:]] == ["reject_replaces", None, "reject_replaces"]
    assert [e.problem for e in last[-3:]] == ["alreadyReplaced", None, "unauthorized"]


def test_hold_keeps_status_then_passes(faultproxy, pebble, workdir):
    """hold(): Pebble's answers of the held kinds carry the held status (the
    first `polls` answers of each URL only); other kinds pass untouched."""
    from mini_acme import MiniAcme
    client = MiniAcme(faultproxy.directory_url, pebble.ssl_context(),
                      os.path.join(workdir, "mini-acme-hold"))
    client.new_account("kid-2", pebble.eab["kid-2"])
    faultproxy.hold("processing", kinds=("authz", "order"), polls=2)
    ids = {"identifiers": [{"type": "dns", "value": "hold.t05.test"}]}
    _, h, data = client.post(client.directory["newOrder"], ids)
    assert json.loads(data)["status"] == "pending"          # newOrder: not held
    az_url = json.loads(data)["authorizations"][0]
    got = [json.loads(client.post(az_url, None)[2])["status"] for _ in range(3)]
    assert got == ["processing", "processing", "pending"]
    assert json.loads(client.post(h["Location"], None)[2])["status"] == "processing"
    faultproxy.hold(None)
    assert json.loads(client.post(h["Location"], None)[2])["status"] == "pending"
    held = [e for e in faultproxy.log if e.injected == "hold"]
    assert [e.kind for e in held] == ["authz", "authz", "order"]
    assert all(e.status == 200 for e in held)


def test_link_and_location_headers_rewritten_to_proxy(faultproxy, pebble):
    status, hdrs, _ = _get(faultproxy, pebble, "/nonce-plz", method="HEAD")
    assert status == 200
    links = hdrs.get_all("Link")
    assert links and all(faultproxy.origin in l for l in links), links
    # safety net: an upstream origin left in a body/header is rewritten
    up = "https://%s:%d" % (LOOPBACK, pebble.port)
    assert faultproxy._rewrite(up + "/x") == faultproxy.origin + "/x"


def test_cert_id_rfc9773_example_and_jws_decoding():
    # RFC 9773 section 4.1 worked example
    assert cert_id_from("69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4",
                        "87654321") == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert cert_id_from("01", "7f") == "AQ.fw"
    assert cert_id_from("01", "0080") == "AQ.AIA"
    prot, pay, pag = decode_jws(b'{"protected":"eyJhIjoxfQ","payload":"eyJiIjoyfQ",'
                                b'"signature":""}')
    assert (prot, pay, pag) == ({"a": 1}, {"b": 2}, False)
    assert decode_jws(b'{"protected":"eyJhIjoxfQ","payload":"","signature":""}')[2] is True
    assert decode_jws(b"not json") == (None, None, False)


# ---------------------------------------------------------------------------
# an independent DER walk for the certID check

def _tlv(der, off):
    tag = der[off]
    ln = der[off + 1]
    off += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(der[off:off + n], "big")
        off += n
    return tag, der[off:off + ln], off + ln


def _cert_id_by_hand(pem):
    import base64
    b64 = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    der = base64.b64decode(b64)
    _, cert, _ = _tlv(der, 0)
    _, tbs, _ = _tlv(cert, 0)
    off = 0
    tag, _, nxt = _tlv(tbs, off)
    if tag == 0xA0:                     # [0] version
        off = nxt
    tag, serial, _ = _tlv(tbs, off)
    assert tag == 0x02
    i = der.index(bytes.fromhex("0603551d23"))     # OID 2.5.29.35 authorityKeyIdentifier
    _, _, off = _tlv(der, i)
    tag, _, nxt = _tlv(der, off)
    if tag == 0x01:                     # critical BOOLEAN
        off = nxt
    tag, octets, _ = _tlv(der, off)
    assert tag == 0x04
    _, aki_seq, _ = _tlv(octets, 0)
    tag, keyid, _ = _tlv(aki_seq, 0)
    assert tag == 0x80
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return "%s.%s" % (enc(keyid), enc(serial))
