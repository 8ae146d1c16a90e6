"""The module's own graceful restart never goes into a configuration that
fails its test (issue 9): a graceful restart re-reads httpd.conf as it is
on disk, without the check apache2ctl and systemctl run first, so a
half-finished edit would make the parent exit.  Names under *.t66.test."""

import os

import pytest

from harness import account_conf, as_user, vhosts, write_file

BROKEN = "ThisIsNoDirective half-finished edit\n"


@pytest.mark.log_allow(r"AA00315: new certificates are staged, but the configuration on disk fails")
def test_no_self_restart_into_a_broken_configuration(apache, pebble):
    name = "broken.t66.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"])
               + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    first = a.wait_cert(name)
    with open(a.conf_path) as f:
        good = f.read()
    write_file(a.conf_path, good + BROKEN)

    # A renewal is staged and the job asks for a restart: the watcher
    # checks the configuration on disk first, and does not restart.
    mark = a.log_mark()
    r = a.acmeauto("renew", name, "--force", "--no-wait")
    assert r.returncode == 5, r
    line = a.wait_log(r"AA00315: ", timeout=30, since=mark)
    assert "-t exits non-zero" in line and "apache2ctl configtest" in line, line
    assert a.restarts(since=mark) == 0, a.diagnostics()
    assert a.running(), a.diagnostics()
    assert a.served_cert(name).serial == first.serial
    assert a.get("/", name, https=True).status == 200

    # Fixed: the next hint from the job (or a minute) restarts, and the
    # staged certificate goes live.
    write_file(a.conf_path, good)
    hint = os.path.join(a.store_dir, "state", "restart.request")
    as_user("open(%r, 'w').write('restart\\n')" % hint)
    a.wait_log(r"AA00317: the configuration on disk passes its test again",
               timeout=30, since=mark)
    served = a.wait_cert(name, not_serial=first.serial, timeout=60)
    assert served.serial != first.serial
    assert a.restarts(since=mark) == 1, a.diagnostics()
