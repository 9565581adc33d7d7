"""Queue limits count what a message really costs (docs/queues.md "Limits"): empty pushes
stop at max_session_bytes with E0000000700 (each is charged its header, metadata and a
fixed overhead, not only its zero payload bytes), and a session holds at most
max_session_messages messages. Real gateways of conf/direct, raw pushes over HTTP/1.1."""
import http.client
import unittest

from ptp_harness import Topology, conf
from test_queue import container_headers

OVERHEAD = 512  # kMessageOverheadBytes, adapters/queue/queue_bookkeeping.h


def push_empty_until_full(port, node, session, limit):
    """Pushes empty messages to the node's own queue until one is refused; returns the
    number stored and the refusing answer (None when `limit` pushes all got in)."""
    h = container_headers(node, node, session)
    h["content-type"] = "application/octet-stream"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(limit):
            c.request("POST", "/v1/interconn/chan/push?topic=t&timeout=0", body=b"", headers=h)
            r = c.getresponse()
            r.read()
            if r.getheader("x-ptp-code") != "E0000000000":
                return i, (r.status, r.getheader("x-ptp-code"), r.getheader("x-ptp-message"))
        return limit, None
    finally:
        c.close()


class QueueLimits(unittest.TestCase):
    def test_empty_pushes_stop_at_the_session_byte_limit(self):
        with Topology() as topo:
            a = topo.variant(conf("direct", "a.yaml"), [(
                "  retry_max_ms: 2000\n",
                "  retry_max_ms: 2000\n  limits: {max_session_bytes: 65536}\n")])
            topo.gateway(a)
            n, refused = push_empty_until_full(17304, "A", "s-empty", 500)
            self.assertIsNotNone(refused, "500 empty pushes passed a 64 KiB session limit")
            self.assertEqual(refused[:2], (429, "E0000000700"), refused)
            self.assertIn("session s-empty is full", refused[2])
            self.assertGreater(n, 0)
            self.assertLessEqual(n, 65536 // OVERHEAD)
            # Another session has room of its own; the gateway keeps serving.
            m, _ = push_empty_until_full(17304, "A", "s-other", 3)
            self.assertEqual(m, 3)

    def test_session_message_count_limit(self):
        with Topology() as topo:
            a = topo.variant(conf("direct", "a.yaml"), [(
                "  retry_max_ms: 2000\n",
                "  retry_max_ms: 2000\n  limits: {max_session_messages: 25}\n")])
            topo.gateway(a)
            n, refused = push_empty_until_full(17304, "A", "s-count", 100)
            self.assertEqual(n, 25)
            self.assertEqual(refused[:2], (429, "E0000000700"), refused)
            self.assertIn("25 messages queued, limit 25", refused[2])


if __name__ == "__main__":
    unittest.main()
