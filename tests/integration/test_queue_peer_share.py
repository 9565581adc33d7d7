"""What one authenticated peer's pushes may cost the receiving gateway's inbox (docs/queues.md
"Limits"): a peer B (valid node key, allowed to push) is refused once its own messages hold
max_source_bytes, so another peer C and the gateway's own containers still find room; and
pushes refused for lack of room leave nothing behind in the store's index (before, each
refused push to a new topic or session kept an empty queue in memory until idle expiry,
24 h). Real gateway A of conf/direct; B and C are played by raw HTTP/1.1 requests with
their own tokens, as their outboxes forward a message (an invoke of ptp/queue/push)."""
import http.client
import unittest

from ptp_harness import KEYS, Topology, conf, mint
from test_queue import container_headers

A_PORT = 17304


class Peer:
    """A peer's outbox forwarding messages to A on one kept-alive connection."""

    def __init__(self, node):
        self.node = node
        self.tokens = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", A_PORT, timeout=10)

    def push(self, session, topic, msg_id, payload):
        token = self.tokens.get(session) or self.tokens.setdefault(session, mint(self.node, "A", session))
        h = {
            "x-ptp-version": "1", "x-ptp-tech-provider-code": "PTPGW", "x-ptp-trace-id": "t-" + msg_id,
            "x-ptp-token": token, "x-ptp-uri": "ptp/queue/push", "x-ptp-session-id": session,
            "x-ptp-source-node-id": self.node, "x-ptp-target-node-id": "A",
            "message-topic": topic, "message-id": msg_id, "content-type": "application/octet-stream",
        }
        self.conn.request("POST", "/v1/interconn/chan/invoke", body=payload, headers=h)
        r = self.conn.getresponse()
        r.read()
        return r.getheader("x-ptp-code") or str(r.status), r.getheader("x-ptp-message") or ""

    def close(self):
        self.conn.close()


def config(topo, limits):
    node_keys = f'    B: "{KEYS["B"]}"\n'
    return topo.variant(conf("direct", "a.yaml"), [
        ("  retry_max_ms: 2000\n", f"  retry_max_ms: 2000\n  limits: {limits}\n"),
        (node_keys, node_keys + f'    C: "{KEYS["C"]}"\n'),
    ])


def local_push(session, payload):
    h = container_headers("A", "A", session)
    h["content-type"] = "application/octet-stream"
    c = http.client.HTTPConnection("127.0.0.1", A_PORT, timeout=10)
    try:
        c.request("POST", "/v1/interconn/chan/push?topic=t&timeout=0", body=payload, headers=h)
        r = c.getresponse()
        r.read()
        return r.getheader("x-ptp-code"), r.getheader("x-ptp-message")
    finally:
        c.close()


class PeerShare(unittest.TestCase):
    def test_one_peer_cannot_take_the_whole_inbox(self):
        with Topology() as topo:
            topo.gateway(config(topo, "{max_total_bytes: 262144}"))
            b, c = Peer("B"), Peer("C")
            try:
                # B spreads 1 KiB messages over sessions until A refuses it.
                stored, refused = 0, None
                for i in range(400):
                    code, text = b.push(f"b-{i % 8}", "t", f"m{i}", b"x" * 1024)
                    if code != "E0000000000":
                        refused = (code, text)
                        break
                    stored += 1
                self.assertIsNotNone(refused, "B stored 400 KiB in a 256 KiB inbox")
                self.assertEqual(refused[0], "E0000000700", refused)
                self.assertIn("node B", refused[1])
                self.assertLessEqual(stored * 1024, 65536)
                self.assertGreater(stored, 20)
                # C and A's own containers still have room.
                for i in range(20):
                    self.assertEqual(c.push("c-1", "t", f"m{i}", b"y" * 1024)[0], "E0000000000")
                self.assertEqual(local_push("a-1", b"z" * 1024)[0], "E0000000000")
            finally:
                b.close()
                c.close()

    def test_refused_pushes_leave_no_queues_behind(self):
        with Topology() as topo:
            gw = topo.gateway(config(topo, "{max_total_bytes: 16384}"))
            b = Peer("B")
            try:
                for i in range(64):
                    if b.push("b-1", "t", f"m{i}", b"x" * 1024)[0] != "E0000000000":
                        break
                queues = gw.queue_stats()["inbox"]["queues"]
                for i in range(300):
                    code, _ = b.push(f"b-{i % 3 + 2}", f"topic-{i}", f"n{i}", b"x" * 1024)
                    self.assertEqual(code, "E0000000700")
                self.assertEqual(gw.queue_stats()["inbox"]["queues"], queues)
            finally:
                b.close()


if __name__ == "__main__":
    unittest.main()
