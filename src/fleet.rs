//! A fleet of `elect node` processes on loopback, shared by `elect cluster`
//! and `elect chaos`: start, SIGKILL, SIGSTOP/SIGCONT and restart members,
//! partition and heal them through the admin request, follow their
//! leadership events, and keep the history for the history checker.

use super::Failure;
use crate::history::{self, HistoryEvent, Occurrence, Verdict};
use crate::leadership::{self, LeaderView, Role};
use crate::protocols::ProtocolKind;
use crate::runtime::admin;
use crate::runtime::auth::Key;
use crate::runtime::faults::{FaultCommand, Partition};
use crate::runtime::{wire, Clock};
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
    pub protocol: ProtocolKind,
    pub nodes: usize,
    pub base_port: u16,
    pub data_dir: Option<PathBuf>,
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_ms: Option<String>,
    pub reply_ms: Option<u64>,
    /// `--faults` for every node.
    pub faults: Option<String>,
    pub key_file: Option<PathBuf>,
}

impl FleetOptions {
    /// Refuses settings no node could start with, before any is started.
    pub fn validate(&self) -> Result<(), Failure> {
        if self.nodes == 0 || self.nodes > 200 {
            return Err(Failure::Usage(format!(
                "--nodes must be between 1 and 200 (got {})",
                self.nodes
            )));
        }
        if usize::from(self.base_port) + self.nodes > usize::from(u16::MAX) || self.base_port == 0 {
            return Err(Failure::Usage(format!(
                "--base-port {} leaves no room for {} nodes",
                self.base_port, self.nodes
            )));
        }
        if let Some(range) = &self.election_timeout_ms {
            super::node::parse_ms_range(range).map_err(Failure::Usage)?;
        }
        if let Some(spec) = &self.faults {
            crate::runtime::faults::FaultSpec::parse(spec)
                .map_err(|e| Failure::Usage(format!("--faults: {e}")))?;
        }
        if let Some(path) = &self.key_file {
            Key::load(path).map_err(Failure::Usage)?;
        }
        Ok(())
    }
}

/// A leadership event as `elect node --log-format json` prints it.
#[derive(Debug, Deserialize)]
struct NodeEvent {
    at_ms: u64,
    node: usize,
    #[serde(flatten)]
    view: LeaderView,
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
pub enum FleetEvent {
    /// Some node's view changed.
    Changed,
    /// A node exited on its own.
    Exited {
        node: usize,
        status: Option<i32>,
        reason: String,
    },
}

struct Member {
    /// Present while the process runs: sending on it SIGKILLs the process.
    kill: Option<oneshot::Sender<()>>,
    pid: Option<u32>,
    /// Incremented at every (re)start, so that a dead incarnation's exit is
    /// not mistaken for the current one's.
    generation: u64,
    view: Option<LeaderView>,
    frozen: bool,
}

pub struct Fleet {
    pub options: FleetOptions,
    exe: PathBuf,
    pub data_dir: PathBuf,
    owns_data_dir: bool,
    pub peers: Vec<SocketAddr>,
    members: Vec<Member>,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
    key: Option<Key>,
    history: Vec<HistoryEvent>,
}

impl Fleet {
    pub fn new(options: FleetOptions) -> Result<Fleet, Failure> {
        options.validate()?;
        let exe = std::env::current_exe()
            .map_err(|e| Failure::Internal(format!("cannot find the elect binary: {e}")))?;
        let (data_dir, owns_data_dir) = match &options.data_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!("elect-fleet-{}", std::process::id())),
                true,
            ),
        };
        let peers = (0..options.nodes)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], options.base_port + i as u16)))
            .collect();
        let key = match &options.key_file {
            Some(path) => Some(Key::load(path).map_err(Failure::Usage)?),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let members = (0..options.nodes)
            .map(|_| Member {
                kill: None,
                pid: None,
                generation: 0,
                view: None,
                frozen: false,
            })
            .collect();
        Ok(Fleet {
            options,
            exe,
            data_dir,
            owns_data_dir,
            peers,
            members,
            tx,
            rx,
            key,
            history: Vec::new(),
        })
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    pub fn peers_csv(&self) -> String {
        self.peers
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
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
            self.data_dir
                .join(format!("node-{i}"))
                .display()
                .to_string(),
        ];
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                a.extend([name.to_string(), v]);
            }
        };
        flag("--heartbeat-ms", o.heartbeat_ms.map(|v| v.to_string()));
        flag("--election-timeout-ms", o.election_timeout_ms.clone());
        flag("--reply-ms", o.reply_ms.map(|v| v.to_string()));
        flag("--faults", o.faults.clone());
        flag(
            "--key-file",
            o.key_file.as_ref().map(|p| p.display().to_string()),
        );
        a
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].kill.is_some()
    }

    /// Running and not frozen.
    pub fn is_live(&self, i: usize) -> bool {
        self.is_running(i) && !self.members[i].frozen
    }

    fn mark_down(&mut self, i: usize) {
        self.history.push(HistoryEvent {
            at_ms: Clock::Wall.now_ms(),
            node: i,
            what: Occurrence::Down,
        });
    }

    pub fn spawn(&mut self, i: usize) -> Result<(), Failure> {
        let mut child = Command::new(&self.exe)
            .args(self.node_args(i))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Failure::Internal(format!("cannot start node n{i}: {e}")))?;
        let member = &mut self.members[i];
        member.generation += 1;
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
        let stderr_text = tokio::spawn(async move {
            let mut text = String::new();
            if let Some(stderr) = stderr {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            text
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
            let stderr = stderr_text.await.unwrap_or_default();
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

    /// SIGKILL: no chance to clean up, as in a power cut.
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
        if let (Some(pid), false) = (self.members[i].pid, self.members[i].frozen) {
            if signal(pid, nix::sys::signal::Signal::SIGSTOP) {
                self.members[i].frozen = true;
                self.mark_down(i);
            }
        }
    }

    /// SIGCONT: the frozen process resumes, still believing what it believed.
    pub fn thaw(&mut self, i: usize) {
        if let (Some(pid), true) = (self.members[i].pid, self.members[i].frozen) {
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

    /// Sends a fault command to every running member; returns how many took it.
    pub async fn fault(&self, command: FaultCommand) -> usize {
        let cluster = wire::cluster_id("elect");
        let mut done = 0;
        for (i, addr) in self.peers.iter().enumerate() {
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

    pub async fn partition(&self, partition: Partition) -> usize {
        self.fault(FaultCommand::Partition(partition)).await
    }

    /// Waits for the next report, or until `until`.
    pub async fn next(&mut self, until: Option<Instant>) -> Option<FleetEvent> {
        let report = match until {
            Some(t) => tokio::time::timeout_at(t, self.rx.recv()).await.ok()??,
            None => self.rx.recv().await?,
        };
        Some(match report {
            Report::Event(e) => {
                if let Some(m) = self.members.get_mut(e.node) {
                    if m.kill.is_some() {
                        m.view = Some(e.view);
                        self.history.push(HistoryEvent {
                            at_ms: e.at_ms,
                            node: e.node,
                            what: Occurrence::View(e.view),
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
                let current = self.members[node].generation == generation
                    && self.members[node].kill.is_some();
                if current {
                    self.members[node].kill = None;
                    self.members[node].view = None;
                    self.members[node].pid = None;
                    self.mark_down(node);
                    FleetEvent::Exited {
                        node,
                        status,
                        reason: stderr.lines().last().unwrap_or("").to_string(),
                    }
                } else {
                    FleetEvent::Changed
                }
            }
        })
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

    /// The history checker's verdict on everything seen so far.
    pub fn verdict(&self) -> Verdict {
        history::check(self.options.protocol, &self.history, Clock::Wall.now_ms())
    }

    /// Stops every member (thawing frozen ones so they can die) and waits
    /// for them to be reaped.
    pub async fn shutdown(&mut self) {
        for i in 0..self.size() {
            self.thaw(i);
            self.kill(i);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut running = self.size();
        while running > 0 {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Report::Exited { .. })) => running -= 1,
                Ok(Some(Report::Event(_))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }

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
