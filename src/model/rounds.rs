//! Raft's heartbeat rounds, relabelled so that the model stays finite.
//!
//! With the lease on, a leader numbers its heartbeat rounds and followers
//! echo the number; the count grows without bound. But the protocol only
//! ever asks whether an acknowledgement's round *is* the leader's latest,
//! and uses the round's parity to pick its lease timer. So every round of
//! a term can be renamed, as long as those two questions get the same
//! answers: the latest round of a live leader becomes 2 or 3 (keeping its
//! parity), and every other round of any term — older rounds of a live
//! leader, all rounds of a term whose leader is gone — becomes 1, a number
//! no leader will ever send again. Round 0 (no lease) stays 0.
//!
//! Why this changes no verdict (a functional bisimulation, as for terms):
//! a leader's next round is its latest plus one, which the renaming maps
//! to the next of 2 and 3; a message of round 1 is, to its receiver,
//! exactly what any stale round was (the follower echoes it, the leader
//! discards the echo); and at most one node leads a term (election
//! safety, checked on the same graph), so "the live leader of the term"
//! is well defined wherever the properties hold. No property reads rounds.

use super::Relabelling;
use crate::protocols::raft::{Raft, RaftMsg, RaftRole, RaftState};
use std::collections::BTreeMap;

/// The relabelling of Raft's rounds in a system whose nodes are `nodes`
/// (each with whether it is live).
pub fn relabel_rounds(nodes: &[(bool, &RaftState)]) -> Relabelling<Raft> {
    let latest: BTreeMap<u64, u64> = nodes
        .iter()
        .filter(|(live, s)| *live && s.role == RaftRole::Leader && s.lease.round > 0)
        .map(|(_, s)| (s.term, s.lease.round))
        .collect();
    let name = move |term: u64, round: u64| -> u64 {
        match (round, latest.get(&term)) {
            (0, _) => 0,
            (r, Some(&latest)) if r == latest => 2 + r % 2,
            _ => 1,
        }
    };
    let states: Vec<Option<RaftState>> = nodes
        .iter()
        .map(|(live, s)| {
            let round = if *live && s.role == RaftRole::Leader && s.lease.round > 0 {
                name(s.term, s.lease.round)
            } else {
                s.lease.round
            };
            (round != s.lease.round).then(|| {
                let mut renamed = (*s).clone();
                renamed.lease.round = round;
                renamed
            })
        })
        .collect();
    let message = move |msg: &RaftMsg| match *msg {
        RaftMsg::AppendEntries { term, round } => RaftMsg::AppendEntries {
            term,
            round: name(term, round),
        },
        RaftMsg::HeartbeatAck { term, round } => RaftMsg::HeartbeatAck {
            term,
            round: name(term, round),
        },
        ref other => other.clone(),
    };
    Relabelling {
        states,
        message: Box::new(message),
    }
}
