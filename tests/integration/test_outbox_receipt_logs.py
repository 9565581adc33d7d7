"""The outbox's warning about a push receipt that does not verify is rate-limited
(docs/evidence.md, "Where it is checked"): a malicious receiver (node M) answers every push
with a bad x-ptp-receipt. Before, gateway A wrote one "outbox receipt does not verify" line
per push: M made A's log grow at A's own push rate. Now at most one line a second, the
next one with `suppressed` counting the lines left out. The pushes are delivered either way
(M acknowledged them)."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from identity_dirs import make_identity  # noqa: E402
from ptp_harness import CRYPTO_YAML, Topology, ptp_headers, wait_until  # noqa: E402
from test_evidence_signatures import PaddingPeer, evidence_records, write  # noqa: E402

A_PORT, M_PORT = 18321, 18324
PUSHES = 200
WARNING = '"outbox receipt does not verify"'


class OutboxReceiptLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.m = None
        try:
            w = cls.topo.workdir
            cls.ev = os.path.join(w, "ev-a")
            ident = make_identity(os.path.join(w, "id-A"), "A", "INST_A")
            # A short receipt: parsed, and its signature does not verify.
            cls.m = PaddingPeer(M_PORT, 200)
            cls.a = cls.topo.gateway(write(w, "a", f"""node: {{node_id: A, inst_id: INST_A, role: edge}}
listen: {{address: 127.0.0.1, port: {A_PORT}}}
admin: {{address: 127.0.0.1, port: {A_PORT + 50}}}
identity: {{dir: "{ident}"}}
peers:
  - {{node_id: M, address: "127.0.0.1:{M_PORT}", tls: {{enabled: false}}}}
io_threads: 2
log: {{level: info}}
auth: {{enabled: false}}
queue: {{retry_min_ms: 50, retry_max_ms: 200}}
{CRYPTO_YAML}evidence: {{dir: "{cls.ev}", batch_window_us: 2000}}
"""))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.m:
            cls.m.close()
        cls.topo.close()

    def warnings(self):
        out = []
        for line in self.a.output().splitlines():
            if WARNING in line:
                out.append(json.loads(line))
        return out

    def test_bad_receipts_of_many_pushes_log_a_bounded_number_of_warnings(self):
        h = ptp_headers("A", "M", session="s-bad-receipt", uri=None)
        h.pop("x-ptp-version")
        h["content-type"] = "application/json"
        body = json.dumps({"topic": "t.bad", "payload": base64.b64encode(b"x" * 64).decode()})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(body)
        args = ["h2load", "-n", str(PUSHES), "-c", "2", "-m", "8", "-d", f.name]
        for k, v in h.items():
            args += ["-H", f"{k}: {v}"]
        start = time.time()
        out = subprocess.run(args + [f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/push"],
                             capture_output=True, text=True, timeout=120)
        os.unlink(f.name)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"{PUSHES} succeeded", out.stdout, out.stdout)
        # Every push reaches M (its acknowledgement is what the receipt came with).
        wait_until(lambda: self.receipts() == PUSHES, 30, "a receipt record of each push")
        time.sleep(1.5)  # the last suppressed count goes out with a line a second later
        self.trigger_one_more(h, body)
        elapsed = time.time() - start
        lines = self.warnings()
        self.assertLessEqual(len(lines), elapsed + 2, (len(lines), elapsed))
        suppressed = sum(int(l.get("suppressed", 0)) for l in lines)
        self.assertGreater(suppressed, 0, lines)
        # Each push left out is counted: the lines and their counts add up to the pushes.
        self.assertEqual(len(lines) + suppressed, PUSHES + 1, lines)
        for l in lines:
            self.assertEqual(l["target"], "M", l)
            self.assertIn("error", l)

    def receipts(self):
        """A's receipt records (kept as they came, whether they verify or not)."""
        return sum(1 for r in evidence_records(self.ev) if r["kind"] == "receipt")

    def trigger_one_more(self, h, body):
        """One more push, after the second is over: its warning carries the count."""
        before = len(self.warnings())
        subprocess.run(["curl", "-sk", "--http2", "-o", "/dev/null", "-X", "POST",
                        *sum((["-H", f"{k}: {v}"] for k, v in h.items()), []), "--data", body,
                        f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/push"],
                       check=True, timeout=30)
        wait_until(lambda: self.receipts() == PUSHES + 1, 10, "its receipt record")
        wait_until(lambda: len(self.warnings()) > before, 5, "the next receipt warning")


if __name__ == "__main__":
    unittest.main(verbosity=2)
