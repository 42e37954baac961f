//! Leader election by Paxos: for each epoch, a single-decree Paxos instance
//! decides who leads it (Lamport, "Paxos Made Simple", 2001).
//!
//! Every node plays the three roles of the paper. The value to choose is a
//! node id, the epoch's leader; epochs are numbered from 1 and are decided
//! one after another.
//!
//! - **Proposer.** A node that hears nothing from its epoch's leader for a
//!   randomised election timeout proposes itself for the next undecided
//!   epoch. It picks a ballot `(round, its id)` above every ballot it has
//!   seen for that epoch and sends *prepare* (phase 1a). With *promises*
//!   from a majority of acceptors (phase 1b) it sends *accept* (phase 2a)
//!   for the value of the highest-ballot proposal those promises report
//!   accepted — and only if none reports one, for itself. Until it learns the
//!   epoch's decision it retries on every election timeout.
//! - **Acceptor.** It promises never to accept a ballot below the highest
//!   ballot it has been prepared with, and accepts (phase 2b) any proposal
//!   whose ballot is at least that. Its promise and accepted proposal are
//!   saved with [`Out::save`] before the reply that depends on them leaves,
//!   and come back after a crash: an acceptor that forgot its promise could
//!   let two values be chosen. A ballot below its promise is *refused*, with
//!   the promise, so that the proposer learns how high it must go.
//! - **Learner.** The proposer is the epoch's distinguished learner: with
//!   *accepted* from a majority of distinct acceptors for its ballot, the
//!   value is chosen, and it tells every node in a *decided* message. The
//!   leader repeats that message as its heartbeat, and any node answers a
//!   message of an epoch it has passed with the latest decision it knows, so
//!   that a node that missed a decision — or a deposed leader — catches up.
//!
//! Each acceptor keeps the state of one instance only: the epoch after the
//! latest one it has learnt. Once it has learnt an epoch's leader it answers
//! that epoch's proposers with the decision, which tells them more than its
//! promise would. A proposer reaches an epoch only by learning the decision
//! of the one before, and its prepare names that decision: an acceptor
//! that missed it learns it from the prepare and answers in the same step
//! (without this, a proposer ahead of a majority would retry for ever).
//!
//! **What Paxos adds to Raft's election.** In Raft a term has at most one
//! leader, but a term may have none and nothing is decided about it. Here
//! *who leads an epoch* is a consensus decision: every node that learns
//! anything about epoch `e` learns the same leader, and that leader proposed
//! itself. The epoch is the leadership's fencing token, as Raft's term is.
//!
//! **What it costs.** An election with no contention takes two round trips
//! (prepare/promise, accept/accepted) and one decision message: 5(n−1)
//! messages and, at every acceptor that answers, two synchronous saves (the
//! promise, the acceptance), plus one more at every node when it learns the
//! decision (so that its epoch never goes back after a crash). Raft's takes
//! one round trip and one save per voter. With the lease on, every
//! heartbeat round also costs n−1 acknowledgements, as Raft's lease does.
//!
//! **A restart ends a leadership.** A leader that restarts keeps what it
//! learnt — it led its epoch, and that stays decided — but leads no more:
//! it has lost its clock and its lease's rounds, and a later epoch may have
//! been decided while it was down. It stands down and, like any follower
//! whose leader went silent, proposes itself for the next epoch when its
//! election timer fires. (Raft's restarted leader is a follower too.)
//!
//! **The leader lease** (optional, the same [`LeaseConfig`] as Raft's; see
//! [`super::lease`]). The leader numbers its heartbeats, which are its
//! `Decided` messages, and followers acknowledge each round. By
//! acknowledging, a follower promises that for the minimum election
//! timeout from receiving the round it answers no prepare of the next
//! epoch and proposes nothing; the leader itself answers none while it
//! leads. Once a majority has acknowledged a round, the leader holds the
//! lease until the round's timer, armed when it sent the round, fires. Any
//! ballot of the next epoch needs promises from a majority, which shares a
//! node with the majority behind the lease; that node promises only after
//! its acknowledgement's promise has run out, later than the lease's end by
//! the drift margin. So the next epoch's leader is decided — and can begin
//! a lease — only after every lease of the epoch before has ended. Four
//! rules close the remaining gaps: a node that has promised a ballot of the
//! next epoch acknowledges no round of the current one (it has joined the
//! election that replaces it; and so that a stalled election is retried,
//! the leader's heartbeats no longer hold it back); a node that learns from
//! a prepare that it leads the epoch before answers that prepare no more
//! than any leader does (its lease counts its own acknowledgement, which a
//! promise would give away); a node that starts or
//! restarts has forgotten what it promised, so it keeps a promise to nobody
//! for the promise's duration (the quarantine); and a leader that restarts
//! stands down (above), so no acknowledgement from before its crash can
//! count for a round after it.
//!
//! This lease is made of the decisions' own heartbeats, not of PaxosLease's
//! separate lease instances; PaxosLease's disk-free acceptor is not
//! offered, as the epochs already need storage. Without storage
//! ([`Protocol::WITHOUT_STORAGE`]) an acceptor forgets its promises, and
//! the checker shows the two leaders for one epoch that follows.
//!
//! Ballots are ordered by round, then by node id, so nodes are not
//! interchangeable: the checker explores this protocol without symmetry
//! reduction.

use super::lease::{LeaseConfig, LeaseState};
use super::{arm, Cluster, Deviation, Ids, MaybeId, Protocol, ProtocolKind, Terms, TimerRole};
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

/// A proposal number: a round, made unique by the proposer's id. Ordered by
/// round first, then by id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ballot {
    /// The round, starting at 1 in every epoch.
    pub round: u64,
    /// The proposer.
    pub node: Id,
}

/// A proposal an acceptor has accepted: a ballot and the leader it proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Proposal {
    /// The ballot it was proposed in.
    pub ballot: Ballot,
    /// The proposed leader.
    pub leader: Id,
}

/// What Paxos nodes say to each other. Every message names the epoch whose
/// instance it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PaxosMsg {
    /// Phase 1a: will the acceptor promise `ballot`?
    Prepare {
        /// The epoch being decided.
        epoch: u64,
        /// The proposer's ballot.
        ballot: Ballot,
        /// The leader of the epoch before, as the proposer learnt it, so
        /// that an acceptor that missed that decision catches up at once.
        previous: Option<Id>,
    },
    /// Phase 1b: the acceptor promises `ballot`, and reports the proposal of
    /// the highest ballot it has accepted in the epoch.
    Promise {
        /// The epoch being decided.
        epoch: u64,
        /// The promised ballot.
        ballot: Ballot,
        /// The acceptor's accepted proposal, if any.
        accepted: Option<Proposal>,
    },
    /// Phase 2a: will the acceptor accept `leader` in `ballot`?
    Accept {
        /// The epoch being decided.
        epoch: u64,
        /// The proposer's ballot.
        ballot: Ballot,
        /// The proposed leader.
        leader: Id,
    },
    /// Phase 2b: the acceptor has accepted the proposal of `ballot`.
    Accepted {
        /// The epoch being decided.
        epoch: u64,
        /// The accepted ballot.
        ballot: Ballot,
    },
    /// The acceptor has promised a higher ballot and refuses this one.
    Refused {
        /// The epoch being decided.
        epoch: u64,
        /// The ballot it has promised.
        promised: Ballot,
    },
    /// `leader` was chosen for `epoch`: the decision, and the leader's
    /// heartbeat.
    Decided {
        /// The decided epoch.
        epoch: u64,
        /// Its leader.
        leader: Id,
        /// With the lease on, the number of the leader's heartbeat round,
        /// which followers acknowledge; 0 for a decision passed on by
        /// another node, and always 0 without the lease.
        round: u64,
    },
    /// The lease only: a follower acknowledges heartbeat `round` of its
    /// epoch's leader, and with it promises to answer no prepare of the
    /// next epoch for the minimum election timeout.
    HeartbeatAck {
        /// The follower's epoch, the leader's.
        epoch: u64,
        /// The acknowledged round.
        round: u64,
    },
}

impl PaxosMsg {
    /// The epoch the message belongs to.
    pub fn epoch(&self) -> u64 {
        match self {
            PaxosMsg::Prepare { epoch, .. }
            | PaxosMsg::Promise { epoch, .. }
            | PaxosMsg::Accept { epoch, .. }
            | PaxosMsg::Accepted { epoch, .. }
            | PaxosMsg::Refused { epoch, .. }
            | PaxosMsg::Decided { epoch, .. }
            | PaxosMsg::HeartbeatAck { epoch, .. } => *epoch,
        }
    }
}

/// The timers a Paxos node arms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PaxosTimer {
    /// No word from the leader (or no decision yet): propose.
    Election,
    /// The leader's heartbeat period.
    Heartbeat,
    /// The lease only: the minimum election timeout since the node last
    /// acknowledged its leader's round (or since it started: the
    /// quarantine); while it runs the node answers no prepare of the next
    /// epoch and proposes nothing.
    Heard,
    /// The lease only: the lease of the leader's heartbeat rounds of one
    /// parity, armed as the round is sent.
    Lease {
        /// Odd rounds' timer (or even rounds').
        odd: bool,
    },
}

// ---------------------------------------------------------------- state

/// What a node keeps on stable storage: what it has learnt and what it has
/// promised and accepted as an acceptor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PaxosStorage {
    /// The latest epoch whose leader the node has learnt (0: none).
    pub epoch: u64,
    /// That epoch's leader.
    pub leader: Option<Id>,
    /// The acceptor's promise in the next epoch.
    pub promised: Option<Ballot>,
    /// The acceptor's accepted proposal in the next epoch.
    pub accepted: Option<Proposal>,
}

/// Where a proposer's ballot stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Phase 1: collecting promises.
    Preparing {
        /// The acceptors that promised, the proposer included.
        promised_by: BTreeSet<Id>,
        /// The highest-ballot proposal they reported accepted.
        highest: Option<Proposal>,
    },
    /// Phase 2: collecting acceptances of `leader`.
    Accepting {
        /// The proposed leader.
        leader: Id,
        /// The acceptors that accepted, the proposer included.
        accepted_by: BTreeSet<Id>,
    },
}

/// A proposer's ballot in the epoch being decided.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Proposer {
    /// Its ballot.
    pub ballot: Ballot,
    /// How far it has got.
    pub phase: Phase,
}

/// A Paxos node's state.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PaxosState {
    /// The latest epoch whose leader the node has learnt (0: none). The
    /// epoch being decided is the next one.
    pub epoch: u64,
    /// That epoch's leader.
    pub leader: Option<Id>,
    /// Whether the node is that leader.
    pub leading: bool,
    /// As acceptor, the highest ballot promised in the next epoch.
    pub promised: Option<Ballot>,
    /// As acceptor, the proposal accepted in the next epoch.
    pub accepted: Option<Proposal>,
    /// The highest round any refusal has reported for the next epoch.
    pub refused_round: u64,
    /// As proposer, its ballot for the next epoch, if it is proposing.
    pub proposer: Option<Proposer>,
    /// The node led `epoch` and stood down when it restarted: it names no
    /// leader until it learns a later epoch.
    pub stood_down: bool,
    /// The lease only: whether [`PaxosTimer::Heard`] runs — the node is
    /// keeping its promise to its leader, or its quarantine.
    pub heard: bool,
    /// The lease only: the leader's lease (default while not leading).
    pub lease: LeaseState,
}

impl PaxosState {
    /// Whether the node leads and holds a lease a majority granted whose
    /// timer has not fired (the runtime also reads the timer's deadline off
    /// the clock: see [`Protocol::lease_valid`]).
    pub fn holds_lease(&self) -> bool {
        self.leading && self.lease.held.is_some()
    }

    /// The epoch this node's instance decides.
    pub fn deciding(&self) -> u64 {
        self.epoch + 1
    }

    /// What the node saves.
    fn storage(&self) -> PaxosStorage {
        PaxosStorage {
            epoch: self.epoch,
            leader: self.leader,
            promised: self.promised,
            accepted: self.accepted,
        }
    }

    /// The highest round the node has seen in the epoch being decided.
    fn highest_round(&self) -> u64 {
        let rounds = [
            self.promised.map(|b| b.round),
            self.accepted.map(|p| p.ballot.round),
            self.proposer.as_ref().map(|p| p.ballot.round),
            Some(self.refused_round),
        ];
        rounds.into_iter().flatten().max().unwrap_or(0)
    }
}

// ---------------------------------------------------------------- handlers

/// The Paxos node program: its cluster's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Paxos {
    cluster: Cluster,
}

impl Paxos {
    /// A majority of the cluster.
    fn quorum(&self) -> usize {
        self.cluster.size / 2 + 1
    }

    /// The leader lease, if on.
    fn lease(&self) -> Option<&LeaseConfig> {
        self.cluster.lease()
    }

    /// Whether a promise forbids this node to answer a prepare of the next
    /// epoch or to propose: with the lease on, while it leads (its lease
    /// counts its own acknowledgement) and while [`PaxosTimer::Heard`]
    /// runs (its promise to its leader, or its quarantine).
    fn promised_away(&self, state: &PaxosState) -> bool {
        // Seeded bug: the promise to the leader is not kept.
        let keeps_promise = state.heard && !self.deviates(Deviation::PaxosPromiseDuringLease);
        self.lease().is_some() && (state.leading || keeps_promise)
    }

    /// Whether every node the message names (leaders, ballots' proposers)
    /// is a member of the cluster.
    fn names_members_only(&self, msg: &PaxosMsg) -> bool {
        let member = |id: Id| self.cluster.is_member(id);
        match msg {
            PaxosMsg::Prepare {
                ballot, previous, ..
            } => member(ballot.node) && previous.is_none_or(member),
            PaxosMsg::Promise {
                ballot, accepted, ..
            } => {
                member(ballot.node)
                    && accepted.is_none_or(|p| member(p.ballot.node) && member(p.leader))
            }
            PaxosMsg::Accept { ballot, leader, .. } => member(ballot.node) && member(*leader),
            PaxosMsg::Accepted { ballot, .. } => member(ballot.node),
            PaxosMsg::Refused { promised, .. } => member(promised.node),
            PaxosMsg::Decided { leader, .. } => member(*leader),
            PaxosMsg::HeartbeatAck { .. } => true,
        }
    }

    /// Whether the seeded bug `deviation` is on (see [`Deviation`]); real
    /// nodes never carry one. Each Paxos deviation is consulted at one
    /// marked place.
    fn deviates(&self, deviation: Deviation) -> bool {
        self.cluster.deviation == Some(deviation)
    }

    /// Counts an answer from `src` in `answered`: once per acceptor, as a
    /// redelivered answer says nothing new.
    fn count_answer(&self, answered: &mut BTreeSet<Id>, src: Id) {
        let redelivered = !answered.insert(src);
        // Seeded bug: counting messages, a redelivered answer counts as an
        // acceptor that has not answered.
        if redelivered && self.deviates(Deviation::PaxosQuorumByMessages) {
            if let Some(other) = self.cluster.members().find(|id| !answered.contains(id)) {
                answered.insert(other);
            }
        }
    }

    /// The election timer fired: propose itself for the epoch being decided,
    /// with a ballot above every one it has seen. Its own acceptor promises
    /// at once.
    fn propose(&self, me: Id, state: &mut PaxosState, o: &mut Out<Self>) {
        let epoch = state.deciding();
        let ballot = Ballot {
            round: state.highest_round() + 1,
            node: me,
        };
        state.promised = Some(ballot);
        state.proposer = Some(Proposer {
            ballot,
            phase: Phase::Preparing {
                promised_by: BTreeSet::from([me]),
                highest: state.accepted,
            },
        });
        // The proposer's own promise is durable before anyone hears of it.
        o.save(state.storage());
        arm(self, o, PaxosTimer::Election);
        for peer in self.cluster.peers(me) {
            let previous = state.leader;
            o.send(
                peer,
                PaxosMsg::Prepare {
                    epoch,
                    ballot,
                    previous,
                },
            );
        }
        self.accept_if_promised(me, state, o);
    }

    /// Phase 1a at an acceptor.
    fn on_prepare(&self, state: &mut Cow<PaxosState>, src: Id, ballot: Ballot, o: &mut Out<Self>) {
        let epoch = state.deciding();
        match state.promised {
            Some(promised) if ballot < promised => {
                o.send(src, PaxosMsg::Refused { epoch, promised });
                return;
            }
            // A redelivered prepare is answered again; nothing changes.
            Some(promised) if ballot == promised => {}
            _ => {
                let state = state.to_mut();
                state.promised = Some(ballot);
                give_up_if_outbid(state, ballot);
                o.save(state.storage());
            }
        }
        let accepted = state.accepted;
        o.send(
            src,
            PaxosMsg::Promise {
                epoch,
                ballot,
                accepted,
            },
        );
    }

    /// Phase 1b at the proposer.
    fn on_promise(
        &self,
        me: Id,
        state: &mut Cow<PaxosState>,
        src: Id,
        ballot: Ballot,
        accepted: Option<Proposal>,
        o: &mut Out<Self>,
    ) {
        let preparing = matches!(
            &state.proposer,
            Some(Proposer { ballot: b, phase: Phase::Preparing { .. } }) if *b == ballot
        );
        if !preparing {
            return;
        }
        let state = state.to_mut();
        if let Some(Proposer {
            phase:
                Phase::Preparing {
                    promised_by,
                    highest,
                },
            ..
        }) = &mut state.proposer
        {
            self.count_answer(promised_by, src);
            if accepted > *highest {
                *highest = accepted;
            }
        }
        self.accept_if_promised(me, state, o);
    }

    /// With promises from a majority, phase 2a: propose the value of the
    /// highest accepted proposal they reported, or itself if none did. Its
    /// own acceptor accepts at once if its promise allows.
    fn accept_if_promised(&self, me: Id, state: &mut PaxosState, o: &mut Out<Self>) {
        let Some(Proposer {
            ballot,
            phase:
                Phase::Preparing {
                    promised_by,
                    highest,
                },
        }) = &state.proposer
        else {
            return;
        };
        if promised_by.len() < self.quorum() {
            return;
        }
        let ballot = *ballot;
        // "If it receives a response to its prepare requests from a majority
        // of acceptors, then it sends an accept request … with a value v,
        // where v is the value of the highest-numbered proposal among the
        // responses, or is any value if the responses reported no
        // proposals."
        let leader = match highest {
            // Seeded bug: the reported proposal is ignored.
            Some(_) if self.deviates(Deviation::PaxosIgnoresAcceptedValue) => me,
            Some(proposal) => proposal.leader,
            None => me,
        };
        let mut accepted_by = BTreeSet::new();
        if state.promised.is_none_or(|promised| ballot >= promised) {
            state.promised = Some(ballot);
            state.accepted = Some(Proposal { ballot, leader });
            o.save(state.storage());
            accepted_by.insert(me);
        }
        state.proposer = Some(Proposer {
            ballot,
            phase: Phase::Accepting {
                leader,
                accepted_by,
            },
        });
        let epoch = state.deciding();
        for peer in self.cluster.peers(me) {
            o.send(
                peer,
                PaxosMsg::Accept {
                    epoch,
                    ballot,
                    leader,
                },
            );
        }
        self.learn_if_accepted(me, state, o);
    }

    /// Phase 2a at an acceptor.
    fn on_accept(
        &self,
        state: &mut Cow<PaxosState>,
        src: Id,
        ballot: Ballot,
        leader: Id,
        o: &mut Out<Self>,
    ) {
        let epoch = state.deciding();
        // Seeded bug: the promise is not checked.
        let keeps_promise = !self.deviates(Deviation::PaxosAcceptBelowPromise);
        match state.promised {
            Some(promised) if ballot < promised && keeps_promise => {
                o.send(src, PaxosMsg::Refused { epoch, promised });
            }
            _ => {
                let proposal = Some(Proposal { ballot, leader });
                if state.accepted != proposal {
                    let state = state.to_mut();
                    state.promised = state.promised.max(Some(ballot));
                    state.accepted = proposal;
                    give_up_if_outbid(state, ballot);
                    // The acceptance is durable before it is reported.
                    o.save(state.storage());
                }
                o.send(src, PaxosMsg::Accepted { epoch, ballot });
            }
        }
    }

    /// Phase 2b at the proposer, the epoch's distinguished learner.
    fn on_accepted(
        &self,
        me: Id,
        state: &mut Cow<PaxosState>,
        src: Id,
        ballot: Ballot,
        o: &mut Out<Self>,
    ) {
        let accepting = matches!(
            &state.proposer,
            Some(Proposer { ballot: b, phase: Phase::Accepting { .. } }) if *b == ballot
        );
        if !accepting {
            return;
        }
        let state = state.to_mut();
        if let Some(Proposer {
            phase: Phase::Accepting { accepted_by, .. },
            ..
        }) = &mut state.proposer
        {
            self.count_answer(accepted_by, src);
        }
        self.learn_if_accepted(me, state, o);
    }

    /// With acceptances from a majority the value is chosen: learn it and
    /// tell every node.
    fn learn_if_accepted(&self, me: Id, state: &mut PaxosState, o: &mut Out<Self>) {
        let Some(Proposer {
            phase:
                Phase::Accepting {
                    leader,
                    accepted_by,
                },
            ..
        }) = &state.proposer
        else {
            return;
        };
        // Seeded bug: a minority's acceptances are taken for a choice.
        let needed = if self.deviates(Deviation::PaxosLearnsFromMinority) {
            self.quorum() - 1
        } else {
            self.quorum()
        };
        if accepted_by.len() < needed {
            return;
        }
        let (epoch, leader) = (state.deciding(), *leader);
        // A proposer that chose itself announces the decision as its first
        // heartbeat (in `learn`), the same message: sent once, not twice.
        if leader != me {
            for peer in self.cluster.peers(me) {
                let round = 0;
                o.send(
                    peer,
                    PaxosMsg::Decided {
                        epoch,
                        leader,
                        round,
                    },
                );
            }
        }
        self.learn(me, state, epoch, leader, o);
    }

    /// A refusal: some acceptor has promised a higher ballot, so this
    /// proposer's ballot cannot succeed; the refusal's round is remembered
    /// so that the next ballot goes above it.
    fn on_refused(&self, state: &mut Cow<PaxosState>, promised: Ballot) {
        let outbid = state.proposer.as_ref().is_some_and(|p| p.ballot < promised);
        if outbid || promised.round > state.refused_round {
            let state = state.to_mut();
            state.refused_round = state.refused_round.max(promised.round);
            give_up_if_outbid(state, promised);
        }
    }

    /// Learns that `leader` leads `epoch`, an epoch after every one the node
    /// knows: the instance of the next epoch starts afresh. Saved, so that
    /// the node's epoch never goes back.
    fn learn(&self, me: Id, state: &mut PaxosState, epoch: u64, leader: Id, o: &mut Out<Self>) {
        let was_leading = state.leading;
        *state = PaxosState {
            epoch,
            leader: Some(leader),
            leading: leader == me,
            promised: None,
            accepted: None,
            refused_round: 0,
            proposer: None,
            stood_down: false,
            // A promise to an earlier leader still holds: it is a promise
            // about time.
            heard: state.heard,
            lease: LeaseState::default(),
        };
        o.save(state.storage());
        if state.leading {
            o.cancel_timer(PaxosTimer::Election);
            self.send_heartbeats(me, state, o);
        } else {
            if was_leading {
                o.cancel_timer(PaxosTimer::Heartbeat);
                if self.lease().is_some() {
                    o.cancel_timer(PaxosTimer::Lease { odd: false });
                    o.cancel_timer(PaxosTimer::Lease { odd: true });
                }
            }
            arm(self, o, PaxosTimer::Election);
        }
    }

    /// A decision, or a leader's heartbeat: `decided` is `(epoch, leader,
    /// round)` of a [`PaxosMsg::Decided`].
    fn on_decided(
        &self,
        me: Id,
        state: &mut Cow<PaxosState>,
        src: Id,
        (epoch, leader, round): (u64, Id, u64),
        o: &mut Out<Self>,
    ) {
        if epoch > state.epoch {
            self.learn(me, state.to_mut(), epoch, leader, o);
            // The new leader's first heartbeat is its decision: acknowledged
            // at once, so that its lease starts one round sooner.
            let first_round = self.lease().is_some() && round > 0;
            if first_round && src == leader && !state.leading {
                self.on_heartbeat(state, src, round, o);
            }
        } else if epoch < state.epoch {
            // A deposed leader's heartbeat, or an old decision: the sender
            // is told the latest one, so that a deposed leader steps down.
            self.tell_latest(state, src, o);
        } else if epoch == state.epoch && src == leader && !state.leading {
            self.on_heartbeat(state, src, round, o);
        }
    }

    /// Tells `src`, which is behind, the latest decision this node knows.
    fn tell_latest(&self, state: &PaxosState, src: Id, o: &mut Out<Self>) {
        if let Some(leader) = state.leader {
            let decided = PaxosMsg::Decided {
                epoch: state.epoch,
                leader,
                round: 0,
            };
            o.send(src, decided);
        }
    }

    /// The leader of the node's epoch is alive: keep following it, and stop
    /// proposing a successor it does not need. With the lease on, the node
    /// acknowledges the round and keeps its promise from now on — unless
    /// it has promised a ballot of the next epoch: it has then joined the
    /// election that replaces this leader, can vouch for no lease of it,
    /// and the heartbeat does not hold that election back.
    fn on_heartbeat(&self, state: &mut Cow<PaxosState>, src: Id, round: u64, o: &mut Out<Self>) {
        let lease = self.lease().is_some();
        // Seeded bug: the node acknowledges though it has promised a
        // proposer of the next epoch.
        let acks_after_promise = self.deviates(Deviation::PaxosAcksAfterPromise);
        if lease && state.promised.is_some() && !acks_after_promise {
            return;
        }
        if state.proposer.is_some() {
            state.to_mut().proposer = None;
        }
        arm(self, o, PaxosTimer::Election);
        if lease && round > 0 {
            let state = state.to_mut();
            state.heard = true;
            arm(self, o, PaxosTimer::Heard);
            let epoch = state.epoch;
            o.send(src, PaxosMsg::HeartbeatAck { epoch, round });
        }
    }

    /// An acknowledgement of one of this leader's rounds.
    fn on_heartbeat_ack(&self, state: &mut Cow<PaxosState>, src: Id, epoch: u64, round: u64) {
        if state.leading && epoch == state.epoch && state.lease.counts(src, round) {
            let state = state.to_mut();
            state.lease.acknowledge(src);
            state.lease.hold_if_acknowledged(self.quorum());
        }
    }

    /// The leader announces itself to every peer and re-arms its heartbeat.
    /// With the lease on, the heartbeat is a numbered round whose lease
    /// timer starts now, as it is sent.
    fn send_heartbeats(&self, me: Id, state: &mut PaxosState, o: &mut Out<Self>) {
        let round = match self.lease() {
            Some(_) => {
                let odd = state.lease.start_round(me);
                arm(self, o, PaxosTimer::Lease { odd });
                state.lease.hold_if_acknowledged(self.quorum());
                state.lease.round
            }
            None => 0,
        };
        let heartbeat = PaxosMsg::Decided {
            epoch: state.epoch,
            leader: me,
            round,
        };
        for peer in self.cluster.peers(me) {
            o.send(peer, heartbeat.clone());
        }
        arm(self, o, PaxosTimer::Heartbeat);
    }
}

/// A proposer whose ballot is below `ballot` cannot succeed any more (an
/// acceptor, maybe its own, has promised `ballot`): it gives the ballot up
/// and retries, higher, on its next election timeout.
fn give_up_if_outbid(state: &mut PaxosState, ballot: Ballot) {
    if state.proposer.as_ref().is_some_and(|p| p.ballot < ballot) {
        state.proposer = None;
    }
}

impl Actor for Paxos {
    type Msg = PaxosMsg;
    type Timer = PaxosTimer;
    type State = PaxosState;
    type Storage = PaxosStorage;
    type Random = ();

    fn on_start(&self, me: Id, storage: &Option<PaxosStorage>, o: &mut Out<Self>) -> PaxosState {
        // After a crash, what the node learnt, promised and accepted comes
        // back from stable storage.
        let saved = storage.clone().unwrap_or(PaxosStorage {
            epoch: 0,
            leader: None,
            promised: None,
            accepted: None,
        });
        // Ids that name no member (storage of another cluster, or corrupt)
        // are not believed: no stranger is followed or proposed.
        let member = |id: &Id| self.cluster.is_member(*id);
        // A leader that restarts stands down (see the module doc).
        let stood_down = saved.leader == Some(me);
        // The promises of a previous life are forgotten with its clock, so
        // the node keeps one to nobody: the quarantine.
        let quarantine = self.lease().is_some() && !self.deviates(Deviation::PaxosNoQuarantine);
        let state = PaxosState {
            epoch: saved.epoch,
            leader: saved.leader.filter(member),
            leading: false,
            promised: saved.promised,
            accepted: saved.accepted.filter(|p| member(&p.leader)),
            refused_round: 0,
            proposer: None,
            stood_down,
            heard: quarantine,
            lease: LeaseState::default(),
        };
        arm(self, o, PaxosTimer::Election);
        if quarantine {
            arm(self, o, PaxosTimer::Heard);
        }
        state
    }

    fn on_msg(
        &self,
        me: Id,
        state: &mut Cow<PaxosState>,
        src: Id,
        msg: PaxosMsg,
        o: &mut Out<Self>,
    ) {
        if !self.names_members_only(&msg) {
            // A leader or ballot of a node outside the cluster: a peer of
            // another configuration, or a corrupt one. Never followed.
            return;
        }
        match msg {
            PaxosMsg::Decided {
                epoch,
                leader,
                round,
            } => return self.on_decided(me, state, src, (epoch, leader, round), o),
            PaxosMsg::HeartbeatAck { epoch, round } => {
                return self.on_heartbeat_ack(state, src, epoch, round)
            }
            _ => {}
        }
        let epoch = msg.epoch();
        if epoch <= state.epoch {
            // An instance this node has seen decided: the decision answers it.
            return self.tell_latest(state, src, o);
        }
        if matches!(msg, PaxosMsg::Prepare { .. }) && self.promised_away(state) {
            // The promise forbids answering any prepare of the next epoch:
            // it goes unheard, even the decision it names.
            return;
        }
        if epoch > state.deciding() {
            // The sender has learnt a decision this node missed. A prepare
            // names the decision of the epoch before its own, which brings
            // the node up to date; any other message waits for a decision.
            match msg {
                PaxosMsg::Prepare {
                    previous: Some(previous),
                    ..
                } => self.learn(me, state.to_mut(), epoch - 1, previous, o),
                _ => return,
            }
            // The decision it named may have made this node the leader of
            // the epoch the prepare would replace, and a leader under a
            // lease answers no prepare: promising now would give away a
            // vote its own lease goes on counting.
            let promises_as_it_learns = self.deviates(Deviation::PaxosPromisesAsItLearnsToLead);
            if matches!(msg, PaxosMsg::Prepare { .. })
                && self.promised_away(state)
                && !promises_as_it_learns
            {
                return;
            }
        }
        match msg {
            PaxosMsg::Prepare { ballot, .. } => self.on_prepare(state, src, ballot, o),
            PaxosMsg::Promise {
                ballot, accepted, ..
            } => self.on_promise(me, state, src, ballot, accepted, o),
            PaxosMsg::Accept { ballot, leader, .. } => {
                self.on_accept(state, src, ballot, leader, o)
            }
            PaxosMsg::Accepted { ballot, .. } => self.on_accepted(me, state, src, ballot, o),
            PaxosMsg::Refused { promised, .. } => self.on_refused(state, promised),
            PaxosMsg::Decided { .. } | PaxosMsg::HeartbeatAck { .. } => {}
        }
    }

    fn on_timeout(
        &self,
        me: Id,
        state: &mut Cow<PaxosState>,
        timer: &PaxosTimer,
        o: &mut Out<Self>,
    ) {
        match timer {
            PaxosTimer::Election => {
                // A node that promised its leader not to help replace it
                // does not propose itself either; it looks again later.
                if self.promised_away(state) {
                    arm(self, o, PaxosTimer::Election);
                } else if !state.leading {
                    self.propose(me, state.to_mut(), o);
                }
            }
            PaxosTimer::Heartbeat => {
                if state.leading {
                    self.send_heartbeats(me, state.to_mut(), o);
                }
            }
            PaxosTimer::Heard => {
                if state.heard {
                    state.to_mut().heard = false;
                }
            }
            PaxosTimer::Lease { odd } => {
                if state.lease.expires(*odd) {
                    state.to_mut().lease.expire(*odd);
                }
            }
        }
    }

    fn name(&self) -> String {
        "paxos".into()
    }
}

impl Protocol for Paxos {
    const KIND: ProtocolKind = ProtocolKind::Paxos;
    const HAS_TERMS: bool = true;
    const HAS_LEASE: bool = true;
    const WITHOUT_STORAGE: Option<&'static str> =
        Some("promises and accepted proposals live in memory only, so a restarted acceptor may break a promise and two leaders may be decided for one epoch");

    fn new(cluster: Cluster) -> Self {
        Paxos { cluster }
    }

    fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn timer_range(&self, timer: &PaxosTimer) -> Range<Duration> {
        let timeouts = &self.cluster.timeouts;
        let promise = timeouts.election.start;
        match timer {
            PaxosTimer::Election => timeouts.election.clone(),
            PaxosTimer::Heartbeat => timeouts.heartbeat_range(),
            PaxosTimer::Heard => promise..promise,
            PaxosTimer::Lease { .. } => {
                let lease = self.lease().map_or(promise, |l| l.duration);
                lease..lease
            }
        }
    }

    fn timer_role(&self, timer: &PaxosTimer) -> TimerRole {
        match timer {
            PaxosTimer::Election | PaxosTimer::Heard => TimerRole::WatchesLeader,
            PaxosTimer::Heartbeat | PaxosTimer::Lease { .. } => TimerRole::Heartbeat,
        }
    }

    /// The held round's lease timer: the lease ends at its deadline.
    fn lease_timer(&self, state: &PaxosState) -> Option<PaxosTimer> {
        let odd = state.lease.held.filter(|_| state.holds_lease())?;
        Some(PaxosTimer::Lease { odd })
    }

    fn message_kind(msg: &PaxosMsg) -> &'static str {
        match msg {
            PaxosMsg::Prepare { .. } => "Prepare",
            PaxosMsg::Promise { .. } => "Promise",
            PaxosMsg::Accept { .. } => "Accept",
            PaxosMsg::Accepted { .. } => "Accepted",
            PaxosMsg::Refused { .. } => "Refused",
            PaxosMsg::Decided { .. } => "Decided",
            PaxosMsg::HeartbeatAck { .. } => "HeartbeatAck",
        }
    }
}

impl Leadership for PaxosState {
    fn role(&self) -> Role {
        if self.proposer.is_some() {
            Role::Candidate
        } else if self.leading {
            Role::Leader
        } else {
            Role::Follower
        }
    }

    fn leader(&self) -> Option<Id> {
        self.leader.filter(|_| !self.stood_down)
    }

    fn term(&self) -> Option<u64> {
        Some(self.epoch)
    }

    fn holds_lease(&self) -> bool {
        PaxosState::holds_lease(self)
    }
}

impl fmt::Debug for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.n{}", self.round, usize::from(self.node))
    }
}

impl fmt::Debug for PaxosState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} epoch {} leader {}",
            self.role(),
            self.epoch,
            MaybeId(self.leader)
        )?;
        if let Some(promised) = self.promised {
            write!(f, " promised {promised:?}")?;
        }
        if let Some(accepted) = self.accepted {
            write!(
                f,
                " accepted {:?}=n{}",
                accepted.ballot,
                usize::from(accepted.leader)
            )?;
        }
        match &self.proposer {
            Some(Proposer {
                ballot,
                phase: Phase::Preparing { promised_by, .. },
            }) => write!(
                f,
                " preparing {ballot:?} promised by {:?}",
                Ids(&promised_by.iter().copied().collect::<Vec<_>>())
            )?,
            Some(Proposer {
                ballot,
                phase:
                    Phase::Accepting {
                        leader,
                        accepted_by,
                    },
            }) => write!(
                f,
                " proposing n{} in {ballot:?} accepted by {:?}",
                usize::from(*leader),
                Ids(&accepted_by.iter().copied().collect::<Vec<_>>())
            )?,
            None => {}
        }
        if self.stood_down {
            f.write_str(" stood down")?;
        }
        if self.heard {
            f.write_str(" heard")?;
        }
        if self.lease.round > 0 {
            let acks: Vec<Id> = self.lease.acks.iter().copied().collect();
            write!(f, " round {} acks {:?}", self.lease.round, Ids(&acks))?;
            if let Some(odd) = self.lease.held {
                write!(f, " lease {}", if odd { "odd" } else { "even" })?;
            }
        }
        Ok(())
    }
}

// Ballots order nodes by id, so Paxos is not symmetric and its values are
// never relabelled (`Protocol::SYMMETRIC` is false).
impl Rewrite<Id> for PaxosState {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

impl Rewrite<Id> for PaxosMsg {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

impl Rewrite<Id> for PaxosStorage {
    fn rewrite<S>(&self, _plan: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

// Paxos compares epochs and adds one to them only, so shifting every epoch
// of a system by the same amount changes nothing it does (the model's
// `normalize_terms`). Ballot rounds start afresh in every epoch and are not
// shifted.
impl Terms for PaxosState {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.epoch)
    }

    fn lower_terms(&self, by: u64) -> Self {
        PaxosState {
            epoch: self.epoch - by,
            ..self.clone()
        }
    }
}

impl Terms for PaxosMsg {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.epoch())
    }

    fn lower_terms(&self, by: u64) -> Self {
        let mut lowered = self.clone();
        match &mut lowered {
            PaxosMsg::Prepare { epoch, .. }
            | PaxosMsg::Promise { epoch, .. }
            | PaxosMsg::Accept { epoch, .. }
            | PaxosMsg::Accepted { epoch, .. }
            | PaxosMsg::Refused { epoch, .. }
            | PaxosMsg::Decided { epoch, .. }
            | PaxosMsg::HeartbeatAck { epoch, .. } => *epoch -= by,
        }
        lowered
    }
}

impl Terms for PaxosStorage {
    fn lowest_term(&self) -> Option<u64> {
        Some(self.epoch)
    }

    fn lower_terms(&self, by: u64) -> Self {
        PaxosStorage {
            epoch: self.epoch - by,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testkit::{deliver, fire, lines, start};
    use crate::protocols::Timeouts;

    fn paxos(n: usize) -> Paxos {
        Paxos::new(Cluster::new(n, Timeouts::default()))
    }

    fn ballot(round: u64, node: usize) -> Ballot {
        Ballot {
            round,
            node: Id::from(node),
        }
    }

    const ARM_ELECTION: &str = "arm Election 500ms..1s";

    /// A node that has learnt nothing, as it boots.
    fn fresh(node: &Paxos, me: usize) -> PaxosState {
        start(node, me, None).0
    }

    #[test]
    fn a_node_outside_the_cluster_is_never_followed_nor_proposed() {
        let node = paxos(3);
        let stranger = Id::from(7);
        let decided = PaxosMsg::Decided {
            epoch: 1,
            leader: stranger,
            round: 0,
        };
        let (after, o) = deliver(&node, 0, fresh(&node, 0), 1, decided);
        assert_eq!((after.epoch, after.leader), (0, None));
        assert!(lines(&o).is_empty(), "{:?}", lines(&o));
        let saved = PaxosStorage {
            epoch: 3,
            leader: Some(stranger),
            promised: Some(ballot(1, 7)),
            accepted: Some(Proposal {
                ballot: ballot(1, 7),
                leader: stranger,
            }),
        };
        let (state, _) = start(&node, 0, Some(saved));
        // The epoch stays, so that it never goes back.
        assert_eq!((state.epoch, state.leader, state.accepted), (3, None, None));
    }

    #[test]
    fn a_timeout_prepares_a_ballot_above_all_seen_and_promises_it_first() {
        let node = paxos(3);
        let (state, o) = start(&node, 0, None);
        assert_eq!(lines(&o), [ARM_ELECTION]);
        let (state, o) = fire(&node, 0, state, PaxosTimer::Election);
        assert_eq!(state.role(), Role::Candidate);
        assert_eq!(
            lines(&o),
            [
                "save PaxosStorage { epoch: 0, leader: None, promised: Some(1.n0), accepted: None }",
                ARM_ELECTION,
                "send n1 Prepare { epoch: 1, ballot: 1.n0, previous: None }",
                "send n2 Prepare { epoch: 1, ballot: 1.n0, previous: None }",
            ]
        );
        // Having promised 3.n2 as acceptor, its next ballot goes above it.
        let promised = PaxosState {
            promised: Some(ballot(3, 2)),
            ..fresh(&node, 1)
        };
        let (state, _) = fire(&node, 1, promised, PaxosTimer::Election);
        assert_eq!(state.proposer.map(|p| p.ballot), Some(ballot(4, 1)));
    }

    #[test]
    fn an_acceptor_promises_only_above_its_promise_and_reports_what_it_accepted() {
        let node = paxos(3);
        let accepted = Proposal {
            ballot: ballot(1, 2),
            leader: Id::from(2),
        };
        let acceptor = PaxosState {
            promised: Some(ballot(1, 2)),
            accepted: Some(accepted),
            ..fresh(&node, 1)
        };
        let prepare = |b| PaxosMsg::Prepare {
            epoch: 1,
            ballot: b,
            previous: None,
        };
        let (after, o) = deliver(&node, 1, acceptor.clone(), 0, prepare(ballot(2, 0)));
        assert_eq!(after.promised, Some(ballot(2, 0)));
        assert_eq!(
            lines(&o),
            [
                "save PaxosStorage { epoch: 0, leader: None, promised: Some(2.n0), accepted: Some(Proposal { ballot: 1.n2, leader: Id(2) }) }",
                "send n0 Promise { epoch: 1, ballot: 2.n0, accepted: Some(Proposal { ballot: 1.n2, leader: Id(2) }) }",
            ]
        );
        // Below the promise: refused, with the promise.
        let (same, o) = deliver(&node, 1, after.clone(), 2, prepare(ballot(1, 2)));
        assert_eq!(same, after);
        assert_eq!(lines(&o), ["send n2 Refused { epoch: 1, promised: 2.n0 }"]);
        // The same ballot again: answered again, nothing saved.
        let (same, o) = deliver(&node, 1, after.clone(), 0, prepare(ballot(2, 0)));
        assert_eq!(same, after);
        assert_eq!(lines(&o).len(), 1);
        assert!(lines(&o)[0].starts_with("send n0 Promise"));
    }

    fn proposal(round: u64, by: usize, leader: usize) -> Option<Proposal> {
        Some(Proposal {
            ballot: ballot(round, by),
            leader: Id::from(leader),
        })
    }

    #[test]
    fn with_a_majority_of_promises_the_proposer_proposes_the_highest_accepted_value() {
        let node = paxos(5);
        let seen = PaxosState {
            promised: Some(ballot(2, 4)),
            ..fresh(&node, 0)
        };
        let (state, _) = fire(&node, 0, seen, PaxosTimer::Election);
        let promise = |accepted| PaxosMsg::Promise {
            epoch: 1,
            ballot: ballot(3, 0),
            accepted,
        };
        // Itself and n1 are not a majority of five.
        let (state, o) = deliver(&node, 0, state, 1, promise(proposal(1, 4, 4)));
        assert!(lines(&o).is_empty());
        // A redelivered promise counts once.
        let (state, o) = deliver(&node, 0, state, 1, promise(proposal(1, 4, 4)));
        assert!(lines(&o).is_empty(), "{:?}", lines(&o));
        // n2 reports n3's proposal of ballot 2.n3, the highest: it must be
        // proposed, not the proposer itself.
        let (state, o) = deliver(&node, 0, state, 2, promise(proposal(2, 3, 3)));
        assert_eq!(
            state.proposer,
            Some(Proposer {
                ballot: ballot(3, 0),
                phase: Phase::Accepting {
                    leader: Id::from(3),
                    accepted_by: BTreeSet::from([Id::from(0)]),
                },
            })
        );
        assert_eq!(state.accepted, proposal(3, 0, 3));
        let sent = lines(&o);
        assert!(
            sent[0].starts_with("save "),
            "accepted before it asks: {sent:?}"
        );
        assert_eq!(
            sent[1..],
            (1..5)
                .map(|peer| format!(
                    "send n{peer} Accept {{ epoch: 1, ballot: 3.n0, leader: Id(3) }}"
                ))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn with_no_accepted_value_reported_the_proposer_proposes_itself() {
        let node = paxos(3);
        let (state, _) = fire(&node, 0, fresh(&node, 0), PaxosTimer::Election);
        let promise = PaxosMsg::Promise {
            epoch: 1,
            ballot: ballot(1, 0),
            accepted: None,
        };
        let (state, _) = deliver(&node, 0, state, 2, promise);
        assert_eq!(state.accepted, proposal(1, 0, 0));
    }

    #[test]
    fn an_acceptor_accepts_at_or_above_its_promise_and_refuses_below() {
        let node = paxos(3);
        let acceptor = PaxosState {
            promised: Some(ballot(2, 1)),
            ..fresh(&node, 2)
        };
        let accept = |b| PaxosMsg::Accept {
            epoch: 1,
            ballot: b,
            leader: Id::from(0),
        };
        let (same, o) = deliver(&node, 2, acceptor.clone(), 0, accept(ballot(1, 0)));
        assert_eq!(same, acceptor);
        assert_eq!(lines(&o), ["send n0 Refused { epoch: 1, promised: 2.n1 }"]);
        let (after, o) = deliver(&node, 2, acceptor, 1, accept(ballot(2, 1)));
        assert_eq!(after.accepted, proposal(2, 1, 0));
        let sent = lines(&o);
        assert!(sent[0].starts_with("save "), "{sent:?}");
        assert_eq!(sent[1], "send n1 Accepted { epoch: 1, ballot: 2.n1 }");
        // Redelivered: reported again, nothing saved.
        let (_, o) = deliver(&node, 2, after, 1, accept(ballot(2, 1)));
        assert_eq!(lines(&o), ["send n1 Accepted { epoch: 1, ballot: 2.n1 }"]);
    }

    /// n0 of three proposes, hears a promise from n1 reporting `reported`,
    /// then an acceptance from n2: the lines of the promise's step, and the
    /// state and lines after the acceptance.
    fn decide(reported: Option<Proposal>) -> (Vec<String>, PaxosState, Vec<String>) {
        let node = paxos(3);
        let (state, _) = fire(&node, 0, fresh(&node, 0), PaxosTimer::Election);
        let promise = PaxosMsg::Promise {
            epoch: 1,
            ballot: ballot(1, 0),
            accepted: reported,
        };
        let (state, promised) = deliver(&node, 0, state, 1, promise);
        let accepted = PaxosMsg::Accepted {
            epoch: 1,
            ballot: ballot(1, 0),
        };
        let (state, o) = deliver(&node, 0, state, 2, accepted);
        (lines(&promised), state, lines(&o))
    }

    #[test]
    fn a_majority_of_acceptances_decides_and_every_node_is_told() {
        let (_, state, decided) = decide(None);
        assert_eq!(
            (state.role(), state.epoch, state.leader),
            (Role::Leader, 1, Some(Id::from(0)))
        );
        assert_eq!(
            decided,
            [
                // The decision is the new leader's first heartbeat: sent once.
                "save PaxosStorage { epoch: 1, leader: Some(Id(0)), promised: None, accepted: None }",
                "cancel Election",
                "send n1 Decided { epoch: 1, leader: Id(0), round: 0 }",
                "send n2 Decided { epoch: 1, leader: Id(0), round: 0 }",
                "arm Heartbeat 50ms..50ms",
            ]
        );
    }

    #[test]
    fn a_proposer_that_chose_another_node_tells_every_node_and_follows() {
        let (promised, state, decided) = decide(proposal(1, 1, 1));
        let accept = "send n1 Accept { epoch: 1, ballot: 1.n0, leader: Id(1) }";
        assert!(promised.iter().any(|l| l == accept), "{promised:?}");
        assert_eq!(
            (state.role(), state.epoch, state.leader),
            (Role::Follower, 1, Some(Id::from(1)))
        );
        assert_eq!(
            decided,
            [
                "send n1 Decided { epoch: 1, leader: Id(1), round: 0 }",
                "send n2 Decided { epoch: 1, leader: Id(1), round: 0 }",
                "save PaxosStorage { epoch: 1, leader: Some(Id(1)), promised: None, accepted: None }",
                ARM_ELECTION,
            ]
        );
    }

    #[test]
    fn a_follower_learns_a_decision_keeps_following_its_leader_and_tells_stale_nodes() {
        let node = paxos(3);
        let decided = PaxosMsg::Decided {
            epoch: 4,
            leader: Id::from(0),
            round: 0,
        };
        let (follower, o) = deliver(&node, 1, fresh(&node, 1), 2, decided.clone());
        assert_eq!((follower.role(), follower.epoch), (Role::Follower, 4));
        assert_eq!(
            lines(&o),
            [
                "save PaxosStorage { epoch: 4, leader: Some(Id(0)), promised: None, accepted: None }",
                ARM_ELECTION,
            ]
        );
        // Its leader's heartbeat restarts its watch; a repeat from another
        // node does not.
        let (_, o) = deliver(&node, 1, follower.clone(), 0, decided.clone());
        assert_eq!(lines(&o), [ARM_ELECTION]);
        let (_, o) = deliver(&node, 1, follower.clone(), 2, decided);
        assert!(lines(&o).is_empty());
        // A node still deciding epoch 3 is told how epoch 4 ended.
        let stale = PaxosMsg::Prepare {
            epoch: 3,
            ballot: ballot(7, 2),
            previous: Some(Id::from(2)),
        };
        let (same, o) = deliver(&node, 1, follower.clone(), 2, stale);
        assert_eq!(same, follower);
        assert_eq!(
            lines(&o),
            ["send n2 Decided { epoch: 4, leader: Id(0), round: 0 }"]
        );
        // A prepare of a later epoch names the decision before it: the node
        // learns it, then promises.
        let ahead = PaxosMsg::Prepare {
            epoch: 7,
            ballot: ballot(1, 2),
            previous: Some(Id::from(2)),
        };
        let (after, o) = deliver(&node, 1, follower.clone(), 2, ahead);
        assert_eq!((after.epoch, after.leader), (6, Some(Id::from(2))));
        assert_eq!(after.promised, Some(ballot(1, 2)));
        assert_eq!(
            lines(&o)[2..],
            [
                "save PaxosStorage { epoch: 6, leader: Some(Id(2)), promised: Some(1.n2), accepted: None }",
                "send n2 Promise { epoch: 7, ballot: 1.n2, accepted: None }",
            ]
        );
        // Any other message of a later epoch waits for a decision.
        let accept = PaxosMsg::Accept {
            epoch: 7,
            ballot: ballot(1, 2),
            leader: Id::from(2),
        };
        let (same, o) = deliver(&node, 1, follower.clone(), 2, accept);
        assert_eq!(same, follower);
        assert!(lines(&o).is_empty());
    }

    #[test]
    fn a_deposed_leader_learns_the_next_epoch_and_stops_its_heartbeat() {
        let node = paxos(3);
        let leader = PaxosState {
            epoch: 1,
            leader: Some(Id::from(0)),
            leading: true,
            ..fresh(&node, 0)
        };
        let next = PaxosMsg::Decided {
            epoch: 2,
            leader: Id::from(1),
            round: 0,
        };
        let (after, o) = deliver(&node, 0, leader, 1, next);
        assert_eq!(
            (after.role(), after.leader),
            (Role::Follower, Some(Id::from(1)))
        );
        assert_eq!(lines(&o)[1..], ["cancel Heartbeat", ARM_ELECTION]);
    }

    #[test]
    fn promises_and_acceptances_survive_a_restart_and_a_restarted_leader_stands_down() {
        let node = paxos(3);
        let saved = PaxosStorage {
            epoch: 2,
            leader: Some(Id::from(1)),
            promised: Some(ballot(3, 2)),
            accepted: proposal(3, 2, 2),
        };
        let (state, o) = start(&node, 0, Some(saved.clone()));
        assert_eq!(state.storage(), saved);
        assert_eq!(
            (state.role(), state.leader()),
            (Role::Follower, Some(Id::from(1)))
        );
        assert_eq!(lines(&o), [ARM_ELECTION]);
        // The leader itself keeps what it learnt but leads no more, and
        // names no leader: it proposes the next epoch when its timer fires.
        let (state, o) = start(&node, 1, Some(saved.clone()));
        assert_eq!(state.storage(), saved);
        assert_eq!((state.role(), state.leader()), (Role::Follower, None));
        assert_eq!(lines(&o), [ARM_ELECTION]);
        let (_, o) = fire(&node, 1, state, PaxosTimer::Election);
        assert!(
            lines(&o).contains(
                &"send n0 Prepare { epoch: 3, ballot: 4.n1, previous: Some(Id(1)) }".to_string()
            ),
            "{:?}",
            lines(&o)
        );
    }

    /// A cluster of `n` with a 300 ms lease (heartbeat 50 ms, promise
    /// 500 ms).
    fn leased(n: usize) -> Paxos {
        let mut cluster = Cluster::new(n, Timeouts::default());
        cluster.raft.lease = Some(LeaseConfig {
            duration: Duration::from_millis(300),
            drift_ppm: 50_000,
        });
        Paxos::new(cluster)
    }

    fn leader_of(node: &Paxos, me: usize, epoch: u64) -> PaxosState {
        PaxosState {
            epoch,
            leader: Some(Id::from(me)),
            leading: true,
            heard: false,
            ..fresh(node, me)
        }
    }

    /// A follower of node 0 in `epoch`, not yet under any promise.
    fn follower_of(node: &Paxos, me: usize, epoch: u64) -> PaxosState {
        PaxosState {
            epoch,
            leader: Some(Id::from(0)),
            heard: false,
            ..fresh(node, me)
        }
    }

    /// Node 0's heartbeat `round` of epoch 1.
    fn round_of_epoch_1(round: u64) -> PaxosMsg {
        PaxosMsg::Decided {
            epoch: 1,
            leader: Id::from(0),
            round,
        }
    }

    /// Node 2's first prepare for epoch 2, after node 0's epoch 1.
    fn node_2_prepares_epoch_2() -> PaxosMsg {
        PaxosMsg::Prepare {
            epoch: 2,
            ballot: ballot(1, 2),
            previous: Some(Id::from(0)),
        }
    }

    #[test]
    fn a_leased_leader_numbers_its_rounds_and_holds_the_lease_from_a_majority_until_its_timer() {
        let node = leased(3);
        let (state, o) = fire(&node, 0, leader_of(&node, 0, 1), PaxosTimer::Heartbeat);
        assert_eq!(
            lines(&o),
            [
                "arm Lease { odd: true } 300ms..300ms",
                "send n1 Decided { epoch: 1, leader: Id(0), round: 1 }",
                "send n2 Decided { epoch: 1, leader: Id(0), round: 1 }",
                "arm Heartbeat 50ms..50ms",
            ]
        );
        assert!(!state.holds_lease(), "the leader alone is no majority");
        let ack = |round| PaxosMsg::HeartbeatAck { epoch: 1, round };
        let (state, o) = deliver(&node, 0, state, 1, ack(1));
        assert!(lines(&o).is_empty());
        assert!(state.holds_lease());
        assert_eq!(
            node.lease_timer(&state),
            Some(PaxosTimer::Lease { odd: true })
        );
        // An acknowledgement of another epoch vouches for nothing.
        let other = PaxosMsg::HeartbeatAck { epoch: 2, round: 1 };
        let (same, _) = deliver(&node, 0, state.clone(), 2, other);
        assert_eq!(same, state);
        let (state, _) = fire(&node, 0, state, PaxosTimer::Lease { odd: true });
        assert!(!state.holds_lease());
    }

    #[test]
    fn a_leased_follower_acknowledges_its_leaders_round_and_keeps_its_promise() {
        let node = leased(3);
        let follower = follower_of(&node, 1, 1);
        let (state, o) = deliver(&node, 1, follower, 0, round_of_epoch_1(4));
        assert!(state.heard);
        assert_eq!(
            lines(&o),
            [
                ARM_ELECTION,
                "arm Heard 500ms..500ms",
                "send n0 HeartbeatAck { epoch: 1, round: 4 }",
            ]
        );
        // Under its promise it answers no prepare of the next epoch, and
        // proposes nothing when its timer fires.
        let prepare = node_2_prepares_epoch_2();
        let (same, o) = deliver(&node, 1, state.clone(), 2, prepare.clone());
        assert_eq!(same, state);
        assert!(lines(&o).is_empty(), "{:?}", lines(&o));
        let (same, o) = fire(&node, 1, state.clone(), PaxosTimer::Election);
        assert_eq!(same, state);
        assert_eq!(lines(&o), [ARM_ELECTION]);
        // Once the promise runs out, it promises.
        let (state, _) = fire(&node, 1, state, PaxosTimer::Heard);
        let (state, o) = deliver(&node, 1, state, 2, prepare);
        assert_eq!(state.promised, Some(ballot(1, 2)));
        assert_eq!(
            lines(&o).last().map(String::as_str),
            Some("send n2 Promise { epoch: 2, ballot: 1.n2, accepted: None }")
        );
    }

    #[test]
    fn a_leased_node_that_promised_the_next_epoch_acknowledges_no_round() {
        let node = leased(3);
        let promised = PaxosState {
            promised: Some(ballot(1, 2)),
            ..follower_of(&node, 1, 1)
        };
        let (same, o) = deliver(&node, 1, promised.clone(), 0, round_of_epoch_1(4));
        assert_eq!(same, promised);
        assert!(lines(&o).is_empty(), "{:?}", lines(&o));
    }

    #[test]
    fn a_leased_leader_answers_no_prepare_and_a_started_node_keeps_quarantine() {
        let node = leased(3);
        let leader = leader_of(&node, 0, 1);
        let prepare = node_2_prepares_epoch_2();
        let (same, o) = deliver(&node, 0, leader.clone(), 2, prepare);
        assert_eq!(same, leader);
        assert!(lines(&o).is_empty());
        let (state, o) = start(&node, 2, None);
        assert!(state.heard);
        assert_eq!(lines(&o), [ARM_ELECTION, "arm Heard 500ms..500ms"]);
    }

    #[test]
    fn a_leased_node_that_learns_from_a_prepare_that_it_leads_answers_it_not() {
        // Node 1 missed its own election for epoch 1; node 2's prepare for
        // epoch 2 names node 1 as epoch 1's leader.
        let prepare = PaxosMsg::Prepare {
            epoch: 2,
            ballot: ballot(1, 2),
            previous: Some(Id::from(1)),
        };
        let node = leased(3);
        let past_quarantine = PaxosState {
            heard: false,
            ..fresh(&node, 1)
        };
        let (state, o) = deliver(&node, 1, past_quarantine, 2, prepare.clone());
        assert!(state.leading && state.epoch == 1);
        assert_eq!(state.promised, None, "its lease counts its own vote");
        assert!(
            !lines(&o).iter().any(|l| l.contains("Promise")),
            "{:?}",
            lines(&o)
        );
        // Without a lease there is nothing to keep: it leads and promises.
        let node = paxos(3);
        let (state, o) = deliver(&node, 1, fresh(&node, 1), 2, prepare);
        assert!(state.leading && state.epoch == 1);
        assert_eq!(state.promised, Some(ballot(1, 2)));
        assert_eq!(
            lines(&o).last().map(String::as_str),
            Some("send n2 Promise { epoch: 2, ballot: 1.n2, accepted: None }")
        );
    }

    #[test]
    fn an_outbid_proposer_gives_its_ballot_up_and_retries_above_the_refusal() {
        let node = paxos(3);
        let (state, _) = fire(&node, 0, fresh(&node, 0), PaxosTimer::Election);
        let refused = PaxosMsg::Refused {
            epoch: 1,
            promised: ballot(5, 2),
        };
        let (state, o) = deliver(&node, 0, state, 1, refused);
        assert!(lines(&o).is_empty());
        assert_eq!(state.role(), Role::Follower);
        let (state, _) = fire(&node, 0, state, PaxosTimer::Election);
        assert_eq!(state.proposer.map(|p| p.ballot), Some(ballot(6, 0)));
    }
}
