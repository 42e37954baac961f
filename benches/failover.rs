//! Failover benchmark: SIGKILL the leader of a 3-node cluster of `elect node`
//! processes on loopback and time until every survivor agrees on a new one.
//!
//!     cargo bench --bench failover -- [ROUNDS] [raft,bully,ring]
//!
//! Prints min / median / p95 / max per protocol and the messages and bytes
//! the survivors sent from the kill to the agreement, and writes the raw
//! numbers to bench/results/failover.csv. A benchmark measures; nothing here
//! asserts a time.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};
use support::{TestCluster, Timing};

/// The settings the README quotes: heartbeat 50 ms, election 500–1000 ms.
const TIMING: Timing = Timing {
    heartbeat_ms: 50,
    election_ms: (500, 1000),
    reply_ms: 25,
};
const POLL: Duration = Duration::from_millis(5);

struct Round {
    failover: Duration,
    messages: u64,
    bytes: u64,
}

async fn survivors_sent(cluster: &TestCluster, survivors: &[usize]) -> (u64, u64) {
    let mut messages = 0;
    let mut bytes = 0;
    for &i in survivors {
        if let Some(r) = cluster.status(i).await {
            messages += r.counters.total_sent();
            bytes += r.counters.bytes_sent;
        }
    }
    (messages, bytes)
}

async fn measure(protocol: &'static str, rounds: usize) -> Vec<Round> {
    let mut cluster = TestCluster::start_with(protocol, 3, TIMING);
    let mut out = Vec::new();
    let settle = Duration::from_secs(15);
    for round in 0..rounds {
        let Some((leader, _)) = cluster.wait_for_agreed_leader(settle).await else {
            eprintln!("{protocol}: round {round}: no stable leader, skipped");
            continue;
        };
        // Stable: let a few heartbeats pass so every node has settled.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let survivors: Vec<usize> = cluster
            .live()
            .into_iter()
            .filter(|&i| i != leader)
            .collect();
        let (m0, b0) = survivors_sent(&cluster, &survivors).await;
        let killed = Instant::now();
        cluster.kill(leader);
        let Some((_, _)) = cluster.poll_for_agreed_leader(settle, POLL).await else {
            eprintln!("{protocol}: round {round}: no new leader within {settle:?}");
            cluster.spawn(leader);
            continue;
        };
        let failover = killed.elapsed();
        let (m1, b1) = survivors_sent(&cluster, &survivors).await;
        out.push(Round {
            failover,
            messages: m1 - m0,
            bytes: b1 - b0,
        });
        eprintln!(
            "{protocol}: round {:>2}: {:>5} ms, {} messages",
            round + 1,
            failover.as_millis(),
            m1 - m0
        );
        cluster.spawn(leader);
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let protocols: Vec<&'static str> = match args.get(1) {
        Some(list) => ["raft", "bully", "ring"]
            .into_iter()
            .filter(|p| list.split(',').any(|q| q == *p))
            .collect(),
        None => vec!["raft", "bully", "ring"],
    };
    let mut table = String::new();
    let mut csv = String::from("protocol,round,failover_ms,messages,bytes\n");
    let _ = writeln!(
        table,
        "| protocol | rounds | min | median | p95 | max | messages / election | bytes / election |\n|---|---|---|---|---|---|---|---|"
    );
    for protocol in protocols {
        let results = measure(protocol, rounds).await;
        for (i, r) in results.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{protocol},{},{:.1},{},{}",
                i + 1,
                r.failover.as_secs_f64() * 1000.0,
                r.messages,
                r.bytes
            );
        }
        if results.is_empty() {
            continue;
        }
        let mut times: Vec<Duration> = results.iter().map(|r| r.failover).collect();
        times.sort();
        let mut msgs: Vec<u64> = results.iter().map(|r| r.messages).collect();
        msgs.sort();
        let mut bytes: Vec<u64> = results.iter().map(|r| r.bytes).collect();
        bytes.sort();
        let ms = |d: Duration| format!("{} ms", d.as_millis());
        let _ = writeln!(
            table,
            "| {protocol} | {} | {} | {} | {} | {} | {} (median) | {} (median) |",
            results.len(),
            ms(times[0]),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(times[times.len() - 1]),
            msgs[msgs.len() / 2],
            bytes[bytes.len() / 2],
        );
    }
    println!("\nFailover of a 3-node cluster on 127.0.0.1 (heartbeat {} ms, election timeout {}–{} ms, reply {} ms; poll every {} ms):\n", TIMING.heartbeat_ms, TIMING.election_ms.0, TIMING.election_ms.1, TIMING.reply_ms, POLL.as_millis());
    println!("{table}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("failover.csv"), csv);
        let _ = std::fs::write(dir.join("failover.md"), table);
    }
}
