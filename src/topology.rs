//! Who can reach whom: the one partition type of the runtime's fault
//! commands, `elect fault`, `elect chaos` and the simulation.
//!
//! A leaf module (std and serde only), so that every layer can use it
//! without depending on any other.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A split of the cluster: messages from `from` to `to` are lost, and, when
/// `both_ways`, messages from `to` to `from` too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// The nodes whose messages to `to` are lost.
    pub from: BTreeSet<usize>,
    /// The nodes that `from` cannot reach.
    pub to: BTreeSet<usize>,
    /// Whether `to` cannot reach `from` either.
    pub both_ways: bool,
}

/// Why a partition spec (`0,1/2,3` or `0>1,2`) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionError {
    /// Neither `A/B` nor `A>B`.
    Syntax(String),
    /// A side names something that is not a node id.
    NotAnId {
        /// The whole spec.
        text: String,
        /// The offending id.
        id: String,
    },
    /// A side is empty, or a node is on both sides.
    Sides(String),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Syntax(text) => write!(
                f,
                "partition '{text}' is not A/B or A>B with comma-separated node ids, e.g. 0,1/2,3,4"
            ),
            PartitionError::NotAnId { text, id } => {
                write!(f, "partition '{text}': '{id}' is not a node id")
            }
            PartitionError::Sides(text) => write!(
                f,
                "partition '{text}': the two sides must be non-empty and disjoint"
            ),
        }
    }
}

impl std::error::Error for PartitionError {}

impl Partition {
    /// Parses `0,1/2,3,4` (both ways) or `0,1>2,3,4` (only from 0,1 to
    /// 2,3,4).
    pub fn parse(text: &str) -> Result<Partition, PartitionError> {
        let (sides, both_ways) = match (text.split_once('/'), text.split_once('>')) {
            (Some(sides), None) => (sides, true),
            (None, Some(sides)) => (sides, false),
            _ => return Err(PartitionError::Syntax(text.to_string())),
        };
        let side = |s: &str| -> Result<BTreeSet<usize>, PartitionError> {
            s.split(',')
                .map(|id| {
                    id.trim()
                        .parse::<usize>()
                        .map_err(|_| PartitionError::NotAnId {
                            text: text.to_string(),
                            id: id.to_string(),
                        })
                })
                .collect()
        };
        let (from, to) = (side(sides.0)?, side(sides.1)?);
        if from.is_empty() || to.is_empty() || !from.is_disjoint(&to) {
            return Err(PartitionError::Sides(text.to_string()));
        }
        Ok(Partition {
            from,
            to,
            both_ways,
        })
    }

    /// A two-way split from a side per node: the nodes marked `false`
    /// against those marked `true` (the simulation draws one bit per node).
    pub fn from_sides(side: &[bool]) -> Partition {
        let on = |s: bool| (0..side.len()).filter(|&i| side[i] == s).collect();
        Partition {
            from: on(false),
            to: on(true),
            both_ways: true,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_side_assignment_cuts_exactly_the_pairs_on_different_sides() {
        let side = [false, true, true, false];
        let p = Partition::from_sides(&side);
        assert_eq!(p.to_string(), "0,3/1,2");
        for src in 0..side.len() {
            for dst in 0..side.len() {
                assert_eq!(p.cuts(src, dst), side[src] != side[dst], "{src}→{dst}");
            }
        }
    }
}
