"""Stable identity (issue 6, items 5 and 6): everyday edits of the
configuration, made while the CA cannot be reached, never take a site down.

A managed certificate belongs to its set of names, not to its first name:
reordering names, swapping ServerName and ServerAlias, or changing the first
name keeps the live certificate serving every name it covers (same serial,
no fallback, no 503) and keeps its entries in the store under the same key
(live/<key>/ is the same directory; handoff/domains.json maps the key to the
new set). A per-vhost setting for a domain written elsewhere is refused by
configtest, naming the directive and where it is.

The CA is a faultproxy in front of Pebble, put down() once the first
certificate is live, so that ACMEServer stays the same."""

import json
import os
import re

import pytest

from harness import account_conf, vhosts, write_file

TIMEOUT = 90
ERRORS = r"\[acmeauto:(warn|error|crit|alert|emerg)\]"
# What the CA being down makes the job say.
CA_DOWN = [r"AA00305: ", r"AA00401: .*: reading the ACME directory .*: Empty reply"]


def _issued(apache, pebble, faultproxy, domain, vhost_text):
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 2s\n"
               + domain + vhost_text, acme_server=faultproxy.directory_url)
    a.start()
    return a


def _edit(a, old, new):
    with open(a.conf_path) as f:
        conf = f.read()
    assert old in conf, old
    write_file(a.conf_path, conf.replace(old, new))


def _live_snapshot(a):
    """live/: each key's directory (inode) and its files' bytes."""
    live = os.path.join(a.store_dir, "live")
    out = {}
    for key in os.listdir(live):
        d = os.path.join(live, key)
        files = {}
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                files[f] = fh.read()
        out[key] = (os.stat(d).st_ino, files)
    return out


def _index(a):
    with open(os.path.join(a.store_dir, "handoff", "domains.json")) as f:
        return json.load(f)


def _unexpected(a, allowed, since=0):
    return [l for l in a.log_lines(ERRORS, since=since)
            if not any(re.search(rx, l) for rx in allowed)]


def _still_serving(a, names, first):
    """Every name is served the first certificate, and requests are
    answered (no self-signed fallback, no 503)."""
    for n in names:
        served = a.served_cert(n)
        assert served.serial == first.serial, "%s: %s" % (n, served.summary())
        r = a.get("/", n, https=True)
        assert r.status == 200, "%s: %s" % (n, r)


def _ca_down_and_edit(a, faultproxy, edits):
    """The CA goes away, the configuration is edited, an administrator's
    graceful restart: returns the log mark of that restart."""
    faultproxy.down(True)
    for old, new in edits:
        _edit(a, old, new)
    rc, out = a.configtest()
    assert rc == 0, out
    return a.graceful(timeout=20)


def _key_kept(a, key, names, before):
    live = _live_snapshot(a)
    assert live == before, "live/ changed: %s -> %s" % (
        {k: (v[0], sorted(v[1])) for k, v in before.items()},
        {k: (v[0], sorted(v[1])) for k, v in live.items()})
    assert _index(a).get(key) == sorted(names), _index(a)


# ---------------------------------------------------------------------------
# the same set of names: nothing to order, nothing changes

@pytest.mark.log_allow(r"AA00401: \S+: reading the ACME directory ")
@pytest.mark.parametrize("how", ["reordered", "swapped"])
def test_same_names_keep_serving(apache, pebble, faultproxy, how):
    """`ACMEDomain a b` -> `ACMEDomain b a`, or a vhost's ServerName and
    ServerAlias swapped under a bare ACMEDomain: the same certificate keeps
    serving both names, from the same live/ directory, and no new one is
    needed."""
    a_name, b_name = "first.%s.t64.test" % how, "second.%s.t64.test" % how
    if how == "reordered":
        domain, vh = "ACMEDomain %s %s\n" % (a_name, b_name), vhosts(a_name, [b_name])
        edits = [(domain, "ACMEDomain %s %s\n" % (b_name, a_name))]
    else:
        domain, vh = "", vhosts(a_name, [b_name], acme_domain="")
        edits = [(vh, vhosts(b_name, [a_name], acme_domain=""))]
    a = _issued(apache, pebble, faultproxy, domain, vh)
    first = a.wait_cert(a_name, timeout=TIMEOUT)
    assert sorted(first.sans) == sorted([a_name, b_name]), first.summary()
    assert _index(a) == {a_name: sorted([a_name, b_name])}
    before, fallbacks = _live_snapshot(a), os.listdir(os.path.join(a.store_dir, "fallback"))
    mark = _ca_down_and_edit(a, faultproxy, edits)
    verdict = a.wait_log(r"AA00107: %s: " % re.escape(b_name), timeout=10, since=mark)
    _still_serving(a, [a_name, b_name], first)
    _key_kept(a, a_name, [a_name, b_name], before)
    # b's entries in the store are a's, and the certificate is complete
    assert verdict.endswith("certificate is live"), verdict
    assert a.log_lines(r"AA00114: %s: its entries in the store are under %s$"
                       % (re.escape(b_name), re.escape(a_name)), since=mark)
    assert os.listdir(os.path.join(a.store_dir, "fallback")) == fallbacks, \
        "a fallback was made for the reordered domain"
    # A second restart (logrotate) changes nothing either.
    mark2 = a.graceful(timeout=20)
    assert a.log_lines(r"AA00107: %s: certificate is live$" % re.escape(b_name), since=mark2)
    _still_serving(a, [a_name, b_name], first)
    _key_kept(a, a_name, [a_name, b_name], before)
    assert not a.log_lines(r"AA00304: ", since=mark), "a new order was tried"
    # The CA is down: an ARI question at a child's start may say so.
    unexpected = _unexpected(a, [r"AA00401: \S+: reading the ACME directory "],
                             since=mark)
    assert not unexpected, "\n".join(unexpected)


# ---------------------------------------------------------------------------
# a changed set: the old certificate serves what it covers meanwhile

@pytest.mark.log_allow(r"AA00305: \S+\.t64\.test: ",
                       r"AA00401: \S+\.t64\.test: reading the ACME directory .*: Empty reply")
@pytest.mark.parametrize("how", ["new-first", "first-replaced"])
def test_first_name_changed_keeps_serving_until_replaced(apache, pebble, faultproxy, how):
    """`ACMEDomain a b` -> `ACMEDomain n a b` (a new name first) or
    `ACMEDomain n b` (the first name replaced): the set changed, so a new
    certificate is needed; meanwhile the live one keeps serving the names it
    covers, under the same key; once the CA is back the replacement lands in
    that same live/<key>/."""
    a_name, b_name = "a.%s.t64.test" % how, "b.%s.t64.test" % how
    n_name = "n.%s.t64.test" % how
    # One vhost for all names: ServerName b stays in the domain throughout.
    vh = vhosts(b_name, [a_name, n_name])
    domain = "ACMEDomain %s %s\n" % (a_name, b_name)
    new_names = [n_name, a_name, b_name] if how == "new-first" else [n_name, b_name]
    a = _issued(apache, pebble, faultproxy, domain, vh)
    first = a.wait_cert(a_name, timeout=TIMEOUT)
    before = _live_snapshot(a)
    fallbacks = os.listdir(os.path.join(a.store_dir, "fallback"))
    mark = _ca_down_and_edit(a, faultproxy, [(domain, "ACMEDomain %s\n" % " ".join(new_names))])
    verdict = a.wait_log(r"AA00107: %s: " % re.escape(n_name), timeout=10, since=mark)
    covered = [a_name, b_name] if how == "new-first" else [b_name]
    _still_serving(a, covered, first)
    _key_kept(a, a_name, new_names, before)
    assert verdict.endswith("certificate is live; a new one is needed for the "
                            "configured names or key types"), verdict
    # The replacement is tried, and fails while the CA is down.
    a.wait_log(r"AA00305: %s: " % re.escape(n_name), timeout=30, since=mark)
    _still_serving(a, covered, first)
    assert os.listdir(os.path.join(a.store_dir, "fallback")) == fallbacks
    unexpected = _unexpected(a, CA_DOWN, since=mark)
    assert not unexpected, "\n".join(unexpected)
    # The CA is back: the replacement covers the new set, in live/<a>/.
    faultproxy.down(False)
    new = a.wait_cert(n_name, timeout=TIMEOUT, not_serial=first.serial)
    assert sorted(new.sans) == sorted(new_names), new.summary()
    live = _live_snapshot(a)
    assert list(live) == [a_name], live.keys()
    assert live[a_name][0] == before[a_name][0], "live/%s was replaced" % a_name
    assert _index(a) == {a_name: sorted(new_names)}
    for n in new_names:
        assert a.served_cert(n).serial == new.serial
        assert a.get("/", n, https=True).status == 200


# ---------------------------------------------------------------------------
# a key type in a vhost: refused where it would be ignored, applied where the
# domain is written

@pytest.mark.log_allow(r"AA00305: keytype\.t64\.test: ",
                       r"AA00401: keytype\.t64\.test: reading the ACME directory .*: Empty reply")
def test_vhost_key_type_for_a_global_domain_is_refused(apache, pebble, faultproxy):
    """`ACMEKeyType ec256` in the <VirtualHost> of a name whose ACMEDomain is
    written globally would apply to nothing: configtest fails and names the
    directive and where it is written. Written beside a bare ACMEDomain in
    that vhost, the same setting is applied: the RSA certificate keeps
    serving (same key in the store) until the EC one is live."""
    name = "keytype.t64.test"
    domain = "ACMEDomain %s\n" % name
    vh = vhosts(name)
    a = _issued(apache, pebble, faultproxy, domain, vh)
    first = a.wait_cert(name, timeout=TIMEOUT)
    assert first.key_type == "RSA", first.summary()
    before = _live_snapshot(a)
    faultproxy.down(True)
    with open(a.conf_path) as f:
        good_conf = f.read()
    _edit(a, "  SSLEngine on\n", "  SSLEngine on\n  ACMEKeyType ec256\n")
    lines = open(a.conf_path).read().splitlines()
    line_no = lines.index("  ACMEKeyType ec256") + 1
    rc, out = a.configtest()
    assert rc != 0, out
    assert re.search(r"ACMEKeyType at %s:%d\b" % (re.escape(a.conf_path), line_no), out), out
    assert "ACMEDomain" in out, out
    # Not restarted with it: the server keeps serving.
    _still_serving(a, [name], first)
    # The same setting beside a bare ACMEDomain in that vhost.
    write_file(a.conf_path, good_conf)
    mark = _ca_down_and_edit(a, faultproxy, [
        (domain, ""), ("  SSLEngine on\n", "  SSLEngine on\n  ACMEKeyType ec256\n  ACMEDomain\n")])
    verdict = a.wait_log(r"AA00107: %s: " % re.escape(name), timeout=10, since=mark)
    _still_serving(a, [name], first)
    _key_kept(a, name, [name], before)
    assert verdict.endswith("certificate is live; a new one is needed for the "
                            "configured names or key types"), verdict
    a.wait_log(r"AA00305: %s: " % re.escape(name), timeout=30, since=mark)
    _still_serving(a, [name], first)
    unexpected = _unexpected(a, CA_DOWN, since=mark)
    assert not unexpected, "\n".join(unexpected)
    faultproxy.down(False)
    ec = a.wait_cert(name, timeout=TIMEOUT, not_serial=first.serial)
    assert (ec.key_type, ec.curve) == ("EC", "P-256"), ec.summary()
    live = _live_snapshot(a)
    assert list(live) == [name] and live[name][0] == before[name][0]
    assert "ec256.cert.pem" in live[name][1], sorted(live[name][1])
    assert a.get("/", name, https=True).status == 200
