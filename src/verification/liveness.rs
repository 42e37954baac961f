//! Sound liveness over the complete reachable graph.
//!
//! Stateright's `eventually` inspects acyclic paths only, and in these
//! models almost every path is a cycle, so it proves nothing. This module
//! explores the reachable graph itself — one fingerprint and the edges per
//! state, each state kept only while it waits in the frontier — and then
//! decides two kinds of claim on the finished graph ([`Kind`]):
//!
//! - **Recoverability** (`AG EF goal`): from every reachable state some path
//!   reaches a goal state. A state from which no goal *and* no state cut off
//!   by a bound is reachable is a definite violation; one that could reach a
//!   goal only beyond a bound is "not decided". It says nothing about what
//!   the system actually does: a livelock that could always be escaped
//!   passes it.
//! - **Stabilisation after GST** (`AF AG goal` on the states after GST):
//!   every path that starts after GST reaches a goal state and stays in goal
//!   states. It fails, with a trace, on a state after GST with no successor
//!   and no goal (deadlock), on a cycle of states after GST none of which is
//!   a goal (livelock: the trace is a lasso, a path into the cycle and the
//!   cycle). A path may leave the goal finitely often — a message sent
//!   before GST may still start an election after a leader is known to
//!   all — so long as it cannot do so for ever (that would be a cycle
//!   through a non-goal state). When it holds, the most non-goal states
//!   any path after GST passes through is reported: the model stabilises
//!   within that many steps.
//!   The timing rules that apply after GST (`Timing::Timely` with fairness)
//!   are the only fairness assumed.
//!
//! With symmetry reduction the graph has one state per symmetry class; a
//! cycle in it is a behaviour that returns to the same state up to a
//! renaming of the nodes, which repeats for ever.

use super::trace::Trace;
use super::verdict::{Kind, Outcome, Phase, Progress, Steps};
use crate::model::{action_kind, Bound, ElectionModel, Liveness, LivenessClaim, Modelled, System};
use serde::Serialize;
use stateright::{Expectation, Model, Representative};
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// What one liveness claim turned out to be.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimResult {
    /// The claim's name.
    pub name: String,
    /// Recoverability or stabilisation.
    pub kind: Kind,
    /// The verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// States that violate it (recoverability: from which no goal can ever
    /// be reached).
    pub violating_states: usize,
    /// States for which only a bound kept it from being decided.
    pub undecided_states: usize,
    /// Stabilisation: the most steps after GST before a goal is reached,
    /// when it holds.
    pub steps_to_goal: Option<usize>,
    /// The counterexample: a path to the violating state, or a lasso.
    pub trace: Option<Trace>,
}

/// What the liveness check established, and what it cost.
#[derive(Clone, Debug, Serialize)]
pub struct LivenessResult {
    /// Each claim's verdict.
    pub claims: Vec<ClaimResult>,
    /// States in the explored graph (after symmetry reduction, if used).
    pub states: usize,
    /// Transitions in it.
    pub edges: usize,
    /// Whether symmetry reduction was applied.
    pub symmetry_used: bool,
    /// Whether a bound cut off some successor.
    pub bound_hit: bool,
    /// Whether the graph was cut at `max_states` (nothing is then decided).
    pub truncated: bool,
    /// Wall-clock time.
    pub seconds: f64,
    /// Coverage, as TLC prints it: how many transitions of the graph each
    /// kind of step made (`deliver Vote`, `lose Vote`, `fire Election`,
    /// `crash`, `tick`…), so that a reader sees what the bounds let the
    /// checker explore — a kind missing here never happened.
    pub coverage: BTreeMap<String, u64>,
}

/// The explored graph: per state its fingerprint, how it was first reached,
/// whether it is after GST, whether a bound cut off a successor, and its
/// goal bits (one per claim); the edges, with the index of the action that
/// makes each.
struct Graph {
    fingerprint: Vec<u64>,
    parent: Vec<u32>,
    after_gst: Vec<bool>,
    cut: Vec<bool>,
    /// States beyond each bound (leaves of the graph).
    cut_by: BTreeMap<Bound, usize>,
    goals: Vec<Vec<bool>>,
    edges: Vec<(u32, u32)>,
    /// After GST, the action each edge takes (a fingerprint), for fairness;
    /// 0 before GST.
    edge_action: Vec<u64>,
    /// After GST, the actions enabled in each state (fingerprints):
    /// `enabled[enabled_from[s]..enabled_from[s + 1]]`.
    enabled_from: Vec<u32>,
    enabled: Vec<u64>,
    /// Per property of the model: the first state that violates it (safety)
    /// or is an example of it (sanity).
    found: Vec<Option<u32>>,
    /// Each state's distance from an initial state.
    depth: Vec<u32>,
    /// How many initial states there are.
    initial: usize,
    /// The greatest depth.
    max_depth: usize,
}

/// Compressed adjacency: for each state, its neighbours, and for each
/// edge a label (the action's fingerprint, or 0).
struct Adjacency {
    start: Vec<u32>,
    to: Vec<u32>,
    label: Vec<u64>,
}

impl Adjacency {
    fn new(n: usize, edges: impl Iterator<Item = (u32, u32)> + Clone) -> Self {
        Self::labelled(n, edges.map(|(a, b)| (a, b, 0)))
    }

    fn labelled(n: usize, edges: impl Iterator<Item = (u32, u32, u64)> + Clone) -> Self {
        let mut start = vec![0u32; n + 1];
        for (from, _, _) in edges.clone() {
            start[from as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut to = vec![0u32; start[n] as usize];
        let mut label = vec![0u64; start[n] as usize];
        for (from, t, l) in edges {
            let at = fill[from as usize] as usize;
            to[at] = t;
            label[at] = l;
            fill[from as usize] += 1;
        }
        Adjacency { start, to, label }
    }

    fn of(&self, s: usize) -> &[u32] {
        &self.to[self.start[s] as usize..self.start[s + 1] as usize]
    }

    fn labels_of(&self, s: usize) -> &[u64] {
        &self.label[self.start[s] as usize..self.start[s + 1] as usize]
    }
}

fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// How [`check`] explores: symmetry, limits, which safety properties end
/// the search at their first counterexample.
pub struct Search {
    /// One state per symmetry class (only for a protocol whose nodes are
    /// interchangeable).
    pub symmetry: bool,
    /// Most states the graph may hold.
    pub max_states: usize,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// The safety properties whose first counterexample ends the search
    /// (an unexpected one is final, as in TLC).
    pub stop_on: Vec<&'static str>,
}

/// What one breadth-first exploration of the complete graph found: for every
/// property of the model ([`Model::properties`]) the first state (in
/// breadth-first order, so by a shortest path) that violates it or, for a
/// sanity property, is an example of it; and the liveness verdicts.
pub struct Explored<P: Modelled> {
    /// Per property of the model, in order: a shortest path to its first
    /// counterexample or example, if any.
    pub found: Vec<Option<Steps<P>>>,
    /// Why the exploration stopped before the graph was complete, if it did.
    pub stopped: Option<String>,
    /// States generated (every edge and initial state).
    pub states: usize,
    /// The longest shortest path.
    pub max_depth: usize,
    /// The liveness verdicts and the graph's statistics.
    pub liveness: LivenessResult,
}

/// Explores the complete graph of `model` breadth-first — every state within
/// the bounds, and each state just beyond one as a leaf — evaluating every
/// property of the model on every state, then decides its liveness claims
/// ([`Modelled::liveness_claims`]) on the graph. `progress` hears every two
/// seconds.
pub fn check<P: Modelled>(
    model: &ElectionModel<P>,
    search: &Search,
    progress: &mut dyn FnMut(Progress),
) -> Explored<P> {
    let started = Instant::now();
    let symmetry = search.symmetry && model.symmetric();
    let claims = model.liveness_claims();
    let limits = Limits {
        max_states: search.max_states,
        deadline: search.timeout.map(|t| started + t),
        stop_on: search.stop_on.clone(),
    };
    let (graph, stopped, coverage) = explore(model, &claims, symmetry, &limits, started, progress);
    let n = graph.fingerprint.len();
    let forward = Adjacency::labelled(
        n,
        graph
            .edges
            .iter()
            .zip(&graph.edge_action)
            .map(|(&(a, b), &l)| (a, b, l)),
    );
    let reverse = Adjacency::new(n, graph.edges.iter().map(|&(a, b)| (b, a)));
    let bound_hit = graph.cut.iter().any(|&c| c);
    let results = claims
        .iter()
        .enumerate()
        .map(|(i, claim)| {
            let goal = &graph.goals[i];
            let mut result = match claim.kind {
                Liveness::Stabilisation => stabilisation(
                    &graph,
                    &forward,
                    goal,
                    bound_hit,
                    model.config.stabilize_within,
                    !symmetry,
                ),
                Liveness::Recoverability => recoverability(&graph, &reverse, goal, bound_hit),
            };
            if let Some(reason) = &stopped {
                result.outcome = Outcome::NotDecided {
                    reason: reason.clone(),
                };
                result.path = None;
            }
            ClaimResult {
                name: claim.name.to_string(),
                kind: Kind::from(claim.kind),
                outcome: result.outcome,
                violating_states: result.violating,
                undecided_states: result.undecided,
                steps_to_goal: result.steps,
                trace: result
                    .path
                    .map(|path| Trace::from_steps(replay(model, &graph, &path, symmetry))),
            }
        })
        .collect();
    let found = graph
        .found
        .iter()
        .map(|f| f.map(|s| replay(model, &graph, &tree_path(&graph, s as usize), symmetry)))
        .collect();
    Explored {
        found,
        stopped: stopped.clone(),
        states: graph.edges.len() + graph.initial,
        max_depth: graph.max_depth,
        liveness: LivenessResult {
            claims: results,
            states: n,
            edges: graph.edges.len(),
            symmetry_used: symmetry,
            bound_hit,
            truncated: stopped.is_some(),
            seconds: started.elapsed().as_secs_f64(),
            coverage: coverage.into_iter().collect(),
        },
    }
}

/// When to stop building the graph.
struct Limits {
    max_states: usize,
    deadline: Option<Instant>,
    stop_on: Vec<&'static str>,
}

/// Breadth-first exploration of everything reachable, each state beyond a
/// bound a leaf, with every property evaluated on every state.
fn explore<P: Modelled>(
    model: &ElectionModel<P>,
    claims: &[LivenessClaim<P>],
    symmetry: bool,
    limits: &Limits,
    started: Instant,
    progress: &mut dyn FnMut(Progress),
) -> (Graph, Option<String>, HashMap<String, u64>) {
    let canonical = |s: &System<P>| {
        if symmetry {
            fingerprint(&s.representative())
        } else {
            fingerprint(s)
        }
    };
    let properties = model.properties();
    let stop_on: Vec<bool> = properties
        .iter()
        .map(|p| limits.stop_on.contains(&p.name))
        .collect();
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut graph = Graph {
        fingerprint: Vec::new(),
        parent: Vec::new(),
        after_gst: Vec::new(),
        cut: Vec::new(),
        cut_by: BTreeMap::new(),
        goals: vec![Vec::new(); claims.len()],
        edges: Vec::new(),
        edge_action: Vec::new(),
        enabled_from: Vec::new(),
        enabled: Vec::new(),
        found: vec![None; properties.len()],
        depth: Vec::new(),
        initial: 0,
        max_depth: 0,
    };
    // Adds a newly reached state; true when it ends the search (an
    // unexpected safety counterexample).
    let add = |graph: &mut Graph, fp: u64, parent: u32, state: &System<P>| {
        let id = graph.fingerprint.len() as u32;
        let depth = if parent == u32::MAX {
            0
        } else {
            graph.depth[parent as usize] + 1
        };
        graph.fingerprint.push(fp);
        graph.parent.push(parent);
        graph.depth.push(depth);
        graph.max_depth = graph.max_depth.max(depth as usize);
        graph.after_gst.push(state.env().after_gst());
        let beyond = model.beyond(state);
        if let Some(bound) = beyond {
            *graph.cut_by.entry(bound).or_default() += 1;
        }
        graph.cut.push(beyond.is_some());
        for (goals, claim) in graph.goals.iter_mut().zip(claims) {
            goals.push((claim.goal)(model, state));
        }
        let mut stop = false;
        for (i, p) in properties.iter().enumerate() {
            if graph.found[i].is_some() {
                continue;
            }
            let holds = (p.condition)(model, state);
            let found = match p.expectation {
                Expectation::Always => !holds,
                Expectation::Sometimes => holds,
                Expectation::Eventually => false,
            };
            if found {
                graph.found[i] = Some(id);
                stop |= p.expectation == Expectation::Always && stop_on[i];
            }
        }
        (id, stop)
    };
    let mut frontier: VecDeque<(u32, System<P>)> = VecDeque::new();
    let mut stopped = None;
    for init in model.init_states() {
        let fp = canonical(&init);
        if let Entry::Vacant(slot) = index.entry(fp) {
            let (id, stop) = add(&mut graph, fp, u32::MAX, &init);
            graph.initial += 1;
            slot.insert(id);
            frontier.push_back((id, init));
            if stop {
                stopped = Some(FIRST_COUNTEREXAMPLE.to_string());
            }
        }
    }
    let mut actions = Vec::new();
    let mut coverage: HashMap<String, u64> = HashMap::new();
    let mut kind = String::new();
    let mut last_report = Instant::now();
    while stopped.is_none() {
        let Some((from, state)) = frontier.pop_front() else {
            break;
        };
        if limits.deadline.is_some_and(|d| Instant::now() >= d) {
            stopped = Some("timeout reached".to_string());
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            progress(Progress {
                phase: Phase::Liveness,
                states: graph.edges.len(),
                unique_states: graph.fingerprint.len(),
                max_depth: graph.max_depth,
                elapsed: started.elapsed(),
            });
            last_report = Instant::now();
        }
        actions.clear();
        model.actions(&state, &mut actions);
        let after = graph.after_gst[from as usize];
        // States are popped in the order they were numbered.
        graph.enabled_from.push(graph.enabled.len() as u32);
        for action in actions.drain(..) {
            let key = if after { fingerprint(&action) } else { 0 };
            action_kind::<P>(&action, &mut kind);
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            match coverage.get_mut(kind.as_str()) {
                Some(count) => *count += 1,
                None => {
                    coverage.insert(kind.clone(), 1);
                }
            }
            if after {
                graph.enabled.push(key);
            }
            let fp = canonical(&next);
            let to = match index.entry(fp) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(slot) => {
                    if graph.fingerprint.len() >= limits.max_states {
                        stopped = Some(format!("stopped at {} states", limits.max_states));
                        break;
                    }
                    let (id, stop) = add(&mut graph, fp, from, &next);
                    slot.insert(id);
                    frontier.push_back((id, next));
                    if stop {
                        stopped = Some(FIRST_COUNTEREXAMPLE.to_string());
                    }
                    id
                }
            };
            graph.edges.push((from, to));
            graph.edge_action.push(key);
        }
    }
    graph.enabled_from.push(graph.enabled.len() as u32);
    (graph, stopped, coverage)
}

/// Why a search that met an unexpected safety counterexample stopped.
pub const FIRST_COUNTEREXAMPLE: &str =
    "stopped at the first counterexample; --keep-going decides it";

/// A claim's verdict on the graph, before it is dressed up for the report.
struct Found {
    outcome: Outcome,
    violating: usize,
    undecided: usize,
    steps: Option<usize>,
    /// The states of the counterexample, in order.
    path: Option<Vec<usize>>,
}

fn recoverability(graph: &Graph, reverse: &Adjacency, goal: &[bool], bound_hit: bool) -> Found {
    let n = goal.len();
    let reaches_goal = backward(reverse, goal);
    let reaches_cut = backward(reverse, &graph.cut);
    // States beyond a bound are leaves whose future is unknown: they decide
    // nothing themselves, they only leave their predecessors undecided.
    let stuck: Vec<usize> = (0..n)
        .filter(|&i| !graph.cut[i] && !reaches_goal[i] && !reaches_cut[i])
        .collect();
    let undecided = (0..n)
        .filter(|&i| !graph.cut[i] && !reaches_goal[i] && reaches_cut[i])
        .count();
    // States are numbered in breadth-first order, so the first stuck state
    // has the shortest path from the start.
    let outcome = if !stuck.is_empty() {
        Outcome::Violated
    } else if undecided > 0 {
        Outcome::NotDecided {
            reason: format!("{undecided} states reach a leader, if at all, only beyond the bound"),
        }
    } else if bound_hit {
        Outcome::HoldsWithinBound
    } else {
        Outcome::Holds
    };
    Found {
        outcome,
        violating: stuck.len(),
        undecided,
        steps: None,
        path: stuck.first().map(|&s| tree_path(graph, s)),
    }
}

fn stabilisation(
    graph: &Graph,
    forward: &Adjacency,
    goal: &[bool],
    bound_hit: bool,
    within: Option<usize>,
    fairness: bool,
) -> Found {
    let n = goal.len();
    let after = &graph.after_gst;
    let violated = |violating: usize, path: Vec<usize>| Found {
        outcome: Outcome::Violated,
        violating,
        undecided: 0,
        steps: None,
        path: Some(path),
    };
    // Deadlock: no goal, and nothing can happen any more.
    let dead: Vec<usize> = (0..n)
        .filter(|&s| after[s] && !goal[s] && forward.of(s).is_empty() && !graph.cut[s])
        .collect();
    if let Some(&s) = dead.first() {
        return violated(dead.len(), tree_path(graph, s));
    }
    // Livelock: a fair cycle after GST through a non-goal state, which a
    // path can go round for ever without ever staying among goal states.
    // Fair is strong fairness (as TLC's SF) for every timer firing and
    // delivery after GST: one enabled again and again is taken at last.
    // Real timers expire and a network after GST delivers, so an unfair
    // cycle is no real execution. (With symmetry reduction the states of a
    // component are renamed representatives, so actions cannot be compared
    // across them: then every cycle counts, which can only report too much,
    // never too little.)
    let sccs = Sccs::of(n, forward, &|s| after[s]);
    let looping: Vec<usize> = (0..n)
        .filter(|&s| after[s] && !goal[s] && sccs.on_cycle(forward, s))
        .collect();
    let livelock = if fairness {
        fair_cycle_through(graph, forward, goal, &looping)
    } else {
        looping
            .first()
            .map(|&s| sccs.path_within(forward, s, &|t| t == s, true))
            .map(|cycle| (cycle[cycle.len() - 1], cycle))
    };
    if let Some((s, cycle)) = livelock {
        let mut path = tree_path(graph, s);
        path.extend(cycle);
        return violated(looping.len(), path);
    }
    let cut = (0..n).filter(|&s| after[s] && graph.cut[s]).count();
    if cut > 0 {
        let bounds: Vec<String> = graph
            .cut_by
            .iter()
            .map(|(bound, states)| format!("{bound} ({states})"))
            .collect();
        return Found {
            outcome: Outcome::NotDecided {
                reason: format!(
                    "{cut} states after GST have successors beyond {}",
                    bounds.join(" and ")
                ),
            },
            violating: 0,
            undecided: cut,
            steps: None,
            path: None,
        };
    }
    // Every fair path after GST now ends among goal states for good. If no
    // non-goal state lies on a cycle at all, count the most non-goal states
    // one can pass through on the way; an unfair loop (which fairness
    // breaks, but only after any number of rounds) leaves no bound.
    let steps = if let Some(&s) = looping.first() {
        if within.is_some() {
            // Any number of rounds before the starved action comes: more
            // steps than any bound.
            let mut path = tree_path(graph, s);
            path.extend(sccs.path_within(forward, s, &|t| t == s, true));
            return violated(looping.len(), path);
        }
        None
    } else {
        let (steps, longest) = sccs.most_pending(forward, goal);
        if within.is_some_and(|k| steps > k) {
            let mut path = tree_path(graph, longest[0]);
            path.extend(longest.iter().skip(1));
            return violated(1, path);
        }
        Some(steps)
    };
    Found {
        outcome: if bound_hit {
            Outcome::HoldsWithinBound
        } else {
            Outcome::Holds
        },
        violating: 0,
        undecided: 0,
        steps,
        path: None,
    }
}

/// A strongly fair cycle through a non-goal state among `candidates` (each
/// on some cycle after GST): the state it passes, and the cycle from it back
/// to it. Streett's check: in a component where some action is enabled but
/// never taken inside it, no fair cycle can pass the states that enable it;
/// drop those states and look again in what is left.
fn fair_cycle_through(
    graph: &Graph,
    forward: &Adjacency,
    goal: &[bool],
    candidates: &[usize],
) -> Option<(usize, Vec<usize>)> {
    let enabled = |u: usize| -> &[u64] {
        match (graph.enabled_from.get(u), graph.enabled_from.get(u + 1)) {
            (Some(&a), Some(&b)) => &graph.enabled[a as usize..b as usize],
            _ => &[],
        }
    };
    let n = goal.len();
    let mut alive = vec![false; n];
    for &s in candidates {
        alive[s] = true;
    }
    // Grow the candidate set to the whole components they lie in: fairness is
    // judged on components after GST, goal states included.
    let all = Sccs::of(n, forward, &|s| graph.after_gst[s]);
    for &s in candidates {
        for &u in &all.members[all.of[s] as usize] {
            alive[u as usize] = true;
        }
    }
    loop {
        let sccs = Sccs::of(n, forward, &|s| alive[s]);
        let mut removed = false;
        for (id, members) in sccs.members.iter().enumerate() {
            let id = id as u32;
            let cyclic = members.len() > 1 || forward.of(members[0] as usize).contains(&members[0]);
            if !cyclic || members.iter().all(|&u| goal[u as usize]) {
                continue;
            }
            let taken: std::collections::HashSet<u64> = members
                .iter()
                .flat_map(|&u| {
                    forward
                        .of(u as usize)
                        .iter()
                        .zip(forward.labels_of(u as usize))
                        .filter(|(t, _)| sccs.of[**t as usize] == id)
                        .map(|(_, &l)| l)
                })
                .collect();
            let starving: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&u| enabled(u as usize).iter().any(|k| !taken.contains(k)))
                .collect();
            if starving.is_empty() {
                let s = members
                    .iter()
                    .map(|&u| u as usize)
                    .find(|&u| !goal[u])
                    .unwrap_or(members[0] as usize);
                return Some((s, sccs.path_within(forward, s, &|t| t == s, true)));
            }
            for u in starving {
                alive[u as usize] = false;
                removed = true;
            }
        }
        if !removed {
            return None;
        }
    }
}

/// The strongly connected components of the states `inside` keeps, by
/// Tarjan's algorithm, iteratively (millions of states would overflow the
/// stack). Components come out in reverse topological order: each after
/// every component it can reach.
struct Sccs {
    /// Each state's component (`u32::MAX` outside).
    of: Vec<u32>,
    /// The components, in the order found.
    members: Vec<Vec<u32>>,
}

impl Sccs {
    fn of(n: usize, forward: &Adjacency, inside: &dyn Fn(usize) -> bool) -> Sccs {
        const NONE: u32 = u32::MAX;
        let mut index = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut of = vec![NONE; n];
        let mut members = Vec::new();
        let mut next_index = 0u32;
        for root in (0..n).filter(|&s| inside(s)) {
            if index[root] != NONE {
                continue;
            }
            let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root as u32);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut i)) = calls.last_mut() {
                let successors = forward.of(v);
                if *i < successors.len() {
                    let w = successors[*i] as usize;
                    *i += 1;
                    if !inside(w) {
                        continue;
                    }
                    if index[w] == NONE {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w as u32);
                        on_stack[w] = true;
                        calls.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let id = members.len() as u32;
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        of[w as usize] = id;
                        component.push(w);
                        if w as usize == v {
                            break;
                        }
                    }
                    members.push(component);
                }
            }
        }
        Sccs { of, members }
    }

    /// Whether `s` lies on a cycle: its component has more than one state,
    /// or it steps to itself.
    fn on_cycle(&self, forward: &Adjacency, s: usize) -> bool {
        self.members[self.of[s] as usize].len() > 1 || forward.of(s).contains(&(s as u32))
    }

    /// A shortest path from `from`, within its component, to a state `to`
    /// accepts (at least one step if `step`), without `from` itself.
    fn path_within(
        &self,
        forward: &Adjacency,
        from: usize,
        to: &dyn Fn(usize) -> bool,
        step: bool,
    ) -> Vec<usize> {
        let component = self.of[from];
        let mut parent: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        if !step && to(from) {
            return Vec::new();
        }
        while let Some(s) = queue.pop_front() {
            for &t in forward.of(s) {
                let t = t as usize;
                if self.of[t] != component || parent.contains_key(&t) {
                    continue;
                }
                parent.insert(t, s);
                if to(t) {
                    let mut path = vec![t];
                    let mut at = t;
                    while let Some(&p) = parent.get(&at).filter(|&&p| p != from) {
                        path.push(p);
                        at = p;
                    }
                    path.reverse();
                    return path;
                }
                queue.push_back(t);
            }
        }
        Vec::new()
    }

    /// The most non-goal states any path through the components can pass
    /// through (callers have ruled out cycles through non-goal states, so
    /// each of those is a component of its own), and one such path, from
    /// where it starts to the goal state it ends in.
    fn most_pending(&self, forward: &Adjacency, goal: &[bool]) -> (usize, Vec<usize>) {
        // Components come out successors first, so one pass settles them.
        let mut value = vec![0usize; self.members.len()];
        for (id, component) in self.members.iter().enumerate() {
            let weight = component.iter().filter(|&&s| !goal[s as usize]).count();
            let after = component
                .iter()
                .flat_map(|&s| forward.of(s as usize))
                .map(|&t| self.of[t as usize])
                .filter(|&c| c != id as u32 && c != u32::MAX)
                .map(|c| value[c as usize])
                .max()
                .unwrap_or(0);
            value[id] = weight + after;
        }
        let Some(best) = (0..self.members.len()).max_by_key(|&c| value[c]) else {
            return (0, Vec::new());
        };
        // Walk down: each step to a component of the next lower value.
        let mut path = vec![self.members[best][0] as usize];
        let mut at = path[0];
        loop {
            let c = self.of[at] as usize;
            let weight = usize::from(!goal[at]);
            let wanted = value[c] - weight;
            if wanted == 0 && goal[at] {
                break;
            }
            let exits = |s: usize| {
                forward.of(s).iter().any(|&t| {
                    let d = self.of[t as usize];
                    d as usize != c && d != u32::MAX && value[d as usize] == wanted
                })
            };
            let inner = self.path_within(forward, at, &exits, false);
            path.extend(&inner);
            let from = *path.last().unwrap_or(&at);
            let Some(next) = forward.of(from).iter().map(|&t| t as usize).find(|&t| {
                let d = self.of[t];
                d as usize != c && d != u32::MAX && value[d as usize] == wanted
            }) else {
                break;
            };
            path.push(next);
            at = next;
        }
        (value[best], path)
    }
}

/// The states that can reach a marked state (marked states included).
fn backward(reverse: &Adjacency, marked: &[bool]) -> Vec<bool> {
    let mut reached = marked.to_vec();
    let mut queue: VecDeque<usize> = (0..marked.len()).filter(|&i| marked[i]).collect();
    while let Some(s) = queue.pop_front() {
        for &p in reverse.of(s) {
            if !reached[p as usize] {
                reached[p as usize] = true;
                queue.push_back(p as usize);
            }
        }
    }
    reached
}

/// The breadth-first tree path from an initial state to `target`.
fn tree_path(graph: &Graph, target: usize) -> Vec<usize> {
    let mut chain = vec![target];
    while let Some(&last) = chain.last() {
        let parent = graph.parent[last];
        if parent == u32::MAX {
            break;
        }
        chain.push(parent as usize);
    }
    chain.reverse();
    chain
}

/// Rebuilds the concrete path through the graph states `path` by replaying
/// the model: each step is an action whose successor has the next state's
/// fingerprint (up to renaming, with symmetry).
fn replay<P: Modelled>(
    model: &ElectionModel<P>,
    graph: &Graph,
    path: &[usize],
    symmetry: bool,
) -> Steps<P> {
    let canonical = |s: &System<P>| {
        if symmetry {
            fingerprint(&s.representative())
        } else {
            fingerprint(s)
        }
    };
    let Some(first) = path.first() else {
        return Vec::new();
    };
    let Some(mut state) = model
        .init_states()
        .into_iter()
        .find(|s| canonical(s) == graph.fingerprint[*first])
    else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    for &next in path.iter().skip(1) {
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        let found = actions.into_iter().find_map(|action| {
            let after = model.next_state(&state, action.clone())?;
            (canonical(&after) == graph.fingerprint[next]).then_some((action, after))
        });
        let Some((action, after)) = found else {
            break;
        };
        steps.push((state, Some(action)));
        state = after;
    }
    steps.push((state, None));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adjacency(n: usize, edges: &[(u32, u32)]) -> Adjacency {
        Adjacency::new(n, edges.iter().copied())
    }

    #[test]
    fn backward_reachability_over_a_small_graph() {
        // 0 → 1 → 2 (goal), 3 → 3 (stuck loop), 0 → 3
        let edges = [(0, 1), (1, 2), (3, 3), (0, 3)];
        let reverse = Adjacency::new(4, edges.iter().map(|&(a, b)| (b, a)));
        let reached = backward(&reverse, &[false, false, true, false]);
        assert_eq!(reached, vec![true, true, true, false]);
    }

    #[test]
    fn components_come_out_successors_first_and_cycles_are_seen() {
        // 0 → 1 → 2 → 1, 2 → 3 → 3
        let forward = adjacency(4, &[(0, 1), (1, 2), (2, 1), (2, 3), (3, 3)]);
        let sccs = Sccs::of(4, &forward, &|_| true);
        assert_eq!(sccs.members.len(), 3);
        assert_eq!(sccs.of[1], sccs.of[2]);
        assert!(sccs.of[3] < sccs.of[1] && sccs.of[1] < sccs.of[0]);
        assert!(sccs.on_cycle(&forward, 1) && sccs.on_cycle(&forward, 3));
        assert!(!sccs.on_cycle(&forward, 0));
        // The way round the cycle from 1 back to 1.
        assert_eq!(sccs.path_within(&forward, 1, &|t| t == 1, true), vec![2, 1]);
    }

    #[test]
    fn the_most_pending_path_counts_non_goal_states_up_to_the_goal() {
        // 0 → 1 → 2 → goal 4 ⟲, 0 → 3 → goal 4: three non-goal states.
        let forward = adjacency(5, &[(0, 1), (1, 2), (2, 4), (0, 3), (3, 4), (4, 4)]);
        let goal = [false, false, false, false, true];
        let sccs = Sccs::of(5, &forward, &|_| true);
        assert_eq!(sccs.most_pending(&forward, &goal), (3, vec![0, 1, 2, 4]));
    }
}
