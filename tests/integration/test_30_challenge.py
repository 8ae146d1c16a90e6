"""http-01 answered by the module's own request hook (SPEC §3): malformed
tokens get 404 without touching the file system; a well-formed token the
module does not hold is declined, so whatever else serves the path (files
from Certbot's webroot, mod_md) keeps working beside it; a challenge is
answered before authentication, redirects and rewrites."""

import os
import secrets
import signal
import time

import pytest

from harness import ERROR_LEVELS, account_conf, b64url, mkdir, vhosts, write_file

TIMEOUT = 90
PREFIX = "/.well-known/acme-challenge/"
SECRET = "TOP-SECRET-%s" % secrets.token_hex(8)


@pytest.fixture
def server(apache, pebble):
    """A running Apache with one managed name and planted secret files."""
    name = "chal.t30.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + "ACMEDomain %s\n" % name
               + vhosts(name))
    # files a traversal could reach: the server root, htdocs' parent, the store's parent
    write_file(os.path.join(a.root, "secret.txt"), SECRET + "\n")
    write_file(os.path.join(a.conf_dir, "secret.txt"), SECRET + "\n")
    a.start()
    a.name = name
    return a


def _hosts(a):
    return [a.name, "unmanaged.t30.test"]


def test_unknown_valid_token_is_404(server):
    token = b64url(secrets.token_bytes(32))
    for host in _hosts(server):
        r = server.get(PREFIX + token, host)
        assert r.status == 404, (host, r)


def test_unknown_token_is_left_to_the_docroot(server):
    """A token the module does not hold goes on to the rest of Apache: a
    file Certbot's webroot plugin wrote under the DocumentRoot is served
    (a migration keeps Certbot's renewals working), on a managed vhost and
    on one the module does not manage, and a POST is not refused either."""
    token = b64url(secrets.token_bytes(32))
    d = mkdir(os.path.join(server.htdocs, ".well-known", "acme-challenge"))
    write_file(os.path.join(d, token), "certbot-" + token + "\n")
    for host in _hosts(server):
        r = server.get(PREFIX + token, host)
        assert r.status == 200 and r.text == "certbot-" + token + "\n", (host, r)
    r = server.get(PREFIX + token, server.name, method="POST")
    assert r.status != 405, r


def _traversal_paths():
    paths = []
    for depth in range(1, 7):
        for dots, sep in (("..", "/"), ("%2e%2e", "/"), ("..", "%2f"), ("%2e%2e", "%2f"),
                          ("%2E%2E", "%2F"), (".%2e", "/")):
            up = sep.join([dots] * depth)
            paths.append(PREFIX + up + sep + "secret.txt")
            paths.append(PREFIX + up + sep + "conf" + sep + "secret.txt")
            paths.append(PREFIX + up + sep + "etc" + sep + "passwd")
    paths += [PREFIX + "..", PREFIX + "%2e%2e", PREFIX + "../", PREFIX + "%2e%2e%2f",
              PREFIX + "....//....//secret.txt", PREFIX + "..\\..\\secret.txt",
              PREFIX + "%00", PREFIX + "abc%00def"]
    return paths


def test_traversal_never_serves_files(server):
    bad = []
    for host in _hosts(server):
        for path in _traversal_paths():
            r = server.get(path, host)
            if r.status not in (400, 404) or SECRET in r.text or "root:x:0:0" in r.text:
                bad.append("%s %s -> %d %r" % (host, path, r.status, r.body[:80]))
    assert not bad, "traversal answered:\n" + "\n".join(bad)


@pytest.mark.parametrize("token", [
    "A" * 300,
    b64url(secrets.token_bytes(225)),     # 300 base64url characters
    "abc$def",
    "abc%24def",
    "abc.def",
    "abc+def",
    "abc%20def",
    "abc/def",
    "",
], ids=["300xA", "300-b64url", "dollar", "pct-dollar", "dot", "plus", "space", "slash", "empty"])
def test_bad_token_is_404(server, token):
    r = server.get(PREFIX + token, server.name)
    assert r.status == 404, r
    assert SECRET not in r.text


def test_challenge_path_on_https_port_unknown_token(server):
    token = b64url(secrets.token_bytes(32))
    r = server.get(PREFIX + token, server.name, https=True)
    assert r.status == 404, r


def test_challenge_answered_before_auth_and_rewrites(apache, pebble):
    """Each HTTP vhost refuses or redirects everything; issuance still works,
    so the module answered Pebble's validation request first."""
    rewrite, basic, alias = "rewrite.t30.test", "basic.t30.test", "redirect.t30.test"
    guard_rewrite = ("  RewriteEngine on\n"
                     "  RewriteRule ^ https://elsewhere.t30.test/ [R=301,L]\n"
                     "  <Location />\n    Require all denied\n  </Location>\n")
    guard_basic = ('  <Location />\n    AuthType Basic\n    AuthName "closed"\n'
                   "    AuthUserFile @ROOT@/htpasswd\n    Require valid-user\n  </Location>\n")
    guard_alias = ("  Redirect permanent / https://elsewhere.t30.test/\n"
                   "  <Location />\n    Require all denied\n  </Location>\n")
    a = apache(account_conf("kid-2", pebble.eab["kid-2"])
               + vhosts(rewrite, acme_domain=rewrite, http_extra=guard_rewrite)
               + vhosts(basic, acme_domain=basic, http_extra=guard_basic)
               + vhosts(alias, acme_domain=alias, http_extra=guard_alias))
    write_file(os.path.join(a.root, "htpasswd"), "")
    a.start()
    # the guards work for ordinary requests, and for tokens the module does
    # not hold (those are left to the rest of the configuration)
    token = b64url(secrets.token_bytes(32))
    for path in ("/index.html", PREFIX + token):
        assert a.get(path, rewrite).status == 301
        assert a.get(path, basic).status == 401
        assert a.get(path, alias).status == 301
    for host in (rewrite, basic, alias):
        served = a.wait_cert(host, timeout=TIMEOUT)
        ok, out = a.verify_chain(served)
        assert ok, out
        assert host in served.sans


@pytest.mark.log_allow(r"AA00305: stale\.t30\.test: .*terms of service")
def test_stale_challenge_files_removed_at_restart(apache, pebble):
    """README: challenges/ holds answers in flight.  Answers a killed job
    left behind (older than an hour) are removed when the next child
    starts; a fresh one (the previous generation's job may still be at
    work) is kept."""
    name = "stale.t30.test"
    # terms not accepted: the job runs once, fails, and waits an hour
    a = apache(account_conf("kid-1", pebble.eab["kid-1"], tos="off")
               + "ACMEDomain %s\n" % name + vhosts(name))
    a.start()
    a.wait_log(r"ACMEAgreeTOS", timeout=60, levels=ERROR_LEVELS)
    chal = os.path.join(a.store_dir, "challenges")
    stale, fresh = os.path.join(chal, "stale-token_1"), os.path.join(chal, "fresh-token_2")
    write_file(stale, "stale.thumb\n")
    write_file(fresh, "fresh.thumb\n")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    mark = a.log_mark()
    os.kill(a.pid, signal.SIGUSR1)
    a.wait_log(r"AH00493", timeout=15, since=mark)
    deadline = time.monotonic() + 20
    while os.path.exists(stale):
        assert time.monotonic() < deadline, "stale challenge file still there"
        time.sleep(0.25)
    assert os.path.exists(fresh), "a fresh challenge file was removed"
