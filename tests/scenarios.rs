//! Every scenario in models/ that is not marked `slow` in its `[check]`
//! table meets the expectations its file states: the fault-model matrix,
//! re-checked on each test run (the slow ones run in `elect verify`). This is
//! also the oracle `cargo mutants` uses over the protocol modules.

use elect::verification::run::{self, Job};
use elect::verification::scenario::Scenario;
use std::path::Path;

// The scenarios searched on one thread (whose depth-bounded search must be
// reproducible) run beside the others, so that both cores are busy.

#[test]
fn every_scenario_not_marked_slow_meets_its_expectations() {
    check_quick(|threads| threads != Some(1), 15);
}

#[test]
fn every_single_threaded_scenario_not_marked_slow_meets_its_expectations() {
    check_quick(|threads| threads == Some(1), 2);
}

/// Checks the quick scenarios whose `[check] threads` `select` picks, at
/// least `at_least` of them.
fn check_quick(select: fn(Option<usize>) -> bool, at_least: usize) {
    let scenarios = Scenario::load_dir(Path::new("models")).expect("scenarios load");
    let quick: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| !s.check.slow && select(s.check.threads))
        .collect();
    assert!(quick.len() >= at_least, "{} quick scenarios", quick.len());
    let mut unmet = Vec::new();
    for scenario in quick {
        let result = run::run_job(&Job::from_scenario(scenario), &mut |_| {}).expect("runs");
        for p in result.properties.iter().filter(|p| !p.meets_expectation) {
            unmet.push(format!(
                "{}: {} expected {} but {}",
                scenario.name, p.name, p.expect, p.outcome
            ));
        }
    }
    assert!(unmet.is_empty(), "{}", unmet.join("\n"));
}
