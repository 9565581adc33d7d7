"""Request bodies before admission (docs/security.md): a request whose PTP header is in
HTTP headers is authenticated and routed on its head, and refused there without its body
being read; gRPC invoke (header inside the Inbound message) is bounded by the body
budgets. Meanwhile other clients are served. Gateway A of conf/direct."""
import socket
import time
import unittest

import grpc

from h2_raw import H2Client
from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers

A_PORT = 17304
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
INVOKE = "/v1/interconn/chan/invoke"
GRPC_INVOKE = "/org.ppc.ptp.PrivateTransferProtocol/invoke"
MiB = 1 << 20
# Well-formed, unexpired, but not minted with A's key.
FORGED = "v1.4102444800." + "0" * 64


def grpc_message(msg):
    raw = msg.SerializeToString()
    return b"\0" + len(raw).to_bytes(4, "big") + raw


def outbound_of(stream):
    pb, _ = grpc_stubs()
    data = stream.data
    assert len(data) >= 5 and data[0] == 0, data[:20]
    n = int.from_bytes(data[1:5], "big")
    return pb.Outbound.FromString(data[5:5 + n])


class PreAuthentication(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()

    def tearDown(self):
        self.topo.close()

    def assertStillServing(self):
        r = curl(A_URL, ptp_headers("A", "A"), b"meanwhile", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"meanwhile")

    def test_h2_unauthenticated_bodies_are_refused_on_their_headers(self):
        a = self.topo.gateway(conf("direct", "a.yaml"))
        base = a.rss_high_water_kb()
        bad = ptp_headers("A", "A", token=FORGED)
        with H2Client(A_PORT) as c:
            # 40 streams that never end, 4 MiB each, and 10 that declare 100 MiB.
            open_ended = [c.request(INVOKE, bad) for _ in range(40)]
            declared = [c.request(INVOKE, bad, content_length=100 * MiB) for _ in range(10)]
            sent = sum(c.send_body(s, 4 * MiB, end_stream=False) for s in open_ended)
            self.assertStillServing()
            grown = a.rss_high_water_kb() - base
            self.assertLess(grown, 32 * 1024,
                            f"{sent >> 20} MiB of unauthenticated bodies grew the peak RSS by "
                            f"{grown >> 10} MiB")
            # Every stream is answered on its headers, without its body having ended.
            self.assertTrue(c.wait(lambda: all(c.streams[s].headers for s in open_ended + declared), 10),
                            "refusals must not wait for the end of the body")
            for s in open_ended + declared:
                st = c.streams[s]
                self.assertEqual(st.status, 403, st.headers)
                self.assertEqual(st.headers["x-ptp-code"], "E0000000403")
            # A client that declared more than it may still send is told to stop
            # (RST_STREAM NO_ERROR once the answer is out) and can send nothing more.
            self.assertTrue(c.wait(lambda: all(c.streams[s].reset == 0 for s in declared), 5),
                            [c.streams[s].reset for s in declared])
            self.assertEqual(sum(c.send_body(s, MiB) for s in declared), 0)
            # At most 100 streams at once per connection by default (as nghttpx).
            self.assertEqual(c.conn.remote_settings.max_concurrent_streams, 100)
        self.assertStillServing()

    def test_http1_unauthenticated_body_is_not_read(self):
        self.topo.gateway(conf("direct", "a.yaml"))
        h = ptp_headers("A", "A", token=FORGED)
        head = (f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: {64 * MiB}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode()
        with socket.create_connection(("127.0.0.1", A_PORT), timeout=5) as s:
            s.sendall(head)  # and not one byte of the body
            got = b""
            t0 = time.time()
            while b"\r\n\r\n" not in got and time.time() - t0 < 5:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    self.fail("no answer while the body was not sent")
                if not chunk:
                    break
                got += chunk
            status_line = got.split(b"\r\n", 1)[0]
            self.assertIn(b" 403 ", status_line, got[:300])
            self.assertIn(b"x-ptp-code: E0000000403", got)
            self.assertIn(b"Connection: close", got)
            # The gateway closes the connection instead of reading the body.
            t0 = time.time()
            while time.time() - t0 < 5:
                try:
                    if not s.recv(65536):
                        break
                except ConnectionResetError:
                    break
            else:
                self.fail("the connection stayed open after the refusal")
        self.assertStillServing()

    def test_grpc_invoke_bodies_are_bounded_by_the_budgets(self):
        # gRPC invoke carries its PTP header inside the message: nothing to check before the
        # body, so the per-connection and process-wide budgets bound what it can hold.
        path = self.topo.variant(conf("direct", "a.yaml"), [(
            "log: {level: info}",
            "limits: {max_body_bytes: 1048576, buffered_body_bytes_per_connection: 2097152,\n"
            "         buffered_body_bytes_total: 3145728}\nlog: {level: info}")])
        a = self.topo.gateway(path)
        base = a.rss_high_water_kb()
        pb, pbg = grpc_stubs()
        grpc_ct = dict(content_type="application/grpc", extra=[("te", "trailers")])
        c1, c2 = H2Client(A_PORT), H2Client(A_PORT)
        try:
            s1 = [c1.request(GRPC_INVOKE, {}, **grpc_ct) for _ in range(5)]
            for s in s1:
                c1.send_body(s, 900 * 1024, end_stream=False, stall=0.3)
            # Two fit in the connection's 2 MiB; the others are refused once over it.
            self.assertTrue(c1.wait(lambda: all(c1.streams[s].closed for s in s1[2:]), 10))
            for s in s1[2:]:
                out = outbound_of(c1.streams[s])
                self.assertEqual(out.code, "E0000000700", out)
                self.assertIn("buffered_body_bytes_per_connection", out.message)
                self.assertEqual(c1.streams[s].trailers["grpc-status"], "0")
            self.assertTrue(all(c1.streams[s].headers is None for s in s1[:2]))
            # A second connection runs into the process-wide 3 MiB.
            s2 = [c2.request(GRPC_INVOKE, {}, **grpc_ct) for _ in range(3)]
            for s in s2:
                c2.send_body(s, 900 * 1024, end_stream=False, stall=0.3)
            self.assertTrue(c2.wait(lambda: all(c2.streams[s].closed for s in s2[1:]), 10))
            for s in s2[1:]:
                out = outbound_of(c2.streams[s])
                self.assertEqual(out.code, "E0000000700", out)
                self.assertIn("buffered_body_bytes_total", out.message)
            # Others are served meanwhile (a small body fits in what is left).
            self.assertStillServing()
            with grpc.insecure_channel(f"127.0.0.1:{A_PORT}") as ch:
                stub = pbg.PrivateTransferProtocolStub(ch)
                md = list(ptp_headers("A", "A").items())
                out = stub.invoke(pb.Inbound(payload=b"small"), metadata=md, timeout=10)
                self.assertEqual((out.code, out.payload), ("E0000000000", b"small"))
                # A connection that goes away gives its share back.
                c1.close()
                deadline = time.time() + 5
                while True:
                    out = stub.invoke(pb.Inbound(payload=b"y" * (900 * 1024)), metadata=md, timeout=10)
                    if out.code == "E0000000000" or time.time() > deadline:
                        break
                    time.sleep(0.05)
                self.assertEqual(out.code, "E0000000000", out.message)
                self.assertEqual(len(out.payload), 900 * 1024)
        finally:
            c1.close()
            c2.close()
        self.assertLess(a.rss_high_water_kb() - base, 48 * 1024)


if __name__ == "__main__":
    unittest.main(verbosity=2)
