//! The code the checker verifies is the code that runs: one generic function
//! model-checks a protocol type and then runs that same type over UDP.

use elect::leadership::Role;
use elect::model::ModelConfig;
use elect::model::Modelled;
use elect::protocols::bully::Bully;
use elect::protocols::raft::Raft;
use elect::protocols::ring::Ring;
use elect::runtime::{self, NodeConfig};
use elect::verification::run::{self, Job};
use elect::verification::verdict::{CheckOptions, Kind, Outcome};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

async fn checked_then_run<P: Modelled>() {
    // 1. The checker explores `P` and finds its safety properties hold.
    let config = ModelConfig {
        nodes: 3,
        crashes: 1,
        recover: false,
        lossy: false,
        // Raft's heartbeats are not held back by timely timing: a small cap.
        max_in_flight: if P::HAS_TERMS { 3 } else { 10 },
        ..ModelConfig::default_for(P::KIND)
    };
    let job = Job::new(P::KIND, config, CheckOptions::defaults_for(P::KIND));
    let result = run::run_job_for::<P>(&job, &mut |_| {}).expect("checkable");
    for p in result.properties.iter().filter(|p| p.kind == Kind::Always) {
        assert!(
            matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
            "{}: {:?}",
            p.name,
            p.outcome
        );
    }

    // 2. The runtime drives values of the very same type `P` over sockets.
    let sockets: Vec<UdpSocket> = (0..3)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let peers: Vec<SocketAddr> = sockets
        .iter()
        .map(|s| s.local_addr().expect("addr"))
        .collect();
    drop(sockets);
    let mut nodes = Vec::new();
    for id in 0..3 {
        nodes.push(
            runtime::start::<P>(NodeConfig::new(id, peers.clone()))
                .await
                .expect("start"),
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let views: Vec<_> = nodes.iter().map(|n| *n.leadership().borrow()).collect();
        let leaders = views.iter().filter(|v| v.role == Role::Leader).count();
        let leader = views
            .iter()
            .find(|v| v.role == Role::Leader)
            .and_then(|v| v.leader);
        if leaders == 1 && views.iter().all(|v| v.leader == leader) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: no agreed leader: {views:?}",
            P::KIND
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for node in nodes {
        node.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn raft_is_checked_and_run_as_the_same_type() {
    checked_then_run::<Raft>().await;
}

#[tokio::test]
async fn bully_is_checked_and_run_as_the_same_type() {
    checked_then_run::<Bully>().await;
}

#[tokio::test]
async fn ring_is_checked_and_run_as_the_same_type() {
    checked_then_run::<Ring>().await;
}
