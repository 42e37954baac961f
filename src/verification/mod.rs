//! Verification: running the checker, judging what it established, sound
//! liveness, scenario files, and reporting with readable traces.

pub mod liveness;
pub mod matrix;
pub mod report;
pub mod run;
pub mod scenario;
pub mod trace;
