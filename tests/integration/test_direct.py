"""Direct topology (conf/direct): A <-> B over HTTP/2, driven by curl (HTTP/1.1 and h2c),
nghttp and a Python gRPC client; header integrity at B's local service; protocol
translation HTTP/1.1 client -> gRPC peer and gRPC client -> HTTP/2 peer."""
import subprocess
import unittest

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, mint, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"


class DirectTopology(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.echo_b = cls.topo.echo(18080)
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))
        cls.b = cls.topo.gateway(conf("direct", "b.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_diag_echo_http1_and_h2c(self):
        for http in ("1.1", "h2c"):
            h = ptp_headers("A", "B", trace=f"trace-{http}")
            r = curl(A_URL, h, b"hello over " + http.encode(), http=http)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"hello over " + http.encode())
            self.assertEqual(r.headers["x-ptp-code"], "E0000000000")
            self.assertEqual(r.headers["x-ptp-diag-node"], "B")
            self.assertEqual(r.headers["x-ptp-diag-trace-id"], f"trace-{http}")
            self.assertEqual(r.headers["x-ptp-diag-route-path"], "A")
            self.assertEqual(r.headers["x-ptp-trace-id"], f"trace-{http}")

    def test_local_service_receives_header_fields_intact(self):
        h = ptp_headers("A", "B", uri="ptp/echo/job-7", session="sess-hdr", trace="tr-hdr",
                        **{"x-ptp-source-inst-id": "INST_A", "x-ptp-target-inst-id": "INST_B",
                           "x-ptp-message-code": "code-9", "x-ptp-topic": "t-1"})
        body = bytes(range(256)) * 40
        r = curl(A_URL, h, body, http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        for k, v in h.items():
            if k in ("x-ptp-topic",):
                continue
            self.assertEqual(r.headers.get("x-echo-" + k), v, f"{k} at the service: {r.headers}")
        self.assertEqual(r.headers.get("x-echo-x-ptp-message-topic"), "t-1")
        self.assertEqual(r.headers.get("content-type"), "application/x-ptp-echo")
        r = curl(A_URL, {**h, "content-type": "application/json"}, b"{}", http="1.1")
        self.assertEqual(r.headers.get("content-type"), "application/x-ptp-echo")
        self.assertEqual(r.headers.get("x-echo-content-type"), "application/json")

    def test_nghttp_client(self):
        h = ptp_headers("A", "B", trace="tr-nghttp")
        args = ["nghttp", "-v", "-d", "-", A_URL.replace("invoke", "invoke")]
        for k, v in h.items():
            args += ["-H", f"{k}: {v}"]
        out = subprocess.run(args, input=b"from nghttp", capture_output=True, timeout=30)
        text = out.stdout.decode(errors="replace")
        self.assertEqual(out.returncode, 0, text + out.stderr.decode())
        self.assertIn(":status: 200", text)
        self.assertIn("x-ptp-diag-trace-id: tr-nghttp", text)
        self.assertTrue(text.rstrip().endswith("from nghttp") or "from nghttp" in text)

    def test_grpc_unary_invoke(self):
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(ptp_headers("A", "B", trace="tr-grpc").items())
            out, call = stub.invoke.with_call(pb.Inbound(payload=b"grpc payload"), metadata=md)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.payload, b"grpc payload")
            self.assertEqual(out.metadata["x-ptp-diag-trace-id"], "tr-grpc")
            self.assertEqual(out.metadata["x-ptp-diag-node"], "B")

    def test_grpc_header_fields_in_inbound_metadata(self):
        # Some platforms put the PTP fields in Inbound.metadata instead of call metadata.
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            inbound = pb.Inbound(payload=b"in-metadata", metadata=ptp_headers("A", "B", trace="tr-md"))
            out = stub.invoke(inbound)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.payload, b"in-metadata")
            self.assertEqual(out.metadata["x-ptp-diag-trace-id"], "tr-md")

    def test_grpc_bidirectional_transport(self):
        pb, pbg = grpc_stubs()
        chunks = [bytes([i]) * (1000 + i) for i in range(50)]
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(ptp_headers("A", "B", trace="tr-stream").items())
            got = b"".join(o.payload for o in stub.transport(iter(pb.Inbound(payload=c) for c in chunks), metadata=md))
            self.assertEqual(got, b"".join(chunks))

    def test_grpc_client_to_local_http1_service(self):
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(ptp_headers("A", "B", uri="ptp/echo/x", trace="tr-g2s").items())
            out = stub.invoke(pb.Inbound(payload=b"to service"), metadata=md)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.payload, b"to service")
            self.assertEqual(out.metadata["x-echo-x-ptp-trace-id"], "tr-g2s")


class ProtocolTranslation(unittest.TestCase):
    """A's route to B named grpc: an HTTP/1.1 client's invoke crosses as gRPC; and with B
    reached over http1, a gRPC client's invoke crosses as HTTP/1.1."""

    def run_with_peer_protocol(self, proto, client):
        with Topology() as topo:
            topo.echo(18080)
            a = topo.variant(conf("direct", "a.yaml"), [("protocol: http2", f"protocol: {proto}")])
            topo.gateway(a)
            topo.gateway(conf("direct", "b.yaml"))
            h = ptp_headers("A", "B", uri="ptp/echo/t", trace=f"tr-{proto}")
            if client == "http1":
                r = curl(A_URL, h, b"translated", http="1.1")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, b"translated")
                self.assertEqual(r.headers["x-echo-x-ptp-trace-id"], f"tr-{proto}")
                self.assertEqual(r.headers["x-echo-x-ptp-route-path"], "A")
            else:
                pb, pbg = grpc_stubs()
                with grpc.insecure_channel("127.0.0.1:17304") as ch:
                    out = pbg.PrivateTransferProtocolStub(ch).invoke(pb.Inbound(payload=b"translated"),
                                                                     metadata=list(h.items()))
                    self.assertEqual(out.code, "E0000000000")
                    self.assertEqual(out.payload, b"translated")
                    self.assertEqual(out.metadata["x-echo-x-ptp-trace-id"], f"tr-{proto}")

    def test_http1_client_to_grpc_peer(self):
        self.run_with_peer_protocol("grpc", "http1")

    def test_grpc_client_to_http2_peer(self):
        self.run_with_peer_protocol("http2", "grpc")

    def test_grpc_client_to_http1_peer(self):
        self.run_with_peer_protocol("http1", "grpc")


if __name__ == "__main__":
    unittest.main(verbosity=2)
