//! The leader lease on running code: a guard that reads the clock at the
//! moment of use, `elect status` showing the token and the lease left, and a
//! leader frozen by SIGSTOP that knows its lease lapsed the moment it
//! resumes — before it hears of the term that replaced it; and leader-only
//! writers whose fenced register never accepts a deposed leader's write
//! while the lease is on.

mod support;

use elect::leadership::Role;
use elect::protocols::lease::LeaseConfig;
use elect::protocols::raft::{Raft, RaftOptions};
use elect::protocols::{ProtocolKind, Timeouts};
use elect::runtime::{self, NodeConfig, NodeHandle};
use elect::sim::{self, SimConfig};
use std::net::SocketAddr;
use std::time::Duration;
use support::{TestCluster, TEST_TIMING};

const START_WITHIN: Duration = Duration::from_secs(10);
const LEASE_MS: u64 = 200;

fn lease_options() -> RaftOptions {
    RaftOptions {
        pre_vote: false,
        check_quorum: true,
        lease: Some(LeaseConfig {
            duration: Duration::from_millis(LEASE_MS),
            drift_ppm: 50_000,
        }),
    }
}

/// Sums the writes of simulated runs over `seeds`: (writes, refused, stale
/// accepted, runs with lease overlap).
fn simulated_writes(protocol: ProtocolKind, raft: RaftOptions) -> (u64, u64, u64, u64) {
    (0..200).fold((0, 0, 0, 0), |(w, r, s, o), seed| {
        let config = SimConfig {
            raft: raft.clone(),
            ..SimConfig::new(protocol, 5, seed)
        };
        let v = sim::run(&config).expect("simulate").verdict;
        (
            w + v.writes,
            r + v.writes_refused,
            s + v.stale_writes_accepted,
            o + u64::from(v.lease_overlap_ms > 0),
        )
    })
}

/// The fenced register at work, on the nemesis of `elect sim` (crashes,
/// partitions, loss, delay): leaders that write only while their lease is
/// valid never have a write accepted while a newer leadership acts; plain
/// Raft's deposed leaders do, and the register refuses the later ones; Bully
/// has no token, so the register refuses nothing and accepts them all.
/// (Writers that ignore the lease's lapse fail the first assertion.)
#[test]
fn only_writes_under_a_valid_lease_keep_a_deposed_leader_out_of_the_register() {
    let (writes, _, stale, overlap) = simulated_writes(ProtocolKind::Raft, lease_options());
    assert!(writes > 10_000, "the leaders wrote: {writes}");
    assert_eq!((stale, overlap), (0, 0), "with the lease");

    let (writes, refused, stale, _) = simulated_writes(ProtocolKind::Raft, RaftOptions::default());
    assert!(writes > 10_000);
    assert!(
        refused > 0 && stale > 0,
        "plain Raft: {refused} refused, {stale} stale"
    );

    let (_, refused, stale, _) = simulated_writes(ProtocolKind::Bully, RaftOptions::default());
    assert!(
        refused == 0 && stale > 0,
        "Bully: {refused} refused, {stale} stale"
    );
}

/// Paxos's lease keeps deposed leaders out of the register the same way:
/// the epoch is the token, and with the lease on no write is accepted while
/// a newer leadership acts; without it, deposed leaders' writes are.
/// (A follower that broke its promise, seeded in the checker, gives two
/// lease holders: `tests/mutants.rs`.)
#[test]
fn paxos_leaders_under_a_lease_never_write_once_deposed() {
    let lease = RaftOptions {
        check_quorum: false,
        ..lease_options()
    };
    let (writes, _, stale, overlap) = simulated_writes(ProtocolKind::Paxos, lease);
    assert!(writes > 10_000, "the leaders wrote: {writes}");
    assert_eq!((stale, overlap), (0, 0), "with the lease");

    let (writes, refused, stale, _) = simulated_writes(ProtocolKind::Paxos, RaftOptions::default());
    assert!(writes > 10_000);
    assert!(
        refused > 0 && stale > 0,
        "plain Paxos: {refused} refused, {stale} stale"
    );
}

/// The guard answers from the clock, not from what the node has handled:
/// while the runtime's only thread is blocked (as a paused process is), the
/// node handles nothing, yet the guard says the lease has lapsed as soon as
/// its time is up.
#[tokio::test(flavor = "current_thread")]
async fn the_lease_guard_reads_the_clock_at_the_moment_of_use() {
    let peers: Vec<SocketAddr> = support::free_ports(3)
        .into_iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        .collect();
    let ms = Duration::from_millis;
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for id in 0..3 {
        let config = NodeConfig {
            timeouts: Timeouts {
                heartbeat: ms(50),
                election: ms(300)..ms(600),
                reply: ms(25),
            },
            raft: lease_options(),
            ..NodeConfig::new(id, peers.clone())
        };
        nodes.push(runtime::start::<Raft>(config).await.expect("start"));
    }
    let (leader, guard) = tokio::time::timeout(START_WITHIN, async {
        loop {
            if let Some(found) = nodes.iter().find_map(|n| n.lease().map(|g| (n, g))) {
                return found;
            }
            tokio::time::sleep(ms(10)).await;
        }
    })
    .await
    .expect("a leader holds a lease");
    assert!(guard.is_valid());
    assert_eq!(Some(guard.token()), leader.leadership().borrow().term);
    let before = leader.counters();

    // Block the runtime's only thread past the lease's end: no node task
    // runs, no timer is handled, no datagram is read.
    std::thread::sleep(guard.remaining() + ms(20));
    assert!(!guard.is_valid(), "the guard read the clock");
    assert_eq!(guard.remaining(), Duration::ZERO);
    assert_eq!(
        leader.counters(),
        before,
        "the node has handled nothing since"
    );
    assert_eq!(leader.leadership().borrow().role, Role::Leader);
    for node in nodes {
        node.shutdown().await.expect("shutdown");
    }
}

/// Three `elect node` processes with CheckQuorum and a lease. The leader is
/// frozen with SIGSTOP while it holds its lease, and the two others stop
/// talking to it; they elect a leader of a higher term, which gets a lease of
/// its own once the old leader's followers' promises have run out. When the
/// old leader resumes, its very first answer shows no lease — and still its
/// old term: it has not heard of its successor, it read its clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_resumed_from_sigstop_reports_its_lease_lapsed_before_it_hears_the_new_term() {
    let flags = ["--check-quorum", "--lease-ms", &LEASE_MS.to_string()].map(String::from);
    let mut cluster = TestCluster::start_with_flags("raft", 3, TEST_TIMING, flags.to_vec());
    let (old, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader");
    let mut held = None;
    for _ in 0..200 {
        let report = cluster.status(old).await.expect("status");
        if let (Some(lease), Role::Leader) = (report.lease, report.view.role) {
            held = Some((lease, report.view.term.expect("a term")));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (lease, term) = held.expect("the leader holds a lease");
    assert_eq!(lease.token, term, "the fencing token is the term");
    assert!(lease.remaining_ms <= LEASE_MS);

    cluster.freeze(old);
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let spec = format!(
        "{old}/{}",
        others
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    cluster.partition_with_cli(&others, &spec);

    let mut successor = None;
    for _ in 0..400 {
        for &i in &others {
            if let Some(r) = cluster.status(i).await {
                if r.view.role == Role::Leader && r.view.term > Some(term) && r.lease.is_some() {
                    successor = Some((i, r));
                }
            }
        }
        if successor.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, report) = successor.expect("the others elect a leader that holds a lease");
    let new_lease = report.lease.expect("lease");
    assert!(
        new_lease.token > term,
        "a higher token: {} > {term}",
        new_lease.token
    );

    cluster.thaw(old);
    let resumed = cluster
        .status(old)
        .await
        .expect("the resumed leader answers");
    assert_eq!(
        resumed.view.term,
        Some(term),
        "it has not heard of the new term"
    );
    assert_eq!(resumed.lease, None, "it knows its lease has lapsed");
}
