"""Node identity directories for integration tests, made with the openssl command line in
the layout `ptpctl identity init` produces (docs/peering.md): node.key (the node key,
PKCS#8, 0600), root.crt (self-signed node root: CA:TRUE pathlen:0, URI SAN
urn:ptp:node:<id>), tls.key (ECDSA P-256, 0600), tls.crt (the leaf issued by the root for
the node's address, followed by the root) and identity.json. Under PTP_CRYPTO=gm the node key is SM2 and the root signs with SM2/SM3 and
the default distinguishing ID (the TLS key stays P-256)."""
import base64
import ipaddress
import json
import os
import subprocess

_REQ_CONF = """[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectAltName = URI:urn:ptp:node:{node_id}
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = URI:urn:ptp:node:{node_id}, {host_san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


GM = os.environ.get("PTP_CRYPTO", "international") == "gm"
SM2_ID = "1234567812345678"  # the default distinguishing ID every SM2 signature here uses
# What `openssl pkeyutl` needs to sign or verify a node key's signature over a whole message.
SIGN_SCHEME = (["-rawin", "-digest", "sm3", "-pkeyopt", f"distid:{SM2_ID}"] if GM
               else ["-rawin", "-digest", "sha256"])
# What `openssl req -x509` / `openssl x509 -req` need to sign a certificate with the node key.
_CERT_SIGN = ["-sm3", "-sigopt", f"distid:{SM2_ID}"] if GM else []


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _p256_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    os.chmod(path, 0o600)


def _node_key(path):
    if GM:
        _openssl("genpkey", "-algorithm", "SM2", "-out", path)
        os.chmod(path, 0o600)
    else:
        _p256_key(path)


def sign_with_node_key(identity_dir, data):
    """The base64 signature of `data` by identity_dir/node.key, made by the openssl command
    line (ECDSA P-256 with SHA-256, or SM2 with SM3 under PTP_CRYPTO=gm), DER."""
    out = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey",
                          os.path.join(identity_dir, "node.key"), *SIGN_SCHEME],
                         input=data, capture_output=True, check=True).stdout
    return base64.b64encode(out).decode()


def make_identity(dir, node_id, inst_id, host="127.0.0.1"):
    """Creates dir (which must not hold a node.key yet) with the identity of node_id."""
    os.makedirs(dir, exist_ok=True)
    if os.path.exists(os.path.join(dir, "node.key")):
        raise FileExistsError(os.path.join(dir, "node.key"))
    try:
        ipaddress.ip_address(host)
        host_san = f"IP:{host}"
    except ValueError:
        host_san = f"DNS:{host}"
    conf = os.path.join(dir, ".openssl.cnf")
    with open(conf, "w") as f:
        f.write(_REQ_CONF.format(node_id=node_id, host_san=host_san))
    p = lambda name: os.path.join(dir, name)
    subject = f"/CN={node_id}/O={inst_id}"
    try:
        _node_key(p("node.key"))
        _openssl("req", "-x509", "-new", "-key", p("node.key"), "-subj", subject, "-days", "3650",
                 "-config", conf, "-extensions", "root", *_CERT_SIGN, "-out", p("root.crt"))
        _p256_key(p("tls.key"))
        _openssl("req", "-new", "-key", p("tls.key"), "-subj", subject, "-config", conf,
                 "-out", p("tls.csr"))
        _openssl("x509", "-req", "-in", p("tls.csr"), "-CA", p("root.crt"), "-CAkey", p("node.key"),
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "397",
                 "-extfile", conf, "-extensions", "leaf", *_CERT_SIGN, "-out", p("leaf.crt"))
        with open(p("tls.crt"), "w") as out:
            for part in ("leaf.crt", "root.crt"):
                with open(p(part)) as f:
                    out.write(f.read())
    finally:
        for tmp in ("tls.csr", "leaf.crt", ".openssl.cnf"):
            if os.path.exists(p(tmp)):
                os.remove(p(tmp))
    with open(p("identity.json"), "w") as f:
        json.dump({"node_id": node_id, "inst_id": inst_id,
                   "algorithm": "sm2" if GM else "ecdsa-p256",
                   "address": host}, f)
    return dir


def issue_leaf(identity_dir, out_dir, name, node_id, host="127.0.0.1"):
    """A further TLS leaf signed by identity_dir's root, naming node_id (which need not be
    the identity's own node): out_dir/<name>.crt (leaf + root) and <name>.key."""
    os.makedirs(out_dir, exist_ok=True)
    conf = os.path.join(out_dir, f".{name}.cnf")
    with open(conf, "w") as f:
        f.write(_REQ_CONF.format(node_id=node_id, host_san=f"IP:{host}"))
    key, csr, leaf = (os.path.join(out_dir, f"{name}.{x}") for x in ("key", "csr", "leaf"))
    _p256_key(key)
    _openssl("req", "-new", "-key", key, "-subj", f"/CN={node_id}", "-config", conf, "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", os.path.join(identity_dir, "root.crt"), "-CAkey",
             os.path.join(identity_dir, "node.key"), "-set_serial", "7", "-days", "30",
             "-extfile", conf, "-extensions", "leaf", *_CERT_SIGN, "-out", leaf)
    with open(os.path.join(out_dir, f"{name}.crt"), "w") as out:
        for part in (leaf, os.path.join(identity_dir, "root.crt")):
            with open(part) as f:
                out.write(f.read())
    for tmp in (csr, leaf, conf):
        os.remove(tmp)
    return os.path.join(out_dir, f"{name}.crt"), key
