#!/usr/bin/env bash
# Side-by-side LRANGE throughput of Magpie and redis-server:
#
#     redis-benchmark -t lrange_100,lrange_300 -P 16 -n N
#
# run against both servers in one script, interleaved (A B, then B A, ...),
# each server on its own free loopback port, both pinned to the same CPU
# and the load generator to another one (when taskset exists), so that the
# ratios compare measurements taken back to back on the same machine state.
#
#     scripts/bench_lrange.sh [MAGPIE_BINARY] [REDIS_BINARY] [ROUNDS] [N]
#
# Defaults: target/release/magpie-server, /usr/bin/redis-server, 5 rounds,
# N=100000 requests per call. Each redis-benchmark call first runs its own
# "LPUSH (needed to benchmark LRANGE)" fill, as redis-benchmark always does
# for these tests. Prints every paired ratio and the median per test;
# exits 1 if a median is below 1.0.
set -euo pipefail

MAGPIE=${1:-target/release/magpie-server}
REDIS=${2:-/usr/bin/redis-server}
ROUNDS=${3:-5}
N=${4:-100000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for b in "$MAGPIE" "$REDIS" redis-benchmark redis-cli; do
    command -v "$b" >/dev/null || { echo "missing: $b" >&2; exit 2; }
done

PIN_S=() PIN_C=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_S=(taskset -c "$SERVER_CPU")
    PIN_C=(taskset -c "$CLIENT_CPU")
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

WORK=$(mktemp -d /tmp/bench_lrange.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

start() { # name binary -> prints port
    local name=$1 bin=$2 port
    port=$(free_port)
    mkdir -p "$WORK/$name"
    "${PIN_S[@]}" "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK/$name" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && { echo "$port"; return; }
        sleep 0.1
    done
    echo "$name did not start (see $WORK/$name.log)" >&2
    exit 2
}

PM=$(start magpie "$MAGPIE")
PR=$(start redis "$REDIS")
echo "magpie: $MAGPIE (port $PM)   redis: $REDIS (port $PR)   rounds: $ROUNDS   n: $N"

run() { # port -> "lrange100_rps lrange300_rps"
    timeout 300 "${PIN_C[@]}" redis-benchmark -p "$1" -t lrange_100,lrange_300 -P 16 -n "$N" --csv 2>/dev/null |
        awk -F'","' '/^"LRANGE_100/ {a=$2} /^"LRANGE_300/ {b=$2} END {gsub(/"/,"",a); gsub(/"/,"",b); print a, b}'
}

R100=() R300=()
printf '%-6s %12s %12s %7s   %12s %12s %7s\n' round magpie_100 redis_100 ratio magpie_300 redis_300 ratio
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
        read -r m1 m3 < <(run "$PM"); read -r x1 x3 < <(run "$PR")
    else
        read -r x1 x3 < <(run "$PR"); read -r m1 m3 < <(run "$PM")
    fi
    q1=$(python3 -c "print(f'{$m1/$x1:.2f}')")
    q3=$(python3 -c "print(f'{$m3/$x3:.2f}')")
    R100+=("$q1") R300+=("$q3")
    printf '%-6s %12s %12s %7s   %12s %12s %7s\n' "$r" "$m1" "$x1" "$q1" "$m3" "$x3" "$q3"
done

python3 - "${R100[*]}" "${R300[*]}" <<'EOF'
import statistics, sys
ok = True
for name, vals in (("LRANGE_100", sys.argv[1]), ("LRANGE_300", sys.argv[2])):
    v = [float(x) for x in vals.split()]
    med = statistics.median(v)
    ok &= med >= 1.0
    print(f"{name}: median magpie/redis ratio {med:.2f} (min {min(v):.2f}, max {max(v):.2f}, {len(v)} pairs)")
sys.exit(0 if ok else 1)
EOF
