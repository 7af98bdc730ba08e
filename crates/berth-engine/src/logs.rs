//! Reading json-file logs for `GET /containers/{id}/logs`.

use crate::container::Snap;
use berth_api::backend::{BoxStream, LogsOptions, OutputChunk, StdStream};
use berth_monitor::jsonlog::{log_files, parse_rfc3339, rfc3339_nano, Entry};
use bytes::Bytes;
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

fn chunk(e: &Entry, opts: &LogsOptions) -> Option<(i128, OutputChunk)> {
    let stream = if e.stream == "stderr" {
        StdStream::Stderr
    } else {
        StdStream::Stdout
    };
    if (stream == StdStream::Stdout && !opts.stdout)
        || (stream == StdStream::Stderr && !opts.stderr)
    {
        return None;
    }
    let t = parse_rfc3339(&e.time).unwrap_or(0);
    if opts.since_ns.is_some_and(|s| t < s) || opts.until_ns.is_some_and(|u| t > u) {
        return None;
    }
    let data = if opts.timestamps {
        format!("{} {}", rfc3339_nano(t), e.log)
    } else {
        e.log.clone()
    };
    Some((
        t,
        OutputChunk {
            stream,
            data: Bytes::from(data),
        },
    ))
}

/// The log as a stream; with `follow`, new entries until the container
/// stops (watch `snap`).
pub fn stream(
    path: PathBuf,
    opts: LogsOptions,
    snap: watch::Receiver<Snap>,
) -> BoxStream<OutputChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel::<OutputChunk>(256);
    tokio::task::spawn_blocking(move || follow_blocking(&path, &opts, snap, tx));
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }))
}

fn follow_blocking(
    path: &Path,
    opts: &LogsOptions,
    mut snap: watch::Receiver<Snap>,
    tx: tokio::sync::mpsc::Sender<OutputChunk>,
) {
    // What is there now: rotated files whole, the current file up to its
    // last complete line, remembering that offset to follow from (reading
    // the size separately would lose lines written in between).
    let files = log_files(path);
    let cur = files.last().cloned().unwrap_or_else(|| path.to_path_buf());
    let mut entries = Vec::new();
    for f in &files[..files.len().saturating_sub(1)] {
        entries.extend(read_all_file(f));
    }
    let (cur_entries, mut offset) = read_entries_from(&cur, 0);
    entries.extend(cur_entries);
    let mut chunks: Vec<OutputChunk> = entries
        .iter()
        .filter_map(|e| chunk(e, opts))
        .map(|(_, c)| c)
        .collect();
    if let Some(n) = opts.tail {
        let skip = chunks.len().saturating_sub(n);
        chunks.drain(..skip);
    }
    for c in chunks {
        if tx.blocking_send(c).is_err() {
            return;
        }
    }
    if !opts.follow {
        return;
    }
    // The file stays open while followed: a `docker rm` right after the
    // exit (docker-py's run does that before reading the stream) unlinks
    // it, and what the monitor wrote must still be read; a rotation is
    // seen as a new inode at the path, after the old file is drained.
    let mut file = std::fs::File::open(&cur).ok();
    let mut ino = file.as_ref().map_or(0, file_inode);
    loop {
        let running = snap.borrow_and_update().running;
        if file.is_none() {
            file = std::fs::File::open(&cur).ok();
            ino = file.as_ref().map_or(0, file_inode);
        }
        if let Some(f) = &file {
            let (new_off, ok) = read_from(f, offset, opts, &tx);
            if !ok {
                return;
            }
            offset = new_off;
        }
        let now = inode(&cur);
        if now != 0 && now != ino {
            file = std::fs::File::open(&cur).ok();
            ino = file.as_ref().map_or(0, file_inode);
            offset = 0;
            continue;
        }
        if !running {
            // Drain what the monitor wrote before exiting, then stop.
            if let Some(f) = &file {
                let (_, _) = read_from(f, offset, opts, &tx);
            }
            return;
        }
        if opts
            .until_ns
            .is_some_and(|u| berth_monitor::jsonlog::now_ns() > u)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        if tx.is_closed() {
            return;
        }
    }
}

fn read_all_file(p: &Path) -> Vec<Entry> {
    read_entries_from(p, 0).0
}

/// Complete entries of `p` from byte `offset`, and the offset after them.
fn read_entries_from(p: &Path, offset: u64) -> (Vec<Entry>, u64) {
    let mut out = Vec::new();
    let Ok(mut f) = std::fs::File::open(p) else {
        return (out, offset);
    };
    if f.seek(std::io::SeekFrom::Start(offset)).is_err() {
        return (out, offset);
    }
    let mut off = offset;
    let mut r = std::io::BufReader::new(f);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if line.last() != Some(&b'\n') {
                    break;
                }
                off += n as u64;
                if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
                    out.push(e);
                }
            }
        }
    }
    (out, off)
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0)
}

fn file_inode(f: &std::fs::File) -> u64 {
    use std::os::unix::fs::MetadataExt;
    f.metadata().map(|m| m.ino()).unwrap_or(0)
}

/// Sends the complete entries of the open log `file` from `offset`;
/// returns the offset after them and false when the receiver is gone.
fn read_from(
    file: &std::fs::File,
    offset: u64,
    opts: &LogsOptions,
    tx: &tokio::sync::mpsc::Sender<OutputChunk>,
) -> (u64, bool) {
    let mut f = file;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut off = if len < offset { 0 } else { offset };
    if f.seek(std::io::SeekFrom::Start(off)).is_err() {
        return (offset, true);
    }
    let mut r = std::io::BufReader::new(f);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if line.last() != Some(&b'\n') {
                    break; // incomplete line: read it next time
                }
                off += n as u64;
                if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
                    if let Some((_, c)) = chunk(&e, opts) {
                        if tx.blocking_send(c).is_err() {
                            return (off, false);
                        }
                    }
                }
            }
        }
    }
    (off, true)
}
