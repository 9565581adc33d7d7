"""The admin port's operator credential (docs/security.md): every mutating route (here
POST /reload) needs `Authorization: Bearer <token of admin.credential_file>`: 401 without,
403 wrong or when none is configured, 200 with it; the GET routes stay open. Admin bodies
are bounded (413 over 1 MiB) and must arrive within admin.body_timeout_ms: a slow client is
disconnected while /healthz keeps answering. A credential file readable by others is
refused at start. With admin.tls and a client_ca, a client certificate that CA issued is the
credential too (no token), and ptpctl speaks TLS with --ca/--cert/--key."""
import http.client
import json
import os
import socket
import subprocess
import time
import unittest

from ptp_harness import BIN, GATEWAY, Process, Topology, wait_until
from tls_certs import Pki

LISTEN, ADMIN = 17501, 17551
TOKEN = "operator-token-0123456789abcdef"


def write_config(topo, credential=True, mode=0o600, name="gw.yaml", admin_extra=""):
    cred = os.path.join(topo.workdir, "admin.token")
    with open(cred, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(cred, mode)
    text = (
        "node: {node_id: A, inst_id: INST_A}\n"
        f"listen: {{address: 127.0.0.1, port: {LISTEN}}}\n"
        f"admin: {{port: {ADMIN}, body_timeout_ms: 1000"
        + (f", credential_file: {cred}" if credential else "")
        + admin_extra
        + "}\n"
        "auth: {enabled: true, node_keys: {A: \"demo-only-secret-A-do-not-use-in-production\"}}\n"
        "reload_poll_ms: 60000\n"
    )
    path = os.path.join(topo.workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def request(method, path, body=None, token=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", ADMIN, timeout=10)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class AdminCredential(unittest.TestCase):
    def test_mutating_route_needs_the_credential(self):
        with Topology() as topo:
            topo.gateway(write_config(topo))
            status, body = request("POST", "/reload")
            self.assertEqual(status, 401, body)
            self.assertEqual(json.loads(body)["code"], "E0000000403")
            self.assertIn("Bearer", json.loads(body)["message"])
            status, body = request("POST", "/reload", token="operator-token-0123456789abcdeX")
            self.assertEqual(status, 403, body)
            self.assertIn("does not match", json.loads(body)["message"])
            status, body = request("POST", "/reload", headers={"Authorization": "Basic " + TOKEN})
            self.assertEqual(status, 401, body)
            status, body = request("POST", "/reload", token=TOKEN)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["code"], "E0000000000")
            self.assertIn("POST /reload", json.loads(body)["message"])
            # The read-only routes stay open.
            for path in ("/healthz", "/readyz", "/metrics"):
                self.assertEqual(request("GET", path)[0], 200, path)
            # Rotation: a new token in the file takes effect on reload; the old one is refused.
            new = "rotated-operator-token-0123456789"
            with open(os.path.join(topo.workdir, "admin.token"), "w") as f:
                f.write(new + "\n")
            self.assertEqual(request("POST", "/reload", token=TOKEN)[0], 200)
            self.assertEqual(request("POST", "/reload", token=TOKEN)[0], 403)
            self.assertEqual(request("POST", "/reload", token=new)[0], 200)
            # A rejected reload answers 400 with the reason; the running config stays.
            with open(os.path.join(topo.workdir, "admin.token"), "w") as f:
                f.write("short\n")
            status, body = request("POST", "/reload", token=new)
            self.assertEqual(status, 400, body)
            self.assertIn("admin.credential_file", json.loads(body)["message"])
            self.assertEqual(request("POST", "/reload", token=new)[0], 400)  # still the token in force
            # The tokens are never logged.
            for t in (TOKEN, new):
                self.assertNotIn(t, topo.procs[0].output())

    def test_no_credential_configured_refuses_mutations(self):
        with Topology() as topo:
            topo.gateway(write_config(topo, credential=False))
            status, body = request("POST", "/reload", token=TOKEN)
            self.assertEqual(status, 403, body)
            self.assertEqual(json.loads(body)["message"],
                             "no operator credential configured (admin.credential_file)")
            self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_credential_file_readable_by_others_is_refused(self):
        with Topology() as topo:
            path = write_config(topo, mode=0o644)
            out = subprocess.run([GATEWAY, "--check-config", path], capture_output=True, timeout=10)
            self.assertNotEqual(out.returncode, 0)
            err = out.stderr.decode()
            self.assertIn("admin.credential_file", err)
            self.assertIn("chmod 600", err)
            self.assertNotIn(TOKEN, err)

    def test_body_over_1_mib_is_413(self):
        with Topology() as topo:
            topo.gateway(write_config(topo))
            # Announced by Content-Length: answered before the body is sent.
            s = socket.create_connection(("127.0.0.1", ADMIN), timeout=5)
            s.sendall(b"POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                      + b"\r\nContent-Length: 1048577\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            s.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer)
            # A real client sending the body (curl: Expect: 100-continue, then the 413).
            big = os.path.join(topo.workdir, "big.json")
            with open(big, "wb") as f:
                f.write(b"x" * (1024 * 1024 + 1))
            out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                                  "-H", "Authorization: Bearer " + TOKEN, "--data-binary", "@" + big,
                                  f"http://127.0.0.1:{ADMIN}/reload"], capture_output=True, timeout=10)
            body, _, code = out.stdout.decode().rpartition("\n")
            self.assertEqual(code, "413", out)
            self.assertEqual(json.loads(body)["code"], "E0000000413")
            # Exactly 1 MiB is accepted (the route ignores the body).
            status, body = request("POST", "/reload", body=b"x" * (1024 * 1024), token=TOKEN)
            self.assertEqual(status, 200, body)

    def test_slow_body_is_cut_off_while_healthz_answers(self):
        with Topology() as topo:
            topo.gateway(write_config(topo))
            s = socket.create_connection(("127.0.0.1", ADMIN), timeout=5)
            s.sendall(b"POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                      + b"\r\nContent-Length: 100\r\n\r\nabc")
            start = time.time()
            closed = False
            # Trickle a byte every 200 ms: the body timeout (1 s) must end it anyway.
            for _ in range(40):
                self.assertEqual(request("GET", "/healthz")[0], 200)
                try:
                    s.sendall(b"x")
                    s.settimeout(0.2)
                    if s.recv(4096) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
            elapsed = time.time() - start
            s.close()
            self.assertTrue(closed, "the slow connection was not closed")
            self.assertLess(elapsed, 3.0)
            self.assertEqual(request("GET", "/healthz")[0], 200)


class AdminTls(unittest.TestCase):
    def curl(self, pki, *args, cert=None):
        cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--cacert", pki.ca]
        if cert:
            cmd += ["--cert", cert[0], "--key", cert[1]]
        out = subprocess.run(cmd + list(args), capture_output=True, timeout=10)
        body, _, code = out.stdout.decode().rpartition("\n")
        return out.returncode, code, body

    def test_client_certificate_is_the_credential(self):
        with Topology() as topo:
            pki = Pki(topo.workdir)
            server = pki.issue("admin-server", "gateway-admin", client=False)
            operator = pki.issue("operator", "operator", server=False)
            stranger = pki.issue("stranger", "stranger", server=False, ca="other-ca")
            extra = f", tls: {{cert: {server[0]}, key: {server[1]}, client_ca: {pki.ca}}}"
            # Started here: the harness waits for a cleartext /readyz.
            gw = Process([GATEWAY, "--config", write_config(topo, admin_extra=extra), "--data-dir",
                          os.path.join(topo.workdir, "data")], os.path.join(topo.workdir, "gw.log"))
            topo.procs.append(gw)
            url = f"https://127.0.0.1:{ADMIN}"
            # GET: no credential needed.
            wait_until(lambda: self.curl(pki, url + "/readyz")[1] == "200", 10, "admin over TLS")
            rc, code, body = self.curl(pki, "-X", "POST", url + "/reload", cert=operator)
            self.assertEqual(code, "200", body)  # the certificate alone
            rc, code, body = self.curl(pki, "-X", "POST", url + "/reload")
            self.assertEqual(code, "401", body)
            rc, code, body = self.curl(pki, "-X", "POST", "-H", "Authorization: Bearer " + TOKEN,
                                       url + "/reload")
            self.assertEqual(code, "200", body)  # or the token
            rc, code, body = self.curl(pki, "-X", "POST", url + "/reload", cert=stranger)
            self.assertNotEqual(code, "200", body)  # another CA's certificate: no handshake
            self.assertNotEqual(rc, 0)
            # Cleartext on the TLS port gets nothing.
            with self.assertRaises(Exception):
                request("GET", "/healthz")
            ptpctl = os.path.join(BIN, "ptpctl")
            out = subprocess.run([ptpctl, "--admin", f"127.0.0.1:{ADMIN}", "--ca", pki.ca, "--cert",
                                  operator[0], "--key", operator[1], "reload"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out)
            out = subprocess.run([ptpctl, "--admin", f"127.0.0.1:{ADMIN}", "--ca", pki.other_ca,
                                  "status"], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 3, out)  # the server's certificate is not trusted
            self.assertIn("certificate verify failed", out.stderr)
            self.assertEqual(gw.stop(), 0, gw.output())


if __name__ == "__main__":
    unittest.main()
