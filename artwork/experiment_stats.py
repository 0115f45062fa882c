"""The statistics of a live experiment, from per-person aggregates: pure numpy, no I/O.

The person is the unit of randomisation (``experiments.assign_arm`` hashes the person), so the
person is the unit here too: an arm's click rate is the ratio estimator ``sum(clicks) /
sum(decisions)`` over its people, and its variance comes from the people's residuals
``clicks_i - rate * decisions_i`` (the delta method for a ratio of means, which is what a
cluster-robust standard error is). A person's impressions are correlated (one person with a
taste clicks or ignores the same kind of artwork again and again), so per-impression binomial
intervals are too narrow; these are not.

The lift of an arm over control is ``rate_arm / rate_control - 1``, estimated on the log scale
(``log rate_arm - log rate_control``, whose delta-method variance is the sum of the two arms'
relative variances: the arms' people are disjoint), and turned back at the ends.

Two intervals come with every lift:

- ``fixed``: the 95% delta-method interval. Valid when looked at ONCE, at a horizon fixed up
  front; looking after every batch and stopping at the first exclusion of 0 inflates false
  positives far past 5% (benchmarks/README.md has the count).
- ``always_valid``: an asymptotic confidence sequence (Waudby-Smith, Arbour, Sinha, Kennedy and
  Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences", Annals of
  Statistics 2024: the two-sided normal-mixture boundary of their Theorem 2.2). With ``n``
  people so far and the lift's standard error ``se``, its half-width is
  ``se * sqrt(n) * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * log(sqrt(n rho^2 + 1) / alpha))``: the
  unit-variance boundary scaled by the estimated per-person standard deviation ``se * sqrt(n)``.
  It holds at every ``n`` at once, so the results may be read (and the guardrail may act) after
  every batch with at most ``alpha`` chance of ever excluding the truth, asymptotically. The
  price is width: about 1.5-2 times the fixed interval at the sizes an experiment has.
  ``rho`` makes it tightest at ``OPTIMAL_PEOPLE`` people (their closed form).

Why a confidence sequence rather than a fixed horizon: the demo panel, the API and the
guardrail all read results while the experiment runs, and a guardrail that may only look once
protects nobody in between. Before ``MIN_PEOPLE`` people per arm no interval is given at all:
the CS is asymptotic, and the first few people say nothing about a normal approximation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: 95% intervals.
ALPHA = 0.05
#: The number of people (both arms) at which the confidence sequence is tightest.
OPTIMAL_PEOPLE = 1000
#: Fewest people per arm before any interval is given (and the guardrail may act).
MIN_PEOPLE = 30


@dataclass(frozen=True)
class Rate:
    """One arm's rate of a per-decision outcome: ``value`` (outcomes per decision, in [0, 1])
    and its standard error with the person as the unit (None with fewer than two people)."""

    people: int
    decisions: int
    events: int
    value: float | None
    std_error: float | None


def ratio_rate(events: np.ndarray, decisions: np.ndarray) -> Rate:
    """``sum(events) / sum(decisions)`` over people (one entry each), with the delta-method
    standard error ``sqrt(sum(r_i^2) / (m (m - 1))) / mean(decisions)``, ``r_i = events_i -
    rate * decisions_i`` (m people)."""
    events = np.asarray(events, dtype=float)
    decisions = np.asarray(decisions, dtype=float)
    m, total = len(decisions), float(decisions.sum())
    if m == 0 or total <= 0:
        return Rate(m, int(total), int(events.sum()), None, None)
    value = float(events.sum()) / total
    if m < 2:
        return Rate(m, int(total), int(events.sum()), value, None)
    residual = events - value * decisions
    std_error = math.sqrt(float(residual @ residual) / (m * (m - 1))) / (total / m)
    return Rate(m, int(total), int(events.sum()), value, std_error)


def cs_half_width(std_error: float, people: int, alpha: float = ALPHA, optimal_people: int = OPTIMAL_PEOPLE) -> float:
    """Half-width of the asymptotic confidence sequence for an estimate with ``std_error`` from
    ``people`` units (see the module docstring)."""
    log_alpha = -2.0 * math.log(alpha)
    rho2 = (log_alpha + math.log(log_alpha + 1.0)) / optimal_people
    t = float(people)
    boundary = math.sqrt(2.0 * (t * rho2 + 1.0) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1.0) / alpha))
    return std_error * math.sqrt(t) * boundary


@dataclass(frozen=True)
class Lift:
    """An arm's lift over control, ``rate / control_rate - 1`` (0.3 is 30% more), with its fixed
    95% interval and its always-valid 95% confidence sequence; the interval ends are None
    until each arm has ``MIN_PEOPLE`` people and both rates are positive."""

    value: float | None
    fixed: tuple[float, float] | None
    always_valid: tuple[float, float] | None

    def below(self, margin: float) -> bool:
        """Whether the confidence sequence says the lift is below ``-margin``: the arm does
        worse than control by more than the margin, with confidence (the guardrail's test)."""
        return self.always_valid is not None and self.always_valid[1] < -margin

    def differs(self) -> bool:
        """Whether the confidence sequence excludes no difference (a lift of 0)."""
        return self.always_valid is not None and not self.always_valid[0] <= 0.0 <= self.always_valid[1]


def lift(arm: Rate, control: Rate, alpha: float = ALPHA) -> Lift:
    """The lift of ``arm`` over ``control`` (rates from ``ratio_rate``, disjoint people)."""
    if not (arm.value and control.value):
        return Lift(None, None, None)
    value = arm.value / control.value - 1.0
    if arm.std_error is None or control.std_error is None or min(arm.people, control.people) < MIN_PEOPLE:
        return Lift(value, None, None)
    log_lift = math.log(arm.value / control.value)
    std_error = math.sqrt((arm.std_error / arm.value) ** 2 + (control.std_error / control.value) ** 2)
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    fixed = (math.expm1(log_lift - z * std_error), math.expm1(log_lift + z * std_error))
    half = cs_half_width(std_error, arm.people + control.people, alpha)
    return Lift(value, fixed, (math.expm1(log_lift - half), math.expm1(log_lift + half)))


def rate_interval(rate: Rate, alpha: float = ALPHA) -> tuple[float, float] | None:
    """The always-valid interval of one arm's rate (clipped to [0, 1]), or None before
    ``MIN_PEOPLE`` people."""
    if rate.value is None or rate.std_error is None or rate.people < MIN_PEOPLE:
        return None
    half = cs_half_width(rate.std_error, rate.people, alpha)
    return (max(0.0, rate.value - half), min(1.0, rate.value + half))

