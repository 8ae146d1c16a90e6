"""Lifecycle (issue 3): renewal by window and by ARI, retries and backoff,
Retry-After, broken responses, resume after kill -9 and after a graceful
restart, activation delay, names and key types, failover (and round again),
notifications (and their 30 s limit), ACMECheckInterval (SPEC §2-§3).

Every test has its own names under *.t40.test, its own Apache root and store.
Apache is restarted by a test only where a restart is what the test is
about (the administrator's config change or restart, or cutting a backoff
short in test_failover_round_again_one_account_per_ca): the module
activates what it obtains by itself.

Short-lived certificates come from an extra Pebble with
certificateValidityPeriod (SHORT_LIFETIME seconds); with ACMERenewWindow 90%
the renewal starts ~SHORT_LIFETIME/10 s after issuance.  Faults (CA down,
5xx/429 with Retry-After, garbage, truncation, slowness, ARI windows,
refused "replaces") come from the test-only faultproxy.
"""

import datetime
import email.utils
import json
import os
import re
import shutil
import signal
import socket
import time

import pytest

import harness
from faultproxy import cert_id
from harness import account_conf, vhosts, write_file

TIMEOUT = 90
SHORT_LIFETIME = 120          # seconds; Pebble's certificateValidityPeriod
# an ARI window far in the future (2099-01-01 .. 2099-01-02 UTC), epoch s
FAR_START, FAR_END = 4070908800, 4070995200


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


_TS_RX = re.compile(r"^\[(\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4})\]")


def _when(line):
    """The time.time() at which an error-log line was written (Apache's
    default ErrorLogFormat: local time with microseconds)."""
    m = _TS_RX.match(line)
    assert m, "no timestamp in log line: %r" % line
    return datetime.datetime.strptime(re.sub(r" +", " ", m.group(1)),
                                      "%a %b %d %H:%M:%S.%f %Y").timestamp()


def _created_orders(proxy):
    """newOrder requests the CA accepted (201; a refused nonce is retried)."""
    return [e for e in proxy.entries(kind="newOrder") if e.status == 201]


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

    faultproxy.ari(FAR_START, FAR_END)
    faultproxy.ari(time.time() - 7200, time.time() - 3600, explanation_url=explanation,
                   cert_id=is_first)
    return first


def _renewed_after_first(a, name, first_id, timeout=60):
    """The first certificate is renewed as soon as the job asks about it
    (its window has passed): possibly before a test could see it served.
    Returns the certificate served after it, and the first one's certID
    (the first renewalInfo asked about)."""
    deadline = time.monotonic() + timeout
    while True:
        served = a.wait_cert(name, timeout=max(deadline - time.monotonic(), 1))
        if first_id and cert_id(served.chain[0]) != first_id[0]:
            return served, first_id[0]
        assert time.monotonic() < deadline, "not renewed: %s" % served.summary()
        time.sleep(0.2)


def test_ari_window_in_the_past_renews_with_replaces(apache, pebble, faultproxy):
    name = "ari.t40.test"
    why = "https://127.0.0.1/ari-explanation/t40"
    first_id = _ari_first_cert(faultproxy, why)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    second, cid = _renewed_after_first(a, name, first_id, timeout=TIMEOUT)
    _assert_verifies(a, second)
    assert cid in faultproxy.ari_requests, faultproxy.ari_requests
    orders = faultproxy.entries(kind="newOrder")
    assert len(orders) >= 2, faultproxy.format_log(60)
    assert "replaces" not in (orders[0].payload or {}), orders[0]
    # (an order Pebble refused for its nonce was sent again at once)
    replacing = [e for e in orders[1:] if (e.payload or {}).get("replaces") == cid
                 and e.problem != "badNonce"]
    assert replacing, "no newOrder with replaces=%s:\n%s" % (cid, "\n".join(map(repr, orders)))
    assert replacing[0].status == 201, replacing[0]
    line = a.wait_log(r"AA00402.*suggests renewing", timeout=5)
    assert cid in line and why in line, "AA00402 line lacks certID or explanation: " + line
    # the renewed certificate is asked about in turn; its far-future window
    # and a moment inside it are what the state keeps now
    cid2 = cert_id(second.chain[0])
    st = a.wait_state(name, lambda s: (s.get("ari") or {}).get("ids") == cid2, timeout=30,
                      what="ARI state of the renewed certificate")
    ari = st["ari"]
    assert ari["offered"] is True, st
    assert (ari["window_start"], ari["window_end"]) == (FAR_START, FAR_END), st
    assert FAR_START <= ari["renew_at"] <= FAR_END, st


@pytest.mark.log_allow(r"AA00301: norepl\.t40\.test: the CA refused the order as a replacement")
def test_ari_replaces_refused_renews_without(apache, pebble, faultproxy):
    name = "norepl.t40.test"
    first_id = _ari_first_cert(faultproxy, None)
    faultproxy.reject_replaces(True)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    second, cid = _renewed_after_first(a, name, first_id, timeout=TIMEOUT)
    _assert_verifies(a, second)
    orders = faultproxy.entries(kind="newOrder")
    refused = [e for e in orders if e.injected == "reject_replaces"]
    assert refused and refused[0].payload.get("replaces") == cid, \
        "\n".join(map(repr, orders))
    assert (refused[0].status, refused[0].problem) == (409, "alreadyReplaced"), refused[0]
    later = [e for e in orders if e.time > refused[0].time and e.status == 201]
    assert later and "replaces" not in (later[0].payload or {}), "\n".join(map(repr, orders))
    assert a.log_lines(r"refused.*replac|replac.*refused"), \
        "the refusal of 'replaces' is not logged:\n" + _log(a)


@pytest.mark.log_allow(r"AA00401: arifuture\.t40\.test: .*unknown certID")
def test_ari_future_window_for_the_exact_certificates(apache, pebble, faultproxy):
    """ARI answers only for the ids of this domain's certificates, computed
    here from the certificates themselves (RFC 9773 §4.1): the RSA one gets
    a window an hour ahead with Retry-After 1, the EC one is unknown (404).
    The module picks a moment inside the window, asks again no sooner than
    a minute later, keeps its pick across a graceful restart and does not
    renew before.  ACMEAutoRestart off: the first set waits for the
    administrator's restart, so the ids are known before the module asks."""
    name = "arifuture.t40.test"
    why = "https://127.0.0.1/ari-explanation/future"
    faultproxy.ari(FAR_START, FAR_END, cert_id="unrelated.AQ")   # renewalInfo offered
    a = apache(_account(pebble) + "ACMEAutoRestart off\nACMEKeyType rsa2048 ec256\n"
               "ACMEDomain %s\n" % name + vhosts(name), acme_server=faultproxy.directory_url)
    a.start()
    staged = os.path.join(a.store_dir, "staging", name)
    a.wait_log(r"AA00302: %s: .*graceful restart of Apache is needed" % re.escape(name),
               timeout=TIMEOUT)
    assert os.path.exists(os.path.join(staged, "staged.json"))
    # ACMEAutoRestart off: nothing restarts by itself (bounded window)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert not a.log_lines(r"AH00493|AA00308"), _log(a)
        time.sleep(0.5)
    assert a.served_cert(name).self_signed
    rsa_id = cert_id(os.path.join(staged, "rsa2048.cert.pem"))
    ec_id = cert_id(os.path.join(staged, "ec256.cert.pem"))
    start, end = int(time.time()) + 3600, int(time.time()) + 7200
    faultproxy.ari(start, end, retry_after=1, explanation_url=why, cert_id=rsa_id)

    os.kill(a.pid, signal.SIGUSR1)      # the administrator activates the set
    rsa = a.wait_cert(name, timeout=30, sigalgs="RSA-PSS+SHA256:RSA+SHA256")
    assert cert_id(rsa.chain[0]) == rsa_id
    asked = faultproxy.wait_for(count=2, timeout=30, kind="renewalInfo")
    assert sorted((e.cert_id, e.status) for e in asked) == sorted(
        [(rsa_id, 200), (ec_id, 404)]), "\n".join(map(repr, asked))
    st = a.wait_state(name, lambda s: (s.get("ari") or {}).get("offered"), timeout=15,
                      what="an ARI window in the state")
    ari = st["ari"]
    assert set(ari["ids"].split(",")) == {rsa_id, ec_id}, st
    assert (ari["window_start"], ari["window_end"]) == (start, end), st
    assert start <= ari["renew_at"] <= end, st
    # Retry-After: 1 is raised to a minute (README: between a minute and a day)
    rsa_asked = [e for e in asked if e.cert_id == rsa_id][0].wall
    # (the state keeps whole seconds, counted from the start of the job's
    # tick, which may begin a few seconds before the request on a busy
    # machine; a Retry-After taken as is would give 1)
    assert 56 <= ari["next_check"] - rsa_asked <= 62, (st, rsa_asked)
    line = a.wait_log(r"AA00402", timeout=5)
    assert rsa_id in line and why in line, line
    assert ec_id in a.wait_log(r"AA00401", timeout=5)

    # a graceful restart: the pick is kept and nothing is asked or ordered
    orders = len(faultproxy.entries(kind="newOrder"))
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    a.wait_log(r"AH00493", timeout=15, since=mark)
    a.wait_log(r"AA00107: %s: certificate is live" % re.escape(name), timeout=15, since=mark)
    with pytest.raises(AssertionError):     # bounded window: several job ticks
        faultproxy.wait_for(count=3, timeout=3, kind="renewalInfo")
    assert len(faultproxy.entries(kind="newOrder")) == orders
    assert a.state(name)["ari"] == ari
    assert a.served_cert(name, sigalgs="RSA-PSS+SHA256:RSA+SHA256").serial == rsa.serial


# --------------------------------------------------------------------------
# 4. nonce rejection

@pytest.mark.log_allow(r"AA00305: nonce50\.t40\.test: .*badNonce")
def test_half_of_nonces_rejected(apache, pebble_factory, proxy_for):
    """Pebble rejects half of the good nonces: each badNonce is retried at
    once with the fresh nonce, and the certificate is still issued."""
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    proxy = proxy_for(p)
    name = "nonce50.t40.test"
    a = apache(_account(p) + "ACMERetryDelay 12s\nACMEDomain %s\n" % name + vhosts(name),
               pebble=p, acme_server=proxy.directory_url)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    # six refusals in a row are not rare at 50% (1 in 64 per request): the
    # module may then give up that attempt, but only after several at once
    harness.assert_bad_nonces_retried_at_once(a, name, proxy, give_up_after=3)


# --------------------------------------------------------------------------
# 5. CA down, then back

@pytest.mark.log_allow(r"AA00305: down\.t40\.test: ")
def test_ca_down_then_back_before_first_certificate(apache, pebble, faultproxy):
    """CA unreachable: the fallback is served, the state file records the
    failures and the last error, the delays grow; issued once it is back."""
    name = "down.t40.test"
    faultproxy.down(True)
    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    # ACMERetryDelay 2s: attempts at ~0, 2, 6, 14 s (+ jitter, 1 s ticks)
    st = a.wait_state(name, lambda s: s.get("failures", 0) >= 4, timeout=45,
                      what="4 failures")
    served = a.served_cert(name)
    assert not a.is_acme_issued(served.leaf) and served.self_signed, served.summary()
    assert a.get("/", name, https=True).status == 503
    err = st.get("last_error") or {}
    assert err.get("kind") == "transient", st
    assert err.get("detail") or err.get("type"), st
    assert st.get("next_attempt", 0) > time.time() - 5, st
    # one attempt reached the CA per recorded failure: counted, not timed
    attempts = [e for e in faultproxy.log if e.injected == "down"]
    assert len(attempts) == st["failures"], faultproxy.format_log(40)
    # the module's own delays: ACMERetryDelay 2s doubled after each
    # further failure, plus up to 10% (logged in whole seconds) ...
    deadline = time.monotonic() + 10     # the line follows the state file
    while len(a.log_lines(r"AA00305")) < st["failures"] and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = a.log_lines(r"AA00305")
    delays = _next_attempt_delays(lines)
    assert len(delays) == len(attempts), "\n".join(lines)
    for i, d in enumerate(delays):
        assert 2 * 2 ** i <= d <= 2 * 2 ** i * 1.1, "delays %s not 2s doubled:\n%s" % (
            delays, "\n".join(lines))
    # ... and no attempt came sooner than announced
    gaps = _gaps([e.time for e in attempts])
    for gap, d in zip(gaps, delays):
        assert gap >= d - 0.1, "attempt %.1f s after a failure that said %d s: %s" % (
            gap, d, gaps)
    assert a.running()
    faultproxy.down(False)
    served = a.wait_cert(name, timeout=60)
    _assert_verifies(a, served)
    st = a.wait_state(name, lambda s: s.get("failures", 1) == 0, timeout=15,
                     what="failures reset after success")


@pytest.mark.log_allow(r"AA00305: downlive\.t40\.test: ", r"AA00401: downlive\.t40\.test: ")
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
    a.wait_state(name, lambda s: s.get("failures", 0) >= 2, timeout=45,
                what="2 renewal failures")
    served = a.served_cert(name)
    assert served.serial == first.serial, "live certificate replaced while the CA was down: " \
        + served.summary()
    assert a.get("/", name, https=True).status == 200
    st = a.state(name)
    assert st.get("last_error"), st
    assert a.log_lines(r"AA00305", since=mark), _log(a, mark)
    proxy.down(False)
    second, _ = _wait_serial_change(a, name, first.serial, timeout=60)
    _assert_verifies(a, second)


# --------------------------------------------------------------------------
# 6. Retry-After on 503 / 429

@pytest.mark.parametrize("status, form", [(503, "seconds"), (429, "seconds"),
                                          (503, "http-date")])
@pytest.mark.log_allow(r"AA00305: retry\w+\.t40\.test: ")
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

# (what, fault, what the error line must say: the activity and the fault)
BROKEN = [
    ("newOrder-garbage", dict(status=201, kind="newOrder", body="{\"status\": \"pending\", garbage",
                              content_type="application/json"),
     r"creating an order for .*: the CA sent an invalid order"),
    ("authz-truncated", dict(status=200, kind="authz", truncate=12,
                             body=json.dumps({"status": "pending", "identifier":
                                              {"type": "dns", "value": "x"},
                                              "challenges": []}),
                             content_type="application/json"),
     r"reading authorization \S+: .*broke off"),
    ("order-notjson", dict(status=200, kind="order", body="<html>not json</html>",
                           content_type="text/html"),
     r"waiting for order \S+ to become \w+: the CA sent an invalid order"),
    ("directory-garbage", dict(status=200, kind="directory", body="\x00\x01garbage{",
                               content_type="application/json"),
     r"reading the ACME directory \S+: the answer is not a JSON document"),
]


@pytest.mark.log_allow(r"AA00305: [\w-]+\.broken\.t40\.test: ", r"AA00401: [\w-]+\.broken\.t40\.test: ")
@pytest.mark.parametrize("what, fault, said", BROKEN, ids=[w for w, _, _ in BROKEN])
def test_broken_responses(apache, pebble, faultproxy, what, fault, said):
    name = "%s.broken.t40.test" % what.lower()   # the module keeps names in lower case
    faultproxy.fail_next(1, **fault)
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    assert a.running()
    hit = [e for e in faultproxy.log if e.injected == "fail"]
    assert len(hit) == 1, "the fault was not hit once:\n" + faultproxy.format_log(60)
    errors = a.log_lines(r"AA00305")
    assert len(errors) == 1, "not one AA00305 error line for the broken response:\n" + _log(a)
    assert re.search(said, errors[0]), "error line does not say /%s/: %s" % (said, errors[0])
    st = a.state(name)
    assert st.get("failures", 1) == 0, st


# --------------------------------------------------------------------------
# 8. kill -9 of the job's child mid-order

def test_kill9_mid_order_resumes(apache, pebble, faultproxy):
    name = "kill9.t40.test"
    held = faultproxy.delay_next(1, 30, kind="finalize")

    def created_accounts():      # 201 Created: RFC 8555 §7.3
        return [e for e in faultproxy.entries(kind="newAccount") if e.status == 201]

    a = apache(_account(pebble) + "ACMERetryDelay 2s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    # the job is inside finalize (held by the proxy): kill its child
    deadline = time.monotonic() + 60
    while not held.arrived:
        assert time.monotonic() < deadline, "no finalize within 60 s:\n" + _log(a)
        time.sleep(0.1)
    assert len(created_accounts()) == 1, faultproxy.format_log(40)
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
    assert len(created_accounts()) == 1, "a new account was created"
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

def test_name_added(apache, pebble, faultproxy):
    n1, n2 = "names.t40.test", "www.names.t40.test"
    a = apache(_account(pebble) + "ACMEDomain %s\n" % n1 + vhosts(n1),
               acme_server=faultproxy.directory_url)
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
    # the CA is slow to take the new order: a window in which the old
    # certificate must keep serving, whatever the machine's speed
    held = faultproxy.delay_next(1, 8, kind="newOrder")
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)      # the administrator's graceful restart
    a.wait_log(r"AA00107.*new one is needed", timeout=20, since=mark)
    deadline = time.monotonic() + 30
    while not held.arrived:
        assert time.monotonic() < deadline, "no new order after the restart:\n" + _log(a, mark)
        time.sleep(0.1)
    for n in (n1, n2):
        still = a.served_cert(n)
        assert still.serial == first.serial, "%s: %s" % (n, still.summary())
    assert a.get("/", n1, https=True).status == 200
    both = a.wait_cert(n2, timeout=TIMEOUT, not_serial=first.serial)
    assert {n1, n2} <= set(both.sans), both.summary()
    assert a.wait_cert(n1, timeout=15).serial == both.serial
    _assert_verifies(a, both)
    tried = faultproxy.entries(kind="newOrder")
    orders = [e for e in tried if e.status == 201]
    assert len(orders) == 2, "\n".join(map(repr, tried))
    # the held request may be the one Pebble refuses with badNonce; then
    # its retry is the order that is made
    assert any(e.delayed for e in tried if e.time > orders[0].time), \
        "\n".join(map(repr, tried))
    assert {i["value"] for i in orders[1].payload["identifiers"]} == {n1, n2}, orders[1]


def test_removed_domain_deletes_nothing(apache, pebble):
    """README: removing an ACMEDomain stops its management and deletes
    nothing: after the administrator's restart every file of the removed
    domain is still there, unchanged."""
    keep, gone = "keep.t40.test", "gone.t40.test"
    gone_vhosts = vhosts(gone, acme_domain=gone)
    a = apache(_account(pebble) + vhosts(keep, acme_domain=keep) + gone_vhosts)
    a.start()
    kept = a.wait_cert(keep, timeout=TIMEOUT)
    a.wait_cert(gone, timeout=TIMEOUT)

    def files_of_gone():
        out = {}
        for path in a.store_files():
            if "/%s" % gone in path:
                with open(path, "rb") as f:
                    out[path] = f.read()
        return out

    a.wait_set_judged(gone)
    before = files_of_gone()
    live = os.path.join(a.store_dir, "live", gone)
    assert {os.path.join(live, f) for f in ("rsa2048.cert.pem", "rsa2048.key.pem")} \
        <= set(before), sorted(before)
    with open(a.conf_path) as f:
        conf = f.read()
    assert gone_vhosts in conf
    write_file(a.conf_path, conf.replace(gone_vhosts, ""))
    rc, out = a.configtest()
    assert rc == 0, out
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)      # the administrator's graceful restart
    a.wait_log(r"AA00107: %s: certificate is live" % re.escape(keep), timeout=20, since=mark)
    assert not a.log_lines(re.escape(gone), since=mark), _log(a, mark)
    # a bounded window of several job ticks (1 s each) after the restart
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        now = files_of_gone()
        changed = {k: (before.get(k), now.get(k)) for k in set(before) | set(now)
                   if before.get(k) != now.get(k)}
        assert not changed, "\n".join("%s:\n%s\n%s" % (k, b and b.decode(), n and n.decode())
                                       for k, (b, n) in changed.items())
        time.sleep(0.5)
    assert a.served_cert(keep).serial == kept.serial


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

@pytest.mark.log_allow(r"AA00305: failover\.t40\.test: ")
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
    # The job stays with the CA that issued: renewals and ARI go there, and
    # the dead first server is not asked again (no AA00401 about it).
    st = a.wait_state(name, lambda s: s.get("server") == pebble.directory_url,
                      timeout=10, what="the issuing server kept")
    assert st["failures"] == 0, st


# --------------------------------------------------------------------------
# 13. ACMENotifyCmd

NOTIFY_SH = """#!/bin/sh
{ printf '%%s|' "$(date +%%s)" "$(id -un)" "$#" "$@"; echo; \
  tr '\\000' '\\n' < /proc/$$/environ | sort | sed 's/^/env: /'; } >> %s/events.log
"""


@pytest.mark.log_allow(r"AA00305: notify\.t40\.test: ")
def test_notify_events(apache, pebble_factory, proxy_for):
    """ACMENotifyCmd runs as `PATH ARG... EVENT NAME`, as the unprivileged
    user, with no secret in argv or environment: errored (two failures, one
    call: rate-limited), issued, installed, then renewed (two renewals of a
    120 s certificate within a minute, in two different children: one call)."""
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
    # the second renewal was staged (its notification, if any, sent: the
    # command runs before the job goes on) before the third was served
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
    # each call's environment: PATH and LANG only (README)
    envs, cur = [], None
    for line in text.splitlines():
        if line.startswith("env: "):
            cur.add(line[5:].split("=", 1)[0])
        else:
            cur = set()
            envs.append(cur)
    assert len(envs) == len(got) and all(e == {"PATH", "LANG"} for e in envs), envs
    assert hmac not in text and hmac[:16] not in text, "EAB HMAC in the notify command's env/argv"
    assert p.eab_std(kid)[:16] not in text
    assert "PRIVATE" not in text
    _assert_verifies(a, third)


@pytest.mark.log_allow(r"AA00305: roundagain\.t40\.test: ")
def test_failover_round_again_one_account_per_ca(apache, pebble, faultproxy, proxy_for):
    """Two ACMEServer URLs (two proxies in front of Pebble, so two CAs to the
    module): three failures at the first (unreachable), three at the second
    (newOrder refused with 503 after registering there), then the first is
    tried again, now reachable, and issues.  Each CA got an account of its
    own, with its own key, in accounts/.

    The waits of 8, 16 and 32 s before attempts 5, 6 and 7 are cut short:
    the test sets next_attempt in the module's own state file to 0 and
    restarts gracefully (same configuration, so the failure count is kept)."""
    name = "roundagain.t40.test"
    first, second = faultproxy, proxy_for(pebble)
    url1, url2 = first.directory_url, second.directory_url
    first.down(True, mode="reset")
    second.fail_next(100, 503, kind="newOrder")
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server="%s %s" % (url1, url2))
    state_file = os.path.join(a.store_dir, "state", name + ".json")
    a.start()

    def skip_backoff(n):
        st = a.wait_state(name, lambda s: s.get("failures", 0) >= n, timeout=30,
                          what="%d failures" % n)
        assert st["failures"] == n, st
        assert st["next_attempt"] > time.time() + 2, st    # waiting still
        deadline = time.monotonic() + 5          # its AA00305 line follows
        while len(a.log_lines(r"AA00305")) < n:
            assert time.monotonic() < deadline, _log(a)
            time.sleep(0.1)
        st["next_attempt"] = 0
        with open(state_file, "w") as f:     # in place: www-data keeps owning it
            json.dump(st, f)
        a.graceful()

    skip_backoff(4)
    skip_backoff(5)
    first.down(False)
    skip_backoff(6)
    deadline = time.monotonic() + 15
    while len(a.log_lines(r"AA00304")) < 7:
        assert time.monotonic() < deadline, "no 7th attempt:\n" + _log(a)
        time.sleep(0.1)
    used = [re.search(r"from (\S+)", l).group(1) for l in a.log_lines(r"AA00304")]
    assert used == [url1] * 3 + [url2] * 3 + [url1], used
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    errors = a.log_lines(r"AA00305")
    assert len(errors) == 6, "\n".join(errors)
    assert errors[2].rstrip().endswith("at %s" % url2), errors[2]
    assert errors[5].rstrip().endswith("at %s" % url1), errors[5]
    # one account per CA: each registered once, with a key of its own
    for proxy in (first, second):
        made = [e for e in proxy.entries(kind="newAccount") if e.status == 201]
        assert len(made) == 1, proxy.format_log(60)
    accounts = {}
    for d in os.listdir(os.path.join(a.store_dir, "accounts")):
        with open(os.path.join(a.store_dir, "accounts", d, "account.json")) as f:
            acct = json.load(f)
        with open(os.path.join(a.store_dir, "accounts", d, "account.key.pem")) as f:
            accounts[acct["server"]] = (acct["url"], f.read())
    assert sorted(accounts) == sorted([url1, url2]), accounts
    for url, proxy in ((url1, first), (url2, second)):
        assert accounts[url][0].startswith(proxy.origin + "/"), accounts[url]
    assert accounts[url1][1] != accounts[url2][1], "the two CAs share an account key"


# --------------------------------------------------------------------------
# 14. ACMECheckInterval

CHECK_INTERVAL = 10


def test_check_interval(apache, pebble, faultproxy):
    """ACMECheckInterval: when nothing the job knows of is due sooner, it
    looks at every certificate again after that long, and not before.
    ACMEAutoRestart off keeps the first set in staging/; the administrator
    removes it right away; the job notices only at its next check,
    CHECK_INTERVAL s after the one that obtained it, and orders again."""
    name = "interval.t40.test"
    a = apache(_account(pebble) + "ACMEAutoRestart off\nACMECheckInterval %ds\n"
               "ACMERetryDelay 1s\nACMEDomain %s\n" % (CHECK_INTERVAL, name) + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    staged = os.path.join(a.store_dir, "staging", name)
    a.wait_log(r"AA00302: %s: " % re.escape(name), timeout=TIMEOUT)
    looked = a.log_lines(r"AA00304: %s: obtaining" % re.escape(name))
    assert len(looked) == 1, looked
    t1 = _when(looked[0])
    mark = a.log_mark()
    shutil.rmtree(staged)
    removed = time.time()
    assert removed < t1 + CHECK_INTERVAL - 2, \
        "obtaining took %.1f s, too close to ACMECheckInterval to tell" % (removed - t1)
    line = a.wait_log(r"AA00304: %s: obtaining" % re.escape(name), timeout=CHECK_INTERVAL + 10,
                      since=mark)
    t2 = _when(line)
    # the watchdog calls the job once a second
    assert CHECK_INTERVAL - 0.5 <= t2 - t1 <= CHECK_INTERVAL + 2.5, \
        "looked again %.1f s after the previous check (ACMECheckInterval %d s)" % (
            t2 - t1, CHECK_INTERVAL)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(staged, "staged.json")):
        assert time.monotonic() < deadline, "nothing staged again:\n" + _log(a, mark)
        time.sleep(0.2)
    orders = _created_orders(faultproxy)
    assert len(orders) == 2, faultproxy.format_log(60)
    assert orders[1].wall >= t1 + CHECK_INTERVAL - 0.5, faultproxy.format_log(60)


# --------------------------------------------------------------------------
# 15. graceful restart in the middle of an order

def test_graceful_restart_mid_order_resumes(apache, pebble, faultproxy):
    """An order under way (finalize held by a slow CA) survives the
    administrator's graceful restart: the next generation's job resumes the
    same order URL, no new order, no failure counted."""
    name = "resume.t40.test"
    held = faultproxy.delay_next(1, 20, kind="finalize")
    a = apache(_account(pebble) + "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               acme_server=faultproxy.directory_url)
    a.start()
    deadline = time.monotonic() + 60
    while not held.arrived:
        assert time.monotonic() < deadline, "no finalize within 60 s:\n" + _log(a)
        time.sleep(0.1)
    orders = _created_orders(faultproxy)
    assert len(orders) == 1, faultproxy.format_log(40)
    with open(os.path.join(a.store_dir, "staging", name, "rsa2048.order.json")) as f:
        order_url = json.load(f)["url"]
    assert order_url.startswith(faultproxy.origin + "/"), order_url
    job_pid = _pid_of(a.log_lines(r"AA00304: %s: obtaining" % re.escape(name))[-1])
    mark = a.graceful()
    restarted = time.monotonic()
    served = a.wait_cert(name, timeout=TIMEOUT)
    _assert_verifies(a, served)
    line = a.wait_log(r"AA00301: %s: resuming order %s " % (re.escape(name),
                                                             re.escape(order_url)),
                      timeout=5, since=mark)
    assert _pid_of(line) != job_pid, "resumed by the old generation's job? " + line
    assert _created_orders(faultproxy) == orders, faultproxy.format_log(60)
    assert not faultproxy.entries(kind="newOrder", since=restarted), faultproxy.format_log(60)
    # the new generation asked the CA about that very order
    assert [e for e in faultproxy.entries(kind="order", since=restarted)
            if order_url.endswith(e.path)], faultproxy.format_log(60)
    assert not a.log_lines(r"AA00305"), _log(a)
    assert a.wait_state(name, lambda s: "failures" in s).get("failures") == 0


# --------------------------------------------------------------------------
# 16. a notify command that does not finish

NOTIFY_HANG_SH = """#!/bin/sh
[ "$1" = issued ] || exit 0
sleep 60 &
echo "$$ $(date +%%s.%%N) $!" > %s/started
wait
"""


@pytest.mark.log_allow(r"AA00502: hang\.t40\.test: ACMENotifyCmd for 'issued' took longer "
                       r"than 30 s and was stopped")
def test_notify_cmd_stopped_after_30s(apache, pebble):
    """README: the notify program is stopped after 30 s.  A script that
    waits 60 s for a child of its own on 'issued' is killed with that child
    30 s after it started, AA00502 says so, and the job goes on: the
    certificate goes live."""
    name = "hang.t40.test"
    a = apache(_account(pebble) + "ACMENotifyCmd @ROOT@/hang.sh\nACMEDomain %s\n" % name
               + vhosts(name))
    outdir = os.path.join(a.root, "notify")
    os.mkdir(outdir)
    os.chmod(outdir, 0o777)
    write_file(os.path.join(a.root, "hang.sh"), NOTIFY_HANG_SH % outdir, mode=0o755)
    started_file = os.path.join(outdir, "started")
    a.start()
    deadline = time.monotonic() + TIMEOUT
    while not harness.read_text(started_file).strip():
        assert time.monotonic() < deadline, "the notify command never ran:\n" + _log(a)
        time.sleep(0.2)
    pid, started, child = harness.read_text(started_file).split()
    pid, started, child = int(pid), float(started), int(child)
    line = a.wait_log(r"AA00502", timeout=40)
    took = _when(line) - started
    # (the script notes its start a moment after the module started it)
    assert 29.5 <= took <= 32, "stopped %.1f s after it started" % took
    assert "hang.t40.test" in line and "'issued'" in line, line
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                      # killed and reaped
    # the script's own child went with it (the whole process group)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % child):
        with open("/proc/%d/stat" % child) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break                        # killed, waiting for init
        time.sleep(0.1)
    if os.path.exists("/proc/%d/stat" % child):
        with open("/proc/%d/stat" % child) as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z", "sleep survived"
    assert not a.log_lines(r"AA00503"), _log(a)
    a.wait_cert(name, timeout=30)
