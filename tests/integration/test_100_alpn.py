"""tls-alpn-01 (RFC 8737, SPEC §3): answered through mod_ssl's
ssl_answer_challenge hook.  A Pebble whose tlsPort is Apache's HTTPS port
validates a name with ACMEChallenges tls-alpn-01 alone (http-01 never
asked); configtest names the <VirtualHost> whose Protocols lacks
acme-tls/1; while an answer is held for a name, only a handshake offering
acme-tls/1 gets it and every other client keeps the real certificate.
Names under *.t100.test."""
import os
import socket
import ssl

import pytest

from harness import (HTTPS_PORT, LOOPBACK, account_conf, as_user, make_self_signed,
                     parse_cert, vhosts)

TIMEOUT = 90
PROTOCOLS = "  Protocols h2 http/1.1 acme-tls/1\n"


def _handshake(name, alpn=None):
    """(leaf CertInfo, negotiated ALPN protocol) for SNI name at Apache's HTTPS port."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection((LOOPBACK, HTTPS_PORT), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
            return parse_cert(ssl.DER_cert_to_PEM_cert(der)), tls.selected_alpn_protocol()


def test_issued_with_tls_alpn_01_only(apache, pebble_factory):
    """http-01 is disabled: the certificate comes through tls-alpn-01 in
    the handshake on the HTTPS port, and is served and verifies."""
    ca = pebble_factory(config={"tlsPort": HTTPS_PORT}, name="alpn")
    name = "issue.t100.test"
    a = apache(account_conf("kid-1", ca.eab["kid-1"])
               + "ACMERetryDelay 2s\nACMEChallenges tls-alpn-01\n"
               + vhosts(name, acme_domain="", https_extra=PROTOCOLS), pebble=ca)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    assert a.is_acme_issued(served.leaf), served.summary()
    assert name in served.sans, served.summary()
    ok, out = a.verify_chain(served)
    assert ok, out
    assert a.log_lines(r"tls-alpn-01 challenge for %s" % name), a.diagnostics()
    assert a.log_lines(r"answering tls-alpn-01 challenge for %s" % name), a.diagnostics()
    assert not a.log_lines(r"http-01 challenge for"), a.diagnostics()
    with open(a.access_log_path) as f:
        assert "/.well-known/acme-challenge/" not in f.read()
    # The answer is gone once the order is done.
    left = os.listdir(os.path.join(a.store_dir, "challenges"))
    assert not [f for f in left if f.endswith(".tls-alpn-01.pem")], left


def test_configtest_wants_acme_tls_in_protocols(apache, pebble):
    """Without acme-tls/1 in Protocols mod_ssl never selects it: the CA's
    validation would fail at every renewal, so configtest refuses and says
    which <VirtualHost> and which line to add."""
    name = "proto.t100.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEChallenges tls-alpn-01\n"
               + vhosts(name, acme_domain=""))
    rc, out = a.configtest()
    assert rc != 0, out
    assert "Protocols h2 http/1.1 acme-tls/1" in out, out
    assert name in out and a.conf_path in out, out
    # The line it asks for is enough (at the server level too).
    b = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEChallenges tls-alpn-01\n"
               + PROTOCOLS.strip() + "\n" + vhosts(name, acme_domain=""))
    rc, out = b.configtest()
    assert rc == 0, out
    # http-01 alone needs no Protocols line.
    c = apache(account_conf("kid-1", pebble.eab["kid-1"]) + vhosts(name, acme_domain=""))
    assert c.configtest()[0] == 0


# The job cannot reach a CA; `openssl req -x509` makes a CA:TRUE certificate.
@pytest.mark.log_allow(r"127\.0\.0\.1:9", r"AH01906")
def test_real_certificate_kept_for_other_clients(apache, pebble):
    """A host with a certificate of its own (here an SSLCertificateFile) is
    being validated: the job's answer is in the store.  A CA's handshake
    (ALPN acme-tls/1) gets the challenge certificate; browsers (h2,
    http/1.1, no ALPN) keep the real one; another name gets no answer."""
    name = "kept.t100.test"
    # ACMEServer points nowhere: nothing the job does races the planted answer.
    a = apache(account_conf("kid-1", pebble.eab["kid-1"])
               + "ACMEServer https://127.0.0.1:9/dir\nACMEChallenges tls-alpn-01\n"
               + "ACMERetryDelay 1h\n"
               + vhosts(name, acme_domain="", https_extra=PROTOCOLS
                        + "  SSLCertificateFile @ROOT@/old/%s.crt\n" % name
                        + "  SSLCertificateKeyFile @ROOT@/old/%s.key\n" % name),
               acme_server=None)
    cert, _ = make_self_signed(os.path.join(a.root, "old"), [name])
    challenge, ckey = make_self_signed(os.path.join(a.root, "challenge"), [name])
    a.start()
    real = parse_cert(open(cert).read())
    planted = open(challenge).read() + open(ckey).read()
    path = os.path.join(a.store_dir, "challenges", name + ".tls-alpn-01.pem")
    # Written as the job writes it: by the server's User.
    as_user("open(%r, 'w').write(%r)" % (path, planted))
    want = parse_cert(open(challenge).read())

    leaf, proto = _handshake(name, ["acme-tls/1"])
    assert proto == "acme-tls/1" and leaf.serial == want.serial, (proto, leaf.summary())
    for alpn in (None, ["h2", "http/1.1"], ["http/1.1"]):
        leaf, proto = _handshake(name, alpn)
        assert leaf.serial == real.serial, (alpn, proto, leaf.summary())
        assert proto != "acme-tls/1"
    r = a.get("/", name, https=True)
    assert r.status == 200, r
    # No answer held for this name: acme-tls/1 is not selected, and the
    # client gets what any other would.
    leaf, proto = _handshake("other.t100.test", ["acme-tls/1", "http/1.1"])
    assert proto == "http/1.1" and leaf.serial == real.serial, (proto, leaf.summary())
