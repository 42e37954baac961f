//! Seeded bugs: deliberate mistakes put into the protocols to prove that the
//! checker catches them (`elect verify --mutants`, `tests/mutants.rs`).
//!
//! Most of them sit at a boundary of the actor — a message never sent, one
//! ignored on arrival, a save skipped, a message or a state tampered with on
//! its way in or out — and are applied from outside by [`ModelNode`],
//! around the unchanged protocol code. The few that live inside an
//! algorithm's logic are a typed [`Deviation`] that the protocol consults at
//! one marked place. Either way the runtime never carries one: it runs the
//! protocol types themselves, built with [`crate::protocols::Cluster::new`].
//! `cargo mutants` produces many more bugs of its own; the report in
//! `verification/cargo-mutants.md` lists what it found.

use crate::leadership::{Leadership, Role};
use crate::protocols::{Deviation, Protocol, ProtocolKind};
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;

/// One seeded bug: what it breaks, how, and the scenario (a file in
/// `models/`) whose checks must catch it.
pub struct SeededBug<P: Protocol> {
    /// `protocol/what-it-does`, as named on the command line and in reports.
    pub name: &'static str,
    /// What the buggy node does, in words.
    pub what: &'static str,
    /// The scenario that must catch it.
    pub scenario: &'static str,
    /// How the bug is applied.
    pub tamper: Tamper<P>,
}

impl<P: Protocol> Clone for SeededBug<P> {
    fn clone(&self) -> Self {
        SeededBug {
            name: self.name,
            what: self.what,
            scenario: self.scenario,
            tamper: self.tamper.clone(),
        }
    }
}

/// How a seeded bug changes a node. Each variant names the boundary it
/// works at; message kinds are [`Protocol::message_kind`] names.
pub enum Tamper<P: Protocol> {
    /// Messages of this kind are never sent.
    NeverSend(&'static str),
    /// Messages of this kind are ignored on arrival — only while the node
    /// leads, if `while_leading`.
    Ignore {
        /// The ignored kind.
        kind: &'static str,
        /// Only a leading node ignores it.
        while_leading: bool,
    },
    /// What the node saves while it handles a message of this kind is not
    /// saved.
    SkipSaves {
        /// The kind whose handling saves nothing.
        handling: &'static str,
    },
    /// The message is rewritten before the node sees it.
    RewriteIncoming(fn(&P::State, P::Msg) -> P::Msg),
    /// The node's state is replaced before it handles a message from `src`
    /// (it forgets something); `None` leaves it as it is.
    Forget(Forgetting<P>),
    /// After a message is handled, part of the state before it is put back
    /// (the node fails to leave a role): `undo(before, after)`.
    Undo(fn(&P::State, &mut P::State)),
    /// A timer is not armed: `forgets(state_after, timer)` says which, from
    /// the state the handler left.
    NeverArm(fn(&P::State, &P::Timer) -> bool),
    /// A deviation inside the algorithm (see [`Deviation`]).
    Deviation(Deviation),
}

impl<P: Protocol> Clone for Tamper<P> {
    fn clone(&self) -> Self {
        match self {
            Tamper::NeverSend(kind) => Tamper::NeverSend(kind),
            Tamper::Ignore {
                kind,
                while_leading,
            } => Tamper::Ignore {
                kind,
                while_leading: *while_leading,
            },
            Tamper::SkipSaves { handling } => Tamper::SkipSaves { handling },
            Tamper::RewriteIncoming(f) => Tamper::RewriteIncoming(*f),
            Tamper::Forget(f) => Tamper::Forget(*f),
            Tamper::Undo(f) => Tamper::Undo(*f),
            Tamper::NeverArm(f) => Tamper::NeverArm(*f),
            Tamper::Deviation(d) => Tamper::Deviation(*d),
        }
    }
}

/// `forget(state, src, msg)`: the state a node handles `msg` from `src` in,
/// if the bug makes it forget something.
pub type Forgetting<P> =
    fn(&<P as Actor>::State, Id, &<P as Actor>::Msg) -> Option<<P as Actor>::State>;

/// A seeded bug as the reports name it, whatever its protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugInfo {
    /// Its name.
    pub name: &'static str,
    /// Its protocol.
    pub protocol: ProtocolKind,
    /// What it does.
    pub what: &'static str,
    /// The scenario that must catch it.
    pub scenario: &'static str,
}

impl<P: Protocol> SeededBug<P> {
    /// The bug as the reports name it.
    pub fn info(&self) -> BugInfo {
        BugInfo {
            name: self.name,
            protocol: P::KIND,
            what: self.what,
            scenario: self.scenario,
        }
    }
}

/// A protocol's node as the checker runs it: the protocol's own handlers,
/// plus — only when a seeded bug is asked for — that bug at its boundary.
///
/// It also settles one modelling detail once for every protocol: every
/// delivered message is consumed. Stateright treats a delivery that leaves
/// the state untouched and emits nothing as a no-op and keeps the envelope in
/// flight for ever, which would clog the network under a cap on messages in
/// flight; a real node that ignores a datagram has still received it.
#[derive(Clone)]
pub struct ModelNode<P: Protocol> {
    protocol: P,
    tamper: Option<Tamper<P>>,
}

impl<P: Protocol> std::fmt::Debug for ModelNode<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.protocol.fmt(f)
    }
}

impl<P: Protocol> ModelNode<P> {
    /// Wraps `protocol`, seeding `tamper` into it if given. A
    /// [`Tamper::Deviation`] must already be in the protocol's cluster.
    pub fn new(protocol: P, tamper: Option<Tamper<P>>) -> Self {
        ModelNode { protocol, tamper }
    }

    /// The protocol this node runs.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// Moves the protocol's commands into `o`, less those the bug removes;
    /// `after` is the state the handler left.
    fn pass_on(
        &self,
        inner: Out<P>,
        handling: Option<&'static str>,
        after: &P::State,
        o: &mut Out<Self>,
    ) {
        let keep = |command: &Command<P::Msg, P::Timer, P::Random, P::Storage>| match (
            &self.tamper,
            command,
        ) {
            (Some(Tamper::NeverSend(kind)), Command::Send(_, msg)) => P::message_kind(msg) != *kind,
            (Some(Tamper::SkipSaves { handling: kind }), Command::Save(_)) => {
                handling != Some(*kind)
            }
            (Some(Tamper::NeverArm(forgets)), Command::SetTimer(timer, _)) => {
                !forgets(after, timer)
            }
            _ => true,
        };
        let mut kept: Out<Self> = inner.into_iter().filter(keep).collect();
        o.append(&mut kept);
    }
}

impl<P: Protocol> Actor for ModelNode<P> {
    type Msg = P::Msg;
    type Timer = P::Timer;
    type State = P::State;
    type Storage = P::Storage;
    type Random = P::Random;

    fn on_start(&self, id: Id, storage: &Option<P::Storage>, o: &mut Out<Self>) -> P::State {
        let mut inner = Out::new();
        let state = self.protocol.on_start(id, storage, &mut inner);
        self.pass_on(inner, None, &state, o);
        state
    }

    fn on_msg(&self, id: Id, state: &mut Cow<P::State>, src: Id, msg: P::Msg, o: &mut Out<Self>) {
        let kind = P::message_kind(&msg);
        let ignored = match &self.tamper {
            Some(Tamper::Ignore {
                kind: ignored,
                while_leading,
            }) => *ignored == kind && (!while_leading || state.role() == Role::Leader),
            _ => false,
        };
        if !ignored {
            let msg = match &self.tamper {
                Some(Tamper::RewriteIncoming(rewrite)) => rewrite(state, msg),
                _ => msg,
            };
            if let Some(Tamper::Forget(forget)) = &self.tamper {
                if let Some(forgetful) = forget(state, src, &msg) {
                    *state = Cow::Owned(forgetful);
                }
            }
            let before = matches!(self.tamper, Some(Tamper::Undo(_))).then(|| (**state).clone());
            let mut inner = Out::new();
            self.protocol.on_msg(id, state, src, msg, &mut inner);
            if let (Some(Tamper::Undo(undo)), Some(before)) = (&self.tamper, &before) {
                undo(before, state.to_mut());
            }
            self.pass_on(inner, Some(kind), state, o);
        }
        // Every delivery consumes its message (see the type's doc).
        state.to_mut();
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<P::State>, timer: &P::Timer, o: &mut Out<Self>) {
        let mut inner = Out::new();
        self.protocol.on_timeout(id, state, timer, &mut inner);
        self.pass_on(inner, None, state, o);
    }

    fn on_random(&self, id: Id, state: &mut Cow<P::State>, random: &P::Random, o: &mut Out<Self>) {
        let mut inner = Out::new();
        self.protocol.on_random(id, state, random, &mut inner);
        self.pass_on(inner, None, state, o);
    }

    fn name(&self) -> String {
        self.protocol.name()
    }
}
