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

use super::auth::Key;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt;
use std::hash::Hasher;

/// The first four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"ELCT";
/// The format version this build speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
/// Largest datagram a node sends or accepts: an Ethernet MTU minus IP and
/// UDP headers, so nothing is ever fragmented.
pub const MAX_DATAGRAM: usize = 1472;
/// Sender id used by admin clients such as `elect status`.
pub const CLIENT_ID: u16 = u16::MAX;

/// What a datagram carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A message of the protocol.
    Protocol = 0,
    /// A request from an admin client (`elect status`, `elect fault`).
    AdminRequest = 1,
    /// A node's answer to one.
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
    /// Another format version.
    WrongVersion,
    /// Another cluster's datagram.
    WrongCluster,
    /// A sender id that is not a member, or a member id sent from an address
    /// that is not that member's.
    UnknownSender,
    /// The cluster has a key and the datagram's MAC is missing or wrong.
    BadMac,
}

impl DropReason {
    /// The counter key: `oversized`, `bad_mac`, …
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
    /// What the datagram carries.
    pub kind: Kind,
    /// The sender's cluster id.
    pub cluster: u64,
    /// The sender's node id ([`CLIENT_ID`] for admin clients).
    pub sender: u16,
}

/// Why a datagram could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The payload does not encode.
    #[error("cannot encode payload: {0}")]
    Payload(String),
    /// The datagram would not fit: every receiver would drop it as
    /// [`DropReason::Oversized`].
    #[error("a datagram of {bytes} bytes{} exceeds the {MAX_DATAGRAM}-byte limit", if *.sealed { " (MAC included)" } else { "" })]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// Whether that includes a MAC.
        sealed: bool,
    },
}

/// Makes the datagram that carries `payload`: the envelope, the MAC when
/// the cluster has a key, and the size check on the result — the one place
/// a node, an admin client and the fuzzer build what goes on the wire, so
/// that nothing is sent that its receiver would drop as oversized.
pub fn datagram<T: Serialize>(
    kind: Kind,
    cluster: u64,
    sender: u16,
    payload: &T,
    key: Option<&Key>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&cluster.to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    let mut out =
        postcard::to_extend(payload, out).map_err(|e| EncodeError::Payload(e.to_string()))?;
    if let Some(key) = key {
        key.seal(&mut out);
    }
    if out.len() > MAX_DATAGRAM {
        return Err(EncodeError::TooLarge {
            bytes: out.len(),
            sealed: key.is_some(),
        });
    }
    Ok(out)
}

/// [`datagram`] without a MAC.
pub fn encode<T: Serialize>(
    kind: Kind,
    cluster: u64,
    sender: u16,
    payload: &T,
) -> Result<Vec<u8>, EncodeError> {
    datagram(kind, cluster, sender, payload, None)
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
        let good = encode(
            Kind::Protocol,
            42,
            1,
            &RaftMsg::AppendEntries { term: 1, round: 0 },
        )
        .expect("encode");
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

    #[test]
    fn a_datagram_that_fits_only_without_its_mac_is_refused_when_sealed() {
        let key = Key::new(b"a-cluster-key-of-sufficient-length").expect("key");
        // An envelope of exactly the limit: the MAC would push it over.
        let payload = vec![7u8; MAX_DATAGRAM - HEADER_LEN - 2];
        let plain = datagram(Kind::Protocol, 1, 0, &payload, None).expect("fits");
        assert_eq!(plain.len(), MAX_DATAGRAM);
        assert_eq!(
            datagram(Kind::Protocol, 1, 0, &payload, Some(&key)),
            Err(EncodeError::TooLarge {
                bytes: MAX_DATAGRAM + super::super::auth::TAG_LEN,
                sealed: true
            })
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
