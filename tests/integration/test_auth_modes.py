"""Authentication modes per peer (docs/security.md, "Authentication modes") between real
gateways: A -> router R -> B with signature tokens (A signs with its node key, R and B
check with A's pinned root); a token R signs with its own key claiming source A is
refused at B and reaches nothing; a gateway holding no secret of B's cannot pop B's
messages with any credential it has; a passthrough peer's opaque token reaches B's
service byte for byte, and only from that peer's own connection."""
import base64
import json
import os
import subprocess
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ptp_harness import GATEWAY, Topology, curl, mint, ptp_headers, wait_until
from test_queue import container_headers, pop_json, push_json

A_PORT, R_PORT, B_PORT, P_PORT = 17801, 17802, 17803, 17804
ECHO_PORT, RECORD_PORT = 17810, 17811
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/"
B_URL = f"http://127.0.0.1:{B_PORT}/v1/interconn/chan/"
KEY_A = "authmodes-test-hmac-key-of-A"  # A's containers' key (auth.node_keys.A at A only)
KEY_B = "authmodes-test-hmac-key-of-B"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_identity(parent, node, inst):
    """An identity directory as `ptpctl identity init` makes it (DESIGN: node.key, root.crt,
    tls.key, tls.crt), with the openssl command line."""
    d = os.path.join(parent, f"id-{node}")
    os.makedirs(d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "node.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "node.key", "-days", "2", "-subj", f"/CN={node}/O={inst}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-addext", f"subjectAltName=URI:urn:ptp:node:{node}", "-out", "root.crt", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "tls.key", cwd=d)
    openssl("req", "-new", "-key", "tls.key", "-subj", f"/CN={node}", "-out", "tls.csr", cwd=d)
    with open(os.path.join(d, "tls.ext"), "w") as f:
        f.write(f"subjectAltName=URI:urn:ptp:node:{node},DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "root.crt", "-CAkey", "node.key", "-CAcreateserial",
            "-days", "2", "-extfile", "tls.ext", "-out", "leaf.crt", cwd=d)
    with open(os.path.join(d, "tls.crt"), "wb") as out:
        for name in ("leaf.crt", "root.crt"):
            with open(os.path.join(d, name), "rb") as f:
                out.write(f.read())
    os.chmod(os.path.join(d, "node.key"), 0o600)
    return d


def mint_signed(identity, source, target, session, ttl=300):
    """`ptp-gateway --mint-token --identity DIR`: an s1 token signed with DIR/node.key."""
    return subprocess.check_output(
        [GATEWAY, "--mint-token", "--identity", identity, "--source", source, "--target", target,
         "--session", session, "--ttl", str(ttl)]).decode().strip()


class Recorder:
    """A local service that records what reaches it (x-ptp-* headers as received)."""

    def __init__(self, port):
        self.seen = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def traces(self):
        return [h.get("x-ptp-trace-id") for h in self.seen]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def gateway_config(workdir, name, text):
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


class SignatureRouted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        w = cls.topo.workdir
        cls.id = {n: make_identity(w, n, f"INST_{n}") for n in ("A", "R", "B", "P")}
        root = {n: os.path.join(d, "root.crt") for n, d in cls.id.items()}
        cls.root = root
        common = "io_threads: 2\nreload_poll_ms: 1000\nlog: {level: info}\n"
        queue = "queue: {retry_min_ms: 100, retry_max_ms: 500}\n"
        cls.topo.echo(ECHO_PORT)
        cls.recorder = Recorder(RECORD_PORT)
        # A: one I/O thread, so that one session's requests meet one token cache.
        a = gateway_config(w, "a", f"""node: {{node_id: A, inst_id: INST_A, role: edge}}
listen: {{address: 127.0.0.1, port: {A_PORT}}}
admin: {{address: 127.0.0.1, port: {A_PORT + 50}}}
identity: {{dir: "{cls.id['A']}"}}
auth: {{mode: signature, node_keys: {{A: "{KEY_A}"}}}}
peers:
  - {{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: "{root['R']}"}}
  - {{node_id: B, via: R, root_file: "{root['B']}"}}
{common.replace("io_threads: 2", "io_threads: 1")}{queue}""")
        r = gateway_config(w, "r", f"""node: {{node_id: R, inst_id: INST_R, role: router}}
listen: {{address: 127.0.0.1, port: {R_PORT}}}
admin: {{address: 127.0.0.1, port: {R_PORT + 50}}}
identity: {{dir: "{cls.id['R']}"}}
auth: {{mode: signature}}
peers:
  - {{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: "{root['A']}"}}
  - {{node_id: B, address: "127.0.0.1:{B_PORT}", root_file: "{root['B']}"}}
{common}queue: {{enabled: false}}
""")
        b = gateway_config(w, "b", f"""node: {{node_id: B, inst_id: INST_B, role: edge}}
listen: {{address: 127.0.0.1, port: {B_PORT}}}
admin: {{address: 127.0.0.1, port: {B_PORT + 50}}}
identity: {{dir: "{cls.id['B']}"}}
auth: {{mode: signature, node_keys: {{B: "{KEY_B}"}}}}
peers:
  - {{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: "{root['R']}"}}
  - {{node_id: A, via: R, root_file: "{root['A']}"}}
  - {{node_id: P, address: "127.0.0.1:{P_PORT}", auth: passthrough, root_file: "{root['P']}"}}
default_route: R
local_services:
  - {{uri: "ptp/echo*", address: "127.0.0.1:{ECHO_PORT}", protocol: http1, path: /echo}}
  - {{uri: "ptp/record*", address: "127.0.0.1:{RECORD_PORT}", protocol: http1, path: /record}}
{common}{queue}""")
        cls.b = cls.topo.gateway(b)
        cls.r = cls.topo.gateway(r)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        cls.recorder.close()
        cls.topo.close()

    def invoke_at_a(self, session, trace, uri="ptp/echo/x", body=b"hello"):
        # A's container: an hmac token from A's own key, as today.
        h = ptp_headers("A", "B", session=session, trace=trace, uri=uri,
                        token=mint("A", "B", session, key=KEY_A))
        return curl(A_URL + "invoke", h, body, http="h2c")

    def test_b_accepts_the_token_a_signs(self):
        r = self.invoke_at_a("s-sig", "tr-sig")
        self.assertEqual((r.status, r.body), (200, b"hello"), r)
        self.assertEqual(r.headers["x-echo-x-ptp-route-path"], "A,R")
        token = r.headers["x-echo-x-ptp-token"]
        self.assertTrue(token.startswith("s1."), token)
        # The same session reuses the token; another session gets its own.
        again = self.invoke_at_a("s-sig", "tr-sig-2")
        self.assertEqual(again.headers["x-echo-x-ptp-token"], token)
        other = self.invoke_at_a("s-sig-other", "tr-sig-3")
        self.assertEqual(other.status, 200, other)
        self.assertNotEqual(other.headers["x-echo-x-ptp-token"], token)
        # docs/security.md's openssl recipe verifies it with A's root certificate.
        _, expiry, sig = token.split(".")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "msg"), "wb") as f:
                f.write(f"ptp-token-s1\nA\nB\ns-sig\n{expiry}".encode())
            with open(os.path.join(d, "sig.der"), "wb") as f:
                f.write(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            openssl("x509", "-in", self.root["A"], "-pubkey", "-noout", "-out", "pub.pem", cwd=d)
            out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature",
                                  "sig.der", "msg"], cwd=d, capture_output=True, text=True)
            self.assertIn("Verified OK", out.stdout, out)

    def test_a_container_with_a_bad_hmac_token_is_refused_at_a(self):
        h = ptp_headers("A", "B", session="s-bad", trace="tr-bad-at-a",
                        token=mint("A", "B", "s-bad", key="not-the-key-of-A"))
        r = curl(A_URL + "invoke", h, b"x", http="h2c")
        self.assertEqual((r.headers.get("x-ptp-code"), r.headers.get("x-ptp-hop")),
                         ("E0000000403", "A"), r)

    def test_token_r_signs_claiming_a_is_refused_at_b(self):
        forged = mint_signed(self.id["R"], "A", "B", "s-forged")
        self.assertTrue(forged.startswith("s1."), forged)
        for trace, url, hop in (("tr-forged-b", B_URL, "B"),
                                ("tr-forged-r", f"http://127.0.0.1:{R_PORT}/v1/interconn/chan/", "R")):
            h = ptp_headers("A", "B", session="s-forged", trace=trace, uri="ptp/record/x", token=forged,
                            **{"x-ptp-route-path": "A"})
            r = curl(url + "invoke", h, b"forged", http="h2c")
            self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
            self.assertEqual(r.headers.get("x-ptp-hop"), hop, r)
            self.assertIn("signature", r.headers.get("x-ptp-message", ""), r)
        # A's own signature, the same way, reaches the service: the refusal was the key.
        genuine = mint_signed(self.id["A"], "A", "B", "s-forged")
        h = ptp_headers("A", "B", session="s-forged", trace="tr-genuine", uri="ptp/record/x",
                        token=genuine, **{"x-ptp-route-path": "A"})
        r = curl(B_URL + "invoke", h, b"genuine", http="h2c")
        self.assertEqual((r.status, r.body), (200, b"genuine"), r)
        self.assertIn("tr-genuine", self.recorder.traces())
        self.assertNotIn("tr-forged-b", self.recorder.traces())
        self.assertNotIn("tr-forged-r", self.recorder.traces())

    def test_a_cannot_pop_b_messages_with_any_credential_it_holds(self):
        # A's container pushes to B: A's outbox signs the forward, R and B check it.
        r = push_json(A_URL, "A", "B", "s-pop", "t", b"for B only",
                      token=mint("A", "B", "s-pop", key=KEY_A))
        self.assertEqual(r.json()["code"], "E0000000000", r)
        wait_until(lambda: self.b.queue_stats()["inbox"]["messages"] >= 1, what="the message at B")
        attempts = {
            "A's hmac key, as B": ("B", mint("B", "B", "s-pop", key=KEY_A)),
            "A's node key, as B": ("B", mint_signed(self.id["A"], "B", "B", "s-pop")),
            "A's hmac key, as A": ("A", mint("A", "B", "s-pop", key=KEY_A)),
            "A's node key, as A": ("A", mint_signed(self.id["A"], "A", "B", "s-pop")),
        }
        for what, (source, token) in attempts.items():
            for op in ("pop", "peek"):
                h = container_headers(source, "B", "s-pop", token=token)
                h["content-type"] = "application/json"
                r = curl(B_URL + op, h, json.dumps({"topic": "t", "timeout": "100ms"}).encode())
                self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"),
                                 f"{what} {op}: {r}")
                self.assertNotIn(b"payload", r.body, what)
        # B's own container still gets it.
        h = container_headers("B", "B", "s-pop", token=mint("B", "B", "s-pop", key=KEY_B))
        h["content-type"] = "application/json"
        r = curl(B_URL + "pop", h, json.dumps({"topic": "t", "timeout": "2s"}).encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"for B only")

    def test_passthrough_needs_the_peer_certificate(self):
        # P's opaque token on a connection that presents no certificate of P's.
        h = ptp_headers("P", "B", session="s-pt", trace="tr-pt-nocert", uri="ptp/record/x",
                        token="vendorX:opaque/=+token")
        r = curl(B_URL + "invoke", h, b"x", http="h2c")
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
        self.assertEqual(r.headers.get("x-ptp-message"),
                         "passthrough source P must connect with its certificate", r)
        self.assertNotIn("tr-pt-nocert", self.recorder.traces())


if __name__ == "__main__":
    unittest.main(verbosity=2)
