#!/usr/bin/env bash
# CLI benchmark: the `berth` CLI against the `docker` CLI, both talking to
# the SAME daemon, so the difference is the client's own cost (start-up,
# request path, round trips).
#
# Usage: bench/cli.sh [--daemon berthd|dockerd] [--runs N] [--bin DIR]
#   --daemon  which daemon serves both CLIs (default: berthd if DIR/berthd
#             exists, else dockerd from Debian's docker.io)
#   --runs    hyperfine runs per command (default 30)
#   --bin     folder with release binaries (default target/release; berth
#             is built there with `cargo build --release -p berth`)
#
# Prints a markdown table (case, berth, docker, berth/docker) and leaves
# hyperfine's JSON in $BENCH_OUT (default /tmp/berth-cli-bench).
set -uo pipefail
cd "$(dirname "$0")/.."
DAEMON="" RUNS=30 BIN="target/release"
while (($#)); do
  case "$1" in
    --daemon) DAEMON="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
FIX="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
OUT="${BENCH_OUT:-/tmp/berth-cli-bench}"
mkdir -p "$OUT"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine jq >/dev/null; }
command -v dockerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
if [[ "$BIN" == "target/release" ]]; then cargo build --release -q -p berth || exit 1; fi
BIN="$(realpath "$BIN")"
[[ -z "$DAEMON" ]] && { [[ -x "$BIN/berthd" ]] && DAEMON=berthd || DAEMON=dockerd; }

WORK="$(mktemp -d /var/tmp/berth-cli-bench.XXXXXX)"
# berthd binds per-container sockets under its exec root: keep it short
EXEC="$(mktemp -d /run/bcXXXXXX)"
SOCK="$WORK/d.sock"
DPID=""
cleanup() {
  [[ -n "$DPID" ]] && kill "$DPID" 2>/dev/null && for _ in $(seq 200); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
  [[ -n "$DPID" ]] && kill -9 "$DPID" 2>/dev/null
  # berthd's per-container monitors outlive the daemon by design: end ours
  for p in $(pgrep -f -- "$EXEC/|$WORK/"); do kill -9 "$p" 2>/dev/null; done
  grep -E " ($WORK|$EXEC)/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$WORK" "$EXEC"
}
trap cleanup EXIT
if [[ "$DAEMON" == berthd ]]; then
  "$BIN/berthd" --data-root "$WORK/root" --exec-root "$EXEC" -H "unix://$SOCK" >"$WORK/log" 2>&1 &
else
  dockerd --data-root "$WORK/root" --exec-root "$EXEC" --pidfile "$WORK/pid" -H "unix://$SOCK" \
    --bridge none --iptables=false >"$WORK/log" 2>&1 &
fi
DPID=$!
disown "$DPID"
for _ in $(seq 300); do docker -H "unix://$SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
docker -H "unix://$SOCK" version >/dev/null 2>&1 || { echo "$DAEMON did not start:"; tail "$WORK/log"; exit 1; }
docker -H "unix://$SOCK" load -q -i "$FIX/busybox-docker.tar" >/dev/null || exit 1
timeout 30 docker -H "unix://$SOCK" run -d --name bench-idle --network none busybox sleep 3600 >/dev/null

B="$BIN/berth -H unix://$SOCK"
D="docker -H unix://$SOCK"
ROWS=()
case_() { # name args
  local name="$1" args="$2"
  # one bounded try of each first: a hanging or failing command is reported, not timed
  if ! timeout -s KILL 30 $B $args >/dev/null 2>&1; then ROWS+=("| $args | fails or hangs | | n/a |"); return; fi
  if ! timeout -s KILL 30 $D $args >/dev/null 2>&1; then ROWS+=("| $args | | docker fails or hangs | n/a |"); return; fi
  hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/$name-berth.json" "$B $args" >/dev/null 2>&1
  hyperfine -N -w 3 -r "$RUNS" --export-json "$OUT/$name-docker.json" "$D $args" >/dev/null 2>&1
  local b d
  b=$(jq '.results[0].mean*1000' "$OUT/$name-berth.json" 2>/dev/null)
  d=$(jq '.results[0].mean*1000' "$OUT/$name-docker.json" 2>/dev/null)
  if [[ -n "$b" && -n "$d" ]]; then
    ROWS+=("| $args | $(printf '%.1f ms' "$b") | $(printf '%.1f ms' "$d") | $(echo "$b $d" | awk '{printf "%.3f", $1/$2}') |")
  else
    ROWS+=("| $args | ${b:-failed} | ${d:-failed} | n/a |")
  fi
}
case_ run-none "run --rm --network none busybox true"
case_ ps "ps -a"
case_ images "images"
case_ inspect "inspect bench-idle"
case_ exec "exec bench-idle true"
case_ version "version --format {{.Server.Version}}"

echo "CLI benchmark against $DAEMON ($RUNS runs each; same daemon for both CLIs)"
echo "| command | berth | docker | berth/docker |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
rss=$( { /usr/bin/time -f %M $B ps -a >/dev/null; } 2>&1 | tail -1)
drss=$( { /usr/bin/time -f %M $D ps -a >/dev/null; } 2>&1 | tail -1)
[[ "$rss" =~ ^[0-9]+$ ]] && echo "max RSS of 'ps -a': berth ${rss} kB, docker ${drss} kB"
