"""The Debian package (build/deb): it builds, holds the right files with
the right owners and modes, installs with apt, enables nothing and starts
or stops no server, `a2enmod acmeauto` gives a configuration that passes
`apache2ctl -t`, the man page and the command are found, and removing the
package disables the module but leaves the store.

THIS TEST CHANGES THE MACHINE: it installs, removes and purges the package
libapache2-mod-acmeauto with apt-get and dpkg, and enables and disables
modules with a2enmod/a2dismod in the system's /etc/apache2. It needs root
and the Debian packages apache2 and man-db (build/deps --test). It never
starts, stops or reloads the system's apache2, and it puts back what it
changed: the package purged, /etc/apache2/mods-enabled and a2enmod's
markers in /var/lib/apache2/module as they were, the store it made
removed. On a machine where the package is installed (or was, and left
its configuration or store behind) it is skipped: that state is the
administrator's."""

import os
import shutil
import stat
import subprocess

import pytest

from harness import REPO_ROOT

PKG = "libapache2-mod-acmeauto"
STORE = "/var/lib/apache2/acmeauto"
MODS_ENABLED = "/etc/apache2/mods-enabled"
MODS_AVAILABLE = "/etc/apache2/mods-available"
MARKERS = "/var/lib/apache2/module"
MODULE = "/usr/lib/apache2/modules/mod_acmeauto.so"
APACHE_PID = "/var/run/apache2/apache2.pid"
# others may be installing packages at the same time: wait for dpkg's lock
APT = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"]
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")

# path in the package: (owner, mode)
EXPECTED = {
    "usr/lib/apache2/modules/mod_acmeauto.so": ("root/root", "-rw-r--r--"),
    "etc/apache2/mods-available/acmeauto.load": ("root/root", "-rw-r--r--"),
    "etc/apache2/mods-available/acmeauto.conf": ("root/root", "-rw-r--r--"),
    "usr/sbin/acmeauto": ("root/root", "-rwxr-xr-x"),
    "usr/share/man/man8/acmeauto.8.gz": ("root/root", "-rw-r--r--"),
    "usr/share/doc/%s/README.gz" % PKG: ("root/root", "-rw-r--r--"),
    "usr/share/doc/%s/copyright" % PKG: ("root/root", "-rw-r--r--"),
    "usr/share/doc/%s/changelog.gz" % PKG: ("root/root", "-rw-r--r--"),
}
# what a maintainer script of this package must never run
SERVICE_CONTROL = ("invoke-rc.d", "systemctl", "service ", "apache2ctl", "apachectl",
                   "a2enmod", "apache2_invoke", "apache2_reload", "deb-systemd-invoke")


def run(*cmd, check=True):
    cp = subprocess.run(list(cmd), env=ENV, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, timeout=600)
    if check:
        assert cp.returncode == 0, "%s: exit %d\n%s\n%s" % (
            " ".join(cmd), cp.returncode, cp.stdout[-3000:], cp.stderr[-3000:])
    return cp


def pkg_status():
    cp = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PKG, check=False)
    return cp.stdout.strip() if cp.returncode == 0 else ""


def markers():
    out = set()
    for d, dirs, files in os.walk(MARKERS):
        out.add(d)
        out.update(os.path.join(d, f) for f in files)
    return out


def system_apache_pid():
    """The system apache2's parent, if one runs; None otherwise."""
    try:
        with open(APACHE_PID) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


@pytest.fixture
def machine():
    """Skips unless the machine has no trace of the package; afterwards
    puts back the modules, a2enmod's markers and the store as they were."""
    if os.geteuid() != 0:
        pytest.skip("installs a package: needs root")
    for tool in ("dpkg-deb", "apt-get", "a2enmod", "a2dismod", "apache2ctl", "man"):
        if not shutil.which(tool):
            pytest.fail("%s is missing: run build/deps --test (Debian packages "
                        "apache2, man-db)" % tool)
    st = pkg_status()
    if st not in ("", "un"):
        pytest.skip("%s is on this machine (%s): not touching it" % (PKG, st))
    for p in (STORE, os.path.join(MODS_AVAILABLE, "acmeauto.load"), "/usr/sbin/acmeauto"):
        if os.path.lexists(p):
            pytest.skip("%s exists (an installation not made by dpkg): not touching it" % p)
    enabled = set(os.listdir(MODS_ENABLED))
    marks = markers()
    try:
        yield
    finally:
        if pkg_status() not in ("", "un"):
            run("dpkg", "--purge", "--force-remove-reinstreq", PKG, check=False)
        for name in sorted(set(os.listdir(MODS_ENABLED)) - enabled):
            if name.endswith(".load"):
                run("a2dismod", "-q", "-f", name[:-5], check=False)
        for name in sorted(enabled - set(os.listdir(MODS_ENABLED))):
            if name.endswith(".load"):
                run("a2enmod", "-q", name[:-5], check=False)
        for p in sorted(markers() - marks, reverse=True):  # files before their dirs
            if os.path.isdir(p):
                os.rmdir(p)
            else:
                os.unlink(p)
        shutil.rmtree(STORE, ignore_errors=True)


def contents(deb):
    """{path: (owner, mode)} from dpkg-deb -c (paths without ./)."""
    out = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        f = line.split()
        out[f[5][2:].rstrip("/")] = (f[1], f[0])
    return out


def test_deb_install_enable_remove(machine, workdir):
    outdir = os.path.join(workdir, "deb")
    os.makedirs(outdir, exist_ok=True)
    # --prebuilt: the tree is the one every other test (and shard) uses;
    # packaging must not rebuild it under them.
    cp = run(os.path.join(REPO_ROOT, "build", "deb"), "--prebuilt", "-o", outdir)
    deb = cp.stdout.strip().splitlines()[-1]
    assert os.path.dirname(deb) == outdir and os.path.basename(deb).startswith(PKG + "_"), deb
    arch = run("dpkg", "--print-architecture").stdout.strip()
    assert deb.endswith("_%s.deb" % arch), deb

    # --- what the package holds ----------------------------------------
    files = contents(deb)
    for path, want in EXPECTED.items():
        assert files.get(path) == want, (path, files.get(path))
    assert all(o == "root/root" for o, _ in files.values()), files
    assert not any(p.startswith("var/") for p in files), \
        "the store is made by postinst, not shipped (dpkg would delete it)"
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    for dep in ("apache2-api-20120211", "libcurl4", "libjansson4", "libssl3"):
        assert dep in depends, depends
    ctl = os.path.join(workdir, "deb-control")
    run("dpkg-deb", "-e", deb, ctl)
    with open(os.path.join(ctl, "conffiles")) as f:
        assert sorted(f.read().split()) == [
            "/etc/apache2/mods-available/acmeauto.conf",
            "/etc/apache2/mods-available/acmeauto.load"]
    for script in ("postinst", "postrm", "preinst", "prerm"):
        path = os.path.join(ctl, script)
        if os.path.exists(path):
            run("sh", "-n", path)
            with open(path) as f:
                code = "\n".join(l for l in f.read().splitlines()
                                 if not l.lstrip().startswith("#"))
            hits = [c for c in SERVICE_CONTROL if c in code]
            assert not hits, "%s runs %s" % (script, hits)
    man = run("sh", "-c", "dpkg-deb --fsys-tarfile '%s' | tar -xO "
              "./usr/share/man/man8/acmeauto.8.gz | zcat" % deb).stdout
    assert man.startswith(".\\\"") and ".TH ACMEAUTO 8" in man

    # --- installing enables nothing, stops nothing ----------------------
    apache_pid = system_apache_pid()
    run(*APT, "install", deb)
    assert pkg_status() == "ii"
    assert os.path.isfile(MODULE)
    assert not os.path.lexists(os.path.join(MODS_ENABLED, "acmeauto.load"))
    st = os.lstat(STORE)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and st.st_gid == 0, st
    assert stat.S_IMODE(st.st_mode) == 0o755, oct(st.st_mode)
    assert system_apache_pid() == apache_pid

    assert run("man", "-w", "acmeauto").stdout.strip() == "/usr/share/man/man8/acmeauto.8.gz"
    warn = run("man", "--warnings", "-E", "UTF-8", "-l", "/usr/share/man/man8/acmeauto.8.gz")
    assert warn.stderr.strip() == "", warn.stderr
    assert shutil.which("acmeauto", path=ENV.get("PATH", "") + ":/usr/sbin") == "/usr/sbin/acmeauto"
    cp = run("acmeauto", "--help")
    assert cp.stdout.startswith("usage: acmeauto"), cp.stdout

    # --- a2enmod and the system's configuration -------------------------
    run("a2enmod", "-q", "acmeauto")
    for f in ("acmeauto.load", "acmeauto.conf", "ssl.load"):
        assert os.path.exists(os.path.join(MODS_ENABLED, f)), f
    cp = run("apache2ctl", "-t")
    assert "Syntax OK" in cp.stderr + cp.stdout
    # the store as the package made it draws no warning (AA00116)
    assert "AA00" not in cp.stderr + cp.stdout, cp.stderr
    run("a2dismod", "-q", "acmeauto")
    assert not os.path.lexists(os.path.join(MODS_ENABLED, "acmeauto.load"))

    # --- removing: the module disabled, the store kept ------------------
    run("a2enmod", "-q", "acmeauto")
    account = os.path.join(STORE, "accounts", "t95", "account.json")
    os.makedirs(os.path.dirname(account))
    with open(account, "w") as f:
        f.write("{}\n")
    run(*APT, "remove", PKG)
    assert pkg_status() == "rc"          # the conffiles stay, as for any package
    assert not os.path.exists(MODULE) and not os.path.exists("/usr/sbin/acmeauto")
    # enabled at removal: disabled, or every later start of Apache would fail
    assert not os.path.lexists(os.path.join(MODS_ENABLED, "acmeauto.load"))
    assert "Syntax OK" in run("apache2ctl", "-t").stderr
    assert os.path.isfile(account), "remove must leave the store"
    assert system_apache_pid() == apache_pid

    # purge deletes the configuration, but a store with files in it stays
    cp = run("dpkg", "--purge", PKG)
    assert pkg_status() in ("", "un")
    assert not os.path.exists(os.path.join(MODS_AVAILABLE, "acmeauto.conf"))
    assert os.path.isfile(account)
    assert "kept %s" % STORE in cp.stderr, cp.stderr
