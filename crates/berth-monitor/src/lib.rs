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
//!
//! # Zygote
//!
//! berthd does not execute the binary for every container: it starts one
//! `berth-monitor --zygote SOCKET` (at the first container start) and asks
//! it, one connection per container, to fork a monitor for a state dir.
//! The forked monitor is the same program in the same state as an
//! executed one (its command line is rewritten to `berth-monitor
//! <state-dir>`), minus the exec, dynamic loading and relocation, and its
//! relocated read-only data (~280 KiB) stays shared with the zygote
//! copy-on-write instead of being private to every monitor. The zygote is
//! single-threaded (the fork needs it), serves only root peers, reaps the
//! monitors that end, and exits when its stdin, a pipe berthd holds,
//! reaches EOF: it never outlives the daemon, while its monitors do. After
//! creating the container a monitor returns its freed heap and unused
//! stack to the kernel (`berth_sys::release_unused_memory`).

pub mod jsonlog;
pub mod proto;
