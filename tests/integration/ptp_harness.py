"""Shared helpers for the integration tests: start real gateway processes from the
configs in conf/ (or variants of them) on 127.0.0.1, and drive them with real clients
(curl, nghttp, Python gRPC). Run with Debian's /usr/bin/python3 (python3-grpcio)."""
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("PTP_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("PTP_BIN_DIR") or os.path.join(SRC, "build", "bin")
GATEWAY = os.path.join(BIN, "ptp-gateway")
ECHO = os.path.join(BIN, "ptp-echo-service")
KEYS = {n: f"demo-only-secret-{n}-do-not-use-in-production" for n in ["A", "B", "C", "R1", "R2"]}
# PTP_CRYPTO=gm runs a test under `crypto: gm` (docs/security.md "Crypto profiles";
# tests/integration/test_trust_gm.py): SM2 identities (identity_dirs.py), g1 tokens (mint),
# and every gateway config carries CRYPTO_YAML.
GM = os.environ.get("PTP_CRYPTO", "international") == "gm"
CRYPTO_YAML = "crypto: gm\n" if GM else ""


@contextlib.contextmanager
def small_tmpfs(directory, size):
    """A tmpfs of `size` (mount's size=, e.g. "64k") mounted on `directory` (created) for a
    full-disk test; needs root. Unmounted (lazily) when the block ends: stop the processes
    that use it inside the block."""
    os.makedirs(directory)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"cannot mount a tmpfs on {directory} (needs root): {out.stderr}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", directory])


def fill_file_system(directory, max_bytes=400 << 20):
    """Writes a file of zeros into `directory` until its (small, test-mounted) file system
    is full (ENOSPC) or max_bytes were written; returns the file's path (remove it to give
    the room back)."""
    filler = os.path.join(directory, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for _ in range(max_bytes // 4096):
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


def profile_hexdigest(data: bytes) -> str:
    """The hex digest of the test's crypto profile (docs/evidence.md): SM3 under
    PTP_CRYPTO=gm, else SHA-256 (evidence records, message leaves, Merkle trees)."""
    return hashlib.new("sm3" if GM else "sha256", data).hexdigest()


def conf(*parts):
    return os.path.join(SRC, "conf", *parts)


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_port_free(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(0.05)
        except OSError:
            return
    raise RuntimeError(f"port {port} still busy")


def wait_until(cond, timeout=10.0, what="condition"):
    """Polls cond() every 50 ms until it is true; AssertionError naming `what` after timeout s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def config_ports(path):
    with open(path) as f:
        text = f.read()
    listen = int(re.search(r"listen:.*?port:\s*(\d+)", text, re.S).group(1))
    admin = int(re.search(r"admin:.*?port:\s*(\d+)", text, re.S).group(1))
    return listen, admin


class Process:
    """A child process stopped (SIGTERM, then SIGKILL) on close."""

    def __init__(self, args, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Stops the process; returns its exit code (None if it had to be killed)."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                code = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            code = self.proc.returncode
        if not self.log.closed:
            self.log.close()
        return code

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Gateway(Process):
    def __init__(self, config_path, workdir, data_name=None, env=None):
        self.config = config_path
        if GM:
            with open(config_path) as f:
                if not re.search(r"^crypto:\s*gm\s*$", f.read(), re.M):
                    raise RuntimeError(f"PTP_CRYPTO=gm, but {config_path} has no `crypto: gm`")
        self.port, self.admin_port = config_ports(config_path)
        wait_port_free(self.port)
        name = os.path.basename(config_path).replace(".yaml", "")
        # Queue data in the work dir; the same name again (a restart) finds the same data.
        self.data_dir = os.path.join(workdir, "data-" + (data_name or name))
        log = os.path.join(workdir, f"gw-{name}.log")
        n = 1
        while os.path.exists(log):
            n += 1
            log = os.path.join(workdir, f"gw-{name}.{n}.log")
        super().__init__([GATEWAY, "--config", config_path, "--data-dir", self.data_dir], log, env)
        try:
            wait_port(self.admin_port)
            self.wait_ready()
        except Exception:
            self.stop()
            raise RuntimeError(f"gateway {config_path} did not start:\n{self.output()}")

    def wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("not ready")

    def queue_stats(self):
        """The queue stores' contents (admin GET /queues): {"inbox": {...}, "outbox": {...}}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/queues", timeout=5) as r:
            return json.loads(r.read())

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def pid(self):
        return self.proc.pid

    def rss_high_water_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0


class KafkaMock:
    """librdkafka's mock Kafka cluster in its own process (ptp-kafka-mock): the real
    Kafka protocol on 127.0.0.1 for gateways and kcat; command() injects faults."""

    def __init__(self, brokers=3):
        self.proc = subprocess.Popen([os.path.join(BIN, "ptp-kafka-mock"), str(brokers)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "bootstrap":
            raise RuntimeError(f"ptp-kafka-mock did not start: {line}")
        self.bootstrap = line[1]

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"ptp-kafka-mock {text!r}: {answer}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kafka_queue_section(bootstrap, extra=""):
    """The queue keys that put a demo config's store on Kafka (tuned for quick tests)."""
    return (f'store: kafka\n  kafka: {{bootstrap: "{bootstrap}", create_topics: false, '
            'replication_factor: 1, partitions: 4, '
            'producer_properties: {"linger.ms": "1"}, '
            'consumer_properties: {"fetch.wait.max.ms": "10"}}' + extra)


class EchoService(Process):
    def __init__(self, port, workdir):
        wait_port_free(port)
        super().__init__([ECHO, "--port", str(port)], os.path.join(workdir, f"echo-{port}.log"))
        wait_port(port)


class Topology:
    """Starts gateways (and echo services) and stops them all at the end."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="ptp-it-")
        self.procs = []

    def gateway(self, config_path, data_name=None, env=None):
        g = Gateway(config_path, self.workdir, data_name, env)
        self.procs.append(g)
        return g

    def echo(self, port):
        e = EchoService(port, self.workdir)
        self.procs.append(e)
        return e

    def variant(self, config_path, replacements, name=None):
        """A copy of a config with text replacements, in the work dir."""
        with open(config_path) as f:
            text = f.read()
        for old, new in replacements:
            if old not in text:
                raise ValueError(f"{old!r} not in {config_path}")
            text = text.replace(old, new)
        out = os.path.join(self.workdir, name or os.path.basename(config_path))
        with open(out, "w") as f:
            f.write(text)
        return out

    def close(self):
        """Stops everything. A gateway that does not exit cleanly (crash, sanitizer report,
        hang on shutdown) fails the test, with its log."""
        failures = []
        for p in reversed(self.procs):
            code = p.stop()
            if isinstance(p, Gateway) and code != 0:
                failures.append(f"gateway {p.config} exited with {code}:\n{p.output()[-4000:]}")
        self.procs = []
        if failures:
            raise AssertionError("\n".join(failures))
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def mint(source, target, session, ttl=3600, key=None):
    """An hmac token of the test's crypto profile (v1, or g1 under PTP_CRYPTO=gm)."""
    key = key or KEYS[source]
    return subprocess.check_output(
        [GATEWAY, "--mint-token", "--key", key, "--source", source, "--target", target,
         "--session", session, "--ttl", str(ttl), "--crypto", "gm" if GM else "international"]
    ).decode().strip()


def ptp_headers(source, target, session="sess-1", uri="ptp/diag/echo", trace="trace-1", token=None, **extra):
    h = {
        "x-ptp-version": "1",
        "x-ptp-tech-provider-code": "PTPGW",
        "x-ptp-trace-id": trace,
        "x-ptp-token": token if token is not None else mint(source, target, session),
        "x-ptp-uri": uri,
        "x-ptp-session-id": session,
        "x-ptp-source-node-id": source,
        "x-ptp-target-node-id": target,
    }
    h.update(extra)
    return {k: v for k, v in h.items() if v is not None}


class HttpResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HttpResult({self.status}, {self.headers}, {self.body[:200]!r})"


def curl(url, headers, body=b"", http="1.1", extra=(), timeout=60):
    """POSTs with curl; http is '1.1', 'h2c' (prior knowledge) or 'h2' (TLS ALPN)."""
    args = ["curl", "-sS", "-D", "-", "-o", "-", "-X", "POST", "--max-time", str(timeout)]
    args += {"1.1": ["--http1.1"], "h2c": ["--http2-prior-knowledge"], "h2": ["--http2"]}[http]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args += ["--data-binary", "@-", *extra, url]
    out = subprocess.run(args, input=body, capture_output=True, timeout=timeout + 5)
    if out.returncode != 0:
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.decode()}")
    raw = out.stdout
    # Skip interim 100-continue blocks.
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        if re.match(rb"HTTP/\S+ 1\d\d", head):
            raw = rest
            continue
        break
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return HttpResult(status, hdrs, rest)


_stubs = None


def grpc_stubs():
    """ptp_pb2 and ptp_pb2_grpc generated at test time from the project's codecs/ptp.proto."""
    global _stubs
    if _stubs:
        return _stubs
    out = tempfile.mkdtemp(prefix="ptp-stubs-")
    subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", f"-I{SRC}/codecs",
                           f"--python_out={out}", f"--grpc_python_out={out}", f"{SRC}/codecs/ptp.proto"])
    sys.path.insert(0, out)
    import ptp_pb2  # noqa: E402
    import ptp_pb2_grpc  # noqa: E402
    _stubs = (ptp_pb2, ptp_pb2_grpc)
    return _stubs
