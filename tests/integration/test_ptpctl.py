"""ptpctl against a real gateway (docs/ptpctl.md): status (live/ready, --json, exit 3 when
the admin port is closed), reload (a mutating route: the operator token from
--credential-file or the gateway's --config; the gateway's refusal shown with exit 1),
usage errors (exit 2)."""
import json
import os
import subprocess
import unittest

from ptp_harness import BIN, Topology

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


def ptpctl(*args):
    return subprocess.run([PTPCTL, *args], capture_output=True, text=True, timeout=30)


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

    def test_help_fits_100_columns(self):
        out = ptpctl("--help")
        self.assertEqual(out.returncode, 0)
        for line in out.stdout.splitlines():
            self.assertLessEqual(len(line), 100, line)


if __name__ == "__main__":
    unittest.main()
