"""A next hop's answer head and trailers are bounded (docs/security.md, "Answer heads from
next hops"): a local h2c service that answers with an HPACK bomb (one big header kept in
the HPACK dynamic table, then repeated as one-byte indexed fields over HEADERS +
CONTINUATION frames) or with many small headers gets its stream reset, the client a clear
E0000000413 naming the service and the limit, and the gateway's memory stays small; the
same for the trailers, an informational (1xx) head, a streamed answer, a peer gateway's
answer and a gRPC service's. Other answers go on. The HTTP/1.1 client's own bound is
checked too. Gateway A of conf/direct with services of the test's own making, one of them
at peer B's address."""
import struct
import socket
import threading
import unittest

import h2.config
import h2.connection
import h2.events

from h2_raw import H2Client
from h2_server import H2Server
from loopback_server import LoopbackServer
from ptp_harness import Topology, conf, curl, ptp_headers

A_PORT = 17304
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
INVOKE = "/v1/interconn/chan/invoke"
TRANSPORT = "/v1/interconn/chan/transport"  # streamed over h2
B_PORT = 17305  # peer B's address in conf/direct/a.yaml
SERVICE_PORT = 18970
LIMIT = 64 << 10  # the gateway's bound on an answer's head (and on its trailers)
MiB = 1 << 20
PATHS = ["ok", "head-bomb", "trailer-bomb", "many-headers", "info-bomb", "stream-trailer-bomb",
         "info-then-ok", "many-under-limit"]


def hpack_int(value, prefix_bits, first_byte_flags):
    """An HPACK integer (RFC 7541 5.1) with the first byte's other bits set."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | top]
    value -= top
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal field with a new name: added to the dynamic table (indexed) or not."""
    n, v = name.encode(), value.encode()
    return (hpack_int(0, 6, 0x40) if indexed else b"\x00") + hpack_int(len(n), 7, 0) + n + \
        hpack_int(len(v), 7, 0) + v


STATUS_200 = b"\x88"  # static table entry 8


def status(code):
    return b"\x08" + hpack_int(len(str(code)), 7, 0) + str(code).encode()  # name :status


def bomb_block(head, frames):
    """A header block of `frames` 64 KiB frames: one 4000-byte x-bomb value added to the
    dynamic table (index 62), then repeated by one-byte indexed fields (0xbe)."""
    prefix = head + literal("x-bomb", "b" * 4000, indexed=True)
    return prefix + b"\xbe" * (frames * 65536 - len(prefix))


def header_frames(sid, block, end_stream, max_frame=65536):
    """HEADERS + CONTINUATION frames carrying `block` (the peer announced 64 KiB frames)."""
    chunks = [block[i:i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
    out = b""
    for i, chunk in enumerate(chunks):
        flags = (0x4 if i == len(chunks) - 1 else 0) | (0x1 if end_stream and i == 0 else 0)
        out += struct.pack(">I", len(chunk))[1:] + bytes([1 if i == 0 else 9, flags]) + \
            struct.pack(">I", sid) + chunk
    return out


def data_frame(sid, data, end_stream):
    return struct.pack(">I", len(data))[1:] + bytes([0, 1 if end_stream else 0]) + \
        struct.pack(">I", sid) + data


def answer(path, sid, frames):
    """The raw frames answering a request to /<path>."""
    plain = STATUS_200 + literal("content-type", "text/plain")
    if path == "head-bomb":
        return header_frames(sid, bomb_block(STATUS_200, frames), True)
    if path in ("trailer-bomb", "stream-trailer-bomb"):
        return header_frames(sid, plain, False) + data_frame(sid, b"partial", False) + \
            header_frames(sid, bomb_block(b"", frames), True)
    if path.startswith("many-"):  # small fields of 60 bytes each as HTTP/2 counts them
        n = 3000 if path == "many-headers" else 1000  # 180 KB; 60 KB (under 64 KiB)
        block = STATUS_200 + b"".join(literal(f"x-h-{i:04}", "v" * 20) for i in range(n))
        return header_frames(sid, block, True, max_frame=16384)
    if path == "info-bomb":  # a 103 head with the bomb, then a small final answer
        return header_frames(sid, bomb_block(status(103), frames), False) + \
            header_frames(sid, plain, False) + data_frame(sid, b"late", True)
    if path == "info-then-ok":  # a small 103 head: its fields are not the answer's
        return header_frames(sid, status(103) + literal("x-early", "hint"), False) + \
            header_frames(sid, plain + literal("x-kept", "yes"), False) + \
            data_frame(sid, b"fine", True)
    return header_frames(sid, plain + literal("x-kept", "yes"), False) + \
        data_frame(sid, b"fine", True)


class HeadBombService(H2Server):
    """A local h2c service: the path of the request (/ok, /head-bomb, ...) says how it
    answers; every answer is written as raw frames (the bombs use the HPACK dynamic table,
    which python-h2's encoder would not know of), literals without indexing otherwise."""

    def __init__(self, port, frames):
        self.frames = frames  # 64 KiB frames per bomb block (nghttp2 allows 1 + 8)
        super().__init__(port)

    @staticmethod
    def behaviour(headers):
        """How to answer: the path of a local HTTP/2 service's request, else (a peer's
        request, a gRPC service's) the last part of x-ptp-uri."""
        path = headers[":path"].lstrip("/")
        if path in PATHS:
            return path
        return headers.get("x-ptp-uri", "").rsplit("/", 1)[-1]

    def on_events(self, conn, events, paths):
        due = []
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                paths[ev.stream_id] = self.behaviour(dict(ev.headers))
                if paths[ev.stream_id].startswith("stream-"):
                    due.append(ev.stream_id)  # answers before the request ends
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                if not paths.get(ev.stream_id, "").startswith("stream-"):
                    due.append(ev.stream_id)
        # Sent after our SETTINGS ACK (the gateway's 64 KiB frames).
        return b"".join(answer(paths[sid], sid, self.frames) for sid in due)


H1_PORT = 18971
H1_PATHS = ["h1-many-lines", "h1-long-line", "h1-trailers", "h1-ok"]


def h1_answer(path):
    """An HTTP/1.1 answer to /<path>: 1 MiB of head or of trailers, or a normal one."""
    if path == "h1-many-lines":
        return (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H-%05d: %s\r\n" % (i, b"v" * 90)
                                                  for i in range(10000)) +
                b"Content-Length: 2\r\n\r\nhi")
    if path == "h1-long-line":
        return b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * MiB + b"\r\nContent-Length: 2\r\n\r\nhi"
    if path == "h1-trailers":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n" +
                b"".join(b"X-T-%05d: %s\r\n" % (i, b"v" * 90) for i in range(10000)) + b"\r\n")
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nfine"


class Http1Service(LoopbackServer):
    """A local HTTP/1.1 service answering one request per connection by its path."""

    def __init__(self, port):
        super().__init__(port)

    def serve(self, c):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                more = c.recv(65536)
                if not more:
                    return
                data += more
            path = data.split(b" ", 2)[1].decode().lstrip("/")
            c.sendall(h1_answer(path))
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
        except OSError:
            pass
        finally:
            c.close()



class UpstreamHeads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        services = "".join(
            f'  - {{uri: "ptp/heads/{p}", address: "127.0.0.1:{SERVICE_PORT}", protocol: http2, '
            f'path: /{p}, timeout_ms: 30000}}\n' for p in PATHS) + \
            f'  - {{uri: "ptp/grpc/*", address: "127.0.0.1:{SERVICE_PORT}", protocol: grpc}}\n'
        services += "".join(
            f'  - {{uri: "ptp/h1/{p}", address: "127.0.0.1:{H1_PORT}", protocol: http1, '
            f'path: /{p}, timeout_ms: 30000}}\n' for p in H1_PATHS)
        path = cls.topo.variant(conf("direct", "a.yaml"),
                                [("local_services:\n", "local_services:\n" + services)])
        # Two 64 KiB frames: about 500 MiB of header values unbounded (a peak of 1.5 GiB
        # per head bomb measured without the bound).
        cls.service = HeadBombService(SERVICE_PORT, frames=2)
        cls.peer = HeadBombService(B_PORT, frames=2)  # conf/direct's peer B
        cls.h1 = Http1Service(H1_PORT)
        cls.a = cls.topo.gateway(path)
        cls.check_serving()  # connection to the service open, memory settled

    @classmethod
    def tearDownClass(cls):
        cls.service.close()
        cls.peer.close()
        cls.h1.close()
        cls.topo.close()

    @classmethod
    def check_serving(cls):
        r = curl(A_URL, ptp_headers("A", "A", uri="ptp/heads/ok"), b"hello")
        assert r.status == 200 and r.body == b"fine" and r.headers.get("x-kept") == "yes", r

    def request(self, name):
        return curl(A_URL, ptp_headers("A", "A", uri=f"ptp/heads/{name}"), b"hello")

    def assert_refused(self, r, what, where="service ptp/heads/"):
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000413", r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
        msg = r.headers.get("x-ptp-message", "")
        self.assertIn(f"{what} from {where}", msg)
        port = B_PORT if where.startswith("B ") else SERVICE_PORT
        self.assertIn(f"(127.0.0.1:{port}) exceed {LIMIT} bytes", msg)
        self.assertNotIn("x-bomb", r.headers)

    def bounded(self, run):
        """Runs run(); the gateway's peak RSS grows by less than 64 MiB (unbounded, each
        bomb costs hundreds), and the gateway answers normally afterwards."""
        with open(f"/proc/{self.a.pid()}/clear_refs", "w") as f:
            f.write("5")  # resets the peak (VmHWM) to the current RSS
        base = self.a.rss_high_water_kb()
        run()
        grown = self.a.rss_high_water_kb() - base
        self.assertLess(grown, 64 * 1024, f"peak RSS grew by {grown >> 10} MiB")
        self.check_serving()

    def test_head_bomb(self):
        self.bounded(lambda: self.assert_refused(self.request("head-bomb"), "answer headers"))

    def test_peer_bombs(self):
        # A peer gateway's answer: the same client, the same bound.
        for kind, what in (("head-bomb", "answer headers"), ("trailer-bomb", "answer trailers")):
            self.bounded(lambda: self.assert_refused(
                curl(A_URL, ptp_headers("A", "B", uri=f"ptp/x/{kind}"), b"hello"), what, "B "))

    def test_grpc_service_bombs(self):
        # A gRPC service's answer (its status in the trailers): the same client, same bound.
        for kind, what in (("head-bomb", "answer headers"), ("trailer-bomb", "answer trailers")):
            self.bounded(lambda: self.assert_refused(
                curl(A_URL, ptp_headers("A", "A", uri=f"ptp/grpc/{kind}"), b"hello"), what,
                "service ptp/grpc/* "))

    def test_http1_service_heads_are_bounded(self):
        # The HTTP/1.1 client's own bound (Http1ClientOptions::max_response_header_bytes).
        for kind in ("h1-many-lines", "h1-long-line", "h1-trailers"):
            def run():
                r = curl(A_URL, ptp_headers("A", "A", uri=f"ptp/h1/{kind}"), b"hello")
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000616", (kind, r))
                self.assertIn(f"HTTP response from 127.0.0.1:{H1_PORT}",
                              r.headers.get("x-ptp-message", ""))
                self.assertNotIn("x-h-00000", r.headers)
            self.bounded(run)
        r = curl(A_URL, ptp_headers("A", "A", uri="ptp/h1/h1-ok"), b"hello")
        self.assertEqual((r.status, r.body), (200, b"fine"), r)

    def test_informational_head_is_not_the_answer(self):
        r = self.request("info-then-ok")
        self.assertEqual((r.status, r.body, r.headers.get("x-kept")), (200, b"fine", "yes"), r)
        self.assertNotIn("x-early", r.headers)

    def test_trailer_bomb(self):
        self.bounded(lambda: self.assert_refused(self.request("trailer-bomb"), "answer trailers"))

    def test_many_small_headers(self):
        self.bounded(lambda: self.assert_refused(self.request("many-headers"), "answer headers"))

    def test_many_small_headers_under_the_limit_pass(self):
        r = self.request("many-under-limit")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len([k for k in r.headers if k.startswith("x-h-")]), 1000)

    def test_informational_head_bomb(self):
        # The 1xx head counts towards the answer head's bound.
        self.bounded(lambda: self.assert_refused(self.request("info-bomb"), "answer headers"))

    def test_streamed_trailer_bomb(self):
        # A streamed answer's head went back already: the stream is reset (HTTP/2 carries
        # a streamed answer's failure so), none of the trailers come through.
        def run():
            with H2Client(A_PORT) as c:
                s = c.request(TRANSPORT, ptp_headers("A", "A", uri="ptp/heads/stream-trailer-bomb"))
                c.send_body(s, 5)
                self.assertTrue(c.wait(lambda: c.streams[s].closed, 20), "no end")
                st = c.streams[s]
                self.assertEqual(st.status, 200, st.headers)
                self.assertNotIn("x-bomb", st.headers)
                self.assertIsNone(st.trailers)
                self.assertFalse(st.ended, "ended as if complete")
                self.assertNotIn(st.reset, (None, 0))
                # Another stream on the same client connection is answered.
                ok = c.request(TRANSPORT, ptp_headers("A", "A", uri="ptp/heads/ok"))
                c.send_body(ok, 5)
                self.assertTrue(c.wait(lambda: c.streams[ok].ended, 10))
                self.assertEqual(c.streams[ok].data, b"fine")
        self.bounded(run)

    def test_bombs_side_by_side_with_normal_answers(self):
        # Bombs and normal answers at once over the gateway's one connection to the service.
        results = {}

        def one(name, i):
            results[(name, i)] = self.request(name)
        names = ["head-bomb", "ok", "trailer-bomb", "ok", "many-headers", "ok"]
        ts = [threading.Thread(target=one, args=(n, i)) for i, n in enumerate(names)]
        self.bounded(lambda: ([t.start() for t in ts], [t.join() for t in ts]))
        for (name, _), r in results.items():
            if name == "ok":
                self.assertEqual((r.status, r.body), (200, b"fine"), r)
            else:
                self.assertEqual(r.status, 413, r)
        self.assertEqual(len(results), len(names))


if __name__ == "__main__":
    unittest.main(verbosity=2)
