//! The runtime's error type.

use std::path::PathBuf;

/// What went wrong in a runtime operation. Every variant's message names
/// the object at fault (container id, file, JSON path of a config field).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container id breaks the rules of [`crate::validate_id`].
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// No container with this id under the state root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A container with this id already exists under the state root.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// config.json is malformed: `path` is the JSON path of the field
    /// (e.g. `process.user.uid`), `msg` what is wrong with it.
    #[error("config.json: field {path}: {msg}")]
    Config {
        /// JSON path of the offending field, `.` when the document itself.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The bundle is unusable (missing config.json, missing rootfs ...).
    #[error("bundle {bundle}: {msg}")]
    Bundle {
        /// The bundle directory.
        bundle: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The operation is not allowed in the container's current status
    /// (e.g. exec into a stopped container, start of a running one).
    #[error("container {id:?} is {status}: {msg}")]
    BadState {
        /// Container id.
        id: String,
        /// Its status now.
        status: String,
        /// Why that forbids the operation.
        msg: String,
    },
    /// A system call or file operation failed; `what` names it and its object.
    #[error("{what}: {source}")]
    Io {
        /// The operation and its object, e.g. `mount proc on /proc`.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The container's init or exec process reported a failure while
    /// setting itself up (the message names the step).
    #[error("container process setup: {0}")]
    Setup(String),
    /// A hook failed (`which` is its kind, e.g. `createRuntime[0]`).
    #[error("hook {which} ({path}): {msg}")]
    Hook {
        /// Hook kind and index.
        which: String,
        /// The hook's path.
        path: PathBuf,
        /// What happened.
        msg: String,
    },
    /// A requested feature is not available on this build or host.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A cgroup operation failed.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// Bad argument given to the API (signal name, option ...).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an [`Error::Io`] from a context and anything convertible to an io error.
pub(crate) fn io_err(what: impl Into<String>, e: impl Into<std::io::Error>) -> Error {
    Error::Io {
        what: what.into(),
        source: e.into(),
    }
}

/// Extension to attach a context to io / nix results.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| io_err(what(), e))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| io_err(what(), std::io::Error::from(e)))
    }
}
