"""A JSON push body nested thousands of levels deep is refused at once with
E0000000616 (codecs/json_depth.h), without the gateway's memory growing with the
nesting, and the gateway keeps serving. Gateway A of conf/direct alone."""
import base64
import json
import time
import unittest

from ptp_harness import Topology, conf, curl, ptp_headers

A = "http://127.0.0.1:17304/v1/interconn/chan/"


def push_headers(session):
    h = ptp_headers("A", "B", session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    return h


class JsonNesting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_deeply_nested_push_is_refused_fast_and_small(self):
        rss_before = self.a.rss_high_water_kb()
        # 8 MiB of '[' (the parser used to need ~70 bytes per level: over 500 MiB here).
        for http in ("1.1", "h2c"):
            t0 = time.monotonic()
            r = curl(A + "push", push_headers("s-deep"), b"[" * (8 << 20), http=http)
            took = time.monotonic() - t0
            grown_mb = (self.a.rss_high_water_kb() - rss_before) / 1024
            self.assertLess(grown_mb, 120, f"{http}: peak RSS grew by {grown_mb:.0f} MiB")
            self.assertLess(took, 3.0, f"{http}: refused after {took:.1f} s")
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000616", r)
            self.assertIn("nested deeper than 64 levels", r.json()["message"])
        # Nested inside a string it is only text: accepted.
        body = json.dumps({"topic": "t", "payload": base64.b64encode(b"x").decode(),
                           "metadata": {"k": "[" * 1000}}).encode()
        self.assertEqual(curl(A + "push", push_headers("s-deep"), body).status, 200)


if __name__ == "__main__":
    unittest.main()
