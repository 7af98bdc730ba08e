//! `berth`: Docker's CLI syntax and output over the Engine API.
//!
//! Parses argv with clap (see [`cli`]), picks the daemon from `-H`, else
//! `$DOCKER_HOST`, else `unix:///run/berth/berth.sock`, runs the command on
//! a current-thread tokio runtime (fast start, one thread) and exits with
//! docker's codes: 0, 1 for a failed command, 125 for usage errors and
//! for `run`/`create` daemon errors, 126/127 when the container's command
//! cannot be invoked / found, else the container's own exit code.

mod cli;
mod commit;
mod containers;
mod cp;
mod fmt;
mod images;
mod jsonmsg;
mod net;
mod registry;
mod secopt;
mod stats;
mod stream;
mod system;
mod term;
mod volumes;

use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Cmd, ContainerCmd, ImageCmd, NetworkCmd, SystemCmd, VolumeCmd};

/// A command's failure: a message for stderr (if not printed yet) and
/// the exit status.
#[derive(Debug)]
pub struct Fail {
    /// Text for stderr, without the trailing newline.
    pub msg: Option<String>,
    /// Process exit status.
    pub code: i32,
}

impl Fail {
    /// A failure with this message and status 1.
    pub fn msg(m: impl Into<String>) -> Fail {
        Fail {
            msg: Some(m.into()),
            code: 1,
        }
    }
    /// A silent failure (already reported) with this status.
    pub fn code(code: i32) -> Fail {
        Fail { msg: None, code }
    }
}

impl From<berth_client::Error> for Fail {
    fn from(e: berth_client::Error) -> Fail {
        Fail::msg(e.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        Fail::msg(e.to_string())
    }
}

/// Result of a command.
pub type CmdResult = Result<(), Fail>;

/// Writes to stdout, ignoring EPIPE (e.g. `berth ps | head`).
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// The command path typed ("run", "container ls"), for usage messages.
fn command_path(argv: &[String]) -> String {
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if matches!(
            a.as_str(),
            "-H" | "--host" | "-l" | "--log-level" | "--config" | "-c" | "--context"
        ) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        break;
    }
    let mut path = Vec::new();
    if let Some(a) = argv.get(i) {
        path.push(a.clone());
        if matches!(
            a.as_str(),
            "container" | "image" | "system" | "network" | "registry" | "volume"
        ) {
            if let Some(b) = argv.get(i + 1).filter(|b| !b.starts_with('-')) {
                path.push(b.clone());
            }
        }
    }
    path.join(" ")
}

fn usage_of(e: &clap::Error) -> String {
    match e.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(s)) => s
            .to_string()
            .trim()
            .trim_start_matches("Usage:")
            .trim()
            .to_string(),
        _ => String::new(),
    }
}

/// Maps a clap error to docker's text and exit status.
fn clap_failure(e: clap::Error, argv: &[String]) -> i32 {
    let path = command_path(argv);
    let usage = usage_of(&e);
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let flag = arg.split('=').next().unwrap_or(&arg).to_string();
            let msg = if flag.starts_with("--") {
                format!("unknown flag: {flag}")
            } else if let Some(c) = flag.strip_prefix('-').and_then(|r| r.chars().next()) {
                format!("unknown shorthand flag: '{c}' in {flag}")
            } else if path.is_empty()
                || !path.contains(' ')
                    && matches!(
                        path.as_str(),
                        "container" | "image" | "system" | "network" | "registry" | "volume"
                    )
            {
                eprintln!("berth: unknown command: berth {} {arg}\n\nRun 'berth {path} --help' for more information", path);
                return 1;
            } else if let ArgSpec::Between(a, b) = arg_spec(&path) {
                eprintln!("berth: 'berth {path}' requires at least {a} and at most {b} arguments\n\nUsage:  {usage}\n\nRun 'berth {path} --help' for more information");
                return 1;
            } else {
                format!("\"berth {path}\" accepts no arguments ({arg})")
            };
            eprintln!("{msg}\n\nUsage:  {usage}\n\nRun 'berth {path} --help' for more information");
            125
        }
        ErrorKind::InvalidSubcommand => {
            let sub = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let parent = if path.contains(' ')
                || matches!(
                    path.as_str(),
                    "container" | "image" | "system" | "network" | "registry" | "volume"
                ) {
                path.split(' ')
                    .next()
                    .map(|p| format!("{p} "))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let help = if parent.is_empty() {
                "berth --help".to_string()
            } else {
                format!("berth {}--help", parent)
            };
            // docker shows the group's usage line between the two
            let group_usage = if parent.is_empty() {
                String::new()
            } else {
                // cobra's Use: "volume COMMAND" (the others are bare names)
                let cmd_word = if parent == "volume " { " COMMAND" } else { "" };
                format!("Usage:  berth {}{cmd_word}\n\n", parent.trim_end())
            };
            eprintln!(
                "berth: unknown command: berth {parent}{sub}\n\n{group_usage}Run '{help}' for more information"
            );
            1
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::WrongNumberOfValues
        | ErrorKind::TooFewValues => {
            let (req, foot) = match arg_spec(&path) {
                ArgSpec::Exact(n) => (
                    format!("requires {n} argument{}", if n == 1 { "" } else { "s" }),
                    "Run",
                ),
                ArgSpec::AtLeast(n) => (
                    format!(
                        "requires at least {n} argument{}",
                        if n == 1 { "" } else { "s" }
                    ),
                    "See",
                ),
                ArgSpec::Between(a, b) => (
                    format!("requires at least {a} and at most {b} arguments"),
                    "Run",
                ),
            };
            eprintln!("berth: 'berth {path}' {req}\n\nUsage:  {usage}\n\n{foot} 'berth {path} --help' for more information");
            1
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            0
        }
        _ => {
            let usage = if usage.is_empty() {
                usage_for(&path)
            } else {
                usage
            };
            let detail = match (
                e.get(ContextKind::InvalidArg),
                e.get(ContextKind::InvalidValue),
            ) {
                (Some(ContextValue::String(a)), Some(ContextValue::String(v))) => {
                    let long = a
                        .split([' ', '[', '='])
                        .next()
                        .unwrap_or(a)
                        .trim_start_matches('-')
                        .to_string();
                    let (flag, value_name) = flag_names(&path, &long);
                    let why = match value_name.as_str() {
                        "int" => format!("strconv.ParseInt: parsing \"{v}\": invalid syntax"),
                        "decimal" => format!("failed to parse {v} as a rational number"),
                        "bool" => format!("strconv.ParseBool: parsing \"{v}\": invalid syntax"),
                        _ => std::error::Error::source(&e)
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "invalid syntax".into()),
                    };
                    format!("invalid argument \"{v}\" for \"{flag}\" flag: {why}")
                }
                _ => e
                    .to_string()
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
            };
            eprintln!(
                "{detail}\n\nUsage:  {usage}\n\nRun 'berth {path} --help' for more information"
            );
            125
        }
    }
}

/// How many positional arguments a command requires (cobra's ExactArgs:
/// "requires N arguments", "Run ..."; MinimumNArgs: "requires at least N
/// arguments", "See ..."; RangeArgs: "requires at least N and at most M
/// arguments", "Run ...").
enum ArgSpec {
    Exact(usize),
    AtLeast(usize),
    Between(usize, usize),
}

fn arg_spec(path: &str) -> ArgSpec {
    let leaf = path.rsplit(' ').next().unwrap_or("");
    match (path, leaf) {
        ("network create", _) => ArgSpec::Exact(1),
        (_, "connect" | "disconnect") => ArgSpec::Exact(2),
        (_, "port") => ArgSpec::Between(1, 2),
        (_, "search") => ArgSpec::Exact(1),
        (_, "pull" | "push") => ArgSpec::Exact(1),
        (_, "rename" | "tag") => ArgSpec::Exact(2),
        (_, "logs" | "attach" | "history") => ArgSpec::Exact(1),
        (_, "exec") => ArgSpec::AtLeast(2),
        _ => ArgSpec::AtLeast(1),
    }
}

fn find_cmd<'a>(root: &'a clap::Command, path: &str) -> Option<&'a clap::Command> {
    let mut c = root;
    for part in path.split(' ').filter(|p| !p.is_empty()) {
        c = c.find_subcommand(part)?;
    }
    Some(c)
}

/// The usage line of a command path ("berth run [OPTIONS] IMAGE ...").
fn usage_for(path: &str) -> String {
    let mut root = Cli::command();
    root.build();
    find_cmd(&root, path)
        .map(|c| {
            c.clone()
                .render_usage()
                .to_string()
                .trim()
                .trim_start_matches("Usage:")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Docker's name of a flag in errors ("-n, --last" or "--cpus") and its
/// value type name ("int", "decimal").
fn flag_names(path: &str, long: &str) -> (String, String) {
    let mut root = Cli::command();
    root.build();
    let arg = find_cmd(&root, path).and_then(|c| {
        c.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .cloned()
    });
    match arg {
        Some(a) => {
            let vn = a
                .get_value_names()
                .and_then(|v| v.first().map(|s| s.to_string()))
                .unwrap_or_default();
            let name = match a.get_short() {
                Some(sh) => format!("-{sh}, --{long}"),
                None => format!("--{long}"),
            };
            (name, vn)
        }
        None => (format!("--{long}"), String::new()),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let code = real_main(&argv);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Management groups (`berth image COMMAND` ...).
const GROUPS: &[&str] = &[
    "container",
    "image",
    "system",
    "network",
    "registry",
    "volume",
];

/// `--help`/`-h` on a management group (`berth image --help`) or one of
/// its subcommands (`berth registry serve -h`, `berth volume ls -h`):
/// the clap-rendered usage, exit 0, as docker's cobra does. The groups
/// disable clap's own help flag (their argument structs declare
/// `--help`, and `-h` is `run`'s hostname), so this looks at argv before
/// clap. `None`: not a help request.
fn help_request(argv: &[String]) -> Option<String> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if matches!(
            a,
            "-H" | "--host" | "-l" | "--log-level" | "--config" | "-c" | "--context"
        ) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let t = argv.get(i..)?;
    let is_help = |a: &String| a == "--help" || a == "-h";
    let group = t.first().filter(|g| GROUPS.contains(&g.as_str()))?;
    let path = match t.get(1) {
        Some(a) if is_help(a) => group.clone(),
        // registry's subcommands take no operands: help anywhere before "--"
        Some(sub)
            if group == "registry" && t[2..].iter().take_while(|a| *a != "--").any(is_help) =>
        {
            format!("{group} {sub}")
        }
        // other leaves: `-h` right after the subcommand (not run/create's
        // hostname, and not an argument of exec's command)
        Some(sub)
            if !matches!(sub.as_str(), "run" | "create") && t.get(2).is_some_and(|a| a == "-h") =>
        {
            format!("{group} {sub}")
        }
        _ => return None,
    };
    let mut root = Cli::command();
    root.build();
    let c = find_cmd(&root, &path)?;
    Some(c.clone().render_help().to_string())
}

fn real_main(argv: &[String]) -> i32 {
    if let Some(h) = help_request(argv) {
        out(&format!("{}\n", h.trim_end()));
        return 0;
    }
    let cli = match cli::parse_run_fast(argv) {
        Some(c) => c,
        None => {
            let mut cmd = Cli::command();
            let matches = match cmd.try_get_matches_from_mut(cli::end_run_options(argv).iter()) {
                Ok(m) => m,
                Err(e) => return clap_failure(e, argv),
            };
            match Cli::from_arg_matches(&matches) {
                Ok(c) => c,
                Err(e) => return clap_failure(e, argv),
            }
        }
    };
    if cli.version {
        println!("Berth version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(top) = cli.cmd else {
        let _ = Cli::command().print_help();
        println!();
        return 0;
    };
    if let Cmd::Registry(rc) = top {
        // the registry server runs on its own multi-threaded runtime
        berth_registry::cli::init_logging();
        let code = berth_registry::cli::run(rc);
        return if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        };
    }
    registry::set_config_dir(cli.config.clone());
    let host = cli
        .host
        .clone()
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| berth_client::DEFAULT_HOST.to_string());
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: {e}");
            return 1;
        }
    };
    let is_run = matches!(
        top,
        Cmd::Run(_)
            | Cmd::Create(_)
            | Cmd::Container(ContainerCmd::Run(_) | ContainerCmd::Create(_))
    );
    let path = command_path(argv);
    let res = rt.block_on(async move {
        let mut client = berth_client::Client::new(&host).map_err(Fail::from)?;
        dispatch(&mut client, top).await
    });
    // A blocking stdin read may still be pending on tokio's blocking pool:
    // do not wait for it.
    rt.shutdown_background();
    match res {
        Ok(()) => 0,
        Err(Fail { msg: Some(m), code }) => {
            if is_run && code >= 125 {
                eprintln!("berth: {m}\n\nRun 'berth {path} --help' for more information");
            } else {
                eprintln!("{m}");
            }
            code
        }
        Err(Fail { msg: None, code }) => code,
    }
}

async fn dispatch(c: &mut berth_client::Client, top: Cmd) -> CmdResult {
    match top {
        Cmd::Run(a) | Cmd::Container(ContainerCmd::Run(a)) => containers::run(c, a).await,
        Cmd::Create(a) | Cmd::Container(ContainerCmd::Create(a)) => {
            containers::create_cmd(c, a).await
        }
        Cmd::Exec(a) | Cmd::Container(ContainerCmd::Exec(a)) => containers::exec(c, a).await,
        Cmd::Ps(a) | Cmd::Container(ContainerCmd::Ls(a)) => containers::ps(c, a).await,
        Cmd::Attach(a) | Cmd::Container(ContainerCmd::Attach(a)) => containers::attach(c, a).await,
        Cmd::Start(a) | Cmd::Container(ContainerCmd::Start(a)) => containers::start(c, a).await,
        Cmd::Stop(a) | Cmd::Container(ContainerCmd::Stop(a)) => {
            containers::stop(c, a, "stop").await
        }
        Cmd::Restart(a) | Cmd::Container(ContainerCmd::Restart(a)) => {
            containers::stop(c, a, "restart").await
        }
        Cmd::Kill(a) | Cmd::Container(ContainerCmd::Kill(a)) => containers::kill(c, a).await,
        Cmd::Rm(a) | Cmd::Container(ContainerCmd::Rm(a)) => containers::rm(c, a).await,
        Cmd::Logs(a) | Cmd::Container(ContainerCmd::Logs(a)) => containers::logs(c, a).await,
        Cmd::Wait(a) | Cmd::Container(ContainerCmd::Wait(a)) => containers::wait(c, a).await,
        Cmd::Pause(a) | Cmd::Container(ContainerCmd::Pause(a)) => {
            containers::simple(c, a, "pause").await
        }
        Cmd::Unpause(a) | Cmd::Container(ContainerCmd::Unpause(a)) => {
            containers::simple(c, a, "unpause").await
        }
        Cmd::Rename(a) | Cmd::Container(ContainerCmd::Rename(a)) => containers::rename(c, a).await,
        Cmd::Top(a) | Cmd::Container(ContainerCmd::Top(a)) => containers::top(c, a).await,
        Cmd::Diff(a) | Cmd::Container(ContainerCmd::Diff(a)) => commit::diff(c, a).await,
        Cmd::Export(a) | Cmd::Container(ContainerCmd::Export(a)) => commit::export(c, a).await,
        Cmd::Commit(a) | Cmd::Container(ContainerCmd::Commit(a)) => commit::commit(c, a).await,
        Cmd::Cp(a) | Cmd::Container(ContainerCmd::Cp(a)) => cp::cp(c, a).await,
        Cmd::Stats(a) | Cmd::Container(ContainerCmd::Stats(a)) => stats::stats(c, a).await,
        Cmd::Update(a) | Cmd::Container(ContainerCmd::Update(a)) => stats::update(c, a).await,
        Cmd::Container(ContainerCmd::Inspect(a)) => system::inspect(c, a, Some("container")).await,
        Cmd::Container(ContainerCmd::Prune(a)) => containers::prune(c, a).await,
        Cmd::Inspect(a) => {
            let kind = a.kind.clone();
            system::inspect(c, a, kind.as_deref()).await
        }
        Cmd::Images(a) | Cmd::Image(ImageCmd::Ls(a)) => images::images(c, a).await,
        Cmd::Image(ImageCmd::Inspect(a)) => system::inspect(c, a, Some("image")).await,
        Cmd::History(a) | Cmd::Image(ImageCmd::History(a)) => images::history(c, a).await,
        Cmd::Image(ImageCmd::Prune(a)) => images::prune(c, a).await,
        Cmd::Load(a) | Cmd::Image(ImageCmd::Load(a)) => images::load(c, a).await,
        Cmd::Save(a) | Cmd::Image(ImageCmd::Save(a)) => images::save(c, a).await,
        Cmd::Import(a) | Cmd::Image(ImageCmd::Import(a)) => images::import(c, a).await,
        Cmd::Tag(a) | Cmd::Image(ImageCmd::Tag(a)) => images::tag(c, a).await,
        Cmd::Rmi(a) | Cmd::Image(ImageCmd::Rm(a)) => images::rmi(c, a).await,
        Cmd::Registry(_) => unreachable!("handled before the client runtime starts"),
        Cmd::Pull(a) | Cmd::Image(ImageCmd::Pull(a)) => registry::pull(c, a).await,
        Cmd::Push(a) | Cmd::Image(ImageCmd::Push(a)) => registry::push(c, a).await,
        Cmd::Login(a) => registry::login(c, a).await,
        Cmd::Logout(a) => registry::logout(a).await,
        Cmd::Search(a) => registry::search(c, a).await,
        Cmd::Network(NetworkCmd::Create(a)) => net::create(c, a).await,
        Cmd::Network(NetworkCmd::Ls(a)) => net::ls(c, a).await,
        Cmd::Network(NetworkCmd::Inspect(a)) => {
            let ia = cli::InspectArgs {
                format: a.format,
                size: false,
                kind: None,
                help: None,
                names: a.networks,
            };
            system::inspect(c, ia, Some("network")).await
        }
        Cmd::Network(NetworkCmd::Rm(a)) => net::rm(c, a).await,
        Cmd::Network(NetworkCmd::Prune(a)) => net::prune(c, a).await,
        Cmd::Network(NetworkCmd::Connect(a)) => net::connect(c, a).await,
        Cmd::Network(NetworkCmd::Disconnect(a)) => net::disconnect(c, a).await,
        Cmd::Port(a) | Cmd::Container(ContainerCmd::Port(a)) => net::port(c, a).await,
        Cmd::Volume(VolumeCmd::Create(a)) => volumes::create(c, a).await,
        Cmd::Volume(VolumeCmd::Ls(a)) => volumes::ls(c, a).await,
        Cmd::Volume(VolumeCmd::Inspect(a)) => {
            let ia = cli::InspectArgs {
                format: a.format,
                size: false,
                kind: None,
                help: None,
                names: a.volumes,
            };
            system::inspect(c, ia, Some("volume")).await
        }
        Cmd::Volume(VolumeCmd::Rm(a)) => volumes::rm(c, a).await,
        Cmd::Volume(VolumeCmd::Prune(a)) => volumes::prune(c, a).await,
        Cmd::Version(a) => system::version(c, a).await,
        Cmd::Info(a) | Cmd::System(SystemCmd::Info(a)) => system::info(c, a).await,
        Cmd::System(SystemCmd::Df(a)) => system::df(c, a).await,
        Cmd::Events(a) | Cmd::System(SystemCmd::Events(a)) => system::events(c, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_paths() {
        let v = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            command_path(&v("berth -H unix:///x run -it busybox")),
            "run"
        );
        assert_eq!(command_path(&v("berth container ls -a")), "container ls");
        assert_eq!(command_path(&v("berth --debug ps")), "ps");
    }
}
