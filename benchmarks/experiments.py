"""The experiments' closing figures: interval coverage, A/A false positives under peeking, and
the guardrail's stopping time, over many seeded experiments in the synthetic world; then a few
whole experiments through the service (``artwork experiment simulate``'s code) with the true lift.

- Coverage: personalized (the world's oracle) against each title's default artwork, 3,000
  requests from 300 people, one look; the share of experiments whose 95% interval holds the
  world's exact true lift, for the confidence sequence and the fixed-horizon interval.
- A/A: default against default, 4,000 requests read after each of 20 batches; the share of
  experiments ever declared different (the interval excludes 0 at some look), for the
  confidence sequence and, to show what peeking does, the fixed interval.
- Guardrail: an arm whose click probabilities are scaled by 0.6 (or 0.8) against control,
  margin 5%, 8,000 requests read after each of 32 batches of 250; the share stopped and the
  median and 90th percentile of the requests and people at the stop; and equal arms' stops.
- Service: ``--service-runs`` experiments of ``--visitors`` through the service, each interval
  against its true lift.
- Candidate arms, through the service (``artwork experiment simulate --candidate``'s code, the
  guardrail on, margin 5%): (a) a candidate of the live model's own VW arguments against the
  live bandit, an A/A through a candidate arm, ``--candidate-runs`` experiments of
  ``--candidate-visitors`` read every ``LOOK_EVERY`` visitors: the share ever declared different
  (the confidence sequence excludes 0 at some look) or stopped by the guardrail, and whether the
  candidate's weights equalled the live model's at the end of every run; (b) a worse candidate
  (``WORSE_CANDIDATE``: nearly uniform), ``--worse-runs`` experiments of ``--worse-visitors``:
  the world's true lift up to the stop (or the end), the share stopped and the median visitors
  to the stop; (c) the live arguments as a candidate against a deliberately weak live bandit
  (``WEAK_LIVE``), ``--better-runs`` experiments of ``--worse-visitors``: the true lift and the
  share whose confidence sequence shows the lift (lies above 0) at the end.
- Decision cost: in-process ``select_artwork`` (one title, a durable SQLite store) without an
  experiment, and with one running, beside each other in the same run (best of 3 rounds).

Run: .venv/bin/python -m benchmarks.experiments [--experiments 2000] [--service-runs 16]
     .venv/bin/python -m benchmarks.experiments --candidates-only [--candidate-runs 40] [--worse-runs 16] \\
         [--better-runs 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from artwork.config import DEFAULT_VW_ARGS
from artwork.simulations.experiment import PersonLevelWorld, lift_of, run_experiment

#: Visitors between the candidate experiments' looks at the lift.
LOOK_EVERY = 250
#: A candidate that explores 90% of the time: nearly uniform, so worse than the live bandit.
WORSE_CANDIDATE = "--cb_explore_adf --epsilon 0.9"
#: A deliberately weak live bandit for the better candidate (the live arguments) to beat.
WEAK_LIVE = WORSE_CANDIDATE


def coverage(world: PersonLevelWorld, n: int) -> tuple[float, float]:
    true = world.true_rate("personalized") / world.true_rate("default") - 1
    cs = fixed = 0
    for seed in range(n):
        (arm, control), = world.run(np.random.default_rng([seed, 11]), f"coverage-{seed}",
                                    [("personalized", 1.0), ("default", 1.0)], 3000)
        found = lift_of(arm, control)
        cs += found.always_valid[0] <= true <= found.always_valid[1]
        fixed += found.fixed[0] <= true <= found.fixed[1]
    return cs / n, fixed / n


def a_and_a(world: PersonLevelWorld, n: int) -> tuple[float, float]:
    cs = fixed = 0
    for seed in range(n):
        ever = ever_fixed = False
        for arm, control in world.run(np.random.default_rng([seed, 12]), f"aa-{seed}",
                                      [("default", 1.0), ("default", 1.0)], 4000, looks=20):
            found = lift_of(arm, control)
            if found.always_valid is not None:
                ever |= found.differs()
                ever_fixed |= not found.fixed[0] <= 0.0 <= found.fixed[1]
        cs += ever
        fixed += ever_fixed
    return cs / n, fixed / n


def guardrail(world: PersonLevelWorld, n: int, factor: float) -> dict:
    requests, people = [], []
    for seed in range(n):
        for look, (arm, control) in enumerate(world.run(np.random.default_rng([seed, 13]), f"guard-{seed}",
                                                        [("default", factor), ("default", 1.0)], 8000, looks=32)):
            if lift_of(arm, control).below(0.05):
                requests.append(250 * (look + 1))
                people.append(len(arm) + len(control))
                break
    return {"stopped": len(requests) / n, "median_requests": float(np.median(requests)) if requests else None,
            "p90_requests": float(np.percentile(requests, 90)) if requests else None,
            "median_people": float(np.median(people)) if people else None}


def _simulated(candidate: str, seed: int, visitors: int, keep_weights: bool = False,
               live_vw_args: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return run_experiment(folder, visitors=visitors, seed=seed, candidate=candidate, look_every=LOOK_EVERY,
                              keep_weights=keep_weights, live_vw_args=live_vw_args)


def candidate_a_and_a(runs: int, visitors: int) -> dict:
    """A candidate of the live arguments against the live bandit: the share of runs ever declared
    different at a look, the share the guardrail stopped, and in how many runs the candidate's
    weights were the live model's at the end."""
    declared = stopped = same = 0
    for seed in range(runs):
        report = _simulated(DEFAULT_VW_ARGS, seed, visitors, keep_weights=True)
        declared += any(look["ci_low"] is not None and not look["ci_low"] <= 0.0 <= look["ci_high"]
                        for look in report["looks"])
        stopped += bool(report["guardrail"]["stopped_arms"])
        weights = report["weights"]
        same += "candidate" in weights and weights["candidate"] == weights["live"]
    return {"declared": declared / runs, "stopped": stopped / runs, "weights_equal": same}


def worse_candidate(runs: int, visitors: int) -> dict:
    """``WORSE_CANDIDATE`` against the live bandit: the world's true lift over the visitors before
    the stop (all of them if none), the share stopped and the median visitors to the stop."""
    true, stops = [], []
    for seed in range(runs):
        report = _simulated(WORSE_CANDIDATE, seed, visitors)
        stop = report["guardrail"]["stopped_after_visitors"].get("candidate")
        before = [look for look in report["looks"] if stop is None or look["visitors"] <= stop]
        if before:
            true.append(before[-1]["true"])
        if stop is not None:
            stops.append(stop)
        print(f"  worse candidate seed {seed}: true lift before the stop {_pct(true[-1] if before else None)}, "
              f"stopped after {stop} visitors", flush=True)
    return {"median_true_lift": float(np.median(true)), "max_true_lift": float(np.max(true)),
            "stopped": len(stops) / runs, "median_visitors": float(np.median(stops)) if stops else None,
            "p90_visitors": float(np.percentile(stops, 90)) if stops else None}


def better_candidate(runs: int, visitors: int) -> dict:
    """The live arguments as a candidate against a ``WEAK_LIVE`` live bandit: the true lift at the
    end, and the share of runs whose confidence sequence lies above 0 at the end."""
    true, shown = [], 0
    for seed in range(runs):
        lift = _simulated(DEFAULT_VW_ARGS, seed, visitors, live_vw_args=WEAK_LIVE)["lift"]
        true.append(lift["true"])
        shown += lift["ci_low"] is not None and lift["ci_low"] > 0
        print(f"  better candidate seed {seed}: lift {_pct(lift['value'])} CS [{_pct(lift['ci_low'])}, "
              f"{_pct(lift['ci_high'])}], true {_pct(lift['true'])}", flush=True)
    return {"median_true_lift": float(np.median(true)), "min_true_lift": float(np.min(true)), "shown": shown / runs}


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def candidates(args) -> None:
    found = candidate_a_and_a(args.candidate_runs, args.candidate_visitors)
    print(f"candidate = the live arguments, {args.candidate_runs} experiments of {args.candidate_visitors} visitors "
          f"read every {LOOK_EVERY}: declared different {found['declared']:.1%} (confidence sequence), stopped by "
          f"the guardrail {found['stopped']:.1%}; weights equal to the live model's at the end in "
          f"{found['weights_equal']}/{args.candidate_runs}", flush=True)
    found = worse_candidate(args.worse_runs, args.worse_visitors)
    print(f"candidate `{WORSE_CANDIDATE}`, {args.worse_runs} experiments of {args.worse_visitors} visitors: true lift "
          f"before the stop median {_pct(found['median_true_lift'])} (highest {_pct(found['max_true_lift'])}); "
          f"stopped {found['stopped']:.1%}, median after {found['median_visitors']} visitors (90th percentile "
          f"{found['p90_visitors']})", flush=True)
    found = better_candidate(args.better_runs, args.worse_visitors)
    print(f"candidate = the live arguments against a live bandit of `{WEAK_LIVE}`, {args.better_runs} experiments "
          f"of {args.worse_visitors} visitors: true lift median {_pct(found['median_true_lift'])} (lowest "
          f"{_pct(found['min_true_lift'])}); the confidence sequence shows it (above 0) at the end in "
          f"{found['shown']:.1%}")


def decision_cost(decisions: int = 1000, rounds: int = 4) -> dict:
    """Microseconds per in-process decision without an experiment, with one running whose two
    arms are both the bandit (so the difference is the experiment's own work: the running
    experiment's lookup, the hash, three more columns and the index entry), and with one whose
    two arms are both candidates of the live VW arguments (the candidate's model looked up
    instead of the live one), interleaved, the best of ``rounds`` each."""
    import time

    from artwork.app import create_app
    from artwork.cli import initialize
    from artwork.config import DEFAULT_VW_ARGS

    best = {"no experiment": float("inf"), "experiment running": float("inf"), "candidate arms": float("inf")}
    arms = {"experiment running": [{"name": "a", "policy": "bandit"}, {"name": "b", "policy": "bandit"}],
            "candidate arms": [{"name": "a", "policy": "candidate", "vw_args": DEFAULT_VW_ARGS},
                               {"name": "b", "policy": "candidate", "vw_args": DEFAULT_VW_ARGS}]}
    context = {"time": "2026-11-23T21:30:00+01:00", "device": "tv", "genre_affinity": {"drama": 1.0}}
    with tempfile.TemporaryDirectory() as folder:
        initialize(Path(folder) / "data").close()
        app = create_app({"DATA_DIR": str(Path(folder) / "data"), "LEARNER": "manual", "SEED": 1})
        service = app.extensions["artwork"]
        for round_ in range(rounds):
            for label in best:
                name = f"cost{round_}-{label.split()[0]}"
                if label in arms:
                    service.experiments.create(name, arms[label])
                    service.experiments.start(name)
                started = time.perf_counter()
                for i in range(decisions):
                    service.select_artwork(f"p{round_}-{i % 500}", ["t01"], context)
                best[label] = min(best[label], time.perf_counter() - started)
                if label in arms:
                    service.experiments.stop(name, "benchmark")
        service.store.close()
    return {label: 1e6 * seconds / decisions for label, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--service-runs", type=int, default=16)
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--candidates-only", action="store_true", help="run only the candidate arms' section")
    parser.add_argument("--candidate-runs", type=int, default=40)
    parser.add_argument("--candidate-visitors", type=int, default=2000)
    parser.add_argument("--worse-runs", type=int, default=16)
    parser.add_argument("--worse-visitors", type=int, default=4000)
    parser.add_argument("--better-runs", type=int, default=8)
    args = parser.parse_args()
    if args.candidates_only:
        candidates(args)
        return
    cost = decision_cost()
    print("decision cost in process: " + ", ".join(f"{label} {us:.0f} us" for label, us in cost.items()))
    world = PersonLevelWorld(people=300)
    true = world.true_rate("personalized") / world.true_rate("default") - 1
    print(f"world: 300 people, default click rate {world.true_rate('default'):.4f}, personalized "
          f"{world.true_rate('personalized'):.4f}, true lift {true:+.1%}")
    cs, fixed = coverage(world, args.experiments)
    print(f"coverage over {args.experiments} experiments: confidence sequence {cs:.1%}, fixed interval {fixed:.1%}")
    cs, fixed = a_and_a(world, args.experiments)
    print(f"A/A over {args.experiments} experiments, read after each of 20 batches: declared different "
          f"{cs:.1%} (confidence sequence), {fixed:.1%} (fixed interval)")
    for factor in (0.6, 0.8, 1.0):
        found = guardrail(world, args.experiments // 4, factor)
        print(f"guardrail, arm x{factor} over {args.experiments // 4} experiments: stopped {found['stopped']:.1%}; "
              f"median stop at {found['median_requests']} requests ({found['median_people']} people), "
              f"90th percentile {found['p90_requests']}")
    held = held_fixed = 0
    for seed in range(args.service_runs):
        with tempfile.TemporaryDirectory() as folder:
            lift = run_experiment(folder, visitors=args.visitors, seed=seed)["lift"]
        held += lift["holds_true"]
        held_fixed += lift["fixed_ci_low"] <= lift["true"] <= lift["fixed_ci_high"]
        print(f"  service run seed {seed}: lift {lift['value']:+.1%} CS [{lift['ci_low']:+.1%}, "
              f"{lift['ci_high']:+.1%}], true {lift['true']:+.1%}", flush=True)
    runs = args.service_runs
    print(f"through the service, {runs} experiments of {args.visitors} visitors: the confidence sequence held the "
          f"true lift {held}/{runs}, the fixed interval {held_fixed}/{runs}")
    candidates(args)


if __name__ == "__main__":
    main()
