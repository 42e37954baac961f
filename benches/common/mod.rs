//! Shared by the benchmarks: child-process bookkeeping (so that Ctrl-C leaves
//! no etcd, ZooKeeper or `elect node` behind), statistics, a description of
//! the machine, and SVG plots drawn with `plotters`.

#![allow(dead_code)]

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Every child process a benchmark started and has not reaped yet.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub fn register(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.push(pid);
    }
}

pub fn unregister(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.retain(|&p| p != pid);
    }
}

/// A process and its descendants, descendants first.
fn with_descendants(pid: u32, out: &mut Vec<u32>) {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        with_descendants(c, out);
    }
    out.push(pid);
}

/// SIGKILL (after SIGCONT, for frozen ones) every registered child and its
/// descendants (e.g. the checker under /usr/bin/time).
pub fn kill_all_children() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let registered: Vec<u32> = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    let mut pids = Vec::new();
    for pid in registered {
        with_descendants(pid, &mut pids);
    }
    for pid in pids {
        let pid = Pid::from_raw(pid as i32);
        let _ = kill(pid, Signal::SIGCONT);
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// A tokio runtime with `workers` threads whose Ctrl-C and SIGTERM kill
/// every child before the benchmark exits.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    cleanup_on_signal(&rt);
    rt
}

/// The benchmark's own arguments: what `cargo bench` passes, minus its flags.
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}

/// Resident memory of a process in KiB (`VmRSS`), if it is still there.
pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// On Ctrl-C or SIGTERM: kill every child and exit. Needs a tokio runtime.
pub fn cleanup_on_signal(rt: &tokio::runtime::Runtime) {
    rt.spawn(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term_recv = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term_recv => {}
        }
        eprintln!("interrupted: stopping every child process");
        kill_all_children();
        std::process::exit(130);
    });
}

pub fn send_signal(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

/// Nearest-rank percentile of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn results_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&dir).expect("create bench/results");
    dir
}

pub fn write_result(name: &str, contents: &str) {
    let path = results_dir().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Date, cores, memory, kernel and load average, for the results files.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib: u64 = read_trimmed("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let model = read_trimmed("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let load = read_trimmed("/proc/loadavg");
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{date}; {cores} cores ({model}), {:.1} GiB memory, Linux {}; load average {} (1/5/15 min)",
        mem_kib as f64 / 1024.0 / 1024.0,
        read_trimmed("/proc/sys/kernel/osrelease"),
        load.join(" / "),
    )
}

pub fn load_average() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A Markdown table from a header and rows.
pub fn md_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", header.iter().map(|_| "---|").collect::<String>());
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One column of points per category, with a bar at the median: a strip
/// plot of every measured round.
pub fn strip_plot(file: &str, title: &str, y_label: &str, categories: &[(String, Vec<f64>)]) {
    let path = results_dir().join(file);
    let root = SVGBackend::new(&path, (900, 480)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let y_max = categories
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0f64, f64::max)
            * 1.1
            + 1.0;
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max)?;
        let names: Vec<String> = categories.iter().map(|(c, _)| c.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc(y_label)
            .draw()?;
        for (i, (_, values)) in categories.iter().enumerate() {
            let c = color(i);
            let k = values.len().max(1) as f64;
            chart.draw_series(values.iter().enumerate().map(|(j, &v)| {
                let jitter = (j as f64 / k - 0.5) * 0.4;
                Circle::new((i as f64 + jitter, v), 3, c.mix(0.6).filled())
            }))?;
            if !values.is_empty() {
                let mut sorted = values.clone();
                sorted.sort_by(|a, b| a.total_cmp(b));
                let median = percentile(&sorted, 0.5);
                chart.draw_series(LineSeries::new(
                    [(i as f64 - 0.3, median), (i as f64 + 0.3, median)],
                    c.stroke_width(3),
                ))?;
            }
        }
        root.present()?;
        Ok(())
    };
    match draw() {
        Ok(()) => eprintln!("wrote {}", path.display()),
        Err(e) => eprintln!("plot {}: {e}", path.display()),
    }
}

/// A series whose name ends in "theory" is drawn thin with hollow points, in
/// the colour of the measured series of the same position among the others.
fn series_style(series: &[(String, Vec<(f64, f64)>)], i: usize) -> (RGBColor, u32, bool) {
    let theory = |s: &(String, Vec<(f64, f64)>)| s.0.ends_with("theory");
    if theory(&series[i]) {
        let k = series[..i].iter().filter(|s| theory(s)).count();
        (color(k), 1, false)
    } else {
        let k = series[..i].iter().filter(|s| !theory(s)).count();
        (color(k), 2, true)
    }
}

/// Draws the mesh, one line with points per series, and the legend, on a
/// linear or logarithmic y axis alike.
fn draw_lines<'a, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let (c, width, filled) = series_style(series, i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(width)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
        chart.draw_series(pts.iter().map(|&p| {
            let style = if filled {
                c.filled()
            } else {
                c.stroke_width(1)
            };
            Circle::new(p, 4, style)
        }))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok(())
}

/// Lines of (x, y) points, one per series; optional log scale on y.
pub fn line_plot(
    file: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) {
    let path = results_dir().join(file);
    let root = SVGBackend::new(&path, (900, 480)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let points = series.iter().flat_map(|(_, v)| v.iter().copied());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in points {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 1.0, 10.0);
        }
        let x_range = (x0 - 0.5)..(x1 + 0.5);
        let mut caption = ChartBuilder::on(&root);
        caption
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(50)
            .y_label_area_size(80);
        if log_y {
            let lo = (y0.max(1e-3)) / 2.0;
            let chart =
                caption.build_cartesian_2d(x_range, (lo..(y1 * 2.0).max(lo * 10.0)).log_scale())?;
            draw_lines(chart, x_label, y_label, series)?;
        } else {
            let chart = caption.build_cartesian_2d(x_range, 0f64..(y1 * 1.1).max(1.0))?;
            draw_lines(chart, x_label, y_label, series)?;
        }
        root.present()?;
        Ok(())
    };
    match draw() {
        Ok(()) => eprintln!("wrote {}", path.display()),
        Err(e) => eprintln!("plot {}: {e}", path.display()),
    }
}
