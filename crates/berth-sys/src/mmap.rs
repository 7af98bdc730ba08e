//! Read-only memory maps of files that never change once written (the
//! registry's committed blobs), so a response body can hand the page
//! cache's pages to the socket without first copying them into a buffer;
//! maps that also name their file, so a writer that is given a slice of
//! one can send the file's pages with `sendfile(2)` instead of the bytes
//! ([`map_file_for_send`], [`mapped_file_of`]); and starting a file's
//! writeback without waiting for it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, RwLock};

/// Starts writeback of all of `f`'s dirty pages and returns without
/// waiting for it (`sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`):
/// a file being written fast reaches the disk while it is still being
/// written, so the `fdatasync` that makes it durable at the end has little
/// left to wait for. Unlike a background `fdatasync`, it does not force a
/// journal commit (which on ext4 also flushes other files' data). It makes
/// nothing durable by itself.
///
/// # Errors
/// `sync_file_range(2)`'s: `EBADF`, `ESPIPE` for a pipe or socket, `EIO`.
pub fn start_writeback(f: impl AsFd) -> io::Result<()> {
    let fd = f.as_fd();
    // SAFETY: sync_file_range only reads the fd number (valid: borrowed
    // from `f` for the call) and touches no memory of this process.
    let r = unsafe { libc::sync_file_range(fd.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A read-only, shared mapping of `len` bytes of a file, unmapped on drop.
/// Derefs to the mapped bytes through [`AsRef<[u8]>`], so it can own a
/// `bytes::Bytes` (`Bytes::from_owner`).
///
/// # Contract (why the safe constructor is sound in Berth)
/// The bytes are the file's page-cache pages, not a copy: the file must
/// not be written to or truncated while a map of it lives, or readers see
/// the new bytes (a data race) or get `SIGBUS` past a truncated end. Only
/// map files that are immutable by construction: berth-registry's blobs
/// are written under a temporary name, fsynced, renamed into place and
/// from then on only read or unlinked (an unlinked file stays valid for
/// the maps that hold it). A map made by [`map_file`] has the pages of its
/// range populated at map time (`MAP_POPULATE`), so the reads that follow
/// do not fault (unless the kernel reclaims them under memory pressure,
/// when they fault back in); one made by [`map_file_for_send`] is not
/// populated (its bytes are only read if a writer falls back to copying
/// them) and is registered for [`mapped_file_of`] while it lives.
pub struct FileMap {
    /// Start of the mapping (page-aligned).
    base: *mut libc::c_void,
    /// Length of the mapping from `base`.
    map_len: usize,
    /// Offset of the first requested byte from `base` (the request's
    /// offset need not be page-aligned; the mapping's must).
    skip: usize,
    /// Set for a map registered in [`SEND_MAPS`] (made by
    /// [`map_file_for_send`]): removed from there before the munmap.
    registered: bool,
}

/// A registered map's file and where its bytes come from.
struct SendMap {
    /// One past the map's last byte (address).
    end: usize,
    /// The mapped file.
    file: Arc<File>,
    /// File offset of the map's first requested byte (the key's).
    offset: u64,
}

/// The live maps made by [`map_file_for_send`], by the address of their
/// first requested byte. Entries are added after the mmap and removed
/// before the munmap, so an address range in here is always that map's
/// (no other mapping can be placed over it while it is mapped).
static SEND_MAPS: RwLock<BTreeMap<usize, SendMap>> = RwLock::new(BTreeMap::new());

/// Where the start of a slice of a [`map_file_for_send`] map comes from:
/// the file's bytes `[offset, offset + len)` are the slice's first `len`
/// bytes (the whole slice unless it runs past the map's end, which a slice
/// of one map cannot).
#[derive(Debug, Clone)]
pub struct MappedRange {
    /// The mapped file (shared with the map; open for reading).
    pub file: Arc<File>,
    /// Offset in `file` of the slice's first byte.
    pub offset: u64,
    /// Bytes of the slice, from its start, that lie in the map.
    pub len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone (no
// interior mutability, munmap only in Drop), so moving it to or sharing it
// with another thread is no different from a `Box<[u8]>`.
unsafe impl Send for FileMap {}
// SAFETY: as above: `&FileMap` only gives out `&[u8]` of read-only memory.
unsafe impl Sync for FileMap {}

/// Maps `len` bytes of `file` from byte `offset`, read-only and populated
/// (`mmap(2)` with `PROT_READ`, `MAP_SHARED | MAP_POPULATE`). `file` may
/// be closed afterwards. See [`FileMap`] for the contract on the file.
///
/// # Errors
/// `EINVAL` for `len == 0` or a range past the file's end (checked against
/// its current size), and `mmap(2)`'s errors (`ENOMEM`, `EACCES` for a
/// file not open for reading, `ENODEV` for a file system without mmap).
pub fn map_file(file: &File, offset: u64, len: usize) -> io::Result<FileMap> {
    map(file, offset, len, libc::MAP_POPULATE)
}

/// Maps `len` bytes of `file` from byte `offset` like [`map_file`], but
/// unpopulated (a `mmap(2)` of `PROT_READ`, `MAP_SHARED` only: no page is
/// touched until the bytes are read), and registers the map so that
/// [`mapped_file_of`] finds `file` and the offset behind any slice of it
/// until the map is dropped. Meant for response bodies that a socket
/// writer sends with `sendfile(2)` from the file (the map's memory is then
/// never read; it is the token and the fallback for a writer that copies).
/// The same contract on the file as for [`FileMap`].
///
/// # Errors
/// As [`map_file`].
pub fn map_file_for_send(file: Arc<File>, offset: u64, len: usize) -> io::Result<FileMap> {
    let mut m = map(&file, offset, len, 0)?;
    let start = m.as_ref().as_ptr() as usize;
    let entry = SendMap {
        end: start + len,
        file,
        offset,
    };
    SEND_MAPS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(start, entry);
    m.registered = true;
    Ok(m)
}

/// The file range behind `buf` if `buf` starts inside a live map made by
/// [`map_file_for_send`]; `None` for any other memory and for an empty
/// `buf`. The answer holds while `buf` is borrowed (the borrow keeps the
/// map, and so its registration, alive).
pub fn mapped_file_of(buf: &[u8]) -> Option<MappedRange> {
    if buf.is_empty() {
        return None;
    }
    let addr = buf.as_ptr() as usize;
    let maps = SEND_MAPS.read().unwrap_or_else(|e| e.into_inner());
    let (&start, m) = maps.range(..=addr).next_back()?;
    if addr >= m.end {
        return None;
    }
    Some(MappedRange {
        file: m.file.clone(),
        offset: m.offset + (addr - start) as u64,
        len: buf.len().min(m.end - addr),
    })
}

/// `mmap(2)` of `len` bytes of `file` from `offset`, read-only and shared,
/// with the extra `flags` (`MAP_POPULATE` or 0).
fn map(file: &File, offset: u64, len: usize, flags: libc::c_int) -> io::Result<FileMap> {
    let size = file.metadata()?.len();
    let end = offset.checked_add(len as u64);
    if len == 0 || end.is_none_or(|e| e > size) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    let aligned = offset - offset % page;
    let skip = (offset - aligned) as usize;
    let map_len = skip + len;
    // SAFETY: a fresh mapping chosen by the kernel (addr NULL) cannot
    // overlap memory Rust owns; the fd is valid for the call (borrowed from
    // `file`), and the kernel keeps its own reference to the file for the
    // mapping's lifetime. The offset is page-aligned as mmap requires.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ,
            libc::MAP_SHARED | flags,
            file.as_raw_fd(),
            aligned as libc::off_t,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(FileMap {
        base,
        map_len,
        skip,
        registered: false,
    })
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: [base, base + map_len) is a live PROT_READ mapping owned
        // by self (unmapped only in Drop, which needs `&mut self`); the
        // requested range [skip, map_len) lies inside it and inside the
        // file's size at map time, and the file is immutable by the
        // contract of FileMap, so the bytes do not change or vanish.
        unsafe {
            std::slice::from_raw_parts(
                (self.base as *const u8).add(self.skip),
                self.map_len - self.skip,
            )
        }
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        if self.registered {
            // Before the munmap: once unmapped, the range can be handed to
            // a new map, whose registration this must not remove.
            let start = self.as_ref().as_ptr() as usize;
            SEND_MAPS
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&start);
        }
        // SAFETY: base/map_len are exactly what mmap returned and nothing
        // borrows the memory any more (as_ref's borrows end before drop).
        unsafe {
            libc::munmap(self.base, self.map_len);
        }
    }
}

impl std::fmt::Debug for FileMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMap")
            .field("len", &(self.map_len - self.skip))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn start_writeback_on_a_file_and_not_on_a_pipe() {
        let mut f = tempfile_in_tmp();
        f.0.write_all(&[7u8; 100_000]).unwrap();
        start_writeback(&f.0).unwrap();
        let (r, _w) = std::io::pipe().unwrap();
        assert_eq!(
            start_writeback(&r).unwrap_err().raw_os_error(),
            Some(libc::ESPIPE)
        );
        std::fs::remove_file(&f.1).unwrap();
    }

    #[test]
    fn maps_unaligned_ranges_and_rejects_bad_ones() {
        let mut f = tempfile_in_tmp();
        let data: Vec<u8> = (0..3 * 4096 + 123).map(|i| (i % 251) as u8).collect();
        f.0.write_all(&data).unwrap();
        let file = File::open(&f.1).unwrap();
        let m = map_file(&file, 0, data.len()).unwrap();
        assert_eq!(m.as_ref(), &data[..]);
        let m = map_file(&file, 4097, 5000).unwrap();
        assert_eq!(m.as_ref(), &data[4097..4097 + 5000]);
        drop(file);
        // The map outlives the file descriptor.
        assert_eq!(m.as_ref()[0], data[4097]);
        let file = File::open(&f.1).unwrap();
        let einval = Some(libc::EINVAL);
        assert_eq!(map_file(&file, 0, 0).unwrap_err().raw_os_error(), einval);
        assert_eq!(
            map_file(&file, 10, data.len()).unwrap_err().raw_os_error(),
            einval
        );
        assert_eq!(
            map_file(&file, u64::MAX, 1).unwrap_err().raw_os_error(),
            einval
        );
        std::fs::remove_file(&f.1).unwrap();
    }

    #[test]
    fn send_maps_name_their_file_until_dropped() {
        let mut f = tempfile_in_tmp();
        let data: Vec<u8> = (0..5 * 4096 + 77).map(|i| (i % 253) as u8).collect();
        f.0.write_all(&data).unwrap();
        let file = Arc::new(File::open(&f.1).unwrap());
        let m = map_file_for_send(file.clone(), 4097, 9000).unwrap();
        let bytes = m.as_ref();
        assert_eq!(bytes, &data[4097..4097 + 9000]);
        let r = mapped_file_of(bytes).expect("registered");
        assert!(Arc::ptr_eq(&r.file, &file));
        assert_eq!((r.offset, r.len), (4097, 9000));
        let r = mapped_file_of(&bytes[100..250]).expect("inside");
        assert_eq!((r.offset, r.len), (4197, 150));
        assert!(mapped_file_of(&bytes[9000..]).is_none());
        // Memory that is not a send map, and a populated map, are not found.
        assert!(mapped_file_of(&data[..]).is_none());
        let plain = map_file(&file, 0, 100).unwrap();
        assert!(mapped_file_of(plain.as_ref()).is_none());
        let addr = bytes.as_ptr() as usize;
        drop(m);
        assert!(!SEND_MAPS.read().unwrap().contains_key(&addr));
        std::fs::remove_file(&f.1).unwrap();
    }

    fn tempfile_in_tmp() -> (File, std::path::PathBuf) {
        let p = std::env::temp_dir().join(format!(
            "berth-sys-mmap-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        (File::create(&p).unwrap(), p)
    }
}
