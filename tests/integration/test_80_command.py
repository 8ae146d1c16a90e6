"""The acmeauto command (SPEC §4): what every subcommand shares — the
configuration the running server hands it (handoff/config.json), global
options, usage errors and exit codes.  The subcommands have files of their
own (test_8x_*).  Names under *.t80.test."""

import json
import os
import stat

from harness import account_conf, vhosts


def _started(apache, pebble, body=""):
    name = "cmd.t80.test"
    a = apache(account_conf("kid-1", pebble.eab["kid-1"]) + body
               + "ACMEKeyType ec256 rsa2048\nACMEDomain %s www.%s\n" % (name, name)
               + vhosts(name))
    a.start()
    return a, name


def test_config_handed_to_the_command(apache, pebble):
    a, name = _started(apache, pebble)
    path = os.path.join(a.store_dir, "handoff", "config.json")
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and st.st_uid == 0, st
    assert st.st_mode & 0o022 == 0, oct(st.st_mode)
    with open(path) as f:
        text = f.read()
    conf = json.loads(text)
    assert conf["pid"] == a.pid
    assert conf["user"] == "www-data" and conf["uid"] == 33, conf
    [d] = conf["domains"]
    assert d["names"] == [name, "www." + name], d
    assert d["key_types"] == ["ec256", "rsa2048"], d
    assert d["servers"] == [pebble.directory_url], d
    assert d["eab_kid"] == "kid-1" and d["eab_inline"] is True, d
    # the EAB HMAC, in whatever encoding, is nowhere in it
    hmac = pebble.eab["kid-1"]
    assert hmac not in text and hmac.rstrip("=") not in text
    assert pebble.eab_std("kid-1") not in text


def test_usage_errors_and_exit_codes(apache, pebble, tmp_path):
    a, name = _started(apache, pebble)
    r = a.acmeauto("--help", store=False)
    assert r.returncode == 0 and "exit codes" in r.stdout, r
    for cmd in ("status", "check", "renew", "revoke", "account"):
        assert cmd in r.stdout, r.stdout
    r = a.acmeauto("frobnicate")
    assert r.returncode == 2 and "unknown command frobnicate" in r.stderr, r
    r = a.acmeauto("--bogus", "status", store=False)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr, r
    r = a.acmeauto(store=False)
    assert r.returncode == 2 and "usage:" in r.stderr, r
    # no store there: exit 3, and the message says where it looked
    missing = str(tmp_path / "nostore")
    r = a.acmeauto("--store", missing, "status", store=False)
    assert r.returncode == 3, r
    assert missing + "/handoff/config.json" in r.stderr, r.stderr


def test_store_found_in_httpd_conf(apache, pebble, tmp_path):
    """Without --store, ACMEStoreDir is read from --config (and its
    Include files, relative to its ServerRoot)."""
    a, name = _started(apache, pebble)
    inc = tmp_path / "conf.d"
    inc.mkdir()
    (inc / "acme.conf").write_text('ACMEStoreDir "%s"\n' % a.store_dir)
    main = tmp_path / "httpd.conf"
    main.write_text("ServerRoot %s\nIncludeOptional conf.d/*.conf\n" % tmp_path)
    r = a.acmeauto("--config", str(main), "renew", "no.such.test", store=False)
    assert r.returncode == 3, r
    assert "no.such.test is not a managed domain" in r.stderr, r.stderr
    assert name in r.stderr, r.stderr
