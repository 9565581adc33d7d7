"""mTLS from node identities (docs/security.md "Transport"): gateways with identity.dir
and YAML peers pinned by root_file serve TLS from identity/tls.crt and reach each other
over mTLS (the root pinned, the leaf naming the node); a client certificate is optional
(containers connect without one) but must chain to a pinned root and name that root's
node; the hop identity binds the claimed source (E0000000615) and keeps peers off the
queue interfaces (E0000000614). Identities made with the openssl command line
(identity_dirs.py); ports 177xx."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from identity_dirs import issue_leaf, make_identity
import grpc

from ptp_harness import CRYPTO_YAML, GM, Topology, curl, grpc_stubs, ptp_headers, wait_until

A_PORT, B_PORT, R_PORT = 17701, 17702, 17704
A2_PORT, B2_PORT = 17711, 17712  # the routed topology A -> R -> B
B3_PORT = 17713  # B whose peers change by reload
A4_PORT, B4_PORT = 17714, 17715  # A checking B's server certificate against a pinned root
ADMIN = {A_PORT: 17751, B_PORT: 17752, R_PORT: 17754, A2_PORT: 17761, B2_PORT: 17762,
         B3_PORT: 17763, A4_PORT: 17764, B4_PORT: 17765}
KEYS = {n: f"demo-only-secret-{n}-do-not-use-in-production" for n in ("A", "B", "C", "R")}

ids = None  # node id -> identity directory


def setUpModule():
    global ids, WORK
    WORK = tempfile.mkdtemp(prefix="ptp-mtls-ids-")
    ids = {n: make_identity(os.path.join(WORK, n), n, f"INST_{n}") for n in ("A", "B", "C", "R")}


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


def config(node, port, peers, role="edge", reload_poll_ms=1000):
    keys = "\n".join(f'    {n}: "{k}"' for n, k in KEYS.items())
    peer_lines = "\n".join(f"  - {p}" for p in peers)
    return f"""node: {{node_id: {node}, inst_id: INST_{node}, role: {role}}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {ADMIN[port]}}}
io_threads: 2
reload_poll_ms: {reload_poll_ms}
identity: {{dir: {ids[node]}}}
auth:
  enabled: true
  node_keys:
{keys}
peers:
{peer_lines}
log: {{level: info}}
queue: {{store: embedded, path: data/{node}, retry_min_ms: 100, retry_max_ms: 500}}
{CRYPTO_YAML}"""


def root(node):
    return os.path.join(ids[node], "root.crt")


def url(port, iface="invoke"):
    return f"https://127.0.0.1:{port}/v1/interconn/chan/{iface}"


def tls_args(server, cert_of=None, cert=None, key=None):
    """curl options: trust `server`'s root; present cert_of's identity (or cert/key). Under
    PTP_CRYPTO=gm the server is not verified (-k): OpenSSL 3.0's chain check has no SM2 ID
    for a certificate an SM2 root signed (docs/security.md "Crypto profiles")."""
    args = ["-k"] if GM else ["--cacert", root(server)]
    if cert_of:
        cert, key = os.path.join(ids[cert_of], "tls.crt"), os.path.join(ids[cert_of], "tls.key")
    if cert:
        args += ["--cert", cert, "--key", key]
    return tuple(args)


def headers(source, target, session="s-mtls", uri="ptp/diag/echo", trace="tr-mtls", **extra):
    h = ptp_headers(source, target, session=session, uri=uri, trace=trace,
                    token=_mint(source, target, session), **extra)
    return h


def _mint(source, target, session):
    from ptp_harness import mint
    return mint(source, target, session, key=KEYS[source])


def container(source, target, session):
    h = headers(source, target, session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    return h


class MutualTlsFromIdentity(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        w = cls.topo.workdir
        b = os.path.join(w, "b.yaml")
        with open(b, "w") as f:
            f.write(config("B", B_PORT, [
                f'{{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: {root("A")}}}',
                f'{{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: {root("R")}, relay: true}}']))
        a = os.path.join(w, "a.yaml")
        # A relays (role router) so that its own gateway can forward a request claiming C.
        with open(a, "w") as f:
            f.write(config("A", A_PORT, [
                f'{{node_id: B, address: "127.0.0.1:{B_PORT}", root_file: {root("B")}}}'],
                role="router"))
        cls.b = cls.topo.gateway(b)
        cls.a = cls.topo.gateway(a)

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def expect(self, r, status, code, *needles):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers["x-ptp-code"], code, r)
        for n in needles:
            self.assertIn(n, r.headers["x-ptp-message"], r)

    def test_invoke_a_to_b_over_mtls(self):
        # A container of A, over TLS without a client certificate; A reaches B over mTLS.
        # B pins A's root, so a request claiming A without A's certificate would be 615.
        for http in ("1.1", "h2"):
            r = curl(url(A_PORT), headers("A", "B", trace=f"tr-inv-{http}"), b"hello B",
                     http=http, extra=tls_args("A"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ptp-code"], "E0000000000", r)
            self.assertEqual(r.headers["x-ptp-diag-node"], "B")
            self.assertEqual(r.headers["x-ptp-diag-route-path"], "A")
            self.assertEqual(r.body, b"hello B")
        self.assertIn('"tls":"identity"', self.b.output())
        # B logged the hop identity of the connection the requests came on.
        wait_until(lambda: '"trace_id":"tr-inv-h2"' in self.b.output(), 5, "B's log line")
        line = next(l for l in self.b.output().splitlines() if '"trace_id":"tr-inv-h2"' in l)
        self.assertIn('"hop_identity":"A"', line)

    def test_container_without_certificate_at_its_own_gateway(self):
        r = curl(url(B_PORT), headers("B", "B", trace="tr-own"), b"own", http="h2",
                 extra=tls_args("B"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ptp-diag-node"], "B")

    def test_push_a_to_b_then_pop_at_b(self):
        body = json.dumps({"topic": "t-mtls", "payload": base64.b64encode(b"queued").decode()})
        r = curl(url(A_PORT, "push"), container("A", "B", "s-push"), body.encode(),
                 extra=tls_args("A"))
        self.assertEqual(r.status, 200, r)
        pop = json.dumps({"topic": "t-mtls", "timeout": "5s"}).encode()
        r = curl(url(B_PORT, "pop"), container("B", "B", "s-push"), pop, extra=tls_args("B"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"queued")

    def test_b_port_asks_for_a_client_certificate(self):
        # Under PTP_CRYPTO=gm s_client cannot check B's chain (no SM2 ID in its chain check):
        # it is checked by `openssl verify -vfyopt distid:...` instead.
        verify = [] if GM else ["-CAfile", root("B"), "-verify_return_error"]
        ok = "" if GM else "Verify return code: 0 (ok)"
        if GM:
            chain = subprocess.run(["openssl", "verify", "-CAfile", root("B"), "-vfyopt",
                                    "distid:1234567812345678", os.path.join(ids["B"], "tls.crt")],
                                   capture_output=True, text=True)
            self.assertIn(": OK", chain.stdout, chain)

        def s_client(*extra):
            return subprocess.run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{B_PORT}", *verify,
                 "-alpn", "http/1.1", *extra],
                input=b"", capture_output=True, timeout=20)
        out = s_client()
        text = out.stdout.decode()
        self.assertIn("Requested Signature Algorithms", text)  # a CertificateRequest came
        self.assertIn(ok, text)
        self.assertIn("CN = B", text)
        # With A's identity: B accepts the chain (A's leaf + A's root).
        out = s_client("-cert", os.path.join(ids["A"], "tls.crt"), "-key",
                       os.path.join(ids["A"], "tls.key"))
        self.assertIn(ok, out.stdout.decode())
        self.assertNotIn("alert", out.stderr.decode())

    def assert_handshake_refused(self, cert, key):
        before = self.b.output().count("TLS handshake failed")
        with self.assertRaisesRegex(RuntimeError, "curl failed"):
            curl(url(B_PORT), headers("A", "B"), b"x", http="h2",
                 extra=tls_args("B", cert=cert, key=key))
        wait_until(lambda: self.b.output().count("TLS handshake failed") > before, 5,
                   "B logging the refused handshake")

    def test_certificate_from_an_unpinned_root_is_refused(self):
        c = ids["C"]
        self.assert_handshake_refused(os.path.join(c, "tls.crt"), os.path.join(c, "tls.key"))

    def test_pinned_root_naming_another_node_is_refused(self):
        # A certificate issued by A's (pinned) root but naming C.
        cert, key = issue_leaf(ids["A"], os.path.join(self.topo.workdir, "forged"), "a-as-c", "C")
        self.assert_handshake_refused(cert, key)

    def test_hop_claiming_another_source_is_615(self):
        # Through A's gateway: a request claiming C, forwarded by A over A's mTLS connection.
        r = curl(url(A_PORT), headers("C", "B", trace="tr-claim-c"), b"x", extra=tls_args("A"))
        self.expect(r, 403, "E0000000615",
                    "hop A presented a certificate of A but the request claims source C")
        self.assertEqual(r.headers.get("x-ptp-hop"), "B", r)
        # Directly with A's certificate, claiming B itself.
        r = curl(url(B_PORT), headers("B", "B"), b"x", http="h2", extra=tls_args("B", "A"))
        self.expect(r, 403, "E0000000615", "claims source B (this node)")

    @unittest.skipIf(GM, "grpc's TLS cannot check a chain an SM2 root signed (no SM2 ID); "
                         "the hop identity under gm is shown by the curl cases")
    def test_grpc_connection_carries_the_hop_identity(self):
        pb, pbg = grpc_stubs()
        with open(root("B"), "rb") as f:
            ca = f.read()
        with open(os.path.join(ids["A"], "tls.crt"), "rb") as f:
            chain = f.read()
        with open(os.path.join(ids["A"], "tls.key"), "rb") as f:
            key = f.read()
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                             certificate_chain=chain)
        with grpc.secure_channel(f"127.0.0.1:{B_PORT}", creds) as ch:
            stub = pbg.PrivateTransferProtocolStub(ch)
            ok = stub.invoke(pb.Inbound(payload=b"grpc as A"),
                             metadata=list(headers("A", "B", trace="tr-g").items()), timeout=20)
            self.assertEqual(ok.code, "E0000000000")
            self.assertEqual(ok.payload, b"grpc as A")
            bad = stub.invoke(pb.Inbound(payload=b"x"),
                              metadata=list(headers("C", "B", trace="tr-g").items()), timeout=20)
            self.assertEqual(bad.code, "E0000000615")
            self.assertIn("hop A presented a certificate of A but the request claims source C",
                          bad.message)

    def test_pinned_source_without_certificate_is_615(self):
        r = curl(url(B_PORT), headers("A", "B"), b"x", http="h2", extra=tls_args("B"))
        self.expect(r, 403, "E0000000615", "peer A must connect with its certificate")

    def test_relay_may_carry_another_source(self):
        r = curl(url(B_PORT), headers("A", "B", trace="tr-relay"), b"relayed", http="h2",
                 extra=tls_args("B", "R"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"relayed")

    def test_peer_may_not_pop_at_b(self):
        body = json.dumps({"topic": "t-peer", "payload": base64.b64encode(b"private").decode()})
        r = curl(url(B_PORT, "push"), container("B", "B", "s-peer"), body.encode(),
                 extra=tls_args("B"))
        self.assertEqual(r.status, 200, r)
        pop = json.dumps({"topic": "t-peer", "timeout": "1s"}).encode()
        for op, http in (("pop", "h2"), ("peek", "1.1"), ("pop", "1.1")):
            r = curl(url(B_PORT, op), container("B", "B", "s-peer"), pop, http=http,
                     extra=tls_args("B", "A"))
            self.expect(r, 403, "E0000000614",
                        f"queue interface {op} is for this node's containers; peer A may not call it")
        r = curl(url(B_PORT, "pop"), container("B", "B", "s-peer"), pop, extra=tls_args("B"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"private")


class RoutedThroughRelay(unittest.TestCase):
    """A -> R -> B, every hop mTLS: B sees hop R claiming source A, accepted because R is
    marked relay: true at B; without that mark (and A not reached via R) B refuses it
    (615)."""

    def start(self, topo, relay):
        w = topo.workdir
        files = {
            "b": config("B", B2_PORT, [
                f'{{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: {root("R")}'
                + (", relay: true}" if relay else "}"),
                # Marked relay, R carries anyone's traffic; unmarked, R may still carry A's
                # when B reaches A via R, so here A is a direct peer of B.
                f'{{node_id: A, via: R, root_file: {root("A")}}}' if relay else
                f'{{node_id: A, address: "127.0.0.1:{A2_PORT}", root_file: {root("A")}}}']),
            "r": config("R", R_PORT, [
                f'{{node_id: A, address: "127.0.0.1:{A2_PORT}", root_file: {root("A")}}}',
                f'{{node_id: B, address: "127.0.0.1:{B2_PORT}", root_file: {root("B")}}}'],
                role="router"),
            "a": config("A", A2_PORT, [
                f'{{node_id: R, address: "127.0.0.1:{R_PORT}", root_file: {root("R")}}}',
                f'{{node_id: B, via: R, root_file: {root("B")}}}']),
        }
        for name, text in files.items():
            with open(os.path.join(w, f"{name}-routed.yaml"), "w") as f:
                f.write(text)
            topo.gateway(os.path.join(w, f"{name}-routed.yaml"))

    def test_relay_accepted_and_unmarked_router_refused(self):
        for relay in (True, False):
            with self.subTest(relay=relay), Topology() as topo:
                self.start(topo, relay)
                r = curl(url(A2_PORT), headers("A", "B", trace="tr-routed"), b"via R",
                         http="h2", extra=tls_args("A"))
                if relay:
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(r.headers["x-ptp-diag-node"], "B")
                    self.assertEqual(r.headers["x-ptp-diag-route-path"], "A,R")
                    self.assertEqual(r.body, b"via R")
                else:
                    self.assertEqual(r.status, 403, r)
                    self.assertEqual(r.headers["x-ptp-code"], "E0000000615", r)
                    self.assertIn("hop R presented a certificate of R but the request claims "
                                  "source A", r.headers["x-ptp-message"])


class PinnedRootsFollowReloads(unittest.TestCase):
    """A peer pinned by a reload is accepted on the next connection, without a restart."""

    def test_peer_added_by_reload(self):
        with Topology() as topo:
            path = os.path.join(topo.workdir, "b-reload.yaml")
            peer_a = f'{{node_id: A, address: "127.0.0.1:{A_PORT}", root_file: {root("A")}}}'
            with open(path, "w") as f:
                f.write(config("B", B3_PORT, [peer_a], reload_poll_ms=100))
            b = topo.gateway(path)
            c_cert = tls_args("B", "C")
            with self.assertRaisesRegex(RuntimeError, "curl failed"):
                curl(url(B3_PORT), headers("C", "B"), b"x", http="h2", extra=c_cert)
            peer_c = f'{{node_id: C, address: "127.0.0.1:17709", root_file: {root("C")}}}'
            with open(path + ".new", "w") as f:
                f.write(config("B", B3_PORT, [peer_a, peer_c], reload_poll_ms=100))
            os.replace(path + ".new", path)
            wait_until(lambda: "reloaded" in b.output(), 10, "B's reload")

            def c_accepted():
                try:
                    r = curl(url(B3_PORT), headers("C", "B", trace="tr-c"), b"from C", http="h2",
                             extra=c_cert)
                except RuntimeError:
                    return False
                self.assertEqual(r.status, 200, r)
                return r.body == b"from C"
            wait_until(c_accepted, 5, "B accepting C's certificate")


class ClientSidePinning(unittest.TestCase):
    """A reaches B only when B's chain ends at the root A pinned for B and B's leaf names
    B (E0000000603 otherwise; A keeps serving)."""

    def run_a_to_b(self, topo, a_pins_for_b, b_identity):
        w = topo.workdir
        files = {
            "b-pin": config("B", B4_PORT, [
                f'{{node_id: A, address: "127.0.0.1:{A4_PORT}", root_file: {root("A")}}}']),
            "a-pin": config("A", A4_PORT, [
                f'{{node_id: B, address: "127.0.0.1:{B4_PORT}", root_file: {a_pins_for_b}}}']),
        }
        files["b-pin"] = files["b-pin"].replace(f"dir: {ids['B']}", f"dir: {b_identity}")
        for name, text in files.items():
            with open(os.path.join(w, f"{name}.yaml"), "w") as f:
                f.write(text)
            topo.gateway(os.path.join(w, f"{name}.yaml"))
        return curl(url(A4_PORT), headers("A", "B", trace="tr-pin"), b"pinned", http="h2",
                    extra=tls_args("A"))

    def test_right_root_and_name(self):
        with Topology() as topo:
            r = self.run_a_to_b(topo, root("B"), ids["B"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"pinned")

    def test_b_chain_from_another_root(self):
        with Topology() as topo:
            r = self.run_a_to_b(topo, root("C"), ids["B"])  # A pinned C's root for B
            self.assertEqual(r.status, 403, r)
            self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
            self.assertIn("certificate verify failed", r.headers["x-ptp-message"])

    def test_b_leaf_naming_another_node(self):
        with Topology() as topo:
            # B's identity, but its TLS leaf (from B's own root) names X.
            d = os.path.join(topo.workdir, "b-names-x")
            shutil.copytree(ids["B"], d)
            cert, key = issue_leaf(ids["B"], d, "x", "X")
            os.replace(cert, os.path.join(d, "tls.crt"))
            os.replace(key, os.path.join(d, "tls.key"))
            r = self.run_a_to_b(topo, root("B"), d)
            self.assertEqual(r.status, 403, r)
            self.assertEqual(r.headers["x-ptp-code"], "E0000000603", r)
            self.assertIn("the certificate does not name the pinned peer's node", r.headers["x-ptp-message"])


if __name__ == "__main__":
    unittest.main()
