//! Models: a protocol's actors placed in an environment the checker controls.
//!
//! [`ElectionModel`] wraps Stateright's [`ActorModel`] and adds what the
//! fault models need: a total crash budget (Stateright's own bound limits
//! only how many nodes are down at once), optional recovery, a cap on
//! messages in flight and on terms that keeps the state space finite, and the
//! *timely* timing assumption, which filters the enabled actions.

pub mod properties;

use crate::leadership::{node_name, Leadership, Role};
use crate::protocols::{Cluster, Protocol, Timeouts};
use serde::{Deserialize, Serialize};
use stateright::actor::{
    ActorModel, ActorModelAction, ActorModelState, Envelope, Id, LossyNetwork, Network,
};
use stateright::{Model, Property, Representative, Rewrite, RewritePlan};
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// - a timer fires only when no live node has a timer armed whose longest
    ///   duration is shorter than this timer's shortest (as if all armed
    ///   timers had been set at the same moment), so a leader's heartbeat
    ///   always beats its followers' election timeouts;
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
    /// Whether a crashed node may recover (restarting from its saved storage).
    pub recover: bool,
    pub timing: Timing,
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
        if self.timing == Timing::Timely && self.network == NetworkKind::Duplicating {
            return Err(
                "--timing timely needs a network that consumes delivered messages \
                 (--network ordered or unordered): on a duplicating network a message \
                 stays in flight for ever, so no timer could fire"
                    .into(),
            );
        }
        if self.max_in_flight == 0 {
            return Err("--max-in-flight must be at least 1".into());
        }
        Ok(())
    }

    /// One line describing the fault model and bounds, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} nodes, {}{} network, {} crash{}{}, {} timing, ≤{} messages in flight, terms ≤{}",
            self.nodes,
            if self.lossy { "lossy " } else { "" },
            self.network,
            self.crashes,
            if self.crashes == 1 { "" } else { "es" },
            if self.crashes > 0 {
                if self.recover {
                    " with recovery"
                } else {
                    " (crash-stop)"
                }
            } else {
                ""
            },
            self.timing,
            self.max_in_flight,
            self.max_term,
        )
    }
}

/// What the environment remembers besides the actors: carried in Stateright's
/// per-state history slot so that it is part of every state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Env {
    /// Crashes so far, against the budget.
    pub crashes: usize,
    /// Every (term, node) seen acting as leader during the execution, for
    /// protocols with terms: election safety is a property of the history.
    pub leaders: BTreeSet<(u64, Id)>,
}

impl Rewrite<Id> for Env {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        Env {
            crashes: self.crashes,
            leaders: self.leaders.rewrite(plan),
        }
    }
}

/// A state of the whole system: every node, the network, the timers and the
/// environment. A thin wrapper around Stateright's state whose `Debug` output
/// is a legible per-node table (the Explorer shows states with it).
pub struct System<P: Protocol>(pub ActorModelState<P, Env>);

impl<P: Protocol> System<P> {
    /// Each node's id, state and whether it is crashed. A crashed node's last
    /// state stays visible; properties decide whether it counts.
    pub fn nodes(&self) -> impl Iterator<Item = (Id, &P::State, bool)> + '_ {
        self.0
            .actor_states
            .iter()
            .enumerate()
            .map(|(i, s)| (Id::from(i), &**s, self.0.crashed[i]))
    }

    /// Each node that is up.
    pub fn live(&self) -> impl Iterator<Item = (Id, &P::State)> + '_ {
        self.nodes()
            .filter(|(_, _, crashed)| !crashed)
            .map(|(id, s, _)| (id, s))
    }

    pub fn is_live(&self, id: Id) -> bool {
        !self.0.crashed.get(usize::from(id)).copied().unwrap_or(true)
    }

    pub fn env(&self) -> &Env {
        &self.0.history
    }

    pub fn in_flight(&self) -> usize {
        self.0.network.len()
    }
}

impl<P: Protocol> Clone for System<P> {
    fn clone(&self) -> Self {
        System(self.0.clone())
    }
}

impl<P: Protocol> PartialEq for System<P> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<P: Protocol> Eq for System<P> {}

impl<P: Protocol> Hash for System<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<P> Representative for System<P>
where
    P: Protocol,
    P::Msg: Rewrite<Id>,
    P::State: Rewrite<Id>,
    P::Random: Rewrite<Id>,
    P::Storage: Rewrite<Id>,
{
    fn representative(&self) -> Self {
        System(self.0.representative())
    }
}

impl<P: Protocol> fmt::Debug for System<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, state, crashed) in self.nodes() {
            let view = state.view();
            let marker = match (crashed, view.role) {
                (true, _) => "✗ CRASHED",
                (false, Role::Leader) => "★ LEADER ",
                (false, Role::Candidate) => "? candidate",
                (false, Role::Follower) => "  follower",
            };
            write!(f, "{:<3} {:<11} {:?}", node_name(id), marker, state)?;
            let timers: Vec<String> = self.0.timers_set[usize::from(id)]
                .iter()
                .map(|t| format!("{t:?}"))
                .collect();
            if !timers.is_empty() {
                let mut timers = timers;
                timers.sort();
                write!(f, "  ⏱ {}", timers.join(","))?;
            }
            writeln!(f)?;
        }
        let mut envelopes: Vec<String> = in_flight(&self.0.network)
            .map(|(src, dst, msg)| format!("{}→{} {:?}", node_name(src), node_name(dst), msg))
            .collect();
        envelopes.sort();
        writeln!(
            f,
            "in flight ({}): {}",
            envelopes.len(),
            envelopes.join(" · ")
        )?;
        let env = self.env();
        write!(f, "crashes so far: {}", env.crashes)?;
        if !env.leaders.is_empty() {
            let leaders: Vec<String> = env
                .leaders
                .iter()
                .map(|(t, id)| format!("t{t}:{}", node_name(*id)))
                .collect();
            write!(f, "; leaders seen: {}", leaders.join(" "))?;
        }
        Ok(())
    }
}

/// Every message in flight, once per copy.
///
/// (Stateright 0.31's `Network::iter_all` repeats a multiset entry one time
/// too many and never advances through an ordered channel, so it is not used.)
pub fn in_flight<M: Eq + Hash>(
    network: &Network<M>,
) -> Box<dyn Iterator<Item = (Id, Id, &M)> + '_> {
    match network {
        Network::UnorderedDuplicating(set, _) => {
            Box::new(set.iter().map(|e| (e.src, e.dst, &e.msg)))
        }
        Network::UnorderedNonDuplicating(multiset) => Box::new(
            multiset
                .iter()
                .flat_map(|(e, &n)| std::iter::repeat_n((e.src, e.dst, &e.msg), n)),
        ),
        Network::Ordered(channels) => Box::new(
            channels
                .iter()
                .flat_map(|(&(src, dst), queue)| queue.iter().map(move |m| (src, dst, m))),
        ),
    }
}

pub type Action<P> = ActorModelAction<
    <P as stateright::actor::Actor>::Msg,
    <P as stateright::actor::Actor>::Timer,
    <P as stateright::actor::Actor>::Random,
>;

/// A protocol's cluster in a fault environment, ready for the checker.
pub struct ElectionModel<P: Protocol> {
    inner: ActorModel<P, (), Env>,
    pub config: ModelConfig,
    properties: Vec<Property<ElectionModel<P>>>,
    /// Set when some successor state was cut off by a bound, so that "holds"
    /// can be reported honestly as "holds within bound".
    bound_hit: Arc<AtomicBool>,
}

impl<P: Protocol> ElectionModel<P> {
    pub fn new(config: ModelConfig) -> Self {
        Self::with_properties(config, P::properties())
    }

    pub fn with_properties(
        config: ModelConfig,
        properties: Vec<Property<ElectionModel<P>>>,
    ) -> Self {
        let cluster = Cluster::new(config.nodes, Timeouts::default());
        let network = match config.network {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
            NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
        };
        let inner = ActorModel::new((), Env::default())
            .actors((0..config.nodes).map(|_| P::new(cluster.clone())))
            .init_network(network)
            .lossy_network(if config.lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            .max_crashes(config.crashes);
        ElectionModel {
            inner,
            config,
            properties,
            bound_hit: Arc::new(AtomicBool::new(false)),
        }
    }

    /// An error naming the bound to raise when the initial state itself lies
    /// outside the bounds (nothing could be checked).
    pub fn check_initial_state_within_bounds(&self) -> Result<(), String> {
        for state in self.init_states() {
            if state.in_flight() > self.config.max_in_flight {
                return Err(format!(
                    "the initial state already has {} messages in flight: raise --max-in-flight to at least {}",
                    state.in_flight(),
                    state.in_flight()
                ));
            }
        }
        Ok(())
    }

    /// Whether any state was cut off by the term or in-flight bound.
    pub fn bound_was_hit(&self) -> bool {
        self.bound_hit.load(Ordering::Relaxed)
    }

    /// Whether `action` may happen in `state` under the configured faults and
    /// timing assumption.
    fn allows(&self, state: &System<P>, action: &Action<P>) -> bool {
        match action {
            ActorModelAction::Crash(_) => state.env().crashes < self.config.crashes,
            ActorModelAction::Recover(_) => self.config.recover,
            ActorModelAction::Timeout(id, timer) => {
                self.config.timing == Timing::Asynchronous
                    || (!Self::message_to_live_node(state)
                        && !self.shorter_timer_armed(state, *id, timer))
            }
            _ => true,
        }
    }

    /// Whether a live node has a timer armed that certainly expires before
    /// `timer` would: its longest duration is below `timer`'s shortest.
    fn shorter_timer_armed(&self, state: &System<P>, id: Id, timer: &P::Timer) -> bool {
        let actor = &self.inner.actors[usize::from(id)];
        let earliest = actor.timer_range(timer).start;
        state.0.timers_set.iter().enumerate().any(|(i, timers)| {
            state.is_live(Id::from(i))
                && timers
                    .iter()
                    .any(|other| self.inner.actors[i].timer_range(other).end < earliest)
        })
    }

    fn message_to_live_node(state: &System<P>) -> bool {
        state
            .0
            .network
            .iter_deliverable()
            .any(|e| state.is_live(e.dst))
    }

    /// Applies the environment's bookkeeping after the actors have stepped.
    fn settle(&self, state: &mut ActorModelState<P, Env>, action: Option<&Action<P>>) {
        if let Some(ActorModelAction::Crash(_)) = action {
            state.history.crashes += 1;
        }
        let crashed = state.crashed.clone();
        let to_crashed = |e: &Envelope<P::Msg>| crashed[usize::from(e.dst)];
        match &mut state.network {
            // Which message was delivered last is bookkeeping, not state.
            Network::UnorderedDuplicating(set, last) => {
                *last = None;
                if self.config.timing == Timing::Timely {
                    set.retain(|e| !to_crashed(e));
                }
            }
            Network::UnorderedNonDuplicating(multiset) => {
                if self.config.timing == Timing::Timely {
                    multiset.retain(|e, _| !to_crashed(e));
                }
            }
            Network::Ordered(channels) => {
                if self.config.timing == Timing::Timely {
                    channels.retain(|(_, dst), _| !crashed[usize::from(*dst)]);
                }
            }
        }
        for (i, actor) in state.actor_states.iter().enumerate() {
            if !crashed[i] && actor.role() == Role::Leader {
                if let Some(term) = actor.term() {
                    state.history.leaders.insert((term, Id::from(i)));
                }
            }
        }
    }
}

impl<P: Protocol> Model for ElectionModel<P> {
    type State = System<P>;
    type Action = Action<P>;

    fn init_states(&self) -> Vec<System<P>> {
        self.inner
            .init_states()
            .into_iter()
            .map(|mut s| {
                self.settle(&mut s, None);
                System(s)
            })
            .collect()
    }

    fn actions(&self, state: &System<P>, actions: &mut Vec<Action<P>>) {
        self.inner.actions(&state.0, actions);
        actions.retain(|a| self.allows(state, a));
    }

    fn next_state(&self, state: &System<P>, action: Action<P>) -> Option<System<P>> {
        let mut next = self.inner.next_state(&state.0, action.clone())?;
        self.settle(&mut next, Some(&action));
        Some(System(next))
    }

    fn format_action(&self, action: &Action<P>) -> String {
        describe_action::<P>(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, state: &System<P>) -> bool {
        let within = state.in_flight() <= self.config.max_in_flight
            && state
                .nodes()
                .all(|(_, s, _)| s.term().is_none_or(|t| t <= self.config.max_term));
        if !within {
            self.bound_hit.store(true, Ordering::Relaxed);
        }
        within
    }
}

/// One step of a trace in words: `n0 → n1  RequestVote { term: 1 }`.
pub fn describe_action<P: Protocol>(action: &Action<P>) -> String {
    match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            format!("{} → {}  {:?}", node_name(*src), node_name(*dst), msg)
        }
        ActorModelAction::Drop(e) => format!(
            "network loses {} → {}  {:?}",
            node_name(e.src),
            node_name(e.dst),
            e.msg
        ),
        ActorModelAction::Timeout(id, timer) => {
            format!("{} timer fires: {:?}", node_name(*id), timer)
        }
        ActorModelAction::Crash(id) => format!("{} crashes", node_name(*id)),
        ActorModelAction::Recover(id) => format!("{} recovers", node_name(*id)),
        ActorModelAction::SelectRandom { actor, random, .. } => {
            format!("{} chooses {:?}", node_name(*actor), random)
        }
    }
}

impl ModelConfig {
    fn seed_default() -> ModelConfig {
        ModelConfig {
            nodes: 4,
            network: NetworkKind::Unordered,
            lossy: false,
            crashes: 2,
            recover: false,
            timing: Timing::Timely,
            max_term: 0,
            max_in_flight: 10,
        }
    }

    /// The configuration `elect check <protocol>` uses when no flag changes it:
    /// the strongest fault model under which the protocol's safety claims
    /// hold, with at least one crash.
    pub fn default_for(kind: crate::protocols::ProtocolKind) -> ModelConfig {
        use crate::protocols::ProtocolKind;
        match kind {
            // Raft's election safety needs no timing or delivery assumption.
            ProtocolKind::Raft => ModelConfig {
                nodes: 3,
                network: NetworkKind::Unordered,
                lossy: true,
                crashes: 1,
                recover: true,
                timing: Timing::Asynchronous,
                max_term: 2,
                max_in_flight: 5,
            },
            // The seed's Bully and Ring are safe only on a reliable network
            // with timely timers and crash-stop failures.
            // Under timely timing a heartbeat fires only once the network
            // is quiet, so these in-flight caps are never reached: the whole
            // reachable graph is explored.
            ProtocolKind::Bully => ModelConfig {
                max_in_flight: 20,
                ..Self::seed_default()
            },
            ProtocolKind::Ring => ModelConfig {
                max_in_flight: 10,
                ..Self::seed_default()
            },
        }
    }
}
