//! The OCI bundle (`config.json`) of a container, built as Docker builds
//! its spec (moby `daemon/oci_linux.go` defaults): namespaces, the default
//! capabilities, masked and read-only paths, the standard mounts, the
//! `/etc/{hostname,hosts,resolv.conf}` binds, cgroups under `/berth`, and
//! the supported HostConfig resources.

use crate::container::Record;
use berth_api::ApiError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows (for `ALL` and Privileged).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Path at which the init binary appears in the container (`--init`).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// [`ALL_CAPS`] (numbered 0..) that are in berthd's own bounding set
/// (`CapBnd` of /proc/self/status; all of them if unreadable): what
/// `--privileged` and `--cap-add ALL` grant, as containerd's
/// `WithAllCurrentCapabilities` does, since a capability outside the
/// bounding set cannot be raised (capset(2) EPERM) on a host or in an
/// outer container that dropped it.
pub fn all_available_caps() -> Vec<String> {
    let bnd = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| bnd & (1u64 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Normalises a capability name: `net_admin` -> `CAP_NET_ADMIN`.
fn norm_cap(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up == "ALL" || up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capability set after CapAdd/CapDrop, Docker's rules (`ALL` in
/// either list; drop wins over the defaults, add over drop of the same).
pub fn capabilities(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, ApiError> {
    if privileged {
        return Ok(all_available_caps());
    }
    let add: Vec<String> = add.iter().map(|c| norm_cap(c)).collect();
    let drop: Vec<String> = drop.iter().map(|c| norm_cap(c)).collect();
    for c in add.iter().chain(drop.iter()) {
        if c != "ALL" && !ALL_CAPS.contains(&c.as_str()) {
            return Err(ApiError::invalid(format!("unknown capability: \"{c}\"")));
        }
    }
    let mut caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        all_available_caps()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    } else {
        caps.retain(|c| !drop.contains(c));
    }
    for c in add.iter().filter(|c| *c != "ALL") {
        if !caps.contains(c) {
            caps.push(c.clone());
        }
    }
    Ok(caps)
}

/// A file of the container's image as seen through its layers (upper
/// first, then lowers top-most first), without mounting.
fn read_image_file(rec: &Record, rel: &str) -> Option<String> {
    std::iter::once(&rec.upperdir)
        .chain(rec.lowerdirs.iter())
        .map(|d| d.join(rel))
        .find_map(|p| std::fs::read_to_string(p).ok())
}

/// uid, gid and supplementary gids for Docker's `User` (`name`, `uid`,
/// `name:group`, `uid:gid`) and `GroupAdd`, looked up in the container's
/// `/etc/passwd` and `/etc/group`.
///
/// # Errors
/// 400-class messages as Docker's: `unable to find user x: no matching entries in passwd file`.
pub fn resolve_user(
    rec: &Record,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>), ApiError> {
    let passwd = read_image_file(rec, "etc/passwd").unwrap_or_default();
    let groups = read_image_file(rec, "etc/group").unwrap_or_default();
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let pw: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    let gr: Vec<Vec<&str>> = groups
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    let (uid, mut gid, uname) = if u.is_empty() {
        (0, 0, "root".to_string())
    } else if let Ok(n) = u.parse::<u32>() {
        match pw.iter().find(|f| f[2] == u) {
            Some(f) => (n, f[3].parse().unwrap_or(0), f[0].to_string()),
            None => (n, 0, String::new()),
        }
    } else {
        match pw.iter().find(|f| f[0] == u) {
            Some(f) => (
                f[2].parse().unwrap_or(0),
                f[3].parse().unwrap_or(0),
                u.to_string(),
            ),
            None => {
                return Err(ApiError::invalid(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                )))
            }
        }
    };
    let find_group = |g: &str| -> Result<u32, ApiError> {
        if let Ok(n) = g.parse::<u32>() {
            return Ok(n);
        }
        gr.iter()
            .find(|f| f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })
    };
    if let Some(g) = g {
        gid = find_group(g)?;
    }
    let mut extra: Vec<u32> = Vec::new();
    if !uname.is_empty() {
        for f in &gr {
            if f.len() >= 4 && f[3].split(',').any(|m| m == uname) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !extra.contains(&n) {
                        extra.push(n);
                    }
                }
            }
        }
    }
    for g in group_add {
        let n = find_group(g)?;
        if !extra.contains(&n) {
            extra.push(n);
        }
    }
    Ok((uid, gid, extra))
}

/// The environment of the init process: `PATH` (default when the image
/// has none), `HOSTNAME`, `TERM=xterm` with a TTY, then the config's.
pub fn environment(rec: &Record) -> Vec<String> {
    let c = &rec.config;
    let mut env = Vec::new();
    if !c.env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    env.push(format!("HOSTNAME={}", c.hostname));
    if c.tty && !c.env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    env.extend(c.env.iter().cloned());
    env
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        'b' => (&s[..s.len() - 1], 1),
        _ => (&s[..], 1),
    };
    num.parse::<f64>().ok().map(|n| (n * mult as f64) as u64)
}

/// Docker's size strings (`64m`, `1g`, `100k`, bytes) to bytes.
pub fn size_bytes(s: &str) -> Option<u64> {
    parse_size(s)
}

/// Cgroups path of a container.
pub fn cgroups_path(id: &str) -> String {
    format!("/berth/{id}")
}

/// Inputs of [`spec`] besides the record.
pub struct SpecInputs<'a> {
    /// Mount point of the rootfs.
    pub rootfs: &'a Path,
    /// `<data-root>/containers/<id>` (hostname, hosts, resolv.conf).
    pub dir: &'a Path,
    /// Init binary for `--init`.
    pub init_bin: Option<&'a Path>,
}

/// Builds `config.json` for `rec`.
///
/// # Errors
/// Bad user, capability, bind or tmpfs specification (400).
pub fn spec(rec: &Record, inp: &SpecInputs<'_>) -> Result<Value, ApiError> {
    let c = &rec.config;
    let h = &rec.host_config;
    let privileged = h.privileged;
    let (uid, gid, extra) = resolve_user(rec, &c.user, &h.group_add)?;
    let caps = capabilities(&h.cap_add, &h.cap_drop, privileged)?;
    let mut args: Vec<String> = std::iter::once(rec.path.clone())
        .chain(rec.args.iter().cloned())
        .collect();
    let mut mounts: Vec<Value> = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        // As Docker's default spec: the container's own cgroups, read-only
        // unless privileged, so programs inside can read their limits.
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", if privileged { "rw" } else { "ro" }]}),
    ];
    let shm = if h.shm_size > 0 {
        h.shm_size as u64
    } else {
        64 << 20
    };
    mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}));
    let mut user_dests: Vec<String> = Vec::new();
    for b in &h.binds {
        let parts: Vec<&str> = b.split(':').collect();
        let (src, dst, opts) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, o] => (*s, *d, *o),
            _ => {
                return Err(ApiError::invalid(format!(
                    "invalid volume specification: '{b}'"
                )))
            }
        };
        if !dst.starts_with('/') {
            return Err(ApiError::invalid(format!("invalid volume specification: '{b}': invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute")));
        }
        if !src.starts_with('/') {
            // A named volume: resolved at create (`crate::volumes`).
            continue;
        }
        if !Path::new(src).exists() {
            std::fs::create_dir_all(src)
                .map_err(|e| ApiError::system(format!("create bind source {src}: {e}")))?;
        }
        let mut o = vec!["rbind".to_string()];
        let mut prop = "rprivate".to_string();
        let mut ro = false;
        for opt in opts.split(',').filter(|s| !s.is_empty()) {
            match opt {
                "ro" => ro = true,
                "rw" | "z" | "Z" | "nocopy" => {}
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                    prop = opt.to_string()
                }
                _ => return Err(ApiError::invalid(format!("invalid mode: {opt}"))),
            }
        }
        o.push(prop);
        o.push(if ro { "ro".into() } else { "rw".into() });
        user_dests.push(dst.to_string());
        mounts.push(json!({"destination": dst, "type": "bind", "source": src, "options": o}));
    }
    for m in &h.mounts {
        match m.kind.as_str() {
            "bind" => {
                let mut o = vec!["rbind", "rprivate"];
                if m.read_only {
                    o.push("ro");
                }
                user_dests.push(m.target.clone());
                mounts.push(json!({"destination": m.target, "type": "bind", "source": m.source, "options": o}));
            }
            "tmpfs" => {
                user_dests.push(m.target.clone());
                let mut o = vec![
                    "nosuid".to_string(),
                    "nodev".to_string(),
                    "noexec".to_string(),
                ];
                if let Some(t) = &m.tmpfs_options {
                    if let Some(sz) = t.get("SizeBytes").and_then(Value::as_i64) {
                        o.push(format!("size={sz}"));
                    }
                    if let Some(md) = t.get("Mode").and_then(Value::as_i64) {
                        o.push(format!("mode={md:o}"));
                    }
                }
                mounts.push(json!({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": o}));
            }
            // Resolved at create (`crate::volumes`), mounted below.
            "volume" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "mount type {other:?} is not supported yet"
                )))
            }
        }
    }
    if let Some(t) = &h.tmpfs {
        for (dst, opts) in t {
            let mut o = vec![
                "nosuid".to_string(),
                "nodev".to_string(),
                "noexec".to_string(),
            ];
            for opt in opts.split(',').filter(|s| !s.is_empty()) {
                match opt {
                    "exec" => o.retain(|x| x != "noexec"),
                    "suid" => o.retain(|x| x != "nosuid"),
                    "dev" => o.retain(|x| x != "nodev"),
                    _ => o.push(opt.to_string()),
                }
            }
            user_dests.push(dst.clone());
            mounts.push(
                json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": o}),
            );
        }
    }
    for v in &rec.volumes {
        user_dests.push(v.destination.clone());
        let rw = if v.rw { "rw" } else { "ro" };
        mounts.push(json!({"destination": v.destination, "type": "bind", "source": v.source, "options": ["rbind", "rprivate", rw]}));
    }
    for f in ["resolv.conf", "hostname", "hosts"] {
        let dst = format!("/etc/{f}");
        if user_dests.contains(&dst) {
            continue;
        }
        let mut o = vec!["rbind", "rprivate"];
        if h.readonly_rootfs {
            o.push("ro");
        }
        mounts.push(
            json!({"destination": dst, "type": "bind", "source": inp.dir.join(f), "options": o}),
        );
    }
    if h.init == Some(true) {
        let bin = inp.init_bin.ok_or_else(|| {
            ApiError::system("no init binary configured (docker-init / tini-static not found)")
        })?;
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": bin, "options": ["bind", "ro"]}));
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if h.network_mode != "host" {
        namespaces.push(json!({"type": "network"}));
    }
    if h.pid_mode == "host" {
        namespaces.retain(|n| n["type"] != "pid");
    }
    if h.ipc_mode == "host" {
        namespaces.retain(|n| n["type"] != "ipc");
    }
    let mut resources = serde_json::Map::new();
    let mut devices = vec![json!({"allow": false, "access": "rwm"})];
    if privileged {
        devices = vec![json!({"allow": true, "access": "rwm"})];
    } else {
        for (t, maj, min, acc) in [
            ("c", None, None, "m"),
            ("b", None, None, "m"),
            ("c", Some(1), Some(3), "rwm"),
            ("c", Some(1), Some(8), "rwm"),
            ("c", Some(1), Some(7), "rwm"),
            ("c", Some(5), Some(0), "rwm"),
            ("c", Some(1), Some(5), "rwm"),
            ("c", Some(1), Some(9), "rwm"),
            ("c", Some(136), None, "rwm"),
            ("c", Some(5), Some(2), "rwm"),
            ("c", Some(10), Some(200), "rwm"),
        ] {
            let mut d = json!({"allow": true, "type": t, "access": acc});
            if let Some(m) = maj {
                d["major"] = json!(m);
            }
            if let Some(m) = min {
                d["minor"] = json!(m);
            }
            devices.push(d);
        }
    }
    resources.insert("devices".into(), Value::Array(devices));
    let mut mem = serde_json::Map::new();
    if h.memory > 0 {
        mem.insert("limit".into(), json!(h.memory));
        let swap = match h.memory_swap {
            0 => h.memory * 2,
            -1 => -1,
            s => s,
        };
        mem.insert("swap".into(), json!(swap));
    }
    if h.memory_reservation > 0 {
        mem.insert("reservation".into(), json!(h.memory_reservation));
    }
    if !mem.is_empty() {
        resources.insert("memory".into(), Value::Object(mem));
    }
    let mut cpu = serde_json::Map::new();
    if h.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(h.cpu_shares));
    }
    if h.nano_cpus > 0 {
        let period = 100_000i64;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(h.nano_cpus * period / 1_000_000_000));
    } else {
        if h.cpu_period > 0 {
            cpu.insert("period".into(), json!(h.cpu_period));
        }
        if h.cpu_quota > 0 {
            cpu.insert("quota".into(), json!(h.cpu_quota));
        }
    }
    if !h.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(h.cpuset_cpus));
    }
    if !h.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(h.cpuset_mems));
    }
    if !cpu.is_empty() {
        resources.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = h.pids_limit.filter(|p| *p > 0) {
        resources.insert("pids".into(), json!({"limit": p}));
    }
    let rlimits: Vec<Value> = h
        .ulimits
        .iter()
        .map(|u| json!({"type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "soft": u.soft, "hard": u.hard}))
        .collect();
    let no_new_privs = crate::security_opt::parse(&h.security_opt)?.no_new_privileges;
    let sysctl: BTreeMap<String, String> = h.sysctls.clone().unwrap_or_default();
    let cwd = if c.working_dir.is_empty() {
        "/".to_string()
    } else {
        c.working_dir.clone()
    };
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path(&rec.id),
        "resources": Value::Object(resources),
        "sysctl": sysctl,
    });
    if !privileged {
        linux["maskedPaths"] = json!(h
            .masked_paths
            .clone()
            .unwrap_or_else(|| MASKED.iter().map(|s| s.to_string()).collect()));
        linux["readonlyPaths"] = json!(h
            .readonly_paths
            .clone()
            .unwrap_or_else(|| READONLY.iter().map(|s| s.to_string()).collect()));
    }
    let mut process = json!({
        "terminal": c.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": extra},
        "args": args,
        "env": environment(rec),
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": no_new_privs,
    });
    if !rlimits.is_empty() {
        process["rlimits"] = json!(rlimits);
    }
    if h.oom_score_adj != 0 {
        process["oomScoreAdj"] = json!(h.oom_score_adj);
    }
    if let Some([hh, ww]) = h.console_size {
        process["consoleSize"] = json!({"height": hh, "width": ww});
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inp.rootfs, "readonly": h.readonly_rootfs},
        "hostname": c.hostname,
        "mounts": mounts,
        "linux": linux,
    }))
}

/// The `process` object for an exec: the init's user/caps/env, then the
/// exec's overrides.
#[allow(clippy::too_many_arguments)]
pub fn exec_process(
    rec: &Record,
    base: &Value,
    cmd: &[String],
    env: &[String],
    user: &str,
    cwd: &str,
    tty: bool,
    privileged: bool,
) -> Result<Value, ApiError> {
    let mut p = base.get("process").cloned().unwrap_or_else(|| json!({}));
    p["args"] = json!(cmd);
    p["terminal"] = json!(tty);
    if !cwd.is_empty() {
        p["cwd"] = json!(cwd);
    }
    let mut e: Vec<String> = p["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if tty && !e.iter().any(|x| x.starts_with("TERM=")) {
        e.push("TERM=xterm".into());
    }
    for kv in env {
        let key = kv.split('=').next().unwrap_or("");
        e.retain(|x| x.split('=').next() != Some(key));
        e.push(kv.clone());
    }
    p["env"] = json!(e);
    if !user.is_empty() {
        let (uid, gid, extra) = resolve_user(rec, user, &rec.host_config.group_add)?;
        p["user"] = json!({"uid": uid, "gid": gid, "additionalGids": extra});
    }
    if privileged {
        let all = all_available_caps();
        p["capabilities"] = json!({"bounding": all, "effective": all, "permitted": all});
    }
    if let Some(o) = p.as_object_mut() {
        o.remove("consoleSize");
        o.remove("rlimits");
        o.remove("oomScoreAdj");
    }
    Ok(p)
}

/// Files in `<data-root>/containers/<id>/`: `hostname`, `hosts`, `resolv.conf`.
pub fn write_etc_files(dir: &Path, rec: &Record) -> std::io::Result<()> {
    let c = &rec.config;
    let h = &rec.host_config;
    let host_net = h.network_mode == "host";
    let hostname = if host_net {
        std::fs::read_to_string("/etc/hostname")
            .unwrap_or_default()
            .trim()
            .to_string()
    } else {
        c.hostname.clone()
    };
    std::fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
    let mut hosts = if host_net {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
    };
    for e in &h.extra_hosts {
        if let Some((name, ip)) = e.split_once(':').or_else(|| e.split_once('=')) {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    std::fs::write(dir.join("hosts"), hosts)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut ns = Vec::new();
    let mut search = h.dns_search.clone();
    let mut options = h.dns_options.clone();
    for l in host_resolv.lines() {
        let mut w = l.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(a) = w.next() {
                    if host_net || !(a.starts_with("127.") || a == "::1") {
                        ns.push(a.to_string());
                    }
                }
            }
            Some("search") | Some("domain") if h.dns_search.is_empty() => {
                search.extend(w.map(str::to_string))
            }
            Some("options") if h.dns_options.is_empty() => options.extend(w.map(str::to_string)),
            _ => {}
        }
    }
    if !h.dns.is_empty() {
        ns = h.dns.clone();
    } else if ns.is_empty() {
        ns = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in ns {
        out.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    std::fs::write(dir.join("resolv.conf"), out)
}

/// The bundle directory of a container.
pub fn bundle_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("bundle")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        let c = capabilities(&["NET_ADMIN".into()], &["chown".into()], false).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()) && !c.contains(&"CAP_CHOWN".to_string()));
        assert!(capabilities(&["FOO".into()], &[], false).is_err());
        assert!(capabilities(&[], &["ALL".into()], false)
            .unwrap()
            .is_empty());
        assert_eq!(size_bytes("64m"), Some(64 << 20));
    }
}
