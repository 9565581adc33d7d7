"""Bad input and failures: each answers its PTP code, names the hop, and the gateway keeps
serving. Direct topology (conf/direct)."""
import os
import socket
import struct
import subprocess
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, mint, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"


class SlowService(BaseHTTPRequestHandler):
    """A local service that answers after 3 s, longer than the timeouts under test."""
    def do_POST(self):
        time.sleep(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


FOLDED_PORT = 18089


def serve_folded_answers(listener):
    """A local service whose HTTP/1.1 answer folds a header onto a second line (obsolete
    line folding, which the gateway refuses)."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok")


class Negative(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.folded = socket.create_server(("127.0.0.1", FOLDED_PORT))
        threading.Thread(target=serve_folded_answers, args=(cls.folded,), daemon=True).start()
        # B's max body is lowered to 1 MiB so the oversize case is cheap; A keeps the default.
        # B gets a local service that answers malformed HTTP/1.1.
        b = cls.topo.variant(conf("direct", "b.yaml"), [
            ("log: {level: info}", "limits: {max_body_bytes: 1048576}\nlog: {level: info}"),
            ("local_services:\n", "local_services:\n  - {uri: \"ptp/folded\", address: \"127.0.0.1:%d\", protocol: http1, timeout_ms: 5000}\n" % FOLDED_PORT),
        ])
        cls.topo.echo(18080)
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))
        cls.b = cls.topo.gateway(b)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()
        cls.folded.close()

    def assertStillServing(self):
        r = curl(A_URL, ptp_headers("A", "B", trace="alive"), b"alive", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"alive")

    def check(self, r, http_status, code, hop):
        self.assertEqual(r.status, http_status, r)
        self.assertEqual(r.headers["x-ptp-code"], code, r)
        self.assertEqual(r.headers["x-ptp-hop"], hop, r)
        body = r.json()
        self.assertEqual(body["code"], code)
        self.assertEqual(body["hop"], hop)
        self.assertTrue(body["message"])

    def test_missing_required_header(self):
        for http in ("1.1", "h2c"):
            h = ptp_headers("A", "B")
            del h["x-ptp-uri"]
            r = curl(A_URL, h, b"x", http=http)
            self.check(r, 400, "E0000000400", "A")
            self.assertIn("x-ptp-uri", r.headers["x-ptp-message"])
        self.assertStillServing()

    def test_illegal_characters_in_header(self):
        h = ptp_headers("A", "B", session="bad/session id")
        r = curl(A_URL, h, b"x", http="h2c")
        self.check(r, 400, "E0000000400", "A")
        self.assertIn("x-ptp-session-id", r.headers["x-ptp-message"])
        # A control character: HTTP/1.1 answers 400 E0000000400 (HTTP/2 stacks reset the stream).
        h = ptp_headers("A", "B", uri="ptp/diag/\x01echo")
        r = curl(A_URL, h, b"x", http="1.1")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.headers["x-ptp-code"], "E0000000400")
        self.assertStillServing()

    def test_bad_and_missing_token(self):
        wrong_key = mint("A", "B", "sess-1", key="not-the-key")
        other_session = mint("A", "B", "another-session")
        for tok in (wrong_key, other_session, "garbage", ""):
            h = ptp_headers("A", "B", token=tok)
            if not tok:
                del h["x-ptp-token"]
            r = curl(A_URL, h, b"must not pass", http="h2c")
            self.check(r, 403, "E0000000403", "A")
        self.assertStillServing()

    def test_bad_token_rejected_by_receiver_and_nothing_forwarded(self):
        # Straight to B, claiming to be A with a token minted under another key.
        before = self.echo_requests()
        h = ptp_headers("A", "B", uri="ptp/echo/x", token=mint("A", "B", "sess-1", key="forged"))
        r = curl("http://127.0.0.1:17305/v1/interconn/chan/invoke", h, b"x", http="h2c")
        self.check(r, 403, "E0000000403", "B")
        self.assertEqual(self.echo_requests(), before)

    def echo_requests(self):
        m = self.b.metrics()
        return sum(float(line.split()[-1]) for line in m.splitlines()
                   if line.startswith("ptp_requests_total") and 'route="local:' in line)

    def test_unknown_target(self):
        r = curl(A_URL, ptp_headers("A", "Nowhere"), b"x", http="1.1")
        self.check(r, 404, "E0000000618", "A")
        self.assertIn("Nowhere", r.headers["x-ptp-message"])

    def test_malformed_answer_of_a_local_service(self):
        r = curl(A_URL, ptp_headers("A", "B", uri="ptp/folded"), b"x", http="h2c")
        self.check(r, 400, "E0000000616", "B")
        self.assertIn("malformed HTTP response from 127.0.0.1:%d" % FOLDED_PORT, r.headers["x-ptp-message"], r)
        self.assertStillServing()

    def test_unknown_uri_at_target(self):
        r = curl(A_URL, ptp_headers("A", "B", uri="no/such/service"), b"x", http="h2c")
        self.check(r, 404, "E0000000404", "B")

    def test_oversize_body(self):
        r = curl(A_URL, ptp_headers("A", "B"), b"z" * (1024 * 1024 + 1), http="h2c")
        self.check(r, 413, "E0000000413", "B")
        r = curl("http://127.0.0.1:17305/v1/interconn/chan/invoke", ptp_headers("A", "B"), b"z" * (2 * 1024 * 1024), http="1.1")
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.headers["x-ptp-code"], "E0000000413")
        self.assertStillServing()

    def test_malformed_grpc_frame(self):
        # A gRPC call whose body claims a compressed message, and one with a truncated frame.
        h = ptp_headers("A", "B")
        for body in (b"\x01\x00\x00\x00\x02ab", b"\x00\x00\x00\x10\x00abc", b"\x00\x00\x00\x00\x03\xff\xff\xff"):
            args = ["curl", "-sS", "-D", "-", "-o", "/dev/null", "--http2-prior-knowledge", "-X", "POST",
                    "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary", "@-",
                    "http://127.0.0.1:17304/org.ppc.ptp.PrivateTransferProtocol/invoke"]
            for k, v in h.items():
                args[-1:-1] = ["-H", f"{k}: {v}"]
            out = subprocess.run(args, input=body, capture_output=True, timeout=30)
            text = out.stdout.decode().lower()
            # The standard's way (listen.grpc_errors: message): grpc-status 0, the PTP code
            # in the Outbound (and in x-ptp-code).
            self.assertIn("grpc-status: 0", text, text)
            self.assertIn("x-ptp-code: e0000000616", text, text)
        self.assertStillServing()

    def test_grpc_error_status(self):
        # The standard's way: the call succeeds, the Outbound carries the PTP code (the
        # grpc-status dialect is in test_grpc_conformance.py).
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            out, call = stub.invoke.with_call(pb.Inbound(payload=b"x"),
                                              metadata=list(ptp_headers("A", "Nowhere").items()))
            self.assertEqual(call.code(), grpc.StatusCode.OK)
            self.assertEqual(out.code, "E0000000618")
            self.assertEqual(out.metadata["x-ptp-hop"], "A")
            self.assertEqual(dict(call.trailing_metadata())["x-ptp-code"], "E0000000618")

    def test_silent_cleartext_client_is_closed(self):
        # Connects, says nothing: closed after the first-bytes deadline (10 s); others are
        # served meanwhile.
        with socket.create_connection(("127.0.0.1", 17304)) as s:
            s.settimeout(20)
            t0 = time.time()
            r = curl(A_URL, ptp_headers("A", "A"), b"meanwhile")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(s.recv(1), b"")  # EOF from the gateway
            self.assertGreater(time.time() - t0, 8)

    def test_unknown_path(self):
        r = curl("http://127.0.0.1:17304/v1/nope", ptp_headers("A", "B"), b"x", http="h2c")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.headers["x-ptp-code"], "E0000000404")


class PeerFailures(unittest.TestCase):
    def test_peer_down(self):
        with Topology() as topo:
            topo.gateway(conf("direct", "a.yaml"))
            r = curl(A_URL, ptp_headers("A", "B"), b"x", http="h2c")
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.headers["x-ptp-code"], "E0000000607")
            self.assertEqual(r.headers["x-ptp-hop"], "A")
            self.assertIn("127.0.0.1:17305", r.headers["x-ptp-message"])
            # B comes up: the same gateway now gets through.
            topo.echo(18080)
            topo.gateway(conf("direct", "b.yaml"))
            r = curl(A_URL, ptp_headers("A", "B"), b"up", http="h2c")
            self.assertEqual(r.status, 200, r)

    def test_local_service_down_and_timeout(self):
        with Topology() as topo:
            b = topo.variant(conf("direct", "b.yaml"), [("path: /echo, timeout_ms: 30000", "path: /echo, timeout_ms: 500")])
            topo.gateway(conf("direct", "a.yaml"))
            topo.gateway(b)
            # Service down: B answers 607 naming itself.
            r = curl(A_URL, ptp_headers("A", "B", uri="ptp/echo/1"), b"x", http="h2c")
            self.assertEqual(r.headers["x-ptp-code"], "E0000000607", r)
            self.assertEqual(r.headers["x-ptp-hop"], "B")
            # Service too slow: 601 after the route's timeout.
            srv = ThreadingHTTPServer(("127.0.0.1", 18080), SlowService)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            try:
                t0 = time.time()
                r = curl(A_URL, ptp_headers("A", "B", uri="ptp/echo/1"), b"x", http="h2c")
                self.assertEqual(r.status, 504, r)
                self.assertEqual(r.headers["x-ptp-code"], "E0000000601")
                self.assertEqual(r.headers["x-ptp-hop"], "B")
                self.assertLess(time.time() - t0, 2.5)
            finally:
                srv.shutdown()
                srv.server_close()


    def test_peer_timeout_over_http2(self):
        """A's HTTP/2 forward to B times out on A's peer timeout: 601 named by A, the
        stream to B is reset, and the next requests on the same connection time out too."""
        with Topology() as topo:
            a = topo.variant(conf("direct", "a.yaml"), [("protocol: http2, timeout_ms: 30000", "protocol: http2, timeout_ms: 500")])
            topo.gateway(a)
            topo.gateway(conf("direct", "b.yaml"))
            srv = ThreadingHTTPServer(("127.0.0.1", 18080), SlowService)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            try:
                for _ in range(2):
                    t0 = time.time()
                    r = curl(A_URL, ptp_headers("A", "B", uri="ptp/echo/1"), b"x", http="h2c")
                    self.assertEqual(r.status, 504, r)
                    self.assertEqual(r.headers["x-ptp-code"], "E0000000601")
                    self.assertEqual(r.headers["x-ptp-hop"], "A")
                    self.assertIn("no answer from B (127.0.0.1:17305) within 500 ms", r.headers["x-ptp-message"])
                    self.assertGreater(time.time() - t0, 0.4)
                    self.assertLess(time.time() - t0, 2.5)
            finally:
                srv.shutdown()
                srv.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
