"""pytest fixtures for the mod_acmeauto integration tests.

Session fixtures: `workdir`, `pki`, `challtestsrv`, `pebble`, `pebble_factory`.
Function fixtures: `apache` (a factory of harness.Apache, stopped at teardown),
`faultproxy` (faultproxy.FaultProxy in front of `pebble`).

Environment:
  ACMEAUTO_MODULE      path of mod_acmeauto.so (default: <repo>/mod_acmeauto/.libs/mod_acmeauto.so)
  ACMEAUTO_HTTPD       Apache binary (default /usr/sbin/apache2)
  ACMEAUTO_TEST_TMP    parent of the session work directory (default /tmp)
  ACMEAUTO_KEEP=1      keep the work directory (kept anyway when a test failed)
  ACMEAUTO_LOG_LINES   log lines shown per log in a failure report (default 120)
"""

import os
import re
import shutil
import tempfile
import zlib

import pytest

import harness
from harness import (Apache, ChallTestSrv, HarnessError, Pebble, Pki, read_text, tail)

# extra Pebbles: 14110+10*k / 15110+10*k for k < PEBBLE_SLOTS
PEBBLE_SLOTS = 40


def pytest_configure(config):
    config._acmeauto_workdir = None
    config.addinivalue_line(
        "markers", "log_allow(*regexes): [warn]/[error] lines of the test's "
        "Apache error logs that the test expects (any other fails the test)")


# Lines at warn or worse that every test may see: mod_ssl built against a
# newer OpenSSL patch release than installed; mod_ssl's own note that a
# host on the module's fallback certificate answers 503 (SPEC §3).
#
# AH00045/AH00046: a child told to stop while it is still starting may be
# inside malloc when the event MPM's signal handler calls exit(); the exit
# handlers of libraries (gnutls, loaded by libcurl through libldap) then
# wait for the malloc lock and httpd kills the child after ~10 s. Tests
# that stop Apache right after a restart meet it; the module keeps
# OpenSSL's own exit handler out of it (OPENSSL_INIT_NO_ATEXIT).
LOG_ALLOW_ALWAYS = (r"AH01882: Init: this version of mod_ssl was compiled against",
                    r"AH10085: Init: \S+ will respond with '503 Service Unavailable'",
                    r"AH0004[56]: child process \d+ still did not exit")
LOG_PROBLEM = re.compile(r"^\[[^]]*\] \[[\w_]+:(warn|error|crit|alert|emerg)\]")


def unexpected_log_lines(apaches, allow):
    """[warn] and worse lines of the given Apaches' error logs that no
    allowed regex matches."""
    rxs = [re.compile(r) for r in LOG_ALLOW_ALWAYS + tuple(allow)]
    out = []
    for a in apaches:
        for line in a.error_log().splitlines():
            if LOG_PROBLEM.search(line) and not any(rx.search(line) for rx in rxs):
                out.append(line)
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    wd = getattr(config, "_acmeauto_workdir", None)
    if wd and os.path.isdir(wd):
        terminalreporter.write_line("acmeauto integration work dir kept: %s" % wd)


def _fail_env(msg):
    pytest.exit("integration test environment not usable: %s" % msg, returncode=3)


@pytest.fixture(scope="session", autouse=True)
def preflight():
    """Binaries present, www-data present, fixed loopback ports free."""
    for b in (harness.APACHE_BIN, harness.PEBBLE_BIN, harness.CHALLTESTSRV_BIN,
              harness.OPENSSL_BIN):
        if not os.access(b, os.X_OK):
            _fail_env("%s is missing" % b)
    try:
        harness.check_run_user()
    except HarnessError as e:
        _fail_env(str(e))
    busy = [p for p in harness.FIXED_TCP_PORTS if harness.port_in_use(p)]
    if harness.udp_port_in_use(harness.DNS_PORT):
        busy.append("%d/udp" % harness.DNS_PORT)
    if busy:
        _fail_env("ports busy on 127.0.0.1: %s\n%s" % (
            busy, harness.port_owners([p for p in busy if isinstance(p, int)])))


@pytest.fixture(scope="session")
def workdir(request):
    """Session work directory, 0755 so Apache's www-data children can traverse it."""
    parent = os.environ.get("ACMEAUTO_TEST_TMP", "/tmp")
    d = tempfile.mkdtemp(prefix="acmeauto-it-", dir=parent)
    os.chmod(d, 0o755)
    yield d
    if os.environ.get("ACMEAUTO_KEEP") or request.session.testsfailed:
        request.config._acmeauto_workdir = d
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(workdir):
    """CA (pki.ca_file) and server cert/key for Pebble's HTTPS listeners."""
    return Pki(os.path.join(workdir, "pki"))


@pytest.fixture(scope="session")
def challtestsrv(workdir):
    """Mock DNS on 127.0.0.1:8053: A -> 127.0.0.1 for every name, no AAAA."""
    srv = ChallTestSrv(os.path.join(workdir, "challtestsrv"))
    try:
        srv.start()
    except HarnessError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def pebble(workdir, pki, challtestsrv):
    """Pebble on 127.0.0.1:14000 (management 15000), EAB required.

    pebble.eab: {"kid-1": key, "kid-2": key, "kid-3": key} (base64url, no
    padding; kid-3's standard-base64 form has '+' and '/'), pebble.eab_std(kid),
    pebble.directory_url, pebble.root_file (Pebble's root(s), PEM),
    pebble.intermediate_file, pebble.account_count(), pebble.log_text().
    """
    p = Pebble(os.path.join(workdir, "pebble"), pki, dns_port=challtestsrv.dns_port)
    try:
        p.start()
    except HarnessError as e:
        p.stop()
        pytest.fail(str(e), pytrace=False)
    yield p
    p.stop()


@pytest.fixture(scope="session")
def pebble_factory(workdir, pki, challtestsrv):
    """Start an extra Pebble with environment overrides, e.g.
    pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "90"}), or with extra keys
    of Pebble's config: pebble_factory(config={"certificateValidityPeriod":
    120}) for 2-minute certificates; pass it to apache(..., pebble=p).
    The same arguments return the same instance; name="..." gives a test a
    Pebble of its own (one per name).  Ports are chosen from what is asked
    (a stable hash of the arguments: 14110+10*k / 15110+10*k), not from the
    order in which tests ask, so a test gets the same ports in any subset.
    pebble_factory.replace(p) stops p and starts a fresh Pebble at the same
    URL with the same EAB keys and settings but an empty database and new
    roots, as a CA that lost its database would.  All are stopped at session
    end."""
    made = []
    by_env = {}
    slots = {}

    def _slot(key):
        k = zlib.crc32(repr(key).encode()) % PEBBLE_SLOTS
        while k in slots.values():
            k = (k + 1) % PEBBLE_SLOTS
        slots[key] = k
        return k

    def factory(env=None, eab_keys=None, config=None, name=None):
        key = (tuple(sorted((env or {}).items())), tuple(sorted((eab_keys or {}).items())),
               tuple(sorted((config or {}).items())), name)
        if key in by_env:
            return by_env[key]
        k = _slot(key)
        label = "pebble-%d" % (k + 1)
        p = Pebble(os.path.join(workdir, label), pki, dns_port=challtestsrv.dns_port,
                   port=harness.PEBBLE_PORT + 110 + 10 * k,
                   mgmt_port=harness.PEBBLE_MGMT_PORT + 110 + 10 * k,
                   eab_keys=eab_keys, env=env, name=label, config=config)
        made.append(p)
        p.start()
        by_env[key] = p
        return p

    def replace(old):
        old.stop()
        n = sum(1 for p in made if p.port == old.port)
        p = Pebble(os.path.join(workdir, "%s-fresh-%d" % (old.name, n)), pki,
                   dns_port=challtestsrv.dns_port, port=old.port, mgmt_port=old.mgmt_port,
                   eab_keys=old.eab, env=old.env, name="%s-fresh-%d" % (old.name, n),
                   config=old.extra_config)
        made.append(p)
        p.start()
        for key, value in list(by_env.items()):
            if value is old:
                by_env[key] = p
        return p

    factory.replace = replace
    yield factory
    for p in made:
        p.stop()


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


@pytest.fixture
def apache(request, workdir, pki):
    """Factory: apache(conf_body, **opts) -> harness.Apache (not started).

    opts: load_module=True, pebble=<the session pebble>, acme_server (default
    the pebble's directory URL; None omits ACMEServer), acme_ca (default
    pki.ca_file; None omits), store_dir (default <root>/store; None omits),
    module_path, server_name, log_level, module_log_level, extra_modules,
    base_extra.  "@ROOT@" in conf_body is the server root.  Every server made
    is stopped at teardown.
    """
    made = []
    request.node._acmeauto_apaches = made

    def factory(conf_body="", **opts):
        if opts.get("load_module", True) and "pebble" not in opts:
            opts["pebble"] = request.getfixturevalue("pebble")
        root = os.path.join(workdir, "apache", "%s-%d" % (_safe(request.node.name), len(made)))
        a = Apache(root, conf_body, pki=pki, **opts)
        made.append(a)
        return a

    yield factory
    for a in made:
        a.stop()
    allow = [rx for m in request.node.iter_markers("log_allow") for rx in m.args]
    bad = unexpected_log_lines(made, allow)
    if bad:
        pytest.fail("unexpected [warn]/[error] lines in the error log (allow them "
                    "with @pytest.mark.log_allow if the test expects them):\n"
                    + "\n".join(bad[:20]), pytrace=False)


def _stop_apaches_first(request):
    """A job still running when its CA's proxy goes away would log a
    connection failure that the test did not cause: stop the test's Apaches
    before its proxies (Apache.stop() is idempotent)."""
    for a in getattr(request.node, "_acmeauto_apaches", []):
        a.stop()


@pytest.fixture
def faultproxy(request, pebble, pki):
    """A started faultproxy.FaultProxy in front of the session pebble, stopped
    at teardown: apache(conf, acme_server=faultproxy.directory_url).  Controls:
    ari()/ari_off(), fail_next(), delay_next(), hold(), down(), reject_replaces(); request log in
    .log / .entries(kind=...).  Its log is shown in a failed test's report.
    (For another Pebble: FaultProxy(p.directory_url, pki).start() and stop().)"""
    from faultproxy import FaultProxy
    proxy = FaultProxy(pebble.directory_url, pki).start()
    request.node._acmeauto_faultproxy = proxy
    yield proxy
    _stop_apaches_first(request)
    proxy.stop()


@pytest.fixture
def proxy_for(request, pki):
    """proxy_for(pebble) -> a started FaultProxy in front of that Pebble,
    stopped at teardown and shown in a failed test's report."""
    made = []

    def factory(p):
        from faultproxy import FaultProxy
        proxy = FaultProxy(p.directory_url, pki).start()
        made.append(proxy)
        request.node._acmeauto_faultproxy = proxy
        return proxy

    yield factory
    _stop_apaches_first(request)
    for proxy in made:
        proxy.stop()


@pytest.fixture(autouse=True)
def _log_marks(request):
    """Remember where the session logs stood when the test began."""
    marks = {}
    for path in harness.SESSION_LOGS.values():
        try:
            marks[path] = os.path.getsize(path)
        except OSError:
            pass
    request.node._acmeauto_log_marks = marks
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach Apache and Pebble/challtestsrv log tails to a failed test's report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed or rep.when not in ("setup", "call"):
        return
    for a in getattr(item, "_acmeauto_apaches", []):
        rep.sections.append(("apache %s (pid %s, running=%s) error log" % (
            a.root, a.pid, a.running()), tail(a.error_log()) or "(empty)"))
        err = read_text(a.stderr_path)
        if err.strip():
            rep.sections.append(("apache %s stderr" % a.root, tail(err, 30)))
    proxy = getattr(item, "_acmeauto_faultproxy", None)
    if proxy is not None:
        rep.sections.append(("faultproxy %s request log" % proxy.origin,
                             proxy.format_log(200) or "(empty)"))
    marks = getattr(item, "_acmeauto_log_marks", {})
    for label, path in harness.SESSION_LOGS.items():
        text = read_text(path)[marks.get(path, 0):]
        if text.strip():
            rep.sections.append(("%s (during this test)" % label, tail(text)))
