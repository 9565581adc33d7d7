"""Routes reload live (file change or SIGHUP) without dropping in-flight requests; a bad file
is rejected, the old routes stay; --check-config validates offline with a precise message."""
import os
import signal
import subprocess
import threading
import time
import unittest

import grpc

from ptp_harness import GATEWAY, KEYS, Topology, conf, curl, grpc_stubs, mint, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


class CheckConfig(unittest.TestCase):
    def test_shipped_configs_are_valid(self):
        for d in ("direct", "routed"):
            for f in sorted(os.listdir(conf(d))):
                out = subprocess.run([GATEWAY, "--check-config", conf(d, f)], capture_output=True)
                self.assertEqual(out.returncode, 0, out.stderr.decode())

    def test_bad_config_names_key(self):
        with Topology() as topo:
            bad = topo.variant(conf("direct", "a.yaml"), [("protocol: http2", "protocol: http3")], name="bad.yaml")
            out = subprocess.run([GATEWAY, "--check-config", bad], capture_output=True)
            self.assertNotEqual(out.returncode, 0)
            err = out.stderr.decode()
            self.assertIn("peers[0].protocol", err)
            self.assertIn("http3", err)
            # The server refuses to start with it, with the same message.
            out = subprocess.run([GATEWAY, "--config", bad], capture_output=True, timeout=10)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("peers[0].protocol", out.stderr.decode())


class LiveReload(unittest.TestCase):
    def test_add_route_reject_bad_file_and_sighup(self):
        with Topology() as topo:
            # A starts without B as a peer; B runs.
            a_path = topo.variant(conf("direct", "a.yaml"), [('  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:17305", protocol: http2, timeout_ms: 30000}\n', "  []\n")])
            with open(a_path) as f:
                text = f.read()
            text = text.replace("peers:\n  []\n", "peers: []\n")
            with open(a_path, "w") as f:
                f.write(text)
            a = topo.gateway(a_path)
            topo.gateway(conf("direct", "b.yaml"))
            topo.echo(18080)
            r = curl(A_URL, ptp_headers("A", "B"), b"x", http="h2c")
            self.assertEqual(r.headers["x-ptp-code"], "E0000000618", r)

            # A slow request in flight while the file changes must complete.
            slow = {}

            def in_flight():
                slow["r"] = curl(A_URL, ptp_headers("A", "A", uri="ptp/diag/echo"), b"y" * 10_000_000, http="1.1")

            good = text.replace("peers: []\n", 'peers:\n  - {node_id: B, address: "127.0.0.1:17305", protocol: grpc}\n')
            t = threading.Thread(target=in_flight)
            t.start()
            with open(a_path, "w") as f:
                f.write(good)
            self.assertTrue(wait_for(lambda: curl(A_URL, ptp_headers("A", "B"), b"x", http="h2c").status == 200),
                            "new route not picked up:\n" + a.output())
            t.join()
            self.assertEqual(slow["r"].status, 200)
            self.assertEqual(len(slow["r"].body), 10_000_000)
            self.assertIn('ptp_config_reloads_total{result="ok"}', a.metrics())

            # A broken file is rejected; the routes stay.
            with open(a_path, "w") as f:
                f.write(good.replace("protocol: grpc", "protocol: [oops"))
            self.assertTrue(wait_for(lambda: 'ptp_config_reloads_total{result="rejected"} 1' in a.metrics()),
                            a.metrics())
            self.assertIn("config reload rejected", a.output())
            r = curl(A_URL, ptp_headers("A", "B"), b"still", http="h2c")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"still")

            # SIGHUP reloads too (here: back to no peers).
            with open(a_path, "w") as f:
                f.write(text)
            a.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: curl(A_URL, ptp_headers("A", "B"), b"x", http="h2c").headers["x-ptp-code"] == "E0000000618"))
            self.assertTrue(a.alive())

    def test_rotated_key_rejects_a_token_verified_before(self):
        """Each I/O thread remembers tokens it verified (docs/security.md); a reload that
        rotates a node's key must make a token minted with the old key fail at once."""
        with Topology() as topo:
            a_path = topo.variant(conf("direct", "a.yaml"), [])
            a = topo.gateway(a_path)
            old = ptp_headers("A", "A", token=mint("A", "A", "sess-1"))
            for http in ("h2c", "1.1", "h2c"):  # the repeats are answered from the cache
                r = curl(A_URL, old, b"before", http=http)
                self.assertEqual((r.status, r.body), (200, b"before"), r)
            with open(a_path) as f:
                text = f.read()
            new_key = "rotated-key-for-A-in-this-test"
            with open(a_path, "w") as f:
                f.write(text.replace(KEYS["A"], new_key))
            self.assertTrue(wait_for(lambda: 'ptp_config_reloads_total{result="ok"} 2' in a.metrics()),
                            a.output())
            for http in ("h2c", "1.1"):
                r = curl(A_URL, old, b"after", http=http)
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000403", r)
                self.assertIn("token does not match", r.headers.get("x-ptp-message", ""), r)
            fresh = ptp_headers("A", "A", token=mint("A", "A", "sess-1", key=new_key))
            r = curl(A_URL, fresh, b"fresh", http="h2c")
            self.assertEqual((r.status, r.body), (200, b"fresh"), r)


def reloads(gw, result):
    """The value of ptp_config_reloads_total{result=...} (0 when absent)."""
    for line in gw.metrics().splitlines():
        if line.startswith(f'ptp_config_reloads_total{{result="{result}"}}'):
            return int(float(line.split()[-1]))
    return 0


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def rewrite(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, (old, path)
    with open(path, "w") as f:
        f.write(text.replace(old, new))


class ReloadClasses(unittest.TestCase):
    """docs/configuration.md "Reload": every key either applies on reload or makes the
    reload fail with the key named; none is accepted and then ignored."""

    def test_raised_body_limit_applies_to_new_connections(self):
        with Topology() as topo:
            a_path = topo.variant(conf("direct", "a.yaml"), [
                ("reload_poll_ms: 1000", "reload_poll_ms: 60000"),  # SIGHUP only
                ("log: {level: info}", "limits: {max_body_bytes: 1048576}\nlog: {level: info}")])
            a = topo.gateway(a_path)
            body = bytes(range(256)) * (2 * 4096)  # 2 MiB
            pb, pbg = grpc_stubs()

            def grpc_echo():
                with grpc.insecure_channel("127.0.0.1:17304") as ch:
                    stub = pbg.PrivateTransferProtocolStub(ch)
                    md = list(ptp_headers("A", "A").items())
                    try:
                        return stub.invoke(pb.Inbound(payload=body), metadata=md, timeout=20)
                    except grpc.RpcError as e:  # a limit refused as a gRPC status
                        return e

            for http in ("h2c", "1.1"):
                r = curl(A_URL, ptp_headers("A", "A"), body, http=http)
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000413", (http, r))
                self.assertIn("exceeds 1048576", r.headers.get("x-ptp-message", ""), (http, r))
            out = grpc_echo()
            self.assertNotEqual(getattr(out, "payload", None), body, "1 MiB limit not enforced on gRPC")

            rewrite(a_path, "max_body_bytes: 1048576", "max_body_bytes: 8388608")
            a.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: reloads(a, "ok") == 2), a.output())
            for http in ("h2c", "1.1"):
                r = curl(A_URL, ptp_headers("A", "A"), body, http=http)
                self.assertEqual((r.status, len(r.body)), (200, len(body)), (http, r))
                self.assertEqual(r.body, body)
            out = grpc_echo()
            self.assertEqual(getattr(out, "payload", None), body, out)

            # Lowered again: refused again, also on a connection opened before the reload
            # (the pipeline checks every request against the current limit).
            rewrite(a_path, "max_body_bytes: 8388608", "max_body_bytes: 1048576")
            a.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: reloads(a, "ok") == 3), a.output())
            r = curl(A_URL, ptp_headers("A", "A"), body, http="h2c")
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000413", r)

    def test_store_bound_queue_limits_reject_the_reload(self):
        with Topology() as topo:
            a_path = topo.variant(conf("direct", "a.yaml"), [
                ("reload_poll_ms: 1000", "reload_poll_ms: 60000"),
                ("retry_max_ms: 2000", "retry_max_ms: 2000\n  limits: {max_session_bytes: 1048576, "
                 "session_idle_expiry_s: 600, dedup_window_s: 600, max_total_bytes: 8388608}")])
            a = topo.gateway(a_path)
            changes = [
                ("max_session_bytes: 1048576", "max_session_bytes: 2097152"),
                ("session_idle_expiry_s: 600", "session_idle_expiry_s: 60"),
                ("dedup_window_s: 600", "dedup_window_s: 60"),
                ("max_total_bytes: 8388608", "max_total_bytes: 4194304"),
            ]
            for i, (old, new) in enumerate(changes, start=1):
                rewrite(a_path, old, new)
                a.proc.send_signal(signal.SIGHUP)
                self.assertTrue(wait_for(lambda: reloads(a, "rejected") == i), a.output())
                key = "queue.limits." + old.split(":")[0]
                self.assertIn(f"a restart is needed to change {key}", a.output())
                rewrite(a_path, new, old)
            self.assertIn("ptp_config_generation 1", a.metrics())
            # Keys that apply on reload still do, next to the old queue limits.
            rewrite(a_path, "log: {level: info}", "log: {level: debug}")
            a.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: reloads(a, "ok") == 2), a.output())

    def test_sighup_reopens_the_log_file(self):
        """Log rotation (docs/observability.md): move the file away, SIGHUP, the gateway
        writes to a new file by the same name."""
        with Topology() as topo:
            log_file = os.path.join(topo.workdir, "a-json.log")
            a_path = topo.variant(conf("direct", "a.yaml"), [
                ("reload_poll_ms: 1000", "reload_poll_ms: 60000"),
                ("log: {level: info}", f"log: {{level: info, file: {log_file}}}")])
            a = topo.gateway(a_path)
            self.assertTrue(wait_for(lambda: "gateway started" in read_text(log_file)))
            os.rename(log_file, log_file + ".1")
            a.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: reloads(a, "ok") == 2), a.output())
            r = curl(A_URL, ptp_headers("A", "A", trace="after-rotation"), b"x", http="h2c")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(wait_for(lambda: "after-rotation" in read_text(log_file)),
                            "no new log file after SIGHUP")
            self.assertNotIn("after-rotation", read_text(log_file + ".1"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
