"""Queue inspection and router jobs through ptpctl (docs/ptpctl.md, docs/queues.md
"Inspecting queues"): conf/direct's A and B on this test's ports; A's containers push into
several sessions and topics at B. `queues list` shows exact counts, bytes and ages; `queues
peek` shows the messages in order without leasing them (a later pop still gets them);
`queues purge` is refused without confirmation and then removes exactly one queue (the
session stays usable) or one session; `queues dead-letters` shows a push B refused for good;
the inspection routes need the operator credential (peek shows payloads); `jobs list` and
`jobs show` on B's router server; a gateway on the Kafka queue store refuses inspection
clearly (E0000000400)."""
import base64
import json
import os
import pty
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from ptp_harness import BIN, KafkaMock, Topology, conf, kafka_queue_section, wait_until
from test_queue import pop_json, push_json

PTPCTL = os.path.join(BIN, "ptpctl")
A_LISTEN, B_LISTEN, A_ADMIN, B_ADMIN = 18901, 18902, 18951, 18952
K_LISTEN, K_ADMIN = 18903, 18953  # a gateway on the Kafka queue store
A_URL = f"http://127.0.0.1:{A_LISTEN}/v1/interconn/chan/"
B_URL = f"http://127.0.0.1:{B_LISTEN}/v1/interconn/chan/"
TOKEN = "queue-inspect-test-token-0123456789"
PORTS = [("17304", str(A_LISTEN)), ("17404", str(A_ADMIN)), ("17305", str(B_LISTEN)),
         ("17405", str(B_ADMIN)), ("18080", "18980"), ("18081", "18981")]
# Both: the operator credential. B: messages up to 2000 bytes (a larger push from A comes
# back to A as a dead letter, E0000000413); A may push t*, rs.* and start router jobs at
# B's router server.
CREDENTIAL = [("admin: {address: 127.0.0.1, port: ",
               "admin: {credential_file: admin.token, address: 127.0.0.1, port: ")]
B_EXTRA = [("  retry_max_ms: 2000\n", "  retry_max_ms: 2000\n  limits: {max_message_bytes: 2000}\n"),
           ("log: {level: info}\n", """log: {level: info}
authorization:
  default: deny
  peers:
    - {node: A, interfaces: [push], topics: ["t*", "big", "rs.*"], router_jobs: true}
router_server: {role: B, peer_rs_node: A, workers: 1, job_timeout_s: 30, job_sources: [A]}
""")]


def variant(workdir, name, extra):
    with open(conf("direct", name)) as f:
        text = f.read()
    for old, new in PORTS:
        text = text.replace(old, new)
    for old, new in CREDENTIAL + extra:
        assert old in text, old
        text = text.replace(old, new)
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def ptpctl(admin, *args, stdin=subprocess.DEVNULL):
    out = subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{admin}", "--credential-file",
                          ptpctl.credential, *args], capture_output=True, text=True, timeout=30,
                         stdin=stdin)
    return out


def ptpctl_on_terminal(admin, typed, *args):
    """ptpctl with a terminal (a pty) on stdin, on which `typed` is entered."""
    master, slave = pty.openpty()
    try:
        os.write(master, typed.encode())
        return ptpctl(admin, *args, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)


def ptpctl_json(admin, *args):
    out = ptpctl(admin, *args, "--json")
    assert out.returncode == 0, out
    return json.loads(out.stdout)


def admin_get(port, path, token=TOKEN):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def admin_post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def push(session, topic, payload, message_id, base=A_URL, target="B", source="A"):
    r = push_json(base, source, target, session, topic, payload,
                  **{"x-ptp-message-id": message_id})
    assert r.json()["code"] == "E0000000000", r
    return r


def queues_at_b(session=None):
    """{(session, topic): row} of B's inbox, from `ptpctl queues list --json`."""
    args = ["queues", "list", "--store", "inbox"] + (["--session", session] if session else [])
    return {(q["session"], q["topic"]): q for q in ptpctl_json(B_ADMIN, *args)["queues"]}


def assert_fits(test, text):
    for line in text.splitlines():
        test.assertLessEqual(len(line), 100, line)


class QueueInspect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        w = cls.topo.workdir
        ptpctl.credential = os.path.join(w, "admin.token")
        with open(ptpctl.credential, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(ptpctl.credential, 0o600)
        try:
            cls.a = cls.topo.gateway(variant(w, "a.yaml", []))
            cls.b = cls.topo.gateway(variant(w, "b.yaml", B_EXTRA))
        except BaseException:
            cls.topo.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_list_peek_purge(self):
        t0 = int(time.time() * 1000)
        sent = {("s-1", "t1"): 3, ("s-1", "t2"): 2, ("s-2", "t1"): 1}
        for (session, topic), n in sent.items():
            for i in range(n):
                push(session, topic, f"{session}/{topic} message {i}".encode(), f"{session}-{topic}-{i}")
        # They travel through A's outbox to B's inbox.
        wait_until(lambda: {k: v["messages"] for k, v in queues_at_b().items()
                            if k[0] in ("s-1", "s-2")} == sent, what="the pushes queued at B")
        t1 = int(time.time() * 1000)
        rows = queues_at_b()
        for key, n in sent.items():
            q = rows[key]
            self.assertEqual((q["store"], q["node"], q["messages"], q["leased"]), ("inbox", "B", n, 0))
            self.assertGreater(q["bytes"], 0)
            self.assertTrue(t0 <= q["oldest_ms"] <= t1, (t0, q, t1))
        self.assertGreater(rows[("s-1", "t1")]["bytes"], rows[("s-2", "t1")]["bytes"])
        # Filters; the human table (fits 100 columns, the oldest message's age).
        self.assertEqual(set(queues_at_b("s-1")), {("s-1", "t1"), ("s-1", "t2")})
        out = ptpctl(B_ADMIN, "queues", "list", "--topic", "t1")
        self.assertEqual(out.returncode, 0, out)
        assert_fits(self, out.stdout)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["store", "node", "session", "topic", "messages",
                                            "bytes", "leased", "oldest"])
        row = next(l for l in lines if " s-1 " in l).split()
        self.assertEqual(row[:5] + [row[6]], ["inbox", "B", "s-1", "t1", "3", "0"])
        self.assertRegex(row[7], r"^\d+s$")
        self.assertNotIn("t2", out.stdout)

        # Peek: the right ids in order, with their metadata and payload; nothing leased.
        peeked = ptpctl_json(B_ADMIN, "queues", "peek", "s-1", "t1", "--count", "10")["messages"]
        self.assertEqual([m["metadata"]["message-id"] for m in peeked],
                         ["s-1-t1-0", "s-1-t1-1", "s-1-t1-2"])
        self.assertEqual([m["preview"] for m in peeked],
                         [f"s-1/t1 message {i}" for i in range(3)])
        self.assertEqual({(m["source"], m["target"], m["leased"], m["size"]) for m in peeked},
                         {("A", "B", False, len("s-1/t1 message 0"))})
        self.assertEqual(sorted(m["offset"] for m in peeked), [m["offset"] for m in peeked])
        self.assertEqual(len(ptpctl_json(B_ADMIN, "queues", "peek", "s-1", "t1", "--count", "2")
                             ["messages"]), 2)
        out = ptpctl(B_ADMIN, "queues", "peek", "s-1", "t1")
        self.assertEqual(out.returncode, 0, out)
        assert_fits(self, out.stdout)
        self.assertIn("s-1/t1 message 0", out.stdout)
        self.assertEqual(queues_at_b()[("s-1", "t1")]["leased"], 0)
        r = pop_json(B_URL, "B", "s-1", "t1")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"s-1/t1 message 0")
        wait_until(lambda: queues_at_b()[("s-1", "t1")]["messages"] == 2, what="the pop acked")

        # Purge: without a terminal and --yes nothing happens (exit 2); a confirm that is
        # not the session is refused; then exactly that queue goes.
        out = ptpctl(B_ADMIN, "queues", "purge", "s-1", "t1")
        self.assertEqual(out.returncode, 2, out)
        self.assertIn("would purge topic t1 of session s-1", out.stderr)
        self.assertIn("--yes", out.stderr)
        status, body = admin_post(B_ADMIN, "/queues/purge",
                                  {"session": "s-1", "topic": "t1", "confirm": "s-2"})
        self.assertEqual((status, body["code"]), (400, "E0000000400"), body)
        status, body = admin_post(B_ADMIN, "/queues/purge", {"session": "s-1", "topic": "t1"})
        self.assertEqual(status, 400, body)
        self.assertEqual(queues_at_b()[("s-1", "t1")]["messages"], 2)
        self.assertEqual(ptpctl_json(B_ADMIN, "queues", "purge", "s-1", "t1", "--yes"), {"purged": 2})
        rows = queues_at_b()
        self.assertNotIn(("s-1", "t1"), rows)
        self.assertEqual(rows[("s-1", "t2")]["messages"], 2)
        self.assertEqual(rows[("s-2", "t1")]["messages"], 1)
        # The session still works (no E0000000608): a new push is popped at B.
        push("s-1", "t1", b"after the purge", "s-1-t1-after")
        r = pop_json(B_URL, "B", "s-1", "t1", timeout="5s")
        self.assertEqual(r.json()["code"], "E0000000000", r)
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"after the purge")
        r = pop_json(B_URL, "B", "s-1", "t2")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"s-1/t2 message 0")
        # A whole session, confirmed on a terminal: a wrong answer purges nothing, the
        # session id does; human output.
        out = ptpctl_on_terminal(B_ADMIN, "s-1\n", "queues", "purge", "s-2")
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("type the session id (s-2) to purge it", out.stderr)
        self.assertIn("not confirmed, nothing purged", out.stderr)
        self.assertEqual(queues_at_b()[("s-2", "t1")]["messages"], 1)
        out = ptpctl_on_terminal(B_ADMIN, "s-2\n", "queues", "purge", "s-2")
        self.assertEqual(out.returncode, 0, out)
        self.assertEqual(out.stdout, "purged 1 messages: every topic of session s-2 in the inbox\n")
        self.assertNotIn(("s-2", "t1"), queues_at_b())
        self.assertEqual(pop_json(B_URL, "B", "s-2", "t1", timeout="200ms").json()["code"],
                         "E0000000000")

    def test_credential(self):
        # Peek shows payloads: every inspection route needs the operator credential.
        for path in ("/queues/peek?session=s&topic=t", "/queues/list"):
            status, body = admin_get(B_ADMIN, path, token=None)
            self.assertEqual(status, 401, (path, body))
            status, body = admin_get(B_ADMIN, path, token="wrong-token")
            self.assertEqual(status, 403, (path, body))
        status, body = admin_get(B_ADMIN, "/queues/peek?session=s&topic=t")
        self.assertEqual((status, body), (200, {"messages": []}))
        status, body = admin_get(B_ADMIN, "/queues/peek?session=s&topic=t&count=0")
        self.assertEqual((status, body["code"]), (400, "E0000000400"), body)
        status, body = admin_get(B_ADMIN, "/queues/list?store=elsewhere")
        self.assertEqual((status, body["code"]), (400, "E0000000400"), body)
        out = subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{B_ADMIN}", "queues", "list"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("(HTTP 401)", out.stderr)
        # The counts of GET /queues stay open.
        self.assertIn("inbox", self.b.queue_stats())

    def test_dead_letters(self):
        big = b"D" * 2001  # B refuses it for good (413): a dead letter in A's inbox
        push("s-dl", "big", big, "too-big-1")
        wait_until(lambda: ptpctl_json(A_ADMIN, "queues", "dead-letters")["dead_letters"],
                   what="the dead letter at A")
        letters = ptpctl_json(A_ADMIN, "queues", "dead-letters", "--session", "s-dl")["dead_letters"]
        self.assertEqual(len(letters), 1, letters)
        d = letters[0]
        self.assertEqual((d["session"], d["code"], d["target"], d["topic"], d["size"]),
                         ("s-dl", "E0000000413", "B", "big", 2001))
        self.assertIn("max_message_bytes", d["reason"])
        self.assertEqual(d["metadata"]["message-id"], "too-big-1")
        self.assertEqual(ptpctl_json(A_ADMIN, "queues", "dead-letters", "--session", "none")
                         ["dead_letters"], [])
        out = ptpctl(A_ADMIN, "queues", "dead-letters")
        self.assertEqual(out.returncode, 0, out)
        assert_fits(self, out.stdout)
        row = next(l for l in out.stdout.splitlines() if l.startswith("s-dl"))
        self.assertIn("E0000000413", row)
        # Shown, not taken: A's container still pops it.
        r = pop_json(A_URL, "A", "s-dl", "ptp.dead-letter")
        self.assertEqual(r.json()["metadata"]["dead-letter-code"], "E0000000413")

    def test_router_jobs(self):
        # job-bad: a spec that is not one fails at once; job-wait: a job source's spec (1.3 KB
        # with its 2048-bit key, within B's max_message_bytes) whose shares never come waits
        # for them; job-none: a share without any spec starts no job (it waits in the queue,
        # docs/router.md).
        push("job-bad", "rs.job", b"this is not a job spec", "job-bad-spec")
        push("job-none", "rs.share.1", b"\x00" * 16, "job-none-share")
        pk, sk = os.path.join(self.topo.workdir, "pk.bin"), os.path.join(self.topo.workdir, "sk")
        rc = os.path.join(BIN, "ptp-rc")
        subprocess.run([rc, "keygen", "--bits", "2048", "--public-key", pk, "--secret-key", sk],
                       check=True, capture_output=True, timeout=120)
        spec = json.loads(subprocess.run(
            [rc, "start-job", "--job", "job-wait", "--rs-a", "A", "--rs-b", "B", "--he-node", "A",
             "--parties", "2", "--party-nodes", "A", "--ring", "64", "--elements", "4",
             "--chunk-elements", "1", "--public-key", pk, "--print-spec"],
            check=True, capture_output=True, text=True, timeout=120).stdout)
        push("job-wait", "rs.job", json.dumps(spec).encode(), "job-wait-spec")

        def jobs():
            return {j["job_id"]: j for j in ptpctl_json(B_ADMIN, "jobs", "list")["jobs"]}
        wait_until(lambda: jobs().get("job-bad", {}).get("state") == "failed"
                   and jobs().get("job-wait", {}).get("parties") == 2,
                   what="both jobs known at B (job-wait's spec read)")
        listed = jobs()
        bad, waiting = listed["job-bad"], listed["job-wait"]
        self.assertNotIn("job-none", listed)
        self.assertNotEqual(bad["error"], "")
        self.assertGreater(bad["finished_ms"], 0)
        self.assertEqual(waiting["state"], "waiting")
        self.assertEqual((waiting["parties"], waiting["error"]), (2, ""))
        now = int(time.time() * 1000)
        for j in (bad, waiting):
            self.assertTrue(now - 60000 < j["started_ms"] <= now, j)
        out = ptpctl(B_ADMIN, "jobs", "list")
        self.assertEqual(out.returncode, 0, out)
        assert_fits(self, out.stdout)
        self.assertRegex(out.stdout, r"(?m)^job-bad +failed ")
        self.assertRegex(out.stdout, r"(?m)^job-wait +waiting +A +0/2 +4 ")
        # show: the route that was there (GET /rs/jobs/<id>), human and JSON.
        shown = ptpctl_json(B_ADMIN, "jobs", "show", "job-bad")
        self.assertEqual((shown["job_id"], shown["state"], shown["error"]),
                         ("job-bad", "failed", bad["error"]))
        out = ptpctl(B_ADMIN, "jobs", "show", "job-bad")
        self.assertEqual(out.returncode, 0, out)
        self.assertIn("state     failed", out.stdout)
        self.assertIn("error     " + bad["error"][:40], out.stdout)
        out = ptpctl(B_ADMIN, "jobs", "show", "no-such-job")
        self.assertEqual((out.returncode, out.stderr), (1, "ptpctl: unknown job no-such-job\n"))
        # After a restart of B the job's outcome record is read back when a message for
        # it arrives (a spec sent again): the same times, state and error.
        self.assertEqual(self.b.stop(), 0)
        type(self).b = self.topo.gateway(self.b.config)
        push("job-bad", "rs.job", b"the same spec again", "job-bad-spec-again")
        wait_until(lambda: "job-bad" in jobs(), what="B reads job-bad's outcome back")
        again = jobs()["job-bad"]
        for field in ("state", "error", "started_ms", "finished_ms"):
            self.assertEqual(again[field], bad[field], field)
        # A runs no router server.
        out = ptpctl(A_ADMIN, "jobs", "list")
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("runs no router server", out.stderr)


class KafkaStore(unittest.TestCase):
    def test_inspection_refused_clearly(self):
        # The Kafka store cannot list, peek several or purge: 400 naming it, and ptpctl
        # shows that with exit 1; the gateway keeps serving.
        kafka = KafkaMock(1)
        try:
            with Topology() as topo:
                with open(os.path.join(topo.workdir, "admin.token"), "w") as f:
                    f.write(TOKEN + "\n")
                os.chmod(os.path.join(topo.workdir, "admin.token"), 0o600)
                ptpctl.credential = os.path.join(topo.workdir, "admin.token")
                path = variant(topo.workdir, "a.yaml",
                               [("store: embedded", kafka_queue_section(kafka.bootstrap))])
                with open(path) as f:
                    text = f.read().replace(str(A_LISTEN), str(K_LISTEN)).replace(
                        str(A_ADMIN), str(K_ADMIN))
                with open(path, "w") as f:
                    f.write(text)
                topo.gateway(path)
                for route in ("/queues/list", "/queues/peek?session=s&topic=t"):
                    status, body = admin_get(K_ADMIN, route)
                    self.assertEqual((status, body["code"]), (400, "E0000000400"), body)
                    self.assertIn("not available with the Kafka queue store", body["message"])
                status, body = admin_post(K_ADMIN, "/queues/purge", {"session": "s", "confirm": "s"})
                self.assertEqual((status, body["code"]), (400, "E0000000400"), body)
                out = ptpctl(K_ADMIN, "queues", "list")
                self.assertEqual(out.returncode, 1, out)
                self.assertEqual(out.stderr, "ptpctl: E0000000400 listing queues is not available "
                                             "with the Kafka queue store (HTTP 400)\n")
                status, _ = admin_get(K_ADMIN, "/queues")
                self.assertEqual(status, 200)
        finally:
            kafka.close()
            kafka.proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
