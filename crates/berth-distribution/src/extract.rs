//! A layer extracted while it downloads: the compressed bytes that go to
//! the content store's ingest file are also fed, chunk by chunk, to a
//! thread that decompresses them (gzip through flate2, zstd through the
//! zstd crate, or none, by the stream's magic bytes) and applies the tar
//! stream into a temporary layer tree (`layers/.tmp-*`), computing the diff
//! ID on the uncompressed stream as it goes.
//!
//! Nothing of it is visible until the pull registers the image: the tree is
//! renamed into `layers/<chain-id>` by
//! [`berth_image::ImageService::register_pulled`] only after both the blob
//! digest and the diff ID have been checked; dropping an `Extractor`
//! stops its thread and removes the tree.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_store::{ApplyStats, Store, StoreError, TempTree};
use bytes::Bytes;

/// Chunks in flight between the downloader and the extracting thread
/// (reqwest's chunks are 8-16 KiB: a few hundred KiB of back-pressure).
const QUEUE: usize = 32;

/// The reading end of the chunk channel: EOF when the sender is dropped.
/// `consumed` counts the compressed bytes handed to the decompressor (what
/// "Extracting" reports, as dockerd counts the bytes its decompressor has
/// read of the blob).
struct ChannelReader {
    rx: Receiver<Bytes>,
    cur: Bytes,
    consumed: Arc<AtomicU64>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A layer being extracted from its blob's bytes as they arrive.
pub(crate) struct Extractor {
    tx: Option<SyncSender<Bytes>>,
    handle: Option<JoinHandle<Result<ApplyStats, StoreError>>>,
    /// Compressed bytes the extracting thread has taken so far.
    consumed: Arc<AtomicU64>,
    /// Disconnected when the thread has returned (its sender is dropped).
    done: Receiver<()>,
    /// Declared after `handle`: removed only once the thread has stopped
    /// writing into it (see `Drop`).
    tree: Option<TempTree>,
}

impl Extractor {
    /// Creates a temporary layer tree in `store` and starts the thread that
    /// applies the bytes [`Extractor::feed`] gives it.
    pub(crate) fn start(store: &Store) -> Result<Extractor, StoreError> {
        let tree = store.temp_layer_dir()?;
        let dest = tree.diff();
        let (tx, rx) = sync_channel::<Bytes>(QUEUE);
        let (done_tx, done) = sync_channel::<()>(0);
        let consumed = Arc::new(AtomicU64::new(0));
        let counter = consumed.clone();
        let handle = std::thread::Builder::new()
            .name("berth-extract".into())
            .spawn(move || {
                let _done = done_tx;
                let r = ChannelReader {
                    rx,
                    cur: Bytes::new(),
                    consumed: counter,
                };
                berth_store::layer::apply_layer(r, &dest)
            })
            .map_err(StoreError::io("berth-extract thread"))?;
        Ok(Extractor {
            tx: Some(tx),
            handle: Some(handle),
            consumed,
            done,
            tree: Some(tree),
        })
    }

    /// Hands the next chunk of the compressed blob to the extractor
    /// (blocks while it is [`QUEUE`] chunks behind). When the extractor has
    /// stopped (a malformed layer) the chunk is dropped: the blob is still
    /// downloaded and verified, so that a corrupt download is reported as
    /// a digest mismatch, and [`Extractor::finish`] reports the layer's
    /// error.
    pub(crate) fn feed(&mut self, b: Bytes) {
        if let Some(tx) = &self.tx {
            if tx.send(b).is_err() {
                self.tx = None;
            }
        }
    }

    /// Ends the stream and waits for the extractor: the tree and what
    /// applying found (the diff ID of the uncompressed stream). Errors:
    /// `BadLayer` (not a layer, truncated, hostile paths), I/O.
    pub(crate) fn finish(self) -> Result<(TempTree, ApplyStats), StoreError> {
        self.finish_reporting(Duration::MAX, &mut |_| {})
    }

    /// [`Extractor::finish`], calling `report(consumed)` every `every`
    /// while the thread is still at work, `consumed` being the compressed
    /// bytes it has taken so far (for "Extracting" progress: what is left
    /// of a layer's extraction once its last byte has arrived).
    pub(crate) fn finish_reporting(
        mut self,
        every: Duration,
        report: &mut dyn FnMut(u64),
    ) -> Result<(TempTree, ApplyStats), StoreError> {
        self.tx = None;
        while let Err(RecvTimeoutError::Timeout) = self.done.recv_timeout(every) {
            report(self.consumed.load(Ordering::Relaxed));
        }
        let res = match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(StoreError::BadLayer("layer extraction panicked".into())),
        };
        let stats = res?;
        Ok((self.tree.take().expect("tree until finished"), stats))
    }
}

impl Drop for Extractor {
    fn drop(&mut self) {
        // EOF for the thread, then wait for it before the tree goes.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A layer tree extracted during the download, ready for
/// [`berth_image::PulledLayers::extracted`].
pub struct ExtractedLayer {
    /// The tree (`layers/.tmp-*/diff`), removed when dropped.
    pub tree: TempTree,
    /// Its diff ID, tar size and file sizes.
    pub stats: ApplyStats,
}

impl std::fmt::Debug for ExtractedLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractedLayer")
            .field("diff", &self.tree.diff())
            .field("stats", &self.stats)
            .finish()
    }
}
