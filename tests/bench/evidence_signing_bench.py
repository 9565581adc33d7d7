#!/usr/bin/python3
"""Requests/s with message evidence on vs off (docs/benchmarks.md, "Evidence"):
h2load -> gateway A -> gateway B -> ptp-echo-service, 1 KiB unary invokes, A and B with node
identities (TLS between them, pinned roots). "on": both have an evidence section (A signs
in batches, B verifies, receipts, both write their evidence logs); "off": the same configs
without it. Rounds alternate off/on (fresh gateways each round, a warm-up first) and the
ratio on/off of the medians is printed.

  /usr/bin/python3 tests/bench/evidence_signing_bench.py [--bin-dir build/bin] [--rounds 3]
      [--requests 40000] [--clients 4] [--streams 25] [--window-us 1000]
      [--body-bytes 1024] [--io-threads 1]
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=40000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--streams", type=int, default=25)
    ap.add_argument("--window-us", type=int, default=1000)
    ap.add_argument("--body-bytes", type=int, default=1024)
    ap.add_argument("--io-threads", type=int, default=1)
    ap.add_argument("--threads", action="store_true",
                    help="print the CPU per request of each gateway's busiest threads")
    ap.add_argument("--perf", default=None,
                    help="record `perf record -g` of gateway A and B during the rounds "
                         "into PREFIX-on-a.data, PREFIX-off-b.data, ...")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["PTP_BIN_DIR"] = os.path.abspath(args.bin_dir)
    from ptp_harness import Topology
    from evidence_chain_setup import (B_PORT, ECHO_PORT, batches, invoke_url, print_batch_sizes,
                                      request, write_configs)

    def configs(topo, evidence):
        return write_configs(topo.workdir, evidence, args.window_us, args.io_threads)

    body = "/tmp/ptp-evidence-bench-body"
    h = request(body, args.body_bytes)

    tick = os.sysconf("SC_CLK_TCK")

    def usage(pid):
        """(user s, system s, context switches) of a process, all its threads."""
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        switches = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/status") as f:
                    for line in f:
                        if "ctxt_switches:" in line:  # voluntary and not
                            switches += int(line.split()[-1])
            except OSError:
                pass
        return int(st[11]) / tick, int(st[12]) / tick, switches

    cpu = {False: [], True: []}

    def link_bytes():
        """(A to B, B to A) bytes so far on the connections from A to B (`ss -ti`)."""
        out = subprocess.run(["ss", "-tinH", "state", "established", f"dport = :{B_PORT}"],
                             capture_output=True, text=True).stdout
        sent = sum(int(x) for x in re.findall(r"bytes_sent:(\d+)", out))
        received = sum(int(x) for x in re.findall(r"bytes_received:(\d+)", out))
        return sent, received

    def threads(pid):
        """{tid: user+sys s} of a process's threads."""
        out = {}
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                out[task] = (int(st[11]) + int(st[12])) / tick
            except OSError:
                pass
        return out

    def run(evidence, n):
        with Topology() as topo:
            echo = topo.echo(ECHO_PORT)
            c = configs(topo, evidence)
            gb = topo.gateway(c["B"])
            ga = topo.gateway(c["A"])
            cmd = ["h2load", "-n", str(n), "-c", str(args.clients), "-m", str(args.streams),
                   "-d", body]
            for k, v in h.items():
                cmd += ["-H", f"{k}: {v}"]
            cmd.append(invoke_url())
            subprocess.run(cmd[:2] + [str(max(n // 10, 100))] + cmd[3:], capture_output=True,
                           check=True)  # warm-up
            perf = []
            if args.perf:
                mode = "on" if evidence else "off"
                perf = [subprocess.Popen(["perf", "record", "-g", "-o",
                                          f"{args.perf}-{mode}-{n}.data",
                                          "-p", str(g.pid())], stderr=subprocess.DEVNULL)
                        for n, g in (("a", ga), ("b", gb))]
            time.sleep(0.3)  # the writers take the warm-up's records
            before = batches(topo.workdir) if evidence else None
            u0 = {g: usage(g.proc.pid) for g in (ga, gb, echo)}
            t0 = {g: threads(g.pid()) for g in (ga, gb)}
            w0 = link_bytes()
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # h2load, once it is waited for
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            u1 = {g: usage(g.proc.pid) for g in (ga, gb, echo)}
            t1 = {g: threads(g.pid()) for g in (ga, gb)}
            w1 = link_bytes()
            if args.threads:
                print(f"  {'on ' if evidence else 'off'} bytes per request between the gateways "
                      f"(TLS): A to B {(w1[0] - w0[0]) / n:.0f}, B to A {(w1[1] - w0[1]) / n:.0f}",
                      flush=True)
                for name, g in (("A", ga), ("B", gb)):
                    busy = sorted(((t1[g][t] - t0[g].get(t, 0)) * 1e6 / n for t in t1[g]),
                                  reverse=True)
                    print(f"  {'on ' if evidence else 'off'} {name}: CPU us per request of its "
                          "busiest threads: " + ", ".join(f"{x:.1f}" for x in busy[:4] if x > 0),
                          flush=True)
                client = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) * 1e6 / n
                served = sum(u1[echo][i] - u0[echo][i] for i in range(2)) * 1e6 / n
                print(f"  {'on ' if evidence else 'off'} CPU us per request of h2load {client:.1f}, "
                      f"of the echo service {served:.1f}", flush=True)
            # CPU microseconds (user, system) and context switches per request, A and B.
            cpu[evidence].append(tuple(
                tuple((u1[g][i] - u0[g][i]) * (1e6 if i < 2 else 1) / n for i in range(3))
                for g in (ga, gb)))
            for p in perf:
                p.send_signal(2)
                p.wait()
            if f"{n} succeeded" not in out:
                raise RuntimeError(out)
            if evidence and args.threads:
                time.sleep(0.3)
                print_batch_sizes(before, batches(topo.workdir))
            return float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))

    off, on = [], []
    for i in range(args.rounds):
        off.append(run(False, args.requests))
        on.append(run(True, args.requests))
        print(f"round {i + 1}: off {off[-1]:.0f} req/s, on {on[-1]:.0f} req/s", flush=True)
    for ev in (False, True):
        med = lambda g, i: statistics.median(r[g][i] for r in cpu[ev])
        print(f"{'on ' if ev else 'off'} per request (median): "
              f"A {med(0, 0):.0f}+{med(0, 1):.0f} us user+sys, {med(0, 2):.2f} switches; "
              f"B {med(1, 0):.0f}+{med(1, 1):.0f} us user+sys, {med(1, 2):.2f} switches")
    mo, mn = statistics.median(off), statistics.median(on)
    print(f"median: off {mo:.0f} req/s, on {mn:.0f} req/s, ratio on/off {mn / mo:.3f}")


if __name__ == "__main__":
    main()
