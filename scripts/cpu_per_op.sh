#!/usr/bin/env bash
# Server CPU time per operation for one workload of examples/txbench.rs,
# read from the server's own INFO cpu (user + sys, every thread) before and
# after the run. Steadier than ops/s on a shared machine: it does not depend
# on what else gets the CPU.
#
#   scripts/cpu_per_op.sh SERVER_BIN TEST N      (TEST: publish1 publish50 evalsha multi)
#
# The server is started here on a free loopback port (pinned to CPU 1, the
# driver to CPU 0, when taskset exists) and stopped by its PID.
set -u
cd "$(dirname "$0")/.."
BIN=$1; T=$2; N=$3
cargo build --release --example txbench >/dev/null 2>&1 || { echo "building examples/txbench failed" >&2; exit 1; }
DRIVER=target/release/examples/txbench
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SRV=(); CLI=()
if command -v taskset >/dev/null; then SRV=(taskset -c 1); CLI=(taskset -c 0); fi
DIR=$(mktemp -d /tmp/cpu_per_op.XXXXXX)
"${SRV[@]}" "$BIN" --port "$P" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do [ "$(redis-cli -p "$P" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
cpu() { # "user sys" in seconds
    redis-cli -p "$P" info cpu | tr -d '\r' |
        awk -F: '$1 == "used_cpu_user" {u = $2} $1 == "used_cpu_sys" {s = $2} END {print u, s}'
}
timeout 150 "${CLI[@]}" "$DRIVER" "$P" "$T" $((N / 10)) >/dev/null || exit 1   # warm-up
A=$(cpu)
OUT=$(timeout 150 "${CLI[@]}" "$DRIVER" "$P" "$T" "$N") || exit 1
B=$(cpu)
python3 - "$A" "$B" "$N" "$OUT" "$(basename "$BIN")" <<'PY'
import sys
(au, asy), (bu, bsy) = [map(float, x.split()) for x in sys.argv[1:3]]
n = int(sys.argv[3])
u, s = (bu - au) * 1e6 / n, (bsy - asy) * 1e6 / n
print(f"{sys.argv[5]}: {sys.argv[4]}  server cpu/op: user {u:.2f}us sys {s:.2f}us total {u + s:.2f}us")
PY
