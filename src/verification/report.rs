//! Printing check results for people.

use super::run::{CheckResult, Kind, Outcome};
use std::fmt::Write;

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Always => "safety",
        Kind::Sometimes => "sanity",
        Kind::Eventually => "liveness",
    }
}

/// The result table, then the counterexample traces (and the example traces
/// when `examples` is set).
pub fn render(result: &CheckResult, examples: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", result.protocol, result.config.describe());
    let name_w = result.properties.iter().map(|p| p.name.chars().count()).max().unwrap_or(8).max(8);
    let outcome_w = result
        .properties
        .iter()
        .map(|p| p.outcome.to_string().chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "  {:<name_w$}  {:<8}  {:<8}  {:<outcome_w$}  ",
        "property", "kind", "expected", "outcome"
    );
    for p in &result.properties {
        let mark = if p.meets_expectation { "ok" } else { "FAILED" };
        let _ = writeln!(
            out,
            "  {:<name_w$}  {:<8}  {:<8}  {:<outcome_w$}  {mark}",
            p.name,
            kind_label(p.kind),
            p.expect.to_string(),
            p.outcome.to_string(),
        );
    }
    let _ = writeln!(
        out,
        "  {} states, {} unique, max depth {}, {:.1} s ({}{}{}{})",
        result.states,
        result.unique_states,
        result.max_depth,
        result.seconds,
        match result.options.strategy {
            super::run::Strategy::Bfs => "bfs",
            super::run::Strategy::Dfs => "dfs",
        },
        if result.symmetry_used { " + symmetry" } else { "" },
        if result.exhaustive { ", exhaustive" } else { ", stopped early" },
        if result.bound_hit { ", bounded" } else { "" },
    );
    for p in &result.properties {
        let Some(trace) = &p.trace else { continue };
        let is_example = p.outcome == Outcome::ExampleFound;
        if is_example && !examples {
            continue;
        }
        let what = match &p.outcome {
            Outcome::ExampleFound => "example",
            Outcome::NotDecided { .. } => "path into the bound",
            _ => "counterexample",
        };
        let _ = writeln!(
            out,
            "\n{what} for \"{}\" ({} steps):",
            p.name,
            trace.steps.len()
        );
        let _ = write!(out, "{trace}");
    }
    out
}
