//! Arbitrary messages, timer firings and restarts at one Raft node.
#![no_main]

use elect::protocols::raft::Raft;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = elect::fuzzing::actor::<Raft>(data) {
        panic!("{e}");
    }
});
