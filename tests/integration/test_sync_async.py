"""Sync <-> async translation (docs/queues.md "Sync and async"): A's route says B is
reachable only asynchronously, and B's echo service is passive. An invoke at A (curl,
HTTP/1.1 and h2c) becomes a push to B plus a wait on a reply topic; B's gateway delivers
the message by invoking its echo service and pushes the answer back; A answers the
invoke with it. With the service down, the invoke times out with E0000000601 and B keeps
retrying the delivery until the service is up."""
import time
import unittest

from ptp_harness import Topology, conf, curl, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"


def async_topology(topo, timeout_ms=10000):
    a = topo.variant(conf("direct", "a.yaml"),
                     [('protocol: http2, timeout_ms: 30000}',
                       f'protocol: http2, timeout_ms: {timeout_ms}, async: true}}')],
                     name="a-async.yaml")
    b = topo.variant(conf("direct", "b.yaml"),
                     [("path: /echo, timeout_ms: 30000}", "path: /echo, timeout_ms: 30000, passive: true}")],
                     name="b-passive.yaml")
    return topo.gateway(a), topo.gateway(b)


class SyncAsync(unittest.TestCase):
    def test_invoke_through_queues_both_ways(self):
        with Topology() as topo:
            topo.echo(18080)
            a, b = async_topology(topo)
            for http in ("1.1", "h2c"):
                h = ptp_headers("A", "B", uri="ptp/echo/x", session=f"s-sa-{http}",
                                trace=f"tr-sa-{http}")
                body = b"sync over async " + http.encode() + bytes(range(256))
                r = curl(A_URL, h, body, http=http)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)
                self.assertEqual(r.body, body)  # the echo service's answer came back
                # ... with the service's own content type.
                self.assertEqual(r.headers.get("content-type"), "application/x-ptp-echo", r)
                self.assertEqual(r.headers.get("x-ptp-trace-id"), f"tr-sa-{http}")
            # It went through the queues, not a forward: A pushed, B invoked its service.
            # B accepted two queued messages and never routed an invoke to its service.
            self.assertEqual(b.output().count('"route":"queue"'), 2, b.output())
            self.assertNotIn('"route":"local:', b.output())

    def test_service_down_times_out_then_delivered_once_up(self):
        with Topology() as topo:
            a, b = async_topology(topo, timeout_ms=1500)
            h = ptp_headers("A", "B", uri="ptp/echo/late", session="s-late")
            t0 = time.time()
            r = curl(A_URL, h, b"first", http="1.1")
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000601", r)
            self.assertIn("no reply from node B", r.body.decode())
            self.assertLess(time.time() - t0, 10)
            self.assertIn("passive delivery failed, will retry", b.output())
            topo.echo(18080)
            # The queued message is delivered on a retry; a new invoke gets its own answer.
            deadline = time.time() + 20
            while time.time() < deadline:
                r = curl(A_URL, h, b"second", http="h2c")
                if r.headers.get("x-ptp-code") == "E0000000000":
                    break
            self.assertEqual(r.body, b"second", r)


if __name__ == "__main__":
    unittest.main()
