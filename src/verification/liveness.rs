//! Sound liveness: *recoverability*.
//!
//! From every reachable state, some path must reach a state in which exactly
//! one live node leads and every live node knows it. Stateright's
//! `eventually` cannot decide this (it inspects acyclic paths only), so this
//! module explores the reachable graph itself — fingerprints and edges, the
//! states themselves only while they wait in the frontier — and then computes
//! backward reachability from the goal states over the complete graph.
//!
//! A state from which no goal is reachable *and* no bound-cut state is
//! reachable is a definite violation: everything it can lead to was explored.
//! A state that can reach no goal but can reach a state whose successors a
//! bound cut off is "not decided": the goal might lie beyond the bound.

use super::trace::Trace;
use super::verdict::{Outcome, Steps};
use crate::model::{properties, ElectionModel, Modelled, System};
use serde::Serialize;
use stateright::Model;
use stateright::Representative;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Instant;

/// What the recoverability check established, and what it cost.
#[derive(Clone, Debug, Serialize)]
pub struct LivenessResult {
    /// The verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// States in the explored graph (after symmetry reduction, if used).
    pub states: usize,
    /// Transitions in it.
    pub edges: usize,
    /// States that reach a goal only, if at all, beyond a bound.
    pub undecided_states: usize,
    /// States from which no leader can ever be reached.
    pub violating_states: usize,
    /// Whether symmetry reduction was applied.
    pub symmetry_used: bool,
    /// Whether a bound cut off some successor.
    pub bound_hit: bool,
    /// Wall-clock time.
    pub seconds: f64,
    /// Path to a state from which no leader can ever be reached.
    pub trace: Option<Trace>,
}

struct Graph {
    /// Per state: the state it was first reached from, and by which action.
    parent: Vec<(u32, u32)>,
    goal: Vec<bool>,
    /// Some successor was cut off by a bound.
    cut: Vec<bool>,
    edges: Vec<(u32, u32)>,
}

fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Checks recoverability of `model`, exploring one state per symmetry class
/// if `symmetry` (only for a protocol whose nodes are interchangeable).
/// Stops with "not decided" once the graph holds `max_states` states.
pub fn recoverability<P: Modelled>(
    model: &ElectionModel<P>,
    symmetry: bool,
    max_states: usize,
) -> LivenessResult {
    let started = Instant::now();
    let symmetry = symmetry && P::SYMMETRIC;
    let canonical = |s: &System<P>| {
        if symmetry {
            fingerprint(&s.representative())
        } else {
            fingerprint(s)
        }
    };
    let goal = |s: &System<P>| properties::one_leader_known_to_all(model, s);

    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut graph = Graph {
        parent: Vec::new(),
        goal: Vec::new(),
        cut: Vec::new(),
        edges: Vec::new(),
    };
    let mut frontier: VecDeque<(u32, System<P>)> = VecDeque::new();
    for init in model
        .init_states()
        .into_iter()
        .filter(|s| model.within_boundary(s))
    {
        if let Entry::Vacant(slot) = index.entry(canonical(&init)) {
            let id = graph.goal.len() as u32;
            slot.insert(id);
            graph.parent.push((u32::MAX, u32::MAX));
            graph.goal.push(goal(&init));
            graph.cut.push(false);
            frontier.push_back((id, init));
        }
    }
    let mut truncated = false;
    let mut actions = Vec::new();
    while let Some((from, state)) = frontier.pop_front() {
        actions.clear();
        model.actions(&state, &mut actions);
        for (action_index, action) in actions.drain(..).enumerate() {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if !model.within_boundary(&next) {
                graph.cut[from as usize] = true;
                continue;
            }
            let to = match index.entry(canonical(&next)) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(slot) => {
                    if graph.goal.len() >= max_states {
                        truncated = true;
                        graph.cut[from as usize] = true;
                        continue;
                    }
                    let id = graph.goal.len() as u32;
                    slot.insert(id);
                    graph.parent.push((from, action_index as u32));
                    graph.goal.push(goal(&next));
                    graph.cut.push(false);
                    frontier.push_back((id, next));
                    id
                }
            };
            graph.edges.push((from, to));
        }
    }
    drop(index);

    let n = graph.goal.len();
    let reverse = reverse_adjacency(n, &graph.edges);
    let reaches_goal = backward(&reverse, &graph.goal);
    let reaches_cut = backward(&reverse, &graph.cut);
    let stuck: Vec<usize> = (0..n)
        .filter(|&i| !reaches_goal[i] && !reaches_cut[i])
        .collect();
    let undecided = (0..n)
        .filter(|&i| !reaches_goal[i] && reaches_cut[i])
        .count();
    let bound_hit = graph.cut.iter().any(|&c| c);

    // States are numbered in breadth-first order, so the first stuck state
    // has the shortest path from the start.
    let trace = stuck
        .first()
        .map(|&s| Trace::from_steps(replay(model, &graph, s)));
    let outcome = if !stuck.is_empty() {
        Outcome::Violated
    } else if undecided > 0 || truncated {
        Outcome::NotDecided {
            reason: if truncated {
                format!("stopped at {max_states} states")
            } else {
                format!("{undecided} states reach a leader, if at all, only beyond the bound")
            },
        }
    } else if bound_hit {
        Outcome::HoldsWithinBound
    } else {
        Outcome::Holds
    };
    LivenessResult {
        outcome,
        states: n,
        edges: graph.edges.len(),
        undecided_states: undecided,
        violating_states: stuck.len(),
        symmetry_used: symmetry,
        bound_hit,
        seconds: started.elapsed().as_secs_f64(),
        trace,
    }
}

/// Compressed reverse adjacency: for each state, the states with an edge to it.
fn reverse_adjacency(n: usize, edges: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for &(_, to) in edges {
        start[to as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut from = vec![0u32; edges.len()];
    for &(f, to) in edges {
        from[fill[to as usize] as usize] = f;
        fill[to as usize] += 1;
    }
    (start, from)
}

/// The states that can reach a marked state (marked states included).
fn backward((start, from): &(Vec<u32>, Vec<u32>), marked: &[bool]) -> Vec<bool> {
    let mut reached = marked.to_vec();
    let mut queue: VecDeque<usize> = (0..marked.len()).filter(|&i| marked[i]).collect();
    while let Some(s) = queue.pop_front() {
        for &p in &from[start[s] as usize..start[s + 1] as usize] {
            if !reached[p as usize] {
                reached[p as usize] = true;
                queue.push_back(p as usize);
            }
        }
    }
    reached
}

/// Rebuilds the path to `target` by replaying the recorded actions.
fn replay<P: Modelled>(model: &ElectionModel<P>, graph: &Graph, target: usize) -> Steps<P> {
    let mut chain = vec![target];
    while let Some(&last) = chain.last() {
        let (parent, _) = graph.parent[last];
        if parent == u32::MAX {
            break;
        }
        chain.push(parent as usize);
    }
    chain.reverse();
    let Some(mut state) = model.init_states().into_iter().next() else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    for &next in chain.iter().skip(1) {
        let (_, action_index) = graph.parent[next];
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        let Some(action) = actions.into_iter().nth(action_index as usize) else {
            break;
        };
        let Some(after) = model.next_state(&state, action.clone()) else {
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

    #[test]
    fn backward_reachability_over_a_small_graph() {
        // 0 → 1 → 2 (goal), 3 → 3 (stuck loop), 0 → 3
        let edges = vec![(0, 1), (1, 2), (3, 3), (0, 3)];
        let reverse = reverse_adjacency(4, &edges);
        let reached = backward(&reverse, &[false, false, true, false]);
        assert_eq!(reached, vec![true, true, true, false]);
    }
}
