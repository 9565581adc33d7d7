"""W3C trace context on the PTP port (docs/observability.md): a request without
x-ptp-trace-id takes its trace id from a valid `traceparent`; the header travels on
unchanged to the next hop (B's diag echo) and to B's local service; x-ptp-trace-id wins
when both are given; a malformed traceparent is ignored (no error, a fresh trace id, not
passed on). Driven by curl over HTTP/1.1 and h2c (and a gRPC client) through conf/direct on
other ports; a queued message keeps it up to its popper."""
import base64
import json
import unittest

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers

A_PORT, A_ADMIN, B_PORT, B_ADMIN, ECHO_PORT = 18611, 18661, 18612, 18662, 18613
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


class Traceparent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        a = cls.topo.variant(conf("direct", "a.yaml"), [
            ("port: 17304", f"port: {A_PORT}"), ("port: 17404", f"port: {A_ADMIN}"),
            ("127.0.0.1:17305", f"127.0.0.1:{B_PORT}")])
        b = cls.topo.variant(conf("direct", "b.yaml"), [
            ("port: 17305", f"port: {B_PORT}"), ("port: 17405", f"port: {B_ADMIN}"),
            ("127.0.0.1:17304", f"127.0.0.1:{A_PORT}"),
            ("127.0.0.1:18080", f"127.0.0.1:{ECHO_PORT}")])
        cls.topo.echo(ECHO_PORT)
        cls.a = cls.topo.gateway(a)
        cls.b = cls.topo.gateway(b)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_trace_id_from_traceparent_and_passed_on(self):
        for http in ("1.1", "h2c"):
            with self.subTest(http=http):
                h = ptp_headers("A", "B", trace=None, traceparent=PARENT)
                r = curl(A_URL, h, b"traced", http=http)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers["x-ptp-trace-id"], TRACE)
                self.assertEqual(r.headers["x-ptp-diag-trace-id"], TRACE)  # at B
                self.assertEqual(r.headers["x-ptp-diag-traceparent"], PARENT)  # unchanged

    def test_grpc_metadata_and_inbound_metadata(self):
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(ptp_headers("A", "B", trace=None, traceparent=PARENT).items())
            out = stub.invoke(pb.Inbound(payload=b"grpc"), metadata=md)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.metadata["x-ptp-diag-trace-id"], TRACE)
            self.assertEqual(out.metadata["x-ptp-diag-traceparent"], PARENT)
            # The PTP fields in Inbound.metadata instead of the call's metadata.
            inbound = pb.Inbound(payload=b"in-md",
                                 metadata=ptp_headers("A", "B", trace=None, traceparent=PARENT))
            out = stub.invoke(inbound)
            self.assertEqual(out.code, "E0000000000")
            self.assertEqual(out.metadata["x-ptp-diag-trace-id"], TRACE)

    def test_local_service_receives_traceparent(self):
        h = ptp_headers("A", "B", uri="ptp/echo/traced", trace=None, traceparent=PARENT)
        r = curl(A_URL, h, b"to the service", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"to the service")
        self.assertEqual(r.headers["x-echo-traceparent"], PARENT)
        self.assertEqual(r.headers["x-echo-x-ptp-trace-id"], TRACE)

    def test_x_ptp_trace_id_wins(self):
        h = ptp_headers("A", "B", trace="tr-explicit", traceparent=PARENT)
        r = curl(A_URL, h, b"x", http="1.1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ptp-trace-id"], "tr-explicit")
        self.assertEqual(r.headers["x-ptp-diag-trace-id"], "tr-explicit")
        self.assertEqual(r.headers["x-ptp-diag-traceparent"], PARENT)

    def test_queued_message_keeps_traceparent(self):
        # A container at A pushes to B (through A's outbox); a container at B pops it.
        def container(node, target):
            h = ptp_headers(node, target, session="s-tp", uri=None, trace=None)
            h.pop("x-ptp-version")
            h["content-type"] = "application/json"
            return h
        push = {"topic": "tp", "payload": base64.b64encode(b"queued").decode()}
        r = curl(f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/push",
                 {**container("A", "B"), "traceparent": PARENT}, json.dumps(push).encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ptp-trace-id"], TRACE)
        r = curl(f"http://127.0.0.1:{B_PORT}/v1/interconn/chan/pop", container("B", "B"),
                 json.dumps({"topic": "tp", "timeout": "10s"}).encode())
        self.assertEqual(r.status, 200, r)
        md = r.json()["metadata"]
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"queued")
        self.assertEqual(md["x-ptp-trace-id"], TRACE)
        self.assertEqual(md["traceparent"], PARENT)

    def test_malformed_traceparent_is_ignored(self):
        for bad in (PARENT.upper(), "ff" + PARENT[2:], f"00-{'0' * 32}-00f067aa0ba902b7-01",
                    PARENT + "-extra", "00-" + TRACE, "garbage"):
            with self.subTest(traceparent=bad):
                h = ptp_headers("A", "B", trace=None, traceparent=bad)
                r = curl(A_URL, h, b"x", http="h2c")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers["x-ptp-code"], "E0000000000")
                trace = r.headers["x-ptp-trace-id"]
                self.assertRegex(trace, r"^[0-9a-f]{32}$")
                self.assertNotEqual(trace, TRACE)
                self.assertNotIn("x-ptp-diag-traceparent", r.headers)


if __name__ == "__main__":
    unittest.main()
