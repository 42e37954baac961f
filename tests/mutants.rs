//! Seeded bugs are caught: a few of them, each against a small scenario of
//! its own (the full set runs in `elect verify --mutants`).

use elect::model::all_seeded_bugs;
use elect::protocols::ProtocolKind;
use elect::verification::run::{self, Job};
use elect::verification::scenario::Scenario;
use elect::verification::verdict::{Expect, Outcome, Strategy};
use std::path::Path;

fn caught(mutation: &str, scenario: &str) -> String {
    let scenario =
        Scenario::load(&Path::new("models").join(format!("{scenario}.toml"))).expect("load");
    let mut job = Job::from_scenario(&scenario);
    job.options.keep_going = false;
    job.options.seeded_bug = Some(mutation.to_string());
    job.liveness = false;
    let result = run::run_job(&job, &mut |_| {}).expect("run");
    result
        .properties
        .iter()
        .find(|p| p.expect == Expect::Holds && p.outcome == Outcome::Violated)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| panic!("{mutation} survived"))
}

/// A depth bound of `k` steps checks every state `k` steps from the start
/// and none beyond: the seeded bug whose shortest counterexample has 5 steps
/// is caught with `depth = 5` (in 5 steps) and not with `depth = 4`, where
/// the verdict says the bound was reached. (Stateright counts the initial
/// state as depth 1 and skips a state at its target depth unchecked, so a
/// bound passed to it unchanged would check only `k - 2` steps.)
#[test]
fn a_depth_bound_of_k_steps_checks_paths_of_exactly_k_steps() {
    let scenario =
        Scenario::load(Path::new("models/ring-4-reliable-crash-stop-timely.toml")).expect("load");
    let check = |depth: usize| {
        let mut job = Job::from_scenario(&scenario);
        job.options.keep_going = false;
        job.options.seeded_bug = Some("ring/initiator-elects-itself".to_string());
        job.options.strategy = Strategy::Bfs;
        job.options.threads = 1;
        job.options.depth = Some(depth);
        job.liveness = false;
        run::run_job(&job, &mut |_| {}).expect("run")
    };
    let within_5 = check(5);
    let property = within_5
        .property("highest live id leads")
        .expect("property");
    assert_eq!(property.outcome, Outcome::Violated);
    let trace = property.trace.as_ref().expect("trace");
    assert_eq!(trace.steps.len(), 5);
    let within_4 = check(4);
    let property = within_4
        .property("highest live id leads")
        .expect("property");
    assert_eq!(property.outcome, Outcome::HoldsWithinBound);
    assert_eq!(within_4.max_depth, 4);
    assert!(within_4.bound_hit);
}

#[test]
fn every_seeded_bug_names_an_existing_scenario_of_its_protocol() {
    let bugs = all_seeded_bugs();
    assert_eq!(bugs.len(), 32);
    for bug in &bugs {
        let scenario = Scenario::load(&Path::new("models").join(format!("{}.toml", bug.scenario)))
            .expect(bug.name);
        assert_eq!(scenario.protocol, bug.protocol, "{}", bug.name);
        assert!(bug.name.starts_with(bug.protocol.name()), "{}", bug.name);
    }
    let raft = bugs.iter().filter(|b| b.protocol == ProtocolKind::Raft);
    assert_eq!(raft.count(), 14);
    let paxos = bugs.iter().filter(|b| b.protocol == ProtocolKind::Paxos);
    assert_eq!(paxos.count(), 10);
}

#[test]
fn a_paxos_promise_not_persisted_and_a_phantom_accepted_value_are_caught() {
    let out = caught("paxos/promise-not-persisted", "paxos-3-asynchronous-small");
    assert!(out.contains("epochs never go back"), "{out}");
    let out = caught("paxos/phantom-accepted-value", "paxos-3-asynchronous-small");
    assert!(out.contains("validity"), "{out}");
}

#[test]
fn a_paxos_proposer_that_ignores_a_reported_value_or_learns_from_a_minority_is_caught() {
    let out = caught("paxos/ignores-accepted-value", "paxos-3-asynchronous-small");
    assert_eq!(out, "agreement per epoch");
    let out = caught("paxos/learns-from-minority", "paxos-3-lossy-crash-recover");
    assert_eq!(out, "agreement per epoch");
}

#[test]
fn a_paxos_acceptor_that_accepts_below_its_promise_is_caught() {
    let out = caught("paxos/accept-below-promise", "paxos-3-asynchronous");
    assert_eq!(out, "agreement per epoch");
}

/// The Paxos lease's two rules at a follower: keep the promise made by
/// acknowledging a round, and acknowledge no round once the next epoch's
/// election has a promise. Breaking either gives two leases at once.
#[test]
fn a_paxos_follower_that_breaks_its_lease_promise_is_caught() {
    let out = caught("paxos/promise-during-lease", "paxos-3-lease-lossy");
    assert_eq!(out, "lease exclusivity");
    let out = caught("paxos/acks-after-promise", "paxos-3-lease-lossy");
    assert_eq!(out, "lease exclusivity");
}

/// A restarted node's quarantine: it may have acknowledged the leader just
/// before it crashed, and that promise must outlive the crash.
#[test]
fn a_paxos_node_that_restarts_without_quarantine_is_caught() {
    let out = caught("paxos/no-quarantine", "paxos-3-lease-pause-crash-recover");
    assert_eq!(out, "lease exclusivity");
}

#[test]
fn an_unknown_seeded_bug_is_refused_with_the_names_there_are() {
    let scenario = Scenario::load(Path::new("models/raft-3-partition.toml")).expect("load");
    let mut job = Job::from_scenario(&scenario);
    job.options.seeded_bug = Some("raft/typo".into());
    let err = run::run_job(&job, &mut |_| {}).expect_err("unknown");
    let text = err.to_string();
    assert!(
        text.contains("raft/typo") && text.contains("raft/vote-twice"),
        "{text}"
    );
}

#[test]
fn a_double_vote_breaks_election_safety() {
    assert_eq!(
        caught("raft/vote-twice", "raft-3-partition"),
        "election safety"
    );
}

#[test]
fn an_unsaved_vote_breaks_election_safety_after_a_crash() {
    assert_eq!(
        caught("raft/vote-not-persisted", "raft-3-ordered-reliable"),
        "election safety"
    );
}

/// What the runtime reports as the leader is checked too: a follower that
/// moved to a new term but still names the old term's leader.
#[test]
fn a_follower_naming_a_stale_leader_is_caught() {
    assert_eq!(
        caught("raft/stale-leader-in-new-term", "raft-3-partition"),
        "followers name their term's leader"
    );
}

/// The followers' view of Bully: a challenger that takes a higher node's OK
/// for its COORDINATOR follows a node that never led. On a lossy network the
/// seed's promises (one leader, agreement, the highest id) already fail, so
/// only this property tells the bug from the protocol's own split brain.
#[test]
fn a_bully_follower_naming_a_node_that_never_led_is_caught() {
    let scenario = Scenario::load(Path::new("models/bully-3-lossy-timely.toml")).expect("load");
    for seeded in [false, true] {
        let mut job = Job::from_scenario(&scenario);
        job.options.seeded_bug = seeded.then(|| "bully/ok-taken-as-coordinator".into());
        job.liveness = false;
        let result = run::run_job(&job, &mut |_| {}).expect("run");
        let view = result
            .property("followers name a node that led")
            .expect("checked");
        assert_eq!(
            view.outcome == Outcome::Violated,
            seeded,
            "{:?}",
            view.outcome
        );
    }
}

/// A livelock is a liveness violation with a lasso, not a pass: a Bully
/// node that waits for a winner and stays quiet on a lower ELECTION lets
/// an election go round for ever after GST, while recoverability — a
/// leader is always still *possible* — holds.
#[test]
fn the_quiet_waiting_livelock_is_a_lasso_and_recoverability_misses_it() {
    let scenario = Scenario::load(Path::new("models/bully-3-gst-small.toml")).expect("load");
    let mut job = Job::from_scenario(&scenario);
    job.options.seeded_bug = Some("bully/waiting-stays-quiet".into());
    let result = run::run_job(&job, &mut |_| {}).expect("run");
    let claim = |name: &str| {
        result
            .property(name)
            .unwrap_or_else(|| panic!("{name} checked"))
    };
    let stable = claim("stable leader after GST");
    assert_eq!(stable.outcome, Outcome::Violated);
    let trace = stable.trace.as_ref().expect("a lasso");
    let gst = trace
        .steps
        .iter()
        .position(|s| s.action.starts_with("GST"))
        .expect("the lasso starts before GST");
    assert!(trace.steps.len() > gst + 1, "{trace}");
    assert!(!claim("recoverability").outcome.is_refutation());
}

const SPLIT_BRAIN: [&str; 3] = ["single leader", "agreement", "highest live id leads"];

#[test]
fn a_silent_bully_splits_brain() {
    // Split brain breaks all three; which is found first depends on the search.
    let by = caught("bully/no-ok-reply", "bully-3-ordered-crash-stop-timely");
    assert!(SPLIT_BRAIN.contains(&by.as_str()), "{by}");
}

#[test]
fn a_ring_that_elects_its_initiator_is_caught() {
    let by = caught(
        "ring/initiator-elects-itself",
        "ring-3-ordered-crash-stop-timely",
    );
    assert!(SPLIT_BRAIN.contains(&by.as_str()), "{by}");
}

/// A deadlock after GST is a violation of stabilisation, with a trace that
/// ends where nothing can happen any more: here every node stood for
/// election before GST, each candidate without an election timer, and the
/// votes were lost.
#[test]
fn a_candidate_without_a_timer_deadlocks_after_gst() {
    use elect::model::ModelConfig;
    use elect::verification::verdict::CheckOptions;

    let config = ModelConfig {
        max_term: 1,
        ..ModelConfig::default_for(ProtocolKind::Raft)
    };
    let mut job = Job::new(
        ProtocolKind::Raft,
        config,
        CheckOptions::defaults_for(ProtocolKind::Raft),
    );
    job.options.seeded_bug = Some("raft/candidate-without-timer".into());
    let result = run::run_job(&job, &mut |_| {}).expect("run");
    let stable = result.property("stable leader after GST").expect("checked");
    assert_eq!(stable.outcome, Outcome::Violated);
    let trace = stable.trace.as_ref().expect("a trace");
    assert!(
        trace.steps.iter().any(|s| s.action.starts_with("GST")),
        "{trace}"
    );
    // Safety is not what breaks: the seeded bug only takes away a timer.
    let safety = result.property("election safety");
    assert!(safety.is_some_and(|p| !p.outcome.is_refutation()));
    // Without the bug the same model stabilises.
    job.options.seeded_bug = None;
    let clean = run::run_job(&job, &mut |_| {}).expect("run");
    assert!(clean.all_met(), "{:?}", clean.properties);
    // The trace ends stuck: no timer armed, nothing in flight.
    assert!(
        trace.final_state.contains("in flight (0)") && !trace.final_state.contains('⏱'),
        "{trace}"
    );
}

/// The check at the cut: a state past the cap on messages in flight is
/// checked against every property, and with `drain_past_cap` its messages
/// may still arrive or be lost. `count-stale-vote` needs that: the vote goes
/// stale when the candidate's next election overfills the network, and it
/// makes a second leader only when it arrives afterwards. Cut off there, a
/// cap of 2 lets the bug escape in both scenarios below; drained, every cap
/// catches it.
#[test]
fn a_stale_vote_counted_is_caught_at_every_cap_when_the_network_drains_past_it() {
    for (file, caps) in [
        ("models/raft-3-partition.toml", 2..=3),
        ("models/raft-3-lossy-crash-recover.toml", 2..=2),
    ] {
        let scenario = Scenario::load(Path::new(file)).expect("load");
        for cap in caps {
            let mut job = Job::from_scenario(&scenario);
            job.config.max_in_flight = cap;
            job.config.drain_past_cap = true;
            job.options.keep_going = false;
            job.options.seeded_bug = Some("raft/count-stale-vote".into());
            job.liveness = false;
            let result = run::run_job(&job, &mut |_| {}).expect("run");
            let safety = result.property("election safety").expect("checked");
            assert_eq!(safety.outcome, Outcome::Violated, "{file} at cap {cap}");
        }
    }
}

/// Each way of getting the lease wrong lets two nodes hold one at once, and
/// the checker shows it: the lease timed from the acknowledgements instead
/// of the send, a lease as long as the promise (no drift margin), a vote
/// granted under a promise, after a crash a restarted node that votes
/// before its quarantine is over, and after a pause a leader that acts on
/// its lease without reading its clock. The same scenarios hold without the
/// bugs (`tests/scenarios.rs`, `elect verify`).
#[test]
fn every_way_of_getting_the_lease_wrong_shows_two_lease_holders() {
    for (bug, scenario) in [
        ("raft/lease-from-acks", "raft-3-lease-lossy"),
        ("raft/lease-without-drift-margin", "raft-3-lease-lossy"),
        ("raft/vote-during-promise", "raft-3-lease-lossy"),
        ("raft/no-quarantine", "raft-3-lease-crash-recover"),
        ("raft/lease-without-clock-check", "raft-3-lease-pause"),
    ] {
        assert_eq!(caught(bug, scenario), "lease exclusivity", "{bug}");
    }
}

/// PreVote's promise needs the refusal: a node that grants a PreVote while
/// it hears from a live leader lets a node rejoining after a partition
/// depose the leader a majority follows. The same scenario holds without
/// the bug (`tests/scenarios.rs`).
#[test]
fn a_pre_vote_granted_despite_a_live_leader_lets_a_rejoining_node_depose_it() {
    assert_eq!(
        caught(
            "raft/pre-vote-ignores-leader",
            "raft-3-prevote-rejoin-timed"
        ),
        "no rejoining node deposes a followed leader"
    );
}
