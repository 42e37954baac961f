//! Every topology of a small cluster, for every protocol row: where each
//! protocol is safe, and where it recovers a leader that every
//! quorum-connected node follows (`elect verify --topologies`).
//!
//! A topology is a set of directed links that work, fixed for the whole
//! run (`links` in [`ModelConfig`]). For 3 nodes there are 6 directed
//! links, so 64 topologies; all are checked, not only one per shape up to
//! relabelling, because Bully and Ring tell nodes apart by id. Each check
//! decides the complete graph on a reliable network with timely timers and
//! no crashes, so a failure is the topology's alone.

use super::run::{self, CheckError, CheckResult, Job};
use super::verdict::{CheckOptions, Kind, Outcome};
use crate::model::{ModelConfig, Timing};
use crate::protocols::ProtocolKind;
use crate::topology::Links;
use serde::Serialize;
use std::fmt::Write;
use std::time::Instant;

/// One row of the table: a protocol with its switches.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Row {
    /// How the table names it.
    pub label: &'static str,
    /// The protocol.
    pub protocol: ProtocolKind,
    /// Raft's PreVote and CheckQuorum, both on.
    pub pre_vote_and_check_quorum: bool,
}

/// The protocol rows the issue asks for: Bully, Bully with halt, Ring,
/// Raft, Raft with PreVote and CheckQuorum, Paxos.
pub const ROWS: [Row; 6] = [
    Row {
        label: "bully",
        protocol: ProtocolKind::Bully,
        pre_vote_and_check_quorum: false,
    },
    Row {
        label: "bully-halt",
        protocol: ProtocolKind::BullyHalt,
        pre_vote_and_check_quorum: false,
    },
    Row {
        label: "ring",
        protocol: ProtocolKind::Ring,
        pre_vote_and_check_quorum: false,
    },
    Row {
        label: "raft",
        protocol: ProtocolKind::Raft,
        pre_vote_and_check_quorum: false,
    },
    Row {
        label: "raft +PreVote +CheckQuorum",
        protocol: ProtocolKind::Raft,
        pre_vote_and_check_quorum: true,
    },
    Row {
        label: "paxos",
        protocol: ProtocolKind::Paxos,
        pre_vote_and_check_quorum: false,
    },
];

/// The model a row is checked in under `links`: its protocol's default
/// bounds, `nodes` nodes, a reliable network, no crashes, timely timers
/// and a GST step (so that stabilisation is decided too).
pub fn config(row: &Row, nodes: usize, links: Links) -> ModelConfig {
    ModelConfig {
        nodes,
        lossy: false,
        crashes: 0,
        recover: false,
        timing: Timing::Timely,
        gst: true,
        stabilize_within: None,
        links: Some(links),
        pre_vote: row.pre_vote_and_check_quorum,
        check_quorum: row.pre_vote_and_check_quorum,
        ..ModelConfig::default_for(row.protocol)
    }
}

/// Every set of directed links between `nodes` nodes (2^(n(n−1))), the
/// full mesh first, then by fewer links.
pub fn every_topology(nodes: usize) -> Vec<Links> {
    let pairs: Vec<(usize, usize)> = Links::complete(nodes).iter().collect();
    let mut all: Vec<Links> = (0u64..(1 << pairs.len()))
        .map(|mask| {
            let mut links = Links::NONE;
            for (i, &(a, b)) in pairs.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    links.insert(a, b);
                }
            }
            links
        })
        .collect();
    all.sort_by_key(|links| std::cmp::Reverse(links.iter().count()));
    all
}

/// What one check established for one row in one topology.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The safety properties refuted (empty: safe).
    pub unsafe_by: Vec<String>,
    /// Recoverability's outcome.
    pub recoverability: Outcome,
    /// Stabilisation's outcome ("stable leader after GST").
    pub stabilisation: Outcome,
    /// Distinct states of the complete graph.
    pub states: usize,
}

impl Cell {
    fn of(result: &CheckResult) -> Cell {
        let liveness = |kind: Kind| {
            result.properties.iter().find(|p| p.kind == kind).map_or(
                Outcome::NotDecided {
                    reason: "not checked".into(),
                },
                |p| p.outcome.clone(),
            )
        };
        Cell {
            unsafe_by: result
                .properties
                .iter()
                .filter(|p| p.kind == Kind::Always && p.outcome == Outcome::Violated)
                .map(|p| p.name.clone())
                .collect(),
            recoverability: liveness(Kind::Recoverability),
            stabilisation: liveness(Kind::Stabilisation),
            states: result.unique_states,
        }
    }

    /// No safety property refuted.
    pub fn safe(&self) -> bool {
        self.unsafe_by.is_empty()
    }

    /// Recoverability holds (within the bounds).
    pub fn recovers(&self) -> bool {
        holds(&self.recoverability)
    }

    /// Stabilisation holds (within the bounds).
    pub fn stable(&self) -> bool {
        holds(&self.stabilisation)
    }
}

fn holds(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Holds | Outcome::HoldsWithinBound)
}

/// One topology and every row's cell in it.
#[derive(Clone, Debug, Serialize)]
pub struct TopologyResult {
    /// The links that work.
    pub links: Links,
    /// Which nodes are quorum-connected in it.
    pub quorum_connected: Vec<bool>,
    /// One cell per row of [`ROWS`], in order.
    pub cells: Vec<Cell>,
}

/// The whole table.
#[derive(Clone, Debug, Serialize)]
pub struct TopologyTable {
    /// Cluster size.
    pub nodes: usize,
    /// The rows' labels, in order.
    pub rows: Vec<&'static str>,
    /// Every topology.
    pub topologies: Vec<TopologyResult>,
    /// Time taken.
    pub seconds: f64,
}

impl TopologyTable {
    /// Row `row`'s cells, one per topology.
    pub fn column(&self, row: usize) -> impl Iterator<Item = (&TopologyResult, &Cell)> {
        self.topologies.iter().map(move |t| (t, &t.cells[row]))
    }
}

/// Checks every row in every topology of `nodes` nodes; `on_row` hears of
/// each row as it finishes (its label and the seconds it took).
pub fn check_every_topology(
    nodes: usize,
    on_row: &mut dyn FnMut(&str, f64),
) -> Result<TopologyTable, CheckError> {
    let started = Instant::now();
    let topologies = every_topology(nodes);
    let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); topologies.len()];
    for row in &ROWS {
        let row_started = Instant::now();
        for (i, &links) in topologies.iter().enumerate() {
            let config = config(row, nodes, links);
            let options = CheckOptions {
                threads: 1,
                ..CheckOptions::defaults_for(row.protocol)
            };
            let job = Job::new(row.protocol, config, options);
            let result = run::run_job(&job, &mut |_| {})?;
            cells[i].push(Cell::of(&result));
        }
        on_row(row.label, row_started.elapsed().as_secs_f64());
    }
    Ok(TopologyTable {
        nodes,
        rows: ROWS.iter().map(|r| r.label).collect(),
        topologies: topologies
            .into_iter()
            .zip(cells)
            .map(|(links, cells)| TopologyResult {
                links,
                quorum_connected: links.quorum_connected(nodes, |_| true),
                cells,
            })
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn mark(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Holds | Outcome::HoldsWithinBound => "✓",
        Outcome::Violated => "**✗**",
        _ => "?",
    }
}

/// One line per row: how many topologies it is safe in, recovers in and
/// is stable in, for the terminal.
pub fn summary_lines(table: &TopologyTable) -> Vec<String> {
    let total = table.topologies.len();
    table
        .rows
        .iter()
        .enumerate()
        .map(|(row, label)| {
            let count = |f: &dyn Fn(&Cell) -> bool| table.column(row).filter(|(_, c)| f(c)).count();
            format!(
                "{label:<28} safe in {:>2} of {total}, recovers in {:>2}, stable in {:>2}",
                count(&|c| c.safe()),
                count(&Cell::recovers),
                count(&Cell::stable)
            )
        })
        .collect()
}

/// The table as a Markdown section: a summary per row, then every
/// topology.
pub fn render_markdown(table: &TopologyTable) -> String {
    let mut out = String::new();
    let n = table.nodes;
    let total = table.topologies.len();
    let _ = writeln!(
        out,
        "## Every topology of {n} nodes\n\n\
         Each of the {total} sets of directed links between {n} nodes, fixed for the whole run, \
         for each protocol row: reliable network, no crashes, timely timers, complete graph \
         ({:.0} s in all). *Safe*: no safety property of the protocol is violated. *Recovers*: from \
         every reachable state, a state can be reached in which one live node leads and every \
         quorum-connected node (links both ways with a majority, itself included) follows it. \
         *Stable*: after GST every path reaches such a state and stays there. Where no node is \
         quorum-connected, no election can succeed and the goal asks nothing.\n",
        table.seconds
    );
    let _ = writeln!(
        out,
        "| protocol | safe | recovers | stable | recovers where some node is quorum-connected |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let connected = table
        .topologies
        .iter()
        .filter(|t| t.quorum_connected.contains(&true))
        .count();
    for (row, label) in table.rows.iter().enumerate() {
        let count = |f: &dyn Fn(&Cell) -> bool| table.column(row).filter(|(_, c)| f(c)).count();
        let where_connected = table
            .column(row)
            .filter(|(t, c)| t.quorum_connected.contains(&true) && c.recovers())
            .count();
        let _ = writeln!(
            out,
            "| {label} | {} of {total} | {} of {total} | {} of {total} | {where_connected} of {connected} |",
            count(&|c| c.safe()),
            count(&Cell::recovers),
            count(&Cell::stable),
        );
    }
    let _ = writeln!(
        out,
        "\nEach cell: safety · recoverability · stabilisation (✓ holds, **✗** violated, ? not \
         decided). Links: `A-B` both ways, `A>B` one way.\n"
    );
    let _ = write!(out, "| links | quorum-connected |");
    for label in &table.rows {
        let _ = write!(out, " {label} |");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(table.rows.len()));
    for topology in &table.topologies {
        let connected: Vec<String> = topology
            .quorum_connected
            .iter()
            .enumerate()
            .filter(|(_, c)| **c)
            .map(|(i, _)| format!("n{i}"))
            .collect();
        let _ = write!(
            out,
            "| `{}` | {} |",
            topology.links,
            if connected.is_empty() {
                "none".to_string()
            } else {
                connected.join(" ")
            }
        );
        for cell in &topology.cells {
            let safety = if cell.safe() { "✓" } else { "**✗**" };
            let _ = write!(
                out,
                " {safety} {} {} |",
                mark(&cell.recoverability),
                mark(&cell.stabilisation)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_have_sixty_four_topologies_full_mesh_first() {
        let all = every_topology(3);
        assert_eq!(all.len(), 64);
        assert_eq!(all[0], Links::complete(3));
        assert_eq!(all[63], Links::NONE);
        let distinct: std::collections::BTreeSet<Links> = all.iter().copied().collect();
        assert_eq!(distinct.len(), 64);
    }
}
