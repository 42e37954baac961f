//! Conditions over a [`System`] state, shared by the protocols' property
//! lists. Each protocol's module says which of them it claims, and under
//! which assumptions they hold.
//!
//! "Live" means not crashed. A crashed node's last state stays visible in the
//! model but never counts as acting: a dead leader leads nothing.

use super::Modelled;
use super::{ElectionModel, ModelConfig, System};
use crate::leadership::{Leadership, Role};
use stateright::actor::Id;
use stateright::Property;
use std::collections::BTreeMap;

/// The sanity properties every protocol is checked for besides its own
/// safety properties:
/// - `a leader is elected` (sometimes): some reachable state has one live
///   leader that every live node follows, which no initial state is — the
///   model is not vacuous;
/// - `a new leader after the leader crashed` (sometimes, when crashes are
///   allowed): recovery from a leader crash is possible.
///
/// Liveness is decided on the complete graph instead ([`liveness_common`]).
pub fn common<P: Modelled>(config: &ModelConfig) -> Vec<Property<ElectionModel<P>>> {
    let mut properties = vec![Property::sometimes(
        "a leader is elected",
        leader_elected::<P>,
    )];
    if config.crashes > 0 {
        properties.push(Property::sometimes(
            "a new leader after the leader crashed",
            reelected_after_crash::<P>,
        ));
    }
    properties
}

/// The two ways a liveness claim is decided on the complete graph (see
/// `verification::liveness`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// `AG EF goal`: from every reachable state a goal state is reachable.
    Recoverability,
    /// `AF AG goal` after GST: every path after GST reaches a goal state
    /// and stays among goal states.
    Stabilisation,
}

/// A liveness claim: its name, how it is decided, and its goal states.
pub struct LivenessClaim<P: Modelled> {
    /// The name reports and scenario files use.
    pub name: &'static str,
    /// How it is decided.
    pub kind: Liveness,
    /// The goal.
    pub goal: fn(&ElectionModel<P>, &System<P>) -> bool,
}

/// The liveness claims every protocol is checked for:
/// - `recoverability` (AG EF): from every reachable state, a state in which
///   exactly one live node leads and every live node knows it can still be
///   reached. Assumes nothing about what the system does; a livelock that
///   could always be escaped passes it.
/// - `stable leader after GST` (AF AG, when the model has GST): every path
///   after GST reaches such a state and stays in such states. Assumes the
///   timing rules that hold after GST (timely timers, fair heartbeats).
///
/// Under a fixed topology (`links`, or `links_after` once it applies) the goal is
/// [`one_leader_followed_by_the_quorum_connected`] instead: no election can
/// reach a node cut off from a majority, so only the nodes that are
/// connected to one are asked to follow.
pub fn liveness_common<P: Modelled>(config: &ModelConfig) -> Vec<LivenessClaim<P>> {
    let goal = election_goal::<P>(config);
    let mut claims = vec![LivenessClaim {
        name: RECOVERABILITY,
        kind: Liveness::Recoverability,
        goal,
    }];
    if config.gst {
        claims.push(LivenessClaim {
            name: "stable leader after GST",
            kind: Liveness::Stabilisation,
            goal,
        });
    }
    claims
}

/// The goal of an election in `config`: one leader known to all, or, under
/// a fixed topology, one leader followed by every quorum-connected node.
pub fn election_goal<P: Modelled>(
    config: &ModelConfig,
) -> fn(&ElectionModel<P>, &System<P>) -> bool {
    match (config.links, config.links_after) {
        (None, None) => one_leader_known_to_all::<P>,
        _ => one_leader_followed_by_the_quorum_connected::<P>,
    }
}

/// The name of the recoverability claim.
pub const RECOVERABILITY: &str = "recoverability";

/// Live nodes that currently act as leader.
pub fn live_leaders<P: Modelled>(state: &System<P>) -> impl Iterator<Item = Id> + '_ {
    state
        .live()
        .filter(|(_, s)| s.role() == Role::Leader)
        .map(|(id, _)| id)
}

/// Election safety: no two nodes were ever leader in the same term, over the
/// whole execution recorded so far (see [`super::Env::leaders`]).
pub fn one_leader_per_term<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut by_term: BTreeMap<u64, Id> = BTreeMap::new();
    state
        .env()
        .leaders
        .iter()
        .all(|&(term, id)| *by_term.entry(term).or_insert(id) == id)
}

/// Agreement per epoch: no two nodes ever learnt different leaders for one
/// epoch, over the whole execution recorded so far (see
/// [`super::Env::learnt`]; protocols whose views are decisions).
pub fn one_leader_learnt_per_epoch<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut by_epoch: BTreeMap<u64, Id> = BTreeMap::new();
    state
        .env()
        .learnt
        .iter()
        .all(|&(epoch, id)| *by_epoch.entry(epoch).or_insert(id) == id)
}

/// Validity: every leader any node learnt for an epoch had proposed itself
/// for that epoch (see [`super::Env::proposed`]) — no node is made leader
/// by anyone but itself.
pub fn learnt_leaders_proposed_themselves<P: Modelled>(
    _: &ElectionModel<P>,
    state: &System<P>,
) -> bool {
    let env = state.env();
    env.learnt
        .iter()
        .all(|learnt| env.proposed.contains(learnt))
}

/// No node's epoch ever went back, across restarts included (see
/// [`super::Env::epoch_went_back`]).
pub fn epochs_never_go_back<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    !state.env().epoch_went_back
}

/// A follower's view of the leader is never invented: every live follower
/// that names a leader names a node that was leader in the follower's own
/// term (over the whole execution recorded so far; protocols with terms).
/// It may lag — that leader may have crashed or been deposed since — but
/// it may not name a node that never led that term. This view is what
/// `elect status` and the embedding API report as the leader.
pub fn followers_name_their_terms_leader<P: Modelled>(
    _: &ElectionModel<P>,
    state: &System<P>,
) -> bool {
    let leaders = &state.env().leaders;
    live_followers(state)
        .filter_map(|s| Some((s.term()?, s.leader()?)))
        .all(|led| leaders.contains(&led))
}

/// The states of the live nodes that act as followers.
fn live_followers<P: Modelled>(state: &System<P>) -> impl Iterator<Item = &P::State> + '_ {
    state
        .live()
        .map(|(_, s)| s)
        .filter(|s| s.role() == Role::Follower)
}

/// A follower's view of the leader is never invented, for protocols without
/// terms: every live follower that names a leader names a node that has
/// acted as leader at some point of the execution (it may lag: that leader
/// may have crashed or stepped down since). Holds wherever a follower
/// adopts a leader only from that leader's own announcement; this view is
/// what `elect status` and the embedding API report as the leader.
pub fn followers_name_a_node_that_led<P: Modelled>(
    _: &ElectionModel<P>,
    state: &System<P>,
) -> bool {
    let leaders = &state.env().leaders;
    live_followers(state)
        .filter_map(|s| s.leader())
        .all(|named| leaders.iter().any(|&(_, led)| led == named))
}

/// Term adoption: no node ever kept a term below that of a message it
/// received (see [`super::Env::ignored_higher_term`]).
pub fn adopts_received_terms<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    !state.env().ignored_higher_term
}

/// No split brain: at most one live node acts as leader at any moment.
pub fn single_live_leader<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    live_leaders(state).nth(1).is_none()
}

/// Agreement: live nodes that have finished an election (not a candidate,
/// leader known) and believe in a live leader all believe in the same one. A
/// node still loyal to a crashed leader has not yet noticed the crash; that
/// is not disagreement.
pub fn settled_nodes_agree<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut believed = state
        .live()
        .filter(|(_, s)| s.has_settled())
        .filter_map(|(_, s)| s.leader())
        .filter(|&leader| state.is_live(leader));
    match believed.next() {
        None => true,
        Some(first) => believed.all(|l| l == first),
    }
}

/// The seed's promise for Bully and Ring, "the process with the highest id
/// that is still active becomes the coordinator": live nodes that have
/// finished an election and believe in a live leader believe in the highest
/// live id. (A node still loyal to a crashed leader has not noticed yet.)
pub fn highest_live_id_leads<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let Some(highest) = state.live().map(|(id, _)| id).max() else {
        return true;
    };
    state
        .live()
        .filter(|(_, s)| s.has_settled())
        .filter_map(|(_, s)| s.leader())
        .filter(|&leader| state.is_live(leader))
        .all(|leader| leader == highest)
}

/// Sanity: an election completes — exactly one live node leads and every
/// live node follows it. No initial state of two or more nodes is one (a
/// node that merely starts as leader, as the highest id does in Bully, is
/// not yet known to the others), so an example is a real run of the
/// protocol, not the starting point.
pub fn leader_elected<P: Modelled>(model: &ElectionModel<P>, state: &System<P>) -> bool {
    one_leader_known_to_all(model, state)
}

/// Sanity: a node that was leader when it crashed is down, and another node
/// now leads — in a later term, for protocols with terms (a stale leader of
/// an older term does not count as re-elected).
pub fn reelected_after_crash<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    state
        .nodes()
        .filter(|(_, s, crashed)| *crashed && s.role() == Role::Leader)
        .any(|(_, dead, _)| {
            state
                .live()
                .filter(|(_, s)| s.role() == Role::Leader)
                .any(|(_, s)| match (s.term(), dead.term()) {
                    (Some(now), Some(then)) => now > then,
                    _ => true,
                })
        })
}

/// The goal of an election: exactly one live node leads, and every live node
/// has settled on it.
pub fn one_leader_known_to_all<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut leaders = live_leaders(state);
    match (leaders.next(), leaders.next()) {
        (Some(leader), None) => state
            .live()
            .all(|(_, s)| s.has_settled() && s.leader() == Some(leader)),
        _ => false,
    }
}

/// The goal of an election on a partly connected network (Omni-Paxos's
/// notion): take the live nodes that are *quorum-connected* — each has
/// working links both ways with enough live nodes that, with itself, they
/// are a majority of the cluster. Exactly one of them leads, and every one
/// of them has settled on it. Nodes that are not quorum-connected are left
/// out, whatever they believe; when no node is quorum-connected no election
/// can succeed and the goal asks nothing.
pub fn one_leader_followed_by_the_quorum_connected<P: Modelled>(
    model: &ElectionModel<P>,
    state: &System<P>,
) -> bool {
    let n = model.config.nodes;
    let env = state.env();
    let mut links = crate::topology::Links::NONE;
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            if !env.separated(Id::from(a), Id::from(b)) {
                links.insert(a, b);
            }
        }
    }
    let connected = links.quorum_connected(n, |i| state.is_live(Id::from(i)));
    let members: Vec<(Id, &P::State)> = state
        .live()
        .filter(|(id, _)| connected[usize::from(*id)])
        .collect();
    if members.is_empty() {
        return true;
    }
    let mut leaders = members.iter().filter(|(_, s)| s.role() == Role::Leader);
    match (leaders.next(), leaders.next()) {
        (Some(&(leader, _)), None) => members
            .iter()
            .all(|(_, s)| s.has_settled() && s.leader() == Some(leader)),
        _ => false,
    }
}

/// The seed's promise for Bully and Ring as a goal: exactly one live node
/// leads, every live node follows it, and it is the highest live id.
pub fn highest_live_id_known_to_all<P: Modelled>(
    model: &ElectionModel<P>,
    state: &System<P>,
) -> bool {
    let highest = state.live().map(|(id, _)| id).max();
    one_leader_known_to_all(model, state) && live_leaders(state).next() == highest
}

/// The real-time properties, checked under timed timing for protocols with
/// terms, where the model knows which states are simultaneous:
/// - `lease exclusivity` (always): at no moment do two live nodes act as
///   leader. With the lease on, acting means holding a lease; without it,
///   every leader acts (as `examples/leader_only_work.rs` does), so a
///   deposed leader that has not heard of its successor yet is a violation
///   — the overlap a lease exists to remove. Holds, with the lease on, under
///   bounded message delay Δ, clock rates within [1 − ε, 1 + ε] of real time
///   (the lease's validated margin), crashes with recovery and loss; a node
///   that is paused acts only after re-reading its clock (the runtime's
///   guard does).
/// - `fencing tokens increase` (always): every leadership that begins
///   carries a fencing token (its term) above that of every leadership that
///   began before it, so a resource that refuses tokens below the highest
///   it has seen refuses every deposed leader. Plain Raft breaks it: a
///   candidate of an older term can still win after a newer term's leader
///   took office, by votes that were in flight. With the lease on it
///   holds, under the assumptions above.
/// - `a lease is held` and, with crashes, `a new lease after the holder
///   crashed` (sometimes, lease on): the lease is not vacuous.
/// - `no rejoining node deposes a followed leader` (always, with
///   partitions): take the leader that a majority followed when the latest
///   split began, on the majority's side of it. No message from a node the
///   split put on the other side makes it leave office for a higher term
///   while it and the live nodes still naming it leader in its term are a
///   majority. PreVote's promise (thesis §9.6): a node partitioned away
///   cannot raise its term, so it cannot disrupt the cluster when it
///   rejoins. Holds with PreVote under bounded delay and drift without
///   message loss (with loss a majority can miss the leader, and a new
///   election is right); plain Raft breaks it: the rejoining node's
///   inflated term deposes the leader. `a split heals around a followed
///   leader` (sometimes) shows the case is reached.
/// - `a lease lapses during a pause` (sometimes, lease and pauses on): a
///   leader resumes from a pause still holding its lease by its state,
///   with the lease's timer overdue — the moment a leader that does not
///   read its clock gets wrong.
pub fn real_time<P: Modelled>(config: &ModelConfig) -> Vec<Property<ElectionModel<P>>> {
    if config.timing != super::Timing::Timed || !P::HAS_TERMS {
        return Vec::new();
    }
    let mut properties = vec![
        Property::always("lease exclusivity", one_acting_leader::<P>),
        Property::always("fencing tokens increase", |_, state: &System<P>| {
            !state.env().stale_token
        }),
    ];
    if config.partitions > 0 {
        properties.push(Property::always(
            "no rejoining node deposes a followed leader",
            |_, state: &System<P>| !state.env().deposed_followed,
        ));
        properties.push(Property::sometimes(
            "a split heals around a followed leader",
            |_, state: &System<P>| {
                let env = state.env();
                env.partition.is_none() && env.last_split.is_some() && env.split_leader.is_some()
            },
        ));
    }
    if config.lease.is_some() {
        properties.push(Property::sometimes(
            "a lease is held",
            |_, state: &System<P>| state.live().any(|(_, s)| s.holds_lease()),
        ));
        if config.crashes > 0 {
            properties.push(Property::sometimes(
                "a new lease after the holder crashed",
                new_lease_after_crash::<P>,
            ));
        }
        if config.pauses > 0 {
            properties.push(Property::sometimes(
                "a lease lapses during a pause",
                lease_lapsed_in_pause::<P>,
            ));
        }
    }
    properties
}

/// A live node that is not paused holds a lease by its state whose timer
/// is overdue: it was paused past the lease's end.
fn lease_lapsed_in_pause<P: Modelled>(model: &ElectionModel<P>, state: &System<P>) -> bool {
    let Some(clock) = &state.env().clock else {
        return false;
    };
    state.live().any(|(id, s)| {
        let i = usize::from(id);
        let timer = crate::protocols::Protocol::lease_timer(model.protocol(i), s);
        !clock.paused(i) && s.holds_lease() && timer.is_some_and(|t| clock.expired(i, &t))
    })
}

/// At most one live node acts as leader (see [`real_time`]).
pub fn one_acting_leader<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    state.env().acting.len() <= 1
}

/// A crashed node held a lease, and a live node now holds one of a later
/// term.
fn new_lease_after_crash<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    state
        .nodes()
        .filter(|(_, s, crashed)| *crashed && s.holds_lease())
        .any(|(_, dead, _)| {
            state
                .live()
                .any(|(_, s)| s.holds_lease() && s.term() > dead.term())
        })
}
