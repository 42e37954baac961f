//! `elect cluster`: N `elect node` processes on loopback, a live view of who
//! leads whom, and optionally a leader killer to watch re-elections.

use super::args::{loopback_peers, seconds, shutdown_signal, LogFormat, RaftArgs, TimingArgs};
use super::Failure;
use crate::fleet::{Fleet, FleetEvent, FleetOptions};
use crate::protocols::ProtocolKind;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// The flags of `elect cluster`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Protocol the nodes run.
    #[arg(long, value_enum)]
    pub protocol: ProtocolKind,
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Node i listens on 127.0.0.1:(PORT + i).
    #[arg(long, default_value_t = 7000, value_name = "PORT")]
    pub base_port: u16,
    /// Every SECS seconds, SIGKILL the current leader, and restart it after
    /// --restart-after.
    #[arg(long, value_name = "SECS")]
    pub kill_leader_every: Option<f64>,
    /// Pause between killing a leader and restarting it.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub restart_after: f64,
    /// Stop the cluster after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Directory for the nodes' storage (default: a fresh temporary one).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub timing: TimingArgs,
    #[command(flatten)]
    pub raft: RaftArgs,
    /// Print the view as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `elect cluster` until Ctrl-C (or `--duration`); false when the
/// history shows a safety violation.
pub fn cluster(args: ClusterArgs) -> Result<bool, Failure> {
    let kill_every = args
        .kill_leader_every
        .map(|s| seconds("--kill-leader-every", s))
        .transpose()?;
    let duration = args
        .duration
        .map(|s| seconds("--duration", s))
        .transpose()?;
    let restart_after = seconds("--restart-after", args.restart_after)?;
    let peers = loopback_peers(args.nodes, args.base_port)?;
    let timeouts = args.timing.given()?;
    let options = FleetOptions {
        data_dir: args.data_dir.clone(),
        timeouts: timeouts.clone(),
        raft: args.raft.for_fleet(args.protocol, timeouts.as_ref())?,
        ..FleetOptions::new(args.protocol, peers)
    };
    let fleet = Fleet::new(options)?;
    super::init_logging(LogFormat::Text);
    let runtime = super::runtime()?;
    let timing = Timing {
        kill_every,
        duration,
        restart_after,
    };
    runtime.block_on(run(args, timing, fleet))
}

/// The command's periods, checked.
struct Timing {
    kill_every: Option<Duration>,
    duration: Option<Duration>,
    restart_after: Duration,
}

async fn run(args: ClusterArgs, timing: Timing, mut fleet: Fleet) -> Result<bool, Failure> {
    for i in 0..fleet.size() {
        fleet.spawn(i)?;
    }
    let started = Instant::now();
    let out = Printer {
        json: args.json,
        started,
    };
    out.note(&format!(
        "{} cluster of {} on {} (data in {}); Ctrl-C stops it",
        args.protocol,
        args.nodes,
        fleet.peers_csv(),
        fleet.data_dir().display()
    ));

    let kill_every = timing.kill_every;
    let mut next_kill = kill_every.map(|d| Instant::now() + d);
    let mut pending_restart: Option<(usize, Instant)> = None;
    let mut killed_at: Option<(usize, Instant)> = None;
    let stop_at = timing.duration.map(|d| Instant::now() + d);
    let mut last_picture = String::new();
    // Changes arrive in bursts (one election touches every node): show the
    // picture once a burst has settled.
    let mut dirty_since: Option<Instant> = None;
    let settle = Duration::from_millis(30);
    let stop = shutdown_signal();
    tokio::pin!(stop);

    let outcome = loop {
        let wake = [
            next_kill,
            pending_restart.map(|(_, t)| t),
            stop_at,
            dirty_since.map(|t| t + settle),
        ]
        .into_iter()
        .flatten()
        .min();
        let event = tokio::select! {
            _ = &mut stop => break Ok(true),
            event = fleet.next(wake) => event,
        };
        let now = Instant::now();
        if let Some(FleetEvent::Exited {
            node,
            status,
            reason,
        }) = event
        {
            if status == Some(2) {
                // A node refused to start: bad settings, port in use.
                break Err(Failure::Usage(format!(
                    "node n{node} could not start: {reason}"
                )));
            }
            out.note(&format!(
                "n{node} exited ({}) {reason}",
                status.map_or("signal".into(), |c| format!("status {c}"))
            ));
        }
        if stop_at.is_some_and(|t| now >= t) {
            break Ok(true);
        }
        if let Some((i, at)) = pending_restart {
            if now >= at {
                pending_restart = None;
                fleet.spawn(i)?;
                out.note(&format!("restarted n{i}"));
            }
        }
        if next_kill.is_some_and(|t| now >= t) {
            next_kill = kill_every.map(|d| now + d);
            if pending_restart.is_none() {
                if let Some(leader) = fleet.acting_leader() {
                    fleet.kill(leader);
                    killed_at = Some((leader, now));
                    pending_restart = Some((leader, now + timing.restart_after));
                    out.note(&format!("SIGKILL n{leader} (the leader)"));
                }
            }
        }
        if fleet.describe() != last_picture && dirty_since.is_none() {
            dirty_since = Some(now);
        }
        if dirty_since.is_none_or(|t| t.elapsed() < settle) {
            continue;
        }
        dirty_since = None;
        let picture = fleet.describe();
        if picture != last_picture {
            let agreed = fleet.agreed_leader();
            out.view(&picture, agreed);
            last_picture = picture;
            if let (Some((dead, at)), Some(leader)) = (killed_at, agreed) {
                if leader != dead || fleet.is_running(dead) {
                    out.note(&format!(
                        "failover: all live nodes follow n{leader} {} ms after n{dead} was killed",
                        at.elapsed().as_millis()
                    ));
                    killed_at = None;
                }
            }
        }
    };
    let verdict = fleet.verdict();
    fleet.shutdown().await;
    out.note("cluster stopped");
    if args.json {
        println!(
            "{}",
            serde_json::json!({"t": out.elapsed(), "history": verdict})
        );
    } else {
        println!("history checker:");
        for line in verdict.to_string().lines() {
            println!("  {line}");
        }
    }
    // A safety violation in the history fails the run, as in `elect chaos`.
    outcome.map(|ok| ok && verdict.is_safe())
}

struct Printer {
    json: bool,
    started: Instant,
}

impl Printer {
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn view(&self, picture: &str, agreed: Option<usize>) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"t": self.elapsed(), "view": picture, "agreed_leader": agreed})
            );
        } else {
            let verdict = agreed.map_or("no agreed leader".to_string(), |l| format!("leader n{l}"));
            println!("[{:>8.3}s] {picture}   | {verdict}", self.elapsed());
        }
    }

    fn note(&self, text: &str) {
        if self.json {
            println!("{}", serde_json::json!({"t": self.elapsed(), "note": text}));
        } else {
            println!("[{:>8.3}s] -- {text}", self.elapsed());
        }
    }
}
