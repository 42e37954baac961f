//! Arbitrary messages, timer firings and restarts at one Paxos node.
#![no_main]

use elect::protocols::paxos::Paxos;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = elect::fuzzing::actor::<Paxos>(data) {
        panic!("{e}");
    }
});
