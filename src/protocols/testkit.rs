//! The kit every protocol's handler tests share: start a node, deliver it a
//! message or fire one of its timers, and look at everything it did.
//!
//! [`lines`] renders a handler's whole output, one command per line in
//! order, so that a test can assert all of it at once — as etcd-io/raft's
//! data-driven scripts and openraft's engine tests assert the complete
//! output of a step instead of picking one command out of it.

use super::Protocol;
use stateright::actor::{Command, Id, Out};
use std::borrow::Cow;

/// Starts node `me` from `storage`, as at boot or after a crash.
pub(crate) fn start<P: Protocol>(
    node: &P,
    me: usize,
    storage: Option<P::Storage>,
) -> (P::State, Out<P>) {
    let mut o = Out::new();
    let state = node.on_start(Id::from(me), &storage, &mut o);
    (state, o)
}

/// Delivers `msg` from `src` to node `me` in `state`.
pub(crate) fn deliver<P: Protocol>(
    node: &P,
    me: usize,
    state: P::State,
    src: usize,
    msg: P::Msg,
) -> (P::State, Out<P>) {
    let mut cow = Cow::Owned(state);
    let mut o = Out::new();
    node.on_msg(Id::from(me), &mut cow, Id::from(src), msg, &mut o);
    (cow.into_owned(), o)
}

/// Fires `timer` at node `me` in `state`.
pub(crate) fn fire<P: Protocol>(
    node: &P,
    me: usize,
    state: P::State,
    timer: P::Timer,
) -> (P::State, Out<P>) {
    let mut cow = Cow::Owned(state);
    let mut o = Out::new();
    node.on_timeout(Id::from(me), &mut cow, &timer, &mut o);
    (cow.into_owned(), o)
}

/// The messages a handler sent, with their destinations, in order.
pub(crate) fn sends<P: Protocol>(o: &Out<P>) -> Vec<(usize, P::Msg)> {
    o.iter()
        .filter_map(|c| match c {
            Command::Send(dst, m) => Some((usize::from(*dst), m.clone())),
            _ => None,
        })
        .collect()
}

/// Everything a handler did, one command per line, in order:
/// `save …`, `arm Election 500ms..1s`, `cancel Heartbeat`, `send n1 …`.
pub(crate) fn lines<P: Protocol>(o: &Out<P>) -> Vec<String> {
    o.iter()
        .map(|c| match c {
            Command::Save(s) => format!("save {s:?}"),
            Command::SetTimer(t, range) => format!("arm {t:?} {:?}..{:?}", range.start, range.end),
            Command::CancelTimer(t) => format!("cancel {t:?}"),
            Command::Send(dst, m) => format!("send n{} {m:?}", usize::from(*dst)),
            Command::ChooseRandom(key, choices) => format!("choose {key} {choices:?}"),
        })
        .collect()
}
