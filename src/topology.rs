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

/// The most nodes a [`Links`] set can name (its links fit in 128 bits).
pub const LINKS_MAX_NODES: usize = 11;

/// A set of directed links between nodes `0..LINKS_MAX_NODES`: which node
/// can send to which. A topology of the model (`links = "0-1 1-2"` in a
/// scenario file) is the set of links that work; the links that failed in a
/// state are another set. Small and `Copy`, so that a model state carries
/// it for nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Links(u128);

/// Why a topology (`0-1 0-2 1>2`) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinksError {
    /// An entry is neither `A-B` nor `A>B`.
    Syntax(String),
    /// An entry names something that is not a node id below the limit.
    NotAnId(String),
    /// An entry links a node to itself.
    SelfLink(String),
}

impl fmt::Display for LinksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinksError::Syntax(entry) => write!(
                f,
                "link '{entry}' is neither A-B (both ways) nor A>B (from A to B only), e.g. \"0-1 1-2 2>0\""
            ),
            LinksError::NotAnId(entry) => write!(
                f,
                "link '{entry}': node ids are numbers from 0 to {}",
                LINKS_MAX_NODES - 1
            ),
            LinksError::SelfLink(entry) => {
                write!(f, "link '{entry}' joins a node to itself")
            }
        }
    }
}

impl std::error::Error for LinksError {}

impl Links {
    /// No link at all.
    pub const NONE: Links = Links(0);

    fn bit(from: usize, to: usize) -> u128 {
        debug_assert!(from < LINKS_MAX_NODES && to < LINKS_MAX_NODES);
        1u128 << (from * LINKS_MAX_NODES + to)
    }

    /// Every link between distinct nodes of `0..n`, both ways.
    pub fn complete(n: usize) -> Links {
        let mut links = Links::NONE;
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                links.insert(from, to);
            }
        }
        links
    }

    /// Parses links separated by spaces or commas: `A-B` is the link both
    /// ways, `A>B` the link from A to B only. Empty text is no link.
    pub fn parse(text: &str) -> Result<Links, LinksError> {
        let mut links = Links::NONE;
        for entry in text.split([' ', ',']).filter(|e| !e.is_empty()) {
            let (ends, both_ways) = match (entry.split_once('-'), entry.split_once('>')) {
                (Some(ends), None) => (ends, true),
                (None, Some(ends)) => (ends, false),
                _ => return Err(LinksError::Syntax(entry.to_string())),
            };
            let id = |s: &str| {
                s.parse::<usize>()
                    .ok()
                    .filter(|&id| id < LINKS_MAX_NODES)
                    .ok_or_else(|| LinksError::NotAnId(entry.to_string()))
            };
            let (a, b) = (id(ends.0)?, id(ends.1)?);
            if a == b {
                return Err(LinksError::SelfLink(entry.to_string()));
            }
            links.insert(a, b);
            if both_ways {
                links.insert(b, a);
            }
        }
        Ok(links)
    }

    /// Whether `from` can send to `to`.
    pub fn contains(self, from: usize, to: usize) -> bool {
        self.0 & Links::bit(from, to) != 0
    }

    /// Adds the link from `from` to `to`.
    pub fn insert(&mut self, from: usize, to: usize) {
        self.0 |= Links::bit(from, to);
    }

    /// Removes the link from `from` to `to`.
    pub fn remove(&mut self, from: usize, to: usize) {
        self.0 &= !Links::bit(from, to);
    }

    /// Whether there is no link.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The links in `self` but not in `other`.
    pub fn without(self, other: Links) -> Links {
        Links(self.0 & !other.0)
    }

    /// Every link, as (from, to), in order.
    pub fn iter(self) -> impl Iterator<Item = (usize, usize)> {
        (0..LINKS_MAX_NODES)
            .flat_map(|from| (0..LINKS_MAX_NODES).map(move |to| (from, to)))
            .filter(move |&(from, to)| self.contains(from, to))
    }

    /// The highest node id any link names, plus one (0 for no link).
    pub fn span(self) -> usize {
        self.iter().map(|(a, b)| a.max(b) + 1).max().unwrap_or(0)
    }

    /// The same links with node ids moved by `rename` (a permutation).
    pub fn renamed(self, rename: impl Fn(usize) -> usize) -> Links {
        let mut moved = Links::NONE;
        for (from, to) in self.iter() {
            moved.insert(rename(from), rename(to));
        }
        moved
    }

    /// The nodes of `0..n` that are *quorum-connected*: each has links both
    /// ways with enough nodes that, counting itself, they make a majority
    /// of `n` (Omni-Paxos's term). `up` says which nodes count (a crashed
    /// node connects no one).
    pub fn quorum_connected(self, n: usize, up: impl Fn(usize) -> bool) -> Vec<bool> {
        let majority = n / 2 + 1;
        (0..n)
            .map(|i| {
                up(i)
                    && 1 + (0..n)
                        .filter(|&j| j != i && up(j) && self.contains(i, j) && self.contains(j, i))
                        .count()
                        >= majority
            })
            .collect()
    }
}

/// `0-1 0-2 1>2`: a link both ways as `A-B`, a one-way link as `A>B`.
impl fmt::Display for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries = Vec::new();
        for (a, b) in self.iter() {
            if a < b && self.contains(b, a) {
                entries.push(format!("{a}-{b}"));
            } else if !self.contains(b, a) {
                entries.push(format!("{a}>{b}"));
            }
        }
        if entries.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&entries.join(" "))
        }
    }
}

impl Serialize for Links {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Links, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "none" {
            return Ok(Links::NONE);
        }
        Links::parse(&text).map_err(serde::de::Error::custom)
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
    #[test]
    fn parses_and_prints_topologies() {
        let links = Links::parse("0-1 0-2, 2>1").expect("parse");
        assert!(links.contains(0, 1) && links.contains(1, 0) && links.contains(2, 1));
        assert!(!links.contains(1, 2) && !links.contains(1, 1));
        assert_eq!(links.to_string(), "0-1 0-2 2>1");
        assert_eq!(Links::parse(&links.to_string()), Ok(links));
        assert_eq!(links.span(), 3);
        assert_eq!(Links::complete(3).to_string(), "0-1 0-2 1-2");
        assert_eq!(Links::NONE.to_string(), "none");
        for bad in ["0", "0-0", "0-a", "0-11", "0-1-2", "0>1-2"] {
            assert!(Links::parse(bad).is_err(), "{bad}");
        }
    }

    /// A node is quorum-connected when its links both ways, with itself,
    /// reach a majority: every node of a chain of three, the inner three of
    /// a chain of five, only the hub of a star of five.
    #[test]
    fn only_nodes_with_a_majority_both_ways_are_quorum_connected() {
        let chain = Links::parse("0-1 1-2").expect("parse");
        assert_eq!(chain.quorum_connected(3, |_| true), [true, true, true]);
        let one_way = Links::parse("0-1 1>2").expect("parse");
        assert_eq!(one_way.quorum_connected(3, |_| true), [true, true, false]);
        let five = Links::parse("0-1 1-2 2-3 3-4").expect("parse");
        assert_eq!(
            five.quorum_connected(5, |_| true),
            [false, true, true, true, false]
        );
        let star = Links::parse("0-1 0-2 0-3 0-4").expect("parse");
        assert_eq!(
            star.quorum_connected(5, |_| true),
            [true, false, false, false, false]
        );
        assert_eq!(
            star.quorum_connected(5, |i| i != 3),
            [true, false, false, false, false]
        );
    }
}
