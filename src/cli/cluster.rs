//! `elect cluster`: N `elect node` processes on loopback, a live view of who
//! leads whom, and optionally a leader killer to watch re-elections.

use super::node::LogFormat;
use super::Failure;
use crate::leadership::{LeaderView, Role};
use crate::protocols::ProtocolKind;
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Protocol the nodes run.
    #[arg(long, value_enum)]
    pub protocol: ProtocolKind,
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Node i listens on 127.0.0.1:(PORT + i).
    #[arg(long, default_value_t = 7000, value_name = "PORT")]
    pub base_port: u16,
    /// Every SECS seconds, SIGKILL the current leader, and restart it after
    /// --restart-after.
    #[arg(long, value_name = "SECS")]
    pub kill_leader_every: Option<f64>,
    /// Pause between killing a leader and restarting it.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub restart_after: f64,
    /// Stop the cluster after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Directory for the nodes' storage (default: a fresh temporary one).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Leader heartbeat period in milliseconds.
    #[arg(long, value_name = "MS")]
    pub heartbeat_ms: Option<u64>,
    /// Election timeout range in milliseconds, LO..HI.
    #[arg(long, value_name = "LO..HI")]
    pub election_timeout_ms: Option<String>,
    /// Reply timeout in milliseconds.
    #[arg(long, value_name = "MS")]
    pub reply_ms: Option<u64>,
    /// Print the view as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A leadership event as `elect node --log-format json` prints it.
#[derive(Debug, Deserialize)]
struct NodeEvent {
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

struct Member {
    /// Present while the process runs: sending on it SIGKILLs the process.
    kill: Option<oneshot::Sender<()>>,
    /// Incremented at every (re)start, so that a dead incarnation's exit is
    /// not mistaken for the current one's.
    generation: u64,
    view: Option<LeaderView>,
}

pub fn cluster(args: ClusterArgs) -> Result<bool, Failure> {
    if args.nodes == 0 || args.nodes > 200 {
        return Err(Failure::Usage(format!(
            "--nodes must be between 1 and 200 (got {})",
            args.nodes
        )));
    }
    if usize::from(args.base_port) + args.nodes > usize::from(u16::MAX) || args.base_port == 0 {
        return Err(Failure::Usage(format!(
            "--base-port {} leaves no room for {} nodes",
            args.base_port, args.nodes
        )));
    }
    for (flag, secs) in [
        ("--kill-leader-every", args.kill_leader_every),
        ("--duration", args.duration),
        ("--restart-after", Some(args.restart_after)),
    ] {
        if let Some(s) = secs {
            if !(s.is_finite() && s > 0.0) {
                return Err(Failure::Usage(format!(
                    "{flag} must be a positive number of seconds"
                )));
            }
        }
    }
    if let Some(range) = &args.election_timeout_ms {
        super::node::parse_ms_range(range).map_err(Failure::Usage)?;
    }
    super::init_logging(LogFormat::Text);
    let runtime = super::runtime()?;
    runtime.block_on(run(args))
}

async fn run(args: ClusterArgs) -> Result<bool, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Internal(format!("cannot find the elect binary: {e}")))?;
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("elect-cluster-{}", std::process::id())),
    };
    let peers: Vec<String> = (0..args.nodes)
        .map(|i| format!("127.0.0.1:{}", usize::from(args.base_port) + i))
        .collect();
    let peers_csv = peers.join(",");
    let mut base = vec![
        "node".to_string(),
        "--protocol".into(),
        args.protocol.name().into(),
        "--peers".into(),
        peers_csv.clone(),
        "--log-format".into(),
        "json".into(),
    ];
    if let Some(ms) = args.heartbeat_ms {
        base.extend(["--heartbeat-ms".into(), ms.to_string()]);
    }
    if let Some(r) = &args.election_timeout_ms {
        base.extend(["--election-timeout-ms".into(), r.clone()]);
    }
    if let Some(ms) = args.reply_ms {
        base.extend(["--reply-ms".into(), ms.to_string()]);
    }
    let node_args = |i: usize| -> Vec<String> {
        let mut a = base.clone();
        a.extend([
            "--id".into(),
            i.to_string(),
            "--data-dir".into(),
            data_dir.join(format!("node-{i}")).display().to_string(),
        ]);
        a
    };

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut members: Vec<Member> = (0..args.nodes)
        .map(|_| Member {
            kill: None,
            generation: 0,
            view: None,
        })
        .collect();
    for (i, member) in members.iter_mut().enumerate() {
        spawn_member(&exe, node_args(i), i, member, tx.clone())?;
    }
    let started = Instant::now();
    let out = Printer {
        json: args.json,
        started,
    };
    out.note(&format!(
        "{} cluster of {} on {} (data in {}); Ctrl-C stops it",
        args.protocol,
        args.nodes,
        peers_csv,
        data_dir.display()
    ));

    let kill_every = args.kill_leader_every.map(Duration::from_secs_f64);
    let mut next_kill = kill_every.map(|d| Instant::now() + d);
    let mut pending_restart: Option<(usize, Instant)> = None;
    let mut killed_at: Option<(usize, Instant)> = None;
    let stop_at = args
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut last_picture = String::new();
    // Changes arrive in bursts (one election touches every node): show the
    // picture once a burst has settled.
    let mut dirty_since: Option<Instant> = None;
    let settle = Duration::from_millis(30);
    let stop = super::node::shutdown_signal_public();
    tokio::pin!(stop);

    let outcome = loop {
        let wake = [
            next_kill,
            pending_restart.map(|(_, t)| t),
            stop_at,
            dirty_since.map(|t| t + settle),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            _ = &mut stop => break Ok(true),
            _ = sleep_until(wake), if wake.is_some() => {
                let now = Instant::now();
                if stop_at.is_some_and(|t| now >= t) {
                    break Ok(true);
                }
                if let Some((i, at)) = pending_restart {
                    if now >= at {
                        pending_restart = None;
                        spawn_member(&exe, node_args(i), i, &mut members[i], tx.clone())?;
                        out.note(&format!("restarted n{i}"));
                    }
                }
                if next_kill.is_some_and(|t| now >= t) {
                    next_kill = kill_every.map(|d| now + d);
                    if pending_restart.is_none() {
                        if let Some(leader) = acting_leader(&members) {
                            if let Some(kill) = members[leader].kill.take() {
                                let _ = kill.send(());
                            }
                            members[leader].view = None;
                            killed_at = Some((leader, now));
                            pending_restart = Some((leader, now + Duration::from_secs_f64(args.restart_after)));
                            out.note(&format!("SIGKILL n{leader} (the leader)"));
                        }
                    }
                }
            }
            report = rx.recv() => match report {
                None => break Ok(true),
                Some(Report::Event(e)) => {
                    if let Some(m) = members.get_mut(e.node) {
                        if m.kill.is_some() {
                            m.view = Some(e.view);
                        }
                    }
                }
                Some(Report::Exited { node, generation, status, stderr }) => {
                    if members[node].generation == generation && members[node].kill.is_some() {
                        members[node].kill = None;
                        members[node].view = None;
                        let reason = stderr.lines().last().unwrap_or("").to_string();
                        if status == Some(2) {
                            // A node refused to start: bad settings, port in use.
                            break Err(Failure::Usage(format!("node n{node} could not start: {reason}")));
                        }
                        out.note(&format!("n{node} exited ({}) {reason}", status.map_or("signal".into(), |c| format!("status {c}"))));
                    }
                }
            }
        }
        if describe(&members) != last_picture && dirty_since.is_none() {
            dirty_since = Some(Instant::now());
        }
        if dirty_since.is_none_or(|t| t.elapsed() < settle) {
            continue;
        }
        dirty_since = None;
        let picture = describe(&members);
        if picture != last_picture {
            out.view(&picture, agreed_leader(&members));
            last_picture = picture;
            if let (Some((dead, at)), Some(leader)) = (killed_at, agreed_leader(&members)) {
                if leader != dead || members[dead].kill.is_some() {
                    out.note(&format!(
                        "failover: all live nodes follow n{leader} {} ms after n{dead} was killed",
                        at.elapsed().as_millis()
                    ));
                    killed_at = None;
                }
            }
        }
    };
    for m in members.iter_mut() {
        if let Some(kill) = m.kill.take() {
            let _ = kill.send(());
        }
    }
    // Wait for every process to be reaped (each task reports its exit).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut running = members.len();
    while running > 0 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Report::Exited { .. })) => running -= 1,
            Ok(Some(Report::Event(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    out.note("cluster stopped");
    outcome
}

fn spawn_member(
    exe: &std::path::Path,
    args: Vec<String>,
    i: usize,
    member: &mut Member,
    tx: mpsc::UnboundedSender<Report>,
) -> Result<(), Failure> {
    let mut child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Internal(format!("cannot start node n{i}: {e}")))?;
    member.generation += 1;
    let generation = member.generation;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (kill_tx, kill_rx) = oneshot::channel();
    member.kill = Some(kill_tx);
    member.view = None;
    let events = tx.clone();
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
        let _ = tx.send(Report::Exited {
            node: i,
            generation,
            status,
            stderr,
        });
    });
    Ok(())
}

/// The node that acts as leader, preferring one every live node agrees on.
fn acting_leader(members: &[Member]) -> Option<usize> {
    agreed_leader(members).or_else(|| {
        members
            .iter()
            .position(|m| m.kill.is_some() && m.view.is_some_and(|v| v.role == Role::Leader))
    })
}

/// The leader every live node follows, if they all agree and it leads.
fn agreed_leader(members: &[Member]) -> Option<usize> {
    let live: Vec<&LeaderView> = members
        .iter()
        .filter(|m| m.kill.is_some())
        .filter_map(|m| m.view.as_ref())
        .collect();
    if live.is_empty() || live.len() < members.iter().filter(|m| m.kill.is_some()).count() {
        return None;
    }
    let leader = live[0].leader?;
    let leads = members
        .get(leader)?
        .view
        .is_some_and(|v| v.role == Role::Leader);
    (leads
        && live
            .iter()
            .all(|v| v.leader == Some(leader) && v.role != Role::Candidate))
    .then_some(leader)
}

fn describe(members: &[Member]) -> String {
    members
        .iter()
        .enumerate()
        .map(|(i, m)| match (&m.kill, &m.view) {
            (None, _) => format!("n{i} down"),
            (Some(_), None) => format!("n{i} starting"),
            (Some(_), Some(v)) => {
                let term = v.term.map_or(String::new(), |t| format!(" t{t}"));
                match (v.role, v.leader) {
                    (Role::Leader, _) => format!("n{i} LEADER{term}"),
                    (Role::Candidate, _) => format!("n{i} candidate{term}"),
                    (Role::Follower, Some(l)) => format!("n{i} → n{l}{term}"),
                    (Role::Follower, None) => format!("n{i} follower (no leader){term}"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}

struct Printer {
    json: bool,
    started: Instant,
}

impl Printer {
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn view(&self, picture: &str, agreed: Option<usize>) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"t": self.elapsed(), "view": picture, "agreed_leader": agreed})
            );
        } else {
            let verdict = agreed.map_or("no agreed leader".to_string(), |l| format!("leader n{l}"));
            println!("[{:>8.3}s] {picture}   | {verdict}", self.elapsed());
        }
    }

    fn note(&self, text: &str) {
        if self.json {
            println!("{}", serde_json::json!({"t": self.elapsed(), "note": text}));
        } else {
            println!("[{:>8.3}s] -- {text}", self.elapsed());
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
