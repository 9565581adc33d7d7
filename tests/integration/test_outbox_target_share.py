"""A target that never takes its messages holds at most its share of the sender's outbox
(docs/queues.md "Limits", queue.limits.max_target_bytes): gateway A peers with B and C; B is
down or refuses, so A's containers' pushes towards B pile up in A's outbox (until
outbox_ttl_s). Before, they filled the outbox's max_total_bytes and every push towards C
was refused E0000000700 too; now the pushes towards B are refused once B's messages hold
a quarter of the outbox, naming B and the share, while pushes towards C are still
accepted and delivered. Real
gateways A (conf/direct/a.yaml with a peer C) and C (conf/direct/b.yaml as C); B is down
(never starts), or up and answering every forward E0000000700."""
import unittest

from ptp_harness import KEYS, Topology, conf, wait_until
from test_queue import A, payloads_popped, push_json

C_PORT, C_ADMIN = 17306, 17406
C = f"http://127.0.0.1:{C_PORT}/v1/interconn/chan/"
TOTAL = 262144  # A's outbox: 256 KiB; B's share a quarter of it (the default)


def a_config(topo):
    key_b = f'    B: "{KEYS["B"]}"\n'
    peer_b = '  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:17305", protocol: http2, timeout_ms: 30000}\n'
    peer_c = (f'  - {{node_id: C, inst_id: INST_C, address: "127.0.0.1:{C_PORT}", protocol: http2, '
              'timeout_ms: 30000}\n')
    return topo.variant(conf("direct", "a.yaml"), [
        (key_b, key_b + f'    C: "{KEYS["C"]}"\n'),
        (peer_b, peer_b + peer_c),
        ("  retry_max_ms: 2000\n", f"  retry_max_ms: 2000\n  limits: {{max_total_bytes: {TOTAL}}}\n"),
    ])


def c_config(topo):
    return topo.variant(conf("direct", "b.yaml"), [
        ("node_id: B, inst_id: INST_B", "node_id: C, inst_id: INST_C"),
        ("port: 17305}", f"port: {C_PORT}}}"),
        ("port: 17405}", f"port: {C_ADMIN}}}"),
        (f'    B: "{KEYS["B"]}"\n', f'    C: "{KEYS["C"]}"\n'),
        ("path: data/B", "path: data/C"),
    ], name="c.yaml")


class OutboxTargetShare(unittest.TestCase):
    def fill_towards_b_then_push_to_c(self, a):
        # A's container pushes 1 KiB messages towards B over sessions until A refuses
        # them; B takes none, so they all stay in A's outbox.
        stored, refused = 0, None
        for i in range(400):
            r = push_json(A, "A", "B", f"b-{i % 8}", "t", b"x" * 1024, timeout="0ms")
            if r.json()["code"] != "E0000000000":
                refused = r.json()
                break
            stored += 1
        self.assertIsNotNone(refused, "400 KiB towards B in a 256 KiB outbox")
        # Pushes towards C (as large as B's: the room B left cannot take one) are still
        # accepted, and delivered.
        to_c = [b"to C %d " % i + b"y" * 1024 for i in range(5)]
        for m in to_c:
            r = push_json(A, "A", "C", "c-1", "t", m, timeout="0ms")
            self.assertEqual(r.json()["code"], "E0000000000", r)
        self.assertEqual(payloads_popped(C, "C", "c-1", "t", 5, timeout="8s"), to_c)
        # B's pushes were refused at its share (a quarter of the outbox), naming it.
        self.assertEqual(refused["code"], "E0000000700", refused)
        self.assertIn("messages to node B", refused.get("message", ""), refused)
        self.assertIn(f"limit {TOTAL // 4} per target node", refused.get("message", ""), refused)
        self.assertLessEqual(stored * 1024, TOTAL // 4)
        self.assertGreater(stored, 20)
        self.assertEqual(a.queue_stats()["outbox"]["messages"], stored)

    def test_a_target_that_is_down_cannot_fill_the_outbox_for_the_others(self):
        with Topology() as topo:
            a = topo.gateway(a_config(topo))
            topo.gateway(c_config(topo))
            self.fill_towards_b_then_push_to_c(a)

    def test_a_target_that_refuses_cannot_fill_the_outbox_for_the_others(self):
        # B is up but answers every forward E0000000700 (its inbox holds 4 KiB): A retries.
        with Topology() as topo:
            a = topo.gateway(a_config(topo))
            topo.gateway(topo.variant(conf("direct", "b.yaml"), [
                ("  retry_max_ms: 2000\n", "  retry_max_ms: 2000\n  limits: {max_total_bytes: 4096}\n")]))
            topo.gateway(c_config(topo))
            self.fill_towards_b_then_push_to_c(a)
            wait_until(lambda: "E0000000700" in a.output(), what="B refusing A's forwards")


if __name__ == "__main__":
    unittest.main()
