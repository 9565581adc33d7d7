"""The national-algorithm profile `crypto: gm` (docs/security.md "Crypto profiles"), with
real gateway processes and the openssl command line; ports 184xx.

- SM2 both ways with openssl: an s1 token minted by `ptp-gateway --mint-token --identity`
  with an SM2 identity (`ptpctl identity init --algorithm sm2`) verifies with
  `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` and A's
  root; an s1 token whose SM2 signature openssl made with A's node.key is accepted by
  gateway B (a signature with another distinguishing ID is refused).
- g1 tokens: `--mint-token --config` of a gm config mints HMAC-SM3 tokens (checked with
  `openssl dgst -sm3 -hmac`), which B takes; a v1 token is refused naming both versions.
- The configuration refuses a node key or a pinned root that is not SM2, naming the key
  path, the file and the algorithm.
- The channel: TLS 1.3 with the node's P-256 TLS key (an AEAD cipher suite).
- The trust integration tests (test_peering, test_auth_modes, test_mtls_identity,
  test_authorization, test_permits, test_evidence_signatures, test_evidence_log,
  test_stream_signatures) run whole under PTP_CRYPTO=gm: SM2 identities, g1 tokens, every
  gateway with `crypto: gm`; permits, batch signatures, receipts, countersigns and
  checkpoints signed with SM2, message leaves, Merkle trees and the evidence chains SM3.
"""
import base64
import os
import subprocess
import sys
import time
import unittest

from ptp_harness import BIN, GATEWAY, Topology, curl, ptp_headers

PTPCTL = os.path.join(BIN, "ptpctl")
HERE = os.path.dirname(os.path.abspath(__file__))
A_PORT, B_PORT, ECHO_PORT = 18401, 18402, 18410
SM2_ID = "1234567812345678"
KEY_B = "gm-test-hmac-key-of-B"
B_URL = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/invoke"


def run(*args, data=None):
    return subprocess.run(list(args), input=data, capture_output=True, timeout=60)


def identity(directory, node_id, port, algorithm="sm2"):
    out = run(PTPCTL, "identity", "init", "--node-id", node_id, "--inst-id", f"INST_{node_id}",
              "--address", f"127.0.0.1:{port}", "--algorithm", algorithm, "--dir", directory)
    assert out.returncode == 0, out
    return directory


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def pubkey_of(root_crt, out):
    assert run("openssl", "x509", "-in", root_crt, "-pubkey", "-noout", "-out", out).returncode == 0
    return out


def openssl_verify(pub, msg, sig, distid=SM2_ID):
    """`openssl pkeyutl -verify` of an SM2 signature (SM3, distinguishing ID) over msg."""
    return run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-digest",
               "sm3", "-pkeyopt", f"distid:{distid}", "-in", msg, "-sigfile", sig)


def b_config(work, ids, crypto="gm", root_a=None, name="b"):
    return write(os.path.join(work, f"{name}.yaml"), f"""node: {{node_id: B, inst_id: INST_B, role: edge}}
listen: {{address: 127.0.0.1, port: {B_PORT}, tls: {{cert: {ids['B']}/tls.crt, key: {ids['B']}/tls.key}}}}
admin: {{address: 127.0.0.1, port: {B_PORT + 50}}}
io_threads: 1
identity: {{dir: "{ids['B']}"}}
auth: {{mode: signature, node_keys: {{B: "{KEY_B}"}}}}
peers:
  - {{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: "{root_a or ids['A'] + '/root.crt'}"}}
local_services:
  - {{uri: "ptp/echo*", address: "127.0.0.1:{ECHO_PORT}", protocol: http1, path: /echo}}
crypto: {crypto}
""")


class Sm2WithOpenssl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        w = cls.topo.workdir
        try:
            cls.ids = {n: identity(os.path.join(w, f"id-{n}"), n, p)
                       for n, p in (("A", A_PORT), ("B", B_PORT))}
            cls.ids["P"] = identity(os.path.join(w, "id-P"), "A", A_PORT, "ecdsa-p256")
            cls.cfg = b_config(w, cls.ids)
            cls.topo.echo(ECHO_PORT)
            cls.b = cls.topo.gateway(cls.cfg)
        except BaseException:
            cls.topo.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def tls_as_a(self):
        # B's chain is checked by the gateway's peers with the SM2 ID; curl's OpenSSL chain
        # check has none, hence -k (docs/security.md "Crypto profiles").
        return ("-k", "--cert", os.path.join(self.ids["A"], "tls.crt"),
                "--key", os.path.join(self.ids["A"], "tls.key"))

    def invoke_as_a(self, token, session, trace):
        h = ptp_headers("A", "B", session=session, uri="ptp/echo", trace=trace, token=token)
        return curl(B_URL, h, b"hello gm", http="h2", extra=self.tls_as_a())

    def test_gateway_signature_verifies_with_openssl(self):
        token = subprocess.check_output(
            [GATEWAY, "--mint-token", "--identity", self.ids["A"], "--source", "A", "--target",
             "B", "--session", "s-gm", "--ttl", "300"]).decode().strip()
        version, expiry, sig = token.split(".")
        self.assertEqual(version, "s1")
        d = self.topo.workdir
        pub = pubkey_of(os.path.join(self.ids["A"], "root.crt"), os.path.join(d, "a-pub.pem"))
        msg = write(os.path.join(d, "s1.msg"), f"ptp-token-s1\nA\nB\ns-gm\n{expiry}".encode())
        sigfile = write(os.path.join(d, "s1.sig"), unb64url(sig))
        out = openssl_verify(pub, msg, sigfile)
        self.assertIn(b"Signature Verified Successfully", out.stdout, out)
        # Another message, or another ID: openssl refuses the same signature.
        other = write(os.path.join(d, "s1-other.msg"), f"ptp-token-s1\nA\nB\ns-gm2\n{expiry}".encode())
        self.assertNotEqual(openssl_verify(pub, other, sigfile).returncode, 0)
        self.assertNotEqual(openssl_verify(pub, msg, sigfile, distid="0000000000000000").returncode, 0)
        # And gateway B takes the token from A's connection.
        r = self.invoke_as_a(token, "s-gm", "tr-gm-minted")
        self.assertEqual((r.status, r.body), (200, b"hello gm"), r)

    def openssl_token(self, session, distid=SM2_ID):
        """An s1 token whose SM2 signature the openssl command line made with A's node.key."""
        expiry = int(time.time()) + 300
        d = self.topo.workdir
        msg = write(os.path.join(d, f"{session}.msg"),
                    f"ptp-token-s1\nA\nB\n{session}\n{expiry}".encode())
        sig = run("openssl", "pkeyutl", "-sign", "-inkey", os.path.join(self.ids["A"], "node.key"),
                  "-rawin", "-digest", "sm3", "-pkeyopt", f"distid:{distid}", "-in", msg)
        self.assertEqual(sig.returncode, 0, sig)
        return f"s1.{expiry}.{b64url(sig.stdout)}"

    def test_openssl_signature_accepted_by_the_gateway(self):
        r = self.invoke_as_a(self.openssl_token("s-openssl"), "s-openssl", "tr-gm-openssl")
        self.assertEqual((r.status, r.body), (200, b"hello gm"), r)
        # The distinguishing ID is part of an SM2 signature: another one does not verify.
        r = self.invoke_as_a(self.openssl_token("s-other-id", "0000000000000000"), "s-other-id",
                             "tr-gm-other-id")
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
        self.assertEqual(r.headers.get("x-ptp-message"),
                         "token signature does not match (session/source/target binding)", r)

    def test_g1_tokens_minted_from_the_config(self):
        token = subprocess.check_output(
            [GATEWAY, "--mint-token", "--config", self.cfg, "--key", KEY_B, "--source", "B",
             "--target", "B", "--session", "s-g1"]).decode().strip()
        version, expiry, mac = token.split(".")
        self.assertEqual(version, "g1")
        expected = run("openssl", "dgst", "-sm3", "-hmac", KEY_B,
                       data=f"ptp-token-g1\nB\nB\ns-g1\n{expiry}".encode()).stdout.decode()
        self.assertEqual(expected.split("= ")[-1].strip(), mac)
        # A container of B with it reaches B's service; with a v1 token it is refused.
        h = ptp_headers("B", "B", session="s-g1", uri="ptp/echo", trace="tr-g1", token=token)
        r = curl(B_URL, h, b"g1", http="h2", extra=("-k",))
        self.assertEqual((r.status, r.body), (200, b"g1"), r)
        v1 = subprocess.check_output(
            [GATEWAY, "--mint-token", "--key", KEY_B, "--source", "B", "--target", "B",
             "--session", "s-g1"]).decode().strip()
        self.assertTrue(v1.startswith("v1."), v1)
        h["x-ptp-token"] = v1
        r = curl(B_URL, h, b"v1", http="h2", extra=("-k",))
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
        self.assertEqual(r.headers.get("x-ptp-message"),
                         "token is v1 (HMAC-SHA256); this gateway takes g1 tokens (HMAC-SM3, "
                         "crypto: gm)", r)

    def test_channel_is_tls13_with_the_p256_tls_key(self):
        # What protects the channel under gm (no TLCP in Debian's OpenSSL): TLS 1.3 with the
        # node's P-256 TLS key, here with A's certificate as a peer presents it.
        out = run("openssl", "s_client", "-connect", f"127.0.0.1:{B_PORT}", "-brief",
                  "-cert", os.path.join(self.ids["A"], "tls.crt"),
                  "-key", os.path.join(self.ids["A"], "tls.key"), data=b"")
        text = out.stderr.decode() + out.stdout.decode()
        self.assertIn("Protocol version: TLSv1.3", text)
        self.assertRegex(text, r"Ciphersuite: TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)")
        self.assertIn("Signature type: ECDSA", text)  # the P-256 TLS key signed the handshake
        self.assertRegex(text, r"Server Temp Key: (X25519|ECDH, prime256v1)")
        self.assertNotIn("alert", text)
        # OpenSSL's own chain check has no SM2 ID (why curl runs with -k here).
        self.assertIn("certificate signature failure", text)

    def test_config_refuses_keys_that_are_not_sm2(self):
        w = self.topo.workdir
        # A pinned root that is not SM2.
        cfg = b_config(w, self.ids, root_a=os.path.join(self.ids["P"], "root.crt"),
                       name="b-p256-root")
        out = run(GATEWAY, "--check-config", cfg)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(f'peers[0].root_file: peer "A": the pinned root "{self.ids["P"]}/root.crt" '
                      "cannot be used: its key is ecdsa-p256 (crypto: gm takes SM2 node roots "
                      "only)", out.stderr.decode() + out.stdout.decode())
        # A node key that is not SM2 (the same files pass under the international profile).
        ids = dict(self.ids, B=self.ids["P"])
        cfg = b_config(w, ids, name="b-p256-key")
        out = run(GATEWAY, "--check-config", cfg)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(f'identity.dir: crypto: gm needs an SM2 node key, but '
                      f'"{self.ids["P"]}/node.key" is ecdsa-p256',
                      out.stderr.decode() + out.stdout.decode())
        out = run(GATEWAY, "--check-config", b_config(w, ids, crypto="international",
                                                     name="b-p256-intl"))
        self.assertEqual(out.returncode, 0, out)


class TrustSuitesUnderGm(unittest.TestCase):
    """Each trust suite run whole, as ctest runs it, with PTP_CRYPTO=gm."""

    def run_suite(self, name):
        env = dict(os.environ, PTP_CRYPTO="gm")
        out = subprocess.run([sys.executable, os.path.join(HERE, name)], env=env,
                             capture_output=True, timeout=400)
        tail = out.stderr.decode(errors="replace")[-6000:]
        self.assertEqual(out.returncode, 0, f"{name} under crypto: gm:\n{tail}")
        sys.stderr.write(f"{name} under gm: {tail.strip().splitlines()[-1]}\n")

    def test_peering(self):
        self.run_suite("test_peering.py")

    def test_auth_modes(self):
        self.run_suite("test_auth_modes.py")

    def test_mtls_identity(self):
        self.run_suite("test_mtls_identity.py")

    def test_authorization(self):
        self.run_suite("test_authorization.py")

    def test_permits(self):
        self.run_suite("test_permits.py")

    def test_evidence_signatures(self):
        self.run_suite("test_evidence_signatures.py")

    def test_evidence_log(self):
        self.run_suite("test_evidence_log.py")

    def test_stream_signatures(self):
        self.run_suite("test_stream_signatures.py")


if __name__ == "__main__":
    unittest.main()
