//! Exhaustive checks of each protocol through the library API: safety holds
//! and the sanity examples exist under each protocol's default fault model,
//! the checker finds split brain where the seed's simple algorithms are known
//! to be unsafe, and each protocol's state space has exactly the size pinned
//! here (as Stateright's own paxos example pins 16,668 states), so that a
//! change to a protocol or to the model cannot go unnoticed.

use elect::leadership::Role;
use elect::model::{ModelConfig, NetworkKind, Timing};
use elect::protocols::ProtocolKind;
use elect::verification::run::{self, CheckError, CheckResult, Job};
use elect::verification::verdict::{CheckOptions, Expect, Kind, Outcome};

fn check(kind: ProtocolKind, config: ModelConfig, options: CheckOptions) -> CheckResult {
    run::run_job(&Job::new(kind, config, options), &mut |_| {}).expect("checkable")
}

fn defaults(kind: ProtocolKind) -> CheckOptions {
    CheckOptions::defaults_for(kind)
}

fn keep_going(kind: ProtocolKind) -> CheckOptions {
    CheckOptions {
        keep_going: true,
        ..defaults(kind)
    }
}

fn outcome<'a>(result: &'a CheckResult, property: &str) -> &'a Outcome {
    &result
        .property(property)
        .unwrap_or_else(|| panic!("no property {property}"))
        .outcome
}

fn assert_safe_and_live_examples(result: &CheckResult) {
    assert!(
        result.exhaustive,
        "the check must explore the whole (bounded) space"
    );
    for p in &result.properties {
        assert!(p.meets_expectation, "{}: {:?}", p.name, p.outcome);
        match p.kind {
            Kind::Always | Kind::Recoverability | Kind::Stabilisation => assert!(
                matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
                "{}: {:?}",
                p.name,
                p.outcome
            ),
            Kind::Sometimes => assert_eq!(p.outcome, Outcome::ExampleFound, "{}", p.name),
            // Never claimed to hold: Stateright cannot see cycles.
            Kind::Eventually => assert!(
                !matches!(p.outcome, Outcome::Holds | Outcome::HoldsWithinBound),
                "{}: {:?}",
                p.name,
                p.outcome
            ),
        }
    }
}

/// One small model per protocol (its default, GST included, at a small
/// size), explored on the complete graph breadth-first (deterministic, with
/// symmetry reduction for Raft; Paxos on a reliable network without
/// crashes), and the exact number of distinct states it
/// has, leaves beyond a bound included.
#[test]
fn each_protocols_state_space_has_its_pinned_size() {
    let small = |kind, nodes, crashes| ModelConfig {
        nodes,
        crashes,
        recover: false,
        ..ModelConfig::default_for(kind)
    };
    let cases = [
        (ProtocolKind::Bully, small(ProtocolKind::Bully, 3, 2), 2_884),
        (
            ProtocolKind::BullyHalt,
            small(ProtocolKind::BullyHalt, 3, 1),
            2_842,
        ),
        (ProtocolKind::Ring, small(ProtocolKind::Ring, 3, 2), 11_274),
        (
            ProtocolKind::Raft,
            ModelConfig {
                lossy: false,
                crashes: 0,
                recover: false,
                max_term: 1,
                max_in_flight: 4,
                ..ModelConfig::default_for(ProtocolKind::Raft)
            },
            24_213,
        ),
        (
            ProtocolKind::Paxos,
            ModelConfig {
                lossy: false,
                crashes: 0,
                recover: false,
                ..ModelConfig::default_for(ProtocolKind::Paxos)
            },
            1_838,
        ),
    ];
    let mut sizes = Vec::new();
    for (kind, config, pinned) in cases {
        let result = check(kind, config, defaults(kind));
        assert!(result.exhaustive, "{kind}");
        sizes.push((kind, result.unique_states, pinned));
    }
    assert!(
        sizes.iter().all(|(_, got, pinned)| got == pinned),
        "unique states (protocol, got, pinned): {sizes:?}"
    );
}

#[test]
fn bully_default_is_safe_on_the_complete_graph() {
    let kind = ProtocolKind::Bully;
    let result = check(kind, ModelConfig::default_for(kind), defaults(kind));
    assert_safe_and_live_examples(&result);
    // The in-flight cap is never reached under timely timing.
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
}

#[test]
fn ring_default_is_safe_on_the_complete_graph() {
    let kind = ProtocolKind::Ring;
    let result = check(kind, ModelConfig::default_for(kind), defaults(kind));
    assert_safe_and_live_examples(&result);
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
}

#[test]
fn raft_is_safe_and_recovers_with_loss_reordering_and_crash_recovery() {
    let kind = ProtocolKind::Raft;
    // The default model with terms at most one apart, at CI size.
    let config = ModelConfig {
        max_term: 1,
        ..ModelConfig::default_for(kind)
    };
    let result = check(kind, config, defaults(kind));
    assert!(result.symmetry_used);
    assert_safe_and_live_examples(&result);
}

#[test]
fn raft_is_safe_on_a_duplicating_network() {
    let kind = ProtocolKind::Raft;
    let config = ModelConfig {
        network: NetworkKind::Duplicating,
        lossy: false,
        crashes: 0,
        recover: false,
        // A message stays in flight on a duplicating network, so no timer
        // would ever fire after GST.
        gst: false,
        max_in_flight: 4,
        ..ModelConfig::default_for(kind)
    };
    let result = check(kind, config, defaults(kind));
    assert_eq!(
        outcome(&result, "election safety"),
        &Outcome::HoldsWithinBound
    );
}

/// Weaker assumptions: the checker must find split brain for the seed's
/// simple algorithms, with a trace that ends in two live leaders.
fn assert_split_brain(kind: ProtocolKind, config: ModelConfig) {
    // Only "single leader" is expected to hold, so the check runs until it
    // finds split brain (the other safety properties fall too).
    let mut job = Job::new(kind, config, defaults(kind));
    for other in ["agreement", "highest live id leads"] {
        job.expect.insert(other.into(), Expect::Violated);
    }
    let result = run::run_job(&job, &mut |_| {}).expect("checkable");
    assert_eq!(
        outcome(&result, "single leader"),
        &Outcome::Violated,
        "{kind}"
    );
    assert!(!result.all_met());
    let trace = result.properties[0]
        .trace
        .as_ref()
        .expect("a counterexample trace");
    let leaders = trace
        .final_nodes
        .iter()
        .filter(|n| !n.crashed && n.view.role == Role::Leader)
        .count();
    assert_eq!(leaders, 2, "{kind}: {trace}");
}

#[test]
fn bully_splits_brain_when_timers_race_messages() {
    let config = ModelConfig {
        timing: Timing::Asynchronous,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn bully_splits_brain_when_messages_are_lost() {
    let config = ModelConfig {
        lossy: true,
        nodes: 3,
        crashes: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn bully_splits_brain_when_a_higher_node_recovers() {
    let config = ModelConfig {
        recover: true,
        nodes: 3,
        crashes: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    assert_split_brain(ProtocolKind::Bully, config);
}

#[test]
fn ring_splits_brain_when_acks_are_lost() {
    let config = ModelConfig {
        lossy: true,
        ..ModelConfig::default_for(ProtocolKind::Ring)
    };
    assert_split_brain(ProtocolKind::Ring, config);
}

#[test]
fn ring_stays_safe_when_nodes_recover() {
    // A recovered node adopts the current leader from its heartbeat, so
    // there is never split brain; but a recovered *higher* node does not
    // take over, so "the highest live id leads" is lost.
    let kind = ProtocolKind::Ring;
    let config = ModelConfig {
        recover: true,
        ..ModelConfig::default_for(kind)
    };
    let result = check(kind, config, keep_going(kind));
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
    assert_eq!(
        outcome(&result, "highest live id leads"),
        &Outcome::Violated
    );
}

#[test]
fn ring_nodes_disagree_when_timers_race_messages() {
    let kind = ProtocolKind::Ring;
    let config = ModelConfig {
        timing: Timing::Asynchronous,
        ..ModelConfig::default_for(kind)
    };
    let result = check(kind, config, defaults(kind));
    assert!(!result.all_met());
    assert!(result
        .properties
        .iter()
        .any(|p| p.outcome == Outcome::Violated && p.trace.is_some()));
}

/// Timely timing on a reliable network, where a crashed node may recover.
fn timely_recovery(nodes: usize, crashes: usize) -> ModelConfig {
    ModelConfig {
        nodes,
        network: NetworkKind::Unordered,
        lossy: false,
        crashes,
        recover: true,
        timing: Timing::Timely,
        max_term: 0,
        max_in_flight: 10,
        ..ModelConfig::default_for(ProtocolKind::BullyHalt)
    }
}

#[test]
fn the_halt_phase_keeps_one_leader_when_a_higher_node_recovers() {
    let kind = ProtocolKind::BullyHalt;
    let config = timely_recovery(3, 1);
    let result = check(kind, config.clone(), defaults(kind));
    assert!(result.exhaustive && !result.bound_hit, "{result:?}");
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
    assert_eq!(
        outcome(&result, "a leader is elected"),
        &Outcome::ExampleFound
    );
    assert_eq!(
        outcome(&result, "a new leader after the leader crashed"),
        &Outcome::ExampleFound
    );

    // Without the halt phase, the recovered node coordinates at once.
    let simple = check(ProtocolKind::Bully, config, defaults(ProtocolKind::Bully));
    assert_eq!(outcome(&simple, "single leader"), &Outcome::Violated);
}

#[test]
fn the_halt_phase_keeps_one_leader_on_four_nodes_with_two_crashes_that_stay_down() {
    let kind = ProtocolKind::BullyHalt;
    let config = ModelConfig {
        recover: false,
        ..timely_recovery(4, 2)
    };
    let result = check(kind, config, defaults(kind));
    assert!(result.exhaustive && !result.bound_hit, "{result:?}");
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Holds);
}

#[test]
fn the_halt_phase_with_two_crashes_and_recovery_keeps_one_leader_but_not_agreement() {
    let kind = ProtocolKind::BullyHalt;
    let result = check(kind, timely_recovery(3, 2), keep_going(kind));
    assert!(result.exhaustive && !result.bound_hit, "{result:?}");
    assert_eq!(outcome(&result, "single leader"), &Outcome::Holds);
    assert_eq!(outcome(&result, "agreement"), &Outcome::Violated);
}

#[test]
fn the_halt_phase_splits_brain_when_messages_are_lost_or_timers_race_them() {
    let kind = ProtocolKind::BullyHalt;
    for config in [
        ModelConfig {
            lossy: true,
            ..timely_recovery(3, 1)
        },
        ModelConfig {
            timing: Timing::Asynchronous,
            ..timely_recovery(3, 1)
        },
    ] {
        let result = check(kind, config.clone(), defaults(kind));
        assert_eq!(
            outcome(&result, "single leader"),
            &Outcome::Violated,
            "{}",
            config.describe()
        );
    }
}

#[test]
fn an_initial_state_beyond_the_bound_is_an_error() {
    let config = ModelConfig {
        max_in_flight: 1,
        ..ModelConfig::default_for(ProtocolKind::Bully)
    };
    let job = Job::new(ProtocolKind::Bully, config, defaults(ProtocolKind::Bully));
    let err = run::run_job(&job, &mut |_| {}).expect_err("must refuse");
    assert_eq!(err, CheckError::InitialStateBeyondBound { in_flight: 9 });
    assert!(err.to_string().contains("--max-in-flight"), "{err}");
}

/// Normalising terms is a functional bisimulation: for every reachable state
/// of the model with absolute terms, the normalised successors of the state
/// are exactly the successors of the normalised state in the model that
/// normalises after every step. So both models have the same behaviours up
/// to a shift of terms, and every verdict carries over.
#[test]
fn normalising_terms_commutes_with_every_step() {
    use elect::model::{ElectionModel, System};
    use elect::protocols::raft::Raft;
    use stateright::Model;
    use std::collections::{BTreeSet, HashSet, VecDeque};
    use std::hash::{DefaultHasher, Hash, Hasher};

    let fp = |s: &System<Raft>| {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    };
    let base = ModelConfig {
        max_term: 2,
        max_in_flight: 2,
        ..ModelConfig::default_for(ProtocolKind::Raft)
    };
    let absolute = ElectionModel::<Raft>::new(ModelConfig {
        normalize_terms: false,
        ..base.clone()
    });
    let relative = ElectionModel::<Raft>::new(ModelConfig {
        normalize_terms: true,
        ..base
    });
    let successors = |model: &ElectionModel<Raft>, s: &System<Raft>| {
        let mut actions = Vec::new();
        model.actions(s, &mut actions);
        actions
            .into_iter()
            .filter_map(|a| model.next_state(s, a))
            .collect::<Vec<_>>()
    };
    let mut seen = HashSet::new();
    let mut queue: VecDeque<System<Raft>> = absolute.init_states().into();
    let mut shifted = 0;
    while let Some(s) = queue.pop_front() {
        // States beyond the absolute term bound are leaves there, not in the
        // relative model: compare the steps both take.
        if !seen.insert(fp(&s)) || absolute.beyond(&s).is_some() {
            continue;
        }
        let next = successors(&absolute, &s);
        let via_absolute: BTreeSet<u64> =
            next.iter().map(|t| fp(&relative.normalized(t))).collect();
        let normal = relative.normalized(&s);
        shifted += usize::from(fp(&normal) != fp(&s));
        let via_relative: BTreeSet<u64> = successors(&relative, &normal).iter().map(fp).collect();
        assert_eq!(via_absolute, via_relative, "{s:?}");
        // And every property and liveness goal reads the same on both.
        for (p, q) in absolute.properties().iter().zip(relative.properties()) {
            assert_eq!(
                (p.condition)(&absolute, &s),
                (q.condition)(&relative, &normal),
                "{}: {s:?}",
                p.name
            );
        }
        for (p, q) in absolute
            .liveness_claims()
            .iter()
            .zip(relative.liveness_claims())
        {
            assert_eq!(
                (p.goal)(&absolute, &s),
                (q.goal)(&relative, &normal),
                "{}: {s:?}",
                p.name
            );
        }
        queue.extend(next);
    }
    eprintln!("{} states, {shifted} shifted", seen.len());
    assert!(seen.len() > 10_000, "{} states", seen.len());
    assert!(
        shifted > 1_000,
        "the shift was exercised on {shifted} states"
    );
}

/// A sanity example must be a run of the protocol, not its starting point:
/// no initial state of any protocol's default model (nor of its timed
/// variant) is an example of any "sometimes" property.
#[test]
fn no_sanity_example_is_an_initial_state() {
    use elect::model::ElectionModel;
    use stateright::{Expectation, Model};
    for kind in ProtocolKind::ALL {
        for timing in [None, Some(Timing::Timed)] {
            let mut config = ModelConfig::default_for(kind);
            if let Some(timing) = timing {
                config.timing = timing;
            }
            elect::with_protocol!(kind, P => {
                let model = ElectionModel::<P>::new(config.clone());
                let sanity = model
                    .properties()
                    .into_iter()
                    .filter(|p| matches!(p.expectation, Expectation::Sometimes));
                for property in sanity {
                    for state in model.init_states() {
                        assert!(
                            !(property.condition)(&model, &state),
                            "{kind:?} ({}): '{}' holds in the initial state",
                            config.timing,
                            property.name
                        );
                    }
                }
            });
        }
    }
}

/// The coverage report counts every transition of the graph once, by kind,
/// and names the kinds a model allows: here ticks of the timed model, the
/// crash, and each message and timer of Bully.
#[test]
fn coverage_counts_every_transition_by_kind() {
    use elect::model::ClockConfig;
    let kind = ProtocolKind::Bully;
    let config = ModelConfig {
        nodes: 3,
        crashes: 1,
        timing: Timing::Timed,
        clock: Some(ClockConfig::default()),
        ..ModelConfig::default_for(kind)
    };
    let result = check(kind, config, defaults(kind));
    let liveness = result.liveness.as_ref().expect("liveness ran");
    let counted: u64 = liveness.coverage.values().sum();
    assert_eq!(counted, liveness.edges as u64);
    for step in [
        "tick",
        "crash",
        "GST",
        "deliver Election",
        "fire AnswerTimeout",
    ] {
        assert!(
            liveness.coverage.get(step).is_some_and(|&n| n > 0),
            "{step}: {:?}",
            liveness.coverage
        );
    }
    assert!(
        !liveness.coverage.contains_key("lose Ok"),
        "no loss modelled"
    );
}
