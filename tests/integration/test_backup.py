"""Backup and restore of the embedded queue stores while the gateway serves
(docs/operations.md): a client pushes continuously while `ptpctl queues backup` takes a
backup over the admin port; `ptpctl queues restore` copies it into an empty data directory
(and refuses a non-empty one); a fresh gateway started on it returns, popped one by one,
every message acknowledged before the backup started, in order, none twice, none acked by
a pop before the backup. The admin route's refusals: no credential, a relative or a
non-empty directory."""
import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

from ptp_harness import BIN, Topology, mint, wait_until

PTPCTL = os.path.join(BIN, "ptpctl")
TOKEN = "backup-test-token-0123456789abcdef"
LISTEN1, ADMIN1 = 18601, 18651
LISTEN2, ADMIN2 = 18602, 18652
TOPICS = ["t-a", "t-b"]
SESSION = "s-backup"


def write_config(topo, name, listen, admin):
    cred = os.path.join(topo.workdir, "admin.token")
    with open(cred, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(cred, 0o600)
    path = os.path.join(topo.workdir, name)
    with open(path, "w") as f:
        f.write("node: {node_id: A, inst_id: INST_A}\n"
                f"listen: {{address: 127.0.0.1, port: {listen}}}\n"
                f"admin: {{port: {admin}, credential_file: {cred}}}\n"
                "auth: {enabled: true, node_keys: {A: \"demo-only-secret-A-do-not-use-in-production\"}}\n"
                "queue: {store: embedded, path: data}\n")
    return path


class Client:
    """A container of node A on one keep-alive HTTP/1.1 connection: push and pop (JSON)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"x-ptp-tech-provider-code": "PTPGW", "x-ptp-trace-id": "tr-backup",
                        "x-ptp-token": mint("A", "A", SESSION), "x-ptp-session-id": SESSION,
                        "x-ptp-source-node-id": "A", "x-ptp-target-node-id": "A",
                        "content-type": "application/json"}

    def call(self, op, body):
        self.conn.request("POST", "/v1/interconn/chan/" + op, body=json.dumps(body),
                          headers=self.headers)
        r = self.conn.getresponse()
        return r.status, r.read(), r.getheader("x-ptp-queue-result")

    def close(self):
        self.conn.close()

    def push(self, topic, payload):
        status, body, _ = self.call("push", {"topic": topic,
                                             "payload": base64.b64encode(payload).decode()})
        return status == 200 and json.loads(body)["code"] == "E0000000000"

    def pop(self, topic):
        """The payload of the head message (acked by the gateway), None when empty."""
        status, body, result = self.call("pop", {"topic": topic, "timeout": "100ms"})
        assert status == 200, body
        j = json.loads(body)
        return base64.b64decode(j["payload"]) if result == "message" else None


class Pusher(threading.Thread):
    """Pushes msg-<n> to alternating topics until stopped (bounded in count); records each
    acknowledged push, in order, and the one in flight."""

    def __init__(self, port, limit=20000):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.lock = threading.Lock()
        self.acked = []  # (topic, payload), in acknowledgement order
        self.sent = []   # everything sent, acknowledged or not
        self.stop = threading.Event()
        self.limit = limit
        self.error = None

    def run(self):
        try:
            for n in range(self.limit):
                if self.stop.is_set():
                    return
                topic, payload = TOPICS[n % 2], b"msg-%06d" % n
                with self.lock:
                    self.sent.append((topic, payload))
                if not self.client.push(topic, payload):
                    raise AssertionError(f"push {payload} refused")
                with self.lock:
                    self.acked.append((topic, payload))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def acked_count(self):
        with self.lock:
            return len(self.acked)


class Backup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.cred = os.path.join(cls.topo.workdir, "admin.token")
        cls.gw = cls.topo.gateway(write_config(cls.topo, "a1.yaml", LISTEN1, ADMIN1), "a1")

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def ctl(self, admin, *args):
        return subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{admin}", "--credential-file",
                               self.cred, *args], capture_output=True, text=True, timeout=60)

    def admin_post(self, path, body, token=TOKEN):
        c = http.client.HTTPConnection("127.0.0.1", ADMIN1, timeout=30)
        h = {"Authorization": "Bearer " + token} if token else {}
        try:
            c.request("POST", path, body=json.dumps(body), headers=h)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            c.close()

    def test_backup_under_push_load_restores_message_by_message(self):
        # Acknowledged by a pop before the backup: not in it.
        consumer = Client(LISTEN1)
        for i in range(5):
            self.assertTrue(consumer.push("t-consumed", b"gone-%d" % i))
        for i in range(5):
            self.assertEqual(consumer.pop("t-consumed"), b"gone-%d" % i)

        pusher = Pusher(LISTEN1)
        pusher.start()
        try:
            wait_until(lambda: pusher.acked_count() >= 300 or pusher.error, 30, "300 pushes")
            self.assertIsNone(pusher.error)
            with pusher.lock:
                before = list(pusher.acked)  # acknowledged before the backup started
            backup_dir = os.path.join(self.topo.workdir, "backup-1")
            out = self.ctl(ADMIN1, "queues", "backup", backup_dir, "--json")
            after_backup = pusher.acked_count()
            # The load goes on after the backup: it was taken while serving.
            wait_until(lambda: pusher.acked_count() >= after_backup + 100 or pusher.error, 30,
                       "pushes after the backup")
        finally:
            pusher.stop.set()
            pusher.join(30)
            pusher.client.close()
            consumer.close()
        self.assertIsNone(pusher.error)
        self.assertEqual(out.returncode, 0, out.stderr)
        answer = json.loads(out.stdout)
        inbox = answer["stores"]["inbox"]
        self.assertEqual(answer["node"], "A")
        self.assertEqual(answer["dir"], backup_dir)
        self.assertGreaterEqual(inbox["messages"], len(before))
        self.assertLessEqual(inbox["messages"], len(pusher.sent))
        self.assertEqual({q["topic"] for q in inbox["queues"]}, set(TOPICS))
        self.assertEqual(sum(q["messages"] for q in inbox["queues"]), inbox["messages"])
        self.assertIn("outbox", answer["stores"])
        with open(os.path.join(backup_dir, "backup.json")) as f:
            self.assertEqual(json.load(f)["stores"], answer["stores"])

        # Offline restore: a non-empty target is refused and left alone.
        busy = os.path.join(self.topo.workdir, "busy")
        os.makedirs(busy)
        with open(os.path.join(busy, "keep"), "w") as f:
            f.write("x")
        out = self.ctl(ADMIN1, "queues", "restore", backup_dir, busy)
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("not empty", out.stderr)
        self.assertEqual(os.listdir(busy), ["keep"])
        data = os.path.join(self.topo.workdir, "data-restored")
        out = self.ctl(ADMIN1, "queues", "restore", backup_dir, data, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["stores"]["inbox"]["messages"], inbox["messages"])

        # A fresh gateway on the restored data: pop everything, message by message.
        fresh = self.topo.gateway(write_config(self.topo, "a2.yaml", LISTEN2, ADMIN2), "restored")
        self.assertEqual(fresh.queue_stats()["inbox"]["messages"], inbox["messages"])
        client = Client(LISTEN2)
        restored = {}
        for topic in TOPICS + ["t-consumed"]:
            got = []
            for _ in range(len(pusher.sent) + 1):  # bounded: at most what was ever sent
                p = client.pop(topic)
                if p is None:
                    break
                got.append(p)
            restored[topic] = got
        client.close()
        self.assertEqual(restored["t-consumed"], [])
        for topic in TOPICS:
            sent = [p for t, p in pusher.sent if t == topic]
            want = [p for t, p in before if t == topic]
            got = restored[topic]
            self.assertEqual(len(got), len(set(got)), f"{topic}: a message twice")
            # Every message acknowledged before the backup, in push order, then possibly
            # some that were being pushed while it was taken; nothing else.
            self.assertEqual(got[:len(want)], want, topic)
            self.assertEqual(got, sent[:len(got)], topic)
        self.assertEqual(sum(len(v) for v in restored.values()), inbox["messages"])
        if os.environ.get("PTP_TEST_VERBOSE"):
            print(f"\nacked before the backup {len(before)}, in it {inbox['messages']}, "
                  f"sent {len(pusher.sent)}", file=sys.stderr)

    def test_refusals(self):
        target = os.path.join(self.topo.workdir, "backup-refused")
        status, body = self.admin_post("/queues/backup", {"dir": target}, token=None)
        self.assertEqual(status, 401, body)
        status, body = self.admin_post("/queues/backup", {"dir": "relative/dir"})
        self.assertEqual(status, 400, body)
        self.assertIn("absolute", body["message"])
        os.makedirs(target)
        with open(os.path.join(target, "x"), "w") as f:
            f.write("x")
        status, body = self.admin_post("/queues/backup", {"dir": target})
        self.assertEqual(status, 400, body)
        self.assertIn("not empty", body["message"])
        self.assertEqual(os.listdir(target), ["x"])
        status, body = self.admin_post("/queues/backup", {"directory": target})
        self.assertEqual(status, 400, body)
        out = self.ctl(ADMIN1, "queues", "restore", target, os.path.join(target, "new"))
        self.assertEqual(out.returncode, 1)
        self.assertIn("no queue backup", out.stderr)


if __name__ == "__main__":
    unittest.main()
