"""Message signatures and receipts between real gateways (docs/evidence.md, "Signatures and
receipts"): A signs what it sends to B (batched Merkle signatures), B checks the signature
against A's pinned root before anything reaches its service and answers with its signed
receipt. A relay between A and B (A speaks plain HTTP/2 to it, so the DATA bytes are
visible; it goes on to B's TLS listener) that flips one body byte after signing makes B
answer E0000000615 and the service sees nothing. Under PTP_CRYPTO=gm (test_trust_gm.py) the
same with SM2 node keys and SM3 digests (evidence chain, leaves, Merkle trees)."""
import base64
import glob
import json
import os
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evidence_relay import H2Relay  # noqa: E402
from h2_server import H2Server  # noqa: E402
import h2.events  # noqa: E402
from identity_dirs import make_identity, sign_with_node_key  # noqa: E402
from ptp_harness import (BIN, CRYPTO_YAML, GM, Topology, curl, profile_hexdigest,  # noqa: E402
                         ptp_headers, wait_until)

PTPCTL = os.path.join(BIN, "ptpctl")

A_PORT, B_PORT, RELAY_PORT, SERVICE_PORT, ECHO_PORT = 18301, 18302, 18303, 18310, 18311
PADDING_PORT = 18304  # node M: a malicious receiver padding its receipts
A_DEFAULT_PORT = 18305  # a second gateway of node A with the default evidence section
A_LATE_PORT = 18306  # ... and one that reaches B through the relay
A_BASE = f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/"
B_BASE = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/"
A_URL = A_BASE + "invoke"
B_URL = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/invoke"


class Recorder:
    """A local service that counts what reaches it and echoes the body."""

    def __init__(self, port):
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.bodies.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write(workdir, name, text):
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def headers(session="s-1", trace="trace-1", uri="ptp/record"):
    return ptp_headers("A", "B", session=session, uri=uri, trace=trace, token=None,
                       **{"x-ptp-source-inst-id": "INST_A", "x-ptp-target-inst-id": "INST_B"})


def push(base, session, topic, payload):
    h = ptp_headers("A", "B", session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    body = json.dumps({"topic": topic, "payload": base64.b64encode(payload).decode()}).encode()
    return curl(base + "push", h, body, http="h2", extra=("-k",))


def pop(base, session, topic, timeout="3s"):
    h = ptp_headers("B", "B", session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    body = json.dumps({"topic": topic, "timeout": timeout}).encode()
    r = curl(base + "pop", h, body, http="h2", extra=("-k",))
    assert r.status == 200, r
    j = r.json()
    return base64.b64decode(j["payload"]) if "payload" in j else None


def evidence_records(d):
    """The records of an evidence directory, checked: seq continuity, prev links and each
    record's hash (the profile's digest, SHA-256 or SM3, of the line before ',"hash":')."""
    out, prev, seq = [], "0" * 64, 0
    for path in sorted(glob.glob(os.path.join(d, "evidence-*.jsonl"))):
        with open(path, "rb") as f:
            for n, line in enumerate(f.read().splitlines(), 1):
                cut = line.rindex(b',"hash":')
                rec = json.loads(line)
                where = f"{path}:{n}"
                assert rec["seq"] == seq + 1, where
                assert rec["prev"] == prev, where
                assert profile_hexdigest(line[:cut]) == rec["hash"], where
                seq, prev = rec["seq"], rec["hash"]
                out.append(rec)
    return out


def b64(b):
    """base64url without padding, as header values carry bytes."""
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def batch_signature(identity_dir, node, batch, n, root):
    """`node`'s signature (its identity_dir's node key) over batch `batch` of `n` leaves
    whose tree root is `root`: the ptp-batch-v1 text (docs/evidence.md)."""
    text = f"ptp-batch-v1\n{node}\n{batch}\n{n}\n{root.hex()}".encode()
    return base64.urlsafe_b64decode(sign_with_node_key(identity_dir, text).replace("+", "-")
                                    .replace("/", "_"))


def forged_signature(identity_dir, node, fields, n, batch="x-1"):
    """An x-ptp-signature that `node` (its identity_dir's node key) really signs, over a batch
    it claims has `n` leaves: the message's leaf at index 0 with a made-up inclusion path and
    the root it leads to (RFC 9162 2.1.3.2), what a malicious peer can always make.
    `fields`: the message statement's lines after ptp-msg-v1 (docs/evidence.md)."""
    def h(data):
        return bytes.fromhex(profile_hexdigest(data))

    sent_ms = fields[-1]
    text = "ptp-msg-v1\n" + "\n".join(fields)
    r = h(b"\x00" + h(text.encode("utf-8", "surrogateescape")))  # \udcXX: the byte XX
    path, fn, sn = [], 0, n - 1
    while sn:
        p = bytes([len(path) + 1]) * 32
        path.append(p)
        r = h(b"\x01" + r + p)  # index 0: always the left child
        fn, sn = fn >> 1, sn >> 1
    sig = batch_signature(identity_dir, node, batch, n, r)
    return f"v1;{sent_ms};{node};{batch};{n};0;{b64(b''.join(path))};{b64(sig)}"


def signed_statement(identity_dir, node, batch, digests):
    """A batch statement (x-ptp-statement, trust/batch_statement.h) `node` really signs over
    `digests` (32-byte statement digests, in batch order): its leaves' RFC 6962 tree root."""
    def h(data):
        return bytes.fromhex(profile_hexdigest(data))

    level = [h(b"\x00" + d) for d in digests]
    while len(level) > 1:
        nxt = [h(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # an odd last node moves up unchanged
        level = nxt
    sig = batch_signature(identity_dir, node, batch, len(digests), level[0])
    return f"{node};{batch};{len(digests)};{b64(b''.join(digests))};{b64(sig)}"


def message_digest(fields):
    """The statement digest of a message: the profile's digest of its ptp-msg-v1 text."""
    return bytes.fromhex(profile_hexdigest(
        ("ptp-msg-v1\n" + "\n".join(fields)).encode("utf-8", "surrogateescape")))


class PaddingPeer(H2Server):
    """Node M, malicious: an h2c server answering every request 200 with an x-ptp-receipt
    and an x-ptp-countersign of `size` bytes each (answer headers have no 1 KiB field
    limit), what a receiver or a router can send back to make the sender's records long."""

    def __init__(self, port, size):
        self.size = size
        super().__init__(port)

    def on_events(self, conn, events, state):
        receipt = "v1;" + "0" * 64 + ";1;E0000000000;M;b;1;0;;"
        receipt += "A" * (self.size - len(receipt))
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                conn.send_headers(ev.stream_id, [
                    (":status", "200"), ("content-type", "text/plain"),
                    ("x-ptp-receipt", receipt),
                    ("x-ptp-countersign", "v1;" + "C" * (self.size - 3))])
                conn.send_data(ev.stream_id, b"padded", end_stream=True)


def h2load(url, n, body_file, hdrs, clients=4, streams=16):
    args = ["h2load", "-n", str(n), "-c", str(clients), "-m", str(streams), "-d", body_file]
    for k, v in hdrs.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Signatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.relay = cls.service = cls.padding = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        w = cls.topo.workdir
        ids = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in ("A", "B")}
        cls.ids = ids
        root = {n: os.path.join(d, "root.crt") for n, d in ids.items()}
        common = ("io_threads: 2\nlog: {level: info}\nauth: {enabled: false}\n"
                  "queue: {retry_min_ms: 50, retry_max_ms: 200}\n" + CRYPTO_YAML)
        # The clients here read the receipts: A passes them on (evidence.receipt_to_client).
        evidence = "evidence: {{dir: \"{}\", batch_window_us: 2000, receipt_to_client: true}}\n"
        cls.service = Recorder(SERVICE_PORT)
        cls.topo.echo(ECHO_PORT)
        cls.ev = {"A": os.path.join(w, "ev-a"), "B": os.path.join(w, "ev-b")}
        cls.credential = os.path.join(w, "admin.token")
        with open(cls.credential, "w") as f:
            f.write("operator-token-of-the-evidence-test\n")
        os.chmod(cls.credential, 0o600)
        b = write(w, "b", f"""node: {{node_id: B, inst_id: INST_B, role: edge}}
listen: {{address: 127.0.0.1, port: {B_PORT}}}
admin: {{address: 127.0.0.1, port: {B_PORT + 50}}}
identity: {{dir: "{ids['B']}"}}
peers:
  - {{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: "{root['A']}", tls: {{enabled: false}}}}
local_services:
  - {{uri: "ptp/record*", address: "127.0.0.1:{SERVICE_PORT}", protocol: http1, path: /record}}
  - {{uri: "ptp/echo*", address: "127.0.0.1:{ECHO_PORT}", protocol: http1, path: /echo}}
{common}{evidence.format(os.path.join(w, "ev-b"))}""")
        # A reaches B through the relay.
        a = write(w, "a", f"""node: {{node_id: A, inst_id: INST_A, role: edge}}
listen: {{address: 127.0.0.1, port: {A_PORT}}}
admin: {{address: 127.0.0.1, port: {A_PORT + 50}, credential_file: "{cls.credential}"}}
identity: {{dir: "{ids['A']}"}}
peers:
  - {{node_id: B, address: "127.0.0.1:{RELAY_PORT}", root_file: "{root['B']}", tls: {{enabled: false}}}}
  - {{node_id: M, address: "127.0.0.1:{PADDING_PORT}", tls: {{enabled: false}}}}
{common}{evidence.format(os.path.join(w, "ev-a"))}""")
        cls.padding = PaddingPeer(PADDING_PORT, 6000)
        cls.b = cls.topo.gateway(b)
        a_cert = (os.path.join(ids["A"], "tls.crt"), os.path.join(ids["A"], "tls.key"))
        cls.a_cert = ["--cert", a_cert[0], "--key", a_cert[1]]
        cls.relay = H2Relay(RELAY_PORT, B_PORT, tls=True, client_cert=a_cert)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        if cls.relay:
            cls.relay.close()
        if cls.padding:
            cls.padding.close()
        if cls.service:
            cls.service.close()
        cls.topo.close()

    def default_a(self, name, port, b_port, peer_options=""):
        """A second gateway of node A (the same identity) with the default evidence section,
        reaching B at b_port; returns it and its evidence directory."""
        w = self.topo.workdir
        ev = os.path.join(w, "ev-" + name)
        cfg = write(w, name, f"""node: {{node_id: A, inst_id: INST_A, role: edge}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
identity: {{dir: "{self.ids['A']}"}}
peers:
  - {{node_id: B, address: "127.0.0.1:{b_port}", root_file: "{os.path.join(self.ids['B'], 'root.crt')}"{peer_options}}}
io_threads: 1
auth: {{enabled: false}}
queue: {{enabled: false}}
{CRYPTO_YAML}evidence: {{dir: "{ev}"}}
""")
        return self.topo.gateway(cfg), ev

    def test_by_default_the_receipt_stays_with_the_sending_gateway(self):
        # A second gateway of node A (the same identity) with the default evidence section:
        # its client's answer carries no receipt, and its sent record holds B's receipt.
        a, ev = self.default_a("a-default", A_DEFAULT_PORT, B_PORT)
        try:
            body = b"a body whose receipt the client does not get " * 4
            r = curl(f"https://127.0.0.1:{A_DEFAULT_PORT}/v1/interconn/chan/invoke",
                     headers(trace="trace-default-receipt", uri="ptp/echo"), body, http="h2",
                     extra=("-k",))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
            self.assertNotIn("x-ptp-receipt", r.headers)
            self.assertNotIn("x-ptp-countersign", r.headers)

            def sent():
                return [x for x in evidence_records(ev)
                        if x["kind"] == "sent" and x.get("trace") == "trace-default-receipt"]

            wait_until(sent, 5, "the sent record")
            rec = sent()[0]
            self.assertEqual(rec["status"], "E0000000000", rec)
            # A reference to B's receipt batch, whose statement A keeps in a record of its own.
            self.assertTrue(rec["receipt"].startswith("v3;" + rec["msg"] + ";"), rec)
            batch = rec["receipt"].split(";")[5]
            self.assertTrue([x for x in evidence_records(ev) if x["kind"] == "statement" and
                             x["statement"].startswith(f"B;{batch};")], rec)
        finally:
            a.stop()

    def test_the_client_is_answered_before_the_receipt_comes(self):
        # A gateway of node A with the default evidence section (the client does not get the
        # receipt) reaches B through the relay, which holds B's trailers (the receipt) for
        # 2 s: the client has its answer at once, A's sent record gets the receipt when the
        # trailers come, and A, stopped in between, waits for them before it cuts the
        # connection to B (docs/evidence.md, "Receipts in trailers").
        a, ev = self.default_a("a-late", A_LATE_PORT, RELAY_PORT, ", tls: {enabled: false}")
        try:
            held = self.relay.held
            self.relay.hold_trailers = 2.0
            body = b"a body answered before its receipt " * 4
            start = time.monotonic()
            r = curl(f"https://127.0.0.1:{A_LATE_PORT}/v1/interconn/chan/invoke",
                     headers(trace="trace-late-receipt", uri="ptp/echo"), body, http="h2",
                     extra=("-k",))
            answered = time.monotonic() - start
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
            self.assertNotIn("x-ptp-receipt", r.headers)
            self.assertEqual(self.relay.held, held + 1, "the relay held no trailers")
            self.assertLess(answered, 1.5, "the client waited for the receipt")
            self.assertEqual(a.stop(), 0, a.output())
            self.assertGreater(time.monotonic() - start, 1.9, "A did not wait for the receipt")
            recs = [x for x in evidence_records(ev)
                    if x["kind"] == "sent" and x.get("trace") == "trace-late-receipt"]
            self.assertEqual(len(recs), 1, recs)
            self.assertEqual(recs[0]["status"], "E0000000000", recs)
            self.assertTrue(recs[0]["receipt"].startswith("v3;" + recs[0]["msg"] + ";"), recs)
            self.assertNotIn('"receipt does not verify"', a.output())
        finally:
            self.relay.hold_trailers = 0.0
            a.stop()

    def test_signed_invoke_is_answered_with_a_receipt(self):
        before = len(self.service.bodies)
        body = b"a body of the message " * 10
        r = curl(A_URL, headers(trace="trace-ok"), body, http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        self.assertEqual(len(self.service.bodies), before + 1)
        # The signature is between the gateways: the service does not get it.
        self.assertNotIn("x-ptp-signature", self.service.bodies[-1][1])
        receipt = r.headers.get("x-ptp-receipt", "")
        parts = receipt.split(";")
        self.assertEqual(parts[0], "v3", r.headers)  # a reference into B's receipt batch
        self.assertEqual(len(parts[1]), 64)          # the message leaf
        self.assertEqual(parts[3], "E0000000000")    # B's status
        self.assertEqual(parts[4], "B")              # signed by B
        # The batch's statement travels with it (receipt_to_client: true here).
        self.assertTrue(r.headers.get("x-ptp-receipt-statement", "").startswith(
            f"B;{parts[5]};{parts[6]};"), r.headers)
        self.assertNotIn('"receipt does not verify"', self.a.output())

    def test_concurrent_invokes_share_batches(self):
        results = [None] * 40

        def call(i):
            results[i] = curl(A_URL, headers(session=f"c-{i}", trace=f"t-c-{i}"),
                              f"body {i}".encode(), http="h2", extra=("-k",))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, f"body {i}".encode())
            self.assertTrue(r.headers.get("x-ptp-receipt", "").startswith("v3;"), r)
        self.assertNotIn('"receipt does not verify"', self.a.output())

    def test_a_flipped_body_byte_is_refused_and_reaches_nothing(self):
        before = len(self.service.bodies)
        flipped = self.relay.flipped
        self.relay.flip = True
        r = curl(A_URL, headers(trace="trace-flip"), b"pay 100 to alice, not bob" * 4,
                 http="h2", extra=("-k",))
        self.assertEqual(self.relay.flipped, flipped + 1, "the relay did not alter the body")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
        self.assertIn("does not match what arrived", r.headers.get("x-ptp-message", ""))
        self.assertNotIn("x-ptp-receipt", r.headers)
        self.assertEqual(len(self.service.bodies), before, "the altered message reached B's service")
        # B's evidence log names the refusal (an audit record), and holds no received record.
        wait_until(lambda: any(r["kind"] == "audit" and r.get("event") == "request_refused" and
                               r.get("reason") == "signature" and r.get("trace_id") == "trace-flip"
                               for r in evidence_records(self.ev["B"])), 5, "B's audit record")
        self.assertFalse([r for r in evidence_records(self.ev["B"])
                          if r["kind"] == "received" and r["trace"] == "trace-flip"])
        # The next message passes again.
        r = curl(A_URL, headers(trace="trace-after"), b"ok", http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)

    def test_a_peer_signed_batch_of_2_20_leaves_is_refused_and_costs_b_no_memory(self):
        # A malicious A (its own node key) claims batches of 2^20 leaves (a made-up path of
        # 20 digests: what fits in the 1 KiB field limit; a receipt, which has no such
        # limit, can claim 2^32 - 1). Before, B's cache of verified batches sized a tree of
        # 2n digests by it: 66 MB per message, the 16 latest kept per I/O thread.
        def rss_mb():
            with open(f"/proc/{self.b.proc.pid}/status") as f:
                return int(next(l for l in f if l.startswith("VmRSS:")).split()[1]) // 1024

        before = len(self.service.bodies)
        body = b"from a malicious peer"

        def send(n, batch):
            trace = f"trace-{batch}"
            fields = ["1", "invoke", "A", "INST_A", "B", "INST_B", "s-n", trace, "ptp/record",
                      "", str(len(body)), profile_hexdigest(body), "1000"]
            h = headers(session="s-n", trace=trace)
            h["x-ptp-signature"] = forged_signature(self.ids["A"], "A", fields, n, batch)
            return curl(B_URL, h, body, http="h2", extra=("-k", *self.a_cert))

        r = send(4, "x-small")  # a made-up path of a small batch is a valid proof
        self.assertEqual(r.status, 200, r)
        rss = rss_mb()
        answers = [send(1 << 20, f"x-big-{i}") for i in range(17)]
        self.assertTrue(self.b.alive(), "B died: " + self.b.output()[-2000:])
        self.assertLess(rss_mb() - rss, 200, "B keeps memory by the batch size peers claim")
        for r in answers:
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
            self.assertIn("bad leaf count", r.headers.get("x-ptp-message", ""))
        self.assertEqual(len(self.service.bodies), before + 1)
        r = curl(A_URL, headers(trace="trace-after-n"), b"ok", http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)

    def test_zzz_a_padded_receipt_is_not_recorded_verbatim(self):
        # Runs last: A then warns "receipt does not verify" and has a sent record no B
        # matches, which earlier tests assert never happened.
        # Node M answers A with a 6000-byte receipt and countersign (a 64 KiB one works the
        # same; answer headers have no field limit). Before, A's sent record kept both as
        # they came: 12 KB per message of A's append-only log, at M's choice.
        h = headers(trace="trace-padded")
        h["x-ptp-target-node-id"], h["x-ptp-target-inst-id"] = "M", "INST_M"
        r = curl(A_URL, h, b"to M", http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"padded")
        def records():
            return [x for x in evidence_records(self.ev["A"])
                    if x["kind"] == "sent" and x.get("trace") == "trace-padded"]
        wait_until(lambda: records(), 5, "A's sent record")
        sent = records()[0]
        self.assertNotIn("receipt", list(sent))
        self.assertNotIn("countersign", list(sent))
        self.assertEqual(sent["receipt_refused"], "6000 bytes")
        self.assertEqual(sent["countersign_refused"], "6000 bytes")
        self.assertLess(len(json.dumps(sent)), 2048)
        wait_until(lambda: "x-ptp-receipt of 6000 bytes (at most 2048)" in self.a.output(), 5,
                   "A's warning")

    def test_a_peer_signing_a_new_batch_of_65536_per_message_costs_b_little_memory(self):
        # A malicious A signs each message in a new batch claiming the most leaves allowed
        # (65536), with a made-up path: each is a valid proof. Before, B's cache of verified
        # batches allocated 2n digests (4.3 MB) per new batch and kept the 16 latest per I/O
        # thread (69 MB); now it keeps the nodes of the paths it verified.
        def rss_mb():
            with open(f"/proc/{self.b.proc.pid}/status") as f:
                return int(next(l for l in f if l.startswith("VmRSS:")).split()[1]) // 1024

        body = b"one batch per message"
        rss = rss_mb()
        for i in range(24):
            trace = f"trace-wide-{i}"
            fields = ["1", "invoke", "A", "INST_A", "B", "INST_B", "s-w", trace, "ptp/record",
                      "", str(len(body)), profile_hexdigest(body), "1000"]
            h = headers(session="s-w", trace=trace)
            h["x-ptp-signature"] = forged_signature(self.ids["A"], "A", fields, 65536, f"w-{i}")
            r = curl(B_URL, h, body, http="h2", extra=("-k", *self.a_cert))
            self.assertEqual(r.status, 200, r)
        self.assertLess(rss_mb() - rss, 30, "B keeps memory by the batch size peers claim")

    def test_a_reference_is_checked_against_its_statement(self):
        # v3: x-ptp-signature names (node, batch, n, index); x-ptp-statement carries the
        # batch's digests and A's signature over their root. Made here with A's key, as A
        # makes them; B accepts exactly the statement that holds this message's digest.
        before = len(self.service.bodies)
        body = b"a message with a reference"

        def attempt(i, statement, index=1, n=3, batch=None, sent="1000", node="A"):
            trace = f"trace-ref-{i}"
            h = headers(session="s-ref", trace=trace)
            h["x-ptp-signature"] = f"v3;{sent};{node};{batch or f'ref-{i}'};{n};{index}"
            if statement is not None:
                h["x-ptp-statement"] = statement
            return curl(B_URL, h, body, http="h2", extra=("-k", *self.a_cert))

        def fields(i, sent="1000"):
            return ["1", "invoke", "A", "INST_A", "B", "INST_B", "s-ref", f"trace-ref-{i}",
                    "ptp/record", "", str(len(body)), profile_hexdigest(body), sent]

        other = [bytes([7]) * 32, bytes([9]) * 32]

        def statement(i, digests, batch=None):
            return signed_statement(self.ids["A"], "A", batch or f"ref-{i}", digests)

        ok = attempt(0, statement(0, [other[0], message_digest(fields(0)), other[1]]))
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(ok.headers.get("x-ptp-code"), "E0000000000", ok)
        self.assertEqual(len(self.service.bodies), before + 1)
        # The service gets neither the signature nor the statement.
        self.assertNotIn("x-ptp-statement", self.service.bodies[-1][1])
        refused = {
            "no statement": attempt(1, None),
            # A's statement, but the digest at index 1 is another message's.
            "other digest": attempt(2, statement(2, [other[0], other[1], message_digest(
                fields(2))])),
            # The reference names another batch than the statement.
            "other batch": attempt(3, statement(3, [other[0], message_digest(fields(3)),
                                                    other[1]], batch="ref-x")),
            # The sent time is signed: another one changes the message's digest.
            "other time": attempt(4, statement(4, [other[0], message_digest(fields(4)),
                                                   other[1]]), sent="1001"),
            # Signed by B's key, claimed as A's.
            "other key": attempt(5, signed_statement(self.ids["B"], "A", "ref-5", [
                other[0], message_digest(fields(5)), other[1]])),
            "garbage": attempt(6, "A;ref-6;3;!!;AAAA"),
        }
        # One digest altered after signing (the signature no longer covers the digests).
        good = statement(7, [other[0], message_digest(fields(7)), other[1]])
        node, batch, n, digests, sig = good.split(";")
        raw = bytearray(base64.urlsafe_b64decode(digests + "=" * (-len(digests) % 4)))
        raw[0] ^= 1
        altered = ";".join([node, batch, n, base64.urlsafe_b64encode(bytes(raw)).decode()
                            .rstrip("="), sig])
        refused["altered statement"] = attempt(7, altered)
        for what, r in refused.items():
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", (what, r))
        self.assertIn("without its batch statement", refused["no statement"].headers.get(
            "x-ptp-message", ""))
        self.assertIn("does not verify", refused["altered statement"].headers.get(
            "x-ptp-message", ""))
        self.assertEqual(len(self.service.bodies), before + 1)

    def test_fresh_statements_per_message_do_not_fill_the_receivers_log(self):
        # A peer (here with A's key, as a malicious A could) signs a fresh 256-digest batch
        # statement (~11 KB) for every message, each proving one message. B records such a
        # statement only once it proved a message per 8 of its digests; until then its
        # received records hold full proofs made from it (docs/evidence.md "Batch
        # statements"). Before, B's log kept each statement whole: ~11 KB per message.
        body = b"one message per fresh statement"

        def fields(i):
            return ["1", "invoke", "A", "INST_A", "B", "INST_B", "s-fresh", f"trace-fresh-{i}",
                    "ptp/record", "", str(len(body)), profile_hexdigest(body), "1000"]

        def log_bytes():
            return sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.ev["B"], "*")))

        def received():
            return [r for r in evidence_records(self.ev["B"]) if r["kind"] == "received" and
                    r.get("trace", "").startswith("trace-fresh-")]

        before, n = log_bytes(), 10
        for i in range(n):
            digests = [message_digest(fields(i))] + [os.urandom(32) for _ in range(255)]
            statement = signed_statement(self.ids["A"], "A", f"fresh-{i}", digests)
            self.assertGreater(len(statement), 11000)
            h = headers(session="s-fresh", trace=f"trace-fresh-{i}")
            h["x-ptp-signature"] = f"v3;1000;A;fresh-{i};256;0"
            h["x-ptp-statement"] = statement
            r = curl(B_URL, h, body, http="h2", extra=("-k", *self.a_cert))
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)
        wait_until(lambda: len(received()) == n, 5, "B's received records")
        recs = received()
        for r in recs:
            # A full proof: node;batch;n;index;path of 8 digests;signature.
            self.assertTrue(r["sig"].startswith("v1;1000;A;fresh-"), r)
            path = r["sig"].split(";")[6]
            self.assertEqual(len(base64.urlsafe_b64decode(path + "=" * (-len(path) % 4))),
                             8 * 32, r)
        self.assertFalse([r for r in evidence_records(self.ev["B"]) if r["kind"] == "statement"
                          and r["statement"].startswith("A;fresh-")])
        grown = log_bytes() - before
        self.assertLess(grown, n * 2000, grown)  # a statement each: over n * 11 000
        # Each record still proves its message to a third party on its own.
        path = os.path.join(self.topo.workdir, "proof-fresh.json")
        out = self.export("B", recs[0]["msg"], path)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        ok = self.check_proof(path)
        self.assertEqual(ok.returncode, 0, (ok.stdout, ok.stderr))

    def test_unsigned_or_forged_messages_from_another_node_are_refused(self):
        before = len(self.service.bodies)
        # Over A's own TLS identity (the hop is A), but without A's signature.
        r = curl(B_URL, headers(trace="trace-unsigned"), b"unsigned", http="h2",
                 extra=("-k", *self.a_cert))
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
        self.assertIn("carries no x-ptp-signature", r.headers.get("x-ptp-message", ""))
        # A signature value taken from a real message does not cover another one.
        ok = curl(A_URL, headers(trace="trace-real"), b"real", http="h2", extra=("-k",))
        self.assertEqual(ok.status, 200, ok)
        for forged in ("v1;1;A;x-1;1;0;;AAAA", "garbage", "v1;1;B;x-1;1;0;;AAAA"):
            h = headers(trace="trace-forged")
            h["x-ptp-signature"] = forged
            r = curl(B_URL, h, b"forged", http="h2", extra=("-k", *self.a_cert))
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", (forged, r))
        self.assertEqual(len(self.service.bodies), before + 1)

    def test_diagnose_probes_the_hop_to_a_node_that_requires_signatures(self):
        # The gateway answers ptp/diag/echo itself (nothing reaches a service): ptpctl
        # diagnose's unsigned probes pass B's require_signature; a signed diag echo (A's own
        # request) is still checked and receipted.
        out = subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{A_PORT + 50}", "--credential-file",
                              self.credential, "diagnose", "B", "--idle", "0", "--max-body", "65536",
                              "--json"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, (out.stdout, out.stderr))
        (hop,) = json.loads(out.stdout)["hops"]
        self.assertEqual((hop["from"], hop["to"], hop["ok"]), ("A", "B", True), hop)
        self.assertTrue(hop["auth"]["ok"], hop)
        self.assertEqual(hop["largest_body"], 65536, hop)
        signed = curl(A_URL, headers(trace="trace-diag", uri="ptp/diag/echo"), b"diag", http="h2",
                      extra=("-k",))
        self.assertEqual(signed.status, 200, signed)
        self.assertTrue(signed.headers.get("x-ptp-receipt"), signed)

    def test_outbox_pushes_are_signed_and_a_flipped_one_is_refused_then_redelivered(self):
        payloads = [f"push payload {i} ".encode() * 8 for i in range(5)]
        for i, p in enumerate(payloads):
            if i == 2:
                self.relay.flip = True  # the third push is altered on its first delivery
            r = push(A_BASE, "s-push", "t.ev", p)
            self.assertEqual(r.status, 200, r)
        got = [pop(B_BASE, "s-push", "t.ev") for _ in payloads]
        self.assertEqual(got, payloads)
        self.assertIsNone(pop(B_BASE, "s-push", "t.ev", timeout="200ms"))
        self.assertFalse(self.relay.flip, "the relay altered no push")
        # B refused the altered delivery with 615; A's outbox retried it.
        self.assertIn("E0000000615", self.b.output())
        self.assertIn("outbox delivery failed, will retry", self.a.output())
        self.assertNotIn("outbox receipt does not verify", self.a.output())
        self.assertNotIn("without x-ptp-receipt", self.a.output())

    def test_zz_bulk_mixed_messages_are_all_recorded_and_receipted(self):
        """10 000 mixed messages (invokes and outbox pushes): both evidence logs verify, and
        every message A sent to B has B's received record and B's receipt in A's log."""
        w = self.topo.workdir
        body = os.path.join(w, "bulk-invoke.bin")
        with open(body, "wb") as f:
            f.write(b"x" * 512)
        push_body = os.path.join(w, "bulk-push.json")
        with open(push_body, "w") as f:
            json.dump({"topic": "t.bulk", "payload": base64.b64encode(b"p" * 256).decode()}, f)
        invokes, pushes = 9000, 1000
        hi = headers(session="bulk", trace="", uri="ptp/echo")
        hi.pop("x-ptp-trace-id")
        out_push = []

        def push_session(i):
            hp = ptp_headers("A", "B", session=f"bulk-push-{i}", uri=None)
            for k in ("x-ptp-version", "x-ptp-trace-id"):
                hp.pop(k)
            hp["content-type"] = "application/json"
            out_push.append(h2load(A_BASE + "push", pushes // 10, push_body, hp, 1, 4))

        started = time.time()
        threads = [threading.Thread(target=push_session, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        out = h2load(A_URL, invokes, body, hi)
        for t in threads:
            t.join()
        print(f"\nbulk: sent in {time.time() - started:.1f}s", file=sys.stderr)
        self.assertIn(f"{invokes} succeeded", out, out)
        for o in out_push:
            self.assertIn(f"{pushes // 10} succeeded", o, o)
        # Wait until A's outbox delivered every push and both logs hold every message.
        def counts():
            a, b = evidence_records(self.ev["A"]), evidence_records(self.ev["B"])
            sent = {r["msg"]: r for r in a if r["kind"] == "sent" and r["target"] == "B"}
            # A's receipts: in its sent records (invokes) or records of their own (pushes).
            receipts = {r["msg"]: r for r in a if r["kind"] == "receipt" or
                        (r["kind"] == "sent" and r.get("receipt"))}
            received = {r["msg"]: r for r in b if r["kind"] == "received"}
            return sent, receipts, received

        deadline = time.time() + 30
        while True:
            sent, receipts, received = counts()
            bulk = [m for m, r in sent.items() if r["session"].startswith("bulk")]
            done = [m for m in bulk if m in receipts and m in received]
            if len(done) >= invokes + pushes or time.time() > deadline:
                break
            time.sleep(0.2)
        print(f"bulk: recorded in {time.time() - started:.1f}s", file=sys.stderr)
        self.assertGreaterEqual(len(bulk), invokes + pushes)
        missing = [m for m in sent if m not in received or m not in receipts]
        # Only the messages the relay altered (refused with 615 before B recorded them) lack
        # B's records.
        self.assertLessEqual(len(missing), self.relay.flipped, missing[:3])
        # The same with the operator's commands (helper evlog's verify and match): only the
        # messages the relay altered are unmatched.
        for node in ("A", "B"):
            v = subprocess.run([PTPCTL, "evidence", "verify", self.ev[node]],
                               capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        mres = subprocess.run([PTPCTL, "evidence", "match", self.ev["A"], self.ev["B"],
                               "--receiver", "B", "--json"], capture_output=True, text=True)
        j = json.loads(mres.stdout)
        self.assertGreaterEqual(j["sent"], invokes + pushes)
        self.assertEqual(j["unmatched"], len(missing), j)
        self.assertEqual(j["received"], j["sent"] - len(missing), j)
        # The same receipt and signature at both ends: as they came (references), or, in the
        # records made before their batch's statement was recorded, with a full proof in
        # place of the reference (v1): the same signed parts and batch.
        def same(a, b, parts):
            return a == b or a.split(";")[1:parts] == b.split(";")[1:parts]

        for m in bulk:
            self.assertIn(m, received)
            self.assertIn(m, receipts)
            self.assertTrue(same(receipts[m]["receipt"], received[m]["receipt"], 8),
                            (receipts[m]["receipt"], received[m]["receipt"]))
            self.assertTrue(same(received[m]["sig"], sent[m]["sig"], 6),
                            (received[m]["sig"], sent[m]["sig"]))
        # Statements recorded at B: a few per batch of A at most, not one per message.
        a_statements = [r for r in evidence_records(self.ev["B"]) if r["kind"] == "statement"
                        and r["statement"].startswith("A;")]
        self.assertLess(len(a_statements), (invokes + pushes) // 4, len(a_statements))

    def export(self, node, msg, out):
        return subprocess.run([PTPCTL, "evidence", "export", self.ev[node], "--msg", msg,
                               "--out", out], capture_output=True, text=True)

    def check_proof(self, path, roots=("A", "B")):
        args = [PTPCTL, "evidence", "check-proof", path]
        for n in roots:
            args += ["--root", os.path.join(self.ids[n], "root.crt")]
        return subprocess.run(args, capture_output=True, text=True)

    def test_hostile_characters_in_recorded_fields_keep_log_and_proofs_verifiable(self):
        # What a peer chooses and both logs record verbatim: a uri with a quote, a backslash
        # and non-ASCII letters passes, and both logs and the proofs from them verify.
        # Control characters are refused at the edge (test_body_limits and others).
        uri = 'ptp/record/"q\\b/\u00e9/\u4e2d\U0001f600'
        r = curl(A_URL, headers(trace="trace-hostile", uri=uri), b"hostile", http="h2",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        msg = r.headers["x-ptp-receipt"].split(";")[1]
        for node in ("A", "B"):
            path = os.path.join(self.topo.workdir, f"proof-hostile-{node}.json")
            wait_until(lambda: self.export(node, msg, path).returncode == 0, 5, f"{node}'s record")
            out = subprocess.run([PTPCTL, "evidence", "verify", self.ev[node]],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, (node, out.stdout, out.stderr))
            ok = self.check_proof(path)
            self.assertEqual(ok.returncode, 0, (node, ok.stdout, ok.stderr))
            with open(path) as f:
                self.assertEqual(json.load(f)["message"]["uri"], uri)
        # Bytes that are not UTF-8 (0xFF, 0xFE, a lone 0xC0; curl sends them as they are)
        # cannot be recorded as they were signed (a JSON string would hold U+FFFD, and the
        # record no longer gives the message's leaf: its proof failed check-proof). Refused
        # before signing, at A, and at B from a peer that signs them itself.
        before = len(self.service.bodies)
        bad_uri = "ptp/record/\udcff\udcfe/\udcc0x"  # \udcXX: the byte XX
        r = curl(A_URL, headers(trace="trace-not-utf8", uri=bad_uri), b"x", http="h2",
                 extra=("-k",))
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (400, "E0000000400"), r)
        self.assertIn("x-ptp-uri is not valid UTF-8", r.headers.get("x-ptp-message", ""))
        fields = ["1", "invoke", "A", "INST_A", "B", "INST_B", "s-u", "trace-not-utf8-b",
                  bad_uri, "", "1", profile_hexdigest(b"x"),
                  "1000"]
        h = headers(session="s-u", trace="trace-not-utf8-b", uri=bad_uri)
        h["x-ptp-signature"] = forged_signature(self.ids["A"], "A", fields, 1, "x-utf8")
        r = curl(B_URL, h, b"x", http="h2", extra=("-k", *self.a_cert))
        self.assertEqual((r.status, r.headers.get("x-ptp-code")), (400, "E0000000400"), r)
        self.assertEqual(len(self.service.bodies), before)

    def test_exported_proof_verifies_offline_and_fails_when_any_field_is_altered(self):
        r = curl(A_URL, headers(trace="trace-proof"), b"the proven body", http="h2",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        msg = r.headers["x-ptp-receipt"].split(";")[1]
        path = os.path.join(self.topo.workdir, "proof.json")
        # The records reach the file within the sync interval.
        wait_until(lambda: self.export("A", msg, path).returncode == 0, 5, "A's sent record")
        ok = self.check_proof(path)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn(f"ok: message {msg} signed by A", ok.stdout)
        self.assertIn("received by B", ok.stdout)
        self.assertIn("status E0000000000", ok.stdout)
        # The receiver exports the same message from its own log.
        path_b = os.path.join(self.topo.workdir, "proof-b.json")
        wait_until(lambda: self.export("B", msg, path_b).returncode == 0, 5, "B's record")
        self.assertEqual(self.check_proof(path_b).returncode, 0)
        with open(path) as f:
            proof = json.load(f)
        self.assertEqual(proof["message"]["trace"], "trace-proof")
        # The leaf, the paths and the batch roots use the profile's digest (SM3 under gm).
        self.assertEqual(proof["digest"], "sm3" if GM else "sha256")
        self.assertEqual(proof["message"]["size"], str(len(b"the proven body")))

        def altered(text):
            # Flip one character: a digit or hex digit to another, else a letter.
            for i, ch in enumerate(text):
                if ch in "0123456789abcdef":
                    return text[:i] + ("1" if ch != "1" else "2") + text[i + 1:]
            return text[:-1] + ("x" if text[-1:] != "x" else "y") if text else "x"

        cases = [("message", k) for k in proof["message"]] + [
            ("msg", None), ("signature", None), ("receipt", None)]
        for where, key in cases:
            bad = json.loads(json.dumps(proof))
            if key is None:
                bad[where] = altered(bad[where])
            else:
                bad["message"][key] = altered(bad["message"][key])
            bad_path = os.path.join(self.topo.workdir, "proof-bad.json")
            with open(bad_path, "w") as f:
                json.dump(bad, f)
            res = self.check_proof(bad_path)
            self.assertEqual(res.returncode, 1, (where, key, res.stdout))
            self.assertIn("proof fails: ", res.stderr, (where, key))
        # A root is needed for each signer.
        res = self.check_proof(path, roots=("A",))
        self.assertEqual(res.returncode, 1)
        self.assertIn("no root certificate of node B", res.stderr)


RA_PORT, RR_PORT, RB_PORT, R_ECHO_PORT = 18321, 18322, 18323, 18324


class Countersigned(unittest.TestCase):
    """A -> router R -> B, R countersigning on its route toward B: the answer carries B's
    receipt and R's countersign with R's time, A keeps both, and the exported proof checks
    with the roots of A, B and R (and fails without R's or with the countersign altered)."""

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
        cls.ids = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}")
                   for n in ("A", "R", "B")}
        root = {n: os.path.join(d, "root.crt") for n, d in cls.ids.items()}
        cls.ev = {n: os.path.join(w, f"ev-{n}") for n in ("A", "R", "B")}
        common = ("io_threads: 1\nlog: {level: info}\nauth: {enabled: false}\nqueue: {enabled: false}\n"
                  + CRYPTO_YAML)

        def gw(node, port, role, peers, more=""):
            return write(w, node.lower(), f"""node: {{node_id: {node}, inst_id: INST_{node}, role: {role}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
identity: {{dir: "{cls.ids[node]}"}}
peers:
{peers}{more}{common}evidence: {{dir: "{cls.ev[node]}", receipt_to_client: true}}
""")

        cls.topo.echo(R_ECHO_PORT)
        b = gw("B", RB_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{RR_PORT}", root_file: "{root['R']}", relay: true}}
  - {{node_id: A, via: R, root_file: "{root['A']}"}}
""", f"""local_services:
  - {{uri: "ptp/echo*", address: "127.0.0.1:{R_ECHO_PORT}", protocol: http1, path: /echo}}
""")
        r = gw("R", RR_PORT, "router", f"""  - {{node_id: A, address: "127.0.0.1:{RA_PORT}", root_file: "{root['A']}"}}
  - {{node_id: B, address: "127.0.0.1:{RB_PORT}", root_file: "{root['B']}", countersign: true}}
""")
        a = gw("A", RA_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{RR_PORT}", root_file: "{root['R']}"}}
  - {{node_id: B, via: R, root_file: "{root['B']}"}}
""")
        cls.b = cls.topo.gateway(b)
        cls.r = cls.topo.gateway(r)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_router_countersigns_the_receipt_and_the_proof_checks_it(self):
        before = int(time.time() * 1000)
        h = ptp_headers("A", "B", session="s-r", uri="ptp/echo", trace="trace-r", token=None)
        r = curl(f"https://127.0.0.1:{RA_PORT}/v1/interconn/chan/invoke", h, b"via R",
                 http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"via R")
        receipt, counter = r.headers.get("x-ptp-receipt", ""), r.headers.get("x-ptp-countersign", "")
        # B's receipt is a reference; its batch statement came through R with it.
        self.assertTrue(receipt.startswith("v3;"), r.headers)
        self.assertIn("x-ptp-receipt-statement", r.headers)
        parts = counter.split(";")
        self.assertEqual(parts[0], "v1", r.headers)
        self.assertEqual(parts[3], "R")  # signed by the router
        self.assertGreaterEqual(int(parts[2]), before)  # R's own timestamp
        self.assertNotIn('"receipt does not verify"', self.a.output())
        msg = receipt.split(";")[1]
        path = os.path.join(self.topo.workdir, "proof-r.json")

        def export():
            return subprocess.run([PTPCTL, "evidence", "export", self.ev["A"], "--msg", msg,
                                   "--out", path], capture_output=True, text=True).returncode == 0

        wait_until(export, 5, "A's records")
        with open(path) as f:
            proof = json.load(f)
        self.assertEqual(proof["countersign"], counter)

        def check(p, roots):
            args = [PTPCTL, "evidence", "check-proof", p]
            for n in roots:
                args += ["--root", os.path.join(self.ids[n], "root.crt")]
            return subprocess.run(args, capture_output=True, text=True)

        ok = check(path, ("A", "B", "R"))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("countersigned by R", ok.stdout)
        no_r = check(path, ("A", "B"))
        self.assertEqual(no_r.returncode, 1)
        self.assertIn("no root certificate of node R", no_r.stderr)
        bad = dict(proof)
        i = bad["countersign"].index(";", 3) + 1  # the time field
        bad["countersign"] = bad["countersign"][:i] + "9" + bad["countersign"][i + 1:]
        bad_path = os.path.join(self.topo.workdir, "proof-r-bad.json")
        with open(bad_path, "w") as f:
            json.dump(bad, f)
        res = check(bad_path, ("A", "B", "R"))
        self.assertEqual(res.returncode, 1)
        self.assertIn("proof fails: countersign", res.stderr)


if __name__ == "__main__":
    unittest.main()
