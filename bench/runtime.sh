#!/usr/bin/env bash
# OCI runtime benchmark: `berth-runc run -b B id` against `runc run -b B id`
# on the same busybox bundle running /bin/true (terminal false), measured
# with hyperfine in one go, reported as a ratio (goal: <= 0.5).
#
# Usage: sudo bench/runtime.sh [--runs N] [--profile]
#   --runs N    hyperfine runs per command (default 50)
#   --profile   also print where the time goes: strace -c of one run of
#               each, and a perf profile (by DSO and top kernel paths) of
#               30 berth-runc runs, when perf is installed
# Env: BIN_DIR (default target/release; built if berth-runc is missing),
#      BERTH_FIXTURES (default /var/tmp/berth-fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=50 PROFILE=0
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --profile) PROFILE=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
BIN_DIR="${BIN_DIR:-target/release}"
if [[ ! -x "$BIN_DIR/berth-runc" ]]; then cargo build --release -p berth-runc >&2; fi
BERTH="$(realpath "$BIN_DIR/berth-runc")"
FIX="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
for t in hyperfine runc jq; do command -v "$t" >/dev/null || { echo "$t missing (scripts/install-deps.sh)" >&2; exit 1; }; done

WORK="$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bundle/rootfs"
tar -C "$WORK/bundle/rootfs" -xf "$FIX/busybox-rootfs.tar"
(cd "$WORK/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)
B="$WORK/bundle"

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; runc $(runc --version | head -1 | awk '{print $3}')"
hyperfine -N -w 5 -r "$RUNS" --export-json "$WORK/hf.json" \
  "runc --root $WORK/runc-root run -b $B bench-runc" \
  "$BERTH --root $WORK/berth-root run -b $B bench-berth" >/dev/null
jq -r '.results[] | "\(.command | split(" ")[0] | split("/")[-1])\tmean \(.mean*1000*100|floor/100) ms\tmedian \(.median*1000*100|floor/100) ms\tmin \(.min*1000*100|floor/100) ms\tuser \(.user*1000*100|floor/100) ms\tsys \(.system*1000*100|floor/100) ms"' "$WORK/hf.json"
jq -r '"ratio berth/runc: mean \(.results[1].mean/.results[0].mean*1000|floor/1000)  median \(.results[1].median/.results[0].median*1000|floor/1000)  min \(.results[1].min/.results[0].min*1000|floor/1000)  (goal <= 0.5)"' "$WORK/hf.json"

if ((PROFILE)); then
  echo; echo "== strace -c -f, one run each (syscall counts; times are inflated by ptrace)"
  for r in runc berth; do
    if [[ $r == runc ]]; then cmd=(runc --root "$WORK/runc-root" run -b "$B" prof-runc); else cmd=("$BERTH" --root "$WORK/berth-root" run -b "$B" prof-berth); fi
    strace -c -f -o "$WORK/strace-$r.txt" "${cmd[@]}" || true
    printf '%s: %s syscalls\n' "$r" "$(awk '/total/ {print $4}' "$WORK/strace-$r.txt")"
    head -14 "$WORK/strace-$r.txt" | tail -11
  done
  if command -v perf >/dev/null; then
    echo; echo "== perf: 30 berth-runc runs, share of samples by DSO and by kernel path"
    perf record -q -F 10000 -g -o "$WORK/perf.data" -- sh -c \
      "for i in \$(seq 30); do $BERTH --root $WORK/berth-root run -b $B perf-berth; done" 2>/dev/null || true
    perf report -i "$WORK/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8
    perf report -i "$WORK/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
      grep -E 'copy_net_ns|copy_process|exc_page_fault|__x64_sys_(mount|mkdir|rmdir|execve|execveat|openat|write)$|show_mountinfo|cgroup_attach|synchronize_rcu' | head -14
  fi
fi
