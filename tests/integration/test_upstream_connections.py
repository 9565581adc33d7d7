"""A next hop cannot make a gateway open connection after connection (docs/security.md,
"Connections to next hops"): peer B of conf/direct/a.yaml is replaced by an HTTP/2 server
that allows one stream per connection and never answers. Requests to B keep coming; gateway
A keeps at most UpstreamPool::kMaxConnectionsPerHop connections to B open per I/O thread and
queues the rest on them (they end with A's timeout for B, or the client's), and A keeps
serving."""
import subprocess
import threading
import time
import unittest
import urllib.request

import h2.settings

from h2_server import H2Server
from ptp_harness import Topology, conf, ptp_headers

A_PORT, A_ADMIN = 17304, 17404
B_PORT = 17305  # peer B's address in conf/direct/a.yaml
IO_THREADS = 2  # conf/direct/a.yaml
MAX_PER_THREAD = 8  # UpstreamPool::kMaxConnectionsPerHop
REQUESTS = 40


class StallingPeer(H2Server):
    """Allows one stream per connection (SETTINGS_MAX_CONCURRENT_STREAMS 1), answers none,
    and counts the connections open at once (a connection where A opened a second stream
    before our SETTINGS came is closed by python-h2, and A then opens another one)."""
    settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}

    def __init__(self, port):
        self.lock = threading.Lock()
        self.open = self.most_open = 0
        super().__init__(port)

    def serve(self, c):
        with self.lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        try:
            super().serve(c)
        finally:
            with self.lock:
                self.open -= 1

    def on_events(self, conn, events, state):
        pass  # the streams are held: no answer


def invoke(i):
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "6", "-X",
            "POST", "--data-binary", "x"]
    for k, v in ptp_headers("A", "B", trace=f"tr-conn-{i}").items():
        args += ["-H", f"{k}: {v}"]
    args.append(f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke")
    subprocess.run(args, capture_output=True, timeout=30)


class UpstreamConnections(unittest.TestCase):
    def test_a_hop_allowing_one_stream_gets_a_bounded_number_of_connections(self):
        peer = StallingPeer(B_PORT)
        try:
            with Topology() as topo:
                topo.gateway(conf("direct", "a.yaml"))
                callers = []
                for i in range(REQUESTS):  # one after another: each finds B's streams taken
                    t = threading.Thread(target=invoke, args=(i,), daemon=True)
                    t.start()
                    callers.append(t)
                    time.sleep(0.03)
                time.sleep(0.5)
                with peer.lock:
                    most = peer.most_open
                self.assertGreater(most, 1, "the test did not load B with streams")
                self.assertLessEqual(most, IO_THREADS * MAX_PER_THREAD,
                                     f"A had {most} connections to B open at once")
                with urllib.request.urlopen(f"http://127.0.0.1:{A_ADMIN}/readyz", timeout=2) as r:
                    self.assertEqual(r.status, 200)
                for t in callers:
                    t.join(timeout=30)
        finally:
            peer.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
