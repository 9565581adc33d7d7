#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with.
# Only what is missing is installed; safe to run repeatedly.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-system-dev
  libnghttp2-dev nghttp2-client nghttp2-server nghttp2-proxy
  libssl-dev openssl
  librdkafka-dev kcat
  libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev
  doctest-dev
  librocksdb-dev
  libyaml-cpp-dev nlohmann-json3-dev
  libjemalloc-dev
  curl strace
  prometheus
  python3 python3-grpcio python3-grpc-tools python3-protobuf python3-h2
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all build and test dependencies present"
fi
