//! Arbitrary messages, timer firings and restarts at one BullyHalt node.
#![no_main]

use elect::protocols::bully_halt::BullyHalt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = elect::fuzzing::actor::<BullyHalt>(data) {
        panic!("{e}");
    }
});
