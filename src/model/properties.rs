//! Conditions over a [`System`] state, shared by the protocols' property
//! lists. Each protocol's module says which of them it claims, and under
//! which assumptions they hold.
//!
//! "Live" means not crashed. A crashed node's last state stays visible in the
//! model but never counts as acting: a dead leader leads nothing.

use super::{ElectionModel, System};
use crate::leadership::{Leadership, Role};
use crate::protocols::Protocol;
use stateright::actor::Id;
use std::collections::BTreeMap;

/// Live nodes that currently act as leader.
pub fn live_leaders<P: Protocol>(state: &System<P>) -> impl Iterator<Item = Id> + '_ {
    state
        .live()
        .filter(|(_, s)| s.role() == Role::Leader)
        .map(|(id, _)| id)
}

/// Election safety: no two nodes were ever leader in the same term, over the
/// whole execution recorded so far (see [`super::Env::leaders`]).
pub fn one_leader_per_term<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut by_term: BTreeMap<u64, Id> = BTreeMap::new();
    state
        .env()
        .leaders
        .iter()
        .all(|&(term, id)| *by_term.entry(term).or_insert(id) == id)
}

/// No split brain: at most one live node acts as leader at any moment.
pub fn single_live_leader<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    live_leaders(state).nth(1).is_none()
}

/// Agreement: live nodes that have finished an election (not a candidate,
/// leader known) and believe in a live leader all believe in the same one. A
/// node still loyal to a crashed leader has not yet noticed the crash; that
/// is not disagreement.
pub fn settled_nodes_agree<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
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

/// Sanity: some live node acts as leader.
pub fn leader_elected<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    live_leaders(state).next().is_some()
}

/// Sanity: a node that was leader when it crashed is down, and another node
/// now leads — in a later term, for protocols with terms (a stale leader of
/// an older term does not count as re-elected).
pub fn reelected_after_crash<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
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
pub fn one_leader_known_to_all<P: Protocol>(_: &ElectionModel<P>, state: &System<P>) -> bool {
    let mut leaders = live_leaders(state);
    match (leaders.next(), leaders.next()) {
        (Some(leader), None) => state
            .live()
            .all(|(_, s)| s.has_settled() && s.leader() == Some(leader)),
        _ => false,
    }
}
