"""Safe activation (issue 3): a staged certificate that fails the parent's
check never replaces the live one; a changed key type is obtained while the
old certificate keeps serving.

The bad staged sets are planted by the test, as a crash, a bug or a tampered
store could leave them; the administrator's graceful restart (one SIGUSR1)
then runs the activation."""

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import time

import pytest

from harness import RUN_USER, account_conf, vhosts, write_file

TIMEOUT = 90


def _issued(apache, pebble, name):
    """An Apache serving its first certificate for name."""
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEDomain %s\n" % name
               + vhosts(name))
    a.start()
    return a, a.wait_cert(name, timeout=TIMEOUT)


def _staging(a, name):
    return os.path.join(a.store_dir, "staging", name)


def _plant(a, name, cert_src, key_src, key_type="rsa2048"):
    """A staged set made of the given files, owned by the server's User as
    the job's own files are (root trusts no file of another owner)."""
    pw = pwd.getpwnam(RUN_USER)
    d = _staging(a, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(cert_src, os.path.join(d, key_type + ".cert.pem"))
    shutil.copy(key_src, os.path.join(d, key_type + ".key.pem"))
    write_file(os.path.join(d, "staged.json"),
               '{"names": ["%s"], "key_types": ["%s"], "staged": 1}' % (name, key_type))
    for path in [d] + [os.path.join(d, f) for f in os.listdir(d)]:
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _restart_and_expect_rejection(a, name, first, why_re):
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    line = a.wait_log(r"AA00103: %s: the new certificate was not activated: %s"
                      % (name.replace(".", r"\."), why_re), timeout=20, since=mark)
    assert "current certificate stays in use" in line, line
    rejected = glob.glob(os.path.join(a.store_dir, "rejected", name + ".*"))
    assert len(rejected) == 1, "not one copy kept in rejected/: %r" % rejected
    assert os.stat(rejected[0]).st_uid == 0, "rejected/ copy not root's"
    # The job (not root) removes the refused set and counts a failure.
    state_path = os.path.join(a.store_dir, "state", name + ".json")
    deadline, st = time.time() + 20, {}
    while time.time() < deadline:
        try:
            with open(state_path) as f:
                st = json.load(f)
        except (OSError, ValueError):
            st = {}
        if st.get("failures", 0) >= 1 and not os.path.exists(
                os.path.join(_staging(a, name), "staged.json")):
            break
        time.sleep(0.2)
    assert not os.path.exists(os.path.join(_staging(a, name), "staged.json"))
    assert st.get("failures", 0) >= 1, st
    assert st["last_error"]["activity"] == "activating the new certificate", st
    still = a.wait_cert(name, timeout=15)
    assert still.serial == first.serial, "the live certificate was replaced: " + still.summary()


@pytest.mark.log_allow(r"AA00103: wrongkey\.t45\.test: the new certificate was not activated")
def test_staged_certificate_with_wrong_key_is_rejected(apache, pebble, tmp_path):
    name = "wrongkey.t45.test"
    a, first = _issued(apache, pebble, name)
    live = os.path.join(a.store_dir, "live", name)
    other_key = str(tmp_path / "other.key")
    subprocess.run(["openssl", "genrsa", "-out", other_key, "2048"], check=True,
                   capture_output=True)
    _plant(a, name, os.path.join(live, "rsa2048.cert.pem"), other_key)
    _restart_and_expect_rejection(a, name, first,
                                  r"the private key does not belong to the certificate")


@pytest.mark.log_allow(r"AA00103: othernames\.t45\.test: the new certificate was not activated")
def test_staged_certificate_for_other_names_is_rejected(apache, pebble):
    name = "othernames.t45.test"
    a, first = _issued(apache, pebble, name)
    # The self-signed fallback of another domain: wrong names, no issuer.
    fb = os.path.join(a.store_dir, "fallback", name)
    os.makedirs(fb, exist_ok=True)
    cert, key = os.path.join(fb, "x.cert.pem"), os.path.join(fb, "x.key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=evil.test",
                    "-addext", "subjectAltName=DNS:evil.test"], check=True,
                   capture_output=True)
    _plant(a, name, cert, key)
    _restart_and_expect_rejection(a, name, first,
                                  r"certificate does not cover %s" % name.replace(".", r"\."))


def test_key_type_change_keeps_serving_until_replaced(apache, pebble):
    name = "keychange.t45.test"
    a, first = _issued(apache, pebble, name)
    assert first.key_type == "RSA", first.summary()
    with open(a.conf_path) as f:
        conf = f.read()
    write_file(a.conf_path, conf.replace("ACMEDomain %s\n" % name,
                                         "ACMEKeyType ec256\nACMEDomain %s\n" % name))
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    a.wait_log(r"AA00107.*new one is needed", timeout=20, since=mark)
    ec = a.wait_cert(name, timeout=TIMEOUT, not_serial=first.serial)
    assert (ec.key_type, ec.curve) == ("EC", "P-256"), ec.summary()
