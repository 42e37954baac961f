//! Turning a checker path into a trace a person can read: numbered steps,
//! each with what changed in the nodes' view of leadership, and the final
//! state of every node.

use crate::leadership::{node_name, LeaderView, Leadership};
use crate::model::{describe_action, Action, System};
use crate::protocols::Protocol;
use serde::Serialize;
use std::fmt;

/// A node's view of leadership, and whether it is up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// The node's id.
    pub node: usize,
    /// Whether it is down.
    pub crashed: bool,
    /// Whether it is down because it has not started yet (staggered starts).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unstarted: bool,
    /// Its view of leadership.
    #[serde(flatten)]
    pub view: LeaderView,
    /// The protocol's own description of the node's state.
    pub detail: String,
}

impl fmt::Display for NodeView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unstarted {
            write!(f, "n{} not started", self.node)
        } else if self.crashed {
            write!(f, "n{} crashed (was: {})", self.node, self.detail)
        } else {
            write!(f, "n{} {}", self.node, self.detail)
        }
    }
}

/// One step of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    /// 1-based step number.
    pub step: usize,
    /// What happened, in words.
    pub action: String,
    /// The nodes whose state changed in this step, as they are after it.
    pub changed: Vec<NodeView>,
}

/// A path through the model, for people: the initial nodes, each step
/// with what it changed, and the final state.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// Every node in the initial state.
    pub initial: Vec<NodeView>,
    /// The steps, in order.
    pub steps: Vec<TraceStep>,
    /// Every node at the end of the trace.
    #[serde(rename = "final")]
    pub final_nodes: Vec<NodeView>,
    /// The final state of the whole system (network, timers), as the
    /// Explorer shows it.
    pub final_state: String,
}

/// Every node of `state`, as a trace shows it.
pub fn node_views<P: Protocol>(state: &System<P>) -> Vec<NodeView> {
    state
        .nodes()
        .map(|(id, s, crashed)| NodeView {
            node: usize::from(id),
            crashed,
            unstarted: !state.has_started(id),
            view: s.view(),
            detail: format!("{s:?}"),
        })
        .collect()
}

impl Trace {
    /// The trace of a checker path.
    pub fn from_steps<P: Protocol>(steps_and_states: Vec<(System<P>, Option<Action<P>>)>) -> Trace {
        let mut steps = Vec::new();
        let mut previous: Option<Vec<NodeView>> = None;
        let mut pending_action: Option<String> = None;
        let mut last_state = String::new();
        let mut final_nodes = Vec::new();
        let mut initial = Vec::new();
        for (state, action) in steps_and_states {
            let views = node_views(&state);
            if previous.is_none() {
                initial = views.clone();
            }
            if let (Some(before), Some(action)) = (&previous, pending_action.take()) {
                let changed = views
                    .iter()
                    .zip(before)
                    .filter(|(now, then)| now != then)
                    .map(|(now, _)| now.clone())
                    .collect();
                steps.push(TraceStep {
                    step: steps.len() + 1,
                    action,
                    changed,
                });
            }
            pending_action = action.as_ref().map(describe_action::<P>);
            last_state = format!("{state:?}");
            final_nodes = views.clone();
            previous = Some(views);
        }
        Trace {
            initial,
            steps,
            final_nodes,
            final_state: last_state,
        }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .steps
            .iter()
            .map(|s| s.action.chars().count())
            .max()
            .unwrap_or(0);
        let initial: Vec<String> = self.initial.iter().map(|v| v.to_string()).collect();
        writeln!(
            f,
            "  {:>3}. {:<width$}   ⇒ {}",
            0,
            "initial state",
            initial.join("; ")
        )?;
        for step in &self.steps {
            write!(f, "  {:>3}. {:<width$}", step.step, step.action)?;
            let changes: Vec<String> = step.changed.iter().map(|v| v.to_string()).collect();
            if !changes.is_empty() {
                write!(f, "   ⇒ {}", changes.join("; "))?;
            }
            writeln!(f)?;
        }
        writeln!(f, "  final state:")?;
        for line in self.final_state.lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// `n0 leader, n1 follower of n0, ...` for one-line summaries.
pub fn summary(nodes: &[NodeView]) -> String {
    nodes
        .iter()
        .map(|n| {
            if n.crashed {
                format!("{} down", node_name(n.node.into()))
            } else {
                format!("{} {}", node_name(n.node.into()), n.view)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
