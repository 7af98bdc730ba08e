//! Helpers for Berth's integration tests, which run as root on real
//! namespaces, mounts and cgroups.
//!
//! Fixtures come from `../shared/fixtures/make-images.sh` (run by
//! `scripts/test.sh` before the tests); [`fixtures_dir`] finds them.
//! The leak checks read the kernel's own tables so a test can assert that
//! nothing it made outlives it. [`oci_fixture`] and [`docker_archive`]
//! read the fixture images' digests and sizes, which change with every
//! fixture build, so tests never hardcode them.

mod images;

pub use images::{docker_archive, oci_fixture, short_id, Descriptor, DockerArchive, OciFixture};

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture directory: `$BERTH_FIXTURES`, else `/var/tmp/berth-fixtures`.
///
/// Panics with the command to run when `busybox-rootfs.tar` is not there,
/// so a missing fixture is a loud failure, never a silent skip.
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var_os("BERTH_FIXTURES").unwrap_or_else(|| "/var/tmp/berth-fixtures".into()),
    );
    assert!(
        dir.join("busybox-rootfs.tar").is_file(),
        "fixtures missing in {}: run ../shared/fixtures/make-images.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Path of one fixture file, e.g. `fixture("busybox-docker.tar")`.
/// Panics when it does not exist.
pub fn fixture(name: &str) -> PathBuf {
    let p = fixtures_dir().join(name);
    assert!(
        p.exists(),
        "fixture {} missing: run make-images.sh (with --debian for debian-*)",
        p.display()
    );
    p
}

/// Panics unless the test runs as root: these tests exist to exercise real
/// kernel objects and must not pass vacuously.
pub fn require_root() {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "this test needs root (real namespaces, mounts, cgroups)"
    );
}

/// A fresh temporary directory under `/var/tmp` (a real disk filesystem,
/// so overlayfs works on it, unlike tmpfs-on-tmpfs corner cases), removed
/// when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-test-")
        .tempdir_in("/var/tmp")
        .expect("create temp dir in /var/tmp")
}

/// Unpacks the busybox rootfs fixture into `dir` (created if missing) with
/// the system tar, so the tree is made by a tool Berth did not write.
pub fn unpack_busybox_rootfs(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create rootfs dir");
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-xf")
        .arg(fixture("busybox-rootfs.tar"))
        .status()
        .expect("run tar");
    assert!(st.success(), "tar -xf busybox-rootfs.tar failed");
}

/// Mount points (field 5 of `/proc/self/mountinfo`) that contain `needle`.
/// Use with a test's unique temp path to assert no mount leaked.
pub fn mounts_containing(needle: &str) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Cgroup directories anywhere under `/sys/fs/cgroup` whose path contains
/// `needle` (every v1 hierarchy and the v2 one).
pub fn cgroups_containing(needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 8 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if p.to_string_lossy().contains(needle) {
                    out.push(p.clone());
                }
                walk(&p, needle, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), needle, 0, &mut out);
    out
}

/// PIDs of live processes whose command line contains `needle`.
pub fn processes_containing(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// Network interfaces on the host whose name contains `needle`.
pub fn links_containing(needle: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(needle))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds (or freshens) every binary of the workspace into `bin_dir`'s
/// profile, once per test process, and returns `bin_dir`.
///
/// `bin_dir` is `target/<profile>` (the directory holding the test's own
/// `CARGO_BIN_EXE_*`). `cargo test -p X` builds only X's binaries, so tests
/// that start another package's binary (berthd, berth-monitor,
/// berth-registry) call this. It always runs the same command,
/// `cargo build --workspace --bins`, which scripts/test.sh also runs before
/// the tests: one feature set for every caller, so a test never recompiles
/// dependencies a differently-scoped `-p` build would select features for.
///
/// Panics when cargo fails.
pub fn build_workspace_bins(bin_dir: &Path) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = std::process::Command::new(cargo);
        c.args(["build", "-q", "--workspace", "--bins"]);
        if bin_dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        let st = c.status().expect("run cargo build");
        assert!(st.success(), "cargo build --workspace --bins failed");
    });
    bin_dir.to_path_buf()
}
