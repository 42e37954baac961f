//! Time made explicit: the clock of the timed model ([`Timing::Timed`]).
//!
//! Real time advances in ticks, each an explicit step of the trace ("1 tick
//! passes"). Between two ticks any number of deliveries, timer firings and
//! faults happen, in any order, all at the same instant. Two obligations
//! hold time back:
//! - every message is delivered, or lost, at most Δ ticks after it was sent
//!   (a message to a node that is down when its deadline comes is lost, as a
//!   datagram to a dead process is);
//! - every armed timer fires inside its window: a timer of local duration
//!   `lo..hi` armed at tick t fires at a tick in
//!   [t + ⌊lo / (1 + ε)⌋, t + ⌈hi / (1 − ε)⌉], where ε bounds how far a
//!   node's clock rate strays from real time. Arming a timer that is already
//!   armed restarts it, as the runtime does.
//!
//! Each timer's window is chosen on its own, which is more freedom than one
//! drifting clock per node gives (two timers of one node may disagree about
//! the rate): that can only add executions, never remove one.
//!
//! **Why integer ticks lose no execution.** Every constraint is a closed
//! interval with integer ends (windows are rounded outwards to make them
//! so). For such constraints, any execution over real time can be shifted
//! to one in which every event happens at an integer tick and events keep
//! their order — the digitisation argument of Henzinger, Manna and Pnueli
//! ("What good are digital clocks?", ICALP 1992): round each event's time
//! down when its fractional part is at most some fixed θ, up otherwise; a
//! closed constraint between two events still holds after rounding. The
//! properties checked read only the order of states, so they hold over real
//! time exactly when they hold over integer ticks.
//!
//! **Pauses.** A node may be paused (a process stopped by SIGSTOP, a VM
//! descheduled, a long garbage collection): it takes no step, and time does
//! not wait for it — its timers pass their deadlines and messages to it
//! wait past theirs. A timer whose latest end passed while its node was
//! paused is *overdue*: the node's own clock, read now, says it has
//! expired. When the node resumes, every overdue timer fires and every
//! message waiting for it is delivered or lost before time passes again,
//! as a resumed process handles what piled up. What the node does in the
//! instant before is what the pause tests: a leader that acts on its lease
//! must read its clock, not its state.
//!
//! **Why the state space stays finite.** The clock stores no absolute time:
//! every deadline is kept as ticks from now, and a tick counts them all
//! down. A window's earliest end stops at 0 (the timer may fire), its latest
//! end never passes 0 at a live node (time waits for the timer), so every
//! value is bounded by the longest window or Δ.
//!
//! [`Timing::Timed`]: super::Timing::Timed

use serde::Serialize;
use stateright::actor::{Id, Network};
use stateright::{Rewrite, RewritePlan};
use std::collections::BTreeMap;
use std::hash::Hash;

/// When an armed timer may fire: ticks from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Window {
    /// It may fire once this is 0.
    pub earliest: u32,
    /// It must fire before this many ticks pass.
    pub latest: u32,
    /// Its latest end has passed while its node was paused: the node's own
    /// clock says it has expired.
    pub overdue: bool,
}

impl Window {
    /// A window `earliest..=latest` ticks from now.
    pub fn new(earliest: u32, latest: u32) -> Window {
        Window {
            earliest,
            latest,
            overdue: false,
        }
    }
}

/// The deadlines of the timed model: every armed timer's window and every
/// message's time left in flight, relative to now.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Clock<M, T> {
    /// Per node, its armed timers (sorted), each with its window.
    timers: Vec<Vec<(T, Window)>>,
    /// Every message in flight, one entry per copy, with the ticks left
    /// before it must have been delivered; sorted, so that equal systems
    /// have equal clocks.
    messages: Vec<(Id, Id, M, u32)>,
    /// Per node that has not started yet (staggered starts): the ticks left
    /// before it must.
    unstarted: Vec<Option<u32>>,
    /// Per node, whether it is paused.
    paused: Vec<bool>,
}

impl<M: Ord + Clone, T: Ord + Clone> Clock<M, T> {
    /// A clock for `nodes` nodes with nothing armed and nothing in flight.
    pub fn new(nodes: usize) -> Self {
        Clock {
            timers: vec![Vec::new(); nodes],
            messages: Vec::new(),
            unstarted: vec![None; nodes],
            paused: vec![false; nodes],
        }
    }

    /// The window of `timer` at `node`, if it is armed.
    pub fn window(&self, node: usize, timer: &T) -> Option<Window> {
        let timers = self.timers.get(node)?;
        let i = timers.binary_search_by(|(t, _)| t.cmp(timer)).ok()?;
        Some(timers[i].1)
    }

    /// Arms (or re-arms, restarting it) `timer` at `node`.
    pub fn arm(&mut self, node: usize, timer: T, window: Window) {
        let Some(timers) = self.timers.get_mut(node) else {
            return;
        };
        match timers.binary_search_by(|(t, _)| t.cmp(&timer)) {
            Ok(i) => timers[i].1 = window,
            Err(i) => timers.insert(i, (timer, window)),
        }
    }

    /// Keeps at `node` exactly the timers in `armed`: drops the others, and
    /// arms those it does not know yet with `fresh` (a node that has just
    /// started or recovered armed them now).
    pub fn keep_timers<'a>(
        &mut self,
        node: usize,
        armed: impl Iterator<Item = &'a T>,
        fresh: impl Fn(&T) -> Window,
    ) where
        T: 'a,
    {
        let Some(timers) = self.timers.get_mut(node) else {
            return;
        };
        let mut kept: Vec<(T, Window)> = armed
            .map(|t| {
                let window = timers
                    .binary_search_by(|(u, _)| u.cmp(t))
                    .map(|i| timers[i].1)
                    .unwrap_or_else(|_| fresh(t));
                (t.clone(), window)
            })
            .collect();
        kept.sort();
        *timers = kept;
    }

    /// Brings the messages' deadlines in line with what is in flight: a copy
    /// that left the network (delivered, lost, cut off) takes the earliest
    /// deadline of its kind with it, and a new copy has `delta` ticks.
    ///
    /// Removing the *earliest* copy is no loss of generality: the copies
    /// carry the same message, and the one left behind, with the later
    /// deadline, allows everything the other would.
    pub fn keep_messages<'a>(
        &mut self,
        in_flight: impl Iterator<Item = (Id, Id, &'a M)>,
        delta: u32,
    ) where
        M: 'a,
    {
        let mut counts: BTreeMap<(Id, Id, &M), usize> = BTreeMap::new();
        for (src, dst, msg) in in_flight {
            *counts.entry((src, dst, msg)).or_default() += 1;
        }
        let mut old: BTreeMap<(Id, Id, &M), Vec<u32>> = BTreeMap::new();
        for (src, dst, msg, left) in &self.messages {
            old.entry((*src, *dst, msg)).or_default().push(*left);
        }
        let mut messages = Vec::with_capacity(self.messages.len() + 2);
        for ((src, dst, msg), count) in counts {
            let mut lefts = old.remove(&(src, dst, msg)).unwrap_or_default();
            lefts.sort_unstable();
            let surplus = lefts.len().saturating_sub(count);
            let mut kept: Vec<u32> = lefts.split_off(surplus);
            kept.resize(count, delta);
            kept.sort_unstable();
            messages.extend(kept.into_iter().map(|left| (src, dst, msg.clone(), left)));
        }
        self.messages = messages;
    }

    /// Relabels every message in flight as `relabel` does the network's
    /// (term normalisation, Raft's rounds), keeping each copy's deadline.
    pub fn relabel_messages(&mut self, relabel: impl Fn(&M) -> M) {
        for (_, _, msg, _) in &mut self.messages {
            *msg = relabel(msg);
        }
        self.messages.sort();
    }

    /// Holds `node` back from starting: it must start within `ticks`.
    pub fn delay_start(&mut self, node: usize, ticks: u32) {
        if let Some(slot) = self.unstarted.get_mut(node) {
            *slot = Some(ticks);
        }
    }

    /// Whether `node` has yet to start.
    pub fn unstarted(&self, node: usize) -> bool {
        self.unstarted.get(node).is_some_and(Option::is_some)
    }

    /// `node` has started.
    pub fn started(&mut self, node: usize) {
        if let Some(slot) = self.unstarted.get_mut(node) {
            *slot = None;
        }
    }

    /// Pauses `node`, or resumes it.
    pub fn set_paused(&mut self, node: usize, paused: bool) {
        if let Some(slot) = self.paused.get_mut(node) {
            *slot = paused;
        }
    }

    /// Whether `node` is paused.
    pub fn paused(&self, node: usize) -> bool {
        self.paused.get(node).copied().unwrap_or(false)
    }

    /// Whether any node is paused.
    pub fn any_paused(&self) -> bool {
        self.paused.contains(&true)
    }

    /// Whether `timer` at `node` has expired on the node's own clock: it is
    /// overdue, or no longer armed.
    pub fn expired(&self, node: usize, timer: &T) -> bool {
        self.window(node, timer).is_none_or(|w| w.overdue)
    }

    /// Whether `timer` at `node` may fire now (a timer the clock does not
    /// know may: it cannot hold anything back).
    pub fn may_fire(&self, node: usize, timer: &T) -> bool {
        self.window(node, timer).is_none_or(|w| w.earliest == 0)
    }

    /// Whether time may pass: no timer at a live node that is not paused
    /// must fire now, and no message to one must be delivered now.
    pub fn may_tick(&self, live: impl Fn(Id) -> bool) -> bool {
        let running = |id: Id| live(id) && !self.paused(usize::from(id));
        let timers_wait =
            self.timers.iter().enumerate().any(|(i, timers)| {
                running(Id::from(i)) && timers.iter().any(|(_, w)| w.latest == 0)
            });
        let messages_wait = self
            .messages
            .iter()
            .any(|(_, dst, _, left)| *left == 0 && running(*dst));
        let start_waits = self.unstarted.contains(&Some(0));
        !timers_wait && !messages_wait && !start_waits
    }

    /// One tick passes. Returns the messages whose deadline has passed (their
    /// recipients are down): they are lost, and must leave the network too.
    /// A paused node's timers and messages wait past their deadlines.
    pub fn tick(&mut self) -> Vec<(Id, Id, M)> {
        for timers in &mut self.timers {
            for (_, w) in timers.iter_mut() {
                w.overdue |= w.latest == 0;
                w.earliest = w.earliest.saturating_sub(1);
                w.latest = w.latest.saturating_sub(1);
            }
        }
        for left in self.unstarted.iter_mut().flatten() {
            *left = left.saturating_sub(1);
        }
        let mut lost = Vec::new();
        let paused = &self.paused;
        self.messages.retain_mut(|(src, dst, msg, left)| {
            if *left == 0 && paused.get(usize::from(*dst)).copied().unwrap_or(false) {
                true
            } else if *left == 0 {
                lost.push((*src, *dst, msg.clone()));
                false
            } else {
                *left -= 1;
                true
            }
        });
        lost
    }

    /// Each armed timer with its window, per node.
    pub fn timers(&self, node: usize) -> &[(T, Window)] {
        self.timers.get(node).map_or(&[], Vec::as_slice)
    }

    /// The ticks left for each message in flight.
    pub fn messages(&self) -> impl Iterator<Item = (Id, Id, &M, u32)> {
        self.messages
            .iter()
            .map(|(src, dst, msg, left)| (*src, *dst, msg, *left))
    }
}

impl<M: Ord + Clone + Rewrite<Id>, T: Ord + Clone> Rewrite<Id> for Clock<M, T> {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        let mut messages: Vec<(Id, Id, M, u32)> = self
            .messages
            .iter()
            .map(|(src, dst, msg, left)| {
                (
                    plan.rewrite(src),
                    plan.rewrite(dst),
                    msg.rewrite(plan),
                    *left,
                )
            })
            .collect();
        messages.sort();
        Clock {
            timers: super::system::reindex(&self.timers, plan, Vec::new()),
            messages,
            unstarted: super::system::reindex(&self.unstarted, plan, None),
            paused: super::system::reindex(&self.paused, plan, false),
        }
    }
}

/// Takes one copy of `msg` from `src` to `dst` out of the network.
pub fn remove_one<M: Eq + Hash + Clone>(network: &mut Network<M>, src: Id, dst: Id, msg: &M) {
    match network {
        Network::UnorderedNonDuplicating(multiset) => {
            let envelope = stateright::actor::Envelope {
                src,
                dst,
                msg: msg.clone(),
            };
            if let Some(count) = multiset.get_mut(&envelope) {
                *count -= 1;
                if *count == 0 {
                    multiset.remove(&envelope);
                }
            }
        }
        Network::Ordered(channels) => {
            if let Some(queue) = channels.get_mut(&(src, dst)) {
                if let Some(i) = queue.iter().position(|m| m == msg) {
                    queue.remove(i);
                }
                if queue.is_empty() {
                    channels.remove(&(src, dst));
                }
            }
        }
        // The timed model refuses a duplicating network (see
        // `ConfigError::TimedOnDuplicatingNetwork`).
        Network::UnorderedDuplicating(..) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(earliest: u32, latest: u32) -> Window {
        Window::new(earliest, latest)
    }

    #[test]
    fn a_timer_may_fire_inside_its_window_and_holds_time_at_its_end() {
        let mut clock: Clock<u8, &str> = Clock::new(1);
        clock.arm(0, "t", w(1, 2));
        let live = |_| true;
        assert!(!clock.may_fire(0, &"t"), "too early");
        assert!(clock.may_tick(live));
        clock.tick();
        assert!(clock.may_fire(0, &"t"));
        assert!(clock.may_tick(live));
        clock.tick();
        assert_eq!(clock.window(0, &"t"), Some(w(0, 0)));
        assert!(!clock.may_tick(live), "time waits for the timer");
        assert!(clock.may_tick(|_| false), "not for a node that is down");
    }

    #[test]
    fn time_does_not_wait_for_a_paused_node_whose_timers_then_are_overdue() {
        let (a, b) = (Id::from(0), Id::from(1));
        let mut clock: Clock<u8, &str> = Clock::new(2);
        clock.arm(1, "t", w(0, 0));
        clock.keep_messages([(a, b, &7)].into_iter(), 0);
        assert!(!clock.may_tick(|_| true));
        clock.set_paused(1, true);
        assert!(clock.may_tick(|_| true), "time passes a paused node by");
        assert!(!clock.expired(1, &"t"), "at its deadline, not past it");
        assert_eq!(clock.tick(), vec![], "the message waits for it");
        assert!(clock.expired(1, &"t"), "its clock says the timer expired");
        assert_eq!(clock.messages().count(), 1);
        clock.set_paused(1, false);
        assert!(!clock.may_tick(|_| true), "what piled up goes first");
    }

    #[test]
    fn a_node_held_back_must_start_before_its_time_is_up() {
        let mut clock: Clock<u8, &str> = Clock::new(2);
        clock.delay_start(1, 1);
        assert!(clock.unstarted(1) && !clock.unstarted(0));
        assert!(clock.may_tick(|_| true));
        clock.tick();
        assert!(!clock.may_tick(|_| true), "time waits for the start");
        clock.started(1);
        assert!(clock.may_tick(|_| true));
    }

    #[test]
    fn re_arming_restarts_a_timer() {
        let mut clock: Clock<u8, &str> = Clock::new(1);
        clock.arm(0, "t", w(2, 3));
        clock.tick();
        clock.tick();
        clock.arm(0, "t", w(2, 3));
        assert_eq!(clock.window(0, &"t"), Some(w(2, 3)));
    }

    #[test]
    fn keeping_timers_drops_cancelled_ones_and_arms_new_ones_fresh() {
        let mut clock: Clock<u8, &str> = Clock::new(1);
        clock.arm(0, "a", w(0, 1));
        clock.arm(0, "b", w(0, 1));
        clock.keep_timers(0, ["b", "c"].iter(), |_| w(5, 6));
        assert_eq!(clock.timers(0), &[("b", w(0, 1)), ("c", w(5, 6))]);
    }

    #[test]
    fn a_message_leaving_the_network_takes_the_earliest_deadline_with_it() {
        let (a, b) = (Id::from(0), Id::from(1));
        let mut clock: Clock<u8, &str> = Clock::new(2);
        clock.keep_messages([(a, b, &7)].into_iter(), 2);
        clock.tick();
        clock.keep_messages([(a, b, &7), (a, b, &7)].into_iter(), 2);
        let lefts = |c: &Clock<u8, &str>| c.messages().map(|m| m.3).collect::<Vec<_>>();
        assert_eq!(lefts(&clock), vec![1, 2]);
        clock.keep_messages([(a, b, &7)].into_iter(), 2);
        assert_eq!(lefts(&clock), vec![2]);
    }

    #[test]
    fn relabelling_messages_keeps_each_copys_deadline() {
        let (a, b) = (Id::from(0), Id::from(1));
        let mut clock: Clock<u8, &str> = Clock::new(2);
        clock.keep_messages([(a, b, &7)].into_iter(), 2);
        clock.tick();
        clock.keep_messages([(a, b, &7), (a, b, &3)].into_iter(), 2);
        clock.relabel_messages(|m| m + 10);
        let all: Vec<_> = clock.messages().map(|(_, _, m, left)| (*m, left)).collect();
        assert_eq!(all, vec![(13, 2), (17, 1)], "sorted, deadlines kept");
    }

    #[test]
    fn any_paused_tells_whether_some_node_is_paused() {
        let mut clock: Clock<u8, &str> = Clock::new(2);
        assert!(!clock.any_paused());
        clock.set_paused(1, true);
        assert!(clock.any_paused() && clock.paused(1) && !clock.paused(0));
        clock.set_paused(1, false);
        assert!(!clock.any_paused());
    }

    fn envelope(src: usize, dst: usize, msg: u8) -> stateright::actor::Envelope<u8> {
        stateright::actor::Envelope {
            src: Id::from(src),
            dst: Id::from(dst),
            msg,
        }
    }

    #[test]
    fn removing_one_copy_takes_exactly_one_from_its_channel() {
        let (a, b) = (Id::from(0), Id::from(1));
        let copies = [envelope(0, 1, 7), envelope(0, 1, 7), envelope(1, 0, 7)];
        let mut unordered = Network::new_unordered_nonduplicating(copies);
        remove_one(&mut unordered, a, b, &7);
        assert_eq!(unordered.len(), 2, "one of the two copies from a to b");
        remove_one(&mut unordered, a, b, &7);
        remove_one(&mut unordered, a, b, &7);
        let left: Vec<_> = unordered
            .iter_deliverable()
            .map(|e| (e.src, e.dst))
            .collect();
        assert_eq!(left, vec![(b, a)], "the other channel untouched");

        let queued = [envelope(0, 1, 1), envelope(0, 1, 2), envelope(0, 1, 1)];
        let mut ordered = Network::new_ordered(queued);
        remove_one(&mut ordered, a, b, &1);
        let next: Vec<u8> = ordered.iter_deliverable().map(|e| *e.msg).collect();
        assert_eq!((next, ordered.len()), (vec![2], 2), "the first copy went");
        remove_one(&mut ordered, a, b, &2);
        remove_one(&mut ordered, a, b, &1);
        assert_eq!(ordered.len(), 0);
        assert_eq!(ordered, Network::new_ordered([]), "empty channels go");
    }

    #[test]
    fn a_message_at_its_deadline_holds_time_unless_its_recipient_is_down() {
        let (a, b) = (Id::from(0), Id::from(1));
        let mut clock: Clock<u8, &str> = Clock::new(2);
        clock.keep_messages([(a, b, &7)].into_iter(), 0);
        assert!(!clock.may_tick(|_| true));
        assert!(clock.may_tick(|id| id != b));
        assert_eq!(clock.tick(), vec![(a, b, 7)], "lost at its deadline");
        assert_eq!(clock.messages().count(), 0);
    }
}
