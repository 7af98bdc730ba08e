//! `docker export` of berthd against Debian's dockerd for the same images
//! and the same container histories: the tar members (name, type, mode,
//! owner, size of files, link target; a directory's trailing `/` aside)
//! are the same, dockerd's init layer
//! (`/.dockerenv`, `/dev/console`, `/etc/hosts` ...) included, for a
//! created, an exited (with changes) and a running container; nothing is
//! left mounted by berthd's exports.

mod common;

use common::Daemon;
use std::collections::BTreeSet;

/// One tar member as compared: everything but times.
fn members(tar_bytes: &[u8]) -> BTreeSet<String> {
    let mut a = tar::Archive::new(tar_bytes);
    let mut out = BTreeSet::new();
    for e in a.entries().expect("tar entries") {
        let e = e.expect("tar entry");
        let h = e.header();
        // dockerd (Go's archive/tar) writes directories as `name/`; the
        // tar crate's writer drops the slash: the names are compared
        // without it (the entry type says it is a directory)
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let path = raw.trim_end_matches('/').to_string();
        let kind = h.entry_type();
        let size = if kind.is_file() {
            h.size().unwrap_or(0)
        } else {
            0
        };
        let link = e
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dev = if kind.is_character_special() || kind.is_block_special() {
            format!(
                "{}:{}",
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0)
            )
        } else {
            String::new()
        };
        out.insert(format!(
            "{path} {:?} {:o} {}:{} {size} {link} {dev}",
            kind,
            h.mode().unwrap_or(0) & 0o7777,
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0),
        ));
    }
    out
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let r = d.docker(args);
    assert_eq!(r.code, 0, "{} docker {args:?}: {r:?}\n{}", d.kind, d.log());
    r.out.trim().to_string()
}

fn export(d: &Daemon, name: &str) -> BTreeSet<String> {
    let f = d.dir().join(format!("{name}.tar"));
    ok(d, &["export", "-o", f.to_str().expect("utf8"), name]);
    let bytes = std::fs::read(&f).expect("read tar");
    std::fs::remove_file(&f).expect("rm tar");
    members(&bytes)
}

/// The exports of one daemon: (what, members).
fn exports(d: &Daemon, debian: bool) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    ok(d, &["create", "--name", "ex-created", "busybox"]);
    out.push(("created".into(), export(d, "ex-created")));
    ok(
        d,
        &[
            "run",
            "--name",
            "ex-exited",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo x > /etc/hosts.new; rm /bin/ls; mkdir -p /newd/sub; \
             chmod 700 /newd; echo h > /etc/hostname; rm -rf /usr",
        ],
    );
    out.push(("exited".into(), export(d, "ex-exited")));
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "ex-running",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(d, &["exec", "ex-running", "sh", "-c", "echo r > /root/r"]);
    out.push(("running".into(), export(d, "ex-running")));
    ok(d, &["rm", "-f", "ex-running", "ex-exited", "ex-created"]);
    if debian {
        let fx = berth_testutil::fixture("debian-docker.tar");
        let img = ok(d, &["load", "-q", "-i", fx.to_str().expect("utf8")]);
        let img = img.trim_start_matches("Loaded image: ").to_string();
        ok(d, &["create", "--name", "ex-debian", &img]);
        out.push(("debian created".into(), export(d, "ex-debian")));
        ok(d, &["rm", "ex-debian"]);
    }
    out
}

#[test]
fn export_members_as_dockerd() {
    let debian = berth_testutil::fixture("debian-docker.tar").is_file();
    let b = Daemon::start_kind("berthd");
    let mounts_before = berth_testutil::mounts_containing(&b.dir().to_string_lossy()).len();
    let got = exports(&b, debian);
    assert_eq!(
        berth_testutil::mounts_containing(&b.dir().to_string_lossy()).len(),
        mounts_before,
        "an export left a mount"
    );
    let d = Daemon::start_kind("dockerd");
    let want = exports(&d, debian);
    for ((what, g), (_, w)) in got.iter().zip(want.iter()) {
        let only_b: Vec<_> = g.difference(w).collect();
        let only_d: Vec<_> = w.difference(g).collect();
        assert!(
            only_b.is_empty() && only_d.is_empty(),
            "{what}: only in berthd's export {only_b:#?}\nonly in dockerd's {only_d:#?}"
        );
    }
    for (what, g) in &got {
        assert!(
            g.iter().any(|m| m.starts_with(".dockerenv ")),
            "{what}: no .dockerenv"
        );
    }
    assert_eq!(got.len(), want.len());
}
