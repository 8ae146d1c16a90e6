#!/usr/bin/python3
"""On-demand benchmark: memory of the background job against a slow CA.

Issue 6, item 8 ("Bounded job"): memory per order and per check must not
grow with the number of polls or ticks.  This starts, on loopback ports it
picks itself:

  * pebble-challtestsrv (DNS: every name -> 127.0.0.1),
  * Pebble (EAB required),
  * the integration tests' fault proxy in front of Pebble, which keeps
    every authorization "pending" (faultproxy.hold), so the job polls once
    a second until the module's own bound on an order (5 minutes) ends the
    order and the next domain's order begins; optionally every answer is
    also held --delay seconds, or authorizations are held only for their
    first --hold-polls answers (then orders complete and are staged, one
    full order per domain),
  * Apache (root parent, www-data children) with the module under test,
    --domains managed names whose CA is the proxy, ACMECheckInterval 1s,
    ACMEAutoRestart off (no restart replaces the child being measured),

then samples VmRSS/VmHWM of the child running the job (the one holding
state/job.lock open) once per tick (1 s, the watchdog's tick) for --ticks
ticks, with the job's requests through the proxy.  It prints a table every
--every ticks and

  job memory: RSS at tick 50 = X kB, at tick T = Y kB, growth Z kB over
  (T-50) ticks and R requests

and exits 1 if Z > --max-growth-kb (2 if the run itself went wrong, 130 on
Ctrl-C).  Everything it started is stopped, also on Ctrl-C/SIGTERM.

Run as root, from the repository root, in a private network namespace:

    unshare -n sh -c 'ip link set lo up; /usr/bin/python3 bench/job_memory.py'

Not part of the test command (it takes --ticks seconds and more).
"""

import argparse
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import harness  # noqa: E402
from harness import (Apache, ChallTestSrv, HarnessError, Pebble, Pki,  # noqa: E402
                     account_conf, vhosts)
from faultproxy import FaultProxy  # noqa: E402

BASELINE_TICK = 50


# ------------------------------------------------------------------ ports

def free_tcp_port(taken):
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((harness.LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in taken and port not in harness.FIXED_TCP_PORTS:
            taken.add(port)
            return port


def free_tcp_udp_port(taken):
    """A port free for both TCP and UDP (the DNS server listens on both)."""
    for _ in range(200):
        port = free_tcp_port(taken)
        if not harness.udp_port_in_use(port):
            return port
    raise HarnessError("no port free for both TCP and UDP on 127.0.0.1")


# ---------------------------------------------------------------- /proc

def proc_status(pid):
    """{"VmRSS": kB, "VmHWM": kB, "Threads": n} of a process, or None."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    out[key] = int(val.split()[0])
    except (OSError, ValueError):
        return None
    return out


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == ppid:
            out.append(int(d))
    return out


def has_open(pid, path):
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def find_job_child(apache, timeout):
    """The child running the job: it keeps state/job.lock open (opened when
    mod_watchdog gives it the singleton).  Fallback: the pid of the child
    that logged the job's first AA00304 line."""
    lock = os.path.join(apache.store_dir, "state", "job.lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not apache.running():
            raise HarnessError("Apache exited\n" + apache.diagnostics())
        kids = children_of(apache.pid)
        holders = [pid for pid in kids if has_open(pid, lock)]
        if len(holders) == 1:    # more: a child of the last generation still exits
            return holders[0], "holds %s open" % lock
        for line in apache.log_lines(r"AA00304"):
            m = re.search(r"\[pid (\d+)", line)
            if m and int(m.group(1)) in kids:
                return int(m.group(1)), "logged AA00304"
        time.sleep(0.2)
    raise HarnessError("no child of Apache runs the job after %ss\n%s" % (
        timeout, apache.diagnostics()))


# ------------------------------------------------------------------- run

class Interrupted(Exception):
    pass


def _on_signal(signum, frame):
    raise Interrupted("signal %d" % signum)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=500,
                    help="ticks (seconds) to sample after the job is found (default 500)")
    ap.add_argument("--domains", type=int, default=20,
                    help="managed domains (default 20)")
    ap.add_argument("--max-growth-kb", type=int, default=1024,
                    help="fail if RSS grows more than this from tick %d to the last "
                    "(default 1024)" % BASELINE_TICK)
    ap.add_argument("--every", type=int, default=50, help="table row every N ticks (50)")
    ap.add_argument("--hold-polls", type=int, default=None, metavar="K",
                    help="hold each authorization 'pending' for its first K answers "
                    "only (orders then complete and are staged); default: for ever")
    ap.add_argument("--delay", type=float, default=0.0, metavar="S",
                    help="also hold every answer of the CA S seconds (default 0)")
    ap.add_argument("--ari", action="store_true",
                    help="measure ARI checks of live certificates instead of orders")
    ap.add_argument("--module", default=harness.MODULE_PATH,
                    help="mod_acmeauto.so (default %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args(argv)
    if a.ticks <= BASELINE_TICK:
        ap.error("--ticks must be more than %d" % BASELINE_TICK)
    if a.domains < 1 or a.every < 1:
        ap.error("--domains and --every must be positive")
    return a


def main(argv=None):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("job_memory: run as root (the Apache parent runs as root, its "
              "children as %s)" % harness.RUN_USER, file=sys.stderr)
        return 2
    for b in (harness.APACHE_BIN, harness.PEBBLE_BIN, harness.CHALLTESTSRV_BIN,
              harness.OPENSSL_BIN):
        if not os.access(b, os.X_OK):
            print("job_memory: %s is missing" % b, file=sys.stderr)
            return 2
    if not os.path.exists(args.module):
        print("job_memory: module not built: %s (build/compile)" % args.module,
              file=sys.stderr)
        return 2
    harness.check_run_user()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    started = []        # things with .stop(), stopped in reverse order
    workdir = tempfile.mkdtemp(prefix="acmeauto-bench-",
                               dir=os.environ.get("ACMEAUTO_TEST_TMP", "/tmp"))
    os.chmod(workdir, 0o755)
    rc = 2
    apache = proxy = None
    try:
        taken = set()
        # Apache's ports are module globals of the harness (Apache, vhosts)
        harness.HTTP_PORT = free_tcp_port(taken)
        harness.HTTPS_PORT = free_tcp_port(taken)
        pebble_port, pebble_mgmt = free_tcp_port(taken), free_tcp_port(taken)
        tls_port = free_tcp_port(taken)
        dns_port, dns_mgmt = free_tcp_udp_port(taken), free_tcp_port(taken)
        print("ports: apache http %d https %d, pebble %d/%d, dns %d/%d" % (
            harness.HTTP_PORT, harness.HTTPS_PORT, pebble_port, pebble_mgmt,
            dns_port, dns_mgmt), flush=True)

        pki = Pki(os.path.join(workdir, "pki"))
        dns = ChallTestSrv(os.path.join(workdir, "challtestsrv"), dns_port=dns_port,
                           mgmt_port=dns_mgmt)
        started.append(dns)
        dns.start()
        pebble = Pebble(os.path.join(workdir, "pebble"), pki, dns_port=dns_port,
                        port=pebble_port, mgmt_port=pebble_mgmt,
                        http_port=harness.HTTP_PORT, tls_port=tls_port)
        started.append(pebble)
        pebble.start()
        proxy = FaultProxy(pebble.directory_url, pki)
        started.append(proxy)
        proxy.start()
        if args.ari:
            now = time.time()
            proxy.ari(now + 30 * 86400, now + 31 * 86400, retry_after=60)
        else:
            proxy.hold("pending", kinds=("authz",), polls=args.hold_polls)
        if args.delay > 0:
            proxy.delay_next(10 ** 9, args.delay)

        names = ["d%03d.bench.test" % i for i in range(args.domains)]
        conf = account_conf("kid-1", pebble.eab["kid-1"])
        conf += "ACMECheckInterval 1s\nACMEAutoRestart %s\nACMERetryDelay 5s\n" % (
            "on" if args.ari else "off")
        for n in names:
            conf += "ACMEDomain %s\n" % n + vhosts(n)
        apache = Apache(os.path.join(workdir, "apache"), conf, pki=pki, pebble=pebble,
                        acme_server=proxy.directory_url, module_path=args.module,
                        module_log_level="info")
        started.append(apache)
        apache.start()
        if args.ari:
            issue_all(apache, names, proxy)
            what = "answers renewalInfo (Retry-After 60) for live certificates"
        else:
            what = "holds authorizations pending " + (
                "for ever" if args.hold_polls is None
                else "for %d answers each" % args.hold_polls)
        job_pid, how = find_job_child(apache, timeout=60)
        print("apache parent %d; job child %d (%s); CA %s %s%s" % (
            apache.pid, job_pid, how, proxy.origin, what,
            ", every answer delayed %ss" % args.delay if args.delay else ""), flush=True)

        rc = measure(args, apache, proxy, job_pid)
    except Interrupted as e:
        print("\njob_memory: interrupted (%s); cleaning up" % e, file=sys.stderr)
        rc = 130
    except KeyboardInterrupt:
        print("\njob_memory: interrupted; cleaning up", file=sys.stderr)
        rc = 130
    except HarnessError as e:
        print("job_memory: %s" % e, file=sys.stderr)
        rc = 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not cut cleanup
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:   # keep stopping the rest
                print("job_memory: stopping %r: %s" % (thing, e), file=sys.stderr)
        if args.keep or rc == 2:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return rc


def issue_all(apache, names, proxy, timeout=600):
    """--ari: wait until every name is served an issued certificate and the
    job has asked renewalInfo for each (restarts are then over)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    print("issuing %d certificates first ..." % len(names), flush=True)
    for n in names:
        apache.wait_cert(n, timeout=max(1, deadline - time.monotonic()),
                         port=harness.HTTPS_PORT)
    while len(set(proxy.ari_requests)) < len(names):
        if time.monotonic() > deadline:
            raise HarnessError("only %d of %d certificates asked about renewalInfo "
                               "in %ss" % (len(set(proxy.ari_requests)), len(names),
                                           timeout))
        time.sleep(1)
    print("all live after %.0f s (%d graceful restarts)" % (
        time.monotonic() - t0, apache.restarts()), flush=True)


def job_requests(proxy):
    log = proxy.log
    return (len(log), sum(1 for e in log if e.kind == "authz"),
            sum(1 for e in log if e.kind == "newOrder" and e.status == 201),
            sum(1 for e in log if e.kind == "renewalInfo"))


def measure(args, apache, proxy, job_pid):
    rows = {}
    print("%6s %10s %10s %9s %12s %7s %6s" % ("tick", "RSS kB", "HWM kB", "requests",
                                              "authz polls", "orders", "ARI"), flush=True)
    t0 = time.monotonic()
    for tick in range(1, args.ticks + 1):
        left = t0 + tick - time.monotonic()
        if left > 0:
            time.sleep(left)
        st = proc_status(job_pid)
        if st is None or not apache.running():
            print("job_memory: the job's child %d is gone at tick %d (a crash or a "
                  "restart)\n%s" % (job_pid, tick, apache.diagnostics()), file=sys.stderr)
            return 2
        reqs, polls, orders, aris = job_requests(proxy)
        rows[tick] = (st["VmRSS"], st["VmHWM"], reqs)
        if tick % args.every == 0 or tick == args.ticks:
            print("%6d %10d %10d %9d %12d %7d %6d" % (tick, st["VmRSS"], st["VmHWM"], reqs,
                                                     polls, orders, aris), flush=True)
    if not has_open(job_pid, os.path.join(apache.store_dir, "state", "job.lock")):
        print("job_memory: note: child %d no longer holds the job lock" % job_pid,
              file=sys.stderr)
    base_rss, _, base_reqs = rows[BASELINE_TICK]
    end_rss, end_hwm, end_reqs = rows[args.ticks]
    growth = end_rss - base_rss
    timed_out = len(apache.log_lines(r"AA00305.*did not finish in time"))
    crashes = apache.log_lines(r"AH00052|exit signal")
    print("orders ended by the module's poll bound: %d; VmHWM at the end %d kB"
          % (timed_out, end_hwm))
    if crashes:
        print("child crashes in the error log:\n" + "\n".join(crashes[:5]))
    print("job memory: RSS at tick %d = %d kB, at tick %d = %d kB, growth %d kB over %d "
          "ticks and %d requests" % (BASELINE_TICK, base_rss, args.ticks, end_rss, growth,
                                     args.ticks - BASELINE_TICK, end_reqs - base_reqs))
    if growth > args.max_growth_kb:
        print("job memory: FAIL: growth %d kB > --max-growth-kb %d" % (
            growth, args.max_growth_kb))
        return 1
    if crashes:
        return 2
    print("job memory: OK (bound %d kB)" % args.max_growth_kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
