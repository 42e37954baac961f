//! The event loop of one node: datagrams in, timers firing, commands out.

use super::admin::{AdminRequest, AdminResponse, LeaseStatus, StatusReport};
use super::auth::Key;
use super::faults::{Fate, FaultCommand, FaultSpec};
use super::inbound::{Gate, Incoming};
use super::metrics::Counters;
use super::storage::Store;
use super::transport::Transport;
use super::wire::{self, DropReason, Kind};
use super::{
    Clock, LeadershipEvent, LeaseChange, LeaseState, NodeConfig, NodeError, NodeHandle, StartError,
};
use crate::leadership::{starts_election, LeaderView, Leadership};
use crate::protocols::Protocol;
use crate::topology::Partition;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stateright::actor::{Command, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub(super) fn start<P: Protocol, T: Transport>(
    config: NodeConfig,
    transport: T,
    store: Store,
) -> Result<NodeHandle, StartError> {
    let storage: Option<P::Storage> = store.load()?;
    let addr = config.peers[config.id];
    let local_addr = transport
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;

    let actor = P::new(config.cluster());
    let id = Id::from(config.id);
    let mut out = Out::new();
    let state = actor.on_start(id, &storage, &mut out);
    let initial_view = state.view();
    let (view_tx, view_rx) = watch::channel(initial_view);
    let (lease_tx, lease_rx) = watch::channel(None);
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
        faults = %config.faults,
        authenticated = config.key.is_some(),
        "node started"
    );
    let mut node = Node {
        actor,
        id,
        cluster: wire::cluster_id(&config.cluster),
        peers: config.peers.clone(),
        state,
        view: initial_view,
        timers: BTreeMap::new(),
        rng,
        store,
        transport: Arc::new(transport),
        key: config.key.clone(),
        faults: config.faults.clone(),
        partition: None,
        clock: config.clock,
        counters: Arc::clone(&counters),
        view_tx,
        lease: None,
        lease_tx,
        events: events_tx.clone(),
        started: Instant::now(),
    };
    let task = tokio::spawn(async move {
        node.apply(out).await?;
        node.publish_lease();
        node.run(shutdown_rx).await
    });
    Ok(NodeHandle {
        id: config.id,
        local_addr,
        view: view_rx,
        lease: lease_rx,
        events: events_tx,
        counters,
        shutdown: shutdown_tx,
        task,
    })
}

struct Node<P: Protocol, T: Transport> {
    actor: P,
    id: Id,
    cluster: u64,
    peers: Vec<SocketAddr>,
    state: P::State,
    view: LeaderView,
    /// Armed timers and when each expires.
    timers: BTreeMap<P::Timer, Instant>,
    rng: StdRng,
    store: Store,
    transport: Arc<T>,
    key: Option<Key>,
    /// Faults injected on every send.
    faults: FaultSpec,
    /// Messages this partition cuts are dropped, sent or received.
    partition: Option<Partition>,
    clock: Clock,
    counters: Arc<Mutex<Counters>>,
    view_tx: watch::Sender<LeaderView>,
    /// The lease last published.
    lease: Option<LeaseState>,
    lease_tx: watch::Sender<Option<LeaseState>>,
    events: broadcast::Sender<LeadershipEvent>,
    started: Instant,
}

impl<P: Protocol, T: Transport> Node<P, T> {
    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM + 1];
        loop {
            // Timers due at the same instant fire in timer order, and a due
            // timer goes before a waiting datagram (`biased`): nothing here
            // is left to chance, so a simulated run replays exactly from its
            // seed, and a flood of datagrams cannot starve the timers.
            let next_timer = self
                .timers
                .iter()
                .min_by_key(|&(timer, at)| (*at, timer))
                .map(|(t, at)| (t.clone(), *at));
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    info!(node = usize::from(self.id), "node stopping");
                    return Ok(());
                }
                _ = sleep_until(next_timer.as_ref().map(|(_, at)| *at)), if next_timer.is_some() => {
                    if let Some((timer, _)) = next_timer {
                        self.timers.remove(&timer);
                        self.step(|actor, me, state, out| actor.on_timeout(me, state, &timer, out))
                            .await?;
                    }
                }
                received = self.transport.recv_from(&mut buf) => match received {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from).await?,
                    // An ICMP "port unreachable" for an earlier send to a dead
                    // peer surfaces here on Linux; it says nothing about us.
                    Err(e) if is_transient(&e) => debug!(error = %e, "transient socket error"),
                    Err(e) => return Err(NodeError::Socket(e)),
                },
            }
        }
    }

    async fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr) -> Result<(), NodeError> {
        match self.accept(datagram, from) {
            Err(reason) => {
                self.drop_datagram(reason, from);
                Ok(())
            }
            Ok(Incoming::Admin(request, authenticated)) => {
                self.answer_admin(request, authenticated, from).await;
                Ok(())
            }
            Ok(Incoming::Message(sender, msg)) => {
                if self.cut(sender, self.id) {
                    self.count(|c| c.count_injected("partition"));
                    return Ok(());
                }
                self.count(|c| c.count_received(P::message_kind(&msg), datagram.len()));
                self.step(|actor, me, state, out| actor.on_msg(me, state, sender, msg, out))
                    .await
            }
        }
    }

    /// Decides what a datagram is, or why it is dropped.
    fn accept(&self, datagram: &[u8], from: SocketAddr) -> Result<Incoming<P::Msg>, DropReason> {
        Gate {
            me: self.id,
            cluster: self.cluster,
            key: self.key.as_ref(),
            peers: &self.peers,
        }
        .accept(datagram, from)
    }

    /// Whether the partition cuts messages from `src` to `dst`.
    fn cut(&self, src: Id, dst: Id) -> bool {
        self.partition
            .as_ref()
            .is_some_and(|p| p.cuts(usize::from(src), usize::from(dst)))
    }

    fn drop_datagram(&self, reason: DropReason, from: SocketAddr) {
        debug!(node = usize::from(self.id), %from, %reason, "datagram dropped");
        self.count(|c| c.count_dropped(reason.name()));
    }

    /// Answers an admin request. Changes are accepted only from loopback, or
    /// with a valid MAC when the cluster has a key.
    async fn answer_admin(&mut self, request: AdminRequest, authenticated: bool, from: SocketAddr) {
        let response = match request {
            AdminRequest::Status => AdminResponse::Status(Box::new(self.status())),
            AdminRequest::Fault(command) => {
                let allowed = match &self.key {
                    Some(_) => authenticated,
                    None => from.ip().is_loopback(),
                };
                if allowed {
                    AdminResponse::Done(self.change_faults(command))
                } else {
                    self.count(|c| c.count_dropped("unauthorized_admin"));
                    warn!(node = usize::from(self.id), %from, "fault command refused");
                    AdminResponse::Refused(if self.key.is_some() {
                        "fault commands need the cluster key (--key-file)".into()
                    } else {
                        "fault commands are accepted only from loopback".into()
                    })
                }
            }
        };
        // A response is sealed only for a client that proved it holds the
        // key; anyone may read a node's status.
        let key = self.key.as_ref().filter(|_| authenticated);
        match wire::datagram(Kind::AdminResponse, self.cluster, u16::MAX, &response, key) {
            Ok(bytes) => {
                if let Err(e) = self.transport.send_to(&bytes, from).await {
                    debug!(%from, error = %e, "admin answer not sent");
                }
            }
            Err(e) => warn!(error = %e, "admin answer does not fit a datagram"),
        }
    }

    fn status(&self) -> StatusReport {
        StatusReport {
            node: usize::from(self.id),
            protocol: P::KIND.name().to_string(),
            view: self.view,
            // Read against the clock now, as the lease guard reads it.
            lease: self.lease.and_then(|lease| {
                let remaining = lease.until.saturating_duration_since(Instant::now());
                (!remaining.is_zero()).then_some(LeaseStatus {
                    token: lease.token,
                    remaining_ms: remaining.as_millis() as u64,
                })
            }),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            counters: self.counters.lock().map(|c| c.clone()).unwrap_or_default(),
            faults: self.faults.to_string(),
            partition: self.partition.as_ref().map(|p| p.to_string()),
        }
    }

    fn change_faults(&mut self, command: FaultCommand) -> String {
        match command {
            FaultCommand::Set(spec) => self.faults = spec,
            FaultCommand::Partition(p) => self.partition = Some(p),
            FaultCommand::Heal => self.partition = None,
        }
        let now = format!(
            "n{}: faults {}, partition {}",
            usize::from(self.id),
            self.faults,
            self.partition
                .as_ref()
                .map_or("none".into(), |p| p.to_string())
        );
        info!(node = usize::from(self.id), "{now}");
        now
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
            if self.store.is_disk() {
                // fsync blocks: keep it off the async thread.
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || store.save(&storage))
                    .await
                    .map_err(|e| NodeError::Task(e.to_string()))??;
            } else {
                self.store.save(&storage)?;
            }
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
        Box::pin(self.step(|actor, me, state, out| actor.on_random(me, state, &pick, out))).await
    }

    /// Runs one of the actor's handlers — the only way the node's state
    /// changes after start — then publishes the view it leaves and carries
    /// out its commands.
    async fn step(
        &mut self,
        handler: impl FnOnce(&P, Id, &mut Cow<P::State>, &mut Out<P>),
    ) -> Result<(), NodeError> {
        let mut out = Out::new();
        let mut state = Cow::Borrowed(&self.state);
        handler(&self.actor, self.id, &mut state, &mut out);
        if let Cow::Owned(next) = state {
            self.state = next;
        }
        self.publish_view();
        self.apply(out).await?;
        self.publish_lease();
        Ok(())
    }

    fn draw(&mut self, range: Range<Duration>) -> Duration {
        if range.start >= range.end {
            range.start
        } else {
            self.rng.random_range(range)
        }
    }

    /// Encodes and sends a message, through the injected faults.
    async fn send(&mut self, dst: Id, msg: &P::Msg) {
        let Some(&to) = self.peers.get(usize::from(dst)) else {
            warn!(dst = usize::from(dst), "message to a non-member dropped");
            return;
        };
        let sender = usize::from(self.id) as u16;
        let bytes =
            match wire::datagram(Kind::Protocol, self.cluster, sender, msg, self.key.as_ref()) {
                Ok(bytes) => bytes,
                Err(e) => {
                    warn!(error = %e, "message not sent");
                    return;
                }
            };
        self.count(|c| c.count_sent(P::message_kind(msg), bytes.len()));
        let cut = self.cut(self.id, dst);
        let delays = match self.faults.plan(cut, &mut self.rng) {
            Fate::Cut => return self.count(|c| c.count_injected("partition")),
            Fate::Dropped => return self.count(|c| c.count_injected("drop")),
            Fate::Sent(delays) => delays,
        };
        if delays.len() > 1 {
            self.count(|c| c.count_injected("dup"));
        }
        for delay in delays {
            if delay.is_zero() {
                if let Err(e) = self.transport.send_to(&bytes, to).await {
                    debug!(%to, error = %e, "send failed");
                }
            } else {
                // Held back: later messages may overtake it.
                self.count(|c| c.count_injected("delay"));
                let transport = Arc::clone(&self.transport);
                let bytes = bytes.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = transport.send_to(&bytes, to).await;
                });
            }
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
        let new_election = starts_election(Some(before), view);
        self.count(|c| {
            c.leadership_changes += 1;
            if new_election {
                c.elections_started += 1;
            }
        });
        let event = LeadershipEvent::at(&self.clock, usize::from(self.id), view);
        info!(node = event.node, role = %view.role, leader = ?view.leader, term = ?view.term, "leadership");
        let _ = self.view_tx.send(view);
        let _ = self.events.send(event);
    }

    /// Publishes the lease the node holds after its last step (its timers
    /// armed): the token and the deadline of the lease's timer, if the
    /// protocol's own rule says the lease is valid now.
    fn publish_lease(&mut self) {
        let now = Instant::now();
        let expired = |timer: &P::Timer| self.timers.get(timer).is_none_or(|at| *at <= now);
        let lease = if self.actor.lease_valid(&self.state, &expired) {
            let until = self
                .actor
                .lease_timer(&self.state)
                .and_then(|timer| self.timers.get(&timer).copied());
            until.map(|until| LeaseState {
                token: self.state.term().unwrap_or(0),
                until,
            })
        } else {
            None
        };
        if lease != self.lease {
            if lease.is_some() != self.lease.is_some() {
                info!(
                    node = usize::from(self.id),
                    token = ?lease.map(|l| l.token),
                    "lease {}",
                    if lease.is_some() { "held" } else { "released" }
                );
            }
            self.lease = lease;
            let _ = self.lease_tx.send(lease);
            let change = match lease {
                Some(held) => LeaseChange::Held {
                    token: held.token,
                    until_ms: self.clock.now_ms()
                        + held.until.saturating_duration_since(now).as_millis() as u64,
                },
                None => LeaseChange::Ended,
            };
            let event = LeadershipEvent::at(&self.clock, usize::from(self.id), self.view);
            let _ = self.events.send(event.lease_change(change));
        }
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
