//! `elect`: leader election you can trust.
//!
//! The Bully (the seed's and Garcia-Molina's with its halt phase), Ring and
//! Raft election algorithms as [Stateright] actors ([`protocols`]),
//! model-checked under explicit fault models ([`model`], [`verification`])
//! and run unchanged over UDP ([`runtime`]).
//!
//! # How data flows
//!
//! ```text
//!                 protocols: Bully · Bully-halt · Ring · Raft
//!         (pure actors: own state + Cluster config + messages and timers in)
//!                                   │
//!            on_start / on_msg / on_timeout  ──►  Out commands
//!                   (send · save · arm timer · cancel timer)
//!                                   │
//!        ┌──────────────────────────┼───────────────────────────┐
//!        ▼                          ▼                           ▼
//!  model: the checker's       runtime: one node's         fuzzing: every
//!  interpreter. ModelNode     event loop over UDP (or     command checked
//!  runs each actor in an      the simulated network):     against what the
//!  ElectionModel with         save before send, timers    runtime can carry
//!  faults, timing, bounds     drawn from their ranges,    out
//!  and properties             wire, MAC, injected faults
//!        │                          │
//!        ▼                          ▼
//!  verification: check,       LeaderView ──► history checker, sim, chaos,
//!  verify, liveness,          cluster, status, and programs that embed a node
//!  reports and traces
//! ```
//!
//! Dependencies point one way: [`leadership`] ← [`protocols`] ←
//! [`model`], [`runtime`] ← [`verification`], [`sim`], [`history`] ←
//! [`cli`]. The protocols know nothing of the checker: what is claimed of
//! each one lives in [`model::claims`].
//!
//! # Check a protocol, then run the same type
//!
//! ```
//! use elect::leadership::Role;
//! use elect::model::ModelConfig;
//! use elect::protocols::{raft::Raft, Protocol};
//! use elect::runtime::{start, NodeConfig};
//! use elect::verification::run::{run_job, Job};
//! use elect::verification::verdict::CheckOptions;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Every interleaving of three Raft nodes on a reliable network, terms ≤ 1.
//! let raft = Raft::KIND;
//! let config = ModelConfig {
//!     lossy: false,
//!     crashes: 0,
//!     recover: false,
//!     max_term: 1,
//!     max_in_flight: 4,
//!     ..ModelConfig::default_for(raft)
//! };
//! let result = run_job(&Job::new(raft, config, CheckOptions::defaults_for(raft)), &mut |_| {})?;
//! assert!(result.all_met(), "every property as expected");
//!
//! // The same `Raft` type on a real UDP socket: a one-node cluster elects itself.
//! let port = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
//! let peers = vec![format!("127.0.0.1:{port}").parse()?];
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let node = start::<Raft>(NodeConfig::new(0, peers)).await?;
//!     let mut leadership = node.leadership();
//!     leadership.wait_for(|view| view.role == Role::Leader).await?;
//!     node.shutdown().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! [Stateright]: https://docs.rs/stateright

#![warn(missing_docs)]

pub mod cli;
pub mod fencing;
pub mod fleet;
pub mod fuzzing;
pub mod history;
pub mod leadership;
pub mod model;
pub mod nemesis;
pub mod protocols;
pub mod runtime;
pub mod sim;
pub mod topology;
pub mod verification;
