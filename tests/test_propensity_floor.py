"""The propensity floor: no artwork is shown with a probability under PROPENSITY_FLOOR, and the
probability logged with a decision is the one the artwork was drawn with."""

import json
from collections import Counter

import pytest
from scipy.stats import chisquare

from artwork.policy import floor_pmf

CASES = [
    # (pmf, floor): what the policy said, and the floor
    ([1.0, 0.0, 0.0, 0.0], 0.01),
    ([0.97, 0.02, 0.005, 0.005], 0.01),
    ([0.5, 0.5], 0.01),
    ([0.9, 0.1 - 1e-12, 1e-12], 0.05),
    ([1.0] + [0.0] * 199, 0.01),  # 200 candidates: the floor can be at most 1/200
    ([0.25, 0.25, 0.25, 0.25], 0.3),  # a floor above 1/K: uniform is the most it can do
    ([0.7, 0.3], 0.0),
]


@pytest.mark.parametrize("pmf,floor", CASES)
def test_the_floored_distribution_is_a_distribution_with_every_probability_at_the_floor(pmf, floor):
    mixed = floor_pmf(pmf, floor)
    assert sum(mixed) == pytest.approx(1.0, abs=1e-12)
    assert min(mixed) >= min(floor, 1.0 / len(pmf)) - 1e-12
    # the policy's order survives the mixing
    assert sorted(range(len(pmf)), key=lambda i: -pmf[i]) == sorted(range(len(mixed)), key=lambda i: -mixed[i])


def test_a_distribution_already_above_the_floor_is_left_alone():
    pmf = [0.6, 0.3, 0.1]
    assert floor_pmf(pmf, 0.01) is pmf


def test_the_mixing_moves_no_more_mass_than_the_floor_needs():
    mixed = floor_pmf([1.0, 0.0, 0.0, 0.0], 0.01)
    assert mixed == pytest.approx([0.97, 0.01, 0.01, 0.01])


def test_logged_probabilities_are_the_sampling_probabilities_and_never_under_the_floor(make_app):
    """A nearly greedy policy (epsilon 0.001) gives its other candidates almost no mass; with the floor, each
    gets exactly the floor, and over many seeded draws each artwork is shown as often as the
    probability logged with it says (chi-square goodness of fit)."""
    app = make_app(VW_ARGS="--cb_explore_adf --epsilon 0.001", PROPENSITY_FLOOR=0.05, SEED=20261202)
    service = app.extensions["artwork"]
    context = {"time": "2026-11-23T21:30:00+01:00", "device": "tv", "genre_affinity": {"drama": 1.0}}
    # One click learned, so that one artwork leads and the others get (almost) nothing from VW.
    first = service.select_artwork("u0", ["t01"], context)["decisions"][0]
    service.record_outcome(first["event_id"], "click")
    app.extensions["artwork.learner"].run_once()
    shown, logged = Counter(), {}
    for i in range(3000):
        decision = service.select_artwork(f"u{i % 50}", ["t01"], context)["decisions"][0]
        shown[decision["artwork_id"]] += 1
        logged.setdefault(decision["artwork_id"], set()).add(decision["probability"])
        assert decision["probability"] >= 0.05 - 1e-12
        assert {r["probability"] for r in decision["ranking"]} >= {decision["probability"]}
    pmf = {r["artwork_id"]: r["probability"] for r in decision["ranking"]}
    assert min(pmf.values()) == pytest.approx(0.05)
    assert all(len(p) == 1 and p == {pmf[a]} for a, p in logged.items())  # one context, one distribution
    candidates = sorted(pmf)
    observed = [shown[a] for a in candidates]
    expected = [pmf[a] * 3000 for a in candidates]
    assert chisquare(observed, expected).pvalue > 0.001, (observed, expected)
    rows = service.store.query("SELECT pmf, probability, chosen_index FROM impressions")
    assert len(rows) == 3001
    for row in rows:
        stored = json.loads(row["pmf"])
        assert min(stored) >= 0.05 - 1e-12
        assert row["probability"] == stored[row["chosen_index"]]


def test_the_floor_is_a_setting_with_a_range(make_app):
    with pytest.raises(ValueError, match="PROPENSITY_FLOOR"):
        make_app(PROPENSITY_FLOOR=1.0)
    with pytest.raises(ValueError, match="PROPENSITY_FLOOR"):
        make_app(PROPENSITY_FLOOR=-0.1)
