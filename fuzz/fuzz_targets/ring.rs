//! Arbitrary messages, timer firings and restarts at one Ring node.
#![no_main]

use elect::protocols::ring::Ring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = elect::fuzzing::actor::<Ring>(data) {
        panic!("{e}");
    }
});
