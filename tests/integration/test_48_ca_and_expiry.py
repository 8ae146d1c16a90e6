"""A certificate from a CA no longer in ACMEServer is replaced while it keeps
serving, and a certificate about to expire (renewal failing) is announced
with the "expiring" notification (issue 3)."""

import pytest
import os
import re
import signal
import time

from harness import account_conf, read_text, vhosts, write_file

TIMEOUT = 90


def test_new_ca_replaces_certificate_of_old_ca(apache, pebble, pebble_factory, proxy_for):
    name = "cachange.t48.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEDomain %s\n" % name
               + vhosts(name))
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    assert pebble.issued(first), first.summary()
    other = pebble_factory(name="t48-new-ca")
    proxy = proxy_for(other)
    with open(a.conf_path) as f:
        conf = f.read()
    conf = conf.replace(pebble.directory_url, proxy.directory_url)
    conf = re.sub(r"ACMEEAB kid-1 \S+", "ACMEEAB kid-1 %s" % other.eab["kid-1"], conf)
    write_file(a.conf_path, conf)
    assert a.configtest()[0] == 0
    # the new CA is slow to take the order: the old CA's certificate must
    # keep serving meanwhile (not the fallback)
    held = proxy.delay_next(1, 8, kind="newOrder")
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)       # the administrator's graceful restart
    a.wait_log(r"AA00109: %s: the live certificate comes from %s" % (
        re.escape(name), re.escape(pebble.directory_url)), timeout=20, since=mark)
    deadline = time.monotonic() + 30
    while not held.arrived:
        assert time.monotonic() < deadline, "no order at the new CA:\n" + a.diagnostics()
        time.sleep(0.1)
    meanwhile = a.served_cert(name)
    assert meanwhile.serial == first.serial, meanwhile.summary()
    a.pebble = other                             # from now on, "issued" means by the new CA
    second = a.wait_cert(name, timeout=TIMEOUT, not_serial=first.serial)
    assert other.issued(second), "not from the new CA: " + second.summary()
    ok, out = a.verify_chain(second)
    assert ok, out


EXPIRY_NOTIFY = """#!/bin/sh
echo "$1 $2" >> %s/events.log
"""


@pytest.mark.log_allow(r"AA00305: expiring\.t48\.test: ", r"AA00401: expiring\.t48\.test: ")
def test_expiring_is_announced_when_renewal_keeps_failing(apache, pebble_factory, proxy_for):
    p = pebble_factory(config={"certificateValidityPeriod": 40})
    proxy = proxy_for(p)
    name = "expiring.t48.test"
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERetryDelay 2s\n"
               "ACMENotifyCmd @ROOT@/notify.sh\nACMEDomain %s\n" % name + vhosts(name),
               pebble=p, acme_server=proxy.directory_url)
    outdir = os.path.join(a.root, "notify")
    os.mkdir(outdir)
    os.chmod(outdir, 0o777)
    write_file(os.path.join(a.root, "notify.sh"), EXPIRY_NOTIFY % outdir, mode=0o755)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    proxy.down(True)          # every renewal attempt fails from now on
    issued_at = time.monotonic()
    log = os.path.join(outdir, "events.log")
    # 10% of 40 s remain ~36 s after issuance
    deadline = issued_at + 60
    while "expiring %s" % name not in read_text(log):
        assert time.monotonic() < deadline, "no 'expiring' notification:\n%s\n%s" % (
            read_text(log), a.diagnostics())
        time.sleep(0.5)
    assert time.monotonic() - issued_at > 20, "'expiring' came too early"
    assert a.wait_cert(name, timeout=5).serial == first.serial
    events = read_text(log).split()
    assert events.count("expiring") == 1, events
    assert "errored" in events, events
