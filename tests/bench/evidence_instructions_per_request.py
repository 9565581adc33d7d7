#!/usr/bin/python3
"""Instructions per request with message evidence on vs off, counted by callgrind (the CPU
part of docs/benchmarks.md's "Signatures, receipts and the evidence log on vs off"; wall-clock
ratios on the shared 2-CPU machine mix CPU with the latency the batch windows add).
Same chain and configs as evidence_signing_bench.py (h2load -> A -> B -> ptp-echo-service,
1 KiB invokes, node identities, TLS between A and B), A and B run under callgrind; counters
are zeroed after a warm-up and dumped after the measured requests (all threads of a
gateway, the evidence writer included). Kernel time is not counted. Run by hand:

  /usr/bin/python3 tests/bench/evidence_instructions_per_request.py [--bin-dir build/bin]
      [--requests 5000] [--clients 4] [--streams 25] [--window-us 1000]
      [--body-bytes 1024] [--top 25]
"""
import argparse
import glob
import os
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--streams", type=int, default=25)
    ap.add_argument("--window-us", type=int, default=1000)
    ap.add_argument("--body-bytes", type=int, default=1024)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--save", default=None, help="copy the callgrind files into this directory")
    ap.add_argument("--only", choices=("on", "off"), default=None)
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["PTP_BIN_DIR"] = os.path.abspath(args.bin_dir)
    import ptp_harness
    from ptp_harness import Topology
    from evidence_chain_setup import (ECHO_PORT, batches, invoke_url, print_batch_sizes,
                                      request, write_configs)
    from instructions_per_request import callgrind, top_functions, totals

    def configs(topo, evidence):
        return write_configs(topo.workdir, evidence, args.window_us, 1)

    body = "/tmp/ptp-evidence-ipr-body"
    h = request(body, args.body_bytes)
    real_gateway = ptp_harness.GATEWAY

    def measure(evidence):
        with Topology() as topo:
            outs = {n: os.path.join(topo.workdir, f"callgrind.{n}") for n in "AB"}
            topo.echo(ECHO_PORT)
            c = configs(topo, evidence)
            gws = {}
            for n in "BA":
                wrapper = os.path.join(topo.workdir, f"vg-{n}.sh")
                with open(wrapper, "w") as f:
                    f.write("#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                            f"--callgrind-out-file={outs[n]}.%p {real_gateway} \"$@\"\n")
                os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
                ptp_harness.GATEWAY = wrapper
                try:
                    gws[n] = topo.gateway(c[n])
                finally:
                    ptp_harness.GATEWAY = real_gateway
            cmd = ["h2load", "-n", str(args.requests), "-c", str(args.clients), "-m",
                   str(args.streams), "-d", body]
            for k, v in h.items():
                cmd += ["-H", f"{k}: {v}"]
            cmd.append(invoke_url())
            warm = cmd[:2] + ["1000"] + cmd[3:]
            subprocess.run(warm, capture_output=True, check=True)
            time.sleep(1)  # the writers catch up
            before = batches(topo.workdir) if evidence else None
            for n in "AB":
                callgrind(gws[n].pid(), "--instr=on")
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            if f"{args.requests} succeeded" not in out:
                raise RuntimeError(out)
            for n in "AB":
                for stale in glob.glob(outs[n] + "*"):
                    os.unlink(stale)
                callgrind(gws[n].pid(), "-d")
            res = {n: totals(outs[n]) / args.requests for n in "AB"}
            if evidence:
                time.sleep(1)
                print_batch_sizes(before, batches(topo.workdir))
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                for path in glob.glob(os.path.join(topo.workdir, "callgrind.*")):
                    shutil.copy(path, os.path.join(args.save, ("on-" if evidence else "off-") +
                                                   os.path.basename(path)))
            if args.top:
                for n in "AB":
                    print(f"--- evidence {'on' if evidence else 'off'}: {n}, top functions "
                          f"(instructions over {args.requests} requests)")
                    print(top_functions(outs[n], args.top))
            return res

    print("command: /usr/bin/python3 " + " ".join(sys.argv))
    res = {}
    for mode in ("off", "on"):
        if args.only and args.only != mode:
            continue
        r = measure(mode == "on")
        res[mode] = r
        print(f"evidence {mode}: A {r['A']:.0f}  B {r['B']:.0f}  A+B {r['A'] + r['B']:.0f} "
              "instructions/request", flush=True)
    if len(res) == 2:
        off, on = res["off"], res["on"]
        for k in "AB":
            print(f"  {k}: on/off = {on[k] / off[k]:.3f}")
        print(f"  A+B: on/off = {(on['A'] + on['B']) / (off['A'] + off['B']):.3f}")


if __name__ == "__main__":
    main()
