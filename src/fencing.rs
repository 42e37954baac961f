//! A resource that refuses a deposed leader: the fencing token check.
//!
//! A lease tells a leader whether it may act *now*; it cannot stop a write
//! that the leader issued while its lease was valid and that arrives after a
//! newer leader has written (a pause between the check and the write, a slow
//! network). The resource closes that gap itself, as Kleppmann describes: every
//! write carries the writer's fencing token — Raft's term, which grows with
//! every leadership — and the resource accepts a write only if its token is
//! at least the highest it has seen.
//!
//! [`FencedRegister`] is such a resource: one value, the highest token, and
//! counts of what it accepted and refused. [`write_while_leading`] is the
//! leader-only writer that `elect sim` and `elect chaos` run at every node
//! (in `elect node` with `--write-to`), and [`serve_register`] puts a
//! register on a UDP socket for real processes to write to, so that the
//! history checker can count what the resource accepted from a deposed
//! leader.

use crate::leadership::{LeaderView, Role};
use crate::runtime::Leases;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;

/// A write the register refused: its token is below one it has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token {token} is below {highest}, the highest this register has seen: a newer leader has written")]
pub struct StaleToken {
    /// The token the write carried.
    pub token: u64,
    /// The highest token seen.
    pub highest: u64,
}

/// One value guarded by fencing tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FencedRegister<V> {
    value: Option<V>,
    highest: Option<u64>,
    accepted: u64,
    refused: u64,
}

impl<V: Clone> FencedRegister<V> {
    /// An empty register that has seen no token.
    pub fn new() -> Self {
        FencedRegister {
            value: None,
            highest: None,
            accepted: 0,
            refused: 0,
        }
    }

    /// Writes `value` if `token` is at least the highest token seen; a
    /// write with a lower token changes nothing and is counted as refused.
    pub fn write(&mut self, token: u64, value: V) -> Result<(), StaleToken> {
        match self.highest {
            Some(highest) if token < highest => {
                self.refused += 1;
                Err(StaleToken { token, highest })
            }
            _ => {
                self.highest = Some(token);
                self.value = Some(value);
                self.accepted += 1;
                Ok(())
            }
        }
    }

    /// The value last accepted.
    pub fn value(&self) -> Option<&V> {
        self.value.as_ref()
    }

    /// The highest token seen.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Writes accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Writes refused so far: fencing at work.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

/// A write a leader sends to a fenced resource: who writes, with which
/// token, and the writer's sequence number (its value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// The writing node.
    pub node: usize,
    /// Its fencing token: the lease's token, or the leader's term.
    pub token: u64,
    /// The writer's count of writes so far.
    pub seq: u64,
}

impl Write {
    /// The write as a datagram: one JSON object.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A datagram read as a write, or why it is not one.
    pub fn decode(datagram: &[u8]) -> Result<Write, serde_json::Error> {
        serde_json::from_slice(datagram)
    }
}

/// What entitles a node's writer to write.
pub enum Authority {
    /// A valid lease, checked at the moment of every write; the token is
    /// the lease's.
    Lease(Leases),
    /// The node's own view that it leads (no lease: plain Raft, Bully,
    /// Ring); the token is the view's term, or 0 for protocols without
    /// terms, which a register therefore cannot fence.
    Role(watch::Receiver<LeaderView>),
}

/// Writes to a resource every `every` while the node may act as leader,
/// handing each write to `send`. The first write of a leadership goes out
/// the moment it begins, so that the resource learns the new token as early
/// as it can.
/// Returns when the node stops.
pub async fn write_while_leading(
    node: usize,
    authority: Authority,
    every: Duration,
    mut send: impl FnMut(Write),
) {
    let mut seq = 0;
    let mut write = |token: u64| {
        seq += 1;
        send(Write { node, token, seq });
    };
    match authority {
        Authority::Lease(mut leases) => loop {
            let Ok(lease) = leases.acquire().await else {
                return;
            };
            // The check is the last thing before the write: a lease is
            // worth what the clock says at the moment of use.
            while lease.is_valid() {
                write(lease.token());
                tokio::time::sleep(every).await;
            }
        },
        Authority::Role(mut view) => loop {
            let token = match view.wait_for(|v| v.role == Role::Leader).await {
                Ok(v) => v.term.unwrap_or(0),
                Err(_) => return,
            };
            write(token);
            tokio::time::sleep(every).await;
        },
    }
}

/// What a register served on a socket did with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A write, accepted or refused.
    Write {
        /// The write.
        write: Write,
        /// Whether the register accepted it.
        accepted: bool,
    },
    /// A datagram that is not a write: dropped.
    Malformed {
        /// Who sent it.
        from: SocketAddr,
    },
}

/// Serves a [`FencedRegister`] on `socket`: every datagram is a [`Write`],
/// applied to the register and reported to `report` as it arrives. Runs
/// until `report` returns false.
pub async fn serve_register(
    socket: tokio::net::UdpSocket,
    mut report: impl FnMut(Arrival) -> bool,
) -> std::io::Result<()> {
    let mut register = FencedRegister::new();
    let mut buf = [0u8; 512];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let arrival = match Write::decode(&buf[..n]) {
            Ok(write) => Arrival::Write {
                write,
                accepted: register.write(write.token, write.seq).is_ok(),
            },
            Err(_) => Arrival::Malformed { from },
        };
        if !report(arrival) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_with_an_older_token_is_refused_and_changes_nothing() {
        let mut register = FencedRegister::new();
        assert_eq!(register.write(1, "a"), Ok(()));
        assert_eq!(
            register.write(1, "b"),
            Ok(()),
            "the same leadership writes again"
        );
        assert_eq!(register.write(3, "c"), Ok(()));
        assert_eq!(
            register.write(2, "late"),
            Err(StaleToken {
                token: 2,
                highest: 3
            })
        );
        assert_eq!(register.value(), Some(&"c"));
        assert_eq!(register.highest(), Some(3));
        assert_eq!((register.accepted(), register.refused()), (3, 1));
        assert!(register.write(0, "older still").is_err());
        assert_eq!((register.accepted(), register.refused()), (3, 2));
    }

    #[test]
    fn a_write_survives_the_wire_and_garbage_does_not_pass_for_one() {
        let write = Write {
            node: 2,
            token: 7,
            seq: 41,
        };
        assert_eq!(Write::decode(&write.encode()).ok(), Some(write));
        assert!(Write::decode(b"").is_err());
        assert!(Write::decode(b"{\"node\":1}").is_err());
    }

    /// The register on a socket: writes in order of arrival, the stale one
    /// refused, a datagram that is not a write reported and dropped.
    #[tokio::test]
    async fn a_served_register_applies_writes_as_they_arrive() {
        let register = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = register.local_addr().expect("addr");
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(serve_register(register, move |a| {
            tx.send(a).is_ok() && !matches!(a, Arrival::Malformed { .. })
        }));
        let w = |node, token, seq| Write { node, token, seq };
        for (write, accepted) in [(w(0, 2, 1), true), (w(1, 3, 1), true), (w(0, 2, 2), false)] {
            client.send_to(&write.encode(), addr).await.expect("send");
            // One at a time, so that loopback cannot reorder them.
            let arrival = rx.recv().await.expect("an arrival");
            assert_eq!(arrival, Arrival::Write { write, accepted });
        }
        client.send_to(b"not a write", addr).await.expect("send");
        assert!(matches!(rx.recv().await, Some(Arrival::Malformed { .. })));
        assert!(server.await.expect("joined").is_ok(), "stops when told to");
    }

    /// Without a lease, the writer writes while its node leads — at once
    /// when it begins to, then every period, numbering its writes — and
    /// not while it follows.
    #[tokio::test(start_paused = true)]
    async fn the_writer_writes_only_while_its_node_leads() {
        use crate::leadership::{LeaderView, Role};
        let follower = LeaderView {
            role: Role::Follower,
            leader: Some(1),
            term: Some(4),
        };
        let (view, rx) = watch::channel(follower);
        let (tx, mut writes) = tokio::sync::mpsc::unbounded_channel();
        let every = Duration::from_millis(50);
        let writer = tokio::spawn(write_while_leading(
            0,
            Authority::Role(rx),
            every,
            move |w| {
                let _ = tx.send((tokio::time::Instant::now(), w));
            },
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(writes.try_recv().is_err(), "a follower does not write");
        let began = tokio::time::Instant::now();
        let _ = view.send(LeaderView {
            role: Role::Leader,
            leader: Some(0),
            term: Some(5),
        });
        for seq in 1..=3 {
            let (at, write) = writes.recv().await.expect("a write");
            assert_eq!(
                write,
                Write {
                    node: 0,
                    token: 5,
                    seq
                }
            );
            assert_eq!(at - began, every * (seq as u32 - 1));
        }
        let _ = view.send(follower);
        tokio::time::sleep(Duration::from_millis(60)).await;
        while writes.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(writes.try_recv().is_err(), "stops when its node follows");
        drop(view);
        assert!(writer.await.is_ok(), "returns once its node is gone");
    }
}
