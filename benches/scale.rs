//! Scale of the UDP runtime: clusters of 3, 5, 9, 17, 33 and 65 `elect node`
//! processes on 127.0.0.1 per protocol.
//!
//!     cargo bench --bench scale -- [SIZES] [PROTOCOLS]
//!
//! For each cluster: time from cold start (spawning the processes) to the
//! first leader every node agrees on; steady-state CPU % and resident memory
//! per idle node and heartbeat bytes per second over a 10 s window; then a
//! leader kill, with the messages and bytes the survivors sent until they
//! agree again, beside each algorithm's theoretical count. etcd's resident
//! memory per member at 3 members for comparison. Writes
//! bench/results/scale.{csv,md} and scale-leader.svg, scale-messages.svg.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use elect::leadership;
use elect::runtime::admin::{query_status, StatusReport};
use elect::runtime::wire;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{TestCluster, Timing};

const WINDOW: Duration = Duration::from_secs(10);

fn timing_for(n: usize) -> Timing {
    Timing {
        heartbeat_ms: 50,
        election_ms: if n <= 17 { (500, 1000) } else { (1000, 2000) },
        reply_ms: 25,
    }
}

/// Status of every node in `who`, asked concurrently.
async fn reports(addrs: &[SocketAddr], who: &[usize]) -> Vec<Option<StatusReport>> {
    let id = wire::cluster_id("elect");
    let mut set = tokio::task::JoinSet::new();
    for (k, &i) in who.iter().enumerate() {
        let a = addrs[i];
        set.spawn(async move {
            (
                k,
                query_status(a, id, Duration::from_millis(500)).await.ok(),
            )
        });
    }
    let mut out: Vec<Option<StatusReport>> = who.iter().map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((k, rep)) = r {
            out[k] = rep;
        }
    }
    out
}

/// The leader all of `who` agree on (a leader among them, nobody a candidate).
async fn agreed(addrs: &[SocketAddr], who: &[usize]) -> Option<usize> {
    let reps = reports(addrs, who).await;
    leadership::agreed_leader(
        who.iter()
            .zip(&reps)
            .map(|(&i, r)| (i, r.as_ref().map(|r| r.view))),
    )
}

async fn wait_agreed(
    addrs: &[SocketAddr],
    who: &[usize],
    within: Duration,
) -> Option<(usize, Duration)> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if let Some(l) = agreed(addrs, who).await {
            return Some((l, t0.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Mean and max CPU % (of one core) and RSS (KiB) over `WINDOW` for `pids`.
fn idle_usage(pids: &[u32]) -> (f64, f64, f64, f64) {
    let hz = clk_tck();
    let before: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let t0 = Instant::now();
    std::thread::sleep(WINDOW);
    let secs = t0.elapsed().as_secs_f64();
    let after: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let cpu: Vec<f64> = before
        .iter()
        .zip(&after)
        .filter_map(|(b, a)| Some((a.as_ref()? - b.as_ref()?) as f64 / hz / secs * 100.0))
        .collect();
    let rss: Vec<f64> = pids
        .iter()
        .filter_map(|&p| common::rss_kib(p))
        .map(|k| k as f64)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    (mean(&cpu), max(&cpu), mean(&rss), max(&rss))
}

/// Bully worst case (lowest survivor detects): elections to all higher,
/// answered by each live higher one, recursively, then one broadcast.
fn theory(protocol: &str, n: usize) -> (String, f64) {
    let n_f = n as f64;
    let s = n_f - 1.0; // survivors after the kill
    match protocol {
        // Survivors 0..s-1; node k sends ELECTION to the s-1-k higher live
        // ones (plus the dead one) and each answers OK: worst case all start.
        "bully" => (
            "worst ≈ s² (s = n−1 survivors: every one elects, higher ones answer) + s−1 coordinator".into(),
            {
                let mut m = 0.0;
                for k in 0..(n - 1) {
                    let higher = (n - 1 - k - 1) as f64;
                    m += (higher + 1.0) + higher;
                }
                m + (s - 1.0)
            },
        ),
        "ring" => ("2(n−1) token passes: one round of ELECTION, one of COORDINATOR over the survivors (each hop is also acknowledged here)".into(), 2.0 * s),
        "paxos" => (
            "4n−6: Prepare and Accept to the n−1 others (the dead one too) + n−2 promises and n−2 acceptances; the decision, which is also the leader's heartbeat, is not counted".into(),
            4.0 * n_f - 6.0,
        ),
        _ => (
            "2n−3 ≈ 2(n−1) per round: RequestVote to the n−1 other members (the dead one too) + n−2 votes".into(),
            2.0 * n_f - 3.0,
        ),
    }
}

/// The election messages by kind: heartbeats excluded where they have a kind of their own.
fn election_kinds(protocol: &str) -> &'static [&'static str] {
    match protocol {
        "raft" => &["RequestVote", "Vote"],
        "ring" => &["Election", "Coordinator"],
        "paxos" => &["Prepare", "Promise", "Accept", "Accepted", "Refused"],
        _ => &["Election", "Ok", "Coordinator"],
    }
}

#[derive(Default)]
struct Row {
    protocol: String,
    n: usize,
    timing: String,
    to_leader_ms: Option<f64>,
    cpu_mean: f64,
    cpu_max: f64,
    rss_mean_kib: f64,
    rss_max_kib: f64,
    heartbeat_bytes_per_s: f64,
    failover_ms: Option<f64>,
    messages: u64,
    election_messages: u64,
    bytes: u64,
    by_kind: BTreeMap<String, u64>,
    theory: f64,
    theory_text: String,
}

fn sent_by_kind(reps: &[Option<StatusReport>]) -> (BTreeMap<String, u64>, u64) {
    let mut kinds = BTreeMap::new();
    let mut bytes = 0;
    for r in reps.iter().flatten() {
        for (k, v) in &r.counters.sent {
            *kinds.entry(k.clone()).or_insert(0) += v;
        }
        bytes += r.counters.bytes_sent;
    }
    (kinds, bytes)
}

fn measure(rt: &tokio::runtime::Runtime, protocol: &'static str, n: usize) -> Row {
    let timing = timing_for(n);
    let mut row = Row {
        protocol: protocol.into(),
        n,
        timing: format!(
            "hb {} ms, election {}–{} ms",
            timing.heartbeat_ms, timing.election_ms.0, timing.election_ms.1
        ),
        ..Row::default()
    };
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with(protocol, n, timing);
    let pids: Vec<u32> = cluster.pids();
    for &p in &pids {
        common::register(p);
    }
    let addrs = cluster.addrs.clone();
    let all: Vec<usize> = (0..n).collect();
    let Some((leader, _)) = rt.block_on(wait_agreed(&addrs, &all, Duration::from_secs(120))) else {
        eprintln!("{protocol} n={n}: no agreed leader within 120 s of the cold start");
        for &p in &pids {
            common::unregister(p);
        }
        return row;
    };
    row.to_leader_ms = Some(common::ms(t0.elapsed()));
    eprintln!(
        "{protocol} n={n}: leader {leader} agreed {:.0} ms after the cold start",
        common::ms(t0.elapsed())
    );
    // Steady state: settle, then a quiet window with no status queries.
    std::thread::sleep(Duration::from_secs(2));
    let (_, b0) = sent_by_kind(&rt.block_on(reports(&addrs, &all)));
    let w0 = Instant::now();
    let (cpu_mean, cpu_max, rss_mean, rss_max) = idle_usage(&pids);
    let (_, b1) = sent_by_kind(&rt.block_on(reports(&addrs, &all)));
    row.cpu_mean = cpu_mean;
    row.cpu_max = cpu_max;
    row.rss_mean_kib = rss_mean;
    row.rss_max_kib = rss_max;
    row.heartbeat_bytes_per_s = b1.saturating_sub(b0) as f64 / w0.elapsed().as_secs_f64();
    // Leader kill: what the survivors send until they agree again.
    let leader = rt
        .block_on(wait_agreed(&addrs, &all, Duration::from_secs(30)))
        .map(|(l, _)| l)
        .unwrap_or(leader);
    let survivors: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
    let (k0, by0) = sent_by_kind(&rt.block_on(reports(&addrs, &survivors)));
    let killed = Instant::now();
    if let Some(p) = cluster.pid(leader) {
        common::unregister(p);
    }
    cluster.kill(leader);
    match rt.block_on(wait_agreed(&addrs, &survivors, Duration::from_secs(60))) {
        Some(_) => {
            row.failover_ms = Some(common::ms(killed.elapsed()));
            let (k1, by1) = sent_by_kind(&rt.block_on(reports(&addrs, &survivors)));
            for (k, v) in &k1 {
                let d = v.saturating_sub(k0.get(k).copied().unwrap_or(0));
                if d > 0 {
                    row.by_kind.insert(k.clone(), d);
                }
            }
            row.messages = row.by_kind.values().sum();
            row.election_messages = election_kinds(protocol)
                .iter()
                .map(|k| row.by_kind.get(*k).copied().unwrap_or(0))
                .sum();
            row.bytes = by1.saturating_sub(by0);
        }
        None => eprintln!("{protocol} n={n}: no agreement within 60 s of the leader kill"),
    }
    let (text, value) = theory(protocol, n);
    row.theory = value;
    row.theory_text = text;
    eprintln!(
        "{protocol} n={n}: idle cpu {:.2}% (max {:.2}%), rss {:.1} MiB, hb {:.0} B/s, failover {:?} ms, {} msgs ({} election)",
        row.cpu_mean,
        row.cpu_max,
        row.rss_mean_kib / 1024.0,
        row.heartbeat_bytes_per_s,
        row.failover_ms.map(|f| f.round()),
        row.messages,
        row.election_messages
    );
    for &p in &pids {
        common::unregister(p);
    }
    drop(cluster);
    std::thread::sleep(Duration::from_millis(500));
    row
}

/// etcd with 3 members, idle: resident memory and CPU per member.
fn etcd_idle() -> Option<(f64, f64, f64, f64)> {
    let ok = Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir for etcd");
    let listeners: Vec<std::net::TcpListener> = (0..6)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    drop(listeners);
    let url = |p: u16| format!("http://127.0.0.1:{p}");
    let initial: Vec<String> = (0..3)
        .map(|j| format!("m{j}={}", url(ports[3 + j])))
        .collect();
    let mut children = Vec::new();
    for i in 0..3 {
        let c = Command::new("etcd")
            .args([
                "--name",
                &format!("m{i}"),
                "--data-dir",
                &dir.path().join(format!("m{i}")).display().to_string(),
                "--listen-client-urls",
                &url(ports[i]),
                "--advertise-client-urls",
                &url(ports[i]),
                "--listen-peer-urls",
                &url(ports[3 + i]),
                "--initial-advertise-peer-urls",
                &url(ports[3 + i]),
                "--initial-cluster",
                &initial.join(","),
                "--initial-cluster-state",
                "new",
                "--heartbeat-interval=50",
                "--election-timeout=500",
                "--logger=zap",
                "--log-level=error",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        common::register(c.id());
        children.push(c);
    }
    std::thread::sleep(Duration::from_secs(8));
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let usage = idle_usage(&pids);
    for mut c in children {
        common::unregister(c.id());
        let _ = c.kill();
        let _ = c.wait();
    }
    Some(usage)
}

fn main() {
    let rt = common::runtime(2);
    let args = common::args();
    let sizes: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 5, 9, 17, 33, 65]);
    let protocols: Vec<&'static str> = match args.get(1) {
        Some(list) => ["raft", "bully", "ring", "paxos"]
            .into_iter()
            .filter(|p| list.split(',').any(|q| q == *p))
            .collect(),
        None => vec!["raft", "bully", "ring", "paxos"],
    };
    let machine = common::machine();
    let mut rows = Vec::new();
    for &p in &protocols {
        for &n in &sizes {
            rows.push(measure(&rt, p, n));
        }
    }
    let etcd = etcd_idle();
    let mut csv = String::from("protocol,n,timing,cold_start_to_leader_ms,idle_cpu_pct_mean,idle_cpu_pct_max,rss_kib_mean,rss_kib_max,heartbeat_bytes_per_s,failover_ms,messages,election_messages,bytes,theory_messages,messages_by_kind\n");
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_default();
    let mut table = Vec::new();
    for r in &rows {
        let kinds: Vec<String> = r.by_kind.iter().map(|(k, v)| format!("{k}={v}")).collect();
        csv.push_str(&format!(
            "{},{},{},{},{:.3},{:.3},{:.0},{:.0},{:.0},{},{},{},{},{:.0},{}\n",
            r.protocol,
            r.n,
            r.timing,
            opt(r.to_leader_ms),
            r.cpu_mean,
            r.cpu_max,
            r.rss_mean_kib,
            r.rss_max_kib,
            r.heartbeat_bytes_per_s,
            opt(r.failover_ms),
            r.messages,
            r.election_messages,
            r.bytes,
            r.theory,
            kinds.join(" ")
        ));
        let dash = || "–".to_string();
        table.push(vec![
            r.protocol.clone(),
            r.n.to_string(),
            r.timing.clone(),
            r.to_leader_ms
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_else(dash),
            format!("{:.2} % (max {:.2} %)", r.cpu_mean, r.cpu_max),
            format!(
                "{:.1} MiB (max {:.1})",
                r.rss_mean_kib / 1024.0,
                r.rss_max_kib / 1024.0
            ),
            format!("{:.0}", r.heartbeat_bytes_per_s),
            r.failover_ms
                .map(|v| format!("{v:.0} ms"))
                .unwrap_or_else(dash),
            if r.failover_ms.is_some() {
                format!("{} ({} election)", r.messages, r.election_messages)
            } else {
                dash()
            },
            format!("{:.0}", r.theory),
            if r.failover_ms.is_some() {
                r.bytes.to_string()
            } else {
                dash()
            },
        ]);
    }
    let mut md = format!(
        "Scale of the UDP runtime on 127.0.0.1: one `elect node` process per node. \
         Cold start = from spawning the processes to the first leader every node agrees on \
         (statuses asked concurrently every 10 ms). Idle CPU (% of one core, utime+stime from \
         /proc/PID/stat) and resident memory (VmRSS) per node over a {} s window without status \
         queries, 2 s after agreement; heartbeat bytes/s = bytes the whole cluster sent in that \
         window per second. Then the leader is SIGKILLed: messages and bytes the survivors sent \
         from the kill until they all agree (all kinds; in brackets the election kinds: Raft \
         RequestVote+Vote, Ring Election+Coordinator token passes (each pass is also acknowledged by an Ack, counted in all kinds), Bully Election+Ok+Coordinator, Paxos Prepare+Promise+Accept+Accepted+Refused, where \
         Bully's Coordinator is also its heartbeat), beside the theoretical count for one \
         election.\n\nMachine at start: {machine}. Load average at the end: {}.\n\n",
        WINDOW.as_secs(),
        common::load_average()
    );
    md.push_str(&common::md_table(
        &[
            "protocol",
            "n",
            "timing",
            "cold start → agreed leader",
            "idle CPU / node",
            "RSS / node",
            "heartbeat B/s (cluster)",
            "failover",
            "messages kill → agreement",
            "theory (one election)",
            "bytes kill → agreement",
        ],
        &table,
    ));
    md.push_str(
        "\nTheory: Bully worst case (the lowest survivor detects first, every survivor \
         starts an election to all higher ids, each live higher one answers, then one \
         coordinator broadcast) = Σ over survivors of (higher+1 ELECTION + higher OK) + n−2 \
         COORDINATOR, O(n²); Ring with one initiator = 2(n−1) token passes over the n−1 survivors (this runtime also acknowledges each pass); Raft \
         2n−3 ≈ 2(n−1) per round (RequestVote to the n−1 other members, the dead one included, and n−2 votes); Paxos \
         4n−6 (Prepare and Accept to the n−1 others, the dead one included, n−2 promises and n−2 acceptances; the decision is also the heartbeat and is not counted).\n",
    );
    match etcd {
        Some((cpu, cpu_max, rss, rss_max)) => md.push_str(&format!(
            "\netcd 3.4 with 3 members (--heartbeat-interval=50 --election-timeout=500), idle, \
             same window: {:.1} MiB resident per member (max {:.1} MiB), {cpu:.2} % CPU per member \
             (max {cpu_max:.2} %).\n",
            rss / 1024.0,
            rss_max / 1024.0
        )),
        None => md.push_str("\netcd is not installed: no comparison.\n"),
    }
    println!("\n{md}");
    common::write_result("scale.csv", &csv);
    common::write_result("scale.md", &md);
    let series = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        protocols
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    rows.iter()
                        .filter(|r| r.protocol == *p)
                        .filter_map(|r| Some((r.n as f64, f(r)?)))
                        .collect(),
                )
            })
            .collect()
    };
    common::line_plot(
        "scale-leader.svg",
        "Cold start to the first agreed leader",
        "nodes",
        "ms",
        &series(&|r| r.to_leader_ms),
        false,
    );
    let mut msgs = series(&|r| r.failover_ms.map(|_| r.messages as f64));
    for s in &mut msgs {
        s.0 = format!("{} measured (all kinds)", s.0);
    }
    for p in &protocols {
        msgs.push((
            format!("{p} theory"),
            sizes
                .iter()
                .map(|&n| (n as f64, theory(p, n).1.max(1.0)))
                .collect(),
        ));
    }
    common::line_plot(
        "scale-messages.svg",
        "Messages sent by the survivors from a leader kill to agreement",
        "nodes",
        "messages (log scale)",
        &msgs,
        true,
    );
}
