#!/usr/bin/python3
"""User-space instructions per unary request of gateway A and gateway B, counted by
valgrind's callgrind: a deterministic measure for comparing two builds of the gateway,
where timings on a shared 2-CPU machine vary by several per cent from run to run.
Run by hand (not part of ctest):

    /usr/bin/python3 tests/bench/instructions_per_request.py --bin-dir build/bin [--bin-dir other/bin]

Same chain as gateway_vs_nghttpx.py (h2load -> A -> B -> ptp-echo-service, 1 KiB invoke,
100 concurrent streams), with A and B run under callgrind. Counters are zeroed after a
warm-up and dumped after the measured requests, so start-up is not counted. Kernel time
(system calls) is not in these numbers; compare syscall counts separately.
With --top N, prints the N functions with the most instructions per request.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gateway_vs_nghttpx import (PORT, Procs, h2load, nghttpx_args, ptp_headers,  # noqa: E402
                                write_configs)


def callgrind(pid, what):
    subprocess.run(["callgrind_control", what, str(pid)], check=True, capture_output=True)


def totals(out_prefix):
    """Sum of Ir over the dump files callgrind wrote for one process (one per thread/dump)."""
    ir = 0
    for path in glob.glob(out_prefix + "*"):
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    ir += int(line.split()[1])
                    break
    return ir


def top_functions(out_prefix, n):
    files = sorted(glob.glob(out_prefix + "*.1"))
    if not files:
        return ""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=99", files[0]],
                         capture_output=True, text=True).stdout
    rows = [l for l in out.splitlines() if re.match(r"^\s*[\d,]+ \(", l)]
    return "\n".join(rows[:n])


def measure(bin_dir, args, nghttpx=False):
    """Instructions per request of the first and second hop: gateways A and B, or with
    nghttpx the two nghttpx of the reference chain (single process, same windows)."""
    gateway = os.path.join(os.path.abspath(bin_dir), "ptp-gateway")
    echo_bin = os.path.join(os.path.abspath(bin_dir), "ptp-echo-service")
    workdir = tempfile.mkdtemp(prefix="ptp-ipr-")
    body = os.path.join(workdir, "body.bin")
    with open(body, "wb") as f:
        f.write(os.urandom(args.body_bytes))
    cfg = write_configs(workdir, 1, "warn")
    procs = Procs(workdir)
    vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    outs = {n: os.path.join(workdir, f"callgrind.{n}") for n in ("A", "B")}
    try:
        procs.start("echo", [echo_bin, "--port", str(PORT["echo"]), "--threads", "1"], PORT["echo"])
        if nghttpx:
            backends = {"B": [f"--backend=127.0.0.1,{PORT['echo']}"],
                        "A": [f"--backend=127.0.0.1,{PORT['nx2']};;proto=h2"]}
            front = {"B": PORT["nx2"], "A": PORT["nx1"]}
            for name in ("B", "A"):
                procs.start(name, vg + [f"--callgrind-out-file={outs[name]}.%p"] +
                            nghttpx_args(front[name], backends[name], 1, False, workdir, name) +
                            ["--single-process"], front[name])
        else:
            for name in ("B", "A"):
                procs.start(name, vg + [f"--callgrind-out-file={outs[name]}.%p",
                                        gateway, "--config", cfg[name.lower()]], PORT[name])
        hdr = ptp_headers(gateway, "B", "ptp/echo", "bench-unary")
        port_a = PORT["nx1"] if nghttpx else PORT["A"]
        url = f"http://127.0.0.1:{port_a}/v1/interconn/chan/invoke"
        h2load(url, hdr, body, 2000, args.clients, args.streams_per_client)
        for name in ("A", "B"):
            callgrind(procs.pid(name), "--instr=on")
        h2load(url, hdr, body, args.requests, args.clients, args.streams_per_client)
        for name in ("A", "B"):
            for stale in glob.glob(outs[name] + "*"):
                os.unlink(stale)
            callgrind(procs.pid(name), "-d")
        res = {n: totals(outs[n]) / args.requests for n in ("A", "B")}
        if args.top:
            for n in ("A", "B"):
                print(f"--- {'nghttpx' if nghttpx else bin_dir}: {n}, top functions (instructions over {args.requests} requests)")
                print(top_functions(outs[n], args.top))
        return res
    finally:
        procs.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", action="append", required=True,
                    help="a build's bin directory; give two to compare")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--streams-per-client", type=int, default=25)
    ap.add_argument("--body-bytes", type=int, default=1024)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--nghttpx", action="store_true",
                    help="also measure nghttpx -> nghttpx (A = first hop, B = second) for reference")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (configs, callgrind files)")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "h2load"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}")
    print("command: /usr/bin/python3 " + " ".join(sys.argv))
    results = []
    for d in args.bin_dir:
        r = measure(d, args)
        results.append(r)
        print(f"{d}: A {r['A']:.0f}  B {r['B']:.0f}  A+B {r['A'] + r['B']:.0f} instructions/request",
              flush=True)
    if args.nghttpx:
        r = measure(args.bin_dir[0], args, nghttpx=True)
        print(f"nghttpx: first {r['A']:.0f}  second {r['B']:.0f}  both {r['A'] + r['B']:.0f}"
              " instructions/request", flush=True)
        for d, g in zip(args.bin_dir, results):
            print(f"  {d} / nghttpx: first {g['A'] / r['A']:.3f}  second {g['B'] / r['B']:.3f}"
                  f"  both {(g['A'] + g['B']) / (r['A'] + r['B']):.3f}")
    if len(results) == 2:
        a, b = results
        for k in ("A", "B"):
            print(f"  {k}: second/first = {b[k] / a[k]:.3f}")
        print(f"  A+B: second/first = {(b['A'] + b['B']) / (a['A'] + a['B']):.3f}")


if __name__ == "__main__":
    main()
