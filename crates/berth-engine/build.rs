//! Build facts for `GET /version` (dockerd's GitCommit, GoVersion and
//! BuildTime): the source revision, the Rust compiler, the build time.
//! Each falls back to an empty value when its tool is missing (a build
//! from a tarball without git).

use std::process::Command;

fn out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let commit = out("git", &["-C", root, "rev-parse", "--short=7", "HEAD"]);
    let git_dir = out("git", &["-C", root, "rev-parse", "--absolute-git-dir"]);
    if !git_dir.is_empty() {
        // A new commit moves the branch ref (or packed-refs).
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/packed-refs");
        let head = std::fs::read_to_string(format!("{git_dir}/HEAD")).unwrap_or_default();
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed={git_dir}/{r}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // "rustc 1.91.0 (f8297e351 2025-10-28)" -> "rust1.91.0", in the shape
    // of Go's "go1.23.6".
    let rust = out(&rustc, &["--version"])
        .split_whitespace()
        .nth(1)
        .map(|v| format!("rust{v}"))
        .unwrap_or_default();
    // dockerd's BuildTime shape: 2025-02-19T10:52:47.000000000+00:00.
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    let time = match &epoch {
        Some(e) => out(
            "date",
            &[
                "-u",
                "-d",
                &format!("@{e}"),
                "+%Y-%m-%dT%H:%M:%S.000000000+00:00",
            ],
        ),
        None => out("date", &["-u", "+%Y-%m-%dT%H:%M:%S.000000000+00:00"]),
    };
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rustc-env=BERTH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=BERTH_RUST_VERSION={rust}");
    println!("cargo:rustc-env=BERTH_BUILD_TIME={time}");
}
