//! The `elect` command line.

mod args;
mod chaos;
mod check;
mod cluster;
mod explore;
mod fault;
mod model_args;
mod node;
mod sim;
mod status;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  elect check raft                         check Raft with its default fault model
  elect check bully --timing asynchronous  show Bully's split brain when timers race messages
  elect check ring --lossy --json          the same check, as JSON
  elect explore raft --addr 127.0.0.1:3000 browse Raft's states in Stateright Explorer";

/// Leader election you can trust: Bully, Ring and Raft, model-checked with
/// Stateright and run over UDP.
#[derive(Parser, Debug)]
#[command(name = "elect", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Model-check a protocol: safety, sanity examples and liveness, decided on the complete graph.
    #[command(after_help = check::help())]
    Check(check::CheckArgs),
    /// Check every scenario in models/ and write the verification report.
    #[command(after_help = VERIFY_HELP)]
    Verify(verify::VerifyArgs),
    /// Serve Stateright Explorer, a web UI to browse a protocol's states.
    Explore(explore::ExploreArgs),
    /// Run one node over UDP until SIGINT or SIGTERM.
    #[command(after_help = NODE_HELP)]
    Node(node::NodeArgs),
    /// Ask running nodes for their view of leadership and their counters.
    Status(status::StatusArgs),
    /// Change the faults running nodes inject: partition, heal, loss, delay.
    #[command(after_help = FAULT_HELP)]
    Fault(fault::FaultArgs),
    /// Deterministic simulation: seeded runs of a whole cluster on virtual
    /// time with loss, duplication, delay, crashes and partitions.
    #[command(after_help = SIM_HELP)]
    Sim(sim::SimArgs),
    /// Chaos on real processes: injected faults plus a nemesis that kills,
    /// freezes, partitions; then the history checker's verdict.
    #[command(after_help = CHAOS_HELP)]
    Chaos(chaos::ChaosArgs),
    /// Run N nodes on loopback and watch who leads whom.
    #[command(after_help = CLUSTER_HELP)]
    Cluster(cluster::ClusterArgs),
}

const NODE_HELP: &str = "\
Leadership changes go to stdout (JSON lines with --log-format json); logs go to
stderr (RUST_LOG=debug for every dropped datagram).

Examples:
  elect node --protocol raft --id 0 --peers 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --data-dir /var/lib/elect/0
  elect node --config node0.toml

A config file takes the same settings:
  protocol = \"raft\"
  id = 0
  peers = [\"127.0.0.1:7000\", \"127.0.0.1:7001\", \"127.0.0.1:7002\"]
  data_dir = \"/var/lib/elect/0\"
  heartbeat_ms = 50
  election_timeout_ms = \"500..1000\"";

const VERIFY_HELP: &str = "\
Writes verification/report.md and report.json. Exit status 0 when every
property of every scenario meets its expectation (and every seeded bug is
caught), 1 otherwise.

Examples:
  elect verify
  elect verify --only raft --symmetry
  elect verify --mutants --symmetry        # the seeded bugs too, and the symmetry reduction
  elect verify --only none --topologies    # every topology of 3 nodes for every protocol";

const FAULT_HELP: &str = "\
Fault commands are accepted only from loopback, or, when the nodes have a
cluster key, only with it (--key-file). Options go before the addresses.

Examples:
  elect fault 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 partition 0/1,2
  elect fault 127.0.0.1:7000 partition 0>1,2       # 0 cannot reach 1 and 2; they can reach 0
  elect fault 127.0.0.1:7000 heal
  elect fault 127.0.0.1:7000 set drop=0.2,dup=0.05,delay=0..30ms
  elect fault --key-file /etc/elect/key 10.0.0.5:7000 heal";

const SIM_HELP: &str = "\
Each run starts the real node event loop for every member in one process, on
virtual time, with a simulated network and a nemesis that crashes and
restarts nodes (their storage kept) and splits and heals the network; the
history checker then checks the leadership events. Beside each node a
leader-only writer writes to one fenced register (--write-every-ms): with
a valid lease when the lease is on, else while the node believes it leads;
the summary counts writes accepted, refused (fencing) and accepted from a
deposed leader. A seed replays exactly. Exit status 1 if any run violates
safety (Raft: two leaders in one term; with the lease: two valid leases at
once, a token out of order, or a write accepted from a deposed leader).

Examples:
  elect sim --protocol raft --runs 10000
  elect sim --protocol raft --runs 10000 --check-quorum --lease-ms 300
  elect sim --protocol raft --runs 1 --seed 42 --show
  elect sim --protocol bully --runs 1000 --drop 0 --no-crashes";

const CHAOS_HELP: &str = "\
Every node runs a leader-only writer (elect node --write-to) against a
fenced register that chaos serves on a loopback UDP port; each write is
stamped when the register reads it, and the verdict counts writes accepted,
refused (fencing) and accepted from a deposed leader. Exit status 1 if the
history shows a safety violation (Raft: two leaders in one term; with the
lease: two valid leases at once, a token out of order, or a write accepted
from a deposed leader). Split brain of Bully and Ring under partitions is
measured and reported, not a failure: the seed's algorithms do not prevent
it.

Examples:
  elect chaos --protocol raft --nodes 5 --duration 10m
  elect chaos --protocol raft --duration 30m --check-quorum --lease-ms 300
  elect chaos --protocol bully --duration 2m --faults drop=0.1 --seed 7";

const CLUSTER_HELP: &str = "\
When stopped (Ctrl-C) it prints the history checker's verdict on everything
it saw; exit status 1 if that shows a safety violation (Raft: two leaders in
one term).

Examples:
  elect cluster --protocol raft --nodes 5
  elect cluster --protocol bully --nodes 5 --kill-leader-every 5";

/// Why a command did not succeed, and the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad arguments: one line naming the problem, exit status 2.
    #[error("{0}")]
    Usage(String),
    /// A bad argument, typed: exit status 2.
    #[error(transparent)]
    Arg(#[from] args::ArgError),
    /// Something went wrong while running: exit status 1.
    #[error("{0}")]
    Internal(String),
}

impl Failure {
    /// 2 for bad arguments, 1 otherwise.
    fn status(&self) -> u8 {
        match self {
            Failure::Usage(_) | Failure::Arg(_) => 2,
            Failure::Internal(_) => 1,
        }
    }
}

impl From<crate::fleet::FleetError> for Failure {
    fn from(e: crate::fleet::FleetError) -> Failure {
        use crate::fleet::FleetError;
        match e {
            // A key file the user named is unusable: their argument.
            FleetError::Key(_) => Failure::Usage(e.to_string()),
            FleetError::Exe(_) | FleetError::Spawn { .. } => Failure::Internal(e.to_string()),
        }
    }
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let outcome = match cli.command {
        Command::Check(args) => check::check(args),
        Command::Verify(args) => verify::verify(args),
        Command::Explore(args) => explore::explore(args),
        Command::Node(args) => node::node(args),
        Command::Status(args) => status::status(args),
        Command::Fault(args) => fault::fault(args),
        Command::Cluster(args) => cluster::cluster(args),
        Command::Sim(args) => sim::sim(args),
        Command::Chaos(args) => chaos::chaos(args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(failure) => {
            eprintln!("elect: {failure}");
            ExitCode::from(failure.status())
        }
    }
}

/// A tokio runtime for one command: a node needs only one thread.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the async runtime: {e}")))
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings only, since
/// leadership events already go to stdout).
fn init_logging(format: args::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        args::LogFormat::Json => builder.json().try_init(),
        args::LogFormat::Text => builder.try_init(),
    };
}

/// Help and version go to stdout with status 0; anything else is one line on
/// stderr naming the bad flag or value, with status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("elect: {first} (see 'elect --help')");
            ExitCode::from(2)
        }
    }
}
