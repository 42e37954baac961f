//! Failover of `elect` (raft, bully, ring, paxos) beside etcd and ZooKeeper, on the
//! same machine in the same run: 3 members each on 127.0.0.1.
//!
//!     cargo bench --bench failover -- [ROUNDS] [SYSTEMS] [VARIANTS]
//!
//! SYSTEMS is a comma-separated subset of `etcd,etcd-prevote,zookeeper,raft,
//! raft-prevote,raft-checkquorum,raft-lease,bully,ring,paxos` (default: all; etcd
//! and ZooKeeper are skipped with a note if they are not installed), VARIANTS
//! a subset of `kill,stop` (default both). For `elect` it also counts the
//! protocol messages the survivors sent from the signal to agreement, and
//! with the lease on, the time until the new leader's lease is usable. Each round:
//! wait until all members agree on a leader (twice, 500 ms apart); SIGKILL
//! (or SIGSTOP) the leader; poll the survivors through each system's own
//! status interface until they agree on a new leader; then restart the killed
//! member with its data (or SIGCONT the frozen one). Prints min / median /
//! p95 / max per system and variant, writes the raw numbers to
//! bench/results/failover.csv, the table to failover.md and a plot to
//! failover.svg. A benchmark measures; nothing here asserts a time.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use common::{ms, percentile, register, send_signal, unregister};
use elect::leadership;
use elect::runtime::admin::query_status;
use elect::runtime::wire;
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{TestCluster, Timing};

/// The settings the README quotes: heartbeat 50 ms, election 500–1000 ms.
const TIMING: Timing = Timing {
    heartbeat_ms: 50,
    election_ms: (500, 1000),
    reply_ms: 25,
};
/// etcd: `--heartbeat-interval=50 --election-timeout=500`.
const ETCD_HEARTBEAT_MS: u64 = 50;
const ETCD_ELECTION_MS: u64 = 500;
/// ZooKeeper: tickTime 50 ms; a follower gives up on a silent leader after
/// syncLimit ticks (10 × 50 = 500 ms, as etcd's election timeout).
const ZK_TICK_MS: u64 = 50;
const ZK_SYNC_LIMIT: u64 = 10;
const ZK_INIT_LIMIT: u64 = 100;
/// Pause between two sweeps over the survivors.
const POLL: Duration = Duration::from_millis(5);
/// A failover that takes longer than this is reported as not completed.
const GIVE_UP: Duration = Duration::from_secs(20);

const MEMBERS: usize = 3;

/// A 3-member cluster of some system, seen through its status interface.
trait System {
    fn name(&self) -> &'static str;
    /// The leader every member in `who` agrees on, if it is one of them.
    fn agreed(&mut self, who: &[usize]) -> Option<usize>;
    fn pid(&self, i: usize) -> Option<u32>;
    /// SIGKILL member `i` and reap it.
    fn kill(&mut self, i: usize);
    /// Start member `i` again on its data directory.
    fn restart(&mut self, i: usize);
    /// SIGSTOP member `i`.
    fn freeze(&mut self, i: usize) {
        if let Some(p) = self.pid(i) {
            send_signal(p, Signal::SIGSTOP);
        }
    }
    /// SIGCONT member `i`.
    fn thaw(&mut self, i: usize) {
        if let Some(p) = self.pid(i) {
            send_signal(p, Signal::SIGCONT);
        }
    }
    /// Settings, for the table.
    fn settings(&self) -> String;
    /// Protocol messages the members in `who` have sent so far, if the
    /// system counts them.
    fn messages_sent(&mut self, _who: &[usize]) -> Option<u64> {
        None
    }
    /// Whether member `i` holds a usable lease as leader now; `None` if the
    /// system has no lease to ask about.
    fn lease_usable(&mut self, _i: usize) -> Option<bool> {
        None
    }
}

fn reap(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        unregister(c.id());
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn free_tcp_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral TCP port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

// ---------------------------------------------------------------- elect

struct Elect {
    name: &'static str,
    cluster: TestCluster,
    flags: Vec<String>,
    rt: tokio::runtime::Handle,
    cluster_id: u64,
}

/// The lease of the `raft-lease` rows: 300 ms, within the default drift
/// bound ε = 0.05 of a 500 ms minimum election timeout.
const LEASE_MS: u64 = 300;

impl Elect {
    /// `name` is one of raft, raft-prevote, raft-checkquorum, raft-lease,
    /// bully, ring, paxos.
    fn start(name: &'static str, rt: tokio::runtime::Handle) -> Elect {
        let lease = LEASE_MS.to_string();
        let (protocol, flags): (&'static str, Vec<&str>) = match name {
            "raft-prevote" => ("raft", vec!["--pre-vote"]),
            "raft-checkquorum" => ("raft", vec!["--check-quorum"]),
            "raft-lease" => ("raft", vec!["--check-quorum", "--lease-ms", &lease]),
            "bully" => ("bully", vec![]),
            "ring" => ("ring", vec![]),
            "paxos" => ("paxos", vec![]),
            _ => ("raft", vec![]),
        };
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let cluster = TestCluster::start_with_flags(protocol, MEMBERS, TIMING, flags.clone());
        for pid in cluster.pids() {
            register(pid);
        }
        Elect {
            name,
            cluster,
            flags,
            rt,
            cluster_id: wire::cluster_id("elect"),
        }
    }

    fn statuses(&mut self, who: &[usize]) -> Option<Vec<elect::runtime::admin::StatusReport>> {
        let addrs: Vec<SocketAddr> = who.iter().map(|&i| self.cluster.addrs[i]).collect();
        let id = self.cluster_id;
        self.rt.block_on(async move {
            let mut reports = Vec::new();
            for a in addrs {
                reports.push(query_status(a, id, Duration::from_millis(300)).await.ok()?);
            }
            Some(reports)
        })
    }
}

impl System for Elect {
    fn name(&self) -> &'static str {
        self.name
    }

    fn agreed(&mut self, who: &[usize]) -> Option<usize> {
        // A sweep stops at the first member that does not answer.
        let views = self.statuses(who)?.into_iter().map(|r| Some(r.view));
        leadership::agreed_leader(who.iter().copied().zip(views))
    }

    fn messages_sent(&mut self, who: &[usize]) -> Option<u64> {
        let reports = self.statuses(who)?;
        Some(
            reports
                .iter()
                .map(|r| r.counters.sent.values().sum::<u64>())
                .sum(),
        )
    }

    fn lease_usable(&mut self, i: usize) -> Option<bool> {
        if !self.flags.iter().any(|f| f == "--lease-ms") {
            return None;
        }
        let report = self.statuses(&[i])?.pop()?;
        Some(report.lease.is_some_and(|l| l.remaining_ms > 0))
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.cluster.pid(i)
    }

    fn kill(&mut self, i: usize) {
        if let Some(pid) = self.pid(i) {
            unregister(pid);
        }
        self.cluster.kill(i);
    }

    fn restart(&mut self, i: usize) {
        self.cluster.spawn(i);
        if let Some(pid) = self.pid(i) {
            register(pid);
        }
    }

    fn freeze(&mut self, i: usize) {
        self.cluster.freeze(i);
    }

    fn thaw(&mut self, i: usize) {
        self.cluster.thaw(i);
    }

    fn settings(&self) -> String {
        let mut settings = format!(
            "heartbeat {} ms, election timeout {}–{} ms, reply {} ms",
            TIMING.heartbeat_ms, TIMING.election_ms.0, TIMING.election_ms.1, TIMING.reply_ms
        );
        if !self.flags.is_empty() {
            settings.push_str(&format!(", {}", self.flags.join(" ")));
        }
        settings
    }
}

// ---------------------------------------------------------------- etcd

/// HTTP/1.1 over one kept-alive TCP connection.
struct HttpConn {
    reader: BufReader<TcpStream>,
}

impl HttpConn {
    fn open(port: u16) -> std::io::Result<HttpConn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        s.set_write_timeout(Some(Duration::from_millis(500)))?;
        Ok(HttpConn {
            reader: BufReader::new(s),
        })
    }

    fn post(&mut self, port: u16, path: &str, body: &str) -> std::io::Result<String> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(req.as_bytes())?;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(bad(&format!("status line {line:?}")));
        }
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size =
                    usize::from_str_radix(line.trim(), 16).map_err(|_| bad("bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let n = length.ok_or_else(|| bad("no content length"))?;
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        }
        String::from_utf8(body).map_err(|_| bad("body not UTF-8"))
    }
}

struct Etcd {
    /// `--pre-vote` (etcd 3.4's default is off).
    pre_vote: bool,
    dir: tempfile::TempDir,
    client: Vec<u16>,
    peer: Vec<u16>,
    children: Vec<Option<Child>>,
    conns: Vec<Option<HttpConn>>,
    /// Member ids, learned from each member's status.
    ids: Vec<Option<u64>>,
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl Etcd {
    fn start(pre_vote: bool) -> Etcd {
        let ports = free_tcp_ports(2 * MEMBERS);
        let mut e = Etcd {
            pre_vote,
            dir: tempfile::tempdir().expect("tempdir for etcd"),
            client: ports[..MEMBERS].to_vec(),
            peer: ports[MEMBERS..].to_vec(),
            children: (0..MEMBERS).map(|_| None).collect(),
            conns: (0..MEMBERS).map(|_| None).collect(),
            ids: vec![None; MEMBERS],
        };
        for i in 0..MEMBERS {
            e.restart(i);
        }
        e
    }

    /// (this member's id, the leader it reports), over the kept-alive connection.
    fn status(&mut self, i: usize) -> Option<(u64, u64)> {
        if self.conns[i].is_none() {
            self.conns[i] = HttpConn::open(self.client[i]).ok();
        }
        let conn = self.conns[i].as_mut()?;
        let body = match conn.post(self.client[i], "/v3/maintenance/status", "{}") {
            Ok(b) => b,
            Err(_) => {
                self.conns[i] = None;
                return None;
            }
        };
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let me = json_u64(&v["header"]["member_id"])?;
        let leader = v.get("leader").and_then(json_u64).unwrap_or(0);
        self.ids[i] = Some(me);
        Some((me, leader))
    }
}

impl System for Etcd {
    fn name(&self) -> &'static str {
        if self.pre_vote {
            "etcd-prevote"
        } else {
            "etcd"
        }
    }

    fn agreed(&mut self, who: &[usize]) -> Option<usize> {
        let mut leaders = Vec::new();
        for &i in who {
            leaders.push(self.status(i)?.1);
        }
        let leader = *leaders.first()?;
        if leader == 0 || leaders.iter().any(|&l| l != leader) {
            return None;
        }
        who.iter().copied().find(|&i| self.ids[i] == Some(leader))
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(|c| c.id())
    }

    fn kill(&mut self, i: usize) {
        reap(&mut self.children[i]);
        self.conns[i] = None;
    }

    fn restart(&mut self, i: usize) {
        let url = |p: u16| format!("http://127.0.0.1:{p}");
        let initial: Vec<String> = (0..MEMBERS)
            .map(|j| format!("m{j}={}", url(self.peer[j])))
            .collect();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("m{i}.log")))
            .expect("etcd log file");
        let child = Command::new("etcd")
            .args([
                "--name",
                &format!("m{i}"),
                "--data-dir",
                &self
                    .dir
                    .path()
                    .join(format!("m{i}.etcd"))
                    .display()
                    .to_string(),
                "--listen-client-urls",
                &url(self.client[i]),
                "--advertise-client-urls",
                &url(self.client[i]),
                "--listen-peer-urls",
                &url(self.peer[i]),
                "--initial-advertise-peer-urls",
                &url(self.peer[i]),
                "--initial-cluster",
                &initial.join(","),
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                "elect-bench",
                &format!("--heartbeat-interval={ETCD_HEARTBEAT_MS}"),
                &format!("--election-timeout={ETCD_ELECTION_MS}"),
                "--logger=zap",
                "--log-level=warn",
                &format!("--pre-vote={}", self.pre_vote),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        register(child.id());
        self.children[i] = Some(child);
    }

    fn settings(&self) -> String {
        format!(
            "--heartbeat-interval={ETCD_HEARTBEAT_MS} --election-timeout={ETCD_ELECTION_MS}{}",
            if self.pre_vote { " --pre-vote" } else { "" }
        )
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for c in &mut self.children {
            reap(c);
        }
    }
}

// ---------------------------------------------------------------- ZooKeeper

struct ZooKeeper {
    dir: tempfile::TempDir,
    client: Vec<u16>,
    children: Vec<Option<Child>>,
}

const ZK_CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";

impl ZooKeeper {
    fn installed() -> bool {
        Path::new("/usr/share/java/zookeeper.jar").exists()
    }

    fn server_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("zk{}", i + 1))
    }

    fn start() -> ZooKeeper {
        let ports = free_tcp_ports(3 * MEMBERS);
        let mut z = ZooKeeper {
            dir: tempfile::tempdir().expect("tempdir for ZooKeeper"),
            client: ports[..MEMBERS].to_vec(),
            children: (0..MEMBERS).map(|_| None).collect(),
        };
        let servers: String = (0..MEMBERS)
            .map(|j| {
                format!(
                    "server.{}=127.0.0.1:{}:{}\n",
                    j + 1,
                    ports[MEMBERS + j],
                    ports[2 * MEMBERS + j]
                )
            })
            .collect();
        for i in 0..MEMBERS {
            let d = z.server_dir(i);
            std::fs::create_dir_all(d.join("data")).expect("ZooKeeper data dir");
            std::fs::write(d.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
            let cfg = format!(
                "tickTime={ZK_TICK_MS}\ninitLimit={ZK_INIT_LIMIT}\nsyncLimit={ZK_SYNC_LIMIT}\n\
                 dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=srvr\nadmin.enableServer=false\n{servers}",
                d.join("data").display(),
                z.client[i]
            );
            std::fs::write(d.join("zoo.cfg"), cfg).expect("zoo.cfg");
        }
        for i in 0..MEMBERS {
            z.restart(i);
        }
        z
    }

    /// The `Mode:` line of `srvr` (each four-letter word is its own TCP
    /// connection: the server closes it after answering).
    fn mode(&self, i: usize) -> Option<String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.client[i]));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }
}

impl System for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }

    fn agreed(&mut self, who: &[usize]) -> Option<usize> {
        let mut leader = None;
        for &i in who {
            match self.mode(i)?.as_str() {
                "leader" if leader.is_none() => leader = Some(i),
                "follower" => {}
                _ => return None,
            }
        }
        leader
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(|c| c.id())
    }

    fn kill(&mut self, i: usize) {
        reap(&mut self.children[i]);
    }

    fn restart(&mut self, i: usize) {
        let d = self.server_dir(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("server.log"))
            .expect("ZooKeeper log file");
        let child = Command::new("java")
            .args([
                "-Xmx256m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                ZK_CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                &d.join("zoo.cfg").display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ZooKeeper (java)");
        register(child.id());
        self.children[i] = Some(child);
    }

    fn settings(&self) -> String {
        format!("tickTime={ZK_TICK_MS} syncLimit={ZK_SYNC_LIMIT} initLimit={ZK_INIT_LIMIT}")
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for c in &mut self.children {
            reap(c);
        }
    }
}

// ---------------------------------------------------------------- rounds

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Kill,
    Stop,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Kill => "SIGKILL",
            Variant::Stop => "SIGSTOP",
        }
    }
}

/// Waits until all members agree on a leader, twice 500 ms apart.
fn wait_stable(sys: &mut dyn System, within: Duration) -> Option<usize> {
    let all: Vec<usize> = (0..MEMBERS).collect();
    let started = Instant::now();
    while started.elapsed() < within {
        if let Some(l) = sys.agreed(&all) {
            std::thread::sleep(Duration::from_millis(500));
            if sys.agreed(&all) == Some(l) {
                return Some(l);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

struct Outcome {
    times_ms: Vec<f64>,
    /// Per round: protocol messages the survivors sent from the signal to
    /// agreement (systems that count them).
    messages: Vec<f64>,
    /// Per round: from the signal until the new leader's lease is usable
    /// (systems with a lease).
    lease_ms: Vec<f64>,
    failed: usize,
    /// Median time of one sweep over the survivors.
    sweep_ms: f64,
}

fn run_rounds(sys: &mut dyn System, variant: Variant, rounds: usize) -> Outcome {
    let mut times_ms = Vec::new();
    let mut messages = Vec::new();
    let mut lease_ms = Vec::new();
    let mut sweeps = Vec::new();
    let mut failed = 0;
    let name = sys.name();
    for round in 0..rounds {
        let Some(leader) = wait_stable(sys, Duration::from_secs(60)) else {
            eprintln!(
                "{name} {}: round {round}: no stable leader within 60 s",
                variant.name()
            );
            failed += 1;
            continue;
        };
        let survivors: Vec<usize> = (0..MEMBERS).filter(|&i| i != leader).collect();
        let sent_before = sys.messages_sent(&survivors);
        let t0 = Instant::now();
        match variant {
            Variant::Kill => sys.kill(leader),
            Variant::Stop => sys.freeze(leader),
        }
        let mut done = None;
        let mut new_leader = None;
        while t0.elapsed() < GIVE_UP {
            let s = Instant::now();
            let agreed = sys.agreed(&survivors);
            sweeps.push(ms(s.elapsed()));
            if agreed.is_some() {
                done = Some(t0.elapsed());
                new_leader = agreed;
                break;
            }
            std::thread::sleep(POLL);
        }
        if let (Some(before), Some(after)) = (sent_before, sys.messages_sent(&survivors)) {
            messages.push(after.saturating_sub(before) as f64);
        }
        if let Some(l) = new_leader {
            while t0.elapsed() < GIVE_UP {
                match sys.lease_usable(l) {
                    Some(true) => {
                        lease_ms.push(ms(t0.elapsed()));
                        break;
                    }
                    Some(false) => std::thread::sleep(Duration::from_millis(1)),
                    None => break,
                }
            }
        }
        match done {
            Some(d) => {
                eprintln!(
                    "{name} {}: round {:>2}: {:>6.1} ms",
                    variant.name(),
                    round + 1,
                    ms(d)
                );
                times_ms.push(ms(d));
            }
            None => {
                eprintln!(
                    "{name} {}: round {:>2}: no agreement within {GIVE_UP:?}",
                    variant.name(),
                    round + 1
                );
                failed += 1;
            }
        }
        match variant {
            Variant::Kill => sys.restart(leader),
            Variant::Stop => sys.thaw(leader),
        }
    }
    sweeps.sort_by(|a, b| a.total_cmp(b));
    Outcome {
        times_ms,
        messages,
        lease_ms,
        failed,
        sweep_ms: if sweeps.is_empty() {
            0.0
        } else {
            percentile(&sweeps, 0.5)
        },
    }
}

fn etcd_installed() -> bool {
    Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() {
    let rt = common::runtime(2);
    let args = common::args();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let all = [
        "etcd",
        "etcd-prevote",
        "zookeeper",
        "raft",
        "raft-prevote",
        "raft-checkquorum",
        "raft-lease",
        "bully",
        "ring",
        "paxos",
    ];
    let systems: Vec<&'static str> = match args.get(1) {
        Some(list) if list != "all" => all
            .into_iter()
            .filter(|p| list.split(',').any(|q| q == *p))
            .collect(),
        _ => all.to_vec(),
    };
    let variants: Vec<Variant> = match args.get(2) {
        Some(list) => [Variant::Kill, Variant::Stop]
            .into_iter()
            .filter(|v| {
                list.split(',')
                    .any(|q| q == if *v == Variant::Kill { "kill" } else { "stop" })
            })
            .collect(),
        None => vec![Variant::Kill, Variant::Stop],
    };
    let started_at = common::machine();
    let mut csv = String::from("system,variant,round,failover_ms\n");
    let mut extra_csv = String::from("system,variant,round,messages,lease_usable_ms\n");
    let mut results: Vec<(&'static str, Variant, String, Outcome)> = Vec::new();
    let mut notes = Vec::new();
    for &name in &systems {
        let mut sys: Box<dyn System> = match name {
            "etcd" | "etcd-prevote" if !etcd_installed() => {
                notes.push(
                    "etcd is not installed (apt-get install etcd-server etcd-client): skipped"
                        .to_string(),
                );
                continue;
            }
            "zookeeper" if !ZooKeeper::installed() => {
                notes.push(
                    "ZooKeeper is not installed (apt-get install zookeeper): skipped".to_string(),
                );
                continue;
            }
            "etcd" => Box::new(Etcd::start(false)),
            "etcd-prevote" => Box::new(Etcd::start(true)),
            "zookeeper" => Box::new(ZooKeeper::start()),
            p => Box::new(Elect::start(p, rt.handle().clone())),
        };
        eprintln!("{name}: started; load average {}", common::load_average());
        for &v in &variants {
            let out = run_rounds(sys.as_mut(), v, rounds);
            for (i, t) in out.times_ms.iter().enumerate() {
                csv.push_str(&format!("{name},{},{},{t:.1}\n", v.name(), i + 1));
            }
            for i in 0..out.messages.len().max(out.lease_ms.len()) {
                let cell = |xs: &[f64]| xs.get(i).map_or(String::new(), |x| format!("{x:.0}"));
                extra_csv.push_str(&format!(
                    "{name},{},{},{},{}\n",
                    v.name(),
                    i + 1,
                    cell(&out.messages),
                    cell(&out.lease_ms)
                ));
            }
            results.push((name, v, sys.settings(), out));
        }
        drop(sys);
    }
    let finished_at = common::load_average();

    let median_of = |o: &Outcome| {
        let mut t = o.times_ms.clone();
        t.sort_by(|a, b| a.total_cmp(b));
        (!t.is_empty()).then(|| percentile(&t, 0.5))
    };
    let mut md = String::new();
    md.push_str(&format!(
        "Failover of 3-member clusters on 127.0.0.1, {rounds} rounds per system and variant; \
         time from the signal to the leader until every survivor's status agrees on a new leader.\n\n\
         Machine at start: {started_at}. Load average at the end: {finished_at}.\n\n"
    ));
    for &v in &variants {
        let etcd_median = results
            .iter()
            .find(|r| r.0 == "etcd" && r.1 == v)
            .and_then(|r| median_of(&r.3));
        let mut rows = Vec::new();
        for (name, rv, settings, out) in &results {
            if *rv != v {
                continue;
            }
            let mut t = out.times_ms.clone();
            t.sort_by(|a, b| a.total_cmp(b));
            let f = |x: f64| format!("{x:.0} ms");
            let (min, med, p95, max) = if t.is_empty() {
                ("–".into(), "–".into(), "–".into(), "–".into())
            } else {
                (
                    f(t[0]),
                    f(percentile(&t, 0.5)),
                    f(percentile(&t, 0.95)),
                    f(t[t.len() - 1]),
                )
            };
            let ratio = match (etcd_median, median_of(out)) {
                (Some(e), Some(m)) if *name != "etcd" => format!("{:.2}", m / e),
                (Some(_), Some(_)) => "1".into(),
                _ => "–".into(),
            };
            let max_over_median = match (t.last(), median_of(out)) {
                (Some(mx), Some(m)) if m > 0.0 => format!("{:.2}", mx / m),
                _ => "–".into(),
            };
            let display = match *name {
                "etcd" | "zookeeper" => name.to_string(),
                "etcd-prevote" => "etcd +PreVote".into(),
                "raft-prevote" => "elect raft +PreVote".into(),
                "raft-checkquorum" => "elect raft +CheckQuorum".into(),
                "raft-lease" => "elect raft +CheckQuorum +lease".into(),
                p => format!("elect {p}"),
            };
            let median_or_dash = |xs: &[f64], unit: &str| {
                let mut xs = xs.to_vec();
                xs.sort_by(|a, b| a.total_cmp(b));
                if xs.is_empty() {
                    "–".to_string()
                } else {
                    format!("{:.0}{unit}", percentile(&xs, 0.5))
                }
            };
            rows.push(vec![
                display,
                settings.clone(),
                format!("{}/{}", t.len(), t.len() + out.failed),
                min,
                med,
                p95,
                max,
                max_over_median,
                ratio,
                median_or_dash(&out.messages, ""),
                median_or_dash(&out.lease_ms, " ms"),
                format!("{:.1} ms", out.sweep_ms),
            ]);
        }
        md.push_str(&format!("**{} the leader**\n\n", v.name()));
        md.push_str(&common::md_table(
            &[
                "system",
                "settings",
                "rounds ok",
                "min",
                "median",
                "p95",
                "max",
                "max / median",
                "median / etcd median",
                "messages (median)",
                "lease usable (median)",
                "sweep (poll resolution)",
            ],
            &rows,
        ));
        md.push('\n');
        let cats: Vec<(String, Vec<f64>)> = results
            .iter()
            .filter(|r| r.1 == v)
            .map(|r| (r.0.to_string(), r.3.times_ms.clone()))
            .collect();
        let file = match v {
            Variant::Kill => "failover-kill.svg",
            Variant::Stop => "failover-stop.svg",
        };
        common::strip_plot(
            file,
            &format!("Failover after {} of the leader, 3 members (ms)", v.name()),
            "signal → all survivors agree (ms)",
            &cats,
        );
    }
    md.push_str(&format!(
        "Polling: every survivor is asked in turn, then the poller sleeps {} ms; \
         the resolution of a measurement is that pause plus one sweep (median in the table). \
         etcd: `POST /v3/maintenance/status` on the client port over one kept-alive HTTP/1.1 \
         connection per member; agreement = every survivor reports the same non-zero leader id, \
         one of the survivors. ZooKeeper: the `srvr` four-letter word \
         (`4lw.commands.whitelist=srvr`); each four-letter word is its own TCP connection by \
         design (the server closes it after answering); agreement = exactly one survivor \
         reports `Mode: leader`, the others `Mode: follower`. elect: the admin status request \
         of `elect status` (one UDP datagram each way on the node's port, no connection); \
         agreement = every survivor names the same leader, a survivor that reports itself \
         Leader, and none is a candidate. A round that does not agree within {} s counts as \
         not ok. SIGKILL rounds restart the killed member on its data directory; SIGSTOP rounds \
         send SIGCONT to the frozen one after the measurement. Before every round the cluster \
         must agree on one leader twice, 500 ms apart. Messages: the protocol messages the \
         survivors sent from the signal to agreement (their status counters before and after; \
         elect only), heartbeats included. Lease usable: from the signal until the new \
         leader's status shows a lease with time left ({LEASE_MS} ms lease, ε = 0.05).\n",
        POLL.as_millis(),
        GIVE_UP.as_secs()
    ));
    for n in &notes {
        md.push_str(&format!("\nNote: {n}\n"));
    }
    println!("\n{md}");
    common::write_result("failover.csv", &csv);
    common::write_result("failover-cost.csv", &extra_csv);
    common::write_result("failover.md", &md);
}
