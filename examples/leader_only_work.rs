//! An application that does its work only while it holds the leader's lease,
//! and writes to a resource that refuses a deposed leader.
//!
//! Three Raft nodes run in this one process (in production each would be its
//! own process with its own `--peers` list), with CheckQuorum and a 300 ms
//! leader lease. Each node's worker waits for a lease, checks it before every
//! piece of work, and writes the work to a [`FencedRegister`] with the
//! lease's fencing token.
//!
//! After a few seconds the leader's worker checks its lease, finds it valid,
//! and then stalls for 1.5 s before its write (a GC pause, a slow disk), and
//! the leader's node is stopped. The work moves to a new leader, under a
//! higher token. When the stalled write finally arrives, the register
//! refuses it: the lease cannot stop a write already past its check, the
//! fencing token does.
//!
//!     cargo run --example leader_only_work

use elect::fencing::FencedRegister;
use elect::leadership::Role;
use elect::protocols::lease::LeaseConfig;
use elect::protocols::raft::{Raft, RaftOptions};
use elect::runtime::{self, Leases, NodeConfig, NodeHandle};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

type Register = Arc<Mutex<FencedRegister<String>>>;

/// What the main task can make a worker do: stall once between its lease
/// check and its write, saying so when it starts to.
#[derive(Default)]
struct Stall {
    next_write: AtomicBool,
    started: Notify,
}

/// Work that must never be done by two nodes at once.
async fn worker(id: usize, mut leases: Leases, register: Register, stall: Arc<Stall>) {
    loop {
        let Ok(lease) = leases.acquire().await else {
            return; // the node stopped
        };
        let mut ticks = 0u64;
        // Read the clock at the moment of acting, every time.
        while lease.is_valid() {
            ticks += 1;
            let work = format!("n{id} tick {ticks}");
            if stall.next_write.swap(false, Ordering::Relaxed) {
                println!(
                    "n{id}: lease valid, token {}; stalls 1.5 s before writing",
                    lease.token()
                );
                stall.started.notify_one();
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            // The lock is released before any await (a poisoned lock stops
            // the worker).
            let Some(written) = register
                .lock()
                .ok()
                .map(|mut r| r.write(lease.token(), work.clone()))
            else {
                return;
            };
            match written {
                Ok(()) => println!(
                    "n{id}: wrote '{work}' with token {} ({} ms of lease left)",
                    lease.token(),
                    lease.remaining().as_millis()
                ),
                Err(refused) => println!("n{id}: write '{work}' refused: {refused}"),
            }
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
    let register: Register = Arc::new(Mutex::new(FencedRegister::new()));
    let mut nodes: Vec<Option<NodeHandle>> = Vec::new();
    let mut stalls: Vec<Arc<Stall>> = Vec::new();
    for id in 0..peers.len() {
        let config = NodeConfig {
            raft: raft.clone(),
            ..NodeConfig::new(id, peers.clone())
        };
        let node = runtime::start::<Raft>(config).await?;
        let stall = Arc::new(Stall::default());
        tokio::spawn(worker(
            id,
            node.leases(),
            Arc::clone(&register),
            Arc::clone(&stall),
        ));
        stalls.push(stall);
        nodes.push(Some(node));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let leader = nodes
        .iter()
        .flatten()
        .find(|n| n.leadership().borrow().role == Role::Leader)
        .map(|n| n.id());
    if let Some(id) = leader {
        stalls[id].next_write.store(true, Ordering::Relaxed);
        stalls[id].started.notified().await;
        println!("-- stopping the leader, n{id}");
        if let Some(node) = nodes[id].take() {
            node.shutdown().await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Ok(r) = register.lock() {
        println!(
            "register: {} writes accepted, {} refused, highest token {:?}, value {:?}",
            r.accepted(),
            r.refused(),
            r.highest(),
            r.value()
        );
    }
    for node in nodes.into_iter().flatten() {
        node.shutdown().await?;
    }
    Ok(())
}
