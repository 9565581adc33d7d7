#!/usr/bin/python3
"""Gateway vs nghttpx benchmark: two ptp-gateways in a row against two nghttpx in a row,
same client, same backend, everything on 127.0.0.1. Run by hand (not part of ctest):

    ./scripts/build.sh build-bench            # RelWithDebInfo
    /usr/bin/python3 tests/bench/gateway_vs_nghttpx.py --bin-dir build-bench/bin

Needs h2load (nghttp2-client), nghttpx (nghttp2-proxy) and nghttpd (nghttp2-server).

Measured, in one run:
  1. unary 1 KiB invokes, 100 concurrent streams (h2load -c 4 -m 25 by default):
       (a) h2load -> gateway A -> gateway B -> ptp-echo-service (HTTP/1.1), x-ptp-uri ptp/echo
       (b) h2load -> nghttpx   -> nghttpx   -> the same ptp-echo-service
     requests/s, p50/p99 latency (from h2load --log-file), CPU time of the two middle hops.
  2. a streamed transfer (256 MiB by default, one h2 stream, curl -T - from head -c /dev/zero):
       echo:     client -> A -> B -> gateway E (ptp/diag/echo, streams it back)
                 client -> nghttpx -> nghttpx -> gateway E (the same diag echo)
       one-way:  client -> A -> B -> nghttpd (h2 sink; reads the body, answers a tiny file)
                 client -> nghttpx -> nghttpx -> the same nghttpd
     plus the same transfers with no middle hop, to show the client/endpoint ceiling.
Both nghttpx get --workers equal to the gateways' io_threads, no access log, and HTTP/2
windows equal to the gateway's (8 MiB stream, 64 MiB connection) unless --nghttpx-default-windows.
"""
import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEYS = {n: f"demo-only-secret-{n}-do-not-use-in-production" for n in ["A", "B"]}

# Ports away from the demo/integration ones (173xx, 1808x) so a concurrent test run does not clash.
PORT = {"A": 27304, "B": 27305, "E": 27306, "adminA": 27404, "adminB": 27405, "adminE": 27406,
        "echo": 28080, "nx1": 27310, "nx2": 27311, "nx1s": 27312, "nx2s": 27313, "sink": 27320}
STREAM_WINDOW = 8 << 20  # gateway/http/h2_connection.h kStreamWindow
CONN_WINDOW = 64 << 20   # gateway/http/h2_connection.h kConnectionWindow


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def ensure_port_free(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            raise RuntimeError(f"port {port} is already in use")
    except OSError:
        pass


def cpu_seconds(pid):
    """User + system CPU of a process and its live descendants (nghttpx works in a child)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(cpu_seconds(int(c)) for c in f.read().split())
        except OSError:
            pass
    return total


class Procs:
    """Child processes, stopped (SIGTERM, then SIGKILL) on close."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}

    def start(self, name, args, port):
        ensure_port_free(port)
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = (p, log)
        try:
            wait_port(port)
        except RuntimeError:
            self.stop(name)
            with open(log.name, errors="replace") as f:
                raise RuntimeError(f"{name} did not start: {' '.join(args)}\n{f.read()[-3000:]}")
        return p

    def pid(self, name):
        return self.procs[name][0].pid

    def stop(self, name):
        p, log = self.procs.pop(name)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()

    def close(self):
        for name in list(self.procs)[::-1]:
            self.stop(name)


# ---------------------------------------------------------------- configs


def variant(src, replacements):
    with open(src) as f:
        text = f.read()
    for old, new in replacements:
        if old not in text:
            raise ValueError(f"{old!r} not in {src} (conf/direct changed? update the bench)")
        text = text.replace(old, new, 1)
    return text


def write_configs(workdir, io_threads, log_level):
    """A (edge), B (router: relays A's traffic on to E) and E (edge, diag echo only), derived
    from conf/direct. B's local services: ptp/echo* -> ptp-echo-service (http1),
    ptp/sink -> nghttpd (http2)."""
    a_src, b_src = os.path.join(SRC, "conf/direct/a.yaml"), os.path.join(SRC, "conf/direct/b.yaml")
    common = [("io_threads: 2", f"io_threads: {io_threads}"),
              ("log: {level: info}", f"log: {{level: {log_level}}}")]
    a = variant(a_src, common + [
        ("port: 17304}", f"port: {PORT['A']}}}"),
        ("port: 17404}", f"port: {PORT['adminA']}}}"),
        ('"127.0.0.1:17305"', f'"127.0.0.1:{PORT["B"]}"'),
        ("local_services:", "  - {node_id: E, via: B}\nlocal_services:"),
        ('"127.0.0.1:18081"', f'"127.0.0.1:{PORT["echo"]}"'),
    ])
    b = variant(b_src, common + [
        ("role: edge", "role: router"),
        ("port: 17305}", f"port: {PORT['B']}}}"),
        ("port: 17405}", f"port: {PORT['adminB']}}}"),
        ('"127.0.0.1:17304"', f'"127.0.0.1:{PORT["A"]}"'),
        ("local_services:",
         f'  - {{node_id: E, inst_id: INST_E, address: "127.0.0.1:{PORT["E"]}", protocol: http2,'
         f" timeout_ms: 600000}}\nlocal_services:"),
        ('"127.0.0.1:18080"', f'"127.0.0.1:{PORT["echo"]}"'),
        ("log:", f'  - {{uri: "ptp/sink", address: "127.0.0.1:{PORT["sink"]}", protocol: http2,'
                 f" path: /sink, timeout_ms: 600000}}\nlog:"),
    ])
    e = variant(b_src, common + [
        ("node_id: B, inst_id: INST_B", "node_id: E, inst_id: INST_E"),
        ("port: 17305}", f"port: {PORT['E']}}}"),
        ("port: 17405}", f"port: {PORT['adminE']}}}"),
        ('"127.0.0.1:17304"', f'"127.0.0.1:{PORT["A"]}"'),
        ('"127.0.0.1:18080"', f'"127.0.0.1:{PORT["echo"]}"'),
        ("path: data/B", "path: data/E"),  # E is made from b.yaml: its own queue store
    ])
    paths = {}
    for name, text in (("a", a), ("b", b), ("e", e)):
        paths[name] = os.path.join(workdir, f"bench-{name}.yaml")
        with open(paths[name], "w") as f:
            f.write(text)
    return paths


# ---------------------------------------------------------------- clients


def mint(gateway, source, target, session):
    return subprocess.check_output(
        [gateway, "--mint-token", "--key", KEYS[source], "--source", source, "--target", target,
         "--session", session, "--ttl", "86400"]).decode().strip()


def ptp_headers(gateway, target, uri, session):
    return {
        "x-ptp-version": "1",
        "x-ptp-tech-provider-code": "PTPGW",
        "x-ptp-trace-id": "bench-trace",
        "x-ptp-token": mint(gateway, "A", target, session),
        "x-ptp-uri": uri,
        "x-ptp-session-id": session,
        "x-ptp-source-node-id": "A",
        "x-ptp-target-node-id": target,
    }


def h2load(url, headers, body_file, n, c, m, log_file=None, timeout=900):
    args = ["h2load", "-n", str(n), "-c", str(c), "-m", str(m), "-d", body_file]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    if log_file:
        args += ["--log-file", log_file]
    args.append(url)
    t0 = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    text = out.stdout + out.stderr
    m_done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", text)
    m_2xx = re.search(r"status codes: (\d+) 2xx", text)
    m_fin = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    m_data = re.search(r"traffic: [^\n]*?(\d+)\) data", text)
    if out.returncode != 0 or not (m_done and m_2xx and m_fin):
        raise RuntimeError(f"h2load failed ({out.returncode}): {' '.join(args[:8])} ...\n{text}")
    ok2xx = int(m_2xx.group(1))
    if ok2xx != n:
        raise RuntimeError(f"h2load: only {ok2xx}/{n} answers were 2xx:\n{text}")
    secs = float(m_fin.group(1)) / (1000.0 if m_fin.group(2) == "ms" else 1.0)
    return {"rps": float(m_fin.group(3)), "secs": secs, "wall": wall, "text": text,
            "data_bytes": int(m_data.group(1)) if m_data else -1}


def percentiles(log_file, ps=(50, 99)):
    lat = []
    with open(log_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]))
    lat.sort()
    if not lat:
        return {p: float("nan") for p in ps}
    return {p: lat[min(len(lat) - 1, int(len(lat) * p / 100))] / 1000.0 for p in ps}  # ms


# ---------------------------------------------------------------- benchmarks


def unary(name, url, headers, args, body, workdir, middle_pids):
    warm = max(1000, args.requests // 10)
    h2load(url, headers, body, warm, args.clients, args.streams_per_client)
    log = os.path.join(workdir, "h2load-" + re.sub(r"[^A-Za-z0-9]+", "-", name) + ".log")
    cpu0 = sum(cpu_seconds(p) for p in middle_pids)
    r = h2load(url, headers, body, args.requests, args.clients, args.streams_per_client, log)
    cpu = sum(cpu_seconds(p) for p in middle_pids) - cpu0
    pc = percentiles(log)
    res = {"rps": r["rps"], "p50": pc[50], "p99": pc[99], "cpu_us_per_req": cpu / args.requests * 1e6}
    print(f"  {name:<34} {res['rps']:>10.0f} req/s   p50 {res['p50']:6.2f} ms   p99 {res['p99']:6.2f} ms"
          f"   middle-hop CPU {res['cpu_us_per_req']:6.1f} us/req", flush=True)
    return res


def median_run(runs):
    """Per measurement, the median over the rounds (the middle one of an odd count)."""
    return {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}


def curl_upload(url, headers, size, timeout=900):
    """head -c SIZE /dev/zero | curl --http2-prior-knowledge -T - (h2load -d is slower than the
    hops it measures: about 270 MB/s straight into nghttpd, curl from a pipe about 1.4 GB/s)."""
    args = ["curl", "-sS", "--http2-prior-knowledge", "-X", "POST", "-T", "-", "-o", "/dev/null",
            "--max-time", str(timeout), "-w", "%{http_code} %{size_upload} %{size_download} %{time_total}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    src = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
    out = subprocess.run(args, stdin=src.stdout, capture_output=True, text=True, timeout=timeout + 10)
    src.stdout.close()
    src.wait()
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 4 or not fields[0].startswith("2"):
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stdout} {out.stderr}")
    return int(fields[1]), int(fields[2]), float(fields[3])


def h2_upload(client, url, headers, size, timeout=900):
    """tests/bench/h2_upload.cpp: one h2c stream of SIZE zero bytes sent from memory; the
    response body is counted. Same result fields as curl_upload."""
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    args = [client, "--host", m.group(1), "--port", m.group(2), "--path", m.group(3),
            "--bytes", str(size)]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 4 or not fields[0].startswith("2"):
        raise RuntimeError(f"h2_upload failed ({out.returncode}): {out.stdout} {out.stderr}")
    return int(fields[1]), int(fields[2]), float(fields[3])


def stream(name, url, headers, size, echo, reps, middle_pids, upload):
    """Median of reps single-stream transfers; returns MB/s of payload and of bytes through
    the middle hops (up + down for echo)."""
    runs = []
    for _ in range(reps):
        cpu0 = sum(cpu_seconds(p) for p in middle_pids)
        up, down, secs = upload(url, headers, size)
        cpu = sum(cpu_seconds(p) for p in middle_pids) - cpu0
        if up != size or (echo and down != size):
            raise RuntimeError(f"{name}: sent {up}, got back {down}, expected {size}")
        runs.append((secs, cpu))
    runs.sort()
    secs, cpu = runs[len(runs) // 2]
    through = size * (2 if echo else 1)
    res = {"secs": secs, "payload_mbs": size / secs / 1e6, "through_mbs": through / secs / 1e6,
           "cpu_s_per_gb": cpu / (through / 1e9) if middle_pids else float("nan")}
    print(f"  {name:<44} {secs:7.3f} s   payload {res['payload_mbs']:7.0f} MB/s   "
          f"through hops {res['through_mbs']:7.0f} MB/s" +
          (f"   middle-hop CPU {res['cpu_s_per_gb']:.2f} s/GB" if middle_pids else ""), flush=True)
    return res


def nghttpx_args(front, back, workers, default_windows, workdir, name):
    args = ["/usr/sbin/nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{front};no-tls", f"--workers={workers}",
            f"--errorlog-file={os.path.join(workdir, name + '-error.log')}", "--no-ocsp",
            "--backend-keep-alive-timeout=600", "--backend-read-timeout=600",
            "--backend-write-timeout=600", "--frontend-read-timeout=600",
            "--frontend-write-timeout=600", "--stream-read-timeout=600", "--stream-write-timeout=600"]
    args += back
    if not default_windows:
        args += [f"--frontend-http2-window-size={STREAM_WINDOW}",
                 f"--frontend-http2-connection-window-size={CONN_WINDOW}",
                 f"--backend-http2-window-size={STREAM_WINDOW}",
                 f"--backend-http2-connection-window-size={CONN_WINDOW}"]
    return args


def restart_gateways(procs, gateway, cfg, old_level, new_level):
    """Restarts A and B with another log level; returns their pids."""
    for n, c in (("A", "a"), ("B", "b")):
        procs.stop(n)
        with open(cfg[c]) as f:
            text = f.read().replace(f"log: {{level: {old_level}}}", f"log: {{level: {new_level}}}")
        with open(cfg[c], "w") as f:
            f.write(text)
    for n, c in (("B", "b"), ("A", "a")):
        procs.start(n, [gateway, "--config", cfg[c]], PORT[n])
    return [procs.pid("A"), procs.pid("B")]


def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run(["nghttpx", "--version"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "nghttpx": ver}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(SRC, "build-bench", "bin"))
    ap.add_argument("--io-threads", type=int, default=1, help="gateway io_threads = nghttpx --workers")
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--also-info-log", action="store_true",
                    help="repeat the unary gateway chain with log level info (one JSON line per request)")
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--unary-rounds", type=int, default=1,
                    help="alternate the gateway and nghttpx unary runs this many times; the "
                         "summary shows the median of each measurement and every round's ratios")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--streams-per-client", type=int, default=25)
    ap.add_argument("--body-bytes", type=int, default=1024)
    ap.add_argument("--stream-mib", type=int, default=256)
    ap.add_argument("--stream-reps", type=int, default=3)
    ap.add_argument("--nghttpx-default-windows", action="store_true")
    ap.add_argument("--stream-client", choices=["h2upload", "curl"], default="h2upload",
                    help="streaming client: ptp-bench-h2_upload (default, body from memory) or "
                         "curl -T - fed by head -c from /dev/zero")
    ap.add_argument("--skip-unary", action="store_true")
    ap.add_argument("--skip-stream", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (configs, logs)")
    args = ap.parse_args()

    gateway = os.path.join(os.path.abspath(args.bin_dir), "ptp-gateway")
    echo_bin = os.path.join(os.path.abspath(args.bin_dir), "ptp-echo-service")
    for tool in ("h2load", "/usr/sbin/nghttpx", "/usr/sbin/nghttpd", gateway, echo_bin):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}")
    workdir = tempfile.mkdtemp(prefix="ptp-bench-")
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else workdir
    datadir = tempfile.mkdtemp(prefix="ptp-bench-", dir=shm)
    info = machine_info()
    load_at_start = f"{os.getloadavg()[0]:.2f}"
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}; {info['nghttpx']}")
    print(f"gateway io_threads = nghttpx workers = {args.io_threads}; gateway log level {args.log_level};"
          f" work dir {workdir}")
    print("command: /usr/bin/python3 " + " ".join(sys.argv))

    body = os.path.join(datadir, "body.bin")
    with open(body, "wb") as f:
        f.write(os.urandom(args.body_bytes))
    size = args.stream_mib << 20
    htdocs = os.path.join(datadir, "htdocs")
    os.makedirs(os.path.join(htdocs, "v1/interconn/chan"))
    for p in ("sink", "v1/interconn/chan/transport"):
        with open(os.path.join(htdocs, p), "w") as f:
            f.write("ok\n")

    procs = Procs(workdir)
    results = {"info": info, "args": vars(args)}
    try:
        cfg = write_configs(workdir, args.io_threads, args.log_level)
        procs.start("echo", [echo_bin, "--port", str(PORT["echo"]), "--threads", str(args.io_threads)],
                    PORT["echo"])
        procs.start("sink", ["/usr/sbin/nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", htdocs,
                             "-w", "23", "-W", "26", str(PORT["sink"])], PORT["sink"])
        procs.start("E", [gateway, "--config", cfg["e"]], PORT["E"])
        procs.start("B", [gateway, "--config", cfg["b"]], PORT["B"])
        procs.start("A", [gateway, "--config", cfg["a"]], PORT["A"])
        nx = lambda name, front, back: procs.start(  # noqa: E731
            name, nghttpx_args(front, back, args.io_threads, args.nghttpx_default_windows, workdir, name), front)
        # unary chain: nx1 -> nx2 -> echo (http/1.1)
        nx("nx2", PORT["nx2"], [f"--backend=127.0.0.1,{PORT['echo']}"])
        nx("nx1", PORT["nx1"], [f"--backend=127.0.0.1,{PORT['nx2']};;proto=h2"])
        # stream chain: nx1s -> nx2s -> gateway E (h2); path /sink of nx2s's backend goes to nghttpd
        nx("nx2s", PORT["nx2s"], [f"--backend=127.0.0.1,{PORT['E']};;proto=h2",
                                  f"--backend=127.0.0.1,{PORT['sink']};/sink;proto=h2"])
        nx("nx1s", PORT["nx1s"], [f"--backend=127.0.0.1,{PORT['nx2s']};;proto=h2"])
        gw_pids = [procs.pid("A"), procs.pid("B")]

        if not args.skip_unary:
            streams = args.clients * args.streams_per_client
            print(f"\n1. unary invoke, {args.body_bytes} B body, {args.requests} requests, "
                  f"h2load -c {args.clients} -m {args.streams_per_client} ({streams} concurrent streams)")
            hdr = ptp_headers(gateway, "B", "ptp/echo", "bench-unary")
            path = "/v1/interconn/chan/invoke"
            gw_runs, nx_runs = [], []
            for rnd in range(args.unary_rounds):
                if args.unary_rounds > 1:
                    print(f"  round {rnd + 1} of {args.unary_rounds}")
                gw_runs.append(unary("gateway A -> gateway B -> echo",
                                     f"http://127.0.0.1:{PORT['A']}{path}", hdr, args, body, workdir,
                                     gw_pids))
                nx_runs.append(unary("nghttpx -> nghttpx -> echo",
                                     f"http://127.0.0.1:{PORT['nx1']}{path}", hdr, args, body, workdir,
                                     [procs.pid("nx1"), procs.pid("nx2")]))
            results["u_gw"], results["u_nx"] = median_run(gw_runs), median_run(nx_runs)
            results["u_rounds"] = list(zip(gw_runs, nx_runs))
            if args.also_info_log:
                # A restart, not a reload: the running gateway does not apply log.level on
                # reload (gateway/main.cpp never calls JsonLog::set_level).
                gw_pids = restart_gateways(procs, gateway, cfg, args.log_level, "info")
                results["u_gw_info"] = unary("gateway chain, log level info", f"http://127.0.0.1:{PORT['A']}{path}",
                                             hdr, args, body, workdir, gw_pids)
                with open(os.path.join(workdir, "A.log"), "rb") as f:
                    print(f"  (gateway A wrote {sum(1 for _ in f)} log lines at info)")
                gw_pids = restart_gateways(procs, gateway, cfg, "info", args.log_level)

        if not args.skip_stream:
            print(f"\n2. one streamed transfer of {args.stream_mib} MiB, "
                  f"median of {args.stream_reps}; MB = 10^6 bytes")
            path = "/v1/interconn/chan/transport"
            he = ptp_headers(gateway, "E", "ptp/diag/echo", "bench-stream")
            hs = ptp_headers(gateway, "B", "ptp/sink", "bench-sink")
            r = args.stream_reps
            if args.stream_client == "curl":
                upload = curl_upload
            else:
                client = os.path.join(os.path.abspath(args.bin_dir), "ptp-bench-h2_upload")
                upload = lambda u, h, n: h2_upload(client, u, h, n)  # noqa: E731
            print(f"  client: {args.stream_client}")
            nx_pids = [procs.pid("nx1s"), procs.pid("nx2s")]
            results["s_gw"] = stream("echo: gateway A -> gateway B -> E(diag)",
                                     f"http://127.0.0.1:{PORT['A']}{path}", he, size, True, r, gw_pids, upload)
            results["s_nx"] = stream("echo: nghttpx -> nghttpx -> E(diag)",
                                     f"http://127.0.0.1:{PORT['nx1s']}{path}", he, size, True, r, nx_pids, upload)
            results["s_base"] = stream("echo: direct to E(diag), no middle hop",
                                       f"http://127.0.0.1:{PORT['E']}{path}", he, size, True, r, [], upload)
            results["o_gw"] = stream("one-way: gateway A -> gateway B -> nghttpd",
                                     f"http://127.0.0.1:{PORT['A']}{path}", hs, size, False, r, gw_pids, upload)
            results["o_nx"] = stream("one-way: nghttpx -> nghttpx -> nghttpd",
                                     f"http://127.0.0.1:{PORT['nx1s']}/sink", hs, size, False, r, nx_pids, upload)
            results["o_base"] = stream("one-way: direct to nghttpd, no middle hop",
                                       f"http://127.0.0.1:{PORT['sink']}/sink", hs, size, False, r, [], upload)
    finally:
        procs.close()
        shutil.rmtree(datadir, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    summary(results)
    print(f"load average at start {load_at_start}, at end {os.getloadavg()[0]:.2f} (other work on the "
          "machine skews the numbers)")


def summary(res):
    print("\nSummary (ours / nghttpx; > 1 is better for us on throughput, < 1 better on latency and CPU)")
    print("| measurement | gateway A→B | nghttpx→nghttpx | ours/nghttpx |")
    print("|---|---:|---:|---:|")
    if "u_gw" in res:
        g, n = res["u_gw"], res["u_nx"]
        print(f"| unary 1 KiB, requests/s | {g['rps']:.0f} | {n['rps']:.0f} | {g['rps'] / n['rps']:.2f} |")
        print(f"| unary 1 KiB, p50 latency ms | {g['p50']:.2f} | {n['p50']:.2f} | {g['p50'] / n['p50']:.2f} |")
        print(f"| unary 1 KiB, p99 latency ms | {g['p99']:.2f} | {n['p99']:.2f} | {g['p99'] / n['p99']:.2f} |")
        print(f"| unary 1 KiB, CPU of the two middle hops, µs/request | {g['cpu_us_per_req']:.1f} | "
              f"{n['cpu_us_per_req']:.1f} | {g['cpu_us_per_req'] / n['cpu_us_per_req']:.2f} |")
        if len(res.get("u_rounds", [])) > 1:
            ratios = [(g["rps"] / n["rps"], g["p99"] / n["p99"]) for g, n in res["u_rounds"]]
            rps = sorted(r for r, _ in ratios)
            print(f"| unary, requests/s ratio of each round (median {rps[len(rps) // 2]:.2f}) | | | "
                  + " ".join(f"{r:.2f}" for r, _ in ratios) + " |")
            print("| unary, p99 ratio of each round | | | " + " ".join(f"{q:.2f}" for _, q in ratios) + " |")
        if "u_gw_info" in res:
            i = res["u_gw_info"]
            print(f"| unary, gateways at log level info, requests/s | {i['rps']:.0f} | — | "
                  f"{i['rps'] / n['rps']:.2f} |")
            print(f"| unary, gateways at log level info, p99 ms | {i['p99']:.2f} | — | {i['p99'] / n['p99']:.2f} |")
            print(f"| unary, gateways at log level info, middle-hop CPU µs/request | {i['cpu_us_per_req']:.1f} | — | "
                  f"{i['cpu_us_per_req'] / n['cpu_us_per_req']:.2f} |")
    if "s_gw" in res:
        for key, label in (("s", "echo stream, MB/s through the hops (up+down)"),
                           ("o", "one-way stream, MB/s")):
            g, n, b = res[key + "_gw"], res[key + "_nx"], res[key + "_base"]
            print(f"| {label} | {g['through_mbs']:.0f} | {n['through_mbs']:.0f} | "
                  f"{g['through_mbs'] / n['through_mbs']:.2f} |")
            print(f"| {label.split(',')[0]}, middle-hop CPU s/GB | {g['cpu_s_per_gb']:.2f} | "
                  f"{n['cpu_s_per_gb']:.2f} | {g['cpu_s_per_gb'] / n['cpu_s_per_gb']:.2f} |")
            print(f"| {label.split(',')[0]}, no middle hop (ceiling), MB/s | {b['through_mbs']:.0f} | | |")
        print(f"\nstreaming goal ≥ 1 GB/s: echo payload {res['s_gw']['payload_mbs']:.0f} MB/s each way "
              f"({res['s_gw']['through_mbs']:.0f} MB/s up+down), one-way {res['o_gw']['payload_mbs']:.0f} MB/s")


if __name__ == "__main__":
    main()
