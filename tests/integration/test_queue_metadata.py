"""Metadata of queued messages (conf/direct, embedded store; docs/queues.md "Metadata"):
metadata that cannot be a header (control characters, CR/LF, pseudo-header or
non-token names, header-field names) is refused at push with E0000000400 naming the key,
and a following valid push to the same peer is delivered; no header injection into an
HTTP/1.1 raw pop; topics and ids with '/' never collide in the outbox; every metadata
entry (k1, x-ptp-custom, ...) reaches the popping container, locally and across nodes."""
import base64
import json
import unittest

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs
from test_queue import A, B, container_headers, payloads_popped, pop_json

BAD = [
    ("k", "a\r\nSet-Cookie: injected=1"),
    ("k", "a\x01b"),
    ("k", "a\tb"),
    (":path", "/x"),
    ("bad name", "v"),
    ("K1", "upper-case name"),
    ("x-ptp-session-id", "other"),
    ("x-ptp-code", "E0000000000"),
    ("transfer-encoding", "chunked"),
    ("x-ptp-message-metadata", "{}"),
]


def push(base, node, target, session, topic, payload, metadata, http="1.1", msg_id=None):
    h = container_headers(node, target, session)
    h["content-type"] = "application/json"
    if msg_id:
        h["x-ptp-message-id"] = msg_id
    body = json.dumps({"topic": topic, "payload": base64.b64encode(payload).decode(),
                       "metadata": metadata}).encode()
    return curl(base + "push", h, body, http=http)


class QueueMetadata(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))
        cls.b = cls.topo.gateway(conf("direct", "b.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_bad_metadata_refused_then_valid_push_delivered(self):
        for i, (k, v) in enumerate(BAD):
            with self.subTest(key=k):
                r = push(A, "A", "B", "s-md-bad", "t", b"bad-%d" % i, {k: v},
                         http="h2c" if i % 2 else "1.1")
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json()["code"], "E0000000400", r)
                self.assertIn("metadata key", r.json()["message"], r)
        # The same over gRPC (PushInbound.metadata).
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch:
            stub = pbg.PrivateTransferTransportStub(ch)
            md = list(container_headers("A", "B", "s-md-bad").items())
            try:
                out = stub.push(pb.PushInbound(topic="t", payload=b"bad-grpc",
                                               metadata={"k": "a\r\nb"}), metadata=md)
                code = out.code
            except grpc.RpcError as e:
                code = e.details()
            self.assertIn("E0000000400", code)
        # Nothing of the above is stuck in the outbox: a valid push behind it arrives.
        r = push(A, "A", "B", "s-md-bad", "t", b"good", {"message-code": "ok"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(payloads_popped(B, "B", "s-md-bad", "t", 2, timeout="5s"), [b"good"])

    def test_no_header_injection_on_http1_raw_pop(self):
        # Local queue (target = own node): what a raw pop would write as headers.
        r = push(A, "A", "A", "s-md-inj", "t", b"evil", {"k": "v\r\nSet-Cookie: injected=1"})
        self.assertEqual(r.status, 400, r)
        r = push(A, "A", "A", "s-md-inj", "t", b"fine", {"k": "v"})
        self.assertEqual(r.status, 200, r)
        h = container_headers("A", "A", "s-md-inj")
        h["content-type"] = "application/octet-stream"
        for _ in range(2):
            r = curl(A + "pop?topic=t&timeout=1", h, b"", http="1.1")
            self.assertEqual(r.status, 200, r)
            self.assertNotIn("set-cookie", r.headers, r)
            if r.headers["x-ptp-queue-result"] == "empty":
                break
            self.assertEqual(r.body, b"fine", r)
            self.assertEqual(r.headers["x-ptp-k"], "v", r)

    def test_topics_and_ids_with_slashes_do_not_collide(self):
        r1 = push(A, "A", "B", "s-md-slash", "x/y", b"first", {}, msg_id="z")
        r2 = push(A, "A", "B", "s-md-slash", "x", b"second", {}, msg_id="y/z")
        self.assertEqual((r1.status, r2.status), (200, 200), (r1, r2))
        self.assertEqual(payloads_popped(B, "B", "s-md-slash", "x/y", 1, timeout="5s"), [b"first"])
        self.assertEqual(payloads_popped(B, "B", "s-md-slash", "x", 1, timeout="5s"), [b"second"])

    def test_all_metadata_reaches_the_container(self):
        md = {"k1": "v1", "x-ptp-custom": "custom value", "message-code": "mc",
              "x-ptp-message-flag": "f", "utf8": "caf\u00e9"}
        want = {"k1": "v1", "x-ptp-custom": "custom value", "message-code": "mc",
                "message-flag": "f", "utf8": "caf\u00e9"}
        for target, base in (("B", B), ("A", A)):
            with self.subTest(target=target):
                r = push(A, "A", target, "s-md-all", "t", b"m", md)
                self.assertEqual(r.status, 200, r)
                r = pop_json(base, target, "s-md-all", "t", timeout="5s")
                got = r.json().get("metadata", {})
                for k, v in want.items():
                    self.assertEqual(got.get(k), v, r)
                self.assertNotIn("x-ptp-message-metadata", got)
        # gRPC in, gRPC out, across nodes.
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch_a, \
                grpc.insecure_channel("127.0.0.1:17305") as ch_b:
            out = pbg.PrivateTransferTransportStub(ch_a).push(
                pb.PushInbound(topic="g", payload=b"g", metadata={"k1": "v1", "x-ptp-custom": "c"}),
                metadata=list(container_headers("A", "B", "s-md-grpc").items()))
            self.assertEqual(out.code, "E0000000000", out)
            out = pbg.PrivateTransferTransportStub(ch_b).pop(
                pb.PopInbound(topic="g", timeout=5),
                metadata=list(container_headers("B", "B", "s-md-grpc").items()))
            self.assertEqual(out.payload, b"g")
            # Protobuf answers name metadata as the headers do (docs/queues.md).
            self.assertEqual(out.metadata["x-ptp-k1"], "v1")
            self.assertEqual(out.metadata["x-ptp-custom"], "c")


class QueueMetadataRouted(unittest.TestCase):
    def test_metadata_crosses_routers(self):
        with Topology() as topo:
            for n in ("r1", "r2", "a", "b", "c"):
                topo.gateway(conf("routed", f"{n}.yaml"))
            ra, rc = ("http://127.0.0.1:%d/v1/interconn/chan/" % p for p in (17314, 17318))
            r = push(ra, "A", "C", "s-md-routed", "t", b"m", {"k1": "v1", "x-ptp-custom": "c"},
                     http="h2c")
            self.assertEqual(r.status, 200, r)
            r = pop_json(rc, "C", "s-md-routed", "t", timeout="5s")
            got = r.json().get("metadata", {})
            self.assertEqual((got.get("k1"), got.get("x-ptp-custom")), ("v1", "c"), r)


class QueueMetadataRestart(unittest.TestCase):
    def test_metadata_survives_a_restart(self):
        with Topology() as topo:
            a = topo.gateway(conf("direct", "a.yaml"))
            r = push(A, "A", "A", "s-md-restart", "t", b"kept", {"k1": "v1", "x-ptp-custom": "c"})
            self.assertEqual(r.status, 200, r)
            a.stop(sig=9)
            topo.procs.remove(a)
            topo.gateway(conf("direct", "a.yaml"))
            r = pop_json(A, "A", "s-md-restart", "t", timeout="5s")
            got = r.json().get("metadata", {})
            self.assertEqual((got.get("k1"), got.get("x-ptp-custom")), ("v1", "c"), r)


if __name__ == "__main__":
    unittest.main()
