//! Test support: clusters of real `elect node` processes on loopback, run by
//! the library's own fleet (`elect::fleet`), as `elect cluster` runs them.

#![allow(dead_code)]

use elect::fleet::{Fleet, FleetEvent, FleetOptions};
use elect::leadership;
use elect::protocols::{ProtocolKind, Timeouts};
use elect::runtime::admin::{query_status, StatusReport};
use elect::runtime::wire;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Timer settings passed to every node of a test cluster.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_ms: (u64, u64),
    pub reply_ms: u64,
}

impl Timing {
    fn timeouts(&self) -> Timeouts {
        let ms = Duration::from_millis;
        Timeouts {
            heartbeat: ms(self.heartbeat_ms),
            election: ms(self.election_ms.0)..ms(self.election_ms.1),
            reply: ms(self.reply_ms),
        }
    }
}

/// Shorter than the defaults, so that tests elect quickly.
pub const TEST_TIMING: Timing = Timing {
    heartbeat_ms: 50,
    election_ms: (300, 600),
    reply_ms: 25,
};

/// Runs the built `elect` binary with `args`.
pub fn elect(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(args)
        .output()
        .expect("run elect")
}

/// Ports the OS considers free right now.
pub fn free_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    sockets
        .iter()
        .map(|s| s.local_addr().expect("local addr").port())
        .collect()
}

/// How long to wait for a killed process to be reaped (its port freed).
const REAP_WITHIN: Duration = Duration::from_secs(10);

pub struct TestCluster {
    pub protocol: &'static str,
    pub timing: Timing,
    pub addrs: Vec<SocketAddr>,
    pub dir: tempfile::TempDir,
    fleet: Fleet,
    /// The fleet's processes are owned by tasks on this runtime, so that a
    /// cluster works the same from a plain `#[test]`, a `#[tokio::test]` and
    /// a benchmark.
    rt: Option<tokio::runtime::Runtime>,
}

impl TestCluster {
    pub fn start(protocol: &'static str, n: usize) -> TestCluster {
        Self::start_with(protocol, n, TEST_TIMING)
    }

    pub fn start_with(protocol: &'static str, n: usize, timing: Timing) -> TestCluster {
        Self::start_with_flags(protocol, n, timing, Vec::new())
    }

    /// `extra`: further flags for every node (faults, key file).
    pub fn start_with_flags(
        protocol: &'static str,
        n: usize,
        timing: Timing,
        extra: Vec<String>,
    ) -> TestCluster {
        let addrs: Vec<SocketAddr> = free_ports(n)
            .into_iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let kind: ProtocolKind = protocol.parse().expect("a protocol name");
        let options = FleetOptions {
            exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_elect"))),
            data_dir: Some(dir.path().to_path_buf()),
            timeouts: Some(timing.timeouts()),
            extra_args: extra,
            ..FleetOptions::new(kind, addrs.clone())
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the fleet");
        let mut cluster = TestCluster {
            protocol,
            timing,
            addrs,
            dir,
            fleet: Fleet::new(options).expect("a fleet"),
            rt: Some(rt),
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.fleet.node_dir(i)
    }

    pub fn spawn(&mut self, i: usize) {
        let _on_the_fleet_runtime = self.rt.as_ref().map(|rt| rt.enter());
        self.fleet.spawn(i).expect("start elect node");
    }

    /// SIGKILL: no chance to clean up, as in a power cut. Returns once the
    /// process is reaped, so that a restart finds its port free.
    pub fn kill(&mut self, i: usize) {
        self.fleet.kill(i);
        let started = Instant::now();
        while !self.fleet.has_exited(i) && started.elapsed() < REAP_WITHIN {
            if self.fleet.try_next().is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// SIGSTOP: node i freezes with its socket open.
    pub fn freeze(&mut self, i: usize) {
        self.fleet.freeze(i);
    }

    /// SIGCONT: the frozen node i resumes.
    pub fn thaw(&mut self, i: usize) {
        self.fleet.thaw(i);
    }

    /// Waits until node i exits on its own; its exit status (`None` if a
    /// signal ended it), or `None` if it did not exit within `within`.
    pub fn wait_for_exit(&mut self, i: usize, within: Duration) -> Option<Option<i32>> {
        let started = Instant::now();
        while started.elapsed() < within {
            match self.fleet.try_next() {
                Some(FleetEvent::Exited { node, status, .. }) if node == i => return Some(status),
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        None
    }

    /// The process id of node i, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.fleet.pid(i)
    }

    /// Every running node's process id.
    pub fn pids(&self) -> Vec<u32> {
        (0..self.addrs.len()).filter_map(|i| self.pid(i)).collect()
    }

    pub fn is_running(&mut self, i: usize) -> bool {
        while self.fleet.try_next().is_some() {}
        self.fleet.is_running(i)
    }

    /// The nodes that have not been killed (nor exited, as far as seen).
    pub fn live(&self) -> Vec<usize> {
        (0..self.addrs.len())
            .filter(|&i| self.fleet.is_running(i))
            .collect()
    }

    pub async fn status(&self, i: usize) -> Option<StatusReport> {
        query_status(
            self.addrs[i],
            wire::cluster_id("elect"),
            Duration::from_millis(600),
        )
        .await
        .ok()
    }

    /// Splits the network as `spec` says (`0/1,2`), telling the members
    /// `nodes` through `elect fault`, as a user would; asserts it worked.
    pub fn partition_with_cli(&self, nodes: &[usize], spec: &str) {
        let addrs: Vec<String> = nodes.iter().map(|&i| self.addrs[i].to_string()).collect();
        let mut args: Vec<&str> = vec!["fault"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["partition", spec]);
        let out = elect(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The leader every live node agrees on, if there is one now.
    pub async fn agreed_leader(&self) -> Option<usize> {
        let mut views = Vec::new();
        for i in self.live() {
            views.push((i, self.status(i).await.map(|r| r.view)));
        }
        leadership::agreed_leader(views)
    }

    /// Polls until every live node agrees on one leader, or `within` passes.
    pub async fn wait_for_agreed_leader(&self, within: Duration) -> Option<(usize, Duration)> {
        self.poll_for_agreed_leader(within, Duration::from_millis(20))
            .await
    }

    /// As [`Self::wait_for_agreed_leader`], polling every `every`.
    pub async fn poll_for_agreed_leader(
        &self,
        within: Duration,
        every: Duration,
    ) -> Option<(usize, Duration)> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(leader) = self.agreed_leader().await {
                return Some((leader, started.elapsed()));
            }
            tokio::time::sleep(every).await;
        }
        None
    }

    /// Time a re-election may take, derived from the configured timeouts:
    /// the leader's silence is noticed within one election timeout, and each
    /// election round (several for Raft's split votes, one hop per node for
    /// Ring) completes within another; three rounds plus a second of slack
    /// for process scheduling on a loaded machine.
    pub fn reelection_bound(&self) -> Duration {
        let n = self.addrs.len() as u64;
        Duration::from_millis(4 * self.timing.election_ms.1 + n * self.timing.reply_ms + 1000)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.addrs.len() {
            self.kill(i);
        }
        // Dropping a runtime may block, which an async test's thread must
        // not do: let it go without waiting (its processes are reaped).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
