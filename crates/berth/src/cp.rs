//! `berth cp` (and `berth container cp`), as the docker CLI does it:
//!
//! ```text
//! cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
//! cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH
//! ```
//!
//! From a container: `GET /containers/{id}/archive?path=` (after a `HEAD`
//! stat with `-L`, to follow a final symlink), the tar written to stdout
//! for `-` or extracted locally with the docker CLI's rules (moby's
//! `archive.CopyTo`: a directory destination receives the source by its
//! name, a missing one takes the source's content under its own name,
//! entries renamed accordingly; extraction refuses entries, symlinks and
//! hard links that leave the destination, and a directory replaced by a
//! file or the reverse). To a container: a `HEAD` stat of the destination
//! (a symlink is followed once), the local path tarred with the same
//! renaming, `PUT ...?path=<dir>&noOverwriteDirNonDir=true[&copyUIDGID=true]`;
//! `-` sends stdin (a tar) as it is. Errors are the docker CLI's words
//! (`no such directory`, `cannot copy directory`, `lstat PATH: no such
//! file or directory`, `invalid symlink "A" -> "B"`, the daemon's own).
//! The progress line ("Successfully copied 3B to ...") is printed only
//! when stderr is a terminal and `-q` is not given, as docker does.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use berth_api::models::ContainerPathStat;
use berth_client::{qs, Client, Method, ReqBody};
use clap::{ArgAction, Args};

use crate::{CmdResult, Fail};

/// `cp` arguments.
#[derive(Args, Debug, Clone)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is
    /// automatically suppressed if no terminal is attached
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// SRC
    #[arg(value_name = "SRC", required = true, allow_hyphen_values = true)]
    pub source: String,
    /// DEST
    #[arg(value_name = "DEST", required = true, allow_hyphen_values = true)]
    pub destination: String,
}

// Go's os.FileMode bits (moby's ContainerPathStat.Mode).
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_IRREGULAR: u32 = 1 << 19;

/// `CONTAINER:PATH` or a local path (absolute, or starting with `.`, or
/// without `:`), as the docker CLI's `splitCpArg`.
fn split_cp_arg(arg: &str) -> (String, String) {
    if arg.starts_with('/') {
        return (String::new(), arg.to_string());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (c.to_string(), p.to_string()),
        _ => (String::new(), arg.to_string()),
    }
}

/// Go's `filepath.Clean`.
pub(crate) fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let s = parts.join("/");
    match (abs, s.is_empty()) {
        (true, _) => format!("/{s}"),
        (false, true) => ".".into(),
        (false, false) => s,
    }
}

/// Go's `filepath.Dir`: the last element dropped, then cleaned.
fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    }
}

/// Go's `filepath.Base`.
fn base(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn join(a: &str, b: &str) -> String {
    clean(&format!("{a}/{b}"))
}

fn specifies_current_dir(p: &str) -> bool {
    base(p) == "."
}

fn has_trailing_sep(p: &str) -> bool {
    p.ends_with('/')
}

/// moby's `archive.SplitPathDirEntry`.
fn split_dir_entry(p: &str) -> (String, String) {
    let mut c = clean(p);
    if specifies_current_dir(p) {
        c.push_str("/.");
    }
    (dir(&c), base(&c))
}

/// moby's `archive.PreserveTrailingDotOrSeparator`.
fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut c = cleaned.to_string();
    if specifies_current_dir(original) && !specifies_current_dir(&c) {
        if !c.ends_with('/') {
            c.push('/');
        }
        c.push('.');
    }
    if has_trailing_sep(original) && !has_trailing_sep(&c) {
        c.push('/');
    }
    c
}

/// The docker CLI's `resolveLocalPath`: absolute, trailing `/` or `/.` kept.
fn resolve_local_path(p: &str) -> Result<String, Fail> {
    let abs = if p.starts_with('/') {
        clean(p)
    } else {
        let cwd = std::env::current_dir().map_err(|e| Fail::msg(e.to_string()))?;
        join(&cwd.display().to_string(), p)
    };
    Ok(preserve_trailing(&abs, p))
}

/// moby's `archive.GetRebaseName`.
fn rebase_name(path: &str, resolved: &str) -> (String, String) {
    let mut r = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&r) {
        r.push_str("/.");
    }
    if has_trailing_sep(path) && !has_trailing_sep(&r) {
        r.push('/');
    }
    let name = if base(path) != base(&r) {
        base(path)
    } else {
        String::new()
    };
    (r, name)
}

/// Go's `*PathError` text: `op path: reason` (lower-case reason).
fn path_err(op: &str, p: &str, e: &std::io::Error) -> Fail {
    Fail::msg(format!("{op} {p}: {}", io_reason(e)))
}

fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or("").to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// Where a copy goes or comes from (moby's `archive.CopyInfo`).
#[derive(Debug, Clone, Default)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    rebase_name: String,
}

/// moby's `PrepareArchiveCopy`: the directory to extract into and the
/// renaming (old base, new base) of the archive's entries, if any.
fn prepare_copy(
    src: &CopyInfo,
    dst: &CopyInfo,
) -> Result<(String, Option<(String, String)>), Fail> {
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    let (_, mut src_base) = split_dir_entry(&src.path);
    if !src.rebase_name.is_empty() {
        src_base = src.rebase_name.clone();
    }
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(Fail::msg("cannot copy directory"));
    }
    if !dst.exists
        && !src.is_dir
        && (has_trailing_sep(&dst.path) || specifies_current_dir(&dst.path))
    {
        return Err(Fail::msg("no such directory"));
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

/// moby's `RebaseArchiveEntries` on one name.
fn rebase(name: &str, r: &Option<(String, String)>) -> String {
    match r {
        Some((old, new)) if name == old || name.starts_with(&format!("{old}/")) => {
            format!("{new}{}", &name[old.len()..])
        }
        _ => name.to_string(),
    }
}

/// `HEAD /containers/{id}/archive?path=`: the stat, or None on any error
/// (the docker CLI ignores them there).
async fn stat_path(c: &mut Client, container: &str, path: &str) -> Option<ContainerPathStat> {
    let (h, _) = c
        .request_with_response_headers(
            Method::HEAD,
            &format!("/containers/{}/archive?path={}", qs(container), qs(path)),
            ReqBody::empty(),
            None,
        )
        .await
        .ok()?;
    decode_stat(&h)
}

fn decode_stat(h: &berth_client::HeaderMap) -> Option<ContainerPathStat> {
    let v = h.get("x-docker-container-path-stat")?.to_str().ok()?;
    let json = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    serde_json::from_slice(&json).ok()
}

/// go-units' `HumanSizeWithPrecision(n, 3)`: decimal units, 3 significant digits.
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

fn show_progress(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// `berth cp`.
pub async fn cp(c: &mut Client, a: CpArgs) -> CmdResult {
    let (sc, sp) = split_cp_arg(&a.source);
    let (dc, dp) = split_cp_arg(&a.destination);
    match (sc.is_empty(), dc.is_empty()) {
        (false, true) => from_container(c, &a, &sc, &sp, &dp).await,
        (true, false) => to_container(c, &a, &sp, &dc, &dp).await,
        (false, false) => Err(Fail::msg("copying between containers is not supported")),
        (true, true) => Err(Fail::msg("must specify at least one container source")),
    }
}

/// The docker CLI's `ValidateOutputPath`.
fn validate_output_path(p: &str) -> Result<(), Fail> {
    let d = dir(&clean(p));
    if !d.is_empty() && d != "." && !Path::new(&d).exists() {
        return Err(Fail::msg(format!(
            "invalid output path: directory {d:?} does not exist"
        )));
    }
    if let Ok(md) = std::fs::metadata(p) {
        if !(md.is_dir() || md.is_file()) {
            use std::os::unix::fs::FileTypeExt;
            let ft = md.file_type();
            if ft.is_block_device() || ft.is_char_device() {
                return Err(Fail::msg(format!(
                    "invalid output path: {p:?} must be a directory or a regular file: got a device"
                )));
            }
        }
    }
    Ok(())
}

/// moby's `CopyInfoDestinationPath` (local).
fn local_destination(path: &str) -> Result<CopyInfo, Fail> {
    let mut p = path.to_string();
    let mut st = std::fs::symlink_metadata(&p);
    let mut n = 0;
    while let Ok(md) = &st {
        if !md.file_type().is_symlink() {
            break;
        }
        if n > 10 {
            return Err(Fail::msg(format!("too many symlinks in {path}")));
        }
        n += 1;
        let t = std::fs::read_link(&p).map_err(|e| path_err("readlink", &p, &e))?;
        let t = t.display().to_string();
        p = if t.starts_with('/') {
            t
        } else {
            join(&split_dir_entry(&p).0, &t)
        };
        st = std::fs::symlink_metadata(&p);
    }
    match st {
        Ok(md) => Ok(CopyInfo {
            path: p,
            exists: true,
            is_dir: md.is_dir(),
            ..Default::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (parent, _) = split_dir_entry(&p);
            let md = std::fs::metadata(&parent).map_err(|e| path_err("stat", &parent, &e))?;
            if !md.is_dir() {
                return Err(Fail::msg("not a directory"));
            }
            Ok(CopyInfo {
                path: p,
                ..Default::default()
            })
        }
        Err(e) => Err(path_err("lstat", &p, &e)),
    }
}

/// A blocking reader over chunks fed from the async side.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

async fn from_container(
    c: &mut Client,
    a: &CpArgs,
    container: &str,
    src: &str,
    dst: &str,
) -> CmdResult {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        resolve_local_path(dst)?
    };
    validate_output_path(&dst)?;
    let mut src = src.to_string();
    let mut rebase_to = String::new();
    if a.follow_link {
        if let Some(st) = stat_path(c, container, &src).await {
            if st.mode & GO_SYMLINK != 0 {
                let mut t = st.link_target.clone();
                if !t.starts_with('/') {
                    t = join(&split_dir_entry(&src).0, &t);
                }
                let (t, name) = rebase_name(&src, &t);
                src = t;
                rebase_to = name;
            }
        }
    }
    let (h, mut body) = c
        .request_with_response_headers(
            Method::GET,
            &format!("/containers/{}/archive?path={}", qs(container), qs(&src)),
            ReqBody::empty(),
            None,
        )
        .await?;
    if dst == "-" {
        let mut o = std::io::stdout().lock();
        while let Some(ch) = body.chunk().await? {
            o.write_all(&ch)?;
        }
        o.flush()?;
        return Ok(());
    }
    let st = decode_stat(&h).unwrap_or_default();
    let src_info = CopyInfo {
        path: src.clone(),
        exists: true,
        is_dir: st.mode & GO_DIR != 0,
        rebase_name: rebase_to.clone(),
    };
    // the entries first renamed to the followed link's name (-L), then
    // as the destination wants
    let first = (!rebase_to.is_empty()).then(|| (split_dir_entry(&src).1, rebase_to.clone()));
    let dst_info = local_destination(&dst)?;
    let (dst_dir, second) = prepare_copy(&src_info, &dst_info)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(8);
    let worker = tokio::task::spawn_blocking(move || {
        let r = ChunkReader {
            rx,
            cur: bytes::Bytes::new(),
        };
        untar(r, &dst_dir, |n| rebase(&rebase(n, &first), &second))
    });
    let mut size = 0u64;
    while let Some(ch) = body.chunk().await? {
        size += ch.len() as u64;
        if tx.send(ch).is_err() {
            break;
        }
    }
    drop(tx);
    worker.await.map_err(|e| Fail::msg(e.to_string()))??;
    if show_progress(a.quiet) {
        eprintln!("Successfully copied {} to {dst}", human_size(size));
    }
    Ok(())
}

/// moby's `archive.Untar` with `NoLchown` and `NoOverwriteDirNonDir`, as
/// the docker CLI extracts a container's tar locally.
fn untar<R: Read>(r: R, dest: &str, rename: impl Fn(&str) -> String) -> CmdResult {
    let mut ar = tar::Archive::new(r);
    let mut dirs: Vec<(String, u64)> = Vec::new();
    let terr = |e: std::io::Error| Fail::msg(io_reason(&e));
    for e in ar.entries().map_err(terr)? {
        let mut e = e.map_err(terr)?;
        let h = e.header().clone();
        let kind = h.entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            continue;
        }
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let name = clean(&rename(&raw));
        let parent = join(dest, &dir(&name));
        if std::fs::symlink_metadata(&parent).is_err() {
            std::fs::create_dir_all(&parent).map_err(|e| path_err("mkdir", &parent, &e))?;
        }
        let path = join(dest, &name);
        if path != clean(dest) && !path.starts_with(&format!("{}/", clean(dest)).replace("//", "/"))
        {
            return Err(Fail::msg(format!("{name:?} is outside of {dest:?}")));
        }
        let is_dir = kind == tar::EntryType::Directory;
        if let Ok(md) = std::fs::symlink_metadata(&path) {
            if md.is_dir() && !is_dir {
                return Err(Fail::msg(format!(
                    "cannot overwrite directory {path:?} with non-directory {dest:?}"
                )));
            }
            if !md.is_dir() && is_dir {
                return Err(Fail::msg(format!(
                    "cannot overwrite non-directory {path:?} with directory {dest:?}"
                )));
            }
            if md.is_dir() && name == "." {
                continue;
            }
            if !(md.is_dir() && is_dir) {
                let _ = if md.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        let link = || {
            e.link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        match kind {
            tar::EntryType::Directory => {
                if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    std::fs::create_dir(&path).map_err(|e| path_err("mkdir", &path, &e))?;
                }
                dirs.push((path.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| path_err("open", &path, &e))?;
                std::io::copy(&mut e, &mut f).map_err(terr)?;
            }
            tar::EntryType::Symlink => {
                let target = link();
                let tpath = join(&dir(&path), &target);
                if !tpath.starts_with(dest) {
                    return Err(Fail::msg(format!("invalid symlink {path:?} -> {target:?}")));
                }
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| path_err("symlink", &path, &e))?;
                continue;
            }
            tar::EntryType::Link => {
                let target = link();
                let tpath = join(dest, &rename(&target));
                if !tpath.starts_with(dest) {
                    return Err(Fail::msg(format!(
                        "invalid hardlink {tpath:?} -> {target:?}"
                    )));
                }
                std::fs::hard_link(&tpath, &path).map_err(|e| path_err("link", &path, &e))?;
                continue;
            }
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                let kind_flag = match kind {
                    tar::EntryType::Fifo => "p",
                    tar::EntryType::Char => "c",
                    _ => "b",
                };
                let mut cmd = std::process::Command::new("mknod");
                cmd.arg(&path).arg(kind_flag);
                if kind_flag != "p" {
                    cmd.arg(h.device_major().ok().flatten().unwrap_or(0).to_string())
                        .arg(h.device_minor().ok().flatten().unwrap_or(0).to_string());
                }
                let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
                if !ok {
                    return Err(Fail::msg(format!("mknod {path}: operation not permitted")));
                }
                // opening a fifo to set its times would block
                continue;
            }
            t => {
                return Err(Fail::msg(format!(
                    "unhandled tar header type {}",
                    t.as_byte()
                )))
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| path_err("chmod", &path, &e))?;
        set_mtime(&path, mtime);
    }
    for (p, t) in dirs.into_iter().rev() {
        set_mtime(&p, t);
    }
    Ok(())
}

fn set_mtime(path: &str, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t));
    }
}

async fn to_container(
    c: &mut Client,
    a: &CpArgs,
    src: &str,
    container: &str,
    dst: &str,
) -> CmdResult {
    let src = if src == "-" {
        src.to_string()
    } else {
        resolve_local_path(src)?
    };
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..Default::default()
    };
    let mut st = stat_path(c, container, dst).await;
    if let Some(s) = st.as_ref().filter(|s| s.mode & GO_SYMLINK != 0) {
        let mut t = s.link_target.clone();
        if !t.starts_with('/') {
            t = join(&split_dir_entry(dst).0, &t);
        }
        dst_info.path = t.clone();
        st = stat_path(c, container, &t).await;
    }
    let mode = st.as_ref().map(|s| s.mode).unwrap_or(0);
    if mode & GO_DEVICE != 0 || mode & GO_IRREGULAR != 0 {
        let what = if mode & GO_DEVICE != 0 {
            "got a device"
        } else {
            "got an irregular file"
        };
        return Err(Fail::msg(format!(
            "destination \"{container}:{dst}\" must be a directory or a regular file: {what}"
        )));
    }
    if let Some(s) = &st {
        dst_info.exists = true;
        dst_info.is_dir = s.mode & GO_DIR != 0;
    }
    let (tx, body) = ReqBody::channel(None);
    let (dst_dir, worker) = if src == "-" {
        if !dst_info.is_dir {
            return Err(Fail::msg(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        let w = tokio::task::spawn_blocking(move || -> Result<u64, Fail> {
            let mut n = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            let mut i = std::io::stdin().lock();
            loop {
                let k = i.read(&mut buf)?;
                if k == 0 {
                    return Ok(n);
                }
                n += k as u64;
                if tx
                    .blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..k])))
                    .is_err()
                {
                    return Ok(n);
                }
            }
        });
        (dst_info.path.clone(), w)
    } else {
        let src_info = local_source(&src, a.follow_link)?;
        let (dst_dir, ren) = prepare_copy(&src_info, &dst_info)?;
        let w = tokio::task::spawn_blocking(move || -> Result<u64, Fail> {
            let out = ChanWriter {
                tx,
                buf: Vec::new(),
                n: 0,
            };
            let (sdir, sbase) = split_dir_entry(&src_info.path);
            let mut first = None;
            if !src_info.rebase_name.is_empty() {
                first = Some((sbase.clone(), src_info.rebase_name.clone()));
            }
            let w = tar_local(&sdir, &sbase, out, |n| rebase(&rebase(n, &first), &ren))?;
            Ok(w.n)
        });
        (dst_dir, w)
    };
    let mut q = format!(
        "/containers/{}/archive?path={}&noOverwriteDirNonDir=true",
        qs(container),
        qs(&dst_dir)
    );
    if a.archive {
        q.push_str("&copyUIDGID=true");
    }
    let put = c
        .request(Method::PUT, &q, body, Some("application/x-tar"))
        .await;
    let sent = worker.await.map_err(|e| Fail::msg(e.to_string()))?;
    put?;
    let n = sent?;
    if show_progress(a.quiet) {
        eprintln!("Successfully copied {} to {container}:{dst}", human_size(n));
    }
    Ok(())
}

/// moby's `CopyInfoSourcePath` (local).
fn local_source(path: &str, follow: bool) -> Result<CopyInfo, Fail> {
    let (resolved, rebase_to) = if follow {
        let r = std::fs::canonicalize(path).map_err(|e| path_err("lstat", path, &e))?;
        rebase_name(path, &r.display().to_string())
    } else {
        let (d, b) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let d = if d.is_empty() { "." } else { d };
        let rd = std::fs::canonicalize(d).map_err(|e| path_err("lstat", d, &e))?;
        let resolved = format!("{}/{b}", rd.display()).replace("//", "/");
        let name = if has_trailing_sep(path) && base(path) != base(&resolved) {
            base(path)
        } else {
            String::new()
        };
        (resolved, name)
    };
    let md = std::fs::symlink_metadata(&resolved).map_err(|e| path_err("lstat", &resolved, &e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: md.is_dir(),
        rebase_name: rebase_to,
    })
}

/// Feeds a streamed request body from a blocking thread.
struct ChanWriter {
    tx: berth_client::BodySender,
    buf: Vec<u8>,
    n: u64,
}

impl ChanWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let b = bytes::Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(b))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChanWriter {
    fn write(&mut self, d: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(d);
        self.n += d.len() as u64;
        if self.buf.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(d.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// moby's `TarResourceRebase`: `dir/base` (not followed) and, for a
/// directory, everything below it, entry names renamed by `rename`;
/// hard links within the tree become link entries.
fn tar_local<W: Write>(
    dir: &str,
    base: &str,
    out: W,
    rename: impl Fn(&str) -> String,
) -> Result<W, Fail> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
    let root = Path::new(dir).join(base);
    std::fs::symlink_metadata(&root)
        .map_err(|e| path_err("lstat", &root.display().to_string(), &e))?;
    let mut stack = vec![(root, base.to_string())];
    while let Some((p, name)) = stack.pop() {
        let md = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let ft = md.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&md, tar::HeaderMode::Complete);
        let tname = rename(&name);
        if ft.is_dir() {
            let tname = if tname.ends_with('/') {
                tname
            } else {
                format!("{tname}/")
            };
            h.set_size(0);
            b.append_data(&mut h, &tname, std::io::empty())?;
            let mut kids: Vec<String> = std::fs::read_dir(&p)
                .map_err(|e| path_err("open", &p.display().to_string(), &e))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            kids.sort();
            for k in kids.into_iter().rev() {
                let child = if name == "." {
                    format!("./{k}")
                } else {
                    format!("{}/{k}", name.trim_end_matches('/'))
                };
                stack.push((p.join(&k), child));
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&p)?;
            h.set_size(0);
            b.append_link(&mut h, &tname, &t)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = inodes.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &tname, first)?;
                    continue;
                }
                inodes.insert(key, tname.clone());
            }
            let f = std::fs::File::open(&p)
                .map_err(|e| path_err("open", &p.display().to_string(), &e))?;
            b.append_data(&mut h, &tname, f)?;
        } else {
            use std::os::unix::fs::FileTypeExt;
            if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
                h.set_size(0);
                b.append_data(&mut h, &tname, std::io::empty())?;
            }
            // sockets: Go's archive/tar has none
        }
    }
    b.finish()?;
    let mut w = b.into_inner()?;
    w.flush()?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_path_rules() {
        assert_eq!(split_cp_arg("c:/x"), ("c".into(), "/x".into()));
        assert_eq!(split_cp_arg("./a:b"), ("".into(), "./a:b".into()));
        assert_eq!(split_cp_arg("/a:b"), ("".into(), "/a:b".into()));
        assert_eq!(split_dir_entry("/d/sub/."), ("/d/sub".into(), ".".into()));
        assert_eq!(split_dir_entry("/d/sub/"), ("/d".into(), "sub".into()));
        assert_eq!(preserve_trailing("/a/b", "b/."), "/a/b/.");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(dir("/a/up/."), "/a/up");
        assert_eq!(dir("/a/b/"), "/a/b");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir("a"), ".");
        assert_eq!(rebase("./g", &Some((".".into(), "x".into()))), "x/g");
        assert_eq!(rebase("sub/", &Some(("sub".into(), "x".into()))), "x/");
        assert_eq!(
            rebase("subway", &Some(("sub".into(), "x".into()))),
            "subway"
        );
        assert_eq!(human_size(3), "3B");
        assert_eq!(human_size(1536), "1.54kB");
        assert_eq!(human_size(12_000), "12kB");
    }
}
