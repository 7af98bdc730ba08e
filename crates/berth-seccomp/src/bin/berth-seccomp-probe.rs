//! `berth-seccomp-probe PROFILE.json OP...`: compiles an OCI
//! `linux.seccomp` profile with berth-seccomp, loads it into this very
//! process, then performs each OP and prints one line per OP:
//! `<op> ok` or `<op> errno=<n>`. A diagnostic tool and the test driver
//! of this crate's integration tests (a real process, a real filter).
//!
//! OPs: `mkdir:PATH`, `kill:SIG` (to itself; 0 = existence check),
//! `socket:inet|inet6|unix[:cloexec]` (datagram socket),
//! `personality:HEX` (set), `personality-get` (personality(0xffffffff)),
//! `unshare:uts`, `status` (prints the `Seccomp*` lines of
//! /proc/self/status), `exec PROG ARG...` (the rest of the command line;
//! replaces the probe).
//! Exit status 2 when the profile does not compile or load.
//!
//! With `BERTH_SECCOMP_CACHE=DIR` the profile goes through
//! [`berth_seccomp::compile_cached`] and is installed from its BPF
//! program ([`berth_seccomp::Program::load`]), as the runtime does.

use std::os::unix::process::CommandExt;

use nix::errno::Errno;

fn report(op: &str, r: Result<(), Errno>) {
    match r {
        Ok(()) => println!("{op} ok"),
        Err(e) => println!("{op} errno={}", e as i32),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: berth-seccomp-probe PROFILE.json OP...");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("read {path}: {e}");
        std::process::exit(2)
    });
    let profile: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!("parse {path}: {e}");
            std::process::exit(2)
        });
    let loaded = match std::env::var_os("BERTH_SECCOMP_CACHE") {
        Some(dir) => berth_seccomp::compile_cached(&profile, std::path::Path::new(&dir))
            .and_then(|p| p.load()),
        None => berth_seccomp::compile_and_load(&profile).map(drop),
    };
    if let Err(e) = loaded {
        eprintln!("{e}");
        std::process::exit(2);
    }
    for (i, op) in args.iter().enumerate().skip(1) {
        let parts: Vec<&str> = op.split(':').collect();
        match parts[0] {
            "mkdir" => report(
                op,
                nix::unistd::mkdir(parts[1], nix::sys::stat::Mode::from_bits_truncate(0o755)),
            ),
            "kill" => {
                let sig: i32 = parts[1].parse().expect("signal number");
                let sig = if sig == 0 {
                    None
                } else {
                    Some(nix::sys::signal::Signal::try_from(sig).expect("signal"))
                };
                report(op, nix::sys::signal::kill(nix::unistd::getpid(), sig));
            }
            "socket" => {
                use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
                let fam = match parts[1] {
                    "inet" => AddressFamily::Inet,
                    "inet6" => AddressFamily::Inet6,
                    _ => AddressFamily::Unix,
                };
                let flags = if parts.get(2) == Some(&"cloexec") {
                    SockFlag::SOCK_CLOEXEC
                } else {
                    SockFlag::empty()
                };
                report(op, socket(fam, SockType::Datagram, flags, None).map(drop));
            }
            "personality" => {
                let v = u32::from_str_radix(parts[1], 16).expect("hex persona");
                let persona = nix::sys::personality::Persona::from_bits_retain(v as i32);
                report(op, nix::sys::personality::set(persona).map(drop));
            }
            "personality-get" => report(op, nix::sys::personality::get().map(drop)),
            "unshare" => report(
                op,
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS),
            ),
            "status" => {
                let st = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
                for l in st.lines().filter(|l| l.starts_with("Seccomp")) {
                    println!("{}", l.replace('\t', " "));
                }
            }
            "exec" => {
                let Some(prog) = args.get(i + 1) else {
                    eprintln!("exec needs a program");
                    std::process::exit(2)
                };
                let err = std::process::Command::new(prog).args(&args[i + 2..]).exec();
                println!("{op} errno={}", err.raw_os_error().unwrap_or(-1));
            }
            other => {
                eprintln!("unknown op {other:?}");
                std::process::exit(2);
            }
        }
    }
}
