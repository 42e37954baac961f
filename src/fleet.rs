//! A fleet of `elect node` processes: start, SIGKILL, SIGSTOP/SIGCONT and
//! restart members, partition and heal them through the admin request,
//! follow their leadership events, and keep the history for the history
//! checker.
//!
//! `elect cluster` and `elect chaos` run their nodes with it, and so do the
//! tests of real processes and the benchmarks (which name the binary to run
//! with [`FleetOptions::exe`]). It needs a tokio runtime: each member's
//! process is owned by a task that reaps it.

use crate::history::{self, HistoryEvent, Occurrence, Verdict};
use crate::leadership::{self, LeaderView, Role};
use crate::protocols::raft::RaftOptions;
use crate::protocols::{ProtocolKind, Timeouts};
use crate::runtime::admin;
use crate::runtime::auth::Key;
use crate::runtime::faults::{FaultCommand, FaultSpec};
use crate::runtime::{wire, Clock, LeaseChange};
use crate::topology::Partition;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How to start the fleet's nodes.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// The protocol every node runs.
    pub protocol: ProtocolKind,
    /// Every member's address, in id order.
    pub peers: Vec<SocketAddr>,
    /// The `elect` binary to run (default: the running executable).
    pub exe: Option<PathBuf>,
    /// Node i keeps its storage in `DIR/node-i` (default: a fresh temporary
    /// directory, removed at shutdown).
    pub data_dir: Option<PathBuf>,
    /// Timer settings for every node (default: the nodes' own defaults).
    pub timeouts: Option<Timeouts>,
    /// Raft's switches for every node (Raft only; the lease Raft or Paxos).
    pub raft: RaftOptions,
    /// Faults every node injects into what it sends.
    pub faults: Option<FaultSpec>,
    /// The cluster key: passed to every node, and used for fault commands.
    pub key_file: Option<PathBuf>,
    /// Further flags for every `elect node`.
    pub extra_args: Vec<String>,
}

impl FleetOptions {
    /// Options for a fleet of `protocol` nodes on `peers`, all else default.
    pub fn new(protocol: ProtocolKind, peers: Vec<SocketAddr>) -> FleetOptions {
        FleetOptions {
            protocol,
            peers,
            exe: None,
            data_dir: None,
            timeouts: None,
            raft: RaftOptions::default(),
            faults: None,
            key_file: None,
            extra_args: Vec::new(),
        }
    }
}

/// Why a fleet could not be set up or a member not started.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The key file is unusable (the message names the file).
    #[error("{0}")]
    Key(String),
    /// The running executable cannot be found (to run it as `elect node`).
    #[error("cannot find the elect binary: {0}")]
    Exe(std::io::Error),
    /// A member's process could not be started.
    #[error("cannot start node n{node}: {source}")]
    Spawn {
        /// The member.
        node: usize,
        /// Why.
        source: std::io::Error,
    },
}

/// A leadership event as `elect node --log-format json` prints it.
#[derive(Debug, Deserialize)]
struct NodeEvent {
    at_ms: u64,
    node: usize,
    #[serde(flatten)]
    view: LeaderView,
    #[serde(default)]
    lease: Option<LeaseChange>,
}

enum Report {
    Event(NodeEvent),
    Exited {
        node: usize,
        generation: u64,
        status: Option<i32>,
        stderr: String,
    },
}

/// What the fleet saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetEvent {
    /// Some node's view changed (or a stale report arrived).
    Changed,
    /// A node exited on its own.
    Exited {
        /// The member.
        node: usize,
        /// Its exit status, `None` if a signal ended it.
        status: Option<i32>,
        /// The last line it wrote to stderr.
        reason: String,
    },
}

struct Member {
    /// Present while the process is meant to run: sending on it (or
    /// dropping it) SIGKILLs the process.
    kill: Option<oneshot::Sender<()>>,
    pid: Option<u32>,
    /// Incremented at every (re)start, so that a dead incarnation's exit is
    /// not mistaken for the current one's.
    generation: u64,
    /// Processes of this member started and not reaped yet.
    unreaped: usize,
    view: Option<LeaderView>,
    frozen: bool,
}

/// The running fleet.
pub struct Fleet {
    options: FleetOptions,
    exe: PathBuf,
    data_dir: PathBuf,
    owns_data_dir: bool,
    members: Vec<Member>,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
    key: Option<Key>,
    history: Vec<HistoryEvent>,
}

impl Fleet {
    /// A fleet with no member started yet.
    pub fn new(options: FleetOptions) -> Result<Fleet, FleetError> {
        let exe = match &options.exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().map_err(FleetError::Exe)?,
        };
        let (data_dir, owns_data_dir) = match &options.data_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!("elect-fleet-{}", std::process::id())),
                true,
            ),
        };
        let key = match &options.key_file {
            Some(path) => Some(Key::load(path).map_err(FleetError::Key)?),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let members = options
            .peers
            .iter()
            .map(|_| Member {
                kill: None,
                pid: None,
                generation: 0,
                unreaped: 0,
                view: None,
                frozen: false,
            })
            .collect();
        Ok(Fleet {
            options,
            exe,
            data_dir,
            owns_data_dir,
            members,
            tx,
            rx,
            key,
            history: Vec::new(),
        })
    }

    /// Number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// `--peers` as the nodes get it: `127.0.0.1:7000,127.0.0.1:7001,…`.
    pub fn peers_csv(&self) -> String {
        self.options
            .peers
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Where member i keeps its storage.
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.data_dir.join(format!("node-{i}"))
    }

    fn node_args(&self, i: usize) -> Vec<String> {
        let o = &self.options;
        let mut a = vec![
            "node".to_string(),
            "--protocol".into(),
            o.protocol.name().into(),
            "--peers".into(),
            self.peers_csv(),
            "--log-format".into(),
            "json".into(),
            "--id".into(),
            i.to_string(),
            "--data-dir".into(),
            self.node_dir(i).display().to_string(),
        ];
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                a.extend([name.to_string(), v]);
            }
        };
        let t = o.timeouts.as_ref();
        flag(
            "--heartbeat-ms",
            t.map(|t| t.heartbeat.as_millis().to_string()),
        );
        flag(
            "--election-timeout-ms",
            t.map(|t| {
                format!(
                    "{}..{}",
                    t.election.start.as_millis(),
                    t.election.end.as_millis()
                )
            }),
        );
        flag("--reply-ms", t.map(|t| t.reply.as_millis().to_string()));
        let raft = &o.raft;
        if let Some(lease) = &raft.lease {
            flag("--lease-ms", Some(lease.duration.as_millis().to_string()));
            flag("--drift", Some(lease.drift().to_string()));
        }
        flag("--faults", o.faults.as_ref().map(|f| f.to_string()));
        flag(
            "--key-file",
            o.key_file.as_ref().map(|p| p.display().to_string()),
        );
        if raft.pre_vote {
            a.push("--pre-vote".into());
        }
        if raft.check_quorum {
            a.push("--check-quorum".into());
        }
        a.extend(o.extra_args.iter().cloned());
        a
    }

    /// Whether member i's process runs (frozen or not).
    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].kill.is_some()
    }

    /// Running and not frozen.
    pub fn is_live(&self, i: usize) -> bool {
        self.is_running(i) && !self.members[i].frozen
    }

    /// Whether every process ever started for member i has been reaped
    /// (as seen by [`Fleet::next`] and [`Fleet::try_next`]): its port is free
    /// again.
    pub fn has_exited(&self, i: usize) -> bool {
        self.members[i].unreaped == 0
    }

    /// The process id of member i, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].pid.filter(|_| self.is_running(i))
    }

    fn mark_down(&mut self, i: usize) {
        self.history.push(HistoryEvent {
            at_ms: Clock::Wall.now_ms(),
            node: i,
            what: Occurrence::Down,
        });
    }

    /// Starts member i (again, on its storage).
    pub fn spawn(&mut self, i: usize) -> Result<(), FleetError> {
        let mut child = Command::new(&self.exe)
            .args(self.node_args(i))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| FleetError::Spawn { node: i, source })?;
        let member = &mut self.members[i];
        member.generation += 1;
        member.unreaped += 1;
        member.pid = child.id();
        member.view = None;
        member.frozen = false;
        let generation = member.generation;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (kill_tx, kill_rx) = oneshot::channel();
        member.kill = Some(kill_tx);
        let events = self.tx.clone();
        tokio::spawn(async move {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<NodeEvent>(&line) {
                    if events.send(Report::Event(event)).is_err() {
                        return;
                    }
                }
            }
        });
        // Only the last line is kept: it says why a node gave up.
        let last_stderr_line = tokio::spawn(async move {
            let mut last = String::new();
            if let Some(stderr) = stderr {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    last = line;
                }
            }
            last
        });
        // The process's owner: waits for it to exit, or SIGKILLs it on request.
        let exits = self.tx.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let stderr = last_stderr_line.await.unwrap_or_default();
            let status = status.ok().and_then(|s| s.code());
            let _ = exits.send(Report::Exited {
                node: i,
                generation,
                status,
                stderr,
            });
        });
        Ok(())
    }

    /// SIGKILL: no chance to clean up, as in a power cut. The process is
    /// reaped in the background ([`Fleet::has_exited`]).
    pub fn kill(&mut self, i: usize) {
        if let Some(kill) = self.members[i].kill.take() {
            let _ = kill.send(());
            self.members[i].view = None;
            self.members[i].pid = None;
            self.members[i].frozen = false;
            self.mark_down(i);
        }
    }

    /// SIGSTOP: the process freezes with its sockets open, as a stalled host.
    pub fn freeze(&mut self, i: usize) {
        if let (Some(pid), false) = (self.pid(i), self.members[i].frozen) {
            if signal(pid, nix::sys::signal::Signal::SIGSTOP) {
                self.members[i].frozen = true;
                self.mark_down(i);
            }
        }
    }

    /// SIGCONT: the frozen process resumes, still believing what it believed.
    pub fn thaw(&mut self, i: usize) {
        if let (Some(pid), true) = (self.pid(i), self.members[i].frozen) {
            if signal(pid, nix::sys::signal::Signal::SIGCONT) {
                self.members[i].frozen = false;
                if let Some(view) = self.members[i].view {
                    self.history.push(HistoryEvent {
                        at_ms: Clock::Wall.now_ms(),
                        node: i,
                        what: Occurrence::View(view),
                    });
                }
            }
        }
    }

    /// Sends a fault command to every live member; returns how many took it.
    pub async fn fault(&self, command: FaultCommand) -> usize {
        let cluster = wire::cluster_id("elect");
        let mut done = 0;
        for (i, addr) in self.options.peers.iter().enumerate() {
            if !self.is_live(i) {
                continue;
            }
            let sent = admin::send_fault(
                *addr,
                cluster,
                self.key.as_ref(),
                command.clone(),
                Duration::from_millis(300),
            )
            .await;
            if sent.is_ok() {
                done += 1;
            }
        }
        done
    }

    /// Cuts the network between the live members as `partition` says.
    pub async fn partition(&self, partition: Partition) -> usize {
        self.fault(FaultCommand::Partition(partition)).await
    }

    /// Waits for the next report, or until `until`.
    pub async fn next(&mut self, until: Option<Instant>) -> Option<FleetEvent> {
        let report = match until {
            Some(t) => tokio::time::timeout_at(t, self.rx.recv()).await.ok()??,
            None => self.rx.recv().await?,
        };
        Some(self.take(report))
    }

    /// The next report if one has arrived, without waiting (and without a
    /// runtime).
    pub fn try_next(&mut self) -> Option<FleetEvent> {
        let report = self.rx.try_recv().ok()?;
        Some(self.take(report))
    }

    fn take(&mut self, report: Report) -> FleetEvent {
        match report {
            Report::Event(e) => {
                if let Some(m) = self.members.get_mut(e.node) {
                    if m.kill.is_some() {
                        m.view = Some(e.view);
                        self.history.push(HistoryEvent {
                            at_ms: e.at_ms,
                            node: e.node,
                            what: Occurrence::of(e.view, e.lease),
                        });
                    }
                }
                FleetEvent::Changed
            }
            Report::Exited {
                node,
                generation,
                status,
                stderr,
            } => {
                let m = &mut self.members[node];
                m.unreaped = m.unreaped.saturating_sub(1);
                if m.generation != generation || m.kill.is_none() {
                    return FleetEvent::Changed;
                }
                m.kill = None;
                m.view = None;
                m.pid = None;
                self.mark_down(node);
                FleetEvent::Exited {
                    node,
                    status,
                    reason: stderr,
                }
            }
        }
    }

    /// The leader every live node follows, if they all agree and it leads.
    pub fn agreed_leader(&self) -> Option<usize> {
        leadership::agreed_leader(
            (0..self.size())
                .filter(|&i| self.is_live(i))
                .map(|i| (i, self.members[i].view)),
        )
    }

    /// The node that acts as leader, preferring one every live node agrees on.
    pub fn acting_leader(&self) -> Option<usize> {
        self.agreed_leader().or_else(|| {
            (0..self.size()).find(|&i| {
                self.is_live(i) && self.members[i].view.is_some_and(|v| v.role == Role::Leader)
            })
        })
    }

    /// `n0 → n2  n1 → n2  n2 LEADER t1`.
    pub fn describe(&self) -> String {
        (0..self.size())
            .map(|i| {
                match (
                    self.is_running(i),
                    self.members[i].frozen,
                    &self.members[i].view,
                ) {
                    (false, _, _) => format!("n{i} down"),
                    (true, true, _) => format!("n{i} frozen"),
                    (true, false, None) => format!("n{i} starting"),
                    (true, false, Some(v)) => {
                        let term = v.term.map_or(String::new(), |t| format!(" t{t}"));
                        match (v.role, v.leader) {
                            (Role::Leader, _) => format!("n{i} LEADER{term}"),
                            (Role::Candidate, _) => format!("n{i} candidate{term}"),
                            (Role::Follower, Some(l)) => format!("n{i} → n{l}{term}"),
                            (Role::Follower, None) => format!("n{i} follower (no leader){term}"),
                        }
                    }
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    }

    /// Adds what the fleet's nodes did outside the fleet's sight to the
    /// history: a write arriving at a resource they write to.
    pub fn record(&mut self, event: HistoryEvent) {
        self.history.push(event);
    }

    /// The history checker's verdict on everything seen so far.
    pub fn verdict(&self) -> Verdict {
        history::check(&self.history, Clock::Wall.now_ms())
    }

    /// Stops every member (thawing frozen ones so they can die) and waits,
    /// up to 5 s, until every process still running has been reaped. Members
    /// already down are not waited for.
    pub async fn shutdown(&mut self) {
        for i in 0..self.size() {
            self.thaw(i);
            self.kill(i);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (0..self.size()).any(|i| !self.has_exited(i)) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(report)) => {
                    self.take(report);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }

    /// The directory that holds every member's storage.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

fn signal(pid: u32, signal: nix::sys::signal::Signal) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path, exe: Option<PathBuf>) -> FleetOptions {
        let peers = (0..3)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 7000 + i)))
            .collect();
        FleetOptions {
            exe,
            data_dir: Some(dir.to_path_buf()),
            ..FleetOptions::new(
                <crate::protocols::raft::Raft as crate::protocols::Protocol>::KIND,
                peers,
            )
        }
    }

    #[test]
    fn nodes_get_every_setting_as_the_flags_of_elect_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ms = Duration::from_millis;
        let fleet = Fleet::new(FleetOptions {
            timeouts: Some(Timeouts {
                heartbeat: ms(20),
                election: ms(300)..ms(600),
                reply: ms(10),
            }),
            raft: RaftOptions {
                pre_vote: true,
                check_quorum: true,
                lease: Some(crate::protocols::lease::LeaseConfig {
                    duration: ms(250),
                    drift_ppm: 50_000,
                }),
            },
            faults: FaultSpec::parse("drop=0.1,delay=0..5ms").ok(),
            extra_args: vec!["--seed".into(), "7".into()],
            ..options(dir.path(), Some(PathBuf::from("elect")))
        })
        .expect("fleet");
        let args = fleet.node_args(2).join(" ");
        let node_dir = dir.path().join("node-2");
        assert_eq!(
            args,
            format!(
                "node --protocol raft --peers 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 \
                 --log-format json --id 2 --data-dir {} --heartbeat-ms 20 \
                 --election-timeout-ms 300..600 --reply-ms 10 --lease-ms 250 --drift 0.05 \
                 --faults drop=0.1,dup=0,delay=0..5ms --pre-vote --check-quorum --seed 7",
                node_dir.display()
            )
        );
    }

    /// With a stand-in for `elect node` that just waits: what is killed is
    /// reaped, a restarted member is told apart from its dead incarnation,
    /// and shutdown leaves nothing running.
    #[tokio::test]
    async fn a_fleet_reaps_what_it_kills_and_tells_incarnations_apart() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("waits");
        std::fs::write(&exe, "#!/bin/sh\nexec sleep 60\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut fleet = Fleet::new(options(dir.path(), Some(exe))).expect("fleet");
        for i in 0..3 {
            fleet.spawn(i).expect("spawn");
        }
        assert!((0..3).all(|i| fleet.is_live(i) && fleet.pid(i).is_some()));
        fleet.kill(1);
        fleet.spawn(1).expect("restart");
        // The first incarnation's exit arrives, and is not the second's.
        while !fleet.has_exited(1) && fleet.members[1].unreaped > 1 {
            assert_eq!(fleet.next(None).await, Some(FleetEvent::Changed));
        }
        assert!(fleet.is_running(1) && !fleet.has_exited(1));
        fleet.kill(0);
        while !fleet.has_exited(0) {
            assert_eq!(fleet.next(None).await, Some(FleetEvent::Changed));
        }
        assert!(!fleet.is_running(0) && fleet.pid(0).is_none());
        fleet.shutdown().await;
        assert!((0..3).all(|i| fleet.has_exited(i) && !fleet.is_running(i)));
    }
}
