"""Two replicas of node B on one Kafka inbox (docs/queues-kafka.md "Replicas"), peer A
pointed at replica 0. With queue.kafka.pushes: owner (the default) replica 0 takes A's
pushes only for the queues it serves: a push for a queue of replica 1 answers A's outbox
E0000000607 naming replica 1, and the outbox retries it on the same address (it does not
follow the named replica), so nothing reaches replica 1 that replica 1 did not check.
B's own containers still push through either replica. With pushes: any, replica 0 takes
the retried push and replica 1 serves it.

Invoke over queues (docs/queues.md "Sync and async") at two replicas of node A: each
replica waits for the reply on a topic whose partition it serves, so an invoke at replica
0, where peer B's replies arrive, always gets its answer; an invoke at replica 1 gets it
only with pushes: any (with pushes: owner, replica 0 refuses B's reply with E0000000607
and B's outbox retries it on the same address). Each replica of A forwards the pushes it
took, through an outbox of its own."""
import unittest

from ptp_harness import conf, curl, ptp_headers
from test_queue import A, B, payloads_popped, push_json
from test_queue_kafka import KafkaTopology

B1 = "http://127.0.0.1:17306/v1/interconn/chan/"
PARTITIONS = 4  # kafka_queue_section's


def replica_of(session, topic, replicas=2):
    """adapters/queue/kafka/kafka_record.cpp kafka_partition_of, then the owner."""
    h = 0xcbf29ce484222325
    for b in session.encode() + b"\0" + topic.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return (h % PARTITIONS) % replicas


def session_of_replica(i, topic="t"):
    return next(s for s in (f"s-{n}" for n in range(100)) if replica_of(s, topic) == i)


class KafkaReplicas(unittest.TestCase):
    def b_replica(self, topo, index, pushes):
        text = f", replica_count: 2, replica_index: {index}, pushes: {pushes}}}"
        repl = [("store: embedded", "store: kafka\n  kafka: {bootstrap: \"%s\", "
                 "create_topics: false, replication_factor: 1, partitions: 4%s"
                 % (topo.kafka.bootstrap, text))]
        if index == 1:
            repl += [("port: 17305", "port: 17306"), ("port: 17405", "port: 17406")]
        cfg = topo.variant(conf("direct", "b.yaml"), repl, name=f"b{index}-{pushes}.yaml")
        return topo.gateway(cfg, data_name=f"B{index}")

    def test_a_peer_push_goes_to_the_replica_that_serves_its_queue(self):
        with KafkaTopology() as topo:
            topo.kafka.command(f"topic ptp.inbox.B {PARTITIONS}")
            a = topo.kafka_gateway("a")
            b0 = self.b_replica(topo, 0, "owner")
            b1 = self.b_replica(topo, 1, "owner")
            s0, s1 = session_of_replica(0), session_of_replica(1)
            # A queue of replica 0: A's push arrives.
            self.assertEqual(push_json(A, "A", "B", s0, "t", b"to-0").status, 200)
            self.assertEqual(payloads_popped(B, "B", s0, "t", 1, timeout="10s"), [b"to-0"])
            # A queue of replica 1: replica 0 refuses A's forwards with 607 naming replica 1,
            # A's outbox keeps retrying on replica 0's address, replica 1 gets nothing.
            self.assertEqual(push_json(A, "A", "B", s1, "t", b"to-1").status, 200)
            self.assertEqual(payloads_popped(B1, "B", s1, "t", 1, timeout="3s"), [])
            self.assertIn(f"queue t of session {s1} is served by replica 1 of node B", a.output())
            # B's own containers push through either replica (its own messages).
            self.assertEqual(push_json(B, "B", "B", s1, "own", b"own-1").status, 200)
            own_owner = B1 if replica_of(s1, "own") else B
            self.assertEqual(payloads_popped(own_owner, "B", s1, "own", 1, timeout="10s"),
                             [b"own-1"])
            # pushes: any (the old behaviour): replica 0 takes the retried push, replica 1
            # serves it.
            for g in (b1, b0):
                self.assertEqual(g.stop(), 0)
                topo.procs.remove(g)
            self.b_replica(topo, 0, "any")
            self.b_replica(topo, 1, "any")
            self.assertEqual(payloads_popped(B1, "B", s1, "t", 1, timeout="15s"), [b"to-1"])


A1_CHAN = "http://127.0.0.1:17306/v1/interconn/chan/"  # replica 1 of A (A: replica 0's)
A0, A1 = A + "invoke", A1_CHAN + "invoke"


class KafkaReplicasInvokeOverQueues(unittest.TestCase):
    def a_replica(self, topo, index, pushes):
        text = f", replica_count: 2, replica_index: {index}, pushes: {pushes}}}"
        repl = [("store: embedded", "store: kafka\n  kafka: {bootstrap: \"%s\", "
                 "create_topics: false, replication_factor: 1, partitions: 4%s"
                 % (topo.kafka.bootstrap, text)),
                ("protocol: http2, timeout_ms: 30000}",
                 "protocol: http2, timeout_ms: 4000, async: true}")]
        if index == 1:
            repl += [("port: 17304", "port: 17306"), ("port: 17404", "port: 17406")]
        cfg = topo.variant(conf("direct", "a.yaml"), repl, name=f"a{index}-{pushes}.yaml")
        return topo.gateway(cfg, data_name=f"A{index}")

    def invoke(self, replica, n):
        """An invoke at A's replica `replica` in session s-inv-<replica>-<n> (its request
        goes out through that replica's own outbox, whatever the session)."""
        session = f"s-inv-{replica}-{n}"
        h = ptp_headers("A", "B", uri="ptp/echo/x", session=session, trace=f"tr-{session}")
        body = b"invoke-" + session.encode()
        r = curl((A0, A1)[replica], h, body, http="1.1")
        return r, body

    def test_each_replica_waits_on_a_reply_topic_it_serves(self):
        with KafkaTopology() as topo:
            topo.kafka.command(f"topic ptp.inbox.A {PARTITIONS}")
            topo.kafka.command(f"topic ptp.outbox.A.B {PARTITIONS}")
            topo.echo(18080)
            b = topo.gateway(topo.variant(
                conf("direct", "b.yaml"),
                [("path: /echo, timeout_ms: 30000}",
                  "path: /echo, timeout_ms: 30000, passive: true}")], name="b-passive.yaml"))
            a0, a1 = self.a_replica(topo, 0, "owner"), self.a_replica(topo, 1, "owner")
            # B's replies arrive at replica 0 (B's peer address of A): every invoke there is
            # answered, whatever partition a random reply topic would have had.
            for n in range(8):
                r, body = self.invoke(0, n)
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)
                self.assertEqual(r.body, body)
            # At replica 1, with pushes: owner, replica 0 refuses B's reply for replica 1's
            # reply topic (607 naming replica 1): the invoke times out.
            r, _ = self.invoke(1, 0)
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000601", r)
            self.assertIn("no reply from node B", r.body.decode())
            self.assertIn("is served by replica 1 of node A", b.output())
            # With pushes: any, replica 0 takes the reply and replica 1 serves its pop.
            for g in (a1, a0):
                self.assertEqual(g.stop(), 0)
                topo.procs.remove(g)
            self.a_replica(topo, 0, "any")
            self.a_replica(topo, 1, "any")
            for n in range(1, 5):
                for replica in (0, 1):
                    r, body = self.invoke(replica, n + 10)
                    self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)
                    self.assertEqual(r.body, body)

    def test_a_push_at_either_replica_is_forwarded(self):
        """Each replica forwards the pushes it took, whatever partition of a shared outbox
        their session would hash to."""
        with KafkaTopology() as topo:
            topo.kafka.command(f"topic ptp.outbox.A.B {PARTITIONS}")
            topo.gateway(conf("direct", "b.yaml"))
            self.a_replica(topo, 0, "owner")
            self.a_replica(topo, 1, "owner")
            for replica, url in ((0, A), (1, A1_CHAN)):
                for other in (0, 1):
                    session = next(s for s in (f"s-out-{replica}-{i}" for i in range(100))
                                   if replica_of(s, "") == other)
                    body = b"via-%d-of-%d" % (replica, other)
                    self.assertEqual(push_json(url, "A", "B", session, "t", body).status, 200)
                    self.assertEqual(payloads_popped(B, "B", session, "t", 1, timeout="10s"),
                                     [body], (replica, other))


if __name__ == "__main__":
    unittest.main()
