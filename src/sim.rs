//! Deterministic simulation: a whole cluster of real nodes — the UDP
//! runtime's own event loop, with the protocol actors the checker verified —
//! inside one process, on virtual time and a simulated network.
//!
//! Everything random comes from the run's seed: message loss, duplication
//! and delay, the nemesis that crashes and restarts nodes (their storage
//! kept) and splits and heals the network, and each node's timers. tokio's
//! single-threaded runtime with paused time runs tasks in a fixed order and
//! advances the clock only when every task waits, so a seed replays exactly.
//!
//! Beside its node, each member runs the leader-only writer
//! ([`crate::fencing::write_while_leading`]) against one fenced register
//! that every run shares; its writes travel with the same loss and delay as
//! the nodes' messages (drawn from a generator of their own, so that the
//! writes do not change the nodes' luck), and the history records what the
//! register accepted and refused.

use crate::fencing::{self, Authority, FencedRegister};
use crate::history::{self, HistoryEvent, Occurrence, Verdict};
use crate::nemesis::{Action, Nemesis, NemesisConfig};
use crate::protocols::raft::RaftOptions;
use crate::protocols::{Protocol, ProtocolKind, Timeouts};
use crate::runtime::faults::{Fate, FaultSpec};
use crate::runtime::storage::{MemorySlot, Store};
use crate::runtime::transport::Transport;
use crate::runtime::{self, Clock, NodeConfig, NodeHandle};
use crate::topology::Partition;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One simulated run's settings.
#[derive(Clone, Debug, Serialize)]
pub struct SimConfig {
    /// The protocol every node runs.
    pub protocol: ProtocolKind,
    /// Cluster size.
    pub nodes: usize,
    /// The run's seed: everything random is drawn from it.
    pub seed: u64,
    /// Virtual time the run lasts.
    pub duration: Duration,
    /// Probability that the network loses a message.
    pub drop: f64,
    /// Probability that the network delivers a message twice.
    pub dup: f64,
    /// Delivery delay, drawn per message (so messages reorder).
    pub delay: Range<Duration>,
    /// The nemesis crashes and restarts nodes.
    pub crashes: bool,
    /// The nemesis splits and heals the network.
    pub partitions: bool,
    /// Every node's timers.
    pub timeouts: Timeouts,
    /// Raft's switches at every node (the lease also Paxos's).
    pub raft: RaftOptions,
    /// How often a leader writes to the fenced register; `None`: no
    /// writers.
    pub write_every: Option<Duration>,
}

impl SimConfig {
    /// A harsh default: 10 % loss, 5 % duplication, 0–20 ms delay, crashes
    /// and partitions, 20 virtual seconds, a leader's write every 50 ms.
    pub fn new(protocol: ProtocolKind, nodes: usize, seed: u64) -> SimConfig {
        SimConfig {
            protocol,
            nodes,
            seed,
            duration: Duration::from_secs(20),
            drop: 0.1,
            dup: 0.05,
            delay: Duration::ZERO..Duration::from_millis(20),
            crashes: true,
            partitions: true,
            timeouts: Timeouts::default(),
            raft: RaftOptions::default(),
            write_every: Some(Duration::from_millis(50)),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct SimRun {
    /// The run's seed.
    pub seed: u64,
    /// The leadership history, as the history checker read it.
    pub events: Vec<HistoryEvent>,
    /// What the nemesis did, in order: "12.345 s crash n2", …
    pub nemesis: Vec<String>,
    /// The history checker's verdict.
    pub verdict: Verdict,
}

/// The simulated network all nodes of a run share.
struct Net {
    rng: StdRng,
    inboxes: Vec<mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>>,
    up: Vec<bool>,
    /// The split, while the network is split.
    partition: Option<Partition>,
    /// Loss, duplication and delay, decided by the runtime's own fault stage.
    faults: FaultSpec,
}

fn node_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 7000 + i as u16))
}

fn node_of(addr: SocketAddr) -> Option<usize> {
    usize::from(addr.port()).checked_sub(7000)
}

/// A node's endpoint on the simulated network.
struct SimTransport {
    me: usize,
    net: Arc<Mutex<Net>>,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<(Vec<u8>, SocketAddr)>>,
}

impl Transport for SimTransport {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        let deliveries = {
            let Ok(mut net) = self.net.lock() else {
                return Ok(());
            };
            let Some(dst) = node_of(to).filter(|&d| d < net.inboxes.len()) else {
                return Ok(());
            };
            let cut = net.partition.as_ref().is_some_and(|p| p.cuts(self.me, dst));
            let net = &mut *net;
            let Fate::Sent(delays) = net.faults.plan(cut, &mut net.rng) else {
                return Ok(());
            };
            let inbox = &net.inboxes[dst];
            delays
                .into_iter()
                .map(|delay| (delay, dst, inbox.clone()))
                .collect::<Vec<_>>()
        };
        let from = node_addr(self.me);
        for (delay, dst, inbox) in deliveries {
            let datagram = datagram.to_vec();
            let net = Arc::clone(&self.net);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                // A node that is down when the message arrives never sees it.
                let up = net.lock().map(|n| n.up[dst]).unwrap_or(false);
                if up {
                    let _ = inbox.send((datagram, from));
                }
            });
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut inbox = self.inbox.lock().await;
        match inbox.recv().await {
            Some((datagram, from)) => {
                let n = datagram.len().min(buf.len());
                buf[..n].copy_from_slice(&datagram[..n]);
                Ok((n, from))
            }
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(node_addr(self.me))
    }
}

/// Runs one simulated run of the protocol `config.protocol` names.
pub fn run(config: &SimConfig) -> Result<SimRun, String> {
    crate::with_protocol!(config.protocol, P => run_protocol::<P>(config))
}

fn run_protocol<P: Protocol>(config: &SimConfig) -> Result<SimRun, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot build the simulation runtime: {e}"))?;
    runtime.block_on(simulate::<P>(config.clone()))
}

/// The fenced register every writer of a run writes to, and the randomness
/// of the writes' way there.
struct Resource {
    register: FencedRegister<u64>,
    rng: StdRng,
}

struct SimNode {
    handle: Option<NodeHandle>,
    /// The node's leader-only writer, stopped with the node.
    writer: Option<tokio::task::JoinHandle<()>>,
    slot: MemorySlot,
    /// Incarnations so far: each restart gets fresh timer randomness.
    starts: u64,
}

async fn simulate<P: Protocol>(config: SimConfig) -> Result<SimRun, String> {
    let origin = Instant::now();
    let clock = Clock::Virtual(origin);
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<HistoryEvent>();
    let net = Arc::new(Mutex::new(Net {
        rng: StdRng::seed_from_u64(config.seed),
        inboxes: Vec::new(),
        up: vec![true; config.nodes],
        partition: None,
        faults: FaultSpec {
            drop: config.drop,
            dup: config.dup,
            delay: config.delay.clone(),
        },
    }));
    let peers: Vec<SocketAddr> = (0..config.nodes).map(node_addr).collect();
    let mut nodes: Vec<SimNode> = (0..config.nodes)
        .map(|_| SimNode {
            handle: None,
            writer: None,
            slot: Arc::new(Mutex::new(None)),
            starts: 0,
        })
        .collect();
    let mut nemesis = Nemesis::new(
        NemesisConfig::sim(config.crashes, config.partitions),
        config.nodes,
        config.seed ^ 0x5eed_0fca_0500,
        origin,
    );
    let mut log = Vec::new();
    let resource = Arc::new(Mutex::new(Resource {
        register: FencedRegister::new(),
        rng: StdRng::seed_from_u64(config.seed ^ 0x00f0_e0ce_d0ee),
    }));
    let write_faults = net.lock().map(|n| n.faults.clone()).unwrap_or_default();

    let start_node = |i: usize, node: &mut SimNode| -> Result<(), String> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut n) = net.lock() {
            if n.inboxes.len() <= i {
                n.inboxes.push(tx);
            } else {
                n.inboxes[i] = tx;
            }
            n.up[i] = true;
        }
        let transport = SimTransport {
            me: i,
            net: Arc::clone(&net),
            inbox: tokio::sync::Mutex::new(rx),
        };
        let node_config = NodeConfig {
            seed: Some(
                config
                    .seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add((i as u64) << 20)
                    .wrapping_add(node.starts),
            ),
            clock,
            timeouts: config.timeouts.clone(),
            raft: config.raft.clone(),
            ..NodeConfig::new(i, peers.clone())
        };
        let handle = runtime::start_on::<P, _>(
            node_config,
            transport,
            Store::memory(Arc::clone(&node.slot)),
        )
        .map_err(|e| format!("n{i} could not start: {e}"))?;
        let view = *handle.leadership().borrow();
        let _ = events_tx.send(HistoryEvent {
            at_ms: clock.now_ms(),
            node: i,
            what: Occurrence::View(view),
        });
        let mut events = handle.events();
        let forward = events_tx.clone();
        tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                let _ = forward.send(HistoryEvent {
                    at_ms: e.at_ms,
                    node: e.node,
                    what: Occurrence::of(e.view, e.lease),
                });
            }
        });
        if let Some(every) = config.write_every {
            let authority = if config.raft.lease.is_some() {
                Authority::Lease(handle.leases())
            } else {
                Authority::Role(handle.leadership())
            };
            let resource = Arc::clone(&resource);
            let faults = write_faults.clone();
            let events = events_tx.clone();
            node.writer = Some(tokio::spawn(fencing::write_while_leading(
                i,
                authority,
                every,
                move |write| {
                    let delays = match resource.lock() {
                        Ok(mut r) => match faults.plan(false, &mut r.rng) {
                            Fate::Sent(delays) => delays,
                            _ => return,
                        },
                        Err(_) => return,
                    };
                    for delay in delays {
                        let resource = Arc::clone(&resource);
                        let events = events.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let Ok(mut r) = resource.lock() else { return };
                            let accepted = r.register.write(write.token, write.seq).is_ok();
                            let _ = events.send(HistoryEvent {
                                at_ms: clock.now_ms(),
                                node: write.node,
                                what: Occurrence::Wrote {
                                    token: write.token,
                                    accepted,
                                },
                            });
                        });
                    }
                },
            )));
        }
        node.handle = Some(handle);
        node.starts += 1;
        Ok(())
    };

    for (i, node) in nodes.iter_mut().enumerate() {
        start_node(i, node)?;
    }

    let end = origin + config.duration;
    loop {
        let now = Instant::now();
        let at = (now - origin).as_secs_f64();
        // Restart nodes whose downtime is over, heal a split that is due.
        for action in nemesis.recoveries(now) {
            match action {
                Action::Restart(i) | Action::Thaw(i) => {
                    start_node(i, &mut nodes[i])?;
                    log.push(format!("{at:.3} s restart n{i}"));
                }
                Action::Heal => {
                    if let Ok(mut n) = net.lock() {
                        n.partition = None;
                    }
                    log.push(format!("{at:.3} s heal"));
                }
                // Recoveries are restarts, thaws and heals only.
                _ => {}
            }
        }
        if now >= end {
            break;
        }
        let up: Vec<bool> = nodes.iter().map(|n| n.handle.is_some()).collect();
        match nemesis.fault(now, &up, None) {
            Some(Action::Crash(victim) | Action::Freeze(victim)) => {
                if let Some(writer) = nodes[victim].writer.take() {
                    writer.abort();
                }
                if let Some(handle) = nodes[victim].handle.take() {
                    if let Ok(mut n) = net.lock() {
                        n.up[victim] = false;
                    }
                    let _ = handle.shutdown().await;
                    let _ = events_tx.send(HistoryEvent {
                        at_ms: clock.now_ms(),
                        node: victim,
                        what: Occurrence::Down,
                    });
                    log.push(format!("{at:.3} s crash n{victim}"));
                }
            }
            Some(Action::Partition(partition)) => {
                log.push(format!(
                    "{at:.3} s split {:?} | {:?}",
                    partition.from, partition.to
                ));
                if let Ok(mut n) = net.lock() {
                    n.partition = Some(partition);
                }
            }
            _ => {}
        }
        tokio::time::sleep_until(nemesis.wake().min(end)).await;
    }
    let end_ms = clock.now_ms();
    for node in nodes.iter_mut() {
        if let Some(writer) = node.writer.take() {
            writer.abort();
        }
        if let Some(handle) = node.handle.take() {
            let _ = handle.shutdown().await;
        }
    }
    drop(events_tx);
    let mut events = Vec::new();
    while let Ok(e) = events_rx.try_recv() {
        events.push(e);
    }
    let verdict = history::check(&events, end_ms);
    Ok(SimRun {
        seed: config.seed,
        events,
        nemesis: log,
        verdict,
    })
}
