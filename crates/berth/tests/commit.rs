//! `diff`, `export` and `commit` through the real `berth` binary and the
//! real `docker` CLI, against docker's own dockerd and against berthd with
//! the same expectations (what dockerd reports is the reference), plus the
//! interop check: an image committed on berthd, saved by berthd, loaded
//! into a private dockerd and run there. Needs root and dockerd.

mod common;

use common::{Daemon, Run};

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

on_both_daemons!(diff_export_commit_match_docker);

/// The file-system actions of the scenario: create, modify, delete a
/// file, `rm -rf` a directory, replace a directory (opaque), replace a
/// file by a directory and a directory by a file, a symlink, a FIFO, a
/// file created and deleted again (no trace).
const ACTIONS: &str = "echo hi > /etc/newfile; echo x >> /etc/passwd; rm /etc/group; \
    rm -rf /root; rm -rf /var; mkdir /var; echo y > /var/y; \
    mkdir -p /usr/sbin/x; mkdir /newdir; echo a > /newdir/a; ln -s /x /etc/lnk; \
    mkdir -p /tmp/a/b; touch /tmp/a/b/c; rm /bin/ls; mkdir /bin/ls; \
    mkfifo /p; echo t > /bin/tmp; rm /bin/tmp";

/// What dockerd reports for [`ACTIONS`] (sorted: dockerd's order is
/// unspecified).
const EXPECTED: &[&str] = &[
    "A /etc/lnk",
    "A /etc/newfile",
    "A /newdir",
    "A /newdir/a",
    "A /p",
    "A /tmp/a",
    "A /tmp/a/b",
    "A /tmp/a/b/c",
    "A /usr/sbin/x",
    "A /var/y",
    "C /bin",
    "C /bin/ls",
    "C /etc",
    "C /etc/passwd",
    "C /tmp",
    "C /usr",
    "C /usr/sbin",
    "C /var",
    "D /etc/group",
    "D /root",
];

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Runs `args` through both CLIs and asserts the same lines (in any
/// order: dockerd lists changes in no fixed order), stderr (with "docker"
/// for "berth") and exit code; returns berth's run.
fn same_sorted(d: &Daemon, args: &[&str]) -> Run {
    let dk = d.docker(args);
    let b = d.berth(args);
    assert_eq!(
        (
            sorted_lines(&b.out),
            b.err.replace("berth", "docker"),
            b.code
        ),
        (sorted_lines(&dk.out), dk.err.clone(), dk.code),
        "berth {args:?} differs from docker (left berth, right docker)"
    );
    b
}

fn ok(r: &Run, what: &str) -> String {
    assert_eq!(r.code, 0, "{what}: {r:?}");
    r.out.trim().to_string()
}

/// Entries of a tar file (`tar -tf`), without a leading `./`.
fn tar_list(p: &std::path::Path) -> Vec<String> {
    let o = std::process::Command::new("tar")
        .arg("-tf")
        .arg(p)
        .output()
        .expect("tar");
    assert!(o.status.success(), "tar -tf {}", p.display());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect()
}

/// Files under the daemon's data root's temp and ingest directories (a
/// commit or export must leave none behind).
fn temp_files(d: &Daemon) -> Vec<String> {
    let root = d.dir().join("root");
    let mut out = Vec::new();
    for sub in ["tmp", "ingest", "layers", "snapshots"] {
        if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if sub == "tmp" || sub == "ingest" || n.starts_with(".tmp") {
                    out.push(format!("{sub}/{n}"));
                }
            }
        }
    }
    out
}

fn diff_export_commit_match_docker(d: &Daemon) {
    let tag = format!("dc{}", std::process::id());
    let stopped = format!("{tag}-stopped");
    let live = format!("{tag}-live");
    let mounts_before = berth_testutil::mounts_containing(&d.dir().to_string_lossy()).len();
    let temps_before = temp_files(d);

    // ---- diff of a stopped container
    ok(
        &d.docker(&["run", "--name", &stopped, "busybox", "sh", "-c", ACTIONS]),
        "run",
    );
    let r = same_sorted(d, &["diff", &stopped]);
    assert_eq!(sorted_lines(&r.out), EXPECTED, "{} diff", d.kind);
    same_sorted(d, &["container", "diff", &stopped]);
    // nothing changed: no output, exit 0
    let empty = format!("{tag}-empty");
    ok(
        &d.docker(&["create", "--name", &empty, "busybox"]),
        "create",
    );
    assert_eq!(d.same(&["diff", &empty]).out, "");
    ok(
        &d.docker(&["run", "--name", &format!("{empty}2"), "busybox", "true"]),
        "run",
    );
    assert_eq!(d.same(&["diff", &format!("{empty}2")]).out, "");
    let r = d.same(&["diff", "nosuch-container"]);
    assert_eq!(
        (r.err.trim(), r.code),
        (
            "Error response from daemon: No such container: nosuch-container",
            1
        )
    );

    // ---- diff of a running container, changed by exec
    ok(
        &d.docker(&["run", "-d", "--name", &live, "busybox", "sleep", "300"]),
        "run -d",
    );
    ok(
        &d.docker(&[
            "exec",
            &live,
            "sh",
            "-c",
            "echo live > /root/live; rm -rf /usr",
        ]),
        "exec",
    );
    let r = same_sorted(d, &["diff", &live]);
    assert_eq!(
        sorted_lines(&r.out),
        ["A /root/live", "C /root", "D /usr"],
        "{} running diff",
        d.kind
    );

    // ---- export: stopped (mounted for the export only) and running
    let out = d.dir().join("stopped.tar");
    let b = d.berth(&["export", "-o", out.to_str().expect("utf8"), &stopped]);
    assert_eq!((b.out.as_str(), b.code), ("", 0), "berth export: {b:?}");
    let names = tar_list(&out);
    for want in [
        "newdir/a",
        "var/y",
        "etc/newfile",
        "etc/passwd",
        "bin/busybox",
        "p",
        "tmp/a/b/c",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{} export lacks {want}",
            d.kind
        );
    }
    for gone in ["etc/group", "root", "bin/tmp"] {
        assert!(
            !names.iter().any(|n| n == gone),
            "{} export has {gone}",
            d.kind
        );
    }
    let dout = d.dir().join("stopped-docker.tar");
    ok(
        &d.docker(&["export", "--output", dout.to_str().expect("utf8"), &stopped]),
        "docker export",
    );
    let mut a = tar_list(&dout);
    let mut b2 = names.clone();
    a.sort();
    b2.sort();
    assert_eq!(a, b2, "berth and docker export the same entries");
    let live_tar = d.dir().join("live.tar");
    ok(
        &d.docker(&[
            "container",
            "export",
            "-o",
            live_tar.to_str().expect("utf8"),
            &live,
        ]),
        "export running",
    );
    let names = tar_list(&live_tar);
    assert!(names.iter().any(|n| n == "root/live"));
    assert!(!names.iter().any(|n| n.starts_with("usr/")));
    for f in [&out, &dout, &live_tar] {
        std::fs::remove_file(f).expect("rm tar");
    }
    let none = d.dir().join("none.tar");
    let r = d.same(&[
        "export",
        "-o",
        none.to_str().expect("utf8"),
        "nosuch-container",
    ]);
    assert_eq!(
        (r.err.trim(), r.code),
        (
            "Error response from daemon: No such container: nosuch-container",
            1
        )
    );

    // ---- commit with every option through berth, then run the image
    let img = format!("{tag}-img:v1");
    let id = ok(
        &d.berth(&[
            "commit",
            "-a",
            "Ann Author <ann@example.com>",
            "-m",
            "a message",
            "-c",
            r#"CMD ["cat", "/newdir/a", "/etc/newfile"]"#,
            "-c",
            "ENV A=1 B=2",
            "-c",
            "EXPOSE 8080 53/udp",
            "-c",
            "LABEL k=v",
            "-c",
            "WORKDIR /newdir",
            "-c",
            "USER root",
            "-c",
            "VOLUME /data",
            "-c",
            "HEALTHCHECK --interval=5s --retries=2 CMD true",
            &stopped,
            &img,
        ]),
        "berth commit",
    );
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "{} commit printed {id:?}",
        d.kind
    );
    assert_eq!(
        ok(&d.docker(&["run", "--rm", &img]), "run committed"),
        "a\nhi"
    );
    assert_eq!(
        ok(
            &d.docker(&["run", "--rm", &img, "sh", "-c", "ls /etc/group /root 2>&1; ls /var; pwd"]),
            "run committed"
        ),
        "ls: /etc/group: No such file or directory\nls: /root: No such file or directory\ny\n/newdir"
    );
    let fmt = "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .Config.ExposedPorts}}|{{json .Config.Labels}}|{{.Config.WorkingDir}}|{{.Config.User}}|{{json .Config.Volumes}}|{{json .Config.Healthcheck}}|{{len .RootFS.Layers}}";
    assert_eq!(
        ok(&d.docker(&["image", "inspect", "-f", fmt, &img]), "inspect"),
        r#"Ann Author <ann@example.com>|a message|["cat","/newdir/a","/etc/newfile"]|["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1","B=2"]|{"53/udp":{},"8080/tcp":{}}|{"k":"v"}|/newdir|root|{"/data":{}}|{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2}|2"#,
        "{} committed config",
        d.kind
    );
    let h = ok(
        &d.docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            &img,
        ]),
        "history",
    );
    let top = h.lines().next().unwrap_or("");
    assert_eq!(
        top,
        format!("sh -c {ACTIONS}|a message"),
        "{} history",
        d.kind
    );
    assert_eq!(h.lines().count(), 3, "{} history: {h}", d.kind);

    // ---- commit of a running container through docker, paused meanwhile
    // (the default) and running after; and with --pause=false via berth
    let id2 = ok(&d.docker(&["commit", &live]), "docker commit running");
    assert!(id2.starts_with("sha256:"), "{id2}");
    assert_eq!(
        ok(
            &d.docker(&["inspect", "-f", "{{.State.Status}}", &live]),
            "inspect"
        ),
        "running"
    );
    assert_eq!(
        ok(
            &d.docker(&["run", "--rm", &id2, "cat", "/root/live"]),
            "run"
        ),
        "live"
    );
    let id3 = ok(
        &d.berth(&[
            "container",
            "commit",
            "--pause=false",
            &live,
            &format!("{tag}-live"),
        ]),
        "berth commit -p=false",
    );
    assert_eq!(
        ok(
            &d.docker(&[
                "image",
                "inspect",
                "-f",
                "{{.Id}}",
                &format!("{tag}-live:latest")
            ]),
            "inspect"
        ),
        id3
    );
    let r = d.docker(&["run", "--rm", &format!("{tag}-live"), "ls", "/usr"]);
    assert_ne!(r.code, 0, "/usr was removed in the committed layer: {r:?}");

    // ---- errors, same through both CLIs
    let r = d.same(&["commit", "-c", "FROM busybox", &stopped]);
    assert_eq!(
        (r.err.trim(), r.code),
        (
            "Error response from daemon: from is not a valid change command",
            1
        )
    );
    let r = d.same(&["commit", &stopped, "Bad:Name"]);
    assert_eq!(
        (r.err.trim(), r.code),
        (
            "invalid reference format: repository name (library/Bad) must be lowercase",
            1
        )
    );
    let r = d.same(&["commit", "nosuch-container"]);
    assert_eq!(
        (r.err.trim(), r.code),
        (
            "Error response from daemon: No such container: nosuch-container",
            1
        )
    );

    // ---- interop: berthd's saved image runs in dockerd
    if d.kind == "berthd" {
        let tarp = d.dir().join("committed.tar");
        ok(
            &d.docker(&["save", "-o", tarp.to_str().expect("utf8"), &img]),
            "save from berthd",
        );
        let dd = Daemon::start_kind("dockerd");
        ok(
            &dd.docker(&["load", "-i", tarp.to_str().expect("utf8")]),
            "load into dockerd",
        );
        assert_eq!(
            ok(&dd.docker(&["run", "--rm", &img]), "run in dockerd"),
            "a\nhi"
        );
        assert_eq!(
            ok(
                &dd.docker(&[
                    "run",
                    "--rm",
                    &img,
                    "sh",
                    "-c",
                    "ls /etc/group /root 2>&1; ls /var"
                ]),
                "run in dockerd"
            ),
            "ls: /etc/group: No such file or directory\nls: /root: No such file or directory\ny"
        );
        let h = ok(
            &dd.docker(&["history", "--format", "{{.Comment}}", &img]),
            "history in dockerd",
        );
        assert_eq!(h.lines().next(), Some("a message"));
        std::fs::remove_file(&tarp).expect("rm tar");
    }

    // ---- nothing left behind: mounts (the running container's rootfs
    // aside), temp files
    ok(&d.docker(&["rm", "-f", &live]), "rm live");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = berth_testutil::mounts_containing(&d.dir().to_string_lossy());
        if m.len() <= mounts_before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} leaked mounts: {m:?}",
            d.kind
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(temp_files(d), temps_before, "{} temp files", d.kind);
}
