//! Cost of model checking: `elect check <protocol> --nodes N --json` for
//! N = 3, 4, 5, … per protocol (Raft with and without symmetry reduction),
//! under `/usr/bin/time -v` for the peak resident memory.
//!
//!     CHECK_LIMIT_SECS=600 CHECK_MAX_N=8 cargo bench --bench check_cost
//!
//! Each run gets `--timeout CHECK_LIMIT_SECS` (default 600 s, the issue's
//! 10 minutes); once a run of a series does not finish, the series stops
//! going up in N. Writes bench/results/check.{csv,md} and check-states.svg.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Series {
    label: &'static str,
    protocol: &'static str,
    extra: &'static [&'static str],
    from_n: usize,
    /// Only these N (for a single data point beside the series).
    only: Option<usize>,
}

const SERIES: &[Series] = &[
    Series {
        label: "raft (symmetry)",
        protocol: "raft",
        extra: &[],
        from_n: 3,
        only: None,
    },
    Series {
        label: "raft duplicating (symmetry)",
        protocol: "raft",
        extra: &["--network", "duplicating"],
        from_n: 3,
        only: Some(3),
    },
    Series {
        label: "bully",
        protocol: "bully",
        extra: &[],
        from_n: 3,
        only: None,
    },
    Series {
        label: "ring",
        protocol: "ring",
        extra: &[],
        from_n: 3,
        only: None,
    },
    Series {
        label: "raft (no symmetry)",
        protocol: "raft",
        extra: &["--symmetry=false"],
        from_n: 3,
        only: None,
    },
];

struct Run {
    label: &'static str,
    protocol: &'static str,
    n: usize,
    flags: String,
    states: u64,
    unique: u64,
    seconds: f64,
    finished: bool,
    bound_hit: bool,
    properties_ok: bool,
    peak_rss_kib: Option<u64>,
    config: String,
}

fn run_one(s: &Series, n: usize, limit: u64) -> Option<Run> {
    let elect = env!("CARGO_BIN_EXE_elect");
    let mut args: Vec<String> = vec![
        "check".into(),
        s.protocol.into(),
        "--nodes".into(),
        n.to_string(),
        "--json".into(),
        "--timeout".into(),
        limit.to_string(),
    ];
    args.extend(s.extra.iter().map(|a| a.to_string()));
    let timed = std::path::Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(elect);
        c
    } else {
        Command::new(elect)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("out.json");
    let err_path = dir.path().join("err.txt");
    let child = cmd
        .args(&args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create out.json"))
        .stderr(std::fs::File::create(&err_path).expect("create err.txt"))
        .spawn()
        .expect("start elect check");
    let mut child = child;
    common::register(child.id());
    let started = Instant::now();
    // The checker stops itself at --timeout; this is only a safety net.
    let hard = Duration::from_secs(limit + 120);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > hard => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("wait for elect check: {e}"),
        }
    }
    common::unregister(child.id());
    let wall = started.elapsed().as_secs_f64();
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let peak_rss_kib = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok());
    let flags = format!("--nodes {n} {}", s.extra.join(" "))
        .trim()
        .to_string();
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) else {
        eprintln!(
            "{} N={n}: no JSON result after {wall:.0} s; stderr tail: {}",
            s.label,
            err.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        );
        return Some(Run {
            label: s.label,
            protocol: s.protocol,
            n,
            flags,
            states: 0,
            unique: 0,
            seconds: wall,
            finished: false,
            bound_hit: false,
            properties_ok: false,
            peak_rss_kib,
            config: String::new(),
        });
    };
    let props = v["properties"].as_array().cloned().unwrap_or_default();
    let c = &v["config"];
    let config = format!(
        "{} network{}, {} crash(es){}, {} timing{}",
        c["network"].as_str().unwrap_or("?"),
        if c["lossy"].as_bool() == Some(true) {
            " lossy"
        } else {
            ""
        },
        c["crashes"],
        if c["recover"].as_bool() == Some(true) {
            " with recovery"
        } else {
            ""
        },
        c["timing"].as_str().unwrap_or("?"),
        match c["max_term"].as_u64() {
            Some(t) if s.protocol == "raft" => format!(", terms ≤ {t}"),
            _ => String::new(),
        },
    );
    Some(Run {
        label: s.label,
        protocol: s.protocol,
        n,
        flags,
        states: v["states"].as_u64().unwrap_or(0),
        unique: v["unique_states"].as_u64().unwrap_or(0),
        seconds: v["seconds"].as_f64().unwrap_or(wall),
        finished: v["exhaustive"].as_bool() == Some(true),
        bound_hit: v["bound_hit"].as_bool() == Some(true),
        properties_ok: props
            .iter()
            .all(|p| p["meets_expectation"].as_bool() == Some(true)),
        peak_rss_kib,
        config,
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    common::cleanup_on_signal(&rt);
    let _guard = rt.enter();
    let limit: u64 = std::env::var("CHECK_LIMIT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let max_n: usize = std::env::var("CHECK_MAX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let machine = common::machine();
    let mut runs: Vec<Run> = Vec::new();
    for s in SERIES {
        let ns: Vec<usize> = match s.only {
            Some(n) => vec![n],
            None => (s.from_n..=max_n).collect(),
        };
        for n in ns {
            // Let the runtime notice Ctrl-C between runs.
            rt.block_on(tokio::task::yield_now());
            eprintln!(
                "{} N={n}: running (limit {limit} s, load average {})",
                s.label,
                common::load_average()
            );
            let Some(r) = run_one(s, n, limit) else {
                break;
            };
            eprintln!(
                "{} N={n}: {} unique states, {:.1} s, finished: {}",
                s.label, r.unique, r.seconds, r.finished
            );
            let stop = !r.finished;
            runs.push(r);
            // Write what is known so far: a long run may be interrupted.
            report(&runs, limit, max_n, &machine);
            if stop {
                break;
            }
        }
    }
    report(&runs, limit, max_n, &machine);
}

fn report(runs: &[Run], limit: u64, max_n: usize, machine: &str) {
    let mut csv = String::from(
        "series,protocol,n,flags,states,unique_states,seconds,unique_per_second,finished,bound_hit,properties_ok,peak_rss_kib\n",
    );
    let mut rows = Vec::new();
    for r in runs {
        let ups = if r.seconds > 0.0 {
            r.unique as f64 / r.seconds
        } else {
            0.0
        };
        csv.push_str(&format!(
            "{},{},{},{},{},{},{:.2},{:.0},{},{},{},{}\n",
            r.label,
            r.protocol,
            r.n,
            r.flags,
            r.states,
            r.unique,
            r.seconds,
            ups,
            r.finished,
            r.bound_hit,
            r.properties_ok,
            r.peak_rss_kib.map(|k| k.to_string()).unwrap_or_default()
        ));
        rows.push(vec![
            r.label.to_string(),
            r.n.to_string(),
            r.config.clone(),
            r.states.to_string(),
            r.unique.to_string(),
            if r.finished {
                format!("{:.1} s", r.seconds)
            } else {
                format!("did not finish in {limit} s")
            },
            format!("{ups:.0}"),
            r.peak_rss_kib
                .map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "–".into()),
            if !r.finished {
                "(stopped)".into()
            } else if r.properties_ok {
                "all as expected".into()
            } else {
                "NOT as expected".into()
            },
        ]);
    }
    let mut md = format!(
        "Cost of model checking: `elect check <protocol> --nodes N --json --timeout {limit}` \
         under `/usr/bin/time -v`, each protocol with its default model (below). \
         A series stops at the first N that does not finish within {limit} s.\n\n\
         Machine at start: {machine}. Load average at the end: {}.\n\n",
        common::load_average()
    );
    md.push_str(&common::md_table(
        &[
            "series",
            "N",
            "model",
            "states",
            "unique states",
            "seconds",
            "unique states / s",
            "peak memory (RSS)",
            "properties",
        ],
        &rows,
    ));
    md.push('\n');
    let mut largest = Vec::new();
    for s in SERIES.iter().filter(|s| s.only.is_none()) {
        let done: Vec<usize> = runs
            .iter()
            .filter(|r| r.label == s.label && r.finished)
            .map(|r| r.n)
            .collect();
        let stopped = runs.iter().any(|r| r.label == s.label && !r.finished);
        largest.push(format!(
            "{}: {}{}",
            s.label,
            done.iter()
                .max()
                .map(|n| format!("N = {n}"))
                .unwrap_or_else(|| "none".into()),
            if stopped {
                format!(" (the next N did not finish in {limit} s)")
            } else if done.iter().max().copied().unwrap_or(0) < max_n {
                " (larger N not measured: the benchmark was interrupted)".to_string()
            } else {
                format!(" (stopped at CHECK_MAX_N = {max_n}, not at the time limit)")
            }
        ));
    }
    md.push_str(&format!(
        "Largest N that completes within {limit} s: {}.\n",
        largest.join("; ")
    ));
    println!("\n{md}");
    common::write_result("check.csv", &csv);
    common::write_result("check.md", &md);
    let series: Vec<(String, Vec<(f64, f64)>)> = SERIES
        .iter()
        .filter(|s| s.only.is_none())
        .map(|s| {
            (
                s.label.to_string(),
                runs.iter()
                    .filter(|r| r.label == s.label && r.finished)
                    .map(|r| (r.n as f64, r.unique as f64))
                    .collect(),
            )
        })
        .collect();
    common::line_plot(
        "check-states.svg",
        "Unique states explored by elect check (completed runs)",
        "nodes N",
        "unique states (log scale)",
        &series,
        true,
    );
}
