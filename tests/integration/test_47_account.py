"""An account the CA no longer knows (issue 3, problem types): the module
sets the stored account aside and registers anew at the next attempt, and
the renewal goes through; no test restart.

The CA really forgets the account: its Pebble is replaced by a fresh one at
the same URL (an empty database, as a CA that lost it would have), so the
accountDoesNotExist comes from the CA itself, and the new registration
creates an account there (201, RFC 8555 §7.3) under a new URL."""

import pytest
import glob
import json
import os

from harness import account_conf, vhosts

TIMEOUT = 90


def _created(proxy):
    """newAccount requests that created an account: 201 Created (RFC 8555
    §7.3; an existing account is answered 200, and Pebble's refused nonces
    400 badNonce)."""
    return [e for e in proxy.entries(kind="newAccount") if e.status == 201]


def _account_json(a):
    found = glob.glob(os.path.join(a.store_dir, "accounts", "*", "account.json"))
    assert len(found) == 1, found
    with open(found[0]) as f:
        return json.load(f)


@pytest.mark.log_allow(r"AA00305: lostaccount\.t47\.test: ", r"AA00301: lostaccount\.t47\.test: the CA does not know the stored account", r"AA00401: lostaccount\.t47\.test: ")
def test_account_unknown_to_ca_is_registered_again(apache, pebble_factory, proxy_for):
    p = pebble_factory(config={"certificateValidityPeriod": 120}, name="t47-lost-account")
    proxy = proxy_for(p)
    name = "lostaccount.t47.test"
    # The renewal (90% window: ~12 s after issuance) meets the fresh CA.
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERenewWindow 90%%\n"
               "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               pebble=p, acme_server=proxy.directory_url)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    created = _created(proxy)
    assert len(created) == 1, proxy.format_log()
    old_url = _account_json(a)["url"]
    # No attempt may reach the old CA once the first certificate is served:
    # the proxy turns every request away while the CA is replaced.
    proxy.down(True)
    fresh = pebble_factory.replace(p)
    a.pebble = fresh                  # "issued" now means: by the fresh CA
    mark = proxy.log[-1].time
    proxy.down(False)

    second = a.wait_cert(name, timeout=TIMEOUT, not_serial=first.serial)
    assert name in second.sans
    assert fresh.issued(second), second.summary()
    ok, out = a.verify_chain(second)
    assert ok, out

    # The fresh CA itself refused the old account (not the proxy) ...
    refused = [e for e in proxy.entries(since=mark)
               if e.protected and e.protected.get("kid") == old_url
               and e.status in (400, 401, 403) and e.injected is None
               and e.kind != "newNonce"]
    assert refused, "the fresh CA was never asked with the old account:\n" + \
        proxy.format_log(60)
    a.wait_log(r"AA00305: %s: .*accountDoesNotExist" % name.replace(".", r"\."), timeout=5)
    assert a.log_lines(r"does not know the stored account"), "no notice of the lost account"
    # ... the old account was set aside, not deleted ...
    lost = glob.glob(os.path.join(a.store_dir, "accounts", "*", "account.json.lost.*"))
    assert len(lost) == 1, lost
    with open(lost[0]) as f:
        assert json.load(f)["url"] == old_url
    # ... and the fresh CA created exactly one account, under a new URL.
    created_after = [e for e in _created(proxy) if e.time > mark]
    assert len(created_after) == 1, proxy.format_log()
    assert len(_created(proxy)) == 2, proxy.format_log()
    new_url = _account_json(a)["url"]
    assert new_url != old_url
    later = [e for e in proxy.entries(since=created_after[0].time)
             if e.protected and e.protected.get("kid")]
    assert later and all(e.protected["kid"] == new_url for e in later), \
        "requests after the new registration not signed with the new account:\n" + \
        "\n".join(map(repr, later))
