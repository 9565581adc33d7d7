#!/usr/bin/python3
"""Include-direction check (docs/architecture.md, "Dependency rules").

Reads every #include "..." in the source folders and refuses one that goes from a lower
layer to a higher one, or between folders of the same layer (they must stay apart).
Run from anywhere: check_layers.py [repository root]; exit status 1 lists the offenders.

Layers, lowest first. A file may include files of its own folder and of lower layers only.
Top level: codecs < common < {adapters, router, trust} < gateway < tools; adapters, router
and trust stay apart.
Within a top-level folder the sub-folders are layered the same way (the numbers below);
equal numbers mean the folders stay apart. tests/ may include anything; nothing includes
tests/ except tests/.
"""
import os
import re
import sys

TOP = {"codecs": 0, "common": 1, "adapters": 2, "router": 2, "trust": 2, "gateway": 3, "tools": 4}

SUB = {
    "adapters": {
        "queue": 0,  # the QueueStore interface and what both stores share
        "queue/embedded": 1,  # RocksDB store
        "queue/kafka": 1,  # Kafka store (apart from the embedded one)
        "kafka": 2,  # the Kafka attachment (ingress, egress): uses the Kafka client
    },
    "router": {"he": 0, "shares": 0, "rs": 1, "rc": 2},
    "gateway": {
        "exchange": 0,  # Request/Response/Dispatcher, body pipes
        "config": 1,
        "observability": 2,
        "http": 3,  # what both sides of the wire share
        "route": 4,  # pure route resolution
        "upstream": 5,  # client sessions and pools
        "evidence": 5,  # signatures, receipts and the evidence log (apart from upstream)
        "forward": 6,  # one upstream exchange
        "queue": 7,
        "peering": 8,  # the peering handshake, the dynamic peer table
        "permits": 8,  # permits this node issued and holds (apart from peering)
        "diagnose": 8,  # ptpctl diagnose: hop probes (apart from peering and permits)
        "pipeline": 9,
        "server": 10,  # accepting connections, server sessions
        "rs": 11,
        "": 12,  # main.cpp, the composition root
    },
}

SOURCE_DIRS = list(TOP) + ["tests"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def place(folder):
    """(top, sub) of a folder relative to the root, or None when no rule names it."""
    parts = folder.split("/")
    top = parts[0]
    if top not in TOP:
        return None
    sub = "/".join(parts[1:])
    subs = SUB.get(top)
    if subs is None:
        return (top, "")
    # The deepest sub-folder the rules name (queue/kafka before queue).
    while sub not in subs:
        if "/" not in sub:
            return None if sub else (top, "") if "" in subs else None
        sub = sub.rsplit("/", 1)[0]
    return (top, sub)


def verdict(src_folder, dst_folder):
    """None when src_folder may include dst_folder, else the reason."""
    if src_folder.split("/")[0] == "tests":
        return None
    if dst_folder.split("/")[0] == "tests":
        return "only tests/ includes tests/"
    src, dst = place(src_folder), place(dst_folder)
    if src is None:
        return f"{src_folder}/ is in no layer (add it to scripts/check_layers.py)"
    if dst is None:
        return f"{dst_folder}/ is in no layer (add it to scripts/check_layers.py)"
    if src == dst:
        return None
    if src[0] != dst[0]:
        a, b = TOP[src[0]], TOP[dst[0]]
        if a > b:
            return None
        if a == b:
            return f"{src[0]}/ and {dst[0]}/ stay apart"
        return f"{src[0]}/ is below {dst[0]}/"
    subs = SUB[src[0]]
    a, b = subs[src[1]], subs[dst[1]]
    if a > b:
        return None
    name = lambda p: p[0] + "/" + p[1] + ("/" if p[1] else "")
    if a == b:
        return f"{name(src)} and {name(dst)} stay apart"
    return f"{name(src)} is below {name(dst)}"


def check(root):
    errors = []
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith((".h", ".cpp")):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    if "/" not in inc or inc.split("/")[0] not in SOURCE_DIRS:
                        continue  # a third-party or generated header of no layer
                    why = verdict(os.path.dirname(rel), os.path.dirname(inc))
                    if why:
                        line = text.count("\n", 0, m.start()) + 1
                        errors.append(f'{rel}:{line}: #include "{inc}": {why}')
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    errors = check(os.path.abspath(root))
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"{len(errors)} include(s) against the layering (docs/architecture.md)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
