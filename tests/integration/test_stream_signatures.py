"""Signed streams between real gateways (docs/evidence.md, "Streams"): A digests a streamed
transport while forwarding it and sends its signature in the request's HTTP/2 trailers; B
digests what arrives while forwarding it to its HTTP/2 service and holds the end of the
stream back until the signature verified. A relay between A and B (plain HTTP/2, so the
DATA frames are visible; on to B's TLS listener) that flips one byte in the middle of a
stream makes B reset the service's stream and answer E0000000615: the service never sees
that stream complete. A stream without a signature to B (require_signature, the default)
is refused the same way. Ports 19000-19099.

Under PTP_CRYPTO=gm every gateway runs `crypto: gm`: SM2 node keys, and the evidence chain,
message leaves and body digests are SM3 (docs/security.md "Crypto profiles"); what the test
compares with the gateways' digests is therefore profile_hexdigest. The test's own service
answers with the sha256 of what it got whatever the profile (only the service's answer)."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import unittest

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evidence_relay import GrpcMergingRelay, H2Relay  # noqa: E402
from h2_server import H2Server  # noqa: E402
from identity_dirs import make_identity  # noqa: E402
from ptp_harness import (BIN, CRYPTO_YAML, GM, Topology, curl, grpc_stubs,  # noqa: E402
                         profile_hexdigest, ptp_headers, wait_until)
from test_evidence_signatures import evidence_records, write  # noqa: E402

PTPCTL = os.path.join(BIN, "ptpctl")

A_PORT, B_PORT, RELAY_PORT, SERVICE_PORT = 19001, 19002, 19003, 19010
A_URL = f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/transport"
B_URL = f"https://127.0.0.1:{B_PORT}/v1/interconn/chan/transport"
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: about 64 DATA frames of 16 KiB


class StreamService(H2Server):
    """A local HTTP/2 (h2c) service that records every request stream: its headers,
    trailers and bytes, and whether it completed (END_STREAM) or was reset. A completed
    stream is answered 200 with the sha256 (hex) of its bytes; on path /early the answer's
    head goes out as soon as the request's head came (a bidirectional service)."""

    def __init__(self, port):
        self.completed, self.reset = [], []  # (headers + trailers, bytes)
        self.lock = threading.Lock()
        super().__init__(port)

    def traces(self, which):
        with self.lock:
            return [h.get("x-ptp-trace-id") for h, _ in which]

    def on_events(self, conn, events, streams):
        for ev in events:
            self._event(conn, streams, ev)

    def _event(self, conn, streams, ev):
        if isinstance(ev, h2.events.RequestReceived):
            streams[ev.stream_id] = (dict(ev.headers), bytearray())
            if streams[ev.stream_id][0].get(":path") == "/early":  # answers at once
                conn.send_headers(ev.stream_id, [(":status", "200"),
                                                 ("content-type", "text/plain")])
        elif isinstance(ev, h2.events.DataReceived):
            streams[ev.stream_id][1].extend(ev.data)
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            streams[ev.stream_id][0].update(dict(ev.headers))
        elif isinstance(ev, h2.events.StreamEnded):
            headers, body = streams.pop(ev.stream_id)
            with self.lock:
                self.completed.append((headers, bytes(body)))
            reply = hashlib.sha256(body).hexdigest().encode()
            if headers.get(":path") != "/early":
                conn.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "text/plain"),
                                                 ("content-length", str(len(reply)))])
            conn.send_data(ev.stream_id, reply, end_stream=True)
        elif isinstance(ev, h2.events.StreamReset) and ev.stream_id in streams:
            headers, body = streams.pop(ev.stream_id)
            with self.lock:
                self.reset.append((headers, bytes(body)))


def headers(trace, uri="ptp/stream"):
    return ptp_headers("A", "B", session="s-stream", uri=uri, trace=trace, token=None,
                       **{"x-ptp-source-inst-id": "INST_A", "x-ptp-target-inst-id": "INST_B"})


class RelayedPair(unittest.TestCase):
    """Gateways A and B with node identities and evidence logs; A reaches B through a relay
    on a plaintext hop (to the relay in clear, TLS from there on, A's client certificate),
    B's local services behind it. Subclasses name the ports (A, B, relay, service), the
    service, B's local_services lines, A's peer protocol and the relay."""

    IO_THREADS = 2
    A_PEER_PROTOCOL = ""  # e.g. "protocol: grpc, "

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.relay = cls.service = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        a_port, b_port, relay_port, _ = cls.PORTS
        w = cls.topo.workdir
        cls.ids = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in "AB"}
        root = {n: os.path.join(d, "root.crt") for n, d in cls.ids.items()}
        cls.ev = {n: os.path.join(w, f"ev-{n}") for n in "AB"}
        common = (f"io_threads: {cls.IO_THREADS}\nlog: {{level: info}}\nauth: {{enabled: false}}\n"
                  "queue: {enabled: false}\n" + CRYPTO_YAML)
        # The clients here read the receipts: A passes them on (evidence.receipt_to_client).
        evidence = "evidence: {{dir: \"{}\", batch_window_us: 2000, receipt_to_client: true}}\n"
        cls.service = cls.make_service()
        b = write(w, "b", f"""node: {{node_id: B, inst_id: INST_B, role: edge}}
listen: {{address: 127.0.0.1, port: {b_port}}}
admin: {{address: 127.0.0.1, port: {b_port + 50}}}
identity: {{dir: "{cls.ids['B']}"}}
peers:
  - {{node_id: A, address: "127.0.0.1:{a_port}", root_file: "{root['A']}", tls: {{enabled: false}}}}
local_services:
{cls.local_services()}{common}{evidence.format(cls.ev['B'])}""")
        a = write(w, "a", f"""node: {{node_id: A, inst_id: INST_A, role: edge}}
listen: {{address: 127.0.0.1, port: {a_port}}}
admin: {{address: 127.0.0.1, port: {a_port + 50}}}
identity: {{dir: "{cls.ids['A']}"}}
peers:
  - {{node_id: B, address: "127.0.0.1:{relay_port}", root_file: "{root['B']}", {cls.A_PEER_PROTOCOL}tls: {{enabled: false}}}}
{common}{evidence.format(cls.ev['A'])}""")
        cls.b = cls.topo.gateway(b)
        a_cert = (os.path.join(cls.ids["A"], "tls.crt"), os.path.join(cls.ids["A"], "tls.key"))
        cls.a_cert = ["--cert", a_cert[0], "--key", a_cert[1]]
        cls.relay = cls.make_relay(a_cert)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        if cls.relay:
            cls.relay.close()
        if cls.service:
            cls.service.close()
        cls.topo.close()


class StreamSignatures(RelayedPair):
    PORTS = (A_PORT, B_PORT, RELAY_PORT, SERVICE_PORT)

    @classmethod
    def make_service(cls):
        return StreamService(SERVICE_PORT)

    @classmethod
    def local_services(cls):
        return (f"  - {{uri: \"ptp/stream*\", address: \"127.0.0.1:{SERVICE_PORT}\", protocol: http2, path: /stream}}\n"
                f"  - {{uri: \"ptp/early\", address: \"127.0.0.1:{SERVICE_PORT}\", protocol: http2, path: /early}}\n")

    @classmethod
    def make_relay(cls, a_cert):
        return H2Relay(RELAY_PORT, B_PORT, tls=True, client_cert=a_cert)

    def records(self, node, kind, trace):
        return [r for r in evidence_records(self.ev[node])
                if r["kind"] == kind and r.get("trace") == trace]

    def assert_refused_and_reset(self, r, trace, why):
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
        self.assertIn(why, r.headers.get("x-ptp-message", ""))
        self.assertNotIn("x-ptp-receipt", r.headers)
        # The service got the stream's bytes but never its end: B reset it instead.
        wait_until(lambda: trace in self.service.traces(self.service.reset), 5,
                   "the service's stream reset")
        self.assertNotIn(trace, self.service.traces(self.service.completed))
        wait_until(lambda: any(x["kind"] == "audit" and x.get("event") == "request_refused" and
                               x.get("reason") == "signature" and x.get("trace_id") == trace
                               for x in evidence_records(self.ev["B"])), 5, "B's audit record")
        self.assertFalse(self.records("B", "received", trace))

    def test_1_signed_stream_is_verified_end_to_end_with_matching_records(self):
        r = curl(A_URL, headers("trace-stream-ok"), PAYLOAD, http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.decode(), hashlib.sha256(PAYLOAD).hexdigest(),
                         "the service got other bytes")
        # The service saw the whole stream end, without the gateways' signature.
        got = [(h, b) for h, b in self.service.completed if h.get("x-ptp-trace-id") ==
               "trace-stream-ok"]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][1], PAYLOAD)
        self.assertNotIn("x-ptp-signature", got[0][0])
        # B's receipt came back in the answer's headers.
        receipt = r.headers.get("x-ptp-receipt", "").split(";")
        self.assertEqual(len(receipt), 10, r)
        self.assertEqual((receipt[0], receipt[3], receipt[4]), ("v1", "E0000000000", "B"), r)
        msg = receipt[1]
        self.assertNotIn('"receipt does not verify"', self.a.output())
        # Both logs hold the stream with its size and whole-stream digest, under one leaf.
        wait_until(lambda: self.records("A", "sent", "trace-stream-ok") and
                   self.records("B", "received", "trace-stream-ok") and
                   [x for x in evidence_records(self.ev["A"])
                    if x["kind"] == "receipt" and x["msg"] == msg], 5, "the records")
        sent = self.records("A", "sent", "trace-stream-ok")[0]
        received = self.records("B", "received", "trace-stream-ok")[0]
        for rec in (sent, received):
            self.assertEqual((rec["msg"], rec["interface"], rec["size"], rec["body"]),
                             (msg, "transport", str(len(PAYLOAD)), profile_hexdigest(PAYLOAD)),
                             rec)
        self.assertEqual(received["sig"], sent["sig"])
        self.assertEqual(received["status"], "E0000000000")
        # The operator's match pairs them (this is the class's first message).
        m = subprocess.run([PTPCTL, "evidence", "match", self.ev["A"], self.ev["B"],
                            "--receiver", "B"], capture_output=True, text=True)
        self.assertEqual(m.returncode, 0, m.stdout + m.stderr)
        self.assertIn("ok: 1 sent to B, 1 received there, 1 receipts", m.stdout)
        # A third party checks the stream's proof with the two roots alone.
        proof = os.path.join(self.topo.workdir, "stream-proof.json")
        e = subprocess.run([PTPCTL, "evidence", "export", self.ev["A"], "--msg", msg, "--out",
                            proof], capture_output=True, text=True)
        self.assertEqual(e.returncode, 0, e.stderr)
        c = subprocess.run([PTPCTL, "evidence", "check-proof", proof,
                            "--root", os.path.join(self.ids["A"], "root.crt"),
                            "--root", os.path.join(self.ids["B"], "root.crt")],
                           capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn(f"ok: message {msg} signed by A", c.stdout)

    def test_2_a_byte_flipped_mid_stream_is_refused_and_never_completes(self):
        flipped = self.relay.flipped
        self.relay.flip_skip = 30  # of about 64 DATA frames
        self.relay.flip = True
        r = curl(A_URL, headers("trace-stream-flip"), PAYLOAD, http="h2", extra=("-k",))
        self.assertEqual(self.relay.flipped, flipped + 1, "the relay did not alter the stream")
        self.assert_refused_and_reset(r, "trace-stream-flip", "does not match what arrived")
        # The next stream passes again.
        r = curl(A_URL, headers("trace-stream-after"), PAYLOAD, http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)

    def test_4_an_answer_begun_before_the_check_ends_with_the_receipt_in_its_trailers(self):
        # The service answers at once: the head goes back, the end waits for B's check.
        r = curl(A_URL, headers("trace-early", uri="ptp/early"), PAYLOAD, http="h2",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("x-ptp-receipt", r.headers)
        self.assertTrue(r.body.startswith(hashlib.sha256(PAYLOAD).hexdigest().encode()), r)
        self.assertIn(b"x-ptp-receipt: v1;", r.body)  # curl writes the trailers after it
        wait_until(lambda: self.records("A", "sent", "trace-early") and
                   self.records("B", "received", "trace-early"), 5, "the records")
        msg = self.records("A", "sent", "trace-early")[0]["msg"]
        wait_until(lambda: [x for x in evidence_records(self.ev["A"])
                            if x["kind"] == "receipt" and x["msg"] == msg], 5, "A's receipt")
        received = self.records("B", "received", "trace-early")[0]
        self.assertTrue(received["receipt"].startswith(f"v1;{msg};"), received)
        self.assertNotIn('"receipt does not verify"', self.a.output())
        # Altered on the way: the answer already begun ends with a reset, not its end.
        flipped = self.relay.flipped
        self.relay.flip_skip = 30
        self.relay.flip = True
        with self.assertRaises(RuntimeError) as cm:
            curl(A_URL, headers("trace-early-flip", uri="ptp/early"), PAYLOAD, http="h2",
                 extra=("-k",))
        self.assertEqual(self.relay.flipped, flipped + 1)
        self.assertIn("stream", str(cm.exception))
        wait_until(lambda: "trace-early-flip" in self.service.traces(self.service.reset), 5,
                   "the service's stream reset")
        self.assertNotIn("trace-early-flip", self.service.traces(self.service.completed))
        # B's access log says how the answer ended (its head went out as a 200), once
        # (docs/observability.md "Streamed answers"); the good one's says E0000000000.
        wait_until(lambda: self.access_lines(self.b, "trace-early-flip"), 5, "B's line")
        time.sleep(0.2)
        [line] = self.access_lines(self.b, "trace-early-flip")
        self.assertEqual((line["code"], line["hop"]), ("E0000000615", "B"), line)
        self.assertIn("does not match what arrived", line["error"])
        self.assertEqual([x["code"] for x in self.access_lines(self.b, "trace-early")],
                         ["E0000000000"])

    @staticmethod
    def access_lines(gw, trace):
        """The transport log lines of `trace` (exactly that trace) in gw's log."""
        out = []
        for text in gw.output().splitlines():
            if f'"trace_id":"{trace}"' in text and '"msg":"transport"' in text:
                out.append(json.loads(text))
        return out

    def test_5_a_unary_transport_signed_up_front_is_checked_as_a_stream_at_b(self):
        # Over HTTP/1.1 A gets the whole body and signs it in the header; B, over HTTP/2,
        # takes any transport as a stream and checks that header's signature at its end.
        r = curl(A_URL, headers("trace-unary-transport"), b"one whole body", http="1.1",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.decode(), hashlib.sha256(b"one whole body").hexdigest())
        self.assertTrue(r.headers.get("x-ptp-receipt", "").startswith("v1;"), r)
        got = [h for h, _ in self.service.completed
               if h.get("x-ptp-trace-id") == "trace-unary-transport"]
        self.assertEqual(len(got), 1)
        self.assertNotIn("x-ptp-signature", got[0])
        wait_until(lambda: self.records("B", "received", "trace-unary-transport"), 5,
                   "B's received record")

    def test_6_a_unary_transport_answered_early_gets_the_receipt_of_the_trailers(self):
        # Over HTTP/1.1 A gets the whole body and signs it in the header (a unary message);
        # B's service answers at once while the body still flows to it, so B's receipt comes
        # in the answer's trailers. A's whole answer takes it: A checks and records it with
        # the message, and the client gets it as a header.
        r = curl(A_URL, headers("trace-unary-early", uri="ptp/early"), PAYLOAD, http="1.1",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.decode(), hashlib.sha256(PAYLOAD).hexdigest())
        self.assertTrue(r.headers.get("x-ptp-receipt", "").startswith("v1;"), r)
        wait_until(lambda: self.records("A", "sent", "trace-unary-early") and
                   self.records("B", "received", "trace-unary-early"), 5, "the records")
        sent = self.records("A", "sent", "trace-unary-early")[0]
        received = self.records("B", "received", "trace-unary-early")[0]
        self.assertEqual(sent["receipt"], received["receipt"])
        self.assertTrue(sent["receipt"].startswith(f"v1;{sent['msg']};"), sent)
        self.assertNotIn('"receipt does not verify"', self.a.output())

    def test_3_a_stream_without_signature_is_refused(self):
        # Over A's own TLS identity (the hop is A), but with no signature trailer.
        r = curl(B_URL, headers("trace-stream-unsigned"), PAYLOAD, http="h2",
                 extra=("-k", *self.a_cert))
        self.assert_refused_and_reset(r, "trace-stream-unsigned", "carries no x-ptp-signature")


RA_PORT, RR_PORT, RB_PORT, R_SERVICE_PORT = 19021, 19022, 19023, 19024


class RoutedStreamSignatures(unittest.TestCase):
    """A -> router R -> B, gRPC from A to R and HTTP/2 from R to B: the trailer travels
    through R (a gRPC stream's messages become plain bytes on the way, the digest is the
    same), B's receipt and R's countersign come back in the answer's headers and the proof
    checks with the three roots."""

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.service = None
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        w = cls.topo.workdir
        cls.ids = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in "ARB"}
        root = {n: os.path.join(d, "root.crt") for n, d in cls.ids.items()}
        cls.ev = {n: os.path.join(w, f"ev-{n}") for n in "ARB"}
        common = ("io_threads: 1\nlog: {level: info}\nauth: {enabled: false}\nqueue: {enabled: false}\n" +
                  CRYPTO_YAML)

        def gw(node, port, role, peers, more=""):
            return write(w, node.lower(), f"""node: {{node_id: {node}, inst_id: INST_{node}, role: {role}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
identity: {{dir: "{cls.ids[node]}"}}
peers:
{peers}{more}{common}evidence: {{dir: "{cls.ev[node]}", receipt_to_client: true}}
""")

        cls.service = StreamService(R_SERVICE_PORT)
        b = gw("B", RB_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{RR_PORT}", root_file: "{root['R']}", relay: true}}
  - {{node_id: A, via: R, root_file: "{root['A']}"}}
""", f"""local_services:
  - {{uri: "ptp/stream*", address: "127.0.0.1:{R_SERVICE_PORT}", protocol: http2, path: /stream}}
  - {{uri: "ptp/early", address: "127.0.0.1:{R_SERVICE_PORT}", protocol: http2, path: /early}}
""")
        r = gw("R", RR_PORT, "router", f"""  - {{node_id: A, address: "127.0.0.1:{RA_PORT}", root_file: "{root['A']}"}}
  - {{node_id: B, address: "127.0.0.1:{RB_PORT}", root_file: "{root['B']}", countersign: true}}
""")
        a = gw("A", RA_PORT, "edge", f"""  - {{node_id: R, address: "127.0.0.1:{RR_PORT}", root_file: "{root['R']}", protocol: grpc}}
  - {{node_id: B, via: R, root_file: "{root['B']}"}}
""")
        cls.b = cls.topo.gateway(b)
        cls.r = cls.topo.gateway(r)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        if cls.service:
            cls.service.close()
        cls.topo.close()

    def test_stream_through_a_router_is_signed_checked_and_countersigned(self):
        url = f"https://127.0.0.1:{RA_PORT}/v1/interconn/chan/transport"
        r = curl(url, headers("trace-routed"), PAYLOAD, http="h2", extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.decode(), hashlib.sha256(PAYLOAD).hexdigest())
        self.assertIn("trace-routed", self.service.traces(self.service.completed))
        receipt, counter = r.headers.get("x-ptp-receipt", ""), r.headers.get("x-ptp-countersign", "")
        self.assertTrue(receipt.startswith("v1;"), r.headers)
        self.assertEqual(counter.split(";")[3:4], ["R"], r.headers)
        self.assertNotIn('"receipt does not verify"', self.a.output())
        msg = receipt.split(";")[1]
        proof = os.path.join(self.topo.workdir, "routed-proof.json")

        def export():
            return subprocess.run([PTPCTL, "evidence", "export", self.ev["A"], "--msg", msg,
                                   "--out", proof], capture_output=True).returncode == 0

        wait_until(export, 5, "A's records")
        c = subprocess.run([PTPCTL, "evidence", "check-proof", proof] +
                           [x for n in "ABR" for x in ("--root", os.path.join(self.ids[n], "root.crt"))],
                           capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn("countersigned by R", c.stdout)
        # An unsigned stream relayed by R is refused by B all the same.
        h = headers("trace-routed-unsigned")
        r = curl(f"https://127.0.0.1:{RR_PORT}/v1/interconn/chan/transport", h, PAYLOAD,
                 http="h2", extra=("-k", "--cert", os.path.join(self.ids["A"], "tls.crt"),
                                   "--key", os.path.join(self.ids["A"], "tls.key")))
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
        wait_until(lambda: "trace-routed-unsigned" in self.service.traces(self.service.reset), 5,
                   "the service's stream reset")
        self.assertNotIn("trace-routed-unsigned", self.service.traces(self.service.completed))

    @unittest.skipIf(GM, "grpc's TLS cannot check a chain an SM2 root signed (no SM2 ID)")
    def test_a_grpc_clients_stream_through_a_router_is_signed_as_bytes_and_passes(self):
        # A's hop to R is gRPC, R's to B HTTP/2, where message boundaries are lost: A, which
        # sees only its first hop, signs the bytes (v1), not the messages (v2), so the
        # stream passes and B checks its bytes.
        import grpc
        pb, pbg = grpc_stubs()
        with open(os.path.join(self.ids["A"], "root.crt"), "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        msgs = [b"message %d " % i * 50 for i in range(5)]
        outs, err = [], None
        with grpc.secure_channel(f"127.0.0.1:{RA_PORT}", creds) as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            try:
                for o in stub.transport(iter(pb.Inbound(payload=m) for m in msgs),
                                        metadata=list(headers("trace-routed-grpc").items()),
                                        timeout=20):
                    outs.append(o)
            except grpc.RpcError as e:
                err = e
        self.assertIsNone(err, err)
        self.assertEqual([o.code for o in outs], ["E0000000000"], outs)
        self.assertIn("trace-routed-grpc", self.service.traces(self.service.completed))

        def sent():
            return [r for r in evidence_records(self.ev["A"])
                    if r["kind"] == "sent" and r.get("trace") == "trace-routed-grpc"]

        wait_until(sent, 5, "A's sent record")
        rec = sent()[0]
        self.assertTrue(rec["sig"].startswith("v1;"), rec)
        self.assertNotIn("framing", rec)
        self.assertEqual(rec["size"], str(sum(len(m) for m in msgs)), rec)

    def check_proof(self, msg, name):
        proof = os.path.join(self.topo.workdir, name)

        def export():
            return subprocess.run([PTPCTL, "evidence", "export", self.ev["A"], "--msg", msg,
                                   "--out", proof], capture_output=True).returncode == 0

        wait_until(export, 5, "A's records")
        return subprocess.run([PTPCTL, "evidence", "check-proof", proof] +
                              [x for n in "ABR"
                               for x in ("--root", os.path.join(self.ids[n], "root.crt"))],
                              capture_output=True, text=True)

    def test_a_receipt_in_the_trailers_is_countersigned_there(self):
        url = f"https://127.0.0.1:{RA_PORT}/v1/interconn/chan/transport"
        r = curl(url, headers("trace-routed-early", uri="ptp/early"), PAYLOAD, http="h2",
                 extra=("-k",))
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"x-ptp-receipt: v1;", r.body)  # the trailers, after the body
        self.assertIn(b"x-ptp-countersign: v1;", r.body)
        receipts = []

        def a_receipt():
            receipts[:] = [x for x in evidence_records(self.ev["A"]) if x["kind"] == "receipt"
                           and x.get("countersign")]
            sent = [x for x in evidence_records(self.ev["A"])
                    if x["kind"] == "sent" and x["trace"] == "trace-routed-early"]
            receipts[:] = [x for x in receipts if sent and x["msg"] == sent[0]["msg"]]
            return receipts

        wait_until(a_receipt, 5, "A's receipt record with R's countersign")
        self.assertNotIn('"receipt does not verify"', self.a.output())
        c = self.check_proof(receipts[0]["msg"], "routed-early-proof.json")
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn("countersigned by R", c.stdout)


G_A_PORT, G_B_PORT, G_RELAY_PORT, G_SERVICE_PORT = 19041, 19042, 19043, 19044
G_METHOD = "/org.ppc.ptp.PrivateTransferProtocol/transport"


class GrpcStreamService:
    """A local gRPC service (PrivateTransferProtocol.transport) that records each stream's
    messages (payloads, in order) and whether it completed or was cancelled."""

    def __init__(self, port):
        import concurrent.futures
        import grpc
        pb, pbg = grpc_stubs()
        self.completed, self.cancelled = {}, {}  # trace -> [payloads]
        outer = self

        class Servicer(pbg.PrivateTransferProtocolServicer):
            def transport(self, request_iterator, context):
                trace = dict(context.invocation_metadata()).get("x-ptp-trace-id")
                got = []
                try:
                    for m in request_iterator:
                        got.append(m.payload)
                except Exception:  # noqa: BLE001 - the gateway reset the stream
                    outer.cancelled[trace] = got
                    return
                # The iterator also ends without an error when the gateway resets the stream
                # after its last message: grpc marks the call cancelled a moment later. So a
                # stream counts as completed only when it is still active half a second on.
                deadline = time.time() + 0.5
                while time.time() < deadline and context.is_active():
                    time.sleep(0.05)
                if not context.is_active():
                    outer.cancelled[trace] = got
                    return
                outer.completed[trace] = got
                yield pb.Outbound(code="E0000000000", payload=b"%d messages" % len(got))

        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_PrivateTransferProtocolServicer_to_server(Servicer(), self.server)
        self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()

    def close(self):
        self.server.stop(None)


@unittest.skipIf(GM, "grpc's TLS cannot check a chain an SM2 root signed (no SM2 ID)")
class GrpcStreamSignatures(RelayedPair):
    """A gRPC transport stream from a gRPC client through A, a gRPC hop to B (through a relay
    on a plaintext hop) and B's gRPC service: its message boundaries are signed with its
    bytes. A relay that merges two of its messages into one (the same bytes, other
    boundaries) makes B refuse it with E0000000615, as a flipped byte does; before, B's
    check passed and the service got other messages than the client sent."""

    MESSAGES = [bytes([i]) * (1000 + 37 * i) for i in range(40)]

    IO_THREADS = 1
    A_PEER_PROTOCOL = "protocol: grpc, "
    PORTS = (G_A_PORT, G_B_PORT, G_RELAY_PORT, G_SERVICE_PORT)

    @classmethod
    def make_service(cls):
        return GrpcStreamService(G_SERVICE_PORT)

    @classmethod
    def local_services(cls):
        return (f"  - {{uri: \"ptp/stream*\", address: \"127.0.0.1:{G_SERVICE_PORT}\", protocol: grpc, "
                f"path: {G_METHOD}}}\n")

    @classmethod
    def make_relay(cls, a_cert):
        return GrpcMergingRelay(G_RELAY_PORT, G_B_PORT, tls=True, client_cert=a_cert)

    def send(self, trace):
        """The client's stream to A: (Outbound messages, the RpcError or None)."""
        import grpc
        pb, pbg = grpc_stubs()
        with open(os.path.join(self.ids["A"], "root.crt"), "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        md = list(headers(trace).items())
        with grpc.secure_channel(f"127.0.0.1:{G_A_PORT}", creds) as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            outs = []
            try:
                for o in stub.transport(iter(pb.Inbound(payload=m) for m in self.MESSAGES),
                                        metadata=md, timeout=20):
                    outs.append(o)
            except grpc.RpcError as e:
                return outs, e
            return outs, None

    def records(self, node, kind, trace):
        return [r for r in evidence_records(self.ev[node])
                if r["kind"] == kind and r.get("trace") == trace]

    def test_1_an_unaltered_grpc_stream_passes_with_its_messages_signed(self):
        outs, err = self.send("trace-grpc-ok")
        self.assertIsNone(err, err)
        self.assertEqual([o.code for o in outs], ["E0000000000"], outs)
        self.assertEqual(self.service.completed.get("trace-grpc-ok"), self.MESSAGES)
        wait_until(lambda: self.records("A", "sent", "trace-grpc-ok") and
                   self.records("B", "received", "trace-grpc-ok"), 5, "the records")
        sent = self.records("A", "sent", "trace-grpc-ok")[0]
        received = self.records("B", "received", "trace-grpc-ok")[0]
        framed = b"".join(b"\x00" + len(m).to_bytes(4, "big") + m for m in self.MESSAGES)
        for rec in (sent, received):
            self.assertEqual((rec["framing"], rec["size"], rec["body"]),
                             ("grpc", str(len(framed)), profile_hexdigest(framed)), rec)
            self.assertTrue(rec["sig"].startswith("v2;"), rec)
        self.assertEqual(received["msg"], sent["msg"])
        self.assertEqual(received["status"], "E0000000000")
        # A third party checks the statement, framing included, with the two roots alone.
        proof = os.path.join(self.topo.workdir, "grpc-proof.json")

        def export():
            return subprocess.run([PTPCTL, "evidence", "export", self.ev["B"], "--msg",
                                   sent["msg"], "--out", proof], capture_output=True).returncode == 0

        wait_until(export, 5, "B's export")
        with open(proof) as f:
            self.assertEqual(json.load(f)["message"]["framing"], "grpc")
        c = subprocess.run([PTPCTL, "evidence", "check-proof", proof,
                            "--root", os.path.join(self.ids["A"], "root.crt"),
                            "--root", os.path.join(self.ids["B"], "root.crt")],
                           capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertIn(f"ok: message {sent['msg']} signed by A", c.stdout)
        # The same proof claiming the v1 statement (no framing) fails.
        with open(proof) as f:
            p = json.load(f)
        del p["message"]["framing"]
        with open(proof, "w") as f:
            json.dump(p, f)
        c = subprocess.run([PTPCTL, "evidence", "check-proof", proof,
                            "--root", os.path.join(self.ids["A"], "root.crt"),
                            "--root", os.path.join(self.ids["B"], "root.crt")],
                           capture_output=True, text=True)
        self.assertEqual(c.returncode, 1, c.stdout)

    def test_2_two_messages_merged_on_the_way_are_refused(self):
        self.relay.merge = True
        outs, err = self.send("trace-grpc-merged")
        self.assertEqual(self.relay.merged, 1, "the relay did not merge two messages")
        said = " ".join([o.code + " " + o.message for o in outs] +
                        ([err.details() or ""] if err else []))
        self.assertIn("E0000000615", said, (outs, err))
        self.assertIn("does not match what arrived", said)
        # The service never saw the stream complete (it got other messages than were sent).
        self.assertNotIn("trace-grpc-merged", self.service.completed)
        wait_until(lambda: any(x["kind"] == "audit" and x.get("event") == "request_refused" and
                               x.get("reason") == "signature" and
                               x.get("trace_id") == "trace-grpc-merged"
                               for x in evidence_records(self.ev["B"])), 5, "B's audit record")
        self.assertFalse(self.records("B", "received", "trace-grpc-merged"))
        # The next stream passes again.
        outs, err = self.send("trace-grpc-after")
        self.assertIsNone(err, err)
        self.assertEqual(self.service.completed.get("trace-grpc-after"), self.MESSAGES)


T_PORT, T_SERVICE_PORT = 19031, 19032


class RequestTrailers(unittest.TestCase):
    """Request trailers cannot change header fields once the head was admitted: a field
    that comes only in the trailers of an invoke does not reach the service."""

    def test_trailers_do_not_change_the_admitted_header(self):
        from h2_raw import H2Client
        from ptp_harness import conf
        service = StreamService(T_SERVICE_PORT)
        try:
            with Topology() as topo:
                b = topo.variant(conf("direct", "b.yaml"), [
                    ("port: 17305", f"port: {T_PORT}"), ("port: 17405", f"port: {T_PORT + 50}"),
                    ('address: "127.0.0.1:18080", protocol: http1, path: /echo',
                     f'address: "127.0.0.1:{T_SERVICE_PORT}", protocol: http2, path: /stream'),
                    ('uri: "ptp/echo*"', 'uri: "ptp/stream*"'),
                    ("log: {level: info}\n", "log: {level: info}\n" + CRYPTO_YAML)])
                topo.gateway(b)
                with H2Client(T_PORT) as c:
                    sid = c.request("/v1/interconn/chan/invoke", ptp_headers(
                        "A", "B", session="s-1", uri="ptp/stream", trace="trace-trailers"))
                    c.conn.send_data(sid, b"body")
                    # A field the head did not have, added after the head was admitted.
                    c.conn.send_headers(sid, [("x-ptp-source-inst-id", "INST_FORGED")],
                                        end_stream=True)
                    c.flush()
                    self.assertTrue(c.wait(lambda: c.streams[sid].closed), "no answer")
                    self.assertEqual(c.streams[sid].status, 200, c.streams[sid].data)
                got = [h for h, _ in service.completed if h.get("x-ptp-trace-id") == "trace-trailers"]
                self.assertEqual(len(got), 1)
                self.assertEqual(got[0]["x-ptp-session-id"], "s-1")
                self.assertNotIn("x-ptp-source-inst-id", got[0])
        finally:
            service.close()


if __name__ == "__main__":
    unittest.main()
