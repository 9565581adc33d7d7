"""The outbox between real gateways A and B (conf/direct variants): sessions are delivered
independently (a session full at B does not hold up the others), messages B refuses for
good (over its max_message_bytes, released session) and messages past outbox_ttl_s
become dead letters A's container pops on queue.dead_letter_topic, and are not retried;
a message that waited longer than its container token's lifetime is still delivered."""
import base64
import time
import unittest

from ptp_harness import Topology, conf, mint, wait_until
from test_queue import A, B, container_headers, payloads_popped, pop_json, push_json

DEAD = "ptp.dead-letter"

# B: small limits (a container's push that finds B full still waits the default 5 s).
B_LIMITS = [("  retry_max_ms: 2000\n",
             "  retry_max_ms: 2000\n  limits: {max_message_bytes: 1000, max_session_bytes: 5000}\n")]
# A: one forward in flight to B, so a full session at B that held it would stall all.
A_ONE_SLOT = [("  retry_max_ms: 2000\n", "  retry_max_ms: 2000\n  outbox_concurrency: 1\n")]


def pop_one(base, node, session, topic, timeout="5s"):
    r = pop_json(base, node, session, topic, timeout)
    assert r.status == 200, r
    return r.json()


class OutboxDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.a = cls.topo.gateway(cls.topo.variant(conf("direct", "a.yaml"), A_ONE_SLOT))
        cls.b = cls.topo.gateway(cls.topo.variant(conf("direct", "b.yaml"), B_LIMITS))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_a_full_session_does_not_hold_up_others(self):
        # s-full: two messages fill B's session limit (nobody pops), the third gets 700
        # at B again and again (at once: B does not hold a peer's push waiting for space,
        # which would hold A's one forward slot).
        full = [b"F%d" % i + b"x" * 998 for i in range(3)]
        for m in full:
            self.assertEqual(push_json(A, "A", "B", "s-full", "t", m).json()["code"], "E0000000000")
        wait_until(lambda: "E0000000700" in self.a.output(), what="the third refused with 700")
        time.sleep(0.5)  # s-full's next attempt (after retry_min_ms, 200 ms) is under way
        # Another session to the same node is delivered at once.
        t0 = time.time()
        free = [b"free-%d" % i for i in range(3)]
        for m in free:
            self.assertEqual(push_json(A, "A", "B", "s-free", "t", m).status, 200)
        self.assertEqual(payloads_popped(B, "B", "s-free", "t", 3, timeout="5s"), free)
        self.assertLess(time.time() - t0, 3.0)
        # Once B's container pops, the full session resumes, in order, nothing lost.
        self.assertEqual(payloads_popped(B, "B", "s-full", "t", 3, timeout="5s"), full)

    def test_over_b_max_message_bytes_is_a_dead_letter_at_a(self):
        big = b"B" * 1001  # A takes it (its limit is 64 MiB), B refuses it: 413
        r = push_json(A, "A", "B", "s-dl", "t", big, **{"x-ptp-message-id": "big-1"})
        self.assertEqual(r.json()["code"], "E0000000000")
        self.assertEqual(push_json(A, "A", "B", "s-dl", "t", b"after").status, 200)
        dl = pop_one(A, "A", "s-dl", DEAD)
        self.assertEqual(base64.b64decode(dl["payload"]), big)
        md = dl["metadata"]
        self.assertEqual(md["dead-letter-code"], "E0000000413", md)
        self.assertEqual(md["dead-letter-target"], "B")
        self.assertEqual(md["dead-letter-topic"], "t")
        self.assertEqual(md["message-id"], "big-1")
        self.assertEqual(md["message-code"], "mc-1")  # the sender's metadata comes back
        self.assertIn("max_message_bytes", md["dead-letter-reason"])
        self.assertIn('ptp_outbox_dead_letters_total{code="E0000000413"} 1', self.a.metrics())
        # Later messages of the same session are delivered; the refused one is not at B.
        self.assertEqual(payloads_popped(B, "B", "s-dl", "t", 2, timeout="2s"), [b"after"])
        # Stored once, even if looked for again; A's outbox is empty.
        wait_until(lambda: self.a.queue_stats()["outbox"]["messages"] == 0, what="A's outbox empty")
        self.assertEqual(pop_one(A, "A", "s-dl", DEAD, timeout="300ms").get("payload"), None)

    def test_released_session_at_b_is_not_retried(self):
        h = container_headers("B", "B", "s-gone")
        h["content-type"] = "application/json"
        from ptp_harness import curl
        self.assertEqual(curl(B + "release", h, b"{}").status, 200)
        r = push_json(A, "A", "B", "s-gone", "t", b"late", **{"x-ptp-message-id": "gone-1"})
        self.assertEqual(r.json()["code"], "E0000000000")
        md = pop_one(A, "A", "s-gone", DEAD)["metadata"]
        self.assertEqual(md["dead-letter-code"], "E0000000608", md)
        self.assertEqual(md["message-id"], "gone-1")
        # Refused once, dead-lettered, never retried.
        log = self.a.output()
        lines = [ln for ln in log.splitlines() if "gone-1" in ln]
        self.assertEqual(sum("will retry" in ln for ln in lines), 0, lines)
        self.assertEqual(sum("dead-lettered" in ln for ln in lines), 1, lines)

    def test_same_id_from_two_sources_both_delivered(self):
        r = push_json(A, "A", "B", "s-2src", "t", b"from A", **{"x-ptp-message-id": "same-1"})
        self.assertEqual(r.json()["code"], "E0000000000")
        wait_until(lambda: self.a.queue_stats()["outbox"]["messages"] == 0, what="A's outbox empty")
        r = push_json(B, "B", "B", "s-2src", "t", b"from B", **{"x-ptp-message-id": "same-1"})
        self.assertEqual(r.json()["code"], "E0000000000")
        got = payloads_popped(B, "B", "s-2src", "t", 3, timeout="1s")
        self.assertEqual(sorted(got), [b"from A", b"from B"])

    def test_acknowledged_then_pushed_again_is_a_duplicate(self):
        # docs/queues.md: an id acknowledged within limits.dedup_window_s is answered OK
        # without a second copy. Locally at B ...
        for _ in range(2):
            r = push_json(B, "B", "B", "s-again", "t", b"once", **{"x-ptp-message-id": "again-1"})
            self.assertEqual(r.json()["code"], "E0000000000")
            self.assertEqual(payloads_popped(B, "B", "s-again", "t", 1, timeout="1s")[:1],
                             [b"once"] if _ == 0 else [])
        # ... and from A through the outbox.
        for i in range(2):
            r = push_json(A, "A", "B", "s-again2", "t", b"once", **{"x-ptp-message-id": "again-2"})
            self.assertEqual(r.json()["code"], "E0000000000")
            self.assertEqual(payloads_popped(B, "B", "s-again2", "t", 1, timeout="2s"),
                             [b"once"] if i == 0 else [])
            wait_until(lambda: self.a.queue_stats()["outbox"]["messages"] == 0, what="outbox empty")

    def test_limits_at_the_exact_boundary(self):
        # max_message_bytes 1000: exactly 1000 is taken, 1001 is 413.
        r = push_json(B, "B", "B", "s-lim", "t", b"m" * 1000)
        self.assertEqual(r.json()["code"], "E0000000000", r)
        r = push_json(B, "B", "B", "s-lim", "t", b"m" * 1001)
        self.assertEqual(r.json()["code"], "E0000000413", r)
        # max_session_bytes 5000 counts footprints: payload + c, where c (message id, header
        # fields, the store's 512 bytes) is the same for every message of this session and
        # topic. c is read off B's inbox bytes around that first push.
        limit = 5000
        before = self.b.queue_stats()["inbox"]["bytes"]
        self.assertEqual(push_json(B, "B", "B", "s-lim", "t", b"m" * 1000).json()["code"],
                         "E0000000000")
        c = self.b.queue_stats()["inbox"]["bytes"] - before - 1000
        self.assertGreaterEqual(c, 512, "a message is charged more than its payload")
        room = limit - 2 * (1000 + c)  # footprint bytes left in the session
        while room - c > 999:  # fillers until the last payload fits max_message_bytes
            f = max(0, min(1000, room - 2 * c - 500))
            self.assertEqual(push_json(B, "B", "B", "s-lim", "t", b"f" * f).json()["code"],
                             "E0000000000")
            room -= f + c
        last = room - c  # the payload that fills the session exactly
        self.assertGreaterEqual(last, 1)
        t0 = time.time()
        r = push_json(B, "B", "B", "s-lim", "t", b"m" * (last + 1), timeout="300ms")
        self.assertEqual(r.json()["code"], "E0000000700", r)  # one byte over
        self.assertGreaterEqual(time.time() - t0, 0.25)  # it waited for space first
        r = push_json(B, "B", "B", "s-lim", "t", b"m" * last)
        self.assertEqual(r.json()["code"], "E0000000000", r)  # exactly full
        r = push_json(B, "B", "B", "s-lim", "t", b"", timeout="300ms")
        self.assertEqual(r.json()["code"], "E0000000700", r)  # even an empty message
        # Space again after a pop.
        self.assertEqual(len(payloads_popped(B, "B", "s-lim", "t", 1)), 1)
        r = push_json(B, "B", "B", "s-lim", "t", b"m")
        self.assertEqual(r.json()["code"], "E0000000000", r)


class OutboxExpiry(unittest.TestCase):
    def test_outbox_ttl_makes_a_dead_letter(self):
        with Topology() as topo:
            a = topo.gateway(topo.variant(conf("direct", "a.yaml"),
                                          [("  retry_max_ms: 2000\n",
                                            "  retry_max_ms: 500\n  outbox_ttl_s: 1\n")]))
            # B is down: the message waits, expires, and comes back to A's container.
            r = push_json(A, "A", "B", "s-ttl", "t", b"never", **{"x-ptp-message-id": "ttl-1"})
            self.assertEqual(r.json()["code"], "E0000000000")
            dl = pop_one(A, "A", "s-ttl", DEAD, timeout="8s")
            self.assertEqual(base64.b64decode(dl.get("payload", "")), b"never", dl)
            self.assertEqual(dl["metadata"]["dead-letter-code"], "E0000000601")
            self.assertEqual(dl["metadata"]["message-id"], "ttl-1")
            wait_until(lambda: a.queue_stats()["outbox"]["messages"] == 0, what="A's outbox empty")

    def test_idle_expiry_does_not_drop_outbox_messages(self):
        # session_idle_expiry_s is for abandoned inbox sessions; a message waiting in the
        # outbox for a target that is down leaves only by delivery or as a dead letter.
        with Topology() as topo:
            a = topo.gateway(topo.variant(conf("direct", "a.yaml"), [
                ("  retry_max_ms: 2000\n",
                 "  retry_max_ms: 2000\n  limits: {session_idle_expiry_s: 1}\n")]))
            r = push_json(A, "A", "B", "s-wait", "t", b"kept")
            self.assertEqual(r.json()["code"], "E0000000000")
            deadline = time.time() + 2.5  # more than twice the idle expiry
            while time.time() < deadline:
                self.assertEqual(a.queue_stats()["outbox"]["messages"], 1)
                time.sleep(0.1)
            topo.gateway(conf("direct", "b.yaml"))
            self.assertEqual(payloads_popped(B, "B", "s-wait", "t", 1, timeout="8s"), [b"kept"])

    def test_expired_container_token_is_reminted(self):
        # B allows no clock skew: the container's token (2 s) has expired by the time B
        # is up; A signs the forward with a fresh token of its own key.
        with Topology() as topo:
            topo.gateway(conf("direct", "a.yaml"))
            token = mint("A", "B", "s-tok", ttl=2)
            expires = time.time() + 2
            r = push_json(A, "A", "B", "s-tok", "t", b"patient", token=token)
            self.assertEqual(r.json()["code"], "E0000000000")
            while time.time() < expires + 1.5:  # until the token is past its expiry
                time.sleep(0.1)
            topo.gateway(topo.variant(conf("direct", "b.yaml"),
                                      [("max_clock_skew_s: 300", "max_clock_skew_s: 0")]))
            self.assertEqual(payloads_popped(B, "B", "s-tok", "t", 1, timeout="8s"), [b"patient"])
            self.assertEqual(pop_one(A, "A", "s-tok", DEAD, timeout="100ms").get("payload"), None)


class SessionIdleExpiry(unittest.TestCase):
    def test_idle_session_is_dropped(self):
        with Topology() as topo:
            b = topo.gateway(topo.variant(conf("direct", "b.yaml"), [
                ("  retry_max_ms: 2000\n", "  retry_max_ms: 2000\n  limits: {session_idle_expiry_s: 1}\n")]))
            self.assertEqual(push_json(B, "B", "B", "s-idle", "t", b"stale").status, 200)
            self.assertEqual(b.queue_stats()["inbox"]["messages"], 1)
            # Untouched (no pop, no peek), the session goes within about 1.5 s.
            t0 = time.time()
            wait_until(lambda: b.queue_stats()["inbox"]["messages"] == 0, timeout=5, what="expiry")
            self.assertGreaterEqual(time.time() - t0, 0.4)
            self.assertEqual(payloads_popped(B, "B", "s-idle", "t", 1, timeout="100ms"), [])
            # Not released: the session can be used again.
            self.assertEqual(push_json(B, "B", "B", "s-idle", "t", b"fresh").json()["code"],
                             "E0000000000")
            self.assertEqual(payloads_popped(B, "B", "s-idle", "t", 1), [b"fresh"])


if __name__ == "__main__":
    unittest.main()
