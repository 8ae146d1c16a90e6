"""Checks of the test harness itself; none of them needs mod_acmeauto."""

import pytest
import os
import re
import secrets

import harness
from harness import dns_query, make_self_signed, parse_cert, verify_chain


def test_pebble_directory(pebble):
    d = pebble.directory()
    assert d["newAccount"].startswith("https://127.0.0.1:14000/")
    assert d["newNonce"].startswith("https://127.0.0.1:14000/")
    assert d["newOrder"].startswith("https://127.0.0.1:14000/")
    assert d["meta"]["externalAccountRequired"] is True
    assert d["meta"]["termsOfService"] == pebble.TOS_URL
    assert pebble.directory_url == "https://127.0.0.1:14000/dir"


def test_pebble_issuers(pebble):
    """Root and intermediate are fetched and chain together."""
    assert os.path.getsize(pebble.root_file) > 0
    root = parse_cert(pebble.roots[0])
    inter = parse_cert(pebble.intermediates[0])
    assert root.self_signed and "Pebble Root CA" in root.subject
    assert inter.issuer == root.subject
    assert pebble.issuer_subjects == [inter.subject]
    ok, out = verify_chain([pebble.intermediates[0]], pebble.root_file, purpose=None)
    assert ok, out


def test_pebble_eab_keys(pebble):
    assert sorted(pebble.eab) == ["kid-1", "kid-2", "kid-3"]
    for kid, key in pebble.eab.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key), key
        assert len(harness.b64url_decode(key)) == 32
    std = pebble.eab_std("kid-3")
    assert "+" in std and "/" in std and std.endswith("=")
    assert harness.b64url_decode(pebble.eab["kid-3"]) == __import__("base64").b64decode(std)


def test_dns_resolves_everything_to_loopback(challtestsrv):
    rcode, answers = dns_query("a.test", "A")
    assert rcode == 0 and answers == ["127.0.0.1"]
    name = "x%s.deep.name.t00.test" % secrets.token_hex(4)
    assert dns_query(name, "A") == (0, ["127.0.0.1"])


def test_dns_no_aaaa(challtestsrv):
    """An AAAA answer would make Pebble try ::1, where Apache does not listen."""
    rcode, answers = dns_query("a.test", "AAAA")
    assert answers == []


@pytest.mark.log_allow(r"AH01906: \S+ server certificate is a CA certificate")
def test_apache_without_module_serves_https(apache, workdir):
    cert, key = make_self_signed(os.path.join(workdir, "selfsigned"), ["harness.t00.test"])
    a = apache("""
<VirtualHost 127.0.0.1:5443>
  ServerName harness.t00.test
  SSLEngine on
  SSLCertificateFile %s
  SSLCertificateKeyFile %s
</VirtualHost>
""" % (cert, key), load_module=False)
    conf = open(a.conf_path).read()
    assert "acmeauto_module" not in conf and not re.search(r"^\s*ACME", conf, re.M)
    rc, out = a.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    a.start()
    pid = a.pid
    r = a.get("/", "harness.t00.test", https=True)
    assert r.status == 200, r
    assert "acmeauto integration test index" in r.text
    r = a.get("/", "harness.t00.test")
    assert r.status == 200
    served = a.served_cert("harness.t00.test")
    assert served.subject == "CN=harness.t00.test"
    assert served.sans == ["harness.t00.test"]
    assert served.self_signed and served.key_type == "EC" and served.curve == "P-256"
    assert a.pid == pid and a.running()
    # children run as www-data
    kids = harness.run(["ps", "-o", "user=", "--ppid", str(pid)]).stdout.split()
    assert kids and set(kids) == {"www-data"}, kids
    rc = a.stop()
    assert rc == 0
    assert not a.running()
    assert not harness.port_in_use(harness.HTTPS_PORT)
    assert not harness.port_in_use(harness.HTTP_PORT)
    assert re.search(r"caught SIGTERM, shutting down", a.error_log())


def test_apache_configtest_reports_bad_directive(apache):
    a = apache("NoSuchDirective here\n", load_module=False)
    rc, out = a.configtest()
    assert rc != 0
    assert "NoSuchDirective" in out


@pytest.mark.log_allow(r"AH01906: \S+ server certificate is a CA certificate")
def test_apache_wait_log_and_requests(apache, workdir):
    cert, key = make_self_signed(os.path.join(workdir, "selfsigned2"), ["logs.t00.test"], key="rsa")
    a = apache("""
<VirtualHost 127.0.0.1:5443>
  ServerName logs.t00.test
  SSLEngine on
  SSLCertificateFile %s
  SSLCertificateKeyFile %s
</VirtualHost>
""" % (cert, key), load_module=False)
    a.start()
    assert a.wait_log(r"resuming normal operations", timeout=10)
    served = a.served_cert("logs.t00.test")
    assert served.key_type == "RSA" and served.key_bits == 2048
    r = a.get("/nope", "logs.t00.test", https=True)
    assert r.status == 404


def _issue_with_mini_client(apache, pebble, workdir, name, kid, hmac_key):
    from mini_acme import MiniAcme, write_token_to_docroot
    a = apache("<VirtualHost 127.0.0.1:5002>\n  ServerName %s\n</VirtualHost>\n" % name,
               load_module=False, pebble=pebble)
    a.start()
    client = MiniAcme(pebble.directory_url, pebble.ssl_context(),
                      os.path.join(workdir, "mini-acme-" + name))
    before = pebble.account_count()
    client.new_account(kid, hmac_key)
    assert pebble.account_count() == before + 1
    chain, key = client.issue([name], write_token_to_docroot(a.htdocs))
    leaf = parse_cert(chain[0])
    assert leaf.sans == [name]
    assert pebble.issued(leaf) and a.is_acme_issued(leaf)
    ok, out = verify_chain(chain, pebble.root_file)
    assert ok, out
    # Pebble's validation request reached this Apache over 127.0.0.1:5002
    assert "/.well-known/acme-challenge/" in open(a.access_log_path).read()
    return a, chain, key


def test_pebble_validates_http01_against_apache(apache, pebble, workdir):
    """Whole wiring without the module: DNS -> 127.0.0.1:5002 -> Apache docroot,
    EAB accepted, chain verifies to pebble.root_file."""
    _issue_with_mini_client(apache, pebble, workdir, "mini.t00.test", "kid-1", pebble.eab["kid-1"])


def test_wait_cert_recognises_pebble_cert(apache, pebble, workdir):
    """served_cert/wait_cert on a vhost configured with a Pebble-issued cert."""
    name = "served.t00.test"
    a, chain, key = _issue_with_mini_client(apache, pebble, workdir, name, "kid-2",
                                            pebble.eab["kid-2"])
    a.stop()
    d = harness.mkdir(os.path.join(workdir, "served"))
    certf = harness.write_file(os.path.join(d, "chain.pem"), "".join(chain))
    os.chmod(key, 0o600)
    b = apache("""
<VirtualHost 127.0.0.1:5443>
  ServerName %s
  SSLEngine on
  SSLCertificateFile %s
  SSLCertificateKeyFile %s
</VirtualHost>
""" % (name, certf, key), load_module=False, pebble=pebble)
    b.start()
    served = b.wait_cert(name, timeout=10)
    assert len(served.chain) == 2
    ok, out = b.verify_chain(served)
    assert ok, out
    assert served.serial == parse_cert(chain[0]).serial
    # a name nobody configured gets the default (first) vhost's certificate
    assert b.served_cert("other.t00.test").serial == served.serial


def test_pebble_factory_env(pebble_factory, pebble):
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "30"})
    assert p is pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "30"})
    assert p.port != pebble.port and p.mgmt_port != pebble.mgmt_port
    assert "reject 30% of good nonces" in p.log_text()
    assert p.directory()["meta"]["externalAccountRequired"] is True
    assert p.issuer_subjects and p.issuer_subjects != pebble.issuer_subjects
