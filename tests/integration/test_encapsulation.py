"""Encapsulation mode (docs/encapsulation.md): a request without x-ptp-version 1 carries the
whole message as an Inbound (HTTP: JSON or protobuf by Content-Type, the header fields in its
metadata; gRPC: the same Inbound), as v1.1.0 transport modules send it; the answer is an
Outbound. Both directions through real gateways: clients sending encapsulated requests to A,
and A sending encapsulated requests to a peer configured as a v1.1.0 peer (a recording HTTP
server that shows what went over the wire, and gateway B)."""
import base64
import concurrent.futures
import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"
LEGACY_PORT = 18093


def encapsulated_fields(source, target, **kw):
    """The header fields a v1.1.0 module puts in Inbound.metadata (no x-ptp-version)."""
    h = ptp_headers(source, target, **kw)
    h.pop("x-ptp-version")
    return h


def json_inbound(fields, payload):
    return json.dumps({"metadata": fields, "payload": base64.b64encode(payload).decode()}).encode()


class EncapsulatedClients(unittest.TestCase):
    """Clients speaking the encapsulated form to gateway A (routing to B, edge to edge)."""

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.topo.gateway(conf("direct", "a.yaml"))
        cls.topo.gateway(conf("direct", "b.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_json_inbound_without_any_ptp_header(self):
        payload = bytes(range(256)) * 4
        body = json_inbound(encapsulated_fields("A", "B", trace="tr-encap-json"), payload)
        for http in ("1.1", "h2c"):
            r = curl(A_URL, {"content-type": "application/json"}, body, http=http)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["content-type"].startswith("application/json"), r)
            out = r.json()
            self.assertEqual(out["code"], "E0000000000", out)
            self.assertEqual(base64.b64decode(out["payload"]), payload)
            # B answered (diag echo) and saw the request as pass-through from A.
            self.assertEqual(out["metadata"]["x-ptp-diag-node"], "B")
            self.assertEqual(out["metadata"]["x-ptp-diag-trace-id"], "tr-encap-json")
            self.assertEqual(out["metadata"]["x-ptp-trace-id"], "tr-encap-json")

    def test_protobuf_inbound_and_a_version_other_than_1(self):
        pb, _ = grpc_stubs()
        fields = encapsulated_fields("A", "B", trace="tr-encap-pb")
        body = pb.Inbound(metadata=fields, payload=b"protobuf payload").SerializeToString()
        for headers in ({"content-type": "application/x-protobuf"},
                        {"content-type": "application/x-protobuf", "x-ptp-version": "1.1.0"}):
            r = curl(A_URL, headers, body, http="h2c")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["content-type"], "application/x-protobuf")
            out = pb.Outbound.FromString(r.body)
            self.assertEqual((out.code, out.payload), ("E0000000000", b"protobuf payload"), out)
            self.assertEqual(out.metadata["x-ptp-diag-node"], "B")

    def test_header_fields_in_http_headers_and_metadata(self):
        # Fields may come as HTTP headers too; the same value in both is fine, another is not.
        fields = encapsulated_fields("A", "B", trace="tr-both")
        r = curl(A_URL, {**fields, "content-type": "application/json"}, json_inbound(fields, b"both"), http="1.1")
        self.assertEqual((r.status, base64.b64decode(r.json()["payload"])), (200, b"both"), r)
        other = dict(fields, **{"x-ptp-session-id": "another-session"})
        r = curl(A_URL, {**other, "content-type": "application/json"}, json_inbound(fields, b"x"), http="1.1")
        self.assertEqual((r.status, r.headers["x-ptp-code"]), (400, "E0000000400"), r)
        self.assertIn("x-ptp-session-id differs", r.headers["x-ptp-message"])
        self.assertEqual(r.json()["code"], "E0000000400")

    def test_errors_come_back_as_outbound(self):
        pb, _ = grpc_stubs()
        fields = encapsulated_fields("A", "B", token="v1.1.0000")  # malformed token
        r = curl(A_URL, {"content-type": "application/x-protobuf"},
                 pb.Inbound(metadata=fields, payload=b"x").SerializeToString(), http="h2c")
        self.assertEqual((r.status, r.headers["x-ptp-code"]), (403, "E0000000403"), r)
        out = pb.Outbound.FromString(r.body)
        self.assertEqual(out.code, "E0000000403")
        self.assertIn("malformed token", out.message)
        self.assertEqual(out.metadata["x-ptp-hop"], "A")
        # Not an Inbound: a codec error, in the request's serialization.
        r = curl(A_URL, {"content-type": "application/json"}, b'{"payload": 5}', http="1.1")
        self.assertEqual((r.status, r.json()["code"]), (400, "E0000000616"), r)
        self.assertIn("payload must be a string", r.json()["message"])
        # No x-ptp-version and a body that cannot be an Inbound: said plainly.
        h = ptp_headers("A", "B")
        h.pop("x-ptp-version")
        r = curl(A_URL, h, b"raw bytes", http="h2c")
        self.assertEqual((r.status, r.headers["x-ptp-code"]), (400, "E0000000400"), r)
        self.assertIn("without x-ptp-version is encapsulated", r.headers["x-ptp-message"])
        # Still serving pass-through requests.
        r = curl(A_URL, ptp_headers("A", "B"), b"v1", http="h2c")
        self.assertEqual((r.status, r.body), (200, b"v1"), r)

    def test_grpc_inbound_with_fields_in_metadata_only(self):
        pb, pbg = grpc_stubs()
        fields = encapsulated_fields("A", "B", trace="tr-encap-grpc")
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            out = stub.invoke(pb.Inbound(metadata=fields, payload=b"grpc encapsulated"), timeout=10)
        self.assertEqual((out.code, out.payload), ("E0000000000", b"grpc encapsulated"), out)
        self.assertEqual(out.metadata["x-ptp-diag-node"], "B")


class Recorder(BaseHTTPRequestHandler):
    """A v1.1.0 peer over HTTP/1.1: records each request and answers an Outbound protobuf."""
    requests = []
    answer = None  # (code, message, payload)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        pb, _ = grpc_stubs()
        code, message, payload = Recorder.answer
        out = pb.Outbound(code=code, message=message, payload=payload, metadata={"x-legacy-peer": "yes"})
        data = out.SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


class EncapsulatedPeers(unittest.TestCase):
    """Gateway A forwarding to peers configured as v1.1.0 peers."""

    def test_to_a_recording_legacy_peer(self):
        pb, _ = grpc_stubs()
        server = ThreadingHTTPServer(("127.0.0.1", LEGACY_PORT), Recorder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with Topology() as topo:
                a_path = topo.variant(conf("direct", "a.yaml"), [(
                    'address: "127.0.0.1:17305", protocol: http2,',
                    f'address: "127.0.0.1:{LEGACY_PORT}", protocol: http1, encapsulation: protobuf,')])
                topo.gateway(a_path)
                Recorder.requests.clear()
                Recorder.answer = ("E0000000000", "", b"answer from v1.1.0")
                r = curl(A_URL, ptp_headers("A", "B", trace="tr-to-legacy", uri="ptp/legacy/op"), b"to legacy", http="h2c")
                self.assertEqual((r.status, r.body), (200, b"answer from v1.1.0"), r)
                self.assertEqual(r.headers.get("x-legacy-peer"), "yes", r)
                # What went over the wire.
                self.assertEqual(len(Recorder.requests), 1)
                path, headers, body = Recorder.requests[0]
                self.assertEqual(path, "/v1/interconn/chan/invoke")
                self.assertNotIn("x-ptp-version", headers)
                self.assertEqual(headers["content-type"], "application/x-protobuf")
                inbound = pb.Inbound.FromString(body)
                self.assertEqual(inbound.payload, b"to legacy")
                md = dict(inbound.metadata)
                self.assertNotIn("x-ptp-version", md)
                for k, v in (("x-ptp-trace-id", "tr-to-legacy"), ("x-ptp-uri", "ptp/legacy/op"),
                             ("x-ptp-session-id", "sess-1"), ("x-ptp-source-node-id", "A"),
                             ("x-ptp-target-node-id", "B"), ("x-ptp-tech-provider-code", "PTPGW")):
                    self.assertEqual(md.get(k), v, md)
                self.assertTrue(md["x-ptp-token"].startswith("v1."))
                # The peer's Outbound code is the outcome.
                Recorder.answer = ("E0000000404", "no such operation", b"")
                r = curl(A_URL, ptp_headers("A", "B"), b"x", http="1.1")
                self.assertEqual((r.status, r.headers["x-ptp-code"], r.headers["x-ptp-hop"]),
                                 (404, "E0000000404", "B"), r)
                self.assertIn("no such operation", r.headers["x-ptp-message"])
        finally:
            server.shutdown()
            server.server_close()

    def test_to_a_recording_legacy_grpc_peer(self):
        pb, pbg = grpc_stubs()
        seen = []

        class Servicer(pbg.PrivateTransferProtocolServicer):
            def invoke(self, request, context):
                seen.append((dict(context.invocation_metadata()), request))
                return pb.Outbound(code="E0000000000", payload=b"grpc legacy answer")

        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        pbg.add_PrivateTransferProtocolServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{LEGACY_PORT + 1}")
        server.start()
        try:
            with Topology() as topo:
                a_path = topo.variant(conf("direct", "a.yaml"), [(
                    'address: "127.0.0.1:17305", protocol: http2,',
                    f'address: "127.0.0.1:{LEGACY_PORT + 1}", protocol: grpc, encapsulation: protobuf,')])
                topo.gateway(a_path)
                r = curl(A_URL, ptp_headers("A", "B", trace="tr-grpc-legacy"), b"to grpc legacy", http="1.1")
                self.assertEqual((r.status, r.body), (200, b"grpc legacy answer"), r)
                self.assertEqual(len(seen), 1)
                call_md, inbound = seen[0]
                self.assertNotIn("x-ptp-version", call_md)
                self.assertNotIn("x-ptp-version", inbound.metadata)
                self.assertEqual(inbound.payload, b"to grpc legacy")
                self.assertEqual(inbound.metadata["x-ptp-trace-id"], "tr-grpc-legacy")
                self.assertEqual(inbound.metadata["x-ptp-target-node-id"], "B")
        finally:
            server.stop(None)

    def test_to_a_gateway_as_legacy_peer(self):
        """A sends JSON (http2, http1) and protobuf (grpc) encapsulation; gateway B accepts them."""
        for protocol, fmt in (("http2", "json"), ("grpc", "protobuf"), ("http1", "json")):
            with self.subTest(protocol=protocol, encapsulation=fmt), Topology() as topo:
                a_path = topo.variant(conf("direct", "a.yaml"), [(
                    "protocol: http2, timeout_ms", f"protocol: {protocol}, encapsulation: {fmt}, timeout_ms")])
                topo.gateway(a_path)
                topo.gateway(conf("direct", "b.yaml"))
                r = curl(A_URL, ptp_headers("A", "B", trace="tr-gw-legacy"), b"through B", http="h2c")
                self.assertEqual((r.status, r.body), (200, b"through B"), r)
                self.assertEqual(r.headers["x-ptp-diag-node"], "B")
                self.assertEqual(r.headers["x-ptp-diag-trace-id"], "tr-gw-legacy")
                # An error raised at B travels back with B's code and hop.
                r = curl(A_URL, ptp_headers("A", "B", uri="ptp/nothing-here"), b"x", http="h2c")
                self.assertEqual((r.headers["x-ptp-code"], r.headers["x-ptp-hop"]), ("E0000000404", "B"), r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
