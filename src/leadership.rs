//! A node's view of leadership, common to every protocol.
//!
//! Properties, the command line and the UDP runtime read leadership only
//! through [`Leadership`], so they work the same for Bully, Ring, Raft and
//! Paxos.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::fmt;

/// What a node is doing in the election, in protocol-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Follows a leader (or waits to learn of one) and takes no part in an election.
    Follower,
    /// Takes part in an election whose outcome it does not know yet.
    Candidate,
    /// Acts as the leader.
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

/// Implemented by every protocol's node state.
pub trait Leadership {
    /// The node's current role.
    fn role(&self) -> Role;
    /// The leader this node currently believes in (itself when it leads).
    fn leader(&self) -> Option<Id>;
    /// The term (Raft) or epoch the view belongs to; `None` for protocols
    /// without one (the seed's Bully and Ring).
    fn term(&self) -> Option<u64>;

    /// Whether the node leads under a lease a majority granted that has not
    /// expired (protocols with leases: Raft or Paxos with the lease on). A node
    /// that holds one may act as the only leader; with no lease, no node
    /// ever holds one.
    fn holds_lease(&self) -> bool {
        false
    }

    /// A serialisable snapshot of the three fields above.
    fn view(&self) -> LeaderView {
        LeaderView {
            role: self.role(),
            leader: self.leader().map(usize::from),
            term: self.term(),
        }
    }

    /// True when the node is not in an election and knows a leader.
    fn has_settled(&self) -> bool {
        self.role() != Role::Candidate && self.leader().is_some()
    }
}

/// A node's view of leadership as plain data: what the runtime publishes and
/// `elect status` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaderView {
    /// What the node is doing.
    pub role: Role,
    /// Index of the believed leader.
    pub leader: Option<usize>,
    /// The term the view belongs to, for protocols with terms.
    pub term: Option<u64>,
}

impl fmt::Display for LeaderView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<9}", self.role)?;
        match self.leader {
            Some(l) => write!(f, " leader n{l}")?,
            None => write!(f, " leader -")?,
        }
        if let Some(t) = self.term {
            write!(f, " term {t}")?;
        }
        Ok(())
    }
}

/// Short node name used in traces and tables: `n0`, `n1`, ...
pub fn node_name(id: Id) -> String {
    format!("n{}", usize::from(id))
}

/// The leader a group of live nodes agrees on, if there is one: every node's
/// view is known (`None` means it could not be read), every view names the
/// same leader, no node is a candidate, and that leader is one of the group
/// and reports itself as leader.
///
/// This is what "the cluster has a leader" means everywhere in `elect`: the
/// fleet of `elect cluster` and `elect chaos`, the failover benchmarks and the
/// tests of real processes all ask this one function.
pub fn agreed_leader(
    views: impl IntoIterator<Item = (usize, Option<LeaderView>)>,
) -> Option<usize> {
    let views: Vec<(usize, LeaderView)> = views
        .into_iter()
        .map(|(node, view)| view.map(|v| (node, v)))
        .collect::<Option<_>>()?;
    let leader = views.first()?.1.leader?;
    let all_follow = views
        .iter()
        .all(|(_, v)| v.leader == Some(leader) && v.role != Role::Candidate);
    let leader_leads = views
        .iter()
        .any(|(node, v)| *node == leader && v.role == Role::Leader);
    (all_follow && leader_leads).then_some(leader)
}

/// Whether a node whose view changed from `before` (`None`: it had none, it
/// has just started) to `after` has started an election: it became a
/// candidate, or, already a candidate, moved to a new term.
pub fn starts_election(before: Option<LeaderView>, after: LeaderView) -> bool {
    after.role == Role::Candidate
        && before.is_none_or(|b| b.role != Role::Candidate || b.term != after.term)
}
