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

use super::{arm, Cluster, Deviation, MaybeId, Protocol, ProtocolKind, TimerRole};
use crate::leadership::{Leadership, Role};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

// ---------------------------------------------------------------- messages

/// What Bully nodes say to each other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BullyMsg {
    /// "I am holding an election": sent to every higher id.
    Election,
    /// "I am alive and higher than you": the answer to ELECTION.
    Ok,
    /// "I am the coordinator": sent to all on winning, and every heartbeat.
    Coordinator,
}

/// The timers a Bully node arms, one per role.
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

/// Where a Bully node stands in the election.
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

/// A Bully node's state.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BullyState {
    /// Where the node stands in the election.
    pub role: BullyRole,
    /// The coordinator this node follows (itself when coordinator); none
    /// while an election is under way.
    pub coordinator: Option<Id>,
}

// ---------------------------------------------------------------- handlers

/// The Bully node program: its cluster's configuration.
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
        match msg {
            BullyMsg::Election => {
                if src > me {
                    return; // only lower nodes send ELECTION to us
                }
                o.send(src, BullyMsg::Ok);
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
                    // Seeded-bug hook: only the checker's seeded bugs carry
                    // a deviation (see `Deviation`); real nodes never do.
                    BullyRole::Waiting
                        if self.cluster.deviation == Some(Deviation::BullyWaitingStaysQuiet) => {}
                    BullyRole::Follower | BullyRole::Waiting => {
                        self.hold_election(me, state.to_mut(), o)
                    }
                    // Already the coordinator: remind the challenger.
                    BullyRole::Coordinator => o.send(src, BullyMsg::Coordinator),
                    // Already challenging the higher nodes.
                    BullyRole::Electing => {}
                }
            }
            BullyMsg::Ok => {
                if state.role == BullyRole::Electing && src > me {
                    self.stop_timers(o);
                    state.to_mut().role = BullyRole::Waiting;
                    arm(self, o, BullyTimer::CoordinatorTimeout);
                }
            }
            BullyMsg::Coordinator => {
                if src > me {
                    if state.role == BullyRole::Follower && state.coordinator == Some(src) {
                        // A heartbeat from the coordinator we follow.
                        arm(self, o, BullyTimer::LeaderTimeout);
                    } else {
                        self.follow(src, state.to_mut(), o);
                    }
                } else if state.role != BullyRole::Electing {
                    // A lower node claims to coordinate: bully it (while
                    // electing, the answer timeout settles it anyway).
                    self.hold_election(me, state.to_mut(), o);
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

// Relabelling node ids, for the checker's state representation. Bully is
// not symmetric (its behaviour depends on the order of ids), so the checker
// never uses this to merge states; it only has to be a correct relabelling.
impl Rewrite<Id> for BullyState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        BullyState {
            role: self.role,
            coordinator: self.coordinator.rewrite(plan),
        }
    }
}

crate::no_terms!(BullyState, BullyMsg);

impl Rewrite<Id> for BullyMsg {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testkit::{deliver, fire, lines, start};
    use crate::protocols::Timeouts;

    fn bully(n: usize) -> Bully {
        Bully::new(Cluster::new(n, Timeouts::default()))
    }

    fn follower_of(c: usize) -> BullyState {
        BullyState {
            role: BullyRole::Follower,
            coordinator: Some(Id::from(c)),
        }
    }

    fn in_role(role: BullyRole) -> BullyState {
        BullyState {
            role,
            coordinator: None,
        }
    }

    /// What every change of role begins with: each role owns one timer.
    const STOP_TIMERS: [&str; 4] = [
        "cancel Heartbeat",
        "cancel LeaderTimeout",
        "cancel AnswerTimeout",
        "cancel CoordinatorTimeout",
    ];

    fn after_stop(rest: &[&str]) -> Vec<String> {
        STOP_TIMERS
            .iter()
            .chain(rest)
            .map(|l| l.to_string())
            .collect()
    }

    #[test]
    fn an_election_from_a_higher_node_is_ignored() {
        // Only lower nodes challenge; no correct node sends this.
        let (state, o) = deliver(&bully(4), 1, follower_of(3), 2, BullyMsg::Election);
        assert_eq!(state, follower_of(3));
        assert!(lines(&o).is_empty());
    }

    #[test]
    fn a_higher_coordinator_is_followed_and_the_other_roles_timers_cancelled() {
        let (state, o) = deliver(&bully(4), 1, follower_of(2), 3, BullyMsg::Coordinator);
        assert_eq!(state, follower_of(3));
        assert_eq!(lines(&o), after_stop(&["arm LeaderTimeout 500ms..1s"]));
    }

    #[test]
    fn a_heartbeat_of_the_followed_coordinator_only_restarts_the_watch() {
        let (state, o) = deliver(&bully(4), 1, follower_of(3), 3, BullyMsg::Coordinator);
        assert_eq!(state, follower_of(3));
        assert_eq!(lines(&o), ["arm LeaderTimeout 500ms..1s"]);
    }

    #[test]
    fn starting_node_challenges_only_higher_ids() {
        let (state, o) = start(&bully(4), 1, None);
        assert_eq!(state, in_role(BullyRole::Electing));
        assert_eq!(
            lines(&o),
            after_stop(&[
                "send n2 Election",
                "send n3 Election",
                "arm AnswerTimeout 25ms..25ms"
            ])
        );
    }

    #[test]
    fn highest_node_wins_at_once() {
        let (state, o) = start(&bully(3), 2, None);
        assert_eq!(state.role, BullyRole::Coordinator);
        assert_eq!(state.leader(), Some(Id::from(2)));
        // It stops its timers twice: once to hold the election, once to take
        // office; announcing is the heartbeat.
        let mut expected = after_stop(&[]);
        expected.extend(after_stop(&[
            "send n0 Coordinator",
            "send n1 Coordinator",
            "arm Heartbeat 50ms..50ms",
        ]));
        assert_eq!(lines(&o), expected);
    }

    #[test]
    fn election_from_below_is_answered_and_taken_over() {
        let (state, o) = deliver(&bully(4), 2, follower_of(3), 0, BullyMsg::Election);
        assert_eq!(state, in_role(BullyRole::Electing));
        let mut expected = vec!["send n0 Ok".to_string()];
        expected.extend(after_stop(&[
            "send n3 Election",
            "arm AnswerTimeout 25ms..25ms",
        ]));
        assert_eq!(lines(&o), expected);
    }

    #[test]
    fn a_coordinator_answers_a_challenger_and_reminds_it() {
        let coordinator = BullyState {
            role: BullyRole::Coordinator,
            coordinator: Some(Id::from(2)),
        };
        let (state, o) = deliver(&bully(3), 2, coordinator.clone(), 0, BullyMsg::Election);
        assert_eq!(state, coordinator);
        assert_eq!(lines(&o), ["send n0 Ok", "send n0 Coordinator"]);
    }

    #[test]
    fn ok_puts_the_challenger_out_of_the_running() {
        let node = bully(3);
        let (state, o) = deliver(&node, 0, in_role(BullyRole::Electing), 2, BullyMsg::Ok);
        assert_eq!(state, in_role(BullyRole::Waiting));
        assert_eq!(lines(&o), after_stop(&["arm CoordinatorTimeout 500ms..1s"]));
        // A stale answer timeout no longer makes it coordinator.
        let (state, o) = fire(&node, 0, state, BullyTimer::AnswerTimeout);
        assert_eq!(state, in_role(BullyRole::Waiting));
        assert!(lines(&o).is_empty());
    }

    #[test]
    fn a_late_ok_leaves_a_settled_node_alone() {
        // Node 0 challenged 1 and 2; 2's COORDINATOR overtook 1's OK.
        let (state, o) = deliver(&bully(3), 0, follower_of(2), 1, BullyMsg::Ok);
        assert_eq!(state, follower_of(2));
        assert!(lines(&o).is_empty());
    }

    #[test]
    fn coordinator_from_below_is_bullied() {
        // The highest node holds an election it wins at once.
        let (state, o) = deliver(&bully(3), 2, follower_of(2), 1, BullyMsg::Coordinator);
        assert_eq!(state.role, BullyRole::Coordinator);
        let mut expected = after_stop(&[]);
        expected.extend(after_stop(&[
            "send n0 Coordinator",
            "send n1 Coordinator",
            "arm Heartbeat 50ms..50ms",
        ]));
        assert_eq!(lines(&o), expected);
    }

    #[test]
    fn coordinator_from_above_is_followed() {
        let coordinator = BullyState {
            role: BullyRole::Coordinator,
            coordinator: Some(Id::from(1)),
        };
        let (state, o) = deliver(&bully(3), 1, coordinator, 2, BullyMsg::Coordinator);
        assert_eq!(state, follower_of(2));
        assert_eq!(lines(&o), after_stop(&["arm LeaderTimeout 500ms..1s"]));
    }

    #[test]
    fn timers_of_a_role_the_node_has_left_do_nothing() {
        let node = bully(3);
        for (state, timer) in [
            (follower_of(2), BullyTimer::Heartbeat),
            (follower_of(2), BullyTimer::AnswerTimeout),
            (in_role(BullyRole::Electing), BullyTimer::LeaderTimeout),
            (in_role(BullyRole::Waiting), BullyTimer::Heartbeat),
        ] {
            let (after, o) = fire(&node, 0, state.clone(), timer.clone());
            assert_eq!(after, state, "{timer:?}");
            assert!(lines(&o).is_empty(), "{timer:?}");
        }
    }
}
