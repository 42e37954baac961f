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

/// Every topology of 3 nodes, for every protocol row (64 × 6 checks of the
/// complete graph). The counts are pinned, as a state count is: a change to
/// a protocol that moves them must say why. What they show: the two
/// consensus-based rows are safe in every topology, while Bully and Ring,
/// which assume that every node hears every other, elect two coordinators
/// in most partial ones; on the full mesh every row is safe, recovers and
/// stabilises; in the chain `0-1 1-2` (Omni-Paxos's *chained* scenario)
/// neither Raft, with or without PreVote and CheckQuorum, nor Paxos
/// stabilises.
#[test]
fn every_topology_of_three_nodes_for_every_protocol_row() {
    use elect::verification::topologies::{self, ROWS};
    let table = topologies::check_every_topology(3, &mut |_, _| {}).expect("table");
    assert_eq!(table.topologies.len(), 64);
    let count = |row: usize, f: &dyn Fn(&topologies::Cell) -> bool| {
        table.column(row).filter(|(_, c)| f(c)).count()
    };
    let summary: Vec<(&str, usize, usize, usize)> = ROWS
        .iter()
        .enumerate()
        .map(|(i, row)| {
            (
                row.label,
                count(i, &|c| c.safe()),
                count(i, &|c| c.recovers()),
                count(i, &|c| c.stable()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bully", 14, 12, 12),
            ("bully-halt", 7, 4, 4),
            ("ring", 7, 3, 3),
            ("raft", 64, 55, 7),
            ("raft +PreVote +CheckQuorum", 64, 55, 40),
            ("paxos", 64, 52, 7),
        ]
    );
    let full = &table.topologies[0];
    assert_eq!(full.links, Links::complete(3));
    assert!(full
        .cells
        .iter()
        .all(|c| c.safe() && c.recovers() && c.stable()));
    let chain = Links::parse("0-1 1-2").expect("links");
    let chain = table
        .topologies
        .iter()
        .find(|t| t.links == chain)
        .expect("the chain");
    for (row, cell) in ROWS.iter().zip(&chain.cells) {
        if row.protocol != ProtocolKind::Bully && row.protocol != ProtocolKind::BullyHalt {
            assert_eq!(cell.stabilisation, Outcome::Violated, "{}", row.label);
        }
    }
}
