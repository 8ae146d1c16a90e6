"""Lifecycle (issue 3): renewal by window and by ARI, retries and backoff,
Retry-After, broken responses, resume after kill -9, activation delay, names
and key types, failover, notifications (SPEC §2-§3).

Every test has its own names under *.t40.test, its own Apache root and store.
No test restarts Apache except test_name_added (the administrator's config
change, one SIGUSR1): the module activates what it obtains by itself.

Short-lived certificates come from an extra Pebble with
certificateValidityPeriod (SHORT_LIFETIME seconds); with ACMERenewWindow 90%
the renewal starts ~SHORT_LIFETIME/10 s after issuance.  Faults (CA down,
5xx/429 with Retry-After, garbage, truncation, slowness, ARI windows,
refused "replaces") come from the test-only faultproxy.
"""

import email.utils
import json
import os
import re
import signal
import socket
import time

import pytest

import harness
from faultproxy import cert_id
from harness import account_conf, vhosts, write_file

TIMEOUT = 90
SHORT_LIFETIME = 120          # seconds; Pebble's certificateValidityPeriod


# --------------------------------------------------------------------------
# helpers

def _account(p, kid="kid-1"):
    return account_conf(kid, p.eab[kid])


def _short_pebble(pebble_factory):
    """A Pebble issuing SHORT_LIFETIME-second certificates."""
    return pebble_factory(config={"certificateValidityPeriod": SHORT_LIFETIME})


def _assert_verifies(a, served):
    ok, out = a.verify_chain(served)
    assert ok, "chain of %s does not verify: %s" % (served.summary(), out)


def _state(a, name):
    """store/state/<name>.json, or {} when missing/unreadable."""
    try:
        with open(os.path.join(a.store_dir, "state", name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _wait_state(a, name, pred, timeout=30.0, what="state"):
    deadline = time.monotonic() + timeout
    while True:
        st = _state(a, name)
        if pred(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached in %ss; state/%s.json: %s\n%s" % (
                what, timeout, name, json.dumps(st, indent=1), a.diagnostics()))
        time.sleep(0.25)


def _log(a, since=0):
    return "\n".join(harness.tail(a.error_log()[since:], 80).splitlines())


_DUR_RX = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\b")
_DUR_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text):
    """'1m 30s' / '90s' / '2h' -> seconds (sum of the parts)."""
    return sum(float(n) * _DUR_UNIT[u] for n, u in _DUR_RX.findall(text))


def _next_attempt_delays(lines):
    out = []
    for l in lines:
        m = re.search(r"next attempt in ([0-9hmsd. ]+)", l)
        if m:
            out.append(_duration(m.group(1)))
    return out


_PID_RX = re.compile(r"\[pid (\d+)(?::tid \d+)?\]")


def _pid_of(line):
    m = _PID_RX.search(line)
    assert m, "no [pid N] in log line: %r" % line
    return int(m.group(1))


def _child_pids(parent):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _wait_serial_change(a, name, old_serial, timeout, sigalgs=None):
    """Wait until `name` is served an ACME certificate other than old_serial;
    return (served, time.time() when first seen)."""
    served = a.wait_cert(name, timeout=timeout, not_serial=old_serial, sigalgs=sigalgs)
    return served, time.time()


def _free_port():
    s = socket.socket()
    s.bind((harness.LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _gaps(times):
    return [round(b - a, 2) for a, b in zip(times, times[1:])]


def _attempt_starts(entries, min_gap=0.8):
    """Times (monotonic) of the first request of each burst of requests;
    a burst = requests less than min_gap apart (one attempt)."""
    starts = []
    last = None
    for e in entries:
        if last is None or e.time - last >= min_gap:
            starts.append(e.time)
        last = e.time
    return starts


# --------------------------------------------------------------------------
# 1. renewal by ACMERenewWindow

def test_renewal_by_window(apache, pebble_factory):
    """A 120 s certificate with ACMERenewWindow 90% is renewed ~12 s after
    issuance: a second certificate (other serial) is served, no test restart."""
    p = _short_pebble(pebble_factory)
    name = "window.t40.test"
    a = apache(_account(p) + "ACMERenewWindow 90%%\nACMERetryDelay 2s\n"
               "ACMEDomain %s\n" % name + vhosts(name), pebble=p)
    a.start()
    pid = a.pid
    first = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, first)
    t_first = time.monotonic()
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    took = time.monotonic() - t_first
    assert second.serial != first.serial
    assert name in second.sans
    _assert_verifies(a, second)
    assert a.running() and a.pid == pid, "Apache's parent changed"
    assert a.log_lines(r"AA00304.*renewing"), "no 'renewing' AA00304 line:\n" + _log(a)
    # renewed when 90% of the 120 s remained (~12 s after issuance), not at once
    assert 6 < took < 60, "renewed certificate served %.0f s after the first" % took


# --------------------------------------------------------------------------
# 2./3. ARI

def _ari_first_cert(faultproxy, explanation):
    """ARI: a window in the past for the first certID the module asks about,
    a far-future window for any other (so the renewed certificate is not
    renewed again).  Returns the list that collects the first certID."""
    first = []

    def is_first(cid):
        if not first:
            first.append(cid)
        return cid == first[0]

    faultproxy.ari("2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")
    faultproxy.ari(time.time() - 7200, time.time() - 3600, explanation_url=explanation,
                   cert_id=is_first)
    return first


def test_ari_window_in_the_past_renews_with_replaces(apache, pebble, faultproxy):
    name = "ari.t40.test"
    why = "https://127.0.0.1/ari-explanation/t40"
    first_id = _ari_first_cert(faultproxy, why)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    cid = cert_id(first.chain[0])
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    _assert_verifies(a, second)
    assert first_id and first_id[0] == cid, \
        "the first renewalInfo asked was %s, the first certificate's certID is %s" % (
            first_id, cid)
    assert cid in faultproxy.ari_requests, faultproxy.ari_requests
    orders = faultproxy.entries(kind="newOrder")
    assert len(orders) >= 2, faultproxy.format_log(60)
    assert "replaces" not in (orders[0].payload or {}), orders[0]
    replacing = [e for e in orders[1:] if (e.payload or {}).get("replaces") == cid]
    assert replacing, "no newOrder with replaces=%s:\n%s" % (cid, "\n".join(map(repr, orders)))
    assert replacing[0].status == 201, replacing[0]
    line = a.wait_log(r"AA00402.*suggests renewing", timeout=5)
    assert cid in line and why in line, "AA00402 line lacks certID or explanation: " + line
    st = _state(a, name)
    assert "ari" in st, st


def test_ari_replaces_refused_renews_without(apache, pebble, faultproxy):
    name = "norepl.t40.test"
    _ari_first_cert(faultproxy, None)
    faultproxy.reject_replaces(True)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    cid = cert_id(first.chain[0])
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    _assert_verifies(a, second)
    orders = faultproxy.entries(kind="newOrder")
    refused = [e for e in orders if e.injected == "reject_replaces"]
    assert refused and refused[0].payload.get("replaces") == cid, \
        "\n".join(map(repr, orders))
    later = [e for e in orders if e.time > refused[0].time and e.status == 201]
    assert later and "replaces" not in (later[0].payload or {}), "\n".join(map(repr, orders))
    assert a.log_lines(r"refused.*replac|replac.*refused"), \
        "the refusal of 'replaces' is not logged:\n" + _log(a)


# --------------------------------------------------------------------------
# 4. nonce rejection

def test_half_of_nonces_rejected(apache, pebble_factory):
    """Pebble rejects half of the good nonces: each badNonce is retried at
    once with the fresh nonce, and the certificate is still issued."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    assert "reject 50% of good nonces" in p.log_text(), "PEBBLE_WFE_NONCEREJECT not in effect"
    name = "nonce50.t40.test"
    a = apache(_account(p) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               pebble=p)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)


# --------------------------------------------------------------------------
# 5. CA down, then back

def test_ca_down_then_back_before_first_certificate(apache, pebble, faultproxy):
    """CA unreachable: the fallback is served, the state file records the
    failures and the last error, the delays grow; issued once it is back."""
    name = "down.t40.test"
    faultproxy.down(True)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    # ACMERetryDelay 2s: attempts at ~0, 2, 6, 14 s (+ jitter, 1 s ticks)
    st = _wait_state(a, name, lambda s: s.get("failures", 0) >= 4, timeout=45,
                     what="4 failures")
    served = a.served_cert(name)
    assert not a.is_acme_issued(served.leaf) and served.self_signed, served.summary()
    assert a.get("/", name, https=True).status == 503
    err = st.get("last_error") or {}
    assert err.get("kind") == "transient", st
    assert err.get("detail") or err.get("type"), st
    assert st.get("next_attempt", 0) > time.time() - 5, st
    lines = a.log_lines(r"AA00305")
    delays = _next_attempt_delays(lines)
    assert len(delays) >= 3, "\n".join(lines)
    assert delays[0] >= 1.5 and delays[0] <= 3, delays
    assert delays[2] > delays[0] * 1.5, "no backoff: next-attempt delays %s\n%s" % (
        delays, "\n".join(lines))
    starts = _attempt_starts([e for e in faultproxy.log if e.injected == "down"])
    gaps = _gaps(starts)
    assert len(gaps) >= 3 and gaps[-1] > gaps[0] * 1.8, \
        "no growing gaps between attempts in the proxy log: %s" % gaps
    assert a.running()
    faultproxy.down(False)
    served = a.wait_cert(name, timeout=60)
    _assert_verifies(a, served)
    st = _wait_state(a, name, lambda s: s.get("failures", 1) == 0, timeout=15,
                     what="failures reset after success")


def test_ca_down_during_renewal_keeps_live_certificate(apache, pebble_factory, proxy_for):
    """The renewal of a live certificate fails while the CA is down: the live
    one keeps serving, failures are recorded; renewed once the CA is back."""
    p = _short_pebble(pebble_factory)
    proxy = proxy_for(p)
    name = "downlive.t40.test"
    a = apache(_account(p) + "ACMERenewWindow 90%%\nACMERetryDelay 2s\n"
               "ACMEDomain %s\n" % name + vhosts(name), pebble=p,
               acme_server=proxy.directory_url)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    proxy.down(True, mode="reset")
    mark = a.log_mark()
    _wait_state(a, name, lambda s: s.get("failures", 0) >= 2, timeout=45,
                what="2 renewal failures")
    served = a.served_cert(name)
    assert served.serial == first.serial, "live certificate replaced while the CA was down: " \
        + served.summary()
    assert a.get("/", name, https=True).status == 200
    st = _state(a, name)
    assert st.get("last_error"), st
    assert a.log_lines(r"AA00305", since=mark), _log(a, mark)
    proxy.down(False)
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    _assert_verifies(a, second)


# --------------------------------------------------------------------------
# 6. Retry-After on 503 / 429

@pytest.mark.parametrize("status, form", [(503, "seconds"), (429, "seconds"),
                                          (503, "http-date")])
def test_retry_after_honoured(apache, pebble, faultproxy, status, form):
    name = "retry%d%s.t40.test" % (status, form.replace("-", ""))
    wait = 6
    if form == "seconds":
        ra = str(wait)
    else:
        ra = email.utils.formatdate(time.time() + wait + 1, usegmt=True)
    faultproxy.fail_next(1, status, retry_after=ra, kind="newOrder")
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    orders = faultproxy.entries(kind="newOrder")
    assert len(orders) >= 2 and orders[0].injected == "fail", "\n".join(map(repr, orders))
    gap = orders[1].time - orders[0].time
    assert gap >= wait - 1.0, "second newOrder %.1f s after the %d with Retry-After: %s" % (
        gap, status, ra)
    assert gap < wait + 20, "second newOrder only %.1f s later" % gap


# --------------------------------------------------------------------------
# 7. garbage and truncated responses

BROKEN = [
    ("newOrder-garbage", dict(status=201, kind="newOrder", body="{\"status\": \"pending\", garbage",
                              content_type="application/json")),
    ("authz-truncated", dict(status=200, kind="authz", truncate=12,
                             body=json.dumps({"status": "pending", "identifier":
                                              {"type": "dns", "value": "x"},
                                              "challenges": []}),
                             content_type="application/json")),
    ("order-notjson", dict(status=200, kind="order", body="<html>not json</html>",
                           content_type="text/html")),
    ("directory-garbage", dict(status=200, kind="directory", body="\x00\x01garbage{",
                               content_type="application/json")),
]


@pytest.mark.parametrize("what, fault", BROKEN, ids=[w for w, _ in BROKEN])
def test_broken_responses(apache, pebble, faultproxy, what, fault):
    name = "%s.broken.t40.test" % what.lower()   # the module keeps names in lower case
    faultproxy.fail_next(1, **fault)
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    assert a.running()
    hit = [e for e in faultproxy.log if e.injected == "fail"]
    assert hit, "the fault was never hit:\n" + faultproxy.format_log(60)
    errors = a.log_lines(r"AA00305")
    assert errors, "no AA00305 error line for the broken response:\n" + _log(a)
    assert re.search(r"JSON|pars|malformed|invalid|truncat|incomplete|unexpected|"
                     r"short|closed|response", errors[0], re.I), \
        "error line does not say what was wrong: " + errors[0]
    st = _state(a, name)
    assert st.get("failures", 1) == 0, st


# --------------------------------------------------------------------------
# 8. kill -9 of the job's child mid-order

def test_kill9_mid_order_resumes(apache, pebble, faultproxy):
    name = "kill9.t40.test"
    held = faultproxy.delay_next(1, 30, kind="finalize")
    accounts = pebble.account_count()
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    # the job is inside finalize (held by the proxy): kill its child
    deadline = time.monotonic() + 60
    while not held.arrived:
        assert time.monotonic() < deadline, "no finalize within 60 s:\n" + _log(a)
        time.sleep(0.1)
    assert pebble.account_count() == accounts + 1
    line = a.log_lines(r"AA0030[14]")[-1]
    pid = _pid_of(line)
    assert pid != a.pid, "job line logged by the parent? " + line
    assert pid in _child_pids(a.pid), "pid %d from %r is not a child of %d" % (
        pid, line, a.pid)
    mark = a.log_mark()
    os.kill(pid, signal.SIGKILL)
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    # Only orders the CA created count: Pebble refuses 5% of nonces, and a
    # refused newOrder (400 badNonce) is retried at once.
    orders = [e for e in faultproxy.entries(kind="newOrder") if e.status == 201]
    assert len(orders) == 1, "a new order after kill -9:\n" + "\n".join(map(repr, orders))
    assert a.log_lines(r"resuming order", since=mark), \
        "no 'resuming order' after kill -9:\n" + _log(a, mark)
    assert pebble.account_count() == accounts + 1, "a new account was created"
    assert not faultproxy.entries(kind="newAccount", since=orders[0].time), \
        "newAccount after the kill:\n" + faultproxy.format_log(60)
    assert a.running()


# --------------------------------------------------------------------------
# 9. activation delay

def test_activation_delay(apache, pebble_factory):
    p = _short_pebble(pebble_factory)
    name = "delay.t40.test"
    delay = 20
    a = apache(_account(p) + "ACMERenewWindow 90%%\nACMEActivationDelay %ds\n"
               "ACMERetryDelay 2s\nACMEDomain %s\n" % (delay, name) + vhosts(name), pebble=p)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    mark = a.log_mark()
    held = a.wait_log(r"AA00310", timeout=60, since=mark)
    assert "held back" in held, held
    staged_json = os.path.join(a.store_dir, "staging", name, "staged.json")
    with open(staged_json) as f:
        staged = json.load(f)["staged"]
    # still the first certificate well into the delay
    assert a.served_cert(name).serial == first.serial
    second, seen = _wait_serial_change(a, name, first.serial, timeout=delay + 30)
    _assert_verifies(a, second)
    assert seen - staged >= delay - 1, \
        "renewed certificate served %.1f s after staging (ACMEActivationDelay %ds)" % (
            seen - staged, delay)


# --------------------------------------------------------------------------
# 10. a name added

def test_name_added(apache, pebble):
    n1, n2 = "names.t40.test", "www.names.t40.test"
    a = apache(_account(pebble) + "ACMEDomain %s\n" % n1 + vhosts(n1))
    a.start()
    first = a.wait_cert(n1, timeout=TIMEOUT)
    assert n2 not in first.sans
    with open(a.conf_path) as f:
        conf = f.read()
    conf = conf.replace("ACMEDomain %s\n" % n1, "ACMEDomain %s %s\n" % (n1, n2))
    conf = conf.replace("  ServerName %s\n" % n1, "  ServerName %s\n  ServerAlias %s\n" % (n1, n2))
    write_file(a.conf_path, conf)
    rc, out = a.configtest()
    assert rc == 0, out
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)      # the administrator's graceful restart
    a.wait_log(r"AA00107.*new one is needed|AA00107.*needed", timeout=20, since=mark)
    # the old certificate keeps serving both names meanwhile
    still = a.wait_cert(n1, timeout=15)
    assert still.serial == first.serial or set([n1, n2]) <= set(still.sans), still.summary()
    both = a.wait_cert(n2, timeout=TIMEOUT, not_serial=first.serial)
    assert {n1, n2} <= set(both.sans), both.summary()
    assert a.wait_cert(n1, timeout=15).serial == both.serial
    _assert_verifies(a, both)


# --------------------------------------------------------------------------
# 11. two key types

def test_rsa_and_ec_both_served(apache, pebble):
    name = "dual.t40.test"
    a = apache(_account(pebble) + "ACMEKeyType rsa2048 ec256\nACMEDomain %s\n" % name
               + vhosts(name))
    a.start()
    rsa = a.wait_cert(name, timeout=TIMEOUT, sigalgs="RSA-PSS+SHA256:RSA+SHA256")
    ec = a.wait_cert(name, timeout=30, sigalgs="ECDSA+SHA256")
    assert (rsa.key_type, rsa.key_bits) == ("RSA", 2048), rsa.summary()
    assert (ec.key_type, ec.curve) == ("EC", "P-256"), ec.summary()
    assert rsa.serial != ec.serial
    assert name in rsa.sans and name in ec.sans
    _assert_verifies(a, rsa)
    _assert_verifies(a, ec)


# --------------------------------------------------------------------------
# 12. failover

def test_failover_to_second_server(apache, pebble):
    name = "failover.t40.test"
    dead = "https://127.0.0.1:%d/dir" % _free_port()
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server="%s %s" % (dead, pebble.directory_url))
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    errors = a.log_lines(r"AA00305")
    assert len(errors) >= 3, "fewer than 3 failures before the failover:\n" + "\n".join(errors)
    tries = a.log_lines(r"AA00304")
    used = [re.search(r"from (\S+)", l).group(1) for l in tries]
    assert used[:3] == [dead] * 3, "first three attempts not at %s: %s" % (dead, used)
    assert pebble.directory_url in used[3:], used
    assert used[3] == pebble.directory_url, used
    assert errors[2].rstrip().endswith("at %s" % pebble.directory_url), \
        "the third failure does not say where the next attempt goes: " + errors[2]


# --------------------------------------------------------------------------
# 13. ACMENotifyCmd

NOTIFY_SH = """#!/bin/sh
{ printf '%%s|' "$(date +%%s)" "$(id -un)" "$#" "$@"; echo; env | sort | sed 's/^/env: /'; } \
>> %s/events.log
"""


def _notify_supported(apache, pebble):
    a = apache(_account(pebble) + "ACMENotifyCmd /bin/true\n")
    rc, out = a.configtest()
    return "Invalid command" not in out


def test_notify_events(apache, pebble, pebble_factory, proxy_for):
    """ACMENotifyCmd runs as `PATH ARG... EVENT NAME`, as the unprivileged
    user, with no secret in argv or environment: errored (two failures, one
    call: rate-limited), issued, installed, then renewed (two renewals of a
    120 s certificate within a minute, in two different children: one call)."""
    if not _notify_supported(apache, pebble):
        pytest.skip("ACMENotifyCmd not implemented (configtest: Invalid command)")
    p = _short_pebble(pebble_factory)
    proxy = proxy_for(p)
    name = "notify.t40.test"
    kid = "kid-2"
    hmac = p.eab[kid]
    proxy.fail_next(2, 503, kind="newOrder")
    a = apache(account_conf(kid, hmac) + "ACMERetryDelay 1s\nACMERenewWindow 90%%\n"
               "ACMENotifyCmd @ROOT@/notify.sh fixed-arg\nACMEDomain %s\n" % name
               + vhosts(name), pebble=p, acme_server=proxy.directory_url)
    outdir = os.path.join(a.root, "notify")
    os.mkdir(outdir)
    os.chmod(outdir, 0o777)
    write_file(os.path.join(a.root, "notify.sh"), NOTIFY_SH % outdir, mode=0o755)
    events_log = os.path.join(outdir, "events.log")
    a.start()

    def calls():
        # time|user|argc|fixed-arg|EVENT|NAME|
        return [line.split("|") for line in harness.read_text(events_log).splitlines()
                if not line.startswith("env: ")]

    def wait_event(ev, timeout=30):
        deadline = time.monotonic() + timeout
        while not any(c[4:6] == [ev, name] for c in calls() if len(c) > 5):
            if time.monotonic() > deadline:
                raise AssertionError("no '%s' notification in %s s; calls: %s\n%s" % (
                    ev, timeout, calls(), _log(a)))
            time.sleep(0.5)

    first = a.wait_cert(name, timeout=TIMEOUT)
    wait_event("installed")
    # two renewals (the second in yet another child after the restart)
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    wait_event("renewed")
    third, _ = _wait_serial_change(a, name, second.serial, timeout=60)
    time.sleep(2)
    got = calls()
    for c in got:
        assert len(c) > 5, c
        assert c[1] == harness.RUN_USER, "notify ran as %s, not %s: %s" % (
            c[1], harness.RUN_USER, c)
        assert c[2] == "3" and c[3] == "fixed-arg" and c[5] == name, c
    events = [c[4] for c in got]
    assert events.count("errored") == 1, "errored (2 failures) not once: %s" % events
    assert events.count("issued") == 1, events
    assert events.count("renewed") == 1, "2 renewals within a minute, renewed not once: %s" % (
        events,)
    assert events.index("errored") < events.index("issued") < events.index("installed") \
        < events.index("renewed"), events
    text = harness.read_text(events_log)
    assert hmac not in text and hmac[:16] not in text, "EAB HMAC in the notify command's env/argv"
    assert p.eab_std(kid)[:16] not in text
    assert "PRIVATE" not in text
    _assert_verifies(a, third)
