"""Offline throughput, each figure beside a baseline measured in the same run.

- Estimators: events/s of each estimator (analytic interval, no bootstrap; then IPS with a
  1000-resample bootstrap) on 1,000,000 synthetic rounds, beside ``numpy.mean`` over the same
  reward array (the floor: one pass over memory).
- Simulation: simulated impressions/s through the service (decide, log to SQLite, draw the
  world's click, record it, learn), beside a bare VW loop on the same features (predict +
  learn, no service, no log): the ratio is what the service's integrity costs.

Run: .venv/bin/python benchmarks/offline.py [--rounds 1000000] [--impressions 3000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def estimator_rows(n_rounds: int) -> list[tuple[str, float, float]]:
    from artwork.simulations import estimators

    rng = np.random.default_rng(0)
    k = 6
    action = rng.integers(0, k, n_rounds)
    pscore = np.full(n_rounds, 1 / k)
    reward = (rng.random(n_rounds) < 0.1).astype(float)
    logits = rng.normal(size=(n_rounds, k))
    action_dist = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    reward_hat = rng.random((n_rounds, k)) * 0.2
    baseline = timed(lambda: float(np.mean(reward)))
    rows = [("numpy.mean (baseline)", n_rounds / baseline, 1.0)]
    for name in ("IPS", "SNIPS", "DM", "DR", "SwitchDR"):
        est = estimators.make_estimator(name, n_bootstrap=0)
        t = timed(lambda est=est: est.estimate(reward, action, pscore, action_dist, reward_hat))
        rows.append((f"{name} (analytic CI)", n_rounds / t, baseline / t))
    est = estimators.make_estimator("IPS", n_bootstrap=1000)
    t = timed(lambda: est.estimate(reward, action, pscore, action_dist), repeat=1)
    rows.append(("IPS (+1000 bootstrap)", n_rounds / t, baseline / t))
    return rows


def simulation_rows(n: int) -> list[tuple[str, float, float]]:
    import vowpalwabbit

    from artwork.demo_catalog import demo_titles
    from artwork.features import build_features, parse_time, time_context, to_vw
    from artwork.simulations.simulate import POLICIES, run_policy
    from artwork.simulations.world import World

    world = World(demo_titles(), seed=0)
    rng = np.random.default_rng(1)
    titles = {t["id"]: t for t in world.catalog}
    requests = [world.sample_request(rng) for _ in range(n)]
    prepared = [build_features(world.genre_affinity(r.user), time_context(parse_time(r.context["time"])),
                               r.context["device"], titles[r.title_id]["artwork"]) for r in requests]

    def bare():
        ws = vowpalwabbit.Workspace(POLICIES["default"].vw_args + " --quiet")
        for feats in prepared:
            pmf = ws.predict(to_vw(feats))
            ws.learn(to_vw(feats, label=(int(np.argmax(pmf)), -float(rng.random() < 0.1), float(max(pmf)))))
        ws.finish()

    t_bare = timed(bare, repeat=1)
    seconds = {}
    for batched in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_policy(world, POLICIES["default"], n, seed=1, out_dir=Path(tmp), batched=batched)
            seconds[batched] = time.perf_counter() - start
    return [("bare VW predict+learn, the default policy (baseline)", n / t_bare, 1.0),
            ("simulated impressions through the service, durable store (a commit per write)",
             n / seconds[False], t_bare / seconds[False]),
            ("simulated impressions through the service, simulation store (no fsync, batched commits)",
             n / seconds[True], t_bare / seconds[True])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1_000_000)
    parser.add_argument("--impressions", type=int, default=3000)
    args = parser.parse_args()
    print("| what | events/s | ratio to baseline |\n| --- | --- | --- |")
    for name, rate, ratio in estimator_rows(args.rounds) + simulation_rows(args.impressions):
        print(f"| {name} | {rate:,.0f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
