//! The proptest versions of the `cargo fuzz` targets in `fuzz/`: the same
//! harnesses ([`elect::fuzzing`]) fed random bytes, a few hundred cases per
//! target on every test run. The fuzz targets run the same checks for as
//! long as one likes, coverage-guided (see `fuzz/README.md`).

use elect::fuzzing;
use elect::protocols::bully::Bully;
use elect::protocols::bully_halt::BullyHalt;
use elect::protocols::raft::Raft;
use elect::protocols::ring::Ring;
use proptest::prelude::*;

/// Mostly small bytes, which postcard reads as enum variants, booleans,
/// option tags and small numbers, so that most of the input decodes into
/// events; now and then any byte, so that large terms and ids come up too.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![8 => 0u8..4, 1 => any::<u8>()];
    proptest::collection::vec(byte, 0..600)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn gate_never_panics_and_accepts_only_members(data in bytes()) {
        prop_assert_eq!(fuzzing::gate::<Raft>(&data), Ok(()));
        prop_assert_eq!(fuzzing::gate::<Bully>(&data), Ok(()));
        prop_assert_eq!(fuzzing::gate::<BullyHalt>(&data), Ok(()));
        prop_assert_eq!(fuzzing::gate::<Ring>(&data), Ok(()));
    }

    #[test]
    fn raft_keeps_a_well_formed_view(data in bytes()) {
        prop_assert!(fuzzing::actor::<Raft>(&data).is_ok(), "{:?}", fuzzing::actor::<Raft>(&data));
    }

    #[test]
    fn bully_keeps_a_well_formed_view(data in bytes()) {
        prop_assert!(fuzzing::actor::<Bully>(&data).is_ok(), "{:?}", fuzzing::actor::<Bully>(&data));
    }

    #[test]
    fn bully_halt_keeps_a_well_formed_view(data in bytes()) {
        prop_assert!(fuzzing::actor::<BullyHalt>(&data).is_ok(), "{:?}", fuzzing::actor::<BullyHalt>(&data));
    }

    #[test]
    fn ring_keeps_a_well_formed_view(data in bytes()) {
        prop_assert!(fuzzing::actor::<Ring>(&data).is_ok(), "{:?}", fuzzing::actor::<Ring>(&data));
    }
}

/// Random bytes do decode into events often enough for the proptests above
/// to exercise the handlers, not only the decoder.
#[test]
fn random_bytes_become_events() {
    let data: Vec<u8> = (0..2000u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 13) % 4) as u8)
        .collect();
    let events = fuzzing::actor::<Raft>(&data).expect("no violation");
    assert!(events > 200, "only {events} events decoded");
}

/// Inputs on which `cargo fuzz` once found a panic, kept as regressions.
#[test]
fn inputs_that_once_crashed_a_node() {
    // A heartbeat of term u64::MAX, then an election timeout: the next term
    // overflowed.
    let raft_last_term: &[u8] = &[
        0x0a, 0x79, 0x00, 0x00, 0x02, 0x00, 0x00, 0xfe, 0x02, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x06, 0x00, 0x01, 0x01, 0x00, 0x3e, 0x00,
        0xfe, 0x02, 0x01, 0x00, 0x00, 0x00, 0x3e,
    ];
    assert!(fuzzing::actor::<Raft>(raft_last_term).is_ok());
}
