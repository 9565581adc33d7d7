"""A full disk under the embedded queue store (docs/queues.md "Durability"): gateway A's
data directory is a small tmpfs (mounted here; the test needs root and FAILS when it
cannot mount). Pushes fill it until they are refused with E0000000602 (HTTP 503) while
A keeps serving what needs no write (an invoke, pops); /readyz and
ptp_queue_store_degraded say so; once a filler file is deleted pushes succeed again
without a restart, and every acknowledged message pops, in order."""
import http.client
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from ptp_harness import Gateway, Topology, conf, curl, ptp_headers
from test_queue import container_headers

PUSH = "/v1/interconn/chan/push?topic=t&timeout=0"


def readyz(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class GatewayMaybeDegraded(Gateway):
    """A gateway whose /readyz may say 503 (a degraded store): started once it answers."""

    def wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout
        while readyz_or_none(self.admin_port) is None:
            if time.time() > deadline:
                raise RuntimeError("admin port does not answer")
            time.sleep(0.05)


def readyz_or_none(admin_port):
    try:
        return readyz(admin_port)
    except OSError:
        return None


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()
        self.mnt = os.path.join(self.topo.workdir, "data-a")  # the harness's data dir of a.yaml
        os.makedirs(self.mnt)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", self.mnt],
                             capture_output=True, text=True)
        if out.returncode != 0:
            self.topo.close()
            self.fail(f"cannot mount a tmpfs for the data directory (needs root): {out.stderr}")

    def tearDown(self):
        try:
            self.topo.close()
        finally:
            subprocess.run(["umount", "-l", self.mnt])

    def test_full_disk_refuses_pushes_then_recovers(self):
        a_cfg = self.topo.variant(conf("direct", "a.yaml"), [(
            "  retry_max_ms: 2000\n",
            "  retry_max_ms: 2000\n  min_free_disk_bytes: 1048576\n")])
        a = self.topo.gateway(a_cfg)
        self.topo.gateway(conf("direct", "b.yaml"))
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (3 << 20))
        h = container_headers("A", "A", "s-disk")
        h["content-type"] = "application/octet-stream"
        c = http.client.HTTPConnection("127.0.0.1", 17304, timeout=10)

        def push(i):
            body = b"%06d" % i + os.urandom(100_000)
            c.request("POST", PUSH, body=body, headers=h)
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("x-ptp-code"), r.getheader("x-ptp-message"), body

        acked, refused = [], None
        for i in range(200):
            status, code, msg, body = push(i)
            if code == "E0000000000":
                acked.append(body)
                continue
            refused = (status, code, msg)
            break
        self.assertIsNotNone(refused, "200 pushes of 100 kB fit an 8 MiB disk")
        self.assertEqual(refused[:2], (503, "E0000000602"), refused)
        self.assertIn("disk space", refused[2])
        self.assertGreater(len(acked), 0)
        self.assertTrue(a.alive())
        # Degraded, and says so; a second push is refused the same way.
        self.assertEqual(push(1000)[:2], (503, "E0000000602"))
        self.assertEqual(readyz(a.admin_port), 503)
        self.assertIn('ptp_queue_store_degraded{store="inbox"} 1', a.metrics())
        # What needs no write is still served: an invoke through A, a pop at A.
        r = curl("http://127.0.0.1:17304/v1/interconn/chan/invoke", ptp_headers("A", "B"), b"ping")
        self.assertEqual((r.status, r.body), (200, b"ping"), r)
        hp = container_headers("A", "A", "s-disk")
        popped = []
        r = curl("http://127.0.0.1:17304/v1/interconn/chan/pop?topic=t&timeout=1", hp, b"")
        self.assertEqual(r.headers.get("x-ptp-queue-result"), "message", r)
        popped.append(r.body)
        # A restart on the nearly full disk: it starts, nothing acknowledged lost.
        c.close()
        self.assertEqual(a.stop(), 0)
        a = GatewayMaybeDegraded(a_cfg, self.topo.workdir)
        self.topo.procs.append(a)
        self.assertTrue(a.alive())
        self.assertIn(readyz(a.admin_port), (200, 503))  # the log's space may be freed
        c = http.client.HTTPConnection("127.0.0.1", 17304, timeout=10)
        r = curl("http://127.0.0.1:17304/v1/interconn/chan/pop?topic=t&timeout=1", hp, b"")
        self.assertEqual(r.headers.get("x-ptp-queue-result"), "message", r)
        popped.append(r.body)
        # Space comes back: pushes succeed again by themselves, no restart.
        os.remove(filler)
        deadline = time.time() + 10
        while True:
            status, code, msg, body = push(2000)
            if code == "E0000000000":
                acked.append(body)
                break
            self.assertLess(time.time(), deadline, (status, code, msg))
            time.sleep(0.1)
        while readyz(a.admin_port) != 200:  # each store looks again within 200 ms
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.assertIn('ptp_queue_store_degraded{store="inbox"} 0', a.metrics())
        c.close()
        # Every acknowledged message is there, in order, nothing else.
        for _ in range(len(acked) + 1):
            r = curl("http://127.0.0.1:17304/v1/interconn/chan/pop?topic=t&timeout=0", hp, b"")
            if r.headers.get("x-ptp-queue-result") != "message":
                break
            popped.append(r.body)
        self.assertEqual([p[:6] for p in popped], [b[:6] for b in acked])
        self.assertEqual(popped, acked)

    def test_disk_filled_by_another_process(self):
        # No margin kept: the disk fills up under the store (ENOSPC), which must not abort.
        a_cfg = self.topo.variant(conf("direct", "a.yaml"), [(
            "  retry_max_ms: 2000\n",
            "  retry_max_ms: 2000\n  min_free_disk_bytes: 0\n")])
        a = self.topo.gateway(a_cfg)
        h = container_headers("A", "A", "s-enospc")
        h["content-type"] = "application/octet-stream"
        c = http.client.HTTPConnection("127.0.0.1", 17304, timeout=10)

        def push(body):
            c.request("POST", PUSH, body=body, headers=h)
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("x-ptp-code")

        acked = []
        for i in range(3):
            body = b"%06d" % i + os.urandom(10_000)
            self.assertEqual(push(body), (200, "E0000000000"))
            acked.append(body)
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass  # ENOSPC: the disk is full
        for i in range(5):
            self.assertEqual(push(b"x" * 1000), (503, "E0000000602"))
        self.assertTrue(a.alive())
        os.remove(filler)
        deadline = time.time() + 10
        body = b"000003" + os.urandom(10_000)
        while push(body) != (200, "E0000000000"):
            self.assertLess(time.time(), deadline)
            time.sleep(0.1)
        acked.append(body)
        c.close()
        hp = container_headers("A", "A", "s-enospc")
        popped = []
        for _ in range(len(acked) + 1):
            r = curl("http://127.0.0.1:17304/v1/interconn/chan/pop?topic=t&timeout=0", hp, b"")
            if r.headers.get("x-ptp-queue-result") != "message":
                break
            popped.append(r.body)
        self.assertEqual(popped, acked)


if __name__ == "__main__":
    unittest.main()
