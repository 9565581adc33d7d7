"""The chain both evidence benchmarks drive (evidence_signing_bench.py,
evidence_instructions_per_request.py): h2load -> gateway A -> gateway B -> ptp-echo-service,
1 KiB unary invokes, A and B with node identities (TLS between them, pinned roots), with or
without an evidence section. Under PTP_CRYPTO=gm both run `crypto: gm` (SM2 identities, SM3
digests). Import after PTP_BIN_DIR is set."""
import glob
import json
import os

from identity_dirs import make_identity
from ptp_harness import CRYPTO_YAML, ptp_headers

A_PORT, B_PORT, ECHO_PORT = 18391, 18392, 18393


def write_configs(workdir, evidence, window_us, io_threads):
    """{"A": path, "B": path} of the two gateways' configs, written into workdir."""
    ids = {n: make_identity(os.path.join(workdir, f"id-{n}"), n, f"INST_{n}") for n in "AB"}
    root = {n: os.path.join(d, "root.crt") for n, d in ids.items()}
    common = (f"io_threads: {io_threads}\nlog: {{level: warn}}\n"
              "auth: {enabled: false}\nqueue: {enabled: false}\n" + CRYPTO_YAML)
    ev = lambda n: (f"evidence: {{dir: \"{workdir}/ev-{n}\", batch_window_us: {window_us}}}\n"
                    if evidence else "")
    out = {}
    for n, port, peer, peer_port, more in (
            ("A", A_PORT, "B", B_PORT, ""),
            ("B", B_PORT, "A", A_PORT,
             f"local_services:\n  - {{uri: \"ptp/echo*\", address: \"127.0.0.1:{ECHO_PORT}\", "
             "protocol: http1, path: /echo}\n")):
        path = os.path.join(workdir, f"{n.lower()}.yaml")
        with open(path, "w") as f:
            f.write(f"""node: {{node_id: {n}, inst_id: INST_{n}, role: edge}}
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {port + 50}}}
identity: {{dir: "{ids[n]}"}}
peers:
  - {{node_id: {peer}, address: "127.0.0.1:{peer_port}", root_file: "{root[peer]}"}}
{more}{common}{ev(n)}""")
        out[n] = path
    return out


def request(body_path, body_bytes=1024):
    """Writes the body (1 KiB by default) to body_path; returns the PTP headers of the invoke
    (no trace id: the gateway makes one per request)."""
    with open(body_path, "wb") as f:
        f.write(b"x" * body_bytes)
    h = ptp_headers("A", "B", session="bench", uri="ptp/echo", token=None)
    h.pop("x-ptp-trace-id")
    return h


def invoke_url():
    return f"https://127.0.0.1:{A_PORT}/v1/interconn/chan/invoke"


def batches(workdir):
    """{"A": (records, set of batch ids), "B": ...}: A's `sent` signatures and B's receipts
    in the evidence logs so far (a proof's or reference's batch id is its 2nd part; the values
    start with "v1;sent_ms;" or "v3;sent_ms;" and "v1;msg;received_ms;code;" or "v3;...")."""
    out = {}
    for n, kind, field, at in (("A", "sent", "sig", 3), ("B", "received", "receipt", 5)):
        recs, ids = 0, set()
        for path in sorted(glob.glob(os.path.join(workdir, f"ev-{n}", "*.jsonl"))):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    if r["kind"] == kind and r.get(field):
                        recs += 1
                        ids.add(r[field].split(";")[at])
        out[n] = (recs, ids)
    return out


def print_batch_sizes(before, after, indent="  "):
    for n, what in (("A", "message signatures"), ("B", "receipts")):
        recs = after[n][0] - before[n][0]
        nb = len(after[n][1] - before[n][1])
        print(f"{indent}{n}: {recs} {what} in {nb} batches, {recs / max(nb, 1):.1f} per batch",
              flush=True)
