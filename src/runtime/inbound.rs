//! What an arriving datagram is, or why it is dropped: size, MAC, envelope,
//! cluster, sender, payload — every check a node makes before the actor
//! sees a message. A pure function of the datagram and the node's
//! configuration, so the fuzzer drives exactly what the node runs.

use super::admin::AdminRequest;
use super::auth::Key;
use super::wire::{self, DropReason, Kind};
use serde::de::DeserializeOwned;
use stateright::actor::Id;
use std::net::SocketAddr;

/// A datagram that passed every check.
#[derive(Debug)]
pub enum Incoming<M> {
    /// A protocol message from a member.
    Message(Id, M),
    /// An admin request, and whether it carried a valid MAC.
    Admin(AdminRequest, bool),
}

/// The configuration a node checks datagrams against.
#[derive(Clone, Copy, Debug)]
pub struct Gate<'a> {
    /// The receiving node.
    pub me: Id,
    /// Its cluster's id ([`wire::cluster_id`]).
    pub cluster: u64,
    /// The cluster key, if it has one.
    pub key: Option<&'a Key>,
    /// The members' addresses, indexed by node id.
    pub peers: &'a [SocketAddr],
}

impl Gate<'_> {
    /// Decides what `datagram`, received from `from`, is.
    pub fn accept<M: DeserializeOwned>(
        &self,
        datagram: &[u8],
        from: SocketAddr,
    ) -> Result<Incoming<M>, DropReason> {
        if datagram.len() > wire::MAX_DATAGRAM {
            return Err(DropReason::Oversized);
        }
        let (body, authenticated) = match self.key.map(|key| key.open(datagram)) {
            None => (datagram, false),
            Some(Some(body)) => (body, true),
            // Without a valid MAC only a status request gets through.
            Some(None) => (datagram, false),
        };
        // With a key, whatever fails unauthenticated is counted as a bad MAC.
        let unauthenticated = self.key.is_some() && !authenticated;
        let blame = |reason| {
            if unauthenticated {
                DropReason::BadMac
            } else {
                reason
            }
        };
        let (header, payload) = wire::decode_header(body, self.cluster).map_err(blame)?;
        match header.kind {
            Kind::Protocol => {
                if unauthenticated {
                    return Err(DropReason::BadMac);
                }
                let sender = usize::from(header.sender);
                let member = sender < self.peers.len()
                    && Id::from(sender) != self.me
                    && self.peers[sender] == from;
                if !member {
                    return Err(DropReason::UnknownSender);
                }
                Ok(Incoming::Message(
                    Id::from(sender),
                    wire::decode_payload(payload)?,
                ))
            }
            Kind::AdminRequest => {
                let request: AdminRequest = wire::decode_payload(payload).map_err(blame)?;
                Ok(Incoming::Admin(request, authenticated))
            }
            Kind::AdminResponse => Err(DropReason::Malformed),
        }
    }
}
