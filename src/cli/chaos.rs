//! `elect chaos`: real node processes with injected faults and a nemesis
//! that SIGKILLs and restarts nodes, SIGSTOPs and resumes them, and
//! partitions and heals the network; then the history checker's verdict.

use super::fleet::{Fleet, FleetEvent, FleetOptions};
use super::node::LogFormat;
use super::Failure;
use crate::protocols::ProtocolKind;
use crate::runtime::faults::{FaultCommand, Partition};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

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
    #[arg(long, value_name = "MS")]
    pub heartbeat_ms: Option<u64>,
    #[arg(long, value_name = "LO..HI")]
    pub election_timeout_ms: Option<String>,
    /// Shared cluster key for the nodes (and for the nemesis' admin requests).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn chaos(args: ChaosArgs) -> Result<bool, Failure> {
    let duration = humantime::parse_duration(&args.duration)
        .map_err(|e| Failure::Usage(format!("--duration '{}': {e}", args.duration)))?;
    if !(args.every.is_finite() && args.every > 0.0) {
        return Err(Failure::Usage(
            "--every must be a positive number of seconds".into(),
        ));
    }
    let fleet = Fleet::new(FleetOptions {
        protocol: args.protocol,
        nodes: args.nodes,
        base_port: args.base_port,
        data_dir: None,
        heartbeat_ms: args.heartbeat_ms,
        election_timeout_ms: args.election_timeout_ms.clone(),
        reply_ms: None,
        faults: Some(args.faults.clone()),
        key_file: args.key_file.clone(),
    })?;
    super::init_logging(LogFormat::Text);
    let runtime = super::runtime()?;
    runtime.block_on(run(args, fleet, duration))
}

async fn run(args: ChaosArgs, mut fleet: Fleet, duration: Duration) -> Result<bool, Failure> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..fleet.size() {
        fleet.spawn(i)?;
    }
    let started = Instant::now();
    let end = started + duration;
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
    let mut actions = 0u64;
    // Nodes to bring back: (node, when, frozen rather than killed).
    let mut pending: Vec<(usize, Instant, bool)> = Vec::new();
    let mut heal_at: Option<Instant> = None;
    let mut next_action = started + pause(&mut rng, args.every);
    let stop = super::node::shutdown_signal_public();
    tokio::pin!(stop);
    loop {
        let wake = [Some(next_action), Some(end), heal_at]
            .into_iter()
            .chain(pending.iter().map(|p| Some(p.1)))
            .flatten()
            .min();
        let event = tokio::select! {
            _ = &mut stop => break,
            event = fleet.next(wake) => event,
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
        let due: Vec<(usize, Instant, bool)> =
            pending.iter().copied().filter(|p| p.1 <= now).collect();
        pending.retain(|p| p.1 > now);
        for (node, _, frozen) in due {
            if frozen {
                fleet.thaw(node);
                log(&format!("SIGCONT n{node}"));
            } else {
                fleet.spawn(node)?;
                log(&format!("restart n{node}"));
            }
        }
        if heal_at.is_some_and(|t| t <= now) {
            heal_at = None;
            let done = fleet.fault(FaultCommand::Heal).await;
            log(&format!("heal ({done} nodes)"));
        }
        if now < next_action {
            continue;
        }
        next_action = now + pause(&mut rng, args.every);
        actions += 1;
        let n = fleet.size();
        let out = (0..n).filter(|&i| !fleet.is_live(i)).count();
        // Keep a majority up, so that the protocols can make progress.
        let may_take_one = out < (n - 1) / 2;
        let target = if rng.random_bool(0.5) {
            fleet.acting_leader()
        } else {
            Some(rng.random_range(0..n))
        }
        .filter(|&i| fleet.is_live(i));
        match rng.random_range(0..3) {
            0 if may_take_one => {
                if let Some(i) = target {
                    fleet.kill(i);
                    pending.push((
                        i,
                        now + Duration::from_millis(rng.random_range(300..3000)),
                        false,
                    ));
                    log(&format!("SIGKILL n{i}"));
                }
            }
            1 if may_take_one => {
                if let Some(i) = target {
                    fleet.freeze(i);
                    pending.push((
                        i,
                        now + Duration::from_millis(rng.random_range(300..3000)),
                        true,
                    ));
                    log(&format!("SIGSTOP n{i}"));
                }
            }
            _ if heal_at.is_none() && n > 1 => {
                let mut side: BTreeSet<usize> = (0..n).filter(|_| rng.random_bool(0.5)).collect();
                if side.is_empty() || side.len() == n {
                    side = BTreeSet::from([rng.random_range(0..n)]);
                }
                let rest: BTreeSet<usize> = (0..n).filter(|i| !side.contains(i)).collect();
                let partition = Partition {
                    from: side,
                    to: rest,
                    both_ways: rng.random_bool(0.8),
                };
                let done = fleet.partition(partition.clone()).await;
                heal_at = Some(now + Duration::from_millis(rng.random_range(500..5000)));
                log(&format!("partition {partition} ({done} nodes)"));
            }
            _ => {}
        }
    }
    let verdict = fleet.verdict();
    let seconds = started.elapsed().as_secs_f64();
    fleet.shutdown().await;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "protocol": args.protocol.name(),
                "nodes": args.nodes,
                "seconds": seconds,
                "nemesis_seed": seed,
                "nemesis_actions": actions,
                "faults": args.faults,
                "verdict": verdict,
            })
        );
    } else {
        println!(
            "chaos run: {} × {}, {:.0} s, {actions} nemesis actions (seed {seed}), faults {}",
            args.nodes, args.protocol, seconds, args.faults
        );
        for line in verdict.to_string().lines() {
            println!("  {line}");
        }
    }
    Ok(verdict.is_safe())
}

fn pause(rng: &mut StdRng, mean_secs: f64) -> Duration {
    Duration::from_secs_f64(rng.random_range(0.5 * mean_secs..1.5 * mean_secs))
}
