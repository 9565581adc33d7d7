"""The evidence log (docs/evidence.md) of a real gateway B: audit records for config
reloads (accepted and rejected) and for a request its authorization policy refuses;
`ptpctl evidence verify` passes on the log and reports a flipped byte, a deleted record
and two swapped records at the right record (seq); rotation by size keeps the chain, also
across a restart; a full disk under the log (a small tmpfs, so the test needs root and
FAILS when it cannot mount one) does not stop the gateway: with on_failure: continue
traffic goes on and the records are held and written once space is back; with refuse the
records are refused and so are messages from other nodes (E0000000700), while B's own
requests are served. Under PTP_CRYPTO=gm (test_trust_gm.py) the gateways run `crypto: gm`:
the chain is SM3, checkpoints are SM2 signatures, tokens g1."""
import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from ptp_harness import (BIN, CRYPTO_YAML, GM, KEYS, Topology, curl, fill_file_system,
                          profile_hexdigest, ptp_headers, small_tmpfs, wait_until)

A_PORT, B_PORT = 18201, 18202
TOKEN = "operator-token-0123456789abcdef"
PTPCTL = os.path.join(BIN, "ptpctl")
A_INVOKE = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"  # A -> B
DIGEST = "sm3" if GM else "sha256"  # the chain's digest under the test's crypto profile


def gateway_yaml(node, port, peer, peer_port, extra="", workdir=""):
    return f"""node: {{node_id: {node}, inst_id: INST_{node}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}, credential_file: {workdir}/admin.token}}
io_threads: 2
reload_poll_ms: 60000
auth:
  enabled: true
  node_keys: {{A: "{KEYS['A']}", B: "{KEYS['B']}"}}
peers:
  - {{node_id: {peer}, address: "127.0.0.1:{peer_port}", protocol: http2}}
log: {{level: info}}
{CRYPTO_YAML}{extra}"""


def records(directory):
    """Every record of the log, in file and line order."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "evidence-*.jsonl"))):
        with open(path, "rb") as f:
            for line in f.read().splitlines():
                out.append(json.loads(line))
    return out


def audits(directory, event):
    return [r for r in records(directory) if r["kind"] == "audit" and r.get("event") == event]


def ptpctl(*args):
    out = subprocess.run([PTPCTL, *args], capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


def verify_json(directory):
    code, out, err = ptpctl("evidence", "verify", directory, "--json")
    return code, json.loads(out) if out.strip() else {"stderr": err}


def metric(gw, name):
    for line in gw.metrics().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.split()[-1])
    return 0.0


def reload_now(gw):
    req = urllib.request.Request(f"http://127.0.0.1:{gw.admin_port}/reload", method="POST",
                                 data=b"", headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def rewrite_lines(path, edit):
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    lines = edit(lines)
    with open(path, "wb") as f:
        f.write(b"".join(lines))


class EvidenceLog(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()
        self.ev = os.path.join(self.topo.workdir, "ev-b")

    def tearDown(self):
        self.topo.close()

    def start(self, evidence, authorization="", a=True):
        cred = os.path.join(self.topo.workdir, "admin.token")
        with open(cred, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(cred, 0o600)
        a_path = os.path.join(self.topo.workdir, "a.yaml")
        with open(a_path, "w") as f:
            f.write(gateway_yaml("A", A_PORT, "B", B_PORT, workdir=self.topo.workdir))
        self.b_path = os.path.join(self.topo.workdir, "b.yaml")
        self.b_extra = f"evidence:\n  dir: {self.ev}\n{evidence}{authorization}"
        with open(self.b_path, "w") as f:
            f.write(gateway_yaml("B", B_PORT, "A", A_PORT, self.b_extra, self.topo.workdir))
        self.a = self.topo.gateway(a_path) if a else None
        self.b = self.topo.gateway(self.b_path)

    def write_b(self, text):
        with open(self.b_path, "w") as f:
            f.write(text)

    def invoke(self):
        return curl(A_INVOKE, ptp_headers("A", "B"), b"ping", http="h2c")

    def test_audit_records_verify_and_tampering_is_reported_at_its_record(self):
        self.start("  sync_interval_ms: 20\n",
                   "authorization:\n  peers:\n    - {node: C, interfaces: [invoke], uris: ['*']}\n")
        # A refused request (no policy for A at B): E0000000614 and an audit record.
        r = self.invoke()
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000614", r)
        wait_until(lambda: audits(self.ev, "request_refused"), what="request_refused record")
        rec = audits(self.ev, "request_refused")[0]
        self.assertEqual((rec["source"], rec["interface"], rec["uri"], rec["reason"]),
                         ("A", "invoke", "ptp/diag/echo", "no_policy"), rec)
        self.assertEqual(rec["trace_id"], "trace-1")
        # No token or payload in the log.
        with open(glob.glob(os.path.join(self.ev, "evidence-*.jsonl"))[0]) as f:
            text = f.read()
        self.assertNotIn("ping", text)
        self.assertNotIn("token", text)
        # A rejected reload, then accepted ones (each POST /reload is one).
        self.write_b(gateway_yaml("B", B_PORT, "A", A_PORT, self.b_extra + "bogus_key: 1\n",
                                  self.topo.workdir))
        self.assertEqual(reload_now(self.b), 400)
        self.write_b(gateway_yaml("B", B_PORT, "A", A_PORT, self.b_extra, self.topo.workdir))
        for _ in range(8):
            self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: len(audits(self.ev, "config_reload")) == 8, what="8 reload records")
        rejected = audits(self.ev, "config_reload_rejected")
        self.assertEqual(len(rejected), 1)
        self.assertIn("bogus_key", rejected[0]["error"])
        self.assertGreaterEqual(metric(self.b, 'ptp_evidence_records_total{kind="audit"}'), 10)
        self.assertEqual(self.b.stop(), 0)
        self.topo.procs.remove(self.b)

        # The whole log verifies.
        code, out, _ = ptpctl("evidence", "verify", self.ev)
        n = len(records(self.ev))
        self.assertEqual(code, 0, out)
        self.assertRegex(out, rf"^ok: {n} records, head [0-9a-f]{{64}}\n$")
        [path] = glob.glob(os.path.join(self.ev, "evidence-*.jsonl"))
        # The chain is the profile's digest: each hash recomputed here from its line's bytes,
        # and what ptpctl found (it takes the digest the first record matches), also when told.
        with open(path, "rb") as f:
            for line in f.read().splitlines():
                body, _, rest = line.partition(b',"hash":"')
                self.assertEqual(rest[:-2].decode(), profile_hexdigest(body), line)
        code, res = verify_json(self.ev)
        self.assertEqual((code, res["digest"], res["records"]), (0, DIGEST, n), res)
        code, out, _ = ptpctl("evidence", "verify", self.ev, "--digest", DIGEST)
        self.assertEqual(code, 0, out)

        def tampered(edit):
            copy = os.path.join(self.topo.workdir, "tampered")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(self.ev, copy)
            rewrite_lines(os.path.join(copy, os.path.basename(path)), edit)
            return verify_json(copy)

        # One byte flipped inside seq 5's record.
        def flip(lines):
            i = lines[4].index(b'"kind":"audit"') + 9
            lines[4] = lines[4][:i] + b"A" + lines[4][i + 1:]
            return lines
        code, res = tampered(flip)
        self.assertEqual((code, res["problem"], res["seq"], res["line"]), (1, "altered", 5, 5), res)
        # Record seq 4 deleted.
        code, res = tampered(lambda lines: lines[:3] + lines[4:])
        self.assertEqual((code, res["problem"], res["seq"]), (1, "missing", 4), res)
        # Records seq 3 and seq 6 swapped.
        code, res = tampered(lambda lines: lines[:2] + [lines[5]] + lines[3:5] + [lines[2]] + lines[6:])
        self.assertEqual((code, res["problem"], res["seq"]), (1, "reordered", 3), res)
        code, out, _ = ptpctl("evidence", "verify", os.path.join(self.topo.workdir, "tampered"))
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith("reordered: "), out)
        self.assertIn("seq 3 expected, found seq 6", out)

    def test_rotation_keeps_the_chain_across_a_restart(self):
        self.start("  max_file_bytes: 4096\n  sync_interval_ms: 0\n", a=False)
        for _ in range(40):
            self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: len(audits(self.ev, "config_reload")) == 40, what="40 reload records")
        files = sorted(glob.glob(os.path.join(self.ev, "evidence-*.jsonl")))
        self.assertGreater(len(files), 2)
        for f in files:
            self.assertLessEqual(os.path.getsize(f), 4096)
        # Each file is named by its first record's seq; its prev is the previous file's last hash.
        recs = records(self.ev)
        first_of = {int(os.path.basename(f)[9:29]) for f in files}
        by_seq = {r["seq"]: r for r in recs}
        for s in first_of - {1}:
            self.assertEqual(by_seq[s]["prev"], by_seq[s - 1]["hash"])
        # A restart continues the chain where it ended.
        self.assertEqual(self.b.stop(), 0)
        self.topo.procs.remove(self.b)
        self.b = self.topo.gateway(self.b_path)
        self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: len(audits(self.ev, "config_reload")) == 41, what="a record after restart")
        code, res = verify_json(self.ev)
        self.assertEqual(code, 0, res)
        self.assertEqual(res["records"], len(recs) + 1)
        self.assertEqual(records(self.ev)[-1]["seq"], len(recs) + 1)

    def test_full_disk_neither_crashes_nor_stops_traffic(self):
        with small_tmpfs(self.ev, "1m"):
            try:
                self.full_disk()
            finally:
                self.topo.close()  # the gateways let go of the mount

    def full_disk(self):
        policy = "authorization:\n  peers:\n    - {node: A, interfaces: [invoke], uris: ['*']}\n"
        self.start("  sync_interval_ms: 20\n  on_failure: continue\n", policy)
        self.assertEqual(self.invoke().status, 200)
        filler = fill_file_system(self.ev)
        # Records while the disk is full: held in memory (continue), the gateway serves on.
        for _ in range(5):
            self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: metric(self.b, "ptp_evidence_write_errors_total") > 0,
                   what="a write error counted")
        self.assertTrue(self.b.alive())
        r = self.invoke()
        self.assertEqual((r.status, r.body), (200, b"ping"), r)
        self.assertGreaterEqual(metric(self.b, "ptp_evidence_queue_records"), 1)
        self.assertIn("evidence log cannot write", self.b.output())
        # Space back: the held records are written, the chain whole.
        os.remove(filler)
        wait_until(lambda: len(audits(self.ev, "config_reload")) == 5, what="held records written")
        wait_until(lambda: metric(self.b, "ptp_evidence_queue_records") == 0, what="no lag")
        # on_failure: refuse (it reloads): records are refused while the disk is full.
        self.b_extra = self.b_extra.replace("on_failure: continue", "on_failure: refuse")
        self.write_b(gateway_yaml("B", B_PORT, "A", A_PORT, self.b_extra, self.topo.workdir))
        self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: len(audits(self.ev, "config_reload")) == 6, what="the switch recorded")
        filler = fill_file_system(self.ev)
        # The file's last page may still take a few records: reload until a write fails.
        errors = metric(self.b, "ptp_evidence_write_errors_total")
        for _ in range(100):
            self.assertEqual(reload_now(self.b), 200)
            time.sleep(0.02)
            if metric(self.b, "ptp_evidence_write_errors_total") > errors:
                break
        self.assertGreater(metric(self.b, "ptp_evidence_write_errors_total"), errors)
        for _ in range(3):
            self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: metric(self.b, "ptp_evidence_records_refused_total") > 0,
                   what="records refused")
        # A message from another node needs a record: refused with 700 while the log fails;
        # B's own request to itself needs none and is served.
        r = self.invoke()
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000700", r)
        self.assertIn("evidence", r.headers.get("x-ptp-message", ""), r)
        r = curl(f"http://127.0.0.1:{B_PORT}/v1/interconn/chan/invoke", ptp_headers("B", "B"),
                 b"own", http="h2c")
        self.assertEqual((r.status, r.body), (200, b"own"), r)
        self.assertTrue(self.b.alive())
        os.remove(filler)
        # Space back: the log writes again and messages pass, without a restart.
        wait_until(lambda: self.invoke().status == 200, what="A -> B passes again")
        self.assertEqual(reload_now(self.b), 200)
        wait_until(lambda: metric(self.b, "ptp_evidence_queue_records") == 0
                   and metric(self.b, 'ptp_evidence_records_total{kind="audit"}')
                   == len(records(self.ev)), what="the log writes again")
        self.assertEqual(self.b.stop(), 0)
        self.topo.procs.remove(self.b)
        code, res = verify_json(self.ev)
        self.assertEqual(code, 0, res)


def write_chain(directory, recs):
    """A log as a gateway writes it: (kind, {field: value}) records, chained with the
    profile's digest (SHA-256, or SM3 under PTP_CRYPTO=gm)."""
    os.makedirs(directory)
    prev, lines = "0" * 64, []
    for seq, (kind, fields) in enumerate(recs, 1):
        body = json.dumps({"seq": seq, "time_ms": 1764900000000 + seq, "kind": kind, **fields,
                           "prev": prev}, separators=(",", ":"))[:-1]
        prev = profile_hexdigest(body.encode())
        lines.append(body + ',"hash":"' + prev + '"}\n')
    with open(os.path.join(directory, "evidence-00000000000000000001.jsonl"), "w") as f:
        f.write("".join(lines))


class EvidenceMatch(unittest.TestCase):
    """ptpctl evidence match on two logs written here (as gateways A and B would)."""

    def test_every_sent_message_needs_its_received_record_and_receipt(self):
        work = tempfile.mkdtemp(prefix="ptp-it-")
        try:
            msgs = [profile_hexdigest(b"m%d" % i) for i in range(5)]
            sender = [("sent", {"msg": m, "target_node": "B"}) for m in msgs]
            sender += [("sent", {"msg": "c" * 64, "target_node": "C"})]  # not B's
            sender += [("receipt", {"msg": m, "from": "B"}) for m in msgs]
            receiver = [("audit", {"event": "config_reload"})]
            receiver += [("received", {"msg": m, "target_node": "B"}) for m in msgs]
            write_chain(os.path.join(work, "a"), sender)
            write_chain(os.path.join(work, "b"), receiver)
            for side in ("a", "b"):  # chained as this profile's gateways chain them
                code, res = verify_json(os.path.join(work, side))
                self.assertEqual((code, res["digest"]), (0, DIGEST), res)
            code, out, err = ptpctl("evidence", "match", f"{work}/a", f"{work}/b")
            self.assertEqual((code, out), (0, "ok: 5 sent to B, 5 received there, 5 receipts\n"),
                             err)
            # The receipt of the third message missing at A, the fourth never received at B.
            shutil.rmtree(f"{work}/a")
            shutil.rmtree(f"{work}/b")
            write_chain(f"{work}/a", [r for r in sender if r[1]["msg"] != msgs[2] or r[0] == "sent"])
            write_chain(f"{work}/b", [r for r in receiver if r[1].get("msg") != msgs[3]])
            code, out, _ = ptpctl("evidence", "match", f"{work}/a", f"{work}/b", "--json")
            res = json.loads(out)
            self.assertEqual(code, 1)
            self.assertEqual((res["sent"], res["received"], res["receipts"], res["unmatched"]),
                             (5, 4, 4, 2), res)
            self.assertEqual(res["first_unmatched"]["seq"], 3)
            self.assertEqual(res["first_unmatched"]["why"], "no receipt in the sender's log")
            # The receipt inside the sent record (one record per answered message), for some
            # messages, a receipt record for others; a sent record with a status but no
            # receipt (the answer carried none) is unmatched.
            shutil.rmtree(f"{work}/a")
            answered = [("sent", {"msg": m, "target_node": "B", "sig": "v1;1;x", "status":
                                  "E0000000000", "receipt": "v1;" + m}) for m in msgs[:3]]
            answered += [("sent", {"msg": msgs[3], "target_node": "B", "status": "E0000000601"})]
            answered += [("sent", {"msg": msgs[4], "target_node": "B"}),
                         ("receipt", {"msg": msgs[4], "from": "B"})]
            write_chain(f"{work}/a", answered)
            code, out, _ = ptpctl("evidence", "match", f"{work}/a", f"{work}/b", "--json")
            res = json.loads(out)
            self.assertEqual(code, 1)
            self.assertEqual((res["sent"], res["received"], res["receipts"], res["unmatched"]),
                             (5, 4, 4, 1), res)
            self.assertEqual(res["first_unmatched"]["seq"], 4)
            self.assertEqual(res["first_unmatched"]["why"],
                             "no received record at the receiver and no receipt")
            # A log that does not verify is reported before any matching.
            with open(f"{work}/b/evidence-00000000000000000001.jsonl", "r+b") as f:
                f.seek(42)  # inside "audit"
                c = f.read(1)
                f.seek(42)  # inside "audit"
                f.write(b"x" if c != b"x" else b"y")
            code, out, _ = ptpctl("evidence", "match", f"{work}/a", f"{work}/b")
            self.assertEqual(code, 1)
            self.assertTrue(out.startswith("altered: "), out)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def root_fp(identity_dir):
    """The SHA-256 (hex) of the DER of an identity's root certificate: SHA-256 under gm
    too (certificate fingerprints are identifiers, docs/security.md "Crypto profiles")."""
    with open(os.path.join(identity_dir, "root.crt")) as f:
        pem = f.read()
    body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


class EvidencePeering(unittest.TestCase):
    """Peer changes are audit records at both ends: A invites B, B joins, A's operator
    disables, enables, renews and removes B. A, with a node key, signs the log's head in a
    checkpoint record when it stops; its root certificate verifies it, B's does not."""

    def admin(self, port, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def test_peer_changes_are_audited(self):
        topo = Topology()
        try:
            work = topo.workdir
            cred = os.path.join(work, "admin.token")
            with open(cred, "w") as f:
                f.write(TOKEN + "\n")
            os.chmod(cred, 0o600)
            ev, gws = {}, {}
            for node, port in (("A", 18203), ("B", 18204)):
                ident = os.path.join(work, "id-" + node)
                subprocess.run([PTPCTL, "identity", "init", "--node-id", node, "--inst-id",
                                "INST_" + node, "--address", f"127.0.0.1:{port}", "--dir", ident,
                                *(["--algorithm", "sm2"] if GM else [])],
                               check=True, capture_output=True, timeout=30)
                ev[node] = os.path.join(work, "ev-" + node)
                path = os.path.join(work, node.lower() + ".yaml")
                with open(path, "w") as f:
                    f.write(f"""node: {{node_id: {node}, inst_id: INST_{node}}}
listen: {{address: 127.0.0.1, port: {port}, tls: {{cert: {ident}/tls.crt, key: {ident}/tls.key}}}}
admin: {{address: 127.0.0.1, port: {port + 50}, credential_file: {cred}}}
io_threads: 1
identity: {{dir: {ident}}}
auth:
  enabled: true
  node_keys: {{A: "{KEYS['A']}", B: "{KEYS['B']}"}}
evidence: {{dir: {ev[node]}, sync_interval_ms: 20}}
{CRYPTO_YAML}""")
                gws[node] = topo.gateway(path)
            inv = self.admin(18253, "POST", "/peers/invite", {"node_id": "B"})
            self.admin(18254, "POST", "/peers/join", {"invitation": inv["invitation"]})
            wait_until(lambda: audits(ev["B"], "peer_joined") and audits(ev["A"], "peer_joined"),
                       what="peer_joined at both ends")
            for action in ("disable", "enable", "renew"):
                self.admin(18253, "POST", f"/peers/B/{action}", {} if action == "renew" else None)
            self.admin(18253, "DELETE", "/peers/B")
            events = ["peer_invited", "peer_joined", "peer_disabled", "peer_enabled",
                      "peer_renewed", "peer_removed"]
            wait_until(lambda: [r["event"] for r in records(ev["A"])] == events,
                       what="A's peer records")
            recs = records(ev["A"])
            self.assertEqual({r["node"] for r in recs}, {"B"})
            self.assertEqual(recs[1]["state"], "active")
            self.assertEqual(recs[1]["root_fp"], root_fp(os.path.join(work, "id-B")), recs[1])
            self.assertEqual(recs[2]["state"], "disabled")
            self.assertEqual(recs[5]["state"], "removed")
            b_rec = audits(ev["B"], "peer_joined")[0]
            self.assertEqual(b_rec["node"], "A")
            self.assertEqual(b_rec["root_fp"], root_fp(os.path.join(work, "id-A")), b_rec)
            for node in ("A", "B"):
                code, res = verify_json(ev[node])
                self.assertEqual(code, 0, res)
            # Stopped, A signs the head with its node key: a checkpoint the root verifies.
            self.assertEqual(gws["A"].stop(), 0)
            topo.procs.remove(gws["A"])
            self.assertEqual(records(ev["A"])[-1]["kind"], "checkpoint")
            code, out, err = ptpctl("evidence", "verify", ev["A"], "--root",
                                    os.path.join(work, "id-A", "root.crt"))
            self.assertEqual(code, 0, out + err)
            self.assertIn("\n1 checkpoints signed by the root's key\n", out)
            code, out, _ = ptpctl("evidence", "verify", ev["A"], "--root",
                                  os.path.join(work, "id-B", "root.crt"))
            self.assertEqual(code, 1, out)
            self.assertIn("checkpoint seq 7 altered", out)
        finally:
            topo.close()


if __name__ == "__main__":
    unittest.main()
