//! Reliability over the wire: the deterministic simulation, fault injection
//! and partitions on real processes, authenticated datagrams, chaos, and
//! storage that survives SIGKILL mid-save.

mod support;

use elect::history::Occurrence;
use elect::leadership::Role;
use elect::protocols::ProtocolKind;
use elect::sim::{self, SimConfig};
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;
use support::{elect, TestCluster, TEST_TIMING};

const START_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn simulated_raft_never_has_two_leaders_in_a_term() {
    let runs = 600;
    let mut crashes = 0;
    let mut splits = 0;
    let mut elections = 0;
    for seed in 0..runs {
        let run = sim::run(&SimConfig::new(ProtocolKind::Raft, 5, seed)).expect("simulate");
        assert!(
            run.verdict.is_safe(),
            "seed {seed}: {}\n{:?}",
            run.verdict,
            run.nemesis
        );
        crashes += run.nemesis.iter().filter(|n| n.contains("crash")).count();
        splits += run.nemesis.iter().filter(|n| n.contains("split")).count();
        elections += run.verdict.elections;
    }
    // The runs were hostile: the nemesis crashed and split, elections happened.
    assert!(
        crashes > runs as usize && splits > runs as usize,
        "{crashes} crashes, {splits} splits"
    );
    assert!(elections > 2 * runs);
}

/// PreVote does what it is for: a node that rejoins after a partition no
/// longer deposes a leader that a majority still follows. Counted over the
/// same seeded runs with and without it (10,000 runs: 19,061 against 149).
#[test]
fn pre_vote_spares_the_leaders_a_majority_follows() {
    let deposed = |pre_vote: bool| -> u64 {
        (0..300)
            .map(|seed| {
                let mut config = SimConfig::new(ProtocolKind::Raft, 5, seed);
                config.raft.pre_vote = pre_vote;
                sim::run(&config)
                    .expect("simulate")
                    .verdict
                    .deposed_while_followed
            })
            .sum()
    };
    let (plain, pre_vote) = (deposed(false), deposed(true));
    assert!(plain > 100, "the runs partition and heal: {plain}");
    assert!(
        pre_vote * 20 < plain,
        "{pre_vote} with PreVote, {plain} without"
    );
}

#[test]
fn a_seed_replays_exactly() {
    // Seeds 55, 153 and 217 once replayed differently now and then: two
    // timers due at the same instant fired in hash order, and the node's
    // event loop picked at random between a due timer and a datagram.
    for seed in [42, 55, 153, 217] {
        let config = SimConfig::new(ProtocolKind::Raft, 5, seed);
        let first = sim::run(&config).expect("simulate");
        for _ in 0..3 {
            let again = sim::run(&config).expect("simulate");
            assert_eq!(first.events, again.events, "seed {seed}");
            assert_eq!(first.nemesis, again.nemesis, "seed {seed}");
        }
    }
    let config = SimConfig::new(ProtocolKind::Raft, 5, 42);
    let first = sim::run(&config).expect("simulate");
    assert!(
        first.events.iter().any(|e| e.what == Occurrence::Down),
        "the nemesis crashed something"
    );
    let other = sim::run(&SimConfig::new(ProtocolKind::Raft, 5, 43)).expect("simulate");
    assert_ne!(first.events, other.events);
}

#[test]
fn simulation_measures_the_split_brain_of_bully_and_ring_under_partitions() {
    for protocol in [ProtocolKind::Bully, ProtocolKind::Ring] {
        let runs: Vec<_> = (0..60)
            .map(|seed| {
                let config = SimConfig {
                    crashes: false,
                    ..SimConfig::new(protocol, 5, seed)
                };
                sim::run(&config).expect("simulate")
            })
            .collect();
        let with_split_brain = runs
            .iter()
            .filter(|r| !r.verdict.split_brain.is_empty())
            .count();
        assert!(
            with_split_brain > 0,
            "{protocol}: partitions should show split brain"
        );
        // No terms, so no term-based safety verdict: split brain is measured.
        assert!(runs.iter().all(|r| r.verdict.is_safe()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_with_injected_loss_still_elects_and_counts_the_faults() {
    let flags = vec![
        "--faults".to_string(),
        "drop=0.2,dup=0.1,delay=0..10ms".into(),
    ];
    let cluster = TestCluster::start_with_flags("raft", 3, TEST_TIMING, flags);
    let (leader, _) = cluster
        .wait_for_agreed_leader(Duration::from_secs(20))
        .await
        .expect("a leader despite loss");
    // Faults are drawn at random per message: wait until the leader has
    // injected both kinds (a 10 % duplication can take a while to show on a
    // few dozen heartbeats), then check the counters say so.
    let counted = |r: &elect::runtime::admin::StatusReport, fault: &str| {
        r.counters.injected.get(fault).copied().unwrap_or(0) > 0
    };
    let mut report = cluster.status(leader).await.expect("status");
    for _ in 0..100 {
        if counted(&report, "drop") && counted(&report, "dup") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        report = cluster.status(leader).await.expect("status");
    }
    assert!(
        report.faults.starts_with("drop=0.2,dup=0.1"),
        "{}",
        report.faults
    );
    let injected = &report.counters.injected;
    assert!(counted(&report, "drop"), "{injected:?}");
    assert!(counted(&report, "dup"), "{injected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_raft_leader_is_replaced_and_steps_down_after_healing() {
    let cluster = TestCluster::start("raft", 3);
    let (old, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader");
    let term = cluster
        .status(old)
        .await
        .expect("status")
        .view
        .term
        .expect("term");
    let others: Vec<String> = (0..3)
        .filter(|&i| i != old)
        .map(|i| i.to_string())
        .collect();
    let spec = format!("{old}/{}", others.join(","));
    let all: Vec<usize> = (0..3).collect();
    cluster.partition_with_cli(&all, &spec);
    let addrs: Vec<String> = cluster.addrs.iter().map(|a| a.to_string()).collect();

    // The majority elects a new leader in a higher term; the isolated old
    // leader cannot hear it (a stale leader of an old term: Raft allows it).
    let mut new_leader = None;
    for _ in 0..200 {
        for &i in (0..3).filter(|&i| i != old).collect::<Vec<_>>().iter() {
            if let Some(r) = cluster.status(i).await {
                if r.view.role == Role::Leader && r.view.term > Some(term) {
                    new_leader = Some(i);
                }
            }
        }
        if new_leader.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new_leader = new_leader.expect("the majority side elects a leader");
    let isolated = cluster.status(old).await.expect("status");
    assert!(
        isolated
            .counters
            .injected
            .get("partition")
            .copied()
            .unwrap_or(0)
            > 0
    );

    let mut args: Vec<&str> = vec!["fault"];
    args.extend(addrs.iter().map(String::as_str));
    args.push("heal");
    assert_eq!(elect(&args).status.code(), Some(0));
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("one leader after healing");
    assert_ne!(leader, old, "the old leader stepped down");
    let _ = new_leader;
    let old_view = cluster.status(old).await.expect("status").view;
    assert_eq!(old_view.role, Role::Follower);
    assert!(old_view.term > Some(term));
}

fn write_key(dir: &std::path::Path, name: &str, mode: u32, bytes: &[u8]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_clusters_reject_every_forged_datagram() {
    use elect::protocols::raft::RaftMsg;
    use elect::runtime::auth::Key;
    use elect::runtime::wire::{self, Kind};

    let dir = tempfile::tempdir().expect("tempdir");
    let secret = b"a-cluster-key-of-sufficient-length";
    let key_file = write_key(dir.path(), "key", 0o600, secret);
    let cluster = TestCluster::start_with_flags(
        "raft",
        3,
        TEST_TIMING,
        vec!["--key-file".into(), key_file.clone()],
    );
    let (leader, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("authenticated nodes elect");
    let target = (leader + 1) % 3;
    let to = cluster.addrs[target];
    let cluster_id = wire::cluster_id("elect");
    let forged = wire::encode(
        Kind::Protocol,
        cluster_id,
        0,
        &RaftMsg::AppendEntries { term: 99, round: 0 },
    )
    .expect("encode");
    let mut wrong_key = forged.clone();
    Key::new(b"not-the-cluster-key-at-all")
        .expect("key")
        .seal(&mut wrong_key);
    let mut tampered = forged.clone();
    Key::new(secret).expect("key").seal(&mut tampered);
    let last = tampered.len() - 1;
    tampered[last] ^= 0x55;
    let mut truncated = forged.clone();
    Key::new(secret).expect("key").seal(&mut truncated);
    truncated.pop();
    // Signed with the real key, yet not acceptable: another cluster, a
    // non-member id, and a member's id sent from another address (a replay
    // of a captured datagram from elsewhere).
    let signed = |cluster: u64, sender: u16| {
        let mut d = wire::encode(
            Kind::Protocol,
            cluster,
            sender,
            &RaftMsg::AppendEntries { term: 99, round: 0 },
        )
        .expect("encode");
        Key::new(secret).expect("key").seal(&mut d);
        d
    };
    let other_cluster = signed(wire::cluster_id("another"), 0);
    let non_member = signed(cluster_id, 7);
    let replayed = signed(cluster_id, leader as u16);
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for datagram in [
        &forged,
        &wrong_key,
        &tampered,
        &truncated,
        &other_cluster,
        &non_member,
        &replayed,
    ] {
        stranger.send_to(datagram, to).expect("send");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = cluster.status(target).await.expect("status is open to all");
    let dropped = |reason: &str| report.counters.dropped.get(reason).copied();
    let all = &report.counters.dropped;
    assert_eq!(dropped("bad_mac"), Some(4), "{all:?}");
    assert_eq!(dropped("wrong_cluster"), Some(1), "{all:?}");
    assert_eq!(dropped("unknown_sender"), Some(2), "{all:?}");
    assert!(report.view.term.expect("term") < 99);

    // Changing a node needs the key.
    let addr = to.to_string();
    let refused = elect(&["fault", &addr, "set", "drop=0.5"]);
    assert_eq!(refused.status.code(), Some(1));
    let accepted = elect(&["fault", "--key-file", &key_file, &addr, "heal"]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );

    let (still, _) = cluster
        .wait_for_agreed_leader(START_WITHIN)
        .await
        .expect("leader");
    assert_eq!(still, leader);
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = write_key(
        dir.path(),
        "key",
        0o644,
        b"a-cluster-key-of-sufficient-length",
    );
    let port = support::free_ports(1)[0];
    let out = elect(&[
        "node",
        "--protocol",
        "raft",
        "--id",
        "0",
        "--peers",
        &format!("127.0.0.1:{port}"),
        "--key-file",
        &key_file,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

/// Real processes under the nemesis, with CheckQuorum and the lease on and
/// the leader-only writers writing to chaos' fenced register: no two terms'
/// leaders at once, no lease overlap, and no write accepted from a deposed
/// leader.
#[test]
fn a_short_chaos_run_keeps_raft_safe_and_its_writes_fenced() {
    let base = 30000 + (std::process::id() % 10000) as u16;
    let out = elect(&[
        "chaos",
        "--protocol",
        "raft",
        "--nodes",
        "3",
        "--duration",
        "8s",
        "--seed",
        "1",
        "--every",
        "1",
        "--base-port",
        &base.to_string(),
        "--heartbeat-ms",
        "50",
        "--election-timeout-ms",
        "300..600",
        "--check-quorum",
        "--lease-ms",
        "150",
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(text.trim()).expect("json");
    assert!(doc["nemesis_actions"].as_u64().unwrap_or(0) >= 3, "{doc}");
    assert_eq!(
        doc["verdict"]["safety_violations"].as_array().map(Vec::len),
        Some(0),
        "{doc}"
    );
    assert!(
        doc["verdict"]["elections"].as_u64().unwrap_or(0) >= 1,
        "{doc}"
    );
    let verdict = &doc["verdict"];
    assert!(verdict["writes"].as_u64().unwrap_or(0) > 0, "{doc}");
    assert_eq!(verdict["lease_overlap_ms"].as_u64(), Some(0), "{doc}");
    assert_eq!(verdict["stale_writes_accepted"].as_u64(), Some(0), "{doc}");
}

#[test]
fn storage_survives_sigkill_in_the_middle_of_saves() {
    use elect::protocols::raft::RaftStorage;
    // A Raft node whose only peer never answers stands for election over and
    // over, saving a new term every few milliseconds; kill it at random
    // moments.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = data.join(elect::runtime::storage::FILE_NAME);
    let mut last_term = 0;
    let mut seed: u64 = 7;
    for round in 0..25 {
        let ports = support::free_ports(2);
        let mut child = Command::new(env!("CARGO_BIN_EXE_elect"))
            .args(["node", "--protocol", "raft", "--id", "0"])
            .args([
                "--peers",
                &format!("127.0.0.1:{},127.0.0.1:{}", ports[0], ports[1]),
            ])
            .args([
                "--data-dir",
                &data.display().to_string(),
                // As fast as the timer order reply < heartbeat < election allows.
                "--reply-ms",
                "1",
                "--heartbeat-ms",
                "2",
                "--election-timeout-ms",
                "3..5",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start");
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(20 + (seed >> 33) % 150));
        let _ = child.kill();
        let _ = child.wait();
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let saved: RaftStorage = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: torn file: {e}"));
        // Old or new value, never older than what the last incarnation saved.
        assert!(
            saved.current_term >= last_term,
            "round {round}: term went back"
        );
        last_term = saved.current_term;
    }
    assert!(
        last_term > 25,
        "saves happened throughout: term {last_term}"
    );
}
