//! The verified protocol cores.
//!
//! Each protocol is a [`stateright::actor::Actor`]: a pure state machine that
//! sees only its own state, its [`Cluster`] configuration and the messages and
//! timers it receives, and answers with [`Out`] commands (send, save, arm or
//! cancel a timer). The model checker and the UDP runtime drive the very same
//! values of these types; nothing in this module knows which of them is
//! driving.
//!
//! This module depends on Stateright's actor types and on
//! [`crate::leadership`] only. What is *claimed* of each protocol — its
//! properties, the fault model it is checked under, the bugs seeded into it
//! to test the checker — lives in the model layer (`model::claims`,
//! `model::seeded`).

pub mod bully;
pub mod bully_halt;
pub mod lease;
pub mod paxos;
pub mod raft;
pub mod ring;
#[cfg(test)]
pub(crate) mod testkit;

use crate::leadership::Leadership;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::Rewrite;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

/// What every node of a cluster is configured with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cluster {
    /// Number of nodes; node ids are `0..size`.
    pub size: usize,
    /// How long each kind of timer runs.
    pub timeouts: Timeouts,
    /// Raft's switches (PreVote, CheckQuorum) and the leader lease, which
    /// Paxos honours too ([`Cluster::lease`]); Bully and Ring have none and
    /// ignore them.
    #[serde(default)]
    pub raft: raft::RaftOptions,
    /// A deliberate deviation from the algorithm, seeded by the model layer
    /// to prove that the checker catches it. Always `None` outside the
    /// checker: [`Cluster::new`] sets none, and it never crosses a wire.
    #[serde(skip)]
    pub deviation: Option<Deviation>,
}

impl Cluster {
    /// A cluster of `size` nodes running the algorithm as written.
    pub fn new(size: usize, timeouts: Timeouts) -> Self {
        Cluster {
            size,
            timeouts,
            raft: raft::RaftOptions::default(),
            deviation: None,
        }
    }

    /// Every node id, in ascending order.
    pub fn members(&self) -> impl Iterator<Item = Id> + '_ {
        (0..self.size).map(Id::from)
    }

    /// Every node id except `me`.
    pub fn peers(&self, me: Id) -> impl Iterator<Item = Id> + '_ {
        self.members().filter(move |&id| id != me)
    }

    /// Whether `id` names a member.
    pub fn is_member(&self, id: Id) -> bool {
        usize::from(id) < self.size
    }

    /// The leader lease, if on (Raft and Paxos).
    pub fn lease(&self) -> Option<&lease::LeaseConfig> {
        self.raft.lease.as_ref()
    }
}

/// Deviations from an algorithm that live inside its logic, where no
/// wrapper around the actor can reach (bugs at a boundary — a dropped send,
/// an ignored message, a skipped save — are seeded from outside, by
/// `model::seeded`). Each protocol consults its deviations at one
/// clearly marked place only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deviation {
    /// Raft counts a quorum as ⌊n/2⌋ votes instead of ⌊n/2⌋ + 1.
    RaftQuorumOfHalf,
    /// Raft's leader starts a round's lease when a majority has acknowledged
    /// it instead of when it sent the round.
    RaftLeaseFromAcks,
    /// Raft's lease is as long as the followers' promise: no margin for
    /// clock drift (etcd's lease, counted in ticks).
    RaftLeaseWithoutDriftMargin,
    /// A restarted Raft node votes at once instead of keeping quarantine.
    RaftNoQuarantine,
    /// A Raft follower grants votes while its promise to the leader holds.
    RaftVoteDuringPromise,
    /// A Raft leader acts on its lease as its state says, without reading
    /// its clock: after a pause it acts before the expired lease timer has
    /// been handled.
    RaftLeaseWithoutClockCheck,
    /// A Raft node grants a PreVote although it hears from a live leader.
    RaftPreVoteIgnoresLeader,
    /// Ring's initiator elects itself instead of the highest id on the token.
    RingElectsInitiator,
    /// Ring's initiator elects the lowest id on the token.
    RingElectsLowest,
    /// A Paxos proposer counts answers by message, not by acceptor: a
    /// redelivered promise or acceptance counts as one more acceptor.
    PaxosQuorumByMessages,
    /// A Paxos acceptor accepts a proposal whose ballot is below its
    /// promise.
    PaxosAcceptBelowPromise,
    /// A Paxos proposer proposes itself although a promise reported an
    /// accepted proposal.
    PaxosIgnoresAcceptedValue,
    /// A Paxos proposer learns its value from acceptances of a minority
    /// (⌊n/2⌋ acceptors, itself included).
    PaxosLearnsFromMinority,
    /// A Paxos node answers a prepare of the next epoch while its promise
    /// to its leader holds.
    PaxosPromiseDuringLease,
    /// A Paxos node acknowledges its leader's round although it has
    /// promised a proposer of the next epoch.
    PaxosAcksAfterPromise,
    /// A Paxos node that learns, from a prepare of the next epoch, that it
    /// leads the epoch before answers that prepare although it now leads
    /// under a lease.
    PaxosPromisesAsItLearnsToLead,
    /// A Paxos node that starts or restarts answers prepares at once
    /// instead of keeping quarantine.
    PaxosNoQuarantine,
    /// Bully's node that waits for a winner stays quiet on a lower ELECTION
    /// instead of starting afresh (the message-saving variant, which
    /// livelocks).
    BullyWaitingStaysQuiet,
}

/// Timer durations. The model checker lets timers fire at any moment (or, in
/// the timely model, in the order these durations imply); the UDP runtime
/// honours them, drawing each timeout at random from its range.
///
/// The contract every protocol and the checker's timely model rely on:
/// `reply < heartbeat < election.start` — an answer is awaited for less than
/// a heartbeat period, and a leader's heartbeat comes well before its
/// followers give up on it. [`Timeouts::validate`] enforces it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeouts {
    /// Period of a leader's heartbeat.
    pub heartbeat: Duration,
    /// How long a node waits without hearing from a leader before it starts
    /// an election (Raft's randomised election timeout).
    pub election: Range<Duration>,
    /// How long a node waits for a direct answer (Bully's OK, Ring's ack).
    pub reply: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            heartbeat: Duration::from_millis(50),
            election: Duration::from_millis(500)..Duration::from_millis(1000),
            reply: Duration::from_millis(25),
        }
    }
}

/// Timer durations that break the order `reply < heartbeat < election`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutsError {
    /// The election timeout's range is empty.
    #[error("the election timeout range {lo:?}..{hi:?} is empty")]
    EmptyElectionRange {
        /// Start of the range.
        lo: Duration,
        /// End of the range.
        hi: Duration,
    },
    /// Followers would suspect a live leader between two heartbeats.
    #[error("the heartbeat ({heartbeat:?}) must be shorter than the election timeout ({election:?}): followers would suspect a live leader")]
    HeartbeatNotShorterThanElection {
        /// The heartbeat period.
        heartbeat: Duration,
        /// The shortest election timeout.
        election: Duration,
    },
    /// A node would give up on an answer later than the next heartbeat.
    #[error("the reply timeout ({reply:?}) must be shorter than the heartbeat ({heartbeat:?}): the checker orders timers reply < heartbeat < election")]
    ReplyNotShorterThanHeartbeat {
        /// The reply timeout.
        reply: Duration,
        /// The heartbeat period.
        heartbeat: Duration,
    },
}

impl Timeouts {
    /// The heartbeat period as a (degenerate) timer range.
    pub fn heartbeat_range(&self) -> Range<Duration> {
        self.heartbeat..self.heartbeat
    }

    /// The reply timeout as a (degenerate) timer range.
    pub fn reply_range(&self) -> Range<Duration> {
        self.reply..self.reply
    }

    /// Checks the order `reply < heartbeat < election` that the checker's
    /// timing model assumes, so that no node runs with timing the checker
    /// never saw.
    pub fn validate(&self) -> Result<(), TimeoutsError> {
        if self.election.start > self.election.end {
            return Err(TimeoutsError::EmptyElectionRange {
                lo: self.election.start,
                hi: self.election.end,
            });
        }
        if self.heartbeat >= self.election.start {
            return Err(TimeoutsError::HeartbeatNotShorterThanElection {
                heartbeat: self.heartbeat,
                election: self.election.start,
            });
        }
        if self.reply >= self.heartbeat {
            return Err(TimeoutsError::ReplyNotShorterThanHeartbeat {
                reply: self.reply,
                heartbeat: self.heartbeat,
            });
        }
        Ok(())
    }
}

/// The algorithms `elect` implements, as named on the command line: the one
/// table of protocols. Everything else that differs between protocols comes
/// from their [`Protocol`] implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolKind {
    /// The seed's Bully algorithm.
    Bully,
    /// Garcia-Molina's original Bully, with the halt phase.
    #[value(name = "bully-halt")]
    #[serde(rename = "bully-halt")]
    BullyHalt,
    /// The seed's Ring algorithm.
    Ring,
    /// Raft's leader election.
    Raft,
    /// A leader per epoch, chosen by single-decree Paxos.
    Paxos,
}

impl ProtocolKind {
    /// Every protocol, in the order `elect check all` checks them.
    pub const ALL: [ProtocolKind; 5] = [
        ProtocolKind::Bully,
        ProtocolKind::BullyHalt,
        ProtocolKind::Ring,
        ProtocolKind::Raft,
        ProtocolKind::Paxos,
    ];

    /// The name used on the command line, in files and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Bully => "bully",
            ProtocolKind::BullyHalt => "bully-halt",
            ProtocolKind::Ring => "ring",
            ProtocolKind::Raft => "raft",
            ProtocolKind::Paxos => "paxos",
        }
    }

    /// Every protocol's name, `bully, bully-halt, ring, raft, paxos`, for
    /// messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Whether the protocol's nodes are interchangeable
    /// ([`Protocol::SYMMETRIC`]).
    pub fn is_symmetric(self) -> bool {
        crate::with_protocol!(self, P => P::SYMMETRIC)
    }

    /// Whether the protocol offers the leader lease
    /// ([`Protocol::HAS_LEASE`]).
    pub fn has_lease(self) -> bool {
        crate::with_protocol!(self, P => P::HAS_LEASE)
    }

    /// What a node of this protocol risks without durable storage
    /// ([`Protocol::WITHOUT_STORAGE`]).
    pub fn without_storage(self) -> Option<&'static str> {
        crate::with_protocol!(self, P => P::WITHOUT_STORAGE)
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A protocol name that names no protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol '{0}' (expected {names})", names = ProtocolKind::names())]
pub struct UnknownProtocol(pub String);

impl FromStr for ProtocolKind {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

/// Runs `$body` with `$P` standing for the protocol type `$kind` names:
/// `with_protocol!(kind, P => ElectionModel::<P>::new(config))`. The one
/// place that maps [`ProtocolKind`] to types.
#[macro_export]
macro_rules! with_protocol {
    ($kind:expr, $P:ident => $body:expr) => {
        match $kind {
            $crate::protocols::ProtocolKind::Bully => {
                type $P = $crate::protocols::bully::Bully;
                $body
            }
            $crate::protocols::ProtocolKind::BullyHalt => {
                type $P = $crate::protocols::bully_halt::BullyHalt;
                $body
            }
            $crate::protocols::ProtocolKind::Ring => {
                type $P = $crate::protocols::ring::Ring;
                $body
            }
            $crate::protocols::ProtocolKind::Raft => {
                type $P = $crate::protocols::raft::Raft;
                $body
            }
            $crate::protocols::ProtocolKind::Paxos => {
                type $P = $crate::protocols::paxos::Paxos;
                $body
            }
        }
    };
}

/// What the model checker, the CLI and the runtime need from a protocol
/// beyond [`Actor`]: a constructor from the cluster configuration, serde for
/// everything that crosses a socket or a disk, leadership introspection, and
/// [`Rewrite`] so that states can be relabelled (used for symmetry
/// reduction only when [`Protocol::SYMMETRIC`] says relabelling is sound).
///
/// Two contracts every implementation keeps, which the runtime and the
/// checker both rely on:
/// - **Storage before speech.** A handler that calls [`Out::save`] and
///   [`Out::send`] means the save to be durable before any of the sends
///   leaves the node; the runtime writes it first, and the checker treats a
///   handler's commands as one atomic step.
/// - **Timer order.** Every timer is armed through [`arm`], for the range
///   [`Protocol::timer_range`] gives, and those ranges keep
///   `reply < heartbeat < election` ([`Timeouts::validate`]).
pub trait Protocol:
    Actor<
        State: Leadership + Ord + Send + Sync + Serialize + Rewrite<Id> + Terms,
        Msg: Ord + Send + Sync + Serialize + DeserializeOwned + Rewrite<Id> + Terms,
        Timer: Ord + Send + Sync + Serialize,
        Storage: Send + Sync + Serialize + DeserializeOwned + Rewrite<Id> + Terms,
        Random: Send + Sync + Serialize + Rewrite<Id>,
    > + Clone
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Which entry of the protocol table this is.
    const KIND: ProtocolKind;

    /// Whether every node plays the same part, so that permuting node ids
    /// maps behaviours to behaviours and the checker may explore one state
    /// per symmetry class (Raft). Bully and Ring order nodes by id.
    const SYMMETRIC: bool = false;

    /// Whether views carry a term ([`Leadership::term`] is `Some`), so that
    /// "two leaders in one term" is meaningful.
    const HAS_TERMS: bool = false;

    /// Whether the protocol honours the leader lease
    /// ([`Cluster::lease`], [`lease`]): Raft and Paxos.
    const HAS_LEASE: bool = false;

    /// What a node risks when run without durable storage, for protocols
    /// that persist anything; `None` when nothing is persisted.
    const WITHOUT_STORAGE: Option<&'static str> = None;

    /// The node program every member of `cluster` runs.
    fn new(cluster: Cluster) -> Self;

    /// The cluster this node belongs to.
    fn cluster(&self) -> &Cluster;

    /// How long `timer` runs. Handlers arm every timer through [`arm`], so
    /// the runtime and the timely model both see exactly these durations.
    fn timer_range(&self, timer: &Self::Timer) -> Range<Duration>;

    /// What part `timer` plays; the timely model orders timers by it.
    fn timer_role(&self, timer: &Self::Timer) -> TimerRole;

    /// The term a message carries, for protocols with terms.
    fn message_term(msg: &Self::Msg) -> Option<u64> {
        let _ = msg;
        None
    }

    /// The term a node in `state` must adopt on receiving `msg`, if it is
    /// above its own: the message's term, unless the protocol disregards
    /// such a message in that state (Raft's promise, thesis §4.2.3).
    fn term_to_adopt(&self, state: &Self::State, msg: &Self::Msg) -> Option<u64> {
        let _ = state;
        Self::message_term(msg)
    }

    /// The timer whose deadline ends the lease `state` holds, if it holds
    /// one (see [`Protocol::lease_valid`]).
    fn lease_timer(&self, state: &Self::State) -> Option<Self::Timer> {
        let _ = state;
        None
    }

    /// Whether a node in `state` may act as the only leader now: it holds a
    /// lease, and its clock, read at this moment, says the deadline of the
    /// lease's timer has not passed — `expired` is that reading. Reading the
    /// clock rather than waiting for the timer to fire is what makes a
    /// leader that wakes from a pause (SIGSTOP, a long GC) know at once
    /// that its lease has lapsed, before it has handled anything. The
    /// runtime's lease guard and the timed model's "acting as leader" both
    /// ask this.
    fn lease_valid(&self, state: &Self::State, expired: &dyn Fn(&Self::Timer) -> bool) -> bool {
        state.holds_lease()
            && self
                .lease_timer(state)
                .is_some_and(|timer| !expired(&timer))
    }

    /// A short name for a message's type, for counters and traces.
    fn message_kind(msg: &Self::Msg) -> &'static str;

    /// The largest message a member of `cluster` can send, for protocols
    /// whose messages grow with the cluster (Ring's tokens list members);
    /// `None` when every message has a small fixed size. The runtime refuses
    /// to start a cluster whose largest message would not fit a datagram.
    fn largest_message(cluster: &Cluster) -> Option<Self::Msg> {
        let _ = cluster;
        None
    }
}

/// Values that carry terms (Raft's states, messages and storage), so that
/// the checker can shift every term of a system state down by the same
/// amount: a protocol whose handlers only compare terms and add one to them
/// behaves the same after such a shift (see
/// `model::ModelConfig::normalize_terms`). A node that starts without
/// storage starts at term 0. Values without terms implement it as a no-op ([`no_terms!`](crate::no_terms)).
pub trait Terms {
    /// The lowest term the value carries, if it carries any.
    fn lowest_term(&self) -> Option<u64>;
    /// The value with every term it carries lowered by `by` (at most its
    /// lowest term).
    fn lower_terms(&self, by: u64) -> Self;
}

/// Implements [`Terms`] as a no-op for types that carry no term.
#[macro_export]
macro_rules! no_terms {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::protocols::Terms for $t {
            fn lowest_term(&self) -> Option<u64> {
                None
            }
            fn lower_terms(&self, _by: u64) -> Self {
                self.clone()
            }
        })*
    };
}

no_terms!(());

/// The part a timer plays, which tells the timely model how it relates to
/// other nodes' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerRole {
    /// A leader's periodic heartbeat, re-armed every time it fires.
    Heartbeat,
    /// A follower's watch on the leader, restarted by every heartbeat.
    WatchesLeader,
    /// Any other timeout: it fires once unless its node re-arms it.
    Other,
}

/// Arms `timer` for the duration the protocol configures for it.
pub fn arm<P: Protocol>(protocol: &P, o: &mut Out<P>, timer: P::Timer) {
    let range = protocol.timer_range(&timer);
    o.set_timer(timer, range);
}

/// Writes `n3`-style names for a list of ids.
pub(crate) struct Ids<'a>(pub &'a [Id]);

impl Debug for Ids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "n{}", usize::from(*id))?;
        }
        f.write_str("]")
    }
}

/// `n3` or `-`.
pub(crate) struct MaybeId(pub Option<Id>);

impl fmt::Display for MaybeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "n{}", usize::from(id)),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn timeouts(reply: u64, heartbeat: u64, (lo, hi): (u64, u64)) -> Timeouts {
        Timeouts {
            heartbeat: ms(heartbeat),
            election: ms(lo)..ms(hi),
            reply: ms(reply),
        }
    }

    /// The order `reply < heartbeat < election` is checked at its edges:
    /// each strict inequality refuses equality, and a fixed election
    /// timeout (`lo..lo`, which the runtime draws from as `lo`) is accepted.
    #[test]
    fn timeouts_are_refused_exactly_where_their_order_breaks() {
        assert_eq!(Timeouts::default().validate(), Ok(()));
        assert_eq!(timeouts(25, 50, (500, 500)).validate(), Ok(()));
        assert_eq!(timeouts(49, 50, (51, 52)).validate(), Ok(()));
        assert_eq!(
            timeouts(25, 50, (500, 499)).validate(),
            Err(TimeoutsError::EmptyElectionRange {
                lo: ms(500),
                hi: ms(499)
            })
        );
        assert_eq!(
            timeouts(25, 500, (500, 600)).validate(),
            Err(TimeoutsError::HeartbeatNotShorterThanElection {
                heartbeat: ms(500),
                election: ms(500)
            })
        );
        assert_eq!(
            timeouts(50, 50, (500, 600)).validate(),
            Err(TimeoutsError::ReplyNotShorterThanHeartbeat {
                reply: ms(50),
                heartbeat: ms(50)
            })
        );
    }

    /// `elect check raft` checks Raft: every protocol is found by its own
    /// name, and any other name is refused with the names there are.
    #[test]
    fn every_protocol_is_parsed_from_its_name() {
        for kind in ProtocolKind::ALL {
            assert_eq!(kind.name().parse::<ProtocolKind>(), Ok(kind));
        }
        let unknown = "viewstamped"
            .parse::<ProtocolKind>()
            .expect_err("not (yet) a protocol");
        assert!(unknown.to_string().contains("bully-halt"), "{unknown}");
    }

    /// Only Raft (its term and vote) and Paxos (its promises and accepted
    /// proposals) keep state that must outlive a restart, so only their
    /// nodes warn when run without `--data-dir`.
    #[test]
    fn only_raft_and_paxos_warn_about_running_without_storage() {
        for kind in ProtocolKind::ALL {
            let risk = kind.without_storage();
            let persists = matches!(kind, ProtocolKind::Raft | ProtocolKind::Paxos);
            assert_eq!(risk.is_some(), persists, "{kind}");
            if let Some(risk) = risk {
                assert!(
                    risk.contains("twice") || risk.contains("two leaders"),
                    "{risk}"
                );
            }
        }
    }
}
