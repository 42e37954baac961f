//! The verified protocol cores.
//!
//! Each protocol is a [`stateright::actor::Actor`]: a pure state machine that
//! sees only its own state, its [`Cluster`] configuration and the messages and
//! timers it receives. The model checker and the UDP runtime drive the very
//! same values of these types.

pub mod bully;
pub mod bully_halt;
pub mod mutants;
pub mod raft;
pub mod ring;

use crate::leadership::Leadership;
use crate::model::{ElectionModel, System};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::Property;
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
    pub timeouts: Timeouts,
    /// A seeded bug every node of the cluster carries (see [`mutants`]).
    #[cfg(feature = "mutants")]
    #[serde(skip)]
    pub mutation: Option<&'static str>,
}

impl Cluster {
    pub fn new(size: usize, timeouts: Timeouts) -> Self {
        Cluster {
            size,
            timeouts,
            #[cfg(feature = "mutants")]
            mutation: None,
        }
    }

    /// Whether this cluster carries the seeded bug `name`. Always false in
    /// normal builds, so the bug code compiles away.
    #[inline(always)]
    pub fn mutated(&self, name: &str) -> bool {
        #[cfg(feature = "mutants")]
        {
            self.mutation == Some(name)
        }
        #[cfg(not(feature = "mutants"))]
        {
            let _ = name;
            false
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

    /// Smallest number of nodes that forms a majority.
    pub fn quorum(&self) -> usize {
        if self.mutated(mutants::RAFT_QUORUM_HALF) {
            return self.size / 2;
        }
        self.size / 2 + 1
    }
}

/// Timer durations. The model checker lets timers fire at any moment (or, in
/// the timely model, whenever the network is quiet); the UDP runtime honours
/// these durations, drawing each timeout at random from its range.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeouts {
    /// Period of a leader's heartbeat.
    pub heartbeat: Duration,
    /// How long a node waits without hearing from a leader before it starts
    /// an election (Raft's randomised election timeout).
    pub election: Range<Duration>,
    /// How long a node waits for a direct answer (Bully's OK, Ring's ack).
    /// Shorter than the heartbeat, which is shorter than the election
    /// timeout: the timely model fires timers in that order.
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

impl Timeouts {
    /// The heartbeat period as a (degenerate) timer range.
    pub fn heartbeat_range(&self) -> Range<Duration> {
        self.heartbeat..self.heartbeat
    }

    /// The reply timeout as a (degenerate) timer range.
    pub fn reply_range(&self) -> Range<Duration> {
        self.reply..self.reply
    }
}

/// The algorithms `elect` implements, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolKind {
    Bully,
    /// Garcia-Molina's original Bully, with the halt phase.
    #[value(name = "bully-halt")]
    #[serde(rename = "bully-halt")]
    BullyHalt,
    Ring,
    Raft,
}

impl ProtocolKind {
    pub const ALL: [ProtocolKind; 3] =
        [ProtocolKind::Bully, ProtocolKind::Ring, ProtocolKind::Raft];

    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Bully => "bully",
            ProtocolKind::BullyHalt => "bully-halt",
            ProtocolKind::Ring => "ring",
            ProtocolKind::Raft => "raft",
        }
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtocolKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bully" => Ok(ProtocolKind::Bully),
            "bully-halt" => Ok(ProtocolKind::BullyHalt),
            "ring" => Ok(ProtocolKind::Ring),
            "raft" => Ok(ProtocolKind::Raft),
            other => Err(format!(
                "unknown protocol '{other}' (expected bully, ring or raft)"
            )),
        }
    }
}

/// Runs `$body` with `$P` standing for the protocol type `$kind` names:
/// `with_protocol!(kind, P => ElectionModel::<P>::new(config))`.
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
        }
    };
}

/// What the model checker, the CLI and the runtime need from a protocol
/// beyond [`Actor`]: a constructor from the cluster configuration, serde for
/// everything that crosses a socket or a disk, and leadership introspection.
pub trait Protocol:
    Actor<
        State: Leadership + Ord + Send + Sync + Serialize,
        Msg: Ord + Send + Sync + Serialize + DeserializeOwned,
        Timer: Ord + Send + Sync + Serialize,
        Storage: Send + Sync + Serialize + DeserializeOwned,
        Random: Send + Sync + Serialize,
    > + Clone
    + Debug
    + Send
    + Sync
    + 'static
{
    const KIND: ProtocolKind;

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

    /// A short name for a message's type, for counters and traces.
    fn message_kind(msg: &Self::Msg) -> &'static str;

    /// The properties the model checker checks for this protocol, each
    /// documented where it is defined.
    fn properties() -> Vec<Property<ElectionModel<Self>>>;

    /// A canonical representative of a state's symmetry class, for protocols
    /// in which every node plays the same part (Raft). Bully and Ring order
    /// nodes by id, so permuting ids changes their behaviour: `None`.
    fn symmetry() -> Option<Canonicalize<Self>> {
        None
    }
}

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

/// Maps a system state to the canonical member of its symmetry class.
pub type Canonicalize<P> = fn(&System<P>) -> System<P>;

/// Arms `timer` for the duration the protocol configures for it.
pub(crate) fn arm<P: Protocol>(protocol: &P, o: &mut Out<P>, timer: P::Timer) {
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
