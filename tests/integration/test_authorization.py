"""Per-peer authorization at the resource holder (docs/authorization.md): B holds two
services and a queue; A is its partner. Without a policy entry A gets E0000000614 and
nothing reaches B's service; a policy for uri "svc.a*" lets A invoke svc.alpha but not
svc.beta; a push to a topic not listed is refused at B; a reload that adds the permission
makes the next request pass without a restart."""
import base64
import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ptp_harness import CRYPTO_YAML, KEYS, Topology, curl, ptp_headers, wait_until
from test_queue import pop_json, push_json

A_PORT, B_PORT, R_PORT, SVC_PORT = 17601, 17602, 17603, 17610
A_URL = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
A_QUEUE = f"http://127.0.0.1:{A_PORT}/v1/interconn/chan/"
B_QUEUE = f"http://127.0.0.1:{B_PORT}/v1/interconn/chan/"


def gateway_yaml(node, port, peer, peer_port, extra="", role="edge", more_peers=""):
    return f"""node: {{node_id: {node}, inst_id: INST_{node}, role: {role}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
io_threads: 2
reload_poll_ms: 100
auth:
  enabled: true
  node_keys: {{A: "{KEYS['A']}", B: "{KEYS['B']}", R1: "{KEYS['R1']}"}}
peers:
  - {{node_id: {peer}, address: "127.0.0.1:{peer_port}", protocol: http2}}
{more_peers}local_services:
  - {{uri: "svc.alpha", address: "127.0.0.1:{SVC_PORT}", protocol: http1, path: /alpha}}
  - {{uri: "svc.beta", address: "127.0.0.1:{SVC_PORT}", protocol: http1, path: /beta}}
queue: {{store: embedded, retry_min_ms: 100, retry_max_ms: 200}}
log: {{level: info}}
{CRYPTO_YAML}{extra}"""


class Recorder(BaseHTTPRequestHandler):
    """B's services: answers 200 with the body, and records every request it sees."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def refusals(gw, reason):
    for line in gw.metrics().splitlines():
        if line.startswith(f'ptp_authorization_refusals_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def reloads_ok(gw):
    for line in gw.metrics().splitlines():
        if line.startswith('ptp_config_reloads_total{result="ok"}'):
            return float(line.split()[-1])
    return 0.0


class Authorization(unittest.TestCase):
    def setUp(self):
        Recorder.seen = []
        self.srv = ThreadingHTTPServer(("127.0.0.1", SVC_PORT), Recorder)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.topo = Topology()

    def tearDown(self):
        self.topo.close()
        self.srv.shutdown()
        self.srv.server_close()

    def start(self, b_authorization):
        a_path = f"{self.topo.workdir}/a.yaml"
        with open(a_path, "w") as f:
            f.write(gateway_yaml("A", A_PORT, "B", B_PORT))
        self.b_path = f"{self.topo.workdir}/b.yaml"
        self.write_b(b_authorization)
        self.a = self.topo.gateway(a_path)
        self.b = self.topo.gateway(self.b_path)

    def write_b(self, authorization):
        with open(self.b_path, "w") as f:
            f.write(gateway_yaml("B", B_PORT, "A", A_PORT, authorization))

    def reload_b(self, authorization):
        before = reloads_ok(self.b)
        self.write_b(authorization)
        wait_until(lambda: reloads_ok(self.b) > before, what="B reloads its config")

    def invoke(self, uri, body=b"x"):
        return curl(A_URL, ptp_headers("A", "B", uri=uri), body, http="h2c")

    def test_partner_without_policy_is_refused_until_a_reload_allows_it(self):
        # B has a policy for C only: A has no entry, and the default is deny.
        self.start("authorization:\n  peers:\n    - {node: C, interfaces: [invoke], uris: ['*']}\n")
        for http_uri in ("svc.alpha", "svc.beta", "svc.unknown"):
            r = self.invoke(http_uri)
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000614", r)
            self.assertEqual(r.headers.get("x-ptp-hop"), "B", r)
            self.assertIn("node A has no authorization policy at node B", r.headers["x-ptp-message"])
        self.assertEqual(Recorder.seen, [], "a refused request reached the service")
        self.assertEqual(refusals(self.b, "no_policy"), 3)
        # The security log line, with the source, the target, the interface and the uri.
        line = next(json.loads(l) for l in self.b.output().splitlines()
                    if '"authorization refused"' in l)
        self.assertEqual((line["level"], line["source"], line["target"]), ("warn", "A", "B"), line)
        self.assertEqual((line["interface"], line["uri"], line["reason"]),
                         ("invoke", "svc.alpha", "no_policy"), line)
        # B's own requests are not subject to the policies.
        r = curl(f"http://127.0.0.1:{B_PORT}/v1/interconn/chan/invoke",
                 ptp_headers("B", "B", uri="svc.beta"), b"own", http="h2c")
        self.assertEqual((r.status, r.body), (200, b"own"), r)
        Recorder.seen = []
        # A reload adds A's permission: the next request passes, without a restart.
        pid = self.b.pid()
        self.reload_b("authorization:\n  peers:\n    - {node: A, interfaces: [invoke], uris: ['svc.*']}\n")
        r = self.invoke("svc.alpha", b"now allowed")
        self.assertEqual((r.status, r.body), (200, b"now allowed"), r)
        self.assertEqual(Recorder.seen, ["/alpha"])
        self.assertEqual(self.b.pid(), pid)

    def test_uri_glob_allows_alpha_not_beta(self):
        self.start("authorization:\n  peers:\n    - {node: A, interfaces: [invoke], uris: ['svc.a*']}\n")
        r = self.invoke("svc.alpha", b"hello")
        self.assertEqual((r.status, r.body), (200, b"hello"), r)
        r = self.invoke("svc.beta", b"hello")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000614", r)
        self.assertIn("node A is not authorized to call invoke on x-ptp-uri 'svc.beta' at node B",
                      r.headers["x-ptp-message"])
        self.assertEqual(Recorder.seen, ["/alpha"])
        self.assertEqual(refusals(self.b, "uri"), 1)
        # transport is not listed: refused even for svc.alpha.
        r = curl(A_URL.replace("invoke", "transport"), ptp_headers("A", "B", uri="svc.alpha"),
                 b"t", http="h2c")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000614", r)
        self.assertEqual(refusals(self.b, "interface"), 1)
        self.assertEqual(Recorder.seen, ["/alpha"])

    def test_push_to_unlisted_topic_is_refused_until_reload(self):
        self.start("authorization:\n  peers:\n"
                   "    - {node: A, interfaces: [push], topics: ['ok.*']}\n")
        # A's container pushes to B; A's outbox delivers; B refuses the unlisted topic.
        r = push_json(A_QUEUE, "A", "B", "s-1", "denied.t", b"secret")
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: refusals(self.b, "topic") >= 1, what="B refuses the push")
        r = pop_json(B_QUEUE, "B", "s-1", "denied.t", timeout="200ms")
        self.assertNotIn("payload", r.json(), r)
        # Not retried: it comes back to A's container as a dead letter naming the refusal.
        r = pop_json(A_QUEUE, "A", "s-1", "ptp.dead-letter", timeout="5s")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"secret", r)
        md = r.json()["metadata"]
        self.assertEqual(md["dead-letter-code"], "E0000000614", md)
        self.assertIn("not authorized to push to topic 'denied.t' at node B", md["dead-letter-reason"])
        # A listed topic is accepted and queued at B.
        self.assertEqual(push_json(A_QUEUE, "A", "B", "s-1", "ok.t", b"fine").status, 200)
        r = pop_json(B_QUEUE, "B", "s-1", "ok.t", timeout="5s")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"fine", r)
        # A reload adds the topic: the next push to it passes.
        self.reload_b("authorization:\n  peers:\n"
                      "    - {node: A, interfaces: [push], topics: ['ok.*', 'denied.*']}\n")
        self.assertEqual(push_json(A_QUEUE, "A", "B", "s-2", "denied.t", b"later").status, 200)
        r = pop_json(B_QUEUE, "B", "s-2", "denied.t", timeout="5s")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"later", r)
        self.assertEqual(refusals(self.b, "topic"), 1)

    def test_router_relays_without_checking_but_refuses_what_is_for_itself(self):
        """A -> R1 -> B: R1 has an authorization section that allows nobody; a request
        relayed for B is B's to decide, a request for R1 itself is refused by R1."""
        w = self.topo.workdir
        with open(f"{w}/a.yaml", "w") as f:
            f.write(gateway_yaml("A", A_PORT, "R1", R_PORT,
                                 more_peers="  - {node_id: B, via: R1}\n"))
        with open(f"{w}/r1.yaml", "w") as f:
            f.write(gateway_yaml("R1", R_PORT, "A", A_PORT, "authorization:\n", role="router",
                                 more_peers=f'  - {{node_id: B, address: "127.0.0.1:{B_PORT}", protocol: http2}}\n'))
        with open(f"{w}/b.yaml", "w") as f:
            f.write(gateway_yaml("B", B_PORT, "R1", R_PORT,
                                 "authorization:\n  peers:\n    - {node: A, interfaces: [invoke], uris: ['svc.a*']}\n",
                                 more_peers="  - {node_id: A, via: R1}\n"))
        self.topo.gateway(f"{w}/a.yaml")
        r1 = self.topo.gateway(f"{w}/r1.yaml")
        b = self.topo.gateway(f"{w}/b.yaml")
        r = self.invoke("svc.alpha", b"relayed")
        self.assertEqual((r.status, r.body), (200, b"relayed"), r)
        r = self.invoke("svc.beta")
        self.assertEqual((r.headers.get("x-ptp-code"), r.headers.get("x-ptp-hop")), ("E0000000614", "B"), r)
        self.assertEqual(Recorder.seen, ["/alpha"])
        self.assertEqual((refusals(r1, "no_policy"), refusals(b, "uri")), (0, 1))
        r = curl(A_URL, ptp_headers("A", "R1", uri="ptp/diag/echo"), b"x", http="h2c")
        self.assertEqual((r.headers.get("x-ptp-code"), r.headers.get("x-ptp-hop")), ("E0000000614", "R1"), r)
        self.assertEqual(refusals(r1, "no_policy"), 1)


if __name__ == "__main__":
    unittest.main()
