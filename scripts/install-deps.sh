#!/usr/bin/env bash
# Installs the Debian packages Berth's build, tests and benchmarks use.
# Idempotent; a no-op when everything is there.
set -euo pipefail
PKGS=(runc skopeo umoci busybox-static hyperfine jq debootstrap iproute2 nftables pkg-config libseccomp-dev apache2-utils docker-registry docker.io tini python3-pip)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# docker-py, the independent client library berthd's e2e suite drives.
python3 -c 'import docker' 2>/dev/null || pip install -q --break-system-packages docker >/dev/null
