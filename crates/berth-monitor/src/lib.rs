//! Berth's per-container monitor (Docker calls it a shim): a small
//! synchronous program, one per running container, with no async runtime.
//!
//! It creates and starts the container with `berth-runtime` as a library,
//! is `PR_SET_CHILD_SUBREAPER` and reaps the init process and exec
//! processes, holds the container's stdio (pipes or the pty master),
//! writes the json-file log with rotation ([`jsonlog`]), serves attach,
//! exec, kill, resize, pause and wait on a per-container UNIX socket, and
//! records the exit status to a file. It outlives berthd. See [`proto`] for
//! the protocol.

pub mod jsonlog;
pub mod proto;
