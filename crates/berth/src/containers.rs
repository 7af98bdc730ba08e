//! Container commands: run, create, start, attach, exec, ps, logs, wait,
//! stop/restart/kill, rm, pause/unpause, rename, top, container prune.

use std::io::IsTerminal;

use berth_client::{qs, Client};
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

use berth_api::models;

use crate::cli::*;
use crate::fmt as f;
use crate::stream::{pump, Outcome};
use crate::term;
use crate::{out, CmdResult, Fail};

/// The lines of a `--env-file` / `--label-file`, as the docker CLI reads
/// them: leading whitespace trimmed, blank lines and `#` comments skipped.
/// Errors: `open FILE: <reason>` when it cannot be read.
fn key_value_lines(file: &str) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("open {file}: {}", io_text(&e)))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `-e`/`--env-file` to the API's `Env` list: `KEY=VAL` kept, a bare
/// `KEY` takes the local value (dropped when unset), env-file lines that
/// are blank or start with `#` are skipped. Errors with docker's texts.
pub fn build_env(env: &[String], files: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut push = |kv: &str| {
        if kv.contains('=') {
            out.push(kv.to_string());
        } else if let Ok(v) = std::env::var(kv) {
            out.push(format!("{kv}={v}"));
        }
    };
    for file in files {
        for line in key_value_lines(file)? {
            let key = line.split('=').next().unwrap_or("");
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!("variable '{key}' contains whitespaces"));
            }
            push(&line);
        }
    }
    for e in env {
        if e.starts_with('=') {
            return Err(format!("invalid environment variable: {e}"));
        }
        push(e);
    }
    Ok(out)
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// docker's `validDeviceMode`: one to three of `r`, `w`, `m`, none twice.
fn valid_device_mode(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 3
        && m.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
        && !m
            .bytes()
            .enumerate()
            .any(|(i, b)| m[i + 1..].contains(b as char))
}

/// A CDI device name (`vendor.com/class=name`), which `--device` sends as
/// a `cdi` device request instead of a device mapping.
fn is_cdi_name(s: &str) -> bool {
    let Some((kind, name)) = s.split_once('=') else {
        return false;
    };
    let Some((vendor, class)) = kind.split_once('/') else {
        return false;
    };
    let edge_ok = |p: &str| {
        p.len() >= 2
            && p.starts_with(|c: char| c.is_ascii_alphabetic())
            && p.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    edge_ok(vendor)
        && vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && edge_ok(class)
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// `--device PathOnHost[:PathInContainer][:perms]` as the docker CLI
/// checks (`validateLinuxPath`) and then splits it (`parseLinuxDevice`):
/// the container path must be absolute, perms default to `rwm`, a path
/// given alone is cleaned and used for both sides.
pub fn parse_device(spec: &str) -> Result<models::DeviceMapping, String> {
    let bad = || format!("bad format for path: {spec}");
    if spec.matches(':').count() > 2 {
        return Err(bad());
    }
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(bad());
    }
    let not_abs = |p: &str| format!("{p} is not an absolute path");
    let (host, ctr, perms) = match parts[..] {
        [p] => {
            if !p.starts_with('/') {
                return Err(not_abs(p));
            }
            let p = crate::cp::clean(p);
            (p.clone(), p, "rwm".to_string())
        }
        [p, m] if valid_device_mode(m) => {
            if !p.starts_with('/') {
                return Err(not_abs(p));
            }
            let p = crate::cp::clean(p);
            (p.clone(), p, m.to_string())
        }
        [h, c] => {
            if !c.starts_with('/') {
                return Err(not_abs(c));
            }
            (h.to_string(), crate::cp::clean(c), "rwm".to_string())
        }
        [h, c, m] => {
            if !valid_device_mode(m) {
                return Err(format!("bad mode specified: {m}"));
            }
            if !c.starts_with('/') {
                return Err(not_abs(c));
            }
            (h.to_string(), c.to_string(), m.to_string())
        }
        _ => return Err(bad()),
    };
    Ok(models::DeviceMapping {
        path_on_host: host,
        path_in_container: ctr,
        cgroup_permissions: perms,
    })
}

/// Labels from `--label-file` (each line `KEY=VALUE`; blank lines, `#`
/// comments and lines without `=` skipped, as docker's kvfile parser
/// without a lookup) and then `-l` (a bare `KEY` is an empty value); a
/// later label of the same name wins.
pub fn build_labels(
    labels: &[String],
    files: &[String],
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for file in files {
        for line in key_value_lines(file)? {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.contains(char::is_whitespace) {
                return Err(format!(
                    "invalid env file ({file}): variable '{k}' contains whitespaces"
                ));
            }
            out.insert(k.to_string(), v.to_string());
        }
    }
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `Config.Healthcheck` as the docker CLI builds it: `--no-healthcheck`
/// is `{"Test": ["NONE"]}` (and conflicts with every `--health-*`);
/// otherwise any `--health-*` gives `CMD-SHELL` for `--health-cmd` and
/// the durations in nanoseconds, fields at zero left out.
pub fn healthcheck(a: &RunArgs) -> Result<Option<Value>, String> {
    let interval = a.health_interval.unwrap_or(0);
    let timeout = a.health_timeout.unwrap_or(0);
    let start_period = a.health_start_period.unwrap_or(0);
    let start_interval = a.health_start_interval.unwrap_or(0);
    let retries = a.health_retries.unwrap_or(0);
    let cmd = a.health_cmd.clone().unwrap_or_default();
    let any = !cmd.is_empty()
        || interval != 0
        || timeout != 0
        || start_period != 0
        || retries != 0
        || start_interval != 0;
    if a.no_healthcheck {
        if any {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        return Ok(Some(json!({"Test": ["NONE"]})));
    }
    if !any {
        return Ok(None);
    }
    for (v, flag) in [
        (interval, "--health-interval"),
        (timeout, "--health-timeout"),
        (retries, "--health-retries"),
        (start_period, "--health-start-period"),
        (start_interval, "--health-start-interval"),
    ] {
        if v < 0 {
            return Err(format!("{flag} cannot be negative"));
        }
    }
    let mut h = Map::new();
    if !cmd.is_empty() {
        h.insert("Test".into(), json!(["CMD-SHELL", cmd]));
    }
    for (k, v) in [
        ("Interval", interval),
        ("Timeout", timeout),
        ("StartPeriod", start_period),
        ("StartInterval", start_interval),
        ("Retries", retries),
    ] {
        if v != 0 {
            h.insert(k.into(), json!(v));
        }
    }
    Ok(Some(Value::Object(h)))
}

/// The namespace modes the docker CLI checks itself (`--ipc` is left to
/// the daemon, as docker does).
fn check_namespace_modes(a: &RunArgs) -> Result<(), String> {
    let pid = a.pid.as_deref().unwrap_or("");
    let pid_ok = match pid.split_once(':') {
        Some((k, v)) => k == "container" && !v.is_empty(),
        None => pid.is_empty() || pid == "host",
    };
    if !pid_ok {
        return Err("--pid: invalid PID mode".into());
    }
    if !matches!(a.uts.as_deref().unwrap_or(""), "" | "host") {
        return Err("--uts: invalid UTS mode".into());
    }
    if !matches!(a.userns.as_deref().unwrap_or(""), "" | "host") {
        return Err("--userns: invalid USER mode".into());
    }
    if !matches!(a.cgroupns.as_deref().unwrap_or(""), "" | "host" | "private") {
        return Err("--cgroupns: invalid CGROUP mode".into());
    }
    Ok(())
}

/// Builds the `POST /containers/create` body (Config + HostConfig) from
/// run/create flags. Errors are docker's messages for bad values.
pub fn create_body(a: &RunArgs) -> Result<Value, String> {
    let attach_default = !a.detach;
    let mut attach_stdin = a.interactive && !a.detach;
    let (mut out_, mut err_) = (attach_default, attach_default);
    if !a.attach.is_empty() {
        attach_stdin = false;
        out_ = false;
        err_ = false;
        for s in &a.attach {
            match s.to_ascii_lowercase().as_str() {
                "stdin" => attach_stdin = true,
                "stdout" => out_ = true,
                "stderr" => err_ = true,
                _ => return Err(format!("invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR")),
            }
        }
    }
    let env = build_env(&a.env, &a.env_file)?;
    let labels = build_labels(&a.label, &a.label_file)?;
    check_namespace_modes(a)?;
    let healthcheck = healthcheck(a)?;
    let swappiness = a.memory_swappiness.unwrap_or(-1);
    if swappiness != -1 && !(0..=100).contains(&swappiness) {
        return Err(format!(
            "invalid value: {swappiness}. Valid memory swappiness range is 0-100"
        ));
    }
    let log_driver = a.log_driver.clone().unwrap_or_default();
    if log_driver == "none" && !a.log_opt.is_empty() {
        return Err(format!("invalid logging opts for driver {log_driver}"));
    }
    let log_opts = a
        .log_opt
        .iter()
        .map(|o| {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let (mut devices, mut cdi) = (Vec::new(), Vec::new());
    for d in &a.device {
        if is_cdi_name(d) {
            cdi.push(d.clone());
        } else {
            devices.push(parse_device(d)?);
        }
    }
    // one per name, the last given, in name order (docker's UlimitOpt)
    let ulimits: std::collections::BTreeMap<String, models::Ulimit> = a
        .ulimit
        .iter()
        .map(|u| (u.name.clone(), u.clone()))
        .collect();
    let sysctls: std::collections::BTreeMap<String, String> = a
        .sysctl
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let (exposed, bindings) = crate::net::port_maps(&a.publish, &a.expose)?;
    let (network_mode, endpoints) = crate::net::endpoints(a)?;
    let config = models::ContainerConfig {
        image: a.image.clone(),
        hostname: a.hostname.clone().unwrap_or_default(),
        domainname: a.domainname.clone().unwrap_or_default(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        user: a.user.clone().unwrap_or_default(),
        attach_stdin,
        attach_stdout: out_,
        attach_stderr: err_,
        tty: a.tty,
        open_stdin: a.interactive,
        stdin_once: a.interactive && attach_stdin,
        env,
        cmd: (!a.command.is_empty()).then(|| a.command.clone()),
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        working_dir: a.workdir.clone().unwrap_or_default(),
        labels,
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        healthcheck,
        ..Default::default()
    };
    let memory = match &a.memory {
        Some(m) => f::parse_ram(m)
            .map_err(|e| format!("invalid argument \"{m}\" for \"-m, --memory\" flag: {e}"))?,
        None => 0,
    };
    let restart_policy = match &a.restart {
        Some(r) => {
            let (name, n) = r.split_once(':').unwrap_or((r, "0"));
            let n: i64 = n.parse().map_err(|_| {
                format!(
                    "invalid restart policy format: maximum retry count must be an integer: {r}"
                )
            })?;
            models::RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: n,
            }
        }
        None => models::RestartPolicy {
            name: "no".into(),
            ..Default::default()
        },
    };
    // like docker, give a TTY its size at creation (API 1.42+ ConsoleSize)
    // so the program does not start at 0x0 and get a SIGWINCH at once
    let console_size = if a.tty && std::io::stdout().is_terminal() {
        term::size().map(|(h, w)| [h as u32, w as u32])
    } else {
        None
    };
    let sec = crate::secopt::parse(&a.security_opt)?;
    let host_config = models::HostConfig {
        console_size,
        security_opt: sec.security_opt,
        masked_paths: sec.system_paths.clone(),
        readonly_paths: sec.system_paths,
        binds: a.volume.iter().map(|v| crate::cli::abs_bind(v)).collect(),
        mounts: a.mount.clone(),
        network_mode,
        port_bindings: Some(bindings),
        publish_all_ports: a.publish_all,
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        extra_hosts: a.add_host.clone(),
        auto_remove: a.rm,
        privileged: a.privileged,
        readonly_rootfs: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        memory,
        nano_cpus: a.cpus.map(|c| (c * 1e9).round() as i64).unwrap_or(0),
        pids_limit: a.pids_limit,
        init: a.init.then_some(true),
        tmpfs: (!a.tmpfs.is_empty()).then(|| {
            a.tmpfs
                .iter()
                .map(|t| {
                    let (p, o) = t.split_once(':').unwrap_or((t, ""));
                    (p.to_string(), o.to_string())
                })
                .collect()
        }),
        restart_policy,
        container_id_file: a.cidfile.clone().unwrap_or_default(),
        log_config: models::LogConfig {
            kind: log_driver,
            config: log_opts,
        },
        volumes_from: a.volumes_from.clone(),
        cgroupns_mode: a.cgroupns.clone().unwrap_or_default(),
        group_add: a.group_add.clone(),
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        oom_score_adj: a.oom_score_adj.unwrap_or(0),
        pid_mode: a.pid.clone().unwrap_or_default(),
        uts_mode: a.uts.clone().unwrap_or_default(),
        userns_mode: a.userns.clone().unwrap_or_default(),
        shm_size: a.shm_size.unwrap_or(0),
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cgroup_parent: a.cgroup_parent.clone().unwrap_or_default(),
        blkio_weight: a.blkio_weight.map(i64::from).unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        devices,
        memory_reservation: a.memory_reservation.unwrap_or(0),
        memory_swap: a.memory_swap.unwrap_or(0),
        // docker sends both always (-1: the daemon's default swappiness)
        memory_swappiness: Some(swappiness),
        oom_kill_disable: Some(a.oom_kill_disable),
        ulimits: ulimits.into_values().collect(),
        ..Default::default()
    };
    let req = models::ContainerCreateRequest {
        config,
        host_config,
        networking_config: models::NetworkingConfig {
            endpoints_config: endpoints.into_iter().collect(),
        },
    };
    let mut body = serde_json::to_value(&req).map_err(|e| e.to_string())?;
    // HostConfig fields berth-api's model does not carry (yet), sent as
    // the docker CLI sends them
    let hc = &mut body["HostConfig"];
    if !a.device_cgroup_rule.is_empty() {
        hc["DeviceCgroupRules"] = json!(a.device_cgroup_rule);
    }
    if !cdi.is_empty() {
        hc["DeviceRequests"] = json!([{"Driver": "cdi", "Count": 0, "DeviceIDs": cdi,
            "Capabilities": null, "Options": null}]);
    }
    Ok(body)
}

/// The pull `run`/`create` do (`--pull always`, or `missing` when the
/// image is not there): progress on stderr, as docker shows it, nothing
/// with `-q`; a failure is a run error (exit 125).
async fn pull_for_run(
    c: &mut Client,
    r: &crate::registry::Reference,
    a: &RunArgs,
) -> Result<(), Fail> {
    crate::registry::pull_stream(c, r, false, a.platform.as_deref(), true, a.quiet)
        .await
        .map_err(|f| Fail {
            msg: f.msg,
            code: 125,
        })
}

/// `POST /containers/create?name=`; prints nothing, returns the ID and
/// the daemon's warnings (printed to stderr as docker does).
async fn create(c: &mut Client, a: &RunArgs) -> Result<(String, Value), Fail> {
    if a.rm && a.restart.as_deref().is_some_and(|r| r != "no") {
        return Err(Fail {
            msg: Some("conflicting options: cannot specify both --restart and --rm".into()),
            code: 125,
        });
    }
    let body = create_body(a).map_err(|m| Fail {
        msg: Some(m),
        code: 125,
    })?;
    let fail125 = |m: String| Fail {
        msg: Some(m),
        code: 125,
    };
    if !matches!(a.pull.as_str(), "always" | "missing" | "never") {
        return Err(fail125(format!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            a.pull
        )));
    }
    // docker: the ID file is made before any pull or request, and removed
    // again unless an ID was written to it
    let cidfile = CidFile::create(a.cidfile.as_deref()).map_err(fail125)?;
    // docker: the image reference is parsed (and normalized) before
    // anything is sent; a digest-only ID is not a reference
    let named = crate::registry::Reference::parse(&a.image)
        .ok()
        .map(|mut r| {
            if r.tag.is_none() && r.digest.is_none() {
                r.tag = Some("latest".into());
            }
            r
        });
    if a.pull == "always" {
        if let Some(r) = &named {
            pull_for_run(c, r, a).await?;
        }
    }
    let mut q = Vec::new();
    if let Some(n) = &a.name {
        q.push(format!("name={}", qs(n)));
    }
    if let Some(p) = a.platform.as_deref().filter(|p| !p.is_empty()) {
        q.push(format!("platform={}", qs(p)));
    }
    let path = if q.is_empty() {
        "/containers/create".to_string()
    } else {
        format!("/containers/create?{}", q.join("&"))
    };
    let resp: Value = match c.post_json(&path, &body).await {
        Ok(v) => v,
        Err(e) if e.status() == Some(404) && a.pull == "missing" && named.is_some() => {
            let r = named.clone().expect("named");
            if !a.quiet {
                eprintln!("Unable to find image '{}' locally", r.familiar());
            }
            pull_for_run(c, &r, a).await?;
            c.post_json(&path, &body)
                .await
                .map_err(|e| fail125(e.to_string()))?
        }
        Err(e) => {
            return Err(Fail {
                msg: Some(e.to_string()),
                code: 125,
            })
        }
    };
    if let Some(w) = resp["Warnings"].as_array() {
        for w in w.iter().filter_map(|w| w.as_str()) {
            eprintln!("WARNING: {w}");
        }
    }
    let id = resp["Id"].as_str().unwrap_or_default().to_string();
    if let Some(cidfile) = cidfile {
        cidfile.write(&id).map_err(fail125)?;
    }
    Ok((id, body))
}

/// `--cidfile`: created empty before the container is (an existing file
/// is docker's "container ID file found" error), the ID written after;
/// dropped without an ID (a failed create), the file is removed.
struct CidFile {
    path: String,
    file: Option<std::fs::File>,
}

/// The messages of a `--cidfile` failure, which `create` reports as
/// plain errors (status 1) and `run` as `docker: ...` (125).
const CIDFILE_ERRORS: [&str; 3] = [
    "container ID file found",
    "failed to create the container ID file",
    "failed to write the container ID to the file",
];

impl CidFile {
    fn create(path: Option<&str>) -> Result<Option<CidFile>, String> {
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(format!(
                "container ID file found, make sure the other container isn't running or delete {path}"
            ));
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| {
                format!(
                    "failed to create the container ID file: open {path}: {}",
                    io_text(&e)
                )
            })?;
        Ok(Some(CidFile {
            path: path.to_string(),
            file: Some(file),
        }))
    }

    fn write(mut self, id: &str) -> Result<(), String> {
        use std::io::Write;
        let mut f = self.file.take().expect("open until written");
        f.write_all(id.as_bytes()).map_err(|e| {
            let _ = std::fs::remove_file(&self.path);
            format!(
                "failed to write the container ID to the file: write {}: {}",
                self.path,
                io_text(&e)
            )
        })
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `berth create`: prints the new container's full ID.
/// Daemon errors are docker's plain `Error response from daemon: ...`
/// with status 1 here (only `run` reports them as `docker: ...`, 125);
/// flag errors stay 125.
pub async fn create_cmd(c: &mut Client, a: RunArgs) -> CmdResult {
    let (id, _) = create(c, &a).await.map_err(|f| match f.msg {
        Some(m)
            if f.code == 125
                && (m.starts_with("Error response from daemon")
                    || CIDFILE_ERRORS.iter().any(|p| m.starts_with(p))) =>
        {
            Fail::msg(m)
        }
        msg => Fail { msg, code: f.code },
    })?;
    out(&format!("{id}\n"));
    Ok(())
}

/// Maps a start error to docker's run exit status (its
/// `runStartContainerErr`): 127 when the command was not found ("executable
/// file not found", "no such file or directory"), 126 when it could not be
/// invoked (EACCES "permission denied", EISDIR "is a directory"), else 125
/// (e.g. "network x not found").
pub fn start_error_code(msg: &str) -> i32 {
    let m = msg.trim_start_matches("Error response from daemon: ");
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("system cannot find the file specified")
    {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        125
    }
}

async fn wait_registered(
    c: &Client,
    id: &str,
    condition: &str,
) -> tokio::task::JoinHandle<Result<Value, berth_client::Error>> {
    let mut wc = c.sibling();
    let path = format!("/containers/{id}/wait?condition={condition}");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        let body = wc
            .request(
                hyper_method_post(),
                &path,
                berth_client::ReqBody::empty(),
                None,
            )
            .await;
        let _ = tx.send(());
        body?.json::<Value>().await
    });
    // docker's daemon sends the wait's headers at once: proceed when they
    // arrive (the wait is registered), or after a short bound if a daemon
    // holds them until the exit.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), rx).await;
    h
}

fn hyper_method_post() -> berth_client::Method {
    berth_client::Method::POST
}

/// `POST /exec/{id}/start`'s body (berth-api's `ExecStartConfig`).
fn start_body(detach: bool, tty: bool, console_size: Option<[u32; 2]>) -> Result<Value, Fail> {
    let b = models::ExecStartConfig {
        detach,
        tty,
        console_size,
    };
    serde_json::to_value(&b).map_err(|e| Fail::msg(e.to_string()))
}

/// The exit code of a `POST /containers/{id}/wait` answer (berth-api's
/// `WaitResponse`); a wait error becomes a failure with status 125.
fn wait_code(v: &Value) -> Result<i32, Fail> {
    let w: models::WaitResponse =
        serde_json::from_value(v.clone()).map_err(|e| Fail::msg(e.to_string()))?;
    if let Some(m) = w.error.map(|e| e.message).filter(|m| !m.is_empty()) {
        return Err(Fail {
            msg: Some(m),
            code: 125,
        });
    }
    Ok(w.status_code as i32)
}

async fn resize(c: &mut Client, kind: &str, id: &str) {
    if let Some((h, w)) = term::size() {
        let _ = c
            .post(&format!("/{kind}/{id}/resize?h={h}&w={w}"), None)
            .await;
    }
}

/// Forwards SIGWINCH as `POST /{containers|exec}/{id}/resize` and (with
/// `proxy`) SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 as
/// `POST /containers/{id}/kill?signal=N`, until the task is aborted.
fn spawn_signal_tasks(
    c: &Client,
    kind: &'static str,
    id: &str,
    tty: bool,
    proxy: bool,
    container: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut tasks = Vec::new();
    if tty {
        let mut rc = c.sibling();
        let id = id.to_string();
        if let Ok(mut s) = signal(SignalKind::window_change()) {
            tasks.push(tokio::spawn(async move {
                while s.recv().await.is_some() {
                    resize(&mut rc, kind, &id).await;
                }
            }));
        }
    }
    if proxy {
        for (num, kind_) in [
            (2, SignalKind::interrupt()),
            (15, SignalKind::terminate()),
            (1, SignalKind::hangup()),
            (3, SignalKind::quit()),
            (10, SignalKind::user_defined1()),
            (12, SignalKind::user_defined2()),
        ] {
            let mut kc = c.sibling();
            let cid = container.to_string();
            if let Ok(mut s) = signal(kind_) {
                tasks.push(tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        let _ = kc
                            .post(&format!("/containers/{cid}/kill?signal={num}"), None)
                            .await;
                    }
                }));
            }
        }
    }
    tasks
}

fn detach_keys(flag: &Option<String>) -> Result<Vec<u8>, Fail> {
    match flag {
        Some(k) => term::parse_detach_keys(k).map_err(|m| Fail {
            msg: Some(m),
            code: 125,
        }),
        None => Ok(term::DEFAULT_DETACH_KEYS.to_vec()),
    }
}

/// `berth run`: create; unless detached, attach (hijack) and register
/// the wait (condition `next-exit`, or `removed` with `--rm`) before
/// start; stream; exit with the container's code.
pub async fn run(c: &mut Client, a: RunArgs) -> CmdResult {
    let keys = detach_keys(&a.detach_keys)?;
    if a.tty && a.interactive && !std::io::stdin().is_terminal() {
        return Err(Fail {
            msg: Some("the input device is not a TTY".into()),
            code: 1,
        });
    }
    // docker's run maps what its create step fails with (the ID file's
    // errors among them) as a start error: 127 for "no such file or directory"
    let (id, body) = create(c, &a).await.map_err(|f| match f.msg {
        Some(m) if CIDFILE_ERRORS.iter().any(|p| m.starts_with(p)) => Fail {
            code: start_error_code(&m),
            msg: Some(m),
        },
        msg => Fail { msg, code: f.code },
    })?;
    if a.detach {
        if let Err(e) = c.post(&format!("/containers/{id}/start"), None).await {
            let m = e.to_string();
            return Err(Fail {
                code: start_error_code(&m),
                msg: Some(m),
            });
        }
        out(&format!("{id}\n"));
        return Ok(());
    }
    let (ai, ao, ae) = (
        body["AttachStdin"] == true,
        body["AttachStdout"] == true,
        body["AttachStderr"] == true,
    );
    let attached = ai || ao || ae;
    let mut conn = None;
    if attached {
        let path = format!(
            "/containers/{id}/attach?stream=1&stdin={}&stdout={}&stderr={}",
            ai as u8, ao as u8, ae as u8
        );
        conn = Some(c.hijack(&path, None).await.map_err(|e| Fail {
            msg: Some(e.to_string()),
            code: 125,
        })?);
    }
    let condition = if a.rm { "removed" } else { "next-exit" };
    let waiter = wait_registered(c, &id, condition).await;
    let mut sc = c.sibling();
    if let Err(e) = sc.post(&format!("/containers/{id}/start"), None).await {
        waiter.abort();
        let m = e.to_string();
        return Err(Fail {
            code: start_error_code(&m),
            msg: Some(m),
        });
    }
    let Some(conn) = conn else {
        let v = waiter.await.map_err(|e| Fail::msg(e.to_string()))??;
        return exit_with(wait_code(&v)?);
    };
    let raw = if a.tty && ai {
        Some(term::RawGuard::new())
    } else {
        None
    };
    if a.tty {
        resize(&mut sc, "containers", &id).await;
    }
    let sigs = spawn_signal_tasks(c, "containers", &id, a.tty, a.sig_proxy && !a.tty, &id);
    let res = pump(conn, a.tty, ai, Some(keys)).await;
    drop(raw);
    for t in sigs {
        t.abort();
    }
    match res {
        Ok(Outcome::Detached) => {
            waiter.abort();
            Ok(())
        }
        Ok(Outcome::Eof) | Err(_) => {
            let v = waiter.await.map_err(|e| Fail::msg(e.to_string()))??;
            exit_with(wait_code(&v)?)
        }
    }
}

fn exit_with(code: i32) -> CmdResult {
    if code == 0 {
        Ok(())
    } else {
        Err(Fail::code(code))
    }
}

/// `berth start [-a] [-i]`: plain start prints each name; with `-a` it
/// attaches first and exits with the container's code.
pub async fn start(c: &mut Client, a: StartArgs) -> CmdResult {
    if !(a.attach || a.interactive) {
        let mut failed = false;
        for n in &a.containers {
            match c.post(&format!("/containers/{}/start", qs(n)), None).await {
                Ok(_) => out(&format!("{n}\n")),
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                }
            }
        }
        if failed {
            return Err(Fail {
                msg: Some(
                    "Error: failed to start containers: ".to_string() + &a.containers.join(", "),
                ),
                code: 1,
            });
        }
        return Ok(());
    }
    if a.containers.len() > 1 {
        return Err(Fail::msg(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let keys = detach_keys(&a.detach_keys)?;
    let name = &a.containers[0];
    let info: Value = c
        .get_json(&format!("/containers/{}/json", qs(name)))
        .await?;
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    let tty = info["Config"]["Tty"] == true;
    let stdin = a.interactive && info["Config"]["OpenStdin"] == true;
    let path = format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1",
        stdin as u8
    );
    let conn = c.hijack(&path, None).await?;
    let auto_remove = info["HostConfig"]["AutoRemove"] == true;
    let waiter = wait_registered(c, &id, if auto_remove { "removed" } else { "next-exit" }).await;
    let mut sc = c.sibling();
    if let Err(e) = sc.post(&format!("/containers/{id}/start"), None).await {
        waiter.abort();
        return Err(e.into());
    }
    let raw = if tty && stdin {
        Some(term::RawGuard::new())
    } else {
        None
    };
    if tty {
        resize(&mut sc, "containers", &id).await;
    }
    let sigs = spawn_signal_tasks(c, "containers", &id, tty, !tty, &id);
    let res = pump(conn, tty, stdin, Some(keys)).await;
    drop(raw);
    for t in sigs {
        t.abort();
    }
    if let Ok(Outcome::Detached) = res {
        waiter.abort();
        return Ok(());
    }
    let v = waiter.await.map_err(|e| Fail::msg(e.to_string()))??;
    exit_with(wait_code(&v).map_err(|f| Fail { code: 1, ..f })?)
}

/// `berth attach`: hijack with stdin (if the container keeps it open and
/// `--no-stdin` is not given); exits with the container's code.
pub async fn attach(c: &mut Client, a: AttachArgs) -> CmdResult {
    let keys = detach_keys(&a.detach_keys)?;
    let info: Value = c
        .get_json(&format!("/containers/{}/json", qs(&a.container)))
        .await?;
    let id = info["Id"].as_str().unwrap_or(&a.container).to_string();
    if info["State"]["Running"] != true {
        return Err(Fail::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if info["State"]["Paused"] == true {
        return Err(Fail::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let tty = info["Config"]["Tty"] == true;
    let stdin = !a.no_stdin && info["Config"]["OpenStdin"] == true;
    if tty && stdin && !std::io::stdin().is_terminal() {
        return Err(Fail::msg("the input device is not a TTY"));
    }
    let path = format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1",
        stdin as u8
    );
    // like docker's attach, register a wait (condition not-running) so the
    // exit code is the daemon's answer, not a racy inspect after EOF
    let waiter = wait_registered(c, &id, "not-running").await;
    let conn = c.hijack(&path, None).await?;
    let raw = if tty && stdin {
        Some(term::RawGuard::new())
    } else {
        None
    };
    let mut sc = c.sibling();
    if tty {
        // docker resizes to (h+1, w+1) first so the program redraws
        if let Some((h, w)) = term::size() {
            let _ = sc
                .post(
                    &format!("/containers/{id}/resize?h={}&w={}", h + 1, w + 1),
                    None,
                )
                .await;
        }
        resize(&mut sc, "containers", &id).await;
    }
    let sigs = spawn_signal_tasks(c, "containers", &id, tty, a.sig_proxy && !tty, &id);
    let res = pump(conn, tty, stdin, Some(keys)).await;
    drop(raw);
    for t in sigs {
        t.abort();
    }
    if let Ok(Outcome::Detached) = res {
        waiter.abort();
        eprintln!("read escape sequence");
        return Err(Fail::code(1));
    }
    let v = waiter.await.map_err(|e| Fail::msg(e.to_string()))??;
    exit_with(wait_code(&v).map_err(|f| Fail { code: 1, ..f })?)
}

/// `berth exec`: `POST /containers/{id}/exec`, then `POST /exec/{id}/start`
/// (hijacked unless `-d`), then `GET /exec/{id}/json` for the exit code.
pub async fn exec(c: &mut Client, a: ExecArgs) -> CmdResult {
    let keys = detach_keys(&a.detach_keys)?;
    let env = build_env(&a.env, &a.env_file).map_err(Fail::msg)?;
    let console_size = if a.tty && std::io::stdout().is_terminal() {
        term::size().map(|(h, w)| [h as u32, w as u32])
    } else {
        None
    };
    if a.tty && a.interactive && !std::io::stdin().is_terminal() {
        return Err(Fail::msg("the input device is not a TTY"));
    }
    let cfg = models::ExecConfig {
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        tty: a.tty,
        privileged: a.privileged,
        cmd: Some(a.command.clone()),
        env,
        console_size,
        user: a.user.clone().unwrap_or_default(),
        working_dir: a.workdir.clone().unwrap_or_default(),
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
    };
    let body = serde_json::to_value(&cfg).map_err(|e| Fail::msg(e.to_string()))?;
    let created: Value = c
        .post_json(&format!("/containers/{}/exec", qs(&a.container)), &body)
        .await?;
    let eid = created["Id"].as_str().unwrap_or_default().to_string();
    if a.detach {
        c.post(
            &format!("/exec/{eid}/start"),
            Some(&start_body(true, a.tty, None)?),
        )
        .await?;
        return Ok(());
    }
    let mut sc = c.sibling();
    let conn = c
        .hijack(
            &format!("/exec/{eid}/start"),
            Some(&start_body(false, a.tty, console_size)?),
        )
        .await?;
    let raw = if a.tty && a.interactive {
        Some(term::RawGuard::new())
    } else {
        None
    };
    if a.tty {
        resize(&mut sc, "exec", &eid).await;
    }
    let sigs = spawn_signal_tasks(c, "exec", &eid, a.tty, false, &a.container);
    let res = pump(conn, a.tty, a.interactive, Some(keys)).await;
    drop(raw);
    for t in sigs {
        t.abort();
    }
    if let Ok(Outcome::Detached) = res {
        return Ok(());
    }
    let info: Value = sc.get_json(&format!("/exec/{eid}/json")).await?;
    exit_with(info["ExitCode"].as_i64().unwrap_or(0) as i32)
}

/// Docker's filter list `key=value` flags to the API's JSON
/// (`{"key":{"value":true}}`, as docker's client sends).
pub fn filters_json(flags: &[String]) -> Result<Option<String>, String> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut m: Map<String, Value> = Map::new();
    for fl in flags {
        let Some((k, v)) = fl.split_once('=') else {
            return Err(format!("invalid argument \"{fl}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"));
        };
        let e = m
            .entry(k.trim().to_lowercase())
            .or_insert_with(|| json!({}));
        e[v.trim()] = json!(true);
    }
    Ok(Some(Value::Object(m).to_string()))
}

/// One `ps` row: the fields docker's container format context exposes
/// (ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size,
/// Names, Labels, Mounts, Networks, LocalVolumes), all strings.
pub fn ps_row(c: &Value, trunc: bool, now: f64) -> Map<String, Value> {
    let mut r = Map::new();
    let id = c["Id"].as_str().unwrap_or("");
    r.insert(
        "ID".into(),
        json!(if trunc {
            f::trunc(id, 12)
        } else {
            id.to_string()
        }),
    );
    let mut image = c["Image"].as_str().unwrap_or("").to_string();
    if trunc {
        if let Some(h) = image.strip_prefix("sha256:") {
            image = f::trunc(h, 12);
        } else if let Some((name, _)) = image.split_once('@') {
            image = name.to_string();
        }
    }
    r.insert("Image".into(), json!(image));
    // docker ellipsises the command to 20 characters, then Go-quotes it
    let cmd = c["Command"].as_str().unwrap_or("");
    let cmd = if trunc {
        f::ellipsis(cmd, 20)
    } else {
        cmd.to_string()
    };
    r.insert("Command".into(), json!(f::go_quote(&cmd)));
    let created = c["Created"].as_i64().unwrap_or(0);
    r.insert("CreatedAt".into(), json!(f::go_time_string(created)));
    r.insert(
        "RunningFor".into(),
        json!(format!("{} ago", f::human_duration(now - created as f64))),
    );
    r.insert(
        "Ports".into(),
        json!(crate::net::displayable_ports(&c["Ports"])),
    );
    r.insert("State".into(), json!(c["State"].as_str().unwrap_or("")));
    r.insert("Status".into(), json!(c["Status"].as_str().unwrap_or("")));
    let size = match (c["SizeRw"].as_i64(), c["SizeRootFs"].as_i64()) {
        (Some(rw), Some(root)) => format!(
            "{} (virtual {})",
            f::human_size_prec(rw as f64, 3),
            f::human_size_prec(root as f64, 3)
        ),
        (Some(rw), None) => f::human_size_prec(rw as f64, 3),
        _ => "0B".into(),
    };
    r.insert("Size".into(), json!(size));
    let names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !trunc || !n.contains('/'))
        .collect();
    r.insert("Names".into(), json!(names.join(",")));
    let mut labels: Vec<String> = c["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    r.insert("Labels".into(), json!(labels.join(",")));
    f::with_labels(&mut r, &c["Labels"]);
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(m["Source"].as_str().unwrap_or(""))
                .to_string()
        })
        .map(|n| if trunc { f::ellipsis(&n, 15) } else { n })
        .collect();
    r.insert("Mounts".into(), json!(mounts.join(",")));
    let mut nets: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    nets.sort();
    r.insert("Networks".into(), json!(nets.join(",")));
    let vols = c["Mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["Driver"].as_str() == Some("local"))
                .count()
        })
        .unwrap_or(0);
    r.insert("LocalVolumes".into(), json!(vols.to_string()));
    r.insert("Platform".into(), Value::Null);
    r
}

/// Column titles of `ps` fields.
pub const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Platform", "PLATFORM"),
];

/// `berth ps`: `GET /containers/json?all=&limit=&size=&filters=`.
pub async fn ps(c: &mut Client, a: PsArgs) -> CmdResult {
    let mut q = vec![];
    let limit = if a.latest { 1 } else { a.last };
    if a.all || limit > 0 {
        q.push("all=1".to_string());
    }
    if limit > 0 {
        q.push(format!("limit={limit}"));
    }
    let fmt = f::ListFormat::from_flag(
        a.format.as_deref(),
        if a.size {
            "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
        } else {
            "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
        },
    );
    let wants_size = a.size || a.format.as_deref().is_some_and(|t| t.contains(".Size"));
    if wants_size {
        q.push("size=1".into());
    }
    if let Some(fj) = filters_json(&a.filter).map_err(|m| Fail {
        msg: Some(m),
        code: 125,
    })? {
        q.push(format!("filters={}", qs(&fj)));
    }
    let path = if q.is_empty() {
        "/containers/json".to_string()
    } else {
        format!("/containers/json?{}", q.join("&"))
    };
    let list: Vec<Value> = c.get_json(&path).await?;
    let now = f::now();
    if a.quiet {
        let mut s = String::new();
        for ct in &list {
            let id = ct["Id"].as_str().unwrap_or("");
            s.push_str(&if a.no_trunc {
                id.to_string()
            } else {
                f::trunc(id, 12)
            });
            s.push('\n');
        }
        out(&s);
        return Ok(());
    }
    let rows: Vec<_> = list.iter().map(|ct| ps_row(ct, !a.no_trunc, now)).collect();
    out(&f::print_list(&fmt, &rows, PS_HEADERS).map_err(Fail::msg)?);
    Ok(())
}

/// Splits one log line's docker timestamp prefix when `-t` is given
/// (kept as is: the daemon already writes RFC 3339 nano).
async fn copy_logs(body: &mut berth_client::Body, tty: bool) -> CmdResult {
    let mut demux = berth_client::stdcopy::Demuxer::new();
    let mut so = tokio::io::stdout();
    let mut se = tokio::io::stderr();
    while let Some(chunk) = body.chunk().await? {
        if tty {
            so.write_all(&chunk).await?;
            so.flush().await?;
            continue;
        }
        demux.push(&chunk);
        while let Some((k, p)) = demux.next_frame().map_err(|e| Fail::msg(e.to_string()))? {
            match k {
                berth_client::stdcopy::StreamKind::Stderr
                | berth_client::stdcopy::StreamKind::SystemErr => {
                    se.write_all(&p).await?;
                    se.flush().await?;
                }
                _ => {
                    so.write_all(&p).await?;
                    so.flush().await?;
                }
            }
        }
    }
    Ok(())
}

/// `berth logs`: `GET /containers/{id}/json` (for Tty), then
/// `GET /containers/{id}/logs?stdout=1&stderr=1&follow&tail&since&until&timestamps`.
pub async fn logs(c: &mut Client, a: LogsArgs) -> CmdResult {
    let info: Value = c
        .get_json(&format!("/containers/{}/json", qs(&a.container)))
        .await?;
    let id = info["Id"].as_str().unwrap_or(&a.container).to_string();
    let tty = info["Config"]["Tty"] == true;
    let mut q = vec!["stdout=1".to_string(), "stderr=1".to_string()];
    let now = f::now();
    if let Some(s) = &a.since {
        q.push(format!(
            "since={}",
            qs(&f::timestamp_arg(s, now).map_err(Fail::msg)?)
        ));
    }
    if let Some(s) = &a.until {
        q.push(format!(
            "until={}",
            qs(&f::timestamp_arg(s, now).map_err(Fail::msg)?)
        ));
    }
    if a.timestamps {
        q.push("timestamps=1".into());
    }
    if a.follow {
        q.push("follow=1".into());
    }
    if a.details {
        q.push("details=1".into());
    }
    q.push(format!("tail={}", qs(&a.tail)));
    let mut body = c
        .request(
            berth_client::Method::GET,
            &format!("/containers/{id}/logs?{}", q.join("&")),
            berth_client::ReqBody::empty(),
            None,
        )
        .await?;
    copy_logs(&mut body, tty).await
}

/// `berth wait`: `POST /containers/{id}/wait` for each, printing codes.
pub async fn wait(c: &mut Client, a: Containers) -> CmdResult {
    let mut failed = false;
    for n in &a.containers {
        match c.post(&format!("/containers/{}/wait", qs(n)), None).await {
            Ok(b) => {
                let v: Value = serde_json::from_slice(&b).unwrap_or_default();
                out(&format!("{}\n", v["StatusCode"].as_i64().unwrap_or(-1)));
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Fail::code(1))
    } else {
        Ok(())
    }
}

async fn each(
    c: &mut Client,
    names: &[String],
    path: impl Fn(&str) -> String,
    delete: bool,
) -> CmdResult {
    let mut failed = false;
    for n in names {
        let p = path(&qs(n));
        let r = if delete {
            c.delete(&p).await
        } else {
            c.post(&p, None).await
        };
        match r {
            Ok(_) => out(&format!("{n}\n")),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Fail::code(1))
    } else {
        Ok(())
    }
}

/// `berth stop` / `berth restart`: `POST /containers/{id}/{stop|restart}?t=&signal=`.
pub async fn stop(c: &mut Client, a: StopArgs, verb: &str) -> CmdResult {
    let mut q = Vec::new();
    if let Some(t) = a.timeout {
        q.push(format!("t={t}"));
    }
    if let Some(s) = &a.signal {
        q.push(format!("signal={}", qs(s)));
    }
    let q = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    each(
        c,
        &a.containers,
        |n| format!("/containers/{n}/{verb}{q}"),
        false,
    )
    .await
}

/// `berth kill`: `POST /containers/{id}/kill?signal=`.
pub async fn kill(c: &mut Client, a: KillArgs) -> CmdResult {
    let q = a
        .signal
        .as_ref()
        .map(|s| format!("?signal={}", qs(s)))
        .unwrap_or_default();
    each(
        c,
        &a.containers,
        |n| format!("/containers/{n}/kill{q}"),
        false,
    )
    .await
}

/// `berth rm`: `DELETE /containers/{id}?force=&v=&link=`.
pub async fn rm(c: &mut Client, a: RmArgs) -> CmdResult {
    let mut q = Vec::new();
    if a.force {
        q.push("force=1");
    }
    if a.volumes {
        q.push("v=1");
    }
    if a.link {
        q.push("link=1");
    }
    let q = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    each(c, &a.containers, |n| format!("/containers/{n}{q}"), true).await
}

/// `berth pause` / `unpause`: `POST /containers/{id}/{verb}`.
pub async fn simple(c: &mut Client, a: Containers, verb: &str) -> CmdResult {
    each(
        c,
        &a.containers,
        |n| format!("/containers/{n}/{verb}"),
        false,
    )
    .await
}

/// `berth rename`: `POST /containers/{id}/rename?name=`.
pub async fn rename(c: &mut Client, a: RenameArgs) -> CmdResult {
    let new = a.new_name.trim();
    if new.is_empty() {
        return Err(Fail::msg("Error: Neither old nor new names may be empty"));
    }
    match c
        .post(
            &format!("/containers/{}/rename?name={}", qs(&a.container), qs(new)),
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(Fail::msg(format!(
            "{e}\nError: failed to rename container named {}",
            a.container
        ))),
    }
}

/// `berth top`: `GET /containers/{id}/top?ps_args=`, as a table with
/// docker's layout (minwidth 20, padding 3).
pub async fn top(c: &mut Client, a: TopArgs) -> CmdResult {
    let q = if a.ps_args.is_empty() {
        String::new()
    } else {
        format!("?ps_args={}", qs(&a.ps_args.join(" ")))
    };
    let v: Value = c
        .get_json(&format!("/containers/{}/top{q}", qs(&a.container)))
        .await?;
    let mut lines = Vec::new();
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    lines.push(titles.join("\t"));
    for p in v["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<&str> = p
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .collect();
        lines.push(cells.join("\t"));
    }
    out(&f::tabwrite(&lines, 20, 3));
    Ok(())
}

/// Asks docker's confirmation question on the terminal; `true` on y/Y.
pub fn confirm(warning: &str) -> bool {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y")
}

/// `berth container prune`: `POST /containers/prune?filters=`.
pub async fn prune(c: &mut Client, a: PruneArgs) -> CmdResult {
    if !a.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(());
    }
    let q = filters_json(&a.filter)
        .map_err(Fail::msg)?
        .map(|f| format!("?filters={}", qs(&f)))
        .unwrap_or_default();
    let b = c.post(&format!("/containers/prune{q}"), None).await?;
    let v: Value = serde_json::from_slice(&b).unwrap_or_default();
    out(&prune_report(&v, "ContainersDeleted", "Containers"));
    Ok(())
}

/// The docker CLI's report of a container or volume prune: `Deleted
/// <what>:` and the IDs or names from the response's `key` array (when
/// any), then `Total reclaimed space: <size>` from `SpaceReclaimed`.
pub(crate) fn prune_report(v: &Value, key: &str, what: &str) -> String {
    let mut s = String::new();
    let deleted: Vec<&str> = v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str())
        .collect();
    if !deleted.is_empty() {
        s.push_str(&format!("Deleted {what}:\n"));
        for d in deleted {
            s.push_str(d);
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        f::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_args(args: &[&str]) -> RunArgs {
        let argv: Vec<String> = ["berth", "run"]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect();
        match crate::cli::Cli::try_parse_from(crate::cli::end_run_options(&argv).iter())
            .unwrap()
            .cmd
        {
            Some(Cmd::Run(r)) => r,
            _ => panic!(),
        }
    }

    /// `-v ./d:/x` and `--mount src=..` reach the daemon absolute.
    #[test]
    fn create_body_sends_relative_binds_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let b = create_body(&run_args(&[
            "-v",
            "./d:/x",
            "-v",
            "/data",
            "--mount",
            "type=bind,src=..,dst=/y",
            "busybox",
        ]))
        .unwrap();
        let d = format!("{}/d:/x", cwd.display());
        assert_eq!(b["HostConfig"]["Binds"], json!([d, "/data"]));
        let parent = cwd.parent().unwrap().display().to_string();
        assert_eq!(b["HostConfig"]["Mounts"][0]["Source"], json!(parent));
    }

    #[test]
    fn create_body_maps_flags() {
        let b = create_body(&run_args(&[
            "--rm",
            "-i",
            "-t",
            "--name",
            "x",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "-h",
            "box",
            "-v",
            "/a:/b:ro",
            "--tmpfs",
            "/run:size=1m",
            "--mount",
            "type=volume,src=v,dst=/v,volume-opt=type=tmpfs,volume-opt=o=size=1m,volume-label=a=b,volume-driver=local,ro",
            "--read-only",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "10",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "ALL",
            "--privileged",
            "--init",
            "--entrypoint",
            "/bin/sh",
            "--network",
            "none",
            "busybox",
            "-c",
            "true",
        ]))
        .unwrap();
        assert_eq!(b["Image"], "busybox");
        assert_eq!(b["Cmd"], json!(["-c", "true"]));
        assert_eq!(b["Entrypoint"], json!(["/bin/sh"]));
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(
            (
                b["Tty"].clone(),
                b["OpenStdin"].clone(),
                b["StdinOnce"].clone(),
                b["AttachStdin"].clone()
            ),
            (json!(true), json!(true), json!(true), json!(true))
        );
        assert_eq!(b["WorkingDir"], "/tmp");
        assert_eq!(b["User"], "1000:1000");
        assert_eq!(b["Hostname"], "box");
        let hc = &b["HostConfig"];
        assert_eq!(hc["Binds"], json!(["/a:/b:ro"]));
        assert_eq!(hc["Tmpfs"], json!({"/run": "size=1m"}));
        assert_eq!(
            hc["Mounts"],
            json!([{"Type": "volume", "Source": "v", "Target": "/v", "ReadOnly": true,
                "VolumeOptions": {"Labels": {"a": "b"}, "DriverConfig": {"Name": "local",
                    "Options": {"type": "tmpfs", "o": "size=1m"}}}}])
        );
        assert_eq!(hc["ReadonlyRootfs"], true);
        assert_eq!(hc["Memory"], 64 << 20);
        assert_eq!(hc["NanoCpus"], 500_000_000);
        assert_eq!(hc["PidsLimit"], 10);
        assert_eq!(hc["CapAdd"], json!(["NET_ADMIN"]));
        assert_eq!(hc["CapDrop"], json!(["ALL"]));
        assert_eq!(hc["Privileged"], true);
        assert_eq!(hc["Init"], true);
        assert_eq!(hc["AutoRemove"], true);
        assert_eq!(hc["NetworkMode"], "none");
    }

    /// The flags docker's CLI maps into HostConfig/Config, as it sends
    /// them (captured from docker 28's create request; tests/run_flags.rs
    /// compares with the docker CLI itself).
    #[test]
    fn create_body_maps_resource_and_namespace_flags() {
        let b = create_body(&run_args(&[
            "--ulimit",
            "nofile=10:20",
            "--ulimit",
            "core=5",
            "--ulimit",
            "nofile=11:21",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--shm-size",
            "64m",
            "--pid",
            "host",
            "--ipc",
            "private",
            "--uts",
            "host",
            "--userns",
            "host",
            "--cgroupns",
            "private",
            "--group-add",
            "10",
            "-c",
            "512",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "--memory-swap",
            "1g",
            "--memory-reservation",
            "32m",
            "--memory-swappiness",
            "10",
            "--oom-kill-disable",
            "--oom-score-adj",
            "-5",
            "--log-driver",
            "json-file",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "foo",
            "--volumes-from",
            "a:ro",
            "--cgroup-parent",
            "/p",
            "--blkio-weight",
            "300",
            "--cidfile",
            "/nonexistent/cid",
            "--device",
            "/dev/null",
            "--device",
            "/dev/zero:/dev/z:r",
            "--device",
            "/dev/full:rw",
            "--device",
            "vendor.com/gpu=all",
            "--device-cgroup-rule",
            "c 1:3 rwm",
            "busybox",
        ]))
        .unwrap();
        let hc = &b["HostConfig"];
        assert_eq!(
            hc["Ulimits"],
            json!([{"Name": "core", "Soft": 5, "Hard": 5}, {"Name": "nofile", "Soft": 11, "Hard": 21}])
        );
        assert_eq!(hc["Sysctls"], json!({"net.ipv4.ip_forward": "1"}));
        assert_eq!(hc["ShmSize"], 64 << 20);
        assert_eq!(
            [
                &hc["PidMode"],
                &hc["IpcMode"],
                &hc["UTSMode"],
                &hc["UsernsMode"],
                &hc["CgroupnsMode"]
            ],
            ["host", "private", "host", "host", "private"]
        );
        assert_eq!(hc["GroupAdd"], json!(["10"]));
        assert_eq!(hc["CpuShares"], 512);
        assert_eq!(
            (&hc["CpusetCpus"], &hc["CpusetMems"]),
            (&json!("0"), &json!("0"))
        );
        assert_eq!(
            (&hc["CpuPeriod"], &hc["CpuQuota"]),
            (&json!(100000), &json!(50000))
        );
        assert_eq!(hc["MemorySwap"], 1i64 << 30);
        assert_eq!(hc["MemoryReservation"], 32 << 20);
        assert_eq!(hc["MemorySwappiness"], 10);
        assert_eq!(hc["OomKillDisable"], true);
        assert_eq!(hc["OomScoreAdj"], -5);
        assert_eq!(
            hc["LogConfig"],
            json!({"Type": "json-file", "Config": {"foo": "", "max-size": "1m"}})
        );
        assert_eq!(hc["VolumesFrom"], json!(["a:ro"]));
        assert_eq!(hc["CgroupParent"], "/p");
        assert_eq!(hc["BlkioWeight"], 300);
        assert_eq!(hc["ContainerIDFile"], "/nonexistent/cid");
        assert_eq!(
            hc["Devices"],
            json!([
                {"PathOnHost": "/dev/null", "PathInContainer": "/dev/null", "CgroupPermissions": "rwm"},
                {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "r"},
                {"PathOnHost": "/dev/full", "PathInContainer": "/dev/full", "CgroupPermissions": "rw"}
            ])
        );
        assert_eq!(
            hc["DeviceRequests"],
            json!([{"Driver": "cdi", "Count": 0, "DeviceIDs": ["vendor.com/gpu=all"],
                "Capabilities": null, "Options": null}])
        );
        assert_eq!(hc["DeviceCgroupRules"], json!(["c 1:3 rwm"]));
        // what docker sends when none of these is given
        let b = create_body(&run_args(&["busybox"])).unwrap();
        let hc = &b["HostConfig"];
        assert_eq!(
            (&hc["MemorySwappiness"], &hc["OomKillDisable"]),
            (&json!(-1), &json!(false))
        );
        assert_eq!(hc["LogConfig"], json!({"Type": "", "Config": {}}));
        assert!(b.get("Healthcheck").is_none());
        assert!(hc["DeviceCgroupRules"].is_null() && hc["DeviceRequests"].is_null());
    }

    /// `--device` as docker's validateLinuxPath + parseLinuxDevice.
    #[test]
    fn device_specs() {
        let d = |h: &str, c: &str, p: &str| models::DeviceMapping {
            path_on_host: h.into(),
            path_in_container: c.into(),
            cgroup_permissions: p.into(),
        };
        for (spec, want) in [
            ("/dev/a/./b/", d("/dev/a/b", "/dev/a/b", "rwm")),
            ("/dev/a/:rw", d("/dev/a", "/dev/a", "rw")),
            ("/dev/a/:/b/", d("/dev/a/", "/b", "rwm")),
            ("/dev/a:/b/c/..:mw", d("/dev/a", "/b/c/..", "mw")),
        ] {
            assert_eq!(parse_device(spec), Ok(want), "{spec}");
        }
        for (spec, e) in [
            ("a:b:c:d", "bad format for path: a:b:c:d"),
            ("", "bad format for path: "),
            (":/x", "bad format for path: :/x"),
            ("/dev/a:b", "b is not an absolute path"),
            ("/dev/a:", " is not an absolute path"),
            ("/dev/a:rr", "rr is not an absolute path"),
            ("rel", "rel is not an absolute path"),
            ("/dev/a:/b:x", "bad mode specified: x"),
            ("/dev/a:/b:", "bad mode specified: "),
        ] {
            assert_eq!(parse_device(spec), Err(e.to_string()), "{spec:?}");
        }
        assert!(is_cdi_name("nvidia.com/gpu=0") && is_cdi_name("vendor.com/class=a:b"));
        assert!(!is_cdi_name("/dev/a=b") && !is_cdi_name("vendor.com/class="));
    }

    /// Config.Healthcheck as the docker CLI builds it, and its errors.
    #[test]
    fn healthcheck_flags() {
        let h = |args: &[&str]| {
            let mut v = args.to_vec();
            v.push("busybox");
            create_body(&run_args(&v)).map(|b| b.get("Healthcheck").cloned())
        };
        assert_eq!(
            h(&[
                "--health-cmd",
                "true",
                "--health-interval",
                "1m30s",
                "--health-retries",
                "3",
                "--health-start-period",
                "1.5s",
                "--health-timeout",
                "100ms",
                "--health-start-interval",
                "2s"
            ]),
            Ok(Some(
                json!({"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000i64,
                "Timeout": 100_000_000, "StartPeriod": 1_500_000_000,
                "StartInterval": 2_000_000_000, "Retries": 3})
            ))
        );
        assert_eq!(
            h(&["--health-retries", "2"]),
            Ok(Some(json!({"Retries": 2})))
        );
        assert_eq!(
            h(&["--no-healthcheck"]),
            Ok(Some(json!({"Test": ["NONE"]})))
        );
        assert_eq!(h(&["--health-interval", "0s"]), Ok(None));
        assert_eq!(
            h(&["--no-healthcheck", "--health-timeout", "1s"]),
            Err("--no-healthcheck conflicts with --health-* options".into())
        );
        assert_eq!(
            h(&["--health-start-interval", "-1s"]),
            Err("--health-start-interval cannot be negative".into())
        );
    }

    /// Label files then `-l`, the later of a name winning; docker's kvfile
    /// rules (comments, blank lines and lines without `=` skipped).
    #[test]
    fn label_files() {
        let dir = tempfile_dir();
        let f = dir.join("labels");
        std::fs::write(&f, "a=1\n# c\n\n  b=2\nbare\nz=\n").unwrap();
        let f = f.to_str().unwrap().to_string();
        let l = build_labels(&["a=3".into(), "q".into()], std::slice::from_ref(&f)).unwrap();
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            json!({"a": "3", "b": "2", "q": "", "z": ""})
        );
        std::fs::write(&f, "c d=1\n").unwrap();
        assert_eq!(
            build_labels(&[], std::slice::from_ref(&f)),
            Err(format!(
                "invalid env file ({f}): variable 'c d' contains whitespaces"
            ))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("berth-cli-labels-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn detached_run_attaches_nothing() {
        let b = create_body(&run_args(&["-d", "busybox"])).unwrap();
        assert_eq!(
            (
                b["AttachStdin"].clone(),
                b["AttachStdout"].clone(),
                b["AttachStderr"].clone()
            ),
            (json!(false), json!(false), json!(false))
        );
        assert!(b["Cmd"].is_null());
        assert_eq!(b["HostConfig"]["NetworkMode"], "default");
        let b = create_body(&run_args(&["-a", "stderr", "busybox"])).unwrap();
        assert_eq!(
            (b["AttachStdout"].clone(), b["AttachStderr"].clone()),
            (json!(false), json!(true))
        );
        assert!(create_body(&run_args(&["-a", "bogus", "busybox"])).is_err());
    }

    #[test]
    fn env_file_and_passthrough() {
        let dir = berth_testutil::tempdir();
        let p = dir.path().join("env");
        std::fs::write(&p, "# comment\n\nFOO=bar\nBERTH_TEST_UNSET_VAR\nPATH\n").unwrap();
        let env = build_env(
            &["X=1".into(), "BERTH_TEST_UNSET_VAR2".into()],
            &[p.display().to_string()],
        )
        .unwrap();
        assert_eq!(env[0], "FOO=bar");
        assert!(env[1].starts_with("PATH="));
        assert_eq!(env[2], "X=1");
        assert_eq!(env.len(), 3);
        assert_eq!(
            build_env(&[], &["/nonexistent/x".into()]).unwrap_err(),
            "open /nonexistent/x: no such file or directory"
        );
    }

    #[test]
    fn exit_codes_for_start_errors() {
        assert_eq!(
            start_error_code("exec: \"nosuchcmd\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_error_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_error_code("cgroup setup failed"), 125);
        assert_eq!(
            start_error_code("Error response from daemon: network n1 not found"),
            125
        );
    }

    #[test]
    fn filters_are_docker_json() {
        assert_eq!(
            filters_json(&["status=exited".into(), "status=created".into()])
                .unwrap()
                .unwrap(),
            r#"{"status":{"exited":true,"created":true}}"#
        );
        assert!(filters_json(&["bogus".into()]).is_err());
        assert_eq!(filters_json(&[]).unwrap(), None);
    }

    #[test]
    fn ps_rows() {
        let c = json!({"Id": "1c1000c4f25101580209fd89a5af154df64701650e47465e39c046533a6342b4", "Names": ["/ref1"], "Image": "busybox",
            "Command": "sleep 1000", "Created": 1000, "Ports": [{"PrivatePort": 80, "Type": "tcp"}, {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "State": "running", "Status": "Up 3 seconds", "Labels": {"b": "2", "a": "1"}, "NetworkSettings": {"Networks": {"none": {}}}});
        let r = ps_row(&c, true, 1003.0);
        assert_eq!(r["ID"], "1c1000c4f251");
        assert_eq!(r["Command"], "\"sleep 1000\"");
        let long = json!({"Command": "sh -c 'while true; do sleep 1; done'"});
        assert_eq!(
            ps_row(&long, true, 0.0)["Command"],
            "\"sh -c 'while true; …\""
        );
        assert_eq!(
            ps_row(&json!({"Command": "sh -c echo o; exit 3"}), true, 0.0)["Command"],
            "\"sh -c echo o; exit 3\""
        );
        assert_eq!(
            ps_row(&json!({"Command": "echo \"a\\b\""}), true, 0.0)["Command"],
            r#""echo \"a\\b\"""#
        );
        assert_eq!(r["RunningFor"], "3 seconds ago");
        assert_eq!(r["Names"], "ref1");
        assert_eq!(r["Ports"], "80/tcp, 0.0.0.0:8080->80/tcp");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Networks"], "none");
        assert_eq!(r["Size"], "0B");
        assert_eq!(r["CreatedAt"], "1970-01-01 00:16:40 +0000 UTC");
        assert_eq!(ps_row(&c, false, 1003.0)["ID"].as_str().unwrap().len(), 64);
    }
}
