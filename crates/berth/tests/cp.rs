//! `cp` (the Engine API's `/containers/{id}/archive`): the real docker CLI
//! and berth, each against dockerd and against berthd, with the same
//! expectations: files and directories both ways, `dir/.`, `-` (a tar on
//! stdout / stdin), a created (never started) container, a missing path,
//! symlinks and `..` that try to leave the container's root, and no mount
//! left behind by a copy into a stopped container. Needs root and
//! `dockerd`/`docker` (see tests/common).

mod common;

use common::Daemon;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

macro_rules! on_both_daemons {
    ($($name:ident),* $(,)?) => {
        mod dockerd {
            $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )*
        }
        mod berthd {
            $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )*
        }
    };
}

on_both_daemons!(cp_with_docker_and_berth);

/// A listing of the tree at `p`: one line per entry (relative path, type,
/// permission bits, and the content of a file or the target of a link),
/// sorted, plus which files share an inode.
fn tree(p: &Path) -> String {
    fn walk(base: &Path, p: &Path, out: &mut Vec<String>, inodes: &mut Vec<(u64, String)>) {
        let md = std::fs::symlink_metadata(p).expect("lstat");
        let rel = p.strip_prefix(base).expect("below").display().to_string();
        let rel = if rel.is_empty() { ".".into() } else { rel };
        let perm = md.mode() & 0o7777;
        if md.file_type().is_symlink() {
            let t = std::fs::read_link(p).expect("readlink");
            out.push(format!("{rel} link -> {}", t.display()));
        } else if md.is_dir() {
            out.push(format!("{rel} dir {perm:o}"));
            for e in std::fs::read_dir(p).expect("readdir") {
                walk(base, &e.expect("entry").path(), out, inodes);
            }
        } else {
            let data = std::fs::read(p).expect("read");
            out.push(format!(
                "{rel} file {perm:o} {:?}",
                String::from_utf8_lossy(&data)
            ));
            if md.nlink() > 1 {
                inodes.push((md.ino(), rel));
            }
        }
    }
    let mut out = Vec::new();
    let mut inodes = Vec::new();
    walk(p, p, &mut out, &mut inodes);
    out.sort();
    inodes.sort();
    for w in inodes.windows(2) {
        if w[0].0 == w[1].0 {
            out.push(format!("{} = {}", w[0].1, w[1].1));
        }
    }
    out.join("\n")
}

/// Runs `cli -H <daemon> args` with the daemon's host.
fn cli(d: &Daemon, which: &str, args: &[&str]) -> common::Run {
    if which == "docker" {
        d.docker(args)
    } else {
        d.berth(args)
    }
}

/// A shell pipeline with `CLI` set to `<cli> -H <host>`: (stdout, code).
fn sh(d: &Daemon, which: &str, script: &str) -> (String, i32) {
    let bin = if which == "docker" {
        "docker".to_string()
    } else {
        common::berth_bin().display().to_string()
    };
    let o = Command::new("timeout")
        .args(["-s", "KILL", "60", "sh", "-c", script])
        .env("CLI", format!("{bin} -H {}", d.host))
        .output()
        .expect("sh");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn ok(r: &common::Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {r:?}");
}

fn cp_with_docker_and_berth(d: &Daemon) {
    let r = d.docker(&[
        "run",
        "-d",
        "--name",
        "cprun",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    ok(&r, "run");
    let r = d.docker(&[
        "exec",
        "cprun",
        "sh",
        "-c",
        "mkdir -p /d/sub && echo hi > /d/f && chmod 640 /d/f && ln /d/f /d/hard \
         && ln -s f /d/rel && echo deep > /d/sub/g \
         && ln -s ../../../../../../etc /d/up && ln -s /etc /d/abs \
         && echo inside > /etc/marker",
    ]);
    ok(&r, "exec");
    let r = d.docker(&[
        "create",
        "--name",
        "cpstop",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    ok(&r, "create");
    let sid = r.out.trim().to_string();
    let host_marker = format!("/etc/berth-cp-escape-{}", std::process::id());
    for which in ["docker", "berth"] {
        let base = d.dir().join(format!("cp-{which}"));
        std::fs::create_dir_all(&base).expect("mkdir");
        let b = |s: &str| base.join(s).display().to_string();

        // a file, a directory, a directory's content
        ok(&cli(d, which, &["cp", "cprun:/d/f", &b("f")]), "cp file");
        assert_eq!(tree(&base.join("f")), ". file 640 \"hi\\n\"", "{which}");
        ok(&cli(d, which, &["cp", "cprun:/d/sub", &b("sub")]), "cp dir");
        assert_eq!(
            tree(&base.join("sub")),
            ". dir 755\ng file 644 \"deep\\n\"",
            "{which}"
        );
        std::fs::create_dir(base.join("into")).expect("mkdir");
        ok(
            &cli(d, which, &["cp", "cprun:/d/sub/.", &b("into")]),
            "cp dir/.",
        );
        assert_eq!(
            tree(&base.join("into")),
            ". dir 755\ng file 644 \"deep\\n\"",
            "{which}"
        );
        // into an existing directory: the source's name below it
        ok(
            &cli(d, which, &["cp", "cprun:/d/sub", &b("into")]),
            "cp dir into dir",
        );
        assert!(base.join("into/sub/g").exists(), "{which}");
        // a whole tree with a hard link and relative and escaping links,
        // kept as links (the CLI refuses to write the escaping ones)
        let r = cli(d, which, &["cp", "cprun:/d", &b("d")]);
        assert_eq!(r.code, 1, "{which} cp /d: {r:?}");
        assert!(r.err.contains("invalid symlink"), "{which}: {r:?}");
        let t = tree(&base.join("d"));
        assert!(t.contains("hard file 640 \"hi\\n\""), "{which}: {t}");
        assert!(t.contains("f = hard"), "{which}: hard link lost: {t}");
        assert!(t.contains("rel link -> f"), "{which}: {t}");

        // `-`: a tar on stdout, entries named as Docker names them
        let (out, code) = sh(
            d,
            which,
            "$CLI cp cprun:/d/f - | tar tvf - | awk '{print $1, $3, $6}'",
        );
        assert_eq!((out.as_str(), code), ("-rw-r----- 3 f\n", 0), "{which}");
        let (out, code) = sh(d, which, "$CLI cp cprun:/d/sub/. - | tar tf -");
        assert_eq!((out.as_str(), code), ("./\n./g\n", 0), "{which}");
        let (out, code) = sh(d, which, "$CLI cp cprun:/d/sub - | tar tf -");
        assert_eq!((out.as_str(), code), ("sub/\nsub/g\n", 0), "{which}");

        // symlinks and `..` resolve inside the container, never on the host
        ok(
            &cli(d, which, &["cp", "cprun:/d/up/marker", &b("m1")]),
            "cp via ../ link",
        );
        assert_eq!(
            tree(&base.join("m1")),
            ". file 644 \"inside\\n\"",
            "{which}"
        );
        ok(
            &cli(d, which, &["cp", "cprun:/../../../../etc/marker", &b("m2")]),
            "cp ../",
        );
        assert_eq!(
            tree(&base.join("m2")),
            ". file 644 \"inside\\n\"",
            "{which}"
        );
        ok(
            &cli(d, which, &["cp", "-L", "cprun:/d/abs", &b("etc")]),
            "cp -L",
        );
        assert_eq!(
            std::fs::read_to_string(base.join("etc/marker")).expect("marker"),
            "inside\n",
            "{which}"
        );
        std::fs::write(base.join("evil"), "evil\n").expect("write");
        let name = Path::new(&host_marker).file_name().expect("name");
        std::fs::write(base.join(name), "x\n").expect("write");
        let src = base.join(name).display().to_string();
        ok(
            &cli(d, which, &["cp", &src, "cprun:/d/up/"]),
            "cp into ../ link",
        );
        ok(
            &cli(d, which, &["cp", &src, "cprun:/d/abs/"]),
            "cp into abs link",
        );
        assert!(
            !Path::new(&host_marker).exists(),
            "{which}: wrote the host's {host_marker}"
        );
        let r = d.docker(&["exec", "cprun", "cat", &host_marker]);
        assert_eq!(r.out, "x\n", "{which}: {r:?}");
        ok(
            &d.docker(&["exec", "cprun", "rm", &host_marker]),
            "rm marker",
        );

        // into a running container, then a created one; read back
        std::fs::create_dir_all(base.join("up/in")).expect("mkdir");
        std::fs::write(base.join("up/in/a"), "A\n").expect("write");
        std::fs::write(base.join("up/b"), "B\n").expect("write");
        let up = b("up");
        ok(
            &cli(d, which, &["cp", &up, &format!("cprun:/tmp/{which}")]),
            "cp to running",
        );
        let r = d.docker(&["exec", "cprun", "cat", &format!("/tmp/{which}/in/a")]);
        assert_eq!(r.out, "A\n", "{which}: {r:?}");
        ok(
            &cli(d, which, &["cp", &up, "cpstop:/tmp/"]),
            "cp to created",
        );
        ok(
            &cli(
                d,
                which,
                &[
                    "cp",
                    &format!("{}/.", b("up")),
                    &format!("cpstop:/{which}-dot"),
                ],
            ),
            "cp dir/. to created",
        );
        ok(
            &cli(d, which, &["cp", "cpstop:/tmp/up", &b("back")]),
            "cp from created",
        );
        assert_eq!(
            tree(&base.join("back")),
            ". dir 755\nb file 644 \"B\\n\"\nin dir 755\nin/a file 644 \"A\\n\"",
            "{which}"
        );
        let (out, code) = sh(
            d,
            which,
            &format!("$CLI cp cpstop:/{which}-dot - | tar tf - | sort"),
        );
        assert_eq!(
            (out.as_str(), code),
            (
                format!("{which}-dot/\n{which}-dot/b\n{which}-dot/in/\n{which}-dot/in/a\n")
                    .as_str(),
                0
            ),
            "{which}"
        );
        // a tar on stdin
        let (_, code) = sh(
            d,
            which,
            &format!(
                "cd {} && tar cf - evil | $CLI cp - cpstop:/tmp",
                base.display()
            ),
        );
        assert_eq!(code, 0, "{which}: cp - s:/tmp");
        let (out, _) = sh(d, which, "$CLI cp cpstop:/tmp/evil - | tar xOf -");
        assert_eq!(out, "evil\n", "{which}");
        assert!(
            berth_testutil::mounts_containing(&sid).is_empty(),
            "{which}: a mount of the stopped container is left: {:?}",
            berth_testutil::mounts_containing(&sid)
        );

        // errors, in Docker's words
        let r = cli(d, which, &["cp", "cprun:/nope", &b("x")]);
        assert_eq!(r.code, 1, "{which}: {r:?}");
        assert_eq!(
            r.err.replace("berth", "docker"),
            "Error response from daemon: Could not find the file /nope in container cprun\n",
            "{which}"
        );
        let r = cli(d, which, &["cp", "nosuch:/etc", &b("x")]);
        assert_eq!(
            (r.code, r.err.as_str()),
            (1, "Error response from daemon: No such container: nosuch\n"),
            "{which}"
        );
        let r = cli(d, which, &["cp", &b("evil"), "cprun:/etc/passwd/x"]);
        assert_eq!(r.code, 1, "{which}: {r:?}");
        assert!(
            r.err.contains("extraction point is not a directory"),
            "{which}: {r:?}"
        );
        let r = cli(d, which, &["cp", &b("evil"), "cprun:/nope/"]);
        assert_eq!(r.code, 1, "{which}: {r:?}");
        assert!(r.err.contains("no such directory"), "{which}: {r:?}");
        assert!(!base.join("x").exists(), "{which}");
    }
    ok(&d.docker(&["rm", "-f", "cprun", "cpstop"]), "rm");
}
