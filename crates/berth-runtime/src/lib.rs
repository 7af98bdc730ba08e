//! Berth's OCI runtime as a library: from a bundle (config.json + rootfs)
//! to an isolated, running container process, following the OCI runtime
//! specification (runtime-spec v1.2: `runtime.md` lifecycle and operations,
//! `config.md`, `config-linux.md`).
//!
//! # Use
//! ```no_run
//! use berth_runtime::{Runtime, CreateOptions};
//! let rt = Runtime::new("/run/berth/runtime");
//! let pid = rt.create("web1", "/var/lib/berth/bundles/web1".as_ref(), &CreateOptions::default())?;
//! rt.start("web1")?;                      // the user program runs now
//! // ... the caller is init's parent: waitpid(pid) gives its exit status
//! rt.delete("web1", false)?;
//! # Ok::<(), berth_runtime::Error>(())
//! ```
//!
//! # Processes, reaping and exit status
//! `create` makes the container's init process a **child of the calling
//! process** (directly, or with `CLONE_PARENT` when namespaces are joined
//! by path), so the caller — e.g. the daemon's per-container monitor —
//! reaps it with `waitpid(pid)` and reads the exit status there: exit code,
//! or 128+signal by convention. A caller that wants to keep the init
//! process's descendants too (a container without its own PID namespace)
//! sets `PR_SET_CHILD_SUBREAPER` on itself before `create`, as containerd's
//! shim does with runc. `exec` likewise returns the PID of a child of the
//! caller. A process that exits and is not reaped stays a zombie and
//! counts as stopped for [`Runtime::state`].
//!
//! The calling process must be **single-threaded** at `create`/`run`/
//! `exec`: they fork, and the child runs Rust code (allocations) before it
//! execs the user program.
//!
//! # State
//! `<root>/<id>/state.json` (atomically replaced) and, between create and
//! start, `<root>/<id>/start.sock`, on which the init process waits.
//!
//! # Deviations from the issue text
//! An unknown config.json field is a warning naming its JSON path, not an
//! error: the runtime spec says runtimes "MUST ignore unknown properties".

pub mod config;
mod container;
mod dmz;
mod error;
pub mod hooks;
pub mod process;
pub mod rootfs;
mod state;

/// Receives a descriptor sent with SCM_RIGHTS (e.g. the pty master on a
/// console socket): re-exported from `berth-sys`.
pub use berth_sys::recv_fd;
pub use config::{load_bundle, parse_config, parse_process, LoadedConfig};
pub use container::{parse_signal, CreateOptions, ExecOptions, Stdio};
pub use error::{Error, Result};
pub use state::{ContainerState, Status};

use std::path::PathBuf;

/// Longest accepted container id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Checks a container id: 1 to [`MAX_ID_LEN`] bytes of `[A-Za-z0-9_+.-]`,
/// not `.` or `..` (so it is always a single, safe path component).
///
/// # Errors
/// [`Error::InvalidId`] naming the rule broken.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 128 bytes");
    }
    if id == "." || id == ".." {
        return bad("'.' and '..' are not ids");
    }
    if id.contains('/') {
        return bad("contains '/'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b))
    {
        return bad("allowed characters are A-Z a-z 0-9 _ + . -");
    }
    Ok(())
}

/// The runtime: a state root directory holding one directory per container.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// State root (runc's `--root`), e.g. `/run/berth-runc`.
    pub root: PathBuf,
}

impl Runtime {
    /// Where compiled seccomp programs are kept for reuse:
    /// `<root>/@seccomp-bpf` ('@' is not allowed in a container id, so the
    /// directory never collides with a container's).
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("@seccomp-bpf")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(129)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
