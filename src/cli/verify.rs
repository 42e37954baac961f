//! `elect verify`: the verification matrix.

use super::Failure;
use crate::verification::matrix::{self, MutantResult};
use crate::verification::run::CheckResult;
use clap::Args;
use std::path::PathBuf;

/// `elect verify`'s flags.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Directory of scenario files.
    #[arg(long, default_value = "models", value_name = "DIR")]
    pub models: PathBuf,
    /// Where to write report.md and report.json.
    #[arg(long, default_value = "verification", value_name = "DIR")]
    pub out: PathBuf,
    /// Do not write the report files, only print the summary.
    #[arg(long)]
    pub no_write: bool,
    /// Only scenarios whose name contains this text (and, with --mutants,
    /// only the seeded bugs those scenarios catch).
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// Also check that every seeded bug is caught.
    #[arg(long)]
    pub mutants: bool,
    /// Also measure Raft's state counts with and without symmetry reduction.
    #[arg(long)]
    pub symmetry: bool,
    /// Also check every topology of 3 nodes (each set of directed links)
    /// for every protocol row.
    #[arg(long)]
    pub topologies: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn verify(args: VerifyArgs) -> Result<bool, Failure> {
    let mut command = String::from("elect verify");
    if args.mutants {
        command.push_str(" --mutants");
    }
    if args.symmetry {
        command.push_str(" --symmetry");
    }
    if args.topologies {
        command.push_str(" --topologies");
    }
    if let Some(only) = &args.only {
        command.push_str(&format!(" --only {only}"));
    }
    let quiet = args.json;
    let mut on_scenario = |r: &CheckResult| {
        if quiet {
            return;
        }
        let unmet: Vec<&str> = r
            .properties
            .iter()
            .filter(|p| !p.meets_expectation)
            .map(|p| p.name.as_str())
            .collect();
        let verdict = if unmet.is_empty() {
            "as expected".to_string()
        } else {
            format!("UNEXPECTED: {}", unmet.join(", "))
        };
        eprintln!(
            "{} {:<40} {:>10} states {:>7.1} s  {verdict}",
            if unmet.is_empty() { "✓" } else { "✗" },
            r.name,
            r.unique_states,
            r.seconds + r.liveness.as_ref().map_or(0.0, |l| l.seconds)
        );
    };
    let mut on_mutant = |m: &MutantResult| {
        if quiet {
            return;
        }
        match (&m.caught_by, &m.error) {
            (Some(p), _) => eprintln!(
                "✓ {:<40} caught by \"{p}\" ({} steps)",
                m.name,
                m.trace_steps.unwrap_or(0)
            ),
            (None, Some(e)) => eprintln!("✗ {:<40} error: {e}", m.name),
            (None, None) => eprintln!("✗ {:<40} SURVIVED", m.name),
        }
    };
    let report = matrix::verify(
        &args.models,
        args.only.as_deref(),
        matrix::Extras {
            mutants: args.mutants,
            symmetry: args.symmetry,
            topologies: args.topologies,
        },
        command,
        &mut on_scenario,
        &mut on_mutant,
    )
    .map_err(|e| Failure::Usage(e.to_string()))?;
    if !args.no_write {
        std::fs::create_dir_all(&args.out)
            .map_err(|e| Failure::Internal(format!("{}: {e}", args.out.display())))?;
        let md = args.out.join("report.md");
        std::fs::write(&md, matrix::render_markdown(&report))
            .map_err(|e| Failure::Internal(format!("{}: {e}", md.display())))?;
        let json = args.out.join("report.json");
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::Internal(format!("cannot encode the report: {e}")))?;
        std::fs::write(&json, text)
            .map_err(|e| Failure::Internal(format!("{}: {e}", json.display())))?;
        if !quiet {
            eprintln!("wrote {} and {}", md.display(), json.display());
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        if let Some(table) = &report.topologies {
            println!("every topology of {} nodes:", table.nodes);
            for line in crate::verification::topologies::summary_lines(table) {
                println!("  {line}");
            }
        }
        let met = report.scenarios.iter().filter(|r| r.all_met()).count();
        println!(
            "{met} of {} scenarios as expected{}; {:.0} s",
            report.scenarios.len(),
            if report.mutants.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} of {} seeded bugs caught",
                    report.mutants.iter().filter(|m| m.killed()).count(),
                    report.mutants.len()
                )
            },
            report.seconds
        );
    }
    Ok(report.all_met())
}
