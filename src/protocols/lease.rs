//! The leader lease shared by Raft and Paxos: how long it runs, the rule
//! that keeps it safe under clock drift, and the leader's side of it.
//!
//! A leader numbers its heartbeat rounds and arms a lease timer for a round
//! when it *sends* it. A follower that acknowledges a round promises not to
//! help elect anyone for the minimum election timeout from the moment it
//! received the round. Once a majority (the leader included) has
//! acknowledged the round while its timer still runs, the leader holds the
//! lease until that timer fires. The timer starts before any promise it
//! relies on and is shorter than a promise by the drift margin
//! ([`LeaseConfig::validate`]), so it ends first however the clocks drift:
//! no other node can be elected while the lease holds. Two timers, one per
//! parity of the round, let a new round start while the lease of the one
//! before still runs.
//!
//! What a follower's promise forbids is each protocol's own (Raft: votes;
//! Paxos: promises to proposers of the next epoch), as is the timer type;
//! this module keeps the bookkeeping they share.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a leader's lease runs, and the clock drift it must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseConfig {
    /// The lease's length on the leader's clock, from the moment the round
    /// that earned it was sent.
    pub duration: Duration,
    /// ε, in parts per million: every node's clock runs at a rate within
    /// [1 − ε, 1 + ε] of real time.
    pub drift_ppm: u32,
}

/// A lease that a drifting clock could stretch past the promises behind it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LeaseError {
    /// The lease could outlast a follower's promise.
    #[error("the lease ({lease:?}) must be shorter than the minimum election timeout ({promise:?}) × (1 − ε)/(1 + ε) = {limit:?} for drift ε = {drift}: a fast follower's promise could end before a slow leader's lease")]
    OutlastsPromise {
        /// The lease.
        lease: Duration,
        /// The promise: the minimum election timeout.
        promise: Duration,
        /// The longest lease that is safe (exclusive).
        limit: Duration,
        /// ε as a fraction.
        drift: f64,
    },
    /// The lease would lapse before every renewal.
    #[error("the lease ({lease:?}) must be longer than the heartbeat ({heartbeat:?}): it would lapse before every renewal")]
    NotLongerThanHeartbeat {
        /// The lease.
        lease: Duration,
        /// The heartbeat period.
        heartbeat: Duration,
    },
    /// ε out of range.
    #[error("the drift bound must be below 0.5 (got {0})")]
    DriftTooLarge(f64),
}

impl LeaseConfig {
    /// ε as a fraction.
    pub fn drift(&self) -> f64 {
        f64::from(self.drift_ppm) / 1e6
    }

    /// Checks the rule that makes the lease safe for `timeouts`: measured on
    /// the slowest clock the drift allows, the lease ends before a promise
    /// measured on the fastest — `lease × (1 + ε) < promise × (1 − ε)`,
    /// the promise being the minimum election timeout — and the lease
    /// outlives a heartbeat period, so that renewals can keep it.
    pub fn validate(&self, timeouts: &super::Timeouts) -> Result<(), LeaseError> {
        const MILLION: u128 = 1_000_000;
        let ppm = u128::from(self.drift_ppm);
        if ppm >= MILLION / 2 {
            return Err(LeaseError::DriftTooLarge(self.drift()));
        }
        let promise = timeouts.election.start;
        let lease_slow = self.duration.as_nanos() * (MILLION + ppm);
        let promise_fast = promise.as_nanos() * (MILLION - ppm);
        if lease_slow >= promise_fast {
            let limit_nanos = promise_fast / (MILLION + ppm);
            return Err(LeaseError::OutlastsPromise {
                lease: self.duration,
                promise,
                limit: Duration::from_nanos(u64::try_from(limit_nanos).unwrap_or(u64::MAX)),
                drift: self.drift(),
            });
        }
        if self.duration <= timeouts.heartbeat {
            return Err(LeaseError::NotLongerThanHeartbeat {
                lease: self.duration,
                heartbeat: timeouts.heartbeat,
            });
        }
        Ok(())
    }
}

/// A leader's lease: the rounds it has sent and which of them a majority
/// acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseState {
    /// The latest heartbeat round sent in this term or epoch (0: none yet).
    pub round: u64,
    /// Who has acknowledged that round, the leader included.
    pub acks: BTreeSet<Id>,
    /// Whether that round's lease timer still runs: acknowledgements that
    /// arrive after it fired vouch for a lease already over.
    pub open: bool,
    /// The parity of the round whose lease the leader holds, if any: it
    /// holds until that parity's lease timer fires.
    pub held: Option<bool>,
}

impl LeaseState {
    /// The parity of the latest round: which of the two lease timers is its.
    pub fn parity(&self) -> bool {
        self.round % 2 == 1
    }

    /// Numbers the round the leader `me` is about to send, which it
    /// acknowledges itself; the round's parity, whose lease timer the
    /// caller (re)arms now.
    pub fn start_round(&mut self, me: Id) -> bool {
        self.round += 1;
        let odd = self.parity();
        // Re-arming this parity's timer restarts it from now, which no
        // acknowledgement has vouched for yet.
        if self.held == Some(odd) {
            self.held = None;
        }
        self.acks = BTreeSet::from([me]);
        self.open = true;
        odd
    }

    /// Whether `src`'s acknowledgement of `round` is news: it is of the
    /// latest round and `src` had not acknowledged it yet.
    pub fn counts(&self, src: Id, round: u64) -> bool {
        round > 0 && round == self.round && !self.acks.contains(&src)
    }

    /// Records `src`'s acknowledgement of the latest round.
    pub fn acknowledge(&mut self, src: Id) {
        self.acks.insert(src);
    }

    /// Holds the latest round's lease if `quorum` nodes acknowledged it
    /// while its timer still runs; whether it was newly held.
    pub fn hold_if_acknowledged(&mut self, quorum: usize) -> bool {
        let odd = self.parity();
        if self.open && self.held != Some(odd) && self.acks.len() >= quorum {
            self.held = Some(odd);
            return true;
        }
        false
    }

    /// Whether the firing of the lease timer of parity `odd` changes
    /// anything: it ends the lease held, or closes the latest round.
    pub fn expires(&self, odd: bool) -> bool {
        self.held == Some(odd) || (self.is_latest(odd) && self.open)
    }

    /// The lease timer of parity `odd` fired: the lease it timed is over,
    /// and acknowledgements of its round come too late.
    pub fn expire(&mut self, odd: bool) {
        if self.held == Some(odd) {
            self.held = None;
        }
        if self.is_latest(odd) {
            self.open = false;
        }
    }

    fn is_latest(&self, odd: bool) -> bool {
        self.round > 0 && self.parity() == odd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round's lease is held from the quorum's last acknowledgement until
    /// its timer fires; an acknowledgement after that, or of an older
    /// round, vouches for nothing.
    #[test]
    fn a_round_is_held_from_its_quorum_until_its_timer() {
        let (me, a, b) = (Id::from(0), Id::from(1), Id::from(2));
        let mut lease = LeaseState::default();
        let odd = lease.start_round(me);
        assert!(odd);
        assert!(!lease.hold_if_acknowledged(2), "the leader alone");
        assert!(lease.counts(a, 1) && !lease.counts(a, 2) && !lease.counts(me, 1));
        lease.acknowledge(a);
        assert!(lease.hold_if_acknowledged(2));
        assert_eq!(lease.held, Some(true));
        // Round 2 starts while round 1's lease still runs.
        assert!(!lease.start_round(me));
        assert_eq!(lease.held, Some(true));
        assert!(!lease.counts(b, 1), "an acknowledgement of an older round");
        assert!(lease.expires(true));
        lease.expire(true);
        assert_eq!(lease.held, None);
        assert!(lease.open, "round 2's timer still runs");
        lease.expire(false);
        lease.acknowledge(b);
        assert!(
            !lease.hold_if_acknowledged(2),
            "round 2 closed before its quorum"
        );
        assert!(!lease.expires(false) && !lease.expires(true));
    }
}
