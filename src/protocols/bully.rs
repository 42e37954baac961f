//! The Bully algorithm, as the seed describes it (Garcia-Molina, 1982,
//! without the "halt" phase).
//!
//! A node that suspects the coordinator — it has heard nothing from it for
//! the leader timeout — or that has just started or recovered holds an
//! election: it sends ELECTION to every node with a higher id. A higher node
//! that receives ELECTION answers OK and holds its own election; the sender is
//! then out of the running and waits for a COORDINATOR message. A node that
//! gets no OK within the reply timeout has won: it becomes coordinator and
//! announces itself with COORDINATOR to every node. The coordinator repeats
//! that announcement every heartbeat period; it is the followers' heartbeat.
//! A node that hears COORDINATOR from a lower id bullies it: it holds an
//! election of its own, which it wins unless a still higher node answers.
//!
//! Nothing is persisted: the algorithm has no state worth keeping across a
//! crash, and a recovering node simply holds an election.

use super::mutants::*;
use super::{arm, Cluster, MaybeId, Protocol, ProtocolKind, TimerRole};
use crate::leadership::{Leadership, Role};
use crate::model::{properties, ElectionModel};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::Property;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

// ---------------------------------------------------------------- messages

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyMsg {
    /// "I am holding an election": sent to every higher id.
    Election,
    /// "I am alive and higher than you": the answer to ELECTION.
    Ok,
    /// "I am the coordinator": sent to all on winning, and every heartbeat.
    Coordinator,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyTimer {
    /// Coordinator: time to announce itself again.
    Heartbeat,
    /// Follower: the coordinator has been silent for too long.
    LeaderTimeout,
    /// Electing: no higher node answered OK in time, so this node has won.
    AnswerTimeout,
    /// Waiting: a higher node answered OK but never announced itself.
    CoordinatorTimeout,
}

// ------------------------------------------------------------------- state

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyRole {
    /// Knows a coordinator and watches it.
    Follower,
    /// Sent ELECTION to the higher nodes; waits for an OK.
    Electing,
    /// Received OK; waits for the winner's COORDINATOR.
    Waiting,
    /// Is the coordinator.
    Coordinator,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BullyState {
    pub role: BullyRole,
    /// The coordinator this node follows (itself when coordinator); none
    /// while an election is under way.
    pub coordinator: Option<Id>,
}

// ---------------------------------------------------------------- handlers

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bully {
    cluster: Cluster,
}

impl Bully {
    fn higher(&self, me: Id) -> impl Iterator<Item = Id> + '_ {
        self.cluster.peers(me).filter(move |&id| id > me)
    }

    fn hold_election(&self, me: Id, state: &mut BullyState, o: &mut Out<Self>) {
        self.stop_timers(o);
        if self.higher(me).next().is_none() {
            // Nobody can answer OK: the highest id wins at once.
            return self.become_coordinator(me, state, o);
        }
        state.role = BullyRole::Electing;
        state.coordinator = None;
        for peer in self.higher(me) {
            o.send(peer, BullyMsg::Election);
        }
        arm(self, o, BullyTimer::AnswerTimeout);
    }

    fn become_coordinator(&self, me: Id, state: &mut BullyState, o: &mut Out<Self>) {
        self.stop_timers(o);
        state.role = BullyRole::Coordinator;
        state.coordinator = Some(me);
        self.announce(me, o);
    }

    fn announce(&self, me: Id, o: &mut Out<Self>) {
        for peer in self.cluster.peers(me) {
            o.send(peer, BullyMsg::Coordinator);
        }
        arm(self, o, BullyTimer::Heartbeat);
    }

    fn follow(&self, coordinator: Id, state: &mut BullyState, o: &mut Out<Self>) {
        self.stop_timers(o);
        state.role = BullyRole::Follower;
        state.coordinator = Some(coordinator);
        arm(self, o, BullyTimer::LeaderTimeout);
    }

    /// Each role owns one timer; changing role cancels the others.
    fn stop_timers(&self, o: &mut Out<Self>) {
        o.cancel_timer(BullyTimer::Heartbeat);
        o.cancel_timer(BullyTimer::LeaderTimeout);
        o.cancel_timer(BullyTimer::AnswerTimeout);
        o.cancel_timer(BullyTimer::CoordinatorTimeout);
    }
}

impl Actor for Bully {
    type Msg = BullyMsg;
    type Timer = BullyTimer;
    type State = BullyState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, me: Id, _storage: &Option<()>, o: &mut Out<Self>) -> BullyState {
        // Starting and recovering are the same: hold an election.
        let mut state = BullyState {
            role: BullyRole::Electing,
            coordinator: None,
        };
        self.hold_election(me, &mut state, o);
        state
    }

    fn on_msg(
        &self,
        me: Id,
        state: &mut Cow<BullyState>,
        src: Id,
        msg: BullyMsg,
        o: &mut Out<Self>,
    ) {
        // Every delivery consumes its message, even one that changes nothing.
        let state = state.to_mut();
        match msg {
            BullyMsg::Election => {
                if src > me {
                    return; // only lower nodes send ELECTION to us
                }
                if state.role == BullyRole::Coordinator
                    && self.cluster.mutated(BULLY_COORDINATOR_SILENT)
                {
                    return;
                }
                let silent = self.cluster.mutated(BULLY_NO_OK);
                if !silent {
                    o.send(src, BullyMsg::Ok);
                }
                match state.role {
                    // "Q sends OK back to P and starts its own election." A
                    // node still waiting for a winner's COORDINATOR starts
                    // afresh too: the winner may have died after its OK.
                    // Staying quiet instead would save messages (each lower
                    // ELECTION restarts a waiting node, which is why large
                    // clusters send more than the O(n²) of one election, see
                    // bench/README.md), but the checker then finds a
                    // livelock after GST in bully-3-gst: node 1 waits for a
                    // dead coordinator while node 0 challenges it, gets its
                    // OK and times out again, forever (equal timeouts fire in
                    // any order in the model, as they may on a loaded host).
                    BullyRole::Follower | BullyRole::Waiting => self.hold_election(me, state, o),
                    // Already the coordinator: remind the challenger.
                    BullyRole::Coordinator => o.send(src, BullyMsg::Coordinator),
                    // Already challenging the higher nodes.
                    BullyRole::Electing => {}
                }
            }
            BullyMsg::Ok => {
                if state.role == BullyRole::Electing
                    && src > me
                    && !self.cluster.mutated(BULLY_IGNORE_OK)
                {
                    self.stop_timers(o);
                    state.role = BullyRole::Waiting;
                    arm(self, o, BullyTimer::CoordinatorTimeout);
                }
            }
            BullyMsg::Coordinator => {
                if src > me {
                    if state.role == BullyRole::Follower && state.coordinator == Some(src) {
                        // A heartbeat from the coordinator we follow.
                        arm(self, o, BullyTimer::LeaderTimeout);
                    } else {
                        self.follow(src, state, o);
                    }
                } else if state.role != BullyRole::Electing {
                    // A lower node claims to coordinate: bully it (while
                    // electing, the answer timeout settles it anyway).
                    self.hold_election(me, state, o);
                }
            }
        }
    }

    fn on_timeout(
        &self,
        me: Id,
        state: &mut Cow<BullyState>,
        timer: &BullyTimer,
        o: &mut Out<Self>,
    ) {
        match (timer, state.role) {
            (BullyTimer::Heartbeat, BullyRole::Coordinator) => self.announce(me, o),
            (BullyTimer::LeaderTimeout, BullyRole::Follower)
            | (BullyTimer::CoordinatorTimeout, BullyRole::Waiting) => {
                self.hold_election(me, state.to_mut(), o)
            }
            (BullyTimer::AnswerTimeout, BullyRole::Electing) => {
                self.become_coordinator(me, state.to_mut(), o)
            }
            _ => {} // a stale timer of a role this node has left
        }
    }

    fn name(&self) -> String {
        "bully".into()
    }
}

impl Protocol for Bully {
    const KIND: ProtocolKind = ProtocolKind::Bully;

    fn new(cluster: Cluster) -> Self {
        Bully { cluster }
    }

    fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn timer_role(&self, timer: &BullyTimer) -> TimerRole {
        match timer {
            BullyTimer::Heartbeat => TimerRole::Heartbeat,
            BullyTimer::LeaderTimeout => TimerRole::WatchesLeader,
            BullyTimer::AnswerTimeout | BullyTimer::CoordinatorTimeout => TimerRole::Other,
        }
    }

    fn timer_range(&self, timer: &BullyTimer) -> Range<Duration> {
        let t = &self.cluster.timeouts;
        match timer {
            BullyTimer::Heartbeat => t.heartbeat_range(),
            BullyTimer::AnswerTimeout => t.reply_range(),
            BullyTimer::LeaderTimeout | BullyTimer::CoordinatorTimeout => t.election.clone(),
        }
    }

    fn properties() -> Vec<Property<ElectionModel<Self>>> {
        properties_list()
    }

    fn message_kind(msg: &BullyMsg) -> &'static str {
        match msg {
            BullyMsg::Election => "Election",
            BullyMsg::Ok => "Ok",
            BullyMsg::Coordinator => "Coordinator",
        }
    }
}

impl Leadership for BullyState {
    fn role(&self) -> Role {
        match self.role {
            BullyRole::Follower => Role::Follower,
            BullyRole::Electing | BullyRole::Waiting => Role::Candidate,
            BullyRole::Coordinator => Role::Leader,
        }
    }

    fn leader(&self) -> Option<Id> {
        self.coordinator
    }

    fn term(&self) -> Option<u64> {
        None
    }
}

impl fmt::Debug for BullyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} coordinator {}",
            self.role,
            MaybeId(self.coordinator)
        )
    }
}

// -------------------------------------------------------------- properties

/// The properties checked for Bully.
///
/// - `single leader` (always): at most one live node acts as coordinator.
/// - `agreement` (always): live nodes that have finished an election and
///   follow a live coordinator all follow the same one.
///
/// Both hold when the network is reliable (no loss), timing is timely (a
/// timeout fires only when no message is in flight) and crashed nodes stay
/// down (crash-stop). They fail — split brain — when a timeout can fire while
/// an OK is still in flight (asynchronous timing), when an OK can be lost, and
/// when a higher node recovers: it wins at once and coordinates while the old
/// coordinator has not yet heard of it. The checker prints each of these
/// counterexamples.
///
/// The sanity and liveness properties every protocol shares are in
/// [`properties::common`].
fn properties_list() -> Vec<Property<ElectionModel<Bully>>> {
    vec![
        Property::always("single leader", properties::single_live_leader::<Bully>),
        Property::always("agreement", properties::settled_nodes_agree::<Bully>),
        Property::always(
            "highest live id leads",
            properties::highest_live_id_leads::<Bully>,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Timeouts;
    use stateright::actor::Command;

    fn bully(n: usize) -> Bully {
        Bully::new(Cluster::new(n, Timeouts::default()))
    }

    fn deliver(
        node: &Bully,
        me: usize,
        state: BullyState,
        src: usize,
        msg: BullyMsg,
    ) -> (BullyState, Vec<(usize, BullyMsg)>) {
        let mut cow = Cow::Owned(state);
        let mut o = Out::new();
        node.on_msg(Id::from(me), &mut cow, Id::from(src), msg, &mut o);
        (cow.into_owned(), sends(&o))
    }

    fn sends(o: &Out<Bully>) -> Vec<(usize, BullyMsg)> {
        o.iter()
            .filter_map(|c| match c {
                Command::Send(dst, m) => Some((usize::from(*dst), m.clone())),
                _ => None,
            })
            .collect()
    }

    fn follower_of(c: usize) -> BullyState {
        BullyState {
            role: BullyRole::Follower,
            coordinator: Some(Id::from(c)),
        }
    }

    #[test]
    fn an_election_from_a_higher_node_is_ignored() {
        // Only lower nodes challenge; no correct node sends this.
        let node = bully(4);
        let (state, sent) = deliver(&node, 1, follower_of(3), 2, BullyMsg::Election);
        assert_eq!(state, follower_of(3));
        assert!(sent.is_empty());
    }

    #[test]
    fn changing_role_cancels_the_other_roles_timers() {
        let node = bully(4);
        let mut cow = Cow::Owned(follower_of(2));
        let mut o = Out::new();
        node.on_msg(
            Id::from(1),
            &mut cow,
            Id::from(3),
            BullyMsg::Coordinator,
            &mut o,
        );
        for timer in [
            BullyTimer::Heartbeat,
            BullyTimer::AnswerTimeout,
            BullyTimer::CoordinatorTimeout,
        ] {
            assert!(
                o.iter()
                    .any(|c| matches!(c, Command::CancelTimer(t) if *t == timer)),
                "{timer:?} not cancelled: {o:?}"
            );
        }
    }

    #[test]
    fn starting_node_challenges_only_higher_ids() {
        let node = bully(4);
        let mut o = Out::new();
        let state = node.on_start(Id::from(1), &None, &mut o);
        assert_eq!(state.role, BullyRole::Electing);
        assert_eq!(
            sends(&o),
            vec![(2, BullyMsg::Election), (3, BullyMsg::Election)]
        );
    }

    #[test]
    fn highest_node_wins_at_once() {
        let node = bully(3);
        let mut o = Out::new();
        let state = node.on_start(Id::from(2), &None, &mut o);
        assert_eq!(state.role, BullyRole::Coordinator);
        assert_eq!(state.leader(), Some(Id::from(2)));
        assert_eq!(
            sends(&o),
            vec![(0, BullyMsg::Coordinator), (1, BullyMsg::Coordinator)]
        );
    }

    #[test]
    fn election_from_below_is_answered_and_taken_over() {
        let node = bully(4);
        let (state, sent) = deliver(&node, 2, follower_of(3), 0, BullyMsg::Election);
        assert_eq!(state.role, BullyRole::Electing);
        assert_eq!(sent, vec![(0, BullyMsg::Ok), (3, BullyMsg::Election)]);
    }

    #[test]
    fn ok_puts_the_challenger_out_of_the_running() {
        let node = bully(3);
        let electing = BullyState {
            role: BullyRole::Electing,
            coordinator: None,
        };
        let (state, _) = deliver(&node, 0, electing, 2, BullyMsg::Ok);
        assert_eq!(state.role, BullyRole::Waiting);
        let mut cow = Cow::Owned(state);
        let mut o = Out::new();
        // A stale answer timeout no longer makes it coordinator.
        node.on_timeout(Id::from(0), &mut cow, &BullyTimer::AnswerTimeout, &mut o);
        assert_eq!(cow.role, BullyRole::Waiting);
    }

    #[test]
    fn a_late_ok_leaves_a_settled_node_alone() {
        // Node 0 challenged 1 and 2; 2's COORDINATOR overtook 1's OK.
        let node = bully(3);
        let (state, sent) = deliver(&node, 0, follower_of(2), 1, BullyMsg::Ok);
        assert_eq!(state, follower_of(2));
        assert!(sent.is_empty());
    }

    #[test]
    fn coordinator_from_below_is_bullied() {
        let node = bully(3);
        let (state, sent) = deliver(&node, 2, follower_of(2), 1, BullyMsg::Coordinator);
        assert_eq!(state.role, BullyRole::Coordinator);
        assert_eq!(
            sent,
            vec![(0, BullyMsg::Coordinator), (1, BullyMsg::Coordinator)]
        );
    }

    #[test]
    fn coordinator_from_above_is_followed() {
        let node = bully(3);
        let coordinator = BullyState {
            role: BullyRole::Coordinator,
            coordinator: Some(Id::from(1)),
        };
        let (state, _) = deliver(&node, 1, coordinator, 2, BullyMsg::Coordinator);
        assert_eq!(state, follower_of(2));
    }
}
