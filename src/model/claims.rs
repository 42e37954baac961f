//! What `elect` claims of each protocol: the properties the checker checks
//! for it and the assumptions under which each holds, the fault model
//! `elect check <protocol>` uses by default, and the bugs seeded into it to
//! prove that the checks can fail.
//!
//! The protocols themselves ([`crate::protocols`]) know none of this; it is
//! attached here, where the model is built — as Stateright's own examples
//! attach properties beside the actor rather than inside it.

use super::properties::{self, Liveness, LivenessClaim};
use super::seeded::{SeededBug, Tamper};
use super::{ElectionModel, ModelConfig, NetworkKind, Relabelling, Timing};
use crate::protocols::bully::{Bully, BullyMsg, BullyState};
use crate::protocols::bully_halt::BullyHalt;
use crate::protocols::paxos::{Ballot, Paxos, PaxosMsg, PaxosState, Proposal};
use crate::protocols::raft::{Raft, RaftMsg, RaftRole, RaftState, RaftTimer};
use crate::protocols::ring::Ring;
use crate::protocols::{Cluster, Deviation, Protocol};
use stateright::actor::Id;
use stateright::Property;

/// A protocol as the model layer sees it.
pub trait Modelled: Protocol {
    /// Whether the model records every node seen leading
    /// ([`super::Env::leaders`]): only for protocols whose properties read
    /// that history, since it makes states that differ only in their past
    /// distinct (Ring's lossy graph passes 8 million states with it).
    const LEADER_HISTORY: bool = Self::HAS_TERMS;

    /// Whether a node's view of the leader is a consensus decision (Paxos):
    /// then the model records every (epoch, leader) any node learnt
    /// ([`super::Env::learnt`]), every self-proposal
    /// ([`super::Env::proposed`]) and whether an epoch went back, which the
    /// protocol's properties read.
    const DECISIONS: bool = false;

    /// The epoch and node of a proposal `msg` makes of its own sender as
    /// leader, if it makes one (read where [`Modelled::DECISIONS`] is set).
    /// Read off the messages a step sent, which a proposer sends in the
    /// very step it proposes, however fast it then learns.
    fn self_proposal(msg: &Self::Msg) -> Option<(u64, Id)> {
        let _ = msg;
        None
    }

    /// Whether `state` lies beyond the bound on terms in a way its term does
    /// not show (Paxos's ballot rounds, held to the same bound).
    fn beyond_term_bound(config: &ModelConfig, state: &Self::State) -> bool {
        let _ = (config, state);
        false
    }

    /// The protocol's own properties, each documented on the implementation.
    /// The sanity and liveness properties every protocol shares are added by
    /// [`properties::common`].
    fn claims() -> Vec<Property<ElectionModel<Self>>>;

    /// The liveness claims decided on the complete graph: the common ones
    /// ([`properties::liveness_common`]) unless a protocol promises more.
    fn liveness_claims(config: &ModelConfig) -> Vec<LivenessClaim<Self>> {
        properties::liveness_common(config)
    }

    /// The configuration `elect check <protocol>` uses when no flag changes
    /// it: the strongest fault model under which the protocol's safety
    /// claims hold, with at least one crash.
    fn default_model() -> ModelConfig;

    /// The seeded bugs of this protocol (see [`super::seeded`]).
    fn seeded_bugs() -> Vec<SeededBug<Self>>;

    /// Renames, after every step, values the protocol numbers without
    /// bound but only tells apart (Raft's heartbeat rounds, see
    /// [`super::rounds`]), given the cluster's configuration and each
    /// node's state with whether it is live; `None`, the default, renames
    /// nothing.
    fn relabel(cluster: &Cluster, nodes: &[(bool, &Self::State)]) -> Option<Relabelling<Self>> {
        let _ = (cluster, nodes);
        None
    }
}

/// The seed's promise, "the process with the highest id that is still
/// active becomes the coordinator", as liveness: after GST every path
/// reaches a state in which the highest live id leads and every live node
/// follows it, and stays there (Bully and Ring, with GST).
fn highest_leads_after_gst<P: Modelled>(config: &ModelConfig) -> Vec<LivenessClaim<P>> {
    let mut claims = properties::liveness_common(config);
    if config.gst {
        claims.push(LivenessClaim {
            name: "highest live id leads after GST",
            kind: Liveness::Stabilisation,
            goal: properties::highest_live_id_known_to_all::<P>,
        });
    }
    claims
}

/// The defaults the seed's Bully and Ring share: 4 nodes, a reliable
/// unordered network, two crash-stop failures, timely timing, and a GST
/// step, so that the default check decides stabilisation too.
fn seed_default() -> ModelConfig {
    ModelConfig {
        nodes: 4,
        network: NetworkKind::Unordered,
        lossy: false,
        crashes: 2,
        recover: false,
        persist: true,
        partitions: 0,
        links: None,
        links_after: None,
        link_failures: 0,
        pauses: 0,
        timing: Timing::Timely,
        gst: true,
        stabilize_within: None,
        normalize_terms: false,
        max_term: 0,
        max_in_flight: 10,
        drain_past_cap: false,
        clock: None,
        pre_vote: false,
        check_quorum: false,
        lease: None,
    }
}

/// Bully, as the seed describes it.
///
/// - `single leader` (always): at most one live node acts as coordinator.
/// - `agreement` (always): live nodes that have finished an election and
///   follow a live coordinator all follow the same one.
/// - `highest live id leads` (always): the seed's promise, "the process
///   with the highest id that is still active becomes the coordinator".
///
/// All three hold when the network is reliable (no loss), timing is timely
/// (a timeout fires only when no message is in flight) and crashed nodes
/// stay down (crash-stop). They fail — split brain — when a timeout can fire
/// while an OK is still in flight (asynchronous timing), when an OK can be
/// lost, and when a higher node recovers: it wins at once and coordinates
/// while the old coordinator has not yet heard of it. The checker prints
/// each of these counterexamples.
impl Modelled for Bully {
    const LEADER_HISTORY: bool = true;

    fn liveness_claims(config: &ModelConfig) -> Vec<LivenessClaim<Self>> {
        highest_leads_after_gst(config)
    }

    fn claims() -> Vec<Property<ElectionModel<Self>>> {
        vec![
            Property::always("single leader", properties::single_live_leader::<Bully>),
            Property::always("agreement", properties::settled_nodes_agree::<Bully>),
            Property::always(
                "highest live id leads",
                properties::highest_live_id_leads::<Bully>,
            ),
            Property::always(
                "followers name a node that led",
                properties::followers_name_a_node_that_led::<Bully>,
            ),
        ]
    }

    /// The seed's Bully is safe only on a reliable network with timely timers
    /// and crash-stop failures. Under timely timing a heartbeat fires only
    /// once the network is quiet, so the in-flight cap is never reached: the
    /// whole reachable graph is explored. Stabilisation after GST is held to
    /// the 32 steps it was measured to take (see [`ModelConfig::stabilize_within`]).
    fn default_model() -> ModelConfig {
        ModelConfig {
            max_in_flight: 20,
            stabilize_within: Some(32),
            ..seed_default()
        }
    }

    fn seeded_bugs() -> Vec<SeededBug<Self>> {
        vec![
            SeededBug {
                name: "bully/no-ok-reply",
                what: "a higher node takes over an election without answering OK",
                scenario: "bully-4-reliable-crash-stop-timely",
                tamper: Tamper::NeverSend("Ok"),
            },
            SeededBug {
                name: "bully/ignore-ok",
                what: "a challenger ignores OK and declares itself on its answer timeout",
                scenario: "bully-4-reliable-crash-stop-timely",
                tamper: Tamper::Ignore {
                    kind: "Ok",
                    while_leading: false,
                },
            },
            SeededBug {
                name: "bully/ok-taken-as-coordinator",
                what: "a challenger takes a higher node's OK for its COORDINATOR and follows it",
                scenario: "bully-3-lossy-timely",
                tamper: Tamper::RewriteIncoming(ok_as_coordinator),
            },
            SeededBug {
                name: "bully/waiting-stays-quiet",
                what: "a node waiting for a winner stays quiet on a lower ELECTION (livelock after GST)",
                scenario: "bully-3-gst-small",
                tamper: Tamper::Deviation(Deviation::BullyWaitingStaysQuiet),
            },
            SeededBug {
                name: "bully/coordinator-ignores-election",
                what: "the coordinator ignores a challenger's ELECTION (no OK, no reminder)",
                scenario: "bully-4-reliable-crash-stop-timely",
                tamper: Tamper::Ignore {
                    kind: "Election",
                    while_leading: true,
                },
            },
        ]
    }
}

/// Garcia-Molina's Bully, with the halt phase.
///
/// - `single leader` (always): at most one live node acts as coordinator.
/// - `agreement` (always): live nodes that have finished an election and
///   follow a live coordinator all follow the same one.
///
/// Both hold when the network is reliable (no loss) and timing is timely (a
/// timeout fires only when no message is in flight), with crash-stop
/// failures and — what the halt phase buys over the seed's Bully — with a
/// crash after which the node recovers: the checker explores every
/// reachable state of 3 and of 4 nodes with one crash and recovery, and of 4
/// nodes with two crashes that stay down, and finds no counterexample. (4
/// nodes with two crashes and recovery is too large to explore.)
///
/// They fail when a message can be lost (a lost OK or HALT lets a winner take
/// office while the node it should have heard from, or halted, still
/// coordinates) and under asynchronous timing (a reply timeout fires before
/// the answer it waits for has arrived). With two crashes and recovery,
/// `single leader` still holds on 3 nodes but `agreement` does not: nothing
/// is persisted, so a node that acknowledged one halter, crashed and
/// recovered can be halted by a concurrent lower halter and follow it, while
/// the first halter takes office counting the acknowledgement of the node's
/// previous life. The checker prints each of these counterexamples.
impl Modelled for BullyHalt {
    const LEADER_HISTORY: bool = true;

    fn claims() -> Vec<Property<ElectionModel<Self>>> {
        vec![
            Property::always("single leader", properties::single_live_leader::<BullyHalt>),
            Property::always("agreement", properties::settled_nodes_agree::<BullyHalt>),
            Property::always(
                "followers name a node that led",
                properties::followers_name_a_node_that_led::<BullyHalt>,
            ),
        ]
    }

    /// The halt phase makes Bully safe with recovery too: 3 nodes, one crash
    /// with recovery.
    fn default_model() -> ModelConfig {
        ModelConfig {
            nodes: 3,
            crashes: 1,
            recover: true,
            max_in_flight: 12,
            ..seed_default()
        }
    }

    fn seeded_bugs() -> Vec<SeededBug<Self>> {
        Vec::new()
    }
}

/// Ring, as the seed describes it.
///
/// - `single leader` (always): at most one live node acts as leader.
/// - `agreement` (always): live nodes that have finished an election and
///   follow a live leader all follow the same one.
/// - `highest live id leads` (always): the initiator elects the highest id
///   its token collected.
///
/// All three hold on a reliable network with timely timing (an ack timeout
/// fires only when no message is in flight, so only dead successors are
/// skipped), with crash-stop failures, and the first two with recovery (a
/// recovered node learns the leader from its heartbeat and does not
/// challenge it). They fail — split brain — when an ack timeout can fire
/// while the ack is still in flight or the ack is lost: a live node is
/// skipped and left out of the election.
impl Modelled for Ring {
    fn liveness_claims(config: &ModelConfig) -> Vec<LivenessClaim<Self>> {
        highest_leads_after_gst(config)
    }

    fn claims() -> Vec<Property<ElectionModel<Self>>> {
        vec![
            Property::always("single leader", properties::single_live_leader::<Ring>),
            Property::always("agreement", properties::settled_nodes_agree::<Ring>),
            Property::always(
                "highest live id leads",
                properties::highest_live_id_leads::<Ring>,
            ),
        ]
    }

    /// As Bully's: the seed's Ring is safe only on a reliable network with
    /// timely timers and crash-stop failures; the cap is never reached.
    /// Stabilisation after GST is held to the 25 steps it was measured to
    /// take (see [`ModelConfig::stabilize_within`]).
    fn default_model() -> ModelConfig {
        ModelConfig {
            stabilize_within: Some(25),
            ..seed_default()
        }
    }

    fn seeded_bugs() -> Vec<SeededBug<Self>> {
        vec![
            SeededBug {
                name: "ring/initiator-elects-itself",
                what: "the initiator elects itself instead of the highest id on the token",
                scenario: "ring-4-reliable-crash-stop-timely",
                tamper: Tamper::Deviation(Deviation::RingElectsInitiator),
            },
            SeededBug {
                name: "ring/elect-lowest-id",
                what: "the initiator elects the lowest id on the token",
                scenario: "ring-4-reliable-crash-stop-timely",
                tamper: Tamper::Deviation(Deviation::RingElectsLowest),
            },
            SeededBug {
                name: "ring/ignore-acks",
                what: "acknowledgements are ignored, so every successor is presumed dead",
                scenario: "ring-3-ordered-crash-stop-timely",
                tamper: Tamper::Ignore {
                    kind: "Ack",
                    while_leading: false,
                },
            },
        ]
    }
}

/// Raft's leader election.
///
/// - `election safety` (always): at most one node is ever leader in a given
///   term, over the whole execution (the model records every (term, leader)
///   pair it has seen, so a leader that has since stepped down or crashed
///   still counts). Holds under every fault model the checker offers — loss,
///   duplication, reordering, crash and recovery with persisted term and
///   vote, asynchronous timing — because each node votes at most once per
///   term and a leader needs a majority of votes. It fails when a node
///   recovers *without* its storage: having forgotten its vote, it can vote
///   twice in one term (the checker shows the trace).
/// - `adopts higher terms` (always): a node that receives a message with a
///   term above its own adopts that term — Raft's rule for all servers ("if
///   a request or response contains a term T > currentTerm, set currentTerm
///   = T and convert to follower"). Under every fault model.
/// - `followers name their term's leader` (always): a live follower that
///   names a leader names the node that led its term — the view the
///   runtime reports. Under every fault model: a follower learns its leader
///   only from that leader's own heartbeat, which carries the leader's
///   term.
///
/// Raft's guarantee is per term: two nodes may both believe they lead in
/// different terms (a deposed leader that has not yet heard of the new
/// term); that is by design.
impl Modelled for Raft {
    fn relabel(cluster: &Cluster, nodes: &[(bool, &RaftState)]) -> Option<Relabelling<Self>> {
        // Only the lease numbers rounds.
        cluster.raft.lease?;
        Some(super::rounds::relabel_rounds(nodes))
    }

    fn claims() -> Vec<Property<ElectionModel<Self>>> {
        vec![
            Property::always("election safety", properties::one_leader_per_term::<Raft>),
            Property::always(
                "adopts higher terms",
                properties::adopts_received_terms::<Raft>,
            ),
            Property::always(
                "followers name their term's leader",
                properties::followers_name_their_terms_leader::<Raft>,
            ),
        ]
    }

    /// Raft's election safety needs no timing or delivery assumption: loss,
    /// reordering, a crash with recovery and asynchronous timers before
    /// GST. Terms are normalised (the lowest is 0), so no election is cut
    /// off by a last term: the bounds are a spread of terms ≤ 2 and 3
    /// messages in flight before GST (after GST there are none: see
    /// `ElectionModel::beyond`). Stabilisation after GST is held to the 20
    /// steps it was measured to take (see [`ModelConfig::stabilize_within`]).
    fn default_model() -> ModelConfig {
        ModelConfig {
            stabilize_within: Some(20),
            nodes: 3,
            lossy: true,
            crashes: 1,
            recover: true,
            timing: Timing::Asynchronous,
            normalize_terms: true,
            max_term: 2,
            max_in_flight: 3,
            ..seed_default()
        }
    }

    fn seeded_bugs() -> Vec<SeededBug<Self>> {
        const SCENARIO: &str = "raft-3-lossy-crash-recover";
        vec![
            SeededBug {
                name: "raft/vote-not-persisted",
                what: "grants a vote without saving it first",
                scenario: SCENARIO,
                tamper: Tamper::SkipSaves {
                    handling: "RequestVote",
                },
            },
            SeededBug {
                name: "raft/vote-twice",
                what: "grants a second vote in the same term",
                scenario: SCENARIO,
                tamper: Tamper::Forget(forget_vote_for_another),
            },
            SeededBug {
                name: "raft/no-step-down-on-higher-term",
                what: "adopts a higher term but keeps its role",
                scenario: SCENARIO,
                tamper: Tamper::Undo(keep_role_in_higher_term),
            },
            SeededBug {
                name: "raft/count-stale-vote",
                what: "counts a granted vote from an older term",
                scenario: SCENARIO,
                tamper: Tamper::RewriteIncoming(stale_vote_as_current),
            },
            SeededBug {
                name: "raft/quorum-n-over-2",
                what: "computes the quorum as n/2 instead of n/2+1",
                scenario: SCENARIO,
                tamper: Tamper::Deviation(Deviation::RaftQuorumOfHalf),
            },
            SeededBug {
                name: "raft/candidate-without-timer",
                what:
                    "a candidate does not arm its election timer, so a split vote is never retried",
                scenario: "raft-3-relative-gst",
                tamper: Tamper::NeverArm(candidate_election_timer),
            },
            SeededBug {
                name: "raft/stale-leader-in-new-term",
                what: "a follower that adopts a higher term keeps naming the old term's leader",
                scenario: SCENARIO,
                tamper: Tamper::Undo(keep_leader_in_higher_term),
            },
            SeededBug {
                name: "raft/lease-from-acks",
                what: "starts a round's lease when a majority has acknowledged it, not when the round was sent",
                scenario: "raft-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::RaftLeaseFromAcks),
            },
            SeededBug {
                name: "raft/lease-without-drift-margin",
                what: "holds the lease as long as the followers' promise, with no margin for clock drift",
                scenario: "raft-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::RaftLeaseWithoutDriftMargin),
            },
            SeededBug {
                name: "raft/no-quarantine",
                what: "a restarted node votes at once, though it may have promised its vote away before the crash",
                scenario: "raft-3-lease-crash-recover",
                tamper: Tamper::Deviation(Deviation::RaftNoQuarantine),
            },
            SeededBug {
                name: "raft/vote-during-promise",
                what: "a follower grants votes while its promise to the leader holds",
                scenario: "raft-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::RaftVoteDuringPromise),
            },
            SeededBug {
                name: "raft/lease-without-clock-check",
                what: "a leader acts on its lease as its state says, without reading its clock, so after a pause it acts on a lease that has lapsed",
                scenario: "raft-3-lease-pause",
                tamper: Tamper::Deviation(Deviation::RaftLeaseWithoutClockCheck),
            },
            SeededBug {
                name: "raft/pre-vote-ignores-leader",
                what: "grants a PreVote although it hears from a live leader, so a node rejoining after a partition deposes the leader a majority follows",
                scenario: "raft-3-prevote-rejoin-timed",
                tamper: Tamper::Deviation(Deviation::RaftPreVoteIgnoresLeader),
            },
            SeededBug {
                name: "raft/leader-ignores-reply-term",
                what: "a leader does not check the term of heartbeat replies",
                scenario: SCENARIO,
                tamper: Tamper::Ignore {
                    kind: "AppendEntriesReply",
                    while_leading: false,
                },
            },
        ]
    }
}

/// Leader election by Paxos: a single-decree instance per epoch decides its
/// leader.
///
/// - `agreement per epoch` (always): no two nodes ever learnt different
///   leaders for one epoch, over the whole execution (the model records
///   every (epoch, leader) any node has learnt, so a node that has since
///   crashed or moved on still counts). Holds under every fault model the
///   checker offers — loss, duplication, reordering, crash and recovery with
///   persisted promises, partitions, asynchronous timing — because any two
///   majorities share an acceptor, and an acceptor never accepts below its
///   promise. It fails when an acceptor recovers *without* its storage.
/// - `validity` (always): every leader learnt for an epoch proposed itself
///   for it. Under every fault model: a proposer proposes itself or a value
///   some promise reported accepted.
/// - `one acting leader per epoch` (always): at most one node ever acted as
///   leader in an epoch. It follows from agreement (a node leads only an
///   epoch it learnt itself to lead) and is checked on its own, as the
///   property users act on; the epoch is the leadership's fencing token.
/// - `epochs never go back` (always): no node's epoch ever decreases, a
///   restart included. Under every fault model with storage: a node saves
///   every epoch it learns.
///
/// As with Raft's terms, two nodes may both believe they lead in different
/// epochs (a deposed leader that has not yet heard of the next epoch).
impl Modelled for Paxos {
    const DECISIONS: bool = true;

    fn relabel(cluster: &Cluster, nodes: &[(bool, &PaxosState)]) -> Option<Relabelling<Self>> {
        // Only the lease numbers rounds.
        cluster.lease()?;
        Some(super::rounds::relabel_rounds(nodes))
    }

    fn self_proposal(msg: &PaxosMsg) -> Option<(u64, Id)> {
        match msg {
            PaxosMsg::Accept {
                epoch,
                ballot,
                leader,
            } if *leader == ballot.node => Some((*epoch, *leader)),
            _ => None,
        }
    }

    /// Ballot rounds start afresh in every epoch and are held to the term
    /// bound: a round above `max_term` lies beyond it.
    fn beyond_term_bound(config: &ModelConfig, state: &PaxosState) -> bool {
        let rounds = [
            state.promised.map(|b| b.round),
            state.accepted.map(|p| p.ballot.round),
            state.proposer.as_ref().map(|p| p.ballot.round),
        ];
        rounds.into_iter().flatten().any(|r| r > config.max_term)
    }

    fn claims() -> Vec<Property<ElectionModel<Self>>> {
        vec![
            Property::always(
                "agreement per epoch",
                properties::one_leader_learnt_per_epoch::<Paxos>,
            ),
            Property::always(
                "validity",
                properties::learnt_leaders_proposed_themselves::<Paxos>,
            ),
            Property::always(
                "one acting leader per epoch",
                properties::one_leader_per_term::<Paxos>,
            ),
            Property::always(
                "epochs never go back",
                properties::epochs_never_go_back::<Paxos>,
            ),
        ]
    }

    /// Loss, reordering and a crash with recovery, timely timers and a GST
    /// step, with epochs normalised (spread ≤ 1), one ballot round per
    /// epoch and node (rounds ≤ 1: two nodes may still propose in one
    /// epoch, as every seeded bug needs) and 3 messages in flight, drained
    /// past that cap (a proposer that decides in the step it accepts sends
    /// four at once); the complete graph is explored, liveness included. Asynchronous timing
    /// is checked in the scenarios (`models/paxos-3-*.toml`), where the graph
    /// is too large for a default run. Stabilisation after GST is held to
    /// the 36 steps it was measured to take (a restarted leader stands down,
    /// so a crash of the leader before GST may cost a second election after it).
    fn default_model() -> ModelConfig {
        ModelConfig {
            nodes: 3,
            lossy: true,
            crashes: 1,
            recover: true,
            normalize_terms: true,
            max_term: 1,
            max_in_flight: 3,
            drain_past_cap: true,
            stabilize_within: Some(36),
            ..seed_default()
        }
    }

    fn seeded_bugs() -> Vec<SeededBug<Self>> {
        const SCENARIO: &str = "paxos-3-asynchronous-small";
        vec![
            SeededBug {
                name: "paxos/promise-not-persisted",
                what: "an acceptor promises without saving the promise, so it forgets it on restart",
                scenario: SCENARIO,
                tamper: Tamper::SkipSaves {
                    handling: "Prepare",
                },
            },
            SeededBug {
                name: "paxos/phantom-accepted-value",
                what: "a promise reporting nothing is misread as reporting n2's proposal, so n2 can be decided without proposing itself",
                scenario: SCENARIO,
                tamper: Tamper::RewriteIncoming(phantom_accepted_value),
            },
            SeededBug {
                name: "paxos/accept-below-promise",
                what: "an acceptor accepts a proposal whose ballot is below the one it promised",
                // Two proposers must be under way at once: asynchronous
                // timers and 3 messages in flight.
                scenario: "paxos-3-asynchronous",
                tamper: Tamper::Deviation(Deviation::PaxosAcceptBelowPromise),
            },
            SeededBug {
                name: "paxos/ignores-accepted-value",
                what: "a proposer proposes itself although a promise reported an accepted proposal",
                scenario: SCENARIO,
                tamper: Tamper::Deviation(Deviation::PaxosIgnoresAcceptedValue),
            },
            SeededBug {
                name: "paxos/learns-from-minority",
                what: "a proposer takes acceptances from a minority (itself alone, of 3) for a choice",
                // Deciding as it accepts, the proposer sends four messages
                // at once: the default model drains past its cap.
                scenario: "paxos-3-lossy-crash-recover",
                tamper: Tamper::Deviation(Deviation::PaxosLearnsFromMinority),
            },
            SeededBug {
                name: "paxos/quorum-by-messages",
                what: "a proposer counts answers by message, so one acceptor's redelivered answer counts twice",
                // With 3 nodes the proposer and any one acceptor are a
                // true majority: it takes 4.
                scenario: "paxos-4-duplicating-split",
                tamper: Tamper::Deviation(Deviation::PaxosQuorumByMessages),
            },
            SeededBug {
                name: "paxos/promise-during-lease",
                what: "a node promises a proposer of the next epoch while its promise to the leader holds",
                scenario: "paxos-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::PaxosPromiseDuringLease),
            },
            SeededBug {
                name: "paxos/acks-after-promise",
                what: "a node acknowledges its leader's round although it has promised a proposer of the next epoch",
                scenario: "paxos-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::PaxosAcksAfterPromise),
            },
            SeededBug {
                name: "paxos/promises-as-it-learns-to-lead",
                what: "a node that learns from a prepare that it leads the epoch before still promises that prepare, so its lease counts its own vote given away",
                scenario: "paxos-3-lease-lossy",
                tamper: Tamper::Deviation(Deviation::PaxosPromisesAsItLearnsToLead),
            },
            SeededBug {
                name: "paxos/no-quarantine",
                what: "a restarted node answers prepares at once, though it may have promised its leader before the crash",
                // A crash alone leaves the other follower hearing the
                // leader: the leader must be paused too.
                scenario: "paxos-3-lease-pause-crash-recover",
                tamper: Tamper::Deviation(Deviation::PaxosNoQuarantine),
            },
        ]
    }
}

/// `paxos/phantom-accepted-value`: a promise that reports no accepted
/// proposal arrives as reporting one of n2's, in a ballot below every real
/// one.
fn phantom_accepted_value(_: &PaxosState, msg: PaxosMsg) -> PaxosMsg {
    match msg {
        PaxosMsg::Promise {
            epoch,
            ballot,
            accepted: None,
        } => PaxosMsg::Promise {
            epoch,
            ballot,
            accepted: Some(Proposal {
                ballot: Ballot {
                    round: 0,
                    node: Id::from(2),
                },
                leader: Id::from(2),
            }),
        },
        other => other,
    }
}

/// `bully/ok-taken-as-coordinator`: an OK arrives as if it were the
/// answerer's COORDINATOR.
fn ok_as_coordinator(_: &BullyState, msg: BullyMsg) -> BullyMsg {
    match msg {
        BullyMsg::Ok => BullyMsg::Coordinator,
        other => other,
    }
}

/// `raft/vote-twice`: asked for a vote in its current term by another
/// candidate than the one it voted for, the node forgets its vote.
fn forget_vote_for_another(state: &RaftState, src: Id, msg: &RaftMsg) -> Option<RaftState> {
    let asks_again = matches!(msg, RaftMsg::RequestVote { term } if *term == state.term);
    (asks_again && state.voted_for.is_some_and(|v| v != src)).then(|| RaftState {
        voted_for: None,
        ..state.clone()
    })
}

/// `raft/candidate-without-timer`: the election timer a candidate arms.
fn candidate_election_timer(after: &RaftState, timer: &RaftTimer) -> bool {
    after.role == RaftRole::Candidate && *timer == RaftTimer::Election
}

/// `raft/no-step-down-on-higher-term`: a leader or candidate that adopted a
/// higher term keeps its role (and its leader and votes).
fn keep_role_in_higher_term(before: &RaftState, after: &mut RaftState) {
    if after.term > before.term && before.role != RaftRole::Follower {
        after.role = before.role;
        after.leader = before.leader;
        after.votes = before.votes.clone();
    }
}

/// `raft/stale-leader-in-new-term`: a node that steps down to a higher term
/// still names the leader of the term it left.
fn keep_leader_in_higher_term(before: &RaftState, after: &mut RaftState) {
    if after.term > before.term && after.role == RaftRole::Follower {
        after.leader = before.leader;
    }
}

/// `raft/count-stale-vote`: a granted vote from an older term arrives as if
/// it were from the current one.
fn stale_vote_as_current(state: &RaftState, msg: RaftMsg) -> RaftMsg {
    match msg {
        RaftMsg::Vote {
            term,
            granted: true,
        } if term < state.term => RaftMsg::Vote {
            term: state.term,
            granted: true,
        },
        other => other,
    }
}
