"""auth.max_token_lifetime_s (docs/security.md): a token whose expiry lies further ahead than
the maximum lifetime (plus the clock skew) is refused with E0000000403 at every gateway that
checks it, also one as far ahead as INT64_MAX; the tokens are made here with the documented
HMAC, independently of the gateway's minting."""
import hashlib
import hmac
import time
import unittest

from ptp_harness import KEYS, Topology, conf, curl, ptp_headers

A_URL = "http://127.0.0.1:17304/v1/interconn/chan/invoke"
INT64_MAX = 2**63 - 1


def token(source, target, session, expiry):
    msg = f"ptp-token-v1\n{source}\n{target}\n{session}\n{expiry}".encode()
    return f"v1.{expiry}." + hmac.new(KEYS[source].encode(), msg, hashlib.sha256).hexdigest()


def send(target, expiry, http="h2c"):
    h = ptp_headers("A", target, token=token("A", target, "sess-1", expiry))
    return curl(A_URL, h, b"lifetime", http=http)


class TokenLifetime(unittest.TestCase):
    def test_default_bound_refuses_a_far_expiry(self):
        """The default: one day (with 300 s of clock skew)."""
        with Topology() as topo:
            topo.gateway(conf("direct", "a.yaml"))
            now = int(time.time())
            for http in ("h2c", "1.1"):
                r = send("A", INT64_MAX, http)
                self.assertEqual((r.status, r.headers.get("x-ptp-code")), (403, "E0000000403"), r)
                self.assertEqual(r.headers.get("x-ptp-hop"), "A", r)
                self.assertIn("beyond the maximum token lifetime of 86400 s", r.headers.get("x-ptp-message", ""), r)
            r = send("A", now + 86400 + 300 + 3600)
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000403", r)
            # One day plus less than the skew is accepted; the gateway keeps serving.
            r = send("A", now + 86400 + 200)
            self.assertEqual((r.status, r.body), (200, b"lifetime"), r)

    def test_configured_bound_at_each_hop(self):
        with Topology() as topo:
            # A: the default (one day); B: 2 hours.
            b_path = topo.variant(conf("direct", "b.yaml"),
                                  [("max_clock_skew_s: 300", "max_clock_skew_s: 300\n  max_token_lifetime_s: 7200")])
            topo.gateway(conf("direct", "a.yaml"))
            topo.gateway(b_path)
            now = int(time.time())
            # Through A to B: A lets a 5-hour token pass, B refuses it.
            r = send("B", now + 3600)
            self.assertEqual((r.status, r.body, r.headers.get("x-ptp-diag-node")), (200, b"lifetime", "B"), r)
            r = send("B", now + 5 * 3600)
            self.assertEqual((r.status, r.headers.get("x-ptp-code"), r.headers.get("x-ptp-hop")),
                             (403, "E0000000403", "B"), r)
            self.assertIn("maximum token lifetime of 7200 s (auth.max_token_lifetime_s", r.headers["x-ptp-message"])
            self.assertNotIn(KEYS["A"], r.headers["x-ptp-message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
