#!/usr/bin/env bash
# Runs Berth's whole test suite: installs the system packages the tests use,
# builds the fixture images with tools Berth did not write, then runs every
# unit and root integration test of the workspace.
#
# Usage: sudo scripts/test.sh [extra cargo test args]
# Needs root (tests create real namespaces, mounts, cgroups and veths).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SHARED="${BERTH_SHARED:-$ROOT/../shared}"

if [[ $(id -u) -ne 0 ]]; then
  echo "scripts/test.sh: run as root (the tests create real namespaces, mounts and cgroups)" >&2
  exit 1
fi

[[ -x "$SHARED/fixtures/make-images.sh" ]] || {
  echo "scripts/test.sh: $SHARED/fixtures/make-images.sh not found: set BERTH_SHARED to the shared/ directory (the one holding fixtures/make-images.sh)" >&2
  exit 1
}

scripts/install-deps.sh

export BERTH_FIXTURES="${BERTH_FIXTURES:-/var/tmp/berth-fixtures}"
"$SHARED/fixtures/make-images.sh" "$BERTH_FIXTURES" --debian >/dev/null

# A CI build starts from nothing: incremental caches would only take disk
# (they doubled a clean target dir). Say how much disk there is, so a full
# disk is seen for what it is.
export CARGO_INCREMENTAL=0
df -h "$ROOT" /var/tmp | sed 's/^/scripts\/test.sh: disk: /'

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Tests that start another package's binary (berthd, berth-monitor,
# berth-registry) run this same command once; building it here keeps that
# compile out of the tests' time bounds.
cargo build --workspace --bins --quiet
# Root integration tests share the machine's cgroups and mount table; two
# test threads keep a 2-core machine busy without starving the kernel work.
cargo test --workspace --no-fail-fast -- --test-threads=2 "$@"
