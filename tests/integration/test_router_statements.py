#!/usr/bin/python3
"""Batch statements through a router without an evidence section (docs/evidence.md "Batch
statements"): A -> R -> B, A and B signing and checking, R only relaying. A's messages carry
their batch's statement (x-ptp-statement, up to ~11 KB); R must let its peer A index it in the
HPACK table of their connection (16 KiB, as a gateway that checks statements does), or the
statement crosses the hop A -> R whole with every message of its batch. Before, R (no
evidence section) kept the protocol's 4096 bytes, too small for a statement of more than ~60
digests."""
import glob
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from identity_dirs import make_identity  # noqa: E402
from ptp_harness import CRYPTO_YAML, Topology, ptp_headers, wait_until  # noqa: E402

A_PORT, R_PORT, B_PORT, ECHO_PORT = 18361, 18362, 18363, 18364
MESSAGES = 100  # one batch: 100 digests, a statement of ~4.4 KB


def link_bytes_sent(dport):
    """Bytes sent so far on the established connections to port `dport` (`ss -ti`)."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"dport = :{dport}"],
                         capture_output=True, text=True).stdout
    return sum(int(x) for x in re.findall(r"bytes_sent:(\d+)", out))


class RoutedStatements(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        try:
            cls.start()
        except BaseException:
            cls.topo.close()
            raise

    @classmethod
    def start(cls):
        w = cls.topo.workdir
        ids = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in "ARB"}
        root = {n: os.path.join(d, "root.crt") for n, d in ids.items()}
        common = ("io_threads: 1\nlog: {level: info}\nauth: {enabled: false}\n"
                  "queue: {enabled: false}\n" + CRYPTO_YAML)

        def gw(node, port, role, peers, more=""):
            path = os.path.join(w, f"{node.lower()}.yaml")
            with open(path, "w") as f:
                f.write(f"""node: {{node_id: {node}, inst_id: INST_{node}, role: {role}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
identity: {{dir: "{ids[node]}"}}
peers:
{peers}{more}{common}""")
            return path

        # A signs every message of the burst in one batch: a long window, room for all.
        evidence_a = f'evidence: {{dir: "{w}/ev-A", batch_window_us: 300000, batch_max: 256}}\n'
        evidence_b = f'evidence: {{dir: "{w}/ev-B"}}\n'
        cls.topo.echo(ECHO_PORT)
        b = gw("B", B_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: "{root['R']}", relay: true}}
  - {{node_id: A, via: R, root_file: "{root['A']}"}}
""", f"""local_services:
  - {{uri: "ptp/echo*", address: "127.0.0.1:{ECHO_PORT}", protocol: http1, path: /echo}}
{evidence_b}""")
        r = gw("R", R_PORT, "router", f"""  - {{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: "{root['A']}"}}
  - {{node_id: B, address: "127.0.0.1:{B_PORT}", root_file: "{root['B']}"}}
""")
        a = gw("A", A_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: "{root['R']}"}}
  - {{node_id: B, via: R, root_file: "{root['B']}"}}
""", evidence_a)
        cls.ev_a = os.path.join(w, "ev-A")
        cls.b = cls.topo.gateway(b)
        cls.r = cls.topo.gateway(r)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def burst(self, n):
        """n invokes A -> R -> B at once (n streams on one connection): h2load's output."""
        body = os.path.join(self.topo.workdir, "body.bin")
        with open(body, "wb") as f:
            f.write(b"s" * 512)
        h = ptp_headers("A", "B", session="s-routed", uri="ptp/echo", token=None)
        h.pop("x-ptp-trace-id")  # A makes one per message
        args = ["h2load", "-n", str(n), "-c", "1", "-m", str(n), "-d", body]
        for k, v in h.items():
            args += ["-H", f"{k}: {v}"]
        out = subprocess.run(args + [f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"],
                             capture_output=True, text=True, timeout=120)
        self.assertIn(f"{n} succeeded", out.stdout, out.stdout + out.stderr)

    def big_statements(self):
        """A's statement records of batches of at least MESSAGES digests."""
        out = []
        for p in glob.glob(os.path.join(self.ev_a, "*.jsonl")):
            with open(p) as f:
                out += [json.loads(x)["statement"] for x in f if '"kind":"statement"' in x]
        return [s for s in out if int(s.split(";")[2]) >= MESSAGES]

    def test_a_router_without_evidence_lets_its_peers_index_statements(self):
        self.burst(1)  # A's connection to R exists before the bytes are counted
        before = link_bytes_sent(R_PORT)
        self.burst(MESSAGES)
        sent = link_bytes_sent(R_PORT) - before
        # The burst went out as one batch, whose statement is big enough to matter.
        wait_until(self.big_statements, 5, "A's statement record of the burst's batch")
        self.assertGreater(len(self.big_statements()[0]), 4000)
        # Per message: the 512-byte body, the PTP header fields, the reference and an index
        # of the statement (about 0.7 KB with TLS); the statement sent whole each time made
        # it ~4.2 KB.
        self.assertLess(sent / MESSAGES, 2000, f"{sent} bytes from A to R for {MESSAGES} messages")


if __name__ == "__main__":
    unittest.main()
