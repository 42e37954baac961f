//! The wire format: one datagram, one envelope.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "ELCT"
//!      4     1  format version (1)
//!      5     1  kind: 0 protocol message, 1 admin request, 2 admin response
//!      6     8  cluster id (big endian), a stable hash of the cluster name
//!     14     2  sender node id (big endian); 0xFFFF for admin clients
//!     16     …  payload: the message in postcard encoding
//! ```
//!
//! Decoding never panics: anything that is not a well-formed envelope for
//! this cluster from a member is rejected with a [`DropReason`], which the
//! node counts and logs at debug level.

use serde::{de::DeserializeOwned, Serialize};
use std::fmt;
use std::hash::Hasher;

pub const MAGIC: [u8; 4] = *b"ELCT";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16;
/// Largest datagram a node sends or accepts: an Ethernet MTU minus IP and
/// UDP headers, so nothing is ever fragmented.
pub const MAX_DATAGRAM: usize = 1472;
/// Sender id used by admin clients such as `elect status`.
pub const CLIENT_ID: u16 = u16::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Protocol = 0,
    AdminRequest = 1,
    AdminResponse = 2,
}

/// Why a datagram was dropped. The names are the counter keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Larger than [`MAX_DATAGRAM`].
    Oversized,
    /// Too short for a header, wrong magic, unknown kind, or a payload that
    /// does not decode.
    Malformed,
    WrongVersion,
    WrongCluster,
    /// A sender id that is not a member, or a member id sent from an address
    /// that is not that member's.
    UnknownSender,
    /// The cluster has a key and the datagram's MAC is missing or wrong.
    BadMac,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Oversized => "oversized",
            DropReason::Malformed => "malformed",
            DropReason::WrongVersion => "wrong_version",
            DropReason::WrongCluster => "wrong_cluster",
            DropReason::UnknownSender => "unknown_sender",
            DropReason::BadMac => "bad_mac",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The stable 64-bit id of a cluster name (FNV-1a), carried in every
/// envelope so that two clusters sharing ports never mix.
pub fn cluster_id(name: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

/// A decoded envelope header; the payload is still bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub cluster: u64,
    pub sender: u16,
}

/// Encodes one envelope. Fails only if the payload cannot be encoded or the
/// result would exceed [`MAX_DATAGRAM`].
pub fn encode<T: Serialize>(
    kind: Kind,
    cluster: u64,
    sender: u16,
    payload: &T,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&cluster.to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    let out =
        postcard::to_extend(payload, out).map_err(|e| format!("cannot encode payload: {e}"))?;
    if out.len() > MAX_DATAGRAM {
        return Err(format!(
            "message of {} bytes exceeds the {MAX_DATAGRAM}-byte datagram limit",
            out.len()
        ));
    }
    Ok(out)
}

/// Checks a datagram's header: size, magic, version, cluster.
pub fn decode_header(datagram: &[u8], cluster: u64) -> Result<(Header, &[u8]), DropReason> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(DropReason::Oversized);
    }
    if datagram.len() < HEADER_LEN || datagram[0..4] != MAGIC {
        return Err(DropReason::Malformed);
    }
    if datagram[4] != VERSION {
        return Err(DropReason::WrongVersion);
    }
    let kind = match datagram[5] {
        0 => Kind::Protocol,
        1 => Kind::AdminRequest,
        2 => Kind::AdminResponse,
        _ => return Err(DropReason::Malformed),
    };
    let mut cluster_bytes = [0u8; 8];
    cluster_bytes.copy_from_slice(&datagram[6..14]);
    let sent_cluster = u64::from_be_bytes(cluster_bytes);
    if sent_cluster != cluster {
        return Err(DropReason::WrongCluster);
    }
    let sender = u16::from_be_bytes([datagram[14], datagram[15]]);
    Ok((
        Header {
            kind,
            cluster: sent_cluster,
            sender,
        },
        &datagram[HEADER_LEN..],
    ))
}

/// Decodes a payload; trailing bytes make it malformed.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DropReason> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((value, [])) => Ok(value),
        _ => Err(DropReason::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::raft::RaftMsg;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let msg = RaftMsg::Vote {
            term: 7,
            granted: true,
        };
        let bytes = encode(Kind::Protocol, 42, 3, &msg).expect("encode");
        let (header, payload) = decode_header(&bytes, 42).expect("header");
        assert_eq!(
            header,
            Header {
                kind: Kind::Protocol,
                cluster: 42,
                sender: 3
            }
        );
        assert_eq!(decode_payload::<RaftMsg>(payload), Ok(msg));
    }

    #[test]
    fn rejects_each_kind_of_bad_datagram() {
        let good =
            encode(Kind::Protocol, 42, 1, &RaftMsg::AppendEntries { term: 1 }).expect("encode");
        assert_eq!(
            decode_header(&good, 43).err(),
            Some(DropReason::WrongCluster)
        );
        let mut wrong_version = good.clone();
        wrong_version[4] = 9;
        assert_eq!(
            decode_header(&wrong_version, 42).err(),
            Some(DropReason::WrongVersion)
        );
        assert_eq!(
            decode_header(&good[..10], 42).err(),
            Some(DropReason::Malformed)
        );
        assert_eq!(
            decode_header(b"hello world, not elect", 42).err(),
            Some(DropReason::Malformed)
        );
        assert_eq!(
            decode_header(&vec![0u8; MAX_DATAGRAM + 1], 42).err(),
            Some(DropReason::Oversized)
        );
        let (_, payload) = decode_header(&good, 42).expect("header");
        assert_eq!(
            decode_payload::<RaftMsg>(&payload[..0]),
            Err(DropReason::Malformed)
        );
        let mut trailing = payload.to_vec();
        trailing.push(0);
        assert_eq!(
            decode_payload::<RaftMsg>(&trailing),
            Err(DropReason::Malformed)
        );
    }

    proptest! {
        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_bytes_are_rejected_or_decoded(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok((_, payload)) = decode_header(&bytes, 7) {
                let _ = decode_payload::<RaftMsg>(payload);
            }
        }
    }
}
