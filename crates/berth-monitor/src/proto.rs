//! The protocol between berthd and a monitor.
//!
//! **Launch.** berthd (from its spawner thread) runs
//! `berth-monitor <state-dir>` with `<state-dir>/monitor.json` holding a
//! [`MonitorConfig`]. The monitor creates the container (init process
//! waiting to exec), binds `<state-dir>/monitor.sock`, and prints one line
//! on its stdout: `ok <init-pid>` or `error <message>`; then its stdout is
//! /dev/null. It is in its own process group and is nobody's worker thread:
//! it outlives berthd.
//!
//! **Requests.** Each connection to the monitor socket ([`MonitorConfig::socket`]) starts with one JSON
//! line, a [`Request`]. Replies are one JSON line, a [`Reply`], except:
//! * `attach` and `exec`: after the `ok` reply the connection carries
//!   frames monitor→client, `[kind, 0, 0, 0, len u32 BE]` + payload, kind
//!   1 stdout, 2 stderr (TTY output comes as kind 1), and [`FRAME_EXIT`]
//!   with the decimal exit code (exec only); client→monitor bytes are the
//!   process's stdin, EOF closes it when `stdin_once` (attach) or always
//!   (exec). The monitor closes attach connections when the init exits.
//! * `wait`: the reply is sent when the init process has exited, cleanup
//!   (runtime delete, rootfs unmount) is done and the exit record is on
//!   disk: an [`ExitRecord`] line.
//!
//! **Exit.** `<state-dir>/exit.json` ([`ExitRecord`]) is written (atomic
//! rename) before any waiter is told and before the socket goes away; a
//! berthd that finds no socket reads it.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// File name of the config in the state dir.
pub const CONFIG_FILE: &str = "monitor.json";
/// File name of the monitor's socket in the state dir.
pub const SOCKET_FILE: &str = "monitor.sock";
/// File name of the exit record in the state dir.
pub const EXIT_FILE: &str = "exit.json";
/// Frame kind: stdout.
pub const FRAME_STDOUT: u8 = 1;
/// Frame kind: stderr.
pub const FRAME_STDERR: u8 = 2;
/// Frame kind: exit code of an exec process (decimal ASCII payload).
pub const FRAME_EXIT: u8 = 3;

/// An overlay rootfs for the monitor to mount before create and unmount
/// after exit: `mount("overlay", target, "overlay", 0, data)`, made with
/// `cwd` as working directory when set (relative lowerdirs, see
/// `berth_store::OverlayMount::mount_data`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverlayRootfs {
    /// Mount data: `lowerdir=...,upperdir=...,workdir=...`.
    pub data: String,
    /// Working directory for relative options.
    pub cwd: Option<PathBuf>,
    /// Mount point (the bundle's `root.path`).
    pub target: PathBuf,
}

/// What the monitor runs: `<state-dir>/monitor.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// Container ID (the runtime ID too).
    pub id: String,
    /// Bundle directory (config.json).
    pub bundle: PathBuf,
    /// berth-runtime state root.
    pub runtime_root: PathBuf,
    /// Overlay rootfs to mount, or None when the bundle's rootfs is ready.
    pub rootfs: Option<OverlayRootfs>,
    /// json-file log path, or None for the `none` log driver.
    pub log_path: Option<PathBuf>,
    /// Rotate when the log exceeds this many bytes (0 = never).
    pub log_max_size: u64,
    /// Keep this many files including the current one (>= 1).
    pub log_max_file: u32,
    /// The init process has a pseudo-terminal.
    pub tty: bool,
    /// Keep the init process's stdin open (a pipe, or the pty).
    pub open_stdin: bool,
    /// Close the init's stdin when the first attach client ends its input.
    pub stdin_once: bool,
    /// Initial terminal size `[height, width]`.
    pub console_size: Option<[u16; 2]>,
    /// The bundle's `linux.cgroupsPath` (to read the OOM kill count).
    pub cgroups_path: Option<String>,
    /// Where to bind the monitor socket (short: `sun_path` is 108 bytes);
    /// default `<state-dir>/monitor.sock`.
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

/// A request line on `monitor.sock`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Stream output (and take stdin) on this connection.
    Attach {
        /// Forward client bytes to the init's stdin.
        stdin: bool,
        /// Send stdout frames.
        stdout: bool,
        /// Send stderr frames.
        stderr: bool,
    },
    /// Release the init process to exec the user program (OCI start).
    Start,
    /// Reply with the [`ExitRecord`] once the container has exited.
    Wait,
    /// Send a signal (number) to the init process, or with `all` to every
    /// process of the container.
    Kill {
        /// Signal number.
        signal: i32,
        /// Every process of the cgroup.
        all: bool,
    },
    /// Set the terminal size of the init process (or of exec `exec_id`).
    Resize {
        /// Rows.
        height: u16,
        /// Columns.
        width: u16,
        /// An exec's ID instead of the init.
        exec_id: Option<String>,
    },
    /// Freeze the container.
    Pause,
    /// Thaw the container.
    Resume,
    /// Host PIDs of the container's processes.
    Ps,
    /// Run an exec process; the connection then streams it.
    Exec {
        /// Exec ID (for resize).
        exec_id: String,
        /// OCI `process` object (args, env, cwd, user, terminal, caps...).
        process: serde_json::Value,
        /// Forward client bytes to its stdin.
        stdin: bool,
        /// Initial terminal size.
        console_size: Option<[u16; 2]>,
    },
}

/// A one-line reply.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Set on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Start/exec: the process's host PID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Ps: host PIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Vec<i32>>,
}

/// How the init process ended (`exit.json`, and the `wait` reply).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitRecord {
    /// Exit code, or 128+signal.
    pub exit_code: i32,
    /// Unix nanoseconds of the exit.
    pub finished_at_ns: i128,
    /// The cgroup's OOM killer fired.
    pub oom_killed: bool,
    /// Set when the container could not be run or cleaned up.
    #[serde(default)]
    pub error: String,
}
