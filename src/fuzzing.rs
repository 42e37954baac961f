//! Fuzzing harnesses, shared by the `cargo fuzz` targets in `fuzz/` and
//! their proptest versions in `tests/fuzzing.rs`, so that both exercise the
//! same checks on the same code the nodes run.
//!
//! - [`gate`]: arbitrary bytes arrive at a node as a datagram, with and
//!   without a cluster key. Nothing panics; whatever is accepted as a
//!   protocol message comes from a member other than the node and survives
//!   an encode/decode round trip.
//! - [`actor`]: arbitrary bytes become a sequence of events at one node —
//!   messages of the protocol's own type from any member, firings of the
//!   timers it armed, crashes and restarts from what it saved or from an
//!   arbitrary stored value. After every event the node's leadership view
//!   is well-formed and its commands are ones the runtime can carry out.

use crate::leadership::{Leadership, Role};
use crate::protocols::{Cluster, Protocol, Timeouts};
use crate::runtime::auth::Key;
use crate::runtime::inbound::{Gate, Incoming};
use crate::runtime::wire::{self, Kind};
use serde::Deserialize;
use stateright::actor::{Command, Id, Out};
use std::borrow::Cow;
use std::net::SocketAddr;

/// One thing that happens to the node under test, as the fuzzer spells it
/// (postcard-encoded, so libFuzzer learns the shape quickly).
#[derive(Debug, Deserialize)]
pub enum Event<M, S> {
    /// A message from member `from % size`; skipped when that is the node
    /// itself, which the runtime's gate never lets through.
    Deliver {
        /// The sender, modulo the cluster size.
        from: u8,
        /// The message.
        msg: M,
    },
    /// The armed timer number `which % armed`; skipped when none is armed
    /// (the runtime only ever fires armed timers).
    Fire {
        /// Which armed timer, modulo how many are armed.
        which: u8,
    },
    /// Crash and restart from what the node saved.
    Restart,
    /// Restart from an arbitrary stored value, as a damaged or foreign disk
    /// would hand it over: the node must not panic on it either.
    RestartFrom(S),
}

/// The node under test and what the harness knows about it.
struct Subject<P: Protocol> {
    actor: P,
    me: Id,
    size: usize,
    state: P::State,
    armed: Vec<P::Timer>,
    saved: Option<P::Storage>,
    /// The term of the state that last saved, for protocols with terms.
    term_saved: Option<u64>,
    /// A cluster key, to check that what the node sends fits a datagram
    /// with its MAC.
    key: Key,
}

/// The key the harnesses seal with.
fn fuzzing_key() -> Result<Key, String> {
    Key::new(b"fuzzing-cluster-key-0123456789").map_err(|e| e.to_string())
}

impl<P: Protocol> Subject<P> {
    fn start(actor: P, me: Id, size: usize) -> Result<Self, String> {
        let mut out = Out::new();
        let state = actor.on_start(me, &None, &mut out);
        let mut subject = Subject {
            actor,
            me,
            size,
            state,
            armed: Vec::new(),
            saved: None,
            term_saved: None,
            key: fuzzing_key()?,
        };
        subject.check_view(None)?;
        subject.apply(out)?;
        Ok(subject)
    }

    /// Starts the node afresh from `storage`, as the runtime does after a crash.
    fn restart(&mut self, storage: Option<P::Storage>) -> Result<(), String> {
        self.armed.clear();
        let mut out = Out::new();
        self.state = self.actor.on_start(self.me, &storage, &mut out);
        self.saved = storage;
        self.check_view(None)?;
        self.apply(out)
    }

    fn handle(&mut self, event: Event<P::Msg, P::Storage>) -> Result<(), String> {
        match event {
            Event::Deliver { from, msg } => {
                let src = Id::from(usize::from(from) % self.size);
                if src != self.me {
                    self.step(|actor, me, state, out| actor.on_msg(me, state, src, msg, out))?;
                }
            }
            Event::Fire { which } => {
                if !self.armed.is_empty() {
                    let timer = self.armed.remove(usize::from(which) % self.armed.len());
                    self.step(|actor, me, state, out| actor.on_timeout(me, state, &timer, out))?;
                }
            }
            Event::Restart => {
                let before = self.term_saved;
                self.restart(self.saved.clone())?;
                // A term the node saved is never forgotten (Raft's safety
                // rests on it).
                if let (Some(saved), Some(now)) = (before, self.state.term()) {
                    if now < saved {
                        return Err(format!(
                            "restarted in term {now}, below the saved term {saved}"
                        ));
                    }
                }
            }
            Event::RestartFrom(storage) => {
                self.term_saved = None;
                self.restart(Some(storage))?;
            }
        }
        Ok(())
    }

    /// Runs one handler, then checks what it left behind.
    fn step(
        &mut self,
        handler: impl FnOnce(&P, Id, &mut Cow<P::State>, &mut Out<P>),
    ) -> Result<(), String> {
        let before = self.state.term();
        let mut out = Out::new();
        let mut state = Cow::Borrowed(&self.state);
        handler(&self.actor, self.me, &mut state, &mut out);
        if let Cow::Owned(next) = state {
            self.state = next;
        }
        self.check_view(before)?;
        self.apply(out)
    }

    /// The leadership view is well-formed: a believed leader is a member, a
    /// leader believes in itself, and a term never goes backwards.
    fn check_view(&self, term_before: Option<u64>) -> Result<(), String> {
        let view = self.state.view();
        if view.leader.is_some_and(|l| l >= self.size) {
            return Err(format!("{view}: the leader is not a member"));
        }
        if view.role == Role::Leader && view.leader != Some(usize::from(self.me)) {
            return Err(format!("{view}: a leader that does not follow itself"));
        }
        if let (Some(before), Some(now)) = (term_before, view.term) {
            if now < before {
                return Err(format!("term went back from {before} to {now}"));
            }
        }
        Ok(())
    }

    /// Checks every command the way the runtime would carry it out.
    fn apply(&mut self, out: Out<P>) -> Result<(), String> {
        for command in out {
            match command {
                Command::Send(dst, msg) => {
                    if usize::from(dst) >= self.size || dst == self.me {
                        return Err(format!("sent {msg:?} to {dst}, not a peer"));
                    }
                    // It must fit a datagram with its MAC: the runtime would
                    // refuse to send it otherwise.
                    wire::datagram(Kind::Protocol, 0, 0, &msg, Some(&self.key))
                        .map_err(|e| format!("{msg:?}: {e}"))?;
                }
                Command::SetTimer(timer, range) => {
                    if range != self.actor.timer_range(&timer) {
                        return Err(format!(
                            "{timer:?} armed for {range:?}, not its configured range"
                        ));
                    }
                    self.armed.retain(|t| *t != timer);
                    self.armed.push(timer);
                }
                Command::CancelTimer(timer) => self.armed.retain(|t| *t != timer),
                Command::Save(storage) => {
                    postcard::to_allocvec(&storage)
                        .map_err(|e| format!("storage does not encode: {e}"))?;
                    self.saved = Some(storage);
                    self.term_saved = self.state.term();
                }
                Command::ChooseRandom(..) => {}
            }
        }
        Ok(())
    }
}

/// Feeds `data` to one node of protocol `P` as a sequence of [`Event`]s.
/// The first two bytes pick the cluster size (2–7) and the node's id.
/// Returns how many events were applied, or what went wrong.
pub fn actor<P: Protocol>(data: &[u8]) -> Result<usize, String> {
    let [size, me, rest @ ..] = data else {
        return Ok(0);
    };
    let size = 2 + usize::from(*size) % 6;
    let me = Id::from(usize::from(*me) % size);
    let actor = P::new(Cluster::new(size, Timeouts::default()));
    let mut subject = Subject::start(actor, me, size)?;
    let mut rest = rest;
    let mut events = 0;
    while !rest.is_empty() {
        match postcard::take_from_bytes::<Event<P::Msg, P::Storage>>(rest) {
            Ok((event, tail)) => {
                let described = format!("{event:?}");
                subject
                    .handle(event)
                    .map_err(|e| format!("after event {events} ({described}): {e}"))?;
                events += 1;
                rest = tail;
            }
            // Not an event: skip a byte and try again.
            Err(_) => rest = &rest[1..],
        }
    }
    Ok(events)
}

/// Feeds `data` to node 0 of a three-node cluster of protocol `P` as one
/// datagram. The first byte picks the sender's address (a member, the node
/// itself, or a stranger) and whether the cluster has a key; when it has,
/// the second byte decides whether the datagram is sealed with it first, so
/// that the fuzzer also reaches the checks behind the MAC. Returns whether a
/// protocol message got through.
pub fn gate<P: Protocol>(data: &[u8]) -> Result<bool, String> {
    let [how, seal, datagram @ ..] = data else {
        return Ok(false);
    };
    let peers: Vec<SocketAddr> = (0..3u16)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 7000 + i)))
        .collect();
    let stranger = SocketAddr::from(([127, 0, 0, 9], 7000));
    let from = peers.get(usize::from(how % 4)).copied().unwrap_or(stranger);
    let key = fuzzing_key()?;
    let keyed = how & 0x80 != 0;
    let mut bytes = datagram.to_vec();
    if keyed && seal & 1 == 1 {
        key.seal(&mut bytes);
    }
    let me = Id::from(0);
    let gate = Gate {
        me,
        cluster: wire::cluster_id("elect"),
        key: keyed.then_some(&key),
        peers: &peers,
    };
    match gate.accept::<P::Msg>(&bytes, from) {
        Err(_) | Ok(Incoming::Admin(..)) => Ok(false),
        Ok(Incoming::Message(src, msg)) => {
            if src == me || Some(&from) != peers.get(usize::from(src)) {
                return Err(format!("accepted {msg:?} from {from} as {src}"));
            }
            let again =
                wire::encode(Kind::Protocol, gate.cluster, 1, &msg).map_err(|e| e.to_string())?;
            let (_, payload) =
                wire::decode_header(&again, gate.cluster).map_err(|e| e.to_string())?;
            match wire::decode_payload::<P::Msg>(payload) {
                Ok(decoded) if decoded == msg => Ok(true),
                other => Err(format!("{msg:?} does not round-trip: {other:?}")),
            }
        }
    }
}
