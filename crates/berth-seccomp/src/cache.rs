//! Compiled filters kept as BPF programs, reused across containers.
//!
//! libseccomp takes ~8 ms to build Docker's default profile and ~15 ms more
//! to generate its BPF (measured on this project's CI machine class), for
//! every container, although an engine gives almost every container the
//! same profile. [`compile_cached`] compiles a profile once and keeps the
//! program in a cache directory, keyed by a SHA-256 of everything the
//! program depends on: the profile (its JSON form), libseccomp's version,
//! the native architecture and the identity of the running binary (device,
//! inode, size and mtime of `/proc/self/exe`, so a rebuilt or upgraded
//! runtime never reuses a program an older compiler produced). A later
//! container with the same profile reads ~10 KiB and installs it with
//! seccomp(2) directly ([`Program::load`]).
//!
//! The cache is an optimisation only: it is a root-owned 0700 directory
//! (the caller puts it in the runtime's state root); a file that is
//! missing, torn or fails its checksum is recompiled and rewritten, and a
//! cache that cannot be written is skipped. Files are written to a
//! temporary name and renamed, and at most [`MAX_ENTRIES`] are kept (the
//! least recently written go first).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use crate::{compile, Error, Filter, Result};

/// Most programs a cache directory keeps.
pub const MAX_ENTRIES: usize = 64;

const MAGIC: &str = "berth-seccomp-bpf 1";

/// A compiled filter as a classic BPF program, ready for seccomp(2).
///
/// Unlike [`Filter`] it is plain data (`Send`), so it can be built in a
/// multi-threaded parent and installed after a fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    bpf: Vec<u8>,
    flags: u32,
    skipped: Vec<String>,
}

impl Program {
    /// Exports `filter`'s program (see [`Filter::bpf`]).
    ///
    /// # Errors
    /// libseccomp failing to generate the program.
    pub fn from_filter(filter: &Filter) -> Result<Program> {
        Ok(Program {
            bpf: filter.bpf()?,
            flags: filter.flags(),
            skipped: filter.skipped().to_vec(),
        })
    }

    /// Installs the program on the calling thread (every thread with the
    /// TSYNC flag) with `seccomp(SECCOMP_SET_MODE_FILTER)`. It does not
    /// allocate beyond one copy of the program.
    ///
    /// # Errors
    /// EACCES from the kernel when neither `no_new_privs` is set nor
    /// `CAP_SYS_ADMIN` is held; EINVAL for a flag the kernel lacks.
    pub fn load(&self) -> Result<()> {
        berth_sys::seccomp_set_mode_filter(&self.bpf, self.flags).map_err(|e| {
            let hint = if e.raw_os_error() == Some(EACCES) {
                " (seccomp(2) needs no_new_privs or CAP_SYS_ADMIN)"
            } else {
                ""
            };
            Error::Unsupported(format!("load filter{hint}: {e}"))
        })
    }

    /// The program: `struct sock_filter` records, 8 bytes each.
    pub fn bpf(&self) -> &[u8] {
        &self.bpf
    }

    /// `SECCOMP_FILTER_FLAG_*` bits passed to seccomp(2).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Syscall names skipped as unknown on this architecture.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{MAGIC}\n{}\n{}\n{}\n",
            self.flags,
            hex::encode(Sha256::digest(&self.bpf)),
            self.skipped.join(" ")
        )
        .into_bytes();
        out.extend_from_slice(&self.bpf);
        out
    }

    fn decode(data: &[u8]) -> Option<Program> {
        let mut rest = data;
        let mut line = || {
            let n = rest.iter().position(|&b| b == b'\n')?;
            let l = std::str::from_utf8(&rest[..n]).ok()?;
            rest = &rest[n + 1..];
            Some(l)
        };
        if line()? != MAGIC {
            return None;
        }
        let flags = line()?.parse().ok()?;
        let sum = line()?.to_string();
        let skipped = line()?
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let bpf = rest.to_vec();
        if bpf.is_empty()
            || !bpf.len().is_multiple_of(8)
            || hex::encode(Sha256::digest(&bpf)) != sum
        {
            return None;
        }
        Some(Program {
            bpf,
            flags,
            skipped,
        })
    }
}

/// EACCES (asm-generic/errno-base.h).
const EACCES: i32 = 13;

/// The cache key of `profile` for this process: hex SHA-256 over the
/// profile's JSON, libseccomp's version, the native architecture and the
/// running executable's identity.
///
/// # Errors
/// Serialising the profile (never fails for a parsed profile).
pub fn cache_key(profile: &LinuxSeccomp) -> Result<String> {
    let mut h = Sha256::new();
    h.update(MAGIC.as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("libseccomp {}.{}.{}\n", v.major, v.minor, v.micro).as_bytes());
    }
    h.update(format!("arch {:?}\n", libseccomp::ScmpArch::native()).as_bytes());
    if let Ok(m) = std::fs::metadata("/proc/self/exe") {
        h.update(
            format!(
                "exe {} {} {} {}.{}\n",
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec()
            )
            .as_bytes(),
        );
    }
    let json = serde_json::to_vec(profile).map_err(|e| Error::Invalid {
        field: "linux.seccomp".into(),
        reason: format!("serialise for the cache key: {e}"),
    })?;
    h.update(&json);
    Ok(hex::encode(h.finalize()))
}

/// Compiles `profile` to a [`Program`], reusing the one in `dir` when an
/// earlier call compiled the same profile (see the module docs).
///
/// `dir` is created (mode 0700) if missing; any trouble with it only
/// costs the compile.
///
/// # Errors
/// As [`compile`]: the profile itself is invalid or libseccomp refuses it.
pub fn compile_cached(profile: &LinuxSeccomp, dir: &Path) -> Result<Program> {
    let key = cache_key(profile)?;
    let path = dir.join(format!("{key}.bpf"));
    if let Some(p) = std::fs::read(&path).ok().and_then(|d| Program::decode(&d)) {
        return Ok(p);
    }
    let prog = Program::from_filter(&compile(profile)?)?;
    let _ = store(dir, &key, &prog);
    Ok(prog)
}

fn store(dir: &Path, key: &str, prog: &Program) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(&prog.encode())?;
    tmp.persist(dir.join(format!("{key}.bpf")))
        .map_err(|e| e.error)?;
    evict(dir, key)
}

/// Removes the least recently written programs beyond [`MAX_ENTRIES`],
/// never `keep`.
fn evict(dir: &Path, keep: &str) -> std::io::Result<()> {
    let mut entries: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with(".bpf") && !n.starts_with(keep)
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if entries.len() < MAX_ENTRIES {
        return Ok(());
    }
    entries.sort();
    for (_, p) in &entries[..entries.len() + 1 - MAX_ENTRIES] {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(default: &str) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": default,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap()
    }

    #[test]
    fn encode_decode_round_trip_and_torn_files_are_refused() {
        let p = Program::from_filter(&compile(&profile("SCMP_ACT_ALLOW")).unwrap()).unwrap();
        let enc = p.encode();
        assert_eq!(Program::decode(&enc), Some(p.clone()));
        // Torn at any point, or one bit flipped: refused.
        for cut in [0, 5, MAGIC.len() + 3, enc.len() - 8, enc.len() - 1] {
            assert_eq!(Program::decode(&enc[..cut]), None, "cut at {cut}");
        }
        let mut flipped = enc.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(Program::decode(&flipped), None);
    }

    #[test]
    fn same_profile_same_key_other_profile_other_key() {
        let a = cache_key(&profile("SCMP_ACT_ALLOW")).unwrap();
        assert_eq!(a, cache_key(&profile("SCMP_ACT_ALLOW")).unwrap());
        assert_ne!(a, cache_key(&profile("SCMP_ACT_LOG")).unwrap());
    }

    #[test]
    fn compile_cached_writes_once_reuses_and_repairs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let prof = profile("SCMP_ACT_ALLOW");
        let first = compile_cached(&prof, &cache).unwrap();
        let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one program, no temp file left");
        let path = files[0].path();
        assert_eq!(
            std::fs::metadata(&cache).unwrap().mode() & 0o777,
            0o700,
            "cache dir is private"
        );
        assert_eq!(compile_cached(&prof, &cache).unwrap(), first);
        // A corrupted file is recompiled and rewritten.
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(compile_cached(&prof, &cache).unwrap(), first);
        assert_eq!(std::fs::read(&path).unwrap(), first.encode());
        // The program equals a fresh compile of the same profile.
        assert_eq!(
            first.bpf(),
            compile(&prof).unwrap().bpf().unwrap().as_slice()
        );
    }

    #[test]
    fn eviction_keeps_at_most_max_entries() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..MAX_ENTRIES + 5 {
            std::fs::write(dir.path().join(format!("{i:064}.bpf")), b"x").unwrap();
        }
        evict(dir.path(), "new").unwrap();
        let n = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(n, MAX_ENTRIES - 1, "room left for the one being kept");
    }
}
