//! Printing check results for people.

use super::run::CheckResult;
use super::verdict::{Kind, Outcome, Strategy};
use std::fmt::Write;

/// The word a result table uses for a kind of property.
pub fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Always => "safety",
        Kind::Sometimes => "sanity",
        Kind::Eventually => "liveness",
        Kind::Recoverability => "liveness",
        Kind::Stabilisation => "liveness",
    }
}

/// The result table, then the counterexample traces (and, when `examples` is
/// set, the sanity examples and liveness paths that ended at a bound).
pub fn render(result: &CheckResult, examples: bool) -> String {
    let mut out = String::new();
    if result.name == result.protocol.name() {
        let _ = writeln!(out, "{}: {}", result.protocol, result.config.describe());
    } else {
        let _ = writeln!(
            out,
            "{} ({}): {}",
            result.name,
            result.protocol,
            result.config.describe()
        );
    }
    if !result.description.is_empty() {
        let _ = writeln!(out, "  {}", result.description);
    }
    let name_w = result
        .properties
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
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
        let mark = match (&p.outcome, p.meets_expectation) {
            (_, true) => "ok",
            (Outcome::NotDecided { .. }, false) => "?",
            (_, false) => "FAILED",
        };
        let _ = writeln!(
            out,
            "  {:<name_w$}  {:<8}  {:<8}  {:<outcome_w$}  {mark}",
            p.name,
            kind_label(p.kind),
            p.expect.to_string(),
            p.outcome.to_string(),
        );
    }
    let how = |search: &str| {
        format!(
            "{search}{}{}{}",
            if result.symmetry_used {
                " + symmetry"
            } else {
                ""
            },
            if result.exhaustive {
                ", exhaustive"
            } else {
                ", stopped early"
            },
            if result.bound_hit { ", bounded" } else { "" },
        )
    };
    let mut printed: Vec<(&str, String)> = Vec::new();
    match &result.liveness {
        None => {
            let search = match result.options.strategy {
                Strategy::Bfs => "bfs",
                Strategy::Dfs => "dfs",
            };
            let _ = writeln!(
                out,
                "  {} states, {} unique, max depth {}, {:.1} s ({})",
                result.states,
                result.unique_states,
                result.max_depth,
                result.seconds,
                how(search)
            );
        }
        Some(l) => {
            let _ = writeln!(
                out,
                "  {} states, {} transitions, max depth {}, {:.1} s ({})",
                l.states,
                l.edges,
                result.max_depth,
                l.seconds,
                how("complete graph, breadth-first")
            );
        }
    }
    if let (Strategy::Dfs, Some(depth), None) = (
        result.options.strategy,
        result.options.depth,
        &result.liveness,
    ) {
        let _ = writeln!(
            out,
            "  (depth-first to {depth} steps explores each state once, from the first path that \
             reaches it: a state first reached by a longer path is not explored again from a \
             shorter one, so this covers many but not all states within {depth} steps)"
        );
    }
    if let Some(l) = &result.liveness {
        if !l.coverage.is_empty() {
            let kinds: Vec<String> = l
                .coverage
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "  coverage (transitions per kind of step): {}",
                kinds.join(" · ")
            );
        }
        let settled = l.claims.iter().filter(|c| {
            c.kind == Kind::Stabilisation
                && matches!(c.outcome, Outcome::Holds | Outcome::HoldsWithinBound)
        });
        for c in settled {
            let _ = match c.steps_to_goal {
                Some(steps) => writeln!(out, "  {}: within {steps} steps after GST", c.name),
                None => writeln!(
                    out,
                    "  {}: under fairness (no timer or delivery starved for ever), with no bound on the steps",
                    c.name
                ),
            };
        }
    }
    for p in &result.properties {
        let Some(trace) = &p.trace else { continue };
        if p.outcome != Outcome::Violated && !examples {
            continue;
        }
        let what = match (&p.outcome, p.kind) {
            (Outcome::ExampleFound, _) => "example",
            (Outcome::NotDecided { .. }, _) => "path into the bound",
            (_, Kind::Recoverability) => "path to a state from which no leader can ever be elected",
            (_, Kind::Stabilisation) => "path after GST that never settles on a stable leader",
            _ => "counterexample",
        };
        let text = trace.to_string();
        if let Some((first, _)) = printed.iter().find(|(_, t)| *t == text) {
            let _ = writeln!(
                out,
                "\n{what} for \"{}\": the same trace as for \"{first}\"",
                p.name
            );
            continue;
        }
        let _ = writeln!(
            out,
            "\n{what} for \"{}\" ({} steps):",
            p.name,
            trace.steps.len()
        );
        let _ = write!(out, "{text}");
        printed.push((&p.name, text));
    }
    out
}
