#!/usr/bin/env bash
# What networking adds to a container start and stop on the default bridge:
# NetworkController::connect (veth created inside the sandbox, address,
# route, lease recorded) and ::disconnect (lease released, veth deletion
# handed to a background thread), plus publish/unpublish of one port (one
# nft transaction each). Sandboxes are made with `ip netns add` before each
# clock starts (the runtime creates the container's namespace anyway).
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
