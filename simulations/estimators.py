"""Off-policy estimators: what would policy X have earned on this decision log?

The service logs, for each round ``i``, the candidates shown, the logging policy's probability
of each, the chosen candidate ``action[i]`` (its index among that round's candidates), its
propensity ``pscore[i]`` and the observed ``reward[i]``. Given the probability ``action_dist[i, a]``
that an *evaluation* policy would show candidate ``a`` in round ``i``, the estimators below say
what that policy's mean reward per round would have been. They follow the conventions of Open
Bandit Pipeline (OBP): small dataclasses with their hyperparameters as fields, array arguments
named ``reward``, ``action``, ``pscore``, ``action_dist`` and ``reward_hat`` (OBP's
``estimated_rewards_by_reg_model``).

Notation: ``w[i] = action_dist[i, action[i]] / pscore[i]`` is the importance weight of round ``i``
(>= 0, unitless; its mean is ~1 when the log is correct and the logging policy covers the
evaluation policy), ``reward_hat[i, a]`` a reward model's prediction (same unit as ``reward``;
a probability in [0, 1] for click rewards).

``Replay`` (Li et al., WSDM 2011, "Unbiased offline evaluation of contextual-bandit-based news
    article recommendation algorithms")
    Mean reward over the rounds where the logged action is the policy's (argmax) action. For
    deterministic policies and logs from uniform random logging over a fixed number of
    candidates it is unbiased; otherwise (non-uniform logging, candidate counts that vary from
    round to round) it is biased. Uses ~n/K rounds: high variance. CI: normal approximation of a
    mean over the matched rounds.
``IPS`` (Horvitz & Thompson 1952; Precup et al. 2000; Strehl et al. 2010)
    Mean of ``w * reward``. Unbiased when pscore is right and covers the policy; variance grows
    with the weights. ``IPS(clip=c)`` caps the weights at ``c`` (Ionides 2008; Bottou et al.
    2013): less variance, a downward bias for non-negative rewards. CI: normal approximation
    with the sample std of the per-round terms.
``SNIPS`` (Swaminathan & Joachims, NeurIPS 2015, "The self-normalized estimator for
    counterfactual learning")
    ``sum(w * reward) / sum(w)``: a slight, vanishing bias for much less variance than IPS when
    weights are large; shifting every reward by c shifts it by exactly c (IPS by c * mean(w)).
    CI: delta method.
``DM`` (direct method; e.g. Beygelzimer & Langford 2009)
    Mean over rounds of ``sum_a action_dist[i, a] * reward_hat[i, a]``: low variance, but exactly
    as biased as the reward model. CI: normal approximation (the rounds' variability, never the
    reward model's bias).
``DR`` (Dudik, Langford & Li, ICML 2011, "Doubly robust policy evaluation and learning")
    DM plus the IPS-weighted residual ``w * (reward - reward_hat[i, action[i]])``: unbiased if
    either pscore or the reward model is right, and lower variance than IPS when the reward
    model is decent. ``DR(clip=c)`` caps the weights (Su et al. 2020 call it DR with weight
    clipping). CI: normal approximation.
``SwitchDR`` (Wang, Agarwal & Dudik, ICML 2017, "Optimal and adaptive off-policy evaluation in
    contextual bandits")
    DR on the rounds whose weight is at most ``tau``, DM on the others; ``tau=inf`` is DR and
    ``tau=0`` is (almost) DM. Trades DR's variance for DM's bias. This is OBP's
    ``SwitchDoublyRobust``: the switch is per round on the logged action's weight, because only
    the logged action's propensity is known (Wang et al.'s original switches per action and
    needs the logging probability of every action). CI: normal approximation.

Every ``estimate`` returns an ``Estimate`` with the value, a (1 - alpha) confidence interval
(``ci_low``, ``ci_high``, 95% by default), both the analytic interval (``analytic_ci``) and a
seeded percentile bootstrap interval over resampled rounds (``bootstrap_ci``), and diagnostics
(``n_rounds``, ``effective_sample_size``, ``max_weight``, ``mean_weight``, ``std_error``,
``matched`` for Replay, ...). ``ci_low``/``ci_high`` are the analytic interval whenever it exists
(``ci_method="analytic"``), else the bootstrap one (``ci_method="bootstrap"``: fewer than two
usable rounds, or SNIPS with all weights zero). The intervals cover the sampling noise of the
log, not the bias of clipping, switching, Replay under non-uniform logging or a wrong reward
model.

Cost: validation and the analytic interval are O(n_rounds * n_actions) numpy work (1e6 rounds in
well under a second). The bootstrap resamples rounds in chunks of ~4M indices so memory stays
bounded: O(n_bootstrap * n_rounds), a few ms per replicate at 1e6 rounds. When the per-round
terms take few distinct values (0/1 rewards with a deterministic policy and a few propensities:
typical for IPS, SNIPS and Replay) it draws an equivalent multinomial over the distinct values
instead, which is exact and takes O(n_bootstrap * n_distinct). ``n_bootstrap=0`` skips the
bootstrap (``bootstrap_ci`` is then ``(nan, nan)``).

``ESTIMATORS`` maps names to classes, ``make_estimator(name, **kwargs)`` builds one by name (OBP
names such as ``"ipw"``, ``"snipw"``, ``"rm"`` are accepted too) and ``estimate_all`` runs several
estimators on one log, validating it once.

Pure numpy; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "DM",
    "DR",
    "ESTIMATORS",
    "Estimate",
    "IPS",
    "OffPolicyEstimator",
    "Replay",
    "SNIPS",
    "SwitchDR",
    "estimate_all",
    "make_estimator",
]

#: Rows of ``action_dist`` must sum to 1 within this tolerance.
ROW_SUM_TOLERANCE = 1e-6

#: The bootstrap draws at most this many resampled indices at a time (8 bytes each).
_BOOTSTRAP_CHUNK = 1 << 22

#: The bootstrap resamples distinct per-round terms instead of rounds when there are at most
#: n_rounds / this many of them (a multinomial draw per distinct row costs ~15 index draws).
_COMPRESS_FACTOR = 16


# The result ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """One estimator's estimate of a policy's value on a log.

    ``value``, ``ci_low`` and ``ci_high`` are in the unit of ``reward`` (a probability in [0, 1]
    for click rewards; IPS-type estimates can leave [0, 1] on small logs). ``nan`` when the
    estimate is undefined (Replay with no matched round, SNIPS with all weights zero).
    """

    estimator: str
    """``estimator_name`` of the estimator that produced it."""
    value: float
    """The estimated mean reward per round of the evaluation policy."""
    ci_low: float
    """Lower end of the (1 - alpha) interval named by ``ci_method``."""
    ci_high: float
    """Upper end of the (1 - alpha) interval named by ``ci_method``."""
    ci_method: str
    """``"analytic"`` when ``analytic_ci`` exists, else ``"bootstrap"``."""
    bootstrap_ci: tuple[float, float]
    """Percentile bootstrap interval (``n_bootstrap`` seeded resamples of the rounds);
    ``(nan, nan)`` when ``n_bootstrap=0``."""
    analytic_ci: tuple[float, float] | None
    """Normal-approximation interval (delta method for SNIPS); ``None`` when it does not exist
    (fewer than two usable rounds)."""
    alpha: float = 0.05
    """The intervals are (1 - alpha) intervals."""
    diagnostics: dict = field(default_factory=dict)
    """``n_rounds``, ``n_actions``, ``std_error`` (analytic, nan if none), ``n_bootstrap``, and the
    weights ``w = action_dist[i, action[i]] / pscore[i]`` before any clipping:
    ``effective_sample_size`` ((sum w)^2 / sum w^2, in rounds), ``max_weight``, ``mean_weight``
    (~1 for a correct log whose logging policy covers the evaluation policy); plus per estimator
    ``clip``/``n_clipped``, ``tau``/``n_switched_to_dm``, or ``matched``/``match_rate``/
    ``deterministic_policy`` (Replay)."""

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)


# Validation ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Log:
    """Validated float64/int64 arrays of one log."""

    reward: np.ndarray       # (n,)
    action: np.ndarray       # (n,) int64
    pscore: np.ndarray       # (n,)
    action_dist: np.ndarray  # (n, k)
    reward_hat: np.ndarray | None  # (n, k)

    @property
    def n_rounds(self) -> int:
        return self.reward.shape[0]

    @property
    def n_actions(self) -> int:
        return self.action_dist.shape[1]

    def policy_prob_of_logged(self) -> np.ndarray:
        return self.action_dist[np.arange(self.n_rounds), self.action]

    def weights(self) -> np.ndarray:
        return self.policy_prob_of_logged() / self.pscore


def _as_float_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None
    return arr


def _squeeze_position(name: str, arr: np.ndarray) -> np.ndarray:
    """Accept OBP's (n_rounds, n_actions, len_list=1) arrays."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[:, :, 0]
    if arr.ndim == 3:
        raise ValueError(f"{name} has shape {arr.shape}: only one slot (len_list=1) is "
                         f"supported; pass (n_rounds, n_actions)")
    return arr


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.ravel())[0])


def _validate(reward, action, pscore, action_dist, reward_hat=None) -> _Log:
    reward = _as_float_array("reward", reward)
    pscore = _as_float_array("pscore", pscore)
    action_dist = _squeeze_position("action_dist", _as_float_array("action_dist", action_dist))
    action_arr = np.asarray(action)
    for name, arr in (("reward", reward), ("action", action_arr), ("pscore", pscore)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of shape (n_rounds,), "
                             f"not shape {arr.shape}")
    n = reward.shape[0]
    if action_arr.shape[0] != n or pscore.shape[0] != n:
        raise ValueError(f"reward, action and pscore must have the same length (n_rounds); "
                         f"got {n}, {action_arr.shape[0]} and {pscore.shape[0]}")
    if n == 0:
        raise ValueError("the log is empty: need at least one round")
    if action_dist.ndim != 2 or action_dist.shape[0] != n or action_dist.shape[1] == 0:
        raise ValueError(f"action_dist must have shape (n_rounds, n_actions) = ({n}, k) with "
                         f"k >= 1, not {action_dist.shape}")
    k = action_dist.shape[1]

    # action: integer indices in [0, n_actions)
    if action_arr.dtype.kind in "iu":
        action = action_arr.astype(np.int64, copy=False)
    elif action_arr.dtype.kind == "f":
        if not np.all(np.isfinite(action_arr)) or np.any(action_arr != np.round(action_arr)):
            raise ValueError("action must hold integer indices of the logged candidates")
        action = action_arr.astype(np.int64)
    else:
        raise ValueError(f"action must hold integer indices, not {action_arr.dtype} values")
    bad = (action < 0) | (action >= k)
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"action out of range: must be in [0, n_actions={k}), got "
                         f"{int(action[i])} at round {i}")

    bad = ~np.isfinite(reward)
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"reward must be finite, got {float(reward[i])!r} at round {i}")

    bad = ~((pscore > 0.0) & (pscore <= 1.0))  # also catches nan
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"pscore must be a probability in (0, 1], got {float(pscore[i])!r} at "
                         f"round {i}")

    bad = ~np.isfinite(action_dist)
    if bad.any():
        i, a = divmod(_first_bad(bad), k)
        raise ValueError(f"action_dist must be finite, got {float(action_dist[i, a])!r} at "
                         f"round {i}, action {a}")
    bad = action_dist < 0.0
    if bad.any():
        i, a = divmod(_first_bad(bad), k)
        raise ValueError(f"action_dist must be non-negative, got {float(action_dist[i, a])!r} at "
                         f"round {i}, action {a}")
    sums = action_dist.sum(axis=1)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"action_dist rows must sum to 1 (within {ROW_SUM_TOLERANCE:g}); "
                         f"row {i} sums to {float(sums[i])!r}")

    if reward_hat is not None:
        reward_hat = _squeeze_position("reward_hat", _as_float_array("reward_hat", reward_hat))
        if reward_hat.shape != action_dist.shape:
            raise ValueError(f"reward_hat must have the shape of action_dist (n_rounds, "
                             f"n_actions) = {action_dist.shape}, not {reward_hat.shape}")
        bad = ~np.isfinite(reward_hat)
        if bad.any():
            i, a = divmod(_first_bad(bad), k)
            raise ValueError(f"reward_hat must be finite, got {float(reward_hat[i, a])!r} at "
                             f"round {i}, action {a}")
    return _Log(reward=reward, action=action, pscore=pscore, action_dist=action_dist,
                reward_hat=reward_hat)


def _check_alpha(alpha) -> None:
    if (isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating))
            or not 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be a number in (0, 1) (0.05 gives 95% intervals), "
                         f"not {alpha!r}")


def _check_count(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")


def _check_threshold(name: str, value, allow_none: bool, low_open: bool) -> None:
    if value is None and allow_none:
        return
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and not math.isnan(value) and (value > 0 if low_open else value >= 0))
    if not ok:
        what = "> 0" if low_open else ">= 0"
        none = " or None (no clipping)" if allow_none else ""
        raise ValueError(f"{name} must be a number {what} (inf allowed){none}, not {value!r}")


# Intervals -------------------------------------------------------------------------------------

def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def _normal_ci(value: float, std_error: float, alpha: float) -> tuple[float, float]:
    half = _z(alpha) * std_error
    return (value - half, value + half)


def _mean_std_error(terms: np.ndarray) -> float | None:
    """Standard error of the mean of ``terms`` (sample std with ddof=1 / sqrt(n)); None if
    n < 2."""
    n = terms.shape[0]
    if n < 2:
        return None
    return float(np.std(terms, ddof=1) / math.sqrt(n))


def _compress(num: np.ndarray, den: np.ndarray | None):
    """The distinct ``(num, den)`` rows of a log and how many rounds hold each, or None when
    there are more than n_rounds / 16 of them (then resampling rounds is cheaper).

    Resampling rounds with replacement is a multinomial over rounds; rounds with identical
    terms are interchangeable, so a multinomial over the distinct rows gives exactly the same
    bootstrap distribution. Typical click logs have few distinct rows for IPS, SNIPS and Replay
    (rewards 0/1, a handful of propensities, deterministic evaluation policies)."""
    n = num.shape[0]
    limit = n // _COMPRESS_FACTOR
    u_num, inv_num = np.unique(num, return_inverse=True)
    if u_num.shape[0] > limit:
        return None
    if den is None:
        return u_num, None, np.bincount(inv_num.ravel(), minlength=u_num.shape[0])
    u_den, inv_den = np.unique(den, return_inverse=True)
    if u_den.shape[0] > limit:
        return None
    key = inv_num.ravel().astype(np.int64) * u_den.shape[0] + inv_den.ravel()
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    if first.shape[0] > limit:
        return None
    return num[first], den[first], counts


def _bootstrap(num: np.ndarray, den: np.ndarray | None, n_bootstrap: int,
               random_state: int | None, alpha: float) -> tuple[float, float]:
    """Percentile bootstrap of ``sum(num) / sum(den)`` (``mean(num)`` if den is None) over
    rounds resampled with replacement, ``n_bootstrap`` times, in chunks of bounded memory."""
    if n_bootstrap == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(random_state)
    n = num.shape[0]
    compressed = _compress(num, den)
    reps = np.empty(n_bootstrap)
    if compressed is not None:
        u_num, u_den, counts = compressed
        size = counts.shape[0]
        pvals = counts / n
        chunk = max(1, _BOOTSTRAP_CHUNK // size)
        for start in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - start)
            draws = rng.multinomial(n, pvals, size=b).astype(np.float64)  # (b, size)
            top = draws @ u_num
            bottom = None if u_den is None else draws @ u_den
            reps[start:start + b] = _ratio(top, bottom, n)
    else:
        chunk = max(1, _BOOTSTRAP_CHUNK // n)
        for start in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - start)
            idx = rng.integers(0, n, size=(b, n))  # (b, n) resampled rounds
            top = np.take(num, idx).sum(axis=1)
            bottom = None if den is None else np.take(den, idx).sum(axis=1)
            reps[start:start + b] = _ratio(top, bottom, n)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return (math.nan, math.nan)
    low, high = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(low), float(high))


def _ratio(top: np.ndarray, bottom: np.ndarray | None, n: int) -> np.ndarray:
    if bottom is None:
        return top / n
    out = np.full(top.shape[0], np.nan)
    np.divide(top, bottom, out=out, where=bottom != 0)
    return out


# Estimators ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pieces:
    """What an estimator computes on a log: the value is ``sum(num) / sum(den)`` (``mean(num)``
    when den is None); ``std_error`` is its analytic standard error (None if none)."""

    num: np.ndarray
    den: np.ndarray | None
    value: float
    std_error: float | None
    extra: dict


@dataclass(frozen=True, kw_only=True)
class OffPolicyEstimator:
    """Base class: hyperparameters common to every estimator (keyword-only fields).

    Subclasses implement ``_pieces(log)``. Use ``estimate`` for the value, intervals and
    diagnostics, ``estimate_policy_value`` (OBP's name) for the value alone.
    """

    alpha: float = 0.05
    """Intervals are (1 - alpha) intervals, alpha in (0, 1): 0.05 gives 95%."""
    n_bootstrap: int = 1000
    """Bootstrap resamples (>= 0; 0 skips the bootstrap). Cost O(n_bootstrap * n_rounds)."""
    random_state: int | None = 0
    """Seed of the bootstrap (None: fresh entropy, not reproducible)."""
    estimator_name: str = "base"
    """Name reported in ``Estimate.estimator`` (rename to tell two configurations apart)."""

    requires_reward_hat: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        _check_count("n_bootstrap", self.n_bootstrap, 0)
        if self.random_state is not None:
            _check_count("random_state", self.random_state, 0)
        if not isinstance(self.estimator_name, str) or not self.estimator_name:
            raise ValueError(f"estimator_name must be a non-empty string, "
                             f"not {self.estimator_name!r}")

    # Public API -------------------------------------------------------------------------------

    def estimate(self, reward, action, pscore, action_dist, reward_hat=None) -> Estimate:
        """Estimate the evaluation policy's mean reward per round on this log.

        Parameters
        ----------
        reward : (n_rounds,) float
            Observed reward of the logged action (0/1 for clicks; any finite number).
        action : (n_rounds,) int
            Index of the logged action among that round's candidates, in [0, n_actions).
        pscore : (n_rounds,) float
            Logging policy's probability of the logged action, in (0, 1].
        action_dist : (n_rounds, n_actions) float
            Evaluation policy's probability of each candidate, each row in [0, 1] summing to 1
            (within 1e-6); rounds with fewer candidates are padded with zero columns. OBP's
            (n_rounds, n_actions, 1) is accepted.
        reward_hat : (n_rounds, n_actions) float, optional
            A reward model's prediction for every candidate (required by DM, DR, SwitchDR;
            ignored by the others).

        Raises ``ValueError`` naming the problem for malformed input.
        """
        log = _validate(reward, action, pscore, action_dist, reward_hat)
        return self._estimate(log)

    def estimate_policy_value(self, reward, action, pscore, action_dist,
                              reward_hat=None) -> float:
        """The point estimate alone (OBP's method name); no interval, no bootstrap."""
        log = _validate(reward, action, pscore, action_dist, reward_hat)
        self._require(log)
        return self._pieces(log).value

    # Internals --------------------------------------------------------------------------------

    def _require(self, log: _Log) -> None:
        if self.requires_reward_hat and log.reward_hat is None:
            raise ValueError(f"{type(self).__name__} needs reward_hat, a reward model's "
                             f"prediction for every action, of shape (n_rounds, n_actions) = "
                             f"{log.action_dist.shape}")

    def _pieces(self, log: _Log) -> _Pieces:  # pragma: no cover - abstract
        raise NotImplementedError

    def _estimate(self, log: _Log) -> Estimate:
        self._require(log)
        pieces = self._pieces(log)
        value = pieces.value
        if math.isfinite(value) and pieces.std_error is not None:
            analytic = _normal_ci(value, pieces.std_error, self.alpha)
        else:
            analytic = None
        if math.isfinite(value):
            boot = _bootstrap(pieces.num, pieces.den, self.n_bootstrap, self.random_state,
                              self.alpha)
        else:
            boot = (math.nan, math.nan)
        if analytic is not None:
            ci_method, (low, high) = "analytic", analytic
        else:
            ci_method, (low, high) = "bootstrap", boot
        w = log.weights()
        sum_w = float(w.sum())
        sum_w2 = float(np.dot(w, w))
        diagnostics: dict[str, Any] = {
            "n_rounds": log.n_rounds,
            "n_actions": log.n_actions,
            "std_error": pieces.std_error if pieces.std_error is not None else math.nan,
            "n_bootstrap": self.n_bootstrap,
            "effective_sample_size": sum_w * sum_w / sum_w2 if sum_w2 > 0 else 0.0,
            "max_weight": float(w.max()),
            "mean_weight": sum_w / log.n_rounds,
        }
        diagnostics.update(pieces.extra)
        return Estimate(estimator=self.estimator_name, value=value, ci_low=float(low),
                        ci_high=float(high), ci_method=ci_method, bootstrap_ci=boot,
                        analytic_ci=analytic, alpha=self.alpha, diagnostics=diagnostics)


def _mean_pieces(terms: np.ndarray, extra: dict | None = None) -> _Pieces:
    return _Pieces(num=terms, den=None, value=float(terms.mean()),
                   std_error=_mean_std_error(terms), extra=extra or {})


def _clipped(w: np.ndarray, clip: float | None) -> tuple[np.ndarray, dict]:
    if clip is None:
        return w, {}
    return np.minimum(w, clip), {"clip": float(clip), "n_clipped": int(np.count_nonzero(w > clip))}


def _dm_terms(log: _Log) -> np.ndarray:
    return np.einsum("ij,ij->i", log.action_dist, log.reward_hat)


def _reward_hat_of_logged(log: _Log) -> np.ndarray:
    return log.reward_hat[np.arange(log.n_rounds), log.action]


@dataclass(frozen=True, kw_only=True)
class Replay(OffPolicyEstimator):
    """Replay method (Li et al. 2011): the mean reward over the rounds whose logged action is the
    policy's action, ``argmax_a action_dist[i, a]`` (the first on a tie).

    Meant for deterministic evaluation policies and logs from uniform random logging over the
    same number of candidates every round: then the matched rounds are a uniform subsample and
    the estimate is unbiased. A stochastic policy is replaced by its argmax (so its value is not
    what is estimated). Under non-uniform logging, or when candidate counts vary between rounds
    (a round with K candidates matches with probability 1/K), the matched rounds over-represent
    the rounds where the logging policy favoured the policy's action, and the estimate is
    biased: prefer SNIPS, which for a deterministic policy is the replay mean reweighted by
    1 / pscore. ``diagnostics["matched"]`` is the number of matched rounds (~n_rounds / K under
    uniform logging); with none, the value and intervals are nan.

    CI: normal approximation of a mean over the matched rounds (sample std / sqrt(matched));
    the bootstrap resamples all rounds, so the matched count varies as it would in a new log.
    """

    estimator_name: str = "replay"

    def _pieces(self, log: _Log) -> _Pieces:
        policy_action = np.argmax(log.action_dist, axis=1)
        matched = (policy_action == log.action)
        m = int(np.count_nonzero(matched))
        deterministic = bool(np.all(log.action_dist.max(axis=1) >= 1.0 - ROW_SUM_TOLERANCE))
        extra = {"matched": m, "match_rate": m / log.n_rounds,
                 "deterministic_policy": deterministic}
        num = np.where(matched, log.reward, 0.0)
        den = matched.astype(np.float64)
        if m == 0:
            return _Pieces(num=num, den=den, value=math.nan, std_error=None, extra=extra)
        rewards = log.reward[matched]
        return _Pieces(num=num, den=den, value=float(rewards.mean()),
                       std_error=_mean_std_error(rewards), extra=extra)


@dataclass(frozen=True, kw_only=True)
class IPS(OffPolicyEstimator):
    """Inverse propensity scoring: ``mean(w * reward)``, ``w = action_dist[i, action[i]] /
    pscore[i]``, optionally clipped at ``clip`` (``min(w, clip)``).

    Unbiased (without clipping) when pscore is the true logging probability and is positive
    wherever the evaluation policy is; its variance grows with the weights. Clipping removes
    the large weights' variance at the price of a bias (downward for non-negative rewards).
    CI: normal approximation with the sample std of the per-round terms ``w * reward``.
    """

    clip: float | None = None
    """Maximum importance weight (> 0; None or inf: no clipping)."""
    estimator_name: str = "ips"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_threshold("clip", self.clip, allow_none=True, low_open=True)

    def _pieces(self, log: _Log) -> _Pieces:
        w, extra = _clipped(log.weights(), self.clip)
        return _mean_pieces(w * log.reward, extra)


@dataclass(frozen=True, kw_only=True)
class SNIPS(OffPolicyEstimator):
    """Self-normalized IPS: ``sum(w * reward) / sum(w)`` (Swaminathan & Joachims 2015).

    Biased by O(1/n_rounds) but far less variable than IPS when weights are large, and bounded
    by the range of the observed rewards. nan when every weight is 0.
    CI: delta method, standard error ``std(w * (reward - value) / mean(w)) / sqrt(n_rounds)``.
    """

    estimator_name: str = "snips"

    def _pieces(self, log: _Log) -> _Pieces:
        w = log.weights()
        num = w * log.reward
        sum_w = float(w.sum())
        if sum_w <= 0.0:
            return _Pieces(num=num, den=w, value=math.nan, std_error=None, extra={})
        value = float(num.sum()) / sum_w
        influence = w * (log.reward - value) / (sum_w / log.n_rounds)
        return _Pieces(num=num, den=w, value=value, std_error=_mean_std_error(influence),
                       extra={})


@dataclass(frozen=True, kw_only=True)
class DM(OffPolicyEstimator):
    """Direct method: ``mean_i sum_a action_dist[i, a] * reward_hat[i, a]``.

    Ignores the observed rewards and the propensities: low variance, biased exactly as much as
    the reward model is wrong. Needs ``reward_hat``. CI: normal approximation over the per-round
    terms (the variability of the rounds, not the reward model's bias).
    """

    estimator_name: str = "dm"
    requires_reward_hat: ClassVar[bool] = True

    def _pieces(self, log: _Log) -> _Pieces:
        return _mean_pieces(_dm_terms(log))


@dataclass(frozen=True, kw_only=True)
class DR(OffPolicyEstimator):
    """Doubly robust (Dudik et al. 2011): DM plus ``w * (reward - reward_hat[i, action[i]])``,
    with ``w`` optionally clipped at ``clip``.

    Unbiased (without clipping) if pscore is right, whatever the reward model; its variance is
    that of IPS applied to the residuals, so lower than IPS when the model is decent. Needs
    ``reward_hat``. CI: normal approximation over the per-round terms.
    """

    clip: float | None = None
    """Maximum importance weight (> 0; None or inf: no clipping)."""
    estimator_name: str = "dr"
    requires_reward_hat: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_threshold("clip", self.clip, allow_none=True, low_open=True)

    def _pieces(self, log: _Log) -> _Pieces:
        w, extra = _clipped(log.weights(), self.clip)
        terms = _dm_terms(log) + w * (log.reward - _reward_hat_of_logged(log))
        return _mean_pieces(terms, extra)


@dataclass(frozen=True, kw_only=True)
class SwitchDR(OffPolicyEstimator):
    """Switch doubly robust (Wang et al. 2017, as OBP's ``SwitchDoublyRobust``): per round, DR
    when the importance weight ``w <= tau``, DM alone when ``w > tau``.

    ``tau=inf`` (default, as in OBP) is DR; small ``tau`` approaches DM. Rounds switched to DM
    lose their unbiased correction: less variance, the reward model's bias on them.
    ``diagnostics["n_switched_to_dm"]`` counts them. Needs ``reward_hat``.
    CI: normal approximation over the per-round terms.
    """

    tau: float = math.inf
    """Largest importance weight kept by the DR correction (>= 0, inf allowed)."""
    estimator_name: str = "switch-dr"
    requires_reward_hat: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_threshold("tau", self.tau, allow_none=False, low_open=False)

    def _pieces(self, log: _Log) -> _Pieces:
        w = log.weights()
        keep = w <= self.tau
        correction = np.where(keep, w * (log.reward - _reward_hat_of_logged(log)), 0.0)
        extra = {"tau": float(self.tau), "n_switched_to_dm": int(keep.size - keep.sum())}
        return _mean_pieces(_dm_terms(log) + correction, extra)


# Registry --------------------------------------------------------------------------------------

#: Estimator classes by name (each class's default ``estimator_name``).
ESTIMATORS: dict[str, type[OffPolicyEstimator]] = {
    "replay": Replay,
    "ips": IPS,
    "snips": SNIPS,
    "dm": DM,
    "dr": DR,
    "switch-dr": SwitchDR,
}

#: Other accepted spellings, including Open Bandit Pipeline's estimator names.
_ALIASES = {
    "rm": "replay", "replay-method": "replay", "ipw": "ips", "snipw": "snips",
    "switch_dr": "switch-dr", "switchdr": "switch-dr",
}


def make_estimator(name: str, **kwargs) -> OffPolicyEstimator:
    """Build an estimator by name (``ESTIMATORS`` keys, case-insensitive, or OBP's ``ipw``,
    ``snipw``, ``rm``), with its hyperparameters as keyword arguments."""
    if not isinstance(name, str):
        raise ValueError(f"estimator name must be a string, not {name!r}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        cls = ESTIMATORS[key]
    except KeyError:
        raise ValueError(f"unknown estimator {name!r}; known: {', '.join(ESTIMATORS)}") from None
    return cls(**kwargs)


def estimate_all(reward, action, pscore, action_dist, reward_hat=None,
                 estimators: Iterable[OffPolicyEstimator | str] | None = None
                 ) -> list[Estimate]:
    """Run several estimators on one log (validated once), in order.

    ``estimators``: estimator instances or names (built with default hyperparameters). Default:
    one of each ``ESTIMATORS`` class with default hyperparameters, leaving out those that need
    ``reward_hat`` when it is not given. Asking for DM, DR or SwitchDR explicitly without
    ``reward_hat`` raises ``ValueError``.
    """
    log = _validate(reward, action, pscore, action_dist, reward_hat)
    if estimators is None:
        chosen = [cls() for cls in ESTIMATORS.values()
                  if reward_hat is not None or not cls.requires_reward_hat]
    else:
        chosen = []
        for est in estimators:
            if isinstance(est, str):
                est = make_estimator(est)
            if not isinstance(est, OffPolicyEstimator):
                raise ValueError(f"estimators must be estimator instances or names, "
                                 f"not {est!r}")
            chosen.append(est)
    return [est._estimate(log) for est in chosen]
