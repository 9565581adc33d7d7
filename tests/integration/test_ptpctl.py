"""ptpctl against a real gateway (docs/ptpctl.md): status (live/ready, --json, exit 3 when
the admin port is closed), reload (a mutating route: the operator token from
--credential-file or the gateway's --config; the gateway's refusal shown with exit 1),
usage errors (exit 2); identity init|show|renew-tls (key files 0600, never overwritten, the
chain checked by `openssl verify`, the fingerprint by `openssl x509`)."""
import hashlib
import http.server
import json
import os
import stat
import subprocess
import tempfile
import threading
import unittest

from ptp_harness import BIN, GATEWAY, Topology

PTPCTL = os.path.join(BIN, "ptpctl")
LISTEN, ADMIN = 17502, 17552
TOKEN = "ptpctl-test-token-0123456789abcdef"


def gateway_config(topo):
    cred = os.path.join(topo.workdir, "admin.token")
    with open(cred, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(cred, 0o600)
    path = os.path.join(topo.workdir, "gw.yaml")
    with open(path, "w") as f:
        f.write("node: {node_id: A, inst_id: INST_A}\n"
                f"listen: {{address: 127.0.0.1, port: {LISTEN}}}\n"
                f"admin: {{port: {ADMIN}, credential_file: admin.token}}\n"
                "auth: {enabled: true, node_keys: {A: \"demo-only-secret-A-do-not-use-in-production\"}}\n")
    return path, cred


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ptpctl(*args):
    return subprocess.run([PTPCTL, *args], capture_output=True, text=True, timeout=30)


class RecordingAdmin(http.server.ThreadingHTTPServer):
    """Stands in for the peer routes of the admin port (served by gateway/peering) to check
    the requests ptpctl's peers commands send and how it shows the answers: each request is
    recorded and answered with the next canned (status, JSON) reply."""

    def __init__(self, port):
        self.requests, self.replies = [], []

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one(h):
                n = int(h.headers.get("Content-Length") or 0)
                body = h.rfile.read(n).decode() if n else ""
                self.requests.append((h.command, h.path, h.headers.get("Authorization"), body))
                status, answer = self.replies.pop(0)
                data = json.dumps(answer).encode()
                h.send_response(status)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data)

            do_GET = do_POST = do_DELETE = handle_one

            def log_message(h, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class PeersCommands(unittest.TestCase):
    def test_requests_and_output(self):
        admin = RecordingAdmin(ADMIN + 1)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                cred = os.path.join(tmp, "t")
                with open(cred, "w") as f:
                    f.write(TOKEN + "\n")
                base = ["--admin", f"127.0.0.1:{ADMIN + 1}", "--credential-file", cred]
                far = 4102444800  # 2100-01-01
                peers = [{"node_id": "B", "state": "active", "dynamic": True, "auth": "signature",
                          "address": "127.0.0.1:17999", "expires_at": far, "root_fp": "ab" * 32},
                         {"node_id": "a-very-long-node-identifier-0123456789", "source": "yaml",
                          "address": "peer.example.internal.long-domain-name.example:9300"},
                         {"node_id": "C", "source": "yaml", "address": "10.0.0.2:9300",
                          "addresses": ["10.0.0.1:9300", "10.0.0.2:9300"]}]
                cases = [
                    (["peers", "list"], (200, peers), ("GET", "/peers", None),
                     ["B", "active", "dynamic", "signature", "2100-01-01", "sha256:abab",
                      "10.0.0.2:9300 (2/2)"]),
                    (["peers", "invite", "B", "--ttl", "600"],
                     (200, {"invitation": "ptpinv1.eyJ2IjoxfQ", "expire_at": far}),
                     ("POST", "/peers/invite", {"node_id": "B", "ttl_s": 600}), ["ptpinv1.eyJ2IjoxfQ\n"]),
                    (["peers", "join", "ptpinv1.eyJ2IjoxfQ"], (200, {"node_id": "A", "state": "pending"}),
                     ("POST", "/peers/join", {"invitation": "ptpinv1.eyJ2IjoxfQ"}), ["joined A: state pending"]),
                    (["peers", "disable", "B"], (200, {"code": "E0000000000"}),
                     ("POST", "/peers/B/disable", None), ["peer B disabled"]),
                    (["peers", "enable", "B"], (200, {}), ("POST", "/peers/B/enable", None), ["peer B enabled"]),
                    (["peers", "approve", "B"], (200, {}), ("POST", "/peers/B/approve", None), ["approved"]),
                    (["peers", "renew", "B", "--days", "30"], (200, {"expires_at": far}),
                     ("POST", "/peers/B/renew", {"days": 30}), ["renewed until 2100-01-01"]),
                    (["peers", "remove", "B"], (200, {}), ("DELETE", "/peers/B", None), ["peer B removed"]),
                ]
                for args, reply, (method, path, body), shown in cases:
                    admin.replies.append(reply)
                    out = ptpctl(*base, *args)
                    self.assertEqual(out.returncode, 0, (args, out))
                    m, p, auth, sent = admin.requests.pop()
                    self.assertEqual((m, p), (method, path), args)
                    self.assertEqual(auth, "Bearer " + TOKEN)
                    self.assertEqual(json.loads(sent) if sent else None, body, args)
                    for text in shown:
                        self.assertIn(text, out.stdout, args)
                    for line in out.stdout.splitlines():
                        self.assertLessEqual(len(line), 100, line)
                # A refusal: the gateway's code and message, exit 1; --json passes it through.
                admin.replies.append((404, {"code": "E0000000618", "message": "no peer X"}))
                out = ptpctl(*base, "peers", "disable", "X")
                self.assertEqual(out.returncode, 1)
                self.assertEqual(out.stderr, "ptpctl: E0000000618 no peer X (HTTP 404)\n")
                admin.replies.append((200, peers))
                out = ptpctl(*base, "peers", "list", "--json")
                self.assertEqual(json.loads(out.stdout), peers)
                # A node id is one path segment.
                admin.replies.append((200, {}))
                ptpctl(*base, "peers", "remove", "x/../y")
                self.assertEqual(admin.requests.pop()[1], "/peers/x%2F..%2Fy")
        finally:
            admin.shutdown()
            admin.server_close()


class Ptpctl(unittest.TestCase):
    def test_status_reload_and_errors(self):
        with Topology() as topo:
            cfg, cred = gateway_config(topo)
            topo.gateway(cfg)
            admin = f"127.0.0.1:{ADMIN}"
            out = ptpctl("--admin", admin, "status")
            self.assertEqual(out.returncode, 0, out)
            self.assertEqual(out.stdout, f"gateway at {admin}: live, ready\n")
            out = ptpctl("status", "--config", cfg, "--json")  # the port from the config
            self.assertEqual(out.returncode, 0, out)
            self.assertEqual(json.loads(out.stdout), {"admin": admin, "live": True, "ready": True})

            # A mutating command without the token: the gateway's refusal, exit 1.
            out = ptpctl("--admin", admin, "reload")
            self.assertEqual(out.returncode, 1, out)
            self.assertIn("E0000000403", out.stderr)
            self.assertIn("(HTTP 401)", out.stderr)
            bad = os.path.join(topo.workdir, "bad.token")
            with open(bad, "w") as f:
                f.write("not-the-operator-token-0123456789\n")
            out = ptpctl("--admin", admin, "--credential-file", bad, "reload", "--json")
            self.assertEqual(out.returncode, 1, out)
            self.assertEqual(json.loads(out.stderr)["message"], "operator credential does not match")
            out = ptpctl("--admin", admin, "--credential-file", cred, "reload")
            self.assertEqual(out.returncode, 0, out)
            self.assertIn("POST /reload", out.stdout)
            out = ptpctl("--config", cfg, "reload", "--json")  # token from admin.credential_file
            self.assertEqual(out.returncode, 0, out)
            self.assertEqual(json.loads(out.stdout)["code"], "E0000000000")

            # Usage errors: exit 2, a message naming the problem.
            for args, text in ((["status", "extra"], "no arguments"), (["peers"], "subcommand"),
                               (["peers", "renew", "B", "--days", "x"], "--days"),
                               (["--admin", "nohost", "status"], "host:port"), (["frobnicate"], "unknown command")):
                out = ptpctl(*args)
                self.assertEqual(out.returncode, 2, (args, out))
                self.assertIn(text, out.stderr)
        # The gateway is gone: exit 3.
        out = ptpctl("--admin", f"127.0.0.1:{ADMIN}", "status")
        self.assertEqual(out.returncode, 3, out)
        self.assertIn("cannot reach the admin port", out.stderr)

    def test_identity_init_show_renew(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "identity")
            out = ptpctl("identity", "init", "--dir", d, "--node-id", "A", "--inst-id", "INST_A",
                         "--address", "127.0.0.1:17503", "--host", "127.0.0.1", "--host", "gw-a.example",
                         "--json")
            self.assertEqual(out.returncode, 0, out)
            made = json.loads(out.stdout)
            self.assertEqual((made["node_id"], made["inst_id"], made["algorithm"], made["address"]),
                             ("A", "INST_A", "ecdsa-p256", "127.0.0.1:17503"))
            self.assertEqual(sorted(made["tls_hosts"]), ["127.0.0.1", "gw-a.example"])
            self.assertEqual(sorted(os.listdir(d)),
                             ["identity.json", "node.key", "root.crt", "tls.crt", "tls.key"])
            for key in ("node.key", "tls.key"):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, key)).st_mode), 0o600, key)
            # The chain: tls.crt (leaf + root) verifies against root.crt alone.
            v = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", os.path.join(d, "root.crt"),
                                os.path.join(d, "tls.crt")], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stderr)
            with open(os.path.join(d, "root.crt")) as f:
                root_pem = f.read()
            with open(os.path.join(d, "tls.crt")) as f:
                self.assertTrue(f.read().endswith(root_pem))
            der = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "root.crt"), "-outform", "DER"],
                                 capture_output=True, check=True).stdout
            self.assertEqual(made["root_fp"], hashlib.sha256(der).hexdigest())
            # Never overwritten: refused, every file unchanged.
            before = {f: read(os.path.join(d, f)) for f in os.listdir(d)}
            out = ptpctl("identity", "init", "--dir", d, "--node-id", "A", "--inst-id", "INST_A",
                         "--address", "127.0.0.1:17503")
            self.assertEqual(out.returncode, 1, out)
            self.assertIn("never overwritten", out.stderr)
            self.assertEqual(before, {f: read(os.path.join(d, f)) for f in os.listdir(d)})
            # show, through the gateway's config (identity.dir, which the gateway accepts).
            cfg = os.path.join(tmp, "gw.yaml")
            with open(cfg, "w") as f:
                f.write("node: {node_id: A, inst_id: INST_A}\nlisten: {port: 17503}\n"
                        "auth: {node_keys: {A: \"demo-only-secret-A-do-not-use-in-production\"}}\n"
                        "identity: {dir: identity}\n")
            check = subprocess.run([GATEWAY, "--check-config", cfg], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)
            out = ptpctl("identity", "show", "--config", cfg)
            self.assertEqual(out.returncode, 0, out)
            self.assertIn("sha256:" + made["root_fp"], out.stdout)
            self.assertTrue(all(len(line) <= 100 for line in out.stdout.splitlines()))
            # renew-tls: a new TLS key and certificate, the same root.
            out = ptpctl("identity", "renew-tls", "--config", cfg, "--json")
            self.assertEqual(out.returncode, 0, out)
            renewed = json.loads(out.stdout)
            self.assertEqual(renewed["root_fp"], made["root_fp"])
            self.assertEqual(sorted(renewed["tls_hosts"]), ["127.0.0.1", "gw-a.example"])
            self.assertNotEqual(read(os.path.join(d, "tls.key")), before["tls.key"])
            self.assertEqual(read(os.path.join(d, "node.key")), before["node.key"])
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "tls.key")).st_mode), 0o600)
            v = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "root.crt"),
                                os.path.join(d, "tls.crt")], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stderr)
            # Other algorithms; a bad one is a usage error.
            for alg in ("ed25519", "sm2"):
                out = ptpctl("identity", "init", "--dir", os.path.join(tmp, alg), "--node-id", "B",
                             "--inst-id", "INST_B", "--address", "127.0.0.1:17504", "--algorithm", alg, "--json")
                self.assertEqual(out.returncode, 0, out)
                self.assertEqual(json.loads(out.stdout)["algorithm"], alg)
            out = ptpctl("identity", "init", "--dir", os.path.join(tmp, "x"), "--node-id", "B",
                         "--inst-id", "INST_B", "--address", "127.0.0.1:17504", "--algorithm", "rsa")
            self.assertEqual(out.returncode, 2, out)
            out = ptpctl("identity", "show", "--dir", os.path.join(tmp, "missing"))
            self.assertEqual(out.returncode, 1, out)

    def test_help_fits_100_columns(self):
        out = ptpctl("--help")
        self.assertEqual(out.returncode, 0)
        for line in out.stdout.splitlines():
            self.assertLessEqual(len(line), 100, line)


if __name__ == "__main__":
    unittest.main()
