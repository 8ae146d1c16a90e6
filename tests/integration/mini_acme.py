"""A minimal RFC 8555 client (standard library + openssl CLI) for the harness.

It exists to prove the harness wiring without the module: Pebble resolves a
name through challtestsrv, fetches the http-01 token from Apache on
127.0.0.1:5002, accepts our EAB, and issues a chain that verifies to its root.
It is deliberately small: ES256 account key, http-01 only, badNonce retried.
"""

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request

from harness import OPENSSL_BIN, b64url, b64url_decode, mkdir, pem_certs, run, write_file


class AcmeError(Exception):
    def __init__(self, status, problem):
        super().__init__("%s %s" % (status, problem))
        self.status = status
        self.problem = problem


def _der_ecdsa_to_raw(der, size=32):
    """DER SEQUENCE{INTEGER r, INTEGER s} -> r||s, as JWS ES256 wants."""
    assert der[0] == 0x30
    off = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[off] == 0x02
        n = der[off + 1]
        val = der[off + 2:off + 2 + n].lstrip(b"\0")
        out += val.rjust(size, b"\0")
        off += 2 + n
    return out


class MiniAcme:
    def __init__(self, directory_url, ssl_context, workdir):
        self.dir = mkdir(workdir, 0o700)
        self.ctx = ssl_context
        self.directory = self._json(self._http(directory_url)[2])
        self.key = os.path.join(self.dir, "account.key")
        run([OPENSSL_BIN, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", self.key], check=True)
        txt = run([OPENSSL_BIN, "pkey", "-in", self.key, "-noout", "-text"], check=True).stdout
        hexpub = "".join(txt.split("pub:")[1].split("ASN1 OID")[0].split()).replace(":", "")
        point = bytes.fromhex(hexpub)
        assert point[0] == 4 and len(point) == 65, txt
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64url(point[1:33]), "y": b64url(point[33:])}
        thumb = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumbprint = b64url(hashlib.sha256(thumb).digest())
        self.kid = None
        self.nonce = None

    # --- transport

    def _http(self, url, data=None, method=None):
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/jose+json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=15) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    @staticmethod
    def _json(body):
        return json.loads(body) if body else {}

    def _sign(self, data):
        path = os.path.join(self.dir, "tbs")
        with open(path, "wb") as f:
            f.write(data)
        sig = os.path.join(self.dir, "sig")
        run([OPENSSL_BIN, "dgst", "-sha256", "-sign", self.key, "-out", sig, path], check=True)
        with open(sig, "rb") as f:
            return _der_ecdsa_to_raw(f.read())

    def post(self, url, payload, tries=10):
        """Signed POST (payload None = POST-as-GET); badNonce retried."""
        for _ in range(tries):
            if not self.nonce:
                _, h, _ = self._http(self.directory["newNonce"], method="HEAD")
                self.nonce = h["Replay-Nonce"]
            prot = {"alg": "ES256", "nonce": self.nonce, "url": url}
            if self.kid:
                prot["kid"] = self.kid
            else:
                prot["jwk"] = self.jwk
            p64 = b64url(json.dumps(prot).encode())
            if payload is None:
                pl64 = ""
            elif callable(payload):
                pl64 = b64url(json.dumps(payload(url)).encode())
            else:
                pl64 = b64url(json.dumps(payload).encode())
            sig = self._sign(("%s.%s" % (p64, pl64)).encode())
            body = json.dumps({"protected": p64, "payload": pl64, "signature": b64url(sig)})
            status, headers, data = self._http(url, body.encode())
            self.nonce = headers.get("Replay-Nonce")
            if status >= 400:
                prob = self._json(data)
                if prob.get("type", "").endswith(":badNonce"):
                    continue
                raise AcmeError(status, prob)
            return status, headers, data
        raise AcmeError(0, "too many badNonce")

    # --- RFC 8555 steps

    def new_account(self, eab_kid, eab_hmac_b64url, contact="mailto:admin@example.org"):
        url = self.directory["newAccount"]
        prot = b64url(json.dumps({"alg": "HS256", "kid": eab_kid, "url": url}).encode())
        pay = b64url(json.dumps(self.jwk).encode())
        mac = hmac.new(b64url_decode(eab_hmac_b64url), ("%s.%s" % (prot, pay)).encode(),
                       hashlib.sha256).digest()
        req = {"termsOfServiceAgreed": True, "contact": [contact],
               "externalAccountBinding": {"protected": prot, "payload": pay,
                                          "signature": b64url(mac)}}
        status, headers, _ = self.post(url, req)
        self.kid = headers["Location"]
        return status

    def _poll(self, url, want=("valid",), timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            obj = self._json(self.post(url, None)[2])
            if obj.get("status") in want:
                return obj
            if obj.get("status") == "invalid" or time.monotonic() > deadline:
                raise AcmeError(0, obj)
            time.sleep(0.5)

    def issue(self, names, write_token):
        """Order, answer http-01 via write_token(token, key_authz), finalize.

        Returns (chain PEM list, key path)."""
        ids = [{"type": "dns", "value": n} for n in names]
        _, h, data = self.post(self.directory["newOrder"], {"identifiers": ids})
        order_url, order = h["Location"], self._json(data)
        for az_url in order["authorizations"]:
            az = self._json(self.post(az_url, None)[2])
            if az["status"] == "valid":
                continue      # Pebble reuses valid authorizations
            ch = [c for c in az["challenges"] if c["type"] == "http-01"][0]
            write_token(ch["token"], "%s.%s" % (ch["token"], self.thumbprint))
            self.post(ch["url"], {})
            self._poll(az_url)
        key = os.path.join(self.dir, "%s.key" % names[0])
        csr = os.path.join(self.dir, "%s.csr" % names[0])
        run([OPENSSL_BIN, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-outform", "DER", "-out", csr, "-subj", "/CN=%s" % names[0],
             "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)], check=True)
        with open(csr, "rb") as f:
            csr_b64 = b64url(f.read())
        self.post(order["finalize"], {"csr": csr_b64})
        order = self._poll(order_url)
        chain = pem_certs(self.post(order["certificate"], None)[2].decode())
        return chain, key


def write_token_to_docroot(htdocs):
    """write_token callback serving tokens as static files from htdocs."""
    d = mkdir(os.path.join(htdocs, ".well-known", "acme-challenge"))
    mkdir(os.path.dirname(d))

    def write(token, key_authz):
        write_file(os.path.join(d, token), key_authz)
    return write

