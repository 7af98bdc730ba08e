//! Container healthchecks as dockerd runs them (moby `daemon/health.go`).
//!
//! `Config.Healthcheck` (`{Test, Interval, Timeout, StartPeriod,
//! StartInterval, Retries}`, durations in ns) is checked at create with
//! dockerd's rules ([`validate`]) and merged with the image's field by
//! field ([`merge`]). While a container runs (not paused) one task per
//! container probes it: the first probe one interval after the start
//! (`StartInterval`, default 5 s, while still `starting` inside the start
//! period; the start period's end if that comes first), then one interval
//! after each probe's end. A probe is an exec in the container (`CMD`: the
//! arguments; `CMD-SHELL`: through `Config.Shell` or `/bin/sh -c`) with
//! `exec_create` / `exec_start` / `exec_die` events as dockerd publishes
//! them; its exec record lives only while it runs. Its output (stdout and
//! stderr, at most 4096 bytes, then `...`) and exit code go into
//! `State.Health.Log` (the last 5). Exceeding `Timeout` (default 30 s)
//! SIGKILLs the probe process and records exit code -1, `Health check
//! exceeded timeout (<d>)`. Status: `starting` after each start,
//! `healthy` after a success, `unhealthy` after `Retries` (default 3)
//! failures in a row; failures before the first success within the start
//! period do not count. A change publishes `health_status: <status>`.
//! The task stops when the container exits, is paused or is removed; as
//! in dockerd the status then reads `unhealthy` (no event), until the
//! next start sets `starting` again (the log is kept). Results are kept
//! in memory and saved with the record's next write, as dockerd does.

use crate::container::{Container, Record, Status};
use crate::{bundle, monitor, util, Engine, ExecEntry};
use berth_api::models::{ExecConfig, Health, HealthcheckResult};
use berth_api::ApiError;
use berth_monitor::proto::{Request, FRAME_EXIT};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Longest probe output kept; more is cut and `...` appended.
const MAX_OUTPUT: usize = 4096;
/// Results kept in `State.Health.Log`.
const MAX_LOG: usize = 5;
const DEFAULT_INTERVAL: i64 = 30_000_000_000;
const DEFAULT_TIMEOUT: i64 = 30_000_000_000;
const DEFAULT_START_INTERVAL: i64 = 5_000_000_000;
const DEFAULT_RETRIES: i64 = 3;
/// dockerd's `MinimumDuration` for a set duration.
const MINIMUM_NS: i64 = 1_000_000;
/// Bound on starting a probe's exec (not counted in its timeout).
const START_BOUND: Duration = Duration::from_secs(30);
/// How long a killed probe's exit and output are waited for.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// `Config.Healthcheck`, parsed. Zero durations and retries mean the
/// default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthConfig {
    /// `["CMD", args...]`, `["CMD-SHELL", command]`, `["NONE"]` or empty
    /// (inherit).
    pub test: Vec<String>,
    /// ns between probes.
    pub interval: i64,
    /// ns a probe may run.
    pub timeout: i64,
    /// ns after the start in which failures do not count.
    pub start_period: i64,
    /// ns between probes during the start period.
    pub start_interval: i64,
    /// Failures in a row that make it unhealthy.
    pub retries: i64,
}

fn num(v: &Value, k: &str) -> i64 {
    match v.get(k) {
        Some(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        None => 0,
    }
}

impl HealthConfig {
    /// Reads a `Healthcheck` object (unknown or mistyped fields ignored).
    pub fn parse(v: &Value) -> HealthConfig {
        HealthConfig {
            test: v
                .get("Test")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            interval: num(v, "Interval"),
            timeout: num(v, "Timeout"),
            start_period: num(v, "StartPeriod"),
            start_interval: num(v, "StartInterval"),
            retries: num(v, "Retries"),
        }
    }

    /// As dockerd writes it: zero fields left out.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if !self.test.is_empty() {
            m.insert("Test".into(), json!(self.test));
        }
        for (k, v) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ] {
            if v != 0 {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }

    /// The probe's command line, or None for none (`NONE`, empty, an
    /// unknown type, nothing to run).
    pub fn probe_cmd(&self, shell: Option<&[String]>) -> Option<Vec<String>> {
        let (kind, rest) = self.test.split_first()?;
        let mut cmd: Vec<String> = match kind.as_str() {
            "CMD" => Vec::new(),
            "CMD-SHELL" => match shell {
                Some(s) if !s.is_empty() => s.to_vec(),
                _ => vec!["/bin/sh".into(), "-c".into()],
            },
            _ => return None,
        };
        cmd.extend(rest.iter().cloned());
        (!cmd.is_empty()).then_some(cmd)
    }

    fn or_default(v: i64, d: i64) -> i64 {
        if v == 0 {
            d
        } else {
            v
        }
    }
}

/// dockerd's checks of a create's `Healthcheck` (400 on failure).
///
/// # Errors
/// A set duration under 1ms, negative retries.
pub fn validate(v: Option<&Value>) -> Result<(), ApiError> {
    let Some(v) = v.filter(|v| v.is_object()) else {
        return Ok(());
    };
    let h = HealthConfig::parse(v);
    let short =
        |what: &str| ApiError::invalid(format!("{what} in Healthcheck cannot be less than 1ms"));
    for (ns, what) in [(h.interval, "Interval"), (h.timeout, "Timeout")] {
        if ns != 0 && ns < MINIMUM_NS {
            return Err(short(what));
        }
    }
    if h.retries < 0 {
        return Err(ApiError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    for (ns, what) in [
        (h.start_period, "StartPeriod"),
        (h.start_interval, "StartInterval"),
    ] {
        if ns != 0 && ns < MINIMUM_NS {
            return Err(short(what));
        }
    }
    Ok(())
}

/// dockerd's merge of the create's healthcheck with the image's: none
/// given takes the image's; a given one takes each unset field (empty
/// Test, zero durations and retries) from the image's.
pub fn merge(user: Option<Value>, image: Option<&Value>) -> Option<Value> {
    let image = image.filter(|v| v.is_object());
    let Some(u) = user.filter(|v| v.is_object()) else {
        return image.map(|i| HealthConfig::parse(i).to_value());
    };
    let mut h = HealthConfig::parse(&u);
    if let Some(i) = image.map(HealthConfig::parse) {
        if h.test.is_empty() {
            h.test = i.test;
        }
        for (mine, theirs) in [
            (&mut h.interval, i.interval),
            (&mut h.timeout, i.timeout),
            (&mut h.start_period, i.start_period),
            (&mut h.start_interval, i.start_interval),
            (&mut h.retries, i.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }
    Some(h.to_value())
}

/// Go's `time.Duration.String()` (`500ms`, `1.5s`, `1m30s`), as dockerd
/// prints the timeout.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64| {
        let (w, f) = (v / unit, v % unit);
        if f == 0 {
            w.to_string()
        } else {
            let digits = unit.ilog10();
            let s = format!("{w}.{f:0width$}", width = digits as usize);
            s.trim_end_matches('0').to_string()
        }
    };
    let s = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let (h, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
        let sec = format!("{}s", frac(rest, 1_000_000_000));
        if h > 0 {
            format!("{h}h{m}m{sec}")
        } else if m > 0 {
            format!("{m}m{sec}")
        } else {
            sec
        }
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

/// A container's probe task: its generation and the sender whose drop
/// stops it.
#[derive(Default)]
pub struct HealthCtl {
    gen: u64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Called from the start path's record update: a container with a probe
/// gets `starting`, a failing streak of 0 (its log is kept). Returns
/// whether it has a probe to run.
pub(crate) fn reset_for_start(r: &mut Record) -> bool {
    if probe_of(r).is_none() {
        return false;
    }
    let h = r.state.health.get_or_insert_with(Health::default);
    h.status = "starting".into();
    h.failing_streak = 0;
    true
}

fn probe_of(r: &Record) -> Option<(HealthConfig, Vec<String>)> {
    let h = HealthConfig::parse(r.config.healthcheck.as_ref()?);
    let cmd = h.probe_cmd(r.config.shell.as_deref())?;
    Some((h, cmd))
}

/// Output cut at [`MAX_OUTPUT`] bytes.
#[derive(Default)]
struct Limited {
    buf: Vec<u8>,
    cut: bool,
}

impl Limited {
    fn push(&mut self, b: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&b[..room.min(b.len())]);
        if b.len() > room {
            self.cut = true;
        }
    }
    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.cut {
            s.push_str("...");
        }
        s
    }
}

/// Reads the monitor's frames into `out` until the exit frame (its code)
/// or the end of the connection (None).
async fn read_frames(
    r: &mut tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    out: &mut Limited,
) -> Option<i64> {
    let mut hdr = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        r.read_exact(&mut hdr).await.ok()?;
        let len = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
        buf.resize(len, 0);
        r.read_exact(&mut buf).await.ok()?;
        if hdr[0] == FRAME_EXIT {
            return String::from_utf8_lossy(&buf).trim().parse().ok();
        }
        out.push(&buf);
    }
}

/// Removes a probe's exec record when the probe is over.
struct ExecRecord<'a> {
    engine: &'a Engine,
    id: String,
}

impl Drop for ExecRecord<'_> {
    fn drop(&mut self) {
        self.engine.execs.lock().expect("execs").remove(&self.id);
    }
}

enum End {
    Exited(Option<i64>),
    TimedOut,
    Cancelled,
}

impl Engine {
    /// Starts the container's probe task unless one runs (after a start
    /// or an unpause; nothing without a healthcheck).
    pub(crate) fn health_open(&self, c: &Arc<Container>) {
        if probe_of(&c.get()).is_none() {
            return;
        }
        let mut ctl = c.health.lock().expect("health");
        if ctl.stop.is_some() {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        ctl.gen += 1;
        ctl.stop = Some(tx);
        let (engine, c2, gen) = (self.arc(), c.clone(), ctl.gen);
        tokio::spawn(async move { engine.health_monitor(c2, gen, rx).await });
    }

    /// Stops the container's probe task (exit, pause, removal); its status
    /// then reads `unhealthy`, as dockerd's does. The caller saves the
    /// record (or not).
    pub(crate) fn health_close(&self, c: &Container) {
        let mut ctl = c.health.lock().expect("health");
        if ctl.stop.take().is_some() {
            ctl.gen += 1;
            if let Some(h) = c.rec.lock().expect("record lock").state.health.as_mut() {
                h.status = "unhealthy".into();
            }
        }
    }

    async fn health_monitor(
        self: Arc<Self>,
        c: Arc<Container>,
        gen: u64,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let rec = c.get();
        let Some((cfg, cmd)) = probe_of(&rec) else {
            return;
        };
        let started = rec.state.started_ns;
        let interval = HealthConfig::or_default(cfg.interval, DEFAULT_INTERVAL);
        let start_interval = HealthConfig::or_default(cfg.start_interval, DEFAULT_START_INTERVAL);
        let timeout = HealthConfig::or_default(cfg.timeout, DEFAULT_TIMEOUT);
        let next = |c: &Container| -> i64 {
            let elapsed = (util::now_ns() - started) as i64;
            if elapsed >= cfg.start_period {
                return interval;
            }
            let left = cfg.start_period - elapsed;
            if left < interval {
                return left;
            }
            let starting = c
                .rec
                .lock()
                .expect("record lock")
                .state
                .health
                .as_ref()
                .is_some_and(|h| h.status == "starting");
            if starting {
                start_interval
            } else {
                interval
            }
        };
        loop {
            let wait = Duration::from_nanos(next(&c).max(0) as u64);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let start_ns = util::now_ns();
            let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
            let probe = self.probe(&c, &cmd, timeout, cancel_rx);
            tokio::pin!(probe);
            let res = tokio::select! {
                r = &mut probe => r,
                _ = &mut stop => {
                    // Stopped while probing: the probe is killed and waited
                    // for, so that dying probes do not pile up.
                    let _ = cancel_tx.send(());
                    let _ = probe.await;
                    return;
                }
            };
            let (exit_code, output) = res;
            self.health_result(&c, &cfg, gen, start_ns, util::now_ns(), exit_code, output);
        }
    }

    /// One probe: an exec of `cmd` in the container, bounded by
    /// `timeout_ns`, killed when `cancel` fires. Returns (exit code,
    /// output).
    async fn probe(
        &self,
        c: &Arc<Container>,
        cmd: &[String],
        timeout_ns: i64,
        mut cancel: tokio::sync::oneshot::Receiver<()>,
    ) -> (i64, String) {
        let rec = c.get();
        if rec.state.status != Status::Running {
            return (-1, format!("container {} is not running", c.id));
        }
        let eid = berth_types::new_id();
        let entry = Arc::new(Mutex::new(ExecEntry {
            container: c.clone(),
            cfg: ExecConfig {
                cmd: Some(cmd.to_vec()),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
            running: false,
            started: true,
            exit_code: None,
            pid: 0,
        }));
        self.execs
            .lock()
            .expect("execs")
            .insert(eid.clone(), entry.clone());
        let _record = ExecRecord {
            engine: self,
            id: eid.clone(),
        };
        self.event(
            c,
            &format!("exec_create: {}", cmd.join(" ")),
            &[("execID", eid.clone())],
        );
        let base: Value = std::fs::read(bundle::bundle_dir(&c.run_dir).join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let process = match bundle::exec_process(&rec, &base, cmd, &[], "", "", false, false) {
            Ok(p) => p,
            Err(e) => {
                self.exec_done(&eid, &entry, Some(126));
                return (-1, e.message);
            }
        };
        let pending = crate::session::PendingExec {
            req: Request::Exec {
                exec_id: eid.clone(),
                process,
                stdin: false,
                console_size: None,
            },
            sock: monitor::socket(&c.run_dir),
        };
        let conn = match tokio::time::timeout(START_BOUND, self.exec_launch(&eid, &entry, pending))
            .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(msg)) => {
                self.exec_done(&eid, &entry, None);
                return (-1, msg);
            }
            Err(_) => {
                self.exec_done(&eid, &entry, None);
                return (
                    -1,
                    format!("timed out starting health check for container {}", c.id),
                );
            }
        };
        let pid = entry.lock().expect("exec").pid;
        // A handle on the probe process taken while the monitor (its
        // parent) cannot have reaped it unseen: the kill on timeout cannot
        // reach a reused PID.
        let pidfd = rustix::process::Pid::from_raw(pid as i32).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        let monitor::Conn { r: mut mr, w: _mw } = conn;
        let mut out = Limited::default();
        let timeout = Duration::from_nanos(timeout_ns.max(0) as u64);
        let (end, code) = {
            let read = read_frames(&mut mr, &mut out);
            tokio::pin!(read);
            let end = tokio::select! {
                c = &mut read => End::Exited(c),
                _ = tokio::time::sleep(timeout) => End::TimedOut,
                _ = &mut cancel => End::Cancelled,
            };
            match end {
                End::Exited(code) => (End::Exited(code), code),
                other => {
                    if let Some(fd) = &pidfd {
                        let _ =
                            rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL);
                    }
                    let code = tokio::time::timeout(KILL_WAIT, &mut read)
                        .await
                        .ok()
                        .flatten();
                    (other, Some(code.unwrap_or(137)))
                }
            }
        };
        self.exec_done(&eid, &entry, code);
        let text = out.text();
        match end {
            End::Exited(Some(code)) => (code, text),
            End::Exited(None) => (-1, "the probe's monitor connection ended".into()),
            End::TimedOut | End::Cancelled => {
                let d = go_duration(timeout_ns);
                let msg = if text.is_empty() {
                    format!("Health check exceeded timeout ({d})")
                } else {
                    format!("Health check exceeded timeout ({d}): {text}")
                };
                (-1, msg)
            }
        }
    }

    /// Records a probe's result as dockerd's `handleProbeResult` does and
    /// publishes `health_status: <status>` when the status changes.
    #[allow(clippy::too_many_arguments)]
    fn health_result(
        &self,
        c: &Container,
        cfg: &HealthConfig,
        gen: u64,
        start_ns: i128,
        end_ns: i128,
        exit_code: i64,
        output: String,
    ) {
        let changed = {
            let ctl = c.health.lock().expect("health");
            if ctl.gen != gen || ctl.stop.is_none() {
                // Stopped meanwhile: the result is dropped.
                return;
            }
            let mut r = c.rec.lock().expect("record lock");
            let started = r.state.started_ns;
            let h = r.state.health.get_or_insert_with(Health::default);
            let old = h.status.clone();
            h.log.push(HealthcheckResult {
                start: util::rfc3339_nano(start_ns),
                end: util::rfc3339_nano(end_ns),
                exit_code,
                output,
            });
            if h.log.len() > MAX_LOG {
                let extra = h.log.len() - MAX_LOG;
                h.log.drain(..extra);
            }
            let retries = if cfg.retries <= 0 {
                DEFAULT_RETRIES
            } else {
                cfg.retries
            };
            if exit_code == 0 {
                h.failing_streak = 0;
                h.status = "healthy".into();
            } else {
                let in_start_period =
                    h.status == "starting" && ((start_ns - started) as i64) < cfg.start_period;
                if !in_start_period {
                    h.failing_streak += 1;
                    if h.failing_streak >= retries {
                        h.status = "unhealthy".into();
                    }
                }
            }
            (old != h.status).then(|| h.status.clone())
        };
        if let Some(status) = changed {
            self.event(c, &format!("health_status: {status}"), &[]);
        }
    }
}

/// `docker ps`'s suffix of `Up ...` for a running container's health:
/// `(healthy)`, `(unhealthy)`, `(health: starting)`; empty without one.
pub fn status_suffix(r: &Record) -> String {
    match r.state.health.as_ref().map(|h| h.status.as_str()) {
        None => String::new(),
        Some("starting") => " (health: starting)".into(),
        Some("") => " (unhealthy)".into(),
        Some(s) => format!(" ({s})"),
    }
}

/// The value `ps --filter health=` compares: the status, or `none`.
pub fn filter_value(r: &Record) -> &str {
    match r.state.health.as_ref().map(|h| h.status.as_str()) {
        None => "none",
        Some("") => "unhealthy",
        Some(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (200_000_000, "200ms"),
            (1_500_000, "1.5ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (30_000_000_000, "30s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
        ] {
            assert_eq!(go_duration(ns), s, "{ns}");
        }
    }

    #[test]
    fn merge_and_validate_as_dockerd() {
        let img = json!({"Test": ["CMD", "true"], "Interval": 5_000_000_000_i64, "Retries": 2});
        assert_eq!(merge(None, Some(&img)), Some(img.clone()));
        assert_eq!(
            merge(Some(json!({"Timeout": 1_000_000_000})), Some(&img)),
            Some(
                json!({"Test": ["CMD", "true"], "Interval": 5_000_000_000_i64,
                "Timeout": 1_000_000_000, "Retries": 2})
            )
        );
        assert_eq!(
            merge(Some(json!({"Test": ["NONE"]})), Some(&img)),
            Some(json!({"Test": ["NONE"], "Interval": 5_000_000_000_i64, "Retries": 2}))
        );
        assert_eq!(
            merge(
                Some(json!({"Test": ["CMD-SHELL", "x"], "Interval": 0})),
                None
            ),
            Some(json!({"Test": ["CMD-SHELL", "x"]}))
        );
        assert_eq!(merge(None, None), None);
        for (v, e) in [
            (
                json!({"Interval": 500_000}),
                "Interval in Healthcheck cannot be less than 1ms",
            ),
            (
                json!({"Timeout": -1}),
                "Timeout in Healthcheck cannot be less than 1ms",
            ),
            (
                json!({"Retries": -1}),
                "Retries in Healthcheck cannot be negative",
            ),
            (
                json!({"StartPeriod": 10}),
                "StartPeriod in Healthcheck cannot be less than 1ms",
            ),
            (
                json!({"StartInterval": 10}),
                "StartInterval in Healthcheck cannot be less than 1ms",
            ),
        ] {
            assert_eq!(validate(Some(&v)).unwrap_err().message, e);
        }
        assert!(validate(Some(&json!({"Interval": 1_000_000, "Retries": 0}))).is_ok());
    }

    #[test]
    fn probe_commands() {
        let p = |v: Value, shell: Option<&[String]>| HealthConfig::parse(&v).probe_cmd(shell);
        assert_eq!(
            p(json!({"Test": ["CMD-SHELL", "true"]}), None),
            Some(vec!["/bin/sh".into(), "-c".into(), "true".into()])
        );
        let bash = vec!["/bin/bash".to_string(), "-ec".to_string()];
        assert_eq!(
            p(json!({"Test": ["CMD-SHELL", "x"]}), Some(&bash)),
            Some(vec!["/bin/bash".into(), "-ec".into(), "x".into()])
        );
        assert_eq!(
            p(json!({"Test": ["CMD", "cat", "/f"]}), None),
            Some(vec!["cat".into(), "/f".into()])
        );
        for v in [
            json!({"Test": ["NONE"]}),
            json!({"Test": []}),
            json!({"Test": ["CMD"]}),
            json!({"Test": ["FOO", "x"]}),
            json!({}),
        ] {
            assert_eq!(p(v.clone(), None), None, "{v}");
        }
    }

    #[test]
    fn output_is_cut_at_4096() {
        let mut l = Limited::default();
        l.push(&[b'a'; 4000]);
        l.push(&[b'b'; 200]);
        let t = l.text();
        assert_eq!(t.len(), 4096 + 3);
        assert!(t.ends_with("bb..."));
        let mut l = Limited::default();
        l.push(b"ok\n");
        assert_eq!(l.text(), "ok\n");
    }
}
