#!/usr/bin/env bash
# Per-container engine memory: the private memory of the process an engine
# keeps per running container — berth-monitor (berthd) against
# containerd-shim-runc-v2 (dockerd + containerd) — for N idle busybox
# containers on each, both daemons private to this script.
#
# Usage: bench/monitor-memory.sh [--bin DIR] [-n N]
#   --bin  folder with release berthd, berth, berth-monitor (default target/release)
#   -n     containers per engine (default 10)
#
# The figure per process is Private_Dirty (smaps_rollup: pages only it
# holds, what a new container really costs) + VmPTE (its page tables).
# The container processes themselves (the same `sleep` on both) and kernel
# objects (cgroups, mounts) are not counted. Prints a markdown table.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=target/release N=10
while (($#)); do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    -n) N="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
FIX="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
BIN="$(realpath "$BIN")"
W="$(mktemp -d /var/tmp/bench-mem.XXXXXX)"
BE="$(mktemp -d /run/bmXXXXXX)" DE="$(mktemp -d /run/dmXXXXXX)"
BP="" DP=""
cleanup() {
  docker -H "unix://$W/b.sock" rm -f $(docker -H "unix://$W/b.sock" ps -aq 2>/dev/null) >/dev/null 2>&1
  docker -H "unix://$W/d.sock" rm -f $(docker -H "unix://$W/d.sock" ps -aq 2>/dev/null) >/dev/null 2>&1
  [[ -n "$BP" ]] && kill "$BP" 2>/dev/null
  [[ -n "$DP" ]] && kill "$DP" 2>/dev/null
  sleep 2
  for p in $(pgrep -f -- "$BE/|$DE/|$W/"); do kill -9 "$p" 2>/dev/null; done
  grep -E " ($W|$BE|$DE)/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$W" "$BE" "$DE"
}
trap cleanup EXIT
"$BIN/berthd" --data-root "$W/broot" --exec-root "$BE" -H "unix://$W/b.sock" -b none >"$W/blog" 2>&1 &
BP=$!
dockerd --data-root "$W/droot" --exec-root "$DE" --pidfile "$W/d.pid" -H "unix://$W/d.sock" \
  --bridge none --iptables=false >"$W/dlog" 2>&1 &
DP=$!
for s in b d; do
  for _ in $(seq 300); do docker -H "unix://$W/$s.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  docker -H "unix://$W/$s.sock" load -q -i "$FIX/busybox-docker.tar" >/dev/null || { echo "load into $s failed"; exit 1; }
  for _ in $(seq "$N"); do
    docker -H "unix://$W/$s.sock" run -d --network none busybox sleep 100000 >/dev/null || exit 1
  done
done
sleep 3 # let the monitors go quiet (they give memory back after 1 s idle)
mem() { # pids... -> "count private_kib pte_kib"
  local n=0 pd=0 pte=0 p
  for p in "$@"; do
    n=$((n + 1))
    pd=$((pd + $(awk '/^Private_Dirty/{print $2}' "/proc/$p/smaps_rollup")))
    pte=$((pte + $(awk '/^VmPTE/{print $2}' "/proc/$p/status")))
  done
  echo "$n $pd $pte"
}
read -r bn bpd bpte < <(mem $(pgrep -f "berth-monitor $BE/containers/"))
read -r dn dpd dpte < <(mem $(pgrep -f "containerd-shim.*$DE|containerd-shim-runc-v2 -namespace moby" | head -"$N"))
read -r _ zpd zpte < <(mem $(pgrep -f "berth-monitor --zygote $BE/"))
b=$(( (bpd + bpte) / bn )) d=$(( (dpd + dpte) / dn ))
echo "| per-container engine process ($N idle containers) | berth | docker | berth/docker |"
echo "|---|---|---|---|"
echo "| processes counted | $bn berth-monitor | $dn containerd-shim-runc-v2 | |"
echo "| private dirty + page tables, mean | $b KiB ($((bpd / bn)) + $((bpte / bn))) | $d KiB ($((dpd / dn)) + $((dpte / dn))) | $(awk -v a="$b" -v c="$d" 'BEGIN{printf "%.3f", a/c}') |"
echo "| once per daemon, not counted above | zygote $((zpd + zpte)) KiB | containerd, dockerd | |"
