//! What a running node counts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a running node counts, as `elect status --json` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Protocol messages sent, by message type.
    pub sent: BTreeMap<String, u64>,
    /// Protocol messages received and handed to the actor, by message type.
    pub received: BTreeMap<String, u64>,
    /// Datagrams dropped before the actor saw them, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Faults this node injected on purpose (`--faults`, `elect fault`):
    /// messages dropped, duplicated, delayed or cut by a partition.
    pub injected: BTreeMap<String, u64>,
    /// Bytes of protocol datagrams sent.
    pub bytes_sent: u64,
    /// Bytes of protocol datagrams received and handed to the actor.
    pub bytes_received: u64,
    /// Times this node entered an election (became a candidate, or started a
    /// new term as one).
    pub elections_started: u64,
    /// Changes of this node's view of leadership.
    pub leadership_changes: u64,
    /// Durable writes of the actor's storage.
    pub saves: u64,
}

impl Counters {
    /// Counts a sent message of `kind`, `bytes` long.
    pub fn count_sent(&mut self, kind: &str, bytes: usize) {
        *self.sent.entry(kind.to_string()).or_default() += 1;
        self.bytes_sent += bytes as u64;
    }

    /// Counts a received message of `kind`, `bytes` long.
    pub fn count_received(&mut self, kind: &str, bytes: usize) {
        *self.received.entry(kind.to_string()).or_default() += 1;
        self.bytes_received += bytes as u64;
    }

    /// Counts a datagram dropped for `reason`.
    pub fn count_dropped(&mut self, reason: &str) {
        *self.dropped.entry(reason.to_string()).or_default() += 1;
    }

    /// Counts an injected `fault`.
    pub fn count_injected(&mut self, fault: &str) {
        *self.injected.entry(fault.to_string()).or_default() += 1;
    }

    /// Messages sent, of every kind.
    pub fn total_sent(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Datagrams dropped, for every reason.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.values().sum()
    }
}
