"""IP address certificates (RFC 8738, issue 10): addresses among a
domain's names are ordered as "ip" identifiers, validated by http-01 at
the address itself, and end up as iPAddress SANs; a client that connects
to the address sends no SNI and gets the certificate of the <VirtualHost>
for that address.  Names under *.t102.test.

Pebble validates http-01 for 127.0.0.1 (and ::1 when the test's network
namespace has IPv6 on lo) by connecting to that address on port 5002."""
import ipaddress
import json
import re
import socket
import time

import pytest

from harness import (HTTPS_PORT, HTTP_PORT, OPENSSL_BIN, ServedCert, account_conf,
                     parse_cert, pem_certs, run, tail)

TIMEOUT = 90


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _fetch_without_sni(addr):
    """What `openssl s_client -noservername` connecting to addr is served."""
    host = "[%s]" % addr if ":" in addr else addr
    cp = run([OPENSSL_BIN, "s_client", "-connect", "%s:%d" % (host, HTTPS_PORT),
              "-noservername", "-showcerts"], timeout=20)
    chain = pem_certs(cp.stdout)
    if not chain:
        return None
    return ServedCert(name=addr, chain=chain, leaf=parse_cert(chain[0]),
                      output=cp.stdout + cp.stderr)


def _sans(cert):
    """(DNS names, IP addresses in canonical text) of a certificate."""
    m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.+)", cert.text)
    dns, ips = [], []
    for part in (m.group(1).split(",") if m else []):
        kind, _, value = part.strip().partition(":")
        if kind == "DNS":
            dns.append(value)
        elif kind == "IP Address":
            ips.append(str(ipaddress.ip_address(value)))
    return dns, ips


def _wait_issued_without_sni(a, addr):
    deadline = time.monotonic() + TIMEOUT
    while True:
        assert a.running(), a.diagnostics()
        served = _fetch_without_sni(addr)
        if served and a.is_acme_issued(served.leaf):
            return served
        if time.monotonic() > deadline:
            raise AssertionError("no ACME certificate served to %s without SNI in %ss: %s\n%s"
                                 % (addr, TIMEOUT, served.summary() if served else None,
                                    a.diagnostics()))
        time.sleep(1.0)


def test_ip_certificate_served_without_sni(apache, pebble):
    """::1 first (so the store key holds ':'), spelled otherwise in
    ServerAlias, 127.0.0.1 and the vhost's DNS name: one order, iPAddress
    SANs, served to SNI-less clients connecting to either address.

    ServerName stays a DNS name: mod_ssl matches ServerName against the
    certificate's DNS names only and warns (AH01909) for an address."""
    v6 = _has_ipv6_loopback()
    addrs = (["::1"] if v6 else []) + ["127.0.0.1"]
    listen = ("127.0.0.1:{h} [::1]:{h}" if v6 else "127.0.0.1:{h}").format(h=HTTPS_PORT)
    aliases = (["0:0:0::0:1"] if v6 else []) + ["127.0.0.1"]
    conf = (account_conf("kid-1", pebble.eab["kid-1"])
            + "<VirtualHost %s>\n  ServerName ip.t102.test\n  ServerAlias %s\n"
              "  SSLEngine on\n  ACMEDomain %s ip.t102.test\n</VirtualHost>\n"
            % (listen, " ".join(aliases), " ".join(addrs)))
    extra = ("Listen [::1]:%d\nListen [::1]:%d https" % (HTTP_PORT, HTTPS_PORT)) if v6 else ""
    a = apache(conf, base_extra=extra)
    rc, out = a.configtest()
    # every alias is covered: "0:0:0::0:1" is the "::1" of ACMEDomain
    assert rc == 0 and "AA00602" not in out, out
    a.start()
    for addr in addrs:
        served = _wait_issued_without_sni(a, addr)
        dns, ips = _sans(served.leaf)
        assert sorted(ips) == sorted(addrs), served.summary()
        assert dns == ["ip.t102.test"], served.summary()
        ok, out = a.verify_chain(served)
        assert ok, out
    # SNI-less and SNI clients get the same certificate
    assert a.served_cert("ip.t102.test").serial == served.serial
    # the store key (first name), config.json and the command
    key = addrs[0]
    assert a.state(key), "no state/%s.json" % key
    with open("%s/handoff/config.json" % a.store_dir) as f:
        names = [d["names"] for d in json.load(f)["domains"]]
    assert names == [addrs + ["ip.t102.test"]], names
    cp = a.acmeauto("status", key, "--json")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert all(addr in cp.stdout for addr in addrs), cp.stdout


def test_configtest_accepts_addresses(apache):
    a = apache("ACMEDomain 192.0.2.10 2001:DB8:0::1 www.ip.t102.test\n"
               "<VirtualHost 127.0.0.1:%d>\n  ServerName alias.t102.test\n"
               "  ServerAlias 192.0.2.11\n  SSLEngine on\n  ACMEDomain\n"
               "</VirtualHost>\n" % HTTPS_PORT)
    rc, out = a.configtest()
    assert rc == 0, out
    assert "warning" not in out.lower(), out


@pytest.mark.parametrize("garbage", ["192.0.2.300", "2001:db8:::1", "[2001:db8::1]",
                                     "fe80::1%eth0", "192.0.2"])
def test_configtest_refuses_garbage(apache, garbage):
    a = apache("ACMEDomain www.bad.t102.test %s\n" % garbage)
    rc, out = a.configtest()
    assert rc != 0, out
    assert "ACMEDomain: '%s' is neither a valid DNS name nor an IP address" % garbage \
        in out, tail(out)


def test_configtest_one_address_two_spellings(apache):
    a = apache("ACMEDomain 2001:db8::1 2001:DB8:0:0::1\n")
    rc, out = a.configtest()
    assert rc != 0, out
    assert "'2001:DB8:0:0::1' is listed twice" in out, out


def test_ip_certificate_by_tls_alpn_01(apache, pebble_factory):
    """RFC 8738 §6: an address validated by tls-alpn-01 alone — the CA
    connects to the address and sends its reverse-DNS name as SNI; the
    answer certificate carries the address as its iPAddress SAN."""
    ca = pebble_factory(config={"tlsPort": HTTPS_PORT}, name="ipalpn")
    conf = (account_conf("kid-1", ca.eab["kid-1"])
            + "ACMEChallenges tls-alpn-01\nProtocols h2 http/1.1 acme-tls/1\n"
            + "<VirtualHost 127.0.0.1:%d>\n  ServerName alpn.ip.t102.test\n"
              "  SSLEngine on\n  ACMEDomain 127.0.0.1 alpn.ip.t102.test\n"
              "</VirtualHost>\n" % HTTPS_PORT)
    a = apache(conf, pebble=ca)
    a.start()
    served = _wait_issued_without_sni(a, "127.0.0.1")
    dns, ips = _sans(served.leaf)
    assert ips == ["127.0.0.1"] and dns == ["alpn.ip.t102.test"], served.summary()
    assert a.log_lines(r"answering tls-alpn-01 challenge for 1\.0\.0\.127\.in-addr\.arpa"), \
        a.diagnostics()
    assert not a.log_lines(r"http-01 challenge for"), a.diagnostics()
