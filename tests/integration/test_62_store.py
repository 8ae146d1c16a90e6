"""Store trouble never stops the server (issue 6, item 3): a read-only
store at start and at a graceful restart, a store directory that cannot be
created, and what `configtest` says about the store it can see.

Read-only stores are bind mounts (`mount --bind D D; mount -o
remount,bind,ro D`), undone at teardown after Apache has stopped."""

import glob
import json
import os
import pwd
import re
import subprocess
import time

import pytest

from harness import (RUN_USER, account_conf, as_user, parse_cert, read_text, vhosts, write_file)

TIMEOUT = 90
ERRORS = r"\[acmeauto:(warn|error|crit|alert|emerg)\]"


@pytest.fixture
def ro_mount():
    """ro_mount(path): path becomes a read-only bind mount of itself until
    teardown.  Request it before `apache` so that it is undone after Apache
    stopped (a running parent keeps the store's directories open)."""
    mounted = []

    def mount(path):
        subprocess.run(["mount", "--bind", path, path], check=True)
        mounted.append(path)
        subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)
        assert not os.access(path, os.W_OK), "%s still writable" % path

    def undo(path):
        """Writable again (the mount is gone)."""
        subprocess.run(["umount", path], check=True)
        mounted.remove(path)

    mount.undo = undo
    yield mount
    for path in reversed(mounted):
        if subprocess.run(["umount", path]).returncode != 0:
            subprocess.run(["umount", "-l", path], check=True)


def _conf(pebble, name, extra=""):
    return (account_conf("kid-1", pebble.eab["kid-1"]) + extra
            + "ACMEDomain %s\n" % name + vhosts(name))


def _unexpected(a, allowed, since=0):
    """acmeauto warnings/errors in the log that no pattern of `allowed`
    explains."""
    return [l for l in a.log_lines(ERRORS, since=since)
            if not any(re.search(rx, l) for rx in allowed)]


def _fallback_served(a, name):
    served = a.served_cert(name)
    assert served.self_signed and not a.is_acme_issued(served.leaf), served.summary()
    assert a.get("/", name, https=True).status == 503
    return served


def _run_dir_fallback(a, name):
    """The fallback kept under the run-time dir when the store cannot take it."""
    path = os.path.join(a.run_dir, "acmeauto-fallback", name, "ec256.cert.pem")
    assert os.path.isfile(path), "no fallback in the run-time dir: %s" % path
    return parse_cert(read_text(path))


# ---------------------------------------------------------------------------
# read-only store

@pytest.mark.log_allow(r"AA00101: cannot create \S+/store/",
                       r"AA00106: rostart\.t62\.test: cannot write the fallback",
                       r"AA00305: \S+\.t62\.test: .*check ACMEStoreDir")
def test_read_only_store_at_start_and_graceful_restart(ro_mount, apache, pebble):
    """An empty store on a read-only mount: Apache starts, serves the
    self-signed fallback (503 for requests), says which directory it cannot
    create, and survives graceful restarts; once the store is writable again
    a graceful restart is all it takes to get a certificate."""
    name = "rostart.t62.test"
    a = apache(_conf(pebble, name, "ACMERetryDelay 2s\n"))
    os.makedirs(a.store_dir, mode=0o755)
    ro_mount(a.store_dir)
    a.start()
    store = re.escape(a.store_dir)
    line = a.wait_log(r"AA00101: cannot create %s/\w+: certificates cannot be" % store,
                      timeout=10)
    assert "ACMEStoreDir" in line and "read-only" in line, line
    served = _fallback_served(a, name)
    assert served.serial == _run_dir_fallback(a, name).serial
    # The job tries once, says what to check, and waits.
    line = a.wait_log(r"AA00305: %s" % re.escape(name), timeout=30)
    assert "check ACMEStoreDir" in line and "next attempt in 1h" in line, line
    allowed = [r"AA00101: cannot create %s/" % store,
               r"AA00106: %s: cannot write the fallback certificate into the store; "
               r"using one in " % re.escape(name),
               r"AA00305: %s: .*check ACMEStoreDir" % re.escape(name)]
    for _ in range(2):
        mark = a.graceful(timeout=20)
        assert a.log_lines(r"AA00101: cannot create %s/" % store, since=mark), \
            "the graceful restart did not say what is wrong with the store"
        again = _fallback_served(a, name)
        assert again.serial == served.serial, "the fallback changed: " + again.summary()
    assert a.running()
    assert os.listdir(a.store_dir) == [], "something was written into a read-only store"
    unexpected = _unexpected(a, allowed)
    assert not unexpected, "\n".join(unexpected)
    # Fixed: writable again, one graceful restart, and a certificate comes.
    ro_mount.undo(a.store_dir)
    mark = a.graceful(timeout=20)
    got = a.wait_cert(name, timeout=TIMEOUT)
    ok, out = a.verify_chain(got)
    assert ok, out
    assert not a.log_lines(r"AA00101|AA00106|AA00111", since=mark)


@pytest.mark.log_allow(r"AA00117: cannot write \S+/handoff/config\.json")
def test_store_turns_read_only_under_a_live_certificate(ro_mount, apache, pebble):
    """A running server with a live certificate whose store becomes
    read-only (a remount, a full or failing disk) survives graceful restarts
    and keeps serving that certificate."""
    name = "rolive.t62.test"
    a = apache(_conf(pebble, name))
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    a.wait_set_judged(name)
    before = a.store_files()
    ro_mount(a.store_dir)
    for _ in range(2):
        mark = a.graceful(timeout=20)
        served = a.wait_cert(name, timeout=15)
        assert served.serial == first.serial, served.summary()
        assert a.get("/", name, https=True).status == 200
        assert a.log_lines(r"AA00107: %s: certificate is live" % re.escape(name),
                           since=mark)
    assert a.running()
    assert a.store_files() == before
    # The one thing a start writes: what the acmeauto command reads.
    unexpected = _unexpected(a, [r"AA00117: cannot write \S+/handoff/config\.json"])
    assert not unexpected, "\n".join(unexpected)


# ---------------------------------------------------------------------------
# a store that cannot be created

@pytest.mark.log_allow(r"AA00111: the store \S+ cannot be used",
                       r"AA00106: \S+\.t62\.test: cannot write the fallback",
                       r"AA00305: \S+\.t62\.test: .*check ACMEStoreDir")
def test_store_below_a_regular_file(apache, pebble):
    """ACMEStoreDir below a regular file cannot be created: Apache starts,
    serves a fallback kept under its run-time dir, answers 503, says what is
    wrong with the store, and survives a graceful restart."""
    name = "nostore.t62.test"
    a = apache('ACMEStoreDir "@ROOT@/plainfile/store"\n' + _conf(pebble, name),
               store_dir=None)
    write_file(os.path.join(a.root, "plainfile"), "not a directory\n")
    store = os.path.join(a.root, "plainfile", "store")
    a.start()
    line = a.wait_log(r"AA00111: the store %s cannot be used" % re.escape(store), timeout=10)
    assert "ACMEStoreDir" in line, line
    assert re.search(r"cannot be used \((cannot be created|is not a directory)\)", line), line
    served = _fallback_served(a, name)
    assert served.serial == _run_dir_fallback(a, name).serial
    # The job tries once, says what to check, and waits.
    line = a.wait_log(r"AA00305: %s" % re.escape(name), timeout=30)
    assert "check ACMEStoreDir" in line and "next attempt in 1h" in line, line
    mark = a.graceful(timeout=20)
    assert a.log_lines(r"AA00111: the store %s cannot be used" % re.escape(store), since=mark)
    assert _fallback_served(a, name).serial == served.serial
    assert a.running()
    unexpected = _unexpected(a, [r"AA00111: the store %s" % re.escape(store),
                                 r"AA00106: %s: cannot write the fallback certificate "
                                 r"into the store; using one in " % re.escape(name),
                                 r"AA00305: %s: .*check ACMEStoreDir" % re.escape(name)])
    assert not unexpected, "\n".join(unexpected)


@pytest.mark.log_allow(r"AA00105: rostaged\.t62\.test: could not write",
                       r"AA00117: cannot write \S+/handoff/config\.json")
def test_read_only_store_with_a_staged_certificate(ro_mount, apache, pebble):
    """A new certificate is staged (ACMEAutoRestart off) when the store turns
    read-only: the graceful restart cannot install it, says so, and the live
    certificate keeps serving; once writable, the next graceful restart
    installs it."""
    name, extra = "rostaged.t62.test", "extra.rostaged.t62.test"
    a = apache(_conf(pebble, name))
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    # Another name and no automatic restart: the job stages and waits.
    with open(a.conf_path) as f:
        conf = f.read()
    write_file(a.conf_path, conf.replace(
        "ACMEDomain %s\n" % name, "ACMEAutoRestart off\nACMEDomain %s %s\n" % (name, extra)))
    mark = a.graceful(timeout=20)
    a.wait_log(r"AA00302: %s: a new certificate is ready" % re.escape(name),
               timeout=TIMEOUT, since=mark)
    live = os.path.join(a.store_dir, "live", name)
    before = {f: read_text(os.path.join(live, f)) for f in os.listdir(live)}
    ro_mount(a.store_dir)
    mark = a.graceful(timeout=20)
    line = a.wait_log(r"AA00105: %s: could not write the new certificate" % re.escape(name),
                      timeout=10, since=mark)
    assert "current one stays in use" in line, line
    served = a.wait_cert(name, timeout=15)
    assert served.serial == first.serial, served.summary()
    assert a.get("/", name, https=True).status == 200
    assert {f: read_text(os.path.join(live, f)) for f in os.listdir(live)} == before
    unexpected = _unexpected(a, [r"AA00105: %s: could not write" % re.escape(name),
                                 r"AA00117: cannot write \S+/handoff/config\.json"])
    assert not unexpected, "\n".join(unexpected)
    ro_mount.undo(a.store_dir)
    mark = a.graceful(timeout=20)
    a.wait_log(r"AA00104: %s: new certificate activated" % re.escape(name), timeout=10,
               since=mark)
    new = a.wait_cert(extra, timeout=15, not_serial=first.serial)
    assert sorted(new.sans) == sorted([name, extra]), new.summary()


@pytest.mark.log_allow(r"AA00311: damaged\.t62\.test: the state file was damaged")
def test_unreadable_state_file_is_set_aside_only_when_damaged(apache, pebble):
    """The job's state file: garbage or a directory in its place is set aside
    (AA00311) and the job starts afresh; the live certificate keeps
    serving."""
    name = "damaged.t62.test"
    a = apache(_conf(pebble, name))
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    state = os.path.join(a.store_dir, "state", name + ".json")
    # Wait until the job is idle (the staged set cleaned up and ARI asked,
    # which are its last writes for hours) so that it overwrites nothing.
    deadline = time.monotonic() + 30
    while True:
        try:
            with open(state) as f:
                idle = json.load(f)["ari"]["next_check"] > 0
        except (OSError, ValueError, KeyError, TypeError):
            idle = False
        if idle and not os.path.exists(os.path.join(a.store_dir, "staging", name)):
            break
        assert time.monotonic() < deadline, "the job did not settle"
        time.sleep(0.2)
    for what, plant in (("garbage", "open(p, 'w').write('{not json')"),
                        ("a directory", "os.mkdir(p)")):
        as_user("import os\np = %r\nos.unlink(p) if os.path.isfile(p) else None\n%s\n"
                % (state, plant))
        mark = a.graceful(timeout=20)
        line = a.wait_log(r"AA00311: %s: the state file was damaged" % re.escape(name),
                          timeout=15, since=mark)
        aside = line.split("set aside as ")[1].split(";")[0]
        assert os.path.lexists(aside), "%s: %s" % (what, line)
        assert a.wait_cert(name, timeout=15).serial == first.serial, what
        for p in glob.glob(state + ".damaged.*"):
            as_user("import shutil, os\np = %r\n"
                    "shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)\n" % p)


# ---------------------------------------------------------------------------
# configtest: warns about what it can see, and still says Syntax OK

def _store_warnings(out):
    return [l for l in out.splitlines() if "AA00116" in l]


def _configtest_warns(a, store, problem):
    rc, out = a.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    lines = _store_warnings(out)
    assert len(lines) == 1, out
    assert "warning: ACMEStoreDir %s %s" % (store, problem) in lines[0], lines[0]
    return lines[0]


def _store_conf(pebble, name, store):
    return 'ACMEStoreDir "%s"\n' % store + _conf(pebble, name)


def test_configtest_warns_store_cannot_be_created(apache, pebble):
    name = "ctnotdir.t62.test"
    a = apache(_store_conf(pebble, name, "@ROOT@/plainfile/deeper/store"), store_dir=None)
    write_file(os.path.join(a.root, "plainfile"), "not a directory\n")
    _configtest_warns(a, os.path.join(a.root, "plainfile", "deeper", "store"),
                      "cannot be created: %s is not a directory"
                      % os.path.join(a.root, "plainfile"))
    assert not os.path.exists(os.path.join(a.root, "plainfile", "deeper"))


def test_configtest_warns_store_read_only(ro_mount, apache, pebble):
    name = "ctro.t62.test"
    a = apache(_conf(pebble, name))
    os.makedirs(a.store_dir, mode=0o755)
    ro_mount(a.store_dir)
    _configtest_warns(a, a.store_dir, "is not writable (Read-only file system)")
    # Missing, in a read-only directory: it cannot be created.
    parent = os.path.join(a.root, "roparent")
    os.makedirs(parent, mode=0o755)
    ro_mount(parent)
    b = apache(_store_conf(pebble, name, os.path.join(parent, "a", "store")), store_dir=None)
    _configtest_warns(b, os.path.join(parent, "a", "store"),
                      "cannot be created in %s (Read-only file system)" % parent)


@pytest.mark.log_allow(r"AA00111: the store \S+ cannot be used",
                       r"AA00106: ct\w+\.t62\.test: cannot write the fallback",
                       # the job, if its first tick comes before the stop
                       r"AA00305: ct\w+\.t62\.test: .*check ACMEStoreDir",
                       r"AA00301: ct\w+\.t62\.test: http-01 for \S+: writing the "
                       r"http-01 answer")
@pytest.mark.parametrize("spoil,problem", [
    ("chown", "has the wrong owner (it must be root's, and writable by root only)"),
    ("chmod", "is writable by others than root (it must be root's, and writable "
              "by root only)"),
    ("symlink", "is a symbolic link"),
])
def test_configtest_warns_store_not_roots(apache, pebble, spoil, problem):
    """What start-up would refuse (AA00111), configtest names."""
    name = "ct%s.t62.test" % spoil
    a = apache(_conf(pebble, name))
    if spoil == "symlink":
        os.makedirs(a.store_dir + ".real", mode=0o755)
        os.symlink(a.store_dir + ".real", a.store_dir)
    else:
        os.makedirs(a.store_dir, mode=0o755)
    if spoil == "chown":
        pw = pwd.getpwnam(RUN_USER)
        os.chown(a.store_dir, pw.pw_uid, pw.pw_gid)
    if spoil == "chmod":
        os.chmod(a.store_dir, 0o775)
    _configtest_warns(a, a.store_dir, problem)
    # and start-up says the same
    a.start()
    line = a.wait_log(r"AA00111: the store %s cannot be used" % re.escape(a.store_dir),
                      timeout=10)
    assert problem.split(" (")[0] in line, line
    _fallback_served(a, name)


def test_configtest_quiet_about_a_good_store(apache, pebble):
    name = "ctgood.t62.test"
    a = apache(_conf(pebble, name))
    assert not os.path.exists(a.store_dir)      # missing, and creatable
    rc, out = a.configtest()
    assert rc == 0 and "Syntax OK" in out and not _store_warnings(out), out
    assert not os.path.exists(a.store_dir), "configtest created the store"
    os.makedirs(a.store_dir, mode=0o755)       # there, root's, 0755
    rc, out = a.configtest()
    assert rc == 0 and not _store_warnings(out), out
    # The module loaded without any ACMEDomain uses no store.
    b = apache("", store_dir=os.path.join(a.root, "plainfile", "store"))
    write_file(os.path.join(a.root, "plainfile"), "x\n")
    rc, out = b.configtest()
    assert rc == 0 and not _store_warnings(out), out
