//! The nemesis: one seeded source of faults for a whole cluster, driven by
//! `elect sim` (simulated nodes on virtual time) and `elect chaos` (real
//! `elect node` processes).
//!
//! The nemesis decides everything random about the faults — when the next
//! action comes, which fault, the victim, how long it stays down, when a
//! partition heals — from its own seeded generator. Its driver only carries
//! the decisions out ([`Action`]) and tells it who is up and who leads. So
//! the rules, above all the majority policy, are written once.
//!
//! **Majority policy.** At most ⌊(n−1)/2⌋ nodes are down at once — crashed,
//! killed or frozen, whether by the nemesis or on their own — so that a
//! majority always stays up and a majority-based protocol can make
//! progress. With 1 or 2 nodes that is none: the nemesis then only
//! partitions (and, with one node, does nothing).

use crate::topology::Partition;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;
use std::time::Duration;
use tokio::time::Instant;

/// A fault the nemesis can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Stop a node abruptly (the simulation stops its task, chaos SIGKILLs
    /// it); it is restarted later with its storage.
    Crash,
    /// Freeze a node (SIGSTOP) with its sockets open; it resumes later
    /// (SIGCONT) still believing what it believed.
    Freeze,
    /// Split the network in two; it heals later.
    Partition,
}

/// How the nemesis picks the node it takes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Victim {
    /// Any node that is up, uniformly.
    Uniform,
    /// The acting leader half the time (when one is up), otherwise any node
    /// that is up: leaders are where elections break.
    LeaderHalfTheTime,
}

/// What the nemesis does and how fast: one per driver, see
/// [`NemesisConfig::sim`] and [`NemesisConfig::chaos`].
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisConfig {
    /// The faults each action draws from, uniformly.
    pub menu: Vec<Fault>,
    /// Faults on the menu that are switched off. A drawn fault that is off,
    /// or that the majority policy forbids, becomes a partition if one may
    /// start, else nothing. Keeping it on the menu keeps the draws of a seed
    /// the same whatever is switched off.
    pub off: Vec<Fault>,
    /// Pause before the first action.
    pub first_pause: Range<Duration>,
    /// Pause between actions.
    pub pause: Range<Duration>,
    /// How long a crashed or frozen node stays down.
    pub downtime: Range<Duration>,
    /// How long a partition lasts.
    pub heal_after: Range<Duration>,
    /// How the victim of a crash or freeze is picked.
    pub victim: Victim,
    /// Probability that a partition is one way only (the first side cannot
    /// reach the second, the second still reaches the first).
    pub one_way: f64,
}

impl NemesisConfig {
    /// `elect sim`'s nemesis: crashes and two-way partitions, the first
    /// action after 0.5–2 s, then every 0.5–3 s; a crashed node stays down
    /// 0.2–3 s, a partition heals after 0.5–4 s; victims uniform among the
    /// nodes that are up.
    pub fn sim(crashes: bool, partitions: bool) -> NemesisConfig {
        let ms = |lo, hi| Duration::from_millis(lo)..Duration::from_millis(hi);
        NemesisConfig {
            menu: vec![Fault::Crash, Fault::Partition],
            off: [(!crashes, Fault::Crash), (!partitions, Fault::Partition)]
                .into_iter()
                .filter_map(|(off, f)| off.then_some(f))
                .collect(),
            first_pause: ms(500, 2000),
            pause: ms(500, 3000),
            downtime: ms(200, 3000),
            heal_after: ms(500, 4000),
            victim: Victim::Uniform,
            one_way: 0.0,
        }
    }

    /// `elect chaos`'s nemesis: SIGKILL, SIGSTOP and partitions (one way 20 %
    /// of the time), each action 0.5–1.5 × `every` after the last; a node
    /// stays down 0.3–3 s, a partition heals after 0.5–5 s; the victim is the
    /// acting leader half the time.
    pub fn chaos(every: Duration) -> NemesisConfig {
        let ms = |lo, hi| Duration::from_millis(lo)..Duration::from_millis(hi);
        let pause = every / 2..every.saturating_mul(3) / 2;
        NemesisConfig {
            menu: vec![Fault::Crash, Fault::Freeze, Fault::Partition],
            off: Vec::new(),
            first_pause: pause.clone(),
            pause,
            downtime: ms(300, 3000),
            heal_after: ms(500, 5000),
            victim: Victim::LeaderHalfTheTime,
            one_way: 0.2,
        }
    }

    fn enabled(&self, fault: Fault) -> bool {
        self.menu.contains(&fault) && !self.off.contains(&fault)
    }
}

/// What the driver is to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop this node abruptly.
    Crash(usize),
    /// Freeze this node.
    Freeze(usize),
    /// Start this crashed node again, on its storage.
    Restart(usize),
    /// Resume this frozen node.
    Thaw(usize),
    /// Cut the network so.
    Partition(Partition),
    /// Remove the partition.
    Heal,
}

/// The most nodes that may be down at once in a cluster of `nodes`:
/// ⌊(n−1)/2⌋, so that a majority stays up.
pub fn max_down(nodes: usize) -> usize {
    nodes.saturating_sub(1) / 2
}

/// The seeded nemesis of one run.
pub struct Nemesis {
    config: NemesisConfig,
    rng: StdRng,
    nodes: usize,
    next_action: Instant,
    /// For each node the nemesis took down: when it comes back, and from
    /// what (a crash or a freeze).
    back_at: Vec<Option<(Instant, Fault)>>,
    heal_at: Option<Instant>,
    actions: u64,
}

impl Nemesis {
    /// A nemesis for `nodes` nodes whose run starts at `start`.
    pub fn new(config: NemesisConfig, nodes: usize, seed: u64, start: Instant) -> Nemesis {
        let mut rng = StdRng::seed_from_u64(seed);
        let next_action = after(start, draw(&mut rng, &config.first_pause));
        Nemesis {
            config,
            rng,
            nodes,
            next_action,
            back_at: vec![None; nodes],
            heal_at: None,
            actions: 0,
        }
    }

    /// When the nemesis next has something to do.
    pub fn wake(&self) -> Instant {
        self.back_at
            .iter()
            .flatten()
            .map(|(at, _)| *at)
            .chain(self.heal_at)
            .fold(self.next_action, Instant::min)
    }

    /// Actions taken so far (including those that found nothing to do).
    pub fn actions(&self) -> u64 {
        self.actions
    }

    /// The recoveries due at `now`: nodes back up (in id order), then the
    /// end of the partition.
    pub fn recoveries(&mut self, now: Instant) -> Vec<Action> {
        let mut due = Vec::new();
        for (node, back) in self.back_at.iter_mut().enumerate() {
            if let Some((at, fault)) = *back {
                if at <= now {
                    *back = None;
                    due.push(match fault {
                        Fault::Freeze => Action::Thaw(node),
                        _ => Action::Restart(node),
                    });
                }
            }
        }
        if self.heal_at.is_some_and(|t| t <= now) {
            self.heal_at = None;
            due.push(Action::Heal);
        }
        due
    }

    /// The next fault, if an action is due at `now`. `up[i]` says whether
    /// node i is up (running and not frozen) and `leader` is the acting
    /// leader, if any.
    pub fn fault(&mut self, now: Instant, up: &[bool], leader: Option<usize>) -> Option<Action> {
        if now < self.next_action {
            return None;
        }
        self.next_action = after(now, draw(&mut self.rng, &self.config.pause));
        self.actions += 1;
        // i32, as the draws of every seed so far were made.
        let drawn = self.rng.random_range(0..self.config.menu.len() as i32);
        let fault = self.config.menu.get(drawn as usize).copied()?;
        let down = up.iter().filter(|u| !**u).count();
        if fault != Fault::Partition && self.config.enabled(fault) && down < max_down(self.nodes) {
            let victim = self.victim(up, leader)?;
            let downtime = draw(&mut self.rng, &self.config.downtime);
            self.back_at[victim] = Some((after(now, downtime), fault));
            return Some(match fault {
                Fault::Freeze => Action::Freeze(victim),
                _ => Action::Crash(victim),
            });
        }
        if self.config.enabled(Fault::Partition) && self.heal_at.is_none() && self.nodes > 1 {
            let mut side: Vec<bool> = (0..self.nodes).map(|_| self.rng.random_bool(0.5)).collect();
            if side.iter().all(|&s| s) || side.iter().all(|&s| !s) {
                let flip = self.rng.random_range(0..self.nodes);
                side[flip] = !side[flip];
            }
            let mut partition = Partition::from_sides(&side);
            if self.config.one_way > 0.0 && self.rng.random_bool(self.config.one_way) {
                partition.both_ways = false;
            }
            self.heal_at = Some(after(now, draw(&mut self.rng, &self.config.heal_after)));
            return Some(Action::Partition(partition));
        }
        None
    }

    fn victim(&mut self, up: &[bool], leader: Option<usize>) -> Option<usize> {
        if self.config.victim == Victim::LeaderHalfTheTime && self.rng.random_bool(0.5) {
            if let Some(l) = leader.filter(|&l| up.get(l) == Some(&true)) {
                return Some(l);
            }
        }
        let live: Vec<usize> = (0..self.nodes)
            .filter(|&i| up.get(i) == Some(&true))
            .collect();
        if live.is_empty() {
            return None;
        }
        Some(live[self.rng.random_range(0..live.len())])
    }
}

/// `d` after `now`; a pause too long for the clock means never.
fn after(now: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    now.checked_add(d)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// A duration drawn uniformly in whole milliseconds (the start of an empty
/// range).
fn draw(rng: &mut StdRng, range: &Range<Duration>) -> Duration {
    let (lo, hi) = (range.start.as_millis(), range.end.as_millis());
    if lo >= hi {
        return range.start;
    }
    let (lo, hi) = (
        u64::try_from(lo).unwrap_or(u64::MAX),
        u64::try_from(hi).unwrap_or(u64::MAX),
    );
    Duration::from_millis(rng.random_range(lo..hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_stays_up() {
        assert_eq!(
            (1..=7).map(max_down).collect::<Vec<_>>(),
            vec![0, 0, 1, 1, 2, 2, 3]
        );
    }

    /// Drives a nemesis over `secs` of (unreal) time, carrying out its
    /// actions on a table of who is up, and checks the policy at each step.
    fn drive(config: NemesisConfig, nodes: usize, seed: u64, secs: u64) -> Vec<Action> {
        let start = Instant::now();
        let mut nemesis = Nemesis::new(config, nodes, seed, start);
        let mut up = vec![true; nodes];
        let mut log = Vec::new();
        let mut now = start;
        while now < start + Duration::from_secs(secs) {
            now = nemesis.wake();
            let mut due = nemesis.recoveries(now);
            due.extend(nemesis.fault(now, &up, Some(nodes - 1)));
            for action in due {
                match &action {
                    Action::Crash(i) | Action::Freeze(i) => {
                        assert!(up[*i], "{action:?} of a node already down");
                        up[*i] = false;
                    }
                    Action::Restart(i) | Action::Thaw(i) => up[*i] = true,
                    Action::Partition(p) => {
                        assert!(!p.from.is_empty() && !p.to.is_empty(), "{p}");
                        assert_eq!(p.from.len() + p.to.len(), nodes, "{p}");
                    }
                    Action::Heal => {}
                }
                assert!(up.iter().filter(|u| !**u).count() <= max_down(nodes));
                log.push(action);
            }
        }
        log
    }

    #[test]
    fn the_nemesis_keeps_a_majority_up_and_replays_its_seed() {
        for nodes in 1..=6 {
            let sim = drive(NemesisConfig::sim(true, true), nodes, 7, 600);
            let crashes = sim.iter().filter(|a| matches!(a, Action::Crash(_))).count();
            assert_eq!(crashes > 0, max_down(nodes) > 0, "{nodes} nodes");
            let partitions = sim
                .iter()
                .filter(|a| matches!(a, Action::Partition(_)))
                .count();
            assert_eq!(partitions > 0, nodes > 1, "{nodes} nodes");
            assert_eq!(sim, drive(NemesisConfig::sim(true, true), nodes, 7, 600));
        }
        let chaos = drive(NemesisConfig::chaos(Duration::from_secs(2)), 5, 3, 600);
        for fault in ["Crash", "Freeze", "Thaw", "Restart", "Heal"] {
            assert!(
                chaos.iter().any(|a| format!("{a:?}").starts_with(fault)),
                "{fault}"
            );
        }
        assert!(chaos
            .iter()
            .any(|a| matches!(a, Action::Partition(p) if !p.both_ways)));
    }

    #[test]
    fn switched_off_faults_are_not_injected() {
        let no_crashes = drive(NemesisConfig::sim(false, true), 5, 1, 300);
        assert!(no_crashes
            .iter()
            .all(|a| matches!(a, Action::Partition(_) | Action::Heal)));
        let no_partitions = drive(NemesisConfig::sim(true, false), 5, 1, 300);
        assert!(no_partitions
            .iter()
            .all(|a| matches!(a, Action::Crash(_) | Action::Restart(_))));
        assert!(!no_partitions.is_empty());
    }
}
