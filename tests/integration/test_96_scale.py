"""Many managed domains (issue 11, "Request path"): 2,000 ACMEDomains,
each with its own name-based vhost on the HTTP port and some also on the
HTTPS port, pass configtest, start and restart, and every host is served
what it should be before any certificate exists: a valid
SSLCertificateFile it already had, else a self-signed fallback (and 503).
No CA is reachable (ACMEServer is a closed port): nothing here waits on an
order. Only a few hundred hosts have TLS: mod_ssl's own set-up of each
TLS vhost costs milliseconds, twice per start, and is not what is tested.

The time bound only catches a quadratic blow-up (a scan of every domain
for every domain or vhost), not a slowdown: start-up and configtest
times are measured by bench/, not by tests. Names under *.t96.test."""
import datetime
import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import HTTP_PORT, HTTPS_PORT, INDEX_HTML, LOOPBACK, mkdir, write_file

DOMAINS = 2000
TLS = 300            # the first ones also have an HTTPS vhost,
BARE = 150           # ... the first of these with a bare ACMEDomain in it,
FALLBACK = 40        # ... the last of these with no certificate of their own
QUADRATIC = 30.0     # seconds; a linear configtest takes well under 2 s
SAMPLE = (0, BARE - 1, BARE, TLS - FALLBACK - 1, TLS - FALLBACK, TLS - 1, TLS, DOMAINS - 1)


def _name(i):
    return "d%04d.t96.test" % i


def _wildcard_cert(directory):
    """One self-signed leaf for *.t96.test: what a host had before the
    module (it covers every name here)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.t96.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.t96.test")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    mkdir(directory)
    cert_path, key_path = os.path.join(directory, "t96.crt"), os.path.join(directory, "t96.key")
    write_file(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())
    write_file(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(), mode=0o600)
    return cert_path, key_path, cert.serial_number


def _config(cert, key):
    out = ["ACMEAutoRestart off\n"]
    for i in range(DOMAINS):
        name = _name(i)
        own = ""
        if i < TLS - FALLBACK:
            own = "  SSLCertificateFile %s\n  SSLCertificateKeyFile %s\n" % (cert, key)
        if i < BARE:
            own += "  ACMEDomain\n"
        else:
            out.append("ACMEDomain %s\n" % name)
        if i < TLS:
            out.append("<VirtualHost %s:%d>\n  ServerName %s\n  SSLEngine on\n%s"
                       "</VirtualHost>\n" % (LOOPBACK, HTTPS_PORT, name, own))
        out.append("<VirtualHost %s:%d>\n  ServerName %s\n</VirtualHost>\n"
                   % (LOOPBACK, HTTP_PORT, name))
    return "".join(out)


def _check_served(a, serial, sample):
    for i in sample:
        name = _name(i)
        if i < TLS:
            served = a.served_cert(name)
            r = a.get("/", name, https=True)
            if i < TLS - FALLBACK:
                assert int(served.serial, 16) == serial, "%s: %s" % (name, served.summary())
                assert r.status == 200 and r.text == INDEX_HTML, (name, r)
            else:
                assert served.self_signed and served.sans == [name], served.summary()
                assert r.status == 503, (name, r)
        r = a.get("/index.html", name)
        assert r.status == 200 and r.text == INDEX_HTML, (name, r)
        # not a token of ours: the request goes on (no file here: 404)
        r = a.get("/.well-known/acme-challenge/NotOurs_token-1", name)
        assert r.status == 404, (name, r)


@pytest.mark.log_allow(r"AA00\d+: d\d{4}\.t96\.test: ", r"\[acmeauto:(warn|error)\].*127\.0\.0\.1:1\b")
def test_two_thousand_domains(apache, workdir):
    cert, key, serial = _wildcard_cert(os.path.join(workdir, "certs-t96"))
    a = apache(_config(cert, key), pebble=None, acme_server="https://127.0.0.1:1/directory",
               acme_ca=None, log_level="warn", module_log_level="notice")
    t0 = time.monotonic()
    rc, out = a.configtest()
    took = time.monotonic() - t0
    assert rc == 0, out
    assert took < QUADRATIC, "configtest took %.1fs" % took
    a.start(timeout=120)
    _check_served(a, serial, SAMPLE)
    # Only the TLS hosts with nothing get a fallback, all on one key.
    fallback = os.path.join(a.store_dir, "fallback")
    assert sorted(os.listdir(fallback)) == [_name(i) for i in range(TLS - FALLBACK, TLS)]
    keys = set()
    for d in os.listdir(fallback):
        with open(os.path.join(fallback, d, "ec256.key.pem")) as f:
            keys.add(f.read())
    assert len(keys) == 1
    # A restart matches 2,000 domains to their store keys through the
    # index the first start wrote (a search over all pairs never ended).
    t0 = time.monotonic()
    a.graceful(timeout=120)
    assert time.monotonic() - t0 < 4 * QUADRATIC
    _check_served(a, serial, SAMPLE[::3])
