#!/usr/bin/env bash
# The main job, end to end on a fresh machine: build Berth, start berthd on a
# private socket and data root, load the real Debian image (built by
# ../shared/fixtures/make-images.sh with debootstrap, umoci and skopeo) and
# run a container from it, showing its output. Everything it starts is
# stopped and removed on exit.
#
# Usage: sudo scripts/demo.sh [COMMAND...]   (default: a short tour inside Debian)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SHARED="${BERTH_SHARED:-$ROOT/../shared}"
[[ $(id -u) -eq 0 ]] || { echo "scripts/demo.sh: run as root (containers need namespaces, mounts, cgroups)" >&2; exit 1; }
[[ -x "$SHARED/fixtures/make-images.sh" ]] || {
  echo "scripts/demo.sh: $SHARED/fixtures/make-images.sh not found: set BERTH_SHARED to the shared/ directory (the one holding fixtures/make-images.sh)" >&2
  exit 1
}

scripts/install-deps.sh
export BERTH_FIXTURES="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
echo "==> building fixture images (cached after the first run)"
"$SHARED/fixtures/make-images.sh" "$BERTH_FIXTURES" --debian >/dev/null
echo "==> building berth (release; the first build takes 5-15 minutes on 2 cores)"
cargo build --release -p berthd -p berth -p berth-monitor

WORK="$(mktemp -d /var/tmp/berth-demo.XXXXXX)"
SOCK="$WORK/berth.sock"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
# Its own bridge, subnet, nft tables and veth names, so the demo neither
# meets nor leaves behind those of a berthd already running on this host.
DEMO_BRIDGE=berthdemo0 DEMO_TABLE=berth-demo
cleanup() {
  set +e
  if [[ -n "${DPID:-}" ]]; then
    "$BIN/berth" -H "unix://$SOCK" rm -f demo >/dev/null 2>&1
    kill "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
  fi
  # berthd keeps its bridge and nft tables across restarts (as dockerd
  # keeps docker0); the demo's are its own, so they go.
  ip link del "$DEMO_BRIDGE" 2>/dev/null
  nft delete table inet "$DEMO_TABLE" 2>/dev/null
  nft delete table ip "$DEMO_TABLE-nat" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN/berthd" --data-root "$WORK/root" --exec-root "$WORK/exec" -H "unix://$SOCK" \
  -b "$DEMO_BRIDGE" --bip 172.31.250.1/24 --nft-table "$DEMO_TABLE" --veth-prefix bdm \
  >"$WORK/berthd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do [[ -S "$SOCK" ]] && break; sleep 0.05; done
[[ -S "$SOCK" ]] || { echo "berthd did not start:"; cat "$WORK/berthd.log"; exit 1; }
B=("$BIN/berth" -H "unix://$SOCK")

echo "==> berth load -i debian-docker.tar"
"${B[@]}" load -i "$BERTH_FIXTURES/debian-docker.tar"
"${B[@]}" images
if (($#)); then
  echo "==> berth run --rm debian $*"
  "${B[@]}" run --rm debian "$@"
else
  echo "==> berth run --rm --name demo debian bash -c '...'"
  "${B[@]}" run --rm --name demo -h demo debian bash -c \
    '. /etc/os-release; echo "hello from $PRETTY_NAME in container $(hostname), pid $$"; id; echo "address on the bridge: $(hostname -I)"; echo rootfs: $(ls /)'
fi
