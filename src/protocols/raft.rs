//! Raft's leader election (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", section 5.2), without the log.
//!
//! Time is divided into terms. A follower that hears from no leader for a
//! randomised election timeout becomes a candidate: it increments its term,
//! votes for itself and asks every peer for a vote. A node grants at most one
//! vote per term, and persists its term and vote before it answers. A
//! candidate with votes from a majority becomes leader and sends empty
//! AppendEntries as heartbeats. Any message from a higher term makes the
//! receiver adopt that term and step down to follower.

use super::{arm, Cluster, Deviation, MaybeId, Protocol, ProtocolKind, Terms, TimerRole};
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

/// What Raft nodes say to each other during an election.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftMsg {
    /// A candidate asks for a vote in `term`.
    RequestVote {
        /// The candidate's term.
        term: u64,
    },
    /// The answer to a RequestVote. Only sent when it tells the candidate
    /// something: a granted vote, or a refusal from a higher term (which makes
    /// the candidate step down). A refusal in the candidate's own term is
    /// silent, as it would change nothing.
    Vote {
        /// The voter's term: the candidate's when granted, the voter's newer
        /// one when refused.
        term: u64,
        /// Whether the vote is granted.
        granted: bool,
    },
    /// The leader's heartbeat (AppendEntries without entries).
    AppendEntries {
        /// The leader's term.
        term: u64,
    },
    /// A follower's answer to a heartbeat from a stale term, carrying the
    /// follower's newer term so the old leader steps down. Heartbeats from the
    /// current term need no answer for election alone.
    AppendEntriesReply {
        /// The follower's newer term.
        term: u64,
    },
}

impl RaftMsg {
    /// The term every Raft message carries.
    pub fn term(&self) -> u64 {
        match *self {
            RaftMsg::RequestVote { term }
            | RaftMsg::Vote { term, .. }
            | RaftMsg::AppendEntries { term }
            | RaftMsg::AppendEntriesReply { term } => term,
        }
    }
}

/// The timers a Raft node arms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftTimer {
    /// Randomised election timeout of followers and candidates.
    Election,
    /// The leader's heartbeat period.
    Heartbeat,
}

/// What survives a crash: Raft's persistent state (minus the log).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RaftStorage {
    /// The latest term the node has seen.
    pub current_term: u64,
    /// The candidate it voted for in that term, if any.
    pub voted_for: Option<Id>,
}

// ------------------------------------------------------------------- state

/// A Raft node's role in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftRole {
    /// Grants votes and follows the leader of its term, if it knows one.
    Follower,
    /// Stands for election in its term.
    Candidate,
    /// Won its term's election.
    Leader,
}

/// A Raft node's state.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RaftState {
    /// The node's current term.
    pub term: u64,
    /// The candidate it voted for in `term`, if any (persisted with `term`).
    pub voted_for: Option<Id>,
    /// Its role in `term`.
    pub role: RaftRole,
    /// The leader of `term` as far as this node knows (itself when leading).
    pub leader: Option<Id>,
    /// Votes received in `term`; only kept while a candidate.
    pub votes: BTreeSet<Id>,
}

impl RaftState {
    fn storage(&self) -> RaftStorage {
        RaftStorage {
            current_term: self.term,
            voted_for: self.voted_for,
        }
    }
}

// ---------------------------------------------------------------- handlers

/// The Raft node program: its cluster's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Raft {
    cluster: Cluster,
}

impl Raft {
    /// Votes a candidate needs to win: a majority of the cluster, so that
    /// two candidates of one term cannot both win.
    fn quorum(&self) -> usize {
        // Seeded-bug hook: the checker's seeded bugs are the only source of
        // a deviation (see `Deviation`); real nodes never carry one.
        if self.cluster.deviation == Some(Deviation::RaftQuorumOfHalf) {
            return self.cluster.size / 2;
        }
        self.cluster.size / 2 + 1
    }

    /// Adopts a higher term: forget the vote and the leader, become follower,
    /// and persist the new term before anything is sent.
    fn step_down(&self, state: &mut RaftState, term: u64, o: &mut Out<Self>) {
        let was_leader = state.role == RaftRole::Leader;
        state.term = term;
        state.voted_for = None;
        state.role = RaftRole::Follower;
        state.leader = None;
        state.votes.clear();
        o.save(state.storage());
        if was_leader {
            o.cancel_timer(RaftTimer::Heartbeat);
            arm(self, o, RaftTimer::Election);
        }
    }

    fn start_election(&self, me: Id, state: &mut RaftState, o: &mut Out<Self>) {
        // Terms never wrap: at the last term a node can no longer stand for
        // election (fuzzing found that a message carrying term u64::MAX made
        // the next election overflow). Safety is kept; only liveness is lost,
        // and no honest cluster gets there.
        let Some(next) = state.term.checked_add(1) else {
            arm(self, o, RaftTimer::Election);
            return;
        };
        state.term = next;
        state.role = RaftRole::Candidate;
        state.voted_for = Some(me);
        state.leader = None;
        state.votes = BTreeSet::from([me]);
        o.save(state.storage());
        arm(self, o, RaftTimer::Election);
        let request = RaftMsg::RequestVote { term: state.term };
        for peer in self.cluster.peers(me) {
            o.send(peer, request.clone());
        }
        self.win_if_quorum(me, state, o);
    }

    fn win_if_quorum(&self, me: Id, state: &mut RaftState, o: &mut Out<Self>) {
        if state.role != RaftRole::Candidate || state.votes.len() < self.quorum() {
            return;
        }
        state.role = RaftRole::Leader;
        state.leader = Some(me);
        state.votes.clear();
        o.cancel_timer(RaftTimer::Election);
        self.send_heartbeats(me, state, o);
    }

    fn send_heartbeats(&self, me: Id, state: &RaftState, o: &mut Out<Self>) {
        let heartbeat = RaftMsg::AppendEntries { term: state.term };
        for peer in self.cluster.peers(me) {
            o.send(peer, heartbeat.clone());
        }
        arm(self, o, RaftTimer::Heartbeat);
    }
}

impl Actor for Raft {
    type Msg = RaftMsg;
    type Timer = RaftTimer;
    type State = RaftState;
    type Storage = RaftStorage;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<RaftStorage>, o: &mut Out<Self>) -> RaftState {
        // After a crash, term and vote come back from stable storage: a node
        // that forgot its vote could vote twice in one term.
        let (term, voted_for) = storage
            .as_ref()
            .map_or((0, None), |s| (s.current_term, s.voted_for));
        arm(self, o, RaftTimer::Election);
        RaftState {
            term,
            voted_for,
            role: RaftRole::Follower,
            leader: None,
            votes: BTreeSet::new(),
        }
    }

    fn on_msg(&self, me: Id, state: &mut Cow<RaftState>, src: Id, msg: RaftMsg, o: &mut Out<Self>) {
        // "If a request or response contains a term T > currentTerm: set
        // currentTerm = T, convert to follower."
        if msg.term() > state.term {
            self.step_down(state.to_mut(), msg.term(), o);
        }
        match msg {
            RaftMsg::RequestVote { term } => {
                if term < state.term {
                    o.send(
                        src,
                        RaftMsg::Vote {
                            term: state.term,
                            granted: false,
                        },
                    );
                } else if state.voted_for.is_none() || state.voted_for == Some(src) {
                    let state = state.to_mut();
                    state.voted_for = Some(src);
                    // The vote is durable before the reply that depends on it.
                    o.save(state.storage());
                    arm(self, o, RaftTimer::Election);
                    o.send(
                        src,
                        RaftMsg::Vote {
                            term,
                            granted: true,
                        },
                    );
                }
            }
            RaftMsg::Vote { term, granted } => {
                if granted && term == state.term && state.role == RaftRole::Candidate {
                    let state = state.to_mut();
                    state.votes.insert(src);
                    self.win_if_quorum(me, state, o);
                }
            }
            RaftMsg::AppendEntries { term } => {
                if term < state.term {
                    o.send(src, RaftMsg::AppendEntriesReply { term: state.term });
                } else if state.role != RaftRole::Leader {
                    // Two leaders in one term cannot happen (election
                    // safety), so a leader never reaches this branch.
                    let state = state.to_mut();
                    state.role = RaftRole::Follower;
                    state.leader = Some(src);
                    state.votes.clear();
                    arm(self, o, RaftTimer::Election);
                }
            }
            // A reply from a higher term already made us step down above.
            RaftMsg::AppendEntriesReply { .. } => {}
        }
    }

    fn on_timeout(&self, me: Id, state: &mut Cow<RaftState>, timer: &RaftTimer, o: &mut Out<Self>) {
        match timer {
            RaftTimer::Election => {
                if state.role != RaftRole::Leader {
                    self.start_election(me, state.to_mut(), o);
                }
            }
            RaftTimer::Heartbeat => {
                if state.role == RaftRole::Leader {
                    self.send_heartbeats(me, state, o);
                }
            }
        }
    }

    fn name(&self) -> String {
        "raft".into()
    }
}

impl Protocol for Raft {
    const KIND: ProtocolKind = ProtocolKind::Raft;
    const SYMMETRIC: bool = true;
    const HAS_TERMS: bool = true;
    const WITHOUT_STORAGE: Option<&'static str> =
        Some("term and vote live in memory only, so a restarted node may vote twice in a term");

    fn new(cluster: Cluster) -> Self {
        Raft { cluster }
    }

    fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn timer_role(&self, timer: &RaftTimer) -> TimerRole {
        match timer {
            RaftTimer::Heartbeat => TimerRole::Heartbeat,
            RaftTimer::Election => TimerRole::WatchesLeader,
        }
    }

    fn timer_range(&self, timer: &RaftTimer) -> Range<Duration> {
        match timer {
            RaftTimer::Election => self.cluster.timeouts.election.clone(),
            RaftTimer::Heartbeat => self.cluster.timeouts.heartbeat_range(),
        }
    }

    fn message_term(msg: &RaftMsg) -> Option<u64> {
        Some(msg.term())
    }

    fn message_kind(msg: &RaftMsg) -> &'static str {
        match msg {
            RaftMsg::RequestVote { .. } => "RequestVote",
            RaftMsg::Vote { .. } => "Vote",
            RaftMsg::AppendEntries { .. } => "AppendEntries",
            RaftMsg::AppendEntriesReply { .. } => "AppendEntriesReply",
        }
    }
}

impl Leadership for RaftState {
    fn role(&self) -> Role {
        match self.role {
            RaftRole::Follower => Role::Follower,
            RaftRole::Candidate => Role::Candidate,
            RaftRole::Leader => Role::Leader,
        }
    }

    fn leader(&self) -> Option<Id> {
        self.leader
    }

    fn term(&self) -> Option<u64> {
        Some(self.term)
    }
}

impl fmt::Debug for RaftState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} term {} leader {} voted {}",
            self.role,
            self.term,
            MaybeId(self.leader),
            MaybeId(self.voted_for)
        )?;
        if self.role == RaftRole::Candidate {
            write!(
                f,
                " votes {:?}",
                super::Ids(&self.votes.iter().copied().collect::<Vec<_>>())
            )?;
        }
        Ok(())
    }
}

// Symmetry reduction: Raft treats all nodes alike, so states that differ only
// by a permutation of node ids are equivalent.
impl Rewrite<Id> for RaftState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        RaftState {
            term: self.term,
            voted_for: self.voted_for.rewrite(plan),
            role: self.role,
            leader: self.leader.rewrite(plan),
            votes: self.votes.rewrite(plan),
        }
    }
}

impl Rewrite<Id> for RaftMsg {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

// Raft only compares terms and adds one to them, so shifting every term of a
// system by the same amount changes nothing it does (the model's
// `normalize_terms`).
impl Terms for RaftState {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.term)
    }

    fn lower_terms(&self, by: u64) -> Self {
        RaftState {
            term: self.term - by,
            ..self.clone()
        }
    }
}

impl Terms for RaftMsg {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.term())
    }

    fn lower_terms(&self, by: u64) -> Self {
        match *self {
            RaftMsg::RequestVote { term } => RaftMsg::RequestVote { term: term - by },
            RaftMsg::Vote { term, granted } => RaftMsg::Vote {
                term: term - by,
                granted,
            },
            RaftMsg::AppendEntries { term } => RaftMsg::AppendEntries { term: term - by },
            RaftMsg::AppendEntriesReply { term } => RaftMsg::AppendEntriesReply { term: term - by },
        }
    }
}

impl Terms for RaftStorage {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.current_term)
    }

    fn lower_terms(&self, by: u64) -> Self {
        RaftStorage {
            current_term: self.current_term - by,
            voted_for: self.voted_for,
        }
    }
}

impl Rewrite<Id> for RaftStorage {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        RaftStorage {
            current_term: self.current_term,
            voted_for: self.voted_for.rewrite(plan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leadership::LeaderView;
    use crate::protocols::testkit::{deliver, fire, lines, sends, start};
    use crate::protocols::Timeouts;

    fn raft(n: usize) -> Raft {
        Raft::new(Cluster::new(n, Timeouts::default()))
    }

    fn follower(term: u64, voted_for: Option<usize>) -> RaftState {
        RaftState {
            term,
            voted_for: voted_for.map(Id::from),
            role: RaftRole::Follower,
            leader: None,
            votes: BTreeSet::new(),
        }
    }

    fn leader(me: usize, term: u64) -> RaftState {
        RaftState {
            term,
            voted_for: Some(Id::from(me)),
            role: RaftRole::Leader,
            leader: Some(Id::from(me)),
            votes: BTreeSet::new(),
        }
    }

    const ARM_ELECTION: &str = "arm Election 500ms..1s";

    fn save(term: u64, voted_for: Option<usize>) -> String {
        format!(
            "save RaftStorage {{ current_term: {term}, voted_for: {:?} }}",
            voted_for.map(Id::from)
        )
    }

    #[test]
    fn a_deposed_leader_saves_the_new_term_stops_its_heartbeat_and_votes() {
        let (state, o) = deliver(
            &raft(3),
            0,
            leader(0, 2),
            1,
            RaftMsg::RequestVote { term: 3 },
        );
        assert_eq!(state, follower(3, Some(1)));
        assert_eq!(
            lines(&o),
            [
                save(3, None),
                "cancel Heartbeat".into(),
                // Without an election timer it would never stand again.
                ARM_ELECTION.into(),
                save(3, Some(1)),
                ARM_ELECTION.into(),
                "send n1 Vote { term: 3, granted: true }".into(),
            ]
        );
    }

    #[test]
    fn a_repeated_request_from_the_chosen_candidate_is_granted_again() {
        // The first grant may have been lost; granting the same vote again
        // in the same term is safe and keeps the election alive.
        let (state, o) = deliver(
            &raft(3),
            0,
            follower(1, Some(1)),
            1,
            RaftMsg::RequestVote { term: 1 },
        );
        assert_eq!(state, follower(1, Some(1)));
        assert_eq!(
            lines(&o),
            [
                save(1, Some(1)),
                ARM_ELECTION.into(),
                "send n1 Vote { term: 1, granted: true }".into()
            ]
        );
    }

    #[test]
    fn a_heartbeat_of_the_current_term_makes_the_sender_the_leader() {
        let (state, o) = deliver(
            &raft(3),
            0,
            follower(1, None),
            2,
            RaftMsg::AppendEntries { term: 1 },
        );
        assert_eq!(
            state.view(),
            LeaderView {
                role: Role::Follower,
                leader: Some(2),
                term: Some(1)
            }
        );
        // It only restarts the watch: a current heartbeat needs no answer.
        assert_eq!(lines(&o), [ARM_ELECTION]);
    }

    #[test]
    fn a_candidate_yields_to_the_leader_of_its_own_term() {
        // Its election is lost: staying a candidate would only start a
        // needless election, and a disruption, when its timer fires. Every
        // model check passes without this rule (the candidate disrupts once
        // and then wins), so only this test keeps it.
        let candidate = RaftState {
            role: RaftRole::Candidate,
            voted_for: Some(Id::from(0)),
            votes: BTreeSet::from([Id::from(0)]),
            ..follower(1, Some(0))
        };
        let (state, o) = deliver(
            &raft(3),
            0,
            candidate,
            2,
            RaftMsg::AppendEntries { term: 1 },
        );
        assert_eq!(
            (state.role, state.leader, state.votes.len()),
            (RaftRole::Follower, Some(Id::from(2)), 0)
        );
        assert_eq!(lines(&o), [ARM_ELECTION]);
    }

    #[test]
    fn every_message_reports_its_term_to_the_model() {
        for msg in [
            RaftMsg::RequestVote { term: 7 },
            RaftMsg::Vote {
                term: 7,
                granted: false,
            },
            RaftMsg::AppendEntries { term: 7 },
            RaftMsg::AppendEntriesReply { term: 7 },
        ] {
            assert_eq!(Raft::message_term(&msg), Some(7), "{msg:?}");
        }
    }

    #[test]
    fn a_leaders_heartbeat_timer_beats_every_peer_and_rearms() {
        let (state, o) = fire(&raft(3), 0, leader(0, 1), RaftTimer::Heartbeat);
        assert_eq!(state, leader(0, 1));
        assert_eq!(
            lines(&o),
            [
                "send n1 AppendEntries { term: 1 }",
                "send n2 AppendEntries { term: 1 }",
                "arm Heartbeat 50ms..50ms"
            ]
        );
    }

    #[test]
    fn the_last_term_never_wraps() {
        let node = raft(3);
        let (state, _) = deliver(
            &node,
            0,
            follower(1, None),
            1,
            RaftMsg::AppendEntries { term: u64::MAX },
        );
        let (state, o) = fire(&node, 0, state, RaftTimer::Election);
        assert_eq!(state.term, u64::MAX);
        assert_eq!(state.role, RaftRole::Follower);
        // No election beyond the last term; the watch goes on.
        assert_eq!(lines(&o), [ARM_ELECTION]);
    }

    #[test]
    fn grants_one_vote_per_term_and_saves_it_before_replying() {
        let node = raft(3);
        let (state, o) = deliver(
            &node,
            0,
            follower(0, None),
            1,
            RaftMsg::RequestVote { term: 1 },
        );
        assert_eq!(state, follower(1, Some(1)));
        assert_eq!(
            lines(&o),
            [
                save(1, None),
                save(1, Some(1)),
                ARM_ELECTION.into(),
                "send n1 Vote { term: 1, granted: true }".into()
            ]
        );

        // A second candidate in the same term gets no vote, and no answer: a
        // refusal in its own term would tell it nothing.
        let (state, o) = deliver(&node, 0, state, 2, RaftMsg::RequestVote { term: 1 });
        assert_eq!(state, follower(1, Some(1)));
        assert!(lines(&o).is_empty(), "{:?}", lines(&o));
    }

    #[test]
    fn refuses_a_stale_candidate_with_its_newer_term() {
        let (state, o) = deliver(
            &raft(3),
            0,
            follower(3, None),
            1,
            RaftMsg::RequestVote { term: 2 },
        );
        assert_eq!(state, follower(3, None));
        assert_eq!(lines(&o), ["send n1 Vote { term: 3, granted: false }"]);
    }

    #[test]
    fn an_election_timeout_starts_an_election_and_a_majority_wins_it() {
        let node = raft(3);
        let (state, o) = fire(&node, 0, follower(0, None), RaftTimer::Election);
        assert_eq!(state.role, RaftRole::Candidate);
        assert_eq!(
            lines(&o),
            [
                save(1, Some(0)),
                ARM_ELECTION.into(),
                "send n1 RequestVote { term: 1 }".into(),
                "send n2 RequestVote { term: 1 }".into(),
            ]
        );
        let vote = RaftMsg::Vote {
            term: 1,
            granted: true,
        };
        let (state, o) = deliver(&node, 0, state, 2, vote);
        assert_eq!(state, leader(0, 1));
        assert_eq!(
            lines(&o),
            [
                "cancel Election",
                "send n1 AppendEntries { term: 1 }",
                "send n2 AppendEntries { term: 1 }",
                "arm Heartbeat 50ms..50ms"
            ]
        );
    }

    #[test]
    fn a_vote_from_an_older_term_is_not_counted() {
        let candidate = RaftState {
            term: 2,
            voted_for: Some(Id::from(0)),
            role: RaftRole::Candidate,
            leader: None,
            votes: BTreeSet::from([Id::from(0), Id::from(1)]),
        };
        let stale = RaftMsg::Vote {
            term: 1,
            granted: true,
        };
        let (state, o) = deliver(&raft(5), 0, candidate.clone(), 2, stale);
        assert_eq!(state, candidate);
        assert!(lines(&o).is_empty());
    }

    #[test]
    fn leader_steps_down_on_a_reply_from_a_higher_term() {
        let (state, o) = deliver(
            &raft(3),
            0,
            leader(0, 1),
            1,
            RaftMsg::AppendEntriesReply { term: 2 },
        );
        assert_eq!(state, follower(2, None));
        assert_eq!(
            lines(&o),
            [
                save(2, None),
                "cancel Heartbeat".into(),
                ARM_ELECTION.into()
            ]
        );
    }

    #[test]
    fn restores_term_and_vote_after_a_crash() {
        let storage = RaftStorage {
            current_term: 4,
            voted_for: Some(Id::from(2)),
        };
        let (state, o) = start(&raft(3), 0, Some(storage));
        assert_eq!(state, follower(4, Some(2)));
        assert_eq!(lines(&o), [ARM_ELECTION]);
    }

    #[test]
    fn stale_heartbeat_is_answered_with_the_newer_term() {
        let (state, o) = deliver(
            &raft(3),
            1,
            follower(3, None),
            0,
            RaftMsg::AppendEntries { term: 2 },
        );
        assert_eq!(state, follower(3, None));
        assert_eq!(
            sends(&o),
            vec![(0, RaftMsg::AppendEntriesReply { term: 3 })]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever votes arrive, a candidate counts exactly the distinct
            /// voters that granted it a vote of its own term (its own vote
            /// included), and leads exactly when they reach a majority before
            /// any message from a higher term deposes it.
            #[test]
            fn counts_each_voter_once_and_leads_exactly_with_a_majority(n in 1usize..8, voters in proptest::collection::vec((0usize..8, 0u64..3, any::<bool>()), 0..12)) {
                let node = raft(n);
                let (mut state, _) = fire(&node, 0, follower(0, None), RaftTimer::Election);
                let mut expected = if n == 1 { RaftRole::Leader } else { RaftRole::Candidate };
                let mut counted = BTreeSet::from([Id::from(0)]);
                for (voter, term, granted) in voters {
                    let voter = voter % n;
                    if voter == 0 { continue; }
                    let (next, _) = deliver(&node, 0, state, voter, RaftMsg::Vote { term, granted });
                    state = next;
                    if term > 1 {
                        expected = RaftRole::Follower;
                    } else if expected == RaftRole::Candidate && term == 1 && granted {
                        counted.insert(Id::from(voter));
                        if counted.len() > n / 2 {
                            expected = RaftRole::Leader;
                        }
                    }
                    // A candidate keeps exactly the voters counted so far; any
                    // other role keeps none.
                    let votes = if expected == RaftRole::Candidate { counted.clone() } else { BTreeSet::new() };
                    prop_assert_eq!(&state.votes, &votes);
                }
                prop_assert_eq!(state.role, expected);
            }

            /// A node never accepts a message's term that is lower than its own,
            /// and always adopts a higher one.
            #[test]
            fn terms_never_go_backwards(own in 0u64..5, msg_term in 0u64..5, kind in 0u8..4) {
                let node = raft(3);
                let msg = match kind {
                    0 => RaftMsg::RequestVote { term: msg_term },
                    1 => RaftMsg::Vote { term: msg_term, granted: true },
                    2 => RaftMsg::AppendEntries { term: msg_term },
                    _ => RaftMsg::AppendEntriesReply { term: msg_term },
                };
                let (state, _) = deliver(&node, 0, follower(own, None), 1, msg);
                prop_assert_eq!(state.term, own.max(msg_term));
            }
        }
    }
}
