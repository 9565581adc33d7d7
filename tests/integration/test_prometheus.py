"""A real Prometheus (Debian's `prometheus` package) scrapes two gateways, A and B (a
conf/direct-like pair generated here on ports 185xx), with the project's alerting rules
loaded; the test drives the gateways with real clients and reads the series back through
Prometheus's HTTP API (/api/v1/query): queue depth after N pushes, the outbox backlog
towards an unreachable peer, deduplicated pushes, redeliveries, refusals by reason, a
failed router job, a rejected reload, process and disk figures. `promtool` checks the
rules file and runs its unit tests (tests/prometheus/alerts_test.yml). Last, every metric
named by conf/grafana/dashboard.json and conf/prometheus/alerts.yml must be exported by
one of the gateways (docs/observability.md)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from ptp_harness import SRC, KEYS, Process, Topology, conf, curl, mint, ptp_headers, wait_until
from test_queue import push_json
from tls_certs import Pki

A_LISTEN, A_ADMIN = 18504, 18514
B_LISTEN, B_ADMIN = 18505, 18515
C_LISTEN = 18509  # peer C of A: configured, never started (its pushes stay in A's outbox)
PROM = 18590
TLS_B, TLS_B_ADMIN, TLS_A, TLS_A_ADMIN, TLS_A1, TLS_A1_ADMIN = 18506, 18516, 18507, 18517, 18508, 18518
A_URL = f"http://127.0.0.1:{A_LISTEN}/v1/interconn/chan/"
B_URL = f"http://127.0.0.1:{B_LISTEN}/v1/interconn/chan/"
A_INST = f"127.0.0.1:{A_ADMIN}"
B_INST = f"127.0.0.1:{B_ADMIN}"
RULES = os.path.join(SRC, "conf", "prometheus", "alerts.yml")
RULE_TESTS = os.path.join(SRC, "tests", "prometheus", "alerts_test.yml")
DASHBOARD = os.path.join(SRC, "conf", "grafana", "dashboard.json")

PORTS = [("17304", str(A_LISTEN)), ("17404", str(A_ADMIN)), ("17305", str(B_LISTEN)),
         ("17405", str(B_ADMIN)), ("18080", "18580"), ("18081", "18581")]
A_EXTRA = [(
    '  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:18505", protocol: http2, timeout_ms: 30000}\n',
    '  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:18505", protocol: http2, timeout_ms: 30000}\n'
    f'  - {{node_id: C, inst_id: INST_C, address: "127.0.0.1:{C_LISTEN}", protocol: http2, timeout_ms: 2000}}\n')]
# B: A may call the diag echo and push topics t* and rs.* (the router server's); B runs a
# router server whose jobs A may start, and keeps an evidence log (its audit records; the
# lag the dashboard and the alerts watch).
B_EXTRA = [("log: {level: info}\n", """log: {level: info}
authorization:
  default: deny
  peers:
    - {node: A, interfaces: [invoke, push], uris: ["ptp/diag/echo"], topics: ["t*", "rs.*"],
       router_jobs: true}
router_server: {role: B, peer_rs_node: A, workers: 1, job_timeout_s: 30, job_sources: [A]}
evidence: {sign: false, require_signature: false}
""")]


def variant(topo, name, extra, out=None):
    """conf/direct/<name> moved to this test's ports, with `extra` replacements, written
    to the work dir as `out` (default: name)."""
    with open(conf("direct", name)) as f:
        text = f.read()
    for old, new in PORTS:
        text = text.replace(old, new)
    for old, new in extra:
        assert old in text, old
        text = text.replace(old, new)
    path = os.path.join(topo.workdir, out or name)
    with open(path, "w") as f:
        f.write(text)
    return path


def prometheus_config(path):
    with open(path, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{json.dumps(RULES)}]
scrape_configs:
  - job_name: ptp-gateway
    scrape_interval: 1s
    static_configs:
      - targets: ["{A_INST}", "{B_INST}"]
""")


def prometheus_ready():
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PROM}/-/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def query(expr):
    """The instant vector of `expr`: {(instance, other labels...): value}."""
    url = f"http://127.0.0.1:{PROM}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        j = json.loads(r.read())
    assert j["status"] == "success", j
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in j["data"]["result"]}


def wait_value(expr, want, timeout=20.0):
    """Polls Prometheus until `expr` has exactly one series whose value passes `want`
    (a number: equal; a callable: true); returns the value, or fails with the last answer."""
    check = want if callable(want) else (lambda v: v == want)
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = query(expr)
        if len(last) == 1 and check(next(iter(last.values()))):
            return next(iter(last.values()))
        time.sleep(0.25)
    raise AssertionError(f"{expr}: wanted {want}, Prometheus says {last}")


def metric_names(text):
    """Names of the families a /metrics page declares (# TYPE) and of its samples."""
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    names |= set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    return names


def named_metrics(exprs):
    """ptp_* names used in PromQL expressions (a histogram's _bucket/_sum/_count counts
    as its family too)."""
    out = set()
    for e in exprs:
        out |= set(re.findall(r"\b(ptp_[a-zA-Z0-9_]+)", e))
    return out


def dashboard_exprs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from dashboard_exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from dashboard_exprs(v)


def rule_exprs(path):
    # The rules file is plain YAML; its expressions are the `expr:` values (one line, or
    # a `|` block indented below).
    exprs, block, indent = [], None, 0
    with open(path) as f:
        lines = f.readlines()
    for line in lines:
        if block is not None:
            if line.strip() and len(line) - len(line.lstrip()) > indent:
                block.append(line.strip())
                continue
            exprs.append(" ".join(block))
            block = None
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if m:
            if m.group(2).strip() == "|":
                block, indent = [], len(m.group(1))
            else:
                exprs.append(m.group(2))
    if block:
        exprs.append(" ".join(block))
    return exprs


def exported(name, names):
    if name in names:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in names:
            return True
    return False


class Promtool(unittest.TestCase):
    def test_rules_file_is_valid(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool missing: scripts/install-deps.sh installs prometheus")
        out = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("SUCCESS", out.stdout)

    def test_runbook_and_docs_name_the_rules(self):
        # docs/operations.md and docs/observability.md name alerts by the rules file's names:
        # every rule is documented, and no doc names an alert that does not exist.
        with open(RULES) as f:
            rules = set(re.findall(r"alert:\s*(Ptp\w+)", f.read()))
        self.assertGreater(len(rules), 10)
        for doc in ("operations.md", "observability.md"):
            with open(os.path.join(SRC, "docs", doc)) as f:
                named = set(re.findall(r"`(Ptp\w+)`", f.read()))
            self.assertEqual(named - rules, set(), f"docs/{doc} names alerts the rules lack")
            self.assertEqual(rules - named, set(), f"docs/{doc} does not describe these rules")

    def test_alerts_fire_on_their_series(self):
        out = subprocess.run([shutil.which("promtool") or "promtool", "test", "rules", RULE_TESTS],
                             capture_output=True, text=True, cwd=os.path.dirname(RULE_TESTS))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


class PrometheusScrapesGateways(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        prom = shutil.which("prometheus")
        if not prom:
            raise AssertionError("prometheus missing: scripts/install-deps.sh installs it")
        cls.topo = Topology()
        try:
            cls.a = cls.topo.gateway(variant(cls.topo, "a.yaml", A_EXTRA))
            cls.b_config = variant(cls.topo, "b.yaml", B_EXTRA)
            cls.b = cls.topo.gateway(cls.b_config)
            cfg = os.path.join(cls.topo.workdir, "prometheus.yml")
            prometheus_config(cfg)
            cls.prom = Process([prom, f"--config.file={cfg}",
                                f"--storage.tsdb.path={os.path.join(cls.topo.workdir, 'tsdb')}",
                                f"--web.listen-address=127.0.0.1:{PROM}", "--log.level=warn"],
                               os.path.join(cls.topo.workdir, "prometheus.log"))
            cls.topo.procs.append(cls.prom)
            try:
                wait_until(prometheus_ready, timeout=30, what="prometheus ready")
            except AssertionError:
                raise AssertionError(f"prometheus did not start:\n{cls.prom.output()}")
            # Both gateways scraped (and the rules loaded: Prometheus refuses to start on a
            # rules file it cannot load).
            wait_value(f'count(up{{job="ptp-gateway"}} == 1)', 2, timeout=30)
        except BaseException:
            cls.topo.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_1_queue_depth_equals_pushes(self):
        n = 5
        for i in range(n):
            r = push_json(A_URL, "A", "B", "s-depth", "t-depth", b"m%d" % i)
            self.assertEqual(r.json()["code"], "E0000000000", r)
        # Delivered through A's outbox into B's inbox, where nobody pops them.
        wait_value(f'ptp_queue_messages{{instance="{B_INST}",store="inbox"}}', n)
        wait_value(f'ptp_queue_oldest_message_age_seconds{{instance="{B_INST}",store="inbox"}}',
                   lambda v: 0 < v < 120)
        wait_value(f'ptp_queue_store_write_seconds_count{{instance="{B_INST}",store="inbox"}}',
                   lambda v: v >= 1)

    def test_2_outbox_backlog_dedup_and_redeliveries(self):
        # C is configured at A but not running: its messages wait in A's outbox, retried.
        for mid in ["c-1", "c-2", "c-3", "c-1"]:
            r = push_json(A_URL, "A", "C", "s-c", "t-c", mid.encode(),
                          **{"x-ptp-message-id": mid})
            self.assertEqual(r.json()["code"], "E0000000000", r)
        wait_value(f'ptp_outbox_messages{{instance="{A_INST}",target="C"}}', 3)
        wait_value(f'ptp_queue_deduplicated_total{{instance="{A_INST}",store="outbox"}}', 1)
        wait_value(f'ptp_outbox_oldest_message_age_seconds{{instance="{A_INST}",target="C"}}',
                   lambda v: v > 0)
        wait_value(f'ptp_outbox_bytes{{instance="{A_INST}",target="C"}}', lambda v: v > 3 * 512)
        # Each failed attempt puts the head back: a redelivery.
        wait_value(f'ptp_queue_redeliveries_total{{instance="{A_INST}",store="outbox"}}',
                   lambda v: v >= 2)
        wait_value(f'ptp_queue_messages{{instance="{A_INST}",store="outbox"}}', 3)

    def test_3_refusals_by_reason(self):
        invoke = f"http://127.0.0.1:{B_LISTEN}/v1/interconn/chan/invoke"
        # Authentication at B: a token made with the wrong key, and none at all.
        bad = ptp_headers("A", "B", session="s-auth", token=mint("A", "B", "s-auth", key=KEYS["B"]))
        self.assertEqual(curl(invoke, bad, b"x").json()["code"], "E0000000403")
        missing = ptp_headers("A", "B", session="s-auth")
        del missing["x-ptp-token"]
        self.assertEqual(curl(invoke, missing, b"x").json()["code"], "E0000000403")
        # Authorization at B: A may call ptp/diag/echo only.
        denied = ptp_headers("A", "B", session="s-authz", uri="svc.denied")
        self.assertEqual(curl(invoke, denied, b"x").json()["code"], "E0000000614")
        ok = ptp_headers("A", "B", session="s-authz")
        self.assertEqual(curl(invoke, ok, b"x").status, 200)
        wait_value(f'ptp_authentication_refusals_total{{instance="{B_INST}",reason="bad_token"}}', 1)
        wait_value(
            f'ptp_authentication_refusals_total{{instance="{B_INST}",reason="missing_token"}}', 1)
        wait_value(f'ptp_authorization_refusals_total{{instance="{B_INST}",reason="uri"}}', 1)
        wait_value(f'sum(ptp_authentication_refusals_total{{instance="{A_INST}"}})', 0)
        # A plain-text client on B's h2c port is no TLS failure; the counters exist at 0.
        wait_value(f'sum(ptp_tls_handshake_failures_total{{instance="{B_INST}"}})', 0)

    def test_4_failed_router_job(self):
        # A job spec that is not one: B's router server takes it from A (a job source) and
        # the job fails.
        r = push_json(A_URL, "A", "B", "job-bad-1", "rs.job", b"this is not a job spec")
        self.assertEqual(r.json()["code"], "E0000000000", r)
        wait_value(f'ptp_router_jobs_total{{instance="{B_INST}",result="failed"}}', 1)
        wait_value(f'ptp_router_jobs_total{{instance="{B_INST}",result="delivered"}}', 0)
        wait_value(f'ptp_router_jobs_running{{instance="{B_INST}"}}', 0)

    def test_5_reloads_and_peers(self):
        wait_value(f'ptp_peers{{instance="{A_INST}",state="static"}}', 2)
        wait_value(f'ptp_peers{{instance="{B_INST}",state="static"}}', 1)
        with open(self.b_config) as f:
            good = f.read()
        try:
            with open(self.b_config, "w") as f:
                f.write(good + "no_such_key: 1\n")
            wait_value(f'ptp_config_reloads_total{{instance="{B_INST}",result="rejected"}}', 1)
        finally:
            with open(self.b_config, "w") as f:
                f.write(good.replace("log: {level: info}", "log: {level: warn}"))
        wait_value(f'ptp_config_generation{{instance="{B_INST}"}}', 2)
        wait_value(f'ptp_config_reloads_total{{instance="{B_INST}",result="ok"}}', 2)

    def test_6_process_and_disk(self):
        pid = self.b.pid()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        v = wait_value(f'ptp_process_open_fds{{instance="{B_INST}"}}', lambda v: v > 0)
        self.assertLess(abs(v - fds), 20, (v, fds))
        with open(f"/proc/{pid}/status") as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024
        v = wait_value(f'ptp_process_resident_memory_bytes{{instance="{B_INST}"}}', lambda v: v > 0)
        self.assertLess(abs(v - rss) / rss, 0.5, (v, rss))
        wait_value(f'ptp_process_cpu_seconds_total{{instance="{B_INST}"}}', lambda v: v > 0)
        wait_value(f'ptp_process_max_fds{{instance="{B_INST}"}}', lambda v: v >= 1024)
        wait_value(f'time() - ptp_process_start_time_seconds{{instance="{B_INST}"}}',
                   lambda v: 0 <= v < 600)
        st = os.statvfs(self.b.data_dir)
        free = st.f_bavail * st.f_frsize
        v = wait_value(f'ptp_data_dir_free_bytes{{instance="{B_INST}"}}', lambda v: v > 0)
        self.assertLess(abs(v - free) / free, 0.2, (v, free))
        size = st.f_blocks * st.f_frsize
        wait_value(f'ptp_data_dir_size_bytes{{instance="{B_INST}"}}',
                   lambda v: abs(v - size) <= 0.01 * size)

    def test_7_dead_letter_and_stream(self):
        # B's policy has no topic "x*" for A: B refuses the push for good (614), and A's
        # outbox returns it to the sender as a dead letter.
        r = push_json(A_URL, "A", "B", "s-dl", "x-denied", b"refused at B")
        self.assertEqual(r.json()["code"], "E0000000000", r)
        wait_value(
            f'ptp_outbox_dead_letters_total{{instance="{A_INST}",code="E0000000614"}}', 1)
        # A streamed exchange (transport) through A: counted while open, 0 once closed.
        h = ptp_headers("A", "B", session="s-stream", trace="tr-stream")
        curl(A_URL + "transport", h, b"stream body", http="h2c")
        wait_value(f'ptp_active_streams{{instance="{A_INST}",route="peer:B"}}', 0)

    def test_9_dashboard_and_rules_name_exported_metrics(self):
        names = metric_names(self.a.metrics()) | metric_names(self.b.metrics())
        with open(DASHBOARD) as f:
            dash = named_metrics(dashboard_exprs(json.load(f)))
        rules = named_metrics(rule_exprs(RULES))
        self.assertGreater(len(dash), 25)
        self.assertGreater(len(rules), 15)
        missing = sorted(n for n in dash | rules if not exported(n, names))
        self.assertEqual(missing, [], "named by the dashboard or the alert rules, exported by no gateway")


def counter_value(text, line_start):
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


class TlsHandshakeFailures(unittest.TestCase):
    """ptp_tls_handshake_failures_total by side and reason, on gateways with TLS (B requires
    client certificates; A does not trust B's CA), read from /metrics."""

    def test_server_and_client_side_by_reason(self):
        pki_dir = tempfile.mkdtemp(prefix="ptp-prom-pki-")
        try:
            pki = Pki(pki_dir)
            pki.issue("b-server", "b.ptp.test", client=False)
            with Topology() as topo:
                tls = (f"tls: {{cert: {pki.path('b-server.crt')}, key: {pki.path('b-server.key')}, "
                       f"client_ca: {pki.ca}}}")
                b = topo.gateway(variant(topo, "b.yaml", [
                    (f"port: {B_LISTEN}}}", f"port: {TLS_B}, {tls}}}"),
                    (f"port: {B_ADMIN}}}", f"port: {TLS_B_ADMIN}}}")]))
                a = topo.gateway(variant(topo, "a.yaml", [
                    (f"port: {A_LISTEN}}}", f"port: {TLS_A}}}"),
                    (f"port: {A_ADMIN}}}", f"port: {TLS_A_ADMIN}}}"),
                    (f'"127.0.0.1:{B_LISTEN}", protocol: http2, timeout_ms: 30000}}',
                     f'"127.0.0.1:{TLS_B}", protocol: http2, timeout_ms: 30000, '
                     f'connect_timeout_ms: 3000, tls: {{ca: {pki.other_ca}}}}}')]))
                # The same towards B over HTTP/1.1 (its own client pool).
                a1 = topo.gateway(variant(topo, "a.yaml", [
                    (f"port: {A_LISTEN}}}", f"port: {TLS_A1}}}"),
                    (f"port: {A_ADMIN}}}", f"port: {TLS_A1_ADMIN}}}"),
                    (f'"127.0.0.1:{B_LISTEN}", protocol: http2, timeout_ms: 30000}}',
                     f'"127.0.0.1:{TLS_B}", protocol: http1, timeout_ms: 30000, '
                     f'connect_timeout_ms: 3000, tls: {{ca: {pki.other_ca}}}}}')], "a1.yaml"))
                server = 'ptp_tls_handshake_failures_total{reason="%s",side="server"}'
                client = 'ptp_tls_handshake_failures_total{reason="%s",side="client"}'
                for g in (a, a1, b):
                    for r in ("timeout", "certificate", "protocol"):
                        self.assertEqual(counter_value(g.metrics(), server % r), 0)
                        self.assertEqual(counter_value(g.metrics(), client % r), 0)
                # Cleartext HTTP/2 to B's TLS port.
                with self.assertRaises(RuntimeError):
                    curl(f"http://127.0.0.1:{TLS_B}/v1/interconn/chan/invoke",
                         ptp_headers("A", "B"), b"x", http="h2c", timeout=5)
                wait_until(lambda: counter_value(b.metrics(), server % "protocol") == 1,
                           what="B counts a protocol failure")
                # A does not trust B's certificate: A's invoke fails with 603.
                r = curl(f"http://127.0.0.1:{TLS_A}/v1/interconn/chan/invoke",
                         ptp_headers("A", "B"), b"x")
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000603", r)
                wait_until(lambda: counter_value(a.metrics(), client % "certificate") == 1,
                           what="A counts a client-side certificate failure")
                r = curl(f"http://127.0.0.1:{TLS_A1}/v1/interconn/chan/invoke",
                         ptp_headers("A", "B"), b"x")
                self.assertEqual(r.headers.get("x-ptp-code"), "E0000000603", r)
                wait_until(lambda: counter_value(a1.metrics(), client % "certificate") == 1,
                           what="A (http1 peer) counts a client-side certificate failure")
                # ... and B saw A give up on its certificate.
                wait_until(lambda: counter_value(b.metrics(), server % "certificate") >= 1,
                           what="B counts a server-side certificate failure")
                self.assertEqual(counter_value(a.metrics(), client % "protocol"), 0)
        finally:
            shutil.rmtree(pki_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
