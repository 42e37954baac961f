//! What several commands share: the timing flags, the millisecond-range
//! flags, addresses, the node fleet's ports, the log format and the shutdown
//! signal. Errors are typed and name the flag; the parsers under them
//! (`runtime::millis`, [`parse_addr`]) do not, so that each caller can say
//! which flag or word was wrong.

use crate::protocols::lease::LeaseConfig;
use crate::protocols::raft::RaftOptions;
use crate::protocols::Timeouts;
use crate::runtime::faults::FaultSpecError;
use crate::runtime::millis::{self, MillisError};
use crate::topology::PartitionError;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

/// A bad argument: one line naming the flag and the problem (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// `--election-timeout-ms` is not a range of at least 1 ms.
    #[error("--election-timeout-ms '{text}' is not LO..HI in milliseconds (e.g. 500..1000)")]
    ElectionTimeout {
        /// The value as given.
        text: String,
        /// What the range grammar refused.
        #[source]
        source: MillisError,
    },
    /// `elect sim --delay-ms` is not a range.
    #[error("--delay-ms '{text}' is not LO..HI milliseconds")]
    DelayMs {
        /// The value as given.
        text: String,
        /// What the range grammar refused.
        #[source]
        source: MillisError,
    },
    /// `--drift` is not a fraction in [0, 0.5).
    #[error("--drift: {0}")]
    Drift(String),
    /// Raft's switches refused (for the protocol, or the lease for the
    /// timeouts).
    #[error("{0}")]
    Switches(String),
    /// `--drift` without `--lease-ms`, where nothing would read it.
    #[error("--drift bounds the lease's clocks: give --lease-ms too")]
    DriftWithoutLease,
    /// A period flag (`--heartbeat-ms`, `--reply-ms`) of 0.
    #[error("{flag} must be at least 1")]
    Zero {
        /// The flag.
        flag: &'static str,
    },
    /// An address that is not IP:PORT, with what it was given as.
    #[error("{context}: {source}")]
    Address {
        /// `--peers` or `address`.
        context: &'static str,
        /// The bad address.
        source: AddrError,
    },
    /// A node count out of range.
    #[error("--nodes must be between 1 and {max} (got {nodes})")]
    Nodes {
        /// As given.
        nodes: usize,
        /// The command's limit.
        max: usize,
    },
    /// Ports past 65535, or port 0.
    #[error("--base-port {port} leaves no room for {nodes} nodes")]
    BasePort {
        /// As given.
        port: u16,
        /// As given.
        nodes: usize,
    },
    /// `--faults` is not a fault spec.
    #[error("--faults: {0}")]
    Faults(#[source] FaultSpecError),
    /// The spec of `elect fault … set`.
    #[error(transparent)]
    FaultSpec(#[from] FaultSpecError),
    /// The spec of `elect fault … partition`.
    #[error(transparent)]
    Partition(#[from] PartitionError),
    /// Seconds that are not a positive, representable number.
    #[error("{flag} must be a positive number of seconds")]
    Seconds {
        /// The flag.
        flag: &'static str,
    },
}

/// An address that is not `IP:PORT`; it does not name a flag, the caller does.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an IP:PORT address (IPv6 as [::1]:7000)")]
pub struct AddrError(pub String);

/// Parses one `IP:PORT` (IPv6 as `[::1]:PORT`).
pub fn parse_addr(s: &str) -> Result<SocketAddr, AddrError> {
    s.trim().parse().map_err(|_| AddrError(s.to_string()))
}

/// Parses addresses, reporting a bad one as `context: '…' is not …`.
pub fn parse_addrs<S: AsRef<str>>(
    context: &'static str,
    addrs: &[S],
) -> Result<Vec<SocketAddr>, ArgError> {
    addrs
        .iter()
        .map(|a| parse_addr(a.as_ref()).map_err(|source| ArgError::Address { context, source }))
        .collect()
}

/// The election timeout range: at least 1 ms (a zero timeout would fire
/// before any heartbeat could arrive).
pub fn election_timeout(text: &str) -> Result<Range<Duration>, ArgError> {
    millis::parse_range(text, 1).map_err(|source| ArgError::ElectionTimeout {
        text: text.to_string(),
        source,
    })
}

/// The simulated network's delay range: 0 ms is no delay.
pub fn delay_ms(text: &str) -> Result<Range<Duration>, ArgError> {
    millis::parse_range(text, 0).map_err(|source| ArgError::DelayMs {
        text: text.to_string(),
        source,
    })
}

/// `--faults drop=…,dup=…,delay=…`.
pub fn faults(spec: &str) -> Result<crate::runtime::faults::FaultSpec, ArgError> {
    crate::runtime::faults::FaultSpec::parse(spec).map_err(ArgError::Faults)
}

/// The longest period a flag may ask for: a century, so that no deadline
/// computed from it overflows the clock.
pub const LONGEST: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A positive number of seconds, at most [`LONGEST`], as a duration.
pub fn seconds(flag: &'static str, secs: f64) -> Result<Duration, ArgError> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if secs > 0.0 && d <= LONGEST => Ok(d),
        _ => Err(ArgError::Seconds { flag }),
    }
}

/// Node i of a loopback fleet listens on 127.0.0.1:(`base_port` + i).
pub fn loopback_peers(nodes: usize, base_port: u16) -> Result<Vec<SocketAddr>, ArgError> {
    const MAX: usize = 200;
    if nodes == 0 || nodes > MAX {
        return Err(ArgError::Nodes { nodes, max: MAX });
    }
    let port = base_port;
    if base_port == 0 || usize::from(base_port) + nodes > usize::from(u16::MAX) {
        return Err(ArgError::BasePort { port, nodes });
    }
    Ok((0..nodes)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], base_port + i as u16)))
        .collect())
}

/// The timer flags of `elect node`, `elect cluster` and `elect chaos`.
#[derive(Args, Clone, Debug, Default)]
pub struct TimingArgs {
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
}

impl TimingArgs {
    /// Each flag given, or else the one from `fallback` (a config file).
    pub fn or(self, fallback: TimingArgs) -> TimingArgs {
        TimingArgs {
            heartbeat_ms: self.heartbeat_ms.or(fallback.heartbeat_ms),
            election_timeout_ms: self.election_timeout_ms.or(fallback.election_timeout_ms),
            reply_ms: self.reply_ms.or(fallback.reply_ms),
        }
    }

    /// The timeouts: the defaults, overridden by the flags given.
    pub fn timeouts(&self) -> Result<Timeouts, ArgError> {
        let mut timeouts = Timeouts::default();
        if let Some(ms) = self.heartbeat_ms {
            timeouts.heartbeat = at_least_1("--heartbeat-ms", ms)?;
        }
        if let Some(range) = &self.election_timeout_ms {
            timeouts.election = election_timeout(range)?;
        }
        if let Some(ms) = self.reply_ms {
            timeouts.reply = at_least_1("--reply-ms", ms)?;
        }
        Ok(timeouts)
    }

    /// The timeouts if any flag was given; `None` leaves the nodes' defaults.
    pub fn given(&self) -> Result<Option<Timeouts>, ArgError> {
        let any = self.heartbeat_ms.is_some()
            || self.election_timeout_ms.is_some()
            || self.reply_ms.is_some();
        any.then(|| self.timeouts()).transpose()
    }
}

/// Raft's switches, for `elect node`, `elect cluster`, `elect sim` and
/// `elect chaos` (the checker's are in `elect check --help`).
#[derive(Args, Clone, Debug, Default)]
pub struct RaftArgs {
    /// Raft: PreVote — a node asks whether it could win before it stands,
    /// and a node that hears from a live leader refuses.
    #[arg(long, alias = "prevote")]
    pub pre_vote: bool,
    /// Raft: CheckQuorum — a leader that hears from no majority within the
    /// minimum election timeout steps down.
    #[arg(long)]
    pub check_quorum: bool,
    /// Raft and Paxos: a leader lease of this many milliseconds, from the send of the
    /// heartbeat round a majority acknowledged; must satisfy lease × (1 + ε)
    /// < minimum election timeout × (1 − ε) and exceed the heartbeat.
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// With --lease-ms: ε, the bound on how far any node's clock rate strays
    /// from real time [default: 0.05].
    #[arg(long, value_name = "EPS")]
    pub drift: Option<String>,
}

impl RaftArgs {
    /// The default drift bound, generous beside a quartz clock's 10⁻⁴: it
    /// also covers a timer that fires late because the process was slow.
    pub const DEFAULT_DRIFT: &'static str = "0.05";

    /// Each flag given, or else the one from `fallback` (a config file).
    pub fn or(self, fallback: RaftArgs) -> RaftArgs {
        RaftArgs {
            pre_vote: self.pre_vote || fallback.pre_vote,
            check_quorum: self.check_quorum || fallback.check_quorum,
            lease_ms: self.lease_ms.or(fallback.lease_ms),
            drift: self.drift.or(fallback.drift),
        }
    }

    /// The switches for a fleet of `protocol` nodes with `timeouts` (the
    /// nodes' defaults when `None`), checked before any node starts.
    pub fn for_fleet(
        &self,
        protocol: crate::protocols::ProtocolKind,
        timeouts: Option<&Timeouts>,
    ) -> Result<RaftOptions, ArgError> {
        let options = self.options()?;
        let defaults = Timeouts::default();
        crate::runtime::check_switches(Some(protocol), timeouts.unwrap_or(&defaults), &options)
            .map_err(|e| ArgError::Switches(e.to_string()))?;
        Ok(options)
    }

    /// The switches as the nodes run them (the lease is validated against
    /// the timeouts when a node starts).
    pub fn options(&self) -> Result<RaftOptions, ArgError> {
        let lease = match (self.lease_ms, &self.drift) {
            (None, Some(_)) => return Err(ArgError::DriftWithoutLease),
            (None, None) => None,
            (Some(ms), drift) => {
                let text = drift.as_deref().unwrap_or(Self::DEFAULT_DRIFT);
                let fraction: f64 = text.parse().map_err(|_| {
                    ArgError::Drift(format!("'{text}' is not a number (write e.g. 0.05)"))
                })?;
                let drift_ppm = crate::model::drift_ppm(fraction).map_err(ArgError::Drift)?;
                Some(LeaseConfig {
                    duration: at_least_1("--lease-ms", ms)?,
                    drift_ppm,
                })
            }
        };
        Ok(RaftOptions {
            pre_vote: self.pre_vote,
            check_quorum: self.check_quorum,
            lease,
        })
    }
}

/// The leader-only writers of `elect sim` and `elect chaos`: every node
/// writes to one fenced register while it may act as leader (with a valid
/// lease when the lease is on, else while it believes it leads), and the
/// history counts what the register accepted and refused.
#[derive(Args, Clone, Debug)]
pub struct WriterArgs {
    /// How often a leader writes to the fenced register, in milliseconds
    /// (0: no writers).
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub write_every_ms: u64,
}

impl WriterArgs {
    /// The period, or `None` for no writers.
    pub fn every(&self) -> Option<Duration> {
        (self.write_every_ms > 0).then(|| Duration::from_millis(self.write_every_ms))
    }
}

fn at_least_1(flag: &'static str, ms: u64) -> Result<Duration, ArgError> {
    if ms == 0 {
        return Err(ArgError::Zero { flag });
    }
    Ok(Duration::from_millis(ms))
}

/// How a node prints its leadership events and logs: a line of text, or a
/// JSON document, per event. (The variants have no doc comments: clap would
/// print them in `elect node --help`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogFormat {
    Text,
    Json,
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
pub async fn shutdown_signal() -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_names_itself_and_the_parsers_below_do_not() {
        let e = election_timeout("0..5").map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err(
                "--election-timeout-ms '0..5' is not LO..HI in milliseconds (e.g. 500..1000)"
                    .into()
            )
        );
        assert_eq!(
            delay_ms("5..1").map_err(|e| e.to_string()),
            Err("--delay-ms '5..1' is not LO..HI milliseconds".into())
        );
        assert_eq!(delay_ms("0").ok(), Some(Duration::ZERO..Duration::ZERO));
        assert_eq!(
            parse_addrs("address", &["127.0.0.1:1", "nope"]).map_err(|e| e.to_string()),
            Err("address: 'nope' is not an IP:PORT address (IPv6 as [::1]:7000)".into())
        );
        let bare = parse_addr("x").map_err(|e| e.to_string());
        assert!(!bare.expect_err("not an address").contains("--"));
        assert_eq!(
            parse_addr(" [::1]:7000 ").map(|a| a.port()).ok(),
            Some(7000)
        );
    }

    #[test]
    fn timing_flags_override_the_defaults_one_by_one() {
        let t = TimingArgs {
            heartbeat_ms: Some(20),
            ..TimingArgs::default()
        };
        let got = t.timeouts().expect("valid");
        assert_eq!(got.heartbeat, Duration::from_millis(20));
        assert_eq!(got.election, Timeouts::default().election);
        assert_eq!(TimingArgs::default().given().ok(), Some(None));
        let zero = TimingArgs {
            reply_ms: Some(0),
            ..TimingArgs::default()
        };
        assert_eq!(
            zero.timeouts().map_err(|e| e.to_string()).err().as_deref(),
            Some("--reply-ms must be at least 1")
        );
    }

    #[test]
    fn a_loopback_fleet_fits_in_the_port_range() {
        assert_eq!(loopback_peers(3, 7000).map(|p| p.len()).ok(), Some(3));
        for (nodes, port) in [(0, 7000), (201, 7000), (3, 0), (10, 65530)] {
            assert!(loopback_peers(nodes, port).is_err(), "{nodes} {port}");
        }
        assert!(seconds("--every", 1e300).is_err());
        assert!(seconds("--every", -1.0).is_err());
        assert!(seconds("--every", f64::NAN).is_err());
        assert_eq!(
            seconds("--every", 0.5).ok(),
            Some(Duration::from_millis(500))
        );
    }
}
