//! Every scenario in models/ that is not marked `slow` in its `[check]`
//! table meets the expectations its file states: the fault-model matrix,
//! re-checked on each test run (the slow ones run in `elect verify`). This is
//! also the oracle `cargo mutants` uses over the protocol modules.

use elect::verification::run::{self, Job};
use elect::verification::scenario::Scenario;
use std::path::Path;

#[test]
fn every_scenario_not_marked_slow_meets_its_expectations() {
    let scenarios = Scenario::load_dir(Path::new("models")).expect("scenarios load");
    let quick: Vec<&Scenario> = scenarios.iter().filter(|s| !s.check.slow).collect();
    assert!(quick.len() >= 15, "{} quick scenarios", quick.len());
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
