//! The verification matrix: scenario files, the sound liveness check, the
//! fault models of the matrix, and `elect verify`.

use elect::model::{ModelConfig, NetworkKind, Timing};
use elect::protocols::ProtocolKind;
use elect::verification::run::{self, Job};
use elect::verification::scenario::Scenario;
use elect::verification::verdict::{CheckOptions, Expect, Kind, Outcome};
use std::path::Path;
use std::process::Command;

fn elect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(args)
        .output()
        .expect("run elect")
}

fn outcome(result: &run::CheckResult, name: &str) -> Outcome {
    result
        .property(name)
        .unwrap_or_else(|| panic!("no property {name}"))
        .outcome
        .clone()
}

#[test]
fn every_scenario_file_is_valid() {
    let scenarios = Scenario::load_dir(Path::new("models")).expect("scenarios load");
    assert!(scenarios.len() >= 20, "{} scenarios", scenarios.len());
    for scenario in &scenarios {
        Job::from_scenario(scenario)
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !scenario.description.is_empty(),
            "{}: describe it",
            scenario.name
        );
    }
    // The matrix covers each protocol under reliable, lossy, asynchronous and
    // partitioned conditions, crash-stop and crash-recovery.
    for protocol in ProtocolKind::ALL {
        let of = |f: &dyn Fn(&ModelConfig) -> bool| {
            scenarios
                .iter()
                .any(|s| s.protocol == protocol && f(&s.model))
        };
        assert!(of(&|m| m.lossy), "{protocol}: lossy");
        assert!(
            of(&|m| m.timing == Timing::Asynchronous),
            "{protocol}: asynchronous"
        );
        assert!(of(&|m| m.recover), "{protocol}: recovery");
        if protocol != ProtocolKind::BullyHalt {
            assert!(of(&|m| m.partitions > 0), "{protocol}: partitions");
            assert!(of(&|m| m.gst), "{protocol}: GST");
            assert!(
                of(&|m| m.crashes > 0 && !m.recover),
                "{protocol}: crash-stop"
            );
        }
    }
}

fn run_scenario(name: &str) -> run::CheckResult {
    let scenario = Scenario::load(&Path::new("models").join(format!("{name}.toml"))).expect("load");
    run::run_job(&Job::from_scenario(&scenario), &mut |_| {}).expect("run")
}

#[test]
fn the_halt_phase_prevents_the_split_brain_of_the_simple_bully() {
    let simple = run_scenario("bully-3-recovery-timely");
    let original = run_scenario("bully-halt-3-recovery-timely");
    assert_eq!(outcome(&simple, "single leader"), Outcome::Violated);
    assert_eq!(outcome(&original, "single leader"), Outcome::Holds);
    assert_eq!(outcome(&original, "agreement"), Outcome::Holds);
    assert!(simple.all_met() && original.all_met());
}

#[test]
fn recoverability_finds_the_ring_livelock_after_a_partition() {
    let result = run_scenario("ring-3-partition-timely");
    let p = result
        .properties
        .iter()
        .find(|p| p.kind == Kind::Recoverability)
        .expect("recoverability ran");
    assert_eq!(p.outcome, Outcome::Violated);
    let trace = p.trace.as_ref().expect("a path to the stuck state");
    assert!(
        trace
            .steps
            .iter()
            .any(|s| s.action.starts_with("network splits")),
        "{trace}"
    );
    // From the last state of the path, whatever happens (healing included),
    // no single leader known to all is ever reached.
    let liveness = result.liveness.as_ref().expect("stats");
    assert!(liveness.claims.iter().any(|c| c.violating_states > 0));
}

#[test]
fn recoverability_holds_on_the_complete_graph_where_it_should() {
    let result = run_scenario("bully-3-ordered-crash-stop-timely");
    assert_eq!(outcome(&result, "recoverability"), Outcome::Holds);
    let liveness = result.liveness.as_ref().expect("stats");
    // Both searches saw the same reachable graph.
    assert_eq!(liveness.states, result.unique_states);
}

#[test]
fn raft_without_persisted_votes_elects_two_leaders_in_one_term() {
    let result = run_scenario("raft-3-storage-lost");
    assert_eq!(outcome(&result, "election safety"), Outcome::Violated);
    assert!(result.all_met());
}

#[test]
fn stabilisation_slower_than_its_bound_is_a_violation_with_a_trace_through_gst() {
    let config = ModelConfig {
        nodes: 3,
        network: NetworkKind::Unordered,
        lossy: false,
        crashes: 1,
        recover: false,
        timing: Timing::Asynchronous,
        gst: true,
        stabilize_within: Some(2),
        max_in_flight: 6,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    // Two steps after GST are too few for any re-election: the checker must
    // produce a trace through the GST step, the longest way to a leader.
    let mut job = Job::new(
        ProtocolKind::Bully,
        config,
        CheckOptions::defaults_for(ProtocolKind::Bully),
    );
    for other in ["single leader", "agreement", "highest live id leads"] {
        job.expect.insert(other.into(), Expect::Violated);
    }
    let result = run::run_job(&job, &mut |_| {}).expect("checkable");
    assert_eq!(
        outcome(&result, "stable leader after GST"),
        Outcome::Violated
    );
    let trace = result
        .property("stable leader after GST")
        .and_then(|p| p.trace.clone())
        .expect("trace");
    assert!(
        trace.steps.iter().any(|s| s.action.starts_with("GST")),
        "{trace}"
    );
}

#[test]
fn elect_check_runs_a_scenario_file() {
    let out = elect(&["check", "models/bully-halt-3-recovery-timely.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("bully-halt-3-recovery-timely (bully-halt)"),
        "{text}"
    );
    assert!(
        text.contains("recoverability") && text.contains("holds (complete)"),
        "{text}"
    );
    // Expected violations are met expectations: exit 0 with the trace shown.
    let out = elect(&["check", "models/bully-3-recovery-timely.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("counterexample for \"single leader\""),
        "{text}"
    );
}

/// A search flag given with a scenario file overrides that one setting:
/// the file's depth bound and strategy stay.
#[test]
fn a_search_flag_overrides_only_its_own_setting_of_a_scenario_file() {
    let out = elect(&[
        "check",
        "models/bully-halt-3-asynchronous.toml",
        "--threads",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("max depth 12,"), "{text}");
}

#[test]
fn bad_scenario_files_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "protocol = \"raft\"\ndescription = \"x\"\n[model]\nnodes = 3\nnetwork = \"unordered\"\nlossy = false\ncrashes = 0\nrecover = false\ntiming = \"asynchronous\"\nmax_term = 1\nmax_in_flight = 3\n[expect]\n\"election saftey\" = \"holds\"\n",
    )
    .expect("write");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "protocol = \"raft\"\n[model]\nnodes = \"three\"\n").expect("write");
    for (file, expect) in [
        (&typo, "no property \"election saftey\""),
        (&broken, "line 3"),
    ] {
        let out = elect(&["check", &file.display().to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// With a Paxos scenario, the report sets its state count beside the
/// 16,668 states of Stateright's own Paxos example, as a multiple.
#[test]
fn the_report_sets_paxos_beside_stateright_s_own_example() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = elect(&[
        "verify",
        "--only",
        "paxos-3-gst",
        "--out",
        &out_dir.path().display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(out_dir.path().join("report.md")).expect("report.md");
    let section = report
        .split("## Paxos beside Stateright's own example")
        .nth(1)
        .expect("the Paxos section");
    assert!(section.contains("pins 16668 unique states"), "{section}");
    let row = section
        .lines()
        .find(|l| l.starts_with("| paxos-3-gst |"))
        .expect("its row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let states: f64 = cells[3].parse().expect("a state count");
    let times: f64 = cells[4].parse().expect("a multiple");
    assert_eq!(times, (states / 16668.0).round(), "{row}");
}

#[test]
fn elect_verify_writes_the_report_and_fails_on_a_wrong_expectation() {
    let models = tempfile::tempdir().expect("tempdir");
    let out_dir = tempfile::tempdir().expect("tempdir");
    for name in ["bully-3-recovery-timely", "bully-halt-3-recovery-timely"] {
        std::fs::copy(
            format!("models/{name}.toml"),
            models.path().join(format!("{name}.toml")),
        )
        .expect("copy");
    }
    let args = |extra: &str| {
        vec![
            "verify".to_string(),
            "--models".into(),
            models.path().display().to_string(),
            "--out".into(),
            out_dir.path().join(extra).display().to_string(),
        ]
    };
    let out = Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(args("ok"))
        .output()
        .expect("verify");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(out_dir.path().join("ok/report.md")).expect("report.md");
    assert!(report.contains("| [bully-3-recovery-timely]"), "{report}");
    assert!(report.contains("**violated**"), "{report}");
    assert!(!report.contains("Paxos beside"), "no Paxos row: {report}");
    assert!(
        report.contains("<details><summary>single leader: counterexample"),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.path().join("ok/report.json")).expect("json"),
    )
    .expect("valid");
    assert_eq!(json["scenarios"].as_array().map(Vec::len), Some(2));

    // Claim the simple Bully is safe with recovery: verify must say no.
    let wrong = models.path().join("bully-3-recovery-timely.toml");
    let text = std::fs::read_to_string(&wrong).expect("read").replace(
        "\"single leader\" = \"violated\"",
        "\"single leader\" = \"holds\"",
    );
    std::fs::write(&wrong, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(args("wrong"))
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNEXPECTED: single leader"));
    let report =
        std::fs::read_to_string(out_dir.path().join("wrong/report.md")).expect("report.md");
    assert!(report.contains("✗ UNEXPECTED"), "{report}");
}
