"""Peers for the decision-quality benchmark: learners outside the service, on the same features.

A peer sees what the service's policy sees for each decision (``artwork.features.build_features``:
the person's genre affinity, time, clock and device, and each candidate artwork's tags), learns
with the same delay as the service (a click at the next learner round, a miss when its reward
window closes) and is judged by the same measure. Both peers are deterministic (an upper
confidence bound decides), so they log no usable propensity: they can be compared online, not
evaluated offline.

- ``RidgeLinUCB``: one ridge regression over every (context feature x artwork feature) product
  plus each artwork's own id and cast, with exact Sherman-Morrison updates of the inverse
  covariance, choosing the candidate with the largest ``theta.x + alpha * sqrt(x' A^-1 x)``.
- ``MabwiserLinUCB``: MABWiser's LinUCB, one linear model per artwork (its arms), one bandit per
  title, on the context's features.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np

from artwork import vocab
from artwork.features import build_features, parse_time, time_context, vw_token
from artwork.policy import floor_pmf, sample_index
from artwork.simulations.world import World

#: Artwork namespaces crossed with every context feature in the ridge model; ``A`` (id) and ``C``
#: (cast) enter on their own.
_CROSSED = ("H", "O", "S", "M")


class RidgeLinUCB:
    """Ridge LinUCB over context x artwork products (exact updates; dimension grows as features
    appear)."""

    def __init__(self, alpha: float = 0.5, l2: float = 1.0):
        self.alpha, self.l2 = alpha, l2
        self._dim = 0
        self._a_inv = np.eye(64) / l2
        self._b = np.zeros(64)
        self._theta: np.ndarray | None = None
        self._context_ids: dict[tuple[str, str], int] = {("", "1"): 0}
        self._artwork_ids: dict[tuple[str, str], int] = {("", "1"): 0}
        self._own: dict[tuple[str, str], int] = {}  # an artwork's id and cast: columns of their own
        self._product = np.full((8, 8), -1)  # (context feature, artwork feature) -> column

    def _new_column(self) -> int:
        i, self._dim = self._dim, self._dim + 1
        size = self._a_inv.shape[0]
        if i >= size:  # a new feature's row and column start as the prior's, independent
            grown = np.eye(2 * size) / self.l2
            grown[:size, :size] = self._a_inv
            self._a_inv = grown
            self._b = np.concatenate([self._b, np.zeros(size)])
        return i

    @staticmethod
    def _ids(table: dict, features) -> tuple[list[int], list[float]]:
        ids, values = [0], [1.0]
        for key, value in features:
            ids.append(table.setdefault(key, len(table)))
            values.append(float(value))
        return ids, values

    def _vector(self, shared: dict, action: dict) -> tuple[np.ndarray, np.ndarray]:
        c_ids, c_values = self._ids(self._context_ids, [((ns, k), v) for ns in shared for k, v in shared[ns].items()])
        a_ids, a_values = self._ids(self._artwork_ids,
                                    [((ns, k), v) for ns in _CROSSED for k, v in action.get(ns, {}).items()])
        rows, cols = len(self._context_ids), len(self._artwork_ids)
        if rows > self._product.shape[0] or cols > self._product.shape[1]:
            grown = np.full((max(rows, 2 * self._product.shape[0]), max(cols, 2 * self._product.shape[1])), -1)
            grown[:self._product.shape[0], :self._product.shape[1]] = self._product
            self._product = grown
        block = self._product[np.ix_(c_ids, a_ids)]
        if (block < 0).any():
            for r, c in zip(*np.nonzero(block < 0), strict=True):
                self._product[c_ids[r], a_ids[c]] = self._new_column()
            block = self._product[np.ix_(c_ids, a_ids)]
        index = list(block.ravel())
        value = list(np.outer(c_values, a_values).ravel())
        for ns in ("A", "C"):
            for k, v in action.get(ns, {}).items():
                column = self._own.get((ns, k))
                if column is None:
                    column = self._own[(ns, k)] = self._new_column()
                index.append(column)
                value.append(float(v))
        return np.array(index), np.array(value)

    def choose(self, features: dict) -> int:
        vectors = [self._vector(features["shared"], action) for action in features["actions"]]
        d = self._dim
        if self._theta is None or len(self._theta) < d:
            self._theta = self._a_inv[:d, :d] @ self._b[:d]  # the ridge solution, once per batch of updates
        scores = []
        for i, x in vectors:
            width = float(x @ self._a_inv[np.ix_(i, i)] @ x)
            scores.append(float(x @ self._theta[i]) + self.alpha * np.sqrt(max(width, 0.0)))
        return int(np.argmax(scores))

    def learn_many(self, events: list[tuple[dict, int, float]]) -> None:
        """Learn ``(features, chosen, reward)`` events: the same inverse as one Sherman-Morrison
        update per event, in one Woodbury update (exact, and a matrix product instead of one
        pass over the whole matrix per event)."""
        if not events:
            return
        vectors = [self._vector(f["shared"], f["actions"][chosen]) for f, chosen, _ in events]
        d = self._dim
        x = np.zeros((len(events), d))
        for row, (i, v) in enumerate(vectors):
            np.add.at(x[row], i, v)
        a_inv = self._a_inv[:d, :d]
        u = a_inv @ x.T                                           # d x k
        inner = np.eye(len(events)) + x @ u                       # k x k
        a_inv -= u @ np.linalg.solve(inner, u.T)
        self._b[:d] += x.T @ np.array([reward for _, _, reward in events])
        self._theta = None

    def learn(self, features: dict, chosen: int, reward: float) -> None:
        self.learn_many([(features, chosen, reward)])


class MabwiserLinUCB:
    """MABWiser's LinUCB: per title a bandit whose arms are its artworks, each arm its own linear
    model of the context (genre affinity, time bucket, day type, clock, device). A title's first
    decision, before it has any feedback, is uniform."""

    def __init__(self, alpha: float = 1.0, seed: int = 0):
        from mabwiser.mab import MAB, LearningPolicy

        self._make = lambda arms: MAB(arms, LearningPolicy.LinUCB(alpha=alpha), seed=seed)
        self._bandits: dict[tuple[str, ...], object] = {}
        names = ([f"G:{vw_token(g)}" for g in vocab.GENRES] + [f"T:bucket={b}" for b in vocab.TIME_BUCKETS]
                 + [f"T:day={d}" for d in vocab.DAY_TYPES] + ["K:hour_cos", "K:hour_sin"]
                 + [f"D:device={d}" for d in vocab.DEVICES])
        self._columns = {name: i for i, name in enumerate(names)}
        self._rng = random.Random(seed)

    def _row(self, shared: dict) -> list[float]:
        row = [0.0] * len(self._columns)
        for ns, feats in shared.items():
            for k, v in feats.items():
                column = self._columns.get(f"{ns}:{k}")
                if column is not None:
                    row[column] = float(v)
        return row

    @staticmethod
    def _arms(features: dict) -> tuple[str, ...]:
        return tuple(next(iter(a["A"])) for a in features["actions"])

    def choose(self, features: dict) -> int:
        arms = self._arms(features)
        bandit = self._bandits.get(arms)
        if bandit is None:
            return self._rng.randrange(len(arms))
        return arms.index(bandit.predict([self._row(features["shared"])]))

    def learn(self, features: dict, chosen: int, reward: float) -> None:
        arms = self._arms(features)
        row = self._row(features["shared"])
        bandit = self._bandits.get(arms)
        if bandit is None:
            bandit = self._bandits[arms] = self._make(list(arms))
            bandit.fit([arms[chosen]], [reward], [row])
        else:
            bandit.partial_fit([arms[chosen]], [reward], [row])


@dataclass
class PeerRun:
    policy: str
    seed: int
    expected: np.ndarray
    oracle: np.ndarray
    uniform: np.ndarray
    seconds: float


def run_peer(world: World, name: str, learner, n_impressions: int, seed: int, *, reward: str = "click",
             learn_every: int = 10, wait_impressions: int = 30, floor: float = 0.0) -> PeerRun:
    """One peer online in the world, with the service's timing: requests as ``run_policy`` draws
    them, a learner round every ``learn_every`` impressions, a click final at once and a miss when
    its window closes ``wait_impressions`` later (``REWARD_WAIT_SECONDS`` at one impression a
    second). With ``floor`` > 0 the peer's pick is mixed with uniform as the service mixes its
    policy (``artwork.policy.floor_pmf``) and the artwork shown is drawn from that: the peer
    under the same logging constraint as the service."""
    catalog = {t["id"]: t for t in world.catalog}
    rng = np.random.default_rng([seed, 7])
    expected, oracle, uniform = (np.zeros(n_impressions) for _ in range(3))
    pending: list[tuple[int, int, dict, int, float]] = []
    draw = random.Random(seed)
    started = time.perf_counter()
    for i in range(n_impressions):
        request = world.sample_request(rng, progress=i / n_impressions)
        user, title_id, ctx = request.user, request.title_id, request.context
        artworks = catalog[title_id]["artwork"]
        features = build_features(world.estimated_affinity(user), time_context(parse_time(ctx["time"])),
                                  ctx["device"], artworks)
        chosen = learner.choose(features)
        if floor > 0:
            pick = [0.0] * len(artworks)
            pick[chosen] = 1.0
            chosen = sample_index(floor_pmf(pick, floor), draw)
        truth = world.reward_probabilities(user, title_id, ctx, reward)
        values = [truth[a["id"]] for a in artworks]
        expected[i], oracle[i], uniform[i] = values[chosen], max(values), sum(values) / len(values)
        outcome = world.draw_outcome(rng, user, title_id, artworks[chosen]["id"], ctx)
        got = outcome.reward(reward)
        pending.append((i if got else i + wait_impressions, i, features, chosen, got))
        if (i + 1) % learn_every == 0:
            due = sorted(p for p in pending if p[0] <= i)
            pending = [p for p in pending if p[0] > i]
            events = [(feats, index, value) for _, _, feats, index, value in due]
            if hasattr(learner, "learn_many"):
                learner.learn_many(events)
            else:
                for event in events:
                    learner.learn(*event)
    return PeerRun(name, seed, expected, oracle, uniform, time.perf_counter() - started)
