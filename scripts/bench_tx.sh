#!/usr/bin/env bash
# Side-by-side throughput of Magpie and redis-server for the workloads of
# issue 4: PUBLISH to 1 and to 50 subscribers, EVALSHA of a three-command
# script, MULTI/EXEC of ten SETs (driver: examples/txbench.rs).
#
#   scripts/bench_tx.sh [MAGPIE_BIN] [REDIS_BIN]
#
# Both servers are started here on free loopback ports (pinned to CPU 1, the
# driver to CPU 0, when taskset exists; PIN=0 disables), the slices run
# interleaved (magpie, redis, redis, magpie, ...), and each test's ratio is
# the median of the paired slice ratios magpie/redis. SLICES (default 7)
# sets the pairs per test. Only the two servers started here are stopped.
set -u
cd "$(dirname "$0")/.."
MAGPIE=${1:-target/release/magpie-server}
REDIS=${2:-/usr/bin/redis-server}
SLICES=${SLICES:-7}
PIN=${PIN:-1}
TESTS=${TESTS:-"publish1:100000 publish50:20000 evalsha:100000 multi:20000"}

cargo build --release --example txbench >/dev/null 2>&1 || { echo "building examples/txbench failed" >&2; exit 1; }
DRIVER=target/release/examples/txbench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRV_PIN=(); CLI_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then SRV_PIN=(taskset -c 1); CLI_PIN=(taskset -c 0); fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM HUP
LOGDIR=$(mktemp -d /tmp/bench_tx.XXXXXX)

start() { # name bin port
    "${SRV_PIN[@]}" "$2" --port "$3" --bind 127.0.0.1 --save "" --appendonly no >"$LOGDIR/$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 150); do
        [ "$(redis-cli -p "$3" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "$1 did not start (see $LOGDIR/$1.log)" >&2; exit 1
}
MP=$(free_port); start magpie "$MAGPIE" "$MP"
RP=$(free_port); start redis "$REDIS" "$RP"

run() { # port test n -> ops/s
    local out
    out=$(timeout 150 "${CLI_PIN[@]}" "$DRIVER" "$1" "$2" "$3") || { echo "driver failed: $2 on port $1" >&2; exit 1; }
    echo "$out" | awk '{print $2}'
}

RESULTS=$LOGDIR/results.txt
: >"$RESULTS"
for spec in $TESTS; do
    t=${spec%%:*}; n=${spec##*:}
    run "$MP" "$t" $((n / 10)) >/dev/null; run "$RP" "$t" $((n / 10)) >/dev/null   # warm-up
    for i in $(seq "$SLICES"); do
        if [ $((i % 2)) = 1 ]; then m=$(run "$MP" "$t" "$n"); r=$(run "$RP" "$t" "$n")
        else r=$(run "$RP" "$t" "$n"); m=$(run "$MP" "$t" "$n"); fi
        if [ -z "$m" ] || [ -z "$r" ]; then echo "no result for $t" >&2; exit 1; fi
        echo "$t $m $r" >>"$RESULTS"
    done
done

python3 - "$RESULTS" <<'EOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    t, m, r = line.split()
    rows.setdefault(t, []).append((float(m), float(r)))
names = {"publish1": "PUBLISH, 1 subscriber", "publish50": "PUBLISH, 50 subscribers",
         "evalsha": "EVALSHA (3-command script)", "multi": "MULTI/EXEC of 10 SETs"}
print("| test | magpie ops/s | redis ops/s | magpie/redis | min-max |")
print("|---|--:|--:|--:|--:|")
for t, v in rows.items():
    ratios = [m / r for m, r in v]
    print(f"| {names.get(t, t)} | {statistics.median(m for m, _ in v):,.0f} | "
          f"{statistics.median(r for _, r in v):,.0f} | {statistics.median(ratios):.2f} | "
          f"{min(ratios):.2f}-{max(ratios):.2f} |")
EOF
