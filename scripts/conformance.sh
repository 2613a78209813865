#!/usr/bin/env bash
# Runs Redis 7.0.15's own test suite (via ../shared/tools/conformance) on
# groups of units and fails if a group's score drops below its floor.
#
#   scripts/conformance.sh                 # every group in FLOORS below
#   scripts/conformance.sh core-external   # one group
#
# A floor is set just under the score reached when the units' issue was
# resolved, so no later change silently loses conformance.
set -uo pipefail
cd "$(dirname "$0")/.."

TOOL="${CONFORMANCE_TOOL:-../shared/tools/conformance}"
BIN="${MAGPIE_BIN:-$(pwd)/target/release/magpie-server}"

# group | mode (external|spawn) | floor % | units
FLOORS=(
  "core-external|external|98|type/string,type/incr,keyspace,scan,expire,protocol,quit,info-command,introspection,introspection-2,pause"
  "core-spawn|spawn|94|auth,info,networking,shutdown,obuf-limits"
  "types-external|external|98|type/hash,type/list,type/list-2,type/list-3,type/set,type/zset,type/stream,type/stream-cgroups,sort,hyperloglog,bitops,bitfield,geo"
  "tx-spawn|spawn|98|pubsub,pubsubshard,multi,scripting,functions,tracking"
  "durability-spawn|spawn|96|integration/rdb,integration/aof,integration/aof-multi-part,integration/convert-zipmap-hash-on-load,integration/convert-ziplist-hash-on-load,integration/convert-ziplist-zset-on-load,unit/aofrw,unit/shutdown,integration/shutdown,integration/logging"
)

if [ ! -x "$TOOL" ]; then
    echo "conformance tool not found at $TOOL"; exit 1
fi
[ -x "$BIN" ] || cargo build --release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

status=0
for entry in "${FLOORS[@]}"; do
    IFS='|' read -r name mode floor units <<<"$entry"
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    out="$(mktemp -d -t conf-$name.XXXXXX)"
    echo "== conformance $name ($mode): $units"
    if [ "$mode" = external ]; then
        port="$(free_port)"
        "$BIN" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes --dir "$out" >"$out/server.log" 2>&1 &
        pid=$!
        for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
        timeout 1500 "$TOOL" 127.0.0.1 "$port" --units "$units" --timeout 300 --out "$out/run" >"$out/result.txt" 2>&1
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    else
        timeout 1500 "$TOOL" --binary "$BIN" --units "$units" --timeout 300 --out "$out/run" >"$out/result.txt" 2>&1
    fi
    grep -E '^(unit|integration)/|passed, .* failed|score vs' "$out/result.txt" | sed 's/^/  /'
    score="$(grep -oE 'score vs redis 7.0.15: [0-9.]+' "$out/result.txt" | grep -oE '[0-9.]+$' | tail -1)"
    if [ -z "$score" ]; then
        echo "  $name: no score (see $out/result.txt)"; status=1; continue
    fi
    if awk -v s="$score" -v f="$floor" 'BEGIN { exit !(s + 0 < f + 0) }'; then
        echo "  $name: score $score% is below the floor $floor%"; status=1
    else
        echo "  $name: score $score% (floor $floor%)"
    fi
done
exit $status
