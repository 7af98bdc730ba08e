//! Lifecycle hooks (runtime-spec `config.md` "POSIX-platform Hooks" and
//! `runtime.md` "Lifecycle"): each hook runs with the container's OCI
//! State as JSON on its stdin.

use crate::error::{Error, Result};
use oci_spec::runtime::{Hook, State};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` in order; the first failure (non-zero exit, signal,
/// timeout, or failure to start) stops the list and is returned, naming
/// the hook as `<kind>[<index>]`.
pub fn run_hooks(kind: &str, hooks: Option<&Vec<Hook>>, state: &State) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    let json =
        serde_json::to_vec(state).map_err(|e| Error::Setup(format!("serialise state: {e}")))?;
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, &json).map_err(|msg| Error::Hook {
            which: format!("{kind}[{i}]"),
            path: h.path().clone(),
            msg,
        })?;
    }
    Ok(())
}

/// Runs hooks whose failure must only be logged (poststart, poststop):
/// prints a warning per failure and goes on.
pub fn run_hooks_warn(kind: &str, hooks: Option<&Vec<Hook>>, state: &State) {
    let Some(hooks) = hooks else { return };
    let Ok(json) = serde_json::to_vec(state) else {
        return;
    };
    for (i, h) in hooks.iter().enumerate() {
        if let Err(msg) = run_one(h, &json) {
            eprintln!("warning: hook {kind}[{i}] ({}): {msg}", h.path().display());
        }
    }
}

fn run_one(h: &Hook, stdin: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some(a0) = args.first() {
            cmd.arg0(a0);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for e in h.env().as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    if let Some(mut si) = child.stdin.take() {
        // A hook may not read its stdin: EPIPE is fine.
        let _ = si.write_all(stdin);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut sleep = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("exited with {st}")),
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    }
}
