//! The history checker: what a run of real (or simulated) nodes actually did.
//!
//! It reads the leadership events of every node — timestamp, node, role,
//! believed leader, term — plus the moments nodes went down, and reports:
//! for protocols whose views carry a term (Raft), every term with two
//! leaders (a safety violation); for every protocol, every interval during
//! which two or more live nodes acted as leader at once (split brain, which
//! the seed's Bully and Ring show under partitions and is reported, not
//! hidden), the time without any leader, elections and leadership changes.

use crate::leadership::{starts_election, LeaderView, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What happened to a node at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Occurrence {
    /// The node's view of leadership (it is up).
    View(LeaderView),
    /// The node stopped (crashed, was killed, or was frozen). A frozen
    /// node acts on no lease: when it resumes it reads its clock first.
    Down,
    /// The node holds a leader lease (newly, or renewed) with this fencing
    /// token, valid until `until_ms` unless renewed.
    LeaseHeld {
        /// The fencing token.
        token: u64,
        /// When the lease ends, on the history's clock.
        until_ms: u64,
    },
    /// The node's lease ended before its time (it stepped down).
    LeaseEnded,
    /// A write of the node's arrived at the fenced resource, with this
    /// token, and the resource accepted or refused it.
    Wrote {
        /// The token the write carried.
        token: u64,
        /// Whether the resource accepted it.
        accepted: bool,
    },
}

impl fmt::Display for Occurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Occurrence::View(v) => write!(f, "{v}"),
            Occurrence::Down => f.write_str("down"),
            Occurrence::LeaseHeld { token, until_ms } => {
                write!(f, "lease held, token {token}, until {until_ms} ms")
            }
            Occurrence::LeaseEnded => f.write_str("lease ended"),
            Occurrence::Wrote { token, accepted } => write!(
                f,
                "write with token {token} {}",
                if *accepted { "accepted" } else { "refused" }
            ),
        }
    }
}

impl Occurrence {
    /// What a node's event reports: its lease, when that is what changed,
    /// or else its view.
    pub fn of(view: LeaderView, lease: Option<crate::runtime::LeaseChange>) -> Occurrence {
        use crate::runtime::LeaseChange;
        match lease {
            None => Occurrence::View(view),
            Some(LeaseChange::Held { token, until_ms }) => {
                Occurrence::LeaseHeld { token, until_ms }
            }
            Some(LeaseChange::Ended) => Occurrence::LeaseEnded,
        }
    }
}

/// One entry of a history: what happened to which node, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Milliseconds on the run's clock (wall or virtual).
    pub at_ms: u64,
    /// The node it happened to.
    pub node: usize,
    /// What happened.
    #[serde(flatten)]
    pub what: Occurrence,
}

/// An interval during which several live nodes acted as leader, in
/// milliseconds since the first event of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitBrain {
    /// Start of the interval.
    pub from_ms: u64,
    /// End of the interval.
    pub to_ms: u64,
    /// The nodes that acted as leader throughout it.
    pub leaders: Vec<usize>,
}

/// What the history checker found in a history.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// Events in the history.
    pub events: usize,
    /// From the first event to the end of the run.
    pub duration_ms: u64,
    /// Times a node entered an election.
    pub elections: u64,
    /// Times the single acting leader changed.
    pub leadership_changes: u64,
    /// Whether any view carried a term. Only then can two leaders in one
    /// term be seen: the seed's Bully and Ring have no terms.
    pub has_terms: bool,
    /// The safety violations: one line per term in which two different
    /// nodes were leader (Raft's election safety). Must be empty. It stays
    /// empty for histories without terms (`has_terms` false), whose split
    /// brain is measured in `split_brain` instead.
    pub safety_violations: Vec<String>,
    /// Intervals with two or more live leaders at once.
    pub split_brain: Vec<SplitBrain>,
    /// Their total length.
    pub split_brain_ms: u64,
    /// Total time during which no live node acted as leader.
    pub no_leader_ms: u64,
    /// Whether any node reported a lease (Raft with its lease on). The
    /// lease figures below mean something only then.
    pub has_leases: bool,
    /// Leaderships under a lease: distinct (node, token) pairs.
    pub leases: u64,
    /// Intervals in which two or more nodes held a valid lease at once: up,
    /// holding it, before its end. Must be empty.
    pub lease_overlap: Vec<SplitBrain>,
    /// Their total length. Must be 0.
    pub lease_overlap_ms: u64,
    /// Leaderships under a lease that began with a fencing token not above
    /// that of every earlier one. Must be 0.
    pub stale_lease_tokens: u64,
    /// Times a leader that a majority of the nodes still named as their
    /// term's leader was deposed by a higher term: the disruption a node
    /// rejoining after a partition causes, which PreVote exists to prevent
    /// (message loss can cause it too). The majority is of the nodes the
    /// history has seen.
    pub deposed_while_followed: u64,
    /// Whether the history holds writes to a fenced resource.
    pub has_writes: bool,
    /// Writes that reached the resource.
    pub writes: u64,
    /// Of them, accepted.
    pub writes_accepted: u64,
    /// Of them, refused because a higher token had been written: fencing
    /// at work.
    pub writes_refused: u64,
    /// Writes the resource accepted while a newer leadership was acting:
    /// another node held a valid lease (runs with leases) or led (runs
    /// without) with a higher token — or, for protocols without tokens,
    /// led since later than the writer. Must be 0 with leases.
    pub stale_writes_accepted: u64,
}

impl Verdict {
    /// No two leaders in one term, and, with leases, no two valid leases at
    /// once, no lease with an out-of-order token and no write accepted from
    /// a deposed leader.
    pub fn is_safe(&self) -> bool {
        self.safety_violations.is_empty()
            && self.lease_overlap_ms == 0
            && self.stale_lease_tokens == 0
            && !(self.has_leases && self.stale_writes_accepted > 0)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "events                 {}", self.events)?;
        writeln!(
            f,
            "duration               {:.1} s",
            self.duration_ms as f64 / 1000.0
        )?;
        writeln!(f, "elections              {}", self.elections)?;
        writeln!(f, "leadership changes     {}", self.leadership_changes)?;
        if self.has_terms {
            writeln!(
                f,
                "two leaders in one term  {}",
                self.safety_violations.len()
            )?;
        } else {
            writeln!(f, "two leaders in one term  not applicable (no terms)")?;
        }
        for v in &self.safety_violations {
            writeln!(f, "  {v}")?;
        }
        writeln!(
            f,
            "split-brain intervals  {} ({:.3} s in all)",
            self.split_brain.len(),
            self.split_brain_ms as f64 / 1000.0
        )?;
        for s in self.split_brain.iter().take(10) {
            let leaders: Vec<String> = s.leaders.iter().map(|l| format!("n{l}")).collect();
            writeln!(
                f,
                "  {:.3}–{:.3} s: {} lead at once",
                s.from_ms as f64 / 1000.0,
                s.to_ms as f64 / 1000.0,
                leaders.join(", ")
            )?;
        }
        if self.split_brain.len() > 10 {
            writeln!(f, "  … {} more", self.split_brain.len() - 10)?;
        }
        writeln!(
            f,
            "time without a leader  {:.3} s",
            self.no_leader_ms as f64 / 1000.0
        )?;
        write!(
            f,
            "followed leaders deposed by a higher term {}",
            self.deposed_while_followed
        )?;
        if self.has_leases {
            writeln!(f)?;
            writeln!(f, "leaderships under lease {}", self.leases)?;
            writeln!(
                f,
                "lease overlap          {} intervals ({} ms in all)",
                self.lease_overlap.len(),
                self.lease_overlap_ms
            )?;
            for s in self.lease_overlap.iter().take(10) {
                let holders: Vec<String> = s.leaders.iter().map(|l| format!("n{l}")).collect();
                writeln!(
                    f,
                    "  {:.3}–{:.3} s: {} hold a lease at once",
                    s.from_ms as f64 / 1000.0,
                    s.to_ms as f64 / 1000.0,
                    holders.join(", ")
                )?;
            }
            write!(f, "lease tokens out of order {}", self.stale_lease_tokens)?;
        }
        if self.has_writes {
            writeln!(f)?;
            write!(
                f,
                "writes to the register {}: {} accepted, {} refused (fencing), {} accepted from a deposed leader",
                self.writes, self.writes_accepted, self.writes_refused, self.stale_writes_accepted
            )?;
        }
        Ok(())
    }
}

/// The leases of a history, as intervals in which each node held a valid
/// one: from the event that reported it until its end, its renewal's end,
/// the node's step-down or the node going down, whichever comes first.
#[derive(Default)]
struct Leases {
    /// Per node, the lease it holds now: token, since, until.
    open: BTreeMap<usize, (u64, u64, u64)>,
    /// Closed intervals: from, to, node.
    intervals: Vec<(u64, u64, usize)>,
    /// Every (node, token) that began a lease, in order.
    begun: Vec<(usize, u64)>,
}

impl Leases {
    fn held(&mut self, node: usize, token: u64, at: u64, until: u64) {
        match self.open.get_mut(&node) {
            Some((t, _, end)) if *t == token && at <= *end => *end = until,
            _ => {
                self.close(node, at);
                self.open.insert(node, (token, at, until));
                if !self.begun.contains(&(node, token)) {
                    self.begun.push((node, token));
                }
            }
        }
    }

    fn close(&mut self, node: usize, at: u64) {
        if let Some((_, from, until)) = self.open.remove(&node) {
            let to = at.min(until);
            if to > from {
                self.intervals.push((from, to, node));
            }
        }
    }

    /// The times two or more nodes held a lease at once, as `SplitBrain`
    /// intervals relative to `start_ms`, and their total length.
    fn overlaps(&self, start_ms: u64) -> (Vec<SplitBrain>, u64) {
        let mut points: Vec<u64> = self
            .intervals
            .iter()
            .flat_map(|&(a, b, _)| [a, b])
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut found: Vec<SplitBrain> = Vec::new();
        let mut total = 0;
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let mut holders: Vec<usize> = self
                .intervals
                .iter()
                .filter(|&&(from, to, _)| from <= a && b <= to)
                .map(|&(_, _, node)| node)
                .collect();
            holders.sort_unstable();
            holders.dedup();
            if holders.len() < 2 {
                continue;
            }
            total += b - a;
            match found.last_mut() {
                Some(last) if last.to_ms == a - start_ms && last.leaders == holders => {
                    last.to_ms = b - start_ms
                }
                _ => found.push(SplitBrain {
                    from_ms: a - start_ms,
                    to_ms: b - start_ms,
                    leaders: holders,
                }),
            }
        }
        (found, total)
    }

    /// Leaderships that began with a token not above every earlier one.
    fn stale_tokens(&self) -> u64 {
        let mut highest: Option<u64> = None;
        let mut stale = 0;
        for &(_, token) in &self.begun {
            match highest {
                Some(h) if token <= h => stale += 1,
                _ => highest = Some(token),
            }
        }
        stale
    }
}

/// Checks a history. `end_ms` closes the last interval (the end of the run).
///
/// Two leaders in one term are looked for in whatever views carry a term,
/// whichever protocol produced them.
pub fn check(events: &[HistoryEvent], end_ms: u64) -> Verdict {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.at_ms);
    let start_ms = sorted.first().map_or(end_ms, |e| e.at_ms);
    let mut verdict = Verdict {
        events: sorted.len(),
        duration_ms: end_ms.saturating_sub(start_ms),
        ..Verdict::default()
    };
    let mut views: BTreeMap<usize, LeaderView> = BTreeMap::new();
    let mut leader_of_term: BTreeMap<u64, usize> = BTreeMap::new();
    let mut acting: Option<usize> = None;
    let mut open_split: Option<SplitBrain> = None;
    let mut last_ms = start_ms;

    let close_interval = |views: &BTreeMap<usize, LeaderView>,
                          from: u64,
                          to: u64,
                          verdict: &mut Verdict,
                          open: &mut Option<SplitBrain>| {
        let leaders: Vec<usize> = views
            .iter()
            .filter(|(_, v)| v.role == Role::Leader)
            .map(|(n, _)| *n)
            .collect();
        let span = to.saturating_sub(from);
        if leaders.is_empty() {
            verdict.no_leader_ms += span;
        }
        if leaders.len() >= 2 {
            verdict.split_brain_ms += span;
            match open {
                Some(s) if s.leaders == leaders => s.to_ms = to - start_ms,
                _ => {
                    if let Some(done) = open.take() {
                        verdict.split_brain.push(done);
                    }
                    *open = Some(SplitBrain {
                        from_ms: from - start_ms,
                        to_ms: to - start_ms,
                        leaders,
                    });
                }
            }
        } else if let Some(done) = open.take() {
            verdict.split_brain.push(done);
        }
    };

    let mut leases = Leases::default();
    // When each node's current (or last) leadership began.
    let mut leading_since: BTreeMap<usize, u64> = BTreeMap::new();
    let mut seen: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    for event in &sorted {
        close_interval(&views, last_ms, event.at_ms, &mut verdict, &mut open_split);
        last_ms = event.at_ms;
        match event.what {
            Occurrence::Down => {
                views.remove(&event.node);
                leases.close(event.node, event.at_ms);
            }
            Occurrence::LeaseHeld { token, until_ms } => {
                verdict.has_leases = true;
                leases.held(event.node, token, event.at_ms, until_ms);
            }
            Occurrence::LeaseEnded => leases.close(event.node, event.at_ms),
            Occurrence::Wrote { token, accepted } => {
                verdict.has_writes = true;
                verdict.writes += 1;
                if accepted {
                    verdict.writes_accepted += 1;
                    let since = leading_since.get(&event.node).copied().unwrap_or(0);
                    let newer = if verdict.has_leases {
                        leases.open.iter().any(|(&n, &(t, _, until))| {
                            n != event.node && t > token && until > event.at_ms
                        })
                    } else {
                        views.iter().any(|(&n, v)| {
                            n != event.node
                                && v.role == Role::Leader
                                && match v.term {
                                    Some(term) => term > token,
                                    None => leading_since.get(&n).is_some_and(|&s| s > since),
                                }
                        })
                    };
                    if newer {
                        verdict.stale_writes_accepted += 1;
                    }
                } else {
                    verdict.writes_refused += 1;
                }
            }
            Occurrence::View(view) => {
                if let Some(was) = views.get(&event.node) {
                    let deposed = was.role == Role::Leader
                        && view.role != Role::Leader
                        && view.term > was.term;
                    let followers = views
                        .values()
                        .filter(|v| v.leader == Some(event.node) && v.term == was.term)
                        .count();
                    if deposed && 2 * followers > seen.len() {
                        verdict.deposed_while_followed += 1;
                    }
                }
                seen.insert(event.node);
                let before = views.insert(event.node, view);
                let leads_anew = view.role == Role::Leader
                    && before.is_none_or(|b| b.role != Role::Leader || b.term != view.term);
                if leads_anew {
                    leading_since.insert(event.node, event.at_ms);
                }
                if starts_election(before, view) {
                    verdict.elections += 1;
                }
                verdict.has_terms |= view.term.is_some();
                if view.role == Role::Leader {
                    if let Some(term) = view.term {
                        let first = *leader_of_term.entry(term).or_insert(event.node);
                        if first != event.node {
                            verdict.safety_violations.push(format!(
                                "term {term}: n{first} and n{} were both leader ({} ms in)",
                                event.node,
                                event.at_ms - start_ms
                            ));
                        }
                    }
                }
            }
        }
        let leaders: Vec<usize> = views
            .iter()
            .filter(|(_, v)| v.role == Role::Leader)
            .map(|(n, _)| *n)
            .collect();
        if let [only] = leaders[..] {
            if acting != Some(only) {
                verdict.leadership_changes += 1;
                acting = Some(only);
            }
        }
    }
    close_interval(
        &views,
        last_ms,
        end_ms.max(last_ms),
        &mut verdict,
        &mut open_split,
    );
    if let Some(done) = open_split.take() {
        verdict.split_brain.push(done);
    }
    let nodes: Vec<usize> = leases.open.keys().copied().collect();
    for node in nodes {
        leases.close(node, end_ms.max(last_ms));
    }
    (verdict.lease_overlap, verdict.lease_overlap_ms) = leases.overlaps(start_ms);
    verdict.leases = leases.begun.len() as u64;
    verdict.stale_lease_tokens = leases.stale_tokens();
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: Role, leader: Option<usize>, term: Option<u64>) -> Occurrence {
        Occurrence::View(LeaderView { role, leader, term })
    }

    fn at(at_ms: u64, node: usize, what: Occurrence) -> HistoryEvent {
        HistoryEvent { at_ms, node, what }
    }

    #[test]
    fn two_raft_leaders_in_one_term_are_a_violation() {
        let events = [
            at(0, 0, view(Role::Leader, Some(0), Some(1))),
            at(10, 1, view(Role::Leader, Some(1), Some(1))),
        ];
        let v = check(&events, 20);
        assert_eq!(v.safety_violations.len(), 1, "{v}");
        assert!(v.to_string().contains("two leaders in one term  1"), "{v}");
        assert_eq!(
            v.split_brain,
            vec![SplitBrain {
                from_ms: 10,
                to_ms: 20,
                leaders: vec![0, 1]
            }]
        );
    }

    #[test]
    fn leaders_of_different_terms_overlap_without_violation() {
        let events = [
            at(0, 0, view(Role::Leader, Some(0), Some(1))),
            at(100, 1, view(Role::Candidate, None, Some(2))),
            at(110, 1, view(Role::Leader, Some(1), Some(2))),
            at(150, 0, view(Role::Follower, Some(1), Some(2))),
        ];
        let v = check(&events, 200);
        assert!(v.is_safe());
        assert!(v.to_string().contains("two leaders in one term  0"), "{v}");
        assert_eq!(v.elections, 1);
        assert_eq!(v.leadership_changes, 2);
        assert_eq!(v.split_brain_ms, 40);
    }

    #[test]
    fn a_leader_a_majority_follows_deposed_by_a_higher_term_is_counted() {
        let follower = |term| view(Role::Follower, Some(0), Some(term));
        let events = [
            at(0, 0, view(Role::Leader, Some(0), Some(1))),
            at(0, 1, follower(1)),
            at(0, 2, follower(1)),
            // n2 rejoins with a higher term and deposes n0, whom n1 and n0
            // itself still follow.
            at(10, 2, view(Role::Candidate, None, Some(5))),
            at(20, 0, view(Role::Follower, None, Some(5))),
            // n1 leads term 6; n0 steps down at the same term: not counted.
            at(30, 1, view(Role::Leader, Some(1), Some(6))),
            at(40, 1, view(Role::Follower, None, Some(6))),
        ];
        let v = check(&events, 50);
        assert_eq!(v.deposed_while_followed, 1, "{v}");
    }

    #[test]
    fn a_dead_leader_does_not_lead_and_time_without_leader_is_measured() {
        let events = [
            at(0, 0, view(Role::Leader, Some(0), None)),
            at(0, 1, view(Role::Follower, Some(0), None)),
            at(100, 0, Occurrence::Down),
            at(400, 1, view(Role::Leader, Some(1), None)),
        ];
        let v = check(&events, 500);
        assert_eq!(v.no_leader_ms, 300);
        assert!(v.split_brain.is_empty());
        assert_eq!(v.leadership_changes, 2);
    }

    #[test]
    fn without_terms_the_term_check_says_it_does_not_apply() {
        // Two leaders at once, no terms: split brain, measured; no verdict
        // on terms, and the output says so rather than print a zero.
        let events = [
            at(0, 0, view(Role::Leader, Some(0), None)),
            at(10, 1, view(Role::Leader, Some(1), None)),
        ];
        let v = check(&events, 20);
        assert!(v.is_safe() && !v.has_terms);
        assert_eq!(v.split_brain.len(), 1);
        assert!(
            v.to_string()
                .contains("two leaders in one term  not applicable (no terms)"),
            "{v}"
        );
    }

    fn lease(token: u64, until_ms: u64) -> Occurrence {
        Occurrence::LeaseHeld { token, until_ms }
    }

    #[test]
    fn leases_overlap_only_while_both_are_valid() {
        let events = [
            at(0, 0, lease(1, 100)),
            at(90, 0, lease(1, 190)),
            // n1's lease begins before n0's renewed one ends: 30 ms at once.
            at(160, 1, lease(2, 260)),
            // n0 goes down at 170: its lease ends then, not at 190.
            at(170, 0, Occurrence::Down),
            at(200, 1, Occurrence::LeaseEnded),
        ];
        let v = check(&events, 300);
        assert!(v.has_leases);
        assert_eq!(v.leases, 2);
        assert_eq!(v.lease_overlap_ms, 10, "{v}");
        assert_eq!(
            v.lease_overlap,
            vec![SplitBrain {
                from_ms: 160,
                to_ms: 170,
                leaders: vec![0, 1]
            }]
        );
        assert_eq!(v.stale_lease_tokens, 0);
    }

    #[test]
    fn a_lapsed_lease_does_not_overlap_and_an_older_token_is_stale() {
        let events = [
            at(0, 0, lease(2, 100)),
            // n0 never says it stepped down (frozen, say): its lease still
            // ends at 100, before n1's begins.
            at(150, 1, lease(1, 250)),
        ];
        let v = check(&events, 300);
        assert_eq!(v.lease_overlap_ms, 0, "{v}");
        assert_eq!(v.stale_lease_tokens, 1, "token 1 after token 2");
        assert!(v.to_string().contains("lease tokens out of order 1"), "{v}");
    }

    #[test]
    fn any_protocol_whose_views_carry_terms_is_checked_for_two_leaders_in_one() {
        // An epoch-numbered Bully (a protocol this checker does not know by
        // name) is held to the same rule as Raft.
        let events = [
            at(0, 0, view(Role::Leader, Some(0), Some(3))),
            at(5, 0, Occurrence::Down),
            at(10, 1, view(Role::Leader, Some(1), Some(3))),
        ];
        let v = check(&events, 20);
        assert!(v.has_terms);
        assert_eq!(v.safety_violations.len(), 1, "{v}");
        assert!(v.split_brain.is_empty(), "{v}");
    }

    fn wrote(token: u64, accepted: bool) -> Occurrence {
        Occurrence::Wrote { token, accepted }
    }

    #[test]
    fn a_write_accepted_while_a_higher_term_leads_is_stale_and_a_refusal_is_fencing() {
        let events = [
            at(0, 0, view(Role::Leader, Some(0), Some(1))),
            at(10, 0, wrote(1, true)),
            // n0 is cut off and still believes it leads; n1 wins term 2.
            at(20, 1, view(Role::Leader, Some(1), Some(2))),
            at(25, 0, wrote(1, true)),
            at(30, 1, wrote(2, true)),
            at(35, 0, wrote(1, false)),
        ];
        let v = check(&events, 50);
        assert_eq!((v.events, v.duration_ms), (6, 50));
        assert!(v.has_writes);
        assert_eq!(
            (v.writes, v.writes_accepted, v.writes_refused),
            (4, 3, 1),
            "{v}"
        );
        assert_eq!(v.stale_writes_accepted, 1, "the write at 25 ms: {v}");
        assert!(
            v.is_safe(),
            "without leases a stale write is measured, not a violation"
        );
        assert!(
            v.to_string().contains("1 accepted from a deposed leader"),
            "{v}"
        );
    }

    #[test]
    fn with_leases_a_write_accepted_during_a_newer_lease_is_a_violation() {
        let events = [
            at(0, 0, lease(1, 100)),
            at(50, 0, wrote(1, true)),
            at(150, 1, lease(2, 300)),
            // A write of n0's, checked before 100 and delayed, arrives
            // before any of n1's.
            at(160, 0, wrote(1, true)),
        ];
        let v = check(&events, 300);
        assert_eq!(v.lease_overlap_ms, 0, "{v}");
        assert_eq!(v.stale_writes_accepted, 1, "{v}");
        assert!(!v.is_safe());
    }

    #[test]
    fn without_tokens_the_later_leader_is_the_newer_one() {
        let events = [
            at(0, 0, view(Role::Leader, Some(0), None)),
            at(10, 1, view(Role::Leader, Some(1), None)),
            at(20, 0, wrote(0, true)),
            at(20, 1, wrote(0, true)),
        ];
        let v = check(&events, 30);
        assert_eq!(v.stale_writes_accepted, 1, "n0's write only: {v}");
    }

    /// The edges of the stale-write rule: a newer leadership is another
    /// node's, with a higher token, still valid at the write; without
    /// tokens, one that began later — and a leadership begins when a node
    /// starts to lead, not when it repeats that it leads.
    #[test]
    fn a_write_is_stale_only_against_another_nodes_newer_valid_leadership() {
        let stale = |events: &[HistoryEvent]| check(events, 100).stale_writes_accepted;
        let leader = |term| view(Role::Leader, None, term);
        let follower = |term| view(Role::Follower, None, term);
        // Leases: its own newer lease, an equal token, a lease that ended
        // as the write arrived — none is newer.
        assert_eq!(
            stale(&[at(0, 0, lease(2, 90)), at(10, 0, wrote(1, true))]),
            0
        );
        assert_eq!(
            stale(&[at(0, 1, lease(1, 90)), at(10, 0, wrote(1, true))]),
            0
        );
        assert_eq!(
            stale(&[at(0, 1, lease(2, 10)), at(10, 0, wrote(1, true))]),
            0
        );
        // Terms: a leader of a lower or the same term is not newer.
        for term in [2, 3] {
            let events = [at(0, 1, leader(Some(term))), at(10, 0, wrote(3, true))];
            assert_eq!(stale(&events), 0, "term {term}");
        }
        // No tokens: an older or simultaneous leadership is not newer…
        for since in [0, 5] {
            let events = [
                at(since, 1, leader(None)),
                at(5, 0, leader(None)),
                at(10, 0, wrote(0, true)),
            ];
            assert_eq!(stale(&events), 0, "n1 leads since {since} ms");
        }
        // …a repeated view is no new leadership, nor is stepping down…
        let events = [
            at(0, 0, leader(None)),
            at(10, 1, leader(None)),
            at(15, 0, leader(None)),
            at(20, 0, wrote(0, true)),
            at(22, 0, follower(None)),
            at(24, 0, wrote(0, true)),
        ];
        assert_eq!(stale(&events), 2);
        // …but leading again is.
        let events = [
            at(0, 0, leader(None)),
            at(5, 0, follower(None)),
            at(10, 1, leader(None)),
            at(30, 0, leader(None)),
            at(40, 1, wrote(0, true)),
        ];
        assert_eq!(stale(&events), 1);
    }

    /// Deposed means leaving office for a higher term: stepping down in the
    /// same term (CheckQuorum), or leading on in a higher one, is not.
    #[test]
    fn only_leaving_office_for_a_higher_term_counts_as_deposed() {
        let followed = |then: Occurrence| {
            let events = [
                at(0, 0, view(Role::Leader, Some(0), Some(1))),
                at(1, 1, view(Role::Follower, Some(0), Some(1))),
                at(2, 2, view(Role::Follower, Some(0), Some(1))),
                at(5, 0, then),
            ];
            check(&events, 10).deposed_while_followed
        };
        assert_eq!(followed(view(Role::Follower, None, Some(2))), 1);
        assert_eq!(followed(view(Role::Follower, None, Some(1))), 0);
        assert_eq!(followed(view(Role::Leader, Some(0), Some(2))), 0);
    }
}
