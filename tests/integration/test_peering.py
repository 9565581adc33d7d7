"""The peering handshake end to end (docs/peering.md): two gateways started from identities
(made with `ptpctl identity init`) and no peers in their configuration. A invites B,
B joins through its admin API, and the weave/ack exchange over TLS records each in the
other's dynamic peer table; then invoke and push work both ways over mTLS; both restarted,
they are still peered and nothing is redone. A reused or expired invitation -> 604, a
certificate from another root -> 615, a weave body with a private key -> refused with the
reason, a body in the reference implementation's Route shape -> accepted; a disabled peer ->
606 both ways (re-enabled: works), an expired peering -> 605 both ways."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from identity_dirs import GM, sign_with_node_key
from ptp_harness import BIN, CRYPTO_YAML, KEYS, Topology, curl, ptp_headers, wait_until

PTPCTL = os.path.join(BIN, "ptpctl")

A_PORT, B_PORT, C_PORT = 17901, 17902, 17903
A_ADMIN, B_ADMIN = 17951, 17952
ECHO_A, ECHO_B = 17991, 17992
TOKEN = "operator-token-for-tests-only-0123456789"

topo = None
ids = {}
gw = {}
CFG = {}


def make_identity(directory, node_id, inst, port):
    """The identity directory of `ptpctl identity init` (node.key, root.crt, tls.key,
    tls.crt = leaf + root, identity.json with the announced address)."""
    subprocess.run([PTPCTL, "identity", "init", "--node-id", node_id, "--inst-id", inst,
                    "--address", f"127.0.0.1:{port}", "--dir", directory,
                    *(["--algorithm", "sm2"] if GM else [])],
                   check=True, capture_output=True, timeout=30)
    return directory


def read(directory, name):
    with open(os.path.join(directory, name)) as f:
        return f.read()


def root_fp(pem):
    body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def first_cert(pem):
    end = "-----END CERTIFICATE-----"
    return pem[: pem.index(end) + len(end)] + "\n"


def sign(directory, text):
    """The node key's signature by the openssl command line (SM2 under PTP_CRYPTO=gm)."""
    return sign_with_node_key(directory, text.encode())


def config(node, inst, port, admin, echo, workdir, identity, extra=""):
    cred = os.path.join(workdir, f"credential-{node}")
    with open(cred, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(cred, 0o600)
    text = f"""node: {{node_id: {node}, inst_id: {inst}, role: edge}}
listen: {{address: 127.0.0.1, port: {port}, tls: {{cert: {identity}/tls.crt, key: {identity}/tls.key}}}}
admin: {{address: 127.0.0.1, port: {admin}, credential_file: {cred}}}
io_threads: 2
identity: {{dir: {identity}}}
auth:
  enabled: true
  node_keys: {{A: "{KEYS["A"]}", B: "{KEYS["B"]}"}}
local_services:
  - {{uri: "ptp/echo*", address: "127.0.0.1:{echo}", protocol: http1, path: /echo}}
queue: {{store: embedded, path: data/{node}, retry_min_ms: 100, retry_max_ms: 500}}
peering: {{expiry_days: 30{extra}}}
{CRYPTO_YAML}"""
    path = os.path.join(workdir, f"{node.lower()}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def admin(node, method, path, body=None, token=TOKEN):
    port = A_ADMIN if node == "A" else B_ADMIN
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def ptpctl(node, *args):
    """The operator's command against a gateway's admin port, with its credential."""
    port = A_ADMIN if node == "A" else B_ADMIN
    cred = os.path.join(topo.workdir, f"credential-{node}")
    out = subprocess.run([PTPCTL, "--admin", f"127.0.0.1:{port}", "--credential-file", cred, *args],
                         capture_output=True, timeout=30)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def peer(node, other):
    status, body = admin(node, "GET", "/peers", token=None)
    assert status == 200, body
    for p in body["peers"]:
        if p["node_id"] == other:
            return p
    return None


def weave(body, port=A_PORT, http="1.1"):
    """POSTs a weave body to a gateway's PTP port over TLS (no certificate check: the test
    is the client here)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = curl(f"https://127.0.0.1:{port}/v1/interconn/net/weave",
             {"content-type": "application/json"}, raw, http=http, extra=("-k",))
    return r.status, r.json()


def invitation_fields(text):
    payload = text[len("ptpinv1."):]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def route_body(joiner_dir, joiner, inviter, code, address, extra=None, host_crt=None):
    """A weave body as the joiner signs it (DESIGN: proof and canonical text)."""
    root = read(joiner_dir, "root.crt")
    fp = root_fp(root)
    proof = hmac.new(code.encode(), f"ptp-weave-v1\n{inviter}\n{joiner}\n{fp}".encode(),
                     hashlib.sha256).hexdigest()
    body = {"node_id": joiner, "inst_id": "INST_" + joiner, "name": joiner,
            "inst_name": "INST_" + joiner, "address": address, "host_root": root,
            "host_crt": host_crt if host_crt is not None else read(joiner_dir, "tls.crt"),
            "auth_code": proof, "expire_at": int(time.time()) + 86400, "status": 16,
            "version": "1",
            "signature": sign(joiner_dir,
                              f"ptp-weave-v1\n{inviter}\n{joiner}\n{address}\n{fp}\n{proof}")}
    body.update(extra or {})
    return body


def container_headers(node, target, session):
    """What a container sends to its own gateway for the queue interfaces."""
    h = ptp_headers(node, target, session=session, uri=None)
    h.pop("x-ptp-version")
    return h


def invoke(via_port, source, target, session="s-peer", uri="ptp/echo"):
    h = ptp_headers(source, target, session=session, uri=uri,
                    token=None)
    return curl(f"https://127.0.0.1:{via_port}/v1/interconn/chan/invoke", h, b"hello peer",
                http="h2", extra=("-k",))


def start(node):
    port = A_PORT if node == "A" else B_PORT
    gw[node] = topo.gateway(CFG[node], data_name=node)
    return gw[node]


def stop(node):
    g = gw.pop(node)
    assert g.stop() == 0, g.output()[-3000:]
    topo.procs.remove(g)


def setUpModule():
    global topo
    topo = Topology()
    work = topo.workdir
    ids["A"] = make_identity(os.path.join(work, "id-A"), "A", "INST_A", A_PORT)
    ids["B"] = make_identity(os.path.join(work, "id-B"), "B", "INST_B", B_PORT)
    ids["C"] = make_identity(os.path.join(work, "id-C"), "C", "INST_C", C_PORT)
    ids["X"] = make_identity(os.path.join(work, "id-X"), "C", "INST_X", C_PORT)  # another root for C
    CFG["A"] = config("A", "INST_A", A_PORT, A_ADMIN, ECHO_A, work, ids["A"])
    CFG["B"] = config("B", "INST_B", B_PORT, B_ADMIN, ECHO_B, work, ids["B"])
    try:
        topo.echo(ECHO_A)
        topo.echo(ECHO_B)
        start("A")
        start("B")
    except Exception:
        for p in reversed(topo.procs):  # tearDownModule does not run after this
            p.stop()
        raise


def tearDownModule():
    topo.close()


class Peering(unittest.TestCase):
    def test_01_before_any_invitation(self):
        # A private key in the body: refused, with the reason, before anything else.
        s, body = weave({"node_id": "B", "host_key": "-----BEGIN PRIVATE KEY-----..."})
        self.assertEqual(body["code"], "E0000000400", body)
        self.assertIn("private key", body["message"])
        self.assertIn("host_key", body["message"])
        s, body = weave({"node_id": "B", "guest_key": "k"}, http="h2")
        self.assertEqual(body["code"], "E0000000400", body)
        # No invitation: 604 (cheap: no certificate is looked at).
        s, body = weave({"node_id": "B", "host_root": "garbage"})
        self.assertEqual(body["code"], "E0000000604", body)
        # Too large: refused before it is read.
        s, body = weave(b"{" + b" " * (70 << 10) + b"}")
        self.assertEqual(s, 413)
        # Not JSON.
        s, body = weave(b"not json", http="h2")
        self.assertEqual(body["code"], "E0000000400", body)
        # The admin routes that change things need the credential.
        s, body = admin("A", "POST", "/peers/invite", {"node_id": "B"}, token=None)
        self.assertIn(s, (401, 403), body)
        s, body = admin("A", "POST", "/peers/invite", {"node_id": "B"}, token="wrong")
        self.assertIn(s, (401, 403), body)

    def test_02_invite_then_join(self):
        s, inv = admin("A", "POST", "/peers/invite", {"node_id": "B", "ttl_s": 600})
        self.assertEqual(s, 200, inv)
        self.assertTrue(inv["invitation"].startswith("ptpinv1."))
        fields = invitation_fields(inv["invitation"])
        self.assertEqual(fields["inviter"], "A")
        self.assertEqual(fields["for"], "B")
        self.assertEqual(fields["root_fp"], root_fp(read(ids["A"], "root.crt")))
        self.assertEqual(fields["address"], f"127.0.0.1:{A_PORT}")
        Peering.invitation = inv["invitation"]
        s, joined = admin("B", "POST", "/peers/join", {"invitation": inv["invitation"]})
        self.assertEqual(s, 200, joined)
        self.assertEqual(joined["node_id"], "A")
        wait_until(lambda: (peer("B", "A") or {}).get("state") == "active", 10, "B records A")
        pa = peer("A", "B")
        self.assertEqual(pa["state"], "active")
        self.assertEqual(pa["source"], "dynamic")
        self.assertEqual(pa["root_fp"], "sha256:" + root_fp(read(ids["B"], "root.crt")))
        self.assertEqual(pa["address"], f"127.0.0.1:{B_PORT}")
        self.assertEqual(pa["auth"], "signature")
        pb = peer("B", "A")
        self.assertEqual(pb["root_fp"], "sha256:" + root_fp(read(ids["A"], "root.crt")))
        self.assertGreater(pb["expires_at"], time.time() + 29 * 86400)
        # The table is a file of the data directory, 0600.
        st = os.stat(os.path.join(gw["A"].data_dir, "peering.json"))
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_03_reused_code(self):
        s, body = admin("B", "POST", "/peers/join", {"invitation": Peering.invitation})
        self.assertEqual(body.get("code"), "E0000000604", body)
        self.assertIn("used", body["message"])

    def test_04_expired_code_and_other_root(self):
        s, inv = admin("A", "POST", "/peers/invite", {"node_id": "C", "ttl_s": 1})
        self.assertEqual(s, 200, inv)
        code = invitation_fields(inv["invitation"])["code"]
        time.sleep(2.1)
        s, body = weave(route_body(ids["C"], "C", "A", code, f"127.0.0.1:{C_PORT}"))
        self.assertEqual(body["code"], "E0000000604", body)
        self.assertIn("expired", body["message"])
        s, inv = admin("A", "POST", "/peers/invite", {"node_id": "C"})
        code = invitation_fields(inv["invitation"])["code"]
        # C's TLS certificate, but a root of another key: the chain does not hold.
        bad = route_body(ids["X"], "C", "A", code, f"127.0.0.1:{C_PORT}",
                         host_crt=read(ids["C"], "tls.crt"))
        s, body = weave(bad)
        self.assertEqual(body["code"], "E0000000615", body)
        self.assertIn("not issued by host_root", body["message"])
        # A wrong proof of the code: 615 too.
        s, body = weave(route_body(ids["C"], "C", "A", "0" * 64, f"127.0.0.1:{C_PORT}"))
        self.assertEqual(body["code"], "E0000000615", body)
        # A signature by another key.
        forged = route_body(ids["C"], "C", "A", code, f"127.0.0.1:{C_PORT}")
        forged["signature"] = sign(ids["X"], "something else")
        s, body = weave(forged)
        self.assertEqual(body["code"], "E0000000615", body)
        # None of them used the invitation: the reference implementation's Route shape
        # (extra fields) is accepted with it.
        ref = route_body(ids["C"], "C", "A", code, f"127.0.0.1:{C_PORT}",
                         extra={"describe": "a platform", "guest_root": "", "guest_crt": "",
                                "host_key": "", "status": 16, "version": "1.2.0",
                                "extra": {"k": "v"}, "create_at": 1, "update_at": 2})
        s, body = weave(ref, http="h2")
        self.assertEqual(s, 200, body)
        self.assertEqual(body["code"], "E0000000000", body)
        self.assertEqual(body["node_id"], "A")
        self.assertEqual(peer("A", "C")["state"], "active")
        s, body = admin("A", "DELETE", "/peers/C")
        self.assertEqual(s, 200, body)
        self.assertIsNone(peer("A", "C"))

    def test_05_invoke_and_push_both_ways(self):
        # The recorded root is pinned for B's connections: a request claiming B that comes
        # without B's certificate is refused (identity binding, over the dynamic peer).
        r = invoke(A_PORT, "B", "A")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000615", r)
        for src, dst, port in (("A", "B", A_PORT), ("B", "A", B_PORT)):
            r = invoke(port, src, dst)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"hello peer")
        for src, dst, port in (("A", "B", A_PORT), ("B", "A", B_PORT)):
            # A container pushes at its own gateway; the outbox delivers it over mTLS.
            h = container_headers(src, dst, "s-push")
            h["content-type"] = "application/json"
            body = json.dumps({"topic": "t1", "payload": base64.b64encode(b"queued " + src.encode()).decode()})
            r = curl(f"https://127.0.0.1:{port}/v1/interconn/chan/push", h, body.encode(),
                     http="h2", extra=("-k",))
            self.assertEqual(r.status, 200, r)
            pop_port = B_PORT if dst == "B" else A_PORT
            h = container_headers(dst, dst, "s-push")
            h["content-type"] = "application/json"
            r = curl(f"https://127.0.0.1:{pop_port}/v1/interconn/chan/pop", h,
                     json.dumps({"topic": "t1", "timeout": "10s"}).encode(), http="h2",
                     extra=("-k",))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(base64.b64decode(r.json()["payload"]), b"queued " + src.encode(), r)

    def test_06_disabled_both_ways(self):
        rc, out, err = ptpctl("A", "peers", "disable", "B")
        self.assertEqual(rc, 0, err)
        self.assertEqual(peer("A", "B")["state"], "disabled")
        r = invoke(A_PORT, "A", "B")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000606", r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
        r = invoke(B_PORT, "B", "A")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000606", r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
        rc, out, err = ptpctl("A", "peers", "enable", "B")
        self.assertEqual(rc, 0, err)
        self.assertEqual(invoke(A_PORT, "A", "B").status, 200)
        self.assertEqual(invoke(B_PORT, "B", "A").status, 200)

    def test_07_expired_both_ways(self):
        s, body = admin("A", "POST", "/peers/B/renew", {"seconds": -10})
        self.assertEqual(s, 200, body)
        r = invoke(A_PORT, "A", "B")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000605", r)
        r = invoke(B_PORT, "B", "A")
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000605", r)
        self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
        self.assertEqual(peer("A", "B")["state"], "expired")
        s, body = admin("A", "POST", "/peers/B/renew", {"days": 30})
        self.assertEqual(s, 200, body)
        self.assertEqual(invoke(A_PORT, "A", "B").status, 200)

    def test_08_restart_keeps_the_peering(self):
        before = {n: peer(n, "B" if n == "A" else "A") for n in ("A", "B")}
        stop("A")
        stop("B")
        start("A")
        start("B")
        for n in ("A", "B"):
            self.assertEqual(peer(n, "B" if n == "A" else "A"), before[n])
        rc, out, err = ptpctl("B", "peers", "list")
        self.assertEqual(rc, 0, err)
        row = next(l for l in out.splitlines() if l.startswith("A "))
        for word in ("active", "dynamic", "signature", f"127.0.0.1:{A_PORT}"):
            self.assertIn(word, row)
        self.assertEqual(invoke(A_PORT, "A", "B").status, 200)
        self.assertEqual(invoke(B_PORT, "B", "A").status, 200)
        # Nothing redone: no weave or ack in the new logs.
        for n in ("A", "B"):
            log = gw[n].output()
            self.assertNotIn("weave accepted", log)
            self.assertNotIn("ack accepted", log)

    def test_09_platform_refresh(self):
        # A platform writes a peer (its root; never a private key) and this node's address.
        body = {"node_id": "C", "inst_id": "INST_C", "address": f"127.0.0.1:{C_PORT}",
                "host_root": read(ids["C"], "root.crt"), "expire_at": int(time.time()) + 3600}
        s, out = admin("B", "POST", "/v1/interconn/net/refresh", dict(body, host_key="k"))
        self.assertEqual(s, 400, out)
        self.assertIn("private key", out["message"])
        s, out = admin("B", "POST", "/v1/interconn/net/refresh", body, token=None)
        self.assertIn(s, (401, 403), out)
        s, out = admin("B", "POST", "/v1/interconn/net/refresh",
                       dict(body, host_root=read(ids["C"], "tls.crt")))
        self.assertEqual(out.get("code"), "E0000000615", out)
        s, out = admin("B", "POST", "/v1/interconn/net/refresh", body)
        self.assertEqual(s, 200, out)
        pc = peer("B", "C")
        self.assertEqual((pc["state"], pc["source"]), ("active", "dynamic"))
        self.assertEqual(pc["root_fp"], "sha256:" + root_fp(read(ids["C"], "root.crt")))
        s, out = admin("B", "POST", "/v1/interconn/node/refresh",
                       {"node_id": "B", "host_key": "-----BEGIN PRIVATE KEY-----"})
        self.assertEqual(s, 400, out)
        self.assertIn("identity", out["message"])
        s, out = admin("B", "POST", "/v1/interconn/node/refresh",
                       {"node_id": "B", "address": f"127.0.0.1:{B_PORT}"})
        self.assertEqual(s, 200, out)
        s, out = admin("B", "DELETE", "/peers/C")
        self.assertEqual(s, 200, out)

    def test_10_held_for_approval(self):
        # peering.auto_approve: false (applies on reload): a valid weave is recorded pending,
        # not routed, until the operator approves it.
        with open(CFG["A"]) as f:
            text = f.read()
        with open(CFG["A"], "w") as f:
            f.write(text.replace("peering: {expiry_days: 30", "peering: {auto_approve: false, expiry_days: 30"))
        s, out = admin("A", "POST", "/reload", {})
        self.assertEqual(s, 200, out)
        s, inv = admin("A", "POST", "/peers/invite", {"node_id": "C"})
        code = invitation_fields(inv["invitation"])["code"]
        s, body = weave(route_body(ids["C"], "C", "A", code, f"127.0.0.1:{C_PORT}"))
        self.assertEqual(body["code"], "E0000000000", body)
        self.assertEqual(body["state"], "pending")
        self.assertEqual(peer("A", "C")["state"], "pending")
        r = invoke(A_PORT, "A", "C")
        self.assertNotEqual(r.status, 200, r)
        rc, out, err = ptpctl("A", "peers", "approve", "C")
        self.assertEqual(rc, 0, err)
        self.assertEqual(peer("A", "C")["state"], "active")


if __name__ == "__main__":
    unittest.main(verbosity=2)
