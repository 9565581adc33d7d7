"""gRPC as the standard and the gRPC over HTTP/2 protocol say: a PTP error is answered with
grpc-status 0 and the code in the Outbound / TransportOutbound (listen.grpc_errors:
message), or as a gRPC status for peers configured so (status); our gateways read both
from each other; content types are exact and te: trailers is required. conf/direct."""
import unittest

import grpc

from h2_raw import H2Client
from ptp_harness import Topology, conf, curl, grpc_stubs, mint, ptp_headers

A_PORT = 17304
A = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/"
GRPC_INVOKE = "/org.ppc.ptp.PrivateTransferProtocol/invoke"
FORGED = "v1.4102444800." + "0" * 64


def grpc_body(msg):
    raw = msg.SerializeToString()
    return b"\0" + len(raw).to_bytes(4, "big") + raw


def first_message(data, cls):
    assert len(data) >= 5 and data[0] == 0, data[:20]
    return cls.FromString(data[5:5 + int.from_bytes(data[1:5], "big")])


class AnswerMessage(unittest.TestCase):
    """Default listen.grpc_errors: message."""

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.topo.gateway(conf("direct", "a.yaml"))
        cls.pb, cls.pbg = grpc_stubs()
        cls.ch = grpc.insecure_channel(f"127.0.0.1:{A_PORT}")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.topo.close()

    def test_invoke_errors_are_in_the_outbound(self):
        stub = self.pbg.PrivateTransferProtocolStub(self.ch)
        for headers, code in ((ptp_headers("A", "A", token=FORGED), "E0000000403"),
                              (ptp_headers("A", "Nowhere"), "E0000000618"),
                              (ptp_headers("A", "A", uri="no/such/service"), "E0000000404")):
            out, call = stub.invoke.with_call(self.pb.Inbound(payload=b"x"),
                                              metadata=list(headers.items()), timeout=10)
            self.assertEqual(call.code(), grpc.StatusCode.OK)
            self.assertEqual(out.code, code, out)
            self.assertTrue(out.message)
            self.assertEqual(out.metadata["x-ptp-hop"], "A")
            trailers = dict(call.trailing_metadata())
            self.assertEqual(trailers["x-ptp-code"], code)
        # The PTP header inside the Inbound (as the standard's clients send it).
        h = ptp_headers("A", "A", token=FORGED)
        out = stub.invoke(self.pb.Inbound(payload=b"x", metadata=h), timeout=10)
        self.assertEqual(out.code, "E0000000403", out)

    def test_queue_errors_are_in_the_transport_outbound(self):
        stub = self.pbg.PrivateTransferTransportStub(self.ch)
        h = ptp_headers("A", "B", token=FORGED)
        del h["x-ptp-uri"], h["x-ptp-version"]
        out, call = stub.pop.with_call(self.pb.PopInbound(topic="t", timeout=1),
                                       metadata=list(h.items()), timeout=10)
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertEqual(out.code, "E0000000403", out)
        self.assertIn("token", out.message)

    def test_refused_stream_answers_one_outbound(self):
        stub = self.pbg.PrivateTransferProtocolStub(self.ch)
        md = list(ptp_headers("A", "A", token=FORGED).items())
        call = stub.transport(iter([self.pb.Inbound(payload=b"x")]), metadata=md, timeout=10)
        outs = list(call)
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        self.assertEqual([o.code for o in outs], ["E0000000403"])

    def test_content_type_is_exact(self):
        pb = self.pb
        body = grpc_body(pb.Inbound(payload=b"ct"))
        with H2Client(A_PORT) as c:
            sids = {}
            for ct in ("application/grpc-web", "application/grpc-web+proto", "application/grpcXYZ",
                       "application/grpc+json", None):
                sids[ct] = c.request(GRPC_INVOKE, ptp_headers("A", "A"), content_type=ct,
                                     extra=[("te", "trailers")])
                c.send_body(sids[ct], len(body))
            good = c.request(GRPC_INVOKE, ptp_headers("A", "A"), content_type="application/grpc+proto",
                             extra=[("te", "trailers")])
            c.send_body(good, len(body))  # zeros: an empty frame, then more
            c.wait(lambda: all(c.streams[s].closed for s in [good, *sids.values()]), 10)
            for ct, s in sids.items():
                st = c.streams[s]
                self.assertEqual(st.status, 415, (ct, st.headers))
                self.assertEqual(st.headers["x-ptp-code"], "E0000000400")
                self.assertIn("application/grpc", st.headers["x-ptp-message"])
            # grpc+proto is gRPC: answered as gRPC (here: the zeros are two messages, 616).
            st = c.streams[good]
            self.assertEqual(st.status, 200)
            self.assertEqual(st.headers["content-type"], "application/grpc")
            self.assertEqual(first_message(st.data, pb.Outbound).code, "E0000000616")

    def test_te_trailers_is_required(self):
        pb = self.pb
        with H2Client(A_PORT) as c:
            s = c.request(GRPC_INVOKE, ptp_headers("A", "A"), content_type="application/grpc")
            body = grpc_body(pb.Inbound(payload=b"no te"))
            c.conn.send_data(s, body, end_stream=True)
            c.flush()
            self.assertTrue(c.wait(lambda: c.streams[s].closed, 10))
            out = first_message(c.streams[s].data, pb.Outbound)
            self.assertEqual(out.code, "E0000000400", out)
            self.assertIn("te: trailers", out.message)
            # With it, the same call works.
            s = c.request(GRPC_INVOKE, ptp_headers("A", "A"), content_type="application/grpc",
                          extra=[("te", "trailers")])
            c.conn.send_data(s, body, end_stream=True)
            c.flush()
            self.assertTrue(c.wait(lambda: c.streams[s].closed, 10))
            out = first_message(c.streams[s].data, pb.Outbound)
            self.assertEqual((out.code, out.payload), ("E0000000000", b"no te"))


class StatusDialect(unittest.TestCase):
    def test_listener_and_peer_dialects(self):
        pb, pbg = grpc_stubs()
        with Topology() as topo:
            # A answers B's requests with gRPC statuses, its own with the message.
            path = topo.variant(conf("direct", "a.yaml"), [(
                'protocol: http2, timeout_ms: 30000}',
                'protocol: http2, timeout_ms: 30000, grpc_errors: status}')])
            topo.gateway(path)
            with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
                stub = pbg.PrivateTransferProtocolStub(ch)
                from_b = dict(ptp_headers("B", "A", uri="no/such/service"), **{"x-ptp-token": mint("B", "A", "sess-1")})
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.invoke(pb.Inbound(payload=b"x"), metadata=list(from_b.items()), timeout=10)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
                self.assertEqual(dict(cm.exception.trailing_metadata())["x-ptp-code"], "E0000000404")
                out = stub.invoke(pb.Inbound(payload=b"x"),
                                  metadata=list(ptp_headers("A", "A", uri="no/such/service").items()),
                                  timeout=10)
                self.assertEqual(out.code, "E0000000404")
        with Topology() as topo:
            path = topo.variant(conf("direct", "a.yaml"), [
                ("listen: {address: 127.0.0.1, port: 17304}",
                 "listen: {address: 127.0.0.1, port: 17304, grpc_errors: status}")])
            topo.gateway(path)
            with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
                stub = pbg.PrivateTransferProtocolStub(ch)
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.invoke(pb.Inbound(payload=b"x"),
                                metadata=list(ptp_headers("A", "A", token=FORGED).items()), timeout=10)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
                trailers = dict(cm.exception.trailing_metadata())
                self.assertEqual((trailers["x-ptp-code"], trailers["x-ptp-hop"]), ("E0000000403", "A"))
                # A stream that fails ends with the status too.
                call = stub.transport(iter([pb.Inbound(payload=b"x")]),
                                      metadata=list(ptp_headers("A", "A", token=FORGED).items()),
                                      timeout=10)
                with self.assertRaises(grpc.RpcError) as cm:
                    list(call)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)


class GatewayToGateway(unittest.TestCase):
    """A reaches B over gRPC; B's refusals come back as PTP errors naming B, whichever way
    B answers them."""

    def run_with(self, b_style):
        with Topology() as topo:
            topo.echo(18080)
            topo.gateway(topo.variant(conf("direct", "a.yaml"), [("protocol: http2", "protocol: grpc")]))
            b = conf("direct", "b.yaml")
            if b_style != "message":  # the default
                b = topo.variant(b, [("listen: {address: 127.0.0.1, port: 17305}",
                                      f"listen: {{address: 127.0.0.1, port: 17305, grpc_errors: {b_style}}}")])
            topo.gateway(b)
            # Unary, from an HTTP/1.1 client.
            r = curl(A + "invoke", ptp_headers("A", "B", uri="no/such/service"), b"x", http="1.1")
            self.assertEqual((r.status, r.headers["x-ptp-code"], r.headers["x-ptp-hop"]),
                             (404, "E0000000404", "B"), r)
            # A stream B refuses: the client at A gets the error as its answer's head.
            r = curl(A + "transport", ptp_headers("A", "B", uri="no/such/service"), b"x", http="h2c")
            self.assertEqual((r.status, r.headers["x-ptp-code"], r.headers["x-ptp-hop"]),
                             (404, "E0000000404", "B"), r)
            # And what B accepts still flows, unary and streamed.
            r = curl(A + "invoke", ptp_headers("A", "B", uri="ptp/echo/x"), b"unary", http="1.1")
            self.assertEqual((r.status, r.body), (200, b"unary"), r)
            r = curl(A + "transport", ptp_headers("A", "B"), b"streamed", http="h2c")  # B's echo
            self.assertEqual((r.status, r.body), (200, b"streamed"), r)
            self.assertEqual(r.headers["x-ptp-diag-node"], "B")
            # An empty stream is answered (empty) too.
            r = curl(A + "transport", ptp_headers("A", "B"), b"", http="h2c")
            self.assertEqual((r.status, r.body), (200, b""), r)

    def test_peer_answers_in_the_message(self):
        self.run_with("message")

    def test_peer_answers_with_grpc_status(self):
        self.run_with("status")


if __name__ == "__main__":
    unittest.main(verbosity=2)
