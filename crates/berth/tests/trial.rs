//! Bugs a fresh-user trial of the `berth` CLI found, each compared with the
//! real `docker` CLI on the same daemon (Debian's dockerd and berthd):
//! a `304 Not Modified` answer (stop of a stopped container, start of a
//! running one) is success; a bind source given relative to the current
//! directory (`-v ./d:/x`, `--mount src=..`) reaches the daemon absolute;
//! Go-template `index` of a missing label, `.Label "key"` in list formats
//! and `printf "%q"` print what docker's do.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{berth_bin, run_bounded, Daemon, Run};

macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(
    not_modified_is_success,
    relative_bind_sources,
    templates_index_label_printf_q
);

fn ok(d: &Daemon, args: &[&str]) -> String {
    let r = d.docker(args);
    assert_eq!(r.code, 0, "{} docker {args:?}: {r:?}\n{}", d.kind, d.log());
    r.out.trim().to_string()
}

/// Stop of a stopped container and start of a running one: the daemon
/// answers 304 with an empty body, both CLIs print the name and exit 0.
/// Pausing twice is a 409 with the daemon's words.
fn not_modified_is_success(d: &Daemon) {
    ok(
        d,
        &[
            "run",
            "-d",
            "--name",
            "tr-nm",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ],
    );
    let r = d.same(&["start", "tr-nm"]);
    assert_eq!(
        (r.out.as_str(), r.code),
        ("tr-nm\n", 0),
        "{}: {r:?}",
        d.kind
    );
    ok(d, &["pause", "tr-nm"]);
    let r = d.same(&["pause", "tr-nm"]);
    assert_eq!(r.code, 1, "{}: {r:?}", d.kind);
    assert!(!r.err.trim_end().ends_with(':'), "{}: {r:?}", d.kind);
    ok(d, &["unpause", "tr-nm"]);
    let r = d.same(&["unpause", "tr-nm"]);
    assert_eq!(r.code, 1, "{}: {r:?}", d.kind);
    assert!(!r.err.trim_end().ends_with(':'), "{}: {r:?}", d.kind);
    ok(d, &["stop", "-t", "0", "tr-nm"]);
    for args in [&["stop", "tr-nm"][..], &["stop", "-t", "1", "tr-nm"]] {
        let r = d.same(args);
        assert_eq!(
            (r.out.as_str(), r.err.as_str(), r.code),
            ("tr-nm\n", "", 0),
            "{} {args:?}",
            d.kind
        );
    }
    ok(d, &["rm", "tr-nm"]);
}

/// Runs `cli` ("docker" or "berth") against `d` in directory `cwd`.
fn in_dir(d: &Daemon, cli: &str, cwd: &Path, args: &[&str]) -> Run {
    let mut c = if cli == "docker" {
        Command::new("docker")
    } else {
        Command::new(berth_bin())
    };
    c.current_dir(cwd).arg("-H").arg(&d.host).args(args);
    run_bounded(&mut c, Duration::from_secs(60), None)
}

/// `-v ./dir:/x`, `-v ../a:/b`, `-v .:/c` and `--mount type=bind,src=..`
/// from a working directory: the container sees the host files through
/// both CLIs, and what reaches the daemon (HostConfig.Binds and .Mounts
/// in inspect) is the same absolute path docker sends. `-v ~/x:/x` is
/// not expanded by either (the daemon's volume-name error).
fn relative_bind_sources(d: &Daemon) {
    let w = d.dir().join("w");
    let sub = w.join("sub");
    std::fs::create_dir_all(sub.join("dir")).unwrap();
    std::fs::create_dir_all(w.join("a")).unwrap();
    std::fs::write(sub.join("dir/f"), "in dir\n").unwrap();
    std::fs::write(w.join("a/g"), "in a\n").unwrap();
    let run = [
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "./dir:/x",
        "-v",
        "../a:/b:ro",
        "-v",
        ".:/c",
        "--mount",
        "type=bind,src=..,dst=/y",
        "busybox",
        "cat",
        "/x/f",
        "/b/g",
        "/c/dir/f",
        "/y/a/g",
    ];
    for cli in ["docker", "berth"] {
        let r = in_dir(d, cli, &sub, &run);
        assert_eq!(
            (r.out.as_str(), r.code),
            ("in dir\nin a\nin dir\nin a\n", 0),
            "{} {cli}: {r:?}",
            d.kind
        );
    }
    let mut seen = Vec::new();
    for cli in ["docker", "berth"] {
        let name = format!("tr-rb-{cli}");
        let r = in_dir(
            d,
            cli,
            &sub,
            &[
                "create",
                "--name",
                &name,
                "--network",
                "none",
                "-v",
                "./dir/../dir/:/x:ro",
                "--mount",
                "type=bind,source=./dir,target=/z",
                "busybox",
                "true",
            ],
        );
        assert_eq!(r.code, 0, "{} {cli}: {r:?}", d.kind);
        seen.push(ok(
            d,
            &[
                "inspect",
                "-f",
                "{{json .HostConfig.Binds}} {{json .HostConfig.Mounts}}",
                &name,
            ],
        ));
        ok(d, &["rm", &name]);
    }
    let dir = sub.join("dir").display().to_string();
    assert_eq!(
        seen[0],
        format!(r#"["{dir}:/x:ro"] [{{"Type":"bind","Source":"{dir}","Target":"/z"}}]"#),
        "{} docker",
        d.kind
    );
    assert_eq!(seen[1], seen[0], "{} berth differs from docker", d.kind);
    let tilde = ["create", "--network", "none", "-v", "~/x:/x", "busybox"];
    let (dr, br) = (
        in_dir(d, "docker", &sub, &tilde),
        in_dir(d, "berth", &sub, &tilde),
    );
    assert_ne!(dr.code, 0, "{}: {dr:?}", d.kind);
    assert_eq!((&br.err, br.code), (&dr.err, dr.code), "{}", d.kind);
}

/// `inspect -f` with `index` of present and missing labels (also on a
/// container without labels), `.Config.Labels.zz`, `printf "%q"`; `ps`,
/// `volume ls` and `network ls` with `.Label "key"` (values, missing
/// keys, table headers, arity errors): berth prints what docker prints.
fn templates_index_label_printf_q(d: &Daemon) {
    for args in [
        &[
            "create",
            "--name",
            "tr-lb",
            "--network",
            "none",
            "-l",
            "a=1",
            "-l",
            "b=x y",
            "busybox",
        ][..],
        &["create", "--name", "tr-nol", "--network", "none", "busybox"],
        &["volume", "create", "--label", "a=v1", "tr-vl1"],
        &["volume", "create", "tr-vl2"],
    ] {
        ok(d, args);
    }
    for c in ["tr-lb", "tr-nol"] {
        for t in [
            r#"{{index .Config.Labels "zz"}}"#,
            r#"{{index .Config.Labels "a"}}"#,
            r#"{{.Config.Labels.zz}}|{{.Config.Labels.a}}"#,
            r#"{{printf "%q" .Name}}"#,
            r#"{{printf "%q|%s|%5.2q|%-8q" .Name .Name .Name .Name}}"#,
            r#"{{printf "%q" .Config.Cmd}}"#,
        ] {
            d.same(&["inspect", "-f", t, c]);
        }
    }
    for t in [
        r#"{{index .Labels "zz"}}|{{index .Labels "a"}}"#,
        r#"{{printf "%q" .Name}}"#,
    ] {
        d.same(&["volume", "inspect", "-f", t, "tr-vl1", "tr-vl2"]);
    }
    for t in [
        r#"{{.Names}} [{{.Label "a"}}] [{{.Label "zz"}}] [{{.Labels}}]"#,
        r#"{{printf "%q" (.Label "b")}}"#,
        r#"table {{.Names}}\t{{.Label "com.example.foo-bar"}}\t{{.Label "a"}}"#,
        "{{.Label}}",
        r#"{{.Label "a" "b"}}"#,
    ] {
        d.same(&["ps", "-a", "-f", "name=tr-", "--format", t]);
    }
    for t in [
        r#"{{.Name}} [{{.Label "a"}}] [{{.Label "zz"}}]"#,
        r#"table {{.Name}}\t{{.Label "a"}}"#,
    ] {
        d.same(&["volume", "ls", "-f", "name=tr-vl", "--format", t]);
    }
    d.same(&[
        "network",
        "ls",
        "-f",
        "name=none",
        "--format",
        r#"{{.Name}} [{{.Label "a"}}]"#,
    ]);
    // inspect, info and events take the template as typed: no `\t`/`\n`
    // unescaping there (only the list formats do it)
    d.same(&[
        "inspect",
        "-f",
        r#"a\tb\n{{.Name}} {{printf "%q" "x\ny"}}"#,
        "tr-lb",
    ]);
    d.same(&["volume", "inspect", "-f", r"a\t{{.Name}}", "tr-vl1"]);
    d.same(&["info", "-f", r"a\t{{.OSType}}"]);
    ok(d, &["rm", "tr-lb", "tr-nol"]);
    ok(d, &["volume", "rm", "tr-vl1", "tr-vl2"]);
}
