//! Arbitrary messages, timer firings and restarts at one Bully node.
#![no_main]

use elect::protocols::bully::Bully;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = elect::fuzzing::actor::<Bully>(data) {
        panic!("{e}");
    }
});
