//! Builds real tar archives, hostile ones included, for the layer tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// One archive entry.
pub enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    /// File with owner and PAX xattrs.
    FileX(&'a str, &'a [u8], u32, u64, u64, &'a [(&'a str, &'a [u8])]),
    Hard(&'a str, &'a str),
    Sym(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
    /// Raw name bytes, regular file (for `../` entries tar's API refuses).
    Raw(&'a [u8], &'a [u8]),
}

fn set_name(h: &mut tar::Header, name: &[u8]) {
    let old = h.as_old_mut();
    old.name = [0; 100];
    old.name[..name.len()].copy_from_slice(name);
}

fn set_link(h: &mut tar::Header, name: &[u8]) {
    let old = h.as_old_mut();
    old.linkname = [0; 100];
    old.linkname[..name.len()].copy_from_slice(name);
}

fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body_len = k.len() + v.len() + 3; // ' ' '=' '\n'
        let mut len = body_len + 1;
        while len.to_string().len() + body_len != len {
            len = len.to_string().len() + body_len;
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// A tar archive of `entries`, in order, mtime 1_000_000_000.
pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1_000_000_000);
        h.set_uid(0);
        h.set_gid(0);
        let (name, kind, data, mode): (&[u8], tar::EntryType, &[u8], u32) = match e {
            E::Dir(n, m) => (n.as_bytes(), tar::EntryType::Directory, b"", *m),
            E::File(n, d, m) => (n.as_bytes(), tar::EntryType::Regular, d, *m),
            E::FileX(n, d, m, uid, gid, x) => {
                let recs: Vec<(String, &[u8])> = x
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                    .collect();
                let recs: Vec<(&str, &[u8])> = recs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                let body = pax(&recs);
                let mut ph = tar::Header::new_ustar();
                ph.set_entry_type(tar::EntryType::XHeader);
                set_name(&mut ph, b"PaxHeaders/x");
                ph.set_size(body.len() as u64);
                ph.set_mode(0o644);
                ph.set_cksum();
                b.append(&ph, body.as_slice()).unwrap();
                h.set_uid(*uid);
                h.set_gid(*gid);
                (n.as_bytes(), tar::EntryType::Regular, d, *m)
            }
            E::Hard(n, t) => {
                set_link(&mut h, t.as_bytes());
                (n.as_bytes(), tar::EntryType::Link, b"", 0o644)
            }
            E::Sym(n, t) => {
                set_link(&mut h, t.as_bytes());
                (n.as_bytes(), tar::EntryType::Symlink, b"", 0o777)
            }
            E::Char(n, ma, mi) => {
                h.set_device_major(*ma).unwrap();
                h.set_device_minor(*mi).unwrap();
                (n.as_bytes(), tar::EntryType::Char, b"", 0o666)
            }
            E::Fifo(n) => (n.as_bytes(), tar::EntryType::Fifo, b"", 0o644),
            E::Raw(n, d) => (n, tar::EntryType::Regular, d, 0o644),
        };
        set_name(&mut h, name);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Mounts overlayfs at `target` with `data`, from `cwd` when given (the
/// relative form), with the system mount(8). Panics on failure.
pub fn mount_overlay(target: &Path, cwd: Option<&Path>, data: &str) {
    std::fs::create_dir_all(target).unwrap();
    let mut c = Command::new("mount");
    c.args(["-t", "overlay", "overlay", "-o", data]).arg(target);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let out = c.output().expect("run mount");
    assert!(
        out.status.success(),
        "mount overlay failed: {} (data {} bytes)",
        String::from_utf8_lossy(&out.stderr),
        data.len()
    );
}

/// Unmounts `target` (bounded: umount does not wait on anything here).
pub fn umount(target: &Path) {
    let st = Command::new("umount")
        .arg(target)
        .status()
        .expect("run umount");
    assert!(st.success(), "umount {} failed", target.display());
}

/// Unmounts on drop, so a failing assertion does not leak the mount.
pub struct Mounted(pub std::path::PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
