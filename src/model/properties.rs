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

/// The properties every protocol is checked for besides its own safety
/// properties:
/// - `a leader is elected` (sometimes): sanity, the model is not vacuous;
/// - `a new leader after the leader crashed` (sometimes, when crashes are
///   allowed): sanity, recovery from a leader crash is possible;
/// - `eventually one leader known to all` (eventually): liveness as
///   Stateright checks it, on acyclic paths only, so never reported as
///   holding (see `verification::liveness` for the sound check);
/// - `stable leader after GST` (always, when the model has a GST step):
///   at most `stabilize_within` steps after GST, and at every step after
///   that, exactly one live node leads and every live node knows it.
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
    properties.push(Property::eventually(
        "eventually one leader known to all",
        one_leader_known_to_all::<P>,
    ));
    if config.gst {
        properties.push(Property::always(
            "stable leader after GST",
            stable_after_gst::<P>,
        ));
    }
    properties
}

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

/// Sanity: some live node acts as leader.
pub fn leader_elected<P: Modelled>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    live_leaders(state).next().is_some()
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

/// Stabilisation: once `stabilize_within` steps have passed since GST, one
/// leader is known to all live nodes (and, since this is checked in every
/// later state, it stays so).
pub fn stable_after_gst<P: Modelled>(model: &ElectionModel<P>, state: &System<P>) -> bool {
    match state.env().since_gst {
        Some(steps) if steps >= model.config.stabilize_within => {
            one_leader_known_to_all(model, state)
        }
        _ => true,
    }
}
