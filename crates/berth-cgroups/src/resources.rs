//! `linux.resources` → cgroup files, for v1 and v2.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory,
    LinuxResources,
};

use crate::{read_file, read_opt, write_file, Cgroup, Error, Result, UNIFIED};

/// Converts v1 `cpu.shares` (2..=262144) to v2 `cpu.weight` (1..=10000)
/// with the linear mapping runc 1.1 and crun use:
/// `1 + (shares − 2) × 9999 / 262142`; 0 stays 0 (unset). Shares below 2
/// are clamped to 2, above 262144 to 262144.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// Converts OCI `memory.swap` (memory+swap, bytes) to the v2
/// `memory.swap.max` value (swap only) given `memory.limit`.
///
/// Returns `Ok(None)` for "leave unset", `Ok(Some(-1))` for `max`.
/// Rules (as runc's): limit −1 with swap unset → unlimited swap; swap −1 →
/// max; swap 0 → unset; otherwise a finite positive limit is required and
/// swap ≥ limit, giving `swap − limit`.
/// Errors: [`Error::InvalidValue`] naming `memory.swap`.
pub fn swap_to_v2(swap: i64, limit: i64) -> Result<Option<i64>> {
    if limit == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some(-1)),
        _ => {}
    }
    let bad = |reason: &str| {
        Err(Error::InvalidValue {
            field: "memory.swap",
            reason: reason.into(),
        })
    };
    if limit == 0 || limit == -1 {
        return bad("a swap limit needs a finite memory limit");
    }
    if limit < 0 {
        return bad("memory.limit is negative");
    }
    if swap < limit {
        return bad("memory+swap limit must be >= memory limit");
    }
    Ok(Some(swap - limit))
}

/// runc's default device allowlist, appended after the spec's rules:
/// mknod of any char/block device, `/dev/null` (1:3), `/dev/random` (1:8),
/// `/dev/full` (1:7), `/dev/tty` (5:0), `/dev/zero` (1:5),
/// `/dev/urandom` (1:9), `/dev/pts/*` (136:*), `/dev/ptmx` (5:2) and
/// `/dev/net/tun` (10:200).
pub fn default_allowed_devices() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

/// The container paths of runc's default devices that have a rule in
/// [`default_allowed_devices`], in its order (`None` for rules with no node).
const DEFAULT_RULE_PATHS: [Option<&str>; 11] = [
    None,
    None,
    Some("/dev/null"),
    Some("/dev/random"),
    Some("/dev/full"),
    Some("/dev/tty"),
    Some("/dev/zero"),
    Some("/dev/urandom"),
    None,
    None,
    None,
];

/// [`default_allowed_devices`] without the rules of default nodes whose
/// path `linux.devices` defines again (runc's `createDevices`: the spec's
/// device takes the place of the default one, rule included).
pub fn defaults_not_redefined(linux_devices: &[LinuxDevice]) -> Vec<LinuxDeviceCgroup> {
    default_allowed_devices()
        .into_iter()
        .zip(DEFAULT_RULE_PATHS)
        .filter(|(_, p)| p.is_none_or(|p| !linux_devices.iter().any(|d| d.path() == Path::new(p))))
        .map(|(r, _)| r)
        .collect()
}

/// An `rwm` allow rule for each `linux.devices` entry (not applied by
/// [`Cgroup::set_with_devices`], which, as runc, gives them none). FIFOs
/// (`p`) get none: the devices controller does not govern them.
pub fn device_rules_for(devices: &[LinuxDevice]) -> Vec<LinuxDeviceCgroup> {
    devices
        .iter()
        .filter(|d| d.typ() != LinuxDeviceType::P)
        .map(|d| {
            let mut r = LinuxDeviceCgroup::default();
            r.set_allow(true);
            // `u` (unbuffered char) is `c` to the devices controller.
            let t = match d.typ() {
                LinuxDeviceType::U => LinuxDeviceType::C,
                t => t,
            };
            r.set_typ(Some(t));
            r.set_major(Some(d.major()));
            r.set_minor(Some(d.minor()));
            r.set_access(Some("rwm".into()));
            r
        })
        .collect()
}

/// Writes `rules` in order to a v1 devices cgroup's `devices.allow` and
/// `devices.deny` (cgroup-v1/devices.rst), each rule one write(2) on the
/// file opened once: the controller parses every write on its own. A
/// rule identical to one already written, with no rule of the other kind
/// in between, is skipped: it would change nothing (an engine's spec
/// usually lists the default rules the runtime appends again, as runc's
/// does). Errors name the file and the rule.
fn write_device_rules_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use std::io::Write;
    let mut files: [Option<std::fs::File>; 2] = [None, None];
    let mut run_allow = None;
    let mut run: Vec<String> = Vec::new();
    for rule in rules {
        let Some(line) = device_rule_line(rule)? else {
            continue;
        };
        if run_allow != Some(rule.allow()) {
            run_allow = Some(rule.allow());
            run.clear();
        }
        if run.contains(&line) {
            continue;
        }
        let name = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let path = dir.join(name);
        let slot = &mut files[usize::from(rule.allow())];
        if slot.is_none() {
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => *slot = Some(f),
                // write_file names a missing file or the open error
                Err(_) => return write_file(&path, &line),
            }
        }
        if let Some(f) = slot.as_mut() {
            f.write_all(line.as_bytes()).map_err(|e| Error::Write {
                path: path.clone(),
                value: line.clone(),
                source: e,
            })?;
        }
        run.push(line);
    }
    Ok(())
}

/// Renders a rule in the devices controller's syntax: `type major:minor
/// access`; `None` for a FIFO (`p`) rule, which the devices controller
/// has no type for (FIFOs are not device nodes it governs; runc drops them too).
fn device_rule_line(r: &LinuxDeviceCgroup) -> Result<Option<String>> {
    let t = match r.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => "a",
        LinuxDeviceType::B => "b",
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        LinuxDeviceType::P => return Ok(None),
    };
    let num = |v: Option<i64>| {
        v.filter(|v| *v >= 0)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "*".into())
    };
    let access = r.access().clone().unwrap_or_default();
    let access = if access.is_empty() {
        "rwm".to_string()
    } else {
        access
    };
    if let Some(bad) = access.chars().find(|c| !matches!(c, 'r' | 'w' | 'm')) {
        return Err(Error::InvalidValue {
            field: "devices[].access",
            reason: format!("unknown access {bad:?} in {access:?}"),
        });
    }
    Ok(Some(format!(
        "{t} {}:{} {access}",
        num(r.major()),
        num(r.minor())
    )))
}

fn dir_of<'a>(
    cg: &'a Cgroup,
    controller: &'static str,
    resource: &'static str,
) -> Result<&'a Path> {
    cg.path_of(controller).ok_or(Error::ControllerMissing {
        resource,
        controller,
    })
}

fn i64_or_max(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// v1 (and hybrid) implementation of [`Cgroup::update`]: memory, cpu,
/// pids and blockIO, no device rules.
pub(crate) fn update_v1(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        set_v1_memory(cg, m)?;
    }
    if let Some(c) = r.cpu() {
        set_v1_cpu(cg, c)?;
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            let dir = dir_of(cg, "pids", "pids.limit")?;
            write_file(&dir.join("pids.max"), &i64_or_max(p.limit()))?;
        }
    }
    if let Some(b) = r.block_io() {
        set_v1_blkio(cg, b)?;
    }
    Ok(())
}

/// v1 (and hybrid) implementation of [`Cgroup::set_with_devices`].
pub(crate) fn set_v1(cg: &Cgroup, r: &LinuxResources, linux_devices: &[LinuxDevice]) -> Result<()> {
    if let Some(m) = r.memory() {
        set_v1_memory(cg, m)?;
    }
    if let Some(c) = r.cpu() {
        set_v1_cpu(cg, c)?;
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            let dir = dir_of(cg, "pids", "pids.limit")?;
            write_file(&dir.join("pids.max"), &i64_or_max(p.limit()))?;
        }
    }
    if let Some(b) = r.block_io() {
        set_v1_blkio(cg, b)?;
    }
    // Devices: the spec's rules in order, then runc's defaults (those of a
    // path linux.devices redefines left out, as runc's createDevices).
    // linux.devices get no rule of their own: the engine grants access
    // (dockerd writes one with the --device permissions), as with runc.
    if let Some(dir) = cg.path_of("devices") {
        let mut rules: Vec<LinuxDeviceCgroup> = r.devices().clone().unwrap_or_default();
        rules.extend(defaults_not_redefined(linux_devices));
        write_device_rules_v1(dir, &rules)?;
    } else if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::ControllerMissing {
            resource: "devices",
            controller: "devices",
        });
    }
    if let Some(h) = r.hugepage_limits() {
        if !h.is_empty() {
            if let Some(dir) = cg.path_of("hugetlb") {
                for l in h {
                    write_file(
                        &dir.join(format!("hugetlb.{}.limit_in_bytes", l.page_size())),
                        &l.limit().to_string(),
                    )?;
                }
            } else if let Some(dir) = cg
                .path_of(UNIFIED)
                .filter(|d| has_v2_controller(d, "hugetlb"))
            {
                // Hybrid host with hugetlb bound to cgroup2 (as here).
                write_v2_hugetlb(dir, h)?;
            } else {
                return Err(Error::ControllerMissing {
                    resource: "hugepageLimits",
                    controller: "hugetlb",
                });
            }
        }
    }
    if let Some(n) = r.network() {
        if let Some(class) = n.class_id() {
            let dir = dir_of(cg, "net_cls", "network.classID")?;
            write_file(&dir.join("net_cls.classid"), &class.to_string())?;
        }
        if let Some(prios) = n.priorities() {
            let dir = dir_of(cg, "net_prio", "network.priorities")?;
            for p in prios {
                write_file(
                    &dir.join("net_prio.ifpriomap"),
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
    }
    if let Some(rdma) = r.rdma() {
        if !rdma.is_empty() {
            let dir = dir_of(cg, "rdma", "rdma")?;
            for (dev, l) in rdma {
                write_file(
                    &dir.join("rdma.max"),
                    &rdma_line(dev, l.hca_handles(), l.hca_objects()),
                )?;
            }
        }
    }
    if let Some(u) = r.unified() {
        if !u.is_empty() {
            let dir = cg.path_of(UNIFIED).ok_or_else(|| {
                Error::Unsupported(
                    "linux.resources.unified needs cgroup v2, which is not mounted".into(),
                )
            })?;
            write_unified(dir, u)?;
        }
    }
    Ok(())
}

fn rdma_line(dev: &str, handles: Option<u32>, objects: Option<u32>) -> String {
    let mut s = dev.to_string();
    if let Some(h) = handles {
        s += &format!(" hca_handle={h}");
    }
    if let Some(o) = objects {
        s += &format!(" hca_object={o}");
    }
    s
}

fn write_unified(dir: &Path, u: &std::collections::HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = u.keys().collect();
    keys.sort();
    for k in keys {
        if k.contains('/') || k.starts_with('.') {
            return Err(Error::InvalidValue {
                field: "unified",
                reason: format!("key {k:?} is not a cgroup file name"),
            });
        }
        write_file(&dir.join(k), &u[k])?;
    }
    Ok(())
}

#[allow(deprecated)]
fn set_v1_memory(cg: &Cgroup, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    let any = limit != 0
        || swap != 0
        || m.reservation().is_some_and(|v| v != 0)
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.kernel_tcp().is_some_and(|v| v != 0);
    if !any {
        return Ok(());
    }
    let dir = dir_of(cg, "memory", "memory")?;
    let limit_f = dir.join("memory.limit_in_bytes");
    let memsw_f = dir.join("memory.memsw.limit_in_bytes");
    if swap != 0 && !memsw_f.exists() {
        return Err(Error::Unsupported(format!(
            "memory.swap requested but {} does not exist (swap accounting is off: swapaccount=1)",
            memsw_f.display()
        )));
    }
    if swap != 0 && swap != -1 && limit > 0 && swap < limit {
        return Err(Error::InvalidValue {
            field: "memory.swap",
            reason: "memory+swap limit must be >= memory limit".into(),
        });
    }
    if limit != 0 && swap != 0 {
        // memsw must stay >= limit at every step: raise memsw first when
        // the new swap exceeds the current memsw, else lower limit first.
        let cur_memsw: i64 = read_file(&memsw_f)?.trim().parse().unwrap_or(i64::MAX);
        let swap_first = swap == -1 || swap > cur_memsw;
        if swap_first {
            write_file(&memsw_f, &swap.to_string())?;
            write_file(&limit_f, &limit.to_string())?;
        } else {
            write_file(&limit_f, &limit.to_string())?;
            write_file(&memsw_f, &swap.to_string())?;
        }
    } else if limit != 0 {
        write_file(&limit_f, &limit.to_string())?;
    } else if swap != 0 {
        write_file(&memsw_f, &swap.to_string())?;
    }
    if let Some(res) = m.reservation().filter(|v| *v != 0) {
        write_file(&dir.join("memory.soft_limit_in_bytes"), &res.to_string())?;
    }
    if let Some(tcp) = m.kernel_tcp().filter(|v| *v != 0) {
        write_file(
            &dir.join("memory.kmem.tcp.limit_in_bytes"),
            &tcp.to_string(),
        )?;
    }
    if let Some(sw) = m.swappiness() {
        // Docker sends -1 as u64::MAX for "unset" in older configs.
        if sw <= 100 {
            write_file(&dir.join("memory.swappiness"), &sw.to_string())?;
        } else if sw != u64::MAX {
            return Err(Error::InvalidValue {
                field: "memory.swappiness",
                reason: format!("{sw} is not in 0..=100"),
            });
        }
    }
    if m.disable_oom_killer() == Some(true) {
        write_file(&dir.join("memory.oom_control"), "1")?;
    }
    Ok(())
}

fn set_v1_cpu(cg: &Cgroup, c: &LinuxCpu) -> Result<()> {
    let needs_cpu = c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_period().is_some_and(|v| v != 0)
        || c.realtime_runtime().is_some_and(|v| v != 0);
    if needs_cpu {
        let dir = dir_of(cg, "cpu", "cpu")?;
        if let Some(s) = c.shares().filter(|v| *v != 0) {
            let f = dir.join("cpu.shares");
            write_file(&f, &s.to_string())?;
            // The kernel clamps; report a value it silently changed.
            let got: u64 = read_file(&f)?.trim().parse().unwrap_or(0);
            if got != s {
                return Err(Error::InvalidValue {
                    field: "cpu.shares",
                    reason: format!("{s} was set but the kernel kept {got} (range 2..=262144)"),
                });
            }
        }
        if let Some(p) = c.period().filter(|v| *v != 0) {
            write_file(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
        }
        if let Some(q) = c.quota().filter(|v| *v != 0) {
            write_file(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
        }
        if let Some(b) = c.burst() {
            write_file(&dir.join("cpu.cfs_burst_us"), &b.to_string())?;
        }
        if let Some(p) = c.realtime_period().filter(|v| *v != 0) {
            write_file(&dir.join("cpu.rt_period_us"), &p.to_string())?;
        }
        if let Some(r) = c.realtime_runtime().filter(|v| *v != 0) {
            write_file(&dir.join("cpu.rt_runtime_us"), &r.to_string())?;
        }
        if let Some(i) = c.idle() {
            write_file(&dir.join("cpu.idle"), &i.to_string())?;
        }
    }
    set_cpuset(cg, c, "cpuset")
}

fn set_cpuset(cg: &Cgroup, c: &LinuxCpu, controller: &'static str) -> Result<()> {
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_none() && mems.is_none() {
        return Ok(());
    }
    let dir = if controller.is_empty() {
        cg.path_of(UNIFIED)
    } else {
        cg.path_of(controller)
    }
    .ok_or(Error::ControllerMissing {
        resource: "cpu.cpus/mems",
        controller: "cpuset",
    })?;
    if let Some(v) = cpus {
        write_file(&dir.join("cpuset.cpus"), v)?;
    }
    if let Some(v) = mems {
        write_file(&dir.join("cpuset.mems"), v)?;
    }
    Ok(())
}

fn set_v1_blkio(cg: &Cgroup, b: &LinuxBlockIo) -> Result<()> {
    let empty = b.weight().is_none()
        && b.leaf_weight().is_none()
        && b.weight_device().as_ref().is_none_or(|v| v.is_empty())
        && b.throttle_read_bps_device()
            .as_ref()
            .is_none_or(|v| v.is_empty())
        && b.throttle_write_bps_device()
            .as_ref()
            .is_none_or(|v| v.is_empty())
        && b.throttle_read_iops_device()
            .as_ref()
            .is_none_or(|v| v.is_empty())
        && b.throttle_write_iops_device()
            .as_ref()
            .is_none_or(|v| v.is_empty());
    if empty {
        return Ok(());
    }
    let dir = dir_of(cg, "blkio", "blockIO")?;
    // CFQ's blkio.weight is gone since Linux 5.0; BFQ exposes blkio.bfq.weight.
    let weight_file = |name: &str| {
        let plain = dir.join(format!("blkio.{name}"));
        if plain.exists() {
            plain
        } else {
            dir.join(format!("blkio.bfq.{name}"))
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        write_file(&weight_file("weight"), &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        write_file(&dir.join("blkio.leaf_weight"), &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            write_file(
                &weight_file("weight_device"),
                &format!("{}:{} {}", d.major(), d.minor(), w),
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            write_file(
                &dir.join("blkio.leaf_weight_device"),
                &format!("{}:{} {}", d.major(), d.minor(), w),
            )?;
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, list) in throttles {
        for d in list.iter().flatten() {
            write_file(
                &dir.join(file),
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

/// True when `controller` is listed in `dir/cgroup.controllers` (cgroup2).
fn has_v2_controller(dir: &Path, controller: &str) -> bool {
    read_opt(&dir.join("cgroup.controllers"))
        .ok()
        .flatten()
        .is_some_and(|c| c.split_whitespace().any(|x| x == controller))
}

/// cgroup2 hugetlb: `hugetlb.<size>.max` (bytes, `max` for a negative
/// limit) and, where the kernel has it, the reservation limit
/// `hugetlb.<size>.rsvd.max` (the OCI field prefers reservations,
/// cgroup-v2.rst "HugeTLB").
fn write_v2_hugetlb(dir: &Path, limits: &[oci_spec::runtime::LinuxHugepageLimit]) -> Result<()> {
    for l in limits {
        let v = i64_or_max(l.limit());
        write_file(&dir.join(format!("hugetlb.{}.max", l.page_size())), &v)?;
        let rsvd = dir.join(format!("hugetlb.{}.rsvd.max", l.page_size()));
        if rsvd.exists() {
            write_file(&rsvd, &v)?;
        }
    }
    Ok(())
}

/// Enables every controller listed in the root's `cgroup.controllers` in
/// `cgroup.subtree_control` of each ancestor of `leaf` (not the leaf).
/// A controller the kernel refuses (e.g. EBUSY because of the "no internal
/// processes" rule) is skipped; writing its files later reports the error.
pub(crate) fn enable_v2_controllers(leaf: &Path) -> Result<()> {
    let mut ancestors: Vec<&Path> = leaf.ancestors().skip(1).collect();
    ancestors.reverse();
    for dir in ancestors {
        let Some(avail) = read_opt(&dir.join("cgroup.controllers"))? else {
            continue;
        };
        let enabled = read_opt(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
        for c in avail.split_whitespace() {
            if !enabled.split_whitespace().any(|e| e == c) {
                let _ = write_file(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
            }
        }
    }
    Ok(())
}

/// v2 (unified) implementation of [`Cgroup::set_with_devices`].
#[allow(deprecated)]
pub(crate) fn set_v2(cg: &Cgroup, r: &LinuxResources, linux_devices: &[LinuxDevice]) -> Result<()> {
    let dir = cg
        .path_of(UNIFIED)
        .ok_or(Error::LayoutUnavailable(crate::Layout::Unified))?;
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        if let Some(sw) = swap_to_v2(m.swap().unwrap_or(0), limit)? {
            let f = dir.join("memory.swap.max");
            if f.exists() {
                write_file(&f, &i64_or_max(sw))?;
            } else if sw != -1 {
                return Err(Error::Unsupported(format!(
                    "memory.swap requested but {} does not exist",
                    f.display()
                )));
            }
        }
        if limit != 0 {
            write_file(&dir.join("memory.max"), &i64_or_max(limit))?;
        }
        if let Some(res) = m.reservation().filter(|v| *v != 0) {
            write_file(&dir.join("memory.low"), &i64_or_max(res))?;
        }
        if m.swappiness().is_some_and(|s| s <= 100) {
            return Err(Error::Unsupported(
                "memory.swappiness has no cgroup v2 equivalent".into(),
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::Unsupported(
                "memory.disableOOMKiller has no cgroup v2 equivalent".into(),
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(w) = c.shares().filter(|s| *s != 0) {
            write_file(&dir.join("cpu.weight"), &shares_to_weight(w).to_string())?;
        }
        let quota = c.quota().unwrap_or(0);
        let period = c.period().unwrap_or(0);
        if quota != 0 || period != 0 {
            let mut v = if quota > 0 {
                quota.to_string()
            } else {
                "max".to_string()
            };
            if period != 0 {
                v += &format!(" {period}");
            }
            write_file(&dir.join("cpu.max"), &v)?;
        }
        if let Some(b) = c.burst() {
            write_file(&dir.join("cpu.max.burst"), &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            write_file(&dir.join("cpu.idle"), &i.to_string())?;
        }
        if c.realtime_period().is_some_and(|v| v != 0)
            || c.realtime_runtime().is_some_and(|v| v != 0)
        {
            return Err(Error::Unsupported(
                "cpu.realtimePeriod/realtimeRuntime have no cgroup v2 equivalent".into(),
            ));
        }
        set_cpuset(cg, c, "")?;
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            write_file(&dir.join("pids.max"), &i64_or_max(p.limit()))?;
        }
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            // blkio 10..=1000 → io 1..=10000.
            let w = 1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990;
            write_file(&dir.join("io.weight"), &format!("default {w}"))?;
        }
        let throttles = [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ];
        for (key, list) in throttles {
            for d in list.iter().flatten() {
                write_file(
                    &dir.join("io.max"),
                    &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                )?;
            }
        }
    }
    let rules = r.devices().clone().unwrap_or_default();
    let _ = linux_devices; // no rules of their own (see set_v1)
    let allows_all = rules.iter().all(|r| r.allow());
    if !allows_all {
        return Err(Error::Unsupported(
            "device rules on cgroup v2 need a BPF_PROG_TYPE_CGROUP_DEVICE program, which berth-cgroups does not build yet"
                .into(),
        ));
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        write_v2_hugetlb(dir, h)?;
    }
    if r.network()
        .as_ref()
        .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some())
    {
        return Err(Error::Unsupported(
            "network.classID/priorities need v1 net_cls/net_prio".into(),
        ));
    }
    if let Some(rdma) = r.rdma() {
        for (dev, l) in rdma {
            write_file(
                &dir.join("rdma.max"),
                &rdma_line(dev, l.hca_handles(), l.hca_objects()),
            )?;
        }
    }
    if let Some(u) = r.unified() {
        write_unified(dir, u)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_weight_conversion() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(0, -1).unwrap(), Some(-1));
        assert_eq!(swap_to_v2(0, 100).unwrap(), None);
        assert_eq!(swap_to_v2(-1, 100).unwrap(), Some(-1));
        assert_eq!(swap_to_v2(300, 100).unwrap(), Some(200));
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn device_lines() {
        let d = default_allowed_devices();
        assert_eq!(device_rule_line(&d[0]).unwrap().unwrap(), "c *:* m");
        assert_eq!(device_rule_line(&d[2]).unwrap().unwrap(), "c 1:3 rwm");
        assert_eq!(device_rule_line(&d[8]).unwrap().unwrap(), "c 136:* rwm");
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_access(Some("rwm".into()));
        assert_eq!(device_rule_line(&deny).unwrap().unwrap(), "a *:* rwm");
        let mut fifo = LinuxDeviceCgroup::default();
        fifo.set_typ(Some(LinuxDeviceType::P));
        assert_eq!(device_rule_line(&fifo).unwrap(), None);
        let dev: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/f","type":"p","major":0,"minor":0}"#).unwrap();
        assert!(device_rules_for(&[dev]).is_empty());
    }
}
