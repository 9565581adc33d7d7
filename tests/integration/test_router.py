"""The privacy router end to end (conf/router, docs/router.md): the SS platform's gateway S,
router gateways RA (router server A) and RB (B), the HE platform's gateway H. The test makes
x and its n additive shares over Z_2^l in Python; ptp-rc keygen / start-job / send-shares
(n processes at once) / receive / decrypt do the rest through the gateways' push/pop only;
the decrypted values must equal x. Both combine modes (rc: the HE side adds the halves;
rs_a: RS-A adds them). Negative cases: a missing party (job timeout), a duplicated party,
mismatched lengths, an invalid public key, an unknown job, a job id seen again. Public keys in
both forms (the DataExchangeProtocol envelope and the runtime's bare PublicKey). Authorization:
a spec from a node that is not a job source (the share holder naming itself the HE node), a
share of party i from another node than the spec names, a conflicting second spec, an HE node
the job source may not name. Denial of service: a share holder's shares for 300 job ids no job
source started neither start jobs nor delay a job a job source starts afterwards; a job source
flooding specs of jobs whose shares never come holds only its share of the job slots, and
another job source's job completes at once. A failed job's queued shares are deleted."""
import base64
import concurrent.futures
import json
import os
import random
import re
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from ptp_harness import BIN, Topology, conf, curl, mint

RC = os.path.join(BIN, "ptp-rc")
KEYS = {n: f"demo-only-secret-{n}-do-not-use-in-production" for n in ["S", "H", "RA", "RB"]}
S_URL = "http://127.0.0.1:17330"
H_URL = "http://127.0.0.1:17331"
ADMIN = {"RA": 17432, "RB": 17433}
RESULT_TOPICS = ["rs.result.A", "rs.result.B", "rs.result"]


def rc(*args, check=True, timeout=120):
    out = subprocess.run([RC, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"ptp-rc {' '.join(map(str, args))} failed ({out.returncode}):\n"
                             f"{out.stdout}{out.stderr}")
    return out


def test_vector(l, k, rnd):
    """x with 0, +-1, large magnitudes and random values."""
    if l == 64:
        fixed = [0, 1, -1, 2**40, -(2**40), 2**62, -(2**62)]
        rand = [rnd.randint(-(2**31), 2**31) for _ in range(k - len(fixed))]
    else:
        fixed = [0, 1, -1, 2**64, -(2**64), 2**100, -(2**100)]
        rand = [rnd.randint(-(2**90), 2**90) for _ in range(k - len(fixed))]
    return fixed + rand


def make_shares(x, n, l, rnd):
    """n vectors of uniform elements of Z_2^l that add up to x (mod 2^l)."""
    m = 1 << l
    parts = [[rnd.randrange(m) for _ in x] for _ in range(n - 1)]
    parts.append([(xi - sum(p[i] for p in parts)) % m for i, xi in enumerate(x)])
    return parts


def write_vector(path, values, l):
    with open(path, "wb") as f:
        f.write(b"".join((v % (1 << l)).to_bytes(l // 8, "little") for v in values))


def read_varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def proto_fields(data):
    """Top-level (number, wire type, value) of a protobuf message (varints, length-delimited)."""
    pos, out = 0, []
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        if tag & 7 == 0:
            value, pos = read_varint(data, pos)
        elif tag & 7 == 2:
            size, pos = read_varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"wire type {tag & 7}")
        out.append((tag >> 3, tag & 7, value))
    return out


def bare_public_key(envelope):
    """The runtime's own PublicKey {Bigint n = 1; Bigint hs = 2;} (phe.proto) without the
    DataExchangeProtocol envelope: the one item of the envelope's v_ndarray (field 9)."""
    array = [v for num, _, v in proto_fields(envelope) if num == 9][0]
    items = [v for num, _, v in proto_fields(array) if num == 2]
    assert len(items) == 1
    fields = proto_fields(items[0])
    assert [(num, wt) for num, wt, _ in fields] == [(1, 2), (2, 2)], fields  # n, hs: Bigints
    return items[0]


def proto_public_key_with_even_n():
    """A wire-format public key (he_wire.proto) whose n is even: n only, 2048 bits."""
    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])

    def field(num, data):
        return varint(num << 3 | 2) + varint(len(data)) + data

    n = ((1 << 2047) | random.getrandbits(2047)) & ~1
    bigint = field(2, n.to_bytes(256, "little"))        # Bigint.little_endian_value
    key = field(1, bigint)                              # PaillierPublicKey.n
    array = field(2, key)                               # VNdArray.items
    return (varint(1 << 3) + varint(20) + field(2, b"paillier_public_key")  # DataExchangeProtocol
            + field(9, array))


class RouterTest(unittest.TestCase):
    """Shared helpers; subclasses start the topology."""

    topo = None
    rnd = random.Random(20261130)

    @classmethod
    def start(cls, ra_conf, rb_conf):
        cls.topo = Topology()
        cls.work = cls.topo.workdir
        cls.topo.gateway(conf("router", "s.yaml"))
        cls.topo.gateway(conf("router", "h.yaml"))
        cls.ra = cls.topo.gateway(ra_conf)
        cls.rb = cls.topo.gateway(rb_conf)
        for node, key in KEYS.items():
            with open(os.path.join(cls.work, node + ".key"), "w") as f:
                f.write(key + "\n")
        cls.pk = os.path.join(cls.work, "pk.bin")
        cls.sk = os.path.join(cls.work, "sk.bin")
        rc("keygen", "--bits", 2048, "--public-key", cls.pk, "--secret-key", cls.sk)

    @classmethod
    def tearDownClass(cls):
        if cls.topo:
            cls.topo.close()

    def path(self, name):
        return os.path.join(self.work, name)

    def node_args(self, node):
        return ["--gateway", S_URL if node == "S" else H_URL, "--node", node,
                "--key-file", self.path(node + ".key")]

    def start_job(self, job, n, l, k, *extra, node="H", he_node="H", pk=None, party_nodes="S"):
        rc("start-job", *self.node_args(node), "--job", job, "--rs-a", "RA", "--rs-b", "RB",
           "--he-node", he_node, "--parties", n, "--party-nodes", party_nodes, "--ring", l,
           "--elements", k, "--public-key", pk or self.pk, *extra)

    def send_shares(self, job, l, parts, parties=None, files=None, node="S"):
        """One ptp-rc send-shares process per party, all at once."""
        procs = []
        for p in parties or range(1, len(parts) + 1):
            f = (files or {}).get(p) or self.path(f"{job}-share{p}.bin")
            if not (files or {}).get(p):
                write_vector(f, parts[p - 1], l)
            procs.append(subprocess.Popen(
                [RC, "send-shares", *self.node_args(node), "--job", job, "--party", str(p),
                 "--ring", str(l), "--in", f, "--rs-a", "RA", "--rs-b", "RB"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for pr in procs:
            out, _ = pr.communicate(timeout=60)
            self.assertEqual(pr.returncode, 0, out)

    def receive_and_decrypt(self, job, l, pk=None):
        ct = self.path(job + ".ct")
        rc("receive", *self.node_args("H"), "--job", job, "--public-key", pk or self.pk, "--out",
           ct, "--timeout-s", 60)
        raw, ring = self.path(job + ".txt"), self.path(job + ".ring.txt")
        rc("decrypt", "--secret-key", self.sk, "--in", ct, "--out", raw)
        rc("decrypt", "--secret-key", self.sk, "--in", ct, "--out", ring, "--ring", l)
        def read(p):
            with open(p) as f:
                return [int(v) for v in f.read().split()]
        return read(raw), read(ring)

    def check_exact(self, x, l, raw, ring):
        self.assertEqual(ring, x)  # reduced mod 2^l and read signed: always x
        self.assertEqual(len(raw), len(x))
        for xi, got in zip(x, raw):
            if abs(xi) >= 2**62 and l == 64:
                # The two signed halves wrap with probability ~|x| / 2^l (docs/router.md):
                # for 2^62 at l = 64 that is 1/4, so [x] may hold x -+ 2^64.
                self.assertIn(got, (xi, xi - (1 << 64) if xi > 0 else xi + (1 << 64)))
            else:
                self.assertEqual(got, xi)

    def status(self, node, job):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN[node]}/rs/jobs/{job}",
                                        timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_state(self, node, job, states=("delivered", "failed"), timeout=60):
        deadline = time.time() + timeout
        while True:
            code, st = self.status(node, job)
            if code == 200 and st["state"] in states:
                return st
            if time.time() > deadline:
                raise AssertionError(f"{node} job {job}: {code} {st}")
            time.sleep(0.1)

    def assert_nothing_at_h(self, job, node="H"):
        """A pop at H (or `node`) finds no result for the job."""
        for topic in RESULT_TOPICS:
            h = {"x-ptp-tech-provider-code": "TEST", "x-ptp-trace-id": "t-" + job,
                 "x-ptp-token": mint(node, node, job, key=KEYS[node]), "x-ptp-session-id": job,
                 "x-ptp-target-node-id": node, "x-ptp-topic": topic,
                 "content-type": "application/octet-stream"}
            url = S_URL if node == "S" else H_URL
            r = curl(url + "/v1/interconn/chan/pop?timeout=300ms", h, b"")
            self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)
            self.assertEqual(r.headers.get("x-ptp-queue-result"), "empty", (topic, r))

    def push_spec(self, target, job, spec_json, message_id, node="H"):
        h = {"x-ptp-tech-provider-code": "TEST", "x-ptp-trace-id": "t-" + job,
             "x-ptp-token": mint(node, target, job, key=KEYS[node]), "x-ptp-session-id": job,
             "x-ptp-target-node-id": target, "x-ptp-topic": "rs.job",
             "x-ptp-message-id": message_id, "content-type": "application/octet-stream"}
        r = curl((S_URL if node == "S" else H_URL) + "/v1/interconn/chan/push", h,
                 spec_json.encode())
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)

    def wait_known(self, job):
        """Both router servers know the job (a message for it was stored)."""
        for node in ("RA", "RB"):
            deadline = time.time() + 30
            while self.status(node, job)[0] != 200:
                self.assertLess(time.time(), deadline, f"{node} never heard of job {job}")
                time.sleep(0.05)

    def wait_refusal_logged(self, job):
        """Both router servers logged a refused message of the job."""
        for gw in (self.ra, self.rb):
            deadline = time.time() + 30
            while not any(line.startswith("{") and "message refused" in line
                          and '"' + job + '"' in line for line in gw.output().splitlines()):
                self.assertLess(time.time(), deadline, f"no refusal logged for job {job}")
                time.sleep(0.05)

    def wait_refused(self, job, count):
        """Both router servers refused `count` messages of the job; returns their states."""
        out = {}
        for node in ("RA", "RB"):
            deadline = time.time() + 30
            while True:
                code, st = self.status(node, job)
                if code == 200 and st.get("refused", 0) >= count:
                    out[node] = st
                    break
                self.assertLess(time.time(), deadline, f"{node} job {job}: {code} {st}")
                time.sleep(0.05)
        return out

    def job_metrics(self, node):
        """(delivered jobs, converted elements) from the node's /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN[node]}/metrics", timeout=5) as r:
            text = r.read().decode()
        def value(name):
            m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
            return float(m.group(1)) if m else None
        return value('ptp_router_jobs_total{result="delivered"}'), value("ptp_router_job_elements_total")

    def convert(self, job, l, n, k=24, shares_first=False, pk=None):
        before = {node: self.job_metrics(node) for node in ("RA", "RB")}
        x = test_vector(l, k, self.rnd)
        parts = make_shares(x, n, l, self.rnd)
        if shares_first:
            self.send_shares(job, l, parts)
            self.start_job(job, n, l, k, pk=pk)
        else:
            self.start_job(job, n, l, k, pk=pk)
            self.send_shares(job, l, parts)
        raw, ring = self.receive_and_decrypt(job, l, pk=pk)
        self.check_exact(x, l, raw, ring)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "delivered", st)
            self.assertEqual(st["parties_received"], n)
            self.assertEqual(st["elements"], k)
            self.assertEqual(st["error"], "")
            # ptp_router_jobs_total and ptp_router_job_elements_total count the job.
            (jobs0, elems0), (jobs1, elems1) = before[node], self.job_metrics(node)
            self.assertEqual((jobs1 - jobs0, elems1 - elems0), (1, k), node)


class RouterCombineAtRc(RouterTest):
    """conf/router as shipped: combine_at rc, job_timeout_s 300."""

    @classmethod
    def setUpClass(cls):
        cls.start(conf("router", "ra.yaml"), conf("router", "rb.yaml"))

    def test_l64_n3(self):
        self.convert("j64n3", 64, 3)

    def test_l64_n4(self):
        self.convert("j64n4", 64, 4)

    def test_l128_n3(self):
        self.convert("j128n3", 128, 3)

    def test_l128_n4_shares_before_spec(self):
        self.convert("j128n4", 128, 4, shares_first=True)

    def test_job_id_seen_again_is_not_converted_twice(self):
        self.convert("jagain", 64, 3, k=8)
        # The same spec again, as a new message (another message id): dropped.
        spec = rc("start-job", "--job", "jagain", "--rs-a", "RA", "--rs-b", "RB", "--he-node",
                  "H", "--parties", 3, "--party-nodes", "S", "--ring", 64, "--elements", 8,
                  "--public-key", self.pk, "--print-spec").stdout.strip()
        for node in ("RA", "RB"):
            self.push_spec(node, "jagain", spec, "jagain.spec.retry")
        # start-job again (same message id) and the shares again: dropped as well.
        self.start_job("jagain", 3, 64, 8)
        self.send_shares("jagain", 64, make_shares([1] * 8, 3, 64, self.rnd))
        time.sleep(1.5)
        for node in ("RA", "RB"):
            st = self.wait_state(node, "jagain")
            self.assertEqual(st["state"], "delivered", st)
            self.assertEqual(st["chunks_delivered"], 1)
        self.assert_nothing_at_h("jagain")
        self.assertIn("not converted twice", self.ra.output())

    def test_duplicated_party(self):
        job, l, n, k = "jdup", 64, 3, 10
        x = test_vector(l, k, self.rnd)
        parts = make_shares(x, n, l, self.rnd)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, parts, parties=[1, 2])
        self.send_shares(job, l, parts, parties=[2])  # another run for party 2
        self.send_shares(job, l, parts, parties=[3])
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertIn("party 2 sent chunk 0 twice", st["error"])
        self.assert_nothing_at_h(job)

    def test_mismatched_lengths(self):
        job, l, n, k = "jlen", 128, 3, 10
        x = test_vector(l, k, self.rnd)
        parts = make_shares(x, n, l, self.rnd)
        longer = self.path("jlen-longer.bin")
        write_vector(longer, parts[1] + [5], l)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, parts, files={2: longer})
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertIn("party 2 sends a vector of 11 elements, the job has 10", st["error"])
        self.assert_nothing_at_h(job)

    def test_party_out_of_range_before_the_spec(self):
        """Shares of a 4th party stored before the spec of a 3-party job (they start no job)
        still fail the job once the spec starts it, instead of being left out of the sum."""
        job, l, k = "jrange", 64, 8
        parts = make_shares(test_vector(l, k, self.rnd), 4, l, self.rnd)
        self.send_shares(job, l, parts)
        for node in ("RA", "RB"):
            self.assertEqual(self.status(node, job)[0], 404)
        self.start_job(job, 3, l, k)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertEqual(st["error"], "party 4 is not a party of this job (parties 1..3)")
        self.assert_nothing_at_h(job)

    def test_invalid_public_key(self):
        job = "jbadkey"
        spec = json.dumps({"job_id": job, "ring_bits": 64, "elements": 4, "parties": 2,
                           "party_nodes": ["S", "S"], "he_node": "H",
                           "public_key": base64.b64encode(proto_public_key_with_even_n()).decode()})
        for node in ("RA", "RB"):
            self.push_spec(node, job, spec, job + ".spec")
        parts = make_shares([1, 2, 3, 4], 2, 64, self.rnd)
        self.send_shares(job, 64, parts)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertIn("public key: n is even", st["error"])
        # ptp-rc refuses such a key before sending anything.
        bad = self.path("even.pk")
        with open(bad, "wb") as f:
            f.write(proto_public_key_with_even_n())
        out = rc("start-job", *self.node_args("H"), "--job", "jbadkey2", "--rs-a", "RA",
                 "--rs-b", "RB", "--he-node", "H", "--parties", 2, "--party-nodes", "S",
                 "--ring", 64, "--elements", 4, "--public-key", bad, check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("public key: n is even", out.stderr)
        self.assert_nothing_at_h(job)

    def test_bare_public_key(self):
        """The runtime's own PublicKey {n, hs} without the DataExchangeProtocol envelope: read
        by ptp-rc start-job and receive, and by both router servers (the spec carries it)."""
        with open(self.pk, "rb") as f:
            bare = bare_public_key(f.read())
        pk = self.path("bare.pk")
        with open(pk, "wb") as f:
            f.write(bare)
        spec = json.loads(rc("start-job", "--job", "jbare", "--rs-a", "RA", "--rs-b", "RB",
                             "--he-node", "H", "--parties", 3, "--party-nodes", "S", "--ring", 64,
                             "--elements", 8, "--public-key", pk, "--print-spec").stdout)
        self.assertEqual(base64.b64decode(spec["public_key"]), bare)  # sent as given
        self.convert("jbare", 64, 3, k=8, pk=pk)
        # Neither form: the error names both.
        junk = self.path("junk.pk")
        with open(junk, "wb") as f:
            f.write(b"\x08\x05")  # a varint field 1 only: an envelope of scalar_type 5
        out = rc("start-job", "--job", "jjunk", "--rs-a", "RA", "--rs-b", "RB", "--he-node", "H",
                 "--parties", 2, "--party-nodes", "S", "--ring", 64, "--elements", 4,
                 "--public-key", junk, "--print-spec", check=False)
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("he wire: scalar_type 5, expected 20 (a public key is accepted as a "
                      "DataExchangeProtocol", out.stderr)
        self.assertIn("or as a bare PublicKey {n, hs} message (phe.proto)", out.stderr)

    def test_share_holder_cannot_start_a_job_for_itself(self):
        """The attack: share holder S sends the spec first, naming itself the HE node with its
        own key. The router servers refuse it (S is no job source), run the job with H's spec,
        and S receives nothing."""
        job, l, n, k = "jattack", 64, 3, 8
        s_pk, s_sk = self.path("s.pk"), self.path("s.sk")
        rc("keygen", "--bits", 2048, "--public-key", s_pk, "--secret-key", s_sk)
        self.start_job(job, n, l, k, node="S", he_node="S", pk=s_pk)
        # S's spec is stored first at both router servers and refused there; it starts no job.
        self.wait_refusal_logged(job)
        for node in ("RA", "RB"):
            self.assertEqual(self.status(node, job)[0], 404)
        x = test_vector(l, k, self.rnd)
        self.send_shares(job, l, make_shares(x, n, l, self.rnd))
        self.start_job(job, n, l, k)
        raw, ring = self.receive_and_decrypt(job, l)
        self.check_exact(x, l, raw, ring)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "delivered", st)
            self.assertEqual(st["refused"], 1, st)
            self.assertEqual(st["last_refusal"],
                             "job spec from node S refused: S is not a job source of this "
                             "router server (router_server.job_sources: H)")
        self.assert_nothing_at_h(job, node="S")
        for gw in (self.ra, self.rb):
            refusals = [json.loads(line) for line in gw.output().splitlines()
                        if line.startswith("{") and "message refused" in line
                        and '"' + job + '"' in line]
            self.assertEqual(len(refusals), 1, refusals)
            self.assertEqual(refusals[0]["code"], "E0000000614", refusals[0])
            self.assertEqual(refusals[0]["source"], "S", refusals[0])

    def test_share_of_a_party_from_another_node_is_refused(self):
        """The spec names S for every party: party 2's shares sent through H are refused (and
        do not count as a duplicate), S's are taken, x comes out right."""
        job, l, n, k = "jwrongnode", 64, 3, 8
        x = test_vector(l, k, self.rnd)
        parts = make_shares(x, n, l, self.rnd)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, make_shares([7] * k, n, l, self.rnd), parties=[2], node="H")
        self.wait_refused(job, 1)
        self.send_shares(job, l, parts)
        raw, ring = self.receive_and_decrypt(job, l)
        self.check_exact(x, l, raw, ring)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "delivered", st)
            self.assertEqual(st["refused"], 1, st)
            self.assertEqual(st["last_refusal"],
                             "share of party 2 from node H refused: the job spec names node S "
                             "for party 2")

    def test_conflicting_second_spec_is_refused(self):
        """A second, different spec from the job source (here: another HE node) and one from a
        share holder are refused while the job runs with the first; the same spec again is
        not a conflict."""
        job, l, n, k = "jconflict", 64, 2, 8
        self.start_job(job, n, l, k)
        self.wait_known(job)
        first = rc("start-job", "--job", job, "--rs-a", "RA", "--rs-b", "RB", "--he-node", "H",
                   "--parties", n, "--party-nodes", "S", "--ring", l, "--elements", k,
                   "--public-key", self.pk, "--print-spec").stdout.strip()
        other = json.loads(first)
        other["he_node"] = "S"
        for node in ("RA", "RB"):
            self.push_spec(node, job, first, job + ".spec.again")
            self.push_spec(node, job, json.dumps(other), job + ".spec.other")
        st = self.wait_refused(job, 1)
        for node in ("RA", "RB"):
            self.assertEqual(st[node]["last_refusal"],
                             "conflicting job spec from node H refused: job jconflict already "
                             "runs with the spec from node H")
            self.push_spec(node, job, json.dumps(other), job + ".spec.s", node="S")
        st = self.wait_refused(job, 2)
        for node in ("RA", "RB"):
            self.assertIn("job spec from node S refused: S is not a job source",
                          st[node]["last_refusal"])
        x = test_vector(l, k, self.rnd)
        self.send_shares(job, l, make_shares(x, n, l, self.rnd))
        raw, ring = self.receive_and_decrypt(job, l)
        self.check_exact(x, l, raw, ring)
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "delivered", st)
            self.assertEqual(st["refused"], 2, st)
        self.assert_nothing_at_h(job, node="S")
        self.assertIn("conflicting job spec from node H refused", self.ra.output())

    def test_he_node_not_permitted_for_the_job_source(self):
        """H is a job source for results to itself only (job_sources: [H])."""
        job = "jforeign"
        self.start_job(job, 2, 64, 4, he_node="S")
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertEqual(st["error"], "job spec from node H: he_node S is not permitted for "
                             "this job source (router_server.job_sources.H: H)")
        self.assert_nothing_at_h(job, node="S")

    def test_unknown_job(self):
        for node in ("RA", "RB"):
            code, body = self.status(node, "no-such-job")
            self.assertEqual(code, 404)
            self.assertEqual(body, {"error": "unknown job no-such-job"})
        out = rc("receive", *self.node_args("H"), "--job", "no-such-job", "--public-key", self.pk,
                 "--out", self.path("none.ct"), "--timeout-s", 1, check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no result for job no-such-job", out.stderr)


class RouterCombineAtRsA(RouterTest):
    """RS-B sends its half to RS-A, which adds; job_timeout_s 4 for the missing-party case."""

    @classmethod
    def setUpClass(cls):
        tmp = Topology()  # holds the config variants (its work dir) until the end
        ra = tmp.variant(conf("router", "ra.yaml"),
                         [("combine_at: rc ", "combine_at: rs_a "),
                          ("job_timeout_s: 300 ", "job_timeout_s: 4 ")], "ra-rs_a.yaml")
        rb = tmp.variant(conf("router", "rb.yaml"),
                         [("combine_at: rc ", "combine_at: rs_a "),
                          ("job_timeout_s: 300 ", "job_timeout_s: 4 ")], "rb-rs_a.yaml")
        cls.variants = tmp
        cls.start(ra, rb)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.variants.close()

    def test_l64_n3_combined_at_rs_a(self):
        self.convert("jrsa", 64, 3, shares_first=True)
        # H got the combined result from RA, nothing from RB.
        h_log = [json.loads(line) for line in self.topo.procs[1].output().splitlines()
                 if line.startswith("{")]
        sources = {e.get("source") for e in h_log
                   if e.get("session_id") == "jrsa" and e.get("msg") == "invoke"}
        self.assertEqual(sources, {"RA"})

    def test_missing_party(self):
        job, l, n, k = "jmiss", 64, 3, 6
        parts = make_shares([3, -2, 1, 0, 2**40, -5], n, l, self.rnd)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, parts, parties=[1, 3])
        for node in ("RA", "RB"):
            st = self.wait_state(node, job, timeout=30)
            self.assertEqual(st["state"], "failed", st)
            self.assertEqual(st["error"], "party 2 sent nothing within 4 s")
            self.assertEqual(st["parties_received"], 2)
        self.assert_nothing_at_h(job)


class JobSlotsTest(RouterTest):
    """Router servers with few job slots (max_running_jobs: SLOTS) and an operator
    credential (for /queues/list); subclasses add to the router_server section
    (ROUTER_SERVER) and replace the job sources (JOB_SOURCES). No tests of its own."""

    ADMIN_TOKEN = "flood-test-operator-token"
    SLOTS = 16  # router_server.max_running_jobs of RA and RB
    ROUTER_SERVER = ""  # more router_server lines
    JOB_SOURCES = None  # replaces `job_sources: [H]`

    @classmethod
    def setUpClass(cls):
        tmp = Topology()  # job_timeout_s stays 300: a job holding a slot holds it long
        token = os.path.join(tmp.workdir, "admin.token")  # /queues/list needs the operator
        with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(cls.ADMIN_TOKEN + "\n")
        adm = ("admin: {address:", f"admin: {{credential_file: {token}, address:")
        # A few running jobs are enough to fill the slots (and quicker to start than 256).
        slots = ("router_server:",
                 f"router_server:\n  max_running_jobs: {cls.SLOTS}\n{cls.ROUTER_SERVER}")
        edits = [adm, slots]
        if cls.JOB_SOURCES:
            edits.append(("job_sources: [H]", "job_sources: " + cls.JOB_SOURCES))
        ra = tmp.variant(conf("router", "ra.yaml"), edits, "ra-flood.yaml")
        rb = tmp.variant(conf("router", "rb.yaml"), edits, "rb-flood.yaml")
        cls.variants = tmp
        cls.start(ra, rb)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.variants.close()

    def received_ring(self, job, l, timeout_s):
        """H's result of `job` (ptp-rc receive, within timeout_s), decrypted mod 2^l."""
        ct = self.path(job + ".ct")
        out = rc("receive", *self.node_args("H"), "--job", job, "--public-key", self.pk,
                 "--out", ct, "--timeout-s", timeout_s, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        raw = self.path(job + ".txt")
        rc("decrypt", "--secret-key", self.sk, "--in", ct, "--out", raw, "--ring", l)
        with open(raw) as f:
            return [int(v) for v in f.read().split()]

    def push_bogus_share(self, target, job):
        h = {"x-ptp-tech-provider-code": "TEST", "x-ptp-trace-id": "t-" + job,
             "x-ptp-token": mint("S", target, job, key=KEYS["S"]), "x-ptp-session-id": job,
             "x-ptp-target-node-id": target, "x-ptp-topic": "rs.share.1",
             "x-ptp-message-id": job + ".p1.x.0",
             "x-ptp-message-code": "chunk=0 chunks=1 elements=1 offset=0 ring=64",
             "content-type": "application/octet-stream"}
        r = curl(S_URL + "/v1/interconn/chan/push", h, b"\x01" * 8)
        self.assertEqual(r.headers.get("x-ptp-code"), "E0000000000", r)

    def queued_sessions(self, node, prefix):
        """Sessions of this node's inbox with a queued share whose id starts with prefix."""
        url = (f"http://127.0.0.1:{ADMIN[node]}/queues/list?store=inbox&node={node}"
               f"&topic=rs.share.1&limit=10000")
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.ADMIN_TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            queues = json.loads(r.read())["queues"]
        return {q["session"] for q in queues if q["session"].startswith(prefix)}

    def jobs_gauge(self, node, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN[node]}/metrics", timeout=5) as r:
            m = re.search(r"^ptp_router_jobs_" + name + r" (\S+)$", r.read().decode(), re.M)
        return float(m.group(1))

    def running(self, node):
        return self.jobs_gauge(node, "running")


class RouterJobFlood(JobSlotsTest):
    """A share holder (S, entitled to push shares) sends one small share to each of 300 job
    ids that no job source ever starts. Before, each opened a job thread waiting
    job_timeout_s for a spec, up to 256 at once, and every other job waited in the queue
    behind them. A job thread now starts only once a spec from a job source arrived: the
    bogus shares stay queued (the queue store's per-source bounds apply) without a thread,
    and legitimate jobs (spec first, or shares first) complete at once."""

    # The one job source H may fill every slot here (the global bound is under test).
    ROUTER_SERVER = f"  max_running_jobs_per_source: {JobSlotsTest.SLOTS}\n"

    def test_bogus_job_ids_do_not_starve_legitimate_jobs(self):
        bogus = [f"bogus-{i}" for i in range(300)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda a: self.push_bogus_share(*a),
                          [(node, job) for job in bogus for node in ("RA", "RB")]))
        # Every bogus share is stored at both router servers (and stays there: nothing of an
        # accepted message is lost).
        deadline = time.time() + 60
        for node in ("RA", "RB"):
            while self.queued_sessions(node, "bogus-") != set(bogus):
                self.assertLess(time.time(), deadline, node)
                time.sleep(0.2)
        time.sleep(1)  # the router servers' dispatchers have seen them
        for node in ("RA", "RB"):
            self.assertEqual(self.status(node, "bogus-7")[0], 404)  # no job: no spec
            self.assertEqual(self.running(node), 0, node)
        # Legitimate jobs started afterwards complete at once: one spec first, one shares
        # first (its shares wait without a thread until the spec comes).
        l, n, k = 64, 3, 8
        t0 = time.time()
        for job, shares_first in (("jafter", False), ("jsharesfirst", True)):
            x = test_vector(l, k, self.rnd)
            parts = make_shares(x, n, l, self.rnd)
            if shares_first:
                self.send_shares(job, l, parts)
                time.sleep(1)
                for node in ("RA", "RB"):
                    self.assertEqual(self.status(node, job)[0], 404)
            self.start_job(job, n, l, k)
            if not shares_first:
                self.send_shares(job, l, parts)
            self.assertEqual(self.received_ring(job, l, 20), x)
            for node in ("RA", "RB"):
                st = self.wait_state(node, job)
                self.assertEqual(st["state"], "delivered", st)
        self.assertLess(time.time() - t0, 60)
        for node in ("RA", "RB"):
            self.assertEqual(self.queued_sessions(node, "bogus-"), set(bogus), node)
            self.assertEqual(self.status(node, "bogus-299")[0], 404)

    def test_job_beyond_the_running_maximum_starts_when_one_ends(self):
        """The job source H starts SLOTS jobs that wait for shares; one more, specified and with
        all its shares stored while they run, waits in the queue (unknown, 404) and starts by
        itself as soon as one of them ends."""
        l, n, k = 64, 2, 8
        spec = json.loads(rc("start-job", "--job", "x", "--rs-a", "RA", "--rs-b", "RB",
                             "--he-node", "H", "--parties", n, "--party-nodes", "S", "--ring",
                             l, "--elements", k, "--public-key", self.pk,
                             "--print-spec").stdout)
        holds = [f"hold-{i}" for i in range(self.SLOTS)]
        def push(a):
            node, job = a
            self.push_spec(node, job, json.dumps(dict(spec, job_id=job)), job + ".spec")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(push, [(node, job) for job in holds for node in ("RA", "RB")]))
        deadline = time.time() + 180
        for node in ("RA", "RB"):
            while self.running(node) < self.SLOTS:
                self.assertLess(time.time(), deadline, node)
                time.sleep(0.2)
        job = "jlast"
        x = test_vector(l, k, self.rnd)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, make_shares(x, n, l, self.rnd))
        time.sleep(1)
        for node in ("RA", "RB"):
            self.assertEqual(self.status(node, job)[0], 404)
        # hold-0 gets its shares and ends: its slot goes to jlast.
        self.send_shares("hold-0", l, make_shares(test_vector(l, k, self.rnd), n, l, self.rnd))
        self.assertEqual(self.received_ring(job, l, 60), x)
        for gw, node in ((self.ra, "RA"), (self.rb, "RB")):
            self.assertEqual(self.wait_state(node, job)["state"], "delivered")
            self.assertEqual(self.wait_state(node, "hold-0")["state"], "delivered")
            self.assertEqual(self.status(node, "hold-1")[1]["state"], "waiting")
            waits = [line for line in gw.output().splitlines()
                     if "too many jobs in progress" in line and '"jlast"' in line]
            self.assertEqual(len(waits), 1, waits)  # logged once, not per message


class RouterJobSourceFlood(JobSlotsTest):
    """Two job sources, H and S (both may start jobs that deliver to H), and the default
    bound per job source: a quarter of max_running_jobs (4 of 16). S floods the specs of
    SLOTS jobs whose shares never come. Before, they took every slot (each waiting
    job_timeout_s, 300 s) and H's job waited in the queue behind them. Now S runs at most
    PER_SOURCE of them, the rest wait (deferred), H's job starts and completes at once, and
    when one of S's jobs ends the next of S's deferred jobs takes its place."""

    JOB_SOURCES = "{H: [H], S: [H]}"
    PER_SOURCE = JobSlotsTest.SLOTS // 4

    def spec(self, job, n, l, k, he_node="H"):
        spec = json.loads(rc("start-job", "--job", job, "--rs-a", "RA", "--rs-b", "RB",
                             "--he-node", he_node, "--parties", n, "--party-nodes", "S", "--ring",
                             l, "--elements", k, "--public-key", self.pk, "--print-spec").stdout)
        return json.dumps(spec)

    def known(self, node, jobs):
        return {job for job in jobs if self.status(node, job)[0] == 200}

    def test_one_job_source_cannot_take_every_slot(self):
        l, n, k = 64, 2, 8
        floods = [f"flood-{i}" for i in range(self.SLOTS)]
        for job in floods:
            for node in ("RA", "RB"):
                self.push_spec(node, job, self.spec(job, n, l, k), job + ".spec", node="S")
        deadline = time.time() + 60
        for node in ("RA", "RB"):
            while self.running(node) < self.PER_SOURCE:
                self.assertLess(time.time(), deadline, node)
                time.sleep(0.2)
        time.sleep(1)  # the router servers' dispatchers have seen every spec
        # H's job starts and completes although S's specs came first.
        t0 = time.time()
        job = "jfromh"
        x = test_vector(l, k, self.rnd)
        self.start_job(job, n, l, k)
        self.send_shares(job, l, make_shares(x, n, l, self.rnd))
        self.assertEqual(self.received_ring(job, l, 20), x)
        for node in ("RA", "RB"):
            self.assertEqual(self.wait_state(node, job)["state"], "delivered")
        self.assertLess(time.time() - t0, 30)
        # S runs PER_SOURCE jobs; the others wait, unknown to the status routes, spec kept.
        started = {}
        for node in ("RA", "RB"):
            self.assertEqual(self.running(node), self.PER_SOURCE, node)
            self.assertEqual(self.jobs_gauge(node, "waiting"), self.SLOTS - self.PER_SOURCE, node)
            started[node] = self.known(node, floods)
            self.assertEqual(len(started[node]), self.PER_SOURCE, node)
            for j in started[node]:
                self.assertEqual(self.status(node, j)[1]["state"], "waiting")
        # One of S's jobs gets its shares and ends: one deferred job of S takes its place.
        done = sorted(started["RA"] & started["RB"])[0]
        self.send_shares(done, l, make_shares(test_vector(l, k, self.rnd), n, l, self.rnd))
        for node in ("RA", "RB"):
            self.assertEqual(self.wait_state(node, done)["state"], "delivered")
            deadline = time.time() + 30
            while len(self.known(node, floods)) != self.PER_SOURCE + 1:
                self.assertLess(time.time(), deadline, node)
                time.sleep(0.2)
            self.assertEqual(self.running(node), self.PER_SOURCE, node)
            time.sleep(0.5)
            self.assertEqual(len(self.known(node, floods)), self.PER_SOURCE + 1, node)

    def test_a_failed_job_leaves_no_shares_queued(self):
        """Shares stored before the spec, then a spec that fails the job at once (S names
        itself the HE node, which it may not): the job's queued shares are deleted when the
        job ends, not kept until the session expires."""
        l, n, k = 64, 2, 8
        job = "jfails"
        self.send_shares(job, l, make_shares(test_vector(l, k, self.rnd), n, l, self.rnd))
        deadline = time.time() + 30
        for node in ("RA", "RB"):
            while self.queued_sessions(node, job) != {job}:
                self.assertLess(time.time(), deadline, node)
                time.sleep(0.2)
        for node in ("RA", "RB"):
            self.push_spec(node, job, self.spec(job, n, l, k, he_node="S"), job + ".spec",
                           node="S")
        for node in ("RA", "RB"):
            st = self.wait_state(node, job)
            self.assertEqual(st["state"], "failed", st)
            self.assertIn("he_node S is not permitted", st["error"])
            deadline = time.time() + 10
            while self.queued_sessions(node, job):
                self.assertLess(time.time(), deadline, f"{node}: shares of {job} still queued")
                time.sleep(0.2)


if __name__ == "__main__":
    unittest.main()
