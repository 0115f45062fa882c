"""Tests of the off-policy estimators (simulations/estimators.py).

- hand-computed 4-round cases for every estimator (values, analytic intervals, diagnostics);
- a table of malformed logs and hyperparameters (ValueError naming the problem);
- ground truth from the synthetic world (simulations/world.py): hundreds of seeded logs drawn
  under uniform and epsilon-greedy logging, rewards drawn from the world's true click
  probabilities, evaluated for the oracle and a softmax policy whose exact value on the log's
  requests is known; the 95% intervals must cover it in >= 90% of the logs.

The world-based logs draw their requests (with replacement) from a fixed pool of requests
sampled once from the world, so that the true click probabilities are computed once.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from statistics import NormalDist

import numpy as np
import pytest

from artwork.simulations import estimators as estimators_module
from artwork.simulations.estimators import (
    DM,
    DR,
    ESTIMATORS,
    IPS,
    SNIPS,
    Estimate,
    Replay,
    SwitchDR,
    estimate_all,
    make_estimator,
)
from artwork.simulations.world import World
from artwork.vocab import GENRES, SUBJECTS, TONES

Z = NormalDist().inv_cdf(0.975)  # 1.959964: 95% normal intervals


def normal_ci(mean: float, sum_sq_dev: float, n: int) -> tuple[float, float]:
    """mean +- z * sqrt(sample variance / n), sample variance = sum_sq_dev / (n - 1)."""
    half = Z * math.sqrt(sum_sq_dev / (n - 1) / n)
    return (mean - half, mean + half)


# A hand-computed log -----------------------------------------------------------------------------
#
# round | action | pscore | reward | action_dist (evaluation policy) | w = pi(a)/pscore
#   0   |   0    |  0.5   |   1    | [0.5 , 0.5 , 0  ]               | 0.5 /0.5  = 1
#   1   |   1    |  0.25  |   0    | [0   , 1   , 0  ]               | 1   /0.25 = 4
#   2   |   2    |  0.25  |   1    | [0.25, 0.25, 0.5]               | 0.5 /0.25 = 2
#   3   |   0    |  0.8   |   0    | [0.2 , 0.8 , 0  ]  (2 candidates; column 2 is padding)
#                                                                    | 0.2 /0.8  = 0.25
# sum w = 7.25, sum w^2 = 1 + 16 + 4 + 0.0625 = 21.0625, ESS = 7.25^2 / 21.0625 = 2.4955...
#
# reward_hat:          DM term sum_a pi * rhat              rhat(logged)  residual r - rhat
#   [0.6, 0.2, 0.4]    0.5*0.6 + 0.5*0.2            = 0.40     0.6            0.4
#   [0.2, 0.4, 0.8]    1*0.4                        = 0.40     0.4           -0.4
#   [0.4, 0.2, 0.6]    0.25*0.4 + 0.25*0.2 + 0.5*0.6 = 0.45    0.6            0.4
#   [0.2, 0.6, 0.0]    0.2*0.2 + 0.8*0.6            = 0.52     0.2           -0.2

REWARD = [1.0, 0.0, 1.0, 0.0]
ACTION = [0, 1, 2, 0]
PSCORE = [0.5, 0.25, 0.25, 0.8]
ACTION_DIST = [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5], [0.2, 0.8, 0.0]]
REWARD_HAT = [[0.6, 0.2, 0.4], [0.2, 0.4, 0.8], [0.4, 0.2, 0.6], [0.2, 0.6, 0.0]]


def run(estimator, **changes) -> Estimate:
    log = dict(reward=REWARD, action=ACTION, pscore=PSCORE, action_dist=ACTION_DIST,
               reward_hat=REWARD_HAT)
    log.update(changes)
    return estimator.estimate(**log)


def test_ips_by_hand():
    # terms w*r = [1, 0, 2, 0]: mean 0.75; deviations [.25, -.75, 1.25, -.75], squares sum 2.75
    e = run(IPS(n_bootstrap=0))
    assert e.estimator == "ips"
    assert e.value == pytest.approx(0.75)
    assert e.analytic_ci == pytest.approx(normal_ci(0.75, 2.75, 4))
    assert (e.ci_low, e.ci_high) == e.analytic_ci and e.ci_method == "analytic"
    assert e.alpha == 0.05
    d = e.diagnostics
    assert d["n_rounds"] == 4 and d["n_actions"] == 3
    assert d["effective_sample_size"] == pytest.approx(7.25 ** 2 / 21.0625)
    assert d["max_weight"] == pytest.approx(4.0)
    assert d["mean_weight"] == pytest.approx(7.25 / 4)
    assert d["std_error"] == pytest.approx(math.sqrt(2.75 / 3 / 4))


def test_clipped_ips_by_hand():
    # clip 1.5: w = [1, 1.5, 1.5, 0.25], terms [1, 0, 1.5, 0] -> 2.5 / 4 = 0.625
    # deviations [.375, -.625, .875, -.625]: squares .140625 + .390625 + .765625 + .390625 = 1.6875
    e = run(IPS(clip=1.5, n_bootstrap=0))
    assert e.value == pytest.approx(0.625)
    assert e.analytic_ci == pytest.approx(normal_ci(0.625, 1.6875, 4))
    assert e.diagnostics["n_clipped"] == 2 and e.diagnostics["clip"] == 1.5
    # the weight diagnostics describe the unclipped weights
    assert e.diagnostics["max_weight"] == pytest.approx(4.0)
    # clip 2: only round 1 (w = 4, reward 0) is clipped, so the value is IPS's 0.75
    assert run(IPS(clip=2.0, n_bootstrap=0)).value == pytest.approx(0.75)
    assert run(IPS(clip=math.inf, n_bootstrap=0)).value == pytest.approx(0.75)


def test_snips_by_hand():
    # sum w*r = 3, sum w = 7.25 -> 12/29 = 0.41379
    # delta method: psi_i = w_i (r_i - 12/29) / mean(w), mean(w) = 1.8125
    #   w (r - v) = [17, -48, 34, -3] / 29 (sums to 0); squares (289 + 2304 + 1156 + 9) / 841
    e = run(SNIPS(n_bootstrap=0))
    assert e.value == pytest.approx(12 / 29)
    sum_sq = 3758 / 841 / 1.8125 ** 2
    assert e.analytic_ci == pytest.approx(normal_ci(12 / 29, sum_sq, 4))


def test_dm_by_hand():
    # terms [0.40, 0.40, 0.45, 0.52]: mean 0.4425; deviations [-.0425, -.0425, .0075, .0775]
    # squares .00180625 * 2 + .00005625 + .00600625 = .009675
    e = run(DM(n_bootstrap=0))
    assert e.value == pytest.approx(0.4425)
    assert e.analytic_ci == pytest.approx(normal_ci(0.4425, 0.009675, 4))
    # DM ignores rewards, actions and propensities
    other = run(DM(n_bootstrap=0), reward=[0.0, 1.0, 0.0, 1.0], action=[2, 0, 0, 1],
                pscore=[1.0, 1.0, 0.1, 0.1])
    assert other.value == pytest.approx(0.4425)


def test_dr_by_hand():
    # corrections w * (r - rhat) = [1*.4, 4*-.4, 2*.4, .25*-.2] = [.4, -1.6, .8, -.05]
    # terms DM + correction = [.8, -1.2, 1.25, .47]: sum 1.32 -> 0.33
    # deviations [.47, -1.53, .92, .14]: squares .2209 + 2.3409 + .8464 + .0196 = 3.4278
    e = run(DR(n_bootstrap=0))
    assert e.value == pytest.approx(0.33)
    assert e.analytic_ci == pytest.approx(normal_ci(0.33, 3.4278, 4))


def test_clipped_dr_by_hand():
    # clip 2: w = [1, 2, 2, .25]; corrections [.4, -.8, .8, -.05]; terms [.8, -.4, 1.25, .47]
    # sum 2.12 -> 0.53
    e = run(DR(clip=2.0, n_bootstrap=0))
    assert e.value == pytest.approx(0.53)
    assert e.diagnostics["n_clipped"] == 1


def test_switch_dr_by_hand():
    # tau 2: rounds with w <= 2 (0, 2, 3) keep the correction, round 1 (w = 4) is DM only:
    #   terms [.8, .40, 1.25, .47] -> 2.92 / 4 = 0.73
    # deviations [.07, -.33, .52, -.26]: squares .0049 + .1089 + .2704 + .0676 = .4518
    e = run(SwitchDR(tau=2.0, n_bootstrap=0))
    assert e.value == pytest.approx(0.73)
    assert e.analytic_ci == pytest.approx(normal_ci(0.73, 0.4518, 4))
    assert e.diagnostics["n_switched_to_dm"] == 1 and e.diagnostics["tau"] == 2.0
    # tau 1.5: rounds 1 and 2 are DM only: terms [.8, .4, .45, .47] -> 2.12 / 4 = 0.53
    assert run(SwitchDR(tau=1.5, n_bootstrap=0)).value == pytest.approx(0.53)
    # tau inf is DR, tau 0 is DM here (no weight is 0)
    assert run(SwitchDR(n_bootstrap=0)).value == pytest.approx(0.33)
    assert run(SwitchDR(tau=0.0, n_bootstrap=0)).value == pytest.approx(0.4425)


def test_replay_by_hand():
    # The policy's action is the argmax of each row (the first on a tie): [0, 1, 2, 1].
    # Logged actions [0, 1, 2, 0]: rounds 0-2 match, rewards [1, 0, 1] -> 2/3
    # deviations [1/3, -2/3, 1/3]: squares 1/9 + 4/9 + 1/9 = 2/3 -> std error sqrt(2/3/2/3) = 1/3
    e = run(Replay(n_bootstrap=0))
    assert e.value == pytest.approx(2 / 3)
    assert e.analytic_ci == pytest.approx((2 / 3 - Z / 3, 2 / 3 + Z / 3))
    assert e.diagnostics["matched"] == 3
    assert e.diagnostics["match_rate"] == pytest.approx(0.75)
    assert e.diagnostics["deterministic_policy"] is False
    one_hot = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    e = run(Replay(n_bootstrap=0), action_dist=one_hot)
    assert e.value == pytest.approx(2 / 3) and e.diagnostics["deterministic_policy"] is True
    # no matched round: undefined, not an error
    e = run(Replay(n_bootstrap=10), action=[1, 0, 0, 0])
    assert e.diagnostics["matched"] == 0
    assert math.isnan(e.value) and math.isnan(e.ci_low) and e.analytic_ci is None


def test_replay_single_match_has_no_analytic_interval():
    e = run(Replay(n_bootstrap=50), action=[0, 0, 0, 0])  # only round 0 matches
    assert e.value == 1.0 and e.analytic_ci is None
    assert e.ci_method == "bootstrap"
    assert e.bootstrap_ci == (1.0, 1.0)  # every resample with a match has reward 1


def test_snips_with_all_weights_zero_is_undefined():
    # the policy never shows the logged actions [0, 1, 2, 0]
    never = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    e = run(SNIPS(n_bootstrap=10), action_dist=never)
    assert math.isnan(e.value) and e.analytic_ci is None
    assert e.diagnostics["effective_sample_size"] == 0.0


def test_estimate_policy_value_matches_estimate():
    for name, cls in ESTIMATORS.items():
        est = cls(n_bootstrap=0)
        assert est.estimate_policy_value(REWARD, ACTION, PSCORE, ACTION_DIST, REWARD_HAT) \
            == pytest.approx(run(est).value), name


def test_obp_shaped_arrays_are_accepted():
    dist3 = np.asarray(ACTION_DIST)[:, :, None]
    hat3 = np.asarray(REWARD_HAT)[:, :, None]
    assert run(DR(n_bootstrap=0), action_dist=dist3, reward_hat=hat3).value == pytest.approx(0.33)
    with pytest.raises(ValueError, match="len_list=1"):
        run(IPS(), action_dist=np.repeat(dist3, 2, axis=2))


def test_estimators_are_frozen():
    with pytest.raises(FrozenInstanceError):
        IPS().clip = 3.0  # type: ignore[misc]


# Bootstrap -------------------------------------------------------------------------------------

def test_bootstrap_by_hand():
    # Two rounds with IPS terms [0, 2]: a resample's mean is 0, 1 or 2 with probabilities
    # 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are 0 and 2.
    e = IPS(n_bootstrap=400).estimate([0.0, 1.0], [0, 0], [0.5, 0.5], [[1.0, 0.0]] * 2)
    assert e.value == 1.0
    assert e.bootstrap_ci == (0.0, 2.0)


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(5)
    n, k = 300, 4
    reward = rng.random(n)
    action = rng.integers(0, k, n)
    dist = rng.dirichlet(np.ones(k), n)
    args = (reward, action, np.full(n, 1 / k), dist)
    a = IPS(n_bootstrap=200, random_state=1).estimate(*args)
    b = IPS(n_bootstrap=200, random_state=1).estimate(*args)
    c = IPS(n_bootstrap=200, random_state=2).estimate(*args)
    assert a.bootstrap_ci == b.bootstrap_ci
    assert a.bootstrap_ci != c.bootstrap_ci
    assert a.bootstrap_ci[0] < a.value < a.bootstrap_ci[1]


def test_without_bootstrap_or_analytic_interval():
    e = run(IPS(n_bootstrap=0))
    assert all(math.isnan(x) for x in e.bootstrap_ci)
    # a single round has no sample variance: the interval falls back to the bootstrap
    e = IPS(n_bootstrap=20).estimate([1.0], [0], [0.5], [[1.0, 0.0]])
    assert e.value == 2.0 and e.analytic_ci is None
    assert e.ci_method == "bootstrap" and (e.ci_low, e.ci_high) == (2.0, 2.0)


# Validation ------------------------------------------------------------------------------------

def _bad_dist(row: int, values: list[float]) -> list[list[float]]:
    dist = [list(r) for r in ACTION_DIST]
    dist[row] = values
    return dist


INVALID_LOGS = [
    ("pscore 0", dict(pscore=[0.5, 0.0, 0.25, 0.8]), r"pscore must be a probability in \(0, 1\]"),
    ("pscore 1.5", dict(pscore=[0.5, 1.5, 0.25, 0.8]), r"pscore .* got 1\.5 at round 1"),
    ("pscore nan", dict(pscore=[0.5, 0.25, math.nan, 0.8]), "pscore"),
    ("pscore negative", dict(pscore=[-0.5, 0.25, 0.25, 0.8]), "pscore"),
    ("nan reward", dict(reward=[1.0, math.nan, 1.0, 0.0]), "reward must be finite"),
    ("inf reward", dict(reward=[1.0, 0.0, math.inf, 0.0]), "reward must be finite"),
    ("short reward", dict(reward=[1.0, 0.0, 1.0]), "same length"),
    ("long action", dict(action=[0, 1, 2, 0, 1]), "same length"),
    ("short pscore", dict(pscore=[0.5]), "same length"),
    ("2-D reward", dict(reward=[[1.0, 0.0, 1.0, 0.0]]), "1-D"),
    ("empty log", dict(reward=[], action=[], pscore=[], action_dist=np.zeros((0, 3)),
                       reward_hat=None), "empty"),
    ("action too large", dict(action=[0, 1, 3, 0]), r"action out of range.*got 3 at round 2"),
    ("action negative", dict(action=[0, -1, 2, 0]), "action out of range"),
    ("action not integer", dict(action=[0, 1.5, 2, 0]), "integer"),
    ("action not a number", dict(action=["a", "b", "c", "d"]), "integer"),
    ("row sums to 0.9", dict(action_dist=_bad_dist(2, [0.2, 0.2, 0.5])),
     r"action_dist rows must sum to 1.*row 2"),
    ("row sums to 1.1", dict(action_dist=_bad_dist(0, [0.6, 0.5, 0.0])), "sum to 1"),
    ("negative probability", dict(action_dist=_bad_dist(1, [1.2, -0.2, 0.0])),
     "non-negative"),
    ("nan probability", dict(action_dist=_bad_dist(1, [math.nan, 1.0, 0.0])),
     "action_dist must be finite"),
    ("action_dist too few rounds", dict(action_dist=ACTION_DIST[:3]),
     r"action_dist must have shape \(n_rounds, n_actions\)"),
    ("action_dist 1-D", dict(action_dist=[1.0, 1.0, 1.0, 1.0]), "action_dist must have shape"),
    ("reward_hat wrong shape", dict(reward_hat=[r[:2] for r in REWARD_HAT]),
     "reward_hat must have the shape of action_dist"),
    ("reward_hat nan", dict(reward_hat=[[math.nan, 0.2, 0.4]] + REWARD_HAT[1:]),
     "reward_hat must be finite"),
]


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("case,changes,message", INVALID_LOGS, ids=[c[0] for c in INVALID_LOGS])
def test_invalid_logs_are_refused(name, case, changes, message):
    with pytest.raises(ValueError, match=message):
        run(make_estimator(name, n_bootstrap=0), **changes)
    with pytest.raises(ValueError, match=message):
        log = dict(reward=REWARD, action=ACTION, pscore=PSCORE, action_dist=ACTION_DIST,
                   reward_hat=REWARD_HAT)
        log.update(changes)
        estimate_all(**log, estimators=[name])


@pytest.mark.parametrize("cls", [DM, DR, SwitchDR])
def test_missing_reward_hat_is_refused(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__} needs reward_hat"):
        run(cls(), reward_hat=None)
    with pytest.raises(ValueError, match="needs reward_hat"):
        cls().estimate_policy_value(REWARD, ACTION, PSCORE, ACTION_DIST)


INVALID_HYPERPARAMETERS = [
    (IPS, dict(alpha=0.0), "alpha"),
    (IPS, dict(alpha=1.0), "alpha"),
    (SNIPS, dict(alpha="0.05"), "alpha"),
    (DM, dict(n_bootstrap=-1), "n_bootstrap"),
    (DR, dict(n_bootstrap=10.5), "n_bootstrap"),
    (Replay, dict(n_bootstrap=True), "n_bootstrap"),
    (IPS, dict(random_state=-3), "random_state"),
    (IPS, dict(clip=0.0), "clip must be a number > 0"),
    (IPS, dict(clip=-1.0), "clip"),
    (DR, dict(clip=math.nan), "clip"),
    (DR, dict(clip="10"), "clip"),
    (SwitchDR, dict(tau=-1.0), "tau must be a number >= 0"),
    (SwitchDR, dict(tau=math.nan), "tau"),
    (SwitchDR, dict(tau=None), "tau"),
    (SNIPS, dict(estimator_name=""), "estimator_name"),
]


@pytest.mark.parametrize("cls,kwargs,message", INVALID_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in INVALID_HYPERPARAMETERS])
def test_invalid_hyperparameters_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_hyperparameters_are_keyword_only():
    with pytest.raises(TypeError):
        IPS(10.0)  # type: ignore[misc]


# Registry and estimate_all ---------------------------------------------------------------------

def test_registry_builds_every_estimator():
    assert set(ESTIMATORS) == {"replay", "ips", "snips", "dm", "dr", "switch-dr"}
    for name, cls in ESTIMATORS.items():
        est = make_estimator(name, n_bootstrap=50, alpha=0.1)
        assert type(est) is cls and est.estimator_name == name
        e = est.estimate(REWARD, ACTION, PSCORE, ACTION_DIST, REWARD_HAT)
        assert isinstance(e, Estimate) and e.estimator == name and e.alpha == 0.1
        assert e.ci_low <= e.value <= e.ci_high
        assert e.bootstrap_ci[0] <= e.bootstrap_ci[1]
        for key in ("n_rounds", "effective_sample_size", "max_weight", "mean_weight"):
            assert key in e.diagnostics, (name, key)
    assert isinstance(make_estimator("IPW", clip=5.0), IPS)
    assert make_estimator("ipw", clip=5.0).clip == 5.0
    assert isinstance(make_estimator("snipw"), SNIPS)
    assert isinstance(make_estimator("rm"), Replay)
    assert isinstance(make_estimator("switch_dr", tau=3.0), SwitchDR)
    with pytest.raises(ValueError, match="unknown estimator 'magic'"):
        make_estimator("magic")


def test_estimate_all():
    names = [e.estimator for e in estimate_all(REWARD, ACTION, PSCORE, ACTION_DIST)]
    assert names == ["replay", "ips", "snips"]  # those needing reward_hat are left out
    results = estimate_all(REWARD, ACTION, PSCORE, ACTION_DIST, REWARD_HAT)
    assert [e.estimator for e in results] == list(ESTIMATORS)
    mixed = estimate_all(REWARD, ACTION, PSCORE, ACTION_DIST, REWARD_HAT,
                         estimators=["dr", IPS(clip=1.5, estimator_name="ips-clip1.5")])
    assert [e.estimator for e in mixed] == ["dr", "ips-clip1.5"]
    assert [e.value for e in mixed] == pytest.approx([0.33, 0.625])
    with pytest.raises(ValueError, match="DR needs reward_hat"):
        estimate_all(REWARD, ACTION, PSCORE, ACTION_DIST, estimators=[DR()])
    with pytest.raises(ValueError, match="estimator instances or names"):
        estimate_all(REWARD, ACTION, PSCORE, ACTION_DIST, estimators=[IPS])


# Ground truth from the synthetic world ---------------------------------------------------------

CAST = ("Ana Ruiz", "Ben Okafor", "Chen Wei")


def make_catalog(n_titles: int = 24, seed: int = 3) -> list[dict]:
    """Titles with 2-3 genres and 4-8 artworks each (so logs need zero padding)."""
    rng = np.random.default_rng(seed)
    titles = []
    for t in range(1, n_titles + 1):
        k = int(rng.integers(2, 4))
        genres = [GENRES[i] for i in rng.choice(len(GENRES), k, replace=False)]
        artwork = [{"id": f"t{t:02d}-a{a}",
                    "tags": {"theme": genres[(a - 1) % k],
                             "tone": TONES[int(rng.integers(len(TONES)))],
                             "subject": SUBJECTS[int(rng.integers(len(SUBJECTS)))],
                             "cast": [CAST[int(rng.integers(len(CAST)))]]}}
                   for a in range(1, int(rng.integers(4, 9)) + 1)]
        titles.append({"id": f"t{t:02d}", "name": f"Title {t}", "genres": genres,
                       "artwork": artwork})
    return titles


class Pool:
    """Requests sampled once from a world, with every candidate's true click probability.

    ``prob[i, a]`` is P(click) of candidate ``a`` of request ``i`` (0 on padding), and
    ``logging[name]`` / ``target[name]`` are (n_pool, n_actions) policies."""

    def __init__(self, n_pool: int = 6000, seed: int = 11):
        self.world = World(make_catalog(), seed=seed)
        self.requests = self.world.sample_requests(np.random.default_rng(seed), n_pool)
        k = max(len(self.world.artwork_ids(t)) for t in self.world.title_ids)
        self.prob = np.zeros((n_pool, k))
        self.n_candidates = np.zeros(n_pool, dtype=int)
        best_fixed = self.world.best_fixed_artwork()
        best = np.zeros(n_pool, dtype=int)
        for i, r in enumerate(self.requests):
            probs = self.world.reward_probabilities(r.user, r.title_id, r.context)
            self.prob[i, :len(probs)] = list(probs.values())
            self.n_candidates[i] = len(probs)
            best[i] = list(probs).index(best_fixed[r.title_id])
        mask = np.arange(k)[None, :] < self.n_candidates[:, None]
        rows = np.arange(n_pool)
        uniform = mask / self.n_candidates[:, None]
        # epsilon-greedy (epsilon 0.3) around the best fixed artwork of the title
        greedy = 0.3 * uniform
        greedy[rows, best] += 0.7
        self.logging = {"uniform": uniform, "epsilon-greedy": greedy}
        oracle = np.zeros((n_pool, k))
        oracle[rows, np.argmax(self.prob, axis=1)] = 1.0  # the first best, as World.oracle
        z = np.where(mask, self.prob / 0.05, -np.inf)
        softmax = np.exp(z - z.max(axis=1, keepdims=True))
        softmax /= softmax.sum(axis=1, keepdims=True)
        self.target = {"oracle": oracle, "softmax": softmax}
        self.mask = mask

    def truth(self, idx: np.ndarray, target: str) -> float:
        """Exact value of the target policy on these requests (= World.policy_value; see
        test_dm_with_true_probabilities_is_exact)."""
        return float((self.target[target][idx] * self.prob[idx]).sum(axis=1).mean())

    def draw_log(self, seed: int, logging: str, n_rounds: int) -> dict:
        """Requests, logged actions (from the logging policy), their propensities and rewards
        drawn from the true click probabilities, plus a decent reward model: the true
        probability with N(0, 0.3^2) noise on the logit."""
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(self.requests), n_rounds)
        mu = self.logging[logging][idx]
        u = rng.random(n_rounds)[:, None]
        action = np.minimum((u >= np.cumsum(mu, axis=1)).sum(axis=1),
                            self.n_candidates[idx] - 1)
        rows = np.arange(n_rounds)
        reward = (rng.random(n_rounds) < self.prob[idx, action]).astype(float)
        p = np.where(self.mask[idx], self.prob[idx], 0.5)
        logit = np.log(p / (1.0 - p)) + rng.normal(0.0, 0.3, p.shape)
        reward_hat = np.where(self.mask[idx], 1.0 / (1.0 + np.exp(-logit)), 0.0)
        return {"idx": idx, "action": action, "reward": reward, "pscore": mu[rows, action],
                "reward_hat": reward_hat}


@pytest.fixture(scope="module")
def pool() -> Pool:
    return Pool()


N_SEEDS = 1000
N_ROUNDS = 2000
CONFIGS = [("uniform", "oracle"), ("uniform", "softmax"),
           ("epsilon-greedy", "oracle"), ("epsilon-greedy", "softmax")]


@pytest.fixture(scope="module")
def runs(pool) -> dict:
    """For each (logging, target): per estimator, arrays over seeds of whether the analytic
    95% interval covered the truth, the error (estimate - truth), the std error, the mean
    weight."""
    estimators = [IPS(n_bootstrap=0), SNIPS(n_bootstrap=0), DR(n_bootstrap=0),
                  Replay(n_bootstrap=0)]
    out = {}
    for c, (logging, target) in enumerate(CONFIGS):
        rows = {e.estimator_name: [] for e in estimators}
        for seed in range(N_SEEDS):
            log = pool.draw_log(10_000 * c + seed, logging, N_ROUNDS)
            truth = pool.truth(log["idx"], target)
            results = estimate_all(log["reward"], log["action"], log["pscore"],
                                   pool.target[target][log["idx"]], log["reward_hat"],
                                   estimators=estimators)
            for e in results:
                rows[e.estimator].append((e.ci_low <= truth <= e.ci_high, e.value - truth,
                                          e.diagnostics["std_error"],
                                          e.diagnostics["mean_weight"]))
        out[logging, target] = {
            name: dict(zip(("covered", "error", "std_error", "mean_weight"),
                           np.array(v, dtype=float).T, strict=True))
            for name, v in rows.items()}
    return out


def test_dm_with_true_probabilities_is_exact(pool):
    # DM with reward_hat = the true click probabilities is the policy's exact value on the
    # requests, whatever was logged and clicked: compare with World.policy_value.
    n = 300
    requests = pool.requests[:n]
    row_of = {id(r): i for i, r in enumerate(requests)}
    log = pool.draw_log(1, "uniform", n)  # rewards, actions, pscores: ignored by DM
    for target in ("oracle", "softmax"):
        dist = pool.target[target][:n]

        def policy(request, dist=dist):
            i = row_of[id(request)]
            ids = pool.world.artwork_ids(request.title_id)
            return {a: float(dist[i, j]) for j, a in enumerate(ids)}

        exact = pool.world.policy_value(policy, requests)
        e = DM(n_bootstrap=0).estimate(log["reward"], log["action"], log["pscore"], dist,
                                       pool.prob[:n])
        assert e.value == pytest.approx(exact, rel=1e-12)
        assert pool.truth(np.arange(n), target) == pytest.approx(exact, rel=1e-12)
    oracle_value = pool.world.policy_value(pool.world.oracle_policy(), requests)
    assert pool.truth(np.arange(n), "oracle") == pytest.approx(oracle_value, rel=1e-12)


CALIBRATED = [(logging, target, name) for logging, target in CONFIGS
              for name in ("ips", "snips", "dr")
              if (logging, target, name) != ("epsilon-greedy", "softmax", "ips")]


@pytest.mark.parametrize("logging,target,name", CALIBRATED)
def test_intervals_cover_the_truth(runs, logging, target, name):
    covered = runs[logging, target][name]["covered"]
    assert covered.sum() >= 0.9 * N_SEEDS, (
        f"{name} covered the truth in {int(covered.sum())}/{N_SEEDS} logs")


def test_ips_interval_with_heavy_weights(runs):
    # Epsilon-greedy logging puts 0.3 / K (K = 4-8) on the artworks a softmax policy often
    # picks: weights reach ~25 and IPS is right-skewed. The normal interval then misses low
    # more often than high (logs without a large-weight click), covering ~91% at 2000 rounds
    # (measured over 1000 other seeds) instead of 95%; SNIPS and DR are tested at >= 90% above.
    # Guard against regressions without asserting a coverage the method does not have.
    r = runs["epsilon-greedy", "softmax"]["ips"]
    assert r["covered"].sum() >= 0.85 * N_SEEDS


def test_replay_under_uniform_logging_agrees_with_the_truth(runs):
    # The oracle is deterministic and the log uniform, as Replay requires. Candidate counts
    # vary (4-8), which biases Replay slightly (a round with K candidates matches with
    # probability 1/K): the bias must stay small next to its spread.
    r = runs["uniform", "oracle"]["replay"]
    assert r["covered"].sum() >= 0.9 * N_SEEDS
    assert abs(r["error"].mean()) < 0.25 * r["error"].std()


@pytest.mark.parametrize("logging,target", CONFIGS)
def test_dr_with_a_decent_reward_model_has_lower_variance_than_ips(runs, logging, target):
    ips, dr = runs[logging, target]["ips"], runs[logging, target]["dr"]
    assert dr["error"].std() < 0.95 * ips["error"].std()
    assert np.mean(dr["std_error"] < ips["std_error"]) > 0.8
    assert dr["std_error"].mean() < 0.95 * ips["std_error"].mean()


@pytest.mark.parametrize("logging,target", CONFIGS)
def test_mean_weight_is_about_one_on_correct_logs(runs, logging, target):
    mean_weight = runs[logging, target]["ips"]["mean_weight"]
    assert abs(mean_weight.mean() - 1.0) < 0.01


def test_wrong_propensities_show_in_the_mean_weight(pool):
    # An epsilon-greedy log whose pscores claim uniform logging: the oracle's action is
    # usually the favoured one, so the weights average well above 1.
    log = pool.draw_log(7, "epsilon-greedy", 5000)
    wrong = 1.0 / pool.n_candidates[log["idx"]]
    e = IPS(n_bootstrap=0).estimate(log["reward"], log["action"], wrong,
                                    pool.target["oracle"][log["idx"]])
    assert e.diagnostics["mean_weight"] > 1.5


def test_bootstrap_intervals_cover_the_truth(pool):
    # Percentile bootstrap (200 resamples) over 200 uniform logs of 1500 rounds, for the
    # oracle (IPS, SNIPS and Replay resample the distinct terms) and for DR (resamples rounds).
    n_seeds, covered = 200, {}
    for seed in range(n_seeds):
        log = pool.draw_log(50_000 + seed, "uniform", 1500)
        truth = pool.truth(log["idx"], "oracle")
        for e in estimate_all(log["reward"], log["action"], log["pscore"],
                              pool.target["oracle"][log["idx"]], log["reward_hat"],
                              estimators=[IPS(n_bootstrap=200, random_state=seed),
                                          SNIPS(n_bootstrap=200, random_state=seed),
                                          Replay(n_bootstrap=200, random_state=seed),
                                          DR(n_bootstrap=200, random_state=seed)]):
            low, high = e.bootstrap_ci
            covered[e.estimator] = covered.get(e.estimator, 0) + (low <= truth <= high)
    for name, count in covered.items():
        assert count >= 0.88 * n_seeds, f"{name} bootstrap covered {count}/{n_seeds}"


def test_bootstrap_shortcut_matches_resampling_rounds(pool, monkeypatch):
    # With a deterministic policy and 0/1 rewards the IPS terms take a few distinct values and
    # the bootstrap draws a multinomial over them; forcing it to resample rounds must give
    # the same interval up to Monte Carlo error.
    log = pool.draw_log(3, "epsilon-greedy", 4000)
    args = (log["reward"], log["action"], log["pscore"], pool.target["oracle"][log["idx"]])
    for cls in (IPS, SNIPS, Replay):
        est = cls(n_bootstrap=2000, random_state=1)
        terms = est._pieces(estimators_module._validate(*args))
        assert estimators_module._compress(terms.num, terms.den) is not None
        fast = est.estimate(*args)
        with monkeypatch.context() as m:
            m.setattr(estimators_module, "_COMPRESS_FACTOR", 10 ** 12)  # never compress
            assert estimators_module._compress(terms.num, terms.den) is None
            slow = est.estimate(*args)
        se = fast.diagnostics["std_error"]
        assert fast.bootstrap_ci == pytest.approx(slow.bootstrap_ci, abs=0.35 * se), cls
        # and both agree with the analytic interval on a log this size
        assert fast.bootstrap_ci == pytest.approx(fast.analytic_ci, abs=0.5 * se), cls
