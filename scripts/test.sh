#!/usr/bin/env bash
# Installs missing packages, checks include directions, builds, and runs every test: unit + integration on the
# normal build, then again on an ASan+UBSan build (set PTP_SKIP_SANITIZERS=1 to skip).
# In between, a Release (-O3) compile of the shipped programs (set PTP_SKIP_RELEASE=1 to skip).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Include directions first (docs/architecture.md): a wrong one fails before any build.
/usr/bin/python3 scripts/check_layers.py
./scripts/build.sh build
# Integration tests use the fixed ports of conf/, so they run one at a time.
(cd build && ctest --output-on-failure --timeout 600)
if [ "${PTP_SKIP_RELEASE:-0}" != "1" ]; then
  # Packagers build Release; -O3 inlines more and GCC's flow warnings (-Werror) see more.
  # Only the shipped programs (every library of the project, not the tests and benchmarks):
  # about 60 % of a full build.
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-release -j"$(nproc)" --target ptp-gateway ptp-rc ptpctl
fi
if [ "${PTP_SKIP_SANITIZERS:-0}" != "1" ]; then
  ./scripts/build.sh build-asan -DPTP_SANITIZE=ON
  # A small quarantine keeps the memory-bound assertions of the streaming test meaningful.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure --timeout 900)
fi
echo "all tests passed"
