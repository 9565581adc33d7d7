"""The admin port's connection limit under a stranger (docs/security.md "The admin port"):
at most 64 admin connections are open, and a client that connects and says nothing (or
sends half a request head) must not keep the operator, Prometheus or a readiness probe
out, nor one that sends its request body slowly. When the limit is reached, the oldest
connection waiting on its client (for a request head or body, or to take an answer) is
closed for the new one. Gateway A of conf/direct (admin on 127.0.0.1:17404)."""
import socket
import time
import unittest
import urllib.request

from ptp_harness import Topology, conf

ADMIN = 17404


def get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN}{path}", timeout=5) as r:
        return r.status, r.read()


def closed_by_peer(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


class AdminSlots(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()
        self.a = self.topo.gateway(conf("direct", "a.yaml"))
        self.held = []

    def tearDown(self):
        for s in self.held:
            s.close()
        self.topo.close()

    def hold(self, n, partial=b""):
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", ADMIN), timeout=5)
            if partial:
                s.sendall(partial)
            self.held.append(s)
        time.sleep(0.3)  # accepted

    def test_idle_connections_do_not_lock_out_the_readiness_probe(self):
        # Before: 64 silent connections (renewed every 30 s) took every slot, and /readyz,
        # /metrics and the operator's routes were refused until they left.
        self.hold(64)
        for path in ("/readyz", "/metrics", "/healthz"):
            status, _ = get(path)
            self.assertEqual(status, 200, path)

    def test_half_sent_heads_do_not_lock_out_the_operator(self):
        self.hold(80, partial=b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        status, body = get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"ptp_config_reloads_total", body)
        # Still at most 64 open: the oldest waiting ones were closed for the newer.
        time.sleep(0.3)
        gone = sum(closed_by_peer(s) for s in self.held)
        self.assertGreaterEqual(gone, 80 - 64 + 1, f"{gone} of 80 idle connections closed")
        self.assertTrue(any(not closed_by_peer(s) for s in self.held[-10:]),
                        "the newest connections are kept")

    def test_slow_bodies_do_not_lock_out_the_operator(self):
        # A POST body may take admin.body_timeout_ms (10 s) to arrive, and is read before
        # the credential is looked at: 64 of them held every slot for 10 s each.
        self.hold(64, partial=b"POST /reload HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 1000000\r\n\r\n" + b"{" * 100)
        status, _ = get("/readyz")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
