//! Seeded bugs: named mutations of the protocols that the checker must
//! catch. They exist only with the `mutants` cargo feature
//! (`cargo run --features mutants -- verify --mutants`); in normal builds
//! [`super::Cluster::mutated`] is constant false and the bug code compiles
//! away.

use super::ProtocolKind;

pub const RAFT_VOTE_NOT_PERSISTED: &str = "raft/vote-not-persisted";
pub const RAFT_VOTE_TWICE: &str = "raft/vote-twice";
pub const RAFT_NO_STEP_DOWN: &str = "raft/no-step-down-on-higher-term";
pub const RAFT_COUNT_STALE_VOTE: &str = "raft/count-stale-vote";
pub const RAFT_QUORUM_HALF: &str = "raft/quorum-n-over-2";
pub const RAFT_IGNORE_REPLY_TERM: &str = "raft/leader-ignores-reply-term";
pub const BULLY_NO_OK: &str = "bully/no-ok-reply";
pub const BULLY_IGNORE_OK: &str = "bully/ignore-ok";
pub const BULLY_COORDINATOR_SILENT: &str = "bully/coordinator-ignores-election";
pub const RING_ELECT_INITIATOR: &str = "ring/initiator-elects-itself";
pub const RING_ELECT_LOWEST: &str = "ring/elect-lowest-id";
pub const RING_IGNORE_ACK: &str = "ring/ignore-acks";

/// A seeded bug and the scenario (a file in `models/`) whose checks must
/// catch it.
pub struct Mutant {
    pub name: &'static str,
    pub protocol: ProtocolKind,
    pub what: &'static str,
    pub scenario: &'static str,
}

pub const MUTANTS: &[Mutant] = &[
    Mutant {
        name: RAFT_VOTE_NOT_PERSISTED,
        protocol: ProtocolKind::Raft,
        what: "grants a vote without saving it first",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: RAFT_VOTE_TWICE,
        protocol: ProtocolKind::Raft,
        what: "grants a second vote in the same term",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: RAFT_NO_STEP_DOWN,
        protocol: ProtocolKind::Raft,
        what: "adopts a higher term but keeps its role",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: RAFT_COUNT_STALE_VOTE,
        protocol: ProtocolKind::Raft,
        what: "counts a granted vote from an older term",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: RAFT_QUORUM_HALF,
        protocol: ProtocolKind::Raft,
        what: "computes the quorum as n/2 instead of n/2+1",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: RAFT_IGNORE_REPLY_TERM,
        protocol: ProtocolKind::Raft,
        what: "a leader does not check the term of heartbeat replies",
        scenario: "raft-3-lossy-crash-recover",
    },
    Mutant {
        name: BULLY_NO_OK,
        protocol: ProtocolKind::Bully,
        what: "a higher node takes over an election without answering OK",
        scenario: "bully-4-reliable-crash-stop-timely",
    },
    Mutant {
        name: BULLY_IGNORE_OK,
        protocol: ProtocolKind::Bully,
        what: "a challenger ignores OK and declares itself on its answer timeout",
        scenario: "bully-4-reliable-crash-stop-timely",
    },
    Mutant {
        name: BULLY_COORDINATOR_SILENT,
        protocol: ProtocolKind::Bully,
        what: "the coordinator ignores a challenger's ELECTION (no OK, no reminder)",
        scenario: "bully-4-reliable-crash-stop-timely",
    },
    Mutant {
        name: RING_ELECT_INITIATOR,
        protocol: ProtocolKind::Ring,
        what: "the initiator elects itself instead of the highest id on the token",
        scenario: "ring-4-reliable-crash-stop-timely",
    },
    Mutant {
        name: RING_ELECT_LOWEST,
        protocol: ProtocolKind::Ring,
        what: "the initiator elects the lowest id on the token",
        scenario: "ring-4-reliable-crash-stop-timely",
    },
    Mutant {
        name: RING_IGNORE_ACK,
        protocol: ProtocolKind::Ring,
        what: "acknowledgements are ignored, so every successor is presumed dead",
        scenario: "ring-3-ordered-crash-stop-timely",
    },
];
