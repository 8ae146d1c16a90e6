"""dns-01 through ACMEDNSCmd (issue 10, SPEC §2-§3): a wildcard and its
base name in one certificate, served for any name under the base; a
failing DNS program gives a clear error and its records are torn down;
ACMEChallenges falls back to the next type, both when dns-01 cannot be
set up and when the CA's validation fails.  Names under *.t101.test.

The test's ACMEDNSCmd publishes the TXT records through the management
API of pebble-challtestsrv, the DNS server Pebble asks in these tests."""
import json
import re
import os

import pytest

import harness
from harness import account_conf, vhosts, write_file

TIMEOUT = 90

# argv: MODE LOG setup|teardown NAME VALUE.  MODE ok publishes the record,
# fail refuses the setup as a provider's API might, blackhole says yes but
# publishes nothing (the CA's validation then fails).
DNS_SCRIPT = """#!/usr/bin/python3
import json, sys, urllib.request
mode, log, action, name, value = sys.argv[1:6]
with open(log, "a") as f:
    f.write("%%s %%s %%s\\n" %% (action, name, value))
if mode == "fail" and action == "setup":
    print("simulated provider error:\\nzone t101.test refused the update")
    sys.exit(3)
if mode == "blackhole":
    sys.exit(0)
payload = {"host": name + "."}
if action == "setup":
    payload["value"] = value
req = urllib.request.Request("http://127.0.0.1:%d/%%s" %% (
    "set-txt" if action == "setup" else "clear-txt"),
    data=json.dumps(payload).encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
"""


def _server(apache, pebble, mode, conf, body):
    """An Apache whose ACMEDNSCmd is the test script in `mode`; its calls
    are logged to a.dns_log as lines "ACTION NAME VALUE"."""
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 1s\n"
               + "ACMEDNSCmd @ROOT@/dns.py %s @ROOT@/dnslog/calls\n" % mode + conf + body)
    outdir = os.path.join(a.root, "dnslog")
    os.mkdir(outdir)
    os.chmod(outdir, 0o777)
    write_file(os.path.join(a.root, "dns.py"),
               DNS_SCRIPT % harness.CHALLTESTSRV_MGMT_PORT, mode=0o755)
    a.dns_log = os.path.join(outdir, "calls")
    return a


def _calls(a):
    try:
        return [l.split(" ") for l in harness.read_text(a.dns_log).splitlines()]
    except OSError:
        return []


def _left_to_tear_down(a, key):
    return os.path.exists(os.path.join(a.store_dir, "staging", key, "dns-records.json"))


def test_wildcard_and_base_name(apache, pebble):
    """A bare ACMEDomain in a vhost with ServerAlias *.<base>: one
    certificate for both, each authorization validated by dns-01 (the
    two TXT values share one name), seen at the resolver before the CA
    is asked; both records torn down after."""
    base = "wild.t101.test"
    a = _server(apache, pebble, "ok", "ACMEChallenges dns-01\n"
                "ACMEDNSWait 20s 127.0.0.1:%d\n" % harness.DNS_PORT,
                vhosts(base, aliases=["*.%s" % base], acme_domain=""))
    a.start()
    served = a.wait_cert("anything.%s" % base, timeout=TIMEOUT)
    assert "*.%s" % base in served.leaf.sans and base in served.leaf.sans, served.summary()
    name = "_acme-challenge.%s" % base
    setups = [c for c in _calls(a) if c[0] == "setup"]
    teardowns = [c for c in _calls(a) if c[0] == "teardown"]
    assert [c[1] for c in setups] == [name, name], _calls(a)
    assert setups[0][2] != setups[1][2], setups
    assert sorted(c[2] for c in teardowns) == sorted(c[2] for c in setups), _calls(a)
    assert not _left_to_tear_down(a, base)
    for who in (base, "*.%s" % base):
        assert a.log_lines(r"%s: %s validated by dns-01" % (base, re.escape(who))), \
            a.diagnostics()
    # the records were visible before the CA was asked: no wait-out
    assert not a.log_lines(r"is not visible at"), a.diagnostics()


@pytest.mark.log_allow(r"fail\.t101\.test: ")
def test_failing_script_is_reported_and_torn_down(apache, pebble):
    """Only dns-01 can validate a wildcard: a DNS program that fails
    gives an error naming the program, its exit status and what it said;
    the record is torn down all the same, and the job goes on retrying
    rather than sticking."""
    base = "fail.t101.test"
    a = _server(apache, pebble, "fail", "ACMEChallenges dns-01\nACMEDNSWait 0s\n",
                "ACMEDomain %s *.%s\n" % (base, base) + vhosts(base))
    a.start()
    st = a.wait_state(base, lambda s: (s.get("failures") or 0) >= 2, timeout=TIMEOUT,
                      what="two failed attempts")
    detail = json.dumps(st["last_error"])
    assert "dns.py setup _acme-challenge.%s" % base in detail, detail
    assert "exited with status 3" in detail, detail
    assert "simulated provider error: zone t101.test refused the update" in detail, detail
    setups = [c for c in _calls(a) if c[0] == "setup"]
    teardowns = [c for c in _calls(a) if c[0] == "teardown"]
    assert setups and len(teardowns) >= len(setups) - 1, _calls(a)
    a.stop()
    assert not _left_to_tear_down(a, base)
    assert sorted(c[2] for c in teardowns) == sorted(c[2] for c in setups), _calls(a)


@pytest.mark.log_allow(r"setup\.t101\.test: dns-01 for setup\.t101\.test: .*trying the next")
def test_fallback_when_setup_fails(apache, pebble):
    """ACMEChallenges dns-01 http-01 with a DNS program that fails: the
    same authorization is answered by http-01, and the log says which
    type worked."""
    name = "setup.t101.test"
    a = _server(apache, pebble, "fail", "ACMEChallenges dns-01 http-01\n",
                "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)
    assert a.log_lines(r"%s: %s validated by http-01" % (name, re.escape(name))), \
        a.diagnostics()
    assert [c[0] for c in _calls(a)] == ["setup", "teardown"], _calls(a)


@pytest.mark.log_allow(r"ca\.t101\.test: .*(trying|ordering) again|"
                       r"ca\.t101\.test: .*dns-01 challenge for ca\.t101\.test failed")
def test_fallback_when_validation_fails(apache, pebble):
    """The DNS program says yes but publishes nothing: the CA's dns-01
    validation fails, which makes the order invalid; a new order is
    answered by the next type, http-01."""
    name = "ca.t101.test"
    a = _server(apache, pebble, "blackhole", "ACMEChallenges dns-01 http-01\nACMEDNSWait 0s\n",
                "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)
    assert a.log_lines(r"ordering again with the next type of ACMEChallenges"), \
        a.diagnostics()
    assert a.log_lines(r"%s: %s validated by http-01" % (name, re.escape(name))), \
        a.diagnostics()
    assert [c[0] for c in _calls(a)] == ["setup", "teardown"], _calls(a)
    st = a.state(name)
    assert not st.get("failures"), st


def test_configtest_wildcard_needs_dns_cmd(apache):
    a = apache("ACMEDomain www.cfg.t101.test *.cfg.t101.test\n")
    rc, out = a.configtest()
    assert rc != 0, out
    assert "'*.cfg.t101.test' is a wildcard" in out and "ACMEDNSCmd" in out, out
    b = apache("ACMEChallenges http-01 dns-01\n")
    rc, out = b.configtest()
    assert rc != 0 and "ACMEDNSCmd" in out, out
    c = apache("ACMEDNSWait 10s dns.example.org:53\n")
    rc, out = c.configtest()
    assert rc != 0 and "ACMEDNSWait" in out and "dns.example.org:53" in out, out
