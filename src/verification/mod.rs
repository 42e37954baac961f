//! Verification: running the checker and judging what it established.
//!
//! - [`verdict`]: the vocabulary — options, kinds of claim, expectations,
//!   outcomes, and when an outcome meets an expectation;
//! - [`run`]: one job, checked once ([`run::run_job`]);
//! - [`liveness`]: sound liveness (recoverability) over the complete graph;
//! - [`scenario`]: scenario files in `models/`;
//! - [`matrix`]: `elect verify` — every scenario, the seeded bugs, symmetry;
//! - [`topologies`]: every topology of a small cluster, for every protocol;
//! - [`report`], [`trace`]: results and counterexamples for people.
//!
//! Dependencies run one way: `verdict` ← `scenario`, `liveness`, `trace` ←
//! `run` ← `topologies` ← `matrix`, `report`.

pub mod liveness;
pub mod matrix;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topologies;
pub mod trace;
pub mod verdict;
