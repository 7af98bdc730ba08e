#!/usr/bin/env bash
# Load benchmark: Berth's image store loading the ~120 MB Debian
# docker-archive into a fresh data root, against `docker load` of the same
# file on a private dockerd (Debian's docker.io) on the same machine, both
# measured in one hyperfine run. Prints both means and the ratio
# docker/berth (the goal is >= 2).
#
# Usage: sudo bench/load.sh [--runs N] [--bin PATH]
#   --runs  hyperfine runs per command (default 5)
#   --bin   the berth-image binary (default: builds target/release/berth-image)
# Needs root (dockerd). Raw hyperfine JSON goes to $BENCH_OUT (default
# /tmp/berth-bench/load.json).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=5 BIN=""
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
FIX="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
OUT="${BENCH_OUT:-/tmp/berth-bench}"
mkdir -p "$OUT"
SHARED="${BERTH_SHARED:-$PWD/../shared}"
[[ -f "$FIX/debian-docker.tar" ]] || "$SHARED/fixtures/make-images.sh" "$FIX" --debian >/dev/null
for p in hyperfine jq; do
  command -v "$p" >/dev/null || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
command -v dockerd >/dev/null || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; }
if [[ -z "$BIN" ]]; then
  cargo build --release -q -p berth-image
  BIN="$PWD/target/release/berth-image"
fi

# Both data roots on the same disk (/var/tmp), like /var/lib in production.
WORK="$(mktemp -d /var/tmp/berth-load-bench.XXXXXX)"
DPID=""
cleanup() {
  [[ -n "$DPID" ]] && kill "$DPID" 2>/dev/null && for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
  [[ -n "$DPID" ]] && kill -9 "$DPID" 2>/dev/null
  umount -R "$WORK"/docker/root/* 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DSOCK="$WORK/docker/docker.sock"
mkdir -p "$WORK/docker"
dockerd --data-root "$WORK/docker/root" --exec-root "$WORK/docker/exec" \
  --pidfile "$WORK/docker/pid" -H "unix://$DSOCK" >"$WORK/docker/log" 2>&1 &
DPID=$!
for _ in $(seq 100); do [[ -S "$DSOCK" ]] && break; sleep 0.1; done
[[ -S "$DSOCK" ]] || { echo "dockerd did not start" >&2; tail "$WORK/docker/log" >&2; exit 1; }
D="docker -H unix://$DSOCK"
for _ in $(seq 50); do $D version >/dev/null 2>&1 && break; sleep 0.2; done

hyperfine -w 1 -r "$RUNS" --export-json "$OUT/load.json" \
  -n "docker load" --prepare "$D rmi -f debian:latest >/dev/null 2>&1 || true; sync" \
  "$D load -q -i $FIX/debian-docker.tar" \
  -n "berth-image load" --prepare "rm -rf $WORK/berth; sync" \
  "$BIN --data-root $WORK/berth load -q -i $FIX/debian-docker.tar"

d=$(jq '.results[0].mean' "$OUT/load.json")
b=$(jq '.results[1].mean' "$OUT/load.json")
echo
echo "| case | berth | docker | docker/berth |"
echo "|---|---|---|---|"
echo "| load 120 MB debian docker-archive | $(printf '%.3f s' "$b") | $(printf '%.3f s' "$d") | $(echo "$d $b" | awk '{printf "%.2fx", $1/$2}') |"
