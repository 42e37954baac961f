//! The model flags `elect check` and `elect explore` share: the cluster, its
//! faults, the timing assumption and the bounds.

use super::Failure;
use crate::model::{ModelConfig, Naming, NetworkKind, Timing};
use crate::protocols::ProtocolKind;
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
    /// Timing assumption: `asynchronous` (timers fire at any time) or
    /// `timely` (only when no message is in flight and no shorter timer is armed).
    #[arg(long, value_enum)]
    pub timing: Option<Timing>,
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
        set(&mut c.timing, self.timing);
        set(&mut c.gst, self.gst);
        if self.stabilize_within.is_some() {
            c.stabilize_within = self.stabilize_within;
        }
        set(&mut c.normalize_terms, self.normalize_terms);
        set(&mut c.max_term, self.max_term);
        set(&mut c.max_in_flight, self.max_in_flight);
        c.validate()
            .map_err(|e| Failure::Usage(e.message(Naming::Flags)))?;
        Ok(c)
    }

    /// Whether any flag that shapes the model was given.
    pub fn any_given(&self) -> bool {
        [
            self.nodes.is_some(),
            self.network.is_some(),
            self.lossy.is_some(),
            self.crashes.is_some(),
            self.recover.is_some(),
            self.persist.is_some(),
            self.partitions.is_some(),
            self.timing.is_some(),
            self.gst.is_some(),
            self.stabilize_within.is_some(),
            self.normalize_terms.is_some(),
            self.max_term.is_some(),
            self.max_in_flight.is_some(),
        ]
        .contains(&true)
    }
}
