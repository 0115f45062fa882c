"""The experiments' statistics (artwork/experiment_stats.py) over many seeded experiments on
per-person data drawn from the synthetic world, where the true lift is known exactly
(simulations/experiment.PersonLevelWorld): the intervals hold the true lift at their stated
rate, A/A experiments read after every batch stay at or under 5% false declarations, and an arm
made worse on purpose is stopped by the guardrail's test."""

import math

import numpy as np
import pytest

from artwork import experiment_stats as stats
from artwork.simulations.experiment import PersonLevelWorld, lift_of

EXPERIMENTS = 300
REQUESTS = 3000
LOOKS = 20
MARGIN = 0.05


@pytest.fixture(scope="module")
def world():
    return PersonLevelWorld(people=300)


def test_the_intervals_hold_the_true_lift_at_their_stated_rate_over_300_experiments(world):
    true = world.true_rate("personalized") / world.true_rate("default") - 1
    assert true > 0.5  # the world's personalized artwork earns much more than the default
    held_always_valid = held_fixed = 0
    for seed in range(EXPERIMENTS):
        (arm, control), = world.run(np.random.default_rng([seed, 1]), f"coverage-{seed}",
                                    [("personalized", 1.0), ("default", 1.0)], REQUESTS)
        found = lift_of(arm, control)
        held_always_valid += found.always_valid[0] <= true <= found.always_valid[1]
        held_fixed += found.fixed[0] <= true <= found.fixed[1]
    # the fixed 95% interval near 95% (300 experiments: +-2.5% is two standard errors), the
    # confidence sequence, valid at every look at once, at least as often
    assert 0.92 <= held_fixed / EXPERIMENTS <= 0.99
    assert held_always_valid / EXPERIMENTS >= 0.95
    assert held_always_valid >= held_fixed


def test_a_and_a_read_after_every_batch_declares_a_difference_in_at_most_5_percent_of_300_experiments(world):
    declared = declared_by_fixed = 0
    for seed in range(EXPERIMENTS):
        ever = ever_fixed = False
        for arm, control in world.run(np.random.default_rng([seed, 2]), f"aa-{seed}",
                                      [("default", 1.0), ("default", 1.0)], 4000, looks=LOOKS):
            found = lift_of(arm, control)
            if found.always_valid is None:
                continue
            ever |= found.differs()
            ever_fixed |= not found.fixed[0] <= 0.0 <= found.fixed[1]
        declared += ever
        declared_by_fixed += ever_fixed
    assert declared / EXPERIMENTS <= 0.05
    # what peeking does to a fixed-horizon interval: why the service reads a confidence sequence
    assert declared_by_fixed > 2 * max(declared, 5)


def test_an_arm_made_worse_on_purpose_is_stopped_by_the_guardrail_and_an_equal_one_is_not(world):
    stopped_at, equal_stopped = [], 0
    for seed in range(100):
        for look, (arm, control) in enumerate(world.run(np.random.default_rng([seed, 3]), f"worse-{seed}",
                                                        [("default", 0.6), ("default", 1.0)], 8000, looks=32)):
            if lift_of(arm, control).below(MARGIN):
                stopped_at.append(look)
                break
        for arm, control in world.run(np.random.default_rng([seed, 4]), f"equal-{seed}",
                                      [("default", 1.0), ("default", 1.0)], 8000, looks=32):
            if lift_of(arm, control).below(MARGIN):
                equal_stopped += 1
                break
    assert len(stopped_at) >= 95  # 40% fewer clicks: stopped within 8,000 requests
    assert equal_stopped <= 5


def test_a_persons_impressions_widen_the_interval_beyond_the_per_impression_binomial_one():
    # 50 people per arm, each with 20 decisions: half never click, half click every time
    decisions = np.full(50, 20)
    clicks = np.where(np.arange(50) % 2 == 0, 20, 0)
    rate = stats.ratio_rate(clicks, decisions)
    binomial = math.sqrt(rate.value * (1 - rate.value) / decisions.sum())
    assert rate.value == 0.5
    assert rate.std_error > 4 * binomial


def test_no_interval_before_the_minimum_of_people_per_arm():
    few = stats.ratio_rate(np.ones(stats.MIN_PEOPLE - 1), np.full(stats.MIN_PEOPLE - 1, 3))
    many = stats.ratio_rate(np.ones(100), np.full(100, 3))
    assert stats.lift(many, few) == stats.Lift(0.0, None, None)
    assert stats.rate_interval(few) is None


def test_the_confidence_sequence_is_wider_than_the_fixed_interval_and_shrinks_with_people():
    widths = [stats.cs_half_width(1.0 / math.sqrt(n), n) for n in (100, 1000, 10_000)]
    assert widths[0] > widths[1] > widths[2]
    assert all(w > 1.96 / math.sqrt(n) for w, n in zip(widths, (100, 1000, 10_000), strict=True))
