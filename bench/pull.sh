#!/usr/bin/env bash
# `docker pull` of the Debian fixture image (debian-oci: one 50 MB gzip
# layer) from a local berth-registry on 127.0.0.1, through each berthd
# binary given and through Debian's dockerd (docker.io, private data root,
# exec root and socket, no bridge, no iptables). Every run starts every
# daemon on a fresh data root (unpacking into a root where the same tree
# was just deleted measures ext4's inode allocator, not the daemon), the
# order rotates between runs, and each pull must print `Pull complete`.
# Prints each run and the medians (wall time, and the daemon's CPU
# including its children: containerd and docker-untar for dockerd).
#
# Usage (root): bench/pull.sh RUNS BERTH_REGISTRY_BIN NAME=BERTHD_BIN...
#   e.g. bench/pull.sh 5 target/release/berth-registry before=/tmp/berthd-old after=target/release/berthd
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=$1; REG_BIN=$2; shift 2
declare -a NAMES BINS
for a in "$@"; do NAMES+=("${a%%=*}"); BINS+=("${a#*=}"); done
NAMES+=(dockerd)
FIX=${BERTH_FIXTURES:-/var/tmp/berth-fixtures}
WORK=$(mktemp -d /var/tmp/berth-pull-bench.XXXXXX)
EW=$(mktemp -d /tmp/bpb.XXXXXX) # short socket paths (sun_path is 108 bytes)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do [[ -n $p ]] && wait "$p" 2>/dev/null; done
  for d in "$WORK" "$EW"; do
    grep -o " $d[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
  done
  rm -rf "$WORK" "$EW"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$REG_BIN" serve --listen "127.0.0.1:$PORT" --root "$WORK/registry" 2>"$WORK/registry.log" &
PIDS+=($!)
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.05; done
IMG=127.0.0.1:$PORT/bench/debian:latest
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$FIX/debian-oci:latest" "docker://$IMG"
TICK=$(getconf CLK_TCK)
cpu() { # pid -> seconds of CPU of it, its reaped children and its live children
  local c k
  c=$(awk -v t="$TICK" '{printf "%.3f", ($14+$15+$16+$17)/t}' "/proc/$1/stat")
  for k in $(pgrep -P "$1" 2>/dev/null); do
    c=$(echo "$c + $(awk -v t="$TICK" '{printf "%.3f", ($14+$15)/t}' "/proc/$k/stat")" | bc)
  done
  echo "$c"
}
wait_sock() { for _ in $(seq 300); do [[ -S $1 ]] && docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
start() { # index run -> sets PID; socket $EW/<index>-<run>/s
  local i=$1 r=$2 d="$EW/$1-$2"
  mkdir -p "$d"
  if [[ ${NAMES[$i]} == dockerd ]]; then
    dockerd --data-root "$WORK/root-$i-$r" --exec-root "$d/x" --pidfile "$d/pid" -H "unix://$d/s" \
      --bridge none --iptables=false --ip6tables=false >>"$WORK/dockerd.log" 2>&1 &
  else
    "${BINS[$i]}" --data-root "$WORK/root-$i-$r" --exec-root "$d/x" --pidfile "$d/pid" -H "unix://$d/s" \
      >>"$WORK/berthd.log" 2>&1 &
  fi
  PID=$!; PIDS+=("$PID")
  wait_sock "$d/s" || { echo "${NAMES[$i]} did not start" >&2; exit 1; }
}
declare -A T C
echo "== docker pull $IMG, $RUNS runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
n=${#NAMES[@]}
for r in $(seq 1 "$RUNS"); do
  line="run $r:"
  for k in $(seq 0 $((n - 1))); do
    i=$(((k + r) % n))
    start "$i" "$r"
    sync
    c0=$(cpu "$PID"); t0=$(date +%s.%N)
    out=$(docker -H "unix://$EW/$i-$r/s" pull "$IMG")
    t1=$(date +%s.%N); c1=$(cpu "$PID")
    [[ $out == *"Pull complete"* ]] || { echo "${NAMES[$i]}: no Pull complete: $out" >&2; exit 1; }
    kill "$PID"; wait "$PID" 2>/dev/null || true
    t=$(echo "$t1 - $t0" | bc); c=$(echo "$c1 - $c0" | bc)
    T[$i]+="$t "; C[$i]+="$c "
    line+=$(printf ' %s %.2fs (CPU %.2fs)' "${NAMES[$i]}" "$t" "$c")
  done
  echo "$line"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for i in $(seq 0 $((n - 1))); do
  printf 'median %-8s %.2fs, CPU %.2fs\n' "${NAMES[$i]}" "$(echo "${T[$i]}" | median)" "$(echo "${C[$i]}" | median)"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
