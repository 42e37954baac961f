//! `elect status`: ask running nodes for their view of leadership and their
//! counters.

use super::args::parse_addrs;
use super::Failure;
use crate::runtime::admin::{query_status, StatusReport};
use crate::runtime::wire;
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

/// The flags of `elect status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Addresses of the nodes to ask (IP:PORT).
    #[arg(required = true, value_name = "ADDR")]
    pub addrs: Vec<String>,
    /// Cluster name the nodes run under.
    #[arg(long, default_value = "elect", value_name = "NAME")]
    pub cluster_id: String,
    /// How long to wait for each node, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `elect status`; false when a node did not answer.
pub fn status(args: StatusArgs) -> Result<bool, Failure> {
    let addrs = parse_addrs("address", &args.addrs)?;
    let cluster = wire::cluster_id(&args.cluster_id);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let runtime = super::runtime()?;
    let answers: Vec<(SocketAddr, Result<StatusReport, String>)> = runtime.block_on(async {
        let queries = addrs.iter().map(|&a| async move {
            (
                a,
                query_status(a, cluster, timeout)
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
        futures_join_all(queries).await
    });
    let all_answered = answers.iter().all(|(_, r)| r.is_ok());
    if args.json {
        let doc: Vec<serde_json::Value> = answers
            .iter()
            .map(|(addr, r)| match r {
                Ok(report) => serde_json::json!({"addr": addr.to_string(), "status": report}),
                Err(e) => serde_json::json!({"addr": addr.to_string(), "error": e}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", status_table(&answers));
    }
    Ok(all_answered)
}

/// Runs the futures concurrently and collects their results in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// The table `elect status` prints: one line per node.
fn status_table(answers: &[(SocketAddr, Result<StatusReport, String>)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>4} {:<8} {:<10} {:>6} {:>5} {:>11} {:>9} {:>8} {:>8} {:>7} {:>9}",
        "address",
        "node",
        "protocol",
        "role",
        "leader",
        "term",
        "lease",
        "uptime",
        "sent",
        "received",
        "dropped",
        "elections"
    );
    for (addr, answer) in answers {
        match answer {
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "{:<22} {:>4} {:<8} {:<10} {:>6} {:>5} {:>11} {:>8.1}s {:>8} {:>8} {:>7} {:>9}",
                    addr.to_string(),
                    format!("n{}", r.node),
                    r.protocol,
                    r.view.role.to_string(),
                    r.view.leader.map_or("-".into(), |l| format!("n{l}")),
                    r.view.term.map_or("-".into(), |t| t.to_string()),
                    // The fencing token is the term, already shown.
                    r.lease
                        .map_or("-".into(), |l| format!("{} ms left", l.remaining_ms)),
                    r.uptime_ms as f64 / 1000.0,
                    r.counters.total_sent(),
                    r.counters.received.values().sum::<u64>(),
                    r.counters.total_dropped(),
                    r.counters.elections_started,
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<22} no answer: {e}", addr.to_string());
            }
        }
    }
    out
}
