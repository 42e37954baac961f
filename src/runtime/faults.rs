//! Fault injection between the actor and the socket: message loss,
//! duplication, delay (which reorders) and partitions, all drawn from the
//! node's seeded random generator so that a run can be repeated.
//!
//! Set at start with `elect node --faults drop=0.2,dup=0.05,delay=0..30ms`,
//! and changed while running with `elect fault ADDR ...`. The simulated
//! network of `elect sim` decides the fate of each datagram with the same
//! [`FaultSpec::plan`].

use super::millis::{self, MillisError};
use crate::topology::Partition;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::time::Duration;

/// Probabilistic faults applied to every message a node sends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Probability that a message is dropped.
    pub drop: f64,
    /// Probability that a message is sent twice.
    pub dup: f64,
    /// Each message is held back for a random time in this range (which
    /// reorders messages); empty for none.
    pub delay: Range<Duration>,
}

/// Why a fault spec was refused; each message names the part at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    /// A part without `=`.
    #[error("fault '{0}' is not KEY=VALUE (drop=0.2, dup=0.05, delay=0..30ms)")]
    NotKeyValue(String),
    /// A key other than drop, dup and delay.
    #[error("unknown fault '{0}' (expected drop, dup or delay)")]
    UnknownKey(String),
    /// `drop` or `dup` is not a probability.
    #[error("fault {key}={value}: a probability between 0 and 1")]
    Probability {
        /// `drop` or `dup`, as written.
        key: String,
        /// The value as written.
        value: String,
    },
    /// `delay` is not a millisecond range.
    #[error("fault delay={value}: LO..HIms, e.g. delay=0..30ms")]
    Delay {
        /// The value as written.
        value: String,
        /// What the range grammar refused.
        #[source]
        source: MillisError,
    },
}

/// What the send-side fault stage decided for one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It crosses the partition: lost.
    Cut,
    /// Lost to the injected loss.
    Dropped,
    /// Sent: one delay per copy, two copies when duplicated.
    Sent(Vec<Duration>),
}

impl FaultSpec {
    /// Parses `drop=0.2,dup=0.05,delay=0..30ms` (any subset, any order).
    pub fn parse(text: &str) -> Result<FaultSpec, FaultSpecError> {
        let mut spec = FaultSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| FaultSpecError::NotKeyValue(part.to_string()))?;
            match key.trim() {
                "drop" => spec.drop = probability(key, value)?,
                "dup" => spec.dup = probability(key, value)?,
                // Delays may be zero: no delay at all.
                "delay" => {
                    spec.delay =
                        millis::parse_range(value, 0).map_err(|source| FaultSpecError::Delay {
                            value: value.to_string(),
                            source,
                        })?
                }
                other => return Err(FaultSpecError::UnknownKey(other.to_string())),
            }
        }
        Ok(spec)
    }

    /// The fate of one datagram from a node to another, `cut` when a
    /// partition lies between them.
    ///
    /// The one send-side fault stage, shared by the node (`Node::send`) and
    /// the simulated network. Draws, in this order and only when they can
    /// change the outcome: the loss (if `drop > 0`, and even for a cut
    /// datagram, so that a seeded run draws the same numbers whatever the
    /// partition), the duplicate (if `dup > 0`), then one delay per copy (if
    /// the range is not a single value).
    pub fn plan<R: Rng + ?Sized>(&self, cut: bool, rng: &mut R) -> Fate {
        let lost = self.drop > 0.0 && rng.random_bool(self.drop);
        if cut {
            return Fate::Cut;
        }
        if lost {
            return Fate::Dropped;
        }
        let copies = if self.dup > 0.0 && rng.random_bool(self.dup) {
            2
        } else {
            1
        };
        let delays = (0..copies)
            .map(|_| {
                if self.delay.start >= self.delay.end {
                    self.delay.start
                } else {
                    rng.random_range(self.delay.clone())
                }
            })
            .collect();
        Fate::Sent(delays)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drop={},dup={},delay={}..{}ms",
            self.drop,
            self.dup,
            self.delay.start.as_millis(),
            self.delay.end.as_millis()
        )
    }
}

fn probability(key: &str, value: &str) -> Result<f64, FaultSpecError> {
    match value.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(FaultSpecError::Probability {
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

/// A change of a running node's faults, sent with `elect fault`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FaultCommand {
    /// Replace the probabilistic faults.
    Set(FaultSpec),
    /// Cut the network as the partition says (replacing any earlier cut).
    Partition(Partition),
    /// Remove the partition.
    Heal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn parses_fault_specs() {
        let spec = FaultSpec::parse("drop=0.2,dup=0.05,delay=0..30ms").expect("parse");
        assert_eq!(spec.drop, 0.2);
        assert_eq!(spec.dup, 0.05);
        assert_eq!(spec.delay, Duration::ZERO..Duration::from_millis(30));
        assert_eq!(FaultSpec::parse(""), Ok(FaultSpec::default()));
        // One grammar for every millisecond range: a fixed delay is fine.
        let fixed = FaultSpec::parse("delay=30").expect("a fixed delay");
        assert_eq!(
            fixed.delay,
            Duration::from_millis(30)..Duration::from_millis(30)
        );
        for bad in [
            "drop=2",
            "dup=x",
            "delay=3..x",
            "delay=9..3ms",
            "jitter=1",
            "drop",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            FaultSpec::parse("delay=9..3ms")
                .map_err(|e| e.to_string())
                .expect_err("reversed"),
            "fault delay=9..3ms: LO..HIms, e.g. delay=0..30ms"
        );
    }

    /// A generator that counts how often it is asked for randomness.
    struct Counting(StdRng, u64);

    impl RngCore for Counting {
        fn next_u32(&mut self) -> u32 {
            self.1 += 1;
            self.0.next_u32()
        }
        fn next_u64(&mut self) -> u64 {
            self.1 += 1;
            self.0.next_u64()
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            self.1 += 1;
            self.0.fill_bytes(dst)
        }
    }

    fn draws(spec: &FaultSpec, cut: bool) -> (Fate, u64) {
        let mut rng = Counting(StdRng::seed_from_u64(1), 0);
        let fate = spec.plan(cut, &mut rng);
        (fate, rng.1)
    }

    #[test]
    fn the_fault_stage_draws_only_what_can_change_the_outcome() {
        let none = FaultSpec::default();
        assert_eq!(draws(&none, false), (Fate::Sent(vec![Duration::ZERO]), 0));
        assert_eq!(draws(&none, true), (Fate::Cut, 0));
        // The loss is drawn even for a cut datagram; the cut wins.
        let lossy = FaultSpec {
            drop: 0.5,
            ..FaultSpec::default()
        };
        assert_eq!(draws(&lossy, true), (Fate::Cut, 1));
        let lost = FaultSpec {
            drop: 1.0,
            ..FaultSpec::default()
        };
        assert_eq!(draws(&lost, false).0, Fate::Dropped);
        // A fixed delay is not drawn: one draw, for the duplicate.
        let five = Duration::from_millis(5);
        let twice = FaultSpec {
            dup: 0.5,
            delay: five..five,
            ..FaultSpec::default()
        };
        let (fate, n) = draws(&twice, false);
        assert_eq!(n, 1);
        let Fate::Sent(delays) = fate else {
            panic!("{fate:?}")
        };
        assert!(delays.iter().all(|d| *d == five));
        // A delay range is drawn once per copy (a certain duplicate is not
        // drawn at all).
        let jitter = FaultSpec {
            dup: 1.0,
            delay: Duration::ZERO..Duration::from_millis(30),
            ..FaultSpec::default()
        };
        let (fate, n) = draws(&jitter, false);
        let Fate::Sent(delays) = fate else {
            panic!("{fate:?}")
        };
        assert_eq!(delays.len(), 2);
        assert!(delays.iter().all(|d| *d < Duration::from_millis(30)));
        assert!(n >= 2, "{n} draws");
    }
}
