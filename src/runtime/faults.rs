//! Fault injection between the actor and the socket: message loss,
//! duplication, delay (which reorders) and partitions, all drawn from the
//! node's seeded random generator so that a run can be repeated.
//!
//! Set at start with `elect node --faults drop=0.2,dup=0.05,delay=0..30ms`,
//! and changed while running with `elect fault ADDR ...`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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

impl FaultSpec {
    pub fn is_none(&self) -> bool {
        self.drop == 0.0 && self.dup == 0.0 && self.delay.end.is_zero()
    }

    /// Parses `drop=0.2,dup=0.05,delay=0..30ms` (any subset, any order).
    pub fn parse(text: &str) -> Result<FaultSpec, String> {
        let mut spec = FaultSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("fault '{part}' is not KEY=VALUE (drop=0.2, dup=0.05, delay=0..30ms)")
            })?;
            match key.trim() {
                "drop" => spec.drop = probability(key, value)?,
                "dup" => spec.dup = probability(key, value)?,
                "delay" => spec.delay = delay(value)?,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (expected drop, dup or delay)"
                    ))
                }
            }
        }
        Ok(spec)
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

fn probability(key: &str, value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "fault {key}={value}: a probability between 0 and 1"
        )),
    }
}

fn delay(value: &str) -> Result<Range<Duration>, String> {
    let bad = || format!("fault delay={value}: LO..HIms, e.g. delay=0..30ms");
    let v = value.trim().strip_suffix("ms").ok_or_else(bad)?;
    let (lo, hi) = v.split_once("..").ok_or_else(bad)?;
    let lo: u64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u64 = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    Ok(Duration::from_millis(lo)..Duration::from_millis(hi))
}

/// A split of the cluster: messages from `from` to `to` are lost, and, when
/// `both_ways`, messages from `to` to `from` too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub from: BTreeSet<usize>,
    pub to: BTreeSet<usize>,
    pub both_ways: bool,
}

impl Partition {
    /// Parses `0,1/2,3,4` (both ways) or `0,1>2,3,4` (only from 0,1 to
    /// 2,3,4).
    pub fn parse(text: &str) -> Result<Partition, String> {
        let (sides, both_ways) = match (text.split_once('/'), text.split_once('>')) {
            (Some(sides), None) => (sides, true),
            (None, Some(sides)) => (sides, false),
            _ => return Err(format!("partition '{text}' is not A/B or A>B with comma-separated node ids, e.g. 0,1/2,3,4")),
        };
        let side = |s: &str| -> Result<BTreeSet<usize>, String> {
            s.split(',')
                .map(|id| {
                    id.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("partition '{text}': '{id}' is not a node id"))
                })
                .collect()
        };
        let (from, to) = (side(sides.0)?, side(sides.1)?);
        if from.is_empty() || to.is_empty() || !from.is_disjoint(&to) {
            return Err(format!(
                "partition '{text}': the two sides must be non-empty and disjoint"
            ));
        }
        Ok(Partition {
            from,
            to,
            both_ways,
        })
    }

    /// Whether a message from `src` to `dst` is cut.
    pub fn cuts(&self, src: usize, dst: usize) -> bool {
        (self.from.contains(&src) && self.to.contains(&dst))
            || (self.both_ways && self.to.contains(&src) && self.from.contains(&dst))
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |s: &BTreeSet<usize>| {
            s.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "{}{}{}",
            ids(&self.from),
            if self.both_ways { "/" } else { ">" },
            ids(&self.to)
        )
    }
}

/// A change of a running node's faults, sent with `elect fault`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FaultCommand {
    Set(FaultSpec),
    Partition(Partition),
    Heal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_specs() {
        let spec = FaultSpec::parse("drop=0.2,dup=0.05,delay=0..30ms").expect("parse");
        assert_eq!(spec.drop, 0.2);
        assert_eq!(spec.dup, 0.05);
        assert_eq!(spec.delay, Duration::ZERO..Duration::from_millis(30));
        assert!(FaultSpec::parse("").expect("empty").is_none());
        for bad in [
            "drop=2",
            "dup=x",
            "delay=30",
            "delay=9..3ms",
            "jitter=1",
            "drop",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_partitions() {
        let both = Partition::parse("0,1/2,3,4").expect("parse");
        assert!(both.cuts(0, 3) && both.cuts(3, 0) && !both.cuts(0, 1) && !both.cuts(2, 4));
        let one_way = Partition::parse("0>1").expect("parse");
        assert!(one_way.cuts(0, 1) && !one_way.cuts(1, 0));
        assert_eq!(both.to_string(), "0,1/2,3,4");
        for bad in ["0,1", "0/0", "/1", "a/b", "0/1>2"] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }
}
