"""The acme-status page as an administrator sees it: rendered by headless
Chromium (Debian's chromium and chromium-driver, driven over the W3C
WebDriver HTTP API by the small client below), and the page's states
"renewing" and "held back" in its JSON and HTML.

One Apache for the whole file (module fixture `site`), 53 domains:
  - SITES: 50 domains (some with several names) whose CA is down (a fault
    proxy that drops every request): pending, each with a failure;
  - GOOD: a certificate from the session Pebble;
  - BAD: its own CA (a second proxy, so its own account) and a wrong EAB
    HMAC: errored, a configuration error with the CA's problem type;
  - SHORT: 120 s certificates (an extra Pebble) renewed at 90% of their
    lifetime, so a renewal is staged ~12 s after the first certificate.
ACMEAutoRestart is off, so the test is the administrator who restarts:
  phase "first"   : GOOD's and SHORT's first sets wait for a restart
                    (pending, restart_pending);
  restart         : both live;
  phase "renewing": SHORT's renewal staged, waiting for a restart
                    (renewing, restart_pending);
  restart         : ACMEActivationDelay (10 minutes) holds it back
  phase "held"    : SHORT held back (held_until), still serving the first
                    certificate; the page with every state.
Each phase is a snapshot (the JSON, the HTML over plain HTTP, and what
Chromium shows at 1366x768, with a screenshot in the session work
directory); the tests below check the snapshots.
"""

import base64
import calendar
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import time
import types
import urllib.error
import urllib.request

import pytest

import harness
from conftest import unexpected_log_lines
from faultproxy import FaultProxy
from harness import account_conf, b64url, b64url_to_std, tail, vhosts

CHROMEDRIVER = "/usr/bin/chromedriver"
# the browser itself: /usr/bin/chromium is a shell wrapper that adds the
# desktop's flags (extensions, GPU); the driver starts the binary directly
CHROMIUM = "/usr/lib/chromium/chromium"
RSA = "RSA-PSS+SHA256:RSA+SHA256"   # TLS 1.3 signature algorithms: the RSA certificate
WIDTH, HEIGHT = 1366, 768       # a common laptop screen
TIMEOUT = 90
DELAY = 600                     # ACMEActivationDelay, s: the hold outlasts the test

GOOD, BAD, SHORT = "good.t71.test", "bad.t71.test", "short.t71.test"


def _sites():
    """50 domains: most with one name, every 4th with www., every 10th with
    a long second name, as a shared hosting server would have."""
    out = []
    for i in range(1, 51):
        names = ["shop%02d.t71.test" % i]
        if i % 4 == 0:
            names.append("www.shop%02d.t71.test" % i)
        if i % 10 == 0:
            names.append("customer-self-service-portal-%02d.internal-services.t71.test" % i)
        out.append(names)
    return out


SITES = _sites()

STATUS_CONF = """
<Location /acme-status>
  SetHandler acme-status
  Require ip 127.0.0.1
</Location>
"""


# --------------------------------------------------------------------------
# A W3C WebDriver client (https://www.w3.org/TR/webdriver2/), enough for
# this file: one session, navigate, run a script, window size, screenshot.

class WebDriverError(Exception):
    pass


class Browser:
    def __init__(self, workdir):
        self.log_path = os.path.join(workdir, "chromedriver.log")
        self.port = self._free_port()
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % self.port, "--log-path=%s" % self.log_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.session = None
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.quit()
                raise WebDriverError("chromedriver did not become ready; its log:\n"
                                     + tail(harness.read_text(self.log_path), 40))
            time.sleep(0.1)
        self.profile = harness.mkdir(os.path.join(workdir, "chromium-profile"))
        caps = {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            # --no-sandbox: the tests run as root, where Chromium's sandbox
            # refuses to start; the only page it loads is ours, on loopback
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--no-proxy-server",
                     "--window-size=%d,%d" % (WIDTH, HEIGHT),
                     "--user-data-dir=%s" % self.profile]}}
        self.session = self._call("POST", "/session", {"capabilities": {
            "alwaysMatch": caps}}, timeout=60)["sessionId"]

    @staticmethod
    def _free_port():
        with socket.socket() as s:
            s.bind((harness.LOOPBACK, 0))
            return s.getsockname()[1]

    def _call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://%s:%d%s" % (harness.LOOPBACK, self.port, path),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            # W3C: errors are {"value": {"error", "message", "stacktrace"}}
            raise WebDriverError("%s %s: %d %s" % (method, path, e.code,
                                                   e.read()[:2000].decode("utf-8", "replace")))

    def _s(self, path, body=None, method="POST"):
        return self._call(method, "/session/%s%s" % (self.session, path), body)

    def open(self, url):
        self._s("/url", {"url": url})

    def run(self, script, *args):
        return self._s("/execute/sync", {"script": script, "args": list(args)})

    def set_size(self, width, height):
        self._s("/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        png = base64.b64decode(self._s("/screenshot", method="GET"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def quit(self):
        if self.session:
            try:
                self._s("", method="DELETE")
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.proc.poll() is None:
            harness.kill_process(self.proc, group=True)


# What the user sees: the page's table as text, cell by cell (innerText:
# what is rendered, not what is in the markup), and its geometry.
PAGE_SCRIPT = """
const t = document.querySelector('table');
const de = document.documentElement;
const rows = t ? [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim())) : [];
return {title: document.title, head: rows.length ? rows[0] : [], rows: rows.slice(1),
        text: document.body.innerText, html: de.outerHTML,
        scroll_width: de.scrollWidth, client_width: de.clientWidth,
        inner_width: window.innerWidth, height: de.scrollHeight,
        widths: rows.length ? [...t.rows[0].cells].map(c => c.offsetWidth) : []};
"""


class Page:
    """One rendering of the page: rows as {column header: cell text}."""

    def __init__(self, data, png_path):
        self.__dict__.update(data)
        self.png_path = png_path
        self.table = [dict(zip(self.head, r)) for r in self.rows]

    def row(self, name):
        found = [r for r in self.table if name in self.cell(r, "names").split()]
        assert len(found) == 1, "rows naming %s: %s\nheaders: %s" % (name, found, self.head)
        return found[0]

    def cell(self, row, what):
        """The cell under the header that contains `what` (any case)."""
        heads = [h for h in self.head if what.lower() in h.lower()]
        assert len(heads) == 1, "no single column %r among %s" % (what, self.head)
        return row[heads[0]]


# --------------------------------------------------------------------------
# the site: one Apache, three phases

def _wait(what, fn, timeout, a):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, "%s not reached in %ss\n%s" % (
            what, timeout, a.diagnostics())
        time.sleep(0.25)


def _same_serial(a, b):
    return a.lstrip("0").upper() == b.lstrip("0").upper()


def _status(a):
    r = a.get("/acme-status?json", GOOD)
    assert r.status == 200, r
    return {d["name"]: d for d in json.loads(r.text)["domains"]}


def _snapshot(site, phase):
    a, browser = site.apache, site.browser
    doc = _status(a)
    html = a.get("/acme-status", GOOD)
    assert html.status == 200 and html.headers["content-type"].startswith("text/html"), html
    browser.set_size(WIDTH, HEIGHT)
    browser.open("http://%s:%d/acme-status" % (harness.LOOPBACK, harness.HTTP_PORT))
    data = browser.run(PAGE_SCRIPT)
    # the first screen the user sees, then the whole page in one picture,
    # as wide as the user's window
    screen = browser.screenshot(os.path.join(site.workdir, "acme-status-%s-screen.png" % phase))
    assert len(screen) > 1000, phase
    browser.set_size(WIDTH, min(max(data["height"], HEIGHT), 8000))
    png_path = os.path.join(site.workdir, "acme-status-%s.png" % phase)
    browser.screenshot(png_path)
    harness.write_file(png_path[:-4] + ".html", html.text)
    print("screenshot of the status page (%s): %s" % (phase, png_path))
    site.snapshots[phase] = (doc, html.text, Page(data, png_path))


def _conf(pebble, short, eabproxy, wrong):
    conf = (account_conf("kid-1", pebble.eab["kid-1"]) + STATUS_CONF
            + "ACMEAutoRestart off\nACMEActivationDelay %ds\nACMERetryDelay 5m\n" % DELAY)
    for names in SITES:
        conf += "ACMEDomain %s\n" % " ".join(names) + vhosts(names[0], names[1:], http=False)
    conf += vhosts(GOOD, https_extra="  ACMEDomain %s\n  ACMEServer %s\n"
                   "  ACMEKeyType rsa2048 ec256\n  ACMERetryDelay 2s\n"
                   % (GOOD, pebble.directory_url))
    conf += vhosts(BAD, https_extra="  ACMEDomain %s\n  ACMEServer %s\n  ACMEEAB kid-1 %s\n"
                   % (BAD, eabproxy.directory_url, wrong))
    conf += vhosts(SHORT, https_extra="  ACMEDomain %s\n  ACMEServer %s\n  ACMEEAB kid-1 %s\n"
                   "  ACMERenewWindow 90%%\n  ACMERetryDelay 2s\n"
                   % (SHORT, short.directory_url, short.eab["kid-1"]))
    return conf


def _run_phases(site):
    a = site.apache
    a.start()
    staged = os.path.join(a.store_dir, "staging", SHORT, "staged.json")

    # "first": the first sets wait for the administrator's restart; BAD is
    # refused; every SITES domain has failed once
    def first_ready():
        doc = _status(a)
        return (all(doc[n]["restart_pending"] for n in (GOOD, SHORT))
                and doc[BAD]["state"] == "errored"
                and all(doc[s[0]]["failures"] >= 1 for s in SITES))
    _wait("first sets staged, BAD errored, SITES failed", first_ready, TIMEOUT, a)
    _snapshot(site, "first")

    # restart: both live; SHORT's renewal staged ~12 s later
    a.graceful()
    # the page describes the first configured key type's certificate
    site.good = a.wait_cert(GOOD, timeout=30, sigalgs=RSA)
    live = _wait("SHORT live", lambda: _status(a)[SHORT]["certificate"], 30, a)
    # (from the short-lived Pebble, which wait_cert does not know)
    site.first_short = a.served_cert(SHORT)
    assert _same_serial(site.first_short.serial, live["serial"]), (
        live, site.first_short.summary())

    def renewal_staged():
        d = _status(a)[SHORT]
        return d["certificate"] and d["restart_pending"]
    _wait("SHORT's renewal staged", renewal_staged, 60, a)
    with open(staged) as f:
        site.renewal_staged_at = json.load(f)["staged"]
    _snapshot(site, "renewing")

    # restart: the renewal is held back by ACMEActivationDelay
    a.graceful()
    _wait("SHORT held back", lambda: _status(a)[SHORT]["held_until"], 30, a)
    site.served_short = a.served_cert(SHORT)
    _snapshot(site, "held")


def _stop(s):
    if s.browser is not None:
        s.browser.quit()
    s.apache.stop()      # before its CAs' proxies (see conftest)
    s.down.stop()
    s.eabproxy.stop()


LOG_ALLOW = (r"AA00305: (shop\d+|bad)\.t71\.test: ",)


@pytest.fixture(scope="module")
def site(workdir, pki, pebble, pebble_factory):
    if not (os.access(CHROMEDRIVER, os.X_OK) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail("%s or %s is missing: run build/deps (Debian packages chromium, "
                    "chromium-driver)" % (CHROMEDRIVER, CHROMIUM), pytrace=False)
    s = types.SimpleNamespace(workdir=workdir, snapshots={}, browser=None)
    s.short = pebble_factory(config={"certificateValidityPeriod": 120})
    s.wrong = b64url(secrets.token_bytes(32))
    s.down = FaultProxy(pebble.directory_url, pki).start()
    s.down.down(True)
    s.eabproxy = FaultProxy(pebble.directory_url, pki).start()
    s.apache = harness.Apache(os.path.join(workdir, "apache", "t71-status-browser"),
                              _conf(pebble, s.short, s.eabproxy, s.wrong),
                              pki=pki, pebble=pebble, acme_server=s.down.directory_url)
    # every HMAC the server knows, as configured and in standard base64
    s.secrets = [pebble.eab["kid-1"], s.short.eab["kid-1"], s.wrong]
    s.secrets += [b64url_to_std(x) for x in s.secrets]
    try:
        s.browser = Browser(workdir)
        _run_phases(s)
    except Exception as e:
        _stop(s)
        raise AssertionError("%s\n--- error log ---\n%s\n--- chromedriver log ---\n%s" % (
            e, tail(s.apache.error_log(), 60),
            tail(harness.read_text(os.path.join(workdir, "chromedriver.log")), 20))) from e
    yield s
    _stop(s)
    bad = unexpected_log_lines([s.apache], LOG_ALLOW)
    assert not bad, "unexpected [warn]/[error] lines in the error log:\n" + "\n".join(bad[:20])


# --------------------------------------------------------------------------
# the page in the browser

def test_every_domain_one_row_as_in_json(site):
    doc, _, page = site.snapshots["held"]
    assert page.title == "Managed certificates", page.title
    assert len(page.table) == len(doc) == len(SITES) + 3, (len(page.table), len(doc))
    for name, d in doc.items():
        row = page.row(name)
        assert page.cell(row, "names").split() == d["names"], (row, d)
        assert page.cell(row, "state") == d["state"], (row, d)
        assert page.cell(row, "next attempt") == (d["next_attempt"] or ""), (row, d)
        assert page.cell(row, "failures") == str(d["failures"]), (row, d)
    assert {d["state"] for d in doc.values()} == {"valid", "pending", "errored", "held back"}


def test_valid_row(site):
    doc, _, page = site.snapshots["held"]
    d, row = doc[GOOD], page.row(GOOD)
    cert = d["certificate"]
    assert page.cell(row, "state") == "valid"
    assert page.cell(row, "key types").split() == ["rsa2048", "ec256"], row
    serial = page.cell(row, "serial")
    assert _same_serial(serial, site.good.serial), (row, site.good.summary())
    assert "Pebble" in page.cell(row, "issuer") and page.cell(row, "issuer") == cert["issuer"]
    assert page.cell(row, "not before") == cert["not_before"], row
    assert page.cell(row, "not after") == cert["not_after"], row
    # renew-at and why
    assert page.cell(row, "renew") == "%s (%s)" % (d["renew_at"], d["renew_from"]), row
    assert d["renew_from"] == "window", d
    assert page.cell(row, "next attempt") == "" and page.cell(row, "last error") == "", row


def test_errored_row_shows_problem_type_and_hint(site):
    doc, _, page = site.snapshots["held"]
    d, row = doc[BAD], page.row(BAD)
    err = d["last_error"]
    assert page.cell(row, "state") == "errored"
    # the problem type Pebble answered (the proxy saw it), in its short form
    answered = {e.problem for e in site.eabproxy.entries(kind="newAccount") if e.problem}
    assert err["type"] in answered - {"badNonce"}, (err, answered)
    shown = page.cell(row, "last error")
    for part in ("configuration", err["activity"], err["type"], err["hint"]):
        assert part and part in shown, (part, shown)
    assert "ACMEEAB" in shown, shown
    assert page.cell(row, "next attempt") == d["next_attempt"] and d["next_attempt"], row
    assert page.cell(row, "serial") == "" and page.cell(row, "key types") == "", row


def test_pending_rows(site):
    doc, _, page = site.snapshots["held"]
    for names in SITES:
        d, row = doc[names[0]], page.row(names[0])
        assert d["state"] == "pending" and d["certificate"] is None, d
        assert page.cell(row, "names").split() == names, row
        assert page.cell(row, "serial") == "" and page.cell(row, "renew") == "", row
        shown = page.cell(row, "last error")
        err = d["last_error"]
        assert shown.startswith("transient") and err["activity"] in shown, row
        assert (err["hint"] or "") in shown, (err, row)
        assert page.cell(row, "next attempt") == d["next_attempt"], row


def test_no_secret_in_the_dom(site):
    for phase, (doc, html, page) in site.snapshots.items():
        for text in (page.html, page.text, html, json.dumps(doc)):
            for secret in site.secrets:
                assert secret not in text, "an EAB HMAC on the page (%s)" % phase


def test_screenshot_saved(site):
    for _, _, page in site.snapshots.values():
        with open(page.png_path, "rb") as f:
            png = f.read(24)
        assert png[:8] == b"\x89PNG\r\n\x1a\n", page.png_path
        width, height = struct.unpack(">II", png[16:24])
        assert width == WIDTH and height >= HEIGHT, (page.png_path, width, height)


def test_no_horizontal_scrollbar_at_1366(site):
    """53 domains, long names, a CA's problem type and hint: the table still
    fits a 1366 px window (the user reads it without scrolling sideways)."""
    _, _, page = site.snapshots["held"]
    assert page.inner_width == WIDTH, page.inner_width
    assert page.scroll_width <= page.client_width <= page.inner_width, (
        "the page is %d px wide in a %d px window (%s); columns: %s" % (
            page.scroll_width, page.client_width, page.png_path,
            dict(zip(page.head, page.widths))))


# --------------------------------------------------------------------------
# the states: a set waiting for a restart, renewing, held back

def test_first_set_waits_for_restart(site):
    """ACMEAutoRestart off: a first certificate obtained but not live yet is
    pending, with restart_pending, and the page says a restart is needed."""
    doc, html, page = site.snapshots["first"]
    for name in (GOOD, SHORT):
        d, row = doc[name], page.row(name)
        assert d["state"] == "pending" and d["restart_pending"] is True, d
        assert d["certificate"] is None and d["held_until"] is None, d
        assert page.cell(row, "state") == "pending", row
        assert page.cell(row, "activation") == "restart needed", row
    assert html.count("restart needed") == 2, html


def test_renewing_waits_for_restart(site):
    doc, html, page = site.snapshots["renewing"]
    d, row = doc[SHORT], page.row(SHORT)
    assert d["state"] == "renewing" and d["restart_pending"] is True, d
    assert d["held_until"] is None, d
    # the live (first) certificate is still what the page describes
    assert _same_serial(d["certificate"]["serial"], site.first_short.serial), (
        d, site.first_short.summary())
    assert page.cell(row, "state") == "renewing", row
    assert page.cell(row, "activation") == "restart needed", row
    assert re.search(r"<td[^>]*>renewing</td>", html), html
    # GOOD, renewed by nobody, is valid beside it
    assert doc[GOOD]["state"] == "valid" and doc[GOOD]["restart_pending"] is False


def test_held_back_after_restart(site):
    """The administrator restarts; ACMEActivationDelay holds the renewal back
    until DELAY after it was staged; the first certificate keeps serving."""
    doc, html, page = site.snapshots["held"]
    d, row = doc[SHORT], page.row(SHORT)
    assert d["state"] == "held back" and d["restart_pending"] is False, d
    held = calendar.timegm(time.strptime(d["held_until"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(held - (site.renewal_staged_at + DELAY)) <= 1, (d, site.renewal_staged_at)
    assert site.served_short.serial == site.first_short.serial, site.served_short.summary()
    assert _same_serial(d["certificate"]["serial"], site.first_short.serial), d
    assert page.cell(row, "state") == "held back", row
    assert page.cell(row, "activation") == "held back until %s" % d["held_until"], row
    assert "held back until %s" % d["held_until"] in html
