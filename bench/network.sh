#!/usr/bin/env bash
# What networking adds to a container start and stop on the default bridge:
# NetworkController::connect (veth created inside the sandbox, address,
# route, lease recorded) and ::disconnect (lease released, veth deletion
# handed to a background thread), plus publish/unpublish of one port (one
# nft transaction each). Sandboxes are made with `ip netns add` before each
# clock starts (the runtime creates the container's namespace anyway).
#
# Then the same through berthd against dockerd (see the section at the end).
#
# Usage: sudo bench/network.sh [ITERATIONS]   (default 200)
# Uses its own bridge bnbench0, subnet 10.199.0.0/22, nft tables
# berth-bench / berth-bench-nat, veth prefix bnb; removes them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "bench/network.sh: run as root (creates netns, bridges, veths, nft rules)" >&2
  exit 1
fi
N="${1:-200}"
cargo build --release -q -p berth-network --example endpoint_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples/endpoint_bench"
echo "berth-network endpoint timings, $N iterations, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" "$N"
# Leak check: nothing of the benchmark's own may remain.
left="$(ip -br link | awk '{print $1}' | grep -E '^(bnb|bnbench0)' || true)"
ns="$(ip netns list | grep -E '^bnbench' || true)"
tables="$(nft list tables | grep -E 'berth-bench' || true)"
if [[ -n "$left$ns$tables" ]]; then
  echo "bench/network.sh: leaked: $left $ns $tables" >&2
  exit 1
fi
echo "no veth, bridge, netns or nft table left"

# --- Through the daemon: `run --rm busybox true` on the default bridge ------
# ../shared/bench/compare.sh --only run-none,run-bridge against dockerd, with
# berthd given a bridge, subnets, nft tables and veth prefix of its own (a
# wrapper in a temporary BIN dir), so the figure is not disturbed by, and
# does not disturb, any other berthd on the host.
# Skip with BENCH_DAEMON=0; BENCH_RUNS (default 20) runs per command.
if [[ "${BENCH_DAEMON:-1}" == 1 ]]; then
  cargo build --release -q -p berthd -p berth -p berth-monitor -p berth-runc
  REL="$(realpath "${CARGO_TARGET_DIR:-target}/release")"
  WRAP="$(mktemp -d /tmp/berth-netbench.XXXXXX)"
  for b in berth berth-runc berth-monitor; do ln -s "$REL/$b" "$WRAP/$b"; done
  cat >"$WRAP/berthd" <<EOS
#!/bin/sh
exec "$REL/berthd" -b bnd0 --bip 10.198.0.1/16 --default-address-pool base=10.197.0.0/16,size=24 --nft-table berth-bnd --veth-prefix bnd "\$@"
EOS
  chmod +x "$WRAP/berthd"
  SHARED="${BERTH_SHARED:-$(cd .. && pwd)/shared}"
  echo "compare.sh --only run-none,run-bridge --runs ${BENCH_RUNS:-20}, load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$SHARED/bench/compare.sh" "$WRAP" --only run-none,run-bridge --runs "${BENCH_RUNS:-20}"
  sleep 1
  left="$(ip -br link | awk '{print $1}' | grep -E '^bnd' | grep -v '^bnd0$' || true)"
  ip link del bnd0 2>/dev/null || true
  nft delete table inet berth-bnd 2>/dev/null || true
  nft delete table ip berth-bnd-nat 2>/dev/null || true
  rm -rf "$WRAP"
  if [[ -n "$left" ]]; then
    echo "bench/network.sh: veths left after the daemon run: $left" >&2
    exit 1
  fi
  echo "daemon run: no veth left; bridge bnd0 and tables berth-bnd removed"
fi
