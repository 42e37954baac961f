//! The admin requests a node answers on its own UDP socket, and the client
//! side used by `elect status` and `elect fault`.
//!
//! Anyone may ask for a node's status. A request that changes the node's
//! behaviour (fault injection) is accepted only from a loopback address, or,
//! when the cluster has a key, only with a valid MAC.

use super::auth::Key;
use super::faults::FaultCommand;
use super::metrics::Counters;
use super::wire::{self, Kind, CLIENT_ID};
use crate::leadership::LeaderView;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// What an admin client asks a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Report the node's view of leadership and its counters.
    Status,
    /// Change the faults the node injects.
    Fault(FaultCommand),
}

/// A node's answer to an admin request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AdminResponse {
    /// The node's status.
    Status(Box<StatusReport>),
    /// The request was carried out; the text says what holds now.
    Done(String),
    /// The request was refused; the text says why.
    Refused(String),
}

/// What `elect status` shows of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The node's id.
    pub node: usize,
    /// The protocol it runs.
    pub protocol: String,
    /// Its view of leadership.
    pub view: LeaderView,
    /// The lease it holds as leader, when the lease is on and held.
    pub lease: Option<LeaseStatus>,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// What it has counted.
    pub counters: Counters,
    /// The faults the node injects, e.g. `drop=0.2,dup=0,delay=0..0ms`.
    pub faults: String,
    /// The partition the node applies, e.g. `0,1/2,3,4`.
    pub partition: Option<String>,
}

/// A leader's lease as `elect status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// The fencing token of the leadership (Raft's term).
    pub token: u64,
    /// How long the lease had left when the node answered, on its
    /// monotonic clock: 0 when it has lapsed.
    pub remaining_ms: u64,
}

/// Why an admin request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The socket failed.
    #[error("{addr}: {source}")]
    Io {
        /// The node asked.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// No answer came.
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout {
        /// The node asked.
        addr: SocketAddr,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The answer was not one this client can read.
    #[error("{addr}: unexpected answer ({reason})")]
    BadAnswer {
        /// The node asked.
        addr: SocketAddr,
        /// What was wrong with it.
        reason: String,
    },
    /// The node refused the request.
    #[error("{addr}: refused: {reason}")]
    Refused {
        /// The node asked.
        addr: SocketAddr,
        /// The node's reason.
        reason: String,
    },
}

/// Sends `request` to the node at `addr` and waits for its answer, asking up
/// to three times (UDP may lose either datagram).
pub async fn request(
    addr: SocketAddr,
    cluster: u64,
    key: Option<&Key>,
    request: &AdminRequest,
    timeout: Duration,
) -> Result<AdminResponse, QueryError> {
    let io = |source| QueryError::Io { addr, source };
    let bad = |reason: String| QueryError::BadAnswer { addr, reason };
    let bind: SocketAddr = if addr.is_ipv6() {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(bind).await.map_err(io)?;
    let datagram = wire::datagram(Kind::AdminRequest, cluster, CLIENT_ID, request, key)
        .map_err(|e| bad(e.to_string()))?;
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    let attempt = timeout / 3;
    for _ in 0..3 {
        socket.send_to(&datagram, addr).await.map_err(io)?;
        match tokio::time::timeout(attempt, socket.recv_from(&mut buf)).await {
            Err(_) => continue,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Ok(Err(e)) => return Err(io(e)),
            Ok(Ok((n, from))) if from == addr => {
                let answer = match key {
                    Some(key) => key.open(&buf[..n]).ok_or_else(|| bad("bad MAC".into()))?,
                    None => &buf[..n],
                };
                let (header, payload) =
                    wire::decode_header(answer, cluster).map_err(|r| bad(r.to_string()))?;
                if header.kind != Kind::AdminResponse {
                    return Err(bad("not an admin response".into()));
                }
                return wire::decode_payload(payload).map_err(|r| bad(r.to_string()));
            }
            Ok(Ok(_)) => continue,
        }
    }
    Err(QueryError::Timeout { addr, timeout })
}

/// Asks the node at `addr` for its status.
pub async fn query_status(
    addr: SocketAddr,
    cluster: u64,
    timeout: Duration,
) -> Result<StatusReport, QueryError> {
    match request(addr, cluster, None, &AdminRequest::Status, timeout).await? {
        AdminResponse::Status(report) => Ok(*report),
        AdminResponse::Refused(reason) => Err(QueryError::Refused { addr, reason }),
        AdminResponse::Done(_) => Err(QueryError::BadAnswer {
            addr,
            reason: "not a status report".into(),
        }),
    }
}

/// Changes the faults of the node at `addr`.
pub async fn send_fault(
    addr: SocketAddr,
    cluster: u64,
    key: Option<&Key>,
    command: FaultCommand,
    timeout: Duration,
) -> Result<String, QueryError> {
    match request(addr, cluster, key, &AdminRequest::Fault(command), timeout).await? {
        AdminResponse::Done(text) => Ok(text),
        AdminResponse::Refused(reason) => Err(QueryError::Refused { addr, reason }),
        AdminResponse::Status(_) => Err(QueryError::BadAnswer {
            addr,
            reason: "a status report instead of an acknowledgement".into(),
        }),
    }
}
