#!/usr/bin/env bash
# Idempotent install of what the tests and benchmarks need on a fresh Debian
# machine that only has the Rust toolchain:
#   redis-server, redis-cli, redis-benchmark  (reference server + tools)
#   tclsh                                      (Redis's own Tcl test suite)
#   python3                                    (../shared/tools/{conformance,bench})
# Does nothing (no apt-get update) when everything is already there.
set -euo pipefail

need=()
command -v redis-server    >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli       >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v tclsh           >/dev/null 2>&1 || need+=(tcl)
command -v python3         >/dev/null 2>&1 || need+=(python3)

if [ "${#need[@]}" -eq 0 ]; then
    echo "setup: redis-server, redis-cli, redis-benchmark, tclsh, python3 present"
    exit 0
fi

# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "setup: installing ${need[*]}"

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

for attempt in 1 2 3; do
    if $SUDO apt-get "${APT_OPTS[@]}" update -qq &&
       $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${need[@]}"; then
        break
    fi
    if [ "$attempt" = 3 ]; then
        echo "setup: apt-get install ${need[*]} failed" >&2
        exit 1
    fi
    echo "setup: apt-get failed (attempt $attempt), retrying in 10s" >&2
    sleep 10
done

for tool in redis-server redis-cli redis-benchmark tclsh python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool still missing" >&2; exit 1; }
done
echo "setup: done ($(redis-server --version | head -n1))"
