//! `elect node` and `elect status`.

use super::Failure;
use crate::protocols::{Protocol, ProtocolKind, Timeouts};
use crate::runtime::admin::{query_status, StatusReport};
use crate::runtime::auth::Key;
use crate::runtime::faults::{FaultCommand, FaultSpec, Partition};
use crate::runtime::{self, wire, LeadershipEvent, NodeConfig, StartError};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Default)]
pub struct NodeArgs {
    /// Read settings from this TOML file; flags given as well override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Protocol to run.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolKind>,
    /// This node's id: its index in --peers.
    #[arg(long)]
    pub id: Option<usize>,
    /// Every member's address, in id order, this node's own included
    /// (e.g. 127.0.0.1:7000,127.0.0.1:7001,[::1]:7002).
    #[arg(long, value_delimiter = ',', value_name = "ADDR,ADDR,...")]
    pub peers: Option<Vec<String>>,
    /// Directory for durable storage (Raft's term and vote).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Leader heartbeat period in milliseconds [default: 50].
    #[arg(long, value_name = "MS")]
    pub heartbeat_ms: Option<u64>,
    /// Election timeout range in milliseconds [default: 500..1000].
    #[arg(long, value_name = "LO..HI")]
    pub election_timeout_ms: Option<String>,
    /// How long to wait for a direct answer (Bully's OK, Ring's ack) in
    /// milliseconds [default: 25].
    #[arg(long, value_name = "MS")]
    pub reply_ms: Option<u64>,
    /// Cluster name; datagrams of other clusters are dropped [default: elect].
    #[arg(long, value_name = "NAME")]
    pub cluster_id: Option<String>,
    /// Format of the leadership events on stdout and the logs on stderr
    /// [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Seed for timer randomisation and injected faults (default: from the OS).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Inject faults into every message this node sends, e.g.
    /// drop=0.2,dup=0.05,delay=0..30ms.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Shared cluster key: authenticate every datagram with HMAC-SHA256. The
    /// file must not be readable by group or others.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// The same settings as a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    protocol: Option<ProtocolKind>,
    id: Option<usize>,
    peers: Option<Vec<String>>,
    data_dir: Option<PathBuf>,
    heartbeat_ms: Option<u64>,
    election_timeout_ms: Option<String>,
    reply_ms: Option<u64>,
    cluster_id: Option<String>,
    log_format: Option<LogFormat>,
    seed: Option<u64>,
    faults: Option<String>,
    key_file: Option<PathBuf>,
}

/// Parses `500..1000` (or a single `700`) into a duration range.
pub fn parse_ms_range(s: &str) -> Result<std::ops::Range<Duration>, String> {
    let bad =
        || format!("--election-timeout-ms '{s}' is not LO..HI in milliseconds (e.g. 500..1000)");
    let (lo, hi) = match s.split_once("..") {
        Some((lo, hi)) => (lo.trim(), hi.trim()),
        None => (s.trim(), s.trim()),
    };
    let lo: u64 = lo.parse().map_err(|_| bad())?;
    let hi: u64 = hi.parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok(Duration::from_millis(lo)..Duration::from_millis(hi))
}

/// Parses one `IP:PORT` (IPv6 as `[::1]:PORT`).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("--peers: '{s}' is not an IP:PORT address (IPv6 as [::1]:7000)"))
}

/// A fully resolved node command.
pub struct NodeSettings {
    pub protocol: ProtocolKind,
    pub config: NodeConfig,
    pub log_format: LogFormat,
}

impl NodeArgs {
    pub fn settings(self) -> Result<NodeSettings, Failure> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Failure::Usage(format!("--config {}: {e}", path.display())))?;
                toml::from_str::<NodeFile>(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map_or(0, |span| text[..span.start].matches('\n').count() + 1);
                    Failure::Usage(format!(
                        "--config {} line {line}: {}",
                        path.display(),
                        e.message().trim()
                    ))
                })?
            }
            None => NodeFile::default(),
        };
        let protocol = self
            .protocol
            .or(file.protocol)
            .ok_or_else(|| Failure::Usage("--protocol is required (bully, ring or raft)".into()))?;
        let id = self
            .id
            .or(file.id)
            .ok_or_else(|| Failure::Usage("--id is required".into()))?;
        let peers = self.peers.or(file.peers).ok_or_else(|| {
            Failure::Usage("--peers is required (every member's IP:PORT, in id order)".into())
        })?;
        let peers = peers
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| parse_addr(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::Usage)?;
        let mut timeouts = Timeouts::default();
        if let Some(ms) = self.heartbeat_ms.or(file.heartbeat_ms) {
            if ms == 0 {
                return Err(Failure::Usage("--heartbeat-ms must be at least 1".into()));
            }
            timeouts.heartbeat = Duration::from_millis(ms);
        }
        if let Some(range) = self.election_timeout_ms.or(file.election_timeout_ms) {
            timeouts.election = parse_ms_range(&range).map_err(Failure::Usage)?;
        }
        if let Some(ms) = self.reply_ms.or(file.reply_ms) {
            if ms == 0 {
                return Err(Failure::Usage("--reply-ms must be at least 1".into()));
            }
            timeouts.reply = Duration::from_millis(ms);
        }
        let faults = match self.faults.or(file.faults) {
            Some(spec) => {
                FaultSpec::parse(&spec).map_err(|e| Failure::Usage(format!("--faults: {e}")))?
            }
            None => FaultSpec::default(),
        };
        let key = match self.key_file.or(file.key_file) {
            Some(path) => Some(Key::load(&path).map_err(Failure::Usage)?),
            None => None,
        };
        let config = NodeConfig {
            id,
            peers,
            cluster: self
                .cluster_id
                .or(file.cluster_id)
                .unwrap_or_else(|| "elect".into()),
            data_dir: self.data_dir.or(file.data_dir),
            timeouts,
            seed: self.seed.or(file.seed),
            faults,
            key,
            clock: crate::runtime::Clock::Wall,
        };
        config
            .validate()
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(NodeSettings {
            protocol,
            config,
            log_format: self
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
        })
    }
}

pub fn node(args: NodeArgs) -> Result<bool, Failure> {
    let settings = args.settings()?;
    super::init_logging(settings.log_format);
    if settings.protocol == ProtocolKind::Raft && settings.config.data_dir.is_none() {
        tracing::warn!("no --data-dir: term and vote live in memory only, so a restarted node may vote twice in a term");
    }
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        crate::with_protocol!(settings.protocol, P => run_node::<P>(settings).await)
    })
}

async fn run_node<P: Protocol>(settings: NodeSettings) -> Result<bool, Failure> {
    let format = settings.log_format;
    let node = runtime::start::<P>(settings.config)
        .await
        .map_err(|e| match e {
            StartError::Config(_) | StartError::Bind { .. } | StartError::Storage(_) => {
                Failure::Usage(e.to_string())
            }
        })?;
    let mut events = node.events();
    print_event(
        &LeadershipEvent::now(node.id(), *node.leadership().borrow()),
        format,
    );
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            signal = &mut stop => {
                tracing::info!(signal, "shutting down");
                node.shutdown().await.map_err(|e| Failure::Internal(e.to_string()))?;
                return Ok(true);
            }
            event = events.recv() => match event {
                Ok(event) => print_event(&event, format),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "leadership events missed"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    // The node task ended on its own: report why.
                    return match node.join().await {
                        Ok(()) => Ok(true),
                        Err(e) => Err(Failure::Internal(e.to_string())),
                    };
                }
            }
        }
    }
}

fn print_event(event: &LeadershipEvent, format: LogFormat) {
    use std::io::Write;
    let line = match format {
        LogFormat::Json => serde_json::to_string(event).unwrap_or_default(),
        LogFormat::Text => format!("{} n{} {}", event.time, event.node, event.view),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
pub(super) async fn shutdown_signal_public() -> &'static str {
    shutdown_signal().await
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Addresses of the nodes to ask (IP:PORT).
    #[arg(required = true, value_name = "ADDR")]
    pub addrs: Vec<String>,
    /// Cluster name the nodes run under [default: elect].
    #[arg(long, default_value = "elect", value_name = "NAME")]
    pub cluster_id: String,
    /// How long to wait for each node, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn status(args: StatusArgs) -> Result<bool, Failure> {
    let addrs = args
        .addrs
        .iter()
        .map(|a| parse_addr(a).map_err(|e| Failure::Usage(e.replace("--peers", "address"))))
        .collect::<Result<Vec<_>, _>>()?;
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

pub fn status_table(answers: &[(SocketAddr, Result<StatusReport, String>)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>4} {:<8} {:<10} {:>6} {:>5} {:>9} {:>8} {:>8} {:>7} {:>9}",
        "address",
        "node",
        "protocol",
        "role",
        "leader",
        "term",
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
                    "{:<22} {:>4} {:<8} {:<10} {:>6} {:>5} {:>8.1}s {:>8} {:>8} {:>7} {:>9}",
                    addr.to_string(),
                    format!("n{}", r.node),
                    r.protocol,
                    r.view.role.to_string(),
                    r.view.leader.map_or("-".into(), |l| format!("n{l}")),
                    r.view.term.map_or("-".into(), |t| t.to_string()),
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

#[derive(Args, Debug)]
pub struct FaultArgs {
    /// Addresses of the nodes to change (IP:PORT), then what to do:
    /// `partition A/B` (both ways) or `partition A>B` (one way), with A and B
    /// comma-separated node ids; `heal`; or `set drop=P,dup=P,delay=LO..HIms`.
    #[arg(required = true, num_args = 2.., value_name = "ADDR... COMMAND")]
    pub words: Vec<String>,
    /// Cluster name the nodes run under [default: elect].
    #[arg(long, default_value = "elect", value_name = "NAME")]
    pub cluster_id: String,
    /// The cluster key, if the nodes have one (needed to change them).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// How long to wait for each node, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// Splits `ADDR... partition SPEC | heal | set SPEC` into addresses and a command.
fn parse_fault_words(words: &[String]) -> Result<(Vec<SocketAddr>, FaultCommand), Failure> {
    let verb_at = words
        .iter()
        .position(|w| matches!(w.as_str(), "partition" | "heal" | "set"))
        .ok_or_else(|| {
            Failure::Usage(
                "missing command: partition A/B, heal, or set drop=..,dup=..,delay=..".into(),
            )
        })?;
    let addrs = words[..verb_at]
        .iter()
        .map(|a| parse_addr(a).map_err(|e| Failure::Usage(e.replace("--peers", "address"))))
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(Failure::Usage(
            "name at least one node address before the command".into(),
        ));
    }
    let rest = &words[verb_at + 1..];
    let command = match (words[verb_at].as_str(), rest) {
        ("heal", []) => FaultCommand::Heal,
        ("partition", [spec]) => {
            FaultCommand::Partition(Partition::parse(spec).map_err(Failure::Usage)?)
        }
        ("set", [spec]) => FaultCommand::Set(FaultSpec::parse(spec).map_err(Failure::Usage)?),
        (verb, _) => {
            return Err(Failure::Usage(format!(
                "'{verb}' takes {}",
                if verb == "heal" {
                    "no argument"
                } else {
                    "one argument"
                }
            )))
        }
    };
    Ok((addrs, command))
}

pub fn fault(args: FaultArgs) -> Result<bool, Failure> {
    let (addrs, command) = parse_fault_words(&args.words)?;
    let key = match &args.key_file {
        Some(path) => Some(Key::load(path).map_err(Failure::Usage)?),
        None => None,
    };
    let cluster = wire::cluster_id(&args.cluster_id);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let runtime = super::runtime()?;
    let mut all_ok = true;
    runtime.block_on(async {
        for addr in addrs {
            match runtime::admin::send_fault(addr, cluster, key.as_ref(), command.clone(), timeout)
                .await
            {
                Ok(text) => println!("{addr}: {text}"),
                Err(e) => {
                    all_ok = false;
                    eprintln!("elect: {e}");
                }
            }
        }
    });
    Ok(all_ok)
}
