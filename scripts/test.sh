#!/usr/bin/env bash
# Installs the test dependencies, builds the release binary and runs the whole
# test suite (unit + integration, differential against redis-server).
# Extra arguments are passed to `cargo test` (e.g. `scripts/test.sh --test diff_keys`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo build --release"
cargo build --release

echo "== cargo test --release"
log="$(mktemp -t magpie-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
set +e
RUST_BACKTRACE="${RUST_BACKTRACE:-0}" cargo test --release --no-fail-fast "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# Summary over all test binaries.
echo
echo "== summary"
if ! grep -qE '^test result:' "$log"; then
    echo "cargo test ran no test binary (exit $rc): see the compile errors above"
    exit $(( rc == 0 ? 1 : rc ))
fi
grep -E '^test result:' "$log" || true
fails="$(grep -E '^    [A-Za-z0-9_:]+$' "$log" | sed 's/^ *//' | sort -u || true)"
if [ -n "$fails" ]; then
    echo "failing tests:"
    printf '  %s\n' $fails
fi
awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed/)  p += $(i-1)
            if ($(i) ~ /^failed/)  f += $(i-1)
            if ($(i) ~ /^ignored/) s += $(i-1)
        }
     }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$rc"
