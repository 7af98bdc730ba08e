//! The `local` volume driver's mount options (`docker volume create -o
//! type=tmpfs -o device=tmpfs -o o=size=64m`, `-o type=none -o o=bind -o
//! device=/host/dir`), as moby's `volume/local` driver takes them: checked
//! at create, and mounted on the volume's `_data` directory while a
//! container uses the volume (see [`crate::volumes`] for the counting).
//!
//! The `o` value is split as moby's `mount.ParseOptions` splits it: the
//! names of mount flags (`ro`, `bind`, `nosuid`, `rprivate`...) become
//! `mount(2)` flags, everything else is the filesystem's data string;
//! mounting and its error text follow moby's `mount.Mount`.

use std::collections::BTreeMap;
use std::path::Path;

const RDONLY: u32 = 1;
const NOSUID: u32 = 2;
const NODEV: u32 = 4;
const NOEXEC: u32 = 8;
const SYNCHRONOUS: u32 = 16;
const REMOUNT: u32 = 32;
const MANDLOCK: u32 = 64;
const DIRSYNC: u32 = 128;
const NOATIME: u32 = 1024;
const NODIRATIME: u32 = 2048;
const BIND: u32 = 4096;
const REC: u32 = 16384;
const SILENT: u32 = 32768;
const UNBINDABLE: u32 = 1 << 17;
const PRIVATE: u32 = 1 << 18;
const SLAVE: u32 = 1 << 19;
const SHARED: u32 = 1 << 20;
const RELATIME: u32 = 1 << 21;
const STRICTATIME: u32 = 1 << 24;
/// Propagation types, and what may go with them (moby `ptypes`, `pflags`).
const PTYPES: u32 = SHARED | PRIVATE | SLAVE | UNBINDABLE;
const PFLAGS: u32 = PTYPES | REC | SILENT;

/// moby/sys/mount `flagList`: (name, clear, flag).
const FLAGS: &[(&str, bool, u32)] = &[
    ("defaults", false, 0),
    ("ro", false, RDONLY),
    ("rw", true, RDONLY),
    ("suid", true, NOSUID),
    ("nosuid", false, NOSUID),
    ("dev", true, NODEV),
    ("nodev", false, NODEV),
    ("exec", true, NOEXEC),
    ("noexec", false, NOEXEC),
    ("sync", false, SYNCHRONOUS),
    ("async", true, SYNCHRONOUS),
    ("dirsync", false, DIRSYNC),
    ("remount", false, REMOUNT),
    ("mand", false, MANDLOCK),
    ("nomand", true, MANDLOCK),
    ("atime", true, NOATIME),
    ("noatime", false, NOATIME),
    ("diratime", true, NODIRATIME),
    ("nodiratime", false, NODIRATIME),
    ("bind", false, BIND),
    ("rbind", false, BIND | REC),
    ("unbindable", false, UNBINDABLE),
    ("runbindable", false, UNBINDABLE | REC),
    ("private", false, PRIVATE),
    ("rprivate", false, PRIVATE | REC),
    ("shared", false, SHARED),
    ("rshared", false, SHARED | REC),
    ("slave", false, SLAVE),
    ("rslave", false, SLAVE | REC),
    ("relatime", false, RELATIME),
    ("norelatime", true, RELATIME),
    ("strictatime", false, STRICTATIME),
    ("nostrictatime", true, STRICTATIME),
];

/// Checks the options of a new local volume as dockerd does (moby
/// `volume/local` `validateOpts`); the text is what follows `create
/// <name>: ` in dockerd's answer (400).
///
/// Errors: `invalid option: "<key>"` (keys other than `type`, `device`,
/// `o`, `size`), `quota size requested but no quota support` (`size`:
/// Berth has no project quotas, as dockerd without XFS quotas), `missing
/// required option: "<key>"` (`type` and `device` go together, `o` needs
/// both).
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), String> {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o" | "size") {
            return Err(format!("invalid option: {k:?}"));
        }
    }
    if opts.contains_key("size") {
        return Err("quota size requested but no quota support".into());
    }
    // moby's mandatoryOpts, a Go map: its iteration order is random, so
    // which key dockerd names first varies; "device" before "type" here.
    for (opt, reqs) in [
        ("device", &["type"][..]),
        ("type", &["device"][..]),
        ("o", &["device", "type"][..]),
    ] {
        if opts.contains_key(opt) {
            if let Some(r) = reqs.iter().find(|r| !opts.contains_key(**r)) {
                return Err(format!("missing required option: {r:?}"));
            }
        }
    }
    Ok(())
}

/// Whether a volume with these options is mounted while in use (it has a
/// `device`; moby's `needsMount`).
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    opts.get("device").is_some_and(|d| !d.is_empty())
}

/// `o` split into `mount(2)` flags and the data string (moby
/// `parseOptions`).
fn parse_o(o: &str) -> (u32, String) {
    let mut flags = 0u32;
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match FLAGS.iter().find(|(n, _, _)| *n == opt) {
            Some((_, true, f)) => flags &= !f,
            Some((_, false, f)) => flags |= f,
            None => data.push(opt),
        }
    }
    (flags, data.join(","))
}

/// Go's text for an errno (`syscall.Errno.Error()`: strerror, first
/// letter lower case).
fn errno_text(e: &std::io::Error) -> String {
    let s = e
        .raw_os_error()
        .map(|n| nix::errno::Errno::from_raw(n).desc().to_string())
        .unwrap_or_else(|| e.to_string());
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// moby/sys/mount `mountError.Error()`.
fn mount_error(
    op: &str,
    source: &str,
    target: &Path,
    flags: u32,
    data: &str,
    e: &std::io::Error,
) -> String {
    let mut out = format!("{op} ");
    if source.is_empty() {
        out.push_str(&target.display().to_string());
    } else {
        out.push_str(&format!("{source}:{}", target.display()));
    }
    if flags != 0 {
        out.push_str(&format!(", flags: 0x{flags:x}"));
    }
    if !data.is_empty() {
        out.push_str(&format!(", data: {data}"));
    }
    out.push_str(&format!(": {}", errno_text(e)));
    out
}

/// Mounts the volume's `device` on `target` (its `_data`) as moby's
/// `mount.Mount(device, target, type, o)` does: the mount with the
/// non-propagation flags, then the propagation change if any, then a
/// read-only remount of a read-only bind.
///
/// Errors: moby's text, `failed to mount local volume: mount
/// <device>:<target>[, flags: 0x..][, data: ..]: <errno text>`.
pub fn mount(opts: &BTreeMap<String, String>, target: &Path) -> Result<(), String> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    let device = opts.get("device").map(String::as_str).unwrap_or("");
    if device.is_empty() {
        return Err("missing device in volume options".into());
    }
    let fstype = opts.get("type").map(String::as_str).unwrap_or("");
    let (flags, data) = parse_o(opts.get("o").map(String::as_str).unwrap_or(""));
    let wrap = |m: String| format!("failed to mount local volume: {m}");
    let oflags = flags & !PTYPES;
    let remount = flags & REMOUNT != 0;
    if !remount || !data.is_empty() {
        let cdata = std::ffi::CString::new(data.clone()).map_err(|e| wrap(e.to_string()))?;
        rustix::mount::mount(
            device,
            target,
            fstype,
            MountFlags::from_bits_retain(oflags),
            (!data.is_empty()).then_some(cdata.as_c_str()),
        )
        .map_err(|e| {
            let e = std::io::Error::from(e);
            wrap(mount_error("mount", device, target, oflags, &data, &e))
        })?;
    }
    if flags & PTYPES != 0 {
        let p = flags & PFLAGS;
        if let Err(e) =
            rustix::mount::mount_change(target, MountPropagationFlags::from_bits_retain(p))
        {
            let e = std::io::Error::from(e);
            unmount(target);
            return Err(wrap(mount_error("mount", "", target, p, "", &e)));
        }
    }
    if oflags & (BIND | RDONLY) == BIND | RDONLY {
        let f = oflags | REMOUNT;
        if let Err(e) = rustix::mount::mount(
            "",
            target,
            "",
            MountFlags::from_bits_retain(f),
            None::<&std::ffi::CStr>,
        ) {
            let e = std::io::Error::from(e);
            unmount(target);
            return Err(wrap(mount_error("remount", "", target, f, "", &e)));
        }
    }
    Ok(())
}

/// Unmounts everything mounted on `target` (moby `RecursiveUnmount` of
/// the volume path; lazily, so a straggling user does not keep it).
pub fn unmount(target: &Path) {
    while is_mounted(target) {
        if let Err(e) = rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH) {
            tracing::warn!("unmount volume {}: {e}", target.display());
            return;
        }
    }
}

/// Whether something is mounted exactly on `target` (this process's
/// `/proc/self/mountinfo`, mount points unescaped).
pub fn is_mounted(target: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = target.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

/// mountinfo's octal escapes (`\040` for a space...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validation_as_dockerd() {
        assert_eq!(validate(&m(&[])), Ok(()));
        assert_eq!(
            validate(&m(&[
                ("type", "tmpfs"),
                ("device", "tmpfs"),
                ("o", "size=1m")
            ])),
            Ok(())
        );
        assert_eq!(
            validate(&m(&[("foo", "bar")])).unwrap_err(),
            r#"invalid option: "foo""#
        );
        assert_eq!(
            validate(&m(&[("type", "tmpfs")])).unwrap_err(),
            r#"missing required option: "device""#
        );
        assert_eq!(
            validate(&m(&[("device", "tmpfs")])).unwrap_err(),
            r#"missing required option: "type""#
        );
        assert_eq!(
            validate(&m(&[("o", "size=1m"), ("type", "tmpfs")])).unwrap_err(),
            r#"missing required option: "device""#
        );
        assert_eq!(
            validate(&m(&[("size", "1m")])).unwrap_err(),
            "quota size requested but no quota support"
        );
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        assert_eq!(
            parse_o("size=64m,uid=1000"),
            (0, "size=64m,uid=1000".into())
        );
        assert_eq!(parse_o("bind"), (BIND, String::new()));
        assert_eq!(
            parse_o("ro,rbind,nosuid,mode=700"),
            (RDONLY | BIND | REC | NOSUID, "mode=700".into())
        );
        assert_eq!(parse_o("ro,rw"), (0, String::new()));
        assert_eq!(unescape(r"/a\040b"), "/a b");
        let e = std::io::Error::from_raw_os_error(22);
        assert_eq!(
            mount_error("mount", "tmpfs", Path::new("/v/_data"), 0, "bogus=1", &e),
            "mount tmpfs:/v/_data, data: bogus=1: invalid argument"
        );
    }
}
