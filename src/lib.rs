//! `elect`: leader election you can trust.
//!
//! The Bully, Ring and Raft election algorithms as [Stateright] actors
//! ([`protocols`]), model-checked under explicit fault models ([`model`],
//! [`verification`]) and run unchanged over UDP.
//!
//! [Stateright]: https://docs.rs/stateright

pub mod cli;
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
