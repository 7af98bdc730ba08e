//! Bugs a fresh-user trial of the `berth` CLI found, each compared with the
//! real `docker` CLI on the same daemon (Debian's dockerd and berthd):
//! a `304 Not Modified` answer (stop of a stopped container, start of a
//! running one) is success.

mod common;

use common::Daemon;

macro_rules! both {
    ($($name:ident),*) => {
        mod berthd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("berthd")) } )* }
        mod dockerd { $( #[test] fn $name() { super::$name(&super::Daemon::start_kind("dockerd")) } )* }
    };
}
both!(not_modified_is_success);

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
