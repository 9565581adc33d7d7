"""Log lines of refused unauthenticated requests (docs/security.md "Logs of refused
strangers"): a caller that is not authenticated must not make the gateway write more log
than it sends, however long its header values and however fast it asks. Such lines are
rate-limited (a burst, then about one a second per I/O thread, with `suppressed` counting
the ones left out) and each value in them is clipped; the metrics still count every
refusal. Gateway A of conf/direct, logging to its output file."""
import json
import os
import socket
import time
import unittest

from h2_raw import H2Client
from identity_dirs import make_identity
from ptp_harness import Topology, conf, curl, ptp_headers

A_PORT = 17304
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
INVOKE = "/v1/interconn/chan/invoke"
# Well-formed, unexpired, but not minted with A's key.
FORGED = "v1.4102444800." + "0" * 64


def counter(metrics_text, name, **labels):
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class RefusalLogs(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()
        self.a = self.topo.gateway(conf("direct", "a.yaml"))
        time.sleep(0.3)  # the start-up lines are out

    def tearDown(self):
        self.topo.close()

    def log_size(self):
        return os.path.getsize(self.a.log_path)

    def test_h2_indexed_header_values_do_not_amplify_into_the_log(self):
        # HPACK lets a client send a 3000-byte trace id once and then name it with one byte
        # per request: before, each refused request cost ~26 bytes on the wire and wrote a
        # ~3.2 KiB line.
        headers = {k.encode(): v.encode() for k, v in
                   ptp_headers("A", "A", token=FORGED, trace="t" * 3000).items()}
        n, sent = 2000, [0]
        before = self.log_size()

        class Counting(H2Client):
            def flush(self):
                out = self.conn.data_to_send()
                if out:
                    sent[0] += len(out)
                    self.sock.sendall(out)

        with Counting(A_PORT) as c:
            sids = []
            for i in range(n):
                sids.append(c.request(INVOKE, headers, end_stream=True))
                if len(sids) % 50 == 0:  # within the stream limit
                    c.wait(lambda: all(c.streams[s].closed for s in sids), timeout=10)
            c.wait(lambda: all(c.streams[s].closed for s in sids), timeout=10)
            self.assertEqual({c.streams[s].status for s in sids}, {400})
        wrote = self.log_size() - before
        self.assertLess(sent[0], 100 * n, "the client did not use the header table")
        self.assertLess(wrote, sent[0],
                        f"{n} refused requests ({sent[0]} bytes sent) wrote {wrote} bytes of log")
        self.assertLess(wrote, 64 << 10, f"{n} refused requests wrote {wrote} bytes of log")
        # Every refusal is still counted.
        self.assertEqual(counter(self.a.metrics(), "ptp_requests_total", route="rejected",
                                 code="E0000000400"), n)

    def test_a_long_field_of_invalid_utf8_writes_a_short_line(self):
        # 60000 bytes 0xff in one field: each is written as \ufffd (6 bytes), so the line
        # was ~360 KB for a 60 KB request.
        before = self.log_size()
        head = (b"POST /v1/interconn/chan/invoke HTTP/1.1\r\nHost: a\r\n" +
                b"".join(f"{k}: {v}\r\n".encode() for k, v in
                         ptp_headers("A", "A", token=FORGED).items()
                         if k != "x-ptp-session-id") +
                b"x-ptp-session-id: " + b"\xff" * 60000 + b"\r\n" +
                b"content-length: 0\r\nconnection: close\r\n\r\n")
        with socket.create_connection(("127.0.0.1", A_PORT), timeout=10) as s:
            s.sendall(head)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 4"), answer[:200])
        time.sleep(0.2)
        wrote = self.log_size() - before
        self.assertGreater(wrote, 0, "the first refusal is logged")
        self.assertLess(wrote, 4096, f"one refused request wrote a {wrote}-byte log line")
        line = json.loads(self.a.output().splitlines()[-1])
        self.assertEqual(line["level"], "warn")
        # Clipped, saying how long it was.
        self.assertLessEqual(len(line["session_id"]), 200, line)
        self.assertTrue(line["session_id"].endswith("...(60000 bytes)"), line)

    def test_a_flood_of_forged_tokens_is_logged_at_a_bounded_rate(self):
        bad = ptp_headers("A", "A", token=FORGED)
        with H2Client(A_PORT) as c:
            sids = []
            for i in range(600):
                sids.append(c.request(INVOKE, bad, end_stream=True))
                if len(sids) % 50 == 0:
                    c.wait(lambda: all(c.streams[s].closed for s in sids), timeout=10)
            c.wait(lambda: all(c.streams[s].closed for s in sids), timeout=10)
            # One more after a pause, on the same connection (so the same I/O thread): its
            # line says how many were left out.
            time.sleep(1.2)
            sids.append(c.request(INVOKE, bad, end_stream=True))
            c.wait(lambda: all(c.streams[s].closed for s in sids), timeout=10)
            self.assertEqual({c.streams[s].status for s in sids}, {403})
        lines = [json.loads(ln) for ln in self.a.output().splitlines()
                 if '"E0000000403"' in ln]
        self.assertGreater(len(lines), 0)
        self.assertLess(len(lines), 100, f"{len(lines)} lines for 601 refusals")
        left_out = sum(int(ln.get("suppressed", "0")) for ln in lines)
        self.assertEqual(len(lines) + left_out, 601, lines[-1])
        self.assertEqual(counter(self.a.metrics(), "ptp_authentication_refusals_total",
                                 reason="bad_token"), 601)
        # An authenticated request meanwhile is logged as always.
        r = curl(A_URL, ptp_headers("A", "A", trace="after-the-flood"), b"hi", http="h2c")
        self.assertEqual(r.status, 200, r)
        time.sleep(0.2)
        self.assertIn('"trace_id":"after-the-flood"', self.a.output())

    def restart_with_identity(self):
        """A again, with an identity: TLS on its port (the identity's certificate) and
        net/weave served."""
        self.topo.close()
        self.topo = Topology()
        ident = make_identity(os.path.join(self.topo.workdir, "id-A"), "A", "INST_A")
        self.a = self.topo.gateway(self.topo.variant(
            conf("direct", "a.yaml"),
            [("io_threads: 2\n", f"io_threads: 2\nidentity: {{dir: {ident}}}\n")]))
        time.sleep(0.3)

    def test_refused_weaves_with_a_long_node_id_write_short_lines_at_a_bounded_rate(self):
        # A gateway with an identity serves net/weave to anyone; the refusal quotes the
        # claimed node_id (up to the 64 KiB body): before, each refused weave wrote it twice
        # (the request line and the peering service's line).
        self.restart_with_identity()
        before = self.log_size()
        body = json.dumps({"node_id": "x" * 60000, "auth_code": "0" * 64}).encode()
        n = 40
        for _ in range(n):
            # The listener takes its TLS certificate from the identity.
            r = curl(f"https://127.0.0.1:{A_PORT}/v1/interconn/net/weave",
                     {"content-type": "application/json"}, body, http="h2", extra=("-k",))
            self.assertEqual(r.json()["code"], "E0000000604", r)
        time.sleep(0.3)
        wrote = self.log_size() - before
        self.assertLess(wrote, 64 << 10, f"{n} refused weaves wrote {wrote} bytes of log")
        self.assertIn("holds no invitation for node xxx", self.a.output())

    def test_failed_tls_handshakes_are_logged_at_a_bounded_rate(self):
        # Before: one line per failed handshake, at whatever rate strangers connect.
        self.restart_with_identity()
        n = 400
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", A_PORT), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")  # not TLS
                try:
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
        time.sleep(0.3)
        lines = [json.loads(ln) for ln in self.a.output().splitlines()
                 if '"TLS handshake failed"' in ln]
        self.assertGreater(len(lines), 0)
        self.assertLess(len(lines), 100, f"{len(lines)} lines for {n} failed handshakes")
        self.assertEqual(counter(self.a.metrics(), "ptp_tls_handshake_failures_total",
                                 side="server"), n)


if __name__ == "__main__":
    unittest.main()
