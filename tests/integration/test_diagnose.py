"""ptpctl diagnose NODE on the routed topology (conf/routed, ports moved into 187xx): hop by
hop it names the failing hop and the failure kind for each injected fault (a stopped
router, a wrong key at B, B's echo service down, a body limit at R2 lower than A's, a path
between R1 and R2 that cuts idle connections) and reports every hop ok on the healthy
topology (docs/ptpctl.md "diagnose")."""
import json
import os
import select
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from ptp_harness import BIN, Topology, conf, curl, ptp_headers
from tls_certs import Pki

PTPCTL = os.path.join(BIN, "ptpctl")
TOKEN = "diagnose-test-token-0123456789abcdef"
# conf/routed's ports -> this test's (listen, admin, echo services).
PORTS = {"17314": "18714", "17315": "18715", "17316": "18716", "17317": "18717",
         "17318": "18718", "17414": "18744", "17415": "18745", "17416": "18746",
         "17417": "18747", "17418": "18748", "18080": "18780", "18082": "18782"}
ADMIN = {"a": 18744, "b": 18745, "r1": 18746, "r2": 18747, "c": 18748}
RELAY_PORT = 18790  # the idle-cutting relay between R1 and R2
MIB = 1 << 20


class IdleCuttingRelay:
    """A TCP relay that closes both sides of a connection idle for more than `idle` s."""

    def __init__(self, port, upstream, idle=1.0):
        self.upstream, self.idle = upstream, idle
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(16)
        self.stopping = False
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(c,), daemon=True).start()

    def _pump(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            c.close()
            return
        last = time.time()
        peers = {c: u, u: c}
        try:
            while not self.stopping:
                r, _, _ = select.select([c, u], [], [], 0.1)
                if not r:
                    if time.time() - last > self.idle:
                        self.cut += 1
                        return
                    continue
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
                last = time.time()
        except OSError:
            pass
        finally:
            c.close()
            u.close()

    def close(self):
        self.stopping = True
        self.lsock.close()


class Diagnose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.cred = os.path.join(cls.topo.workdir, "admin.token")
        with open(cls.cred, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(cls.cred, 0o600)
        cls.echo_b = cls.topo.echo(18780)
        cls.topo.echo(18782)
        cls.gw = {}
        for n in ("r1", "r2", "a", "b", "c"):
            cls.start(n)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    @classmethod
    def config(cls, node, extra=(), name=None):
        """conf/routed/<node>.yaml with this test's ports, the operator credential, A's body
        limit 8 MiB, and `extra` replacements."""
        reps = [(f'"127.0.0.1:{old}"', f'"127.0.0.1:{new}"') for old, new in PORTS.items()]
        reps += [(f"port: {old}}}", f"port: {new}}}") for old, new in PORTS.items()]
        with open(conf("routed", f"{node}.yaml")) as f:
            text = f.read()
        reps = [(o, n) for o, n in reps if o in text]
        reps.append((f"port: {ADMIN[node]}}}", f"port: {ADMIN[node]}, credential_file: {cls.cred}}}"))
        if node == "a":
            reps.append(("log: {level: info}", "limits: {max_body_bytes: 8388608}\nlog: {level: info}"))
        return cls.topo.variant(conf("routed", f"{node}.yaml"), reps + list(extra), name=name or f"{node}.yaml")

    @classmethod
    def start(cls, node, extra=(), name=None):
        cls.gw[node] = cls.topo.gateway(cls.config(node, extra, name), data_name=f"{node}-{time.time_ns()}")

    def restart(self, node, extra=(), name=None):
        self.gw[node].stop()
        self.start(node, extra, name)

    def diagnose(self, node, *args, json_out=True):
        cmd = [PTPCTL, "--admin", "127.0.0.1:18744", "--credential-file", self.cred, "diagnose", node,
               *args] + (["--json"] if json_out else [])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if not json_out:
            return out
        try:
            return out.returncode, json.loads(out.stdout), out.stderr
        except ValueError:
            self.fail(f"ptpctl diagnose: no JSON: rc {out.returncode}\n{out.stdout}\n{out.stderr}")

    def assert_failing(self, result, index, frm, to, failure):
        rc, j, err = result
        self.assertEqual(rc, 1, (j, err))
        self.assertEqual(j["failing_hop"], index, j)
        hop = j["hops"][index]
        self.assertEqual((hop["from"], hop["to"], hop["ok"], hop["failure"]), (frm, to, False, failure), hop)
        self.assertIn(frm, hop["reason"])
        for earlier in j["hops"][:index]:
            self.assertTrue(earlier["ok"], earlier)
        self.assertEqual(len(j["hops"]), index + 1)
        return hop

    def test_all_hops_ok_to_b_and_c(self):
        rc, j, err = self.diagnose("B", "--uri", "ptp/echo", "--idle", "1")
        self.assertEqual(rc, 0, (j, err))
        self.assertIsNone(j["failing_hop"])
        self.assertEqual([(h["from"], h["to"], h["kind"]) for h in j["hops"]],
                         [("A", "R1", "peer"), ("R1", "B", "peer"), ("B", "service ptp/echo*", "service")])
        for h in j["hops"][:2]:
            self.assertTrue(h["ok"], h)
            self.assertEqual(h["failure"], "")
            self.assertGreater(h["connect_ms"], 0)
            self.assertEqual(h["tls"], {"used": False})
            self.assertTrue(h["auth"]["ok"], h)
            self.assertGreater(h["rtt_ms"], 0)
            self.assertGreater(h["throughput_mbps"], 0)
            self.assertEqual(h["largest_body"], 8 * MIB)  # A's limit, asked of every hop
            self.assertEqual(h["idle"]["survived"], True)
        self.assertEqual(j["hops"][2]["address"], "127.0.0.1:18780")
        self.assertIn("A -> R1: ok", err)
        rc, j, err = self.diagnose("C", "--uri", "ptp/echo", "--idle", "1")
        self.assertEqual(rc, 0, (j, err))
        self.assertEqual([h["to"] for h in j["hops"]], ["R1", "R2", "C", "service ptp/echo*"])
        # The human table: every hop, the verdict line, 100 columns at most.
        out = self.diagnose("C", "--uri", "ptp/echo", "--idle", "0", json_out=False)
        self.assertEqual(out.returncode, 0, out)
        lines = out.stdout.splitlines()
        self.assertTrue(lines[0].startswith("HOP"), out.stdout)
        for hop in ("A -> R1", "R1 -> R2", "R2 -> C", "C -> svc"):
            self.assertTrue(any(l.startswith(hop) for l in lines), (hop, out.stdout))
        self.assertEqual(lines[-1], "all hops ok")
        self.assertLessEqual(max(len(l) for l in lines), 100, out.stdout)

    def test_stopped_router(self):
        self.gw["r1"].stop()
        try:
            hop = self.assert_failing(self.diagnose("B", "--uri", "ptp/echo", "--idle", "1"), 0, "A", "R1", "connect")
            self.assertEqual(hop["address"], "127.0.0.1:18716")
            self.assertIn("connect", hop["reason"])
            out = self.diagnose("B", "--uri", "ptp/echo", json_out=False)
            self.assertEqual(out.returncode, 1, out)
            self.assertIn("FAIL connect", out.stdout)
            self.assertIn("R1 -> ...", out.stdout)  # the hops after it: not reached
            self.assertIn("not reached", out.stdout)
            lines = out.stdout.splitlines()
            self.assertTrue(any(l.startswith("failing hop: A -> R1: A cannot connect to R1") for l in lines),
                            out.stdout)
            self.assertLessEqual(max(len(l) for l in lines), 100, out.stdout)
        finally:
            self.start("r1")

    def test_wrong_key_at_b(self):
        wrong = [(f'{n}: "demo-only-secret-{n}-do-not-use-in-production"', f'{n}: "a-wrong-key-for-{n}-at-B-0000000"')
                 for n in ("A", "R1")]
        self.restart("b", wrong, name="b-wrong-keys.yaml")
        try:
            hop = self.assert_failing(self.diagnose("B", "--uri", "ptp/echo", "--idle", "1"), 1, "R1", "B", "auth")
            self.assertEqual(hop["auth"]["ok"], False)
            self.assertEqual(hop["auth"]["code"], "E0000000403")
        finally:
            self.restart("b")

    def test_service_down_at_b(self):
        self.echo_b.stop()
        try:
            hop = self.assert_failing(self.diagnose("B", "--uri", "ptp/echo", "--idle", "1"), 2, "B",
                                      "service ptp/echo*", "service")
            self.assertEqual(hop["kind"], "service")
            self.assertIn("127.0.0.1:18780", hop["reason"])
        finally:
            self.echo_b = self.topo.echo(18780)

    def test_body_limit_at_r2_lower_than_a(self):
        self.restart("r2", [("log: {level: info}", "limits: {max_body_bytes: 1048576}\nlog: {level: info}")],
                     name="r2-small-body.yaml")
        try:
            hop = self.assert_failing(self.diagnose("C", "--uri", "ptp/echo", "--idle", "0"), 1, "R1", "R2", "body")
            self.assertEqual(hop["largest_body"], MIB)
            self.assertEqual(hop["body_refused"]["code"], "E0000000413")
            self.assertGreater(hop["body_refused"]["size"], MIB)
            self.assertTrue(hop["reason"].startswith("body limit 1 MiB at R2 is lower than A's 8 MiB"), hop)
            out = self.diagnose("C", "--uri", "ptp/echo", "--idle", "0", json_out=False)
            lines = out.stdout.splitlines()
            self.assertIn("failing hop: R1 -> R2: body limit 1 MiB at R2 is lower than A's 8 MiB", out.stdout)
            self.assertLessEqual(max(len(l) for l in lines), 100, out.stdout)
            self.assertTrue(lines[-1].startswith("  "), out.stdout)  # the reason's rest, wrapped
        finally:
            self.restart("r2")

    def test_path_that_cuts_idle_connections(self):
        relay = IdleCuttingRelay(RELAY_PORT, 18717, idle=1.0)
        try:
            self.restart("r1", [('"127.0.0.1:18717"', f'"127.0.0.1:{RELAY_PORT}"')], name="r1-relay.yaml")
            hop = self.assert_failing(self.diagnose("C", "--uri", "ptp/echo", "--idle", "2"), 1, "R1", "R2", "idle")
            self.assertEqual(hop["idle"]["survived"], False)
            self.assertEqual(hop["idle"]["seconds"], 2)
            self.assertTrue(hop["auth"]["ok"])  # everything else passed through the relay
            self.assertGreater(relay.cut, 0)
        finally:
            relay.close()
            self.restart("r1")

    def admin_post(self, node, body, token=TOKEN):
        """POST /diagnose/hop at `node`'s admin port: (HTTP status, JSON answer)."""
        req = urllib.request.Request(f"http://127.0.0.1:{ADMIN[node]}/diagnose/hop", data=json.dumps(body).encode(),
                                     method="POST")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_admin_route_credential_and_one_diagnosis_at_a_time(self):
        status, j = self.admin_post("a", {"node": "B"}, token=None)
        self.assertEqual(status, 401, j)
        status, j = self.admin_post("a", {"node": "B", "idle_s": 99})
        self.assertEqual((status, j["code"]), (400, "E0000000400"), j)
        # A probe running at R1 (3 s idle wait): another at R1, asked by A in-band, and
        # another at R1's own admin port are refused while it runs; afterwards R1 serves again.
        first = {}
        t = threading.Thread(target=lambda: first.update(r=self.admin_post("r1", {"node": "B", "idle_s": 3, "max_body": MIB})))
        t.start()
        try:
            time.sleep(0.5)
            status, j = self.admin_post("a", {"node": "B", "from": "R1", "idle_s": 0})
            self.assertEqual((status, j["code"]), (409, "E0000000700"), j)
            self.assertIn("a diagnosis is running at node R1", j["message"])
            status, j = self.admin_post("r1", {"node": "B", "idle_s": 0})
            self.assertEqual((status, j["code"], j["message"]), (409, "E0000000700", "a diagnosis is running"), j)
        finally:
            t.join(30)
        self.assertEqual(first["r"][0], 200, first)
        self.assertEqual((first["r"][1]["from"], first["r"][1]["to"], first["r"][1]["ok"]), ("R1", "B", True), first)
        status, j = self.admin_post("a", {"node": "B", "from": "R1", "idle_s": 0})
        self.assertEqual((status, j["from"], j["to"], j["ok"]), (200, "R1", "B", True), j)
        # ptpctl: the admin port unreachable is exit 3.
        out = subprocess.run([PTPCTL, "--admin", "127.0.0.1:18799", "diagnose", "B"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 3, out)

    def test_in_band_hop_probe_is_authenticated(self):
        url = "http://127.0.0.1:18716/v1/interconn/chan/invoke"  # R1's PTP port
        body = json.dumps({"node": "B", "idle_s": 0}).encode()
        r = curl(url, ptp_headers("A", "R1", uri="ptp/diag/hop", token="v1.99999999999.00"), body, http="h2c")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000403", r)
        r = curl(url, ptp_headers("A", "R1", uri="ptp/diag/hop"), b"{not json", http="h2c")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000400", r)
        r = curl(url, ptp_headers("A", "R1", uri="ptp/diag/hop"), body, http="h2c")
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual((j["from"], j["to"], j["next"], j["ok"]), ("R1", "B", "", True), j)
        self.assertEqual(j["largest_body"], 64 * MIB)  # R1's own limit: the in-band ask named none

    def test_only_a_key_wrong_at_b_fails_at_b(self):
        # B refuses A's token but accepts R1's: the hops to B pass, B's own probe (asked by A
        # in-band) is refused at B.
        self.restart("b", [('A: "demo-only-secret-A-do-not-use-in-production"', 'A: "a-wrong-key-for-A-at-B-0000000"')],
                     name="b-wrong-a-key.yaml")
        try:
            hop = self.assert_failing(self.diagnose("B", "--uri", "ptp/echo", "--idle", "0"), 2, "B", "", "auth")
            self.assertIn("E0000000403", hop["reason"])
            self.assertIn("at node B", hop["reason"])
        finally:
            self.restart("b")

    def test_no_route_and_max_body(self):
        # A sends unknown nodes to R1 (default_route); R1 has no route to X.
        hop = self.assert_failing(self.diagnose("X", "--idle", "0", "--max-body", "65536"), 1, "R1", "", "route")
        self.assertIn("E0000000618", hop["reason"])
        self.assertEqual(self.diagnose("X", "--idle", "0")[1]["hops"][0]["largest_body"], 8 * MIB)
        rc, j, err = self.diagnose("R1", "--idle", "0", "--max-body", "65536")
        self.assertEqual((rc, j["hops"][0]["largest_body"], j["hops"][0]["max_body"]), (0, 65536, 65536), j)

    def test_routing_loop(self):
        # Both routers send unknown nodes to each other: each hop works, the route loops.
        self.restart("r1", [("log: {level: info}", "default_route: R2\nlog: {level: info}")], name="r1-loop.yaml")
        self.restart("r2", [("log: {level: info}", "default_route: R1\nlog: {level: info}")], name="r2-loop.yaml")
        try:
            hop = self.assert_failing(self.diagnose("X", "--idle", "0", "--max-body", "65536"), 2, "R2", "R1", "route")
            self.assertEqual(hop["reason"], "routing loop: R2 sends traffic for X back to R1")
        finally:
            self.restart("r1")
            self.restart("r2")

    def test_grpc_and_http1_peers(self):
        peer = '"127.0.0.1:18716", protocol: http2'
        try:
            for protocol in ("grpc", "http1"):
                self.restart("a", [(peer, f'"127.0.0.1:18716", protocol: {protocol}')], name=f"a-{protocol}.yaml")
                # Up to A's limit (8 MiB): an echo of exactly limits.max_body_bytes comes back
                # over gRPC too, whose answer is a framed message with fields besides the body.
                rc, j, err = self.diagnose("R1", "--idle", "1")
                self.assertEqual(rc, 0, (protocol, j, err))
                (hop,) = j["hops"]
                self.assertEqual((hop["auth"]["ok"], hop["largest_body"]), (True, 8 * MIB), (protocol, hop))
                # HTTP/1.1 connections are not probed for idle survival.
                self.assertEqual(hop["idle"]["survived"], True if protocol == "grpc" else None, (protocol, hop))
        finally:
            self.restart("a")

    def routes(self, node, *args):
        return subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{ADMIN[node]}", "routes", *args],
                              capture_output=True, text=True, timeout=30)

    def test_routes_table_and_decisions(self):
        # ptpctl routes: the effective table of each node's current config (GET /routes).
        out = self.routes("r1", "--json")
        self.assertEqual(out.returncode, 0, out)
        j = json.loads(out.stdout)
        self.assertEqual((j["node_id"], j["router"]), ("R1", True))
        by_node = {p["node_id"]: p for p in j["peers"]}
        self.assertEqual((by_node["C"]["via"], by_node["C"]["next_hop"], by_node["C"]["address"]),
                         ("R2", "R2", "127.0.0.1:18717"), by_node["C"])
        self.assertEqual((by_node["B"]["next_hop"], by_node["B"]["address"], by_node["B"]["protocol"]),
                         ("B", "127.0.0.1:18715", "http2"), by_node["B"])
        human = self.routes("a")
        self.assertEqual(human.returncode, 0, human)
        self.assertIn("default route: R1", human.stdout)
        self.assertRegex(human.stdout, r"R1 +- +R1 +127\.0\.0\.1:18716 +http2")
        for line in human.stdout.splitlines():
            self.assertLessEqual(len(line), 100, line)
        human = self.routes("b")
        self.assertRegex(human.stdout, r"ptp/echo\* +127\.0\.0\.1:18780 +http1 +/echo")
        # One target: where a request to it goes now.
        out = self.routes("a", "C", "--json")
        self.assertEqual(out.returncode, 0, out)
        self.assertEqual({k: json.loads(out.stdout)[k] for k in ("kind", "next_hop", "address", "route")},
                         {"kind": "peer", "next_hop": "R1", "address": "127.0.0.1:18716",
                          "route": "default:R1"})
        out = self.routes("r2", "C")
        self.assertEqual((out.returncode, out.stdout), (0, "C: next hop C at 127.0.0.1:18718 (http2), "
                                                           "route peer:C\n"))
        out = self.routes("b", "B", "--uri", "ptp/echo")
        self.assertEqual(out.returncode, 0, out)
        self.assertIn("local service ptp/echo* at 127.0.0.1:18780 (http1)", out.stdout)
        # No route at a router without a default route: exit 1 with the code and why.
        out = self.routes("r1", "X")
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("no route to X: E0000000", out.stderr)
        out = self.routes("r1", "X", "--json")
        self.assertEqual((out.returncode, json.loads(out.stderr)["kind"]), (1, "error"))  # errors: stderr

    def test_tls_hop(self):
        pki = Pki(self.topo.workdir)
        cert, key = pki.issue("r1-server", "r1.test")
        self.restart("r1", [("port: 18716}", f"port: 18716, tls: {{cert: {cert}, key: {key}}}}}")], name="r1-tls.yaml")
        try:
            peer = '"127.0.0.1:18716", protocol: http2, timeout_ms: 30000'
            self.restart("a", [(peer, peer + f", tls: {{ca: {pki.ca}}}")], name="a-tls.yaml")
            rc, j, err = self.diagnose("R1", "--idle", "0")
            self.assertEqual(rc, 0, (j, err))
            (hop,) = j["hops"]
            self.assertEqual((hop["from"], hop["to"], hop["next"]), ("A", "R1", ""), hop)
            tls = hop["tls"]
            self.assertEqual((tls["used"], tls["verified"], tls["subject"], tls["issuer"]),
                             (True, True, "CN=r1.test", "CN=ptp-test-ca"), tls)
            self.assertRegex(tls["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            # A trusting another CA: the hop fails at TLS, naming who answered and why.
            self.restart("a", [(peer, peer + f", tls: {{ca: {pki.other_ca}}}")], name="a-tls-other-ca.yaml")
            hop = self.assert_failing(self.diagnose("R1", "--idle", "0"), 0, "A", "R1", "tls")
            self.assertEqual(hop["tls"]["verified"], False)
            self.assertEqual(hop["tls"]["subject"], "CN=r1.test")
            self.assertIn("certificate", hop["reason"])
        finally:
            self.restart("a")
            self.restart("r1")


if __name__ == "__main__":
    unittest.main()
