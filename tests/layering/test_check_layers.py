#!/usr/bin/python3
"""scripts/check_layers.py: the repository passes; each kind of wrong include, planted in a
temporary tree, is refused with the file, the line and the reason; includes that are
allowed pass."""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "check_layers.py")


def run(root):
    p = subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr


def tree(files):
    root = tempfile.mkdtemp(prefix="ptp-layers-")
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


def inc(path):
    return f'#pragma once\n#include <string>\n#include "{path}"\n'


ALLOWED = {
    "codecs/status.h": "#pragma once\n",
    "common/token.h": inc("codecs/status.h"),
    "adapters/queue/queue_store.h": inc("codecs/status.h"),
    "adapters/queue/kafka/kafka_client.h": inc("adapters/queue/queue_store.h"),
    "adapters/kafka/kafka_egress.h": inc("adapters/queue/kafka/kafka_client.h"),
    "router/rc/gateway_client.cpp": inc("common/token.h"),
    "gateway/route/route_table.h": inc("gateway/config/config.h"),
    "gateway/config/config.h": inc("adapters/queue/queue_store.h"),
    "gateway/pipeline/pipeline.h": inc("gateway/route/route_table.h"),
    "gateway/main.cpp": inc("gateway/pipeline/pipeline.h"),
    "tests/unit/x.cpp": inc("gateway/main.h"),
}

WRONG = [
    # (file, include, expected reason)
    ("router/rc/bad.cpp", "gateway/pipeline/token.h", "router/ is below gateway/"),
    ("codecs/bad.cpp", "common/token.h", "codecs/ is below common/"),
    ("adapters/queue/bad.h", "router/rs/job_spec.h", "adapters/ and router/ stay apart"),
    ("adapters/queue/embedded/bad.cpp", "adapters/queue/kafka/kafka_client.h",
     "adapters/queue/embedded/ and adapters/queue/kafka/ stay apart"),
    ("adapters/queue/kafka/bad.cpp", "adapters/queue/embedded/embedded_queue_store.h",
     "adapters/queue/kafka/ and adapters/queue/embedded/ stay apart"),
    ("gateway/route/bad.cpp", "gateway/server/listener.h",
     "gateway/route/ is below gateway/server/"),
    ("gateway/route/bad2.cpp", "gateway/upstream/upstream_pool.h",
     "gateway/route/ is below gateway/upstream/"),
    ("gateway/queue/bad.cpp", "gateway/pipeline/pipeline.h",
     "gateway/queue/ is below gateway/pipeline/"),
    ("gateway/pipeline/bad.cpp", "gateway/main.h", "gateway/pipeline/ is below gateway/"),
    ("gateway/config/bad.cpp", "tests/unit/source_dir.h", "only tests/ includes tests/"),
    ("gateway/newfolder/bad.cpp", "gateway/config/config.h", "gateway/newfolder/ is in no layer"),
]


def main():
    failures = []
    code, err = run(ROOT)
    if code != 0:
        failures.append("the repository itself fails:\n" + err)
    root = tree(ALLOWED)
    try:
        code, err = run(root)
        if code != 0:
            failures.append("allowed includes refused:\n" + err)
    finally:
        shutil.rmtree(root)
    for path, include, reason in WRONG:
        files = dict(ALLOWED)
        files[path] = "// planted\n" + inc(include)
        root = tree(files)
        try:
            code, err = run(root)
        finally:
            shutil.rmtree(root)
        want = f'{path}:4: #include "{include}": {reason}'
        if code != 1 or want not in err:
            failures.append(f"not caught as expected: {want}\n  exit {code}, stderr:\n{err}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(WRONG)} planted includes, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
