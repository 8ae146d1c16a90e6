"""The trust boundary (issue 6): a process running as the server's User
(any CGI or PHP script on the same server) attacks a running Apache through
the areas the job writes. Root must not follow, block, loop or change
anything outside the store; the server keeps answering with its live
certificate; a root-only canary file keeps its content and mode and never
becomes readable to the User."""

import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import time

import pytest

from harness import RUN_USER, HarnessError, account_conf, as_user, vhosts, write_file

TIMEOUT = 90


def _issued(apache, pebble, name, extra=""):
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + extra
               + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    return a, a.wait_cert(name, timeout=TIMEOUT)


def _canary(tmp_path):
    """A root-only file outside the store, and a root-owned directory with
    a file in it, that nothing may touch."""
    canary = str(tmp_path / "canary")
    write_file(canary, "canary-secret\n", mode=0o600)
    outside = str(tmp_path / "outside")
    os.makedirs(outside, mode=0o755)
    write_file(os.path.join(outside, "keep"), "keep\n", mode=0o644)
    os.chmod(str(tmp_path), 0o755)    # the User may reach, not read, them
    return canary, outside


def _snapshot(canary, outside):
    st = os.lstat(canary)
    with open(canary) as f:
        content = f.read()
    listing = sorted(os.listdir(outside))
    return (content, stat.S_IMODE(st.st_mode), st.st_uid, listing)


def _user_cannot_read(path):
    cp = as_user("import sys\ntry:\n    open(%r).read()\nexcept PermissionError:\n"
                 "    sys.exit(0)\nsys.exit(1)\n" % path)
    return cp.returncode == 0


def _users_areas_hold_nothing_of_roots(a):
    """Root never creates anything inside a directory the User can write."""
    pw = pwd.getpwnam(RUN_USER)
    for area in ("staging", "state", "accounts", "challenges"):
        top = os.path.join(a.store_dir, area)
        for d, dirs, files in os.walk(top):
            for entry in dirs + files:
                st = os.lstat(os.path.join(d, entry))
                assert st.st_uid == pw.pw_uid, "root's %s in %s" % (entry, d)


def _attack(staging_dir, body):
    """Run body (Python, with `d` the domain's staging dir, already emptied
    and re-made by the User) as the User."""
    as_user("import os, json, shutil\nd = %r\nshutil.rmtree(d, ignore_errors=True)\n"
            "if os.path.islink(d): os.unlink(d)\nos.makedirs(d, exist_ok=True)\n%s\n"
            % (staging_dir, body))


# Each: what the User plants in staging/<name>/ before an ordinary
# graceful restart (an administrator's, logrotate's).
ATTACKS = {
    "staged.json is a link to the canary":
        "os.symlink(CANARY, os.path.join(d, 'staged.json'))",
    "staged.json is a FIFO":
        "os.mkfifo(os.path.join(d, 'staged.json'))",
    "staged.json is a directory":
        "os.mkdir(os.path.join(d, 'staged.json'))",
    "the certificate is a link to the canary":
        "os.symlink(CANARY, os.path.join(d, 'rsa2048.cert.pem'))\n"
        "os.symlink(CANARY, os.path.join(d, 'rsa2048.key.pem'))\n"
        "open(os.path.join(d, 'staged.json'), 'w').write('{\"staged\": 1}')",
    "certificate and key are FIFOs":
        "os.mkfifo(os.path.join(d, 'rsa2048.cert.pem'))\n"
        "os.mkfifo(os.path.join(d, 'rsa2048.key.pem'))\n"
        "open(os.path.join(d, 'staged.json'), 'w').write('{\"staged\": 2}')",
    "the certificate is a hard link":
        "open(os.path.join(d, '..', 'h'), 'w').write('x')\n"
        "os.link(os.path.join(d, '..', 'h'), os.path.join(d, 'rsa2048.cert.pem'))\n"
        "open(os.path.join(d, 'rsa2048.key.pem'), 'w').write('x')\n"
        "open(os.path.join(d, 'staged.json'), 'w').write('{\"staged\": 3}')",
    "the domain's staging directory is a link out of the store":
        "shutil.rmtree(d)\nos.symlink(OUTSIDE, d)",
}


@pytest.mark.log_allow(r"AA00110: the store's staging/hostile\.t60\.test",
                       r"AA00103: hostile\.t60\.test: the new certificate was not activated")
def test_hostile_files_in_staging_change_nothing(apache, pebble, tmp_path):
    name = "hostile.t60.test"
    a, first = _issued(apache, pebble, name)
    canary, outside = _canary(tmp_path)
    before = _snapshot(canary, outside)
    staging = os.path.join(a.store_dir, "staging", name)
    for what, body in ATTACKS.items():
        _attack(staging, "CANARY = %r\nOUTSIDE = %r\n%s" % (canary, outside, body))
        try:
            a.graceful(timeout=20)   # a FIFO that blocked root would stop here
        except AssertionError as e:
            raise AssertionError("%s: the graceful restart did not finish\n%s" % (what, e))
        served = a.wait_cert(name, timeout=15)
        assert served.serial == first.serial, "%s: %s" % (what, served.summary())
        assert _snapshot(canary, outside) == before, what
        assert _user_cannot_read(canary), what
    _users_areas_hold_nothing_of_roots(a)
    # Every refusal is a warning that names the file and what it is.
    assert a.log_lines(r"AA00110: .*staging/%s.* is a symbolic link" % name)
    assert a.log_lines(r"AA00110: .* is not a regular file")
    assert a.log_lines(r"AA00110: .* has more than one hard link") or \
        a.log_lines(r"AA00103: .*rsa2048.cert.pem has more than one hard link")


@pytest.mark.log_allow(r"AA00312: \S+/state/restart\.request is not a regular file")
def test_restart_requests_without_a_staged_set_restart_nothing(apache, pebble):
    name = "storm.t60.test"
    a, first = _issued(apache, pebble, name)
    req = os.path.join(a.store_dir, "state", "restart.request")
    mark = a.log_mark()
    as_user("import os, time\nend = time.time() + 5\n"
            "while time.time() < end:\n"
            "    open(%r + '.t', 'w').write('restart')\n"
            "    os.rename(%r + '.t', %r)\n    time.sleep(0.02)\n" % (req, req, req))
    # a directory and a FIFO of that name: no loop, one line each at most
    as_user("import os\nos.unlink(%r)\nos.mkdir(%r)\n" % (req, req))
    time.sleep(1.5)    # the watcher looks every 0.2 s: give it many looks
    as_user("import os\nos.rmdir(%r)\nos.mkfifo(%r)\n" % (req, req))
    time.sleep(1.5)
    assert a.restarts(since=mark) == 0, a.log_lines(r"AH00493", since=mark)
    assert len(a.log_lines(r"AA00312", since=mark)) <= 2
    assert a.wait_cert(name, timeout=10).serial == first.serial


def _stage_copy_of_live(a, name, tag, tamper=False):
    """As the job would: a staged set (here the live files again, so that
    it passes every check) with a staged.json of its own. The job may be
    removing the last set meanwhile: try again then."""
    for _ in range(20):
        try:
            return _stage_once(a, name, tag, tamper)
        except OSError:
            time.sleep(0.1)
    return _stage_once(a, name, tag, tamper)


def _stage_once(a, name, tag, tamper):
    pw = pwd.getpwnam(RUN_USER)
    live = os.path.join(a.store_dir, "live", name)
    d = os.path.join(a.store_dir, "staging", name)
    os.makedirs(d, exist_ok=True)
    files = {}
    for f in ("rsa2048.cert.pem", "rsa2048.key.pem"):
        with open(os.path.join(live, f), "rb") as src:
            data = src.read()
        files[f] = hashlib.sha256(data).hexdigest()
        if tamper and f.endswith("cert.pem"):
            data += b"\n"     # changed after the job's check
        tmp = os.path.join(d, f + ".t")
        with open(tmp, "wb") as out:
            out.write(data)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        os.rename(tmp, os.path.join(d, f))
    # the CA the job uses: a set from another CA would (rightly) make the
    # job renew at once, from its CA, once that set is live
    meta = json.dumps({"names": [name], "key_types": ["rsa2048"], "files": files,
                       "server": a.pebble.directory_url, "staged": int(time.time()),
                       "tag": tag})
    tmp = os.path.join(d, "staged.json.t")
    write_file(tmp, meta, mode=0o600)
    os.chown(tmp, pw.pw_uid, pw.pw_gid)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.rename(tmp, os.path.join(d, "staged.json"))
    req = os.path.join(a.store_dir, "state", "restart.request")
    write_file(req + ".t", "restart\n")
    os.chown(req + ".t", pw.pw_uid, pw.pw_gid)
    os.rename(req + ".t", req)


def test_restarts_for_new_staged_sets_are_spaced(apache, pebble):
    name = "spaced.t60.test"
    a, first = _issued(apache, pebble, name)
    mark = a.log_mark()
    start = time.monotonic()
    for i in range(16):
        _stage_copy_of_live(a, name, i)
        time.sleep(0.75)
    elapsed = time.monotonic() - start
    # the first ones at once, then about one a minute: 3 in a burst
    n = a.restarts(since=mark)
    assert 1 <= n <= 3 + int(elapsed // 60) + 1, n
    assert a.log_lines(r"AA00313", since=mark), "the rate limit was never met"
    assert a.wait_cert(name, timeout=20).serial == first.serial


@pytest.mark.log_allow(r"AA00103: swapped\.t60\.test: the new certificate was not activated")
def test_files_changed_after_staging_are_rejected(apache, pebble, tmp_path):
    name = "swapped.t60.test"
    a, first = _issued(apache, pebble, name)
    # six older rejections of this domain, one of another domain
    rejected = os.path.join(a.store_dir, "rejected")
    old = ["%s.%020d.%08x" % (name, 1000000 + i, i) for i in range(6)]
    other = "x%s.%020d.%08x" % (name, 5, 5)
    for d in old + [other]:
        os.makedirs(os.path.join(rejected, d), mode=0o700)
    mark = a.log_mark()
    _stage_copy_of_live(a, name, "x", tamper=True)
    a.wait_log(r"AA00103: %s: .*the rsa2048 files differ from what staged.json lists"
               % name.replace(".", r"\."), timeout=20, since=mark)
    assert a.wait_cert(name, timeout=15).serial == first.serial
    # unique names; only the newest five of this domain are kept
    kept = sorted(d for d in os.listdir(rejected) if d.startswith(name + "."))
    assert len(kept) == 5, kept
    assert kept[:4] == old[2:], kept
    assert other in os.listdir(rejected)
    with open(os.path.join(rejected, kept[-1], "rsa2048.cert.pem")) as f:
        assert f.read().endswith("\n\n"), "the copy is not what was read"


def test_user_cannot_write_roots_areas(apache, pebble):
    name = "rootareas.t60.test"
    a, _ = _issued(apache, pebble, name)
    for area in ("live", "handoff", "rejected", "fallback"):
        path = os.path.join(a.store_dir, area, "planted")
        with pytest.raises(HarnessError):
            as_user("open(%r, 'w').write('x')" % path)
        st = os.stat(os.path.join(a.store_dir, area))
        assert st.st_uid == 0 and not st.st_mode & 0o022, area
    _users_areas_hold_nothing_of_roots(a)


def _process_memory_has(pid, needles):
    """Which of the byte strings occur in the writable memory of pid."""
    found = set()
    with open("/proc/%d/maps" % pid) as maps:
        regions = []
        for line in maps:
            addr, perms = line.split()[:2]
            if perms.startswith("rw"):
                lo, hi = (int(x, 16) for x in addr.split("-"))
                regions.append((lo, hi))
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi in regions:
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for n in needles:
                if n in data:
                    found.add(n)
    return found


def test_children_let_go_of_the_eab_key_once_the_account_exists(apache, pebble):
    """Issue 6 item 7: the EAB HMAC is held by the children only until the
    account exists; the parent (root) keeps it to hand it over again."""
    import base64
    name = "eabheld.t60.test"
    text = pebble.eab["kid-3"]
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    a = apache("ACMEEAB file:@ROOT@/eab.json\nACMEContact admin@example.org\n"
               "ACMEAgreeTOS on\nACMEDomain %s\n" % name + vhosts(name))
    write_file(os.path.join(a.root, "eab.json"),
               json.dumps({"kid": "kid-3", "hmac": text}), mode=0o600)
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)
    a.graceful()                 # children of a generation with the account
    deadline = time.time() + 20
    kids = []
    while time.time() < deadline and len(kids) < 2:
        kids = a.children()
        time.sleep(0.2)
    assert kids, "no children"
    # The scan can see the key: the parent holds it.
    assert raw in _process_memory_has(a.pid, [raw])
    scanned = 0
    for pid in kids:
        try:
            held = _process_memory_has(pid, [raw, text.encode()])
        except (ProcessLookupError, FileNotFoundError):
            continue     # a child that ended meanwhile (an old generation's)
        scanned += 1
        assert not held, "child %d holds the EAB key (%r)" % (pid, held)
    assert scanned, "every child ended before it could be looked at"
