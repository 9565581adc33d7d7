"""Throwaway PKI for the TLS integration tests, made with the `openssl` CLI at test time
(nothing is committed): a CA, server certificates for 127.0.0.1/localhost, client
certificates, and a second, unrelated CA for negative tests."""
import os
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """Files under `directory`; paths are absolute."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self._ca("ca", "ptp-test-ca")
        self.other_ca = self._ca("other-ca", "ptp-untrusted-ca")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        return self.path(f"{name}.crt")

    def issue(self, name, cn, server=True, client=True, ca="ca",
              san="DNS:localhost,IP:127.0.0.1"):
        """Signs a certificate `name`.crt/.key with CA `ca`; returns (cert, key)."""
        usage = ",".join(u for u, on in (("serverAuth", server), ("clientAuth", client)) if on)
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\nextendedKeyUsage={usage}\n"
                    "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n")
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=self.dir)
        _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.crt", cwd=self.dir)
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()
