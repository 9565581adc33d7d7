"""limits.max_body_bytes at its boundary: exactly the limit is accepted, one byte more is
refused with E0000000413, on HTTP/1.1, h2c and gRPC (where the limit is the message's);
and a refused oversize body is neither kept nor read to its end: the gateway's peak memory
stays small. Gateway A of conf/direct, limited to 1 MiB."""
import unittest

import grpc

from h2_raw import H2Client
from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers

A_PORT = 17304
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
INVOKE = "/v1/interconn/chan/invoke"
MiB = 1 << 20
LIMIT = MiB


class BodyLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        path = cls.topo.variant(conf("direct", "a.yaml"), [
            ("log: {level: info}", f"limits: {{max_body_bytes: {LIMIT}}}\nlog: {{level: info}}")])
        cls.a = cls.topo.gateway(path)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def headers(self):
        return ptp_headers("A", "A")  # A's own diag echo answers with the body

    def check_413(self, r):
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.headers["x-ptp-code"], "E0000000413")

    def test_http1_boundary(self):
        r = curl(A_URL, self.headers(), b"a" * LIMIT, http="1.1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), LIMIT)
        self.check_413(curl(A_URL, self.headers(), b"a" * (LIMIT + 1), http="1.1"))

    def test_h2c_boundary(self):
        # curl declares the length: one byte more is refused on the headers.
        r = curl(A_URL, self.headers(), b"b" * LIMIT, http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), LIMIT)
        self.check_413(curl(A_URL, self.headers(), b"b" * (LIMIT + 1), http="h2c"))
        # Without a declared length, the body is counted as it arrives.
        with H2Client(A_PORT) as c:
            exact = c.request(INVOKE, self.headers())
            self.assertEqual(c.send_body(exact, LIMIT), LIMIT)
            over = c.request(INVOKE, self.headers())
            c.send_body(over, LIMIT + 1)
            self.assertTrue(c.wait(lambda: c.streams[exact].ended and c.streams[over].headers, 10))
            self.assertEqual(c.streams[exact].status, 200)
            self.assertEqual(len(c.streams[exact].data), LIMIT)
            self.assertEqual(c.streams[over].status, 413)
            self.assertEqual(c.streams[over].headers["x-ptp-code"], "E0000000413")

    def test_grpc_boundary(self):
        # The limit is the gRPC message's (the serialized Inbound), not counting the 5-byte
        # prefix. Inbound{payload = n bytes} takes 1 + 3 + n bytes for these sizes.
        pb, pbg = grpc_stubs()
        exact = pb.Inbound(payload=b"c" * (LIMIT - 4))
        self.assertEqual(exact.ByteSize(), LIMIT)
        over = pb.Inbound(payload=b"c" * (LIMIT - 3))
        with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(self.headers().items())
            out = stub.invoke(exact, metadata=md, timeout=10)
            self.assertEqual(out.code, "E0000000000", out.message)
            self.assertEqual(len(out.payload), LIMIT - 4)
            out = stub.invoke(over, metadata=md, timeout=10)
            self.assertEqual(out.code, "E0000000413", out.message)

    def test_oversize_body_is_refused_early(self):
        # 300 MiB for a 1 MiB limit: the answer comes after the first MiB, the client is
        # stopped once its window is used up, and nothing of it stays in memory.
        base = self.a.rss_high_water_kb()
        with H2Client(A_PORT) as c:
            s = c.request(INVOKE, self.headers())
            sent = c.send_body(s, 300 * MiB, stall=2.0)
            self.assertTrue(c.wait(lambda: c.streams[s].headers is not None, 5))
            self.assertEqual(c.streams[s].status, 413)
            self.assertEqual(c.streams[s].headers["x-ptp-code"], "E0000000413")
            self.assertTrue(c.wait(lambda: c.streams[s].reset is not None, 5), "not reset")
            self.assertEqual(c.streams[s].reset, 0)  # NO_ERROR: the answer is complete
            # At most the limit plus one stream window (8 MiB) crossed the wire.
            self.assertLess(sent, LIMIT + 9 * MiB, f"{sent >> 20} MiB were read")
            # Declared up front, it is refused on its headers and reset at once.
            d = c.request(INVOKE, self.headers(), content_length=300 * MiB)
            self.assertTrue(c.wait(lambda: c.streams[d].reset is not None, 5))
            self.assertEqual(c.streams[d].status, 413)
            self.assertEqual(c.send_body(d, MiB), 0)
        grown = self.a.rss_high_water_kb() - base
        self.assertLess(grown, 16 * 1024, f"peak RSS grew by {grown >> 10} MiB")
        r = curl(A_URL, self.headers(), b"still serving", http="h2c")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
