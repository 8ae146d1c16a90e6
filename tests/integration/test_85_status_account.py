"""`acmeauto status` and `acmeauto account` (SPEC §4): the status of every
domain read from the store (the same objects and rules as the acme-status
page: both come from the core's acme_view), and the account at each CA.
Names under *.t85.test."""

import json
import re
import secrets
import time

import pytest

from harness import account_conf, b64url, vhosts

TIMEOUT = 90

STATUS_CONF = """
<Location /acme-status>
  SetHandler acme-status
  Require ip 127.0.0.1
</Location>
"""

# What does not depend on the moment of reading (the job may write its
# state between the two reads): all but failures, next_attempt and the
# error's detail and time.
STABLE = ("name", "key", "names", "state", "key_types", "certificate",
          "renew_at", "renew_from", "restart_pending", "held_until", "expiring")


def _stable(d):
    out = {k: d[k] for k in STABLE}
    e = d["last_error"]
    out["last_error"] = e and {k: e[k] for k in ("kind", "type", "hint", "activity")}
    return out


def _page(a, host, path="/acme-status?json"):
    r = a.get(path, host)
    assert r.status == 200, r
    return json.loads(r.text)


def _status_json(a, *args):
    r = a.acmeauto("status", "--json", *args)
    assert r.returncode in (0, 1), r
    return r, json.loads(r.stdout)


def _by_name(doc):
    return {d["name"]: d for d in doc["domains"]}


def _same_as_page(a, host, *names):
    """status --json equals the page's JSON in what is stable; read the
    page before and after, so a state written in between is retried."""
    for _ in range(20):
        before = _by_name(_page(a, host))
        r, cmd = _status_json(a)
        after = _by_name(_page(a, host))
        if {n: _stable(d) for n, d in before.items()} == \
                {n: _stable(d) for n, d in after.items()}:
            break
        time.sleep(0.3)
    cmd = _by_name(cmd)
    assert set(cmd) == set(after) == set(names), (cmd, after)
    for n in names:
        assert _stable(cmd[n]) == _stable(after[n]), (n, cmd[n], after[n])
    return r, cmd


def _wait_page(a, host, name, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        d = _by_name(_page(a, host)).get(name)
        if d and pred(d):
            return d
        assert time.monotonic() < deadline, "status of %s: %s" % (name, d)
        time.sleep(0.3)


@pytest.mark.log_allow(r"AA00305: (bad|pending)\.t85\.test: ")
def test_status_and_account(apache, pebble, faultproxy, proxy_for):
    """good: a certificate; bad: a wrong EAB HMAC at its own CA (a
    configuration error); pending: its CA down. Then the account."""
    good, bad, pending = "good.t85.test", "bad.t85.test", "pending.t85.test"
    wrong = b64url(secrets.token_bytes(32))
    down = proxy_for(pebble)
    down.down(True)
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMERetryDelay 1s\n"
               + STATUS_CONF + "ACMEDomain %s\n" % good + vhosts(good)
               + vhosts(bad, https_extra="  ACMEDomain %s\n  ACMEServer %s\n"
                        "  ACMEEAB kid-1 %s\n" % (bad, faultproxy.directory_url, wrong))
               + vhosts(pending, https_extra="  ACMEDomain %s\n  ACMEServer %s\n"
                        % (pending, down.directory_url)))
    a.start()
    served = a.wait_cert(good, timeout=TIMEOUT)
    a.wait_state(bad, lambda s: (s.get("last_error") or {}).get("kind")
                 == "configuration", timeout=60, what="a configuration error")
    a.wait_state(pending, lambda s: s.get("failures", 0) >= 1, timeout=60)
    _wait_page(a, good, good, lambda d: d["state"] == "valid")

    # --json: the page's objects, and the states as the page has them
    r, doc = _same_as_page(a, good, good, bad, pending)
    assert r.returncode == 1, r    # an errored domain
    g, b, p = doc[good], doc[bad], doc[pending]
    assert g["state"] == "valid" and g["key"] == good, g
    assert g["certificate"]["serial"].lstrip("0").upper() \
        == served.serial.lstrip("0").upper(), g
    assert "Pebble" in g["certificate"]["issuer"], g
    assert g["renew_from"] in ("window", "ari") and g["renew_at"], g
    assert g["last_error"] is None and g["failures"] == 0, g
    assert b["state"] == "errored" and b["certificate"] is None, b
    assert b["last_error"]["kind"] == "configuration", b
    assert "ACMEEAB" in b["last_error"]["hint"] and b["failures"] >= 1, b
    assert p["state"] == "pending" and p["certificate"] is None, p
    assert p["renew_at"] is None and p["last_error"]["kind"] == "transient", p
    assert p["failures"] >= 1 and p["next_attempt"], p
    for d in doc.values():
        assert d["held_until"] is None and d["restart_pending"] is False, d
    assert wrong not in r.stdout and pebble.eab["kid-1"] not in r.stdout

    # one line per domain: name, state, key types, notAfter, renewal, error
    r = a.acmeauto("status")
    assert r.returncode == 1, r
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATE"], r.stdout
    rows = {l.split()[0]: l for l in lines[1:]}
    assert set(rows) == {good, bad, pending}, r.stdout
    assert rows[good].split()[1] == "valid", rows[good]
    for t in g["key_types"]:
        assert t in rows[good], rows[good]
    assert g["certificate"]["not_after"][:10] in rows[good], rows[good]
    assert "(%s)" % g["renew_from"] in rows[good], rows[good]
    assert rows[bad].split()[1] == "errored", rows[bad]
    assert b["last_error"]["type"] in rows[bad], rows[bad]
    assert rows[pending].split()[1] == "pending", rows[pending]
    assert all(len(l) < 200 for l in lines), r.stdout

    # one NAME (any of its names): the details, or the object alone
    r = a.acmeauto("status", bad)
    assert r.returncode == 1, r
    assert re.search(r"^state:\s+errored$", r.stdout, re.M), r.stdout
    assert "ACMEEAB" in r.stdout and faultproxy.directory_url in r.stdout, r.stdout
    r = a.acmeauto("status", good, "--json")
    assert r.returncode == 0, r
    one = json.loads(r.stdout)
    assert one["name"] == good and one["state"] == "valid", one
    r = a.acmeauto("status", "nothere.t85.test")
    assert r.returncode == 3 and "nothere.t85.test is not a managed domain" in r.stderr, r
    assert good in r.stderr, r.stderr

    # the account: as Pebble reports it; none yet where no registration
    # went through
    r = a.acmeauto("account")
    assert r.returncode == 0, r
    blocks = {re.search(r"^CA:\s+(\S+)", blk, re.M).group(1): blk
              for blk in r.stdout.strip().split("\n\n")}
    assert set(blocks) == {pebble.directory_url, faultproxy.directory_url,
                           down.directory_url}, r.stdout
    mine = blocks[pebble.directory_url]
    assert re.search(r"^status:\s+valid$", mine, re.M), mine
    url = re.search(r"^account:\s+(https://\S+)$", mine, re.M).group(1)
    with open("%s/accounts/%s/account.json" % (a.store_dir, _account_id(a, pebble))) as f:
        assert json.load(f)["url"] == url
    assert "mailto:admin@example.org" in mine, mine
    assert "none yet" in blocks[faultproxy.directory_url], r.stdout
    assert "none yet" in blocks[down.directory_url], r.stdout

    r = a.acmeauto("account", "--ca", "https://127.0.0.1:9/nothere")
    assert r.returncode == 3, r
    assert "https://127.0.0.1:9/nothere is not an ACMEServer" in r.stderr, r.stderr
    assert pebble.directory_url in r.stderr, r.stderr

    # a new ACMEContact, a restart, then --update-contact tells the CA
    with open(a.conf_path) as f:
        conf = f.read()
    with open(a.conf_path, "w") as f:
        f.write(conf.replace("ACMEContact admin@example.org",
                             "ACMEContact ops@example.org"))
    a.graceful()
    r = a.acmeauto("account", "--ca", pebble.directory_url, "--update-contact")
    assert r.returncode == 0, r
    assert re.search(r"^contact:\s+mailto:ops@example.org$", r.stdout, re.M), r.stdout
    r = a.acmeauto("account", "--ca", pebble.directory_url)
    assert r.returncode == 0, r
    assert re.search(r"^contact:\s+mailto:ops@example.org$", r.stdout, re.M), r.stdout
    assert re.search(r"^account:\s+%s$" % re.escape(url), r.stdout, re.M), r.stdout


def _account_id(a, pebble):
    """accounts/<id>/ of the Pebble account: the one directory with an
    account.json (the other CAs have none)."""
    import os
    base = os.path.join(a.store_dir, "accounts")
    ids = [d for d in os.listdir(base)
           if os.path.exists(os.path.join(base, d, "account.json"))]
    assert len(ids) == 1, ids
    return ids[0]


def test_status_held_back(apache, pebble):
    """ACMEActivationDelay with a renewal staged: held back, on the page
    and in the command, until the same time."""
    name = "held.t85.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"])
               + "ACMEActivationDelay 1h\nACMERetryDelay 1s\n"
               + STATUS_CONF + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    # a renewal staged now; the parent holds it back once it has looked
    # at it (the module's own restart)
    r = a.acmeauto("renew", name, "--force", "--no-wait")
    assert r.returncode == 5, r
    page = _wait_page(a, name, name, lambda d: d["state"] == "held back")
    assert page["held_until"] and page["restart_pending"] is False, page
    r, doc = _same_as_page(a, name, name)
    assert r.returncode == 0, r
    d = doc[name]
    assert d["state"] == "held back" and d["held_until"] == page["held_until"], d
    assert d["certificate"]["serial"].lstrip("0").upper() \
        == first.serial.lstrip("0").upper(), d
    r = a.acmeauto("status", name)
    assert re.search(r"^state:\s+held back$", r.stdout, re.M), r.stdout
    assert re.search(r"^held until:\s+%s$" % re.escape(page["held_until"]),
                     r.stdout, re.M), r.stdout
