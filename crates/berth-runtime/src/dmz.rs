//! Protection against CVE-2019-5736 (overwriting the runtime binary
//! through `/proc/self/exe`) without copying or re-executing the runtime.
//!
//! The container's init and exec processes are forks of the runtime, so
//! until they `execve` the user program their `/proc/self/exe` is the
//! runtime's own binary. Two ways in:
//!
//! 1. another container process opens `/proc/<pid>/exe` of the init/exec
//!    process while it is being set up: blocked by `PR_SET_DUMPABLE 0`,
//!    which (ptrace access mode checks, ptrace(2)) requires CAP_SYS_PTRACE
//!    in the *host* user namespace;
//! 2. the user program is a script `#!/proc/self/exe`: the kernel resolves
//!    the interpreter in the context of the process calling execve, i.e.
//!    the runtime binary, and the result would be a dumpable container
//!    process whose exe is the host binary.
//!
//! For (2) the final step goes through a 164-byte static ELF (`dmz`) held
//! in a sealed memfd (164 bytes): the runtime `fexecve`s the memfd, and the dmz
//! `execve`s the user program. At that exec `/proc/self/exe` is the sealed
//! memfd, which cannot be written (F_SEAL_WRITE) or resized. Exec
//! semantics are unchanged: a file without capabilities or set-id bits
//! leaves the credentials as they were, so the second exec computes the
//! same capability sets as a direct one (capabilities(7), "Transformation
//! of capabilities during execve()"). Cost: one memfd of 164 bytes and one
//! extra exec of a two-page static binary (see bench/runtime.sh).

use crate::error::{Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

/// The dmz: x86_64 ELF executable, one PT_LOAD segment at 0x400000:
/// `if argc >= 3 { execve(argv[1], &argv[2], envp) }; exit_group(127)`.
/// With fewer arguments it was started as the interpreter of a
/// `#!/proc/self/exe` script and refuses, so that such a script cannot
/// loop.
#[cfg(target_arch = "x86_64")]
const DMZ: [u8; 164] = build_dmz();

#[cfg(target_arch = "x86_64")]
const fn build_dmz() -> [u8; 164] {
    const CODE: [u8; 44] = [
        0x48, 0x8b, 0x04, 0x24, // mov rax, [rsp]                argc
        0x48, 0x83, 0xf8, 0x03, // cmp rax, 3
        0x7c, 0x16, // jl fail (argc < 3: re-entered as an interpreter)
        0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]      argv[1]
        0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]      &argv[2]
        0x48, 0x8d, 0x54, 0xc4, 0x10, // lea rdx, [rsp+rax*8+16] envp
        0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
        0x0f, 0x05, // syscall
        0xbf, 0x7f, 0x00, 0x00, 0x00, // fail: mov edi, 127
        0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
        0x0f, 0x05, // syscall
    ];

    let mut b = [0u8; 164];
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, SYSV
    b[0] = 0x7f;
    b[1] = b'E';
    b[2] = b'L';
    b[3] = b'F';
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    b[16] = 2; // e_type ET_EXEC
    b[18] = 0x3e; // e_machine x86-64
    b[20] = 1; // e_version
               // e_entry = 0x400078
    b[24] = 0x78;
    b[26] = 0x40;
    b[32] = 64; // e_phoff
    b[52] = 64; // e_ehsize
    b[54] = 56; // e_phentsize
    b[56] = 1; // e_phnum
               // program header at 64
    b[64] = 1; // PT_LOAD
    b[68] = 5; // PF_R | PF_X
    b[64 + 18] = 0x40; // p_vaddr = 0x400000
    b[64 + 26] = 0x40; // p_paddr = 0x400000
    b[64 + 32] = 164; // p_filesz
    b[64 + 40] = 164; // p_memsz
    b[64 + 49] = 0x10; // p_align = 0x1000
    let mut i = 0;
    while i < CODE.len() {
        b[120 + i] = CODE[i];
        i += 1;
    }
    b
}

/// A sealed memfd holding the dmz, close-on-exec.
///
/// # Errors
/// memfd_create / write / F_ADD_SEALS failures (e.g. `vm.memfd_noexec=2`
/// refuses executable memfds with EACCES at exec time, not here).
#[cfg(target_arch = "x86_64")]
pub(crate) fn sealed_dmz() -> Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(
        c"berth-dmz",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .ctx(|| "memfd_create for the dmz".into())?;
    nix::unistd::write(&fd, &DMZ).ctx(|| "write the dmz memfd".into())?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SEAL
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE,
        ),
    )
    .ctx(|| "seal the dmz memfd".into())?;
    Ok(fd)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn sealed_dmz() -> Result<OwnedFd> {
    Err(crate::Error::Unsupported(
        "the exec dmz exists for x86_64 only".into(),
    ))
}

/// Replaces the calling process with `path` (argv `args`, environment
/// `env`) through the dmz in `memfd`. Returns only on failure.
pub(crate) fn exec_via(
    memfd: &OwnedFd,
    path: &CString,
    args: &[CString],
    env: &[CString],
) -> std::io::Error {
    let mut argv: Vec<&std::ffi::CStr> = Vec::with_capacity(args.len() + 2);
    argv.push(c"berth-dmz");
    argv.push(path.as_c_str());
    argv.extend(args.iter().map(|a| a.as_c_str()));
    match nix::unistd::fexecve(memfd.as_raw_fd(), &argv, env) {
        Err(e) => e.into(),
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmz_runs_the_target_with_its_args_and_env() {
        let fd = sealed_dmz().unwrap();
        // The dmz cannot be made writable again.
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(mut f) = w {
            use std::io::Write;
            assert!(f.write_all(b"x").is_err(), "sealed memfd accepted a write");
        }
        let out = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .args(["/bin/sh", "sh", "-c", "echo $0 $1 $X", "zero", "one"])
            .env("X", "ex")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "zero one ex\n");
    }

    #[test]
    fn dmz_refuses_to_be_an_interpreter() {
        let fd = sealed_dmz().unwrap();
        let st = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .arg("/bin/true")
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127));
    }

    #[test]
    fn dmz_exits_127_when_target_is_missing() {
        let fd = sealed_dmz().unwrap();
        let st = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .args(["/nonexistent", "x"])
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127));
    }
}
