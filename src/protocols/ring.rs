//! The Ring algorithm, as the seed describes it (Chang and Roberts' ring
//! without message suppression, in the form Tanenbaum teaches).
//!
//! The nodes form a logical ring ordered by id: the successor of node `i` is
//! `i + 1`, and the last node's successor is node 0. A node that suspects the
//! leader (it has heard nothing from it for the leader timeout) starts an
//! election: it hands an ELECTION token carrying its own id to its successor.
//! Each node appends its id and hands the token on. Every hand-over is
//! acknowledged; a node whose successor does not acknowledge within the reply
//! timeout considers it dead and hands the token to the next node instead.
//! When the token returns to its initiator, it lists every live node; the
//! initiator picks the highest id as leader and circulates a COORDINATOR token
//! the same way. The leader sends a heartbeat to every node each period.
//!
//! If the initiator itself dies, the node that would hand the token back to it
//! a second time completes the election in its place. A node that knows no
//! leader (it has just started or recovered) adopts the sender of the first
//! heartbeat it hears. Nothing is persisted.

use super::{arm, Cluster, Deviation, Ids, MaybeId, Protocol, ProtocolKind, TimerRole};
use crate::leadership::{Leadership, Role};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

// ---------------------------------------------------------------- messages

/// A token that travels around the ring.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Token {
    /// An election under way.
    Election {
        /// The ids of the live nodes the election has passed, initiator first.
        ids: Vec<Id>,
    },
    /// The announcement of its outcome.
    Coordinator {
        /// The elected leader.
        leader: Id,
        /// The nodes the announcement has passed.
        ids: Vec<Id>,
    },
}

/// What Ring nodes say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RingMsg {
    /// A token handed to the successor.
    Pass(Token),
    /// The successor confirms it received the token.
    Ack(Token),
    /// The leader's heartbeat.
    Alive,
}

/// The timers a Ring node arms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RingTimer {
    /// Leader: time to send a heartbeat.
    Heartbeat,
    /// Follower: the leader has been silent for too long.
    LeaderTimeout,
    /// A token handed on has not been acknowledged: skip that successor.
    AckTimeout,
    /// Participant: the election never produced a COORDINATOR; start again.
    ElectionTimeout,
}

// ------------------------------------------------------------------- state

/// Where a Ring node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RingRole {
    /// Follows the leader it knows, if any.
    Follower,
    /// Has passed an ELECTION token and waits for the COORDINATOR.
    Participant,
    /// Was elected.
    Leader,
}

/// A Ring node's state.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RingState {
    /// Where the node stands.
    pub role: RingRole,
    /// The leader it follows (itself when leading).
    pub leader: Option<Id>,
    /// Tokens handed on but not yet acknowledged, with the node each was
    /// handed to.
    pub unacked: Vec<(Token, Id)>,
}

// ---------------------------------------------------------------- handlers

/// The Ring node program: its cluster's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ring {
    cluster: Cluster,
}

impl Ring {
    /// The next node after `id` in the logical ring.
    pub fn successor(&self, id: Id) -> Id {
        Id::from((usize::from(id) + 1) % self.cluster.size)
    }

    fn start_election(&self, me: Id, state: &mut RingState, o: &mut Out<Self>) {
        self.participate(state, o);
        self.route(
            me,
            Token::Election { ids: vec![me] },
            self.successor(me),
            state,
            o,
        );
    }

    fn participate(&self, state: &mut RingState, o: &mut Out<Self>) {
        state.role = RingRole::Participant;
        state.leader = None;
        o.cancel_timer(RingTimer::Heartbeat);
        o.cancel_timer(RingTimer::LeaderTimeout);
        arm(self, o, RingTimer::ElectionTimeout);
    }

    /// Hands `token` to `target`, unless the token has already been there:
    /// then the ring is closed and the token has done its work.
    fn route(&self, me: Id, token: Token, target: Id, state: &mut RingState, o: &mut Out<Self>) {
        match &token {
            Token::Election { ids } => {
                if target == ids[0] && target != me {
                    // Back to the initiator, who picks the leader.
                    self.hand_over(token, target, state, o);
                } else if ids.contains(&target) {
                    // The initiator is dead (or we are it): the token lists
                    // every live node, so decide here.
                    let leader = self.choose_leader(me, ids);
                    self.announce(me, leader, state, o);
                } else {
                    self.hand_over(token, target, state, o);
                }
            }
            Token::Coordinator { ids, .. } => {
                if !ids.contains(&target) {
                    self.hand_over(token, target, state, o);
                }
            }
        }
    }

    /// A token that names only members, and an election token that names
    /// its initiator.
    fn well_formed(&self, token: &Token) -> bool {
        let member = |id: &Id| self.cluster.is_member(*id);
        match token {
            Token::Election { ids } => !ids.is_empty() && ids.iter().all(member),
            Token::Coordinator { leader, ids } => member(leader) && ids.iter().all(member),
        }
    }

    /// The leader an election token elects: the highest id on it.
    fn choose_leader(&self, me: Id, ids: &[Id]) -> Id {
        // Seeded-bug hook: the checker's seeded bugs are the only source of
        // a deviation (see `Deviation`); real nodes never carry one.
        match self.cluster.deviation {
            Some(Deviation::RingElectsInitiator) => ids.first().copied().unwrap_or(me),
            Some(Deviation::RingElectsLowest) => ids.iter().copied().min().unwrap_or(me),
            _ => ids.iter().copied().max().unwrap_or(me),
        }
    }

    fn hand_over(&self, token: Token, target: Id, state: &mut RingState, o: &mut Out<Self>) {
        o.send(target, RingMsg::Pass(token.clone()));
        state.unacked.push((token, target));
        arm(self, o, RingTimer::AckTimeout);
    }

    /// Adopts `leader` and starts the COORDINATOR token from here.
    fn announce(&self, me: Id, leader: Id, state: &mut RingState, o: &mut Out<Self>) {
        self.accept(me, leader, state, o);
        let token = Token::Coordinator {
            leader,
            ids: vec![me],
        };
        self.route(me, token, self.successor(me), state, o);
    }

    fn accept(&self, me: Id, leader: Id, state: &mut RingState, o: &mut Out<Self>) {
        state.leader = Some(leader);
        o.cancel_timer(RingTimer::ElectionTimeout);
        if leader == me {
            state.role = RingRole::Leader;
            o.cancel_timer(RingTimer::LeaderTimeout);
            self.send_heartbeats(me, o);
        } else {
            state.role = RingRole::Follower;
            o.cancel_timer(RingTimer::Heartbeat);
            arm(self, o, RingTimer::LeaderTimeout);
        }
    }

    fn send_heartbeats(&self, me: Id, o: &mut Out<Self>) {
        for peer in self.cluster.peers(me) {
            o.send(peer, RingMsg::Alive);
        }
        arm(self, o, RingTimer::Heartbeat);
    }

    fn receive(&self, me: Id, token: Token, state: &mut RingState, o: &mut Out<Self>) {
        match token {
            Token::Election { mut ids } => {
                if ids[0] == me {
                    let leader = self.choose_leader(me, &ids);
                    self.announce(me, leader, state, o);
                } else if !ids.contains(&me) {
                    ids.push(me);
                    self.participate(state, o);
                    self.route(me, Token::Election { ids }, self.successor(me), state, o);
                }
                // else: a token that lost its initiator and came round again;
                // drop it, the election timeout starts a fresh one.
            }
            Token::Coordinator { leader, mut ids } => {
                if !ids.contains(&me) {
                    self.accept(me, leader, state, o);
                    ids.push(me);
                    self.route(
                        me,
                        Token::Coordinator { leader, ids },
                        self.successor(me),
                        state,
                        o,
                    );
                }
            }
        }
    }
}

impl Actor for Ring {
    type Msg = RingMsg;
    type Timer = RingTimer;
    type State = RingState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> RingState {
        // No leader is known yet: the leader timeout starts the first election.
        arm(self, o, RingTimer::LeaderTimeout);
        RingState {
            role: RingRole::Follower,
            leader: None,
            unacked: Vec::new(),
        }
    }

    fn on_msg(&self, me: Id, state: &mut Cow<RingState>, src: Id, msg: RingMsg, o: &mut Out<Self>) {
        match msg {
            // No member running this code sends such a token; whoever did
            // gets no ack and changes nothing (fuzzing found that an empty
            // election list used to panic the node).
            RingMsg::Pass(token) if !self.well_formed(&token) => {}
            RingMsg::Pass(token) => {
                o.send(src, RingMsg::Ack(token.clone()));
                self.receive(me, token, state.to_mut(), o);
            }
            RingMsg::Ack(token) => {
                if let Some(i) = state
                    .unacked
                    .iter()
                    .position(|(t, to)| *t == token && *to == src)
                {
                    let state = state.to_mut();
                    state.unacked.remove(i);
                    if state.unacked.is_empty() {
                        o.cancel_timer(RingTimer::AckTimeout);
                    }
                }
            }
            RingMsg::Alive => {
                // A node that knows no leader yet (it has just started or
                // recovered) learns it from the heartbeat.
                if state.role == RingRole::Follower && state.leader.is_none_or(|l| l == src) {
                    state.to_mut().leader = Some(src);
                    arm(self, o, RingTimer::LeaderTimeout);
                }
            }
        }
    }

    fn on_timeout(&self, me: Id, state: &mut Cow<RingState>, timer: &RingTimer, o: &mut Out<Self>) {
        match (timer, state.role) {
            (RingTimer::Heartbeat, RingRole::Leader) => self.send_heartbeats(me, o),
            (RingTimer::LeaderTimeout, RingRole::Follower)
            | (RingTimer::ElectionTimeout, RingRole::Participant) => {
                self.start_election(me, state.to_mut(), o)
            }
            (RingTimer::AckTimeout, _) => {
                // Every successor that did not acknowledge is presumed dead:
                // hand its token to the node after it.
                let state = state.to_mut();
                for (token, dead) in std::mem::take(&mut state.unacked) {
                    self.route(me, token, self.successor(dead), state, o);
                }
            }
            _ => {} // a stale timer of a role this node has left
        }
    }

    fn name(&self) -> String {
        "ring".into()
    }
}

impl Protocol for Ring {
    const KIND: ProtocolKind = ProtocolKind::Ring;

    fn new(cluster: Cluster) -> Self {
        Ring { cluster }
    }

    fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn timer_role(&self, timer: &RingTimer) -> TimerRole {
        match timer {
            RingTimer::Heartbeat => TimerRole::Heartbeat,
            RingTimer::LeaderTimeout => TimerRole::WatchesLeader,
            RingTimer::AckTimeout | RingTimer::ElectionTimeout => TimerRole::Other,
        }
    }

    fn timer_range(&self, timer: &RingTimer) -> Range<Duration> {
        let t = &self.cluster.timeouts;
        match timer {
            RingTimer::Heartbeat => t.heartbeat_range(),
            RingTimer::AckTimeout => t.reply_range(),
            RingTimer::LeaderTimeout | RingTimer::ElectionTimeout => t.election.clone(),
        }
    }

    /// A COORDINATOR token that has passed every member (an ELECTION token
    /// of the same length is one byte shorter, lacking the leader).
    fn largest_message(cluster: &Cluster) -> Option<RingMsg> {
        let last = cluster.members().last()?;
        Some(RingMsg::Pass(Token::Coordinator {
            leader: last,
            ids: cluster.members().collect(),
        }))
    }

    fn message_kind(msg: &RingMsg) -> &'static str {
        match msg {
            RingMsg::Pass(Token::Election { .. }) => "Election",
            RingMsg::Pass(Token::Coordinator { .. }) => "Coordinator",
            RingMsg::Ack(_) => "Ack",
            RingMsg::Alive => "Alive",
        }
    }
}

impl Leadership for RingState {
    fn role(&self) -> Role {
        match self.role {
            RingRole::Follower => Role::Follower,
            RingRole::Participant => Role::Candidate,
            RingRole::Leader => Role::Leader,
        }
    }

    fn leader(&self) -> Option<Id> {
        self.leader
    }

    fn term(&self) -> Option<u64> {
        None
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Election { ids } => write!(f, "Election{:?}", Ids(ids)),
            Token::Coordinator { leader, ids } => {
                write!(f, "Coordinator({}){:?}", MaybeId(Some(*leader)), Ids(ids))
            }
        }
    }
}

impl fmt::Debug for RingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} leader {}", self.role, MaybeId(self.leader))?;
        for (token, to) in &self.unacked {
            write!(f, " unacked {token:?}→{}", MaybeId(Some(*to)))?;
        }
        Ok(())
    }
}

// Relabelling node ids, for the checker's state representation (never used
// to merge states: the ring's order is the order of ids).
impl Rewrite<Id> for Token {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        match self {
            Token::Election { ids } => Token::Election {
                ids: ids.rewrite(plan),
            },
            Token::Coordinator { leader, ids } => Token::Coordinator {
                leader: leader.rewrite(plan),
                ids: ids.rewrite(plan),
            },
        }
    }
}

impl Rewrite<Id> for RingMsg {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        match self {
            RingMsg::Pass(token) => RingMsg::Pass(token.rewrite(plan)),
            RingMsg::Ack(token) => RingMsg::Ack(token.rewrite(plan)),
            RingMsg::Alive => RingMsg::Alive,
        }
    }
}

crate::no_terms!(RingState, RingMsg);

impl Rewrite<Id> for RingState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        RingState {
            role: self.role,
            leader: self.leader.rewrite(plan),
            unacked: self.unacked.rewrite(plan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testkit::{self, fire, lines, sends};
    use crate::protocols::Timeouts;
    use stateright::actor::Command;

    fn ring(n: usize) -> Ring {
        Ring::new(Cluster::new(n, Timeouts::default()))
    }

    fn ids(v: &[usize]) -> Vec<Id> {
        v.iter().copied().map(Id::from).collect()
    }

    fn idle() -> RingState {
        RingState {
            role: RingRole::Follower,
            leader: None,
            unacked: Vec::new(),
        }
    }

    /// Delivers `msg` and returns the new state with what was sent.
    fn deliver(
        node: &Ring,
        me: usize,
        state: RingState,
        src: usize,
        msg: RingMsg,
    ) -> (RingState, Vec<(usize, RingMsg)>) {
        let (state, o) = testkit::deliver(node, me, state, src, msg);
        (state, sends(&o))
    }

    #[test]
    fn the_token_goes_back_to_its_initiator_who_picks_the_leader() {
        let node = ring(3);
        let token = Token::Election { ids: ids(&[0, 1]) };
        let (state, sent) = deliver(&node, 2, idle(), 1, RingMsg::Pass(token.clone()));
        let back = Token::Election {
            ids: ids(&[0, 1, 2]),
        };
        assert_eq!(
            sent,
            vec![(1, RingMsg::Ack(token)), (0, RingMsg::Pass(back))]
        );
        assert_eq!(state.role, RingRole::Participant, "n2 does not decide");
    }

    #[test]
    fn the_successor_wraps_around_the_ring() {
        let node = ring(4);
        let next: Vec<usize> = (0..4)
            .map(|i| usize::from(node.successor(Id::from(i))))
            .collect();
        assert_eq!(next, vec![1, 2, 3, 0]);
    }

    #[test]
    fn an_ack_settles_only_the_token_handed_to_its_sender() {
        let node = ring(3);
        let token = Token::Election { ids: ids(&[0]) };
        let waiting = RingState {
            role: RingRole::Participant,
            leader: None,
            unacked: vec![(token.clone(), Id::from(2))],
        };
        let (state, _) = deliver(&node, 0, waiting.clone(), 1, RingMsg::Ack(token));
        assert_eq!(state, waiting, "n1 was not handed this token");
    }

    #[test]
    fn heartbeats_teach_a_newcomer_the_leader_and_restart_a_followers_watch() {
        let node = ring(3);
        // A follower that knows no leader adopts the sender.
        let (state, _) = deliver(&node, 0, idle(), 2, RingMsg::Alive);
        assert_eq!(state.leader, Some(Id::from(2)));
        // The leader's heartbeat restarts its follower's leader timeout.
        let (after, o) = testkit::deliver(&node, 0, state.clone(), 2, RingMsg::Alive);
        assert_eq!(after, state);
        assert_eq!(lines(&o), ["arm LeaderTimeout 500ms..1s"]);
        // A participant waits for the COORDINATOR instead.
        let participant = RingState {
            role: RingRole::Participant,
            ..idle()
        };
        let (state, _) = deliver(&node, 0, participant.clone(), 2, RingMsg::Alive);
        assert_eq!(state, participant);
    }

    #[test]
    fn malformed_tokens_are_ignored() {
        let node = ring(3);
        for token in [
            Token::Election { ids: Vec::new() },
            Token::Election { ids: ids(&[0, 7]) },
            // One past the last member: the boundary.
            Token::Election { ids: ids(&[0, 3]) },
            Token::Coordinator {
                leader: Id::from(9),
                ids: ids(&[0]),
            },
        ] {
            let (state, sent) = deliver(&node, 1, idle(), 0, RingMsg::Pass(token));
            assert_eq!(state, idle());
            assert!(sent.is_empty());
        }
    }

    #[test]
    fn election_token_collects_ids_and_is_acknowledged() {
        let node = ring(4);
        let token = Token::Election { ids: ids(&[0]) };
        let (state, sent) = deliver(&node, 1, idle(), 0, RingMsg::Pass(token.clone()));
        assert_eq!(state.role, RingRole::Participant);
        let forwarded = Token::Election { ids: ids(&[0, 1]) };
        assert_eq!(
            sent,
            vec![
                (0, RingMsg::Ack(token)),
                (2, RingMsg::Pass(forwarded.clone()))
            ]
        );
        assert_eq!(state.unacked, vec![(forwarded, Id::from(2))]);
    }

    #[test]
    fn returned_token_elects_the_highest_id() {
        let node = ring(4);
        let token = Token::Election {
            ids: ids(&[1, 2, 3, 0]),
        };
        let (state, sent) = deliver(&node, 1, idle(), 0, RingMsg::Pass(token));
        assert_eq!(state.leader, Some(Id::from(3)));
        assert_eq!(state.role, RingRole::Follower);
        let coordinator = Token::Coordinator {
            leader: Id::from(3),
            ids: ids(&[1]),
        };
        assert!(sent.contains(&(2, RingMsg::Pass(coordinator))));
    }

    #[test]
    fn unacknowledged_token_skips_the_dead_successor() {
        let node = ring(4);
        let token = Token::Election { ids: ids(&[0, 1]) };
        let state = RingState {
            role: RingRole::Participant,
            leader: None,
            unacked: vec![(token.clone(), Id::from(2))],
        };
        let (state, o) = fire(&node, 1, state, RingTimer::AckTimeout);
        assert_eq!(
            lines(&o),
            [
                format!("send n3 Pass({token:?})"),
                "arm AckTimeout 25ms..25ms".to_string()
            ]
        );
        assert_eq!(state.unacked, vec![(token, Id::from(3))]);
    }

    #[test]
    fn node_completes_the_election_of_a_dead_initiator() {
        let node = ring(3);
        // n2 handed the token back to initiator n0, which never acknowledged;
        // the next node, n1, is already on the token: n2 decides.
        let token = Token::Election {
            ids: ids(&[0, 1, 2]),
        };
        let state = RingState {
            role: RingRole::Participant,
            leader: None,
            unacked: vec![(token, Id::from(0))],
        };
        let (state, o) = fire(&node, 2, state, RingTimer::AckTimeout);
        assert_eq!(state.role, RingRole::Leader);
        assert_eq!(state.leader, Some(Id::from(2)));
        // It announces itself round the ring and starts its heartbeat.
        let coordinator = Token::Coordinator {
            leader: Id::from(2),
            ids: ids(&[2]),
        };
        assert_eq!(
            lines(&o),
            [
                "cancel ElectionTimeout".to_string(),
                "cancel LeaderTimeout".to_string(),
                "send n0 Alive".to_string(),
                "send n1 Alive".to_string(),
                "arm Heartbeat 50ms..50ms".to_string(),
                format!("send n0 Pass({coordinator:?})"),
                "arm AckTimeout 25ms..25ms".to_string(),
            ]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        proptest! {
            /// Skipping successors one by one from any node visits every other
            /// node exactly once before coming back to the node itself.
            #[test]
            fn skipping_successors_visits_every_node_once(n in 1usize..12, start in 0usize..12) {
                let node = ring(n);
                let me = Id::from(start % n);
                let mut seen = BTreeSet::new();
                let mut next = node.successor(me);
                while next != me {
                    prop_assert!(seen.insert(next), "visited {:?} twice", next);
                    next = node.successor(next);
                }
                prop_assert_eq!(seen.len(), n - 1);
            }

            /// Whichever successors are dead, an election token handed around
            /// by acknowledgement timeouts ends with the highest live id
            /// elected, and never lists a dead node.
            #[test]
            fn election_elects_highest_live_id(n in 2usize..8, dead_mask in any::<u8>(), initiator in 0usize..8) {
                let node = ring(n);
                let initiator = initiator % n;
                let dead = |i: usize| i != initiator && dead_mask & (1 << i) != 0;
                let mut states: Vec<RingState> = (0..n).map(|_| idle()).collect();
                let mut o = Out::new();
                let mut cow = Cow::Owned(states[initiator].clone());
                node.on_timeout(Id::from(initiator), &mut cow, &RingTimer::LeaderTimeout, &mut o);
                states[initiator] = cow.into_owned();
                let mut queue: Vec<(usize, Out<Ring>)> = vec![(initiator, o)];
                let mut steps = 0;
                while let Some((from, out)) = queue.pop() {
                    steps += 1;
                    prop_assert!(steps < 1000);
                    for c in out {
                        let Command::Send(dst, msg) = c else { continue };
                        let dst_i = usize::from(dst);
                        if matches!(msg, RingMsg::Alive) { continue; }
                        if dead(dst_i) {
                            // No ack will come: the sender's ack timer fires.
                            let mut cow = Cow::Owned(states[from].clone());
                            let mut o = Out::new();
                            node.on_timeout(Id::from(from), &mut cow, &RingTimer::AckTimeout, &mut o);
                            states[from] = cow.into_owned();
                            queue.push((from, o));
                            continue;
                        }
                        let mut cow = Cow::Owned(states[dst_i].clone());
                        let mut o = Out::new();
                        node.on_msg(dst, &mut cow, Id::from(from), msg, &mut o);
                        states[dst_i] = cow.into_owned();
                        queue.push((dst_i, o));
                    }
                }
                let highest_live = (0..n).rev().find(|&i| !dead(i)).unwrap();
                for i in (0..n).filter(|&i| !dead(i)) {
                    prop_assert_eq!(states[i].leader, Some(Id::from(highest_live)), "node {}", i);
                }
            }
        }
    }
}
