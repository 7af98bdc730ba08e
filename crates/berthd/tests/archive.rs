//! `/containers/{id}/archive` against berthd through independent clients:
//! docker-py's `put_archive`/`get_archive` (running and created
//! containers, a running container's volume, Docker's errors), and the
//! raw API: the stat header, a symlink out of the root, and no mount left
//! behind by operations on a stopped container.

mod common;

use common::Daemon;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn docker_py_put_and_get_archive() {
    let d = Daemon::start();
    d.docker_py("docker_py_archive.py");
    d.finish();
}

/// A tar made by the system's `tar` of `names` in `dir`.
fn tar_of(dir: &std::path::Path, names: &[&str]) -> Vec<u8> {
    let o = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg("-")
        .args(names)
        .output()
        .expect("tar");
    assert!(o.status.success(), "tar: {o:?}");
    o.stdout
}

/// The stat header as dockerd encodes it; paths resolved inside the
/// container; a created container's overlay mounted only for the calls.
#[test]
fn archive_api_stat_symlinks_and_no_mount_left() {
    let d = Daemon::start();
    d.load_busybox();
    let id = d
        .ok(&["create", "--network", "none", "busybox", "true"])
        .trim()
        .to_string();
    let tmp = berth_testutil::tempdir();
    // symlinks pointing out of the root, put there with an archive
    std::os::unix::fs::symlink("../../../../../etc/shadow", tmp.path().join("esc")).expect("ln");
    std::os::unix::fs::symlink("/etc", tmp.path().join("hostetc")).expect("ln");
    let body = tar_of(tmp.path(), &["esc", "hostetc"]);
    let (st, _, out) = d.http("PUT", &format!("/containers/{id}/archive?path=/tmp"), &body);
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&out));
    let (st, headers, _) = d.http(
        "HEAD",
        &format!("/containers/{id}/archive?path=/tmp/esc"),
        b"",
    );
    assert_eq!(st, 200);
    let line = headers
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-docker-container-path-stat:")
        })
        .expect("stat header");
    let b64 = line.split_once(':').expect("colon").1.trim().to_string();
    let mut dec = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64");
    dec.stdin
        .take()
        .expect("stdin")
        .write_all(b64.as_bytes())
        .expect("write");
    let json = dec.wait_with_output().expect("base64").stdout;
    let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(v["name"], "esc");
    assert_eq!(
        v["linkTarget"], "/etc/shadow",
        "resolved inside the root: {v}"
    );
    assert_eq!(v["mode"].as_u64(), Some((1 << 27) | 0o777), "{v}");
    // through the link: the container's /etc, never the host's
    let o = d.docker(&["cp", &format!("{id}:/tmp/hostetc/"), "-"]);
    assert!(o.status.success(), "{o:?}");
    let x = tempfile::tempdir_in(tmp.path()).expect("dir");
    let mut t = Command::new("tar")
        .arg("-C")
        .arg(x.path())
        .arg("-xf")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .expect("tar x");
    t.stdin
        .take()
        .expect("stdin")
        .write_all(&o.stdout)
        .expect("write");
    assert!(t.wait().expect("tar").success());
    let theirs = std::fs::read_to_string(x.path().join("hostetc/passwd")).expect("passwd");
    let host = std::fs::read_to_string("/etc/passwd").expect("host passwd");
    assert_ne!(theirs, host, "the host's /etc/passwd came out");
    assert!(theirs.starts_with("root:x:0:0:"), "{theirs}");
    // writing through the link lands in the container
    let marker = format!("berth-archive-{}", std::process::id());
    std::fs::write(tmp.path().join(&marker), "x\n").expect("write");
    let body = tar_of(tmp.path(), &[&marker]);
    let (st, _, out) = d.http(
        "PUT",
        &format!("/containers/{id}/archive?path=/tmp/hostetc"),
        &body,
    );
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&out));
    assert!(
        !std::path::Path::new("/etc").join(&marker).exists(),
        "wrote the host's /etc"
    );
    let (st, _, _) = d.http(
        "HEAD",
        &format!("/containers/{id}/archive?path=/etc/{marker}"),
        b"",
    );
    assert_eq!(st, 200, "not in the container's /etc");
    // nothing of the container is mounted after the calls
    assert!(
        berth_testutil::mounts_containing(&id).is_empty(),
        "{:?}",
        berth_testutil::mounts_containing(&id)
    );
    // empty path: dockerd's words
    let (st, _, out) = d.http("GET", &format!("/containers/{id}/archive"), b"");
    assert_eq!(st, 400);
    assert!(String::from_utf8_lossy(&out).contains("bad parameter: pathcannot be empty"));
    d.ok(&["rm", &id]);
    // --read-only: only volumes take files, and not read-only ones
    let ro = d
        .ok(&[
            "run",
            "-d",
            "--read-only",
            "--network",
            "none",
            "-v",
            "arch-rw:/data",
            "-v",
            "arch-ro:/ro:ro",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let body = tar_of(tmp.path(), &[&marker]);
    for (path, want, msg) in [
        ("/tmp", 400, "container rootfs is marked read-only"),
        ("/ro", 500, "mounted volume is marked read-only"),
        ("/data", 200, ""),
    ] {
        let (st, _, out) = d.http(
            "PUT",
            &format!("/containers/{ro}/archive?path={path}"),
            &body,
        );
        let out = String::from_utf8_lossy(&out);
        assert_eq!(st, want, "{path}: {out}");
        assert!(out.contains(msg), "{path}: {out}");
    }
    assert_eq!(d.ok(&["exec", &ro, "cat", &format!("/data/{marker}")]), "x");
    d.ok(&["rm", "-f", &ro]);
    // a stopped container's volume: the volume's content, not the overlay's
    let st_id = d
        .ok(&[
            "create",
            "--network",
            "none",
            "-v",
            "arch-rw:/data",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    let (st, _, _) = d.http(
        "HEAD",
        &format!("/containers/{st_id}/archive?path=/data/{marker}"),
        b"",
    );
    assert_eq!(
        st, 200,
        "the volume's file is not seen in the stopped container"
    );
    std::fs::write(tmp.path().join("second"), "2\n").expect("write");
    let body = tar_of(tmp.path(), &["second"]);
    let (st, _, out) = d.http(
        "PUT",
        &format!("/containers/{st_id}/archive?path=/data"),
        &body,
    );
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&out));
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "arch-rw:/v",
            "busybox",
            "cat",
            "/v/second"
        ]),
        "2"
    );
    assert!(
        berth_testutil::mounts_containing(&st_id).is_empty()
            && berth_testutil::mounts_containing("arch-rw").is_empty(),
        "a mount is left"
    );
    d.ok(&["rm", &st_id]);
    d.ok(&["volume", "rm", "arch-rw", "arch-ro"]);
    d.finish();
}
