"""Permits (docs/authorization.md "Permits") between real gateways with identities: B holds
a service A has no policy for; B's operator issues a permit to A (signed with B's node key),
A's operator adds it, and A's gateway presents it on A's requests to B, where B verifies it
with its own key and counts each use durably. A partner without policy or permit -> 614 and
nothing reaches the service; a permit limited to 3 uses allows exactly 3 calls, also across a
restart of B and with 20 concurrent callers; expired or revoked -> 614; an altered permit ->
615; a permit for another grantee -> 614; a policy that allows the call ignores the permit;
require_permit makes even allowed calls need one; on a full disk a use is refused, never
granted uncounted, and nothing is lost once there is room (B's store on a small tmpfs:
needs root)."""
import base64
import concurrent.futures
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from identity_dirs import SIGN_SCHEME, make_identity
from ptp_harness import (BIN, CRYPTO_YAML, GM, Topology, curl, fill_file_system, mint,
                         ptp_headers, small_tmpfs, wait_until)

PTPCTL = os.path.join(BIN, "ptpctl")
A_PORT, B_PORT, SVC_PORT = 18101, 18102, 18110
A_ADMIN, B_ADMIN = A_PORT + 50, B_PORT + 50
A_URL = f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"
KEY_A = "permits-test-hmac-key-of-A"
KEY_B = "permits-test-hmac-key-of-B"
TOKEN = "operator-token-for-permit-tests-0123456789"



def write_config(workdir, cred, ids, name, node, port, peer, peer_port, key, extra):
    """A gateway in signature mode with its identity, the operator credential and one pinned
    peer; `extra` is appended (local services, policies...)."""
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"""node: {{node_id: {node}, inst_id: INST_{node}, role: edge}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}, credential_file: {cred}}}
identity: {{dir: "{ids[node]}"}}
auth: {{mode: signature, node_keys: {{{node}: "{key}"}}}}
peers:
  - {{node_id: {peer}, address: "127.0.0.1:{peer_port}", root_file: "{ids[peer]}/root.crt"}}
io_threads: 2
reload_poll_ms: 100
queue: {{retry_min_ms: 100, retry_max_ms: 500}}
log: {{level: info}}
{CRYPTO_YAML}{extra}""")
    return path


def tls_to(ids, node):
    """curl's options to reach `node`'s PTP port: trust its root. Under PTP_CRYPTO=gm the
    server is not verified (-k): OpenSSL 3.0's chain check has no SM2 ID for a certificate
    an SM2 root signed (docs/security.md "Crypto profiles"); the gateways check each other's
    chains with the ID."""
    return ("-k",) if GM else ("--cacert", f"{ids[node]}/root.crt")


class Recorder(BaseHTTPRequestHandler):
    """B's service: answers 200 with the body and records every request that reaches it."""
    seen = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with Recorder.lock:
            Recorder.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Permits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ThreadingHTTPServer(("127.0.0.1", SVC_PORT), Recorder)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.topo = Topology()
        w = cls.topo.workdir
        cls.id = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in ("A", "B")}
        cls.cred = os.path.join(w, "credential")
        with open(cls.cred, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(cls.cred, 0o600)
        cls.a_path = cls.write("a", "A", A_PORT, "B", B_PORT, KEY_A, "")
        cls.b_path = os.path.join(w, "b.yaml")
        cls.write_b("")
        try:
            cls.a = cls.topo.gateway(cls.a_path)
            cls.b = cls.topo.gateway(cls.b_path)
        except BaseException:
            cls.tearDownClass()  # nothing left running when a gateway does not start
            raise

    @classmethod
    def write(cls, name, node, port, peer, peer_port, key, extra):
        services = (f"local_services:\n  - {{uri: \"svc.*\", address: \"127.0.0.1:{SVC_PORT}\", "
                    "protocol: http1, path: /svc}\n")
        return write_config(cls.topo.workdir, cls.cred, cls.id, name, node, port, peer, peer_port,
                            key, services + extra)

    @classmethod
    def write_b(cls, policy):
        # B has a policy for Z only (deny by default): A has none, unless `policy` adds one.
        # B's evidence log holds its audit records; messages are not signed here
        # (test_evidence_signatures covers that).
        cls.write("b", "B", B_PORT, "A", A_PORT, KEY_B,
                  "evidence: {sync_interval_ms: 50, sign: false, require_signature: false}\n"
                  "authorization:\n  peers:\n"
                  "    - {node: Z, interfaces: [invoke], uris: ['*']}\n" + policy)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.topo.close()
        finally:
            cls.srv.shutdown()
            cls.srv.server_close()

    def setUp(self):
        with Recorder.lock:
            Recorder.seen = []
        # Every test starts with nothing held at A.
        _, listing = self.admin(A_ADMIN, "GET", "/permits")
        for p in listing["held"]:
            self.admin(A_ADMIN, "DELETE", "/permits/" + p["id"])

    # --- helpers -------------------------------------------------------------------------
    def admin(self, port, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def issue(self, **body):
        body.setdefault("grantee", "A")
        body.setdefault("type", "service")
        body.setdefault("resource", "svc.data*")
        status, r = self.admin(B_ADMIN, "POST", "/permits", body)
        self.assertEqual(status, 200, r)
        self.assertTrue(r["permit"].startswith("ptpp1."), r)
        return r

    def hold(self, permit):
        status, r = self.admin(A_ADMIN, "POST", "/permits/held", {"permit": permit})
        self.assertEqual(status, 200, r)
        self.assertTrue(r["verified"], r)  # B's root is pinned at A: checked on adding
        return r

    def openssl_verifies(self, permit):
        """Whether the openssl command line verifies the permit's signature with B's root
        (docs/authorization.md "The format"): ECDSA P-256 with SHA-256, or SM2 with SM3 and
        the default distinguishing ID under PTP_CRYPTO=gm (identity_dirs.SIGN_SCHEME)."""
        _, payload, sig = permit.split(".")
        d = self.topo.workdir
        pub, msg, sig_file = (os.path.join(d, n) for n in ("b-pub.pem", "permit.msg", "permit.sig"))
        subprocess.run(["openssl", "x509", "-in", f"{self.id['B']}/root.crt", "-pubkey",
                        "-noout", "-out", pub], check=True, capture_output=True)
        with open(msg, "wb") as f:
            f.write(b"ptp-permit-v1\n" + unb64url(payload))
        with open(sig_file, "wb") as f:
            f.write(unb64url(sig))
        out = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
                              *SIGN_SCHEME, "-in", msg, "-sigfile", sig_file], capture_output=True)
        return out.returncode == 0 and b"Signature Verified Successfully" in out.stdout

    def uses_count(self, permit_id):
        _, listing = self.admin(B_ADMIN, "GET", "/permits")
        return next(p["uses_count"] for p in listing["issued"] if p["id"] == permit_id)

    def invoke(self, uri="svc.data1", body=b"hello", session="s-1", permit=None):
        # A's container: an hmac token from A's key; A signs the hop to B.
        h = ptp_headers("A", "B", session=session, uri=uri, token=mint("A", "B", session, key=KEY_A))
        if permit:
            h["x-ptp-permit"] = permit
        return curl(A_URL, h, body, http="h2", extra=tls_to(self.id, "A"))

    def assert_refused(self, r, code, text):
        self.assertEqual(r.headers.get("x-ptp-code"), code, r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "B", r)
        self.assertIn(text, r.headers.get("x-ptp-message", ""), r)

    def reached(self):
        with Recorder.lock:
            return len(Recorder.seen)

    # --- tests ---------------------------------------------------------------------------
    def test_1_no_policy_and_no_permit_is_refused_and_reaches_nothing(self):
        r = self.invoke()
        self.assert_refused(r, "E0000000614", "node A has no authorization policy at node B")
        self.assertEqual(self.reached(), 0)

    def test_2_three_uses_allow_exactly_three_calls(self):
        p = self.issue(uses=3)
        # B signed it with its node key (SM2 under gm): openssl verifies it with B's root,
        # and not once one payload byte changed.
        self.assertTrue(self.openssl_verifies(p["permit"]), p)
        prefix, payload, sig = p["permit"].split(".")
        flipped = bytearray(unb64url(payload))
        flipped[-2] ^= 1
        self.assertFalse(self.openssl_verifies(".".join([prefix, b64url(bytes(flipped)), sig])))
        self.hold(p["permit"])
        for i in range(3):
            r = self.invoke(body=b"call %d" % i)
            self.assertEqual((r.status, r.body), (200, b"call %d" % i), r)
        r = self.invoke(body=b"fourth")
        self.assert_refused(r, "E0000000614", f"permit {p['id']} is used up (3 of 3 uses)")
        self.assertEqual(self.reached(), 3)
        self.assertEqual(self.uses_count(p["id"]), 3)
        # B's service never sees the permit itself.
        self.assertTrue(all("x-ptp-permit" not in h for _, h in Recorder.seen))
        # Another uri than the permit's resource: refused, not counted.
        r = self.invoke(uri="svc.other")
        self.assert_refused(r, "E0000000614", "node A has no authorization policy")
        self.assertEqual(self.reached(), 3)

    def test_3_uses_survive_a_restart_of_the_holder(self):
        p = self.issue(uses=2, resource="svc.restart")
        self.hold(p["permit"])
        r = self.invoke(uri="svc.restart", body=b"before")
        self.assertEqual((r.status, r.body), (200, b"before"), r)
        # B stops (SIGTERM) and starts again from the same data directory.
        self.assertEqual(self.b.stop(), 0)
        type(self).b = self.topo.gateway(self.b_path)
        self.assertEqual(self.uses_count(p["id"]), 1)
        r = self.invoke(uri="svc.restart", body=b"after")
        self.assertEqual((r.status, r.body), (200, b"after"), r)
        r = self.invoke(uri="svc.restart", body=b"one too many")
        self.assert_refused(r, "E0000000614", "is used up (2 of 2 uses)")
        self.assertEqual(self.reached(), 2)

    def test_4_concurrent_callers_get_exactly_the_uses(self):
        p = self.issue(uses=5, resource="svc.busy")
        self.hold(p["permit"])
        tokens = [mint("A", "B", f"s-c{i}", key=KEY_A) for i in range(20)]

        def call(i):
            h = ptp_headers("A", "B", session=f"s-c{i}", uri="svc.busy", token=tokens[i])
            return curl(A_URL, h, b"c%d" % i, http="h2",
                        extra=tls_to(self.id, "A"))

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(call, range(20)))
        ok = [r for r in results if r.status == 200]
        refused = [r for r in results if r.headers.get("x-ptp-code") == "E0000000614"]
        self.assertEqual((len(ok), len(refused)), (5, 15), results)
        for r in refused:
            self.assertIn("is used up (5 of 5 uses)", r.headers["x-ptp-message"], r)
        self.assertEqual(self.reached(), 5)
        self.assertEqual(self.uses_count(p["id"]), 5)

    def test_5_expired_and_revoked_permits_are_refused(self):
        now = int(time.time())
        expired = self.issue(resource="svc.old", not_before=now - 100, not_after=now - 10)
        self.hold(expired["permit"])
        # A does not present an expired permit it holds...
        r = self.invoke(uri="svc.old")
        self.assert_refused(r, "E0000000614", "node A has no authorization policy at node B")
        # ...and B refuses one presented anyway (here by A's container).
        r = self.invoke(uri="svc.old", permit=expired["permit"])
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10))
        self.assert_refused(r, "E0000000614", f"permit {expired['id']} expired at {when}")
        live = self.issue(resource="svc.revoked")
        self.hold(live["permit"])
        r = self.invoke(uri="svc.revoked", body=b"while valid")
        self.assertEqual((r.status, r.body), (200, b"while valid"), r)
        status, body = self.admin(B_ADMIN, "DELETE", "/permits/" + live["id"])
        self.assertEqual((status, body.get("revoked")), (200, True), body)
        r = self.invoke(uri="svc.revoked", body=b"after revocation")
        self.assert_refused(r, "E0000000614", f"permit {live['id']} was revoked")
        self.assertEqual(self.reached(), 1)
        _, listing = self.admin(B_ADMIN, "GET", "/permits")
        entry = next(p for p in listing["issued"] if p["id"] == live["id"])
        self.assertEqual((entry["revoked"], entry["uses_count"]), (True, 1), entry)
        # B's evidence log has the audit records: issued, revoked, refused (with the reason).
        def audit(event):
            return [r for r in self.evidence_records()
                    if r.get("kind") == "audit" and r.get("event") == event
                    and live["id"] in (r.get("permit", "") + r.get("reason", ""))]
        wait_until(lambda: audit("permit_refused"), what="B records the refused permit")
        self.assertEqual(len(audit("permit_issued")), 1)
        self.assertEqual(len(audit("permit_revoked")), 1)
        self.assertIn("was revoked", audit("permit_refused")[0]["reason"])
        # A keeps presenting the revoked permit: B records its first refusal (above), then at
        # most one a second, each counting the refusals since the previous one (before: one
        # ~250-byte record per request, at the peer's rate).
        start = time.time()
        for _ in range(30):
            r = self.invoke(uri="svc.revoked", body=b"again")
            self.assert_refused(r, "E0000000614", f"permit {live['id']} was revoked")
        time.sleep(1.1)
        r = self.invoke(uri="svc.revoked", body=b"a second later")  # its record counts them
        self.assert_refused(r, "E0000000614", f"permit {live['id']} was revoked")
        elapsed = time.time() - start

        def counted():
            return sum(1 + int(x.get("suppressed", "0")) for x in audit("permit_refused"))
        wait_until(lambda: counted() == 32, what="the records count the 32 refusals")
        self.assertLessEqual(len(audit("permit_refused")), int(elapsed) + 2,
                             [x.get("suppressed") for x in audit("permit_refused")])
        self.assertEqual(self.reached(), 1)

    def evidence_records(self):
        out = []
        d = os.path.join(self.b.data_dir, "evidence")
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name)) as f:
                out += [json.loads(line) for line in f if line.endswith("\n")]
        return out

    def test_6_altered_permit_is_615_and_another_grantees_is_614(self):
        p = self.issue(uses=1, resource="svc.x")
        prefix, payload, sig = p["permit"].split(".")
        fields = json.loads(unb64url(payload))
        fields["uses"] = 1000
        fields["resource"] = "svc.*"
        altered = ".".join([prefix, b64url(json.dumps(fields, separators=(",", ":")).encode()), sig])
        # A's operator cannot add it (B's root is pinned at A)...
        status, body = self.admin(A_ADMIN, "POST", "/permits/held", {"permit": altered})
        self.assertEqual((status, body["code"]), (400, "E0000000615"), body)
        # ...and presented anyway (by A's container), B refuses it: not signed by B.
        r = self.invoke(uri="svc.x", permit=altered)
        self.assert_refused(r, "E0000000615", f"permit {p['id']} is not signed by its holder B")
        # A permit B granted to C, presented by A.
        for_c = self.issue(grantee="C", resource="svc.*")
        status, body = self.admin(A_ADMIN, "POST", "/permits/held", {"permit": for_c["permit"]})
        self.assertEqual(status, 400, body)
        r = self.invoke(uri="svc.x", permit=for_c["permit"])
        self.assert_refused(r, "E0000000614",
                            f"permit {for_c['id']} was granted to node C, not to node A")
        r = self.invoke(uri="svc.x", permit="ptpp1.garbage")
        self.assert_refused(r, "E0000000615", "x-ptp-permit: malformed permit")
        self.assertEqual(self.reached(), 0)
        self.assertEqual(self.uses_count(p["id"]), 0)

    def test_7_a_policy_that_allows_ignores_the_permit_and_require_permit_needs_one(self):
        p = self.issue(uses=1, resource="svc.pol")
        self.hold(p["permit"])
        try:
            self.reload_b("    - {node: A, interfaces: [invoke], uris: ['svc.pol']}\n")
            for _ in range(2):
                r = self.invoke(uri="svc.pol")
                self.assertEqual(r.status, 200, r)
            self.assertEqual(self.uses_count(p["id"]), 0)  # presented, not needed, not counted
            self.reload_b("    - {node: A, interfaces: [invoke], uris: ['svc.pol'], "
                          "require_permit: true}\n")
            r = self.invoke(uri="svc.pol")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.uses_count(p["id"]), 1)
            self.admin(A_ADMIN, "DELETE", "/permits/" + p["id"])  # A drops it
            r = self.invoke(uri="svc.pol")
            self.assert_refused(r, "E0000000614", "node A needs a permit to call invoke on "
                                "service 'svc.pol' at node B (authorization: require_permit)")
            self.assertEqual(self.reached(), 3)
        finally:
            self.reload_b("")

    def test_8_ptpctl_issues_adds_lists_revokes_and_removes(self):
        def ptpctl(port, *args):
            out = subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{port}", "--credential-file",
                                  self.cred, "permits", *args], capture_output=True, timeout=30)
            return out.returncode, out.stdout.decode(), out.stderr.decode()

        code, permit, err = ptpctl(B_ADMIN, "issue", "A", "--type", "service", "--resource",
                                   "svc.cli*", "--uses", "2", "--level", "4", "--valid", "600")
        self.assertEqual(code, 0, err)
        permit = permit.strip()
        self.assertTrue(permit.startswith("ptpp1."), permit)
        self.assertIn("ptpctl permits add", err)
        permit_id = json.loads(unb64url(permit.split(".")[1]))["id"]
        code, out, err = ptpctl(A_ADMIN, "add", permit)
        self.assertEqual(code, 0, err)
        self.assertIn(f"added permit {permit_id} of node B (signature checked", out)
        r = self.invoke(uri="svc.cli1", body=b"via ptpctl")
        self.assertEqual((r.status, r.body), (200, b"via ptpctl"), r)
        code, out, err = ptpctl(B_ADMIN, "list")
        self.assertEqual(code, 0, err)
        row = next(l for l in out.splitlines() if l.startswith(permit_id))
        self.assertIn("1/2", row)
        code, out, _ = ptpctl(A_ADMIN, "list", "--json")
        self.assertIn(permit_id, [p["id"] for p in json.loads(out)["held"]])
        code, out, err = ptpctl(B_ADMIN, "revoke", permit_id)
        self.assertEqual((code, out.strip()), (0, f"revoked permit {permit_id}"), err)
        r = self.invoke(uri="svc.cli1")
        self.assert_refused(r, "E0000000614", "was revoked")
        code, out, err = ptpctl(A_ADMIN, "remove", permit_id)
        self.assertEqual(code, 0, err)
        code, _, err = ptpctl(A_ADMIN, "remove", permit_id)
        self.assertEqual(code, 1, err)
        self.assertIn("no permit", err)
        code, _, err = ptpctl(B_ADMIN, "issue", "A", "--type", "car", "--resource", "x")
        self.assertEqual(code, 1, err)
        self.assertIn("type: expected one of", err)
        code, _, err = ptpctl(B_ADMIN, "issue", "A")
        self.assertEqual(code, 2, err)

    def test_9_a_full_disk_refuses_uses_and_loses_no_count(self):
        """B's permit store on a full file system: a use that cannot be written is refused
        (614, never granted uncounted), B serves on, and once there is room again the uses
        go on and a restart finds every acknowledged one (no torn line left in the file)."""
        with small_tmpfs(os.path.join(self.topo.workdir, "permits-tmpfs"), "64k") as store:
            try:
                self.full_disk(store)
            finally:
                self.b.stop()  # it lets go of the mount

    def full_disk(self, store):
        self.assertEqual(self.b.stop(), 0)
        self.write_b(f"permits: {{store: \"{store}\"}}\n")
        type(self).b = self.topo.gateway(self.b_path)
        p = self.issue(uses=1000, resource="svc.full")
        self.hold(p["permit"])
        r = self.invoke(uri="svc.full", body=b"room")
        self.assertEqual((r.status, r.body), (200, b"room"), r)
        filler = fill_file_system(store)
        # A use or two may still fit the store file's last page; then each is refused.
        refused = None
        for i in range(100):
            r = self.invoke(uri="svc.full", body=b"full %d" % i)
            if r.status != 200:
                refused = r
                break
        self.assertIsNotNone(refused, "every use was counted on a full disk")
        self.assert_refused(refused, "E0000000614", "its use cannot be recorded at node B")
        counted, reached = self.uses_count(p["id"]), self.reached()
        for i in range(3):
            self.assert_refused(self.invoke(uri="svc.full", body=b"again %d" % i), "E0000000614",
                                "its use cannot be recorded")
        self.assertEqual((self.uses_count(p["id"]), self.reached()), (counted, reached))
        self.assertTrue(self.b.alive())
        self.assertIn("cannot count a permit use", self.b.output())
        # Room again: uses are counted; a restart replays the file whole.
        os.remove(filler)
        r = self.invoke(uri="svc.full", body=b"room again")
        self.assertEqual((r.status, r.body), (200, b"room again"), r)
        self.assertEqual(self.uses_count(p["id"]), counted + 1)
        self.assertEqual(self.b.stop(), 0)
        type(self).b = self.topo.gateway(self.b_path)
        self.assertEqual(self.uses_count(p["id"]), counted + 1)
        r = self.invoke(uri="svc.full", body=b"after restart")
        self.assertEqual((r.status, r.body), (200, b"after restart"), r)

    def reload_b(self, policy):
        def reloads():
            for line in self.b.metrics().splitlines():
                if line.startswith('ptp_config_reloads_total{result="ok"}'):
                    return float(line.split()[-1])
            return 0.0
        before = reloads()
        self.write_b(policy)
        wait_until(lambda: reloads() > before, what="B reloads its config")


class RouterJobs(unittest.TestCase):
    """Issue 15 item 3: who may start a router job at R (router_server enabled) is decided by
    R's authorization policy (router_jobs) or a router_job permit, and then, as before, by
    router_server.job_sources. A's container pushes job specs (topic rs.job, session = job
    id) through A's outbox."""
    A2, R = 18103, 18104

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        w = cls.topo.workdir
        cls.id = {n: make_identity(os.path.join(w, f"id-{n}"), n, f"INST_{n}") for n in ("A", "R")}
        cls.cred = os.path.join(w, "credential")
        with open(cls.cred, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(cls.cred, 0o600)
        cls.r_path = os.path.join(w, "r.yaml")
        cls.write_r("router_jobs: false")
        a = cls.config("a", "A", cls.A2, "R", cls.R, KEY_A, "")
        try:
            cls.a = cls.topo.gateway(a)
            cls.r = cls.topo.gateway(cls.r_path)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def config(cls, name, node, port, peer, peer_port, key, extra):
        return write_config(cls.topo.workdir, cls.cred, cls.id, name, node, port, peer, peer_port,
                            key, extra)

    @classmethod
    def write_r(cls, router_jobs):
        cls.config("r", "R", cls.R, "A", cls.A2, "permits-test-hmac-key-of-R",
                   "router_server: {role: A, workers: 1, job_timeout_s: 30, job_sources: [A]}\n"
                   "authorization:\n  peers:\n"
                   f"    - {{node: A, interfaces: [push], topics: ['rs.*'], {router_jobs}}}\n")

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def container(self, op, session, body):
        h = ptp_headers("A", "R" if op == "push" else "A", session=session, uri=None,
                        token=mint("A", "R" if op == "push" else "A", session, key=KEY_A))
        h.pop("x-ptp-version")
        h["content-type"] = "application/json"
        return curl(f"https://127.0.0.1:{self.A2}/v1/interconn/chan/{op}", h,
                    json.dumps(body).encode(), extra=tls_to(self.id, "A"))

    def push_spec(self, job):
        spec = {"job_id": job, "note": "a spec the test does not complete"}
        r = self.container("push", job, {"topic": "rs.job",
                                         "payload": base64.b64encode(json.dumps(spec).encode()).decode()})
        self.assertEqual(r.status, 200, r)

    def job_known(self, job):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.R + 50}/rs/jobs/{job}", timeout=5) as r:
                return r.status == 200
        except urllib.error.HTTPError:
            return False

    def refusals(self, reason):
        for line in self.r.metrics().splitlines():
            if line.startswith(f'ptp_authorization_refusals_total{{reason="{reason}"}}'):
                return float(line.split()[-1])
        return 0.0

    def admin(self, port, method, path, body=None):
        return Permits.admin(self, port, method, path, body)

    def test_router_jobs_by_policy_and_by_permit(self):
        # The policy lets A push to rs.* but not start router jobs: the spec is refused at R
        # and comes back to A's container as a dead letter.
        self.push_spec("job-1")
        wait_until(lambda: self.refusals("router_jobs") >= 1, what="R refuses the job spec")
        r = self.container("pop", "job-1", {"topic": "ptp.dead-letter", "timeout": "5s"})
        md = r.json()["metadata"]
        self.assertEqual(md["dead-letter-code"], "E0000000614", md)
        self.assertIn("node A needs a permit to start router job 'job-1' at node R "
                      "(authorization: router_jobs is false)", md["dead-letter-reason"])
        self.assertFalse(self.job_known("job-1"))
        # A router_job permit for jobs "job-2*", held by A: A's outbox presents it.
        status, p = self.admin(self.R + 50, "POST", "/permits",
                               {"grantee": "A", "type": "router_job", "resource": "job-2*", "uses": 1})
        self.assertEqual(status, 200, p)
        status, body = self.admin(self.A2 + 50, "POST", "/permits/held", {"permit": p["permit"]})
        self.assertEqual(status, 200, body)
        self.push_spec("job-2a")
        wait_until(lambda: self.job_known("job-2a"), what="R starts job job-2a")
        # Its one use is spent: the next job is refused again.
        self.push_spec("job-2b")
        wait_until(lambda: self.refusals("permit") >= 1, what="R refuses the used-up permit")
        self.assertFalse(self.job_known("job-2b"))
        # router_jobs: true in the policy: no permit needed.
        before = self.job_known("job-3")
        self.write_r("router_jobs: true")
        wait_until(lambda: self._reloaded(), what="R reloads")
        self.push_spec("job-3")
        wait_until(lambda: self.job_known("job-3"), what="R starts job job-3")
        self.assertFalse(before)

    def _reloaded(self):
        for line in self.r.metrics().splitlines():
            if line.startswith('ptp_config_reloads_total{result="ok"}'):
                return float(line.split()[-1]) >= 2
        return False


if __name__ == "__main__":
    unittest.main()
