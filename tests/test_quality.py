"""The decision-quality benchmark's parts: simulated runs on world variants, the fast store, the
peers, and the benchmark script itself."""

import json
import sqlite3

import numpy as np
import pytest

from artwork.demo_catalog import demo_titles
from artwork.simulations.simulate import POLICIES, lift_share, run_policy
from artwork.simulations.world import VARIANTS, World
from benchmarks.peers import MabwiserLinUCB, RidgeLinUCB, run_peer


def _log(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT user_id, title_id, features, pmf, chosen_index, probability, state, reward"
                            " FROM impressions ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_the_batched_simulation_store_gives_the_same_run_and_log_as_the_durable_one(tmp_path):
    world = World(demo_titles(), VARIANTS["default"], seed=3)
    fast = run_policy(world, POLICIES["default"], 400, seed=5, out_dir=tmp_path / "fast")
    slow = run_policy(world, POLICIES["default"], 400, seed=5, out_dir=tmp_path / "slow", batched=False)
    assert np.array_equal(fast.expected, slow.expected) and np.array_equal(fast.observed, slow.observed)
    assert _log(fast.database) == _log(slow.database)
    assert len(_log(fast.database)) == 400  # every decision committed when the run ends


def test_titles_added_mid_run_are_only_decided_on_once_the_world_has_them(tmp_path):
    world = World(demo_titles(), VARIANTS["new-titles"], seed=2)
    run = run_policy(world, POLICIES["default"], 600, seed=1, out_dir=tmp_path)
    rows = _log(run.database)
    half = int(600 * world.params.late_title_at)
    assert not {r[1] for r in rows[:half]} & world.late_titles
    assert {r[1] for r in rows[half:]} & world.late_titles


def test_the_service_is_told_the_estimated_affinity_not_the_true_taste(tmp_path):
    world = World(demo_titles(), VARIANTS["noisy-affinity"], seed=2)
    run = run_policy(world, POLICIES["uniform"], 50, seed=1, out_dir=tmp_path)
    conn = sqlite3.connect(run.database)
    rows = conn.execute("SELECT user_id, context FROM impressions").fetchall()
    conn.close()
    people = {u.id: u for u in world.users}
    for user_id, context in rows:
        told = json.loads(context)["genre_affinity"]
        estimate = world.estimated_affinity(people[user_id])
        assert told == pytest.approx({g: w / sum(estimate.values()) for g, w in estimate.items()}, abs=1e-5)


def test_lift_share_is_zero_for_uniform_and_one_for_the_oracle():
    uniform, oracle = np.array([0.1, 0.2]), np.array([0.3, 0.4])
    assert lift_share(uniform, uniform, oracle) == 0.0
    assert lift_share(oracle, uniform, oracle) == 1.0


def test_ridge_linucb_learns_the_world():
    world = World(demo_titles(), VARIANTS["default"], seed=1)
    run = run_peer(world, "ridge-linucb", RidgeLinUCB(alpha=0.5), 2500, seed=1)
    tail = slice(2000, 2500)
    assert lift_share(run.expected[tail], run.uniform[tail], run.oracle[tail]) > 0.3


def test_mabwiser_linucb_runs_one_bandit_per_title_and_picks_among_its_artwork():
    world = World(demo_titles(), VARIANTS["default"], seed=1)
    learner = MabwiserLinUCB(seed=1)
    run = run_peer(world, "mabwiser-linucb", learner, 400, seed=1)
    assert len(run.expected) == 400 and np.all(run.expected <= run.oracle + 1e-12)
    assert 1 <= len(learner._bandits) <= len(world.catalog)


def test_the_quality_benchmark_runs_and_reports_every_policy(capsys):
    from benchmarks.quality import POLICY_ROWS, main

    assert main(["--worlds", "default", "--seeds", "1", "--impressions", "300", "--jobs", "1"]) == 0
    table = capsys.readouterr().out
    for name, _ in POLICY_ROWS:
        assert f"| default | {name} |" in table


def test_artwork_simulate_runs_a_named_world_variant_and_refuses_an_unknown_one(tmp_path, runner):
    from artwork.cli import cli

    result = runner.invoke(cli, ["simulate", "--out", str(tmp_path / "r"), "--world", "quirks", "--impressions", "50",
                                 "--seeds", "1", "--policy", "uniform"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "r" / "uniform-seed1" / "simulation.json").read_text())
    assert meta["world_params"]["quirk_fraction"] == VARIANTS["quirks"].quirk_fraction > 0
    result = runner.invoke(cli, ["simulate", "--out", str(tmp_path / "s"), "--world", "mars"])
    assert result.exit_code != 0 and "unknown world 'mars'" in result.output
