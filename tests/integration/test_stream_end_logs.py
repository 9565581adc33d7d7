"""A streamed answer is logged and counted by how its stream ENDS (docs/observability.md,
"Streamed answers"): its head goes back at once, but the access log line and
ptp_requests_total / ptp_request_duration_seconds are written when the stream is over, with
the failure's PTP code and message when it failed after its head (the next hop resets it,
its trailers pass the answer-head bound, the client goes away), and the whole stream's
duration. Before, they were written with the head: E0000000000 and a success counted for a
stream the client got reset. Over HTTP/2 and gRPC; a stream that ends well is logged and
counted exactly once. Gateway A of conf/direct with a raw h2c service of the test's own."""
import json
import struct
import time
import unittest

import grpc
import h2.config
import h2.connection
import h2.events

from h2_raw import H2Client
from h2_server import H2Server
from ptp_harness import Topology, conf, grpc_stubs, ptp_headers, wait_until
from test_upstream_heads import STATUS_200, answer, data_frame, header_frames, literal

A_PORT = 17304
TRANSPORT = "/v1/interconn/chan/transport"
SERVICE_PORT = 18975
BEHAVIOURS = ["ok", "reset", "bomb", "hold", "flood"]
PROGRESS_MS = 2000  # connections.progress_ms: the watchdog's bound


def rst_frame(sid, code):
    return struct.pack(">I", 4)[1:] + bytes([3, 0]) + struct.pack(">I", sid) + \
        struct.pack(">I", code)


class StreamService(H2Server):
    """A local h2c service; the request path says how it answers:
    /ok    after the request's end: head, DATA "fine", END_STREAM;
    /reset at once: head, DATA "partial", then RST_STREAM (INTERNAL_ERROR);
    /bomb  at once: head, DATA "partial", then trailers over the gateway's 64 KiB bound;
    /hold  at once: head, DATA "partial", then nothing (the stream stays open);
    /flood after the request's end: head, then 128 KiB of DATA (more than a client's
           default window), END_STREAM."""

    @staticmethod
    def head_and_partial(sid):
        return header_frames(sid, STATUS_200 + literal("content-type", "text/plain"), False) + \
            data_frame(sid, b"partial", False)

    # The library's view of streams answered raw may disagree with what it sees next.
    tolerated = (Exception,)

    def on_events(self, conn, events, paths):
        out = []
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                path = dict(ev.headers)[":path"].lstrip("/")
                paths[ev.stream_id] = path
                if path == "reset":
                    out.append(self.head_and_partial(ev.stream_id) + rst_frame(ev.stream_id, 2))
                elif path == "bomb":
                    out.append(answer("stream-trailer-bomb", ev.stream_id, 2))
                elif path == "hold":
                    out.append(self.head_and_partial(ev.stream_id))
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                if paths.get(ev.stream_id) == "flood":
                    out.append(header_frames(
                        ev.stream_id, STATUS_200 + literal("content-type", "text/plain"),
                        False) + b"".join(data_frame(ev.stream_id, b"f" * 16384, i == 7)
                                          for i in range(8)))
                if paths.get(ev.stream_id) == "ok":
                    out.append(header_frames(
                        ev.stream_id, STATUS_200 + literal("content-type", "text/plain"),
                        False) + data_frame(ev.stream_id, b"fine", True))
        return b"".join(out)


def requests_total(metrics, **labels):
    """The sum of ptp_requests_total over the series carrying all `labels`."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("ptp_requests_total{") and \
                all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.split()[-1])
    return total


def duration_count(metrics, route):
    for line in metrics.splitlines():
        if line.startswith("ptp_request_duration_seconds_count{") and \
                f'route="{route}"' in line and 'interface="transport"' in line:
            return float(line.split()[-1])
    return 0.0


def request_bytes(metrics, route, direction):
    """ptp_request_bytes_total of `route` in `direction` ("in" or "out")."""
    for line in metrics.splitlines():
        if line.startswith("ptp_request_bytes_total{") and f'route="{route}"' in line and \
                f'direction="{direction}"' in line:
            return float(line.split()[-1])
    return 0.0


class StreamEndLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        services = "".join(
            f'  - {{uri: "ptp/se/{b}", address: "127.0.0.1:{SERVICE_PORT}", protocol: http2, '
            f'path: /{b}, timeout_ms: 30000}}\n' for b in BEHAVIOURS)
        path = cls.topo.variant(conf("direct", "a.yaml"),
                                [("local_services:\n", "local_services:\n" + services),
                                 ("log: {level: info}",
                                  f"log: {{level: info}}\nconnections: {{progress_ms: {PROGRESS_MS}}}")])
        cls.service = StreamService(SERVICE_PORT)
        cls.a = cls.topo.gateway(path)
        cls.pb, cls.pbg = grpc_stubs()

    @classmethod
    def tearDownClass(cls):
        cls.service.close()
        cls.topo.close()

    def lines(self, trace):
        """The gateway's JSON log lines for `trace`."""
        out = []
        for line in self.a.output().splitlines():
            if trace in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def access_line(self, trace, wait=10):
        """The one transport line of `trace`, waited for (it is written at the stream's end)."""
        wait_until(lambda: any(l.get("msg") == "transport" for l in self.lines(trace)), wait,
                   f"a transport log line for {trace}")
        time.sleep(0.3)  # a second line would come now
        found = [l for l in self.lines(trace) if l.get("msg") == "transport"]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def h2_stream(self, behaviour, trace, then=None):
        """A transport over HTTP/2 to ptp/se/<behaviour>; `then(client, sid)` once the
        answer's head and first bytes are in. Returns the client's view of the stream."""
        with H2Client(A_PORT) as c:
            sid = c.request(TRANSPORT, ptp_headers("A", "A", uri=f"ptp/se/{behaviour}",
                                                   trace=trace))
            c.send_body(sid, 5, end_stream=behaviour == "ok")
            self.assertTrue(c.wait(lambda: c.streams[sid].closed or c.streams[sid].data, 10))
            if then:
                then(c, sid)
            c.wait(lambda: c.streams[sid].closed, 10)
            return c.streams[sid]

    def assert_failed_line(self, line, code, words):
        self.assertEqual(line["code"], code, line)
        self.assertEqual(line["level"], "warn", line)
        self.assertEqual(line["hop"], "A", line)
        for w in words:
            self.assertIn(w, line.get("error", ""), line)

    def test_1_ok_stream_is_logged_and_counted_once(self):
        route = "local:ptp/se/ok"
        before = self.a.metrics()
        st = self.h2_stream("ok", "trace-se-ok")
        self.assertTrue(st.ended and st.data == b"fine", (st.headers, st.data, st.reset))
        line = self.access_line("trace-se-ok")
        self.assertEqual((line["code"], line["level"], line["route"]),
                         ("E0000000000", "info", route), line)
        self.assertNotIn("error", line)
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route=route, wire="http2", code="E0000000000") -
                         requests_total(before, route=route, wire="http2", code="E0000000000"), 1)
        self.assertEqual(requests_total(m, route=route) - requests_total(before, route=route), 1)
        self.assertEqual(duration_count(m, route) - duration_count(before, route), 1)

    def test_2_reset_by_next_hop(self):
        route = "local:ptp/se/reset"
        st = self.h2_stream("reset", "trace-se-reset")
        self.assertEqual(st.status, 200, st.headers)
        self.assertFalse(st.ended, "ended as if complete")
        self.assertNotIn(st.reset, (None, 0))
        line = self.access_line("trace-se-reset")
        self.assert_failed_line(line, "E0000000607", ["reset the stream"])
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route=route, wire="http2", code="E0000000607"), 1, m)
        self.assertEqual(requests_total(m, route=route, code="E0000000000"), 0)

    def test_3_trailers_over_the_bound(self):
        route = "local:ptp/se/bomb"
        st = self.h2_stream("bomb", "trace-se-bomb")
        self.assertEqual(st.status, 200, st.headers)
        self.assertNotIn(st.reset, (None, 0))
        line = self.access_line("trace-se-bomb")
        self.assert_failed_line(line, "E0000000413", ["answer trailers", "exceed 65536 bytes"])
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route=route, wire="http2", code="E0000000413"), 1)
        self.assertEqual(requests_total(m, route=route, code="E0000000000"), 0)

    def test_4_client_goes_away(self):
        route = "local:ptp/se/hold"

        def leave(c, sid):
            time.sleep(0.5)
            c.conn.reset_stream(sid, 8)  # CANCEL
            c.flush()
        st = self.h2_stream("hold", "trace-se-leave", then=leave)
        self.assertEqual((st.status, st.data), (200, b"partial"), st.headers)
        line = self.access_line("trace-se-leave")
        self.assert_failed_line(line, "E0000000400", ["client", "before the end of the answer"])
        # The whole stream's time, not the time to its head.
        self.assertGreaterEqual(line["duration_ms"], 450, line)
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route=route, wire="http2", code="E0000000400"), 1)
        self.assertEqual(requests_total(m, route=route, code="E0000000000"), 0)

    def test_6_client_takes_no_answer_bytes(self):
        # The watchdog resets a stream whose client gives it no window (test_slow_clients).
        route = "local:ptp/se/flood"
        with H2Client(A_PORT) as c:
            sid = c.request(TRANSPORT, ptp_headers("A", "A", uri="ptp/se/flood",
                                                   trace="trace-se-stall"))
            c.send_body(sid, 5)
            time.sleep(PROGRESS_MS / 1000 + 2.5)  # reading nothing: the window stays shut
            self.assertTrue(c.wait(lambda: c.streams[sid].closed, 10))
            st = c.streams[sid]
            self.assertEqual((st.status, st.reset), (200, 8), (st.headers, st.ended))
        line = self.access_line("trace-se-stall")
        self.assert_failed_line(line, "E0000000601",
                                [f"the client took no answer bytes for {PROGRESS_MS} ms"])
        # The whole stream's time (the watchdog counts in ticks: about PROGRESS_MS).
        self.assertGreaterEqual(line["duration_ms"], PROGRESS_MS / 2, line)
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route=route, wire="http2", code="E0000000601"), 1)
        self.assertEqual(requests_total(m, route=route, code="E0000000000"), 0)

    def test_5_grpc_streams(self):
        stub = self.pbg.PrivateTransferProtocolStub(grpc.insecure_channel(f"127.0.0.1:{A_PORT}"))
        pb = self.pb

        def call(behaviour, trace):
            md = list(ptp_headers("A", "A", uri=f"ptp/se/{behaviour}", trace=trace).items())
            return list(stub.transport(iter([pb.Inbound(payload=b"hello")]), metadata=md,
                                       timeout=10))

        ok = call("ok", "trace-se-grpc-ok")
        self.assertEqual([o.payload for o in ok], [b"fine"])
        line = self.access_line("trace-se-grpc-ok")
        self.assertEqual(line["code"], "E0000000000", line)
        # The failure is the last Outbound (listen.grpc_errors: message, grpc-status 0).
        failed = call("reset", "trace-se-grpc-reset")
        self.assertEqual(failed[0].payload, b"partial")
        self.assertEqual(failed[-1].code, "E0000000607", failed)
        line = self.access_line("trace-se-grpc-reset")
        self.assert_failed_line(line, "E0000000607", ["reset the stream"])
        m = self.a.metrics()
        self.assertEqual(requests_total(m, route="local:ptp/se/ok", wire="grpc",
                                        code="E0000000000"), 1, m)
        self.assertEqual(requests_total(m, route="local:ptp/se/reset", wire="grpc",
                                        code="E0000000607"), 1, m)
        self.assertEqual(requests_total(m, route="local:ptp/se/reset", wire="grpc",
                                        code="E0000000000"), 0, m)

    def test_7_streamed_bytes_are_counted(self):
        # ptp_request_bytes_total counts the bytes a streamed request sent in (they pass
        # chunk by chunk, env.body stays empty) and the bytes of its streamed answer, once,
        # when the stream ends. Before, direction="in" stayed 0 for every stream.
        n = 300_000
        before = self.a.metrics()
        with H2Client(A_PORT) as c:  # HTTP/2 in, a 128 KiB streamed answer out
            sid = c.request(TRANSPORT, ptp_headers("A", "A", uri="ptp/se/flood",
                                                   trace="trace-se-bytes"))
            self.assertEqual(c.send_body(sid, n), n)
            self.assertTrue(c.wait(lambda: c.streams[sid].closed, 10))
            st = c.streams[sid]
            self.assertTrue(st.ended and len(st.data) == 131072, (st.headers, st.reset))
        self.assertEqual(self.access_line("trace-se-bytes")["code"], "E0000000000")
        with H2Client(A_PORT) as c:  # the diag echo: the request's pipe is its answer's
            sid = c.request(TRANSPORT, ptp_headers("A", "A", uri="ptp/diag/echo",
                                                   trace="trace-se-bytes-echo"))
            self.assertEqual(c.send_body(sid, n), n)
            self.assertTrue(c.wait(lambda: c.streams[sid].closed, 10))
            st = c.streams[sid]
            self.assertTrue(st.ended and len(st.data) == n, (st.headers, st.reset, len(st.data)))
        self.access_line("trace-se-bytes-echo")
        stub = self.pbg.PrivateTransferProtocolStub(grpc.insecure_channel(f"127.0.0.1:{A_PORT}"))
        md = list(ptp_headers("A", "A", uri="ptp/se/ok", trace="trace-se-bytes-grpc").items())
        out = list(stub.transport(iter([self.pb.Inbound(payload=b"x" * 50_000)] * 6),
                                  metadata=md, timeout=10))
        self.assertEqual([o.payload for o in out], [b"fine"])
        self.access_line("trace-se-bytes-grpc")
        m = self.a.metrics()

        def grown(route, direction):
            return request_bytes(m, route, direction) - request_bytes(before, route, direction)
        self.assertGreaterEqual(grown("local:ptp/se/flood", "in"), n, m)
        self.assertGreaterEqual(grown("local:ptp/se/flood", "out"), 131072, m)
        self.assertGreaterEqual(grown("diag", "in"), n, m)
        self.assertGreaterEqual(grown("diag", "out"), n, m)
        self.assertGreaterEqual(grown("local:ptp/se/ok", "in"), 300_000, m)
        self.assertGreaterEqual(grown("local:ptp/se/ok", "out"), 4, m)
        # Counted once: not more than the stream carried (plus the other tests' bodies).
        self.assertLess(grown("diag", "in"), 2 * n, m)
        self.assertLess(grown("local:ptp/se/flood", "in"), 2 * n, m)


if __name__ == "__main__":
    unittest.main(verbosity=2)
