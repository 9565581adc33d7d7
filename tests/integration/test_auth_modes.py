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

from identity_dirs import SIGN_SCHEME, make_identity
from ptp_harness import CRYPTO_YAML, GATEWAY, GM, Topology, curl, mint, ptp_headers, wait_until
from test_queue import container_headers, push_json

A_PORT, R_PORT, B_PORT, P_PORT, Q_PORT = 17801, 17802, 17803, 17804, 17805
ECHO_PORT, RECORD_PORT = 17810, 17811
A_URL = f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/"
R_URL = f"https://127.0.0.1:{R_PORT}/v1/interconn/chan/"
B_URL = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/"
KEY_A = "authmodes-test-hmac-key-of-A"  # A's containers' key (auth.node_keys.A at A only)
KEY_B = "authmodes-test-hmac-key-of-B"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


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
        cls.recorder = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()  # nothing left running when a gateway does not start
            raise

    @classmethod
    def start(cls):
        w = cls.topo.workdir
        cls.id = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}")
                  for n in ("A", "R", "B", "P")}
        root = {n: os.path.join(d, "root.crt") for n, d in cls.id.items()}
        cls.root = root
        common = "io_threads: 2\nreload_poll_ms: 1000\nlog: {level: info}\n" + CRYPTO_YAML
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
  - {{node_id: Q, address: "127.0.0.1:{Q_PORT}", auth: passthrough}}
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
        if cls.recorder:
            cls.recorder.close()
        cls.topo.close()

    def tls(self, server, cert_of=None):
        """curl options: trust `server`'s root; present cert_of's TLS certificate. Under
        PTP_CRYPTO=gm the server is not verified (-k): OpenSSL 3.0's chain check has no SM2
        ID for a certificate an SM2 root signed (docs/security.md "Crypto profiles")."""
        args = ["-k"] if GM else ["--cacert", self.root[server]]
        if cert_of:
            args += ["--cert", os.path.join(self.id[cert_of], "tls.crt"),
                     "--key", os.path.join(self.id[cert_of], "tls.key")]
        return tuple(args)

    def invoke_at_a(self, session, trace, uri="ptp/echo/x", body=b"hello"):
        # A's container (no certificate): an hmac token from A's own key, as today.
        h = ptp_headers("A", "B", session=session, trace=trace, uri=uri,
                        token=mint("A", "B", session, key=KEY_A))
        return curl(A_URL + "invoke", h, body, http="h2", extra=self.tls("A"))

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
        # docs/security.md's openssl recipe verifies it with A's root certificate (SM2 with
        # SM3 and the default ID under PTP_CRYPTO=gm).
        _, expiry, sig = token.split(".")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "msg"), "wb") as f:
                f.write(f"ptp-token-s1\nA\nB\ns-sig\n{expiry}".encode())
            with open(os.path.join(d, "sig.der"), "wb") as f:
                f.write(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            openssl("x509", "-in", self.root["A"], "-pubkey", "-noout", "-out", "pub.pem", cwd=d)
            out = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem",
                                  *SIGN_SCHEME, "-in", "msg", "-sigfile", "sig.der"],
                                 cwd=d, capture_output=True, text=True)
            self.assertIn("Signature Verified Successfully", out.stdout, out)

    def test_a_container_with_a_bad_hmac_token_is_refused_at_a(self):
        h = ptp_headers("A", "B", session="s-bad", trace="tr-bad-at-a",
                        token=mint("A", "B", "s-bad", key="not-the-key-of-A"))
        r = curl(A_URL + "invoke", h, b"x", http="h2", extra=self.tls("A"))
        self.assertEqual((r.headers.get("x-ptp-code"), r.headers.get("x-ptp-hop")),
                         ("E0000000403", "A"), r)

    def test_token_r_signs_claiming_a_is_refused(self):
        forged = mint_signed(self.id["R"], "A", "B", "s-forged")
        self.assertTrue(forged.startswith("s1."), forged)
        # At B, over R's own connection (R relays for A, so the hop is fine): the token is not.
        # At R, over A's connection: R checks the token too.
        for trace, url, server, cert_of, hop in (("tr-forged-b", B_URL, "B", "R", "B"),
                                                 ("tr-forged-r", R_URL, "R", "A", "R")):
            h = ptp_headers("A", "B", session="s-forged", trace=trace, uri="ptp/record/x",
                            token=forged, **{"x-ptp-route-path": "A"})
            r = curl(url + "invoke", h, b"forged", http="h2", extra=self.tls(server, cert_of))
            self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
            self.assertEqual(r.headers.get("x-ptp-hop"), hop, r)
            self.assertEqual(r.headers.get("x-ptp-message"),
                             "token signature does not match (session/source/target binding)", r)
        # A's own signature, the same way, reaches the service: the refusal was the key.
        genuine = mint_signed(self.id["A"], "A", "B", "s-forged")
        h = ptp_headers("A", "B", session="s-forged", trace="tr-genuine", uri="ptp/record/x",
                        token=genuine, **{"x-ptp-route-path": "A"})
        r = curl(B_URL + "invoke", h, b"genuine", http="h2", extra=self.tls("B", "R"))
        self.assertEqual((r.status, r.body), (200, b"genuine"), r)
        self.assertIn("tr-genuine", self.recorder.traces())
        self.assertNotIn("tr-forged-b", self.recorder.traces())
        self.assertNotIn("tr-forged-r", self.recorder.traces())

    def test_a_cannot_pop_b_messages_with_any_credential_it_holds(self):
        # A's container pushes to B: A's outbox signs the forward, R and B check it.
        h = container_headers("A", "B", "s-pop", token=mint("A", "B", "s-pop", key=KEY_A))
        h["content-type"] = "application/json"
        push = {"topic": "t", "payload": base64.b64encode(b"for B only").decode()}
        r = curl(A_URL + "push", h, json.dumps(push).encode(), extra=self.tls("A"))
        self.assertEqual(r.json()["code"], "E0000000000", r)
        wait_until(lambda: self.b.queue_stats()["inbox"]["messages"] >= 1, what="the message at B")
        tokens = {
            "A's hmac key, as B": ("B", mint("B", "B", "s-pop", key=KEY_A)),
            "A's node key, as B": ("B", mint_signed(self.id["A"], "B", "B", "s-pop")),
            "A's hmac key, as A": ("A", mint("A", "B", "s-pop", key=KEY_A)),
            "A's node key, as A": ("A", mint_signed(self.id["A"], "A", "B", "s-pop")),
        }
        for what, (source, token) in tokens.items():
            # Without a certificate (as a container would): claiming B the token fails,
            # claiming A the missing certificate of a pinned peer. With A's certificate:
            # a peer may not call queue interfaces.
            no_cert = "E0000000403" if source == "B" else "E0000000615"
            for cert_of, code in ((None, no_cert), ("A", "E0000000614")):
                for op in ("pop", "peek"):
                    h = container_headers(source, "B", "s-pop", token=token)
                    h["content-type"] = "application/json"
                    r = curl(B_URL + op, h, json.dumps({"topic": "t", "timeout": "100ms"}).encode(),
                             extra=self.tls("B", cert_of))
                    self.assertEqual(r.headers.get("x-ptp-code"), code, f"{what} {cert_of} {op}: {r}")
                    self.assertNotIn(b"payload", r.body, what)
        # B's own container still gets it.
        h = container_headers("B", "B", "s-pop", token=mint("B", "B", "s-pop", key=KEY_B))
        h["content-type"] = "application/json"
        r = curl(B_URL + "pop", h, json.dumps({"topic": "t", "timeout": "2s"}).encode(),
                 extra=self.tls("B"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"for B only")

    def test_passthrough_token_reaches_the_service_byte_for_byte(self):
        opaque = "vendorX:opaque/=+token"
        for http in ("h2", "1.1"):
            h = ptp_headers("P", "B", session="s-pt", trace="tr-pt-" + http, uri="ptp/echo/pt",
                            token=opaque)
            r = curl(B_URL + "invoke", h, b"from P", http=http, extra=self.tls("B", "P"))
            self.assertEqual((r.status, r.body), (200, b"from P"), r)
            self.assertEqual(r.headers["x-echo-x-ptp-token"], opaque, r)
        h = ptp_headers("P", "B", session="s-pt", trace="tr-pt-rec", uri="ptp/record/pt", token=opaque)
        r = curl(B_URL + "invoke", h, b"from P", http="h2", extra=self.tls("B", "P"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.recorder.seen[-1]["x-ptp-token"], opaque)

    def test_passthrough_needs_the_peer_certificate(self):
        opaque = "vendorX:opaque/=+token"
        # P (root pinned) without its certificate, and with A's: the identity binding.
        for cert_of in (None, "A"):
            h = ptp_headers("P", "B", session="s-pt", trace="tr-pt-nocert", uri="ptp/record/x",
                            token=opaque)
            r = curl(B_URL + "invoke", h, b"x", http="h2", extra=self.tls("B", cert_of))
            self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000615"), r)
        # Q, a passthrough peer with no pinned root, cannot present a certificate of Q's.
        h = ptp_headers("Q", "B", session="s-pt", trace="tr-pt-q", uri="ptp/record/x", token=opaque)
        r = curl(B_URL + "invoke", h, b"x", http="h2", extra=self.tls("B"))
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
        self.assertEqual(r.headers.get("x-ptp-message"),
                         "passthrough source Q must connect with its certificate", r)
        self.assertNotIn("tr-pt-nocert", self.recorder.traces())
        self.assertNotIn("tr-pt-q", self.recorder.traces())


if __name__ == "__main__":
    unittest.main(verbosity=2)
