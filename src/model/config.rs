//! What a checked configuration is made of: the cluster, the faults it may
//! suffer, the timing assumption and the bounds.

use crate::protocols::lease::LeaseConfig;
use crate::protocols::raft::RaftOptions;
use crate::protocols::ProtocolKind;
use crate::topology::Links;
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
    ///
    /// These rules assume more than synchrony (zero message delay, and timers
    /// ordered by duration whenever they were armed): they exclude real
    /// executions. [`Timing::Timed`] is the faithful synchronous model.
    Timely,
    /// Δ-synchronous, with time made explicit (see [`super::clock`]): real
    /// time passes in ticks, each a step of the trace; every message is
    /// delivered or lost within `delta` ticks of being sent; every timer
    /// fires within the window its duration allows, measured from when it
    /// was armed (re-arming restarts it) and widened by the clocks' drift
    /// bound. Durations are the small integers of [`ClockConfig`].
    Timed,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timing::Asynchronous => "asynchronous",
            Timing::Timely => "timely",
            Timing::Timed => "timed",
        })
    }
}

fn yes() -> bool {
    true
}

/// The clocks of the timed model ([`Timing::Timed`]), in ticks: how late a
/// message may arrive, how far each node's clock may drift, and the timeouts
/// every node is configured with. The nodes run exactly these durations, one
/// tick read as one millisecond; only ratios matter, so the verdicts hold for
/// any tick length (a cluster run with every duration ten times longer
/// behaves as this model with a tick of 10 ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Δ: every message is delivered (or lost) at most this many ticks after
    /// it was sent.
    #[serde(default = "ClockConfig::default_delta")]
    pub delta: u32,
    /// ε, the drift bound, in parts per million: each node's clock runs at a
    /// rate within [1 − ε, 1 + ε] of real time. Written `drift = 0.05` in a
    /// scenario file.
    #[serde(default, rename = "drift", with = "drift_fraction")]
    pub drift_ppm: u32,
    /// How long a node waits for a direct answer, in local ticks.
    #[serde(default = "ClockConfig::default_reply")]
    pub reply: u32,
    /// A leader's heartbeat period, in local ticks.
    #[serde(default = "ClockConfig::default_heartbeat")]
    pub heartbeat: u32,
    /// The election timeout's range `[lo, hi]`, in local ticks.
    #[serde(default = "ClockConfig::default_election")]
    pub election: [u32; 2],
    /// Staggered starts: every node starts at some tick within this many
    /// of the beginning, the checker choosing which (0: all start together).
    #[serde(default)]
    pub stagger: u32,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            delta: Self::default_delta(),
            drift_ppm: 0,
            reply: Self::default_reply(),
            heartbeat: Self::default_heartbeat(),
            election: Self::default_election(),
            stagger: 0,
        }
    }
}

impl ClockConfig {
    fn default_delta() -> u32 {
        1
    }
    // The defaults keep the order the protocols rely on with one message
    // delay to spare: an answer comes within a round trip (2Δ) and the reply
    // timeout is longer; heartbeats come well inside the election timeout.
    fn default_reply() -> u32 {
        3
    }
    fn default_heartbeat() -> u32 {
        4
    }
    fn default_election() -> [u32; 2] {
        [8, 10]
    }

    /// The timeouts the modelled nodes run, one tick read as a millisecond.
    pub fn timeouts(&self) -> crate::protocols::Timeouts {
        let ms = |ticks: u32| std::time::Duration::from_millis(u64::from(ticks));
        crate::protocols::Timeouts {
            heartbeat: ms(self.heartbeat),
            election: ms(self.election[0])..ms(self.election[1]),
            reply: ms(self.reply),
        }
    }

    /// The real-time window, in ticks after arming, in which a timer of
    /// local duration `lo..hi` ticks may fire on a clock that drifts by at
    /// most ε: a local duration d passes after between d / (1 + ε) and
    /// d / (1 − ε) of real time. Rounded outwards, so that every real
    /// firing time lies inside.
    pub fn window(&self, lo: u64, hi: u64) -> (u64, u64) {
        let million = 1_000_000u128;
        let ppm = u128::from(self.drift_ppm);
        let earliest = u128::from(lo) * million / (million + ppm);
        let latest = (u128::from(hi) * million).div_ceil(million - ppm.min(million - 1));
        (
            u64::try_from(earliest).unwrap_or(u64::MAX),
            u64::try_from(latest).unwrap_or(u64::MAX),
        )
    }

    /// ε as a fraction.
    pub fn drift(&self) -> f64 {
        f64::from(self.drift_ppm) / 1e6
    }
}

/// `drift = 0.05` in a file, 50,000 parts per million in memory (so that the
/// configuration stays `Eq` and `Hash`).
mod drift_fraction {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ppm: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(*ppm) / 1e6)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let fraction = f64::deserialize(d)?;
        super::drift_ppm(fraction).map_err(serde::de::Error::custom)
    }
}

/// ε as parts per million, or why it cannot be one.
pub fn drift_ppm(fraction: f64) -> Result<u32, String> {
    if !(0.0..0.5).contains(&fraction) {
        return Err(format!(
            "the drift bound must be at least 0 and below 0.5 (got {fraction})"
        ));
    }
    Ok((fraction * 1e6).round() as u32)
}

/// One checked configuration: the cluster and the faults it may suffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Cluster size; node ids are `0..nodes`.
    pub nodes: usize,
    /// How the network treats messages.
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
    /// A fixed topology: only these directed links work, from the start
    /// and for good (GST does not mend them): `"0-1 1-2 2>0"`, `A-B` both
    /// ways and `A>B` one way. Every link when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// A change of topology that may happen once, before GST, as an
    /// explicit step ("the links change"): from then on only these links
    /// work, for good. It lets a scenario elect a leader on one topology
    /// and then take links away from it, as Omni-Paxos's quorum-loss and
    /// constrained-election scenarios do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_after: Option<Links>,
    /// How many times a single working link may fail, one way or both
    /// ways, in the whole execution (each failure an explicit step, healed
    /// by another explicit step; GST heals every failed link).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub link_failures: usize,
    /// How many times a node may be paused in the whole execution (timed
    /// timing only): it takes no step while real time goes on, then
    /// resumes where it stopped, as a process does after SIGSTOP and
    /// SIGCONT (see [`super::clock`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pauses: usize,
    /// When timers may fire.
    pub timing: Timing,
    /// Adds a "GST" step (global stabilisation time) that the checker may
    /// take at any point: afterwards no crash, recovery, loss or partition
    /// happens, timing is timely, and timers are fair: a heartbeat does not
    /// fire while a timer it does not restart is armed at a live node. The
    /// liveness check then decides "stable leader after GST": every path
    /// after GST reaches a single leader known to all, and keeps it.
    #[serde(default)]
    pub gst: bool,
    /// With `gst`: the most steps after GST that stabilisation may take
    /// (the check reports how many it takes; this makes more a violation).
    /// The default models and the quick GST scenarios pin it to what was
    /// measured, so a change that makes a protocol slower to settle — a
    /// needless extra election, a node that rejoins only through a
    /// timeout — fails the check instead of passing unnoticed; a change
    /// meant to be slower pins the new number, with its reason.
    #[serde(default)]
    pub stabilize_within: Option<usize>,
    /// Shift every term of a state down so that the lowest is 0 (protocols
    /// with terms). Behaviour depends only on the order and equality of
    /// terms, so states that differ by such a shift are one state: an
    /// election beyond the last term is no longer cut off, and `max_term`
    /// bounds the spread between the lowest and the highest term instead.
    /// Needs `persist` (a node that loses its storage goes back to term 0).
    #[serde(default)]
    pub normalize_terms: bool,
    /// Bound: states in which a node's term exceeds this are not explored
    /// (protocols with terms only).
    pub max_term: u64,
    /// Bound: states with more messages in flight are not explored.
    pub max_in_flight: usize,
    /// Past `max_in_flight`, let the network drain instead of cutting the
    /// state off: a state with more messages in flight may still take every
    /// delivery and loss that does not add to what is in flight (and is
    /// explored as usual once it is back within the cap). A message that was
    /// in flight when a timer overfilled the network is still seen to
    /// arrive — the stale vote that makes a second leader, say — at the cost
    /// of more states.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain_past_cap: bool,
    /// With timed timing: the clocks (Δ, drift, timeouts in ticks); the
    /// defaults of [`ClockConfig`] when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockConfig>,
    /// Raft's PreVote switch (see [`crate::protocols::raft`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre_vote: bool,
    /// Raft's CheckQuorum switch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_quorum: bool,
    /// The leader lease (Raft and Paxos), if on: its length in the model's time — ticks
    /// under timed timing, otherwise milliseconds beside the default
    /// timeouts (heartbeat 50, election 500..1000). Its drift bound is the
    /// clock's (0 outside the timed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<u32>,
}

/// A configuration that cannot be checked. The message names the setting
/// either as a scenario file's key or as a command-line flag
/// ([`ConfigError::message`]); `Display` uses the keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Naming::Keys))]
pub enum ConfigError {
    /// The number of nodes is outside what can be checked.
    NodesOutOfRange {
        /// The number given.
        got: usize,
    },
    /// More crashes than nodes.
    CrashesExceedNodes {
        /// The crash budget.
        crashes: usize,
        /// The number of nodes.
        nodes: usize,
    },
    /// Recovery without a crash budget.
    RecoverWithoutCrashes,
    /// Timely timing on a network that never consumes a message.
    TimelyOnDuplicatingNetwork,
    /// A cap of zero messages in flight.
    NoMessageInFlight,
    /// Partitions of a one-node cluster.
    PartitionsNeedTwoNodes,
    /// Link failures of a one-node cluster.
    LinkFailuresNeedTwoNodes,
    /// A topology that names a node the cluster does not have.
    LinksBeyondNodes {
        /// The highest node id named, plus one.
        span: usize,
        /// The number of nodes.
        nodes: usize,
    },
    /// A stabilisation bound of zero steps.
    ZeroStabilizeWithin,
    /// Relative terms where a node can forget its term.
    NormalizedTermsWithoutStorage,
    /// Clock settings without timed timing, where nothing would read them.
    ClockWithoutTimedTiming,
    /// Pauses without timed timing: with no time to pass while a node is
    /// paused, a pause is only a slow node, which the other timings
    /// already allow.
    PausesWithoutTimedTiming,
    /// The timed model's timeouts break `reply < heartbeat < election`.
    ClockTimeoutsOutOfOrder(ClockConfig),
    /// A lease that breaks the rule that makes it safe.
    LeaseUnsafe(String),
    /// A lease that is safe in real time but whose window, rounded out to
    /// whole ticks, may reach the tick at which a promise may end: the
    /// model could not tell them apart.
    LeaseUnsafeInTicks {
        /// The lease, in local ticks.
        lease: u32,
        /// The tick by which it surely ends.
        lease_latest: u64,
        /// The promise (the minimum election timeout), in local ticks.
        promise: u32,
        /// The first tick at which it may end.
        promise_earliest: u64,
    },
    /// Raft's switches (PreVote, CheckQuorum) given to another protocol.
    RaftSwitchesWithoutRaft(ProtocolKind),
    /// The lease given to a protocol that has none.
    LeaseWithoutLeases(ProtocolKind),
    /// A timeout that may expire before a tick has passed, so that a
    /// timer could fire again and again while time stands still.
    TimeoutUnderOneTick {
        /// Which timeout.
        timeout: &'static str,
        /// Its length in local ticks.
        ticks: u32,
    },
}

/// How an error names a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// As a scenario file's key: `max_in_flight`.
    Keys,
    /// As a command-line flag: `--max-in-flight`.
    Flags,
}

impl Naming {
    fn name(self, key: &str) -> String {
        match self {
            Naming::Keys => key.to_string(),
            Naming::Flags => format!("--{}", key.replace('_', "-")),
        }
    }
}

impl ConfigError {
    /// The problem in words, naming settings as `naming` says.
    pub fn message(&self, naming: Naming) -> String {
        let n = |key: &str| naming.name(key);
        // The clock's settings sit in their own table of a scenario file.
        let c = |key: &str, flag: &str| match naming {
            Naming::Keys => format!("clock.{key}"),
            Naming::Flags => format!("--{flag}"),
        };
        match self {
            ConfigError::NodesOutOfRange { got } => {
                format!("{} must be between 1 and 9 (got {got})", n("nodes"))
            }
            ConfigError::CrashesExceedNodes { crashes, nodes } => format!(
                "{} {crashes} exceeds the number of nodes ({nodes})",
                n("crashes")
            ),
            ConfigError::RecoverWithoutCrashes => format!(
                "{} needs a crash budget ({} 1 or more)",
                n("recover"),
                n("crashes")
            ),
            ConfigError::TimelyOnDuplicatingNetwork => format!(
                "timely or timed timing (and GST) needs a network that consumes delivered messages \
                 ({} ordered or unordered): on a duplicating network a message stays in \
                 flight for ever, so no timer could fire",
                n("network")
            ),
            ConfigError::NoMessageInFlight => {
                format!("{} must be at least 1", n("max_in_flight"))
            }
            ConfigError::PartitionsNeedTwoNodes => {
                format!("{} needs at least 2 nodes", n("partitions"))
            }
            ConfigError::LinkFailuresNeedTwoNodes => {
                format!("{} needs at least 2 nodes", n("link_failures"))
            }
            ConfigError::LinksBeyondNodes { span, nodes } => format!(
                "{} names node {} but the cluster has {nodes} (ids 0 to {})",
                n("links"),
                span - 1,
                nodes.saturating_sub(1)
            ),
            ConfigError::ZeroStabilizeWithin => {
                format!("{} must be at least 1 step", n("stabilize_within"))
            }
            ConfigError::NormalizedTermsWithoutStorage => format!(
                "{} needs {}: a node that loses its storage goes back to term 0",
                n("normalize_terms"),
                n("persist")
            ),
            ConfigError::ClockWithoutTimedTiming => format!(
                "clock settings ({}, {}, the timeouts in ticks) need {} timed",
                c("delta", "delta"),
                c("drift", "drift"),
                n("timing")
            ),
            ConfigError::PausesWithoutTimedTiming => format!(
                "{} needs {} timed: only with time explicit does a paused node miss anything",
                n("pauses"),
                n("timing")
            ),
            ConfigError::ClockTimeoutsOutOfOrder(clock) => format!(
                "timed model: the timeouts must keep reply < heartbeat < election, low end ≤ high \
                 end (got {} {}, {} {}, {} {}..{})",
                c("reply", "reply-ticks"),
                clock.reply,
                c("heartbeat", "heartbeat-ticks"),
                clock.heartbeat,
                c("election", "election-ticks"),
                clock.election[0],
                clock.election[1]
            ),
            ConfigError::LeaseUnsafe(why) => format!("{}: {why}", n("lease")),
            ConfigError::LeaseUnsafeInTicks {
                lease,
                lease_latest,
                promise,
                promise_earliest,
            } => format!(
                "timed model: the lease ({lease} ticks) may last until tick {lease_latest} on a \
                 slow clock, and a follower's promise ({promise} ticks, the minimum election \
                 timeout) may end at tick {promise_earliest} on a fast one; {} must end first — \
                 shorten {} or lengthen {}",
                n("lease"),
                n("lease"),
                c("election", "election-ticks")
            ),
            ConfigError::RaftSwitchesWithoutRaft(kind) => format!(
                "{} and {} are Raft's switches; {kind} has none",
                n("pre_vote"),
                n("check_quorum"),
            ),
            ConfigError::LeaseWithoutLeases(kind) => format!(
                "{}: {kind} has no leader lease (Raft and Paxos have one)",
                n("lease")
            ),
            ConfigError::TimeoutUnderOneTick { timeout, ticks } => format!(
                "timed model: the {timeout} timeout ({ticks} ticks) can expire before one tick \
                 of real time on a clock that runs fast by {}; make it longer or {} smaller",
                c("drift", "drift"),
                c("drift", "drift")
            ),
        }
    }
}

impl ModelConfig {
    /// The configuration `elect check <protocol>` uses when no flag changes
    /// it (see [`super::Modelled::default_model`]).
    pub fn default_for(kind: ProtocolKind) -> ModelConfig {
        crate::with_protocol!(kind, P => <P as super::Modelled>::default_model())
    }

    /// Checks the combination makes sense for any protocol ([`Self::validate_for`]
    /// checks it for the one that will run it).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nodes == 0 || self.nodes > 9 {
            return Err(ConfigError::NodesOutOfRange { got: self.nodes });
        }
        if self.crashes > self.nodes {
            return Err(ConfigError::CrashesExceedNodes {
                crashes: self.crashes,
                nodes: self.nodes,
            });
        }
        if self.recover && self.crashes == 0 {
            return Err(ConfigError::RecoverWithoutCrashes);
        }
        let timely_somewhere = self.timing != Timing::Asynchronous || self.gst;
        if timely_somewhere && self.network == NetworkKind::Duplicating {
            return Err(ConfigError::TimelyOnDuplicatingNetwork);
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::NoMessageInFlight);
        }
        if self.partitions > 0 && self.nodes < 2 {
            return Err(ConfigError::PartitionsNeedTwoNodes);
        }
        if self.link_failures > 0 && self.nodes < 2 {
            return Err(ConfigError::LinkFailuresNeedTwoNodes);
        }
        let span = self
            .links
            .into_iter()
            .chain(self.links_after)
            .map(Links::span)
            .max();
        if let Some(span) = span.filter(|&s| s > self.nodes) {
            return Err(ConfigError::LinksBeyondNodes {
                span,
                nodes: self.nodes,
            });
        }
        if self.stabilize_within == Some(0) {
            return Err(ConfigError::ZeroStabilizeWithin);
        }
        if self.normalize_terms && !self.persist {
            return Err(ConfigError::NormalizedTermsWithoutStorage);
        }
        if self.timing == Timing::Timed {
            let clock = self.clock.unwrap_or_default();
            if clock.timeouts().validate().is_err() {
                return Err(ConfigError::ClockTimeoutsOutOfOrder(clock));
            }
        } else if self.clock.is_some() {
            return Err(ConfigError::ClockWithoutTimedTiming);
        } else if self.pauses > 0 {
            return Err(ConfigError::PausesWithoutTimedTiming);
        }
        self.validate_lease()
    }

    /// The lease must be safe for the drift bound, and, in the timed model,
    /// still so once its window is rounded out to whole ticks.
    fn validate_lease(&self) -> Result<(), ConfigError> {
        let Some(lease) = self.raft_options().lease else {
            return Ok(());
        };
        let timeouts = self.timeouts();
        lease
            .validate(&timeouts)
            .map_err(|e| ConfigError::LeaseUnsafe(e.to_string()))?;
        if let (Timing::Timed, Some(ticks)) = (self.timing, self.lease) {
            let clock = self.clock.unwrap_or_default();
            let promise = clock.election[0];
            let (_, lease_latest) = clock.window(u64::from(ticks), u64::from(ticks));
            let (promise_earliest, _) = clock.window(u64::from(promise), u64::from(promise));
            if lease_latest >= promise_earliest {
                return Err(ConfigError::LeaseUnsafeInTicks {
                    lease: ticks,
                    lease_latest,
                    promise,
                    promise_earliest,
                });
            }
        }
        Ok(())
    }

    /// Refuses Raft's switches for any other protocol, and the lease for
    /// protocols without one.
    pub fn validate_for(&self, kind: ProtocolKind) -> Result<(), ConfigError> {
        if (self.pre_vote || self.check_quorum) && kind != ProtocolKind::Raft {
            return Err(ConfigError::RaftSwitchesWithoutRaft(kind));
        }
        if self.lease.is_some() && !kind.has_lease() {
            return Err(ConfigError::LeaseWithoutLeases(kind));
        }
        self.validate()?;
        if self.timing == Timing::Timed {
            // The shortest timeout the protocol arms (the order of the
            // timeouts makes it the reply's, which Raft and Paxos never arm).
            let clock = self.clock.unwrap_or_default();
            let (timeout, ticks) = match kind {
                ProtocolKind::Raft | ProtocolKind::Paxos => ("heartbeat", clock.heartbeat),
                _ => ("reply", clock.reply),
            };
            if clock.window(u64::from(ticks), u64::from(ticks)).0 == 0 {
                return Err(ConfigError::TimeoutUnderOneTick { timeout, ticks });
            }
        }
        Ok(())
    }

    /// The timeouts the modelled nodes run: the clock's in ticks read as
    /// milliseconds under timed timing, the defaults otherwise.
    pub fn timeouts(&self) -> crate::protocols::Timeouts {
        match self.timing {
            Timing::Timed => self.clock.unwrap_or_default().timeouts(),
            _ => crate::protocols::Timeouts::default(),
        }
    }

    /// Raft's switches as the modelled nodes run them.
    pub fn raft_options(&self) -> RaftOptions {
        let drift_ppm = match self.timing {
            Timing::Timed => self.clock.unwrap_or_default().drift_ppm,
            _ => 0,
        };
        RaftOptions {
            pre_vote: self.pre_vote,
            check_quorum: self.check_quorum,
            lease: self.lease.map(|length| LeaseConfig {
                duration: std::time::Duration::from_millis(u64::from(length)),
                drift_ppm,
            }),
        }
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
        if self.link_failures > 0 {
            parts.push(format!(
                "{} link failure{}",
                self.link_failures,
                if self.link_failures == 1 { "" } else { "s" }
            ));
        }
        if let Some(links) = self.links {
            parts.push(format!("links {links}"));
        }
        if let Some(links) = self.links_after {
            parts.push(format!("then links {links}"));
        }
        if self.pauses > 0 {
            parts.push(format!(
                "{} pause{}",
                self.pauses,
                if self.pauses == 1 { "" } else { "s" }
            ));
        }
        parts.push(match (self.timing, self.clock.unwrap_or_default()) {
            (Timing::Timed, c) => format!(
                "timed: Δ {} tick{}, drift {}, reply {}, heartbeat {}, election {}..{} ticks{}",
                c.delta,
                if c.delta == 1 { "" } else { "s" },
                c.drift(),
                c.reply,
                c.heartbeat,
                c.election[0],
                c.election[1],
                if c.stagger > 0 {
                    format!(", starts within {} ticks", c.stagger)
                } else {
                    String::new()
                }
            ),
            (timing, _) => format!("{timing} timing"),
        });
        if self.gst {
            parts.push(match self.stabilize_within {
                Some(k) => format!("GST, stable within {k} steps"),
                None => "GST".to_string(),
            });
        }
        parts.push(format!(
            "≤{} messages in flight{}",
            self.max_in_flight,
            if self.drain_past_cap {
                " (drained past it)"
            } else {
                ""
            }
        ));
        let mut switches = Vec::new();
        if self.pre_vote {
            switches.push("PreVote".to_string());
        }
        if self.check_quorum {
            switches.push("CheckQuorum".to_string());
        }
        if let Some(lease) = self.lease {
            let unit = if self.timing == Timing::Timed {
                "ticks"
            } else {
                "ms"
            };
            switches.push(format!("lease {lease} {unit}"));
        }
        if !switches.is_empty() {
            parts.push(switches.join(" + "));
        }
        parts.push(if self.normalize_terms {
            format!("terms relative, spread ≤{}", self.max_term)
        } else {
            format!("terms ≤{}", self.max_term)
        });
        parts.join(", ")
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "es"
    }
}
