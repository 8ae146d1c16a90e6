"""`acmeauto renew NAME [--force] [--wait D] [--no-wait]` (SPEC §4): renews
when due (or now with --force) as the server's User under the job's lock,
and waits until the running server serves the new certificate, made live
by the module's own graceful restart.  Names under *.t82.test."""

import json
import os
import re
import time

from harness import account_conf, as_user, vhosts


def _orders(proxy):
    """newOrder requests the CA accepted (a refused nonce is retried)."""
    return [e for e in proxy.entries(kind="newOrder") if e.status == 201]


def _start(apache, pebble, proxy, name, extra=""):
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 2s\n" + extra
               + "ACMEDomain %s\n" % name + vhosts(name),
               acme_server=proxy.directory_url)
    a.start()
    return a


def test_renew_not_due_then_forced(apache, pebble, faultproxy):
    name = "force.t82.test"
    a = _start(apache, pebble, faultproxy, name)
    first = a.wait_cert(name)
    assert len(_orders(faultproxy)) == 1, faultproxy.format_log(40)

    # a fresh certificate is not due: nothing is ordered
    r = a.acmeauto("renew", name)
    assert r.returncode == 0, r
    assert re.search(r"%s: not due until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(window\); "
                     r"--force renews now" % re.escape(name), r.stdout), r
    assert len(_orders(faultproxy)) == 1, faultproxy.format_log(40)

    # an earlier failure as the job records it (its own state file, as the
    # User): a successful renewal clears it
    st = a.state(name)
    assert st.get("config"), st
    st.update(failures=2, last_error={
        "type": "urn:ietf:params:acme:error:serverInternal", "detail": "planted",
        "activity": "ordering", "hint": None, "http_status": 500,
        "kind": "transient", "at": int(time.time())})
    path = os.path.join(a.store_dir, "state", name + ".json")
    as_user("import os\nopen(%r, 'w').write(%r)\nos.rename(%r, %r)"
            % (path + ".t82", json.dumps(st), path + ".t82", path))

    # --force: a new certificate, live through the module's own restart
    mark = a.log_mark()
    r = a.acmeauto("renew", name, "--force", "--wait", "60s")
    assert r.returncode == 0, r
    m = re.search(r"%s: new certificate live: serial ([0-9a-f]+), valid until \S+Z"
                  % re.escape(name), r.stdout, re.I)
    assert m, r
    assert len(_orders(faultproxy)) == 2, faultproxy.format_log(40)
    assert a.restarts(since=mark) >= 1, a.diagnostics()
    served = a.served_cert(name)          # no restart by the test
    assert served.serial != first.serial, served.summary()
    assert int(served.serial, 16) == int(m.group(1), 16), (served.summary(), r.stdout)
    # the new generation's job took the verdict and cleaned up in a tick
    # that orders nothing more; it started from the state the command reset
    staged = os.path.join(a.store_dir, "staging", name, "staged.json")
    st = a.wait_state(name, lambda st: not os.path.exists(staged), what="staging cleaned")
    assert len(_orders(faultproxy)) == 2, faultproxy.format_log(40)
    assert st.get("failures") == 0 and st.get("last_error") is None, st

    # usage and names
    for args in (("renew",), ("renew", name, "--frob"), ("renew", name, "--wait", "soon"),
                 ("renew", name, "--wait"), ("renew", name, "other.t82.test")):
        r = a.acmeauto(*args)
        assert r.returncode == 2, (args, r)
    r = a.acmeauto("renew", "nosuch.t82.test", "--force")
    assert r.returncode == 3 and "nosuch.t82.test is not a managed domain" in r.stderr, r
    assert len(_orders(faultproxy)) == 2, faultproxy.format_log(40)


def test_renew_while_the_job_orders(apache, pebble, faultproxy):
    """The command waits on the job's lock and takes the job's set: one
    order at the CA, exit 0 once it is live."""
    name = "busy.t82.test"
    held = faultproxy.delay_next(1, 5, kind="finalize")
    a = _start(apache, pebble, faultproxy, name)
    faultproxy.wait_for(kind="newOrder", timeout=30)
    r = a.acmeauto("renew", name, "--wait", "60s")
    assert held.arrived, faultproxy.format_log(40)
    assert r.returncode == 0, r
    assert "waiting for the background job" in r.stderr, r
    assert "new certificate live" in r.stdout, r
    assert len(_orders(faultproxy)) == 1, faultproxy.format_log(40)
    served = a.served_cert(name)
    assert a.is_acme_issued(served.leaf) and served.serial.lower() in r.stdout.lower(), \
        (served.summary(), r.stdout)


def test_renew_without_auto_restart(apache, pebble, faultproxy):
    """ACMEAutoRestart off: the command stages, says what to do, exit 5;
    the administrator's graceful restart makes it live."""
    name = "manual.t82.test"
    a = _start(apache, pebble, faultproxy, name, extra="ACMEAutoRestart off\n")
    a.wait_log(r"AA00302: %s: a new certificate is ready" % re.escape(name))
    a.graceful()
    first = a.wait_cert(name, timeout=10)
    mark = a.log_mark()
    r = a.acmeauto("renew", name, "--force")
    assert r.returncode == 5, r
    assert "ACMEAutoRestart is off: run 'apachectl graceful' to make it live" in r.stderr, r
    assert len(_orders(faultproxy)) == 2, faultproxy.format_log(40)
    assert a.restarts(since=mark) == 0, a.diagnostics()
    assert a.served_cert(name).serial == first.serial
    a.graceful()
    a.wait_cert(name, timeout=10, not_serial=first.serial)
