"""Accounts keyed by CA and EAB key id (issue 9, SPEC §2 ACMEEAB): the
account belongs to the directory URL without its query string plus the key
id.  Two key ids at one directory URL get two accounts; a query variant of
the URL (DigiCert's ?action=renew&orderId=) reuses the account; ACMEEAB per
ACMEServer URL sends each CA its own values on failover; an account an
earlier version stored under the URL alone is adopted, never registered
anew.  Names under *.t92.test."""

import base64
import glob
import hashlib
import json
import os
import pwd
import time

import pytest

from harness import RUN_USER, vhosts

TIMEOUT = 90
QUERY = "?action=renew&orderId=92"


def _eab_kid(entry):
    """The key id of the EAB inner JWS (RFC 8555 §7.3.4) of a newAccount."""
    eab = (entry.payload or {}).get("externalAccountBinding")
    if not eab:
        return None
    text = eab["protected"]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))["kid"]


def _created(proxy, since=0):
    """newAccount requests that created an account (201, RFC 8555 §7.3)."""
    return [e for e in proxy.entries(kind="newAccount", since=since) if e.status == 201]


def _accounts(a):
    """Stored account records by directory name."""
    out = {}
    for path in glob.glob(os.path.join(a.store_dir, "accounts", "*", "account.json")):
        with open(path) as f:
            out[os.path.basename(os.path.dirname(path))] = json.load(f)
    return out


def _order_signer(proxy, name):
    """The account URL (JWS kid) that ordered a certificate for name."""
    for e in proxy.entries(kind="newOrder"):
        ids = [i["value"] for i in (e.payload or {}).get("identifiers", [])]
        if name in ids and e.status == 201:
            return e.protected["kid"]
    raise AssertionError("no order for %s:\n%s" % (name, proxy.format_log(40)))


def _site(name, extra):
    return vhosts(name, acme_domain="", https_extra=extra)


def test_key_ids_and_query_variants(apache, pebble, faultproxy):
    """Two key ids at one URL: two accounts; the URL with a query string
    and the first key id: the first key id's account, no new one."""
    url = faultproxy.directory_url
    a1, b2, q1 = "one.t92.test", "two.t92.test", "query.t92.test"
    conf = ("ACMEAgreeTOS on\nACMEContact admin@example.org\n"
            + _site(a1, "  ACMEEAB kid-1 %s\n" % pebble.eab["kid-1"])
            + _site(b2, "  ACMEEAB kid-2 %s\n" % pebble.eab["kid-2"])
            + _site(q1, "  ACMEServer %s%s\n  ACMEEAB kid-1 %s\n"
                    % (url, QUERY, pebble.eab["kid-1"])))
    a = apache(conf, acme_server=url)
    a.start()
    for name in (a1, b2, q1):
        a.wait_cert(name, timeout=TIMEOUT)

    created = _created(faultproxy)
    assert sorted(_eab_kid(e) for e in created) == ["kid-1", "kid-2"], \
        faultproxy.format_log(60)
    stored = _accounts(a)
    assert sorted(r["kid"] for r in stored.values()) == ["kid-1", "kid-2"], stored
    by_kid = {r["kid"]: r["url"] for r in stored.values()}
    assert by_kid["kid-1"] != by_kid["kid-2"]
    assert _order_signer(faultproxy, a1) == by_kid["kid-1"]
    assert _order_signer(faultproxy, b2) == by_kid["kid-2"]
    # the query variant went to the URL as configured, with kid-1's account
    assert any(e.path.endswith(QUERY) for e in faultproxy.entries(kind="directory"))
    assert _order_signer(faultproxy, q1) == by_kid["kid-1"]

    # The command sees the same accounts: one per key id.
    cp = a.acmeauto("account")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "key id:   kid-1" in cp.stdout and "key id:   kid-2" in cp.stdout, cp.stdout
    for account_url in by_kid.values():
        assert account_url in cp.stdout, cp.stdout


@pytest.mark.log_allow(r"AA00305: failover\.t92\.test: ", r"AA00401: failover\.t92\.test: ")
def test_failover_sends_each_ca_its_own_values(apache, pebble, faultproxy, proxy_for):
    """ACMEServer A B with ACMEEAB per URL: A is asked with kid-1 only, B
    (after the failover) with kid-2 from its file, and B's account is the
    one that orders."""
    first, second = faultproxy, proxy_for(pebble)
    name = "failover.t92.test"
    # The first CA is unavailable for every registration (transient, so
    # the job fails over after three attempts).
    first.fail_next(50, 503, kind="newAccount")
    a = apache("", acme_server=None)
    eab_file = os.path.join(a.root, "eab-second.json")
    with open(eab_file, "w") as f:
        json.dump({"kid": "kid-2", "hmac": pebble.eab["kid-2"]}, f)
    os.chmod(eab_file, 0o600)
    with open(a.conf_path, "a") as f:
        f.write("ACMEAgreeTOS on\nACMEContact admin@example.org\nACMERetryDelay 1s\n"
                "ACMEServer %s %s\nACMEEAB %s kid-1 %s\nACMEEAB %s file:%s\n"
                % (first.directory_url, second.directory_url,
                   first.directory_url, pebble.eab["kid-1"],
                   second.directory_url, eab_file)
                + _site(name, ""))
    a.start()
    a.wait_cert(name, timeout=TIMEOUT)

    asked_first = first.entries(kind="newAccount")
    assert len(asked_first) >= 3, first.format_log(40)
    assert {_eab_kid(e) for e in asked_first} == {"kid-1"}, first.format_log(40)
    asked_second = second.entries(kind="newAccount")
    assert asked_second and {_eab_kid(e) for e in asked_second} == {"kid-2"}, \
        second.format_log(40)
    created = _created(second)
    assert len(created) == 1, second.format_log(40)
    stored = _accounts(a)
    assert [r["kid"] for r in stored.values()] == ["kid-2"], stored
    assert _order_signer(second, name) == list(stored.values())[0]["url"]


def _old_id(url):
    """The directory name an earlier version gave a CA URL's account."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def test_account_of_an_earlier_version_is_adopted(apache, pebble, faultproxy):
    """A store from before key ids counted (accounts/<hash of the URL>/,
    no "kid" in account.json): the job takes that account over for the
    configured key id and registers none."""
    url = faultproxy.directory_url
    first, later = "before.t92.test", "after.t92.test"
    a = apache("ACMEAgreeTOS on\nACMEContact admin@example.org\n"
               "ACMEEAB kid-3 %s\n" % pebble.eab["kid-3"] + _site(first, ""),
               acme_server=url)
    a.start()
    a.wait_cert(first, timeout=TIMEOUT)
    a.stop()
    # Turn the store into what an earlier version left for the URL with
    # its query string: the account under the URL's hash, no key id.
    [(own, record)] = _accounts(a).items()
    legacy = _old_id(url + QUERY)
    accounts = os.path.join(a.store_dir, "accounts")
    os.rename(os.path.join(accounts, own), os.path.join(accounts, legacy))
    del record["kid"]
    path = os.path.join(accounts, legacy, "account.json")
    with open(path, "w") as f:
        json.dump(record, f)
    user = pwd.getpwnam(RUN_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    mark = time.monotonic()

    b = apache("ACMEAgreeTOS on\nACMEContact admin@example.org\n"
               "ACMEEAB kid-3 %s\n" % pebble.eab["kid-3"] + _site(later, ""),
               acme_server=url + QUERY, store_dir=a.store_dir)
    b.start()
    b.wait_cert(later, timeout=TIMEOUT)
    assert not faultproxy.entries(kind="newAccount", since=mark), faultproxy.format_log(40)
    assert _order_signer(faultproxy, later) == record["url"]
    stored = _accounts(b)
    assert stored[own]["url"] == record["url"], stored
    assert stored[own]["kid"] == "kid-3" and stored[own]["adopted_from"] == legacy
    assert legacy in stored, "the earlier account must stay for other key ids"
    assert b.log_lines(r"adopted as accounts/%s/" % own)


def test_configtest_refuses_eab_for_an_unknown_url(apache, pebble):
    """ACMEEAB URL ... for a URL that is no ACMEServer of its context would
    never be sent: configtest says so, naming the directive."""
    url = pebble.directory_url
    a = apache("ACMEEAB %s kid-1 %s\nACMEEAB %sx kid-2 %s\nACMEDomain c.t92.test\n"
               % (url, pebble.eab["kid-1"], url, pebble.eab["kid-2"]))
    rc, out = a.configtest()
    assert rc != 0
    assert "ACMEEAB at " in out and "%sx is not one of the ACMEServer URLs" % url in out, out
    # the same URL in a query-less form is fine, as is a vhost's own
    b = apache("ACMEEAB %s kid-1 %s\n" % (url, pebble.eab["kid-1"])
               + _site("d.t92.test", "  ACMEServer %s%s\n  ACMEEAB %s none\n"
                       % (url, QUERY, url)))
    rc, out = b.configtest()
    assert rc == 0, out
