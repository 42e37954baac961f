//! The event loop of one node: datagrams in, timers firing, commands out.

use super::admin::{AdminRequest, StatusReport};
use super::metrics::Counters;
use super::storage::Store;
use super::wire::{self, DropReason, Kind};
use super::{LeadershipEvent, NodeConfig, NodeError, NodeHandle, StartError};
use crate::leadership::{LeaderView, Leadership, Role};
use crate::protocols::{Cluster, Protocol};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stateright::actor::{Command, Id, Out};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub(super) async fn start<P: Protocol>(config: NodeConfig) -> Result<NodeHandle, StartError> {
    config.validate()?;
    let store = match &config.data_dir {
        Some(dir) => Store::open(dir)?,
        None => Store::in_memory(),
    };
    let storage: Option<P::Storage> = store.load()?;
    let addr = config.peers[config.id];
    let socket = UdpSocket::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let local_addr = socket
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;

    let actor = P::new(Cluster::new(config.peers.len(), config.timeouts.clone()));
    let id = Id::from(config.id);
    let mut out = Out::new();
    let state = actor.on_start(id, &storage, &mut out);
    let initial_view = state.view();
    let (view_tx, view_rx) = watch::channel(initial_view);
    let (events_tx, _) = broadcast::channel(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let counters = Arc::new(Mutex::new(Counters::default()));
    let rng = match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    info!(
        node = config.id,
        protocol = %P::KIND,
        %local_addr,
        restored = storage.is_some(),
        "node started"
    );
    let mut node = Node {
        actor,
        id,
        cluster: wire::cluster_id(&config.cluster),
        peers: config.peers.clone(),
        state,
        view: initial_view,
        timers: HashMap::new(),
        rng,
        store,
        socket,
        counters: Arc::clone(&counters),
        view_tx,
        events: events_tx.clone(),
        started: Instant::now(),
    };
    let task = tokio::spawn(async move {
        node.apply(out).await?;
        node.run(shutdown_rx).await
    });
    Ok(NodeHandle {
        id: config.id,
        local_addr,
        view: view_rx,
        events: events_tx,
        counters,
        shutdown: shutdown_tx,
        task,
    })
}

enum Incoming<M> {
    Message(Id, M),
    Admin(AdminRequest),
}

struct Node<P: Protocol> {
    actor: P,
    id: Id,
    cluster: u64,
    peers: Vec<SocketAddr>,
    state: P::State,
    view: LeaderView,
    /// Armed timers and when each expires.
    timers: HashMap<P::Timer, Instant>,
    rng: StdRng,
    store: Store,
    socket: UdpSocket,
    counters: Arc<Mutex<Counters>>,
    view_tx: watch::Sender<LeaderView>,
    events: broadcast::Sender<LeadershipEvent>,
    started: Instant,
}

impl<P: Protocol> Node<P> {
    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
        loop {
            let next_timer = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (t.clone(), *at));
            tokio::select! {
                _ = shutdown.changed() => {
                    info!(node = usize::from(self.id), "node stopping");
                    return Ok(());
                }
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from).await?,
                    // An ICMP "port unreachable" for an earlier send to a dead
                    // peer surfaces here on Linux; it says nothing about us.
                    Err(e) if is_transient(&e) => debug!(error = %e, "transient socket error"),
                    Err(e) => return Err(NodeError::Socket(e)),
                },
                _ = sleep_until(next_timer.as_ref().map(|(_, at)| *at)), if next_timer.is_some() => {
                    if let Some((timer, _)) = next_timer {
                        self.timers.remove(&timer);
                        let mut out = Out::new();
                        let mut state = Cow::Borrowed(&self.state);
                        self.actor.on_timeout(self.id, &mut state, &timer, &mut out);
                        if let Cow::Owned(next) = state {
                            self.state = next;
                        }
                        self.publish_view();
                        self.apply(out).await?;
                    }
                }
            }
        }
    }

    async fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr) -> Result<(), NodeError> {
        match self.accept(datagram, from) {
            Err(reason) => {
                self.drop_datagram(reason, from);
                Ok(())
            }
            Ok(Incoming::Admin(AdminRequest::Status)) => {
                self.answer_status(from).await;
                Ok(())
            }
            Ok(Incoming::Message(sender, msg)) => {
                self.count(|c| c.count_received(P::message_kind(&msg), datagram.len()));
                let mut out = Out::new();
                let mut state = Cow::Borrowed(&self.state);
                self.actor
                    .on_msg(self.id, &mut state, sender, msg, &mut out);
                if let Cow::Owned(next) = state {
                    self.state = next;
                }
                self.publish_view();
                self.apply(out).await
            }
        }
    }

    /// Decides what a datagram is, or why it is dropped.
    fn accept(&self, datagram: &[u8], from: SocketAddr) -> Result<Incoming<P::Msg>, DropReason> {
        let (header, payload) = wire::decode_header(datagram, self.cluster)?;
        match header.kind {
            Kind::Protocol => {
                let sender = usize::from(header.sender);
                let member = sender < self.peers.len()
                    && Id::from(sender) != self.id
                    && self.peers[sender] == from;
                if !member {
                    return Err(DropReason::UnknownSender);
                }
                Ok(Incoming::Message(
                    Id::from(sender),
                    wire::decode_payload(payload)?,
                ))
            }
            Kind::AdminRequest => Ok(Incoming::Admin(wire::decode_payload(payload)?)),
            Kind::AdminResponse => Err(DropReason::Malformed),
        }
    }

    fn drop_datagram(&self, reason: DropReason, from: SocketAddr) {
        debug!(node = usize::from(self.id), %from, %reason, "datagram dropped");
        self.count(|c| c.count_dropped(reason.name()));
    }

    async fn answer_status(&self, to: SocketAddr) {
        let report = StatusReport {
            node: usize::from(self.id),
            protocol: P::KIND.name().to_string(),
            view: self.view,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            counters: self.counters.lock().map(|c| c.clone()).unwrap_or_default(),
        };
        match wire::encode(Kind::AdminResponse, self.cluster, u16::MAX, &report) {
            Ok(bytes) => {
                if let Err(e) = self.socket.send_to(&bytes, to).await {
                    debug!(%to, error = %e, "status answer not sent");
                }
            }
            Err(e) => warn!(error = %e, "status report does not fit a datagram"),
        }
    }

    /// Carries out a handler's commands. Storage first: the last value saved
    /// in the batch reaches the disk before any message of the batch leaves.
    async fn apply(&mut self, out: Out<P>) -> Result<(), NodeError> {
        let commands: Vec<_> = out.into_iter().collect();
        let last_save = commands.iter().rev().find_map(|c| match c {
            Command::Save(s) => Some(s.clone()),
            _ => None,
        });
        if let Some(storage) = last_save {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.save(&storage))
                .await
                .map_err(|e| NodeError::Task(e.to_string()))??;
            self.count(|c| c.saves += 1);
        }
        for command in commands {
            match command {
                Command::Save(_) => {}
                Command::SetTimer(timer, range) => {
                    let at = Instant::now() + self.draw(range);
                    self.timers.insert(timer, at);
                }
                Command::CancelTimer(timer) => {
                    self.timers.remove(&timer);
                }
                Command::Send(dst, msg) => self.send(dst, &msg).await,
                Command::ChooseRandom(key, choices) => self.choose_random(key, choices).await?,
            }
        }
        Ok(())
    }

    /// `ChooseRandom` asks the environment to pick one value; the runtime
    /// picks uniformly and hands it to the actor at once.
    async fn choose_random(
        &mut self,
        key: String,
        choices: Vec<P::Random>,
    ) -> Result<(), NodeError> {
        if choices.is_empty() {
            return Ok(());
        }
        let pick = choices[self.rng.random_range(0..choices.len())].clone();
        debug!(node = usize::from(self.id), key, "random choice");
        let mut out = Out::new();
        let mut state = Cow::Borrowed(&self.state);
        self.actor.on_random(self.id, &mut state, &pick, &mut out);
        if let Cow::Owned(next) = state {
            self.state = next;
        }
        self.publish_view();
        Box::pin(self.apply(out)).await
    }

    fn draw(&mut self, range: Range<Duration>) -> Duration {
        if range.start >= range.end {
            range.start
        } else {
            self.rng.random_range(range)
        }
    }

    async fn send(&self, dst: Id, msg: &P::Msg) {
        let Some(&to) = self.peers.get(usize::from(dst)) else {
            warn!(dst = usize::from(dst), "message to a non-member dropped");
            return;
        };
        let bytes = match wire::encode(
            Kind::Protocol,
            self.cluster,
            usize::from(self.id) as u16,
            msg,
        ) {
            Ok(bytes) => bytes,
            Err(e) => {
                warn!(error = %e, "message not sent");
                return;
            }
        };
        match self.socket.send_to(&bytes, to).await {
            Ok(_) => self.count(|c| c.count_sent(P::message_kind(msg), bytes.len())),
            Err(e) => debug!(%to, error = %e, "send failed"),
        }
    }

    /// Publishes the view if the last handler changed it. (The view after
    /// `on_start` is the watch channel's initial value.)
    fn publish_view(&mut self) {
        let view = self.state.view();
        if view == self.view {
            return;
        }
        let before = self.view;
        self.view = view;
        let new_election = view.role == Role::Candidate
            && (before.role != Role::Candidate || before.term != view.term);
        self.count(|c| {
            c.leadership_changes += 1;
            if new_election {
                c.elections_started += 1;
            }
        });
        let event = LeadershipEvent::now(usize::from(self.id), view);
        info!(node = event.node, role = %view.role, leader = ?view.leader, term = ?view.term, "leadership");
        let _ = self.view_tx.send(view);
        let _ = self.events.send(event);
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}
