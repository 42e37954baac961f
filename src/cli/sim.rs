//! `elect sim`: many seeded runs of the deterministic simulation, each
//! checked by the history checker.

use super::args::{delay_ms, ArgError, RaftArgs, WriterArgs};
use super::Failure;
use crate::protocols::ProtocolKind;
use crate::sim::{self, SimConfig, SimRun};
use clap::Args;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The flags of `elect sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Protocol to simulate.
    #[arg(long, value_enum)]
    pub protocol: ProtocolKind,
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Number of runs: seeds SEED, SEED+1, …
    #[arg(long, default_value_t = 100)]
    pub runs: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual seconds each run lasts.
    #[arg(long, default_value_t = 20)]
    pub duration_secs: u64,
    /// Probability that the network loses a message.
    #[arg(long, default_value_t = 0.1)]
    pub drop: f64,
    /// Probability that the network delivers a message twice.
    #[arg(long, default_value_t = 0.05)]
    pub dup: f64,
    /// Delivery delay range in milliseconds.
    #[arg(long, default_value = "0..20", value_name = "LO..HI")]
    pub delay_ms: String,
    /// No crashes and restarts.
    #[arg(long)]
    pub no_crashes: bool,
    /// No network partitions.
    #[arg(long)]
    pub no_partitions: bool,
    #[command(flatten)]
    pub raft: RaftArgs,
    #[command(flatten)]
    pub writers: WriterArgs,
    /// Print every event of every run (use with --runs 1 to replay a seed).
    #[arg(long)]
    pub show: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `elect sim` prints: the runs' verdicts summed.
#[derive(Debug, Default, Serialize)]
struct SimSummary {
    pub protocol: String,
    pub nodes: usize,
    pub runs: u64,
    pub first_seed: u64,
    pub virtual_seconds_per_run: u64,
    pub events: u64,
    pub elections: u64,
    pub leadership_changes: u64,
    /// Seeds of runs with a safety violation (Raft: two leaders in a term).
    pub unsafe_seeds: Vec<u64>,
    pub split_brain_intervals: u64,
    pub runs_with_split_brain: u64,
    pub split_brain_seconds: f64,
    pub no_leader_seconds: f64,
    /// Whether the nodes ran with a lease; the lease figures count only then.
    pub has_leases: bool,
    pub leaderships_under_lease: u64,
    /// Total time two nodes held a valid lease at once (must be 0).
    pub lease_overlap_ms: u64,
    /// Leaderships under lease that began with a token not above every
    /// earlier one (must be 0).
    pub stale_lease_tokens: u64,
    /// Seeds of runs with lease overlap or an out-of-order token.
    pub lease_violation_seeds: Vec<u64>,
    /// Leaders a majority still followed, deposed by a higher term.
    pub deposed_while_followed: u64,
    /// Writes of the leader-only writers that reached the fenced register.
    pub writes: u64,
    pub writes_accepted: u64,
    /// Refused for a token below one the register had seen: fencing at work.
    pub writes_refused: u64,
    /// Accepted while a newer leadership was acting (must be 0 with leases).
    pub stale_writes_accepted: u64,
    /// Seeds of runs with a write accepted from a deposed leader.
    pub stale_write_seeds: Vec<u64>,
    pub wall_seconds: f64,
    /// The two totals in whole milliseconds while runs finish in any order
    /// (so that the seconds above do not depend on the order of addition).
    #[serde(skip)]
    split_brain_ms: u64,
    #[serde(skip)]
    no_leader_ms: u64,
}

/// Runs `elect sim`; false when a run violated safety.
pub fn sim(args: SimArgs) -> Result<bool, Failure> {
    if args.nodes == 0 || args.nodes > 64 {
        return Err(ArgError::Nodes {
            nodes: args.nodes,
            max: 64,
        }
        .into());
    }
    for (flag, p) in [("--drop", args.drop), ("--dup", args.dup)] {
        if !(0.0..=1.0).contains(&p) {
            return Err(Failure::Usage(format!(
                "{flag} must be a probability between 0 and 1"
            )));
        }
    }
    let delay = delay_ms(&args.delay_ms)?;
    let template = SimConfig {
        duration: Duration::from_secs(args.duration_secs.max(1)),
        drop: args.drop,
        dup: args.dup,
        delay,
        crashes: !args.no_crashes,
        partitions: !args.no_partitions,
        raft: args.raft.for_fleet(args.protocol, None)?,
        write_every: args.writers.every(),
        ..SimConfig::new(args.protocol, args.nodes, args.seed)
    };
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(SimSummary {
        protocol: args.protocol.name().into(),
        nodes: args.nodes,
        runs: args.runs,
        first_seed: args.seed,
        virtual_seconds_per_run: args.duration_secs,
        ..SimSummary::default()
    });
    let failure = Mutex::new(None::<String>);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(args.runs.max(1) as usize);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.runs {
                    return;
                }
                let config = SimConfig {
                    seed: args.seed + i,
                    ..template.clone()
                };
                match sim::run(&config) {
                    Ok(run) => record(&summary, &run, args.show),
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            *f = Some(e);
                        }
                        return;
                    }
                }
                if !args.json && !args.show && (i + 1).is_multiple_of(500) {
                    eprintln!(
                        "  … {} runs, {:.1} s",
                        i + 1,
                        started.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(Failure::Internal(e));
    }
    let mut summary = summary
        .into_inner()
        .map_err(|_| Failure::Internal("a simulation thread panicked".into()))?;
    summary.wall_seconds = started.elapsed().as_secs_f64();
    summary.split_brain_seconds = summary.split_brain_ms as f64 / 1000.0;
    summary.no_leader_seconds = summary.no_leader_ms as f64 / 1000.0;
    summary.unsafe_seeds.sort();
    summary.lease_violation_seeds.sort();
    summary.stale_write_seeds.sort();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        print_summary(&summary);
    }
    let stale_with_lease = summary.has_leases && !summary.stale_write_seeds.is_empty();
    Ok(summary.unsafe_seeds.is_empty()
        && summary.lease_violation_seeds.is_empty()
        && !stale_with_lease)
}

fn record(summary: &Mutex<SimSummary>, run: &SimRun, show: bool) {
    if show {
        println!("seed {}:", run.seed);
        for n in &run.nemesis {
            println!("  nemesis {n}");
        }
        for e in &run.events {
            println!(
                "  {:>8.3} s n{} {}",
                e.at_ms as f64 / 1000.0,
                e.node,
                e.what
            );
        }
        println!("{}\n", run.verdict);
    }
    let Ok(mut s) = summary.lock() else { return };
    let v = &run.verdict;
    s.events += v.events as u64;
    s.elections += v.elections;
    s.leadership_changes += v.leadership_changes;
    if !v.safety_violations.is_empty() {
        s.unsafe_seeds.push(run.seed);
    }
    s.split_brain_intervals += v.split_brain.len() as u64;
    if !v.split_brain.is_empty() {
        s.runs_with_split_brain += 1;
    }
    s.split_brain_ms += v.split_brain_ms;
    s.no_leader_ms += v.no_leader_ms;
    s.has_leases |= v.has_leases;
    s.deposed_while_followed += v.deposed_while_followed;
    s.leaderships_under_lease += v.leases;
    s.lease_overlap_ms += v.lease_overlap_ms;
    s.stale_lease_tokens += v.stale_lease_tokens;
    if v.lease_overlap_ms > 0 || v.stale_lease_tokens > 0 {
        s.lease_violation_seeds.push(run.seed);
    }
    s.writes += v.writes;
    s.writes_accepted += v.writes_accepted;
    s.writes_refused += v.writes_refused;
    s.stale_writes_accepted += v.stale_writes_accepted;
    if v.stale_writes_accepted > 0 {
        s.stale_write_seeds.push(run.seed);
    }
}

fn print_summary(s: &SimSummary) {
    println!(
        "{} runs of {} with {} nodes, {} virtual s each (seeds {}..{}), {:.1} s wall",
        s.runs,
        s.protocol,
        s.nodes,
        s.virtual_seconds_per_run,
        s.first_seed,
        s.first_seed + s.runs.saturating_sub(1),
        s.wall_seconds
    );
    println!("  events                  {}", s.events);
    println!("  elections               {}", s.elections);
    println!("  leadership changes      {}", s.leadership_changes);
    println!(
        "  safety violations       {} runs{}",
        s.unsafe_seeds.len(),
        if s.unsafe_seeds.is_empty() {
            String::new()
        } else {
            format!(
                " (replay: elect sim --protocol {} --runs 1 --show --seed {})",
                s.protocol, s.unsafe_seeds[0]
            )
        }
    );
    println!(
        "  split-brain intervals   {} in {} runs, {:.2} s in all",
        s.split_brain_intervals, s.runs_with_split_brain, s.split_brain_seconds
    );
    println!(
        "  time without a leader   {:.1} s in all ({:.1} % of virtual time)",
        s.no_leader_seconds,
        100.0 * s.no_leader_seconds / (s.runs.max(1) * s.virtual_seconds_per_run.max(1)) as f64
    );
    println!(
        "  followed leaders deposed by a higher term {}",
        s.deposed_while_followed
    );
    if s.has_leases {
        println!("  leaderships under lease {}", s.leaderships_under_lease);
        println!(
            "  lease overlap           {} ms in all, {} runs{}",
            s.lease_overlap_ms,
            s.lease_violation_seeds.len(),
            match s.lease_violation_seeds.first() {
                Some(seed) => format!(
                    " (replay: elect sim --protocol {} --runs 1 --show --seed {seed} with the same switches)",
                    s.protocol
                ),
                None => String::new(),
            }
        );
        println!("  lease tokens out of order {}", s.stale_lease_tokens);
    }
    if s.writes > 0 {
        println!(
            "  writes to the register  {}: {} accepted, {} refused (fencing)",
            s.writes, s.writes_accepted, s.writes_refused
        );
        println!(
            "  accepted from a deposed leader {} in {} runs{}",
            s.stale_writes_accepted,
            s.stale_write_seeds.len(),
            match s.stale_write_seeds.first() {
                Some(seed) => format!(" (e.g. seed {seed})"),
                None => String::new(),
            }
        );
    }
}
