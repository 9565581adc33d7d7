#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: gateways A and B of conf/direct
# on 127.0.0.1 with an echo service behind B. Sends an invoke over HTTP/1.1, HTTP/2 and
# gRPC through A to B and prints the answers. PTP_DEMO_KEEP=1 leaves it running.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build
BIN=build/bin
LOGS=$(mktemp -d /tmp/ptp-demo.XXXX)
pids=()
cleanup() { [ "${PTP_DEMO_KEEP:-0}" = 1 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
$BIN/ptp-echo-service --port 18080 >"$LOGS/echo.log" 2>&1 & pids+=($!)
$BIN/ptp-gateway --config conf/direct/b.yaml --data-dir "$LOGS/data-B" >"$LOGS/b.log" 2>&1 & pids+=($!)
$BIN/ptp-gateway --config conf/direct/a.yaml --data-dir "$LOGS/data-A" >"$LOGS/a.log" 2>&1 & pids+=($!)
for port in 17404 17405; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
KEY=demo-only-secret-A-do-not-use-in-production
TOKEN=$($BIN/ptp-gateway --mint-token --key $KEY --source A --target B --session demo-session)
H=(-H "x-ptp-version: 1" -H "x-ptp-tech-provider-code: DEMO" -H "x-ptp-trace-id: demo-trace"
   -H "x-ptp-token: $TOKEN" -H "x-ptp-session-id: demo-session"
   -H "x-ptp-source-node-id: A" -H "x-ptp-target-node-id: B")
echo "== HTTP/1.1 invoke A -> B -> B's echo service (uri ptp/echo)"
curl -sS -i --http1.1 "${H[@]}" -H "x-ptp-uri: ptp/echo" --data-binary "hello over HTTP/1.1" \
  http://127.0.0.1:17304/v1/interconn/chan/invoke; echo
echo "== HTTP/2 invoke A -> B, answered by B's built-in diagnostic service (uri ptp/diag/echo)"
curl -sS -i --http2-prior-knowledge "${H[@]}" -H "x-ptp-uri: ptp/diag/echo" \
  --data-binary "hello over HTTP/2" http://127.0.0.1:17304/v1/interconn/chan/invoke; echo
echo "== gRPC invoke A -> B (Python client, stubs generated from codecs/ptp.proto)"
STUBS=$(mktemp -d)
/usr/bin/python3 -m grpc_tools.protoc -Icodecs --python_out="$STUBS" --grpc_python_out="$STUBS" codecs/ptp.proto
PYTHONPATH="$STUBS" TOKEN="$TOKEN" /usr/bin/python3 - <<'PY'
import os, grpc, ptp_pb2, ptp_pb2_grpc
md = [("x-ptp-version", "1"), ("x-ptp-tech-provider-code", "DEMO"), ("x-ptp-trace-id", "demo-grpc"),
      ("x-ptp-token", os.environ["TOKEN"]), ("x-ptp-uri", "ptp/echo"), ("x-ptp-session-id", "demo-session"),
      ("x-ptp-source-node-id", "A"), ("x-ptp-target-node-id", "B")]
with grpc.insecure_channel("127.0.0.1:17304") as ch:
    out = ptp_pb2_grpc.PrivateTransferProtocolStub(ch).invoke(ptp_pb2.Inbound(payload=b"hello over gRPC"), metadata=md)
    print("code:", out.code, "payload:", out.payload.decode())
    print("service saw trace id:", out.metadata.get("x-echo-x-ptp-trace-id"))
PY
echo "== async: a container at A pushes to B (durable outbox), a container at B pops"
Q=(-H "content-type: application/json" -H "x-ptp-tech-provider-code: DEMO" -H "x-ptp-trace-id: demo-q"
   -H "x-ptp-session-id: demo-session" -H "x-ptp-target-node-id: B")
curl -sS "${Q[@]}" -H "x-ptp-token: $TOKEN" -d '{"topic":"demo","payload":"aGVsbG8gb3ZlciBhIHF1ZXVl"}' \
  http://127.0.0.1:17304/v1/interconn/chan/push; echo
TOKEN_B=$($BIN/ptp-gateway --mint-token --key demo-only-secret-B-do-not-use-in-production \
  --source B --target B --session demo-session)
curl -sS "${Q[@]}" -H "x-ptp-token: $TOKEN_B" -d '{"topic":"demo","timeout":5}' \
  http://127.0.0.1:17305/v1/interconn/chan/pop; echo
echo "== metrics of A (admin port 17404)"
curl -sS http://127.0.0.1:17404/metrics | grep '^ptp_requests_total' || true
echo "logs: $LOGS"
