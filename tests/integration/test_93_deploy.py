"""ACMEDeployCmd, ACMERestartWindow, and a blocked self-restart made
visible (issue 9, SPEC §2).  Names under *.t93.test.

The deploy command runs as root once a certificate is live (after the
first issuance and after each renewal), as `PATH ARG... DOMAIN CERTFILE
KEYFILE CHAINFILE`; its output and exit status are logged; a failing one
and one that hangs (stopped with its process group after 30 s) stop
nothing.  A restart outside ACMERestartWindow waits, and the status says
why; so does a restart blocked by a configuration that fails its test,
which is also sent to ACMENotifyCmd as `restart-blocked`."""

import datetime
import json
import os
import time

import pytest

from harness import account_conf, read_text, vhosts, write_file

# Records who ran it, where, with what; says something on stdout and
# stderr; fails (exit 3) from its second run on.
HOOK = """#!/bin/sh
d="%(dir)s"
n=$(cat "$d/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > "$d/count"
{ id -u; pwd; for a in "$@"; do echo "$a"; done; } > "$d/run.$n"
echo "deployed $2 (run $n)"
echo "a word on stderr" >&2
[ $n -eq 1 ] || exit 3
"""

# Ignores SIGTERM (so does the sleep it becomes): only SIGKILL to its
# process group ends it.
HANG = """#!/bin/sh
trap '' TERM
echo "hanging on"
exec sleep 1000
"""

RECORD = """#!/bin/sh
echo "$@" >> "%s"
"""


def script(path, text):
    write_file(path, text, mode=0o755)
    return path


def status_json(a, host, name):
    r = a.get("/acme-status/%s?json" % name, host, https=True)
    assert r.status == 200, r
    return json.loads(r.text)


STATUS = "<Location /acme-status>\n  SetHandler acme-status\n</Location>\n"


@pytest.mark.log_allow(r"AA00703: hook\.t93\.test: ACMEDeployCmd failed \(exit status 3\)",
                       r"AA00702: hook\.t93\.test: ACMEDeployCmd: (deployed|a word)",
                       r"AA00711: hang\.t93\.test: ACMEDeployCmd took longer than 30 s",
                       r"AA00702: hang\.t93\.test: ACMEDeployCmd: hanging on")
def test_deploy_command(apache, pebble):
    good, slow = "hook.t93.test", "hang.t93.test"
    # Deploy commands run one after the other, in the order httpd lists
    # the virtual hosts (the last written first): the hanging one last.
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEKeyType ec256 rsa2048\n"
               + vhosts(slow, acme_domain="", https_extra="  ACMEDeployCmd @ROOT@/hang.sh\n")
               + vhosts(good, acme_domain="",
                        https_extra="  ACMEDeployCmd @ROOT@/hook.sh first-arg\n"))
    hook_dir = a.root
    script(os.path.join(hook_dir, "hook.sh"), HOOK % {"dir": hook_dir})
    script(os.path.join(hook_dir, "hang.sh"), HANG)
    a.start()
    first = a.wait_cert(good)
    a.wait_cert(slow)

    # After the first issuance: as root, in /, with the live paths.
    a.wait_log(r"AA00701: hook\.t93\.test: ACMEDeployCmd succeeded", timeout=30)
    lines = read_text(os.path.join(hook_dir, "run.1")).splitlines()
    live = os.path.join(a.store_dir, "live", good)
    files = [os.path.join(live, "%s.%s.pem" % (t, k))
             for t in ("ec256", "rsa2048") for k in ("cert", "key", "chain")]
    assert lines == ["0", "/", "first-arg", good] + files, lines
    cert = read_text(files[0])
    chain = read_text(files[2])
    assert chain.startswith("-----BEGIN CERTIFICATE-----") and cert.endswith(chain)
    assert cert.count("BEGIN CERTIFICATE") == chain.count("BEGIN CERTIFICATE") + 1
    assert a.log_lines(r"AA00702: hook\.t93\.test: ACMEDeployCmd: deployed hook\.t93\.test "
                       r"\(run 1\)")
    assert a.log_lines(r"AA00702: hook\.t93\.test: ACMEDeployCmd: a word on stderr")

    # After a renewal, through the module's own restart; this run fails
    # (exit 3): logged, and the new certificate serves all the same. The
    # hanging command of the generation before is still running.
    mark = a.log_mark()
    r = a.acmeauto("renew", good, "--force", "--wait", "60s")
    assert r.returncode == 0, r
    a.wait_log(r"AA00703: hook\.t93\.test: ACMEDeployCmd failed \(exit status 3\)",
               timeout=40, since=mark)
    lines = read_text(os.path.join(hook_dir, "run.2")).splitlines()
    assert lines == ["0", "/", "first-arg", good] + files, lines
    assert a.served_cert(good).serial != first.serial
    assert a.get("/", good, https=True).status == 200

    # The hanging one: stopped with its group after 30 s, and logged by
    # the generation that serves now.
    line = a.wait_log(r"AA00711: hang\.t93\.test: ACMEDeployCmd took longer than 30 s",
                      timeout=60)
    assert a.log_lines(r"AA00702: hang\.t93\.test: ACMEDeployCmd: hanging on")
    assert line
    assert a.running(), a.diagnostics()
    assert a.get("/", slow, https=True).status == 200
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).startswith(
        "sleep\0" + "1000")], "the hanging command's process group is still there"
    assert os.listdir(os.path.join(a.run_dir, "acmeauto-deploy")) == []


def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid) as f:
            return f.read()
    except OSError:
        return ""


def _window_closed_now():
    """A daily window (local time) that opens in two hours."""
    now = datetime.datetime.now()
    start, end = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
    return "%02d:%02d-%02d:%02d" % (start.hour, start.minute, end.hour, end.minute)


def _recorder(a):
    """ACMENotifyCmd @ROOT@/record.sh, run as www-data: the file it writes."""
    out = os.path.join(a.root, "notes")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o777)
    script(os.path.join(a.root, "record.sh"), RECORD % os.path.join(out, "notified"))
    return os.path.join(out, "notified")


def test_restart_window(apache, pebble):
    win = "win.t93.test"
    window = _window_closed_now()
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + STATUS
               + "ACMERestartWindow %s\n" % window + vhosts(win, acme_domain=""))
    a.start()
    # Nothing was live: the first certificate does not wait for the window.
    first = a.wait_cert(win)
    assert status_json(a, win, win)["restart_blocked"] is None

    # A renewal outside the window: staged, no restart, and the status
    # says why (page and command).
    mark = a.log_mark()
    r = a.acmeauto("renew", win, "--force", "--no-wait")
    assert r.returncode == 5, r
    a.wait_log(r"AA00318: new certificates are staged; the graceful restart that activates "
               r"them waits for ACMERestartWindow %s \(opens in [12] h" % window,
               timeout=30, since=mark)
    doc = status_json(a, win, win)
    assert doc["restart_pending"] is True, doc
    assert doc["restart_blocked"].startswith("waiting for ACMERestartWindow %s (opens " % window)
    cmd = json.loads(a.acmeauto("status", win, "--json").stdout)
    assert cmd["restart_blocked"] == doc["restart_blocked"]
    page = a.get("/acme-status", win, https=True).text
    assert "restart needed: waiting for ACMERestartWindow %s" % window in page
    assert a.restarts(since=mark) == 0, a.diagnostics()
    assert a.served_cert(win).serial == first.serial
    note = json.loads(read_text(os.path.join(a.store_dir, "handoff", "restart.json")))
    assert note["reason"] == "window" and note["window"] == window, note



@pytest.mark.log_allow(r"AA00315: new certificates are staged, but the configuration on disk fails")
def test_blocked_restart_is_shown_and_notified(apache, pebble):
    blocked = "blocked.t93.test"
    b = apache(account_conf("kid-1", pebble.eab["kid-1"]) + STATUS
               + "ACMENotifyCmd @ROOT@/record.sh\n" + vhosts(blocked, acme_domain=""))
    notified = _recorder(b)
    b.start()
    served = b.wait_cert(blocked)
    with open(b.conf_path) as f:
        good = f.read()
    write_file(b.conf_path, good + "ThisIsNoDirective half-finished edit\n")
    mark = b.log_mark()
    r = b.acmeauto("renew", blocked, "--force", "--no-wait")
    assert r.returncode == 5, r
    b.wait_log(r"AA00315: ", timeout=30, since=mark)
    deadline = time.monotonic() + 15
    while "restart-blocked %s" % blocked not in (read_text(notified)
                                                 if os.path.exists(notified) else ""):
        assert time.monotonic() < deadline, "no restart-blocked notification"
        time.sleep(0.2)
    doc = status_json(b, blocked, blocked)
    assert doc["restart_blocked"] == "configuration does not pass configtest", doc
    out = b.acmeauto("status", blocked).stdout
    assert "restart pending: yes: configuration does not pass configtest" in out, out
    assert b.restarts(since=mark) == 0
    assert b.served_cert(blocked).serial == served.serial
    write_file(b.conf_path, good)


def test_configtest_refuses_bad_values(apache, pebble, workdir):
    d = workdir
    plain = os.path.join(d, "plain.sh")
    write_file(plain, "#!/bin/sh\n", mode=0o644)
    writable = script(os.path.join(d, "writable.sh"), "#!/bin/sh\n")
    os.chmod(writable, 0o777)
    cases = [
        ("ACMERestartWindow 25:00-05:00", "ACMERestartWindow: '25:00-05:00' is not a daily window"),
        ("ACMERestartWindow 02:00-02:00", "ACMERestartWindow: '02:00-02:00' is not a daily window"),
        ("ACMERestartWindow 2-5", "ACMERestartWindow: '2-5' is not a daily window"),
        ("ACMEDeployCmd %s/nothere" % d, "ACMEDeployCmd: '%s/nothere' is not an executable" % d),
        ("ACMEDeployCmd %s" % plain, "ACMEDeployCmd: '%s' is not an executable" % plain),
        ("ACMEDeployCmd %s" % writable, "ACMEDeployCmd: '%s' may be changed by others" % writable),
    ]
    for directive, message in cases:
        a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + directive + "\n"
                   + "ACMEDomain conf.t93.test\n" + vhosts("conf.t93.test"))
        rc, out = a.configtest()
        assert rc != 0 and message in out, (directive, out)
    a = apache("<VirtualHost 127.0.0.1:5443>\n  ServerName v.t93.test\n"
               "  ACMEDomain\n  ACMERestartWindow 02:00-05:00\n</VirtualHost>\n")
    rc, out = a.configtest()
    assert rc != 0 and "ACMERestartWindow is not allowed inside <VirtualHost>" in out, out
