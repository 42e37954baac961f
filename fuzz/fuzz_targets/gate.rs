//! Arbitrary datagrams at a node's gate, for every protocol's message type.
#![no_main]

use elect::fuzzing::gate;
use elect::protocols::{bully::Bully, bully_halt::BullyHalt, paxos::Paxos, raft::Raft, ring::Ring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for result in [
        gate::<Raft>(data),
        gate::<Bully>(data),
        gate::<BullyHalt>(data),
        gate::<Ring>(data),
        gate::<Paxos>(data),
    ] {
        if let Err(e) = result {
            panic!("{e}");
        }
    }
});
