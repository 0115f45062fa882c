"""Online simulation through the service's code, and the commands that wrap it."""

import json

import pytest

from artwork.cli import cli
from artwork.demo_catalog import demo_titles
from artwork.simulations import logs
from artwork.simulations.simulate import POLICIES, policy_spec, run_policy, run_simulation
from artwork.simulations.world import World
from artwork.storage import Store


@pytest.fixture(scope="module")
def world():
    return World(demo_titles(), seed=0)


def test_a_run_is_a_service_log(world, tmp_path):
    result = run_policy(world, POLICIES["epsilon-greedy"], 300, seed=4, out_dir=tmp_path)
    store = Store(result.database)
    assert store.scalar("SELECT count(*) FROM impressions") == 300
    assert store.scalar("SELECT count(*) FROM impressions WHERE state = 'final'") == 300
    assert store.scalar("SELECT count(*) FROM learn_queue") == 300
    assert store.scalar("SELECT max(seq) FROM checkpoints") == 300
    assert store.scalar("SELECT count(DISTINCT policy) FROM impressions") == 1
    clicks = store.scalar("SELECT count(DISTINCT event_id) FROM outcomes WHERE kind = 'click'")
    assert clicks == int(result.observed.sum())
    meta = json.loads((tmp_path / "epsilon-greedy-seed4" / "simulation.json").read_text())
    assert meta["world_seed"] == 0 and meta["impressions"] == 300
    log = logs.from_database(result.database)
    assert log.n_rounds == 300 and (log.pscore > 0).all()


def test_runs_are_replayable_from_their_seeds(world, tmp_path):
    a = run_policy(world, POLICIES["epsilon-greedy"], 200, seed=9, out_dir=tmp_path / "a")
    b = run_policy(world, POLICIES["epsilon-greedy"], 200, seed=9, out_dir=tmp_path / "b")
    assert a.expected.tolist() == b.expected.tolist() and a.observed.tolist() == b.observed.tolist()


def test_contextual_bandit_beats_context_free_and_uniform(world, tmp_path):
    results = run_simulation(world, [POLICIES[p] for p in ("uniform", "context-free", "epsilon-greedy")], 4000,
                             [1], tmp_path, show_progress=False)
    tail = {r.policy: r.expected[-1500:].mean() for r in results}
    oracle = results[0].oracle.mean()
    assert tail["epsilon-greedy"] > tail["context-free"] + 0.015
    assert tail["epsilon-greedy"] > tail["uniform"] + 0.02
    assert tail["epsilon-greedy"] < oracle
    for name in ("README.md", "curves.csv", "summary.csv", "learning_curves.png", "regret.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_policy_spec_accepts_names_and_vw_arguments():
    assert policy_spec("squarecb") is POLICIES["squarecb"]
    assert policy_spec("--cb_explore_adf --epsilon 0.3").vw_args == "--cb_explore_adf --epsilon 0.3"
    with pytest.raises(ValueError, match="unknown policy"):
        policy_spec("greedy-please")


def test_simulate_command_smoke(runner, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(cli, ["simulate", "--out", str(out), "--impressions", "150", "--seeds", "2",
                                 "--policy", "uniform", "--policy", "epsilon-greedy"])
    assert result.exit_code == 0, result.output
    assert "| uniform |" in result.output and "| epsilon-greedy |" in result.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "epsilon-greedy-seed1", "epsilon-greedy-seed2", "uniform-seed1", "uniform-seed2"]
    again = runner.invoke(cli, ["simulate", "--out", str(out), "--impressions", "150", "--seeds", "1",
                                "--policy", "uniform"])
    assert again.exit_code == 1 and "exists" in again.output
    bad = runner.invoke(cli, ["simulate", "--out", str(tmp_path / "x"), "--policy", "nope"])
    assert bad.exit_code == 2 and "unknown policy" in bad.output


def test_offline_benchmark_smoke():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "offline.py"
    out = subprocess.run([sys.executable, str(script), "--rounds", "2000", "--impressions", "30"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "| IPS (analytic CI) |" in out and "| simulated impressions through the service, simulation store" in out
