//! Every small scenario in models/ meets the expectations its file states:
//! the fault-model matrix, re-checked on each test run. (The larger ones —
//! four and five nodes, GST — run in `elect verify`.) This is also the
//! oracle `cargo mutants` uses over the protocol modules.

use elect::verification::run::{self, Job};
use elect::verification::scenario::Scenario;
use std::path::Path;

#[test]
fn small_scenarios_meet_their_expectations() {
    let scenarios = Scenario::load_dir(Path::new("models")).expect("scenarios load");
    let small: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| s.model.nodes <= 3 && !s.model.gst)
        .filter(|s| {
            !matches!(
                s.name.as_str(),
                "raft-3-lossy-crash-recover"
                    | "raft-3-duplicating"
                    | "raft-3-crash-stop"
                    | "raft-3-storage-lost"
            )
        })
        .collect();
    assert!(small.len() >= 12, "{} small scenarios", small.len());
    let mut unmet = Vec::new();
    for scenario in small {
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
