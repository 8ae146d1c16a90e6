"""An account the CA no longer knows (issue 3, problem types): the module
sets the stored account aside and registers anew at the next attempt, and
the renewal goes through; no test restart."""

import glob
import os

from harness import account_conf, vhosts

TIMEOUT = 90


def _created(proxy):
    """newAccount requests the CA answered (not the badNonce refusals that
    Pebble's 5% nonce rejection causes and the module retries)."""
    return [e for e in proxy.entries(kind="newAccount") if e.status in (200, 201)]


def test_account_unknown_to_ca_is_registered_again(apache, pebble_factory, proxy_for):
    p = pebble_factory(config={"certificateValidityPeriod": 120})
    proxy = proxy_for(p)
    name = "lostaccount.t47.test"
    # The renewal (90% window: ~12 s after issuance) meets the fault.
    a = apache(account_conf("kid-1", p.eab["kid-1"]) + "ACMERenewWindow 90%%\n"
               "ACMERetryDelay 1s\nACMEDomain %s\n" % name + vhosts(name),
               pebble=p, acme_server=proxy.directory_url)
    a.start()
    first = a.wait_cert(name, timeout=TIMEOUT)
    assert len(_created(proxy)) == 1
    proxy.fail_next(1, status=400, kind="newOrder", nonce=True, body={
        "type": "urn:ietf:params:acme:error:accountDoesNotExist",
        "detail": "The request specified an account that does not exist",
        "status": 400})
    second = a.wait_cert(name, timeout=TIMEOUT, not_serial=first.serial)
    assert name in second.sans
    line = a.wait_log(r"AA00305: %s: .*accountDoesNotExist" % name.replace(".", r"\."),
                      timeout=5)
    assert "registered again" in line or "account" in line, line
    assert a.log_lines(r"does not know the stored account"), "no notice of the lost account"
    lost = glob.glob(os.path.join(a.store_dir, "accounts", "*", "account.json.lost.*"))
    assert lost, "the lost account was not set aside"
    assert len(_created(proxy)) == 2, proxy.format_log()
