//! Garcia-Molina's original Bully algorithm (H. Garcia-Molina, "Elections in
//! a Distributed Computing System", IEEE Trans. Computers, 1982), with the
//! "halt" phase that the seed's simple variant ([`super::bully`]) leaves out.
//!
//! A node that suspects the coordinator — it has heard nothing from it for
//! the leader timeout — or that has just started or recovered holds an
//! election: it sends ARE-YOU-UP to every node with a higher id. A higher
//! node answers OK, which puts the asker out of the running: it waits to be
//! halted by the winner. A node that gets no OK within the reply timeout —
//! nobody above it is alive — does not declare itself coordinator yet: it
//! first sends HALT to every lower node. A node halted by a higher one stops
//! whatever it was doing, coordinating included, remembers who halted it and
//! answers HALT-ACK. Once every lower node has acknowledged, or the reply
//! timeout says the silent ones are dead, the winner becomes coordinator and
//! sends COORDINATOR ("I am elected") to the nodes that acknowledged; only a
//! node halted by that winner accepts it. The coordinator repeats
//! COORDINATOR to every node each heartbeat period; it is its followers'
//! heartbeat. The highest id has nobody to ask, so it starts with the halt
//! phase.
//!
//! The halt phase is what the simple Bully lacks: a node that recovers with
//! a higher id no longer coordinates beside the old coordinator, because it
//! takes office only once the old one has acknowledged that it stopped.
//!
//! A node that was down during a halt phase is brought in when it recovers:
//! the winner, still halting or already in office, answers its ARE-YOU-UP
//! with HALT rather than OK, and its HALT-ACK with COORDINATOR. A node that
//! has acknowledged a HALT obeys no lower halter and follows nobody but its
//! halter, since the halter may already count it among its followers.
//!
//! Nothing is persisted: a recovering node simply holds an election.

use super::{arm, Cluster, Ids, MaybeId, Protocol, ProtocolKind, TimerRole};
use crate::leadership::{Leadership, Role};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

// ---------------------------------------------------------------- messages

/// What nodes of Garcia-Molina's Bully say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyHaltMsg {
    /// "I am holding an election": sent to every higher id.
    AreYouUp,
    /// "I am alive and higher than you": the answer to ARE-YOU-UP from a
    /// node that is not taking or holding office.
    Ok,
    /// "Stop what you are doing, I am about to coordinate": sent by a
    /// would-be coordinator to every lower id, and by it or the coordinator
    /// in answer to ARE-YOU-UP.
    Halt,
    /// "I have stopped": the answer to HALT.
    HaltAck,
    /// "I am elected": sent to the nodes that acknowledged HALT, and to
    /// every node each heartbeat.
    Coordinator,
}

/// The timers a node arms, one role at a time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyHaltTimer {
    /// Coordinator: time to announce itself again.
    Heartbeat,
    /// Follower: the coordinator has been silent for too long.
    LeaderTimeout,
    /// Electing: no higher node answered OK in time, so this node halts the
    /// lower ones.
    AnswerTimeout,
    /// Halting: the lower nodes that have not acknowledged HALT are dead.
    HaltTimeout,
    /// Waiting or Halted: no higher node halted this node, or its halter
    /// never announced itself.
    CoordinatorTimeout,
}

// ------------------------------------------------------------------- state

/// Where a node stands in the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyHaltRole {
    /// Knows a coordinator and watches it.
    Follower,
    /// Sent ARE-YOU-UP to the higher nodes; waits for an OK.
    Electing,
    /// Received OK; waits to be halted by the winner.
    Waiting,
    /// Sent HALT to the lower nodes; collects their acknowledgements.
    Halting,
    /// Halted by a higher node; waits for its COORDINATOR.
    Halted,
    /// Is the coordinator.
    Coordinator,
}

/// A node's state.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BullyHaltState {
    /// Where the node stands in the election.
    pub role: BullyHaltRole,
    /// The coordinator this node follows (itself when coordinator); none
    /// while an election is under way.
    pub coordinator: Option<Id>,
    /// The node whose HALT this node acknowledged; only kept while Halted.
    pub halted_by: Option<Id>,
    /// Lower nodes that acknowledged HALT; only kept while Halting.
    pub acks: BTreeSet<Id>,
}

impl BullyHaltState {
    fn electing() -> Self {
        BullyHaltState {
            role: BullyHaltRole::Electing,
            coordinator: None,
            halted_by: None,
            acks: BTreeSet::new(),
        }
    }

    /// Takes `role`, forgetting what belonged to the previous one, so that
    /// equal situations are equal states.
    fn enter(&mut self, role: BullyHaltRole) {
        self.role = role;
        self.coordinator = None;
        self.halted_by = None;
        self.acks.clear();
    }
}

// ---------------------------------------------------------------- handlers

/// The node program of Garcia-Molina's Bully: its cluster's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BullyHalt {
    cluster: Cluster,
}

impl BullyHalt {
    fn higher(&self, me: Id) -> impl Iterator<Item = Id> + '_ {
        self.cluster.peers(me).filter(move |&id| id > me)
    }

    fn lower(&self, me: Id) -> impl Iterator<Item = Id> + '_ {
        self.cluster.peers(me).filter(move |&id| id < me)
    }

    fn hold_election(&self, me: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        if self.higher(me).next().is_none() {
            // Nobody can answer OK: the highest id goes straight to halting.
            return self.start_halting(me, state, o);
        }
        self.stop_timers(o);
        state.enter(BullyHaltRole::Electing);
        for peer in self.higher(me) {
            o.send(peer, BullyHaltMsg::AreYouUp);
        }
        arm(self, o, BullyHaltTimer::AnswerTimeout);
    }

    fn start_halting(&self, me: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        if self.lower(me).next().is_none() {
            // Nobody to halt (a one-node cluster): coordinate at once.
            return self.become_coordinator(me, state, o);
        }
        self.stop_timers(o);
        state.enter(BullyHaltRole::Halting);
        for peer in self.lower(me) {
            o.send(peer, BullyHaltMsg::Halt);
        }
        arm(self, o, BullyHaltTimer::HaltTimeout);
    }

    /// Records `peer`'s acknowledgement; once every lower node has stopped
    /// there is nothing left to wait for.
    fn count_ack(&self, me: Id, peer: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        state.acks.insert(peer);
        if self.lower(me).all(|id| state.acks.contains(&id)) {
            self.become_coordinator(me, state, o);
        }
    }

    /// Announces itself to the nodes that acknowledged HALT: every other live
    /// lower node has stopped too (its acknowledgement is in hand or it is
    /// dead), and no higher node answered OK.
    fn become_coordinator(&self, me: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        self.stop_timers(o);
        let halted = std::mem::take(&mut state.acks);
        state.enter(BullyHaltRole::Coordinator);
        state.coordinator = Some(me);
        for peer in halted {
            o.send(peer, BullyHaltMsg::Coordinator);
        }
        arm(self, o, BullyHaltTimer::Heartbeat);
    }

    /// The heartbeat goes to every node, not only to the followers: a node
    /// still loyal to another coordinator, or coordinating itself, hears of
    /// this one and holds an election that sorts the two out (see
    /// [`BullyHalt::on_coordinator`]).
    fn heartbeat(&self, me: Id, o: &mut Out<Self>) {
        for peer in self.cluster.peers(me) {
            o.send(peer, BullyHaltMsg::Coordinator);
        }
        arm(self, o, BullyHaltTimer::Heartbeat);
    }

    fn halt(&self, by: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        self.stop_timers(o);
        state.enter(BullyHaltRole::Halted);
        state.halted_by = Some(by);
        o.send(by, BullyHaltMsg::HaltAck);
        arm(self, o, BullyHaltTimer::CoordinatorTimeout);
    }

    fn follow(&self, coordinator: Id, state: &mut BullyHaltState, o: &mut Out<Self>) {
        self.stop_timers(o);
        state.enter(BullyHaltRole::Follower);
        state.coordinator = Some(coordinator);
        arm(self, o, BullyHaltTimer::LeaderTimeout);
    }

    /// COORDINATOR is accepted only from the node that halted us, and as a
    /// heartbeat from the node we follow. Following anyone else could leave
    /// us loyal to a node that no longer coordinates (its announcement was
    /// still in flight when it was halted) while the node whose HALT we
    /// acknowledged counts us among its followers.
    fn on_coordinator(&self, me: Id, src: Id, state: &mut Cow<BullyHaltState>, o: &mut Out<Self>) {
        match state.role {
            BullyHaltRole::Follower if state.coordinator == Some(src) => {
                arm(self, o, BullyHaltTimer::LeaderTimeout)
            }
            BullyHaltRole::Halted if state.halted_by == Some(src) => {
                self.follow(src, state.to_mut(), o)
            }
            // In an election: a live higher coordinator has sent us HALT (in
            // answer to our ARE-YOU-UP, or to every lower node when it began
            // halting), and the winner will halt a lower claimant. A halted
            // node waits for its own halter, whose death the coordinator
            // timeout reveals.
            BullyHaltRole::Electing
            | BullyHaltRole::Waiting
            | BullyHaltRole::Halting
            | BullyHaltRole::Halted => {}
            // Settled on another coordinator, or coordinating: a higher
            // claimant gets to halt us through the election's ARE-YOU-UP, a
            // lower one is bullied by it.
            BullyHaltRole::Follower | BullyHaltRole::Coordinator => {
                self.hold_election(me, state.to_mut(), o)
            }
        }
    }

    /// Each role owns its timers; changing role cancels the others.
    fn stop_timers(&self, o: &mut Out<Self>) {
        o.cancel_timer(BullyHaltTimer::Heartbeat);
        o.cancel_timer(BullyHaltTimer::LeaderTimeout);
        o.cancel_timer(BullyHaltTimer::AnswerTimeout);
        o.cancel_timer(BullyHaltTimer::HaltTimeout);
        o.cancel_timer(BullyHaltTimer::CoordinatorTimeout);
    }
}

impl Actor for BullyHalt {
    type Msg = BullyHaltMsg;
    type Timer = BullyHaltTimer;
    type State = BullyHaltState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, me: Id, _storage: &Option<()>, o: &mut Out<Self>) -> BullyHaltState {
        // Starting and recovering are the same: hold an election.
        let mut state = BullyHaltState::electing();
        self.hold_election(me, &mut state, o);
        state
    }

    fn on_msg(
        &self,
        me: Id,
        state: &mut Cow<BullyHaltState>,
        src: Id,
        msg: BullyHaltMsg,
        o: &mut Out<Self>,
    ) {
        match msg {
            BullyHaltMsg::AreYouUp => {
                if src > me {
                    return; // only lower nodes ask us
                }
                let reply = match state.role {
                    // A node that is taking or holding office halts the
                    // asker, so that the asker can accept its COORDINATOR;
                    // HALT answers "are you up" as well as OK would.
                    BullyHaltRole::Halting | BullyHaltRole::Coordinator => BullyHaltMsg::Halt,
                    BullyHaltRole::Follower
                    | BullyHaltRole::Electing
                    | BullyHaltRole::Waiting
                    | BullyHaltRole::Halted => BullyHaltMsg::Ok,
                };
                o.send(src, reply);
            }
            BullyHaltMsg::Ok => {
                if state.role == BullyHaltRole::Electing && src > me {
                    self.stop_timers(o);
                    state.to_mut().enter(BullyHaltRole::Waiting);
                    arm(self, o, BullyHaltTimer::CoordinatorTimeout);
                }
            }
            BullyHaltMsg::Halt => {
                // A lower node halts only when it heard no OK from us: we
                // were down then, and the election we held on recovery (or
                // that of a node above us) will halt it in turn.
                //
                // Once halted, obey only a higher halter. The halter we
                // acknowledged may count us when it takes office; switching
                // to a lower halter, which the higher one is about to halt
                // too, could leave us following the lower one while the
                // higher one leads.
                let outranked = state.role == BullyHaltRole::Halted
                    && state.halted_by.is_some_and(|by| by > src);
                if src > me && !outranked {
                    self.halt(src, state.to_mut(), o);
                }
            }
            BullyHaltMsg::HaltAck => match state.role {
                BullyHaltRole::Halting if src < me => self.count_ack(me, src, state.to_mut(), o),
                // A latecomer we halted while in office: admit it.
                BullyHaltRole::Coordinator if src < me => o.send(src, BullyHaltMsg::Coordinator),
                _ => {}
            },
            BullyHaltMsg::Coordinator => self.on_coordinator(me, src, state, o),
        }
    }

    fn on_timeout(
        &self,
        me: Id,
        state: &mut Cow<BullyHaltState>,
        timer: &BullyHaltTimer,
        o: &mut Out<Self>,
    ) {
        match (timer, state.role) {
            (BullyHaltTimer::Heartbeat, BullyHaltRole::Coordinator) => self.heartbeat(me, o),
            (BullyHaltTimer::LeaderTimeout, BullyHaltRole::Follower)
            | (BullyHaltTimer::CoordinatorTimeout, BullyHaltRole::Waiting)
            | (BullyHaltTimer::CoordinatorTimeout, BullyHaltRole::Halted) => {
                self.hold_election(me, state.to_mut(), o)
            }
            (BullyHaltTimer::AnswerTimeout, BullyHaltRole::Electing) => {
                self.start_halting(me, state.to_mut(), o)
            }
            (BullyHaltTimer::HaltTimeout, BullyHaltRole::Halting) => {
                self.become_coordinator(me, state.to_mut(), o)
            }
            _ => {} // a stale timer of a role this node has left
        }
    }

    fn name(&self) -> String {
        "bully-halt".into()
    }
}

impl Protocol for BullyHalt {
    const KIND: ProtocolKind = ProtocolKind::BullyHalt;

    fn new(cluster: Cluster) -> Self {
        BullyHalt { cluster }
    }

    fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn timer_role(&self, timer: &BullyHaltTimer) -> TimerRole {
        match timer {
            BullyHaltTimer::Heartbeat => TimerRole::Heartbeat,
            BullyHaltTimer::LeaderTimeout => TimerRole::WatchesLeader,
            BullyHaltTimer::AnswerTimeout
            | BullyHaltTimer::HaltTimeout
            | BullyHaltTimer::CoordinatorTimeout => TimerRole::Other,
        }
    }

    fn timer_range(&self, timer: &BullyHaltTimer) -> Range<Duration> {
        let t = &self.cluster.timeouts;
        match timer {
            BullyHaltTimer::Heartbeat => t.heartbeat_range(),
            BullyHaltTimer::AnswerTimeout | BullyHaltTimer::HaltTimeout => t.reply_range(),
            BullyHaltTimer::LeaderTimeout | BullyHaltTimer::CoordinatorTimeout => {
                t.election.clone()
            }
        }
    }

    fn message_kind(msg: &BullyHaltMsg) -> &'static str {
        match msg {
            BullyHaltMsg::AreYouUp => "AreYouUp",
            BullyHaltMsg::Ok => "Ok",
            BullyHaltMsg::Halt => "Halt",
            BullyHaltMsg::HaltAck => "HaltAck",
            BullyHaltMsg::Coordinator => "Coordinator",
        }
    }
}

impl Leadership for BullyHaltState {
    fn role(&self) -> Role {
        match self.role {
            BullyHaltRole::Follower => Role::Follower,
            BullyHaltRole::Electing
            | BullyHaltRole::Waiting
            | BullyHaltRole::Halting
            | BullyHaltRole::Halted => Role::Candidate,
            BullyHaltRole::Coordinator => Role::Leader,
        }
    }

    fn leader(&self) -> Option<Id> {
        self.coordinator
    }

    fn term(&self) -> Option<u64> {
        None
    }
}

impl fmt::Debug for BullyHaltState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} coordinator {}",
            self.role,
            MaybeId(self.coordinator)
        )?;
        if self.halted_by.is_some() {
            write!(f, " halted by {}", MaybeId(self.halted_by))?;
        }
        if self.role == BullyHaltRole::Halting {
            let acks: Vec<Id> = self.acks.iter().copied().collect();
            write!(f, " acks {:?}", Ids(&acks))?;
        }
        Ok(())
    }
}

// Relabelling node ids, for the checker's state representation (never used
// to merge states: the algorithm orders nodes by id).
impl Rewrite<Id> for BullyHaltState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        BullyHaltState {
            role: self.role,
            coordinator: self.coordinator.rewrite(plan),
            halted_by: self.halted_by.rewrite(plan),
            acks: self.acks.rewrite(plan),
        }
    }
}

crate::no_terms!(BullyHaltState, BullyHaltMsg);

impl Rewrite<Id> for BullyHaltMsg {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testkit::{deliver, fire, sends};
    use crate::protocols::Timeouts;
    use stateright::actor::Command;

    fn bully_halt(n: usize) -> BullyHalt {
        BullyHalt::new(Cluster::new(n, Timeouts::default()))
    }

    fn armed(o: &Out<BullyHalt>) -> Vec<BullyHaltTimer> {
        o.iter()
            .filter_map(|c| match c {
                Command::SetTimer(timer, _) => Some(timer.clone()),
                _ => None,
            })
            .collect()
    }

    fn in_role(role: BullyHaltRole) -> BullyHaltState {
        let mut state = BullyHaltState::electing();
        state.enter(role);
        state
    }

    fn follower_of(c: usize) -> BullyHaltState {
        BullyHaltState {
            coordinator: Some(Id::from(c)),
            ..in_role(BullyHaltRole::Follower)
        }
    }

    fn coordinator(me: usize) -> BullyHaltState {
        BullyHaltState {
            coordinator: Some(Id::from(me)),
            ..in_role(BullyHaltRole::Coordinator)
        }
    }

    fn halted_by(halter: usize) -> BullyHaltState {
        BullyHaltState {
            halted_by: Some(Id::from(halter)),
            ..in_role(BullyHaltRole::Halted)
        }
    }

    fn halting(acks: &[usize]) -> BullyHaltState {
        BullyHaltState {
            acks: acks.iter().copied().map(Id::from).collect(),
            ..in_role(BullyHaltRole::Halting)
        }
    }

    #[test]
    fn starting_node_asks_only_higher_ids() {
        let node = bully_halt(4);
        let mut o = Out::new();
        let state = node.on_start(Id::from(1), &None, &mut o);
        assert_eq!(state.role, BullyHaltRole::Electing);
        assert_eq!(
            sends(&o),
            vec![(2, BullyHaltMsg::AreYouUp), (3, BullyHaltMsg::AreYouUp)]
        );
    }

    #[test]
    fn highest_node_starts_with_the_halt_phase() {
        let node = bully_halt(3);
        let mut o = Out::new();
        let state = node.on_start(Id::from(2), &None, &mut o);
        assert_eq!(state, halting(&[]));
        assert_eq!(state.role(), Role::Candidate);
        assert_eq!(state.leader(), None);
        assert_eq!(
            sends(&o),
            vec![(0, BullyHaltMsg::Halt), (1, BullyHaltMsg::Halt)]
        );
        assert_eq!(armed(&o), vec![BullyHaltTimer::HaltTimeout]);
    }

    #[test]
    fn lone_node_coordinates_at_once() {
        let node = bully_halt(1);
        let mut o = Out::new();
        let state = node.on_start(Id::from(0), &None, &mut o);
        assert_eq!(state, coordinator(0));
        assert_eq!(sends(&o), vec![]);
        assert_eq!(armed(&o), vec![BullyHaltTimer::Heartbeat]);
    }

    #[test]
    fn follower_answers_are_you_up_and_keeps_following() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 1, follower_of(2), 0, BullyHaltMsg::AreYouUp);
        assert_eq!(state, follower_of(2));
        assert_eq!(sends(&o), vec![(0, BullyHaltMsg::Ok)]);
    }

    #[test]
    fn halt_from_a_higher_node_stops_a_coordinator() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 1, coordinator(1), 2, BullyHaltMsg::Halt);
        assert_eq!(state, halted_by(2));
        assert_eq!(state.role(), Role::Candidate);
        assert_eq!(state.leader(), None);
        assert_eq!(sends(&o), vec![(2, BullyHaltMsg::HaltAck)]);
        assert!(o
            .iter()
            .any(|c| matches!(c, Command::CancelTimer(BullyHaltTimer::Heartbeat))));
        assert_eq!(armed(&o), vec![BullyHaltTimer::CoordinatorTimeout]);
    }

    #[test]
    fn halt_from_a_lower_node_is_ignored() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 2, coordinator(2), 1, BullyHaltMsg::Halt);
        assert_eq!(state, coordinator(2));
        assert_eq!(sends(&o), vec![]);
    }

    #[test]
    fn halted_node_obeys_no_lower_halter() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 0, halted_by(2), 1, BullyHaltMsg::Halt);
        assert_eq!(state, halted_by(2));
        assert_eq!(sends(&o), vec![]);
        // A higher one takes over.
        let (state, _) = deliver(&node, 0, halted_by(1), 2, BullyHaltMsg::Halt);
        assert_eq!(state, halted_by(2));
    }

    #[test]
    fn acks_from_every_lower_node_make_a_coordinator() {
        let node = bully_halt(4);
        let (state, o) = deliver(&node, 3, halting(&[0]), 1, BullyHaltMsg::HaltAck);
        assert_eq!(state, halting(&[0, 1]));
        assert_eq!(sends(&o), vec![]);
        let (state, o) = deliver(&node, 3, state, 2, BullyHaltMsg::HaltAck);
        assert_eq!(state, coordinator(3));
        assert_eq!(
            sends(&o),
            vec![
                (0, BullyHaltMsg::Coordinator),
                (1, BullyHaltMsg::Coordinator),
                (2, BullyHaltMsg::Coordinator)
            ]
        );
        assert_eq!(armed(&o), vec![BullyHaltTimer::Heartbeat]);
    }

    #[test]
    fn halt_timeout_announces_only_to_the_nodes_that_acknowledged() {
        let node = bully_halt(4);
        let (state, o) = fire(&node, 3, halting(&[1]), BullyHaltTimer::HaltTimeout);
        assert_eq!(state, coordinator(3));
        assert_eq!(sends(&o), vec![(1, BullyHaltMsg::Coordinator)]);
    }

    #[test]
    fn halted_node_follows_the_node_that_halted_it() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 0, halted_by(2), 2, BullyHaltMsg::Coordinator);
        assert_eq!(state, follower_of(2));
        assert_eq!(armed(&o), vec![BullyHaltTimer::LeaderTimeout]);
    }

    #[test]
    fn coordinator_that_did_not_halt_the_node_is_not_followed() {
        let node = bully_halt(3);
        // Halted by n2: n1's announcement does not move it.
        let (state, o) = deliver(&node, 0, halted_by(2), 1, BullyHaltMsg::Coordinator);
        assert_eq!(state, halted_by(2));
        assert_eq!(sends(&o), vec![]);
        // Still waiting to be halted: the HALT is on its way.
        let waiting = in_role(BullyHaltRole::Waiting);
        let (state, _) = deliver(&node, 0, waiting.clone(), 2, BullyHaltMsg::Coordinator);
        assert_eq!(state, waiting);
        // Following n1: ask the higher nodes, so that n2 halts it.
        let (state, o) = deliver(&node, 0, follower_of(1), 2, BullyHaltMsg::Coordinator);
        assert_eq!(state.role, BullyHaltRole::Electing);
        assert_eq!(state.leader(), None);
        assert_eq!(
            sends(&o),
            vec![(1, BullyHaltMsg::AreYouUp), (2, BullyHaltMsg::AreYouUp)]
        );
    }

    #[test]
    fn coordinator_from_below_is_bullied() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 2, coordinator(2), 1, BullyHaltMsg::Coordinator);
        assert_eq!(state, halting(&[]));
        assert_eq!(
            sends(&o),
            vec![(0, BullyHaltMsg::Halt), (1, BullyHaltMsg::Halt)]
        );
    }

    #[test]
    fn coordinator_halts_and_then_admits_a_latecomer() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 2, coordinator(2), 0, BullyHaltMsg::AreYouUp);
        assert_eq!(state, coordinator(2));
        assert_eq!(sends(&o), vec![(0, BullyHaltMsg::Halt)]);
        let (state, o) = deliver(&node, 2, state, 0, BullyHaltMsg::HaltAck);
        assert_eq!(state, coordinator(2));
        assert_eq!(sends(&o), vec![(0, BullyHaltMsg::Coordinator)]);
    }

    #[test]
    fn a_heartbeat_from_the_followed_coordinator_only_restarts_the_watch() {
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 0, follower_of(2), 2, BullyHaltMsg::Coordinator);
        assert_eq!(state, follower_of(2));
        assert_eq!(sends(&o), vec![]);
        assert_eq!(armed(&o), vec![BullyHaltTimer::LeaderTimeout]);
    }

    #[test]
    fn a_late_ok_leaves_a_settled_node_alone() {
        // Node 0 asked 1 and 2; 2 halted it and took office before 1's OK came.
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 0, follower_of(2), 1, BullyHaltMsg::Ok);
        assert_eq!(state, follower_of(2));
        assert!(o.iter().next().is_none());
    }

    #[test]
    fn a_repeated_halt_from_the_same_halter_is_acknowledged_again() {
        // The halter may have started a new halting round that counts its
        // acknowledgements afresh.
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 0, halted_by(2), 2, BullyHaltMsg::Halt);
        assert_eq!(state, halted_by(2));
        assert_eq!(sends(&o), vec![(2, BullyHaltMsg::HaltAck)]);
    }

    #[test]
    fn what_only_lower_nodes_send_is_ignored_from_a_higher_one() {
        // No correct node sends these upwards; a confused or stale peer must
        // not make a node answer, count an acknowledgement or admit it.
        let node = bully_halt(3);
        let (state, o) = deliver(&node, 1, follower_of(2), 2, BullyHaltMsg::AreYouUp);
        assert_eq!(state, follower_of(2));
        assert_eq!(sends(&o), vec![]);
        let node = bully_halt(4);
        let (state, o) = deliver(&node, 2, halting(&[0]), 3, BullyHaltMsg::HaltAck);
        assert_eq!(state, halting(&[0]));
        assert!(o.iter().next().is_none());
        let (state, o) = deliver(&node, 2, coordinator(2), 3, BullyHaltMsg::HaltAck);
        assert_eq!(state, coordinator(2));
        assert_eq!(sends(&o), vec![]);
    }

    #[test]
    fn stale_timers_of_a_role_left_behind_do_nothing() {
        let node = bully_halt(3);
        let cases = [
            (halting(&[0]), BullyHaltTimer::AnswerTimeout),
            (halted_by(2), BullyHaltTimer::HaltTimeout),
            (follower_of(2), BullyHaltTimer::Heartbeat),
            (coordinator(1), BullyHaltTimer::CoordinatorTimeout),
            (
                in_role(BullyHaltRole::Waiting),
                BullyHaltTimer::LeaderTimeout,
            ),
        ];
        for (before, timer) in cases {
            let (after, o) = fire(&node, 1, before.clone(), timer.clone());
            assert_eq!(after, before, "{timer:?}");
            assert!(o.iter().next().is_none(), "{timer:?}");
        }
    }

    #[test]
    fn state_prints_what_the_role_keeps() {
        assert_eq!(
            format!("{:?}", halting(&[0, 1])),
            "Halting coordinator - acks [n0,n1]"
        );
        assert_eq!(
            format!("{:?}", halted_by(2)),
            "Halted coordinator - halted by n2"
        );
        assert_eq!(format!("{:?}", follower_of(2)), "Follower coordinator n2");
    }
}
