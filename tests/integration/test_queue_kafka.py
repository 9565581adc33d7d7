"""Async transport with the queue store on Kafka (librdkafka's mock cluster, in its own
process): gateways A and B (conf/direct) keep their inbox and outbox in Kafka topics;
containers push at A and pop at B (curl, gRPC). Faults: kill -9 of the receiving
gateway between push and pop, the target down then up, Kafka produce/fetch/commit
errors injected through the mock cluster API — every message arrives once, in order."""
import subprocess
import time
import unittest

from ptp_harness import KafkaMock, Topology, conf, curl, kafka_queue_section
from test_queue import A, B, container_headers, payloads_popped, pop_json, push_json

# Kafka error codes (librdkafka rd_kafka_resp_err_t) and API keys used below.
NOT_LEADER, REQUEST_TIMED_OUT, NOT_COORDINATOR = 6, 7, 16
API_PRODUCE, API_FETCH, API_OFFSET_COMMIT = 0, 1, 8


class KafkaTopology(Topology):
    def __init__(self):
        super().__init__()
        self.kafka = KafkaMock(3)

    def kafka_gateway(self, name, data_name=None):
        cfg = self.variant(conf("direct", f"{name}.yaml"),
                           [("store: embedded", kafka_queue_section(self.kafka.bootstrap))],
                           name=f"{name}-kafka.yaml")
        return self.gateway(cfg, data_name)

    def close(self):
        try:
            super().close()
        finally:
            self.kafka.close()


class QueueOnKafka(unittest.TestCase):
    def test_push_at_a_pop_at_b_in_order(self):
        with KafkaTopology() as topo:
            topo.kafka_gateway("a")
            topo.kafka_gateway("b")
            msgs = [b"kq-%d-" % i + bytes(range(256)) for i in range(10)]
            for i, m in enumerate(msgs):
                r = push_json(A, "A", "B", "s-k", "t1", m, http="h2c" if i % 2 else "1.1")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["code"], "E0000000000")
            self.assertEqual(payloads_popped(B, "B", "s-k", "t1", 10, timeout="10s"), msgs)
            r = pop_json(B, "B", "s-k", "t1", timeout="300ms")
            self.assertEqual(r.headers["x-ptp-queue-result"], "empty")
            # The messages went through Kafka: A's outbox topic for B and B's inbox topic.
            listing = subprocess.run(["kcat", "-b", topo.kafka.bootstrap, "-L"], check=True,
                                     capture_output=True, text=True, timeout=30).stdout
            self.assertIn('topic "ptp.outbox.A.B"', listing)
            self.assertIn('topic "ptp.inbox.B"', listing)
            # Released sessions answer 608, through the Kafka control topic.
            h = container_headers("B", "B", "s-k")
            h["content-type"] = "application/json"
            self.assertEqual(curl(B + "release", h, b"{}").status, 200)
            r = pop_json(B, "B", "s-k", "t1", timeout="300ms")
            self.assertEqual(r.json()["code"], "E0000000608", r)

    def test_kill_9_receiver_between_push_and_pop(self):
        with KafkaTopology() as topo:
            topo.kafka_gateway("a")
            b = topo.kafka_gateway("b", data_name="B")
            msgs = [b"k9-%03d" % i for i in range(30)]
            for m in msgs:
                self.assertEqual(push_json(A, "A", "B", "s-k9", "t", m).status, 200)
            self.assertEqual(payloads_popped(B, "B", "s-k9", "t", 1, timeout="10s"), msgs[:1])
            time.sleep(1.0)  # the outbox hands over the rest; the ack is committed
            b.stop(sig=9)
            topo.procs.remove(b)
            topo.kafka_gateway("b", data_name="B")
            got = payloads_popped(B, "B", "s-k9", "t", 40, timeout="3s")
            self.assertEqual(got, msgs[1:])

    def test_target_down_then_up_and_sender_killed(self):
        with KafkaTopology() as topo:
            a = topo.kafka_gateway("a", data_name="A")
            msgs = [b"late-%03d" % i for i in range(20)]
            for m in msgs:  # B is not running: A keeps them in its Kafka outbox
                self.assertEqual(push_json(A, "A", "B", "s-down", "t", m).status, 200)
            a.stop(sig=9)  # and A dies with all of them undelivered
            topo.procs.remove(a)
            topo.kafka_gateway("a", data_name="A")
            topo.kafka_gateway("b")
            got = payloads_popped(B, "B", "s-down", "t", 25, timeout="10s")
            self.assertEqual(got, msgs)

    def test_broker_errors_lose_and_duplicate_nothing(self):
        with KafkaTopology() as topo:
            topo.kafka_gateway("a")
            topo.kafka_gateway("b")
            # Warm up: both gateways have attached their topics.
            self.assertEqual(push_json(A, "A", "B", "s-err", "t", b"warm").status, 200)
            self.assertEqual(payloads_popped(B, "B", "s-err", "t", 1, timeout="10s"), [b"warm"])
            topo.kafka.command(f"errors {API_PRODUCE} {NOT_LEADER} 3")
            topo.kafka.command(f"errors {API_PRODUCE} {REQUEST_TIMED_OUT} 2")
            topo.kafka.command(f"errors {API_FETCH} {NOT_LEADER} 3")
            topo.kafka.command(f"errors {API_OFFSET_COMMIT} {NOT_COORDINATOR} 2")
            msgs = [b"err-%03d" % i for i in range(60)]
            for m in msgs:
                r = push_json(A, "A", "B", "s-err", "t", m)
                self.assertEqual(r.status, 200, r)
            got = payloads_popped(B, "B", "s-err", "t", 70, timeout="5s")
            self.assertEqual(got, msgs)


if __name__ == "__main__":
    unittest.main()
