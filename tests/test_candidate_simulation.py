"""``artwork experiment simulate --candidate``: the live bandit against a candidate arm in the
synthetic world, through the service's own code, the candidate's model learning the whole log
off-policy. The report says what was run, the candidate's VW arguments and how far its model
learned, and its interval holds the world's true lift; a candidate of the live model's own
arguments ends with the live model's weights."""

import json

from artwork.cli import cli
from artwork.config import DEFAULT_VW_ARGS
from artwork.policy import Model
from artwork.simulations.experiment import run_experiment

CANDIDATE = "--cb_explore_adf --epsilon 0.2 --cb_type ips -q GA"


def test_simulate_with_a_candidate_reports_live_against_candidate_and_holds_the_true_lift(runner, tmp_path):
    out = tmp_path / "sim"
    r = runner.invoke(cli, ["experiment", "simulate", "--out", str(out), "--visitors", "1500", "--seed", "4",
                            "--candidate", CANDIDATE])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert [(a["name"], a["policy"], a["control"], a["vw_args"]) for a in report["arms"]] == [
        ("live", "bandit", True, None), ("candidate", "candidate", False, CANDIDATE)]
    assert sum(a["decisions"] for a in report["arms"]) == 1500
    assert CANDIDATE in report["description"] and "default artwork" not in report["description"]
    assert report["live_vw_args"] == DEFAULT_VW_ARGS
    lift = report["lift"]
    assert lift["arm"] == "candidate"
    assert lift["ci_low"] <= lift["true"] <= lift["ci_high"] and lift["holds_true"]
    # every decision became final at the end, and the candidate learned each of them, as the live model did
    model, = report["candidate_models"]
    assert model["vw_args"] == CANDIDATE and model["learned"] == model["live_learned"] == 1500
    assert model["behind"] == 0 and model["weights_equal_live"] is False
    markdown = (out / "report.md").read_text()
    assert CANDIDATE in markdown and "live (control)" in markdown and "personalized" not in markdown


def test_a_candidate_of_the_live_arguments_ends_with_the_live_models_weights(tmp_path):
    report = run_experiment(tmp_path / "sim", visitors=600, seed=5, candidate=DEFAULT_VW_ARGS, keep_weights=True)
    untrained = Model(DEFAULT_VW_ARGS)
    try:
        assert report["weights"]["live"] != untrained.weights()  # it learned: the equality below says something
    finally:
        untrained.close()
    assert report["weights"]["candidate"] == report["weights"]["live"]
    assert report["candidate_models"][0]["weights_equal_live"] is True
    assert report["lift"]["true"] == 0.0  # the same model draws both arms: no lift to find


def test_simulate_refuses_a_candidate_the_service_would_refuse_before_writing_anything(runner, tmp_path):
    out = tmp_path / "sim"
    r = runner.invoke(cli, ["experiment", "simulate", "--out", str(out), "--candidate", "--cb_adf"])
    assert r.exit_code == 1 and "must include --cb_explore_adf" in r.output
    assert not out.exists()
