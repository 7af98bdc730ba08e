//! Docker's command-line syntax, declared with clap's derive API.
//!
//! Leaf commands (`run`, `ps`, `rmi`...) have one argument struct each;
//! the management groups (`container`, `image`, `system`) reuse the same
//! structs so `berth container ls` and `berth ps` parse identically, as in
//! docker. `--help` only (no `-h`: `run -h` is the hostname).

use clap::{ArgAction, Args, Parser, Subcommand};

/// Help layout close to docker's (cobra's) own.
pub const HELP: &str = "Usage:  {usage}\n\n{about}\n\nOptions:\n{options}";
/// Top-level help layout.
pub const TOP_HELP: &str = "Usage:  {usage}\n\n{about}\n\nCommands:\n{subcommands}\n\nGlobal Options:\n{options}\n\nRun 'berth COMMAND --help' for more information on a command.";

/// `berth [OPTIONS] COMMAND`.
#[derive(Parser, Debug)]
#[command(name = "berth", about = "A self-sufficient runtime for containers", override_usage = "berth [OPTIONS] COMMAND",
    help_template = TOP_HELP, disable_help_flag = true, disable_version_flag = true, disable_help_subcommand = true)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path); else $DOCKER_HOST.
    #[arg(short = 'H', long = "host", value_name = "list")]
    pub host: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
    /// Location of client config files
    #[arg(long = "config", value_name = "string")]
    pub config: Option<String>,
    /// Name of the context to use (only "default")
    #[arg(short = 'c', long = "context", value_name = "string")]
    pub context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// `berth run ...` parsed with a command tree of `run` alone.
///
/// clap's derive API builds every command's arguments before it parses
/// (about 1.5 million instructions here, most of a short `run`'s CLI
/// time), although `run` needs only its own. When `argv[1]` is `run` (no
/// global options before it), this builds just `run`'s arguments with the
/// same settings as [`Cmd::Run`] and returns the [`Cli`] the full parse
/// would return. `None` (not `run`, global options, `--help`, any parse
/// error): the caller parses with [`Cli`] as before, so help and error
/// output are the full tree's.
pub fn parse_run_fast(argv: &[String]) -> Option<Cli> {
    use clap::FromArgMatches;
    if argv.get(1).map(String::as_str) != Some("run") {
        return None;
    }
    let cmd = RunArgs::augment_args(
        clap::Command::new("run")
            .bin_name("berth run")
            .override_usage("berth run [OPTIONS] IMAGE [COMMAND] [ARG...]")
            .help_template(HELP)
            .disable_help_flag(true)
            .term_width(120),
    );
    let argv = match image_index(&cmd, argv, 2) {
        Some(i) => with_end_of_options(argv, i),
        None => argv.to_vec(),
    };
    let m = cmd.try_get_matches_from(&argv[1..]).ok()?;
    let run = RunArgs::from_arg_matches(&m).ok()?;
    Some(Cli {
        host: None,
        debug: false,
        log_level: None,
        config: None,
        context: None,
        version: false,
        help: None,
        cmd: Some(Cmd::Run(run)),
    })
}

/// The index in `argv` of `run`/`create`'s IMAGE operand, the options of
/// `cmd` (a command with [`RunArgs`]) starting at `start`: docker stops
/// reading options at the image (pflag without interspersed flags), so
/// `run busybox -c 'x'` or `run img --rm` pass those words to the
/// command, where clap would take known flags after the image as options.
/// `None` when the options have no operand after them, end with `--`, or
/// hold a flag `cmd` does not know (clap reports that).
fn image_index(cmd: &clap::Command, argv: &[String], start: usize) -> Option<usize> {
    let takes_value = |a: &clap::Arg| a.get_action().takes_values() && !a.is_require_equals_set();
    let mut i = start;
    while let Some(t) = argv.get(i) {
        if t == "--" {
            return None;
        }
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            let a = cmd.get_arguments().find(|a| {
                a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
            })?;
            if takes_value(a) && !inline {
                i += 1;
            }
        } else if let Some(shorts) = t.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (k, c) in shorts.char_indices() {
                let a = cmd.get_arguments().find(|a| a.get_short() == Some(c))?;
                if takes_value(a) {
                    if k + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `argv` with `--` after the IMAGE operand at `image` (see [`image_index`]).
fn with_end_of_options(argv: &[String], image: usize) -> Vec<String> {
    let mut v = Vec::with_capacity(argv.len() + 1);
    v.extend_from_slice(&argv[..=image]);
    v.push("--".to_string());
    v.extend_from_slice(&argv[image + 1..]);
    v
}

/// For the full parse: `argv` with `--` after the IMAGE of a `run` or
/// `create` (also `container run`/`container create`, after the global
/// options), so that what follows the image is the command's, as in
/// docker; other command lines unchanged.
pub fn end_run_options(argv: &[String]) -> std::borrow::Cow<'_, [String]> {
    use std::borrow::Cow;
    // global options that take a value (`-H x`, `--host x`)
    let global_value = |t: &str| {
        matches!(
            t,
            "-H" | "--host" | "-l" | "--log-level" | "--config" | "-c" | "--context"
        )
    };
    let mut i = 1;
    while let Some(t) = argv.get(i) {
        if global_value(t) {
            i += 2;
        } else if t.starts_with('-') && t != "-" && t != "--" {
            i += 1;
        } else {
            break;
        }
    }
    let sub = match argv.get(i).map(String::as_str) {
        Some("run" | "create") => i,
        Some("container")
            if matches!(argv.get(i + 1).map(String::as_str), Some("run" | "create")) =>
        {
            i + 1
        }
        _ => return Cow::Borrowed(argv),
    };
    let cmd = RunArgs::augment_args(clap::Command::new("run").disable_help_flag(true));
    match image_index(&cmd, argv, sub + 1) {
        Some(img) => Cow::Owned(with_end_of_options(argv, img)),
        None => Cow::Borrowed(argv),
    }
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create and run a new container from an image
    #[command(override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, term_width = 120)]
    Run(RunArgs),
    /// Execute a command in a running container
    #[command(override_usage = "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]", help_template = HELP, disable_help_flag = true)]
    Exec(ExecArgs),
    /// List containers
    #[command(override_usage = "berth ps [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Ps(PsArgs),
    /// List images
    #[command(override_usage = "berth images [OPTIONS] [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Images(ImagesArgs),
    /// Show the Docker version information
    #[command(override_usage = "berth version [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Version(VersionArgs),
    /// Display system-wide information
    #[command(override_usage = "berth info [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Info(FormatOnly),
    /// Manage containers
    #[command(
        subcommand,
        help_template = "Usage:  berth container COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth container COMMAND --help' for more information on a command.",
        disable_help_flag = true
    )]
    Container(ContainerCmd),
    /// Manage images
    #[command(
        subcommand,
        help_template = "Usage:  berth image COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth image COMMAND --help' for more information on a command.",
        disable_help_flag = true
    )]
    Image(ImageCmd),
    /// Download an image from a registry
    #[command(override_usage = "berth pull [OPTIONS] NAME[:TAG|@DIGEST]", help_template = HELP, disable_help_flag = true)]
    Pull(PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "berth push [OPTIONS] NAME[:TAG]", help_template = HELP, disable_help_flag = true)]
    Push(PushArgs),
    /// Log in to a registry
    #[command(override_usage = "berth login [OPTIONS] [SERVER]", help_template = HELP, disable_help_flag = true)]
    Login(LoginArgs),
    /// Log out from a registry
    #[command(override_usage = "berth logout [SERVER]", help_template = HELP, disable_help_flag = true)]
    Logout(LogoutArgs),
    /// Search Docker Hub for images
    #[command(override_usage = "berth search [OPTIONS] TERM", help_template = HELP, disable_help_flag = true)]
    Search(SearchArgs),
    /// Run Berth's OCI distribution registry (serve, gc)
    #[command(
        subcommand,
        help_template = "Usage:  berth registry COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth registry COMMAND --help' for more information on a command."
    )]
    Registry(berth_registry::cli::Cmd),
    /// Manage networks
    #[command(
        subcommand,
        help_template = "Usage:  berth network COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth network COMMAND --help' for more information on a command.",
        disable_help_flag = true
    )]
    Network(NetworkCmd),
    /// Manage volumes
    #[command(
        subcommand,
        override_usage = "berth volume COMMAND",
        help_template = "Usage:  berth volume COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth volume COMMAND --help' for more information on a command.",
        disable_help_flag = true
    )]
    Volume(VolumeCmd),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "berth port CONTAINER [PRIVATE_PORT[/PROTO]]", help_template = HELP, disable_help_flag = true)]
    Port(PortArgs),
    /// Manage Docker
    #[command(
        subcommand,
        help_template = "Usage:  berth system COMMAND\n\n{about}\n\nCommands:\n{subcommands}\n\nRun 'berth system COMMAND --help' for more information on a command.",
        disable_help_flag = true
    )]
    System(SystemCmd),
    /// Attach local standard input, output, and error streams to a running container
    #[command(override_usage = "berth attach [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    #[command(override_usage = "berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Commit(crate::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    #[command(override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", help_template = HELP, disable_help_flag = true)]
    Cp(crate::cp::CpArgs),
    /// Create a new container
    #[command(override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, term_width = 120)]
    Create(RunArgs),
    /// Inspect changes to files or directories on a container's filesystem
    #[command(override_usage = "berth diff CONTAINER", help_template = HELP, disable_help_flag = true)]
    Diff(crate::commit::DiffArgs),
    /// Get real time events from the server
    #[command(override_usage = "berth events [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Events(EventsArgs),
    /// Export a container's filesystem as a tar archive
    #[command(override_usage = "berth export [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Export(crate::commit::ExportArgs),
    /// Show the history of an image
    #[command(override_usage = "berth history [OPTIONS] IMAGE", help_template = HELP, disable_help_flag = true)]
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Import(ImportArgs),
    /// Return low-level information on Docker objects
    #[command(override_usage = "berth inspect [OPTIONS] NAME|ID [NAME|ID...]", help_template = HELP, disable_help_flag = true)]
    Inspect(InspectArgs),
    /// Kill one or more running containers
    #[command(override_usage = "berth kill [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Kill(KillArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth load [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Load(LoadArgs),
    /// Fetch the logs of a container
    #[command(override_usage = "berth logs [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Logs(LogsArgs),
    /// Pause all processes within one or more containers
    #[command(override_usage = "berth pause CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Pause(Containers),
    /// Rename a container
    #[command(override_usage = "berth rename CONTAINER NEW_NAME", help_template = HELP, disable_help_flag = true)]
    Rename(RenameArgs),
    /// Restart one or more containers
    #[command(override_usage = "berth restart [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(override_usage = "berth rm [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Rm(RmArgs),
    /// Remove one or more images
    #[command(override_usage = "berth rmi [OPTIONS] IMAGE [IMAGE...]", help_template = HELP, disable_help_flag = true)]
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth save [OPTIONS] IMAGE [IMAGE...]", help_template = HELP, disable_help_flag = true)]
    Save(SaveArgs),
    /// Start one or more stopped containers
    #[command(override_usage = "berth start [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Start(StartArgs),
    /// Stop one or more running containers
    #[command(override_usage = "berth stop [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Stop(StopArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", help_template = HELP, disable_help_flag = true)]
    Tag(TagArgs),
    /// Display the running processes of a container
    #[command(override_usage = "berth top CONTAINER [ps OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    #[command(override_usage = "berth stats [OPTIONS] [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Stats(crate::stats::StatsArgs),
    /// Update configuration of one or more containers
    #[command(override_usage = "berth update [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Update(crate::stats::UpdateArgs),
    /// Unpause all processes within one or more containers
    #[command(override_usage = "berth unpause CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Unpause(Containers),
    /// Block until one or more containers stop, then print their exit codes
    #[command(override_usage = "berth wait CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Wait(Containers),
}

/// `berth container COMMAND`.
#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// Attach local standard input, output, and error streams to a running container
    #[command(override_usage = "berth container attach [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Attach(AttachArgs),
    /// Create a new image from a container's changes
    #[command(override_usage = "berth container commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Commit(crate::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    #[command(override_usage = "berth container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", help_template = HELP, disable_help_flag = true)]
    Cp(crate::cp::CpArgs),
    /// Create a new container
    #[command(override_usage = "berth container create [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, term_width = 120)]
    Create(RunArgs),
    /// Inspect changes to files or directories on a container's filesystem
    #[command(override_usage = "berth container diff CONTAINER", help_template = HELP, disable_help_flag = true)]
    Diff(crate::commit::DiffArgs),
    /// Execute a command in a running container
    #[command(override_usage = "berth container exec [OPTIONS] CONTAINER COMMAND [ARG...]", help_template = HELP, disable_help_flag = true)]
    Exec(ExecArgs),
    /// Export a container's filesystem as a tar archive
    #[command(override_usage = "berth container export [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Export(crate::commit::ExportArgs),
    /// Display detailed information on one or more containers
    #[command(override_usage = "berth container inspect [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Inspect(InspectArgs),
    /// Kill one or more running containers
    #[command(override_usage = "berth container kill [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Kill(KillArgs),
    /// Fetch the logs of a container
    #[command(override_usage = "berth container logs [OPTIONS] CONTAINER", help_template = HELP, disable_help_flag = true)]
    Logs(LogsArgs),
    /// List containers
    #[command(visible_aliases = ["list", "ps"], override_usage = "berth container ls [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Ls(PsArgs),
    /// Pause all processes within one or more containers
    #[command(override_usage = "berth container pause CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Pause(Containers),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "berth container port CONTAINER [PRIVATE_PORT[/PROTO]]", help_template = HELP, disable_help_flag = true)]
    Port(PortArgs),
    /// Remove all stopped containers
    #[command(override_usage = "berth container prune [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Prune(PruneArgs),
    /// Rename a container
    #[command(override_usage = "berth container rename CONTAINER NEW_NAME", help_template = HELP, disable_help_flag = true)]
    Rename(RenameArgs),
    /// Restart one or more containers
    #[command(override_usage = "berth container restart [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Restart(StopArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove", override_usage = "berth container rm [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Rm(RmArgs),
    /// Create and run a new container from an image
    #[command(override_usage = "berth container run [OPTIONS] IMAGE [COMMAND] [ARG...]", help_template = HELP, disable_help_flag = true, term_width = 120)]
    Run(RunArgs),
    /// Start one or more stopped containers
    #[command(override_usage = "berth container start [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Start(StartArgs),
    /// Stop one or more running containers
    #[command(override_usage = "berth container stop [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Stop(StopArgs),
    /// Display the running processes of a container
    #[command(override_usage = "berth container top CONTAINER [ps OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    #[command(override_usage = "berth container stats [OPTIONS] [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Stats(crate::stats::StatsArgs),
    /// Update configuration of one or more containers
    #[command(override_usage = "berth container update [OPTIONS] CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Update(crate::stats::UpdateArgs),
    /// Unpause all processes within one or more containers
    #[command(override_usage = "berth container unpause CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Unpause(Containers),
    /// Block until one or more containers stop, then print their exit codes
    #[command(override_usage = "berth container wait CONTAINER [CONTAINER...]", help_template = HELP, disable_help_flag = true)]
    Wait(Containers),
}

/// `berth image COMMAND`.
#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// Show the history of an image
    #[command(override_usage = "berth image history [OPTIONS] IMAGE", help_template = HELP, disable_help_flag = true)]
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "berth image import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Import(ImportArgs),
    /// Display detailed information on one or more images
    #[command(override_usage = "berth image inspect [OPTIONS] IMAGE [IMAGE...]", help_template = HELP, disable_help_flag = true)]
    Inspect(InspectArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "berth image load [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Load(LoadArgs),
    /// List images
    #[command(visible_alias = "list", override_usage = "berth image ls [OPTIONS] [REPOSITORY[:TAG]]", help_template = HELP, disable_help_flag = true)]
    Ls(ImagesArgs),
    /// Download an image from a registry
    #[command(override_usage = "berth image pull [OPTIONS] NAME[:TAG|@DIGEST]", help_template = HELP, disable_help_flag = true)]
    Pull(PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "berth image push [OPTIONS] NAME[:TAG]", help_template = HELP, disable_help_flag = true)]
    Push(PushArgs),
    /// Remove unused images
    #[command(override_usage = "berth image prune [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Prune(ImagePruneArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove", override_usage = "berth image rm [OPTIONS] IMAGE [IMAGE...]", help_template = HELP, disable_help_flag = true)]
    Rm(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "berth image save [OPTIONS] IMAGE [IMAGE...]", help_template = HELP, disable_help_flag = true)]
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    #[command(override_usage = "berth image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", help_template = HELP, disable_help_flag = true)]
    Tag(TagArgs),
}

/// `berth system COMMAND`.
#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage
    #[command(override_usage = "berth system df [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Df(DfArgs),
    /// Get real time events from the server
    #[command(override_usage = "berth system events [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Events(EventsArgs),
    /// Display system-wide information
    #[command(override_usage = "berth system info [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Info(FormatOnly),
}

/// `berth network COMMAND`.
#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Connect a container to a network
    #[command(override_usage = "berth network connect [OPTIONS] NETWORK CONTAINER", help_template = HELP, disable_help_flag = true)]
    Connect(NetworkConnectArgs),
    /// Create a network
    #[command(override_usage = "berth network create [OPTIONS] NETWORK", help_template = HELP, disable_help_flag = true)]
    Create(NetworkCreateArgs),
    /// Disconnect a container from a network
    #[command(override_usage = "berth network disconnect [OPTIONS] NETWORK CONTAINER", help_template = HELP, disable_help_flag = true)]
    Disconnect(NetworkDisconnectArgs),
    /// Display detailed information on one or more networks
    #[command(override_usage = "berth network inspect [OPTIONS] NETWORK [NETWORK...]", help_template = HELP, disable_help_flag = true)]
    Inspect(NetworkInspectArgs),
    /// List networks
    #[command(alias = "list", override_usage = "berth network ls [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Ls(NetworkLsArgs),
    /// Remove all unused networks
    #[command(override_usage = "berth network prune [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Prune(NetworkPruneArgs),
    /// Remove one or more networks
    #[command(alias = "remove", override_usage = "berth network rm NETWORK [NETWORK...]", help_template = HELP, disable_help_flag = true)]
    Rm(NetworkRmArgs),
}

/// `berth volume COMMAND`.
#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume
    #[command(override_usage = "berth volume create [OPTIONS] [VOLUME]", help_template = HELP, disable_help_flag = true)]
    Create(VolumeCreateArgs),
    /// Display detailed information on one or more volumes
    #[command(override_usage = "berth volume inspect [OPTIONS] VOLUME [VOLUME...]", help_template = HELP, disable_help_flag = true)]
    Inspect(VolumeInspectArgs),
    /// List volumes
    #[command(alias = "list", override_usage = "berth volume ls [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Ls(VolumeLsArgs),
    /// Remove unused local volumes
    #[command(override_usage = "berth volume prune [OPTIONS]", help_template = HELP, disable_help_flag = true)]
    Prune(VolumePruneArgs),
    /// Remove one or more volumes
    #[command(alias = "remove", override_usage = "berth volume rm [OPTIONS] VOLUME [VOLUME...]", help_template = HELP, disable_help_flag = true)]
    Rm(VolumeRmArgs),
}

/// `volume create` options (the body of `POST /volumes/create`).
#[derive(Args, Debug, Clone)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(
        short = 'd',
        long = "driver",
        value_name = "string",
        default_value = "local"
    )]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", value_name = "string")]
    pub name_flag: Option<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// VOLUME
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

/// `volume ls` options.
#[derive(Args, Debug, Clone)]
pub struct VolumeLsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `volume inspect` options.
#[derive(Args, Debug, Clone)]
pub struct VolumeInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// VOLUME
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

/// `volume rm` options.
#[derive(Args, Debug, Clone)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// VOLUME
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

/// `volume prune` options.
#[derive(Args, Debug, Clone)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `pull` options.
#[derive(Args, Debug, Clone)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image verification
    #[arg(long = "disable-content-trust", value_name = "bool", default_value = "true", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub disable_content_trust: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NAME[:TAG|@DIGEST]
    #[arg(value_name = "NAME[:TAG|@DIGEST]", required = true)]
    pub name: String,
}

/// `push` options.
#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image signing
    #[arg(long = "disable-content-trust", value_name = "bool", default_value = "true", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub disable_content_trust: bool,
    /// Push a platform-specific manifest as a single-platform image to the registry
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NAME[:TAG]
    #[arg(value_name = "NAME[:TAG]", required = true)]
    pub name: String,
}

/// `login` options.
#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long = "password", value_name = "string")]
    pub password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Username
    #[arg(short = 'u', long = "username", value_name = "string")]
    pub username: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// SERVER
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `logout` arguments.
#[derive(Args, Debug, Clone)]
pub struct LogoutArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// SERVER
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `search` options.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(long = "limit", value_name = "int")]
    pub limit: Option<i64>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// TERM
    #[arg(value_name = "TERM", required = true)]
    pub term: String,
}

/// `network create` options (docker's names; `POST /networks/create`).
#[derive(Args, Debug, Clone, Default)]
pub struct NetworkCreateArgs {
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    pub attachable: bool,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address", value_name = "map")]
    pub aux_address: Vec<String>,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", value_name = "string")]
    pub config_from: Option<String>,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// Driver to manage the Network
    #[arg(
        short = 'd',
        long = "driver",
        value_name = "string",
        default_value = "bridge"
    )]
    pub driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_name = "strings")]
    pub gateway: Vec<String>,
    /// Create swarm routing-mesh network
    #[arg(long = "ingress")]
    pub ingress: bool,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    pub internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", value_name = "string", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "map")]
    pub ipam_opt: Vec<String>,
    /// Enable or disable IPv4 address assignment
    #[arg(long = "ipv4", value_name = "bool", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment
    #[arg(long = "ipv6")]
    pub ipv6: bool,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Control the network's scope
    #[arg(long = "scope", value_name = "string")]
    pub scope: Option<String>,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_name = "strings")]
    pub subnet: Vec<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NETWORK
    #[arg(value_name = "NETWORK", required = true)]
    pub name: String,
}

/// `network ls` options.
#[derive(Args, Debug, Clone)]
pub struct NetworkLsArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `network inspect` options.
#[derive(Args, Debug, Clone)]
pub struct NetworkInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NETWORK
    #[arg(value_name = "NETWORK", required = true)]
    pub networks: Vec<String>,
}

/// `network rm` options.
#[derive(Args, Debug, Clone)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NETWORK
    #[arg(value_name = "NETWORK", required = true)]
    pub networks: Vec<String>,
}

/// `network prune` options.
#[derive(Args, Debug, Clone)]
pub struct NetworkPruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `network connect` options (the endpoint settings docker sends).
#[derive(Args, Debug, Clone)]
pub struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings")]
    pub alias: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_name = "strings")]
    pub driver_opt: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long = "ip6", value_name = "string")]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_name = "list")]
    pub link: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_name = "strings")]
    pub link_local_ip: Vec<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NETWORK
    #[arg(value_name = "NETWORK", required = true)]
    pub network: String,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// `network disconnect` options.
#[derive(Args, Debug, Clone)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NETWORK
    #[arg(value_name = "NETWORK", required = true)]
    pub network: String,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// `port` arguments.
#[derive(Args, Debug, Clone)]
pub struct PortArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// The `--help` flag every command has.
#[derive(Args, Debug, Clone)]
pub struct HelpFlag {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// A host path given relative to the current directory, made absolute as
/// the docker CLI does for a bind source before sending it (the daemon
/// takes a relative source for a volume name): a path starting with `.`
/// (`.`, `./d`, `../a`, `.hidden`) is joined to the current directory and
/// cleaned lexically (`.` and `..` elements resolved, no trailing `/`).
/// Anything else (`/abs`, `name`, `~/x`) is returned unchanged, and so is
/// the path when the current directory cannot be read.
pub fn abs_source(p: &str) -> String {
    match std::env::current_dir() {
        Ok(cwd) if p.starts_with('.') => abs_source_in(&cwd.to_string_lossy(), p),
        _ => p.to_string(),
    }
}

/// [`abs_source`] against the directory `cwd` (absolute).
pub fn abs_source_in(cwd: &str, p: &str) -> String {
    if !p.starts_with('.') {
        return p.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in cwd.split('/').chain(p.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A `-v SRC:DST[:MODE]` with its source made absolute by [`abs_source`]
/// (the docker CLI's treatment of a bind given with a relative path); a
/// spec without a source (`-v /data`, `-v ./x`: a container path) is
/// unchanged.
pub fn abs_bind(spec: &str) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", abs_source(src)),
        _ => spec.to_string(),
    }
}

/// `--mount`, as the docker CLI parses it: comma-separated `key=value`
/// fields (`type` defaults to `volume`; `source`/`src`,
/// `target`/`destination`/`dst`, `readonly`/`ro`, `volume-nocopy`,
/// `volume-driver`, `volume-label=K=V`, `volume-opt=K=V`,
/// `bind-propagation`, `tmpfs-size`, `tmpfs-mode`), with its error texts.
/// A source starting with `.` is made absolute ([`abs_source`]) whatever
/// the type, as the docker CLI does.
pub fn parse_mount(s: &str) -> Result<berth_api::models::MountSpec, String> {
    use serde_json::{json, Map, Value};
    let mut m = berth_api::models::MountSpec {
        kind: "volume".into(),
        ..Default::default()
    };
    let (mut vol, mut bind, mut tmpfs) = (Map::new(), Map::new(), Map::new());
    let truthy = |key: &str, v: Option<&str>| -> Result<bool, String> {
        match v.map(str::to_ascii_lowercase).as_deref() {
            None | Some("1") | Some("true") => Ok(true),
            Some("0") | Some("false") => Ok(false),
            Some(o) => Err(format!("invalid value for {key}: {o}")),
        }
    };
    let pair = |v: &str| -> (String, Value) {
        let (k, v) = v.split_once('=').unwrap_or((v, ""));
        (k.to_string(), Value::String(v.to_string()))
    };
    for field in s.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| -> Result<String, String> {
            v.map(str::to_string)
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "readonly" | "ro" => m.read_only = truthy(&key, val)?,
            "volume-nocopy" => {
                vol.insert("NoCopy".into(), json!(truthy(&key, val)?));
            }
            "type" => m.kind = need(val)?.to_ascii_lowercase(),
            "source" | "src" => m.source = abs_source(&need(val)?),
            "target" | "dst" | "destination" => m.target = need(val)?,
            "bind-propagation" => {
                bind.insert("Propagation".into(), json!(need(val)?.to_ascii_lowercase()));
            }
            "volume-driver" => {
                let dc = vol.entry("DriverConfig").or_insert_with(|| json!({}));
                dc["Name"] = json!(need(val)?);
            }
            "volume-label" => {
                let (k, v) = pair(&need(val)?);
                let l = vol.entry("Labels").or_insert_with(|| json!({}));
                l[k] = v;
            }
            "volume-opt" => {
                let (k, v) = pair(&need(val)?);
                let dc = vol.entry("DriverConfig").or_insert_with(|| json!({}));
                if dc.get("Options").is_none() {
                    dc["Options"] = json!({});
                }
                dc["Options"][k] = v;
            }
            "tmpfs-size" => {
                let v = need(val)?;
                let n = crate::fmt::parse_ram(&v)
                    .map_err(|_| format!("invalid value for {key}: {v}"))?;
                tmpfs.insert("SizeBytes".into(), json!(n));
            }
            "tmpfs-mode" => {
                let v = need(val)?;
                let n = u32::from_str_radix(&v, 8)
                    .map_err(|_| format!("invalid value for {key}: {v}"))?;
                tmpfs.insert("Mode".into(), json!(n));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    if !vol.is_empty() && m.kind != "volume" {
        return Err(format!(
            "cannot mix 'volume-*' options with mount type '{}'",
            m.kind
        ));
    }
    if !bind.is_empty() && m.kind != "bind" {
        return Err(format!(
            "cannot mix 'bind-*' options with mount type '{}'",
            m.kind
        ));
    }
    if !tmpfs.is_empty() && m.kind != "tmpfs" {
        return Err(format!(
            "cannot mix 'tmpfs-*' options with mount type '{}'",
            m.kind
        ));
    }
    m.volume_options = (!vol.is_empty()).then(|| Value::Object(vol));
    m.bind_options = (!bind.is_empty()).then(|| Value::Object(bind));
    m.tmpfs_options = (!tmpfs.is_empty()).then(|| Value::Object(tmpfs));
    Ok(m)
}

/// Validates `-m` at parse time (docker reports it as a flag error).
fn parse_memory(s: &str) -> Result<String, String> {
    crate::fmt::parse_ram(s).map(|_| s.to_string())
}

/// Validates `--dns` at parse time (docker: "IP address is not correctly
/// formatted: X").
fn parse_dns(s: &str) -> Result<String, String> {
    s.parse::<std::net::IpAddr>()
        .map(|_| s.to_string())
        .map_err(|_| format!("IP address is not correctly formatted: {s}"))
}

/// Validates docker's advanced `--network` syntax at parse time
/// (`name=N,alias=A,ip=...`: known keys only, as docker's NetworkOpt).
fn parse_network(s: &str) -> Result<String, String> {
    if s.contains('=') {
        for kv in s.split(',') {
            let (k, _) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid field {kv}"))?;
            let k = k.trim().to_lowercase();
            if !matches!(
                k.as_str(),
                "name"
                    | "alias"
                    | "ip"
                    | "ip6"
                    | "mac-address"
                    | "link-local-ip"
                    | "driver-opt"
                    | "gw-priority"
            ) {
                return Err(format!("invalid field key {k}"));
            }
        }
    }
    Ok(s.to_string())
}

/// Validates `--add-host` (`host:ip`, `host=ip`, `host:host-gateway`) at
/// parse time, with docker's messages; the value is sent as typed.
fn parse_add_host(s: &str) -> Result<String, String> {
    let (_, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| format!("bad format for add-host: {s:?}"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address in add-host: {ip:?}"));
    }
    Ok(s.to_string())
}

/// Validates a `-l`/`--label` (docker's ValidateLabel: a name before `=`).
fn parse_label(s: &str) -> Result<String, String> {
    let k = s.split('=').next().unwrap_or("");
    if k.trim().is_empty() {
        return Err(format!("invalid label '{s}': empty name"));
    }
    Ok(s.to_string())
}

/// `--shm-size`/`--memory-reservation`: a size in bytes (docker's MemBytes).
fn parse_bytes(s: &str) -> Result<i64, String> {
    crate::fmt::parse_ram(s)
}

/// `--memory-swap`: a size, or `-1` for unlimited (docker's MemSwapBytes).
fn parse_swap_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    crate::fmt::parse_ram(s)
}

/// `--blkio-weight`: a uint16 with Go's strconv message.
fn parse_u16(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseUint: parsing \"{s}\": invalid syntax"
        ));
    }
    s.parse()
        .map_err(|_| format!("strconv.ParseUint: parsing \"{s}\": value out of range"))
}

/// Go's `time.ParseDuration` to nanoseconds, with its error messages
/// (`time: invalid duration "x"`, `time: missing unit in duration "1"`,
/// `time: unknown unit "x" in duration "1x"`).
pub fn parse_go_duration_ns(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac = &r[..n];
            rest = &r[n..];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let mult: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration \"{s}\"")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            u => return Err(format!("time: unknown unit \"{u}\" in duration \"{s}\"")),
        };
        let iv: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut v = iv.checked_mul(mult).ok_or_else(invalid)?;
        if !frac.is_empty() {
            // Go keeps the digits that fit and scales them by the unit
            let digits = &frac[..frac.len().min(18)];
            let f: u128 = digits.parse().map_err(|_| invalid())?;
            v += f * mult / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(invalid());
        }
    }
    Ok(if neg {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// The names `--ulimit` accepts (go-units' ulimit name table).
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit name=soft[:hard]` as go-units' ParseUlimit: the hard limit
/// defaults to the soft one, soft must not exceed hard unless hard is -1.
pub fn parse_ulimit(s: &str) -> Result<berth_api::models::Ulimit, String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let int = |v: &str| {
        v.parse::<i64>().map_err(|_| {
            let why = if !v.is_empty()
                && v.trim_start_matches(['-', '+'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                "value out of range"
            } else {
                "invalid syntax"
            };
            format!("strconv.ParseInt: parsing \"{v}\": {why}")
        })
    };
    let parts: Vec<&str> = vals.split(':').collect();
    let (soft, hard) = match parts[..] {
        [soft] => {
            let soft = int(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            let hard = int(hard)?;
            (int(soft)?, hard)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {vals}, can only have up to two, `soft[:hard]`"
            ))
        }
    };
    if hard != -1 && soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(berth_api::models::Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--sysctl` as docker's ValidateSysctl: `key=value` with a namespaced
/// key (the IPC `kernel.*` ones, `net.*`, `fs.mqueue.*`).
fn parse_sysctl(s: &str) -> Result<String, String> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || format!("sysctl '{s}' is not allowed");
    let (k, _) = s.split_once('=').ok_or_else(not_allowed)?;
    if IPC.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.") {
        Ok(s.to_string())
    } else {
        Err(not_allowed())
    }
}

/// `--device-cgroup-rule` as docker validates it:
/// `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`.
fn parse_device_cgroup_rule(s: &str) -> Result<String, String> {
    let num = |p: &str| p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let ok = match s.split(' ').collect::<Vec<_>>()[..] {
        [kind, majmin, access] => {
            matches!(kind, "a" | "b" | "c")
                && majmin
                    .split_once(':')
                    .is_some_and(|(a, b)| num(a) && num(b))
                && (1..=3).contains(&access.len())
                && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
        }
        _ => false,
    };
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("invalid device cgroup format '{s}'"))
    }
}

/// Options of `run` and `create` (docker's names, meanings and order:
/// alphabetical by long name, as `docker run --help` lists them).
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = parse_add_host)]
    pub add_host: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list")]
    pub attach: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", allow_hyphen_values = true, value_name = "uint16", value_parser = parse_u16)]
    pub blkio_weight: Option<u16>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(
        long = "cgroup-parent",
        allow_hyphen_values = true,
        value_name = "string"
    )]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace to use (host|private): 'host' (the host's), 'private' (its own), '' (the daemon's default-cgroupns-mode, default)
    #[arg(long = "cgroupns", allow_hyphen_values = true, value_name = "string")]
    pub cgroupns: Option<String>,
    /// Write the container ID to the file
    #[arg(long = "cidfile", allow_hyphen_values = true, value_name = "string")]
    pub cidfile: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", allow_hyphen_values = true)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-cpus",
        allow_hyphen_values = true,
        value_name = "string"
    )]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-mems",
        allow_hyphen_values = true,
        value_name = "string"
    )]
    pub cpuset_mems: Option<String>,
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Add a host device to the container
    #[arg(long = "device", allow_hyphen_values = true, value_name = "list")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", allow_hyphen_values = true, value_name = "list", value_parser = parse_device_cgroup_rule)]
    pub device_cgroup_rule: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "list", value_parser = parse_dns)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list")]
    pub dns_search: Vec<String>,
    /// Container NIS domain name
    #[arg(long = "domainname", value_name = "string")]
    pub domainname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint", value_name = "string")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "list")]
    pub expose: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", allow_hyphen_values = true, value_name = "list")]
    pub group_add: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", allow_hyphen_values = true, value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration", allow_hyphen_values = true, value_parser = parse_go_duration_ns)]
    pub health_interval: Option<i64>,
    /// Consecutive failures needed to report unhealthy
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub health_retries: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration", allow_hyphen_values = true, value_parser = parse_go_duration_ns)]
    pub health_start_interval: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration", allow_hyphen_values = true, value_parser = parse_go_duration_ns)]
    pub health_start_period: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration", allow_hyphen_values = true, value_parser = parse_go_duration_ns)]
    pub health_timeout: Option<i64>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Container host name
    #[arg(short = 'h', long = "hostname", value_name = "string")]
    pub hostname: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init")]
    pub init: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long = "ip6", value_name = "string")]
    pub ip6: Option<String>,
    /// IPC mode to use
    #[arg(long = "ipc", allow_hyphen_values = true, value_name = "string")]
    pub ipc: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list", value_parser = parse_label)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", allow_hyphen_values = true, value_name = "list")]
    pub label_file: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver", allow_hyphen_values = true, value_name = "string")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt", allow_hyphen_values = true, value_name = "list")]
    pub log_opt: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address", value_name = "string")]
    pub mac_address: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes", value_parser = parse_memory)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true, value_name = "bytes", value_parser = parse_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true, value_parser = parse_swap_bytes)]
    pub memory_swap: Option<i64>,
    /// Tune container memory swappiness (0 to 100) (default -1)
    #[arg(
        long = "memory-swappiness",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub memory_swappiness: Option<i64>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount", value_parser = parse_mount)]
    pub mount: Vec<berth_api::models::MountSpec>,
    /// Assign a name to the container
    #[arg(long = "name", value_name = "string")]
    pub name: Option<String>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net", value_name = "network", value_parser = parse_network)]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "int", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// PID namespace to use
    #[arg(long = "pid", allow_hyphen_values = true, value_name = "string")]
    pub pid: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Give extended privileges to this container
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long = "pull", value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits (default "no")
    #[arg(long = "restart", value_name = "string")]
    pub restart: Option<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm")]
    pub rm: bool,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", allow_hyphen_values = true, value_name = "bytes", value_parser = parse_bytes)]
    pub shm_size: Option<i64>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", value_name = "bool", default_value = "true", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Sysctl options (default map[])
    #[arg(long = "sysctl", allow_hyphen_values = true, value_name = "map", value_parser = parse_sysctl)]
    pub sysctl: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs", value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Ulimit options (default [])
    #[arg(long = "ulimit", allow_hyphen_values = true, value_name = "ulimit", value_parser = parse_ulimit)]
    pub ulimit: Vec<berth_api::models::Ulimit>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// User namespace to use
    #[arg(long = "userns", allow_hyphen_values = true, value_name = "string")]
    pub userns: Option<String>,
    /// UTS namespace to use
    #[arg(long = "uts", allow_hyphen_values = true, value_name = "string")]
    pub uts: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", allow_hyphen_values = true, value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// IMAGE
    #[arg(value_name = "IMAGE", required = true)]
    pub image: String,
    /// COMMAND and ARGs
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `exec` options.
#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
    /// COMMAND and ARGs
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `ps` options.
#[derive(Args, Debug, Clone, Default)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long = "size")]
    pub size: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `images` options.
#[derive(Args, Debug, Clone)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Show digests
    #[arg(long = "digests")]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `version` options.
#[derive(Args, Debug, Clone)]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Commands whose only option is `--format`.
#[derive(Args, Debug, Clone)]
pub struct FormatOnly {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `attach` options.
#[derive(Args, Debug, Clone)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", value_name = "bool", default_value = "true", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// `events` options.
#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long = "since", value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long = "until", value_name = "string")]
    pub until: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `history` options.
#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long = "human", value_name = "bool", default_value = "true", num_args = 0..=1, default_missing_value = "true", require_equals = true, action = ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE
    #[arg(value_name = "IMAGE", required = true)]
    pub image: String,
}

/// `import` options.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// file|-
    #[arg(value_name = "file|URL|-", required = true)]
    pub source: String,
    /// REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `inspect` options.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long = "size")]
    pub size: bool,
    /// Return JSON for specified type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// NAME|ID
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

/// `kill` options.
#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub signal: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `load` options.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", value_name = "string")]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `logs` options.
#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long = "details")]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "since", value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(
        short = 'n',
        long = "tail",
        value_name = "string",
        default_value = "all"
    )]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "until", value_name = "string")]
    pub until: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
}

/// Commands taking only containers.
#[derive(Args, Debug, Clone)]
pub struct Containers {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `rename` arguments.
#[derive(Args, Debug, Clone)]
pub struct RenameArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
    /// NEW_NAME
    #[arg(value_name = "NEW_NAME", required = true)]
    pub new_name: String,
}

/// `stop` / `restart` options.
#[derive(Args, Debug, Clone)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub timeout: Option<i64>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `rm` options.
#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove the specified link
    #[arg(short = 'l', long = "link")]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `rmi` options.
#[derive(Args, Debug, Clone)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `save` options.
#[derive(Args, Debug, Clone)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `start` options.
#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Attach container's STDIN
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `tag` arguments.
#[derive(Args, Debug, Clone)]
pub struct TagArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// SOURCE_IMAGE[:TAG]
    #[arg(value_name = "SOURCE_IMAGE[:TAG]", required = true)]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    #[arg(value_name = "TARGET_IMAGE[:TAG]", required = true)]
    pub target: String,
}

/// `top` arguments.
#[derive(Args, Debug, Clone)]
pub struct TopArgs {
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// CONTAINER
    #[arg(value_name = "CONTAINER", required = true)]
    pub container: String,
    /// ps OPTIONS
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

/// `container prune` options.
#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `image prune` options.
#[derive(Args, Debug, Clone)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `system df` options.
#[derive(Args, Debug, Clone)]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full parse, as main does it.
    fn parse(args: &[&str]) -> Cli {
        let argv: Vec<String> = std::iter::once("berth")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        Cli::try_parse_from(end_run_options(&argv).iter()).unwrap()
    }

    /// Relative host paths are made absolute as the docker CLI makes them
    /// (what docker 28 sent to dockerd for each, seen in inspect).
    #[test]
    fn relative_bind_sources_become_absolute() {
        for (p, want) in [
            ("./dir", "/w/sub/dir"),
            (".", "/w/sub"),
            ("..", "/w"),
            ("../a", "/w/a"),
            (".hid", "/w/sub/.hid"),
            ("../.hid", "/w/.hid"),
            ("./dir/../dir/", "/w/sub/dir"),
            ("./a//b/.", "/w/sub/a/b"),
            ("../../../..", "/"),
            ("dir", "dir"),
            ("~/x", "~/x"),
            ("/abs/../p", "/abs/../p"),
        ] {
            assert_eq!(abs_source_in("/w/sub", p), want, "{p}");
        }
        let cwd = std::env::current_dir().unwrap();
        let cwd = cwd.to_str().unwrap();
        let parent = std::path::Path::new(cwd)
            .parent()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(abs_bind("./d:/x:ro"), format!("{cwd}/d:/x:ro"));
        assert_eq!(abs_bind(".:/x"), format!("{cwd}:/x"));
        assert_eq!(abs_bind("../a:/b"), format!("{parent}/a:/b"));
        for same in ["./d", ".", "/data", "v:/x", "~/x:/x", "/a:/b:ro"] {
            assert_eq!(abs_bind(same), same);
        }
        let m = parse_mount("type=bind,src=./d,dst=/x").unwrap();
        assert_eq!(m.source, format!("{cwd}/d"));
        let m = parse_mount("type=volume,source=.v,dst=/x").unwrap();
        assert_eq!(m.source, format!("{cwd}/.v"));
        let m = parse_mount("type=bind,src=d,dst=/x").unwrap();
        assert_eq!(m.source, "d");
    }

    /// The `run` fast path gives exactly the full parse's result, and
    /// declines what it must leave to the full tree.
    #[test]
    fn run_fast_path_matches_full_parse() {
        let cases: &[&[&str]] = &[
            &["run", "--rm", "--network", "none", "busybox", "true"],
            &[
                "run",
                "-it",
                "-e",
                "A=1",
                "-h",
                "box",
                "busybox",
                "sh",
                "-c",
                "echo -n hi",
            ],
            &[
                "run", "-d", "--name", "x", "-v", "/a:/b:ro", "--tmpfs", "/t", "-m", "64m",
                "debian",
            ],
            &[
                "run",
                "--init",
                "--entrypoint",
                "",
                "-u",
                "1:2",
                "-w",
                "/w",
                "img",
                "--rm",
                "-x",
            ],
            &[
                "run",
                "--sig-proxy=false",
                "--cap-add",
                "ALL",
                "--read-only",
                "-p",
                "8080:80",
                "b",
            ],
            &["run", "busybox", "--", "ls", "-l"],
            &[
                "run",
                "--ulimit",
                "nofile=1:2",
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--shm-size",
                "1g",
                "-c",
                "2",
                "--memory-swap",
                "-1",
                "--oom-score-adj",
                "-10",
                "--health-interval",
                "1m",
                "--no-healthcheck",
                "--device",
                "/dev/null",
                "--cidfile",
                "/tmp/x",
                "--group-add",
                "1",
                "busybox",
            ],
        ];
        for c in cases {
            let argv: Vec<String> = std::iter::once("berth")
                .chain(c.iter().copied())
                .map(String::from)
                .collect();
            let fast = parse_run_fast(&argv).unwrap_or_else(|| panic!("declined {c:?}"));
            assert_eq!(format!("{fast:?}"), format!("{:?}", parse(c)), "{c:?}");
        }
        for c in [
            &["run", "--help"][..],
            &["run"][..],
            &["run", "--no-such-flag", "busybox"][..],
            &["run", "--ulimit", "nofile", "busybox"][..],
            &["run", "--health-interval", "1", "busybox"][..],
            &["run", "--blkio-weight", "70000", "busybox"][..],
            &["-H", "unix:///x", "run", "busybox"][..],
            &["ps"][..],
        ] {
            let argv: Vec<String> = std::iter::once("berth")
                .chain(c.iter().copied())
                .map(String::from)
                .collect();
            assert!(parse_run_fast(&argv).is_none(), "{c:?}");
        }
    }

    /// Options end at the image, as docker's: what follows is the
    /// command's, known flags included; `--` after the image is the
    /// command's first word (docker passes it on).
    #[test]
    fn options_end_at_the_image() {
        for (args, image, command) in [
            (
                &["run", "--entrypoint", "sh", "busybox", "-c", "echo"][..],
                "busybox",
                &["-c", "echo"][..],
            ),
            (
                &["run", "img", "--rm", "-d", "-it"][..],
                "img",
                &["--rm", "-d", "-it"][..],
            ),
            (
                &["run", "-c", "2", "-it", "-e", "A", "img", "-h"][..],
                "img",
                &["-h"][..],
            ),
            (
                &["run", "-c2", "--name=x", "--sig-proxy=false", "img", "x"][..],
                "img",
                &["x"][..],
            ),
            (&["run", "--sig-proxy", "img", "-e"][..], "img", &["-e"][..]),
            (
                &["run", "--net", "none", "img", "--", "x"][..],
                "img",
                &["--", "x"][..],
            ),
            (
                &["-H", "unix:///x", "create", "-l", "a", "img", "-l"][..],
                "img",
                &["-l"][..],
            ),
            (
                &["container", "create", "--ulimit", "core=1", "img", "-l"][..],
                "img",
                &["-l"][..],
            ),
            (
                &["container", "run", "img", "--init"][..],
                "img",
                &["--init"][..],
            ),
        ] {
            let r = match parse(args).cmd {
                Some(Cmd::Run(r) | Cmd::Create(r)) => r,
                Some(Cmd::Container(ContainerCmd::Run(r) | ContainerCmd::Create(r))) => r,
                c => panic!("{args:?}: {c:?}"),
            };
            let got: Vec<&str> = r.command.iter().map(String::as_str).collect();
            assert_eq!((r.image.as_str(), &got[..]), (image, command), "{args:?}");
            let argv: Vec<String> = std::iter::once("berth")
                .chain(args.iter().copied())
                .map(String::from)
                .collect();
            if let Some(fast) = parse_run_fast(&argv) {
                assert_eq!(
                    format!("{fast:?}"),
                    format!("{:?}", parse(args)),
                    "{args:?}"
                );
            }
        }
        // other commands are left alone
        let argv: Vec<String> = ["berth", "exec", "c", "-it"].map(String::from).to_vec();
        assert_eq!(end_run_options(&argv).len(), 4);
    }

    #[test]
    fn run_flags_stop_at_image() {
        let c = parse(&[
            "-H",
            "unix:///x",
            "run",
            "--rm",
            "-it",
            "-e",
            "A=1",
            "-h",
            "box",
            "busybox",
            "sh",
            "-c",
            "echo -n hi",
        ]);
        assert_eq!(c.host.as_deref(), Some("unix:///x"));
        let Some(Cmd::Run(r)) = c.cmd else { panic!() };
        assert!(r.rm && r.interactive && r.tty);
        assert_eq!(r.env, vec!["A=1"]);
        assert_eq!(r.hostname.as_deref(), Some("box"));
        assert_eq!(r.image, "busybox");
        assert_eq!(r.command, vec!["sh", "-c", "echo -n hi"]);
        assert!(r.sig_proxy);
    }

    #[test]
    fn run_sig_proxy_false_and_limits() {
        let Some(Cmd::Run(r)) = parse(&[
            "run",
            "--sig-proxy=false",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "busybox",
        ])
        .cmd
        else {
            panic!()
        };
        assert!(!r.sig_proxy);
        assert_eq!(r.memory.as_deref(), Some("64m"));
        assert_eq!(r.cpus, Some(1.5));
        assert_eq!(r.pids_limit, Some(-1));
        assert!(r.command.is_empty());
    }

    #[test]
    fn management_aliases_parse_like_top_level() {
        for argv in [
            &["container", "ls", "-a"][..],
            &["container", "ps", "-a"],
            &["container", "list", "-a"],
        ] {
            let Some(Cmd::Container(ContainerCmd::Ls(p))) = parse(argv).cmd else {
                panic!("{argv:?}")
            };
            assert!(p.all);
        }
        assert!(matches!(
            parse(&["image", "ls"]).cmd,
            Some(Cmd::Image(ImageCmd::Ls(_)))
        ));
        assert!(
            matches!(parse(&["container", "rm", "-f", "x"]).cmd, Some(Cmd::Container(ContainerCmd::Rm(r))) if r.force)
        );
        assert!(matches!(
            parse(&["image", "rm", "x"]).cmd,
            Some(Cmd::Image(ImageCmd::Rm(_)))
        ));
    }

    #[test]
    fn ps_format_and_filters() {
        let Some(Cmd::Ps(p)) = parse(&[
            "ps",
            "-aq",
            "--no-trunc",
            "-f",
            "status=exited",
            "--format",
            "{{.ID}}",
        ])
        .cmd
        else {
            panic!()
        };
        assert!(p.all && p.quiet && p.no_trunc);
        assert_eq!(p.filter, vec!["status=exited"]);
        assert_eq!(p.format.as_deref(), Some("{{.ID}}"));
        assert_eq!(p.last, -1);
    }

    #[test]
    fn exec_and_logs() {
        let Some(Cmd::Exec(e)) =
            parse(&["exec", "-it", "-u", "0", "-w", "/tmp", "c1", "ls", "-l"]).cmd
        else {
            panic!()
        };
        assert_eq!(
            (e.container.as_str(), e.command.clone()),
            ("c1", vec!["ls".to_string(), "-l".to_string()])
        );
        let Some(Cmd::Logs(l)) = parse(&["logs", "-f", "--tail", "2", "-t", "c1"]).cmd else {
            panic!()
        };
        assert!(l.follow && l.timestamps);
        assert_eq!(l.tail, "2");
    }

    /// Go's `time.ParseDuration`, in nanoseconds, with its errors.
    #[test]
    fn go_durations_in_ns() {
        for (s, ns) in [
            ("0", 0),
            ("1s", 1_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5s", 1_500_000_000),
            (".5ms", 500_000),
            ("100ms", 100_000_000),
            ("2h", 7_200_000_000_000),
            ("10us", 10_000),
            ("3µs", 3_000),
            ("7ns", 7),
            ("-1s", -1_000_000_000),
            ("+2s", 2_000_000_000),
            ("1h2m3s4ms", 3_723_004_000_000),
        ] {
            assert_eq!(parse_go_duration_ns(s), Ok(ns), "{s}");
        }
        for (s, e) in [
            ("x", "time: invalid duration \"x\""),
            ("", "time: invalid duration \"\""),
            ("1", "time: missing unit in duration \"1\""),
            ("1x", "time: unknown unit \"x\" in duration \"1x\""),
            ("s", "time: invalid duration \"s\""),
            ("-", "time: invalid duration \"-\""),
            ("9999999999h", "time: invalid duration \"9999999999h\""),
        ] {
            assert_eq!(parse_go_duration_ns(s), Err(e.to_string()), "{s}");
        }
    }

    /// `--ulimit` as go-units parses it, with its errors.
    #[test]
    fn ulimits() {
        let u = |n: &str, soft, hard| berth_api::models::Ulimit {
            name: n.into(),
            soft,
            hard,
        };
        assert_eq!(parse_ulimit("nofile=10:20"), Ok(u("nofile", 10, 20)));
        assert_eq!(parse_ulimit("core=5"), Ok(u("core", 5, 5)));
        assert_eq!(parse_ulimit("stack=9:-1"), Ok(u("stack", 9, -1)));
        assert_eq!(parse_ulimit("cpu=-1"), Ok(u("cpu", -1, -1)));
        for (s, e) in [
            ("nofile", "invalid ulimit argument: nofile"),
            ("bad=1", "invalid ulimit type: bad"),
            (
                "nofile=x",
                "strconv.ParseInt: parsing \"x\": invalid syntax",
            ),
            (
                "nofile=99999999999999999999",
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
            ),
            (
                "nofile=1:2:3",
                "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`",
            ),
            (
                "nofile=5:2",
                "ulimit soft limit must be less than or equal to hard limit: 5 > 2",
            ),
        ] {
            assert_eq!(parse_ulimit(s), Err(e.to_string()), "{s}");
        }
        assert!(parse_sysctl("net.core.somaxconn=1").is_ok());
        assert!(parse_sysctl("kernel.sem=1 2 3 4").is_ok());
        assert!(parse_sysctl("kernel.pid_max=1").is_err());
        assert!(parse_device_cgroup_rule("c *:* rwm").is_ok());
        assert!(parse_device_cgroup_rule("b 8:0 r").is_ok());
        assert!(parse_device_cgroup_rule("c 1:3 rwmm").is_err());
        assert!(parse_device_cgroup_rule("d 1:3 r").is_err());
        assert_eq!(parse_u16("1000"), Ok(1000));
        assert!(parse_u16("-1").is_err());
    }

    #[test]
    fn unknown_flag_is_an_error() {
        let e = Cli::try_parse_from(["berth", "ps", "--bogus"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
