//! An application that does its work only while it leads.
//!
//! Three Raft nodes run in this one process (in production each would be its
//! own process with its own `--peers` list). Each node's worker watches the
//! node's view of leadership and ticks only while it is leader. After a few
//! seconds the leader is shut down, and the work moves to the new leader.
//!
//!     cargo run --example leader_only_work

use elect::leadership::Role;
use elect::protocols::raft::Raft;
use elect::runtime::{self, NodeConfig, NodeHandle};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use tokio::sync::watch;

/// Work that must never run on two nodes at once (within a term).
async fn worker(id: usize, mut leadership: watch::Receiver<elect::leadership::LeaderView>) {
    let mut ticks = 0u64;
    loop {
        let view = *leadership.borrow_and_update();
        if view.role == Role::Leader {
            ticks += 1;
            println!(
                "n{id}: leading in term {:?}, doing work (tick {ticks})",
                view.term
            );
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                changed = leadership.changed() => if changed.is_err() { return },
            }
        } else if leadership.changed().await.is_err() {
            return; // the node stopped
        }
    }
}

fn free_addrs(n: usize) -> std::io::Result<Vec<SocketAddr>> {
    let sockets = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    sockets.iter().map(|s| s.local_addr()).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let peers = free_addrs(3)?;
    let mut nodes: Vec<Option<NodeHandle>> = Vec::new();
    for id in 0..peers.len() {
        let node = runtime::start::<Raft>(NodeConfig::new(id, peers.clone())).await?;
        tokio::spawn(worker(id, node.leadership()));
        nodes.push(Some(node));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let leader = nodes
        .iter()
        .flatten()
        .find(|n| n.leadership().borrow().role == Role::Leader)
        .map(|n| n.id());
    if let Some(id) = leader {
        println!("-- stopping the leader, n{id}");
        if let Some(node) = nodes[id].take() {
            node.shutdown().await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for node in nodes.into_iter().flatten() {
        println!("n{}: {:?}", node.id(), node.counters().sent);
        node.shutdown().await?;
    }
    Ok(())
}
