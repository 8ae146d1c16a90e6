"""acmeauto revoke (SPEC §4, README "acmeauto revoke"): certificates are
revoked at Pebble with each of the five reasons an administrator may give,
by the issuing account and by the certificate's own key, as checked through
Pebble's management API; a revoked live certificate leaves live/ for
rejected/ and ACMENotifyCmd hears `revoked NAME`.  Names under *.t83.test.

Certificates come cheaply: one domain with four key types, issued twice
(the second time because a name was added), gives four certificates that
are no longer live (revoked as files) and four live ones."""

import json
import os
import re
import shutil
import time

import harness
from harness import account_conf, vhosts, write_file

NAME = "rev.t83.test"
TYPES = ("ec256", "ec384", "rsa2048", "rsa3072")
NOTIFY_SH = """#!/bin/sh
printf '%%s|%%s\\n' "$(id -un)" "$*" >> %s/events.log
"""


def _conf(pebble, names):
    return (account_conf("kid-1", pebble.eab["kid-1"])
            + "ACMERetryDelay 1s\nACMEKeyType %s\n" % " ".join(TYPES)
            + "ACMENotifyCmd @ROOT@/notify.sh\n"
            + "ACMEDomain %s\n" % " ".join(names)
            + vhosts(names[0], aliases=names[1:]))


def _live(a, t, kind="cert"):
    path = os.path.join(a.store_dir, "live", NAME, "%s.%s.pem" % (t, kind))
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _wait_live_set(a, not_like=None, timeout=90):
    """Waits until every key type has a live certificate (other than the
    ones in not_like); returns {type: (cert, key)}."""
    deadline = time.monotonic() + timeout
    while True:
        got = {t: (_live(a, t), _live(a, t, "key")) for t in TYPES}
        if all(c and k and (not not_like or c != not_like[t][0])
               for t, (c, k) in got.items()):
            return got
        if time.monotonic() > deadline:
            raise AssertionError("no complete live set within %ss\n%s"
                                 % (timeout, a.diagnostics()))
        time.sleep(0.5)


def _status(pebble, cert_pem):
    serial = harness.parse_cert(cert_pem).serial.lower()
    return json.loads(pebble.fetch("/cert-status-by-serial/" + serial, mgmt=True))


def _assert_revoked(pebble, cert_pem, reason):
    st = _status(pebble, cert_pem)
    assert st.get("Status") == "Revoked" and st.get("Reason") == reason, st


def _revoked_events(outdir):
    """The notify command's calls for 'revoked' (the job's own events,
    issued and installed, are in the same file)."""
    lines = harness.read_text(os.path.join(outdir, "events.log")).splitlines()
    return [line for line in lines if "|revoked " in line]


def _keep(tmp_path, tag, live_set):
    """Copies of a set's files, as an administrator would have them."""
    out = {}
    for t, (cert, key) in live_set.items():
        c, k = tmp_path / ("%s-%s.cert.pem" % (tag, t)), tmp_path / ("%s-%s.key.pem" % (tag, t))
        c.write_text(cert)
        k.write_text(key)
        out[t] = (str(c), str(k), cert)
    return out


def test_revoke(apache, pebble, tmp_path):
    a = apache(_conf(pebble, [NAME]))
    outdir = os.path.join(a.root, "notify")
    os.mkdir(outdir)
    os.chmod(outdir, 0o777)
    write_file(os.path.join(a.root, "notify.sh"), NOTIFY_SH % outdir, mode=0o755)
    a.start()
    first = _keep(tmp_path, "first", _wait_live_set(a))
    # a name more: the job orders a second set, which replaces the first
    with open(a.conf_path) as f:
        conf = f.read()
    write_file(a.conf_path, conf.replace(_conf(pebble, [NAME]).replace("@ROOT@", a.root),
                                         _conf(pebble, [NAME, "www." + NAME])
                                         .replace("@ROOT@", a.root)))
    a.graceful()
    second = _wait_live_set(a, not_like={t: (first[t][2], None) for t in TYPES})

    # --- usage errors and an unknown name: nothing is sent
    r = a.acmeauto("revoke", NAME, "--reason", "cACompromise")
    assert r.returncode == 2, r
    assert "unknown --reason cACompromise" in r.stderr, r.stderr
    assert ("unspecified, keyCompromise, affiliationChanged, superseded, "
            "cessationOfOperation") in r.stderr, r.stderr
    for args in ([], ["--cert", first["ec256"][0], NAME], ["--key", "x", NAME],
                 ["--key-type", "ed448", NAME], ["--bogus", NAME]):
        r = a.acmeauto("revoke", *args)
        assert r.returncode == 2, (args, r)
    r = a.acmeauto("revoke", "--help")
    assert r.returncode == 0 and "--reason" in r.stdout, r
    r = a.acmeauto("revoke", "nosuch.t83.test")
    assert r.returncode == 3 and "not a managed domain" in r.stderr, r

    # --- certificate files no longer live, by the issuing account
    for t, reason, code in (("ec256", "unspecified", 0), ("rsa2048", "affiliationChanged", 3),
                            ("rsa3072", "superseded", 4)):
        cert, _, pem = first[t]
        r = a.acmeauto("revoke", "--cert", cert, "--reason", reason)
        assert r.returncode == 0, (t, r)
        info = harness.parse_cert(pem)
        assert "revoked:" in r.stdout and info.serial.lower() in r.stdout.lower(), r.stdout
        assert "rev.t83.test" in r.stdout and "reason " + reason in r.stdout, r.stdout
        _assert_revoked(pebble, pem, code)
    # ... and by the certificate's own key (no account involved)
    cert, key, pem = first["ec384"]
    r = a.acmeauto("revoke", "--cert", cert, "--key", key, "--reason", "keyCompromise")
    assert r.returncode == 0, r
    assert "with its own key" in r.stderr, r.stderr
    _assert_revoked(pebble, pem, 1)
    # a key that is not the certificate's is refused before anything is sent
    r = a.acmeauto("revoke", "--cert", first["ec256"][0], "--key", first["rsa2048"][1])
    assert r.returncode == 1 and "is not the key of the certificate" in r.stderr, r
    # revoking again: the CA's alreadyRevoked, said plainly
    r = a.acmeauto("revoke", "--cert", first["rsa2048"][0])
    assert r.returncode == 1, r
    assert "alreadyRevoked" in r.stderr and "already revoked" in r.stderr, r.stderr
    _assert_revoked(pebble, first["rsa2048"][2], 3)
    # none of that touched what is live; each revocation of a certificate
    # of NAME was told to the notify command, as the server's User
    assert all(_live(a, t) == second[t][0] for t in TYPES)
    assert _revoked_events(outdir) == ["%s|revoked %s" % (harness.RUN_USER, NAME)] * 4

    # --- the live ec384 certificate of NAME
    live_pem = second["ec384"][0]
    r = a.acmeauto("revoke", NAME, "--key-type", "ec384", "--reason", "cessationOfOperation")
    assert "revoked: ec384 certificate" in r.stdout, r
    _assert_revoked(pebble, live_pem, 5)
    # set aside, so that no restart puts it back into service: it is in
    # rejected/ (root's), and live/ holds the replacement (the command
    # waits for it: ax_renew_domain) or nothing
    rejected = os.path.join(a.store_dir, "rejected")
    [aside] = [d for d in os.listdir(rejected) if d.startswith(NAME + ".revoked.")]
    st = os.lstat(os.path.join(rejected, aside))
    assert st.st_uid == 0 and st.st_mode & 0o077 == 0, oct(st.st_mode)
    with open(os.path.join(rejected, aside, "ec384.cert.pem")) as f:
        assert f.read() == live_pem
    assert os.path.exists(os.path.join(rejected, aside, "ec384.key.pem"))
    assert _live(a, "ec384") != live_pem
    assert len(_revoked_events(outdir)) == 5

    # the replacement, ordered at once and live without a manual restart
    assert r.returncode == 0, r
    new = _wait_live_set(a, not_like=second, timeout=5)
    served = a.wait_cert(NAME, timeout=30)
    assert served.serial in {harness.parse_cert(c).serial for c, _ in new.values()}, \
        served.summary()
