"""Slow and stalled clients (docs/security.md "Slow clients and descriptor exhaustion"):
with small connections.* timeouts, an h2c connection that sent only its preface, an
HTTP/2 request whose body never comes, an HTTP/1.1 body trickling a few bytes at a time
and an HTTP/2 pop whose client never opens its receive window are all ended, and the
popped message goes back to its queue for the next pop. At a low descriptor limit, a
flood of connections neither spins the accept loop nor floods the log, and once it is
gone requests and /readyz are served again. Gateway A of conf/direct alone, real
sockets and python3-h2."""
import base64
import json
import os
import resource
import socket
import subprocess
import time
import unittest
import urllib.request

import h2.config
import h2.connection
import h2.events
import h2.settings

from ptp_harness import Gateway, Process, Topology, conf, curl, ptp_headers

PORT = 17304
A = f"http://127.0.0.1:{PORT}/v1/interconn/chan/"
TIMEOUTS = "connections: {idle_ms: 1000, progress_ms: 1000, min_progress_bytes: 64}\n"


def queue_headers(session, target="A"):
    h = ptp_headers("A", target, session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    return h


def h2_client(settings=None):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    if settings:
        c.update_settings(settings)
    s.sendall(c.data_to_send())
    return s, c


def request_headers(path, headers):
    return [(":method", "POST"), (":scheme", "http"), (":authority", f"127.0.0.1:{PORT}"),
            (":path", path)] + list(headers.items())


def h2_events_until(s, c, done, timeout):
    """Reads events until done(events) or the connection closes; returns (events, closed)."""
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return events, True
        if not data:
            return events, True
        events += c.receive_data(data)
        out = c.data_to_send()
        if out:
            s.sendall(out)
        if done(events):
            return events, False
    return events, False


def wait_closed(s, timeout):
    """Seconds until the peer closes `s` (reads and drops anything it sends), or None."""
    t0 = time.monotonic()
    s.settimeout(0.1)
    while time.monotonic() - t0 < timeout:
        try:
            if not s.recv(65536):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
    return None


def push(session, topic, payload):
    body = json.dumps({"topic": topic, "payload": base64.b64encode(payload).decode()}).encode()
    r = curl(A + "push", queue_headers(session), body)
    assert r.status == 200, r


def pop_body(session, topic):
    return json.dumps({"topic": topic, "timeout": "2s"}).encode()


class SlowClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cfg = cls.topo.variant(conf("direct", "a.yaml"),
                               [("log: {level: info}", TIMEOUTS + "log: {level: info}")])
        cls.a = cls.topo.gateway(cfg)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def assertStillServing(self):
        r = curl(A + "invoke", ptp_headers("A", "A", trace="alive"), b"alive", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"alive")

    def test_preface_only_h2c_connection_is_closed_when_idle(self):
        s, _ = h2_client()
        with s:
            took = wait_closed(s, 6)
        self.assertIsNotNone(took, "an h2c connection with no stream stays open")
        self.assertGreater(took, 0.8)
        self.assertStillServing()

    def test_h2_request_body_that_never_comes_is_ended(self):
        s, c = h2_client()
        with s:
            c.send_headers(1, request_headers("/v1/interconn/chan/push", queue_headers("s-stall")))
            s.sendall(c.data_to_send())  # HEADERS without END_STREAM, then nothing
            t0 = time.monotonic()
            events, closed = h2_events_until(
                s, c, lambda ev: any(isinstance(e, h2.events.StreamReset) for e in ev), 6)
            took = time.monotonic() - t0
        resets = [e for e in events if isinstance(e, h2.events.StreamReset)]
        self.assertTrue(resets, f"stream neither reset nor answered: {events} closed={closed}")
        self.assertLess(took, 4)
        answer = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
        self.assertTrue(answer, events)
        self.assertIn((b"x-ptp-code", b"E0000000601"), answer[0].headers)
        self.assertStillServing()

    def test_trickling_http1_body_is_cut(self):
        h = queue_headers("s-trickle")
        head = "POST /v1/interconn/chan/push HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
            s.sendall(head.encode())
            t0 = time.monotonic()
            sent = 0
            closed_after = None
            # 8 bytes every 200 ms: 40 bytes/s, under min_progress_bytes (64) per second.
            while time.monotonic() - t0 < 6:
                try:
                    s.sendall(b"{" * 8)
                    sent += 8
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - t0
                    break
                s.settimeout(0.2)
                try:
                    if not s.recv(4096):
                        closed_after = time.monotonic() - t0
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed_after = time.monotonic() - t0
                    break
        self.assertIsNotNone(closed_after, f"still open after trickling {sent} bytes for 6 s")
        self.assertLess(closed_after, 3)
        self.assertStillServing()

    def test_pop_to_a_client_that_never_opens_its_window_returns_the_message(self):
        push("s-win", "t", b"leased")
        s, c = h2_client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        with s:
            c.send_headers(1, request_headers("/v1/interconn/chan/pop", queue_headers("s-win")))
            c.send_data(1, pop_body("s-win", "t"), end_stream=True)
            s.sendall(c.data_to_send())
            t0 = time.monotonic()
            events, closed = h2_events_until(
                s, c, lambda ev: any(isinstance(e, h2.events.StreamReset) for e in ev), 8)
            took = time.monotonic() - t0
            got = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
            self.assertTrue(got, f"no answer to the pop: {events}")
            self.assertFalse([e for e in events if isinstance(e, h2.events.DataReceived)])
            self.assertTrue([e for e in events if isinstance(e, h2.events.StreamReset)],
                            f"stalled pop not reset after {took:.1f} s: {events} closed={closed}")
        # The message was not delivered: the next pop gets it.
        r = curl(A + "pop", queue_headers("s-win"), pop_body("s-win", "t"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json().get("payload", "")), b"leased", r)

    def test_pop_to_an_http1_client_that_does_not_read_returns_the_message(self):
        big = os.urandom(4 << 20)  # more than the socket buffers hold
        push("s-noread", "t", big)
        body = pop_body("s-noread", "t")
        head = "POST /v1/interconn/chan/pop HTTP/1.1\r\nHost: a\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in queue_headers("s-noread").items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", PORT))
            s.sendall(head.encode() + body)
            # Never reads: after progress_ms the gateway gives up and the message returns.
            deadline = time.monotonic() + 8
            payload = None
            while time.monotonic() < deadline and payload is None:
                r = curl(A + "pop", queue_headers("s-noread"),
                         json.dumps({"topic": "t", "timeout": "500ms"}).encode())
                self.assertEqual(r.status, 200, r)
                if "payload" in r.json():
                    payload = base64.b64decode(r.json()["payload"])
        self.assertIsNotNone(payload, "the message stayed leased to a client that does not read")
        self.assertTrue(payload == big, "another payload came back")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def readyz(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
            return r.status
    except Exception:
        return None


class _LowNofileProcess(Process):
    """Process, started with RLIMIT_NOFILE at self.nofile (soft, hard)."""

    def __init__(self, args, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        limit = self.nofile
        self.proc = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))


class LowNofileGateway(Gateway, _LowNofileProcess):
    def __init__(self, config_path, workdir, nofile):
        self.nofile = nofile
        super().__init__(config_path, workdir)


class DescriptorLimit(unittest.TestCase):
    """The gateway runs with RLIMIT_NOFILE 256 (soft and hard), so it cannot raise it."""
    NOFILE = 256
    FLOOD = 400

    def run_flood(self, extra_config):
        with Topology() as topo:
            cfg = topo.variant(conf("direct", "a.yaml"),
                               [("log: {level: info}", extra_config + "log: {level: info}")],
                               name="a-nofile.yaml")
            a = LowNofileGateway(cfg, topo.workdir, (self.NOFILE, self.NOFILE))
            topo.procs.append(a)
            pid = a.pid()
            flood = []
            try:
                for _ in range(self.FLOOD):
                    try:
                        flood.append(socket.create_connection(("127.0.0.1", PORT), timeout=2))
                    except OSError:
                        break
                time.sleep(0.3)  # the gateway takes what it can
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                during = readyz(a.admin_port)
                time.sleep(2)
                busy = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
                log_bytes = os.path.getsize(a.log_path)
            finally:
                for s in flood:
                    s.close()
            # Served again once the flood is gone (the pause sheds one pending
            # connection per 100 ms, so this may take a moment).
            deadline = time.monotonic() + 15
            status = None
            while time.monotonic() < deadline:
                try:
                    status = curl(A + "invoke", ptp_headers("A", "A", trace="after"), b"after",
                                  timeout=2).status
                except RuntimeError:
                    status = None
                if status == 200 and readyz(a.admin_port) == 200:
                    break
                time.sleep(0.1)
            return busy, log_bytes, during, status, a.output()

    def test_out_of_descriptors_does_not_spin(self):
        # A connection limit above the descriptor limit: accept() runs out of descriptors.
        busy, log_bytes, _, status, log = self.run_flood("connections: {max_connections: 100000}\n")
        self.assertLess(busy, 0.3, f"gateway used {busy:.0%} of a core with its descriptors gone")
        self.assertLess(log_bytes, 64 << 10, f"log grew to {log_bytes} bytes")
        self.assertIn('"msg":"accept failed"', log)
        self.assertEqual(status, 200)

    def test_connection_limit_keeps_readyz_answering(self):
        # Default limit: 3/4 of the 256 descriptors; the rest is closed at once.
        busy, log_bytes, during, status, log = self.run_flood("")
        self.assertLess(busy, 0.3, f"gateway used {busy:.0%} of a core")
        self.assertLess(log_bytes, 64 << 10, f"log grew to {log_bytes} bytes")
        self.assertEqual(during, 200, "/readyz did not answer during the flood")
        self.assertIn('"max_connections":"192"', log)
        self.assertIn("connection refused, limit reached", log)
        self.assertEqual(status, 200)

    def test_soft_limit_is_raised_to_the_hard_limit(self):
        with Topology() as topo:
            a = LowNofileGateway(conf("direct", "a.yaml"), topo.workdir, (256, 4096))
            topo.procs.append(a)
            with open(f"/proc/{a.pid()}/limits") as f:
                line = next(l for l in f if l.startswith("Max open files"))
            self.assertEqual(line.split()[3:5], ["4096", "4096"], line)
            self.assertIn('"max_connections":"3072"', a.output())


if __name__ == "__main__":
    unittest.main()
