//! `elect chaos`: real node processes with injected faults and the seeded
//! nemesis (`crate::nemesis`), which SIGKILLs and restarts nodes, SIGSTOPs and
//! resumes them, and partitions and heals the network; then the history
//! checker's verdict.

use super::args::{
    faults, loopback_peers, seconds, shutdown_signal, LogFormat, RaftArgs, TimingArgs, WriterArgs,
    LONGEST,
};
use super::Failure;
use crate::fencing::{self, Arrival};
use crate::fleet::{Fleet, FleetEvent, FleetOptions};
use crate::history::{HistoryEvent, Occurrence};
use crate::nemesis::{Action, Nemesis, NemesisConfig};
use crate::protocols::ProtocolKind;
use crate::runtime::faults::FaultCommand;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// The flags of `elect chaos`.
#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Protocol the nodes run.
    #[arg(long, value_enum)]
    pub protocol: ProtocolKind,
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// How long to run, e.g. 90s, 10m.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub duration: String,
    /// Faults every node injects into what it sends.
    #[arg(
        long,
        default_value = "drop=0.05,dup=0.02,delay=0..20ms",
        value_name = "SPEC"
    )]
    pub faults: String,
    /// Mean seconds between nemesis actions.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub every: f64,
    /// Seed of the nemesis (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Node i listens on 127.0.0.1:(PORT + i).
    #[arg(long, default_value_t = 7300, value_name = "PORT")]
    pub base_port: u16,
    #[command(flatten)]
    pub timing: TimingArgs,
    #[command(flatten)]
    pub raft: RaftArgs,
    #[command(flatten)]
    pub writers: WriterArgs,
    /// Shared cluster key for the nodes (and for the nemesis' admin requests).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `elect chaos`; false when the history shows a safety violation.
pub fn chaos(args: ChaosArgs) -> Result<bool, Failure> {
    let duration = humantime::parse_duration(&args.duration)
        .map_err(|e| Failure::Usage(format!("--duration '{}': {e}", args.duration)))?;
    if duration > LONGEST {
        return Err(Failure::Usage(format!(
            "--duration '{}': more than a century",
            args.duration
        )));
    }
    // The longest pause, 1.5 × --every, must be a duration too.
    seconds("--every", 1.5 * args.every)?;
    let every = seconds("--every", args.every)?;
    let peers = loopback_peers(args.nodes, args.base_port)?;
    let timeouts = args.timing.given()?;
    // The fenced register the leaders write to listens beside the nodes.
    let register = match args.writers.every() {
        Some(every) => {
            let socket = std::net::UdpSocket::bind(("127.0.0.1", 0))
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| {
                    Failure::Internal(format!("cannot bind the register's socket: {e}"))
                })?;
            Some((socket, every))
        }
        None => None,
    };
    let mut extra_args = Vec::new();
    if let Some((socket, every)) = &register {
        let addr = socket
            .local_addr()
            .map_err(|e| Failure::Internal(format!("the register's socket: {e}")))?;
        extra_args.extend([
            "--write-to".to_string(),
            addr.to_string(),
            "--write-every-ms".into(),
            every.as_millis().to_string(),
        ]);
    }
    let options = FleetOptions {
        timeouts: timeouts.clone(),
        raft: args.raft.for_fleet(args.protocol, timeouts.as_ref())?,
        faults: Some(faults(&args.faults)?),
        key_file: args.key_file.clone(),
        extra_args,
        ..FleetOptions::new(args.protocol, peers)
    };
    let fleet = Fleet::new(options)?;
    super::init_logging(LogFormat::Text);
    let runtime = super::runtime()?;
    runtime.block_on(run(args, fleet, register.map(|(s, _)| s), duration, every))
}

async fn run(
    args: ChaosArgs,
    mut fleet: Fleet,
    register: Option<std::net::UdpSocket>,
    duration: Duration,
    every: Duration,
) -> Result<bool, Failure> {
    let (arrivals_tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    if let Some(socket) = register {
        let socket = tokio::net::UdpSocket::from_std(socket)
            .map_err(|e| Failure::Internal(format!("the register's socket: {e}")))?;
        tokio::spawn(fencing::serve_register(socket, move |arrival| {
            arrivals_tx.send(arrival).is_ok()
        }));
    }
    let mut malformed = 0u64;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    for i in 0..fleet.size() {
        fleet.spawn(i)?;
    }
    let started = Instant::now();
    let end = started + duration;
    let mut nemesis = Nemesis::new(NemesisConfig::chaos(every), fleet.size(), seed, started);
    let log = |what: &str| {
        if !args.json {
            eprintln!("[{:>8.3}s] {what}", started.elapsed().as_secs_f64());
        }
    };
    log(&format!(
        "chaos: {} × {} on {}, faults {}, nemesis seed {seed}, for {:?}",
        args.nodes,
        args.protocol,
        fleet.peers_csv(),
        args.faults,
        duration
    ));
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            _ = &mut stop => break,
            Some(arrival) = arrivals.recv() => {
                match arrival {
                    // The write is stamped as it is read: on this machine's
                    // wall clock, the clock of the nodes' events.
                    Arrival::Write { write, accepted } if write.node < fleet.size() => {
                        fleet.record(HistoryEvent {
                            at_ms: crate::runtime::Clock::Wall.now_ms(),
                            node: write.node,
                            what: Occurrence::Wrote { token: write.token, accepted },
                        });
                    }
                    _ => malformed += 1,
                }
                continue;
            }
            event = fleet.next(Some(nemesis.wake().min(end))) => event,
        };
        if let Some(FleetEvent::Exited {
            node,
            status: Some(2),
            reason,
        }) = event
        {
            fleet.shutdown().await;
            return Err(Failure::Usage(format!(
                "node n{node} could not start: {reason}"
            )));
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        for action in nemesis.recoveries(now) {
            carry_out(&mut fleet, action, &log).await?;
        }
        let up: Vec<bool> = (0..fleet.size()).map(|i| fleet.is_live(i)).collect();
        if let Some(action) = nemesis.fault(now, &up, fleet.acting_leader()) {
            carry_out(&mut fleet, action, &log).await?;
        }
    }
    let actions = nemesis.actions();
    let verdict = fleet.verdict();
    let elapsed = started.elapsed().as_secs_f64();
    fleet.shutdown().await;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "protocol": args.protocol.name(),
                "nodes": args.nodes,
                "seconds": elapsed,
                "nemesis_seed": seed,
                "nemesis_actions": actions,
                "faults": args.faults,
                "malformed_writes": malformed,
                "verdict": verdict,
            })
        );
    } else {
        println!(
            "chaos run: {} × {}, {:.0} s, {actions} nemesis actions (seed {seed}), faults {}",
            args.nodes, args.protocol, elapsed, args.faults
        );
        for line in verdict.to_string().lines() {
            println!("  {line}");
        }
        if malformed > 0 {
            println!("  datagrams to the register that were not writes {malformed} (dropped)");
        }
    }
    Ok(verdict.is_safe())
}

/// Carries out one decision of the nemesis on the fleet, and logs it.
async fn carry_out(fleet: &mut Fleet, action: Action, log: &impl Fn(&str)) -> Result<(), Failure> {
    match action {
        Action::Crash(i) => {
            fleet.kill(i);
            log(&format!("SIGKILL n{i}"));
        }
        Action::Freeze(i) => {
            fleet.freeze(i);
            log(&format!("SIGSTOP n{i}"));
        }
        Action::Restart(i) => {
            fleet.spawn(i)?;
            log(&format!("restart n{i}"));
        }
        Action::Thaw(i) => {
            fleet.thaw(i);
            log(&format!("SIGCONT n{i}"));
        }
        Action::Partition(partition) => {
            let done = fleet.partition(partition.clone()).await;
            log(&format!("partition {partition} ({done} nodes)"));
        }
        Action::Heal => {
            let done = fleet.fault(FaultCommand::Heal).await;
            log(&format!("heal ({done} nodes)"));
        }
    }
    Ok(())
}
