//! The admin request a node answers on its own UDP socket, and the client
//! side used by `elect status`.

use super::metrics::Counters;
use super::wire::{self, Kind, CLIENT_ID};
use crate::leadership::LeaderView;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Report the node's view of leadership and its counters.
    Status,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub node: usize,
    pub protocol: String,
    pub view: LeaderView,
    pub uptime_ms: u64,
    pub counters: Counters,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("{addr}: answer is not a status report ({reason})")]
    BadAnswer { addr: SocketAddr, reason: String },
}

/// Asks the node at `addr` (of cluster `cluster`) for its status.
pub async fn query_status(
    addr: SocketAddr,
    cluster: u64,
    timeout: Duration,
) -> Result<StatusReport, QueryError> {
    let io = |source| QueryError::Io { addr, source };
    let bind: SocketAddr = if addr.is_ipv6() {
        "[::]:0"
            .parse()
            .map_err(|_| io(std::io::Error::other("bad bind address")))?
    } else {
        "0.0.0.0:0"
            .parse()
            .map_err(|_| io(std::io::Error::other("bad bind address")))?
    };
    let socket = UdpSocket::bind(bind).await.map_err(io)?;
    let request = wire::encode(
        Kind::AdminRequest,
        cluster,
        CLIENT_ID,
        &AdminRequest::Status,
    )
    .map_err(|reason| QueryError::BadAnswer { addr, reason })?;
    let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
    // UDP may lose the request or the answer: ask up to three times.
    let attempt = timeout / 3;
    for _ in 0..3 {
        socket.send_to(&request, addr).await.map_err(io)?;
        match tokio::time::timeout(attempt, socket.recv_from(&mut buf)).await {
            Err(_) => continue,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Ok(Err(e)) => return Err(io(e)),
            Ok(Ok((n, from))) if from == addr => {
                let (header, payload) =
                    wire::decode_header(&buf[..n], cluster).map_err(|r| QueryError::BadAnswer {
                        addr,
                        reason: r.to_string(),
                    })?;
                if header.kind != Kind::AdminResponse {
                    return Err(QueryError::BadAnswer {
                        addr,
                        reason: "not an admin response".into(),
                    });
                }
                return wire::decode_payload(payload).map_err(|r| QueryError::BadAnswer {
                    addr,
                    reason: r.to_string(),
                });
            }
            Ok(Ok(_)) => continue,
        }
    }
    Err(QueryError::Timeout { addr, timeout })
}
