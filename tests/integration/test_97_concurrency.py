"""Concurrent orders (issue 11): many domains are ordered at once, at most
ACMEMaxOrders at a time per CA, with one directory fetch and a
shared nonce pool per run; a slow domain does not hold back the others
(nor their going live); a graceful restart in the middle of many orders
resumes them all; a CA that answers 429 gets no new orders until its
Retry-After has passed.

The CA is Pebble (nonce rejection on) behind the faultproxy, whose request
log is what the assertions count. Names are *.t97.test.
"""

import os
import re
import signal
import time

import pytest

from harness import account_conf, vhosts

TIMEOUT = 90


def _account(p, kid="kid-1", extra=""):
    return account_conf(kid, p.eab[kid]) + extra


def _names(prefix, n):
    return ["%s%d.t97.test" % (prefix, i) for i in range(1, n + 1)]


def _conf(pebble, names, extra=""):
    return _account(pebble, extra=extra) + "".join(vhosts(n, acme_domain=n) for n in names)


def _order_id(path):
    """Pebble's order id from /my-order/ID or /finalize-order/ID."""
    m = re.search(r"/(?:my-order|finalize-order)/([^/?]+)", path or "")
    return m.group(1) if m else None


def _in_flight(entries):
    """The most orders in flight at one moment: from the CA's answer to
    newOrder (201) to the certificate download."""
    events = []
    for e in entries:
        if e.kind == "newOrder" and e.status == 201:
            events.append((e.time, 1))
        elif e.kind == "cert" and e.status == 200:
            events.append((e.time, -1))
    most = now = 0
    for _, step in sorted(events):
        now += step
        most = max(most, now)
    return most


def _six_orders_in_flight(apache, pebble, faultproxy, names):
    """Apache whose job has an order in flight for each of names, all
    polling authorizations the proxy keeps "pending"."""
    faultproxy.hold(status="pending", kinds=("authz",))
    a = apache(_conf(pebble, names, "ACMEMaxOrders %d\n" % len(names)),
               acme_server=faultproxy.directory_url)
    a.start()
    faultproxy.wait_for(count=len(names), timeout=30, kind="challenge")
    return a


def _graceful_restarts(a, since=0):
    return a.log_lines(r"AH00493|SIGUSR1 received", since=since)


def test_many_domains_at_once(apache, pebble, faultproxy):
    """Eight domains from cold: ordered at once (never more than
    ACMEMaxOrders in flight), one directory fetch, nonces from the
    pool, no poll before finalize, and about seven requests per order."""
    names = _names("many", 8)
    a = apache(_conf(pebble, names, "ACMEMaxOrders 4\n"),
               acme_server=faultproxy.directory_url)
    a.start()
    for n in names:
        a.wait_cert(n, timeout=TIMEOUT)
    log = faultproxy.entries()
    summary = faultproxy.format_log()
    orders = [e for e in log if e.kind == "newOrder" and e.status == 201]
    assert len(orders) == len(names), summary
    most = _in_flight(log)
    assert 2 <= most <= 4, "orders in flight at once: %d\n%s" % (most, summary)
    # one run: one directory GET for all eight (the share); the next
    # child's own run (ARI) comes after the last download
    last = max(e.time for e in log if e.kind == "cert")
    log = [e for e in log if e.time <= last]
    assert len([e for e in log if e.kind == "directory"]) == 1, summary
    # nonces come from the answers: a HEAD only when the pool is empty,
    # at most one per worker at the start
    heads = [e for e in log if e.kind == "newNonce"]
    assert len(heads) <= 4, summary
    # every order is finalized as soon as its authorization is valid: no
    # poll of the order comes before its finalize
    finalized = {}
    for e in log:
        oid = _order_id(e.path)
        if e.kind == "finalize" and e.status == 200:
            finalized.setdefault(oid, e.time)
    assert len(finalized) == len(names), summary
    early = [e for e in log if e.kind == "order" and _order_id(e.path) in finalized
             and e.time < finalized[_order_id(e.path)]]
    assert not early, "order polled before finalize:\n%s" % summary
    # requests per order, not counting the run's directory, nonces and
    # account, nor what Pebble refused for a bad nonce (5% on purpose)
    counted = [e for e in log if e.kind not in ("directory", "newNonce", "newAccount", "account")
               and e.problem != "badNonce"]
    per_order = len(counted) / len(names)
    assert per_order <= 8.5, "%.1f requests per order:\n%s" % (per_order, summary)


def test_slow_domain_does_not_hold_back_the_others(apache, pebble, faultproxy):
    """The CA holds one domain's newOrder for 40 s: the other five are
    ordered, staged and go live meanwhile, with one graceful restart for
    the five; the held order is interrupted by that restart and made again
    by the next child, well before the CA would have answered it."""
    names = _names("slow", 6)
    a = apache(_conf(pebble, names), acme_server=faultproxy.directory_url)
    held = faultproxy.delay_next(1, 40, kind="newOrder")
    a.start()
    t0 = time.monotonic()
    for n in names:
        a.wait_cert(n, timeout=max(35 - (time.monotonic() - t0), 1))
    assert held.arrived
    restarts = _graceful_restarts(a)
    assert len(restarts) <= 2, "\n".join(restarts)
    # the five went live together, before the sixth was ordered again
    made = [e for e in faultproxy.entries(kind="newOrder") if e.status == 201]
    assert len(made) == len(names), faultproxy.format_log()
    # the first graceful restart activated the five at once
    lines = a.error_log().splitlines()
    start = next(i for i, l in enumerate(lines) if "AH00493" in l)
    end = next(i for i, l in enumerate(lines) if i > start and "AH00489" in l)
    activated = [l for l in lines[start:end] if "AA00104" in l]
    assert len(activated) == len(names) - 1, "\n".join(lines[start:end])


def test_graceful_restart_resumes_all_orders(apache, pebble, faultproxy):
    """Six orders are in flight (their authorizations held pending) when
    the administrator restarts Apache gracefully: the next child resumes
    every one of them (no second newOrder) and all six are issued."""
    names = _names("resume", 6)
    a = _six_orders_in_flight(apache, pebble, faultproxy, names)
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    a.wait_log(r"AH00493|SIGUSR1 received", timeout=20, since=mark)
    faultproxy.hold(None)
    for n in names:
        a.wait_cert(n, timeout=TIMEOUT)
    orders = [e for e in faultproxy.entries(kind="newOrder") if e.status == 201]
    assert len(orders) == len(names), faultproxy.format_log()
    resumed = a.log_lines(r"resuming order", since=mark)
    assert len(resumed) >= len(names), "\n".join(resumed)


@pytest.mark.log_allow(r"AA00305")
def test_rate_limited_ca_gets_no_new_orders(apache, pebble, faultproxy):
    """The CA answers the first newOrder with 429 and Retry-After: 20: the
    other domains' orders wait for it instead of running into the limit
    (one order at a time here, so the 429 comes before the others start),
    then all are issued."""
    names = _names("busy", 3)
    faultproxy.fail_next(1, 429, retry_after=20, path_prefix="/order-plz")
    a = apache(_conf(pebble, names, "ACMEMaxOrders 1\nACMERetryDelay 20s\n"),
               acme_server=faultproxy.directory_url)
    a.start()
    for n in names:
        a.wait_cert(n, timeout=TIMEOUT)
    tried = faultproxy.entries(kind="newOrder")
    refused = [e for e in tried if e.status == 429]
    assert len(refused) == 1, faultproxy.format_log()
    after = [e for e in tried if e.time > refused[0].time]
    assert after and after[0].time - refused[0].time >= 19, faultproxy.format_log()


def test_stop_during_many_orders(apache, pebble, faultproxy):
    """SIGTERM while six orders poll their (held) authorizations: every
    worker notices and ends, the child exits by itself (httpd does not have
    to kill it), and nothing of the orders is lost (their order files stay
    for the next start)."""
    names = _names("stop", 6)
    a = _six_orders_in_flight(apache, pebble, faultproxy, names)
    mark = a.log_mark()
    t0 = time.monotonic()
    rc = a.stop()
    took = time.monotonic() - t0
    stuck = a.log_lines(r"AH0004[56]|still did not exit", since=mark)
    assert not stuck, "\n".join(stuck)
    assert rc == 0
    assert took < 15, "stopping took %.1f s" % took
    kept = [n for n in names
            if os.path.exists(os.path.join(a.store_dir, "staging", n, "rsa2048.order.json"))]
    assert sorted(kept) == sorted(names), kept
