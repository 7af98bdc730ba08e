//! Differential harness: runs the same OCI bundle under runc and under
//! berth-runc, captures what the process inside sees, normalises what
//! legitimately differs (container ids, mount ids, device minors of
//! anonymous filesystems, bundle paths, timestamps) and compares.
//!
//! Use from any integration test with `mod harness;` (in this crate's
//! tests/) or `#[path = ".../berth-runtime/tests/harness/mod.rs"] mod harness;`.
//!
//! ```ignore
//! let mut c = harness::Case::new("exit42");
//! c.args(&["sh", "-c", "exit 42"]);
//! let (runc, berth) = c.run_both();
//! harness::assert_same("exit42", &runc, &berth);
//! ```
//!
//! Every case gets its own bundles, state roots and ids (tests run in
//! parallel), a bounded run time ([`TIMEOUT`]), and [`Case::assert_no_leftovers`]
//! (called by `run_both`) checks that no mount, cgroup, process or state
//! directory outlives it.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for one runtime command.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Which runtime runs a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    /// The system's runc (the reference).
    Runc,
    /// Ours.
    Berth,
}

/// Path of the berth-runc binary: `$BERTH_RUNC`, else the binary Cargo
/// built for this test (when the test belongs to berth-runc), else
/// `target/<profile>/berth-runc` next to the test executable. Panics with
/// the command to run when it is missing.
pub fn berth_runc() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_RUNC") {
        return p.into();
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_berth-runc") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("berth-runc"))
        .expect("target dir");
    assert!(
        p.is_file(),
        "{} missing: run `cargo build -p berth-runc` first",
        p.display()
    );
    p
}

/// Path of runc; panics when it is not installed.
pub fn runc() -> PathBuf {
    for p in [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/local/sbin/runc",
        "/usr/local/bin/runc",
    ] {
        if Path::new(p).is_file() {
            return p.into();
        }
    }
    panic!("runc is not installed (scripts/install-deps.sh installs it)");
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code (128+signal when killed).
    pub code: i32,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

/// Runs `cmd` with `stdin` bytes, bounded by [`TIMEOUT`].
pub fn run_cmd(cmd: &mut Command, stdin: &[u8]) -> Outcome {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut si = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = si.write_all(&input);
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ro = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let re = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = w.join();
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Outcome {
        code,
        stdout: String::from_utf8_lossy(&ro.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&re.join().unwrap()).into_owned(),
    }
}

/// One differential case: a config (runc spec's template with
/// `terminal: false`) applied to two bundles, one per runtime.
pub struct Case {
    /// Case name (part of ids and paths).
    pub name: String,
    /// Temp dir holding both bundles and both state roots.
    pub tmp: tempfile::TempDir,
    /// The config.json both bundles get.
    pub config: Value,
    /// Bytes fed to the container's stdin.
    pub stdin: Vec<u8>,
}

impl Case {
    /// A new case on the busybox fixture with runc's default config,
    /// `terminal: false`, `args: ["true"]`, and an explicit cgroupsPath
    /// (`/berth-difftest/<id>`) so both runtimes use the same cgroups.
    pub fn new(name: &str) -> Case {
        berth_testutil::require_root();
        let tmp = berth_testutil::tempdir();
        let tdir = tmp.path().join("template");
        std::fs::create_dir_all(&tdir).unwrap();
        let st = Command::new(runc())
            .arg("spec")
            .current_dir(&tdir)
            .status()
            .expect("runc spec");
        assert!(st.success(), "runc spec failed");
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(tdir.join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        Case {
            name: name.to_string(),
            tmp,
            config,
            stdin: Vec::new(),
        }
    }

    /// Sets process.args.
    pub fn args(&mut self, a: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(a);
        self
    }

    /// Runs a shell script (`sh -c script`).
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Edits the config.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self
    }

    /// Container id used for runtime `rt`.
    pub fn id(&self, rt: Rt) -> String {
        let tag = match rt {
            Rt::Runc => "r",
            Rt::Berth => "b",
        };
        format!("dt-{}-{}-{}", self.name, tag, std::process::id())
    }

    /// Bundle directory of runtime `rt` (unpacked on first use).
    pub fn bundle(&self, rt: Rt) -> PathBuf {
        let b = self.tmp.path().join(match rt {
            Rt::Runc => "bundle-runc",
            Rt::Berth => "bundle-berth",
        });
        if !b.join("rootfs/bin").exists() {
            berth_testutil::unpack_busybox_rootfs(&b.join("rootfs"));
            // the fixture's top directory is 0700: let non-root users in
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(b.join("rootfs"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        let mut cfg = self.config.clone();
        if cfg["linux"]["cgroupsPath"].is_null() {
            cfg["linux"]["cgroupsPath"] = json!(format!("/berth-difftest/{}", self.id(rt)));
        }
        std::fs::write(
            b.join("config.json"),
            serde_json::to_vec_pretty(&cfg).unwrap(),
        )
        .unwrap();
        b
    }

    /// State root of runtime `rt`.
    pub fn root(&self, rt: Rt) -> PathBuf {
        self.tmp.path().join(match rt {
            Rt::Runc => "state-runc",
            Rt::Berth => "state-berth",
        })
    }

    /// A command line of runtime `rt` with `--root` set.
    pub fn cmd(&self, rt: Rt) -> Command {
        let mut c = Command::new(match rt {
            Rt::Runc => runc(),
            Rt::Berth => berth_runc(),
        });
        c.arg("--root").arg(self.root(rt));
        c
    }

    /// `run -b <bundle> <id>` under `rt`, output normalised.
    pub fn run(&self, rt: Rt) -> Outcome {
        let b = self.bundle(rt);
        let id = self.id(rt);
        let mut c = self.cmd(rt);
        c.arg("run").arg("-b").arg(&b).arg(&id);
        let o = run_cmd(&mut c, &self.stdin);
        self.normalise(rt, o)
    }

    /// Runs under both runtimes (runc first) and checks for leftovers.
    pub fn run_both(&self) -> (Outcome, Outcome) {
        let r = self.run(Rt::Runc);
        let b = self.run(Rt::Berth);
        self.assert_no_leftovers(Rt::Berth);
        (r, b)
    }

    /// Replaces what legitimately differs between two runs.
    pub fn normalise(&self, rt: Rt, o: Outcome) -> Outcome {
        let f = |s: &str| normalise_text(s, &self.id(rt), &self.bundle_dir_str(rt));
        Outcome {
            code: o.code,
            stdout: f(&o.stdout),
            stderr: o.stderr,
        }
    }

    fn bundle_dir_str(&self, rt: Rt) -> String {
        self.tmp
            .path()
            .join(match rt {
                Rt::Runc => "bundle-runc",
                Rt::Berth => "bundle-berth",
            })
            .display()
            .to_string()
    }

    /// Asserts that nothing of runtime `rt`'s container outlives it: no
    /// mount under the case's temp dir, no cgroup or process naming its
    /// id, no state directory.
    pub fn assert_no_leftovers(&self, rt: Rt) {
        let id = self.id(rt);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let m = berth_testutil::mounts_containing(&self.tmp.path().display().to_string());
            let cg = berth_testutil::cgroups_containing(&id);
            let st = self.root(rt).join(&id).exists();
            if m.is_empty() && cg.is_empty() && !st {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "leftovers of {id}: mounts {m:?} cgroups {cg:?} state dir {st}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Case {
    /// A failed (panicking) case must not leave its containers running:
    /// force-delete whatever either runtime still has under the case's
    /// state roots.
    fn drop(&mut self) {
        for rt in [Rt::Runc, Rt::Berth] {
            let id = self.id(rt);
            if self.root(rt).join(&id).exists() {
                let mut c = self.cmd(rt);
                c.arg("delete").arg("--force").arg(&id);
                c.stdout(Stdio::null()).stderr(Stdio::null());
                let _ = c.status();
            }
        }
    }
}

/// Normalises a run's output: the container id becomes `<ID>`, the bundle
/// directory `<BUNDLE>`, mount ids and parent ids in mountinfo lines `M`,
/// anonymous device numbers (`0:NN`) `0:X`.
pub fn normalise_text(s: &str, id: &str, bundle: &str) -> String {
    let s = s.replace(bundle, "<BUNDLE>").replace(id, "<ID>");
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let is_mountinfo = f.len() > 6
            && f[0].parse::<u64>().is_ok()
            && f[1].parse::<u64>().is_ok()
            && f[2].contains(':')
            && f.contains(&"-");
        if is_mountinfo {
            let dev = if f[2].starts_with("0:") { "0:X" } else { f[2] };
            out.push_str(&format!("M M {dev} {}", f[3..].join(" ")));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Asserts that two normalised outcomes match in exit code and stdout.
pub fn assert_same(case: &str, runc: &Outcome, berth: &Outcome) {
    assert_eq!(
        (runc.code, &runc.stdout),
        (berth.code, &berth.stdout),
        "case {case}: runc and berth-runc differ\n--- runc stderr:\n{}\n--- berth stderr:\n{}",
        runc.stderr,
        berth.stderr
    );
}

/// Runs the case under both runtimes and asserts equal outcomes;
/// returns berth's.
pub fn differential(c: &Case) -> Outcome {
    let (r, b) = c.run_both();
    assert_same(&c.name, &r, &b);
    b
}
