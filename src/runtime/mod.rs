//! The UDP runtime: runs any protocol actor — the very value the model
//! checker explores — over real sockets.
//!
//! One tokio task per node owns the actor's state, one `UdpSocket`, the
//! armed timers and the storage file. Every `Out` command is honoured:
//! `Save` is written durably before any message of the same batch leaves
//! the node, `SetTimer` arms a timer for a random duration drawn from its
//! range, `Send` encodes a versioned envelope ([`wire`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use elect::protocols::raft::Raft;
//! use elect::runtime::{start, NodeConfig};
//!
//! let peers = vec!["127.0.0.1:7000".parse()?, "127.0.0.1:7001".parse()?, "127.0.0.1:7002".parse()?];
//! let node = start::<Raft>(NodeConfig::new(0, peers)).await?;
//! let mut leadership = node.leadership();
//! leadership.changed().await?;
//! println!("{}", *leadership.borrow());
//! node.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod auth;
pub mod faults;
pub mod inbound;
pub mod metrics;
pub mod millis;
mod node;
pub mod storage;
pub mod transport;
pub mod wire;

use crate::leadership::LeaderView;
use crate::protocols::raft::RaftOptions;
use crate::protocols::{Cluster, Protocol, ProtocolKind, Timeouts};
use metrics::Counters;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use storage::StorageError;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Largest cluster the wire format addresses (ids are 16 bits, one value is
/// reserved for admin clients).
pub const MAX_NODES: usize = 1024;

/// How to run one node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id: its index in `peers`.
    pub id: usize,
    /// Every member's address, indexed by node id; `peers[id]` is the address
    /// this node listens on.
    pub peers: Vec<SocketAddr>,
    /// Name of the cluster; datagrams of other clusters are dropped.
    pub cluster: String,
    /// Where `Out::save` writes; `None` keeps storage in memory only.
    pub data_dir: Option<PathBuf>,
    /// Timer durations (validated: reply < heartbeat < election).
    pub timeouts: Timeouts,
    /// Raft's switches, PreVote and CheckQuorum, and the leader lease of
    /// Raft and Paxos (validated against the timeouts; refused for other
    /// protocols).
    pub raft: RaftOptions,
    /// Seed for timer randomisation and injected faults; `None` seeds from
    /// the OS.
    pub seed: Option<u64>,
    /// Faults to inject from the start.
    pub faults: faults::FaultSpec,
    /// Shared cluster key: every datagram is authenticated with it.
    pub key: Option<auth::Key>,
    /// Where event timestamps come from.
    pub clock: Clock,
}

/// Where leadership events take their timestamps.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// Wall-clock time (Unix milliseconds).
    Wall,
    /// Milliseconds since this instant of tokio's (possibly paused) clock:
    /// the simulation's virtual time.
    Virtual(tokio::time::Instant),
}

impl Clock {
    /// Milliseconds now: since the Unix epoch, or since the virtual origin.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::Wall => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            Clock::Virtual(origin) => origin.elapsed().as_millis() as u64,
        }
    }

    fn label(&self, ms: u64) -> String {
        match self {
            Clock::Wall => humantime::format_rfc3339_millis(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            )
            .to_string(),
            Clock::Virtual(_) => format!("+{}.{:03}s", ms / 1000, ms % 1000),
        }
    }
}

impl NodeConfig {
    /// Node `id` of the cluster whose members listen on `peers`, with every
    /// other setting at its default: cluster `elect`, no storage on disk,
    /// default timeouts, no faults, no key.
    pub fn new(id: usize, peers: Vec<SocketAddr>) -> NodeConfig {
        NodeConfig {
            id,
            peers,
            cluster: "elect".into(),
            data_dir: None,
            timeouts: Timeouts::default(),
            raft: RaftOptions::default(),
            seed: None,
            faults: faults::FaultSpec::default(),
            key: None,
            clock: Clock::Wall,
        }
    }

    /// Checks membership and addresses; the error names the problem.
    pub fn validate(&self) -> Result<(), StartError> {
        if self.peers.is_empty() || self.peers.len() > MAX_NODES {
            return Err(StartError::Config(format!(
                "--peers must list between 1 and {MAX_NODES} addresses (got {})",
                self.peers.len()
            )));
        }
        if self.id >= self.peers.len() {
            return Err(StartError::Config(format!(
                "--id {} is not a member: --peers lists {} addresses, so ids run from 0 to {}",
                self.id,
                self.peers.len(),
                self.peers.len() - 1
            )));
        }
        for (i, a) in self.peers.iter().enumerate() {
            if let Some(j) = self.peers[..i].iter().position(|b| b == a) {
                return Err(StartError::Config(format!(
                    "address {a} appears twice in --peers (ids {j} and {i})"
                )));
            }
            if a.port() == 0 {
                return Err(StartError::Config(format!(
                    "address {a} in --peers has no port"
                )));
            }
        }
        self.timeouts
            .validate()
            .map_err(|e| StartError::Config(e.to_string()))?;
        check_switches(None, &self.timeouts, &self.raft)
    }

    /// As [`NodeConfig::validate`], for a node of protocol `kind`: Raft's
    /// switches are refused for any other.
    pub fn validate_for(&self, kind: ProtocolKind) -> Result<(), StartError> {
        check_switches(Some(kind), &self.timeouts, &self.raft)?;
        self.validate()
    }

    /// The cluster every member runs: its size, timeouts and switches.
    pub fn cluster(&self) -> Cluster {
        let mut cluster = Cluster::new(self.peers.len(), self.timeouts.clone());
        cluster.raft = self.raft.clone();
        cluster
    }
}

/// Checks Raft's switches and the lease: the lease is safe for `timeouts`
/// (see [`crate::protocols::lease::LeaseConfig::validate`]), and, when the
/// protocol is known, PreVote and CheckQuorum are given to Raft only and
/// the lease to Raft or Paxos. `elect cluster`
/// and `elect chaos` ask before they start any process.
pub fn check_switches(
    kind: Option<ProtocolKind>,
    timeouts: &Timeouts,
    raft: &RaftOptions,
) -> Result<(), StartError> {
    let raft_only = raft.pre_vote || raft.check_quorum;
    if let Some(kind) = kind.filter(|&k| raft_only && k != ProtocolKind::Raft) {
        return Err(StartError::Config(format!(
            "--pre-vote and --check-quorum are Raft's switches; {kind} has none"
        )));
    }
    if let Some(kind) = kind.filter(|&k| raft.lease.is_some() && !k.has_lease()) {
        return Err(StartError::Config(format!(
            "--lease-ms: {kind} has no leader lease (Raft and Paxos have one)"
        )));
    }
    if let Some(lease) = &raft.lease {
        lease
            .validate(timeouts)
            .map_err(|e| StartError::Config(format!("--lease-ms: {e}")))?;
    }
    Ok(())
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is refused; the text names the rule it breaks.
    #[error("{0}")]
    Config(String),
    /// The node's address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The storage cannot be opened or read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a running node stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A save failed: the node stops rather than act on state it could not
    /// make durable.
    #[error("{0}; the node stopped so that it never acts on state it could not persist")]
    Storage(#[from] StorageError),
    /// The socket failed for good.
    #[error("socket error: {0}")]
    Socket(#[from] std::io::Error),
    /// The node's task panicked or was cancelled.
    #[error("the node task failed: {0}")]
    Task(String),
}

/// A change of a node's view of leadership, as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeadershipEvent {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The same instant in RFC 3339.
    pub time: String,
    /// The node whose view changed.
    pub node: usize,
    /// Its view now.
    #[serde(flatten)]
    pub view: LeaderView,
    /// Set when what changed is the node's lease rather than its view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseChange>,
}

/// A change of a leader's lease, as its node published it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum LeaseChange {
    /// The node holds a lease (newly, or renewed) with this fencing token,
    /// valid until `until_ms` on the event's clock unless renewed.
    Held {
        /// The fencing token.
        token: u64,
        /// When it ends, on the clock `at_ms` is read from.
        until_ms: u64,
    },
    /// The node holds no lease any more.
    Ended,
}

impl LeadershipEvent {
    /// `node`'s `view`, stamped with wall-clock time.
    pub fn now(node: usize, view: LeaderView) -> LeadershipEvent {
        Self::at(&Clock::Wall, node, view)
    }

    /// `node`'s `view`, stamped with `clock`'s time.
    pub fn at(clock: &Clock, node: usize, view: LeaderView) -> LeadershipEvent {
        let at_ms = clock.now_ms();
        LeadershipEvent {
            at_ms,
            time: clock.label(at_ms),
            node,
            view,
            lease: None,
        }
    }

    /// The event of `node`'s lease changing (its view is unchanged).
    pub fn lease_change(self, change: LeaseChange) -> LeadershipEvent {
        LeadershipEvent {
            lease: Some(change),
            ..self
        }
    }
}

/// A leader's lease as its node last published it: the fencing token of the
/// leadership (Raft's term) and the instant, on this machine's monotonic
/// clock, at which the lease's timer expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseState {
    /// The fencing token.
    pub token: u64,
    /// When the lease ends, unless renewed.
    pub until: tokio::time::Instant,
}

/// What a leader holds while it may act as the only leader: the fencing
/// token to present to every resource it writes to, and a lease it must
/// check at the moment it acts.
///
/// [`LeaseGuard::is_valid`] reads the monotonic clock each time it is asked.
/// A leader frozen by SIGSTOP, a long GC or a descheduled VM therefore
/// knows its lease has lapsed the instant it resumes, before its node has
/// handled a single timer or datagram. The same rule is checked by the
/// model ([`crate::protocols::Protocol::lease_valid`]). A lease protects the
/// instant of the check only: a write that a pause delays after the check
/// must still carry the token, for the resource to refuse it if a newer
/// leader has written since.
#[derive(Clone, Debug)]
pub struct LeaseGuard {
    token: u64,
    lease: watch::Receiver<Option<LeaseState>>,
}

impl LeaseGuard {
    /// The fencing token of this leadership: higher than that of every
    /// leadership before it.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// How long the lease has left now, on the monotonic clock; zero once it
    /// has lapsed, or once the node no longer holds it in this leadership.
    pub fn remaining(&self) -> Duration {
        match *self.lease.borrow() {
            Some(lease) if lease.token == self.token => lease
                .until
                .saturating_duration_since(tokio::time::Instant::now()),
            _ => Duration::ZERO,
        }
    }

    /// Whether the node may act as the only leader at this moment: it still
    /// holds the lease of this leadership, and the clock, read now, says
    /// the lease has not expired.
    pub fn is_valid(&self) -> bool {
        !self.remaining().is_zero()
    }
}

/// Where a task that acts only as leader gets its [`LeaseGuard`]s.
#[derive(Clone, Debug)]
pub struct Leases {
    lease: watch::Receiver<Option<LeaseState>>,
}

impl Leases {
    /// The lease held now, if valid at this moment.
    pub fn current(&self) -> Option<LeaseGuard> {
        let guard = LeaseGuard {
            token: (*self.lease.borrow())?.token,
            lease: self.lease.clone(),
        };
        guard.is_valid().then_some(guard)
    }

    /// Waits until the node holds a valid lease, and returns its guard.
    /// Fails when the node stops.
    pub async fn acquire(&mut self) -> Result<LeaseGuard, NodeError> {
        loop {
            if let Some(guard) = self.current() {
                return Ok(guard);
            }
            self.lease
                .changed()
                .await
                .map_err(|_| NodeError::Task("the node stopped".into()))?;
        }
    }
}

/// A running node: watch its leadership, read its counters, stop it.
pub struct NodeHandle {
    id: usize,
    local_addr: SocketAddr,
    view: watch::Receiver<LeaderView>,
    lease: watch::Receiver<Option<LeaseState>>,
    events: broadcast::Sender<LeadershipEvent>,
    counters: Arc<Mutex<Counters>>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), NodeError>>,
}

impl NodeHandle {
    /// The node's id.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The address the node's socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The node's current view of leadership; `changed().await` wakes on
    /// every change.
    pub fn leadership(&self) -> watch::Receiver<LeaderView> {
        self.view.clone()
    }

    /// The lease this node holds as leader now, if its protocol has one
    /// switched on and the lease is valid at this moment; `None` otherwise.
    /// Check [`LeaseGuard::is_valid`] again at every action.
    pub fn lease(&self) -> Option<LeaseGuard> {
        self.leases().current()
    }

    /// The node's leases, to hand to a task that acts only as leader.
    pub fn leases(&self) -> Leases {
        Leases {
            lease: self.lease.clone(),
        }
    }

    /// Every leadership change from now on, with its timestamp.
    pub fn events(&self) -> broadcast::Receiver<LeadershipEvent> {
        self.events.subscribe()
    }

    /// A snapshot of the node's counters.
    pub fn counters(&self) -> Counters {
        self.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Whether the node task has stopped (on its own, after an error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the node and waits for it: timers are dropped, the socket is
    /// closed, storage is already durable.
    pub async fn shutdown(self) -> Result<(), NodeError> {
        let _ = self.shutdown.send(true);
        self.join().await
    }

    /// Waits until the node stops (after [`NodeHandle::shutdown`] from a
    /// clone of the trigger, or on a fatal error).
    pub async fn join(self) -> Result<(), NodeError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(NodeError::Task(e.to_string())),
        }
    }
}

/// Starts a node of protocol `P` on the current tokio runtime, on a UDP
/// socket bound to its address in `config.peers`.
pub async fn start<P: Protocol>(config: NodeConfig) -> Result<NodeHandle, StartError> {
    config.validate_for(P::KIND)?;
    check_message_size::<P>(&config)?;
    let store = match &config.data_dir {
        Some(dir) => storage::Store::open(dir)?,
        None => storage::Store::in_memory(),
    };
    let addr = config.peers[config.id];
    let socket = tokio::net::UdpSocket::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    node::start::<P, _>(config, socket, store)
}

/// Starts a node of protocol `P` on any transport and store: the simulation
/// runs whole clusters in one process this way.
pub fn start_on<P: Protocol, T: transport::Transport>(
    config: NodeConfig,
    transport: T,
    store: storage::Store,
) -> Result<NodeHandle, StartError> {
    config.validate_for(P::KIND)?;
    check_message_size::<P>(&config)?;
    node::start::<P, T>(config, transport, store)
}

/// Refuses a cluster whose largest message (Ring's token naming every
/// member) would not fit a datagram, MAC included when there is a key: every
/// receiver would drop it as oversized and no election could finish.
fn check_message_size<P: Protocol>(config: &NodeConfig) -> Result<(), StartError> {
    let key = config.key.as_ref();
    let fits = |nodes: usize| {
        let cluster = Cluster::new(nodes, config.timeouts.clone());
        P::largest_message(&cluster).map_or(Ok(()), |msg| {
            wire::datagram(wire::Kind::Protocol, 0, 0, &msg, key).map(drop)
        })
    };
    let nodes = config.peers.len();
    let Err(e) = fits(nodes) else {
        return Ok(());
    };
    let most = (1..nodes).rev().find(|&n| fits(n).is_ok()).unwrap_or(0);
    Err(StartError::Config(format!(
        "a {} cluster of {nodes} nodes sends messages that do not fit a datagram ({e}); at most {most} nodes fit{}",
        P::KIND,
        if key.is_some() { " with a key" } else { "" }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::raft::Raft;
    use crate::protocols::ring::Ring;

    fn config(nodes: usize, key: Option<auth::Key>) -> NodeConfig {
        let peers = (0..nodes)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 10_000 + i as u16)))
            .collect();
        NodeConfig {
            key,
            ..NodeConfig::new(0, peers)
        }
    }

    /// The most nodes the refusal says fit.
    fn most_that_fit(err: StartError) -> usize {
        let text = err.to_string();
        let after = text.split("at most ").nth(1).unwrap_or_default();
        after
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn a_ring_whose_token_would_not_fit_a_datagram_is_refused_with_the_size_that_fits() {
        for key in [
            None,
            Some(auth::Key::new(b"a-cluster-key-of-sufficient-length").expect("key")),
        ] {
            let err = check_message_size::<Ring>(&config(MAX_NODES, key.clone()))
                .expect_err("a token naming 1024 members does not fit");
            let most = most_that_fit(err);
            assert!(most > 100, "{most}");
            assert!(check_message_size::<Ring>(&config(most, key.clone())).is_ok());
            assert!(check_message_size::<Ring>(&config(most + 1, key.clone())).is_err());
            // Raft's messages do not grow with the cluster.
            assert!(check_message_size::<Raft>(&config(MAX_NODES, key)).is_ok());
        }
    }
}
