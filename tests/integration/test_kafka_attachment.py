"""The Kafka attachment (docs/kafka-attachment.md) with kcat as the platform, on
librdkafka's mock cluster: kcat produces PTP messages (header fields as record headers)
into gateway A's ingress topic; A routes them like pushes — to B, whose platform is
attached by its egress topic (kcat consumes it), or to A's own inbox (curl pops it).
A bad record is skipped and the next one still goes through; kill -9 of A while it
consumes loses and duplicates nothing."""
import json
import subprocess
import time
import unittest

from ptp_harness import KafkaMock, Topology, conf
from test_queue import A, payloads_popped, push_json


def attached(topo, name, kafka, ingress="", egress=""):
    section = (f'kafka_attachment: {{bootstrap: "{kafka.bootstrap}", ingress_topic: "{ingress}", '
               f'egress_topic: "{egress}", properties: {{"topic.metadata.refresh.interval.ms": "500", '
               f'"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}}}}')
    return topo.variant(conf("direct", f"{name}.yaml"),
                        [("log: {level: info}", "log: {level: info}\n" + section)],
                        name=f"{name}-attached.yaml")


def kcat_produce(kafka, topic, payloads, headers):
    headers = {"x-ptp-version": "1", "x-ptp-tech-provider-code": "KCAT", **headers}
    args = ["kcat", "-P", "-b", kafka.bootstrap, "-t", topic]
    for k, v in headers.items():
        args += ["-H", f"{k}={v}"]
    subprocess.run(args, input=b"\n".join(payloads) + b"\n", check=True, timeout=30)


def kcat_consume(kafka, topic, count, timeout=30):
    """The first `count` records of the topic: [(headers dict, payload bytes)]."""
    out = subprocess.run(["kcat", "-C", "-b", kafka.bootstrap, "-t", topic, "-o", "beginning",
                          "-c", str(count), "-J"], check=True, timeout=timeout,
                         capture_output=True).stdout.decode()
    records = []
    for line in out.splitlines():
        j = json.loads(line)
        h = j.get("headers") or []
        records.append((dict(zip(h[0::2], h[1::2])), (j.get("payload") or "").encode()))
    return records


class KafkaAttachment(unittest.TestCase):
    def setUp(self):
        self.kafka = KafkaMock(1)
        self.kafka.command("topic a.ingress 1")
        self.kafka.command("topic b.egress 2")
        self.topo = Topology()

    def tearDown(self):
        try:
            self.topo.close()
        finally:
            self.kafka.close()

    def start(self, a_data=None):
        return self.topo.gateway(attached(self.topo, "a", self.kafka, ingress="a.ingress"),
                                 data_name=a_data)

    def test_ingress_to_remote_egress_with_headers(self):
        self.start()
        self.topo.gateway(attached(self.topo, "b", self.kafka, egress="b.egress"))
        msgs = [b"kafka-%02d" % i for i in range(10)]
        kcat_produce(self.kafka, "a.ingress", msgs,
                     {"x-ptp-target-node-id": "B", "x-ptp-session-id": "s-kc",
                      "x-ptp-topic": "t-kc", "x-ptp-trace-id": "tr-kc"})
        # A container's push at A reaches B's platform the same way.
        self.assertEqual(push_json(A, "A", "B", "s-kc", "t-kc", b"via-http").status, 200)
        got = kcat_consume(self.kafka, "b.egress", 11)
        payloads = [p for _, p in got]
        self.assertEqual(sorted(payloads), sorted(msgs + [b"via-http"]))
        self.assertEqual([p for p in payloads if p != b"via-http"], msgs)  # in order
        h = next(h for h, p in got if p == msgs[0])
        self.assertEqual(h["x-ptp-source-node-id"], "A")
        self.assertEqual(h["x-ptp-target-node-id"], "B")
        self.assertEqual(h["x-ptp-session-id"], "s-kc")
        self.assertEqual(h["x-ptp-trace-id"], "tr-kc")
        self.assertEqual(h["x-ptp-message-topic"], "t-kc")
        self.assertTrue(h["x-ptp-message-id"])
        self.assertNotIn("x-ptp-token", h)

    def test_ingress_to_own_inbox_and_bad_record_skipped(self):
        a = self.start()
        # No session: refused for good (logged), and the consumer moves on.
        kcat_produce(self.kafka, "a.ingress", [b"bad"], {"x-ptp-topic": "t"})
        kcat_produce(self.kafka, "a.ingress", [b"good-1", b"good-2"],
                     {"x-ptp-session-id": "s-own", "x-ptp-topic": "t-own"})
        self.assertEqual(payloads_popped(A, "A", "s-own", "t-own", 2, timeout="10s"),
                         [b"good-1", b"good-2"], a.output()[-4000:])
        self.assertIn("kafka ingress record skipped", a.output())
        self.assertIn("x-ptp-session-id", a.output())

    def test_kill_9_while_consuming_loses_and_duplicates_nothing(self):
        a = self.start(a_data="A")
        self.topo.gateway(attached(self.topo, "b", self.kafka, egress="b.egress"))
        first = [b"k9-%03d" % i for i in range(40)]
        kcat_produce(self.kafka, "a.ingress", first,
                     {"x-ptp-target-node-id": "B", "x-ptp-session-id": "s-k9", "x-ptp-topic": "t"})
        kcat_consume(self.kafka, "b.egress", 5)  # A is under way
        a.stop(sig=9)
        self.topo.procs.remove(a)
        self.start(a_data="A")
        more = [b"k9-%03d" % i for i in range(40, 50)]
        kcat_produce(self.kafka, "a.ingress", more,
                     {"x-ptp-target-node-id": "B", "x-ptp-session-id": "s-k9", "x-ptp-topic": "t"})
        # The restarted consumer rejoins its group once the killed one's session expired.
        got = [p for _, p in kcat_consume(self.kafka, "b.egress", 50, timeout=60)]
        self.assertEqual(sorted(got), first + more)
        time.sleep(2)  # nothing more trickles in: no duplicates
        self.assertEqual(len(subprocess.run(
            ["kcat", "-C", "-b", self.kafka.bootstrap, "-t", "b.egress", "-o", "beginning", "-e",
             "-q"], capture_output=True, timeout=30).stdout.splitlines()), 50)


if __name__ == "__main__":
    unittest.main()
