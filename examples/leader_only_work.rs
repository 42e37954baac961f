//! An application that does its work only while it holds the leader's lease.
//!
//! Three Raft nodes run in this one process (in production each would be its
//! own process with its own `--peers` list), with CheckQuorum and a 300 ms
//! leader lease. Each node's worker waits for a lease, then checks it before
//! every piece of work and tags the work with the lease's fencing token: a
//! leader frozen by a pause knows its lease lapsed the moment it wakes, and a
//! resource that refuses tokens below the highest it has seen refuses a
//! deposed leader's late writes. After a few seconds the leader is shut
//! down, and the work moves to the new leader, under a higher token.
//!
//!     cargo run --example leader_only_work

use elect::leadership::Role;
use elect::protocols::raft::{LeaseConfig, Raft, RaftOptions};
use elect::runtime::{self, Leases, NodeConfig, NodeHandle};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Work that must never run on two nodes at once.
async fn worker(id: usize, mut leases: Leases) {
    loop {
        let Ok(lease) = leases.acquire().await else {
            return; // the node stopped
        };
        let mut ticks = 0u64;
        // Read the clock at the moment of acting, every time.
        while lease.is_valid() {
            ticks += 1;
            println!(
                "n{id}: lease valid for {:>3} ms more, doing work with token {} (tick {ticks})",
                lease.remaining().as_millis(),
                lease.token()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "n{id}: lease of token {} lapsed, stopping work",
            lease.token()
        );
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
    let raft = RaftOptions {
        pre_vote: false,
        check_quorum: true,
        lease: Some(LeaseConfig {
            duration: Duration::from_millis(300),
            drift_ppm: 50_000,
        }),
    };
    let mut nodes: Vec<Option<NodeHandle>> = Vec::new();
    for id in 0..peers.len() {
        let config = NodeConfig {
            raft: raft.clone(),
            ..NodeConfig::new(id, peers.clone())
        };
        let node = runtime::start::<Raft>(config).await?;
        tokio::spawn(worker(id, node.leases()));
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
