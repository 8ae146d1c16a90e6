"""Issuance: mod_acmeauto obtains certificates from Pebble and hands them to
mod_ssl by itself (SPEC §2 ACMEDomain/ACMEKeyType/ACMEEAB/ACMEAgreeTOS, §3).

Every test uses its own names under *.t10.test (challtestsrv resolves every
name to 127.0.0.1) and its own Apache server root and store, so each one
creates a fresh ACME account.  No test restarts Apache: the module must do
its own graceful restart to activate what it obtained.
"""

import json
import os
import stat
import time

import pytest

from harness import INDEX_HTML, account_conf, vhosts, write_file

TIMEOUT = 90


def _account(pebble, kid="kid-1", **kw):
    return account_conf(kid, pebble.eab[kid], **kw)


def _assert_verifies(a, served):
    ok, out = a.verify_chain(served)
    assert ok, "chain of %s does not verify to Pebble's root: %s" % (served.summary(), out)


def test_one_name(apache, pebble):
    name = "one.t10.test"
    a = apache(_account(pebble) + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    pid = a.pid
    served = a.wait_cert(name, timeout=TIMEOUT)
    assert name in served.sans
    assert len(served.chain) >= 2, "no intermediate sent: %s" % served.summary()
    _assert_verifies(a, served)
    # activated by the module's own graceful restart: same parent, and the
    # restart is in the log (AH00493 "SIGUSR1 received.  Doing graceful restart")
    assert a.running() and a.pid == pid
    a.wait_log(r"AH00493: SIGUSR1 received", timeout=10)
    r = a.get("/", name, https=True)
    assert r.status == 200, r
    assert r.text == INDEX_HTML
    r = a.get("/index.html", name, https=True)
    assert r.status == 200


def test_secrets_stay_secret(apache, pebble):
    """SPEC §3 Secrets: private keys 0600; the EAB HMAC never in the log,
    even at LogLevel acmeauto:debug."""
    name = "secrets.t10.test"
    hmac = pebble.eab["kid-2"]
    a = apache(account_conf("kid-2", hmac) + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)
    log = a.error_log()
    assert hmac not in log
    assert hmac[:20] not in log
    key_files = []
    for path in a.store_files():
        with open(path, "rb") as f:
            data = f.read()
        if b"PRIVATE KEY" in data:
            key_files.append(path)
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode & 0o077 == 0, "%s is mode %o" % (path, mode)
    assert key_files, "no private key found under %s" % a.store_dir


def test_three_names_one_certificate(apache, pebble):
    names = ["a.multi.t10.test", "b.multi.t10.test", "c.multi.t10.test"]
    a = apache(_account(pebble) + "ACMEDomain %s\n" % " ".join(names)
               + vhosts(names[0], aliases=names[1:]))
    a.start()
    first = a.wait_cert(names[0], timeout=TIMEOUT)
    assert set(names) <= set(first.sans), first.summary()
    _assert_verifies(a, first)
    for n in names[1:]:
        other = a.wait_cert(n, timeout=15)
        assert other.serial == first.serial, "%s served %s, %s served %s" % (
            names[0], first.serial, n, other.serial)


def test_two_vhosts_two_certificates(apache, pebble):
    n1, n2 = "first.t10.test", "second.t10.test"
    a = apache(_account(pebble) + vhosts(n1, acme_domain=n1) + vhosts(n2, acme_domain=n2))
    a.start()
    c1 = a.wait_cert(n1, timeout=TIMEOUT)
    c2 = a.wait_cert(n2, timeout=TIMEOUT)
    assert c1.serial != c2.serial
    assert n1 in c1.sans and n2 not in c1.sans, c1.summary()
    assert n2 in c2.sans and n1 not in c2.sans, c2.summary()
    _assert_verifies(a, c1)
    _assert_verifies(a, c2)
    for n in (n1, n2):
        assert a.get("/", n, https=True).status == 200


@pytest.mark.parametrize("key_type, algo, bits, curve", [
    ("ec256", "EC", 256, "P-256"),
    ("ec384", "EC", 384, "P-384"),
    ("rsa2048", "RSA", 2048, ""),
    ("rsa3072", "RSA", 3072, ""),
    ("rsa4096", "RSA", 4096, ""),
])
def test_key_type(apache, pebble, key_type, algo, bits, curve):
    name = "%s.keytype.t10.test" % key_type
    a = apache(_account(pebble) + "ACMEKeyType %s\nACMEDomain %s\n" % (key_type, name)
               + vhosts(name))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    assert (served.key_type, served.key_bits, served.curve) == (algo, bits, curve), \
        served.summary()
    _assert_verifies(a, served)


def test_default_key_type_is_rsa2048(apache, pebble):
    name = "default.keytype.t10.test"
    a = apache(_account(pebble) + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    assert (served.key_type, served.key_bits) == ("RSA", 2048), served.summary()


def test_key_type_set_per_vhost(apache, pebble):
    """A setting inside a <VirtualHost> applies to that vhost's ACMEDomain."""
    n_ec, n_rsa = "ec.pervhost.t10.test", "rsa.pervhost.t10.test"
    a = apache(_account(pebble)
               + vhosts(n_ec, acme_domain=n_ec, https_extra="  ACMEKeyType ec256\n")
               + vhosts(n_rsa, acme_domain=n_rsa))
    a.start()
    ec = a.wait_cert(n_ec, timeout=TIMEOUT)
    rsa = a.wait_cert(n_rsa, timeout=TIMEOUT)
    assert (ec.key_type, ec.curve) == ("EC", "P-256"), ec.summary()
    assert (rsa.key_type, rsa.key_bits) == ("RSA", 2048), rsa.summary()


def test_two_key_types_both_served(apache, pebble):
    """ACMEKeyType ec256 rsa2048: one certificate per type, chosen by the
    client's signature algorithms."""
    name = "dual.keytype.t10.test"
    a = apache(_account(pebble) + "ACMEKeyType ec256 rsa2048\nACMEDomain %s\n" % name
               + vhosts(name))
    a.start()
    ec = a.wait_cert(name, timeout=TIMEOUT, sigalgs="ECDSA+SHA256")
    rsa = a.wait_cert(name, timeout=TIMEOUT, sigalgs="rsa_pss_rsae_sha256:RSA+SHA256")
    assert ec.key_type == "EC" and ec.curve == "P-256", ec.summary()
    assert rsa.key_type == "RSA" and rsa.key_bits == 2048, rsa.summary()
    assert ec.serial != rsa.serial
    assert name in ec.sans and name in rsa.sans
    _assert_verifies(a, ec)
    _assert_verifies(a, rsa)


def test_names_from_vhost(apache, pebble):
    """A bare ACMEDomain inside a <VirtualHost> takes ServerName + ServerAlias."""
    name, alias = "www.derived.t10.test", "derived.t10.test"
    a = apache(_account(pebble) + vhosts(name, aliases=[alias], acme_domain=""))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    assert {name, alias} <= set(served.sans), served.summary()
    assert a.wait_cert(alias, timeout=15).serial == served.serial
    _assert_verifies(a, served)


def test_eab_from_file(apache, pebble):
    """ACMEEAB file:PATH with {"kid": .., "hmac": ..}; the file is root-only."""
    name = "eabfile.t10.test"
    a = apache("ACMEEAB file:@ROOT@/eab.json\nACMEContact admin@example.org\n"
               "ACMEAgreeTOS on\nACMEDomain %s\n" % name + vhosts(name))
    write_file(os.path.join(a.root, "eab.json"),
               json.dumps({"kid": "kid-2", "hmac": pebble.eab["kid-2"]}), mode=0o600)
    rc, out = a.configtest()
    assert rc == 0, out
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    assert pebble.eab["kid-2"] not in a.error_log()


@pytest.mark.parametrize("spelling", ["std-base64", "base64url-padded"])
def test_eab_hmac_spellings(apache, pebble, spelling):
    """SPEC §2: the HMAC is accepted as standard base64 ('+', '/', '=') and as
    padded base64url (Pebble's keys are unpadded base64url)."""
    kid = "kid-3"
    if spelling == "std-base64":
        hmac = pebble.eab_std(kid)
        assert "+" in hmac and "/" in hmac and hmac.endswith("=")
    else:
        hmac = pebble.eab[kid] + "=" * (-len(pebble.eab[kid]) % 4)
        assert hmac.endswith("=")
    name = "%s.eab.t10.test" % spelling
    a = apache(account_conf(kid, hmac) + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)


def test_contact_defaults_to_server_admin(apache, pebble, faultproxy):
    """No ACMEContact: the account's contact is ServerAdmin (README)."""
    name = "admin.t10.test"
    a = apache(_account(pebble, contact=None) + "ServerAdmin hostmaster@t10.test\n"
               "ACMEDomain %s\n" % name + vhosts(name), acme_server=faultproxy.directory_url)
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)
    reg = [e for e in faultproxy.entries(kind="newAccount") if e.status == 201]
    assert len(reg) == 1, faultproxy.format_log(40)
    assert reg[0].payload["contact"] == ["mailto:hostmaster@t10.test"], reg[0]


def test_agree_tos_with_url(apache, pebble):
    """ACMEAgreeTOS URL equal to the CA's termsOfService works like `on`."""
    name = "tosurl.t10.test"
    a = apache(_account(pebble, tos=pebble.TOS_URL) + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)



def test_stops_cleanly_after_issuance(apache, pebble):
    """After the module's graceful restart(s), SIGTERM stops Apache promptly:
    no child (e.g. one busy in the renewal job) has to be killed."""
    n1, n2 = "stop1.t10.test", "stop2.t10.test"
    a = apache(_account(pebble) + vhosts(n1, acme_domain=n1) + vhosts(n2, acme_domain=n2))
    a.start()
    a.wait_cert(n1, timeout=TIMEOUT)
    a.wait_cert(n2, timeout=TIMEOUT)
    mark = a.log_mark()
    t0 = time.monotonic()
    rc = a.stop()
    took = time.monotonic() - t0
    stuck = a.log_lines(r"AH0004[56]|still did not exit", since=mark)
    assert not stuck, "children did not exit on SIGTERM:\n" + "\n".join(stuck)
    assert rc == 0
    # GracefulShutdownTimeout plays no part in a plain stop; what counts is
    # that no child had to be killed (above).  The bound only catches a hang.
    assert took < 15, "stopping took %.1f s" % took
