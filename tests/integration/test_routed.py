"""Routed topology (conf/routed): A -> R1 -> B, and the cross-router case A -> R1 -> R2 -> C;
routing loops are answered with E0000000503; a gateway in edge role does not relay."""
import signal
import time
import unittest

import grpc

from ptp_harness import Topology, conf, curl, grpc_stubs, ptp_headers

A_URL = "http://127.0.0.1:17314/v1/interconn/chan/invoke"


class RoutedTopology(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.topo.echo(18080)
        cls.topo.echo(18082)
        for n in ("r1", "r2", "a", "b", "c"):
            cls.topo.gateway(conf("routed", f"{n}.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_a_to_b_through_router(self):
        r = curl(A_URL, ptp_headers("A", "B", trace="tr-routed"), b"via R1", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"via R1")
        self.assertEqual(r.headers["x-ptp-diag-node"], "B")
        self.assertEqual(r.headers["x-ptp-diag-route-path"], "A,R1")

    def test_a_to_c_across_two_routers(self):
        r = curl(A_URL, ptp_headers("A", "C", trace="tr-cross"), b"via R1 and R2", http="1.1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"via R1 and R2")
        self.assertEqual(r.headers["x-ptp-diag-node"], "C")
        self.assertEqual(r.headers["x-ptp-diag-route-path"], "A,R1,R2")

    def test_a_to_local_service_at_c(self):
        h = ptp_headers("A", "C", trace="tr-inst", uri="ptp/echo/inst")
        r = curl(A_URL, h, b"to service at C", http="h2c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-echo-x-ptp-trace-id"], "tr-inst")
        self.assertEqual(r.headers["x-echo-x-ptp-route-path"], "A,R1,R2")

    def test_grpc_transport_across_routers(self):
        pb, pbg = grpc_stubs()
        chunks = [b"%06d" % i * 100 for i in range(200)]
        with grpc.insecure_channel("127.0.0.1:17314") as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            md = list(ptp_headers("A", "C", trace="tr-gstream").items())
            got = b"".join(o.payload for o in stub.transport(iter(pb.Inbound(payload=c) for c in chunks), metadata=md))
        self.assertEqual(got, b"".join(chunks))

    def test_edge_gateway_does_not_relay(self):
        # B is an edge gateway: a request from A addressed to C sent straight to B is refused.
        r = curl("http://127.0.0.1:17315/v1/interconn/chan/invoke", ptp_headers("A", "C"), b"x", http="h2c")
        self.assertEqual(r.headers["x-ptp-code"], "E0000000614", r)
        self.assertEqual(r.headers["x-ptp-hop"], "B")


class RoutingLoop(unittest.TestCase):
    def test_loop_between_routers_is_detected(self):
        with Topology() as topo:
            # Both routers send unknown targets to each other.
            r1 = topo.variant(conf("routed", "r1.yaml"), [("log: {level: info}", "default_route: R2\nlog: {level: info}")])
            r2 = topo.variant(conf("routed", "r2.yaml"), [("log: {level: info}", "default_route: R1\nlog: {level: info}")])
            topo.gateway(r1)
            topo.gateway(r2)
            topo.gateway(conf("routed", "a.yaml"))
            r = curl(A_URL, ptp_headers("A", "X"), b"loop", http="h2c")
            self.assertEqual(r.status, 508, r)
            self.assertEqual(r.headers["x-ptp-code"], "E0000000503")
            self.assertIn("A,R1,R2", r.headers["x-ptp-message"])
            self.assertEqual(r.headers["x-ptp-hop"], "R1")
            # Still serving afterwards.
            ok = curl(A_URL, ptp_headers("A", "R1"), b"after", http="h2c")
            self.assertEqual(ok.status, 200, ok)
            self.assertEqual(ok.body, b"after")


class HopLimit(unittest.TestCase):
    """limits.max_hops in a chain with no loop: A -> R1 -> R2 -> C. A gateway counts the
    gateways a request has already crossed (A at R1: 1; A,R1 at R2: 2; A,R1,R2 at C: 3) and
    refuses it once that reaches its max_hops."""

    def test_max_hops_in_a_routed_chain(self):
        with Topology() as topo:
            limit = ("log: {level: info}", "limits: {max_hops: %d}\nlog: {level: info}")
            poll = ("reload_poll_ms: 1000", "reload_poll_ms: 60000")  # SIGHUP only
            r2_path = topo.variant(conf("routed", "r2.yaml"), [poll, (limit[0], limit[1] % 2)])
            c_path = topo.variant(conf("routed", "c.yaml"), [poll, (limit[0], limit[1] % 3)])
            topo.gateway(conf("routed", "r1.yaml"))
            r2 = topo.gateway(r2_path)
            c = topo.gateway(c_path)
            topo.gateway(conf("routed", "a.yaml"))

            def send(trace):
                return curl(A_URL, ptp_headers("A", "C", trace=trace), b"hops", http="h2c")

            def set_limit(gw, path, old, new, generation):
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(text.replace("max_hops: %d" % old, "max_hops: %d" % new))
                gw.proc.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while f"ptp_config_generation {generation}" not in gw.metrics():
                    self.assertLess(time.time(), deadline, gw.output())
                    time.sleep(0.05)

            # R2 allows 2: the request has crossed A and R1, so R2 refuses it.
            r = send("tr-hops-r2")
            self.assertEqual((r.status, r.headers.get("x-ptp-code")), (508, "E0000000503"), r)
            self.assertEqual(r.headers["x-ptp-hop"], "R2")
            self.assertIn("hop limit 2 reached (path A,R1)", r.headers["x-ptp-message"])
            # R2 allows 3, C still 3: R2 relays, C (fourth gateway) refuses.
            set_limit(r2, r2_path, 2, 3, 2)
            r = send("tr-hops-c")
            self.assertEqual((r.status, r.headers.get("x-ptp-code")), (508, "E0000000503"), r)
            self.assertEqual(r.headers["x-ptp-hop"], "C")
            self.assertIn("hop limit 3 reached (path A,R1,R2)", r.headers["x-ptp-message"])
            # C allows 4: the request arrives.
            set_limit(c, c_path, 3, 4, 2)
            r = send("tr-hops-ok")
            self.assertEqual((r.status, r.body), (200, b"hops"), r)
            self.assertEqual(r.headers["x-ptp-diag-node"], "C")
            self.assertEqual(r.headers["x-ptp-diag-route-path"], "A,R1,R2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
