//! Verification: running the checker, judging what it established, and
//! reporting it with readable traces.

pub mod report;
pub mod run;
pub mod trace;
