//! Cost of model checking: `elect check <protocol> --nodes N --json` for
//! N = 3, 4, 5, … per protocol (Raft with and without symmetry reduction),
//! under `/usr/bin/time -v` for the peak resident memory.
//!
//!     CHECK_LIMIT_SECS=600 CHECK_MEM_LIMIT_MIB=8192 CHECK_MAX_N=9 \
//!     CHECK_SERIES=raft,raft-dup,bully,ring,bully-dfs,ring-dfs,raft-nosym cargo bench --bench check_cost
//!
//! Each run gets `--timeout CHECK_LIMIT_SECS` (default 600 s, the issue's
//! 10 minutes) and is stopped if its resident memory passes
//! CHECK_MEM_LIMIT_MIB (default 8192: breadth-first search keeps its
//! frontier in memory, and this machine is shared). Once a run of a series
//! does not finish, the series stops going up in N. CHECK_SERIES runs a
//! subset; the rows of the other series are kept from the existing
//! bench/results/check.csv (CHECK_SERIES=none only redraws). Writes bench/results/check.{csv,md} and
//! check-states.svg.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Series {
    key: &'static str,
    label: &'static str,
    protocol: &'static str,
    extra: &'static [&'static str],
    /// The model, as `elect check --help` states its defaults.
    model: &'static str,
    /// Only this N (a single data point beside the series).
    only: Option<usize>,
}

const RAFT_MODEL: &str = "lossy unordered network, 1 crash with recovery, asynchronous timing, terms ≤ 2, ≤ 5 messages in flight";
const BULLY_MODEL: &str = "reliable unordered network, 2 crashes (crash-stop), timely timing, bfs";

const SERIES: &[Series] = &[
    Series {
        key: "raft",
        label: "raft (symmetry)",
        protocol: "raft",
        extra: &[],
        model: RAFT_MODEL,
        only: None,
    },
    Series {
        key: "raft-dup",
        label: "raft duplicating (symmetry)",
        protocol: "raft",
        extra: &["--network", "duplicating"],
        model: "lossy duplicating (and reordering) network, 1 crash with recovery, asynchronous timing, terms ≤ 2, ≤ 5 messages in flight",
        only: Some(3),
    },
    Series {
        key: "bully",
        label: "bully",
        protocol: "bully",
        extra: &[],
        model: BULLY_MODEL,
        only: None,
    },
    Series {
        key: "ring",
        label: "ring",
        protocol: "ring",
        extra: &[],
        model: BULLY_MODEL,
        only: None,
    },
    Series {
        key: "bully-dfs",
        label: "bully (dfs)",
        protocol: "bully",
        extra: &["--strategy", "dfs"],
        model: "as bully, depth-first search (little memory)",
        only: None,
    },
    Series {
        key: "ring-dfs",
        label: "ring (dfs)",
        protocol: "ring",
        extra: &["--strategy", "dfs"],
        model: "as ring, depth-first search (little memory)",
        only: None,
    },
    Series {
        key: "raft-nosym",
        label: "raft (no symmetry)",
        protocol: "raft",
        extra: &["--symmetry=false"],
        model: RAFT_MODEL,
        only: None,
    },
];

#[derive(Clone)]
struct Run {
    label: String,
    protocol: String,
    n: usize,
    flags: String,
    states: u64,
    unique: u64,
    seconds: f64,
    finished: bool,
    bound_hit: bool,
    properties_ok: bool,
    peak_rss_kib: Option<u64>,
    /// Why an unfinished run stopped: `time`, `memory` or `error`.
    stopped_by: String,
}

struct Limits {
    secs: u64,
    mem_mib: u64,
    max_n: usize,
}

/// The first child of a process (the checker under /usr/bin/time).
fn first_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn run_one(s: &Series, n: usize, lim: &Limits) -> Run {
    let elect = env!("CARGO_BIN_EXE_elect");
    let mut args: Vec<String> = vec![
        "check".into(),
        s.protocol.into(),
        "--nodes".into(),
        n.to_string(),
        "--json".into(),
        "--timeout".into(),
        lim.secs.to_string(),
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
    let mut child = cmd
        .args(&args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create out.json"))
        .stderr(std::fs::File::create(&err_path).expect("create err.txt"))
        .spawn()
        .expect("start elect check");
    common::register(child.id());
    let started = Instant::now();
    // The checker stops itself at --timeout; this is only a safety net.
    let hard = Duration::from_secs(lim.secs + 120);
    let mut stopped_by = String::new();
    let mut peak_seen = 0;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {
                let checker = if timed {
                    first_child(child.id())
                } else {
                    Some(child.id())
                };
                let rss = checker.and_then(common::rss_kib).unwrap_or(0);
                peak_seen = peak_seen.max(rss);
                let over_memory = rss > lim.mem_mib * 1024;
                if over_memory || started.elapsed() > hard {
                    stopped_by = if over_memory { "memory" } else { "time" }.into();
                    if let Some(pid) = checker {
                        common::send_signal(pid, nix::sys::signal::Signal::SIGKILL);
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
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
        .and_then(|v| v.trim().parse().ok())
        .or((peak_seen > 0).then_some(peak_seen));
    let flags = format!("--nodes {n} {}", s.extra.join(" "))
        .trim()
        .to_string();
    let mut run = Run {
        label: s.label.into(),
        protocol: s.protocol.into(),
        n,
        flags,
        states: 0,
        unique: 0,
        seconds: wall,
        finished: false,
        bound_hit: false,
        properties_ok: false,
        peak_rss_kib,
        stopped_by,
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) else {
        if run.stopped_by.is_empty() {
            run.stopped_by = "error".into();
            eprintln!(
                "{} N={n}: no JSON result after {wall:.0} s; stderr tail: {}",
                s.label,
                err.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            );
        }
        return run;
    };
    let props = v["properties"].as_array().cloned().unwrap_or_default();
    run.states = v["states"].as_u64().unwrap_or(0);
    run.unique = v["unique_states"].as_u64().unwrap_or(0);
    run.seconds = v["seconds"].as_f64().unwrap_or(wall);
    run.finished = v["exhaustive"].as_bool() == Some(true);
    run.bound_hit = v["bound_hit"].as_bool() == Some(true);
    run.properties_ok = props
        .iter()
        .all(|p| p["meets_expectation"].as_bool() == Some(true));
    if !run.finished {
        run.stopped_by = "time".into();
    }
    run
}

const CSV_HEADER: &str = "series,protocol,n,flags,states,unique_states,seconds,unique_per_second,finished,bound_hit,properties_ok,peak_rss_kib,stopped_by";

/// Rows of an earlier check.csv (this format, or the first one without
/// `stopped_by`, where an unfinished run had reached the time limit).
fn read_previous() -> Vec<Run> {
    let path = common::results_dir().join("check.csv");
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() < 12 {
                return None;
            }
            let finished = f[8] == "true";
            Some(Run {
                label: f[0].into(),
                protocol: f[1].into(),
                n: f[2].parse().ok()?,
                flags: f[3].into(),
                states: f[4].parse().ok()?,
                unique: f[5].parse().ok()?,
                seconds: f[6].parse().ok()?,
                finished,
                bound_hit: f[9] == "true",
                properties_ok: f[10] == "true",
                peak_rss_kib: f[11].parse().ok(),
                stopped_by: match f.get(12) {
                    Some(s) => s.to_string(),
                    None if finished => String::new(),
                    None => "time".into(),
                },
            })
        })
        .collect()
}

fn main() {
    // A worker thread of its own, so that Ctrl-C is handled during a run;
    // kept alive until the end.
    let _rt = common::runtime(1);
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let lim = Limits {
        secs: env("CHECK_LIMIT_SECS", 600),
        mem_mib: env("CHECK_MEM_LIMIT_MIB", 8192),
        max_n: env("CHECK_MAX_N", 9) as usize,
    };
    let selected: Vec<&'static str> = match std::env::var("CHECK_SERIES") {
        Ok(list) => SERIES
            .iter()
            .map(|s| s.key)
            .filter(|k| list.split(',').any(|q| q == *k))
            .collect(),
        Err(_) => SERIES.iter().map(|s| s.key).collect(),
    };
    let selected_labels: Vec<&str> = SERIES
        .iter()
        .filter(|s| selected.contains(&s.key))
        .map(|s| s.label)
        .collect();
    let mut runs: Vec<Run> = if selected.len() < SERIES.len() {
        read_previous()
            .into_iter()
            .filter(|r| !selected_labels.contains(&r.label.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    // CHECK_SERIES=none redraws the table and plot from check.csv, keeping
    // the machine line of the run that measured them.
    let machine = if selected.is_empty() {
        std::fs::read_to_string(common::results_dir().join("check.md"))
            .ok()
            .and_then(|t| {
                let start = t.find("Machine: ")? + "Machine: ".len();
                let end = t[start..].find(".\n")? + start;
                Some(t[start..end].to_string())
            })
            .unwrap_or_else(common::machine)
    } else {
        // The load at the end is added by `report`.
        format!("{}. Load average at the end: {{end}}", common::machine())
    };
    for s in SERIES.iter().filter(|s| selected.contains(&s.key)) {
        let ns: Vec<usize> = match s.only {
            Some(n) => vec![n],
            None => (3..=lim.max_n).collect(),
        };
        for n in ns {
            eprintln!(
                "{} N={n}: running (limits {} s, {} MiB; load average {})",
                s.label,
                lim.secs,
                lim.mem_mib,
                common::load_average()
            );
            let r = run_one(s, n, &lim);
            eprintln!(
                "{} N={n}: {} unique states, {:.1} s, finished: {} {}",
                s.label, r.unique, r.seconds, r.finished, r.stopped_by
            );
            let stop = !r.finished;
            runs.push(r);
            // Write what is known so far: a long run may be interrupted.
            report(&runs, &lim, &machine);
            if stop {
                break;
            }
        }
    }
    report(&runs, &lim, &machine);
}

fn report(runs: &[Run], lim: &Limits, machine: &str) {
    // In the order of SERIES, then N.
    let mut runs: Vec<Run> = runs.to_vec();
    let order = |r: &Run| SERIES.iter().position(|s| s.label == r.label);
    runs.sort_by_key(|r| (order(r), r.n));
    let mut csv = format!("{CSV_HEADER}\n");
    let mut rows = Vec::new();
    for r in &runs {
        let ups = if r.seconds > 0.0 {
            r.unique as f64 / r.seconds
        } else {
            0.0
        };
        csv.push_str(&format!(
            "{},{},{},{},{},{},{:.2},{:.0},{},{},{},{},{}\n",
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
            r.peak_rss_kib.map(|k| k.to_string()).unwrap_or_default(),
            r.stopped_by,
        ));
        let model = SERIES
            .iter()
            .find(|s| s.label == r.label)
            .map(|s| s.model)
            .unwrap_or("");
        rows.push(vec![
            r.label.clone(),
            r.n.to_string(),
            model.to_string(),
            if r.states > 0 {
                r.states.to_string()
            } else {
                "–".into()
            },
            if r.unique > 0 {
                r.unique.to_string()
            } else {
                "–".into()
            },
            match (r.finished, r.stopped_by.as_str()) {
                (true, _) => format!("{:.1} s", r.seconds),
                (false, "memory") => format!(
                    "stopped at the {} MiB memory cap after {:.0} s",
                    lim.mem_mib, r.seconds
                ),
                (false, "error") => format!("failed after {:.0} s", r.seconds),
                (false, _) => format!("did not finish in {} s", lim.secs),
            },
            if r.unique > 0 {
                format!("{:.0}", ups)
            } else {
                "–".into()
            },
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
        "Cost of model checking: `elect check <protocol> --nodes N --json --timeout {}` \
         under `/usr/bin/time -v` (peak memory), each protocol with its default model. \
         A series stops at the first N that does not finish within {} s, or whose resident \
         memory passes {} MiB (breadth-first search keeps its frontier in memory; the machine \
         is shared). Raft's runs are exhaustive within the model's bounds (terms, messages in \
         flight).\n\n\
         Machine: {}.\n\n",
        lim.secs,
        lim.secs,
        lim.mem_mib,
        machine.replace("{end}", &common::load_average())
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
        let mine: Vec<&Run> = runs.iter().filter(|r| r.label == s.label).collect();
        if mine.is_empty() {
            continue;
        }
        let done = mine.iter().filter(|r| r.finished).map(|r| r.n).max();
        let why = match mine.iter().find(|r| !r.finished) {
            Some(r) if r.stopped_by == "memory" => format!(
                "N = {} passed the {} MiB memory cap after {:.0} s",
                r.n, lim.mem_mib, r.seconds
            ),
            Some(r) if r.stopped_by == "error" => format!("N = {} failed", r.n),
            Some(r) => format!("N = {} did not finish in {} s", r.n, lim.secs),
            None if done.unwrap_or(0) >= lim.max_n => {
                format!("CHECK_MAX_N = {} reached", lim.max_n)
            }
            None => "larger N not measured: the benchmark was interrupted".into(),
        };
        largest.push(format!(
            "{}: {} ({why})",
            s.label,
            done.map(|n| format!("N = {n}"))
                .unwrap_or_else(|| "none".into())
        ));
    }
    md.push_str(&format!(
        "Largest N that completes: {}.\n",
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
