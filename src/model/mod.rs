//! Models: a protocol's actors placed in an environment the checker controls.
//!
//! [`ElectionModel`] wraps Stateright's [`ActorModel`] and adds what the
//! fault models need: a total crash budget (Stateright's own bound limits
//! only how many nodes are down at once), recovery with or without the saved
//! storage, network partitions that heal, a GST step after which the system
//! behaves, caps on messages in flight and on terms that keep the state space
//! finite, and the *timely* timing assumption, which filters the enabled
//! actions.

pub mod claims;
pub mod clock;
mod config;
pub mod properties;
mod rounds;
pub mod seeded;
mod system;

pub use claims::Modelled;
pub use config::{drift_ppm, ClockConfig, ConfigError, ModelConfig, Naming, NetworkKind, Timing};
pub use properties::{Liveness, LivenessClaim};
pub use seeded::{BugInfo, ModelNode, SeededBug};
pub use system::{
    action_kind, describe_action, describe_partition, in_flight, Action, Env, EnvOf, Step, System,
};

use crate::leadership::{Leadership, Role};
use crate::protocols::{Cluster, ProtocolKind, Terms, TimerRole};
use crate::topology::Links;
use clock::{Clock, Window};
use seeded::Tamper;
use stateright::actor::{
    Actor, ActorModel, ActorModelAction, ActorModelState, Command, Envelope, Id, LossyNetwork,
    Network, Out,
};
use stateright::{Model, Property};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The bounds that keep a model finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bound {
    /// The cap on messages in flight.
    InFlight,
    /// The highest term (or, with normalised terms, the spread of terms).
    Term,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bound::InFlight => "the cap on messages in flight",
            Bound::Term => "the term bound",
        })
    }
}

/// A seeded bug name that names no bug of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{protocol} has no seeded bug '{name}' (it has: {known})")]
pub struct UnknownBug {
    /// The protocol.
    pub protocol: ProtocolKind,
    /// The name asked for.
    pub name: String,
    /// The names it has.
    pub known: String,
}

/// Every seeded bug of every protocol, in the order of [`ProtocolKind::ALL`].
pub fn all_seeded_bugs() -> Vec<BugInfo> {
    ProtocolKind::ALL
        .into_iter()
        .flat_map(|kind| {
            crate::with_protocol!(kind, P => <P as Modelled>::seeded_bugs().iter().map(SeededBug::info).collect::<Vec<_>>())
        })
        .collect()
}

/// A protocol's cluster in a fault environment, ready for the checker.
pub struct ElectionModel<P: Modelled> {
    inner: ActorModel<ModelNode<P>, (), EnvOf<P>>,
    /// The configuration the model was built from.
    pub config: ModelConfig,
    properties: Vec<Property<ElectionModel<P>>>,
    /// Every way to split the nodes into two non-empty sides.
    splits: Vec<Vec<bool>>,
    /// Whether the bounds still apply after GST (see [`Self::beyond`]).
    bounded_after_gst: bool,
    /// Set when some successor state was cut off by a bound, so that "holds"
    /// can be reported honestly as "holds within bound".
    bound_hit: Arc<AtomicBool>,
}

impl<P: Modelled> ElectionModel<P> {
    /// The protocol's own claims plus the common properties that make sense
    /// for this configuration (see [`properties::common`]), every node
    /// running the protocol as written.
    pub fn new(config: ModelConfig) -> Self {
        Self::build(config, None)
    }

    /// As [`ElectionModel::new`], every node carrying the seeded bug named
    /// `bug` (see [`seeded`]), or none.
    pub fn with_bug(config: ModelConfig, bug: Option<&str>) -> Result<Self, UnknownBug> {
        let Some(name) = bug else {
            return Ok(Self::new(config));
        };
        let bugs = P::seeded_bugs();
        match bugs.iter().find(|b| b.name == name) {
            Some(bug) => Ok(Self::build(config, Some(bug.tamper.clone()))),
            None => Err(UnknownBug {
                protocol: P::KIND,
                name: name.to_string(),
                known: bugs.iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    fn build(config: ModelConfig, tamper: Option<Tamper<P>>) -> Self {
        // The timed model runs its nodes with its own small durations.
        let mut cluster = Cluster::new(config.nodes, config.timeouts());
        cluster.raft = config.raft_options();
        if let Some(Tamper::Deviation(deviation)) = &tamper {
            cluster.deviation = Some(*deviation);
        }
        let mut properties = P::claims();
        properties.extend(properties::common::<P>(&config));
        properties.extend(properties::real_time::<P>(&config));
        let network = match config.network {
            NetworkKind::Ordered => Network::new_ordered([]),
            NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
            NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
        };
        let env = EnvOf::<P> {
            clock: (config.timing == Timing::Timed).then(|| Clock::new(config.nodes)),
            absent: config.links.map_or(Links::NONE, |links| {
                Links::complete(config.nodes).without(links)
            }),
            ..EnvOf::<P>::default()
        };
        let inner = ActorModel::new((), env)
            .actors(
                (0..config.nodes).map(|_| ModelNode::new(P::new(cluster.clone()), tamper.clone())),
            )
            .init_network(network)
            .lossy_network(if config.lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            .max_crashes(config.crashes);
        let n = config.nodes;
        let splits = (1..(1u32 << n.saturating_sub(1)))
            .map(|mask| {
                (0..n)
                    .map(|i| i > 0 && mask & (1 << (i - 1)) != 0)
                    .collect()
            })
            .collect();
        let bounded_after_gst = config
            .links
            .into_iter()
            .chain(config.links_after)
            .any(|links| links.quorum_connected(n, |_| true).contains(&false));
        ElectionModel {
            inner,
            config,
            properties,
            splits,
            bounded_after_gst,
            bound_hit: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `state` with its terms shifted down so that the lowest is 0, as
    /// `normalize_terms` does after every step (see [`normalize_terms`]).
    pub fn normalized(&self, state: &System<P>) -> System<P> {
        let mut shifted = state.0.clone();
        normalize_terms(&mut shifted, self.may_recover(state));
        System(shifted)
    }

    /// Which bound `state` lies beyond, if any. After GST the bounds no
    /// longer apply: under the timing rules that hold then, a timer fires
    /// only on a quiet network, so every burst of messages dies out and
    /// terms rise by at most one election before the nodes agree — the
    /// graph after GST is finite without them (and the liveness check's cap
    /// on states is the safety net if a protocol broke that). The argument
    /// fails under a fixed topology that leaves some node without links
    /// both ways to a majority: GST mends no link of the topology, and such
    /// a node never comes to agree — it may stand for election for ever,
    /// its term rising without end. There the bounds stay.
    pub fn beyond(&self, state: &System<P>) -> Option<Bound> {
        if state.env().after_gst() && !self.bounded_after_gst {
            return None;
        }
        if state.in_flight() > self.config.max_in_flight {
            return Some(Bound::InFlight);
        }
        let too_high = state.nodes().any(|(_, s, _)| {
            s.term().is_some_and(|t| t > self.config.max_term)
                || P::beyond_term_bound(&self.config, s)
        });
        too_high.then_some(Bound::Term)
    }

    /// Whether crashed nodes may still recover in `state`.
    fn may_recover(&self, state: &System<P>) -> bool {
        self.config.recover && !state.env().after_gst()
    }

    /// Whether relabelling nodes is sound for this model: the protocol
    /// allows it ([`crate::protocols::Protocol::SYMMETRIC`]) and no fixed
    /// topology tells the nodes apart.
    pub fn symmetric(&self) -> bool {
        P::SYMMETRIC && self.config.links.is_none() && self.config.links_after.is_none()
    }

    /// The liveness claims decided on this model's complete graph.
    pub fn liveness_claims(&self) -> Vec<LivenessClaim<P>> {
        P::liveness_claims(&self.config)
    }

    /// The protocol node `id` runs.
    fn protocol(&self, id: usize) -> &P {
        self.inner.actors[id].protocol()
    }

    /// The number of messages in flight in an initial state that already
    /// exceeds the cap, if one does: then nothing at all could be checked.
    pub fn initial_state_beyond_bounds(&self) -> Option<usize> {
        self.init_states()
            .iter()
            .map(System::in_flight)
            .find(|&n| n > self.config.max_in_flight)
    }

    /// Whether any state was cut off by the term or in-flight bound.
    pub fn bound_was_hit(&self) -> bool {
        self.bound_hit.load(Ordering::Relaxed)
    }

    /// Whether timers follow the timely rules in `state` (never under timed
    /// timing, whose clock is the whole truth about when timers fire).
    fn timely(&self, state: &System<P>) -> bool {
        match self.config.timing {
            Timing::Timely => true,
            Timing::Asynchronous => state.env().after_gst(),
            Timing::Timed => false,
        }
    }

    /// The clocks of the timed model (the defaults if none were given).
    fn clock_config(&self) -> ClockConfig {
        self.config.clock.unwrap_or_default()
    }

    /// When a timer armed now for `range` may fire.
    fn window(&self, range: &std::ops::Range<std::time::Duration>) -> Window {
        let ticks = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (earliest, latest) = self
            .clock_config()
            .window(ticks(range.start), ticks(range.end));
        let small = |t: u64| u32::try_from(t).unwrap_or(u32::MAX);
        Window::new(small(earliest), small(latest))
    }

    /// The timers an actor step arms, in order, found by running the step's
    /// handler again: Stateright's state records only which timers are
    /// armed, not when, so re-arming an armed timer would otherwise go
    /// unseen. The handlers are deterministic, so this is the step's own
    /// output.
    fn armed_by(
        &self,
        state: &System<P>,
        action: &ActorModelAction<P::Msg, P::Timer, P::Random>,
    ) -> Vec<(usize, P::Timer, Window)> {
        let mut out: Out<ModelNode<P>> = Out::new();
        let node = match action {
            ActorModelAction::Deliver { src, dst, msg } => {
                let i = usize::from(*dst);
                let mut s = Cow::Borrowed(&*state.0.actor_states[i]);
                self.inner.actors[i].on_msg(*dst, &mut s, *src, msg.clone(), &mut out);
                i
            }
            ActorModelAction::Timeout(id, timer) => {
                let i = usize::from(*id);
                let mut s = Cow::Borrowed(&*state.0.actor_states[i]);
                self.inner.actors[i].on_timeout(*id, &mut s, timer, &mut out);
                i
            }
            _ => return Vec::new(),
        };
        out.iter()
            .filter_map(|command| match command {
                Command::SetTimer(timer, range) => Some((node, timer.clone(), self.window(range))),
                _ => None,
            })
            .collect()
    }

    /// The steps of a state past the cap on messages in flight, with
    /// `drain_past_cap`: deliveries and losses that leave no more in flight
    /// than there is. No timer fires and no fault happens until the network
    /// is back within the cap, so the states past it are finite.
    fn draining_actions(&self, state: &System<P>, actions: &mut Vec<Action<P>>) {
        let mut actor_actions = Vec::new();
        self.inner.actions(&state.0, &mut actor_actions);
        let now = state.in_flight();
        actions.extend(
            actor_actions
                .into_iter()
                .filter(|a| {
                    matches!(
                        a,
                        ActorModelAction::Deliver { .. } | ActorModelAction::Drop(_)
                    ) && self.allows(state, a)
                })
                .map(Step::Actor)
                .filter(|a| {
                    self.next_state(state, a.clone())
                        .is_some_and(|next| next.in_flight() <= now)
                }),
        );
    }

    /// Whether the actor step `action` may happen in `state` under the
    /// configured faults and timing assumption.
    fn allows(
        &self,
        state: &System<P>,
        action: &ActorModelAction<P::Msg, P::Timer, P::Random>,
    ) -> bool {
        let env = state.env();
        let faults_allowed = !env.after_gst();
        // A paused node takes no step, and is not killed while paused.
        let paused = match action {
            ActorModelAction::Deliver { dst: id, .. }
            | ActorModelAction::Timeout(id, _)
            | ActorModelAction::Crash(id)
            | ActorModelAction::SelectRandom { actor: id, .. } => state.is_paused(*id),
            ActorModelAction::Drop(_) | ActorModelAction::Recover(_) => false,
        };
        if paused {
            return false;
        }
        match action {
            ActorModelAction::Crash(_) => faults_allowed && env.crashes < self.config.crashes,
            ActorModelAction::Recover(id) => {
                let unstarted = env
                    .clock
                    .as_ref()
                    .is_some_and(|c| c.unstarted(usize::from(*id)));
                faults_allowed && self.config.recover && !unstarted
            }
            ActorModelAction::Drop(_) => faults_allowed,
            ActorModelAction::Deliver { src, dst, .. } => !env.separated(*src, *dst),
            ActorModelAction::Timeout(id, timer) if self.config.timing == Timing::Timed => env
                .clock
                .as_ref()
                .is_none_or(|c| c.may_fire(usize::from(*id), timer)),
            ActorModelAction::Timeout(id, timer) => {
                let held_back = Self::message_to_live_node(state)
                    || self.shorter_timer_armed(state, *id, timer)
                    || (env.after_gst() && self.heartbeat_must_wait(state, *id, timer));
                !self.timely(state) || !held_back
            }
            ActorModelAction::SelectRandom { .. } => true,
        }
    }

    /// Whether a timer that certainly expires before `timer` would (its
    /// longest duration is below `timer`'s shortest) is armed where it
    /// matters:
    /// - at the same node, or at any live node for a one-shot timer: it will
    ///   fire first whatever the network does;
    /// - for a timer that watches the leader: the heartbeat of the leader
    ///   this node follows, if that leader is live, reachable, and the
    ///   network cannot lose its heartbeats. Each heartbeat restarts the
    ///   watch, so it cannot expire; nothing else restarts it.
    fn shorter_timer_armed(&self, state: &System<P>, id: Id, timer: &P::Timer) -> bool {
        let me = usize::from(id);
        let actor = self.protocol(me);
        let earliest = actor.timer_range(timer).start;
        let heartbeats_arrive = !self.config.lossy || state.env().after_gst();
        let watched_leader = (actor.timer_role(timer) == TimerRole::WatchesLeader)
            .then(|| state.0.actor_states[me].leader())
            .flatten()
            .filter(|&leader| heartbeats_arrive && !state.env().separated(leader, id));
        state.0.timers_set.iter().enumerate().any(|(i, timers)| {
            let other = Id::from(i);
            if other != id && !state.is_live(other) {
                return false;
            }
            timers.iter().any(|t| {
                let shorter = self.protocol(i).timer_range(t).end < earliest;
                let relevant = match self.protocol(i).timer_role(t) {
                    TimerRole::Heartbeat => other == id || watched_leader == Some(other),
                    TimerRole::WatchesLeader | TimerRole::Other => true,
                };
                shorter && relevant
            })
        })
    }

    /// After GST, fairness: a heartbeat does not fire while a live node has a
    /// timer armed that this heartbeat does not restart. Without this rule a
    /// leader's heartbeat could fire for ever ahead of, say, a follower's
    /// watch on a leader that is gone — an unfair schedule that real timers
    /// rule out, since the longer timer expires after a bounded number of
    /// heartbeats.
    fn heartbeat_must_wait(&self, state: &System<P>, id: Id, timer: &P::Timer) -> bool {
        if self.protocol(usize::from(id)).timer_role(timer) != TimerRole::Heartbeat {
            return false;
        }
        state.0.timers_set.iter().enumerate().any(|(i, timers)| {
            let node = Id::from(i);
            state.is_live(node)
                && timers.iter().any(|t| match self.protocol(i).timer_role(t) {
                    TimerRole::Heartbeat => false,
                    TimerRole::WatchesLeader => state.0.actor_states[i].leader() != Some(id),
                    TimerRole::Other => true,
                })
        })
    }

    fn message_to_live_node(state: &System<P>) -> bool {
        state
            .0
            .network
            .iter_deliverable()
            .any(|e| state.is_live(e.dst))
    }

    /// The link steps the environment may take before GST: a failed link
    /// heals (one way, or both ways where both failed), and, within the
    /// budget, a working link fails one way or both ways.
    fn link_steps(&self, env: &EnvOf<P>, actions: &mut Vec<Action<P>>) {
        let n = self.config.nodes;
        let pairs = || (0..n).flat_map(move |a| (0..n).map(move |b| (a, b)));
        let step = |a: usize, b: usize, both_ways: bool, fails: bool| {
            let (from, to) = (Id::from(a), Id::from(b));
            if fails {
                Step::LinkFails {
                    from,
                    to,
                    both_ways,
                }
            } else {
                Step::LinkHeals {
                    from,
                    to,
                    both_ways,
                }
            }
        };
        let down = env.down;
        for (a, b) in pairs().filter(|&(a, b)| down.contains(a, b)) {
            actions.push(step(a, b, false, false));
            if a < b && down.contains(b, a) {
                actions.push(step(a, b, true, false));
            }
        }
        if env.link_failures >= self.config.link_failures {
            return;
        }
        let working =
            |a: usize, b: usize| a != b && !env.absent.contains(a, b) && !down.contains(a, b);
        for (a, b) in pairs().filter(|&(a, b)| working(a, b)) {
            actions.push(step(a, b, false, true));
            if a < b && working(b, a) {
                actions.push(step(a, b, true, true));
            }
        }
    }

    /// Whether depositions by rejoining nodes are recorded: only where the
    /// property that reads them is checked ([`properties::real_time`]), as
    /// the record splits states.
    fn records_depositions(&self) -> bool {
        self.config.timing == Timing::Timed && P::HAS_TERMS && self.config.partitions > 0
    }

    /// Applies the environment's bookkeeping after a step.
    fn settle(&self, state: &mut ActorModelState<ModelNode<P>, EnvOf<P>>) {
        let env = &state.history;
        // Messages to crashed nodes are lost under timely timing, and
        // messages across a partition are lost always. (Under timed timing a
        // message to a crashed node is lost when its deadline comes.)
        let timely = match self.config.timing {
            Timing::Timely => true,
            Timing::Asynchronous => env.after_gst(),
            Timing::Timed => false,
        };
        let crashed = state.crashed.clone();
        let env = &state.history;
        let lost =
            |src: Id, dst: Id| (timely && crashed[usize::from(dst)]) || env.separated(src, dst);
        match &mut state.network {
            // Which message was delivered last is bookkeeping, not state.
            Network::UnorderedDuplicating(set, last) => {
                *last = None;
                set.retain(|e: &Envelope<P::Msg>| !lost(e.src, e.dst));
            }
            Network::UnorderedNonDuplicating(multiset) => {
                multiset.retain(|e, _| !lost(e.src, e.dst))
            }
            Network::Ordered(channels) => channels.retain(|(src, dst), _| !lost(*src, *dst)),
        }
        let mut leaders = Vec::new();
        for (i, actor) in state.actor_states.iter().enumerate() {
            if P::LEADER_HISTORY && !crashed[i] && actor.role() == Role::Leader {
                leaders.push((actor.term().unwrap_or(0), Id::from(i)));
            }
        }
        state.history.leaders.extend(leaders);
        if P::DECISIONS {
            let mut learnt = Vec::new();
            for (i, actor) in state.actor_states.iter().enumerate() {
                if crashed[i] {
                    continue;
                }
                if let (Some(epoch), Some(leader)) = (actor.term(), actor.leader()) {
                    learnt.push((epoch, leader));
                }
            }
            let proposed: Vec<(u64, Id)> = in_flight(&state.network)
                .filter_map(|(_, _, msg)| P::self_proposal(msg))
                .collect();
            state.history.learnt.extend(learnt);
            state.history.proposed.extend(proposed);
        }
        if self.config.timing == Timing::Timed && P::HAS_TERMS {
            self.record_leaderships(state);
        }
        if let Some(mut clock) = state.history.clock.take() {
            for (i, timers) in state.timers_set.iter().enumerate() {
                let protocol = self.protocol(i);
                clock.keep_timers(i, timers.iter(), |t| self.window(&protocol.timer_range(t)));
            }
            clock.keep_messages(in_flight(&state.network), self.clock_config().delta);
            state.history.clock = Some(clock);
        }
        if self.config.normalize_terms {
            let may_recover = self.config.recover && !state.history.after_gst();
            normalize_terms(state, may_recover);
        }
        relabel(self.protocol(0).cluster(), state);
    }

    /// Whether node `i`, live and running, acts as leader in `state`: with
    /// the lease on, when its lease is valid by its own clock
    /// ([`crate::protocols::Protocol::lease_valid`]; a lease timer is
    /// expired once overdue, which a pause can make it); without, whenever
    /// it leads (the leader-only work of a plain election acts on a lease
    /// that never ends). A paused node does nothing, so acts on nothing.
    fn acts_as_leader(&self, state: &ActorModelState<ModelNode<P>, EnvOf<P>>, i: usize) -> bool {
        let node = &*state.actor_states[i];
        let clock = state.history.clock.as_ref();
        if state.crashed[i] || clock.is_some_and(|c| c.paused(i)) {
            return false;
        }
        match self.config.lease {
            Some(_) => self
                .protocol(i)
                .lease_valid(node, &|timer| clock.is_some_and(|c| c.expired(i, timer))),
            None => node.role() == Role::Leader,
        }
    }

    /// Notes which leaderships the last step began, and whether one of them
    /// began with a fencing token not above every earlier one.
    fn record_leaderships(&self, state: &mut ActorModelState<ModelNode<P>, EnvOf<P>>) {
        let acting: Vec<(u64, Id)> = (0..state.actor_states.len())
            .filter(|&i| self.acts_as_leader(state, i))
            .map(|i| (state.actor_states[i].term().unwrap_or(0), Id::from(i)))
            .collect();
        let env = &mut state.history;
        for &leadership in &acting {
            if env.acting.contains(&leadership) || env.highest_token == Some(leadership) {
                continue;
            }
            match env.highest_token {
                Some((highest, _)) if leadership.0 <= highest => env.stale_token = true,
                _ => env.highest_token = Some(leadership),
            }
        }
        env.acting = acting;
    }
}

/// The live leader, with its term, that it and the live nodes naming it
/// leader in its term make a majority of the cluster, if there is one.
fn followed_leader<P: Modelled>(
    state: &ActorModelState<ModelNode<P>, EnvOf<P>>,
) -> Option<(u64, Id)> {
    (0..state.actor_states.len()).find_map(|l| {
        let leader = &state.actor_states[l];
        let term = leader
            .term()
            .filter(|_| !state.crashed[l] && leader.role() == Role::Leader)?;
        let id = Id::from(l);
        (2 * (followers_of(state, id, term) + 1) > state.actor_states.len()).then_some((term, id))
    })
}

/// The live nodes other than `leader` that name it leader in `term`.
fn followers_of<P: Modelled>(
    state: &ActorModelState<ModelNode<P>, EnvOf<P>>,
    leader: Id,
    term: u64,
) -> usize {
    (0..state.actor_states.len())
        .filter(|&i| Id::from(i) != leader && !state.crashed[i])
        .filter(|&i| {
            let f = &state.actor_states[i];
            f.leader() == Some(leader) && f.term() == Some(term)
        })
        .count()
}

/// Whether the delivery from `src` to `dst` that turned `before` into
/// `after` is a rejoining node deposing a followed leader: `dst` is the
/// leader a majority followed when the latest split began, on the
/// majority's side of it, `src` was on the other side, `dst` leaves office
/// for a higher term, and `dst` with the live nodes that still name it
/// leader in its term is a majority of the cluster.
fn rejoiner_deposes<P: Modelled>(
    before: &ActorModelState<ModelNode<P>, EnvOf<P>>,
    after: &ActorModelState<ModelNode<P>, EnvOf<P>>,
    src: Id,
    dst: Id,
) -> bool {
    let env = &before.history;
    let (Some(side), Some((term, leader))) = (&env.last_split, env.split_leader) else {
        return false;
    };
    let (s, d, n) = (usize::from(src), usize::from(dst), after.actor_states.len());
    let (was, now) = (&before.actor_states[d], &after.actor_states[d]);
    let deposed = leader == dst
        && was.role() == Role::Leader
        && was.term() == Some(term)
        && now.role() != Role::Leader
        && now.term() > Some(term);
    let rejoined = side.get(s) != side.get(d);
    let majority_side = 2 * side.iter().filter(|&x| Some(x) == side.get(d)).count() > n;
    deposed && rejoined && majority_side && 2 * (followers_of(after, dst, term) + 1) > n
}

/// New names for values a protocol only tells apart (see
/// [`Modelled::relabel`]): per node, its state renamed (`None`: unchanged),
/// and the renaming of messages, applied to the network and the clock.
pub struct Relabelling<P: crate::protocols::Protocol> {
    /// Each node's renamed state, if it changes.
    pub states: Vec<Option<P::State>>,
    /// The renaming of a message.
    pub message: MessageRenaming<P>,
}

/// How [`Relabelling`] renames a message.
pub type MessageRenaming<P> = Box<dyn Fn(&<P as Actor>::Msg) -> <P as Actor>::Msg>;

/// Applies the protocol's relabelling ([`Modelled::relabel`]) to the node
/// states, the network and the clock alike.
fn relabel<P: Modelled>(cluster: &Cluster, state: &mut ActorModelState<ModelNode<P>, EnvOf<P>>) {
    let live: Vec<(bool, &P::State)> = state
        .actor_states
        .iter()
        .enumerate()
        .map(|(i, s)| (!state.crashed[i], &**s))
        .collect();
    let Some(relabelling) = P::relabel(cluster, &live) else {
        return;
    };
    for (slot, relabelled) in state.actor_states.iter_mut().zip(relabelling.states) {
        if let Some(s) = relabelled {
            *slot = Arc::new(s);
        }
    }
    let message = &relabelling.message;
    let envelopes: Vec<Envelope<P::Msg>> = in_flight(&state.network)
        .map(|(src, dst, msg)| Envelope {
            src,
            dst,
            msg: message(msg),
        })
        .collect();
    state.network = rebuilt(&state.network, envelopes);
    if let Some(clock) = &mut state.history.clock {
        clock.relabel_messages(message);
    }
}

/// A network of the same kind as `like` holding `envelopes`.
fn rebuilt<M: Eq + std::hash::Hash + Clone + Ord>(
    like: &Network<M>,
    envelopes: Vec<Envelope<M>>,
) -> Network<M> {
    match like {
        Network::Ordered(_) => Network::new_ordered(envelopes),
        Network::UnorderedNonDuplicating(_) => Network::new_unordered_nonduplicating(envelopes),
        Network::UnorderedDuplicating(..) => Network::new_unordered_duplicating(envelopes),
    }
}

/// Shifts the terms in `state` down so that the lowest term that can still
/// matter becomes 0 — or 1, when some dead value lies below it, which then
/// becomes 0, "older than every term that matters".
///
/// The terms that can matter are those of the live nodes, of the messages in
/// flight, and of what crashed nodes saved, as long as they may still recover
/// (recovery is allowed and GST has not passed). A crashed node's last state,
/// and what a node saved that will never recover, are dead: they decide
/// nothing any more, and only the properties read them, comparing them with
/// live terms, which the clamp to 0 keeps exact.
///
/// Why this changes no verdict (a functional bisimulation): Raft's handlers
/// only compare terms with each other and add one to them, so shifting every
/// term that matters by the same amount shifts every successor by it too; the
/// properties read roles, leaders, the order of terms and the recorded
/// (term, leader) pairs, all invariant under the shift. The lowest term that
/// matters never decreases (a node keeps its term across crashes — hence
/// `persist` — and a message carries its sender's current term), so no node
/// can again lead in a term below it: recorded leaders of such terms can take
/// part in no future violation of election safety and are forgotten.
/// `tests/model_checking.rs` checks on every reachable state of a small model
/// that the successors of a normalised state are exactly the normalised
/// successors.
fn normalize_terms<P: Modelled>(
    state: &mut ActorModelState<ModelNode<P>, EnvOf<P>>,
    may_recover: bool,
) {
    let live = |i: usize| !state.crashed[i];
    // A node that saved nothing restarts at term 0.
    let lowest = node_terms(
        state,
        live,
        |i| live(i) || may_recover,
        P::HAS_TERMS.then_some(0),
    )
    .chain(in_flight(&state.network).filter_map(|(_, _, m)| m.lowest_term()))
    .min();
    let Some(lowest) = lowest else {
        return;
    };
    let below =
        node_terms(state, |i| !live(i), |i| !live(i) && !may_recover, None).any(|t| t < lowest);
    let by = if below { lowest - 1 } else { lowest };
    if by == 0 && !below {
        return;
    }
    // A dead value below the lowest term that matters goes to 0; every other
    // term goes down by `by`.
    let shift = |t: u64| if t < lowest { t } else { by };
    for s in state.actor_states.iter_mut() {
        if let Some(t) = s.lowest_term() {
            *s = Arc::new(s.lower_terms(shift(t)));
        }
    }
    for s in state.actor_storages.iter_mut().flatten() {
        if let Some(t) = s.lowest_term() {
            *s = s.lower_terms(shift(t));
        }
    }
    let envelopes: Vec<Envelope<P::Msg>> = in_flight(&state.network)
        .map(|(src, dst, msg)| Envelope {
            src,
            dst,
            msg: msg.lower_terms(by),
        })
        .collect();
    state.network = rebuilt(&state.network, envelopes);
    let env = &mut state.history;
    // The clock's deadlines belong to the messages they time.
    if let Some(clock) = &mut env.clock {
        clock.relabel_messages(|msg| msg.lower_terms(by));
    }
    let shifted = |pairs: &mut std::collections::BTreeSet<(u64, Id)>| {
        *pairs = std::mem::take(pairs)
            .into_iter()
            .filter(|&(term, _)| term >= lowest)
            .map(|(term, id)| (term - by, id))
            .collect();
    };
    shifted(&mut env.leaders);
    shifted(&mut env.learnt);
    shifted(&mut env.proposed);
    // Acting leaders are live, so their tokens matter; a highest token
    // below every term that matters is below every token still to come,
    // as no token at all is.
    for (token, _) in &mut env.acting {
        *token -= by;
    }
    env.highest_token = env
        .highest_token
        .filter(|&(token, _)| token >= lowest)
        .map(|(token, id)| (token - by, id));
    env.split_leader = env
        .split_leader
        .filter(|&(term, _)| term >= lowest)
        .map(|(term, id)| (term - by, id));
}

/// The lowest term of each node state that `of_state` selects and of each
/// saved storage that `of_storage` selects (node indices); a node that saved
/// nothing counts as `unsaved`.
fn node_terms<'a, P: Modelled>(
    state: &'a ActorModelState<ModelNode<P>, EnvOf<P>>,
    of_state: impl Fn(usize) -> bool + 'a,
    of_storage: impl Fn(usize) -> bool + 'a,
    unsaved: Option<u64>,
) -> impl Iterator<Item = u64> + 'a {
    let states = state
        .actor_states
        .iter()
        .enumerate()
        .filter(move |&(i, _)| of_state(i))
        .filter_map(|(_, s)| s.lowest_term());
    let storages = state
        .actor_storages
        .iter()
        .enumerate()
        .filter(move |&(i, _)| of_storage(i))
        .filter_map(move |(_, s)| match s {
            Some(saved) => saved.lowest_term(),
            None => unsaved,
        });
    states.chain(storages)
}

impl<P: Modelled> Model for ElectionModel<P> {
    type State = System<P>;
    type Action = Action<P>;

    fn init_states(&self) -> Vec<System<P>> {
        let stagger = match self.config.timing {
            Timing::Timed => self.clock_config().stagger,
            _ => 0,
        };
        self.inner
            .init_states()
            .into_iter()
            .map(|mut s| {
                if stagger > 0 {
                    // Nobody has run yet: each node starts when the checker
                    // says, within `stagger` ticks, as if recovering from
                    // nothing. Until then it is down and has sent nothing.
                    for i in 0..s.actor_states.len() {
                        s.crashed[i] = true;
                        s.timers_set[i].cancel_all();
                        s.actor_storages[i] = None;
                        if let Some(clock) = &mut s.history.clock {
                            clock.delay_start(i, stagger);
                        }
                    }
                    let envelopes: Vec<Envelope<P::Msg>> = Vec::new();
                    s.network = match &s.network {
                        Network::Ordered(_) => Network::new_ordered(envelopes),
                        _ => Network::new_unordered_nonduplicating(envelopes),
                    };
                }
                self.settle(&mut s);
                System(s)
            })
            .collect()
    }

    fn actions(&self, state: &System<P>, actions: &mut Vec<Action<P>>) {
        // A state beyond a bound is checked like any other (a safety
        // violation there is a real one) but not explored further, unless
        // the network may drain past the cap on messages in flight.
        match self.beyond(state) {
            None => {}
            Some(Bound::InFlight) if self.config.drain_past_cap => {
                self.bound_hit.store(true, Ordering::Relaxed);
                self.draining_actions(state, actions);
                return;
            }
            Some(_) => {
                self.bound_hit.store(true, Ordering::Relaxed);
                return;
            }
        }
        let mut actor_actions = Vec::new();
        self.inner.actions(&state.0, &mut actor_actions);
        actions.extend(
            actor_actions
                .into_iter()
                .filter(|a| self.allows(state, a))
                .map(Step::Actor),
        );
        let env = state.env();
        if let Some(clock) = &env.clock {
            if clock.may_tick(|id| state.is_live(id)) {
                actions.push(Step::Tick);
            }
            let waiting = (0..self.config.nodes).filter(|&i| clock.unstarted(i));
            actions.extend(waiting.map(|i| Step::Start(Id::from(i))));
            let paused = (0..self.config.nodes).filter(|&i| clock.paused(i));
            actions.extend(paused.map(|i| Step::Resume(Id::from(i))));
            if !env.after_gst() && env.pauses < self.config.pauses {
                let running = state
                    .live()
                    .map(|(id, _)| id)
                    .filter(|&id| !clock.paused(usize::from(id)));
                actions.extend(running.map(Step::Pause));
            }
        }
        if env.after_gst() {
            return;
        }
        if env.partition.is_some() {
            actions.push(Step::Heal);
        } else if env.partitions < self.config.partitions {
            actions.extend(self.splits.iter().cloned().map(Step::Partition));
        }
        self.link_steps(env, actions);
        if let (Some(links), false) = (self.config.links_after, env.relinked) {
            actions.push(Step::Relink(links));
        }
        if self.config.gst {
            actions.push(Step::Gst);
        }
    }

    fn next_state(&self, state: &System<P>, action: Action<P>) -> Option<System<P>> {
        let mut next = match action {
            Step::Actor(action) => {
                // The node that takes this step, to see its epoch move.
                let stepping = match &action {
                    ActorModelAction::Deliver { dst, .. } => Some(usize::from(*dst)),
                    ActorModelAction::Timeout(id, _) | ActorModelAction::Recover(id) => {
                        Some(usize::from(*id))
                    }
                    _ => None,
                };
                let mut next = if let (ActorModelAction::Recover(id), false) =
                    (&action, self.config.persist)
                {
                    // The disk lost what the node saved.
                    let mut amnesiac = state.0.clone();
                    amnesiac.actor_storages[usize::from(*id)] = None;
                    self.inner.next_state(&amnesiac, action)?
                } else {
                    let crash = matches!(action, ActorModelAction::Crash(_));
                    let timed = self.config.timing == Timing::Timed;
                    let armed = if timed {
                        self.armed_by(state, &action)
                    } else {
                        Vec::new()
                    };
                    // A delivered message's term, to check its recipient adopts it.
                    let delivered = match &action {
                        ActorModelAction::Deliver { src, dst, .. } => Some((*src, *dst)),
                        _ => None,
                    };
                    let delivered_term = match &action {
                        ActorModelAction::Deliver { dst, msg, .. } => {
                            let i = usize::from(*dst);
                            let before = &state.0.actor_states[i];
                            let term = self.protocol(i).term_to_adopt(before, msg);
                            term.map(|t| (*dst, t))
                        }
                        _ => None,
                    };
                    let fired = match &action {
                        ActorModelAction::Timeout(id, timer) => Some((*id, timer.clone())),
                        _ => None,
                    };
                    let mut next = match (self.inner.next_state(&state.0, action), fired) {
                        (Some(next), _) => next,
                        // Stateright drops a firing that only re-arms its own
                        // timer; with time explicit, that restarts the timer.
                        (None, Some((id, timer))) if timed => {
                            let mut next = state.0.clone();
                            next.timers_set[usize::from(id)].cancel(&timer);
                            for (_, t, _) in &armed {
                                next.timers_set[usize::from(id)].set(t.clone());
                            }
                            next
                        }
                        (None, _) => return None,
                    };
                    if let Some(clock) = &mut next.history.clock {
                        for (node, timer, window) in armed {
                            clock.arm(node, timer, window);
                        }
                    }
                    if crash {
                        next.history.crashes += 1;
                    }
                    if let Some((dst, term)) = delivered_term {
                        let now = next.actor_states[usize::from(dst)].term();
                        if now.is_some_and(|now| now < term) {
                            next.history.ignored_higher_term = true;
                        }
                    }
                    if let Some((src, dst)) = delivered {
                        if self.records_depositions() && rejoiner_deposes(&state.0, &next, src, dst)
                        {
                            next.history.deposed_followed = true;
                        }
                    }
                    next
                };
                if let Some(i) = stepping.filter(|_| P::DECISIONS) {
                    if next.actor_states[i].term() < state.0.actor_states[i].term() {
                        next.history.epoch_went_back = true;
                    }
                }
                next
            }
            Step::Partition(side) => {
                let mut next = state.0.clone();
                if self.records_depositions() {
                    next.history.last_split = Some(side.clone());
                    next.history.split_leader = followed_leader(&next);
                }
                next.history.partition = Some(side);
                next.history.partitions += 1;
                next
            }
            Step::Heal => {
                let mut next = state.0.clone();
                next.history.partition = None;
                next
            }
            Step::LinkFails {
                from,
                to,
                both_ways,
            } => {
                let mut next = state.0.clone();
                let (a, b) = (usize::from(from), usize::from(to));
                next.history.down.insert(a, b);
                if both_ways {
                    next.history.down.insert(b, a);
                }
                next.history.link_failures += 1;
                next
            }
            Step::Relink(links) => {
                let mut next = state.0.clone();
                next.history.absent = Links::complete(self.config.nodes).without(links);
                next.history.relinked = true;
                next
            }
            Step::LinkHeals {
                from,
                to,
                both_ways,
            } => {
                let mut next = state.0.clone();
                let (a, b) = (usize::from(from), usize::from(to));
                next.history.down.remove(a, b);
                if both_ways {
                    next.history.down.remove(b, a);
                }
                next
            }
            Step::Gst => {
                let mut next = state.0.clone();
                next.history.gst = true;
                next.history.partition = None;
                next.history.down = Links::NONE;
                if let Some(clock) = &mut next.history.clock {
                    for i in 0..self.config.nodes {
                        clock.set_paused(i, false);
                    }
                }
                next
            }
            Step::Pause(id) | Step::Resume(id) => {
                let pause = matches!(action, Step::Pause(_));
                let mut next = state.0.clone();
                if let Some(clock) = &mut next.history.clock {
                    clock.set_paused(usize::from(id), pause);
                }
                if pause {
                    next.history.pauses += 1;
                }
                next
            }
            Step::Start(id) => {
                let mut next = self
                    .inner
                    .next_state(&state.0, ActorModelAction::Recover(id))?;
                if let Some(clock) = &mut next.history.clock {
                    clock.started(usize::from(id));
                }
                next
            }
            Step::Tick => {
                let mut next = state.0.clone();
                if let Some(clock) = &mut next.history.clock {
                    for (src, dst, msg) in clock.tick() {
                        clock::remove_one(&mut next.network, src, dst, &msg);
                    }
                }
                next
            }
        };
        self.settle(&mut next);
        Some(System(next))
    }

    fn format_action(&self, action: &Action<P>) -> String {
        describe_action::<P>(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    /// Every state is within the boundary: the bounds act in
    /// [`Model::actions`], which gives a state beyond one no successors, so
    /// that the checker still evaluates every property on it ("check at the
    /// cut") without exploring past it.
    fn within_boundary(&self, _state: &System<P>) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    //! The timely timing rules, case by case: which timer may fire in which
    //! situation. Each row is one rule of [`Timing::Timely`] (or of
    //! fairness after GST) made visible; the asynchronous model allows every
    //! timer in every row.

    use super::*;
    use crate::protocols::bully::{Bully, BullyMsg, BullyRole, BullyState, BullyTimer};
    use stateright::actor::{Envelope, Timers};

    struct Situation {
        states: [BullyState; 3],
        timers: [&'static [BullyTimer]; 3],
        in_flight: &'static [(usize, usize, BullyMsg)],
        crashed: [bool; 3],
    }

    fn follower_of(c: usize) -> BullyState {
        BullyState {
            role: BullyRole::Follower,
            coordinator: Some(Id::from(c)),
        }
    }

    fn coordinator(me: usize) -> BullyState {
        BullyState {
            role: BullyRole::Coordinator,
            coordinator: Some(Id::from(me)),
        }
    }

    fn electing() -> BullyState {
        BullyState {
            role: BullyRole::Electing,
            coordinator: None,
        }
    }

    fn system(model: &ElectionModel<Bully>, s: &Situation, gst: bool) -> System<Bully> {
        let mut state = model.init_states().remove(0);
        for i in 0..3 {
            state.0.actor_states[i] = Arc::new(s.states[i].clone());
            let mut timers = Timers::new();
            for t in s.timers[i] {
                timers.set(t.clone());
            }
            state.0.timers_set[i] = timers;
            state.0.crashed[i] = s.crashed[i];
        }
        state.0.network =
            Network::new_unordered_nonduplicating(s.in_flight.iter().map(|(src, dst, msg)| {
                Envelope {
                    src: Id::from(*src),
                    dst: Id::from(*dst),
                    msg: msg.clone(),
                }
            }));
        if gst {
            state.0.history.gst = true;
        }
        state
    }

    fn model(timing: Timing, lossy: bool) -> ElectionModel<Bully> {
        ElectionModel::new(ModelConfig {
            nodes: 3,
            crashes: 1,
            lossy,
            timing,
            gst: true,
            ..ModelConfig::default_for(ProtocolKind::Bully)
        })
    }

    fn fires(
        model: &ElectionModel<Bully>,
        s: &Situation,
        gst: bool,
        node: usize,
        timer: BullyTimer,
    ) -> bool {
        let state = system(model, s, gst);
        model.allows(&state, &ActorModelAction::Timeout(Id::from(node), timer))
    }

    /// Three nodes following n2, which coordinates: every watch and the
    /// heartbeat armed, nothing in flight.
    fn quiet() -> Situation {
        use BullyTimer::*;
        Situation {
            states: [follower_of(2), follower_of(2), coordinator(2)],
            timers: [&[LeaderTimeout], &[LeaderTimeout], &[Heartbeat]],
            in_flight: &[],
            crashed: [false; 3],
        }
    }

    /// A timed model of `quiet()` in which n0's watch on n2 has run down to
    /// `watch` and n2's heartbeat `COORDINATOR` to n0 is in flight.
    fn timed_quiet(watch: Window) -> (ElectionModel<Bully>, System<Bully>) {
        let model = ElectionModel::new(ModelConfig {
            nodes: 3,
            timing: Timing::Timed,
            clock: Some(ClockConfig::default()),
            crashes: 0,
            recover: false,
            gst: false,
            ..ModelConfig::default_for(ProtocolKind::Bully)
        });
        let situation = Situation {
            in_flight: &[(2, 0, BullyMsg::Coordinator)],
            ..quiet()
        };
        let mut state = system(&model, &situation, false);
        let mut clock = Clock::new(3);
        clock.arm(0, BullyTimer::LeaderTimeout, watch);
        state.0.history.clock = Some(clock);
        model.settle(&mut state.0);
        (model, state)
    }

    #[test]
    fn a_paused_node_takes_no_step_while_time_passes_and_catches_up_when_resumed() {
        let model = ElectionModel::new(ModelConfig {
            nodes: 3,
            timing: Timing::Timed,
            clock: Some(ClockConfig::default()),
            crashes: 0,
            recover: false,
            gst: false,
            pauses: 1,
            ..ModelConfig::default_for(ProtocolKind::Bully)
        });
        let situation = Situation {
            in_flight: &[(2, 0, BullyMsg::Coordinator)],
            ..quiet()
        };
        let mut state = system(&model, &situation, false);
        let mut clock = Clock::new(3);
        clock.arm(0, BullyTimer::LeaderTimeout, Window::new(0, 0));
        state.0.history.clock = Some(clock);
        model.settle(&mut state.0);
        let n0 = Id::from(0);
        let steps = |state: &System<Bully>| {
            let mut actions = Vec::new();
            model.actions(state, &mut actions);
            actions
        };
        let touches_n0 = |a: &Action<Bully>| match a {
            Step::Actor(ActorModelAction::Deliver { dst, .. }) => *dst == n0,
            Step::Actor(ActorModelAction::Timeout(id, _)) => *id == n0,
            _ => false,
        };
        assert!(!steps(&state).contains(&Step::Tick), "n0's watch is due");
        assert!(steps(&state).contains(&Step::Pause(n0)));
        let paused = model.next_state(&state, Step::Pause(n0)).expect("paused");
        let actions = steps(&paused);
        assert!(
            !actions.iter().any(touches_n0),
            "a paused node takes no step"
        );
        assert!(
            !actions.iter().any(|a| matches!(a, Step::Pause(_))),
            "one pause only"
        );
        assert!(actions.contains(&Step::Resume(n0)));
        assert!(actions.contains(&Step::Tick), "time does not wait for it");
        let later = model.next_state(&paused, Step::Tick).expect("a tick");
        let later = model.next_state(&later, Step::Tick).expect("another");
        let clock = later.env().clock.as_ref().expect("timed");
        assert!(clock.expired(0, &BullyTimer::LeaderTimeout), "overdue");
        assert_eq!(clock.messages().count(), 1, "the heartbeat waits for n0");
        let resumed = model.next_state(&later, Step::Resume(n0)).expect("resumed");
        let actions = steps(&resumed);
        assert!(!actions.contains(&Step::Tick), "what piled up goes first");
        assert!(actions.iter().any(touches_n0));
    }

    #[test]
    fn under_timed_timing_a_heartbeat_restarts_the_watch_it_feeds() {
        let (model, state) = timed_quiet(Window::new(0, 1));
        let deliver = Step::Actor(ActorModelAction::Deliver {
            src: Id::from(2),
            dst: Id::from(0),
            msg: BullyMsg::Coordinator,
        });
        let next = model.next_state(&state, deliver).expect("delivered");
        let clock = next.env().clock.as_ref().expect("timed");
        let full = ClockConfig::default().election;
        assert_eq!(
            clock.window(0, &BullyTimer::LeaderTimeout),
            Some(Window::new(full[0], full[1])),
            "re-arming an armed timer restarts it, as the runtime does"
        );
        assert_eq!(clock.messages().count(), 0, "the delivered copy is gone");
    }

    #[test]
    fn under_timed_timing_a_timer_fires_inside_its_window_and_time_waits_for_it() {
        let early = Window::new(1, 2);
        let (model, state) = timed_quiet(early);
        let watch = ActorModelAction::Timeout(Id::from(0), BullyTimer::LeaderTimeout);
        assert!(!model.allows(&state, &watch), "too early");
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        assert!(actions.contains(&Step::Tick));
        let later = model.next_state(&state, Step::Tick).expect("a tick");
        assert!(model.allows(&later, &watch));
        let mut actions = Vec::new();
        model.actions(&later, &mut actions);
        assert!(
            !actions.contains(&Step::Tick),
            "the heartbeat's deadline has come: it is delivered before time moves on"
        );
    }

    #[test]
    fn past_the_cap_a_state_is_cut_off_or_only_drains() {
        let two_heartbeats = Situation {
            in_flight: &[(2, 0, BullyMsg::Coordinator), (2, 1, BullyMsg::Coordinator)],
            ..quiet()
        };
        for drain in [false, true] {
            let model = ElectionModel::new(ModelConfig {
                nodes: 3,
                crashes: 1,
                lossy: true,
                timing: Timing::Asynchronous,
                max_in_flight: 1,
                drain_past_cap: drain,
                ..ModelConfig::default_for(ProtocolKind::Bully)
            });
            let state = system(&model, &two_heartbeats, false);
            let mut actions = Vec::new();
            model.actions(&state, &mut actions);
            if !drain {
                assert!(actions.is_empty(), "cut off: {actions:?}");
                continue;
            }
            // Two deliveries and two losses; no timer, crash or split.
            assert_eq!(actions.len(), 4, "{actions:?}");
            for action in actions {
                assert!(
                    matches!(
                        action,
                        Step::Actor(ActorModelAction::Deliver { .. } | ActorModelAction::Drop(_))
                    ),
                    "{action:?}"
                );
                let next = model.next_state(&state, action).expect("a step");
                assert_eq!(next.in_flight(), 1);
            }
        }
    }

    #[test]
    fn which_timers_the_timely_model_lets_fire() {
        use BullyTimer::*;
        let message_to_a_live_node = Situation {
            in_flight: &[(2, 0, BullyMsg::Coordinator)],
            ..quiet()
        };
        let message_to_a_crashed_node = Situation {
            states: [electing(), follower_of(2), coordinator(2)],
            timers: [&[], &[LeaderTimeout], &[Heartbeat]],
            in_flight: &[(2, 0, BullyMsg::Coordinator)],
            crashed: [true, false, false],
        };
        let shorter_timer_at_the_same_node = Situation {
            states: [electing(), follower_of(2), coordinator(2)],
            timers: [
                &[AnswerTimeout, LeaderTimeout],
                &[LeaderTimeout],
                &[Heartbeat],
            ],
            ..quiet()
        };
        let leader_crashed = Situation {
            crashed: [false, false, true],
            ..quiet()
        };
        // n0 waits for a coordinator, a timer the heartbeat does not restart.
        let a_node_waits_for_a_winner = Situation {
            states: [electing(), follower_of(2), coordinator(2)],
            timers: [&[CoordinatorTimeout], &[LeaderTimeout], &[Heartbeat]],
            ..quiet()
        };
        let quiet = quiet();
        #[rustfmt::skip]
        let rows: Vec<(&str, &Situation, bool, bool, usize, BullyTimer, bool)> = vec![
            // what, situation, lossy, after GST, node, timer, may fire
            ("a live leader's heartbeat", &quiet, false, false, 2, Heartbeat, true),
            ("a watch on a live, beating leader", &quiet, false, false, 0, LeaderTimeout, false),
            ("the same watch when heartbeats can be lost", &quiet, true, false, 0, LeaderTimeout, true),
            ("the same watch after GST, when nothing is lost", &quiet, true, true, 0, LeaderTimeout, false),
            ("a watch on a crashed leader", &leader_crashed, false, false, 0, LeaderTimeout, true),
            ("any timer while a message to a live node is in flight", &message_to_a_live_node, false, false, 2, Heartbeat, false),
            ("a timer while the only message in flight goes to a crashed node", &message_to_a_crashed_node, false, false, 2, Heartbeat, true),
            ("a timer while a certainly shorter one is armed at its node", &shorter_timer_at_the_same_node, false, false, 0, LeaderTimeout, false),
            ("the shorter one itself", &shorter_timer_at_the_same_node, false, false, 0, AnswerTimeout, true),
            ("a heartbeat while a certainly shorter one-shot timer is armed anywhere", &shorter_timer_at_the_same_node, false, false, 2, Heartbeat, false),
            ("before GST, a heartbeat while another node waits for a winner", &a_node_waits_for_a_winner, false, false, 2, Heartbeat, true),
            ("after GST, the same heartbeat (fairness: the longer timer expires first)", &a_node_waits_for_a_winner, false, true, 2, Heartbeat, false),
        ];
        for (what, situation, lossy, gst, node, timer, expected) in rows {
            let timely = model(Timing::Timely, lossy);
            let got = fires(&timely, situation, gst, node, timer.clone());
            assert_eq!(got, expected, "timely: {what}");
            if !gst {
                let asynchronous = model(Timing::Asynchronous, lossy);
                assert!(
                    fires(&asynchronous, situation, false, node, timer),
                    "asynchronous: {what}"
                );
            }
        }
    }
}
