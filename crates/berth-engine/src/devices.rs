//! Host devices in a container's spec, as moby's `WithDevices` puts them
//! there: `HostConfig.Devices` (`--device`; a directory adds every device
//! under it) become `linux.devices` nodes plus device-cgroup allow rules
//! with their permissions, `HostConfig.DeviceCgroupRules` become rules,
//! and a privileged container gets every host device under `/dev` (runc's
//! `HostDevices` walk) with the cgroup allowing everything.
//!
//! Errors are dockerd's words (`error gathering device information while
//! adding custom device "/dev/nope": no such file or directory`), raised at
//! start, as dockerd raises them while building the spec.

use berth_api::models::HostConfig;
use berth_api::ApiError;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// A device node found on the host, as `linux.devices` wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostDevice {
    /// Path in the container.
    pub path: String,
    /// `c`, `b` or `p`.
    pub kind: char,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits (the mode without the file type).
    pub file_mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl HostDevice {
    fn linux_device(&self) -> Value {
        json!({
            "path": self.path,
            "type": self.kind.to_string(),
            "major": self.major,
            "minor": self.minor,
            "fileMode": self.file_mode,
            "uid": self.uid,
            "gid": self.gid,
        })
    }

    fn cgroup_rule(&self, access: &str) -> Value {
        json!({
            "allow": true,
            "type": self.kind.to_string(),
            "major": self.major,
            "minor": self.minor,
            "access": access,
        })
    }
}

/// Why a path is not a device (runc's `DeviceFromPath`).
enum NotDevice {
    /// Exists but is no device node (`not a device node`).
    NotANode,
    /// The lstat error.
    Io(std::io::Error),
}

/// The device at `path` (not followed if a symlink), with `path` as its
/// container path: runc's `DeviceFromPath` (block, char and FIFO nodes).
fn device_from_path(path: &Path) -> Result<HostDevice, NotDevice> {
    let md = std::fs::symlink_metadata(path).map_err(NotDevice::Io)?;
    let ft = md.file_type();
    let kind = if ft.is_block_device() {
        'b'
    } else if ft.is_char_device() {
        'c'
    } else if ft.is_fifo() {
        'p'
    } else {
        return Err(NotDevice::NotANode);
    };
    let rdev = md.rdev();
    Ok(HostDevice {
        path: path.display().to_string(),
        kind,
        major: nix_major(rdev),
        minor: nix_minor(rdev),
        file_mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
    })
}

/// glibc's `gnu_dev_major`.
fn nix_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)
}

/// glibc's `gnu_dev_minor`.
fn nix_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)
}

/// The errno text Go prints for an error (`no such file or directory`),
/// without Rust's ` (os error N)`.
fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    // Go's syscall.Errno strings start lower-case.
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Every device under `dir` (recursively, entries in name order, symlinks
/// not followed, unreadable entries skipped), each at `dir` replaced by
/// `in_container` in its path: moby's `DevicesFromPath` for a directory.
fn devices_under(dir: &Path, host_root: &str, in_container: &str, out: &mut Vec<HostDevice>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => devices_under(&p, host_root, in_container, out),
            _ => {
                if let Ok(mut d) = device_from_path(&p) {
                    d.path = d.path.replacen(host_root, in_container, 1);
                    out.push(d);
                }
            }
        }
    }
}

/// The devices of one `--device` mapping: the node at `on_host` (a symlink
/// resolved first) at `in_container`, or, for a directory, every device
/// under it.
///
/// # Errors
/// dockerd's `error gathering device information while adding custom
/// device "<on_host>": <no such file or directory | not a device node>`.
pub fn devices_from_path(on_host: &str, in_container: &str) -> Result<Vec<HostDevice>, ApiError> {
    let mut resolved = on_host.to_string();
    if std::fs::symlink_metadata(on_host).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(p) = std::fs::canonicalize(on_host) {
            resolved = p.display().to_string();
        }
    }
    let err = match device_from_path(Path::new(&resolved)) {
        Ok(mut d) => {
            d.path = in_container.to_string();
            return Ok(vec![d]);
        }
        Err(NotDevice::NotANode) => {
            let mut out = Vec::new();
            if Path::new(&resolved).is_dir() {
                devices_under(Path::new(&resolved), &resolved, in_container, &mut out);
            }
            if !out.is_empty() {
                return Ok(out);
            }
            "not a device node".to_string()
        }
        Err(NotDevice::Io(e)) => errno_text(&e),
    };
    Err(ApiError::system(format!(
        "error gathering device information while adding custom device {on_host:?}: {err}"
    )))
}

/// Every device node under `/dev`, as runc's `HostDevices`: directories
/// `pts`, `shm`, `fd`, `mqueue`, `.lxc`, `.lxd-mounts` and `.udev` and
/// the file `console` skipped, symlinks and FIFOs left out.
pub fn host_devices() -> Vec<HostDevice> {
    let mut out = Vec::new();
    walk_dev(Path::new("/dev"), &mut out);
    out
}

fn walk_dev(dir: &Path, out: &mut Vec<HostDevice>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            if !matches!(
                &*name,
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                walk_dev(&e.path(), out);
            }
            continue;
        }
        if name == "console" {
            continue;
        }
        if let Ok(d) = device_from_path(&e.path()) {
            if d.kind != 'p' {
                out.push(d);
            }
        }
    }
}

/// One `--device-cgroup-rule` (`type major:minor access`, type `a`, `b`
/// or `c`, numbers or `*`, access 1-3 of `rwm`) as an allow rule
/// (`*` = -1).
///
/// # Errors
/// dockerd's `invalid device cgroup rule format: '<rule>'`.
pub fn parse_cgroup_rule(rule: &str) -> Result<Value, ApiError> {
    let bad = || ApiError::system(format!("invalid device cgroup rule format: '{rule}'"));
    let mut parts = rule.split(' ');
    let (Some(t), Some(nums), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !matches!(t, "a" | "b" | "c") {
        return Err(bad());
    }
    if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    let (maj, min) = nums.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<i64, ApiError> {
        if s == "*" {
            Ok(-1)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<i64>().map_err(|_| {
                ApiError::system(format!(
                    "invalid major value in device cgroup rule format: '{rule}'"
                ))
            })
        } else {
            Err(bad())
        }
    };
    Ok(json!({
        "allow": true,
        "type": t,
        "major": num(maj)?,
        "minor": num(min)?,
        "access": access,
    }))
}

/// True when berthd runs in a user namespace other than the initial one
/// (its uid_map is not the identity over all ids): dockerd then adds no
/// host devices to privileged containers.
fn running_in_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f != ["0", "0", "4294967295"]
    })
}

/// Adds the container's devices to `spec` (`linux.devices`, and
/// `linux.resources.devices` after the default rules bundle.rs wrote),
/// as moby's `WithDevices`.
///
/// # Errors
/// A mapping whose host path is no device, a malformed cgroup rule.
pub fn apply(h: &HostConfig, spec: &mut Value) -> Result<(), ApiError> {
    let mut devs: Vec<Value> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    if h.privileged {
        if !running_in_userns() {
            devs.extend(host_devices().iter().map(HostDevice::linux_device));
        }
        for m in &h.devices {
            if m.cgroup_permissions != "rwm" {
                tracing::warn!(
                    "custom {} permissions for device {} are ignored in privileged mode",
                    m.cgroup_permissions,
                    m.path_on_host
                );
            }
            let found = devices_from_path(&m.path_on_host, &m.path_in_container)?;
            devs.extend(found.iter().map(HostDevice::linux_device));
        }
        // bundle.rs already allows everything for a privileged container.
    } else {
        for m in &h.devices {
            let found = devices_from_path(&m.path_on_host, &m.path_in_container)?;
            for d in &found {
                devs.push(d.linux_device());
                rules.push(d.cgroup_rule(&m.cgroup_permissions));
            }
        }
        for r in h.device_cgroup_rules.iter().flatten() {
            rules.push(parse_cgroup_rule(r)?);
        }
    }
    if devs.is_empty() && rules.is_empty() {
        return Ok(());
    }
    let linux = &mut spec["linux"];
    if !devs.is_empty() {
        match linux["devices"].as_array_mut() {
            Some(a) => a.extend(devs),
            None => linux["devices"] = Value::Array(devs),
        }
    }
    if !rules.is_empty() {
        match linux["resources"]["devices"].as_array_mut() {
            Some(a) => a.extend(rules),
            None => linux["resources"]["devices"] = Value::Array(rules),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_rules() {
        assert_eq!(
            parse_cgroup_rule("c 1:3 rwm").unwrap(),
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(parse_cgroup_rule("c *:* m").unwrap()["major"], -1);
        for bad in [
            "c 1:3 rwx",
            "x 1:3 r",
            "c 1 r",
            "c 1:3",
            "c 1:3 rwmr",
            "c a:3 r",
            "",
        ] {
            let e = parse_cgroup_rule(bad).unwrap_err();
            assert_eq!(
                e.message,
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

    #[test]
    fn device_paths() {
        let d = devices_from_path("/dev/null", "/dev/mynull").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].path.as_str(), d[0].kind, d[0].major, d[0].minor),
            ("/dev/mynull", 'c', 1, 3)
        );
        assert_eq!(d[0].file_mode, 0o666);
        let e = devices_from_path("/dev/nope", "/dev/nope").unwrap_err();
        assert_eq!(
            e.message,
            "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
        );
        let e = devices_from_path("/etc/hostname", "/x").unwrap_err();
        assert!(e.message.ends_with(": not a device node"), "{}", e.message);
        let hd = host_devices();
        assert!(hd.iter().any(|d| d.path == "/dev/null"));
        assert!(!hd.iter().any(|d| d.path.starts_with("/dev/pts/")
            || d.path == "/dev/console"
            || d.path.starts_with("/dev/fd")));
    }
}
