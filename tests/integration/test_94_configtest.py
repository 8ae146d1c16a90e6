"""configtest catches what would fail at run time or do what was not meant
(issue 9, SPEC §2): wildcard names, names a vhost's certificate does not
cover, an undeliverable ServerAdmin as contact, durations without unit, an
EAB file others can read, a name mod_md manages too; and ACMEHttpProxy,
through which the module reaches the CA.  Names under *.t94.test.

All but the last test only run `apache2 -t` (no start, no CA)."""
import json
import os
import select
import socket
import socketserver
import threading

import pytest

from harness import vhosts, account_conf, write_file, HTTPS_PORT

TIMEOUT = 60


def _line_of(a, text, nth=1):
    """Line number (1-based) of the nth line of a's httpd.conf holding text."""
    with open(a.conf_path) as f:
        hits = [i for i, line in enumerate(f, 1) if text in line]
    assert len(hits) >= nth, "%r not in %s" % (text, a.conf_path)
    return hits[nth - 1]


def _tls_vhost_at(a, nth=1):
    return "%s:%d" % (a.conf_path, _line_of(a, "<VirtualHost 127.0.0.1:%d>" % HTTPS_PORT,
                                              nth))


def _warnings(out, logno):
    return [l for l in out.splitlines() if l.startswith("AA%s: warning: " % logno)]


# --------------------------------------------------------------------------
# wildcards need dns-01

def test_wildcard_alias_under_bare_acmedomain_is_refused(apache):
    name = "wild.t94.test"
    a = apache(vhosts(name, aliases=["www.%s" % name, "*.%s" % name], acme_domain=""))
    rc, out = a.configtest()
    assert rc != 0, out
    assert "'*.%s' is a wildcard" % name in out, out
    assert "dns-01" in out and "ACMEDNSCmd" in out, out
    # where: the vhost whose names the bare ACMEDomain takes
    assert "<VirtualHost> at %s" % _tls_vhost_at(a) in out, out
    assert "ACMEDomain at %s:%d" % (a.conf_path, _line_of(a, "  ACMEDomain")) in out, out


def test_wildcard_in_acmedomain_is_refused(apache):
    a = apache("ACMEDomain www.wildlist.t94.test *.wildlist.t94.test\n")
    rc, out = a.configtest()
    assert rc != 0, out
    assert "'*.wildlist.t94.test' is a wildcard" in out, out
    assert "ACMEDNSCmd" in out, out


# --------------------------------------------------------------------------
# names a vhost's certificate does not cover

def test_aliases_not_in_explicit_acmedomain_warn(apache):
    name = "cover.t94.test"
    a = apache(vhosts(name, aliases=["www.%s" % name, "old.%s" % name, "*.%s" % name],
                      acme_domain="%s www.%s" % (name, name))
               + "ACMEDomain covered.t94.test www.covered.t94.test\n"
               + vhosts("covered.t94.test", aliases=["www.covered.t94.test"]))
    rc, out = a.configtest()
    assert rc == 0, out
    warned = _warnings(out, "00602")
    # once: the TLS vhost; its port-80 twin hands out no certificate, and
    # the vhost whose names are all covered says nothing
    assert len(warned) == 1, out
    assert "<VirtualHost> at %s" % _tls_vhost_at(a) in warned[0], out
    assert "does not cover old.%s, *.%s" % (name, name) in warned[0], out
    assert "www.%s," % name not in warned[0], out


# --------------------------------------------------------------------------
# ServerAdmin as the contact

def test_undeliverable_server_admin_is_no_contact(apache):
    a = apache("ServerAdmin webmaster@localhost\n"
               "ACMEDomain one.admin.t94.test\nACMEDomain two.admin.t94.test\n"
               + vhosts("one.admin.t94.test") + vhosts("two.admin.t94.test"))
    rc, out = a.configtest()
    assert rc == 0, out
    warned = _warnings(out, "00601")
    assert len(warned) == 1, out                # once, not per domain
    assert "ServerAdmin webmaster@localhost" in warned[0], out
    assert "ACMEContact" in warned[0], out


@pytest.mark.parametrize("admin, warned", [
    ("hostmaster@example.org", False),
    ("admin@intranet", True),
    ("root@box.local", True),
    ("root@localhost.localdomain", True),
])
def test_server_admin_contact_rule(apache, admin, warned):
    a = apache("ServerAdmin %s\nACMEDomain rule.admin.t94.test\n" % admin
               + vhosts("rule.admin.t94.test"))
    rc, out = a.configtest()
    assert rc == 0, out
    assert bool(_warnings(out, "00601")) == warned, out


def test_acmecontact_silences_the_admin_warning(apache):
    a = apache("ServerAdmin webmaster@localhost\nACMEContact ops@example.org\n"
               "ACMEDomain set.admin.t94.test\n" + vhosts("set.admin.t94.test"))
    rc, out = a.configtest()
    assert rc == 0 and not _warnings(out, "00601"), out


# --------------------------------------------------------------------------
# durations need a unit

@pytest.mark.parametrize("line, suggestion", [
    ("ACMECheckInterval 12", "did you mean 12s, 12m or 12h?"),
    ("ACMERetryDelay 30", "did you mean 30s or 30m?"),
    ("ACMERenewWindow 30", "did you mean 30h or 30d?"),
    ("ACMEActivationDelay 2", "did you mean 2s, 2m, 2h or 2d?"),
])
def test_duration_without_unit_is_refused(apache, line, suggestion):
    directive, value = line.split()
    a = apache(line + "\n")
    rc, out = a.configtest()
    assert rc != 0, out
    assert "%s: '%s' has no unit: %s" % (directive, value, suggestion) in out, out


def test_zero_needs_no_unit(apache):
    a = apache("ACMEActivationDelay 0\n")
    rc, out = a.configtest()
    assert rc == 0, out


# --------------------------------------------------------------------------
# the EAB file is a secret

def _eab(a, pebble, mode, group=0):
    path = write_file(os.path.join(a.root, "eab.json"),
                      json.dumps({"kid": "kid-1", "hmac": pebble.eab["kid-1"]}), mode=mode)
    os.chown(path, 0, group)
    return path


def test_eab_file_readable_by_others_is_refused(apache, pebble):
    a = apache("ACMEEAB file:@ROOT@/eab.json\n")
    path = _eab(a, pebble, 0o644)
    rc, out = a.configtest()
    assert rc != 0, out
    assert "ACMEEAB: 'file:%s' is readable by every user" % path in out, out
    assert "chmod 600 %s" % path in out, out
    assert pebble.eab["kid-1"] not in out


def test_eab_file_readable_by_a_group_is_refused(apache, pebble):
    import grp
    a = apache("ACMEEAB file:@ROOT@/eab.json\n")
    path = _eab(a, pebble, 0o640, grp.getgrnam("www-data").gr_gid)
    rc, out = a.configtest()
    assert rc != 0, out
    assert "is readable by group www-data" in out and "chmod 600 %s" % path in out, out


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_eab_file_for_root_only_passes(apache, pebble, mode):
    a = apache("ACMEEAB file:@ROOT@/eab.json\n")
    _eab(a, pebble, mode, group=0)
    rc, out = a.configtest()
    assert rc == 0, out


# --------------------------------------------------------------------------
# mod_md next to this module

MOD_MD = [("md_module", "mod_md.so")]


def test_name_managed_by_mod_md_too_warns(apache):
    a = apache("MDCertificateAgreement accepted\nMDStoreDir @ROOT@/md\n"
               "MDomain md.t94.test auto\n"
               "<MDomainSet set.md.t94.test www.set.md.t94.test>\n"
               "  MDMembers manual\n</MDomainSet>\n"
               "MDomain elsewhere.t94.test\n"
               "ACMEDomain md.t94.test\nACMEDomain www.set.md.t94.test\n"
               "ACMEDomain mine.t94.test\n",
               extra_modules=MOD_MD)
    rc, out = a.configtest()
    assert rc == 0, out
    warned = _warnings(out, "00603")
    assert len(warned) == 2, out
    md_at = "%s:%d" % (a.conf_path, _line_of(a, "MDomain md.t94.test"))
    set_at = "%s:%d" % (a.conf_path, _line_of(a, "<MDomainSet"))
    assert any("MDomain md.t94.test at %s" % md_at in w
               and "ACMEDomain at %s:%d" % (a.conf_path, _line_of(a, "ACMEDomain md.t94"))
               in w for w in warned), out
    assert any("MDomainSet www.set.md.t94.test at %s" % set_at in w for w in warned), out
    assert "mine.t94.test" not in out and "elsewhere" not in out, out


def test_mod_md_without_overlap_is_quiet(apache):
    a = apache("MDCertificateAgreement accepted\nMDStoreDir @ROOT@/md\n"
               "MDomain other.md.t94.test\nACMEDomain quiet.md.t94.test\n",
               extra_modules=MOD_MD)
    rc, out = a.configtest()
    assert rc == 0 and "AA00603" not in out, out


# --------------------------------------------------------------------------
# ACMEHttpProxy

@pytest.mark.parametrize("value, why", [
    ("bogus", "is not a proxy URL"),
    ("ftp://proxy.example:21", "is not a proxy URL"),
    ("http://proxy.example:3128/some/path", "is not a proxy URL"),
    ("http://user:secret@proxy.example:3128", "carries a user name or password"),
])
def test_bad_http_proxy_is_refused(apache, value, why):
    a = apache("ACMEHttpProxy %s\n" % value)
    rc, out = a.configtest()
    assert rc != 0, out
    assert "ACMEHttpProxy: '%s' %s" % (value, why) in out, out


@pytest.mark.parametrize("value", ["none", "http://proxy.example:3128",
                                   "socks5h://[::1]:1080"])
def test_good_http_proxy_passes(apache, value):
    a = apache("ACMEHttpProxy %s\n" % value)
    rc, out = a.configtest()
    assert rc == 0, out


class _ConnectProxy(socketserver.ThreadingTCPServer):
    """A minimal CONNECT-only HTTP proxy on loopback that records targets."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _ConnectHandler)
        self.targets = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


class _ConnectHandler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b"\r\n", 1)[0].split()[:2]
        if method != b"CONNECT":
            self.request.sendall(b"HTTP/1.1 405 CONNECT only\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.decode().rsplit(":", 1)
        with self.server.lock:
            self.server.targets.append(target.decode())
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        ends = [self.request, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.request else self.request).sendall(data)
        finally:
            upstream.close()


def test_http_proxy_carries_the_acme_traffic(apache, pebble):
    """The module reaches Pebble through ACMEHttpProxy; with it, an
    undeliverable ServerAdmin sends no contact (and the start logs that, as
    a notice: the server works as configured)."""
    name = "proxy.t94.test"
    proxy, a = _ConnectProxy(), None
    try:
        a = apache(account_conf("kid-1", pebble.eab["kid-1"], contact=None)
                   + "ServerAdmin webmaster@localhost\n"
                   + "ACMEHttpProxy %s\nACMERetryDelay 1s\n" % proxy.url
                   + vhosts(name, acme_domain=""))
        a.start()
        a.wait_cert(name, timeout=TIMEOUT)
        host = pebble.directory_url.split("/")[2]
        assert host in proxy.targets, proxy.targets
        assert a.log_lines(r"\[acmeauto:notice\].*AA00601: ServerAdmin webmaster@localhost"), \
            a.error_log()
        with open(os.path.join(a.store_dir, "handoff", "config.json")) as f:
            conf = json.load(f)
        dom = conf["domains"][0]
        assert dom["http_proxy"] == proxy.url
        assert dom["contacts"] == []
    finally:
        if a:
            a.stop()            # before the proxy: no job cut off mid-request
        proxy.stop()
