//! Test support: clusters of real `elect node` processes on loopback.

#![allow(dead_code)]

use elect::leadership::Role;
use elect::runtime::admin::{query_status, StatusReport};
use elect::runtime::wire;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Timer settings passed to every node of a test cluster.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_ms: (u64, u64),
    pub reply_ms: u64,
}

/// Shorter than the defaults, so that tests elect quickly.
pub const TEST_TIMING: Timing = Timing {
    heartbeat_ms: 50,
    election_ms: (300, 600),
    reply_ms: 25,
};

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

pub struct TestCluster {
    pub protocol: &'static str,
    pub timing: Timing,
    /// Extra flags for every node (faults, key file).
    pub extra: Vec<String>,
    pub addrs: Vec<SocketAddr>,
    pub children: Vec<Option<Child>>,
    pub dir: tempfile::TempDir,
}

impl TestCluster {
    pub fn start(protocol: &'static str, n: usize) -> TestCluster {
        Self::start_with(protocol, n, TEST_TIMING)
    }

    pub fn start_with(protocol: &'static str, n: usize, timing: Timing) -> TestCluster {
        Self::start_with_flags(protocol, n, timing, Vec::new())
    }

    pub fn start_with_flags(
        protocol: &'static str,
        n: usize,
        timing: Timing,
        extra: Vec<String>,
    ) -> TestCluster {
        let addrs = free_ports(n)
            .into_iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let mut cluster = TestCluster {
            protocol,
            timing,
            extra,
            addrs,
            children: (0..n).map(|_| None).collect(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node-{i}"))
    }

    pub fn peers_arg(&self) -> String {
        self.addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn spawn(&mut self, i: usize) {
        let child = Command::new(env!("CARGO_BIN_EXE_elect"))
            .args([
                "node",
                "--protocol",
                self.protocol,
                "--id",
                &i.to_string(),
                "--peers",
                &self.peers_arg(),
                "--data-dir",
                &self.data_dir(i).display().to_string(),
                "--heartbeat-ms",
                &self.timing.heartbeat_ms.to_string(),
                "--election-timeout-ms",
                &format!(
                    "{}..{}",
                    self.timing.election_ms.0, self.timing.election_ms.1
                ),
                "--reply-ms",
                &self.timing.reply_ms.to_string(),
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start elect node");
        self.children[i] = Some(child);
    }

    /// SIGKILL: no chance to clean up, as in a power cut.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self, i: usize) -> bool {
        match self.children[i].as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn live(&self) -> Vec<usize> {
        (0..self.addrs.len())
            .filter(|&i| self.children[i].is_some())
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

    /// The leader every live node agrees on, if there is one now.
    pub async fn agreed_leader(&self) -> Option<usize> {
        let mut views = Vec::new();
        for i in self.live() {
            views.push(self.status(i).await?.view);
        }
        let leader = views.first()?.leader?;
        let all_follow = views
            .iter()
            .all(|v| v.leader == Some(leader) && v.role != Role::Candidate);
        let leader_leads = self.live().contains(&leader)
            && self
                .status(leader)
                .await
                .is_some_and(|r| r.view.role == Role::Leader);
        (all_follow && leader_leads).then_some(leader)
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
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}
