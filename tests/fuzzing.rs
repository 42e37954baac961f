//! The proptest versions of the `cargo fuzz` targets in `fuzz/`: the same
//! harnesses ([`elect::fuzzing`]) fed random bytes, a few hundred cases per
//! target on every test run. The fuzz targets run the same checks for as
//! long as one likes, coverage-guided (see `fuzz/README.md`).

use elect::fuzzing;
use elect::protocols::bully::Bully;
use elect::protocols::bully_halt::BullyHalt;
use elect::protocols::paxos::Paxos;
use elect::protocols::raft::{Raft, RaftMsg};
use elect::protocols::ring::Ring;
use elect::runtime::wire::{self, Kind, CLIENT_ID};
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
    fn gate_never_panics_on_arbitrary_bytes(data in bytes()) {
        prop_assert!(fuzzing::gate::<Raft>(&data).is_ok());
        prop_assert!(fuzzing::gate::<Bully>(&data).is_ok());
        prop_assert!(fuzzing::gate::<BullyHalt>(&data).is_ok());
        prop_assert!(fuzzing::gate::<Ring>(&data).is_ok());
        prop_assert!(fuzzing::gate::<Paxos>(&data).is_ok());
    }

    /// Well-formed envelopes — from members, from the node itself, from a
    /// non-member id, from an admin client's id, sent from the member's own
    /// address or another one, sealed or not, for this cluster or another,
    /// with a payload that decodes or one with bytes to spare — reach the
    /// gate of node 0 of a three-node cluster, keyed or not. Exactly those
    /// from another member, from that member's own address, for this
    /// cluster, sealed when the cluster has a key, with a clean payload get
    /// through.
    #[test]
    fn gate_admits_exactly_members_from_their_own_address(
        sender in prop_oneof![0u16..5, Just(CLIENT_ID)],
        from in 0u8..4,
        keyed in any::<bool>(),
        sealed in any::<bool>(),
        other_cluster in prop::bool::weighted(0.2),
        spare in prop::bool::weighted(0.2),
        term in any::<u64>(),
    ) {
        let cluster = wire::cluster_id(if other_cluster { "another" } else { "elect" });
        let mut datagram = wire::encode(Kind::Protocol, cluster, sender, &RaftMsg::AppendEntries { term, round: 0 })
            .expect("a small message encodes");
        if spare {
            datagram.push(0);
        }
        let how = from | if keyed { 0x80 } else { 0 };
        let data: Vec<u8> = [how, u8::from(sealed)].into_iter().chain(datagram).collect();
        let member = sender == 1 || sender == 2;
        let expected = member
            && usize::from(from) == usize::from(sender)
            && (!keyed || sealed)
            && !other_cluster
            && !spare;
        prop_assert_eq!(fuzzing::gate::<Raft>(&data), Ok(expected));
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

    #[test]
    fn paxos_keeps_a_well_formed_view(data in bytes()) {
        prop_assert!(fuzzing::actor::<Paxos>(&data).is_ok(), "{:?}", fuzzing::actor::<Paxos>(&data));
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
