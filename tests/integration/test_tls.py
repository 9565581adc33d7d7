"""TLS and mTLS end to end (variants of conf/direct, own ports, certificates made at test
time by tls_certs.py): B's TLS port negotiates h2 and http/1.1 by ALPN on one port and
serves gRPC over TLS; A reaches B over TLS with peer protocols http2, grpc and http1;
B requiring client certificates (mTLS); A distrusting B's certificate."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers
from tls_certs import Pki

# Own ports, so this test can run beside the other conf/direct tests.
A_PORT, A_ADMIN, B_PORT, B_ADMIN, ECHO_B = 17364, 17464, 17365, 17465, 18085
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
B_HTTPS = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/invoke"
PROTOCOLS = ("http2", "grpc", "http1")

pki = None


def setUpModule():
    global pki, PKI_DIR
    PKI_DIR = tempfile.mkdtemp(prefix="ptp-tls-pki-")
    pki = Pki(PKI_DIR)
    pki.issue("b-server", "b.ptp.test", client=False)
    pki.issue("a-client", "A", server=False)
    pki.issue("rogue-client", "A", server=False, ca="other-ca")


def tearDownModule():
    shutil.rmtree(PKI_DIR, ignore_errors=True)


def renumber(own_port, own_admin, peer_port, own_old, peer_old):
    return [(f"port: {own_old}}}", f"port: {own_port}}}"),
            (f"port: {own_old + 100}}}", f"port: {own_admin}}}"),
            (f"127.0.0.1:{peer_old}", f"127.0.0.1:{peer_port}")]


def start_b(topo, client_ca=False):
    tls = f"tls: {{cert: {pki.path('b-server.crt')}, key: {pki.path('b-server.key')}"
    tls += f", client_ca: {pki.ca}}}" if client_ca else "}"
    b = topo.variant(conf("direct", "b.yaml"), renumber(B_PORT, B_ADMIN, A_PORT, 17305, 17304) + [
        (f"port: {B_PORT}}}", f"port: {B_PORT}, {tls}}}"),
        ("127.0.0.1:18080", f"127.0.0.1:{ECHO_B}")], name="b.yaml")
    topo.echo(ECHO_B)
    return topo.gateway(b)


def start_a(topo, protocol="http2", ca=None, cert=None, key=None, extra=""):
    tls = f"tls: {{ca: {ca or pki.ca}"
    if cert:
        tls += f", cert: {cert}, key: {key}"
    tls += extra + "}"
    a = topo.variant(conf("direct", "a.yaml"), renumber(A_PORT, A_ADMIN, B_PORT, 17304, 17305) + [
        ("protocol: http2, timeout_ms: 30000}",
         f"protocol: {protocol}, timeout_ms: 30000, connect_timeout_ms: 3000, {tls}}}")],
        name=f"a-{protocol}.yaml")
    return topo.gateway(a)


def curl_tls(url, headers, body, http, extra=()):
    """curl over https; returns (HTTP version curl negotiated, status, headers, body)."""
    work = tempfile.mkdtemp(prefix="ptp-tls-curl-")
    try:
        hfile, bfile = os.path.join(work, "h"), os.path.join(work, "b")
        args = ["curl", "-sS", "-X", "POST", "--max-time", "20", "-D", hfile, "-o", bfile,
                "-w", "%{http_version}", {"h2": "--http2", "1.1": "--http1.1"}[http], *extra]
        for k, v in headers.items():
            args += ["-H", f"{k}: {v}"]
        out = subprocess.run([*args, "--data-binary", "@-", url], input=body, capture_output=True,
                             timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.decode()}")
        with open(hfile, "rb") as f:
            lines = f.read().decode().split("\r\n")
        with open(bfile, "rb") as f:
            data = f.read()
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if ":" in l)}
        return out.stdout.decode(), int(lines[0].split()[1]), hdrs, data
    finally:
        shutil.rmtree(work, ignore_errors=True)


def assert_a_still_serves(tc):
    """A answers its own diag echo after a failed peer connection."""
    r = curl(A_URL, ptp_headers("A", "A", trace="tr-a-alive"), b"still here", http="1.1")
    tc.assertEqual(r.status, 200, r)
    tc.assertEqual(r.headers["x-ptp-code"], "E0000000000")
    tc.assertEqual(r.body, b"still here")


class TlsListener(unittest.TestCase):
    """B's TLS port: ALPN picks h2 or http/1.1 on the same port; gRPC over TLS."""

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.b = start_b(cls.topo)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_alpn_h2_and_http11_same_port(self):
        for http, want in (("h2", "2"), ("1.1", "1.1")):
            h = ptp_headers("A", "B", trace=f"tr-tls-{http}")
            version, status, hdrs, body = curl_tls(B_HTTPS, h, b"over tls " + http.encode(), http,
                                                   extra=("--cacert", pki.ca))
            self.assertEqual(version, want)
            self.assertEqual(status, 200, hdrs)
            self.assertEqual(hdrs["x-ptp-code"], "E0000000000")
            self.assertEqual(hdrs["x-ptp-diag-node"], "B")
            self.assertEqual(hdrs["x-ptp-diag-uri"], "ptp/diag/echo")
            self.assertEqual(hdrs["x-ptp-diag-wire"], "http2" if http == "h2" else "http1")
            self.assertEqual(hdrs["x-ptp-diag-trace-id"], f"tr-tls-{http}")
            self.assertEqual(body, b"over tls " + http.encode())

    def test_server_certificate_is_verified_by_curl(self):
        # Against the untrusted CA curl must refuse: the port really presents b-server.crt.
        with self.assertRaisesRegex(RuntimeError, "certificate"):
            curl_tls(B_HTTPS, ptp_headers("A", "B"), b"x", "h2", extra=("--cacert", pki.other_ca))

    def test_cleartext_to_tls_port_fails(self):
        with self.assertRaises(RuntimeError):
            curl(B_HTTPS.replace("https", "http"), ptp_headers("A", "B"), b"x", http="h2c", timeout=5)

    def test_silent_client_is_dropped_after_handshake_deadline(self):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", B_PORT), timeout=20) as s:
            self.assertEqual(s.recv(1), b"")  # the server closes; a timeout here raises
        waited = time.monotonic() - start
        self.assertGreater(waited, 8)
        self.assertLess(waited, 15)
        deadline = time.monotonic() + 5  # logged just after the close, from another handler
        while "no handshake within 10 s" not in self.b.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("no handshake within 10 s", self.b.output())

    def test_grpc_over_tls(self):
        pb, pbg = grpc_stubs()
        creds = grpc.ssl_channel_credentials(root_certificates=pki.read("ca.crt"))
        with grpc.secure_channel(f"127.0.0.1:{B_PORT}", creds) as ch:
            md = list(ptp_headers("A", "B", trace="tr-grpc-tls").items())
            out = pbg.PrivateTransferProtocolStub(ch).invoke(pb.Inbound(payload=b"grpc over tls"),
                                                             metadata=md, timeout=20)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.payload, b"grpc over tls")
            self.assertEqual(out.metadata["x-ptp-diag-node"], "B")
            self.assertEqual(out.metadata["x-ptp-diag-wire"], "grpc")


class PeerOverTls(unittest.TestCase):
    """A (cleartext client side) -> B over TLS, for each peer protocol."""

    def test_each_protocol(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                start_b(topo)
                start_a(topo, proto)
                for uri in ("ptp/diag/echo", "ptp/echo/tls"):
                    h = ptp_headers("A", "B", uri=uri, trace=f"tr-{proto}")
                    for _ in range(2):  # the second request reuses the pooled TLS connection
                        r = curl(A_URL, h, f"via {proto}".encode(), http="1.1")
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.headers["x-ptp-code"], "E0000000000")
                        self.assertEqual(r.body, f"via {proto}".encode())
                        if uri == "ptp/diag/echo":
                            self.assertEqual(r.headers["x-ptp-diag-node"], "B")
                            self.assertEqual(r.headers["x-ptp-diag-wire"], proto)
                            self.assertEqual(r.headers["x-ptp-diag-route-path"], "A")
                        else:
                            self.assertEqual(r.headers["x-echo-x-ptp-trace-id"], f"tr-{proto}")

    def test_grpc_client_to_tls_peer(self):
        pb, pbg = grpc_stubs()
        with Topology() as topo:
            start_b(topo)
            start_a(topo, "http2")
            with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
                md = list(ptp_headers("A", "B", trace="tr-g-tls").items())
                out = pbg.PrivateTransferProtocolStub(ch).invoke(pb.Inbound(payload=b"g"), metadata=md,
                                                                 timeout=20)
                self.assertEqual(out.code, "E0000000000")
                self.assertEqual(out.metadata["x-ptp-diag-node"], "B")


class MutualTls(unittest.TestCase):
    """B requires client certificates signed by the test CA."""

    def expect_cert_error(self, r, *needles):
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
        msg = r.headers["x-ptp-message"]
        self.assertIn("B (127.0.0.1:", msg)
        for n in needles:
            self.assertIn(n, msg)

    def test_curl_needs_client_certificate(self):
        with Topology() as topo:
            start_b(topo, client_ca=True)
            with self.assertRaises(RuntimeError):
                curl_tls(B_HTTPS, ptp_headers("A", "B"), b"x", "h2", extra=("--cacert", pki.ca))
            _, status, hdrs, _ = curl_tls(
                B_HTTPS, ptp_headers("A", "B"), b"x", "h2",
                extra=("--cacert", pki.ca, "--cert", pki.path("a-client.crt"), "--key",
                       pki.path("a-client.key")))
            self.assertEqual(status, 200)
            self.assertEqual(hdrs["x-ptp-diag-node"], "B")

    def test_peer_without_client_cert_is_refused(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                start_b(topo, client_ca=True)
                start_a(topo, proto)
                r = curl(A_URL, ptp_headers("A", "B", trace="tr-nocert"), b"x", http="1.1")
                self.expect_cert_error(r, "alert certificate required",
                                       "no client certificate is configured")
                assert_a_still_serves(self)

    def test_peer_with_cert_from_other_ca_is_refused(self):
        with Topology() as topo:
            start_b(topo, client_ca=True)
            start_a(topo, "http2", cert=pki.path("rogue-client.crt"), key=pki.path("rogue-client.key"))
            r = curl(A_URL, ptp_headers("A", "B"), b"x", http="1.1")
            self.expect_cert_error(r, "alert unknown ca")
            assert_a_still_serves(self)

    def test_peer_with_client_cert_succeeds(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                start_b(topo, client_ca=True)
                start_a(topo, proto, cert=pki.path("a-client.crt"), key=pki.path("a-client.key"))
                r = curl(A_URL, ptp_headers("A", "B", uri="ptp/echo/m", trace="tr-mtls"), b"mtls ok",
                         http="1.1")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers["x-ptp-code"], "E0000000000")
                self.assertEqual(r.body, b"mtls ok")
                self.assertEqual(r.headers["x-echo-x-ptp-trace-id"], "tr-mtls")


class UntrustedServer(unittest.TestCase):
    """A does not trust B's certificate (wrong CA, wrong name): E0000000603, A keeps serving."""

    def test_wrong_ca(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                start_b(topo)
                a = start_a(topo, proto, ca=pki.other_ca)
                for _ in range(2):  # a failed handshake is not cached as a usable connection
                    r = curl(A_URL, ptp_headers("A", "B", trace="tr-wrong-ca"), b"x", http="1.1")
                    self.assertEqual(r.status, 403, r)
                    self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
                    self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
                    msg = r.headers["x-ptp-message"]
                    self.assertIn("B (127.0.0.1:", msg)
                    self.assertIn("certificate verify failed (unable to get local issuer certificate)", msg)
                assert_a_still_serves(self)
                self.assertTrue(a.alive())

    def test_tls_to_cleartext_port(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                topo.gateway(topo.variant(conf("direct", "b.yaml"),
                                          renumber(B_PORT, B_ADMIN, A_PORT, 17305, 17304), name="b.yaml"))
                start_a(topo, proto)
                r = curl(A_URL, ptp_headers("A", "B"), b"x", http="1.1")
                self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
                self.assertIn("wrong version number", r.headers["x-ptp-message"])
                assert_a_still_serves(self)

    def test_wrong_server_name(self):
        for proto in PROTOCOLS:
            with self.subTest(protocol=proto), Topology() as topo:
                start_b(topo)
                start_a(topo, proto, extra=", server_name: not-b.example")
                r = curl(A_URL, ptp_headers("A", "B"), b"x", http="1.1")
                self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
                self.assertIn("certificate verify failed (hostname mismatch)", r.headers["x-ptp-message"])
        # verify: false accepts it (test set-ups only).
        with Topology() as topo:
            start_b(topo)
            start_a(topo, "http2", ca=pki.other_ca, extra=", verify: false")
            r = curl(A_URL, ptp_headers("A", "B"), b"unverified", http="1.1")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"unverified")


if __name__ == "__main__":
    unittest.main(verbosity=2)
