//! The protocols over real UDP sockets on 127.0.0.1, each node a separate
//! `elect node` process started from the built binary.

mod support;

use elect::leadership::Role;
use elect::protocols::raft::RaftStorage;
use std::net::UdpSocket;
use std::time::Duration;
use support::TestCluster;

const START_WITHIN: Duration = Duration::from_secs(10);

async fn elects_one_leader(protocol: &'static str, n: usize) {
    let cluster = TestCluster::start(protocol, n);
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .unwrap_or_else(|| panic!("{protocol} with {n} nodes elected no leader"));
    // Exactly one node acts as leader.
    let mut leaders = Vec::new();
    for i in 0..n {
        let report = cluster.status(i).await.expect("status");
        if report.view.role == Role::Leader {
            leaders.push(i);
        }
    }
    assert_eq!(leaders, vec![leader], "{protocol}/{n}");
    if protocol != "raft" {
        // The seed's algorithms elect the highest id.
        assert_eq!(leader, n - 1, "{protocol}/{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bully_elects_one_leader_with_3_and_5_nodes() {
    elects_one_leader("bully", 3).await;
    elects_one_leader("bully", 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_elects_one_leader_with_3_and_5_nodes() {
    elects_one_leader("ring", 3).await;
    elects_one_leader("ring", 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_elects_one_leader_with_3_and_5_nodes() {
    elects_one_leader("raft", 3).await;
    elects_one_leader("raft", 5).await;
}

/// SIGKILL the leader; the survivors agree on a new one within the bound the
/// timeouts imply; the killed node is restarted and rejoins.
async fn fails_over(protocol: &'static str) -> TestCluster {
    let mut cluster = TestCluster::start(protocol, 3);
    let (old, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("first leader");
    cluster.kill(old);
    let bound = cluster.reelection_bound();
    let (new, took) = cluster
        .wait_for_agreed_leader(bound)
        .await
        .unwrap_or_else(|| panic!("{protocol}: no new leader within {bound:?} of killing n{old}"));
    assert_ne!(new, old);
    eprintln!("{protocol}: n{new} leads {took:?} after n{old} was killed");
    cluster.spawn(old);
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bully_fails_over_and_the_restarted_highest_node_takes_over() {
    let cluster = fails_over("bully").await;
    // The restarted node has the highest id: it bullies its way back.
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader after restart");
    assert_eq!(leader, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_fails_over_and_the_restarted_node_rejoins() {
    let cluster = fails_over("ring").await;
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader after restart");
    // Every node, the restarted one included, follows the same live leader.
    assert!(cluster.live().contains(&leader));
    assert_eq!(cluster.live().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_fails_over_and_the_restarted_node_returns_as_follower_with_its_term_and_vote() {
    let mut cluster = TestCluster::start("raft", 3);
    let (old, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("first leader");
    let term_before = cluster
        .status(old)
        .await
        .expect("status")
        .view
        .term
        .expect("raft has terms");
    cluster.kill(old);
    let saved: RaftStorage = read_storage(&cluster, old);
    assert!(saved.current_term >= term_before);
    assert_eq!(
        saved.voted_for,
        Some(stateright::actor::Id::from(old)),
        "a leader voted for itself"
    );

    let (new, _) = cluster
        .wait_for_agreed_leader(cluster.reelection_bound())
        .await
        .expect("new leader");
    assert_ne!(new, old);
    let new_term = cluster
        .status(new)
        .await
        .expect("status")
        .view
        .term
        .expect("term");
    assert!(new_term > term_before, "a new leader needs a new term");

    cluster.spawn(old);
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader after restart");
    let rejoined = cluster.status(old).await.expect("restarted node answers");
    assert_eq!(rejoined.view.role, Role::Follower, "leader is n{leader}");
    assert!(rejoined.view.term.expect("term") >= saved.current_term);
    // What it saved survived the SIGKILL and was read back: its term never
    // went back below the saved one, and the file still decodes.
    let after: RaftStorage = read_storage(&cluster, old);
    assert!(after.current_term >= saved.current_term);
}

fn read_storage(cluster: &TestCluster, i: usize) -> RaftStorage {
    let path = cluster.data_dir(i).join(elect::runtime::storage::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_datagrams_are_dropped_and_counted_while_the_cluster_keeps_its_leader() {
    use elect::protocols::raft::RaftMsg;
    use elect::runtime::wire::{self, Kind};

    let mut cluster = TestCluster::start("raft", 3);
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader");
    let target = (leader + 1) % 3;
    let cluster_id = wire::cluster_id("elect");
    let valid = wire::encode(
        Kind::Protocol,
        cluster_id,
        0,
        &RaftMsg::AppendEntries { term: 99, round: 0 },
    )
    .expect("encode");

    let mut wrong_version = valid.clone();
    wrong_version[4] = 200;
    let wrong_cluster = wire::encode(
        Kind::Protocol,
        wire::cluster_id("another"),
        0,
        &RaftMsg::AppendEntries { term: 99, round: 0 },
    )
    .expect("encode");
    // A member's id, but sent from a stranger's address.
    let unknown_sender = valid.clone();
    let out_of_range = wire::encode(
        Kind::Protocol,
        cluster_id,
        77,
        &RaftMsg::AppendEntries { term: 99, round: 0 },
    )
    .expect("encode");
    let mut bad_payload = valid[..wire::HEADER_LEN].to_vec();
    bad_payload.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff]);

    let stranger = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = cluster.addrs[target];
    let datagrams: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"garbage that is no envelope at all".to_vec()),
        ("malformed", valid[..9].to_vec()),
        // Membership is checked before the payload is decoded.
        ("unknown_sender", bad_payload),
        ("oversized", vec![0x45; 4000]),
        ("wrong_version", wrong_version),
        ("wrong_cluster", wrong_cluster),
        ("unknown_sender", unknown_sender),
        ("unknown_sender", out_of_range),
    ];
    for (_, bytes) in &datagrams {
        stranger.send_to(bytes, to).expect("send");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let report = cluster
        .status(target)
        .await
        .expect("the node still answers");
    for reason in [
        "malformed",
        "oversized",
        "wrong_version",
        "wrong_cluster",
        "unknown_sender",
    ] {
        let expected = datagrams.iter().filter(|(r, _)| *r == reason).count() as u64;
        assert_eq!(
            report.counters.dropped.get(reason).copied(),
            Some(expected),
            "{reason}: {:?}",
            report.counters.dropped
        );
    }
    assert!(cluster.is_running(target));
    // The forged AppendEntries from term 99 never reached the actor.
    assert!(report.view.term.expect("term") < 99);
    let (still, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader");
    assert_eq!(still, leader);
}

#[test]
fn startup_errors_are_one_line_with_status_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr").to_string();
    let ports = support::free_ports(2);
    let free = |i: usize| format!("127.0.0.1:{}", ports[i]);
    let corrupt_dir = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt_dir).expect("mkdir");
    std::fs::write(
        corrupt_dir.join(elect::runtime::storage::FILE_NAME),
        b"{not json",
    )
    .expect("write");
    let file_not_dir = dir.path().join("a-file");
    std::fs::write(&file_not_dir, b"").expect("write");

    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![format!("{busy_addr},{}", free(1))], "cannot listen"),
        (vec![format!("{},{}", free(0), free(0))], "appears twice"),
        (
            vec!["localhost:7000,127.0.0.1:7001".into()],
            "not an IP:PORT",
        ),
        (
            vec![
                format!("{},{}", free(0), free(1)),
                "--data-dir".into(),
                corrupt_dir.display().to_string(),
            ],
            "corrupt",
        ),
        (
            vec![
                format!("{},{}", free(0), free(1)),
                "--data-dir".into(),
                file_not_dir.join("x").display().to_string(),
            ],
            "data dir",
        ),
        (
            vec![
                format!("{},{}", free(0), free(1)),
                "--election-timeout-ms".into(),
                "900..100".into(),
            ],
            "LO..HI",
        ),
        (
            vec![
                format!("{},{}", free(0), free(1)),
                "--heartbeat-ms".into(),
                "800".into(),
            ],
            "shorter than the election timeout",
        ),
    ];
    for (extra, expect) in cases {
        let mut args: Vec<String> = vec![
            "node".into(),
            "--protocol".into(),
            "raft".into(),
            "--id".into(),
            "0".into(),
            "--peers".into(),
        ];
        args.extend(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
            .args(&args)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains("WARN")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    drop(busy);
}

#[test]
fn sigterm_stops_a_node_cleanly() {
    let mut cluster = TestCluster::start("bully", 1);
    std::thread::sleep(Duration::from_millis(300));
    let pid = cluster.pid(0).expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = cluster.wait_for_exit(0, Duration::from_secs(10));
    assert_eq!(exit, Some(Some(0)));
}

#[test]
fn a_node_runs_from_a_config_file_and_answers_elect_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_ports(1)[0];
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "protocol = \"bully\"\nid = 0\npeers = [\"127.0.0.1:{port}\"]\ndata_dir = \"{}\"\nheartbeat_ms = 20\nreply_ms = 10\nelection_timeout_ms = \"200..400\"\ncluster_id = \"from-file\"\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(["node", "--config", &config.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    std::thread::sleep(Duration::from_millis(400));
    let status = |cluster: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
            .args([
                "status",
                &format!("127.0.0.1:{port}"),
                "--cluster-id",
                cluster,
                "--timeout-ms",
                "600",
            ])
            .output()
            .expect("status")
    };
    let ok = status("from-file");
    let other = status("elect");
    let _ = child.kill();
    let _ = child.wait();
    let table = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{table}");
    assert!(
        table.contains("bully") && table.contains("leader"),
        "{table}"
    );
    // A status request for another cluster is dropped, so it goes unanswered.
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stdout).contains("no answer"));
}

#[test]
fn a_bad_config_file_is_one_line_with_status_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("node.toml");
    std::fs::write(&config, "protocol = \"raft\"\nid = 0\npeerz = []\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(["node", "--config", &config.display().to_string()])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("peerz"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_talk_over_ipv6() {
    use elect::protocols::bully::Bully;
    use elect::runtime::{start, NodeConfig};
    let Ok(probe) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let mut peers = vec![probe.local_addr().expect("addr")];
    for _ in 1..3 {
        peers.push(
            UdpSocket::bind("[::1]:0")
                .expect("bind")
                .local_addr()
                .expect("addr"),
        );
    }
    drop(probe);
    let mut nodes = Vec::new();
    for id in 0..3 {
        nodes.push(
            start::<Bully>(NodeConfig::new(id, peers.clone()))
                .await
                .expect("start on ::1"),
        );
    }
    let deadline = tokio::time::Instant::now() + START_WITHIN;
    while !nodes
        .iter()
        .all(|n| n.leadership().borrow().leader == Some(2))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreement over IPv6"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in nodes {
        n.shutdown().await.expect("shutdown");
    }
}

#[test]
fn elect_cluster_shows_reelections() {
    // Five consecutive ports from a random high base; a clash only makes the
    // cluster refuse to start, which the assertion below would show.
    let base = 20000 + (std::process::id() % 20000) as u16;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_elect"))
        .args([
            "cluster",
            "--protocol",
            "bully",
            "--nodes",
            "3",
            "--base-port",
            &base.to_string(),
            "--kill-leader-every",
            "1.5",
            "--restart-after",
            "0.5",
            "--duration",
            "5",
            "--heartbeat-ms",
            "50",
            "--election-timeout-ms",
            "300..600",
        ])
        .output()
        .expect("run cluster");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("| leader n2"), "{text}");
    assert!(text.contains("SIGKILL n2 (the leader)"), "{text}");
    assert!(
        text.contains("failover: all live nodes follow n1"),
        "{text}"
    );
    assert!(text.contains("restarted n2"), "{text}");
    assert!(text.contains("cluster stopped"), "{text}");
}
