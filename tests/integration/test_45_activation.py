"""Safe activation (issue 3): a staged certificate that fails the parent's
check never replaces the live one; a changed key type is obtained while the
old certificate keeps serving.

The bad staged sets are planted by the test, as a crash, a bug or a tampered
store could leave them; the administrator's graceful restart (one SIGUSR1)
then runs the activation."""

import glob
import os
import shutil
import signal
import subprocess

from harness import account_conf, vhosts, write_file

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
    """A staged set made of the given files, owned like the child's."""
    d = _staging(a, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(cert_src, os.path.join(d, key_type + ".cert.pem"))
    shutil.copy(key_src, os.path.join(d, key_type + ".key.pem"))
    write_file(os.path.join(d, "staged.json"),
               '{"names": ["%s"], "key_types": ["%s"], "staged": 1}' % (name, key_type))


def _restart_and_expect_rejection(a, name, first, why_re):
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    line = a.wait_log(r"AA00103: %s: the new certificate was not activated: %s"
                      % (name.replace(".", r"\."), why_re), timeout=20, since=mark)
    assert "current certificate stays in use" in line, line
    rejected = glob.glob(os.path.join(a.store_dir, "rejected", name + ".*"))
    assert rejected, "nothing kept in rejected/"
    assert not os.path.exists(os.path.join(_staging(a, name), "staged.json"))
    still = a.wait_cert(name, timeout=15)
    assert still.serial == first.serial, "the live certificate was replaced: " + still.summary()


def test_staged_certificate_with_wrong_key_is_rejected(apache, pebble, tmp_path):
    name = "wrongkey.t45.test"
    a, first = _issued(apache, pebble, name)
    live = os.path.join(a.store_dir, "live", name)
    other_key = str(tmp_path / "other.key")
    subprocess.run(["openssl", "genrsa", "-out", other_key, "2048"], check=True,
                   capture_output=True)
    _plant(a, name, os.path.join(live, "rsa2048.cert.pem"), other_key)
    _restart_and_expect_rejection(a, name, first, r".*(key|match)")


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
    _restart_and_expect_rejection(a, name, first, r".*")


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
