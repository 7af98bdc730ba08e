#!/usr/bin/env bash
# Load benchmark: Berth's image store loading the ~120 MB Debian
# docker-archive into a fresh data root, against `docker load` of the same
# file on a private dockerd (Debian's docker.io) on the same machine, both
# measured in one hyperfine run. Prints both means and the ratio
# docker/berth (the goal is >= 2).
#
# Usage: sudo bench/load.sh [--runs N] [--bin PATH] [--settle S]
#   --runs    hyperfine runs per command (default 3)
#   --bin     the berth-image binary (default: builds target/release/berth-image)
#   --settle  seconds to wait before each timed run, both sides (default 0)
# Needs root (dockerd). Raw hyperfine JSON goes to $BENCH_OUT (default
# /tmp/berth-bench/load.json).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=5 BIN="" SETTLE=0
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
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

# Every timed load goes into a fresh, empty data root on the same disk
# (/var/tmp), for both: Berth gets a new --data-root, dockerd is restarted
# on a new --data-root in the (untimed) prepare step. Old roots are deleted
# only at the end: a load right after deleting the previous run's 10k files
# measures ext4's inode allocator (recently_deleted() scans in
# ext4_create) more than the loader.
WORK="$(mktemp -d /var/tmp/berth-load-bench.XXXXXX)"
DSOCK="$WORK/docker.sock"
cleanup() {
  set +e
  if [[ -f "$WORK/dpid" ]]; then
    p=$(cat "$WORK/dpid"); kill "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  fi
  grep -o "$WORK[^ ]*" /proc/self/mountinfo | sort -r | xargs -r umount -l 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/restart-dockerd.sh" <<EOS
#!/usr/bin/env bash
# Stops the previous private dockerd and starts one on a fresh data root.
if [[ -f $WORK/dpid ]]; then
  p=\$(cat $WORK/dpid); kill "\$p" 2>/dev/null
  for _ in \$(seq 150); do kill -0 "\$p" 2>/dev/null || break; sleep 0.1; done
fi
n=\$(date +%s%N)
mkdir -p $WORK/d-\$n
dockerd --data-root $WORK/d-\$n/root --exec-root $WORK/d-\$n/exec --pidfile $WORK/d-\$n/pid \\
  --bridge=none --iptables=false --ip6tables=false -H unix://$DSOCK >$WORK/d-\$n/log 2>&1 </dev/null &
echo \$! >$WORK/dpid
for _ in \$(seq 200); do docker -H unix://$DSOCK version >/dev/null 2>&1 && break; sleep 0.1; done
docker -H unix://$DSOCK version >/dev/null 2>&1 || { echo "dockerd did not start" >&2; exit 1; }
sync; sleep $SETTLE
EOS
chmod +x "$WORK/restart-dockerd.sh"
D="docker -H unix://$DSOCK"

hyperfine -w 1 -r "$RUNS" --export-json "$OUT/load.json" \
  -n "docker load" --prepare "$WORK/restart-dockerd.sh" \
  "$D load -q -i $FIX/debian-docker.tar" \
  -n "berth-image load" --prepare "sync; sleep $SETTLE" \
  "$BIN --data-root $WORK/berth-\$(date +%s%N) load -q -i $FIX/debian-docker.tar"

d=$(jq '.results[0].mean' "$OUT/load.json")
b=$(jq '.results[1].mean' "$OUT/load.json")
echo
echo "| case | berth | docker | docker/berth |"
echo "|---|---|---|---|"
echo "| load 120 MB debian docker-archive | $(printf '%.3f s' "$b") | $(printf '%.3f s' "$d") | $(echo "$d $b" | awk '{printf "%.2fx", $1/$2}') |"
