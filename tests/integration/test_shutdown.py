"""Graceful shutdown: on SIGTERM a gateway stops accepting, lets the requests it already
accepted finish (HTTP/1.1 and HTTP/2 clients, a slow local service), answers waiting pops
at once with no message, and exits; past shutdown_grace_ms it stops anyway."""
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ptp_harness import Topology, conf, curl, ptp_headers
from test_queue import pop_json

B_BASE = "http://127.0.0.1:17305/v1/interconn/chan/"
SLOW_PORT = 18091
SLOW_SECONDS = 1.5


class SlowService(BaseHTTPRequestHandler):
    """A local service that takes SLOW_SECONDS to answer."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(SLOW_SECONDS)
        out = b"slow:" + body
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        try:
            self.wfile.write(out)
        except BrokenPipeError:  # the gateway cut this request (grace period test)
            pass

    def log_message(self, *args):
        pass


def refuses_connections(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


class GracefulShutdown(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slow = ThreadingHTTPServer(("127.0.0.1", SLOW_PORT), SlowService)
        threading.Thread(target=cls.slow.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.slow.shutdown()
        cls.slow.server_close()

    def start_b(self, topo, grace_ms):
        cfg = topo.variant(conf("direct", "b.yaml"), [
            ("local_services:",
             f'shutdown_grace_ms: {grace_ms}\nlocal_services:\n'
             f'  - {{uri: "ptp/slow", address: "127.0.0.1:{SLOW_PORT}", protocol: http1,'
             f' path: /slow, timeout_ms: 30000}}'),
        ], name=f"b-grace-{grace_ms}.yaml")
        return topo.gateway(cfg)

    def slow_invoke(self, http, results, key):
        try:
            h = ptp_headers("B", "B", uri="ptp/slow", trace=f"tr-{key}")
            results[key] = curl(B_BASE + "invoke", h, f"in-flight {key}".encode(), http=http)
        except Exception as e:  # noqa: BLE001 - reported by the test
            results[key] = e

    def test_in_flight_requests_finish_and_waiting_pop_is_answered(self):
        with Topology() as topo:
            b = self.start_b(topo, 10000)
            results = {}
            threads = [threading.Thread(target=self.slow_invoke, args=(http, results, http))
                       for http in ("1.1", "h2c")]
            threads.append(threading.Thread(target=lambda: results.__setitem__(
                "pop", pop_json(B_BASE, "B", "sess-drain", "t-drain", timeout="30s"))))
            for t in threads:
                t.start()
            time.sleep(0.5)  # all three accepted and waiting
            t0 = time.time()
            b.proc.send_signal(15)
            time.sleep(0.3)
            self.assertTrue(refuses_connections(17305), "still accepting after SIGTERM")
            for t in threads:
                t.join(20)
            code = b.proc.wait(20)
            elapsed = time.time() - t0
            self.assertEqual(code, 0, b.output()[-3000:])
            for http in ("1.1", "h2c"):
                r = results[http]
                self.assertNotIsInstance(r, Exception, f"{http}: {r}")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, f"slow:in-flight {http}".encode())
            pop = results["pop"]
            self.assertEqual(pop.status, 200, pop)
            self.assertEqual(pop.headers.get("x-ptp-queue-result"), "empty", pop)
            # The slow requests set the pace, not the pop's 30 s nor the 10 s grace.
            self.assertLess(elapsed, 6.0)
            self.assertIn("draining before shutdown", b.output())

    def test_grace_period_bounds_the_wait(self):
        with Topology() as topo:
            b = self.start_b(topo, 300)
            results = {}
            t = threading.Thread(target=self.slow_invoke, args=("h2c", results, "cut"))
            t.start()
            time.sleep(0.4)
            t0 = time.time()
            b.proc.send_signal(15)
            code = b.proc.wait(20)
            elapsed = time.time() - t0
            t.join(20)
            self.assertEqual(code, 0, b.output()[-3000:])
            self.assertLess(elapsed, SLOW_SECONDS - 0.2, "waited for the slow request past the grace")
            self.assertIsInstance(results["cut"], Exception, results["cut"])
            self.assertIn('"connections_cut":"1"', b.output())


if __name__ == "__main__":
    unittest.main()
