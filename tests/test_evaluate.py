"""Offline evaluation and policy search on logs the service wrote, and their commands."""

import json

import numpy as np
import pytest

from artwork.cli import cli
from artwork.demo_catalog import demo_titles
from artwork.simulations import logs
from artwork.simulations.evaluate import (
    candidate_policies,
    context_free_best_dist,
    evaluate,
    reward_model,
    true_reward_matrix,
    vw_progressive_dist,
)
from artwork.simulations.simulate import POLICIES, run_policy
from artwork.simulations.world import World


@pytest.fixture(scope="module")
def world():
    return World(demo_titles(), seed=0)


@pytest.fixture(scope="module")
def simulated(world, tmp_path_factory):
    """A log from the uniform policy (the cleanest for offline evaluation) and its world."""
    out = tmp_path_factory.mktemp("sim")
    result = run_policy(world, POLICIES["uniform"], 2500, seed=3, out_dir=out)
    return result.database, logs.from_database(result.database)


def test_progressive_vw_never_sees_the_round_it_predicts(simulated):
    _, log = simulated
    small = log.subset(np.arange(50))
    dist = vw_progressive_dist(small, POLICIES["epsilon-greedy"].vw_args)
    # Before any learning the policy is uniform over the first round's candidates.
    k = len(small.candidates[0])
    assert np.allclose(dist[0, :k], 1 / k)
    assert np.allclose(dist.sum(axis=1), 1.0)
    # Round 30's prediction comes from a model that learned rounds 0..29 only: cutting the log
    # after round 30 (so rounds 31+ never existed) gives the same prediction.
    cut = vw_progressive_dist(small.subset(np.arange(31)), POLICIES["epsilon-greedy"].vw_args)
    k30 = len(small.candidates[30])
    assert np.allclose(cut[30, :k30], dist[30, :k30])


def test_a_policy_is_evaluated_with_its_own_propensity_floor(simulated):
    """The default's candidate keeps every probability at the service's 1% floor, as it would be
    shown; the unfloored default's goes as low as SquareCB takes it."""
    _, log = simulated
    found = {c.name: c for c in candidate_policies(log, [POLICIES["default"], POLICIES["default-unfloored"]])}
    floored, unfloored = found["vw:default"].action_dist, found["vw:default-unfloored"].action_dist
    mask = log.candidate_mask()
    assert floored[mask].min() >= 0.01 - 1e-12
    assert unfloored[mask].min() < 0.005


def test_context_free_best_uses_only_the_past():
    log = logs.BanditLog(
        event_ids=["a", "b", "c"], user_ids=["u"] * 3, title_ids=["t"] * 3, contexts=[{}] * 3,
        features=[{}] * 3, candidates=[["x", "y"]] * 3, action=np.array([1, 1, 0]),
        reward=np.array([1.0, 0.0, 0.0]), pscore=np.array([0.5, 0.5, 0.5]),
        logging_pmf=np.full((3, 2), 0.5), timestamps=np.arange(3.0))
    dist = context_free_best_dist(log)
    # round 0: nothing known -> first; round 1: y has value 2 (1/0.5) -> y; round 2: y still best (2/2=1 > 0)
    assert dist.tolist() == [[1, 0], [0, 1], [0, 1]]


def test_estimates_sit_beside_the_truth_and_cover_it(simulated, world):
    _, log = simulated
    truth = true_reward_matrix(log, world, "click")
    candidates = candidate_policies(log, [POLICIES["epsilon-greedy"]], truth=truth)
    names = [c.name for c in candidates]
    assert names == ["logging", "uniform", "context-free-best", "vw:epsilon-greedy", "oracle"]
    oracle = next(c for c in candidates if c.name == "oracle")
    uniform = next(c for c in candidates if c.name == "uniform")
    assert oracle.true_value > uniform.true_value + 0.05
    rows = evaluate(log, candidates, reward_model(log), n_bootstrap=0)
    by = {(r["policy"], r["estimator"]): r for r in rows}
    # Under uniform logging, the logging policy and uniform are the same policy.
    assert by[("logging", "ips")]["value"] == pytest.approx(float(log.reward.mean()))
    for policy in names:
        for est in ("ips", "snips", "dr"):
            row = by[(policy, est)]
            assert row["ci_low"] <= row["value"] <= row["ci_high"]
            assert row["true_value"] is not None
    # Uniform logging: replay of the oracle and the DR/SNIPS intervals contain the true values.
    assert by[("oracle", "replay")]["covered"]
    covered = [by[(p, e)]["covered"] for p in names for e in ("snips", "dr")]
    assert sum(covered) >= len(covered) - 1
    assert ("uniform", "replay") not in by  # replay is only for deterministic policies


def test_evaluate_command_on_a_simulated_log(simulated, tmp_path, runner):
    db, log = simulated
    out = tmp_path / "eval"
    result = runner.invoke(cli, ["evaluate", "--db", db, "--out", str(out), "--policy", "epsilon-greedy"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "estimates.json").read_text())
    assert {r["policy"] for r in rows} == {"logging", "uniform", "context-free-best", "vw:epsilon-greedy", "oracle"}
    assert all(r["true_value"] is not None for r in rows)
    assert "| oracle | replay |" in result.output
    assert (out / "estimates.png").stat().st_size > 0 and (out / "estimates.csv").exists()


def test_evaluate_command_on_the_service_database_and_dsjson(runner, tmp_path, client, clock, learner, data_dir):
    for i in range(40):
        d = client.post("/api/v1/select-artwork", json={"user_id": f"u{i}", "title_id": "t02"}).get_json()
        if i % 4 == 0:
            client.post(f"/api/v1/events/{d['decisions'][0]['event_id']}/click")
    clock.advance(31)
    learner.run_once()
    out = tmp_path / "eval"
    result = runner.invoke(cli, ["evaluate", "--db", str(data_dir / "artwork.db"), "--out", str(out),
                                 "--policy", "epsilon-greedy"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "estimates.json").read_text())
    assert all(r["true_value"] is None for r in rows)  # a live log: no known truth
    assert next(r for r in rows if r["policy"] == "logging" and r["estimator"] == "ips")["value"] == 0.25
    dsjson = tmp_path / "log.dsjson"
    assert runner.invoke(cli, ["export", "--data-dir", str(data_dir), "--out", str(dsjson)]).exit_code == 0
    result = runner.invoke(cli, ["evaluate", "--dsjson", str(dsjson), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output


def test_evaluate_refuses_ambiguous_or_empty_input(runner, tmp_path, data_dir):
    result = runner.invoke(cli, ["evaluate", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "exactly one of --db, --csv, --dsjson" in result.output
    result = runner.invoke(cli, ["evaluate", "--db", str(data_dir / "artwork.db"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "no decisions with a final reward" in result.output


def test_search_ranks_by_lower_bound(simulated, tmp_path, runner):
    db, _ = simulated
    out = tmp_path / "search"
    result = runner.invoke(cli, ["search", "--db", db, "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    import csv

    with open(out / "search.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    lows = [float(r["ci_low"]) for r in rows]
    assert lows == sorted(lows, reverse=True) and [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    assert all(r["true_value"] for r in rows)
    assert f"Best: `{rows[0]['vw_args']}`" in result.output
