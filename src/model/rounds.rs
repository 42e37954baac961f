//! Heartbeat rounds, relabelled so that the model stays finite (Raft and
//! Paxos with the lease on).
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
//! discards the echo); and at most one node ever leads a term (Raft's
//! election safety, Paxos's one acting leader per epoch, checked on the
//! same graph; a node that led a term leads it no more after a restart),
//! so "the live leader of the term" is well defined wherever the
//! properties hold. No property reads rounds.

use super::{Modelled, Relabelling};
use crate::protocols::paxos::{Paxos, PaxosMsg, PaxosState};
use crate::protocols::raft::{Raft, RaftMsg, RaftRole, RaftState};
use std::collections::BTreeMap;

/// A protocol whose leaders number their heartbeat rounds.
pub trait NumbersRounds: Modelled {
    /// The term and latest round of a node that leads, if it has sent one.
    fn leaders_round(state: &Self::State) -> Option<(u64, u64)>;
    /// `state` with its latest round renamed `round`.
    fn with_round(state: &Self::State, round: u64) -> Self::State;
    /// The term and round a heartbeat or acknowledgement carries.
    fn message_round(msg: &Self::Msg) -> Option<(u64, u64)>;
    /// `msg` with its round renamed `round`.
    fn with_message_round(msg: &Self::Msg, round: u64) -> Self::Msg;
}

/// The relabelling of the rounds in a system whose nodes are `nodes`
/// (each with whether it is live).
pub fn relabel_rounds<P: NumbersRounds>(nodes: &[(bool, &P::State)]) -> Relabelling<P> {
    let leading = |(live, s): &(bool, &P::State)| {
        P::leaders_round(s).filter(|&(_, round)| *live && round > 0)
    };
    let latest: BTreeMap<u64, u64> = nodes.iter().filter_map(leading).collect();
    let name = move |term: u64, round: u64| -> u64 {
        match (round, latest.get(&term)) {
            (0, _) => 0,
            (r, Some(&latest)) if r == latest => 2 + r % 2,
            _ => 1,
        }
    };
    let states: Vec<Option<P::State>> = nodes
        .iter()
        .map(|node| {
            let (term, round) = leading(node)?;
            let renamed = name(term, round);
            (renamed != round).then(|| P::with_round(node.1, renamed))
        })
        .collect();
    let message = move |msg: &P::Msg| match P::message_round(msg) {
        Some((term, round)) => P::with_message_round(msg, name(term, round)),
        None => msg.clone(),
    };
    Relabelling {
        states,
        message: Box::new(message),
    }
}

impl NumbersRounds for Raft {
    fn leaders_round(state: &RaftState) -> Option<(u64, u64)> {
        (state.role == RaftRole::Leader).then_some((state.term, state.lease.round))
    }

    fn with_round(state: &RaftState, round: u64) -> RaftState {
        let mut renamed = state.clone();
        renamed.lease.round = round;
        renamed
    }

    fn message_round(msg: &RaftMsg) -> Option<(u64, u64)> {
        match *msg {
            RaftMsg::AppendEntries { term, round } | RaftMsg::HeartbeatAck { term, round } => {
                Some((term, round))
            }
            _ => None,
        }
    }

    fn with_message_round(msg: &RaftMsg, round: u64) -> RaftMsg {
        match *msg {
            RaftMsg::AppendEntries { term, .. } => RaftMsg::AppendEntries { term, round },
            RaftMsg::HeartbeatAck { term, .. } => RaftMsg::HeartbeatAck { term, round },
            ref other => other.clone(),
        }
    }
}

impl NumbersRounds for Paxos {
    fn leaders_round(state: &PaxosState) -> Option<(u64, u64)> {
        state.leading.then_some((state.epoch, state.lease.round))
    }

    fn with_round(state: &PaxosState, round: u64) -> PaxosState {
        let mut renamed = state.clone();
        renamed.lease.round = round;
        renamed
    }

    fn message_round(msg: &PaxosMsg) -> Option<(u64, u64)> {
        match *msg {
            PaxosMsg::Decided { epoch, round, .. } | PaxosMsg::HeartbeatAck { epoch, round } => {
                Some((epoch, round))
            }
            _ => None,
        }
    }

    fn with_message_round(msg: &PaxosMsg, round: u64) -> PaxosMsg {
        match *msg {
            PaxosMsg::Decided { epoch, leader, .. } => PaxosMsg::Decided {
                epoch,
                leader,
                round,
            },
            PaxosMsg::HeartbeatAck { epoch, .. } => PaxosMsg::HeartbeatAck { epoch, round },
            ref other => other.clone(),
        }
    }
}
