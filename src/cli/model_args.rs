//! The model flags `elect check` and `elect explore` share: the cluster, its
//! faults, the timing assumption and the bounds.

use super::Failure;
use crate::model::{drift_ppm, ModelConfig, Naming, NetworkKind, Timing};
use crate::protocols::ProtocolKind;
use crate::topology::Links;
use clap::Args;

/// The model a check or an exploration runs on. Every flag left out takes the
/// protocol's default (see `elect check --help`).
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Number of nodes.
    #[arg(long, value_name = "N")]
    pub nodes: Option<usize>,
    /// Network semantics.
    #[arg(long, value_enum)]
    pub network: Option<NetworkKind>,
    /// Messages may be lost (`--lossy=false` for a reliable network).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub lossy: Option<bool>,
    /// Crash budget: crashes allowed in the whole execution.
    #[arg(long, value_name = "K")]
    pub crashes: Option<usize>,
    /// Crashed nodes may recover from their saved storage (`--recover=false`
    /// for crash-stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub recover: Option<bool>,
    /// What a node saved survives its crash (`--persist=false`: the disk
    /// loses it, and the node recovers as if new).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub persist: Option<bool>,
    /// Network partitions allowed (each an explicit split step, healed by an
    /// explicit heal step).
    #[arg(long, value_name = "K")]
    pub partitions: Option<usize>,
    /// A fixed topology: only these links work, for good (`A-B` both ways,
    /// `A>B` one way), e.g. --links "0-1 1-2" for a chain of three.
    #[arg(long, value_name = "LINKS", value_parser = parse_links)]
    pub links: Option<Links>,
    /// A change of topology that may happen once, before GST, as an
    /// explicit step: from then on only these links work.
    #[arg(long, value_name = "LINKS", value_parser = parse_links)]
    pub links_after: Option<Links>,
    /// Single-link failures allowed (each an explicit step, one way or both
    /// ways, healed by another explicit step).
    #[arg(long, value_name = "K")]
    pub link_failures: Option<usize>,
    /// With --timing timed: pauses allowed (a node stops, as under SIGSTOP,
    /// while time goes on, then resumes where it stopped).
    #[arg(long, value_name = "K")]
    pub pauses: Option<usize>,
    /// Timing assumption: `asynchronous` (timers fire at any time),
    /// `timely` (only when no message is in flight and no shorter timer is
    /// armed: zero message delay, stronger than synchrony) or `timed`
    /// (Δ-synchronous, real time in explicit ticks; see --delta).
    #[arg(long, value_enum)]
    pub timing: Option<Timing>,
    /// With --timing timed: Δ, the most ticks a message spends in flight.
    #[arg(long, value_name = "TICKS")]
    pub delta: Option<u32>,
    /// With --timing timed: ε, the drift bound (each clock runs at a rate
    /// within [1 − ε, 1 + ε] of real time), e.g. 0.05.
    #[arg(long, value_name = "EPS", value_parser = parse_drift)]
    pub drift: Option<u32>,
    /// With --timing timed: the reply timeout, in ticks.
    #[arg(long, value_name = "TICKS")]
    pub reply_ticks: Option<u32>,
    /// With --timing timed: the heartbeat period, in ticks.
    #[arg(long, value_name = "TICKS")]
    pub heartbeat_ticks: Option<u32>,
    /// With --timing timed: the election timeout's range, in ticks.
    #[arg(long, value_name = "LO..HI", value_parser = parse_tick_range)]
    pub election_ticks: Option<[u32; 2]>,
    /// With --timing timed: nodes start at different times, each within
    /// this many ticks of the beginning.
    #[arg(long, value_name = "TICKS")]
    pub stagger: Option<u32>,
    /// Add a GST step after which no faults happen and timing is timely, and
    /// check that a single leader known to all emerges and stays.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub gst: Option<bool>,
    /// With --gst: steps after GST within which the leader must be stable.
    #[arg(long, value_name = "STEPS")]
    pub stabilize_within: Option<usize>,
    /// Shift terms so that the lowest is 0 (Raft): --max-term then bounds
    /// the spread of terms, and no election is cut off by a last term.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub normalize_terms: Option<bool>,
    /// Bound: highest term explored (Raft), or the highest spread of terms
    /// with --normalize-terms.
    #[arg(long, value_name = "T")]
    pub max_term: Option<u64>,
    /// Bound: most messages in flight at once.
    #[arg(long, value_name = "M")]
    pub max_in_flight: Option<usize>,
    /// Past --max-in-flight, let the network drain (deliveries and losses
    /// that add nothing in flight) instead of cutting the state off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub drain_past_cap: Option<bool>,
    /// Raft: PreVote — a node asks whether it could win before it stands.
    #[arg(long, alias = "prevote", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub pre_vote: Option<bool>,
    /// Raft: CheckQuorum — a leader that hears from no majority within the
    /// minimum election timeout steps down.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub check_quorum: Option<bool>,
    /// Raft and Paxos: the leader lease, this long (ticks with --timing timed,
    /// otherwise milliseconds); checked safe against --drift.
    #[arg(long, value_name = "TICKS")]
    pub lease: Option<u32>,
}

impl ModelArgs {
    /// The protocol's default model with every given flag applied.
    pub fn config(&self, protocol: ProtocolKind) -> Result<ModelConfig, Failure> {
        let mut c = ModelConfig::default_for(protocol);
        fn set<T: Copy>(field: &mut T, flag: Option<T>) {
            if let Some(value) = flag {
                *field = value;
            }
        }
        set(&mut c.nodes, self.nodes);
        set(&mut c.network, self.network);
        set(&mut c.lossy, self.lossy);
        set(&mut c.crashes, self.crashes);
        if self.crashes == Some(0) {
            c.recover = false;
        }
        set(&mut c.recover, self.recover);
        set(&mut c.persist, self.persist);
        set(&mut c.partitions, self.partitions);
        if self.links.is_some() {
            c.links = self.links;
        }
        if self.links_after.is_some() {
            c.links_after = self.links_after;
        }
        set(&mut c.link_failures, self.link_failures);
        set(&mut c.pauses, self.pauses);
        set(&mut c.timing, self.timing);
        if self.clock_given() {
            let mut clock = c.clock.unwrap_or_default();
            set(&mut clock.delta, self.delta);
            set(&mut clock.drift_ppm, self.drift);
            set(&mut clock.reply, self.reply_ticks);
            set(&mut clock.heartbeat, self.heartbeat_ticks);
            set(&mut clock.election, self.election_ticks);
            set(&mut clock.stagger, self.stagger);
            c.clock = Some(clock);
        }
        set(&mut c.gst, self.gst);
        if self.stabilize_within.is_some() {
            c.stabilize_within = self.stabilize_within;
        }
        set(&mut c.normalize_terms, self.normalize_terms);
        set(&mut c.max_term, self.max_term);
        set(&mut c.max_in_flight, self.max_in_flight);
        set(&mut c.drain_past_cap, self.drain_past_cap);
        set(&mut c.pre_vote, self.pre_vote);
        set(&mut c.check_quorum, self.check_quorum);
        if self.lease.is_some() {
            c.lease = self.lease;
        }
        c.validate_for(protocol)
            .map_err(|e| Failure::Usage(e.message(Naming::Flags)))?;
        Ok(c)
    }

    /// Whether any flag of the timed model's clocks was given.
    fn clock_given(&self) -> bool {
        self.delta.is_some()
            || self.drift.is_some()
            || self.reply_ticks.is_some()
            || self.heartbeat_ticks.is_some()
            || self.election_ticks.is_some()
            || self.stagger.is_some()
    }

    /// Whether any flag that shapes the model was given.
    pub fn any_given(&self) -> bool {
        [
            self.clock_given(),
            self.nodes.is_some(),
            self.network.is_some(),
            self.lossy.is_some(),
            self.crashes.is_some(),
            self.recover.is_some(),
            self.persist.is_some(),
            self.partitions.is_some(),
            self.links.is_some(),
            self.links_after.is_some(),
            self.link_failures.is_some(),
            self.pauses.is_some(),
            self.timing.is_some(),
            self.gst.is_some(),
            self.stabilize_within.is_some(),
            self.normalize_terms.is_some(),
            self.max_term.is_some(),
            self.max_in_flight.is_some(),
            self.drain_past_cap.is_some(),
            self.pre_vote.is_some(),
            self.check_quorum.is_some(),
            self.lease.is_some(),
        ]
        .contains(&true)
    }
}

/// `--links "0-1 1-2"`: a topology.
fn parse_links(text: &str) -> Result<Links, String> {
    Links::parse(text).map_err(|e| e.to_string())
}

/// `--drift 0.05`: ε in parts per million.
fn parse_drift(text: &str) -> Result<u32, String> {
    let fraction: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number (write e.g. 0.05)"))?;
    drift_ppm(fraction)
}

/// `--election-ticks 8..10`.
fn parse_tick_range(text: &str) -> Result<[u32; 2], String> {
    let bad = || format!("'{text}' is not a range of ticks (write e.g. 8..10)");
    let (lo, hi) = text.split_once("..").ok_or_else(bad)?;
    let lo: u32 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u32 = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(format!("the range {lo}..{hi} is empty"));
    }
    Ok([lo, hi])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_flags_parse_and_refuse_what_makes_no_sense() {
        assert_eq!(parse_drift("0.05"), Ok(50_000));
        assert!(parse_drift("0.7").is_err());
        assert!(parse_drift("fast").is_err());
        assert_eq!(parse_tick_range("8..10"), Ok([8, 10]));
        assert!(parse_tick_range("10..8").is_err());
        assert!(parse_tick_range("8-10").is_err());
    }
}
