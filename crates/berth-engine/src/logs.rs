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
///
/// The log's files are opened here, when the request is answered, not
/// in the blocking task that reads them: that task may start late (a
/// busy blocking pool, a loaded machine), after a `docker rm` that
/// docker-py's `run` sends right after `wait` has unlinked them, and it
/// would then read nothing of what the container wrote.
pub fn stream(
    path: PathBuf,
    opts: LogsOptions,
    snap: watch::Receiver<Snap>,
) -> BoxStream<OutputChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel::<OutputChunk>(256);
    let names = log_files(&path);
    let rotated: Vec<std::fs::File> = names[..names.len().saturating_sub(1)]
        .iter()
        .filter_map(|p| std::fs::File::open(p).ok())
        .collect();
    let current = std::fs::File::open(&path).ok();
    tokio::task::spawn_blocking(move || follow_blocking(&path, rotated, current, &opts, snap, tx));
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }))
}

/// `rotated`, `cur_file`: the log's files as [`stream`] opened them
/// (rotated ones oldest first; the current one, if it existed).
fn follow_blocking(
    path: &Path,
    rotated: Vec<std::fs::File>,
    cur_file: Option<std::fs::File>,
    opts: &LogsOptions,
    mut snap: watch::Receiver<Snap>,
    tx: tokio::sync::mpsc::Sender<OutputChunk>,
) {
    // What is there now: rotated files whole, the current file up to its
    // last complete line, remembering that offset to follow from (reading
    // the size separately would lose lines written in between).
    let cur = path.to_path_buf();
    let mut entries = Vec::new();
    for f in &rotated {
        entries.extend(read_entries_of(f, 0).0);
    }
    let (cur_entries, mut offset) = match &cur_file {
        Some(f) => read_entries_of(f, 0),
        None => (Vec::new(), 0),
    };
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
    let mut file = cur_file;
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

/// Complete entries of the open file `f` from byte `offset`, and the
/// offset after them.
fn read_entries_of(f: &std::fs::File, offset: u64) -> (Vec<Entry>, u64) {
    let mut out = Vec::new();
    let mut f = f;
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// The reading task starts only after the log was unlinked (as by a
    /// `docker rm` right after the exit while the blocking pool is busy):
    /// what the container wrote is read all the same.
    #[test]
    fn log_unlinked_before_the_reader_starts_is_read() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c-json.log");
        {
            let mut w = berth_monitor::jsonlog::LogWriter::open(&path, 0, 1).expect("log");
            w.write(0, b"hello\n");
            w.write(1, b"tail");
            w.flush_partial();
        }
        let got: Vec<String> = rt.block_on(async {
            // the only blocking thread is busy until the file is gone
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let busy = tokio::task::spawn_blocking(move || {
                let _ = go_rx.recv();
            });
            let (_snap_tx, snap_rx) = watch::channel(Snap::default());
            let opts = LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            let s = stream(path.clone(), opts, snap_rx);
            std::fs::remove_file(&path).expect("unlink");
            go_tx.send(()).expect("release");
            busy.await.expect("busy task");
            s.map(|c| String::from_utf8_lossy(&c.data).into_owned())
                .collect()
                .await
        });
        assert_eq!(got, ["hello\n", "tail"]);
    }
}
