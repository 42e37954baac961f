//! What a checked configuration is made of: the cluster, the faults it may
//! suffer, the timing assumption and the bounds.

use crate::protocols::ProtocolKind;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How the network treats messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetworkKind {
    /// Per-pair FIFO channels; each message is delivered at most once.
    Ordered,
    /// Any message in flight may be delivered next (reordering); each at most once.
    Unordered,
    /// Reordering, and a message once sent may be delivered again and again.
    Duplicating,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Ordered => "ordered",
            NetworkKind::Unordered => "unordered",
            NetworkKind::Duplicating => "duplicating",
        })
    }
}

/// When timers may fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Timing {
    /// A timer may fire at any moment, even while the message it waits for is
    /// in flight: Stateright's default, the asynchronous system model.
    Asynchronous,
    /// The synchronous system model, where message delays are negligible
    /// against timeouts and timers are accurate:
    /// - a timer fires only when no message is in flight to a live node;
    /// - a timer does not fire while a certainly shorter timer (its longest
    ///   duration below this one's shortest) is armed at the same node, or a
    ///   certainly shorter one-shot timer at any live node;
    /// - a timer that watches the leader (restarted by every heartbeat) does
    ///   not fire while the leader this node follows is live, reachable, and
    ///   has its heartbeat armed, unless messages can be lost: a live
    ///   leader's heartbeat always beats its followers' election timeouts;
    /// - a message to a crashed node is lost.
    Timely,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timing::Asynchronous => "asynchronous",
            Timing::Timely => "timely",
        })
    }
}

fn yes() -> bool {
    true
}

fn default_stabilize_within() -> usize {
    30
}

/// One checked configuration: the cluster and the faults it may suffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub nodes: usize,
    pub network: NetworkKind,
    /// Messages in flight may be lost.
    pub lossy: bool,
    /// How many crashes may happen in the whole execution.
    pub crashes: usize,
    /// Whether a crashed node may recover.
    pub recover: bool,
    /// Whether what a node saved survives its crash. `false` models a disk
    /// that loses its contents (or a node run without `--data-dir`): the node
    /// recovers as if it had never run.
    #[serde(default = "yes")]
    pub persist: bool,
    /// How many times the network may split into two sides that cannot talk
    /// (each split is an explicit step, healed by another explicit step).
    #[serde(default)]
    pub partitions: usize,
    pub timing: Timing,
    /// Adds a "GST" step (global stabilisation time) that the checker may
    /// take at any point: afterwards no crash, recovery, loss or partition
    /// happens, timing is timely, and timers are fair: a heartbeat does not
    /// fire while a timer it does not restart is armed at a live node.
    #[serde(default)]
    pub gst: bool,
    /// With `gst`: within this many steps after GST a single leader known to
    /// every live node must exist, and stay.
    #[serde(default = "default_stabilize_within")]
    pub stabilize_within: usize,
    /// Bound: states in which a node's term exceeds this are not explored
    /// (protocols with terms only).
    pub max_term: u64,
    /// Bound: states with more messages in flight are not explored.
    pub max_in_flight: usize,
}

impl ModelConfig {
    /// Checks the combination makes sense; the message names the problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > 9 {
            return Err(format!(
                "--nodes must be between 1 and 9 (got {})",
                self.nodes
            ));
        }
        if self.crashes > self.nodes {
            return Err(format!(
                "--crashes {} exceeds the number of nodes ({})",
                self.crashes, self.nodes
            ));
        }
        if self.recover && self.crashes == 0 {
            return Err("--recover needs a crash budget (--crashes 1 or more)".into());
        }
        let timely_somewhere = self.timing == Timing::Timely || self.gst;
        if timely_somewhere && self.network == NetworkKind::Duplicating {
            return Err(
                "timely timing (and GST) needs a network that consumes delivered messages \
                 (--network ordered or unordered): on a duplicating network a message \
                 stays in flight for ever, so no timer could fire"
                    .into(),
            );
        }
        if self.max_in_flight == 0 {
            return Err("--max-in-flight must be at least 1".into());
        }
        if self.partitions > 0 && self.nodes < 2 {
            return Err("--partitions needs at least 2 nodes".into());
        }
        if self.gst && self.stabilize_within == 0 {
            return Err("--stabilize-within must be at least 1 step".into());
        }
        Ok(())
    }

    /// One line describing the fault model and bounds, for reports.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} nodes", self.nodes),
            format!(
                "{}{} network",
                if self.lossy { "lossy " } else { "" },
                self.network
            ),
        ];
        parts.push(match (self.crashes, self.recover, self.persist) {
            (0, _, _) => "no crashes".into(),
            (k, false, _) => format!("{k} crash{} (crash-stop)", plural(k)),
            (k, true, true) => format!("{k} crash{} with recovery", plural(k)),
            (k, true, false) => format!("{k} crash{} with recovery, storage lost", plural(k)),
        });
        if self.partitions > 0 {
            parts.push(format!(
                "{} partition{}",
                self.partitions,
                if self.partitions == 1 { "" } else { "s" }
            ));
        }
        parts.push(format!("{} timing", self.timing));
        if self.gst {
            parts.push(format!(
                "GST, stable within {} steps",
                self.stabilize_within
            ));
        }
        parts.push(format!("≤{} messages in flight", self.max_in_flight));
        parts.push(format!("terms ≤{}", self.max_term));
        parts.join(", ")
    }

    fn seed_default() -> ModelConfig {
        ModelConfig {
            nodes: 4,
            network: NetworkKind::Unordered,
            lossy: false,
            crashes: 2,
            recover: false,
            persist: true,
            partitions: 0,
            timing: Timing::Timely,
            gst: false,
            stabilize_within: default_stabilize_within(),
            max_term: 0,
            max_in_flight: 10,
        }
    }

    /// The configuration `elect check <protocol>` uses when no flag changes it:
    /// the strongest fault model under which the protocol's safety claims
    /// hold, with at least one crash.
    pub fn default_for(kind: ProtocolKind) -> ModelConfig {
        match kind {
            // Raft's election safety needs no timing or delivery assumption.
            ProtocolKind::Raft => ModelConfig {
                nodes: 3,
                lossy: true,
                crashes: 1,
                recover: true,
                timing: Timing::Asynchronous,
                max_term: 2,
                max_in_flight: 5,
                ..Self::seed_default()
            },
            // The seed's Bully and Ring are safe only on a reliable network
            // with timely timers and crash-stop failures. Under timely timing
            // a heartbeat fires only once the network is quiet, so these
            // in-flight caps are never reached: the whole reachable graph is
            // explored.
            ProtocolKind::Bully => ModelConfig {
                max_in_flight: 20,
                ..Self::seed_default()
            },
            ProtocolKind::Ring => ModelConfig {
                max_in_flight: 10,
                ..Self::seed_default()
            },
            // Garcia-Molina's halt phase makes Bully safe with recovery too.
            ProtocolKind::BullyHalt => ModelConfig {
                nodes: 3,
                crashes: 1,
                recover: true,
                max_in_flight: 12,
                ..Self::seed_default()
            },
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "es"
    }
}
