//! Seeded bugs are caught (only with `cargo test --features mutants`).
#![cfg(feature = "mutants")]

use elect::protocols::mutants;
use elect::verification::run::{self, Expect, Job, Outcome};
use elect::verification::scenario::Scenario;
use std::path::Path;

fn caught(mutation: &'static str, scenario: &str) -> String {
    let scenario =
        Scenario::load(&Path::new("models").join(format!("{scenario}.toml"))).expect("load");
    let mut job = Job::from_scenario(&scenario);
    job.options.keep_going = false;
    job.options.mutation = Some(mutation);
    job.recoverability = false;
    let result = run::run_job(&job, &mut |_| {}).expect("run");
    result
        .properties
        .iter()
        .find(|p| p.expect == Expect::Holds && p.outcome == Outcome::Violated)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| panic!("{mutation} survived"))
}

#[test]
fn every_seeded_bug_names_an_existing_scenario() {
    for m in mutants::MUTANTS {
        Scenario::load(&Path::new("models").join(format!("{}.toml", m.scenario))).expect(m.name);
    }
    assert!(
        mutants::MUTANTS
            .iter()
            .filter(|m| m.protocol == elect::protocols::ProtocolKind::Raft)
            .count()
            >= 6
    );
}

#[test]
fn a_double_vote_breaks_election_safety() {
    assert_eq!(
        caught(mutants::RAFT_VOTE_TWICE, "raft-3-partition"),
        "election safety"
    );
}

#[test]
fn an_unsaved_vote_breaks_election_safety_after_a_crash() {
    assert_eq!(
        caught(mutants::RAFT_VOTE_NOT_PERSISTED, "raft-3-ordered-reliable"),
        "election safety"
    );
}

const SPLIT_BRAIN: [&str; 3] = ["single leader", "agreement", "highest live id leads"];

#[test]
fn a_silent_bully_splits_brain() {
    // Split brain breaks all three; which is found first depends on the search.
    let by = caught(mutants::BULLY_NO_OK, "bully-3-ordered-crash-stop-timely");
    assert!(SPLIT_BRAIN.contains(&by.as_str()), "{by}");
}

#[test]
fn a_ring_that_elects_its_initiator_is_caught() {
    let by = caught(
        mutants::RING_ELECT_INITIATOR,
        "ring-3-ordered-crash-stop-timely",
    );
    assert!(SPLIT_BRAIN.contains(&by.as_str()), "{by}");
}
