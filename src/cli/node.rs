//! `elect node`: one node over UDP until SIGINT or SIGTERM.

use super::args::{self, LogFormat, RaftArgs, TimingArgs};
use super::Failure;
use crate::fencing::{self, Authority};
use crate::protocols::{Protocol, ProtocolKind};
use crate::runtime::auth::Key;
use crate::runtime::faults::FaultSpec;
use crate::runtime::{self, LeadershipEvent, LeaseChange, NodeConfig, StartError};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The flags of `elect node`.
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
    #[command(flatten)]
    pub timing: TimingArgs,
    #[command(flatten)]
    pub raft: RaftArgs,
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
    /// Run a leader-only writer beside the node: while the node may act as
    /// leader (with a valid lease when --lease-ms is on, else while it
    /// believes it leads) it sends a write with its fencing token to the
    /// fenced register at this IP:PORT (as `elect chaos` runs one).
    #[arg(long, value_name = "ADDR")]
    pub write_to: Option<String>,
    /// With --write-to: milliseconds between writes [default: 50].
    #[arg(long, value_name = "MS")]
    pub write_every_ms: Option<u64>,
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
    #[serde(default)]
    pre_vote: bool,
    #[serde(default)]
    check_quorum: bool,
    lease_ms: Option<u64>,
    drift: Option<f64>,
    cluster_id: Option<String>,
    log_format: Option<LogFormat>,
    seed: Option<u64>,
    faults: Option<String>,
    key_file: Option<PathBuf>,
    write_to: Option<String>,
    write_every_ms: Option<u64>,
}

/// A fully resolved node command.
struct NodeSettings {
    protocol: ProtocolKind,
    config: NodeConfig,
    log_format: LogFormat,
    /// The fenced register to write to as leader, and how often.
    writer: Option<(SocketAddr, Duration)>,
}

impl NodeArgs {
    /// Flags over the config file, checked.
    fn settings(self) -> Result<NodeSettings, Failure> {
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
        let peers: Vec<&String> = peers.iter().filter(|p| !p.trim().is_empty()).collect();
        let peers = args::parse_addrs("--peers", &peers)?;
        let timeouts = self
            .timing
            .or(TimingArgs {
                heartbeat_ms: file.heartbeat_ms,
                election_timeout_ms: file.election_timeout_ms,
                reply_ms: file.reply_ms,
            })
            .timeouts()?;
        let raft = self
            .raft
            .or(RaftArgs {
                pre_vote: file.pre_vote,
                check_quorum: file.check_quorum,
                lease_ms: file.lease_ms,
                drift: file.drift.map(|d| d.to_string()),
            })
            .options()?;
        let faults = match self.faults.or(file.faults) {
            Some(spec) => args::faults(&spec)?,
            None => FaultSpec::default(),
        };
        let key = match self.key_file.or(file.key_file) {
            Some(path) => Some(Key::load(&path).map_err(Failure::Usage)?),
            None => None,
        };
        let every = self.write_every_ms.or(file.write_every_ms);
        let writer = match (self.write_to.or(file.write_to), every) {
            (None, Some(_)) => {
                return Err(Failure::Usage(
                    "--write-every-ms paces the writer: give --write-to too".into(),
                ))
            }
            (None, None) => None,
            (Some(addr), every) => {
                let addr = args::parse_addrs("--write-to", &[addr])?[0];
                let every = match every.unwrap_or(50) {
                    0 => {
                        return Err(args::ArgError::Zero {
                            flag: "--write-every-ms",
                        }
                        .into())
                    }
                    ms => Duration::from_millis(ms),
                };
                Some((addr, every))
            }
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
            raft,
            seed: self.seed.or(file.seed),
            faults,
            key,
            clock: crate::runtime::Clock::Wall,
        };
        config
            .validate_for(protocol)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(NodeSettings {
            protocol,
            config,
            log_format: self
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            writer,
        })
    }
}

/// Runs `elect node`.
pub fn node(args: NodeArgs) -> Result<bool, Failure> {
    let settings = args.settings()?;
    super::init_logging(settings.log_format);
    if let (Some(risk), None) = (
        settings.protocol.without_storage(),
        &settings.config.data_dir,
    ) {
        tracing::warn!("no --data-dir: {risk}");
    }
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        crate::with_protocol!(settings.protocol, P => run_node::<P>(settings).await)
    })
}

async fn run_node<P: Protocol>(settings: NodeSettings) -> Result<bool, Failure> {
    let format = settings.log_format;
    let leases_on = settings.config.raft.lease.is_some();
    let node = runtime::start::<P>(settings.config)
        .await
        .map_err(|e| match e {
            StartError::Config(_) | StartError::Bind { .. } | StartError::Storage(_) => {
                Failure::Usage(e.to_string())
            }
        })?;
    if let Some((register, every)) = settings.writer {
        let authority = if leases_on {
            Authority::Lease(node.leases())
        } else {
            Authority::Role(node.leadership())
        };
        let local: SocketAddr = if register.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = tokio::net::UdpSocket::bind(local)
            .await
            .map_err(|e| Failure::Internal(format!("cannot bind the writer's socket: {e}")))?;
        tokio::spawn(fencing::write_while_leading(
            node.id(),
            authority,
            every,
            move |write| {
                // A full socket buffer loses the write, as the network may.
                if let Err(e) = socket.try_send_to(&write.encode(), register) {
                    tracing::debug!(error = %e, "write to {register} not sent");
                }
            },
        ));
    }
    let mut events = node.events();
    print_event(
        &LeadershipEvent::now(node.id(), *node.leadership().borrow()),
        format,
    );
    let stop = args::shutdown_signal();
    tokio::pin!(stop);
    let mut held: Option<u64> = None;
    loop {
        tokio::select! {
            signal = &mut stop => {
                tracing::info!(signal, "shutting down");
                node.shutdown().await.map_err(|e| Failure::Internal(e.to_string()))?;
                return Ok(true);
            }
            event = events.recv() => match event {
                Ok(event) => {
                    // A text log shows a lease when it starts and ends, not
                    // each renewal; JSON has every one, for the history.
                    let renewal = matches!(
                        (event.lease, held),
                        (Some(LeaseChange::Held { token, .. }), Some(before)) if token == before
                    );
                    held = match event.lease {
                        Some(LeaseChange::Held { token, .. }) => Some(token),
                        Some(LeaseChange::Ended) => None,
                        None => held,
                    };
                    if !(renewal && format == LogFormat::Text) {
                        print_event(&event, format);
                    }
                }
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
        LogFormat::Text => match event.lease {
            Some(LeaseChange::Held { token, until_ms }) => format!(
                "{} n{} lease held, fencing token {token}, for {} ms",
                event.time,
                event.node,
                until_ms.saturating_sub(event.at_ms)
            ),
            Some(LeaseChange::Ended) => format!("{} n{} lease ended", event.time, event.node),
            None => format!("{} n{} {}", event.time, event.node, event.view),
        },
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
