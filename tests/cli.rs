//! The `elect` binary as a user runs it: exit statuses, one-line argument
//! errors, readable counterexamples, JSON, and the Explorer over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn elect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(args)
        .output()
        .expect("run elect")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_safe_configuration_exits_zero_with_a_result_table() {
    let out = elect(&["check", "ring", "--nodes", "3", "--crashes", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("single leader"), "{text}");
    assert!(text.contains("holds (complete)"), "{text}");
    assert!(text.contains("example found"), "{text}");
    // Sound liveness by default, decided on the complete graph.
    assert!(
        text.lines()
            .any(|l| l.contains("recoverability") && l.contains("holds (complete)")),
        "{text}"
    );
}

#[test]
fn split_brain_prints_a_numbered_trace_and_exits_one() {
    let out = elect(&[
        "check",
        "bully",
        "--timing",
        "asynchronous",
        "--nodes",
        "3",
        "--crashes",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("counterexample for \"single leader\""),
        "{text}"
    );
    assert!(text.contains("  0. initial state"), "{text}");
    assert!(text.contains("  1. "), "{text}");
    assert!(text.matches("★ LEADER").count() >= 2, "{text}");
}

#[test]
fn json_output_is_one_document() {
    let out = elect(&["check", "bully", "--nodes", "3", "--crashes", "1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["protocol"], "bully");
    assert!(doc["unique_states"].as_u64().unwrap_or(0) > 0);
    let props = doc["properties"].as_array().expect("properties");
    assert!(props
        .iter()
        .any(|p| p["name"] == "single leader" && p["outcome"] == "holds"));
}

#[test]
fn bad_flags_get_one_line_and_exit_two() {
    for args in [
        vec!["check", "viewstamped"],
        vec!["check", "raft", "--nodes", "many"],
        vec!["check", "raft", "--bogus"],
        vec!["check", "raft", "--nodes", "0"],
        vec![
            "check",
            "raft",
            "--network",
            "duplicating",
            "--timing",
            "timely",
        ],
        vec!["check", "bully", "--max-in-flight", "2"],
        vec!["check", "raft", "--strategy", "bfs", "--symmetry"],
        vec!["explore", "raft", "--addr", "nonsense"],
        vec!["check", "raft", "--seeded-bug", "raft/none-such"],
        vec!["check", "bully", "--pauses", "1"],
        // Raft's switches: for Raft only, and a lease that is safe.
        vec![
            "cluster",
            "--protocol",
            "ring",
            "--pre-vote",
            "--duration",
            "1",
        ],
        vec![
            "cluster",
            "--protocol",
            "raft",
            "--lease-ms",
            "480",
            "--duration",
            "1",
        ],
        vec![
            "sim",
            "--protocol",
            "raft",
            "--lease-ms",
            "40",
            "--runs",
            "1",
        ],
        vec![
            "node",
            "--protocol",
            "raft",
            "--id",
            "0",
            "--peers",
            "127.0.0.1:9",
            "--drift",
            "0.1",
        ],
        vec![
            "chaos",
            "--protocol",
            "raft",
            "--lease-ms",
            "300",
            "--drift",
            "0.6",
        ],
        vec![
            "node",
            "--protocol",
            "raft",
            "--id",
            "0",
            "--peers",
            "127.0.0.1:9",
            "--write-every-ms",
            "20",
        ],
        vec![
            "node",
            "--protocol",
            "raft",
            "--id",
            "0",
            "--peers",
            "127.0.0.1:9",
            "--write-to",
            "register",
        ],
    ] {
        let out = elect(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("elect: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn help_lists_examples() {
    let out = elect(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Examples:"));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn explorer_serves_legible_states() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_elect"))
        .args(["explore", "raft", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start explorer");
    let stderr = child.stderr.take().expect("stderr");
    let mut banner = String::new();
    let mut reader = BufReader::new(stderr);
    reader.read_line(&mut banner).expect("banner");
    assert!(banner.contains("Explorer"), "{banner}");
    // Keep draining stderr so a chatty explorer never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));

    // Generous: on a loaded machine the first answer can take a while.
    let deadline = Instant::now() + Duration::from_secs(90);
    let states = loop {
        if let Some(r) = http_get(port, "/.states") {
            break r;
        }
        assert!(Instant::now() < deadline, "explorer did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    let page = http_get(port, "/").unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();

    assert!(page.contains("Stateright"), "index page: {page:.200}");
    let body = states.split("\r\n\r\n").nth(1).unwrap_or_default();
    // Chunked or not, the JSON text carries one line per node.
    assert!(
        body.contains("n0    follower  Follower term 0 leader - voted -"),
        "{body}"
    );
    assert!(body.contains("n2    follower"), "{body}");
    assert!(body.contains("in flight (0)"), "{body}");
}
