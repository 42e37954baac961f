//! Exhaustive checks of each protocol through the library API: safety holds
//! and the sanity examples exist under each protocol's default fault model,
//! and the checker finds split brain where the seed's simple algorithms are
//! known to be unsafe.

use elect::model::{ModelConfig, NetworkKind, Timing};
use elect::protocols::ProtocolKind;
use elect::verification::run::{self, CheckOptions, CheckResult, Outcome, Strategy};

fn check(kind: ProtocolKind, config: ModelConfig, options: CheckOptions) -> CheckResult {
    run::check(
        kind,
        &config,
        &options,
        &run::default_expectation,
        &mut |_| {},
    )
    .expect("configuration within bounds")
}

fn outcome<'a>(result: &'a CheckResult, property: &str) -> &'a Outcome {
    &result
        .properties
        .iter()
        .find(|p| p.name == property)
        .unwrap_or_else(|| panic!("no property {property}"))
        .outcome
}

fn assert_safe_and_live_examples(result: &CheckResult) {
    assert!(
        result.exhaustive,
        "the check must explore the whole (bounded) space"
    );
    for p in &result.properties {
        assert!(p.meets_expectation, "{}: {:?}", p.name, p.outcome);
        match p.kind {
            run::Kind::Always => assert!(
                matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
                "{}: {:?}",
                p.name,
                p.outcome
            ),
            run::Kind::Sometimes => assert_eq!(p.outcome, Outcome::ExampleFound, "{}", p.name),
            run::Kind::Recoverability => assert!(
                matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
                "{}: {:?}",
                p.name,
                p.outcome
            ),
            // Never claimed to hold: Stateright cannot see cycles.
            run::Kind::Eventually => assert!(
                !matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
                "{}: {:?}",
                p.name,
                p.outcome
            ),
        }
    }
}

fn bfs() -> CheckOptions {
    CheckOptions::default()
}

fn dfs_symmetry() -> CheckOptions {
    CheckOptions {
        strategy: Strategy::Dfs,
        symmetry: true,
        ..CheckOptions::default()
    }
}

#[test]
fn bully_default_is_safe_on_the_complete_graph() {
    let result = check(
        ProtocolKind::Bully,
        ModelConfig::default_for(ProtocolKind::Bully),
        bfs(),
    );
    assert_safe_and_live_examples(&result);
    // The in-flight cap is never reached under timely timing.
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
}

#[test]
fn ring_default_is_safe_on_the_complete_graph() {
    let result = check(
        ProtocolKind::Ring,
        ModelConfig::default_for(ProtocolKind::Ring),
        bfs(),
    );
    assert_safe_and_live_examples(&result);
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
}

#[test]
fn raft_is_safe_with_loss_reordering_and_crash_recovery() {
    let config = ModelConfig {
        max_in_flight: 4,
        ..ModelConfig::default_for(ProtocolKind::Raft)
    };
    let result = check(ProtocolKind::Raft, config, dfs_symmetry());
    assert!(result.symmetry_used);
    assert_safe_and_live_examples(&result);
}

#[test]
fn raft_is_safe_on_a_duplicating_network() {
    let config = ModelConfig {
        network: NetworkKind::Duplicating,
        lossy: false,
        crashes: 0,
        recover: false,
        max_in_flight: 4,
        ..ModelConfig::default_for(ProtocolKind::Raft)
    };
    let result = check(ProtocolKind::Raft, config, dfs_symmetry());
    assert_eq!(
        outcome(&result, "election safety"),
        &Outcome::HoldsWithinBound
    );
}

/// Weaker assumptions: the checker must find split brain for the seed's
/// simple algorithms, with a trace that ends in two live leaders.
fn assert_split_brain(kind: ProtocolKind, config: ModelConfig) {
    // Only "single leader" is expected to hold, so the check runs until it
    // finds split brain (the other safety properties fall too).
    let expect = |name: &str| match name {
        "single leader" => Some(run::Expect::Holds),
        "agreement" | "highest live id leads" => Some(run::Expect::Violated),
        _ => Some(run::Expect::Holds),
    };
    let result = run::check(kind, &config, &bfs(), &expect, &mut |_| {}).expect("checkable");
    assert_eq!(
        outcome(&result, "single leader"),
        &Outcome::Violated,
        "{kind}"
    );
    assert!(!result.all_met());
    let trace = result.properties[0]
        .trace
        .as_ref()
        .expect("a counterexample trace");
    let leaders = trace
        .final_nodes
        .iter()
        .filter(|n| !n.crashed && n.view.role == elect::leadership::Role::Leader)
        .count();
    assert_eq!(leaders, 2, "{kind}: {trace}");
}

#[test]
fn bully_splits_brain_when_timers_race_messages() {
    let config = ModelConfig {
        timing: Timing::Asynchronous,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn bully_splits_brain_when_messages_are_lost() {
    let config = ModelConfig {
        lossy: true,
        nodes: 3,
        crashes: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn bully_splits_brain_when_a_higher_node_recovers() {
    let config = ModelConfig {
        recover: true,
        nodes: 3,
        crashes: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn ring_splits_brain_when_acks_are_lost() {
    let config = ModelConfig {
        lossy: true,
        ..ModelConfig::default_for(ProtocolKind::Ring)
    };
    assert_split_brain(ProtocolKind::Ring, config);
}

#[test]
fn ring_stays_safe_when_nodes_recover() {
    // A recovered node adopts the current leader from its heartbeat, so
    // there is never split brain; but a recovered *higher* node does not
    // take over, so "the highest live id leads" is lost.
    let config = ModelConfig {
        recover: true,
        ..ModelConfig::default_for(ProtocolKind::Ring)
    };
    let options = CheckOptions {
        keep_going: true,
        ..bfs()
    };
    let result = check(ProtocolKind::Ring, config, options);
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
    assert_eq!(
        outcome(&result, "highest live id leads"),
        &Outcome::Violated
    );
}

#[test]
fn ring_nodes_disagree_when_timers_race_messages() {
    let config = ModelConfig {
        timing: Timing::Asynchronous,
        ..ModelConfig::default_for(ProtocolKind::Ring)
    };
    let result = check(ProtocolKind::Ring, config, bfs());
    assert!(!result.all_met());
    assert!(result
        .properties
        .iter()
        .any(|p| p.outcome == Outcome::Violated && p.trace.is_some()));
}

#[test]
fn an_initial_state_beyond_the_bound_is_an_error() {
    let config = ModelConfig {
        max_in_flight: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    let err = run::check(
        ProtocolKind::Bully,
        &config,
        &bfs(),
        &run::default_expectation,
        &mut |_| {},
    )
    .expect_err("must refuse");
    assert!(err.contains("--max-in-flight"), "{err}");
}
