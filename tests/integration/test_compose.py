"""docker/compose.yaml without a container engine (docker/README.md): the file parses; every
gateway config it names exists in conf/ and passes `ptp-gateway --check-config`; each
gateway's health check asks its own admin port; each echo service listens on a port some
config of its profile sends local-service requests to, and every such port has one."""
import os
import subprocess
import unittest

import yaml

from ptp_harness import GATEWAY, SRC, config_ports


class Compose(unittest.TestCase):
    def test_compose_matches_conf(self):
        with open(os.path.join(SRC, "docker", "compose.yaml")) as f:
            doc = yaml.safe_load(f)
        services = doc["services"]
        profiles = {}
        for name, s in services.items():
            for p in s.get("profiles", []):
                profiles.setdefault(p, []).append(name)
        self.assertEqual(set(profiles), {"direct", "routed"})
        for profile, names in profiles.items():
            echo_ports, wanted = set(), set()
            for name in names:
                s = services[name]
                if s.get("entrypoint", [""])[0].endswith("ptp-echo-service"):
                    echo_ports.add(int(s["command"][s["command"].index("--port") + 1]))
                    continue
                cmd = s["command"]
                config = cmd[cmd.index("--config") + 1]
                self.assertTrue(config.startswith("/etc/ptp/"), config)
                path = os.path.join(SRC, "conf", config[len("/etc/ptp/"):])
                self.assertTrue(os.path.exists(path), path)
                self.assertTrue(config.startswith(f"/etc/ptp/{profile}/"), (name, config))
                out = subprocess.run([GATEWAY, "--check-config", path], capture_output=True,
                                     text=True, timeout=30)
                self.assertEqual(out.returncode, 0, out.stderr)
                _, admin = config_ports(path)
                self.assertIn(f"http://127.0.0.1:{admin}/readyz", s["healthcheck"]["test"])
                self.assertIn("--data-dir", cmd)
                with open(path) as f:
                    local = yaml.safe_load(f).get("local_services") or []
                wanted |= {int(ls["address"].rsplit(":", 1)[1]) for ls in local}
            self.assertEqual(echo_ports, wanted, profile)


if __name__ == "__main__":
    unittest.main()
