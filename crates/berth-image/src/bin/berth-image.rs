//! `berth-image`: a temporary command line over the image service, until
//! the daemon and its CLI exist. Docker's output where it has one.
//!
//! ```text
//! berth-image [--data-root DIR] load [-q] [-i FILE|DIR]      (stdin when no -i)
//! berth-image [--data-root DIR] save -o FILE IMAGE...        (stdout when -o -)
//! berth-image [--data-root DIR] import [-c CHANGE]... [-m MSG] FILE|- [REPO[:TAG]]
//! berth-image [--data-root DIR] images [-q] [-f KEY=VALUE]...
//! berth-image [--data-root DIR] inspect IMAGE...
//! berth-image [--data-root DIR] history IMAGE
//! berth-image [--data-root DIR] tag SOURCE TARGET
//! berth-image [--data-root DIR] rmi [-f] IMAGE...
//! berth-image [--data-root DIR] prune [-a]
//! berth-image [--data-root DIR] gc
//! ```
//!
//! The data root defaults to `$BERTH_DATA_ROOT` or `/var/lib/berth`.
//! Exit status 1 with `Error response from daemon: <message>` on errors.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use berth_image::{Filters, ImageService, ImportOptions, ListOptions, RemoveOptions};

fn usage() -> ExitCode {
    eprintln!(
        "usage: berth-image [--data-root DIR] (load [-q] [-i FILE] | save -o FILE IMAGE... | import [-c CHANGE]... [-m MSG] FILE|- [REF] | images [-q] [-f K=V]... | inspect IMAGE... | history IMAGE | tag SRC DST | rmi [-f] IMAGE... | prune [-a] | gc)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut root = std::env::var_os("BERTH_DATA_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/berth"));
    if args.first().map(String::as_str) == Some("--data-root") {
        if args.len() < 2 {
            return usage();
        }
        root = PathBuf::from(&args[1]);
        args.drain(..2);
    }
    let Some(cmd) = args.first().cloned() else {
        return usage();
    };
    let rest = args[1..].to_vec();
    let svc = match ImageService::open(&root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&svc, &cmd, rest) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            ExitCode::FAILURE
        }
    }
}

fn opt_value(args: &mut Vec<String>, flags: &[&str]) -> Option<String> {
    let i = args.iter().position(|a| flags.contains(&a.as_str()))?;
    if i + 1 >= args.len() {
        return None;
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Some(v)
}

fn opt_values(args: &mut Vec<String>, flags: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(v) = opt_value(args, flags) {
        out.push(v);
    }
    out
}

fn flag(args: &mut Vec<String>, flags: &[&str]) -> bool {
    match args.iter().position(|a| flags.contains(&a.as_str())) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    }
}

fn run(svc: &ImageService, cmd: &str, mut args: Vec<String>) -> berth_image::Result<ExitCode> {
    let out = io::stdout();
    let mut out = out.lock();
    match cmd {
        "load" => {
            let quiet = flag(&mut args, &["-q", "--quiet"]);
            let input = opt_value(&mut args, &["-i", "--input"]);
            let mut prog = |p: &berth_image::Progress| {
                if !quiet {
                    eprintln!("{}: {} {}", p.id, p.status, p.total);
                }
            };
            let loaded = match input.as_deref() {
                None | Some("-") => svc.load(io::stdin().lock(), &mut prog)?,
                Some(p) => svc.load_path(p.as_ref(), &mut prog)?,
            };
            for l in loaded {
                let _ = writeln!(out, "{l}");
            }
        }
        "save" => {
            let output = opt_value(&mut args, &["-o", "--output"]);
            let names: Vec<&str> = args.iter().map(String::as_str).collect();
            match output.as_deref() {
                None | Some("-") => svc.save(&names, io::BufWriter::new(out))?,
                Some(p) => {
                    let tmp = format!("{p}.tmp-{}", std::process::id());
                    let f = std::fs::File::create(&tmp).map_err(|e| {
                        berth_image::ImageError::InvalidArgument(format!("{tmp}: {e}"))
                    })?;
                    let r = svc.save(&names, io::BufWriter::new(f));
                    if r.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    r?;
                    std::fs::rename(&tmp, p).map_err(|e| {
                        berth_image::ImageError::InvalidArgument(format!("{p}: {e}"))
                    })?;
                }
            }
        }
        "import" => {
            let changes = opt_values(&mut args, &["-c", "--change"]);
            let message = opt_value(&mut args, &["-m", "--message"]);
            let platform = opt_value(&mut args, &["--platform"]);
            let Some(src) = args.first().cloned() else {
                return Ok(usage());
            };
            let opts = ImportOptions {
                changes,
                message,
                reference: args.get(1).cloned(),
                platform,
            };
            let id = if src == "-" {
                svc.import(io::stdin().lock(), &opts)?
            } else {
                let f = std::fs::File::open(&src)
                    .map_err(|e| berth_image::ImageError::InvalidArgument(format!("{src}: {e}")))?;
                svc.import(io::BufReader::new(f), &opts)?
            };
            let _ = writeln!(out, "{id}");
        }
        "images" => {
            let quiet = flag(&mut args, &["-q", "--quiet"]);
            let mut filters = Filters::new();
            for f in opt_values(&mut args, &["-f", "--filter"]) {
                let (k, v) = f.split_once('=').unwrap_or((&f, ""));
                filters
                    .entry(k.to_string())
                    .or_default()
                    .push(v.to_string());
            }
            let list = svc.list(&ListOptions {
                all: false,
                filters,
            })?;
            if quiet {
                for i in list {
                    let _ = writeln!(out, "{}", berth_types::short_id(&i.id));
                }
            } else {
                let _ = writeln!(
                    out,
                    "{:<40} {:<12} {:>12}",
                    "REPOSITORY:TAG", "IMAGE ID", "SIZE"
                );
                for i in list {
                    let tags = if i.repo_tags.is_empty() {
                        vec!["<none>:<none>".to_string()]
                    } else {
                        i.repo_tags.clone()
                    };
                    for t in tags {
                        let _ = writeln!(
                            out,
                            "{:<40} {:<12} {:>12}",
                            t,
                            berth_types::short_id(&i.id),
                            i.size
                        );
                    }
                }
            }
        }
        "inspect" => {
            let mut v = Vec::new();
            for n in &args {
                v.push(svc.inspect(n)?);
            }
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        "history" => {
            let Some(n) = args.first() else {
                return Ok(usage());
            };
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&svc.history(n)?).expect("json")
            );
        }
        "tag" => {
            if args.len() != 2 {
                return Ok(usage());
            }
            svc.tag(&args[0], &args[1])?;
        }
        "rmi" => {
            let force = flag(&mut args, &["-f", "--force"]);
            let noprune = flag(&mut args, &["--no-prune"]);
            for n in &args {
                for item in svc.remove(n, RemoveOptions { force, noprune }, &[])? {
                    let _ = match item {
                        berth_image::DeleteItem::Untagged(s) => writeln!(out, "Untagged: {s}"),
                        berth_image::DeleteItem::Deleted(s) => writeln!(out, "Deleted: {s}"),
                    };
                }
            }
        }
        "prune" => {
            let all = flag(&mut args, &["-a", "--all"]);
            let r = svc.prune(all, &Filters::new(), &[])?;
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&r).expect("json"));
        }
        "gc" => {
            let r = svc.gc()?;
            let _ = writeln!(
                out,
                "removed {} blobs, {} layers, {} bytes",
                r.blobs.len(),
                r.layers.len(),
                r.bytes
            );
        }
        _ => return Ok(usage()),
    }
    Ok(ExitCode::SUCCESS)
}
