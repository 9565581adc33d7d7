"""Failover between a peer's addresses (peers[i].addresses, docs/operations.md "Failover"):
A's peer B has two addresses, each a TCP relay to B. Under a steady load of pushes (unique
message ids) and invokes through A, relay 1 dies (its listener and its connections): every
invoke in flight ends (a success or E0000000607/601 naming B and the dead address, never a
hang), invokes succeed again within fall x interval + timeout (+ a margin), every push is
delivered to B exactly once, and a reload while relay 1 is down keeps the failover. When
relay 1 is back, new traffic goes through it again, without errors. Relay 1 hung instead
(open connections carrying nothing): the invokes in flight there end with E0000000607 at
the move, not after the peer's 30 s timeout. Over TLS: an address whose TLS handshake
fails is taken down by the checks. An HTTP/1.1 peer's addresses are checked by connecting."""
import base64
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from ptp_harness import Topology, conf, ptp_headers, wait_until  # noqa: E402
from tls_certs import Pki  # noqa: E402

A_PORT, A_ADMIN = 18801, 18802
B_PORT, B_ADMIN = 18803, 18804
RELAY1, RELAY2 = 18811, 18812
INTERVAL_MS, TIMEOUT_MS, FALL, RISE = 400, 400, 2, 2
# docs/operations.md: traffic moves within fall x interval + timeout of a failure. The
# margin covers the shared test machine (scheduling, the first request on a new connection).
MOVE_BOUND_S = (FALL * INTERVAL_MS + TIMEOUT_MS) / 1000 + 1.5
RETURN_BOUND_S = (RISE * INTERVAL_MS + TIMEOUT_MS) / 1000 + 1.5
CHAN = "/v1/interconn/chan/"

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS = 1


class TcpRelay:
    """Forwards 127.0.0.1:listen_port to target_port and counts the requests (HTTP/2
    HEADERS frames from the client side) it carried; the health checks send none.
    kill() closes the listener and every connection, as a dead host would; freeze() keeps
    them open but carries nothing more (a hung host, a black-holed path). With frames=False
    (TLS) it only counts the bytes from the client side (`sent`)."""

    def __init__(self, listen_port, target_port, frames=True):
        self.listen_port, self.target_port, self.frames = listen_port, target_port, frames
        self.requests = 0
        self.sent = 0
        self.frozen = threading.Event()
        self.dead = threading.Event()
        self.lock = threading.Lock()
        self.conns = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.frozen.is_set():  # accepted, never answered
                with self.lock:
                    self.conns.append(c)
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            up = self._client_to_server if self.frames else self._pipe
            threading.Thread(target=up, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()

    @staticmethod
    def _recv_exact(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _client_to_server(self, c, u):
        try:
            u.sendall(self._recv_exact(c, len(PREFACE)))
            while True:
                head = self._recv_exact(c, 9)
                payload = self._recv_exact(c, int.from_bytes(head[:3], "big"))
                if self.frozen.is_set():
                    self.dead.wait(60)
                    break
                if head[3] == HEADERS:
                    with self.lock:
                        self.requests += 1
                u.sendall(head + payload)
        except (EOFError, OSError):
            pass
        finally:
            self._close(c, u)

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.frozen.is_set():
                    self.dead.wait(60)
                    break
                if dst.getpeername()[1] == self.target_port:
                    with self.lock:
                        self.sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def count(self):
        with self.lock:
            return self.requests

    def freeze(self):
        self.frozen.set()

    def kill(self):
        self.dead.set()
        try:  # wakes the accepting thread (a close alone leaves the socket listening)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            conns, self.conns = self.conns, []
        self._close(*conns)


def post(conn, path, headers, body):
    """One POST on a kept-alive connection: (HTTP status, PTP code, message, body)."""
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheader("x-ptp-code", ""), r.getheader("x-ptp-message", ""), data


class Load:
    """Invokes (the diag echo at B) from two threads and pushes (unique ids) from one, all
    through A, each result recorded with its start and end time."""

    def __init__(self):
        self.stop = threading.Event()
        self.invokes = []  # (start, end, code, message); code "hang" for a client timeout
        self.acked = []    # message ids A acknowledged
        self.push_errors = []
        self.lock = threading.Lock()
        self.invoke_headers = ptp_headers("A", "B", session="s-inv", trace="tr-fo")
        h = ptp_headers("A", "B", session="s-fo", uri=None)
        h.pop("x-ptp-version")
        h["content-type"] = "application/json"
        self.push_headers = h
        self.threads = [threading.Thread(target=self._invoker, daemon=True) for _ in range(2)]
        self.threads.append(threading.Thread(target=self._pusher, daemon=True))
        for t in self.threads:
            t.start()

    def _invoker(self):
        conn = None
        while not self.stop.is_set():
            conn = conn or http.client.HTTPConnection("127.0.0.1", A_PORT, timeout=20)
            start = time.time()
            try:
                _, code, message, _ = post(conn, CHAN + "invoke", self.invoke_headers, b"ping")
            except socket.timeout:
                code, message = "hang", "no answer within 20 s"
                conn.close()
                conn = None
            except (OSError, http.client.HTTPException) as e:
                code, message = "client", repr(e)
                conn.close()
                conn = None
            with self.lock:
                self.invokes.append((start, time.time(), code, message))
            time.sleep(0.01)
        if conn:
            conn.close()

    def _pusher(self):
        conn = None
        n = 0
        while not self.stop.is_set():
            conn = conn or http.client.HTTPConnection("127.0.0.1", A_PORT, timeout=20)
            mid = f"fo-{n:05d}"
            body = json.dumps({"topic": "t", "payload": base64.b64encode(mid.encode()).decode()})
            try:
                _, code, message, _ = post(conn, CHAN + "push",
                                           {**self.push_headers, "x-ptp-message-id": mid}, body)
            except (OSError, http.client.HTTPException) as e:
                code, message = "client", repr(e)
                conn.close()
                conn = None
            with self.lock:
                (self.acked.append(mid) if code == "E0000000000"
                 else self.push_errors.append((mid, code, message)))
            n += 1
            time.sleep(0.02)
        if conn:
            conn.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
            assert not t.is_alive(), "a load thread hangs"

    def results(self, since=0.0):
        with self.lock:
            return [r for r in self.invokes if r[0] >= since]


def metric(text, name, **labels):
    """The value of the sample of `name` with exactly these labels, or None."""
    for m in re.finditer(rf"^{name}(?:\{{(.*?)\}})? (\S+)$", text, re.M):
        if dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")) == labels:
            return float(m.group(2))
    return None


def start_pair(topo, b_tls="", a_extra="", interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS):
    """B (conf/direct moved to this test's ports; `b_tls`: its listen.tls) and A, whose peer B
    has the two relays as addresses (`a_extra`: more keys of that peer). Returns (a, b, a's
    config)."""
    ports = [("17304", str(A_PORT)), ("17404", str(A_ADMIN)), ("17305", str(B_PORT)),
             ("17405", str(B_ADMIN))]
    b_ports = [ports[0], (f"port: 17305}}", f"port: {B_PORT}{b_tls}}}")] + ports[3:]
    b = topo.gateway(topo.variant(conf("direct", "b.yaml"), b_ports))
    peer_b = ('  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:17305", protocol: http2, '
              'timeout_ms: 30000}\n')
    a_config = topo.variant(conf("direct", "a.yaml"), ports[:2] + [
        (peer_b,
         f'  - node_id: B\n    inst_id: INST_B\n'
         f'    addresses: ["127.0.0.1:{RELAY1}", "127.0.0.1:{RELAY2}"]\n'
         f'    health: {{interval_ms: {interval_ms}, timeout_ms: {timeout_ms}, '
         f'fall: {FALL}, rise: {RISE}}}\n{a_extra}'),
        ("  retry_max_ms: 2000\n", "  retry_max_ms: 1000\n")])
    return topo.gateway(a_config), b, a_config


def down_lines(gateway):
    return [json.loads(ln) for ln in gateway.output().splitlines() if '"peer address down"' in ln]


class Topologies(unittest.TestCase):
    def setUp(self):
        # Cleanups run even when setUp fails half way (a gateway that did not start).
        self.topo = Topology()
        self.relays = []
        self.addCleanup(self.topo.close)
        self.addCleanup(lambda: [r.kill() for r in self.relays])
        self.relays += [TcpRelay(RELAY1, B_PORT, self.frames), TcpRelay(RELAY2, B_PORT, self.frames)]

    frames = True


class Failover(Topologies):
    def setUp(self):
        super().setUp()
        self.a, self.b, self.a_config = start_pair(self.topo)

    def pop_all(self):
        h = ptp_headers("B", "B", session="s-fo", uri=None)
        h.pop("x-ptp-version")
        h["content-type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", B_PORT, timeout=10)
        got = []
        for _ in range(5000):  # bounded: far more than the test pushes
            _, code, _, data = post(conn, CHAN + "pop", h,
                                    json.dumps({"topic": "t", "timeout": "300ms"}))
            j = json.loads(data)
            if "payload" not in j:
                break
            got.append(base64.b64decode(j["payload"]).decode())
        conn.close()
        return got

    def test_dead_address_under_load_and_back(self):
        wait_until(lambda: metric(self.a.metrics(), "ptp_peer_address_up", peer="B",
                                  address=f"127.0.0.1:{RELAY2}") == 1, what="B's addresses listed")
        load = Load()
        try:
            wait_until(lambda: sum(r[2] == "E0000000000" for r in load.results()) >= 10,
                       what="invokes through relay 1")
            self.assertGreater(self.relays[0].count(), 0)
            self.assertEqual(self.relays[1].count(), 0, "relay 2 carried requests before the failure")

            # Relay 1 dies with its connections.
            t_kill = time.time()
            self.relays[0].kill()
            wait_until(lambda: any(r[2] == "E0000000000" for r in load.results(t_kill)),
                       timeout=MOVE_BOUND_S + 5, what="an invoke succeeding after the failure")
            t_resume = min(r[1] for r in load.results(t_kill) if r[2] == "E0000000000")
            self.assertLessEqual(t_resume - t_kill, MOVE_BOUND_S,
                                 f"invokes resumed {t_resume - t_kill:.2f} s after the failure")
            self.assertGreater(self.relays[1].count(), 0)
            m = self.a.metrics()
            self.assertEqual(metric(m, "ptp_peer_address_up", peer="B",
                                    address=f"127.0.0.1:{RELAY1}"), 0, m)
            self.assertEqual(metric(m, "ptp_peer_failovers_total", peer="B"), 1, m)
            # ptpctl routes (GET /routes) shows the address in use and all of them.
            conn = http.client.HTTPConnection("127.0.0.1", self.a.admin_port, timeout=5)
            conn.request("GET", "/routes")
            peer_b = {p["node_id"]: p for p in json.loads(conn.getresponse().read())["peers"]}["B"]
            conn.close()
            self.assertEqual((peer_b["address"], peer_b["addresses"]),
                             (f"127.0.0.1:{RELAY2}", [f"127.0.0.1:{RELAY1}", f"127.0.0.1:{RELAY2}"]))

            # A reload while relay 1 is down keeps the traffic on relay 2.
            gen = metric(m, "ptp_config_generation")
            with open(self.a_config, "a") as f:
                f.write("# touched by test_failover\n")
            wait_until(lambda: metric(self.a.metrics(), "ptp_config_generation") == gen + 1,
                       what="A reloaded")
            time.sleep(0.5)  # traffic after the reload

            # Relay 1 is back: new traffic goes through it again.
            t_back = time.time()
            before = self.relays[0].count()
            self.relays[0] = TcpRelay(RELAY1, B_PORT)
            wait_until(lambda: self.relays[0].count() > before, timeout=RETURN_BOUND_S,
                       what="traffic through relay 1 again")
            time.sleep(0.3)  # what was in flight on relay 2 ends
            r1, r2 = self.relays[0].count(), self.relays[1].count()
            wait_until(lambda: self.relays[0].count() >= r1 + 10, what="more traffic on relay 1")
            self.assertEqual(self.relays[1].count(), r2, "new requests still go to relay 2")
            self.assertLess(time.time() - t_back, 15)
        finally:
            load.finish()

        # Every invoke ended: a success, or a clear PTP error naming B and the dead address.
        results = load.results()
        self.assertGreater(len(results), 50)
        for start, end, code, message in results:
            self.assertNotEqual(code, "hang", message)
            self.assertLess(end - start, 5, (code, message))
            if code != "E0000000000":
                self.assertIn(code, ("E0000000607", "E0000000601"), message)
                self.assertIn(f"B (127.0.0.1:{RELAY1})", message)
                self.assertLess(start, t_resume, (code, message))
        # After the move (a moment for requests already past the choice), no errors at all:
        # not across the reload, nor on the way back.
        late = [r for r in results if r[0] > t_resume + 0.2 and r[2] != "E0000000000"]
        self.assertEqual(late, [])
        failed = [r for r in results if r[2] != "E0000000000"]
        print(f"\n  invokes: {len(results)}, failed around the failure: {len(failed)}, "
              f"resumed after {t_resume - t_kill:.2f} s", file=sys.stderr)

        m = self.a.metrics()
        self.assertEqual(metric(m, "ptp_peer_failovers_total", peer="B"), 2, m)
        self.assertEqual(metric(m, "ptp_peer_address_up", peer="B", address=f"127.0.0.1:{RELAY1}"), 1)
        log = [json.loads(ln) for ln in self.a.output().splitlines() if '"peer failover"' in ln]
        self.assertEqual([(ln["from"], ln["to"]) for ln in log],
                         [(f"127.0.0.1:{RELAY1}", f"127.0.0.1:{RELAY2}"),
                          (f"127.0.0.1:{RELAY2}", f"127.0.0.1:{RELAY1}")], log)
        self.assertIn("failed its health checks", log[0]["why"])

        self.assert_pushes_delivered_once(load)

    def test_hung_address_in_flight_invokes_end(self):
        # Relay 1 hangs: connections stay open and carry nothing. The requests in flight
        # there would wait for the peer's timeout_ms (30 s); they end when the checks take
        # the address down (its connections are closed), and new ones go to relay 2.
        wait_until(lambda: metric(self.a.metrics(), "ptp_peer_address_up", peer="B",
                                  address=f"127.0.0.1:{RELAY2}") == 1, what="B's addresses listed")
        load = Load()
        try:
            wait_until(lambda: sum(r[2] == "E0000000000" for r in load.results()) >= 10,
                       what="invokes through relay 1")
            t_freeze = time.time()
            self.relays[0].freeze()
            wait_until(lambda: any(r[2] == "E0000000000" for r in load.results(t_freeze)),
                       timeout=MOVE_BOUND_S + 5, what="an invoke succeeding after the hang")
            t_resume = min(r[1] for r in load.results(t_freeze) if r[2] == "E0000000000")
            self.assertLessEqual(t_resume - t_freeze, MOVE_BOUND_S)
            time.sleep(0.5)
        finally:
            load.finish()
        results = load.results()
        hung = [r for r in results if r[2] != "E0000000000"]
        self.assertGreater(len(hung), 0, "no invoke was in flight on the hung address")
        for start, end, code, message in results:
            self.assertLess(end - start, MOVE_BOUND_S + 1, (code, message))
            if code != "E0000000000":
                self.assertEqual(code, "E0000000607", message)
                self.assertIn(f"B (127.0.0.1:{RELAY1})", message)
                self.assertIn("failed its health checks", message)
        self.assertEqual([r for r in results if r[0] > t_resume + 0.2 and r[2] != "E0000000000"], [])
        # The check that failed: the connection opens (the relay accepts), the PING is not answered.
        down = down_lines(self.a)
        self.assertEqual([d["address"] for d in down], [f"127.0.0.1:{RELAY1}"], down)
        self.assertIn("HTTP/2 PING", down[0]["error"])
        self.assert_pushes_delivered_once(load)

    def assert_pushes_delivered_once(self, load):
        """Every push A acknowledged reaches B exactly once."""
        self.assertEqual(load.push_errors, [])
        self.assertGreater(len(load.acked), 20)
        wait_until(lambda: self.a.queue_stats()["outbox"]["messages"] == 0, timeout=20,
                   what="A's outbox empty")
        got = self.pop_all()
        self.assertEqual(len(got), len(set(got)), "a push delivered twice")
        self.assertEqual(sorted(got), sorted(load.acked))


class ByteCounting(Topologies):
    """Relays that only count bytes (no HTTP/2 frames to read) and single invokes whose body
    is far larger than the health checks' bytes, to tell which relay carried them."""

    frames = False
    BODY = b"t" * 65536

    def invoke(self):
        conn = http.client.HTTPConnection("127.0.0.1", A_PORT, timeout=10)
        try:
            _, code, message, _ = post(conn, CHAN + "invoke", ptp_headers("A", "B"), self.BODY)
        finally:
            conn.close()
        return code, message

    def carried(self, relay, before):
        """Whether `relay` carried an invoke since its byte count was `before`."""
        return relay.sent >= before + len(self.BODY)

    def address_up(self, port):
        return metric(self.a.metrics(), "ptp_peer_address_up", peer="B", address=f"127.0.0.1:{port}")


class FailoverTls(ByteCounting):
    """B serves TLS only; the relays carry it through. The checks include the handshake: an
    address that answers TCP but not B's TLS (relay 1 turned to B's plain admin port) goes
    down and traffic moves; with relay 1 on B again it comes back. Checks of 600 ms: a TLS
    handshake under a sanitizer on a busy machine must not fail them."""

    CHECK_MS = 600
    MOVE_S = (FALL * CHECK_MS + CHECK_MS) / 1000 + 1.5

    def setUp(self):
        super().setUp()
        pki = Pki(self.topo.workdir)
        cert, key = pki.issue("b-server", "B")
        self.a, self.b, _ = start_pair(self.topo, b_tls=f", tls: {{cert: {cert}, key: {key}}}",
                                       a_extra=f"    tls: {{ca: {pki.ca}}}\n",
                                       interval_ms=self.CHECK_MS, timeout_ms=self.CHECK_MS)

    def test_tls_handshake_is_checked(self):
        wait_until(lambda: self.address_up(RELAY2) == 1, what="B's addresses listed")
        r1, r2 = self.relays[0].sent, self.relays[1].sent
        self.assertEqual(self.invoke(), ("E0000000000", ""))
        self.assertTrue(self.carried(self.relays[0], r1))
        self.assertFalse(self.carried(self.relays[1], r2))
        self.relays[0].kill()
        self.relays[0] = TcpRelay(RELAY1, B_ADMIN, frames=False)  # TCP answers, TLS does not
        wait_until(lambda: self.address_up(RELAY1) == 0, timeout=self.MOVE_S, what="relay 1 down")
        down = down_lines(self.a)
        self.assertEqual(len(down), 1, down)
        self.assertIn("TLS", down[0]["error"])
        r2 = self.relays[1].sent
        self.assertEqual(self.invoke(), ("E0000000000", ""))
        self.assertTrue(self.carried(self.relays[1], r2))
        self.relays[0].kill()
        self.relays[0] = TcpRelay(RELAY1, B_PORT, frames=False)
        wait_until(lambda: self.address_up(RELAY1) == 1, timeout=self.MOVE_S, what="relay 1 up")
        r1, r2 = self.relays[0].sent, self.relays[1].sent
        self.assertEqual(self.invoke(), ("E0000000000", ""))
        self.assertTrue(self.carried(self.relays[0], r1))
        self.assertFalse(self.carried(self.relays[1], r2))


class FailoverHttp1(ByteCounting):
    """An HTTP/1.1 peer: its addresses are checked by connecting; a dead one is left."""

    def setUp(self):
        super().setUp()
        self.a, self.b, _ = start_pair(self.topo, a_extra="    protocol: http1\n")

    def test_http1_peer_moves_on_connect_failures(self):
        wait_until(lambda: self.address_up(RELAY2) == 1, what="B's addresses listed")
        r1 = self.relays[0].sent
        self.assertEqual(self.invoke(), ("E0000000000", ""))
        self.assertTrue(self.carried(self.relays[0], r1))
        self.relays[0].kill()
        wait_until(lambda: self.address_up(RELAY1) == 0, timeout=MOVE_BOUND_S, what="relay 1 down")
        self.assertIn(f"connect to 127.0.0.1:{RELAY1} failed", down_lines(self.a)[0]["error"])
        r2 = self.relays[1].sent
        self.assertEqual(self.invoke(), ("E0000000000", ""))
        self.assertTrue(self.carried(self.relays[1], r2))


if __name__ == "__main__":
    unittest.main()
