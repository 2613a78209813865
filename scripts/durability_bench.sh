#!/usr/bin/env bash
# Durability figures, Magpie and redis-server side by side in one run:
#   1. SAVE time for 1M keys (DEBUG POPULATE 1000000), file size, and
#      redis-check-rdb on the file Magpie wrote;
#   2. start-up time from the SAME 1M-key RDB (written by redis-server):
#      process start -> first PONG, median of 3 starts each, interleaved;
#   3. peak memory during BGSAVE under writes (scripts/bgsave_memory.py);
#   4. SET throughput with appendonly yes / appendfsync everysec
#      (redis-benchmark, 3 interleaved rounds, median).
#
#   scripts/durability_bench.sh [magpie-binary] [redis-binary]
#
# Every server runs on its own free port in its own temp dir, loopback only;
# each is stopped by pid. Bounded: every wait loop has a deadline.
set -u
MAGPIE=${1:-target/release/magpie-server}
REDIS=${2:-/usr/bin/redis-server}
KEYS=${KEYS:-1000000}
WORK=$(mktemp -d /tmp/durbench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# start BIN DIR PORT [extra args...] -> sets SPID
start() {
  local bin=$1 dir=$2 port=$3; shift 3
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --enable-debug-command yes "$@" >"$dir/log.txt" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
}
# wait_pong PORT: waits (max 120 s) until PING answers PONG.
wait_pong() {
  local port=$1 deadline=$(( $(now_ms) + 120000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ] && return 0
    sleep 0.005
  done
  return 1
}
stop() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1; wait "$2" 2>/dev/null; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== durability_bench: $MAGPIE vs $REDIS, $KEYS keys, $(nproc) CPUs, $(date -u +%FT%TZ)"

# 1. SAVE time ---------------------------------------------------------------
for name in redis magpie; do
  bin=$REDIS; [ $name = magpie ] && bin=$MAGPIE
  d=$WORK/save-$name; mkdir -p "$d"; port=$(free_port)
  start "$bin" "$d" "$port" --save "" --appendonly no
  wait_pong "$port" || { echo "$name did not start"; exit 1; }
  redis-cli -p "$port" debug populate "$KEYS" >/dev/null
  t0=$(now_ms); redis-cli -p "$port" save >/dev/null; t1=$(now_ms)
  size=$(stat -c %s "$d/dump.rdb")
  echo "SAVE $KEYS keys: $name $((t1 - t0)) ms, dump.rdb $size bytes"
  stop "$port" "$SPID"
done
echo -n "redis-check-rdb on Magpie's file: "
redis-check-rdb "$WORK/save-magpie/dump.rdb" 2>&1 | grep -E "keys read|RDB looks OK|WARNING|error" | tr '\n' ' '; echo

# 2. Start-up from the same file ----------------------------------------------
declare -A LOAD
for round in 1 2 3; do
  for name in redis magpie; do
    bin=$REDIS; [ $name = magpie ] && bin=$MAGPIE
    d=$WORK/load-$name-$round; mkdir -p "$d"; cp "$WORK/save-redis/dump.rdb" "$d/"
    port=$(free_port)
    t0=$(now_ms); start "$bin" "$d" "$port" --save "" --appendonly no
    wait_pong "$port" || { echo "$name did not start"; exit 1; }
    t1=$(now_ms)
    n=$(redis-cli -p "$port" dbsize)
    [ "$n" = "$KEYS" ] || echo "warning: $name loaded $n keys"
    LOAD[$name]+="$((t1 - t0)) "
    stop "$port" "$SPID"
  done
done
for name in redis magpie; do
  m=$(echo "${LOAD[$name]}" | tr ' ' '\n' | grep . | median)
  echo "start-up from redis's $KEYS-key RDB (start -> PONG): $name median ${m} ms (runs: ${LOAD[$name]})"
done

# 3. Peak memory during BGSAVE under writes ------------------------------------
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/bgsave_memory.py" "$MAGPIE" "$REDIS" 2>&1 | sed 's/^/bgsave memory: /'

# 4. SET throughput with appendonly yes everysec ------------------------------
declare -A RPS
for round in 1 2 3; do
  for name in redis magpie; do
    bin=$REDIS; [ $name = magpie ] && bin=$MAGPIE
    d=$WORK/aof-$name-$round; mkdir -p "$d"; port=$(free_port)
    start "$bin" "$d" "$port" --save "" --appendonly yes --appendfsync everysec
    wait_pong "$port" || { echo "$name did not start"; exit 1; }
    r=$(redis-benchmark -p "$port" -t set -n 400000 -r 1000000 -d 16 -c 50 -P 16 -q 2>/dev/null \
        | tr '\r' '\n' | grep -E '^SET: .*requests per second' | tail -1 | awk '{print $2}')
    RPS[$name]+="${r%.*} "
    stop "$port" "$SPID"
  done
done
for name in redis magpie; do
  m=$(echo "${RPS[$name]}" | tr ' ' '\n' | grep . | median)
  echo "SET with appendonly yes everysec (-c 50 -P 16 -d 16): $name median ${m} req/s (runs: ${RPS[$name]})"
done
