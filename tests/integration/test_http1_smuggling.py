"""HTTP/1.1 request smuggling through Transfer-Encoding (RFC 9112 6.3): a request whose
Transfer-Encoding does not end with chunked (gzip, identity, "chunked, identity", a
second Transfer-Encoding field) has no knowable length. It is answered 400 and the
connection is closed; the bytes after its head, a complete push request here, never run.
Gateway A of conf/direct alone, raw sockets."""
import base64
import json
import re
import socket
import time
import unittest

from ptp_harness import Topology, conf, curl, ptp_headers

PORT = 17304
A = f"http://127.0.0.1:{PORT}/v1/interconn/chan/"


def queue_headers(session):
    h = ptp_headers("A", "A", session=session, uri=None)
    h.pop("x-ptp-version")
    h["content-type"] = "application/json"
    return h


def raw_request(path, headers, body=b""):
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode() + b"\r\n" + body


def exchange(data, timeout=5.0):
    """Sends `data` and reads until the gateway closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return got, True
            got += chunk
        return got, False


class Http1Smuggling(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_transfer_encoding_not_ending_in_chunked_is_refused(self):
        cases = {
            "gzip": [("Transfer-Encoding", "gzip")],
            "identity": [("Transfer-Encoding", "identity")],
            "chunked-identity": [("Transfer-Encoding", "chunked, identity")],
            "two-fields": [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "gzip")],
        }
        for name, te in cases.items():
            with self.subTest(te=name):
                session = f"s-smuggle-{name}"
                payload = base64.b64encode(b"smuggled").decode()
                inner_body = json.dumps({"topic": "t", "payload": payload}).encode()
                inner = raw_request("/v1/interconn/chan/push",
                                    list(queue_headers(session).items()) +
                                    [("Content-Length", str(len(inner_body)))], inner_body)
                outer = raw_request("/v1/interconn/chan/push",
                                    list(queue_headers(session).items()) + te, inner)
                got, closed = exchange(outer)
                self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:300])
                self.assertIn(b"E0000000400", got)
                self.assertIn(b"Transfer-Encoding", got)
                self.assertEqual(len(re.findall(rb"HTTP/1\.1 \d{3} ", got)), 1, got)
                self.assertTrue(closed, "the connection stays open after the refusal")
                # The smuggled push did not run: nothing to pop.
                h = queue_headers(session)
                r = curl(A + "pop", h, json.dumps({"topic": "t", "timeout": "100ms"}).encode())
                self.assertEqual(r.status, 200, r)
                self.assertNotIn("payload", r.json(), r)

    def test_chunked_last_is_still_served(self):
        body = json.dumps({"topic": "t", "payload": base64.b64encode(b"ok").decode()}).encode()
        chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        req = raw_request("/v1/interconn/chan/push",
                          list(queue_headers("s-chunked").items()) +
                          [("Transfer-Encoding", "chunked"), ("Connection", "close")], chunked)
        got, _ = exchange(req)
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:300])


if __name__ == "__main__":
    unittest.main()
