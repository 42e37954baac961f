//! Partial connectivity in the model: fixed topologies (`links`) and single
//! links that fail one way or both ways (`link_failures`).

use elect::model::{ModelConfig, Timing};
use elect::protocols::ProtocolKind;
use elect::topology::Links;
use elect::verification::run::{self, CheckResult, Job};
use elect::verification::verdict::{CheckOptions, Outcome};

/// `protocol` on 3 nodes, reliable, no crashes, timely timers, in the
/// topology `links` (all links when `None`), with `link_failures` failures.
fn check(protocol: ProtocolKind, links: Option<&str>, link_failures: usize) -> CheckResult {
    let config = ModelConfig {
        nodes: 3,
        lossy: false,
        crashes: 0,
        recover: false,
        timing: Timing::Timely,
        links: links.map(|l| Links::parse(l).expect("links")),
        link_failures,
        ..ModelConfig::default_for(protocol)
    };
    let job = Job::new(protocol, config, CheckOptions::defaults_for(protocol));
    run::run_job(&job, &mut |_| {}).expect("check")
}

fn outcome(result: &CheckResult, name: &str) -> Outcome {
    result
        .property(name)
        .unwrap_or_else(|| panic!("no property {name}"))
        .outcome
        .clone()
}

/// Omni-Paxos's *chained* scenario: with the link between n0 and n2 gone,
/// Raft's leadership can flip between them for ever — each deposes the
/// other through n1, whose election timer never fires because it always
/// hears a leader — so from some state no leader that all three follow can
/// be reached. With every link it recovers from every state.
#[test]
fn raft_cannot_always_recover_in_a_chain_of_three_but_can_on_a_full_mesh() {
    let chain = check(ProtocolKind::Raft, Some("0-1 1-2"), 0);
    assert_eq!(outcome(&chain, "election safety"), Outcome::Holds);
    assert_eq!(outcome(&chain, "recoverability"), Outcome::Violated);
    let trace = chain
        .property("recoverability")
        .and_then(|p| p.trace.as_ref())
        .expect("trace");
    assert!(!trace.steps.is_empty());
    let mesh = check(ProtocolKind::Raft, Some("0-1 0-2 1-2"), 0);
    assert_eq!(outcome(&mesh, "recoverability"), Outcome::Holds);
    assert_eq!(outcome(&mesh, "stable leader after GST"), Outcome::Holds);
}

/// A link that fails is an explicit step and heals by another; while it is
/// down nothing crosses it. On a full mesh, one failure of one link never
/// costs Raft its safety, and the network can always heal.
#[test]
fn a_failed_link_is_a_step_in_the_trace_and_heals() {
    let result = check(ProtocolKind::Raft, None, 1);
    assert_eq!(outcome(&result, "election safety"), Outcome::Holds);
    assert_eq!(outcome(&result, "recoverability"), Outcome::Holds);
    let kinds = &result.liveness.as_ref().expect("liveness").coverage;
    assert!(kinds.get("link fails").is_some_and(|&n| n > 0), "{kinds:?}");
    assert!(kinds.get("link heals").is_some_and(|&n| n > 0), "{kinds:?}");
    let without = check(ProtocolKind::Raft, None, 0);
    assert!(without.unique_states < result.unique_states);
}

#[test]
fn a_topology_naming_a_node_the_cluster_lacks_is_refused() {
    let config = ModelConfig {
        links: Some(Links::parse("0-1 1-3").expect("links")),
        ..ModelConfig::default_for(ProtocolKind::Raft)
    };
    let message = config.validate().expect_err("refused").to_string();
    assert_eq!(
        message,
        "links names node 3 but the cluster has 3 (ids 0 to 2)"
    );
}
