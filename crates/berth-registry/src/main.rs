//! `berth-registry`: the OCI distribution registry server.
//!
//! ```text
//! berth-registry serve --listen 127.0.0.1:5000 --root DIR [--config FILE]
//!                      [--htpasswd FILE] [--tls-cert PEM --tls-key PEM]
//!                      [--token-realm URL [--token-service S] [--token-issuer I]
//!                       [--token-key-file F] [--token-ttl SECS] [--anonymous-pull]]
//! berth-registry gc --root DIR [--grace SECS] [--upload-ttl SECS] [--dry-run]
//! ```

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "berth-registry",
    version,
    about = "Berth's OCI distribution registry"
)]
struct Cli {
    #[command(subcommand)]
    cmd: berth_registry::cli::Cmd,
}

fn main() -> ExitCode {
    berth_registry::cli::init_logging();
    berth_registry::cli::run(Cli::parse().cmd)
}
