//! The state of a whole modelled system, and the steps between states.

use super::clock::Clock;
use super::ModelNode;
use crate::leadership::{node_name, Leadership, Role};
use crate::protocols::Protocol;
use crate::topology::Links;
use serde::Serialize;
use stateright::actor::{Actor, ActorModelAction, ActorModelState, Id, Network};
use stateright::{Representative, Rewrite, RewritePlan};
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};

/// What the environment remembers besides the actors. It travels in
/// Stateright's per-state history slot, so it is part of every state. `M`
/// and `T` are the protocol's message and timer types, which the timed
/// model's clock keeps deadlines for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Env<M, T> {
    /// Crashes so far, against the budget.
    pub crashes: usize,
    /// Partitions so far, against the budget.
    pub partitions: usize,
    /// Pauses so far, against the budget (timed timing).
    pub pauses: usize,
    /// While the network is split: which side each node is on. Normalised
    /// so that node 0 is on side `false`.
    pub partition: Option<Vec<bool>>,
    /// The directed links the fixed topology lacks (`links` in the
    /// configuration). Set once at the start and never changed, so it adds
    /// no distinction between states.
    pub absent: Links,
    /// The directed links that have failed and not healed yet.
    pub down: Links,
    /// Link failures so far, against the budget.
    pub link_failures: usize,
    /// Whether the one change of topology (`links_after`) has happened.
    pub relinked: bool,
    /// Whether the GST step has been taken.
    pub gst: bool,
    /// Every (term, node) seen acting as leader during the execution (term
    /// 0 for protocols without terms), where the protocol's properties read
    /// it (`Modelled::LEADER_HISTORY`): election safety and the followers'
    /// view are properties of the history.
    pub leaders: BTreeSet<(u64, Id)>,
    /// Some node received a message with a term above its own and kept its
    /// lower term (protocols with terms only).
    pub ignored_higher_term: bool,
    /// Every (epoch, leader) some node has learnt, for protocols whose views
    /// are consensus decisions (`Modelled::DECISIONS`): agreement per epoch
    /// is a property of this history.
    pub learnt: BTreeSet<(u64, Id)>,
    /// Every (epoch, node) in which that node proposed itself, for the same
    /// protocols: validity reads it.
    pub proposed: BTreeSet<(u64, Id)>,
    /// Some node's epoch went back in a step (a restart included), for the
    /// same protocols.
    pub epoch_went_back: bool,
    /// Under timed timing: every timer's window and every message's
    /// deadline (see [`super::clock`]).
    pub clock: Option<Clock<M, T>>,
    /// Under timed timing, for protocols with terms: the live nodes acting
    /// as leader in this state, each with its fencing token (its term) —
    /// with a lease on, those that hold one; without, every leader. Read
    /// off the state after every step, so it adds no distinction of its
    /// own; kept to see which leaderships the next step begins.
    pub acting: Vec<(u64, Id)>,
    /// The highest fencing token any leadership has begun with so far, and
    /// its holder.
    pub highest_token: Option<(u64, Id)>,
    /// Some leadership began with a token not above every earlier one.
    pub stale_token: bool,
    /// Where depositions of followed leaders are recorded (timed timing,
    /// partitions, protocols with terms): the sides of the latest split,
    /// kept after it heals, to tell who rejoins.
    pub last_split: Option<Vec<bool>>,
    /// The leader, with its term, that a majority followed when the latest
    /// split began, if one did.
    pub split_leader: Option<(u64, Id)>,
    /// A node rejoining after a split deposed a leader that a majority
    /// still followed.
    pub deposed_followed: bool,
}

impl<M, T> Default for Env<M, T> {
    fn default() -> Self {
        Env {
            crashes: 0,
            partitions: 0,
            pauses: 0,
            partition: None,
            absent: Links::NONE,
            down: Links::NONE,
            link_failures: 0,
            relinked: false,
            gst: false,
            leaders: BTreeSet::new(),
            ignored_higher_term: false,
            learnt: BTreeSet::new(),
            proposed: BTreeSet::new(),
            epoch_went_back: false,
            clock: None,
            acting: Vec::new(),
            highest_token: None,
            stale_token: false,
            last_split: None,
            split_leader: None,
            deposed_followed: false,
        }
    }
}

/// The environment of protocol `P`'s system.
pub type EnvOf<P> = Env<<P as Actor>::Msg, <P as Actor>::Timer>;

impl<M, T> Env<M, T> {
    /// Whether a message from `src` cannot reach `dst`: the partition
    /// keeps them apart, or the link from `src` to `dst` is missing from
    /// the topology or has failed.
    pub fn separated(&self, src: Id, dst: Id) -> bool {
        let (from, to) = (usize::from(src), usize::from(dst));
        let split = match &self.partition {
            Some(side) => side.get(from) != side.get(to),
            None => false,
        };
        split || self.absent.contains(from, to) || self.down.contains(from, to)
    }

    /// Whether the GST step has been taken.
    pub fn after_gst(&self) -> bool {
        self.gst
    }
}

/// Puts node 0 on side `false`, so each split has one representation.
pub(crate) fn normalise(mut side: Vec<bool>) -> Vec<bool> {
    if side.first() == Some(&true) {
        side.iter_mut().for_each(|s| *s = !*s);
    }
    side
}

/// Moves per-node values to the nodes' new ids.
pub(super) fn reindex<T: Clone, S>(values: &[T], plan: &RewritePlan<Id, S>, empty: T) -> Vec<T> {
    let mut moved = vec![empty; values.len()];
    for (i, v) in values.iter().enumerate() {
        if let Some(slot) = moved.get_mut(usize::from(plan.rewrite(&Id::from(i)))) {
            *slot = v.clone();
        }
    }
    moved
}

impl<M: Ord + Clone + Rewrite<Id>, T: Ord + Clone> Rewrite<Id> for Env<M, T> {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        Env {
            crashes: self.crashes,
            partitions: self.partitions,
            pauses: self.pauses,
            partition: self
                .partition
                .as_ref()
                .map(|side| normalise(reindex(side, plan, false))),
            absent: self
                .absent
                .renamed(|i| usize::from(plan.rewrite(&Id::from(i)))),
            down: self
                .down
                .renamed(|i| usize::from(plan.rewrite(&Id::from(i)))),
            link_failures: self.link_failures,
            relinked: self.relinked,
            gst: self.gst,
            leaders: self.leaders.rewrite(plan),
            ignored_higher_term: self.ignored_higher_term,
            learnt: self.learnt.rewrite(plan),
            proposed: self.proposed.rewrite(plan),
            epoch_went_back: self.epoch_went_back,
            clock: self.clock.as_ref().map(|c| c.rewrite(plan)),
            acting: {
                let mut acting: Vec<(u64, Id)> = self
                    .acting
                    .iter()
                    .map(|&(token, id)| (token, plan.rewrite(&id)))
                    .collect();
                acting.sort();
                acting
            },
            highest_token: self
                .highest_token
                .map(|(token, id)| (token, plan.rewrite(&id))),
            stale_token: self.stale_token,
            last_split: self
                .last_split
                .as_ref()
                .map(|side| normalise(reindex(side, plan, false))),
            split_leader: self.split_leader.map(|(t, id)| (t, plan.rewrite(&id))),
            deposed_followed: self.deposed_followed,
        }
    }
}

/// A step of the system: an actor step from Stateright, or one the
/// environment takes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step<M, T, R> {
    /// A step of Stateright's actor model: a delivery, loss, timeout,
    /// crash or recovery.
    Actor(ActorModelAction<M, T, R>),
    /// The network splits: nodes on different sides cannot exchange
    /// messages (those in flight between them are lost).
    Partition(Vec<bool>),
    /// The split ends.
    Heal,
    /// The link from `from` to `to` fails (and the one back too, when
    /// `both_ways`): messages on it, in flight or sent later, are lost.
    LinkFails {
        /// The sending end.
        from: Id,
        /// The receiving end.
        to: Id,
        /// Whether the link back fails with it.
        both_ways: bool,
    },
    /// The topology changes, once: from now on only the links of
    /// `links_after` work.
    Relink(Links),
    /// A failed link works again (both ways, when `both_ways`).
    LinkHeals {
        /// The sending end.
        from: Id,
        /// The receiving end.
        to: Id,
        /// Whether the link back heals with it.
        both_ways: bool,
    },
    /// Global stabilisation time: from now on no crash, recovery, loss or
    /// partition, and timing is timely (under timed timing, which is
    /// synchronous throughout, only the faults end).
    Gst,
    /// Timed timing: one tick of real time passes.
    Tick,
    /// Timed timing with staggered starts: a node that has not run yet
    /// starts.
    Start(Id),
    /// Timed timing: a node is paused (SIGSTOP, a long GC): it takes no step
    /// while time goes on (see [`super::clock`]).
    Pause(Id),
    /// The paused node goes on where it stopped.
    Resume(Id),
}

/// A step of protocol `P`'s system.
pub type Action<P> = Step<<P as Actor>::Msg, <P as Actor>::Timer, <P as Actor>::Random>;

/// A state of the whole system: every node, the network, the timers and the
/// environment. A thin wrapper around Stateright's state whose `Debug` output
/// is a legible per-node table (the Explorer shows states with it).
pub struct System<P: Protocol>(pub ActorModelState<ModelNode<P>, EnvOf<P>>);

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

    /// Whether node `id` is up.
    pub fn is_live(&self, id: Id) -> bool {
        !self.0.crashed.get(usize::from(id)).copied().unwrap_or(true)
    }

    /// Whether node `id` is paused (timed timing only).
    pub fn is_paused(&self, id: Id) -> bool {
        self.env()
            .clock
            .as_ref()
            .is_some_and(|c| c.paused(usize::from(id)))
    }

    /// Whether node `id` has started (always, unless the timed model
    /// staggers the starts and its turn has not come).
    pub fn has_started(&self, id: Id) -> bool {
        self.env()
            .clock
            .as_ref()
            .is_none_or(|c| !c.unstarted(usize::from(id)))
    }

    /// What the environment remembers.
    pub fn env(&self) -> &EnvOf<P> {
        &self.0.history
    }

    /// Messages in flight (each copy counted).
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

impl<P: Protocol> Representative for System<P> {
    fn representative(&self) -> Self {
        System(self.0.representative())
    }
}

impl<P: Protocol> fmt::Debug for System<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, state, crashed) in self.nodes() {
            let marker = match (crashed, state.role()) {
                (true, _) if !self.has_started(id) => "· not started",
                (true, _) => "✗ CRASHED",
                (false, _) if self.is_paused(id) => "⏸ PAUSED",
                (false, Role::Leader) => "★ LEADER ",
                (false, Role::Candidate) => "? candidate",
                (false, Role::Follower) => "  follower",
            };
            write!(f, "{:<3} {:<11} {:?}", node_name(id), marker, state)?;
            let clock = self.env().clock.as_ref();
            let mut timers: Vec<String> = self.0.timers_set[usize::from(id)]
                .iter()
                .map(|t| match clock.and_then(|c| c.window(usize::from(id), t)) {
                    Some(w) if w.overdue => format!("{t:?} overdue"),
                    Some(w) => format!("{t:?} in {}..{}", w.earliest, w.latest),
                    None => format!("{t:?}"),
                })
                .collect();
            if !timers.is_empty() {
                timers.sort();
                write!(f, "  ⏱ {}", timers.join(","))?;
            }
            writeln!(f)?;
        }
        let mut envelopes: Vec<String> = match &self.env().clock {
            Some(clock) => clock
                .messages()
                .map(|(src, dst, msg, left)| {
                    format!("{}→{} {:?} ≤{left}", node_name(src), node_name(dst), msg)
                })
                .collect(),
            None => in_flight(&self.0.network)
                .map(|(src, dst, msg)| format!("{}→{} {:?}", node_name(src), node_name(dst), msg))
                .collect(),
        };
        envelopes.sort();
        writeln!(
            f,
            "in flight ({}): {}",
            envelopes.len(),
            envelopes.join(" · ")
        )?;
        let env = self.env();
        if let Some(side) = &env.partition {
            writeln!(f, "network split: {}", describe_partition(side))?;
        }
        if !env.absent.is_empty() {
            writeln!(f, "links missing from the topology: {}", env.absent)?;
        }
        if !env.down.is_empty() {
            writeln!(f, "links failed: {}", env.down)?;
        }
        if env.gst {
            writeln!(f, "after GST")?;
        }
        write!(f, "crashes so far: {}", env.crashes)?;
        if env.pauses > 0 {
            write!(f, "; pauses so far: {}", env.pauses)?;
        }
        if !env.leaders.is_empty() {
            let leaders: Vec<String> = env
                .leaders
                .iter()
                .map(|(t, id)| match P::HAS_TERMS {
                    true => format!("t{t}:{}", node_name(*id)),
                    false => node_name(*id),
                })
                .collect();
            write!(f, "; leaders seen: {}", leaders.join(" "))?;
        }
        Ok(())
    }
}

/// `n0 → n1`, or `n0 ↔ n1` both ways.
fn describe_link(from: Id, to: Id, both_ways: bool) -> String {
    let arrow = if both_ways { "↔" } else { "→" };
    format!("{} {arrow} {}", node_name(from), node_name(to))
}

/// `{n0,n1} | {n2}`.
pub fn describe_partition(side: &[bool]) -> String {
    let group = |which: bool| {
        let ids: Vec<String> = side
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == which)
            .map(|(i, _)| node_name(Id::from(i)))
            .collect();
        format!("{{{}}}", ids.join(","))
    };
    format!("{} | {}", group(false), group(true))
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

/// What kind of step an action is, for the coverage count: `deliver Vote`,
/// `lose Vote`, `fire Election`, `crash`, `recover`, `split`, `heal`,
/// `link fails`, `link heals`, `links change`, `GST`, `tick`, `start`, `pause`, `resume`. Written into `out` (cleared first), so that counting
/// millions of steps allocates only for kinds not seen before.
pub fn action_kind<P: Protocol>(action: &Action<P>, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = match action {
        Step::Actor(ActorModelAction::Deliver { msg, .. }) => {
            write!(out, "deliver {}", P::message_kind(msg))
        }
        Step::Actor(ActorModelAction::Drop(e)) => write!(out, "lose {}", P::message_kind(&e.msg)),
        Step::Actor(ActorModelAction::Timeout(_, timer)) => write!(out, "fire {timer:?}"),
        Step::Actor(ActorModelAction::Crash(_)) => out.write_str("crash"),
        Step::Actor(ActorModelAction::Recover(_)) => out.write_str("recover"),
        Step::Actor(ActorModelAction::SelectRandom { .. }) => out.write_str("choose"),
        Step::Partition(_) => out.write_str("split"),
        Step::Heal => out.write_str("heal"),
        Step::LinkFails { .. } => out.write_str("link fails"),
        Step::LinkHeals { .. } => out.write_str("link heals"),
        Step::Relink(_) => out.write_str("links change"),
        Step::Gst => out.write_str("GST"),
        Step::Tick => out.write_str("tick"),
        Step::Start(_) => out.write_str("start"),
        Step::Pause(_) => out.write_str("pause"),
        Step::Resume(_) => out.write_str("resume"),
    };
}

/// One step of a trace in words: `n0 → n1  RequestVote { term: 1 }`.
pub fn describe_action<P: Protocol>(action: &Action<P>) -> String {
    match action {
        Step::Actor(ActorModelAction::Deliver { src, dst, msg }) => {
            format!("{} → {}  {:?}", node_name(*src), node_name(*dst), msg)
        }
        Step::Actor(ActorModelAction::Drop(e)) => format!(
            "network loses {} → {}  {:?}",
            node_name(e.src),
            node_name(e.dst),
            e.msg
        ),
        Step::Actor(ActorModelAction::Timeout(id, timer)) => {
            format!("{} timer fires: {:?}", node_name(*id), timer)
        }
        Step::Actor(ActorModelAction::Crash(id)) => format!("{} crashes", node_name(*id)),
        Step::Actor(ActorModelAction::Recover(id)) => format!("{} recovers", node_name(*id)),
        Step::Actor(ActorModelAction::SelectRandom { actor, random, .. }) => {
            format!("{} chooses {:?}", node_name(*actor), random)
        }
        Step::Partition(side) => format!("network splits: {}", describe_partition(side)),
        Step::Heal => "network heals".into(),
        Step::LinkFails {
            from,
            to,
            both_ways,
        } => format!("link {} fails", describe_link(*from, *to, *both_ways)),
        Step::LinkHeals {
            from,
            to,
            both_ways,
        } => format!("link {} heals", describe_link(*from, *to, *both_ways)),
        Step::Relink(links) => format!("the links change: only {links} work from now on"),
        Step::Gst => "GST: from now on no faults".into(),
        Step::Tick => "⏲ 1 tick passes".into(),
        Step::Start(id) => format!("{} starts", node_name(*id)),
        Step::Pause(id) => format!("{} is paused", node_name(*id)),
        Step::Resume(id) => format!("{} resumes", node_name(*id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link is directed: a one-way cut or a missing one-way link stops
    /// messages from one end only, and a split stops both.
    #[test]
    fn separation_follows_the_direction_of_each_link() {
        let mut env: Env<(), ()> = Env {
            absent: Links::parse("2>0").expect("links"),
            ..Env::default()
        };
        env.down.insert(0, 1);
        let sep = |env: &Env<(), ()>, a: usize, b: usize| env.separated(Id::from(a), Id::from(b));
        assert!(sep(&env, 2, 0) && !sep(&env, 0, 2));
        assert!(sep(&env, 0, 1) && !sep(&env, 1, 0));
        assert!(!sep(&env, 1, 2) && !sep(&env, 2, 1));
        env.partition = Some(vec![false, false, true]);
        assert!(sep(&env, 1, 2) && sep(&env, 2, 1) && !sep(&env, 1, 0));
    }
}
