#!/usr/bin/env bash
# Builds the release binary and runs the server (default 127.0.0.1:6379).
# Arguments are passed to magpie-server like to redis-server, e.g.
#   scripts/run.sh --port 7000 --enable-debug-command yes
#   scripts/run.sh /path/to/redis.conf      (config file: no defaults added)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
bin=target/release/magpie-server

if [ "$#" -gt 0 ] && { [ "${1#-}" = "$1" ] || [ "$1" = "-v" ] || [ "$1" = "--version" ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
    # a config file (or --version/--help) comes first: pass everything through
    exec "$bin" "$@"
fi
# later options override earlier ones, so user arguments win over the defaults
exec "$bin" --bind 127.0.0.1 --port 6379 "$@"
