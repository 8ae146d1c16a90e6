"""Moving to the module without downtime, and living beside Certbot (SPEC §3
"Before the first certificate"): a managed vhost whose SSLCertificateFile is
still configured keeps serving it (no fallback, no 503) until the module's
own certificate is live, which then replaces it; an expired or foreign one
is dropped with a reason; Debian's certbot (webroot mode, against Pebble)
obtains and renews a certificate for a vhost the module does not manage."""

import datetime
import json
import os
import re
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import account_conf, mkdir, parse_cert, run_certbot, vhosts, write_file

TIMEOUT = 90
CERTBOT = "/usr/bin/certbot"
STATUS_CONF = "<Location /acme-status>\n  SetHandler acme-status\n</Location>\n"


def _serial(s):
    return s.lstrip("0").upper()


def _status(a, name):
    r = a.get("/acme-status/%s?json" % name, name)
    assert r.status == 200, r
    return json.loads(r.text)


def _wait_file(a, path, timeout=TIMEOUT):
    """Polls until `path` exists (the job writes it; Apache never restarts)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert a.running(), a.diagnostics()
        assert time.monotonic() < deadline, "%s not written in %ss\n%s" % (
            path, timeout, a.diagnostics())
        time.sleep(0.25)


def _staged(a, name):
    return os.path.join(a.store_dir, "staging", name, "staged.json")


def _certbot(a, pki, base, *args):
    """Debian's certbot with all its state under `base`, trusting Pebble's
    HTTPS through the test CA."""
    env = dict(os.environ, REQUESTS_CA_BUNDLE=pki.ca_file)
    cmd = [CERTBOT, *args, "--config-dir", os.path.join(base, "config"),
           "--work-dir", os.path.join(base, "work"), "--logs-dir", os.path.join(base, "logs"),
           "--non-interactive"]
    cp = run_certbot(cmd, os.path.join(base, "logs"), env=env, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True, timeout=120,
                     stdin=subprocess.DEVNULL, cwd=base)
    assert cp.returncode == 0, "%s\n%s\n%s" % (" ".join(cmd), cp.stdout, a.diagnostics())
    return cp.stdout


def _certbot_cert(base, name):
    with open(os.path.join(base, "config", "live", name, "cert.pem")) as f:
        return parse_cert(f.read())


def _https_vhost(name, cert, key, extra=""):
    return ("<VirtualHost 127.0.0.1:5443>\n  ServerName %s\n  SSLEngine on\n"
            "  SSLCertificateFile %s\n  SSLCertificateKeyFile %s\n%s</VirtualHost>\n"
            % (name, cert, key, extra))


def _http_vhost(name):
    return "<VirtualHost 127.0.0.1:5002>\n  ServerName %s\n</VirtualHost>\n" % name


def test_certbot_beside_module_then_migration(apache, pebble, pki, workdir):
    """Certbot (webroot) obtains and renews a certificate for a vhost the
    module does not manage while the module manages another; then that vhost
    moves to the module as the README says: Certbot's files stay configured
    and are served (no 503) until the module's certificate is live."""
    managed, cb = "mod.t90.test", "certbot.t90.test"
    base = mkdir(os.path.join(workdir, "certbot-t90"))
    # ACMEAutoRestart off: the module's certificates go live at the
    # administrator's graceful restarts, so the moment is the test's.
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEAutoRestart off\n"
               + STATUS_CONF + "ACMEDomain %s\n" % managed + vhosts(managed)
               + "# certbot\n" + _http_vhost(cb))
    a.start()

    _certbot(a, pki, base, "certonly", "--webroot", "-w", a.htdocs, "-d", cb,
             "--server", pebble.directory_url, "--eab-kid", "kid-2",
             # one argument: a base64url key may start with "-"
             "--eab-hmac-key=" + pebble.eab["kid-2"], "--agree-tos", "-m", "admin@example.org",
             "--no-eff-email", "--preferred-challenges", "http")
    first = _certbot_cert(base, cb)
    assert pebble.issued(first) and first.sans == [cb], first.summary()
    _certbot(a, pki, base, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    renewed = _certbot_cert(base, cb)
    assert pebble.issued(renewed) and renewed.serial != first.serial, renewed.summary()
    # Pebble's validations reached Certbot's files through this Apache,
    # past the module's challenge hook (a token it does not hold).
    with open(a.access_log_path) as f:
        tokens = set(re.findall(r'%s:\d+ "GET /\.well-known/acme-challenge/(\S+) HTTP/1\.\d" '
                                r'200 ' % re.escape(cb), f.read()))
    # (Pebble may reuse the valid authorization for the renewal)
    assert tokens, "no validation request reached Certbot's webroot"
    assert not [t for t in tokens if a.log_lines(r"AA00201: .*%s" % re.escape(t))]

    # The move: ACMEDomain beside Certbot's files, a graceful restart.
    _wait_file(a, _staged(a, managed))
    live = os.path.join(base, "config", "live", cb)
    with open(a.conf_path) as f:
        conf = f.read()
    conf = conf.replace("# certbot\n", _https_vhost(
        cb, os.path.join(live, "fullchain.pem"), os.path.join(live, "privkey.pem"),
        "  ACMEDomain\n"))
    write_file(a.conf_path, conf)
    mark = a.graceful()
    assert _serial(a.wait_cert(managed, timeout=30).serial) != _serial(renewed.serial)
    served = a.served_cert(cb)
    assert _serial(served.serial) == _serial(renewed.serial), served.summary()
    r = a.get("/", cb, https=True)
    assert r.status == 200, r
    a.wait_log(r"AA00120: %s: serving SSLCertificateFile %s" % (
        re.escape(cb), re.escape(os.path.join(live, "fullchain.pem"))), since=mark, timeout=5)
    d = _status(a, cb)
    assert d["state"] == "pending" and d["key_types"] == [], d
    c = d["certificate"]
    assert c["source"] == "SSLCertificateFile", d
    assert c["file"] == os.path.join(live, "fullchain.pem"), d
    assert _serial(c["serial"]) == _serial(renewed.serial), d
    assert _status(a, managed)["certificate"]["source"] == "live"

    # The module's own certificate takes over at the next graceful restart.
    _wait_file(a, _staged(a, cb))
    assert a.get("/", cb, https=True).status == 200
    mark = a.graceful()
    mine = a.wait_cert(cb, timeout=30, not_serial=renewed.serial)
    assert a.verify_chain(mine)[0]
    a.wait_log(r"AA00123: %s: serving the module's certificate; SSLCertificateFile %s "
               r"is no longer used" % (re.escape(cb), re.escape(os.path.join(live, "fullchain.pem"))),
               since=mark, timeout=5)
    assert not a.log_lines(r"AA0012[0-2]: %s" % re.escape(cb), since=mark)
    d = _status(a, cb)
    assert d["state"] == "valid" and d["certificate"]["source"] == "live", d
    assert d["certificate"]["file"] is None, d
    assert _serial(d["certificate"]["serial"]) == _serial(mine.serial), d


def _make_cert(directory, names, not_before, not_after):
    """A leaf (not a CA: mod_ssl would warn) for names, self-signed, with
    the given validity; returns (cert path, key path, hex serial)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    mkdir(directory)
    cert_path = os.path.join(directory, "%s.crt" % names[0])
    key_path = os.path.join(directory, "%s.key" % names[0])
    write_file(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())
    write_file(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(), mode=0o600)
    return cert_path, key_path, _serial("%X" % cert.serial_number)


@pytest.mark.log_allow(r"AA00305: \S+\.t90\.test: ", r"AA0012[12]: \S+\.t90\.test: ")
def test_unusable_certificate_gets_fallback(apache, pebble, faultproxy, workdir):
    """The CA is down, so the module has nothing of its own: a certificate
    that covers one of the names is served (200); an expired one, or one for
    other names, gets the fallback and 503, and the log says why."""
    good, alias = "keep.t90.test", "alias.t90.test"
    expired, foreign = "expired.t90.test", "foreign.t90.test"
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    certs = os.path.join(workdir, "certs-t90")
    g_cert, g_key, g_serial = _make_cert(certs, [good], now - day, now + 30 * day)
    e_cert, e_key, _ = _make_cert(certs, [expired], now - 60 * day, now - day)
    f_cert, f_key, _ = _make_cert(certs, ["elsewhere.t90.test"], now - day, now + 30 * day)
    faultproxy.down(True)
    conf = account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 1h\n" + STATUS_CONF
    for name, cert, key in ((good, g_cert, g_key), (expired, e_cert, e_key),
                            (foreign, f_cert, f_key)):
        names = name + (" " + alias if name == good else "")
        conf += _https_vhost(name, cert, key, "  ACMEDomain %s\n" % names) + _http_vhost(name)
    a = apache(conf, acme_server=faultproxy.directory_url)
    a.start()

    served = a.served_cert(good)
    assert _serial(served.serial) == g_serial, served.summary()
    assert a.get("/", good, https=True).status == 200
    assert a.log_lines(r"AA00120: %s: serving SSLCertificateFile %s \(serial 0*%s, "
                       r"valid until " % (re.escape(good), re.escape(g_cert), g_serial))
    d = _status(a, good)
    assert d["state"] == "pending" and d["certificate"]["source"] == "SSLCertificateFile", d
    assert d["certificate"]["file"] == g_cert and _serial(d["certificate"]["serial"]) == g_serial
    # the acmeauto command tells the same (the server hands it what mod_ssl
    # was given, in handoff/config.json)
    r = a.acmeauto("status", good, "--json")
    assert r.returncode in (0, 1), r
    cmd = json.loads(r.stdout)
    assert cmd["certificate"] == d["certificate"] and cmd["state"] == d["state"], (cmd, d)

    for name, cert, why in ((expired, e_cert, r"expired at \d{4}-\S+Z"),
                            (foreign, f_cert, r"covers none of %s \(it is for "
                             r"elsewhere\.t90\.test\)" % re.escape(foreign))):
        served = a.served_cert(name)
        assert served.self_signed and served.sans == [name], served.summary()
        r = a.get("/", name, https=True)
        assert r.status == 503 and r.headers.get("retry-after") == "60", r
        assert a.log_lines(r"AA00121: %s: SSLCertificateFile %s %s; it is not served"
                           % (re.escape(name), re.escape(cert), why)), name
        assert a.log_lines(r"AA00122: %s: no configured certificate can be served"
                           % re.escape(name)), name
        d = _status(a, name)
        assert d["state"] == "pending" and d["certificate"] is None, d
    # each verdict once per start, not also from the dry run before it
    assert len(a.log_lines(r"AA00121: %s:" % re.escape(expired))) == 1
