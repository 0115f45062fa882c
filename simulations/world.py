"""A seeded synthetic world whose click and play probabilities are known exactly.

What it is for
--------------
The live service never learns the truth: it sees who clicked, not how likely they were to.
This module invents a population of people and a click/play model over a catalog, so that

- offline policy evaluation can compare an estimate against the *exact* value of a policy
  (``World.policy_value``), against the best possible personalized policy (``World.oracle``,
  ``World.oracle_value``) and against the best single artwork per title, the best a
  non-personalized system can do (``World.best_fixed_artwork``);
- the browser demo's "simulate visitors" button can draw realistic requests
  (``World.sample_request``) and realistic outcomes (``World.draw_outcome``) and pass each
  simulated person's taste to the service as the ``genre_affinity`` context override
  (``World.genre_affinity``).

Pure numpy/python: no Flask, no Vowpal Wabbit, no I/O.

The people
----------
``WorldParams.n_users`` people, ids ``sim-u0001`` ... Each has a *taste*: a distribution over
the genres of ``artwork.vocab.GENRES`` (a dict over all of them, summing to 1).

- *narrow* people (``narrow_fraction`` of them) have one dominant genre holding most of the
  mass (Dirichlet with weight ``narrow_concentration`` on it and 1 on each of
  ``narrow_secondary_genres`` other genres; the dominant genre is forced to be the largest).
  Dominant genres are dealt out evenly over the genres, in a seeded order, so every genre has
  its fans (``World.persona(genre)`` picks one).
- *broad* people spread their taste over ``broad_min_genres`` to ``broad_max_genres`` genres
  (symmetric Dirichlet with weight ``broad_concentration`` each).

The click model (in plain words)
--------------------------------
Whether someone clicks an artwork depends mostly on whether it sells the genre they like: an
artwork's ``theme`` tag names the genre aspect of the title it shows, and the more of the
person's taste sits on that genre, the likelier the click. A romance fan (taste ~0.85 on
romance) clicks a romance-themed artwork roughly 30% of the time, a thriller-themed one of the
same title about 4% of the time. On top of that, moderately, bright and warm artwork does better
in the morning and afternoon and dark and cool artwork in the evening and late at night; and,
slightly, close-ups do better on phones and ensemble shots and landscapes on TVs. Each artwork
also has a small fixed idiosyncratic appeal. Some artworks are *clickbait*: they get clicked more
but the people who click them rarely stay to watch. Exactly::

    logit P(click) = logit(base_click_rate)
                     + match_strength          * taste[theme]
                     + time_tone_strength      * TIME_TONE[time_bucket][tone]
                     + device_subject_strength * DEVICE_SUBJECT[device][subject]
                     + noise[artwork]                           # ~ N(0, artwork_noise_sd²)
                     + clickbait_click_boost   * [artwork is clickbait]

    P(quality play | click) = clickbait_play_rate if the artwork is clickbait else play_rate
    P(quality play)         = P(click) * P(quality play | click)

``TIME_TONE`` and ``DEVICE_SUBJECT`` below are unit tables (entries in [-1, 1]). A theme outside
the person's taste (or outside the genre vocabulary), or a tone or subject outside the
vocabulary, contributes 0. The day type (weekday/weekend) is part of the context but has no
effect on the probabilities in this world. A quality play lasts ``QUALITY_PLAY_SECONDS`` (600)
to ``MAX_PLAY_SECONDS`` (5400) seconds, uniformly; a click that is not a quality play either
plays nothing (half the time) or 0-120 seconds.

Randomness
----------
Everything comes from ``seed``: the people from ``numpy.random.default_rng(seed)``, each
artwork's noise and clickbait draw from ``numpy.random.default_rng([seed, <BLAKE2b hash of the
artwork id>])``, so the same seed gives the same world, and adding a title to the catalog leaves
the people and the other artworks' noise alone. ``clickbait_fraction * number of artworks``
(rounded half up) artworks, those with the smallest clickbait draws, are clickbait.

Requests
--------
A request is a person (uniform over the population), a title (uniform, or Zipf-skewed by
``title_popularity_skew`` over a seeded popularity order) and a context: a time bucket, a day
type and a device drawn from ``time_bucket_weights``, ``day_type_weights`` and
``device_weights``, and an ISO-8601 local time with UTC offset (offset drawn uniformly from
``utc_offsets_minutes``; date within the four weeks from Monday 2026-11-02) whose hour lies in
the bucket (morning 05-12, afternoon 12-17, evening 17-22, late night 22-05) and whose own
calendar day is a weekday or a weekend day as drawn.

The knobs (``WorldParams``, defaults in brackets)
-------------------------------------------------
n_users [200], narrow_fraction [0.6], narrow_concentration [12], narrow_secondary_genres [2],
broad_min_genres [3], broad_max_genres [4], broad_concentration [4], base_click_rate [0.04],
match_strength [2.75], time_tone_strength [0.5], device_subject_strength [0.25],
artwork_noise_sd [0.15], clickbait_fraction [0.1], clickbait_click_boost [0.8], play_rate [0.6],
clickbait_play_rate [0.15], time_bucket_weights [0.2, 0.2, 0.4, 0.2],
day_type_weights [5/7, 2/7], device_weights [0.4, 0.3, 0.2, 0.1],
utc_offsets_minutes [-300, 0, 60, 330], title_popularity_skew [0]. See each field's docstring.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np

from artwork.features import time_bucket
from artwork.vocab import DAY_TYPES, DEVICES, GENRES, TIME_BUCKETS

__all__ = [
    "DEVICE_SUBJECT",
    "MAX_PLAY_SECONDS",
    "QUALITY_PLAY_SECONDS",
    "REWARDS",
    "Outcome",
    "Request",
    "SimUser",
    "TIME_TONE",
    "World",
    "WorldParams",
    "time_bucket_of_hour",
]

#: The reward definitions the world can score (same names as the service's ``REWARD`` setting).
REWARDS = ("click", "quality_play")

#: A play of at least this many seconds is a quality play (the service's default threshold).
QUALITY_PLAY_SECONDS = 600.0
#: Longest simulated play, in seconds.
MAX_PLAY_SECONDS = 5400.0
#: Longest simulated non-quality play after a click, in seconds.
SHORT_PLAY_SECONDS = 120.0

#: Time of day x tone, unit effects on the click logit (scaled by ``time_tone_strength``).
#: Bright/warm sells in daylight, dark/cool after dark; muted is neutral.
TIME_TONE: dict[str, dict[str, float]] = {
    "morning": {"dark": -1.0, "bright": 1.0, "warm": 0.5, "cool": -0.5, "muted": 0.0},
    "afternoon": {"dark": -0.5, "bright": 0.5, "warm": 1.0, "cool": -0.5, "muted": 0.0},
    "evening": {"dark": 0.5, "bright": -0.5, "warm": -0.5, "cool": 1.0, "muted": 0.0},
    "late-night": {"dark": 1.0, "bright": -1.0, "warm": -0.5, "cool": 0.5, "muted": 0.0},
}

#: Device x subject, unit effects on the click logit (scaled by ``device_subject_strength``).
#: Close-ups read on small screens, ensembles and landscapes on big ones.
DEVICE_SUBJECT: dict[str, dict[str, float]] = {
    "tv": {"close-up": -0.5, "ensemble": 1.0, "scene": 0.5, "landscape": 1.0,
           "title-logo": -0.5},
    "mobile": {"close-up": 1.0, "ensemble": -0.5, "scene": 0.0, "landscape": -1.0,
               "title-logo": 0.5},
    "web": {"close-up": 0.0, "ensemble": 0.0, "scene": 0.0, "landscape": 0.0,
            "title-logo": 0.0},
    "tablet": {"close-up": 0.5, "ensemble": 0.0, "scene": 0.0, "landscape": -0.5,
               "title-logo": 0.0},
}

#: Local hours of each time bucket.
BUCKET_HOURS: dict[str, tuple[int, ...]] = {
    "morning": tuple(range(5, 12)),
    "afternoon": tuple(range(12, 17)),
    "evening": tuple(range(17, 22)),
    "late-night": (22, 23, 0, 1, 2, 3, 4),
}

#: Sampled dates fall in the ``CALENDAR_DAYS`` days from ``CALENDAR_START`` (a Monday).
CALENDAR_START = date(2026, 11, 2)
CALENDAR_DAYS = 28

# Deterministic times for ``World.context_for``: a Wednesday / a Saturday, mid-bucket, UTC.
_REPRESENTATIVE_DAY = {"weekday": date(2026, 11, 4), "weekend": date(2026, 11, 7)}
_REPRESENTATIVE_TIME = {"morning": (9, 30), "afternoon": (14, 30), "evening": (20, 30),
                        "late-night": (23, 30)}


#: The service's own rule (morning 05-12, afternoon 12-17, evening 17-22, late-night 22-05), so
#: the world and the service can never disagree about which bucket a time is in.
time_bucket_of_hour = time_bucket


# Parameters ------------------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_int(name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, not {value!r}")


def _check_real(name: str, value, low: float | None = None, high: float | None = None,
                open_low: bool = False, open_high: bool = False) -> None:
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    too_low = low is not None and (value <= low if open_low else value < low)
    too_high = high is not None and (value >= high if open_high else value > high)
    if too_low or too_high:
        if low is not None and high is not None:
            bound = f"in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        elif low is not None:
            bound = f"{'>' if open_low else '>='} {low}"
        else:
            bound = f"{'<' if open_high else '<='} {high}"
        raise ValueError(f"{name} must be {bound}, not {value!r}")


def _check_distribution(name: str, weights, labels: Sequence[str]) -> None:
    if not isinstance(weights, (tuple, list)) or len(weights) != len(labels):
        raise ValueError(f"{name} must be {len(labels)} probabilities, one per "
                         f"{', '.join(labels)}; got {weights!r}")
    for label, weight in zip(labels, weights, strict=True):
        _check_real(f"{name}[{label}]", weight, 0.0, 1.0)
    if abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, not {sum(weights)!r}")


@dataclass(frozen=True)
class WorldParams:
    """The knobs of a synthetic world. Defaults give a world a contextual bandit learns in a few
    thousand impressions; every field is validated on construction (``ValueError``)."""

    n_users: int = 200
    """Number of simulated people (> 0)."""

    narrow_fraction: float = 0.6
    """Share of people with narrow taste (one dominant genre), in [0, 1]; the rest are broad.
    The count is ``n_users * narrow_fraction`` rounded half up."""

    narrow_concentration: float = 12.0
    """Dirichlet weight of a narrow person's dominant genre (> 0); each secondary genre has
    weight 1, so the dominant share averages 12 / (12 + 2) ~ 0.86 with the defaults."""

    narrow_secondary_genres: int = 2
    """Number of other genres a narrow person likes a little, 0 to len(GENRES) - 1."""

    broad_min_genres: int = 3
    """Fewest genres a broad person spreads their taste over (>= 2)."""

    broad_max_genres: int = 4
    """Most genres a broad person spreads their taste over (broad_min_genres to len(GENRES));
    the number is uniform between the two."""

    broad_concentration: float = 4.0
    """Symmetric Dirichlet weight of each of a broad person's genres (> 0); larger is more even."""

    base_click_rate: float = 0.04
    """Click probability of an artwork with no taste match and neutral tone, subject and noise,
    in (0, 1). It is the intercept of the click logit."""

    match_strength: float = 2.75
    """Click-logit gain per unit of taste on the artwork's theme (>= 0): the dominant effect.
    A person with taste 0.86 on the theme gets +2.4 logits: 0.04 -> ~0.30."""

    time_tone_strength: float = 0.5
    """Scale of the time-of-day x tone table ``TIME_TONE`` in click logits (>= 0): up to +-0.5,
    e.g. bright vs dark artwork in the morning differs by a factor ~2.7 in odds."""

    device_subject_strength: float = 0.25
    """Scale of the device x subject table ``DEVICE_SUBJECT`` in click logits (>= 0)."""

    artwork_noise_sd: float = 0.15
    """Standard deviation of each artwork's fixed idiosyncratic click-logit offset (>= 0)."""

    clickbait_fraction: float = 0.1
    """Share of all artworks that are clickbait, in [0, 1], chosen by the seed."""

    clickbait_click_boost: float = 0.8
    """Click-logit boost of clickbait artwork (>= 0): ~2.2x the click odds."""

    play_rate: float = 0.6
    """Probability that a click on ordinary artwork becomes a quality play, in [0, 1]."""

    clickbait_play_rate: float = 0.15
    """Probability that a click on clickbait becomes a quality play, in [0, 1]."""

    time_bucket_weights: tuple[float, ...] = (0.2, 0.2, 0.4, 0.2)
    """Probability of each time bucket of a request, in ``TIME_BUCKETS`` order (morning,
    afternoon, evening, late-night); sums to 1."""

    day_type_weights: tuple[float, ...] = (5 / 7, 2 / 7)
    """Probability of weekday and weekend requests, in ``DAY_TYPES`` order; sums to 1."""

    device_weights: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
    """Probability of each device of a request, in ``DEVICES`` order (tv, mobile, web,
    tablet); sums to 1."""

    utc_offsets_minutes: tuple[int, ...] = (-300, 0, 60, 330)
    """UTC offsets (minutes, -720 to 840) of the sampled local times, drawn uniformly. The
    offset only changes the time string, never the bucket: times are generated locally."""

    title_popularity_skew: float = 0.0
    """Zipf exponent of title popularity in requests (>= 0): the title of popularity rank r
    (a seeded order) is requested with probability proportional to r ** -skew; 0 is uniform."""

    def __post_init__(self) -> None:
        n_genres = len(GENRES)
        _check_int("n_users", self.n_users, 1)
        _check_real("narrow_fraction", self.narrow_fraction, 0.0, 1.0)
        _check_real("narrow_concentration", self.narrow_concentration, 0.0, open_low=True)
        _check_int("narrow_secondary_genres", self.narrow_secondary_genres, 0, n_genres - 1)
        _check_int("broad_min_genres", self.broad_min_genres, 2, n_genres)
        _check_int("broad_max_genres", self.broad_max_genres, self.broad_min_genres, n_genres)
        _check_real("broad_concentration", self.broad_concentration, 0.0, open_low=True)
        _check_real("base_click_rate", self.base_click_rate, 0.0, 1.0, open_low=True,
                    open_high=True)
        for name in ("match_strength", "time_tone_strength", "device_subject_strength",
                     "artwork_noise_sd", "clickbait_click_boost", "title_popularity_skew"):
            _check_real(name, getattr(self, name), 0.0)
        for name in ("clickbait_fraction", "play_rate", "clickbait_play_rate"):
            _check_real(name, getattr(self, name), 0.0, 1.0)
        _check_distribution("time_bucket_weights", self.time_bucket_weights, TIME_BUCKETS)
        _check_distribution("day_type_weights", self.day_type_weights, DAY_TYPES)
        _check_distribution("device_weights", self.device_weights, DEVICES)
        if not isinstance(self.utc_offsets_minutes, (tuple, list)) or not self.utc_offsets_minutes:
            raise ValueError(f"utc_offsets_minutes must be a non-empty tuple of minutes, "
                             f"not {self.utc_offsets_minutes!r}")
        for offset in self.utc_offsets_minutes:
            _check_int("utc_offsets_minutes entries", offset, -720, 840)


# People, requests, outcomes --------------------------------------------------------------------

@dataclass(frozen=True)
class SimUser:
    """A simulated person. ``taste`` maps every genre to its share (summing to 1).

    Hashes by ``id``, so people can key dicts (do not mutate ``taste``)."""

    id: str
    taste: dict[str, float]
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in ("narrow", "broad"):
            raise ValueError(f"kind must be 'narrow' or 'broad', not {self.kind!r}")
        if not isinstance(self.taste, dict) or not self.taste:
            raise ValueError("taste must be a non-empty dict of genre -> share")
        for genre, share in self.taste.items():
            _check_real(f"taste[{genre}]", share, 0.0, 1.0)
        if abs(sum(self.taste.values()) - 1.0) > 1e-6:
            raise ValueError(f"taste must sum to 1, not {sum(self.taste.values())!r}")

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def top_genre(self) -> str:
        """The genre with the largest share (the first in vocabulary order on a tie)."""
        return max(self.taste, key=self.taste.__getitem__)


@dataclass(frozen=True)
class Request:
    """One page view: who, which title, and the context (``time``, ``time_bucket``,
    ``day_type``, ``device``)."""

    user: SimUser
    title_id: str
    context: dict


@dataclass(frozen=True)
class Outcome:
    """What happened after an impression. ``played_seconds`` is 0 without a click."""

    clicked: bool
    played_seconds: float

    @property
    def quality_play(self) -> bool:
        return self.played_seconds >= QUALITY_PLAY_SECONDS

    def reward(self, reward: str = "click") -> float:
        """1.0 or 0.0 under the named reward definition."""
        _check_reward(reward)
        return float(self.clicked if reward == "click" else self.quality_play)


def _check_reward(reward: str) -> None:
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {', '.join(REWARDS)}, not {reward!r}")


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# The world -------------------------------------------------------------------------------------

Policy = Callable[[Request], Mapping[str, float]]

_N_CELLS = len(TIME_BUCKETS) * len(DEVICES)
_BUCKET_INDEX = {b: i for i, b in enumerate(TIME_BUCKETS)}
_DEVICE_INDEX = {d: i for i, d in enumerate(DEVICES)}
_GENRE_INDEX = {g: i for i, g in enumerate(GENRES)}
_PROB_FLOOR = 1e-12


class World:
    """A synthetic population and click/play model over ``catalog`` (see the module docstring).

    ``catalog`` is a list of title dicts ``{"id", "artwork": [{"id", "tags": {"theme", "tone",
    "subject", ...}}], ...}`` (other keys are ignored). Title and artwork ids must be unique.
    """

    def __init__(self, catalog: Sequence[Mapping], params: WorldParams | None = None,
                 seed: int = 0) -> None:
        if params is None:
            params = WorldParams()
        if not isinstance(params, WorldParams):
            raise TypeError(f"params must be a WorldParams, not {type(params).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        self.params = params
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        user_rng, title_rng = rng.spawn(2)
        self._load_catalog(catalog)
        self._draw_artworks()
        self.users: list[SimUser] = self._draw_users(user_rng)
        self._user_taste = np.array([[u.taste[g] for g in GENRES] for u in self.users])
        self._title_p = self._title_popularity(title_rng)
        self._best_fixed: dict[str, dict[str, str]] = {}

    # Construction ---------------------------------------------------------------------------

    def _load_catalog(self, catalog: Sequence[Mapping]) -> None:
        if isinstance(catalog, (str, bytes, Mapping)) or not isinstance(catalog, Iterable):
            raise ValueError("catalog must be a list of title dicts")
        catalog = list(catalog)
        if not catalog:
            raise ValueError("catalog must contain at least one title")
        self.catalog: list[Mapping] = catalog
        self._title_artworks: dict[str, tuple[int, ...]] = {}
        self._art_ids: list[str] = []
        self._art_index: dict[str, int] = {}
        self._art_title: list[str] = []
        self._art_tags: list[dict] = []
        for position, title in enumerate(catalog):
            if not isinstance(title, Mapping):
                raise ValueError(f"catalog[{position}] is not a title dict")
            title_id = title.get("id")
            if not isinstance(title_id, str) or not title_id:
                raise ValueError(f"catalog[{position}] has no string 'id'")
            if title_id in self._title_artworks:
                raise ValueError(f"duplicate title id {title_id!r}")
            artworks = title.get("artwork")
            if not isinstance(artworks, (list, tuple)) or not artworks:
                raise ValueError(f"title {title_id!r} has no artwork")
            indices = []
            for art in artworks:
                art_id = art.get("id") if isinstance(art, Mapping) else None
                if not isinstance(art_id, str) or not art_id:
                    raise ValueError(f"an artwork of title {title_id!r} has no string 'id'")
                if art_id in self._art_index:
                    raise ValueError(f"duplicate artwork id {art_id!r}")
                tags = art.get("tags", {})
                if not isinstance(tags, Mapping):
                    raise ValueError(f"artwork {art_id!r} has tags that are not a dict")
                self._art_index[art_id] = len(self._art_ids)
                indices.append(len(self._art_ids))
                self._art_ids.append(art_id)
                self._art_title.append(title_id)
                self._art_tags.append(dict(tags))
            self._title_artworks[title_id] = tuple(indices)
        self.title_ids: tuple[str, ...] = tuple(self._title_artworks)

    def _draw_artworks(self) -> None:
        p = self.params
        n = len(self._art_ids)
        bait_keys = np.empty(n)
        noise = np.empty(n)
        for i, art_id in enumerate(self._art_ids):
            digest = hashlib.blake2b(art_id.encode("utf-8"), digest_size=16).digest()
            art_rng = np.random.default_rng([self.seed, int.from_bytes(digest, "big")])
            bait_keys[i] = art_rng.random()
            noise[i] = art_rng.standard_normal() * p.artwork_noise_sd
        n_bait = int(math.floor(p.clickbait_fraction * n + 0.5))
        bait_idx = np.argsort(bait_keys, kind="stable")[:n_bait]
        is_bait = np.zeros(n, dtype=bool)
        is_bait[bait_idx] = True
        self.clickbait: frozenset[str] = frozenset(self._art_ids[i] for i in bait_idx)
        self._art_noise = noise
        self._art_is_bait = is_bait

        # Per-artwork theme index (len(GENRES) = "no genre": a zero taste column), the fixed
        # logit part for each (time bucket, device) cell and the play probability.
        self._art_theme: list[str | None] = []
        theme_idx = np.empty(n, dtype=np.int64)
        cell_logit = np.empty((n, _N_CELLS))
        intercept = math.log(p.base_click_rate / (1.0 - p.base_click_rate))
        for i, tags in enumerate(self._art_tags):
            theme = tags.get("theme")
            self._art_theme.append(theme if isinstance(theme, str) else None)
            theme_idx[i] = _GENRE_INDEX.get(theme, len(GENRES))
            tone, subject = tags.get("tone"), tags.get("subject")
            fixed = intercept + noise[i] + (p.clickbait_click_boost if is_bait[i] else 0.0)
            for b, bucket in enumerate(TIME_BUCKETS):
                tt = p.time_tone_strength * TIME_TONE[bucket].get(tone, 0.0)
                for d, device in enumerate(DEVICES):
                    ds = p.device_subject_strength * DEVICE_SUBJECT[device].get(subject, 0.0)
                    cell_logit[i, b * len(DEVICES) + d] = fixed + tt + ds
        self._art_theme_idx = theme_idx
        self._cell_logit = cell_logit
        self._cell_logit_rows = cell_logit.tolist()  # python floats for the scalar path
        self._art_play = np.where(is_bait, p.clickbait_play_rate, p.play_rate)
        self._art_play_list = self._art_play.tolist()

    def _draw_users(self, rng: np.random.Generator) -> list[SimUser]:
        p = self.params
        n_genres = len(GENRES)
        n_narrow = int(math.floor(p.n_users * p.narrow_fraction + 0.5))
        is_narrow = np.zeros(p.n_users, dtype=bool)
        is_narrow[:n_narrow] = True
        is_narrow = rng.permutation(is_narrow)
        # Deal dominant genres evenly: every genre gets its fans, in a seeded order.
        dominants = rng.permutation(np.resize(rng.permutation(n_genres), n_narrow))
        users, next_narrow = [], 0
        for k in range(p.n_users):
            shares = np.zeros(n_genres)
            if is_narrow[k]:
                top = int(dominants[next_narrow])
                next_narrow += 1
                others = np.delete(np.arange(n_genres), top)
                support = [top, *rng.choice(others, p.narrow_secondary_genres, replace=False)]
                alpha = [p.narrow_concentration] + [1.0] * p.narrow_secondary_genres
                weights = rng.dirichlet(alpha)
                j = int(np.argmax(weights))
                weights[0], weights[j] = weights[j], weights[0]  # the dominant genre leads
                kind = "narrow"
            else:
                size = int(rng.integers(p.broad_min_genres, p.broad_max_genres + 1))
                support = rng.choice(n_genres, size, replace=False)
                weights = rng.dirichlet([p.broad_concentration] * size)
                kind = "broad"
            shares[np.asarray(support)] = weights
            taste = {g: float(s) for g, s in zip(GENRES, shares, strict=True)}
            users.append(SimUser(id=f"sim-u{k + 1:04d}", taste=taste, kind=kind))
        return users

    def _title_popularity(self, rng: np.random.Generator) -> np.ndarray | None:
        skew = self.params.title_popularity_skew
        if skew == 0:
            return None
        ranks = rng.permutation(len(self.title_ids)) + 1
        weights = ranks.astype(float) ** -skew
        return weights / weights.sum()

    # Catalog helpers ------------------------------------------------------------------------

    def artwork_ids(self, title_id: str) -> tuple[str, ...]:
        """The artwork ids of a title, in catalog order."""
        return tuple(self._art_ids[i] for i in self._title_indices(title_id))

    def artwork_tags(self, artwork_id: str) -> dict:
        """A copy of an artwork's tags."""
        return dict(self._art_tags[self._artwork_index(artwork_id)])

    def _title_indices(self, title_id: str) -> tuple[int, ...]:
        try:
            return self._title_artworks[title_id]
        except KeyError:
            raise KeyError(f"unknown title id {title_id!r}") from None

    def _artwork_index(self, artwork_id: str, title_id: str | None = None) -> int:
        try:
            i = self._art_index[artwork_id]
        except KeyError:
            raise KeyError(f"unknown artwork id {artwork_id!r}") from None
        if title_id is not None and self._art_title[i] != title_id:
            if title_id not in self._title_artworks:
                raise KeyError(f"unknown title id {title_id!r}")
            raise ValueError(f"artwork {artwork_id!r} belongs to title {self._art_title[i]!r}, "
                             f"not {title_id!r}")
        return i

    # People ---------------------------------------------------------------------------------

    def persona(self, genre: str) -> SimUser:
        """A narrow person whose top genre is ``genre``: the member of the population with the
        largest share on it, or, if the population has none, a synthetic one
        (``sim-persona-<genre>``, 0.85 on the genre and 0.075 on each of the next two genres).
        """
        if genre not in _GENRE_INDEX:
            raise ValueError(f"genre must be one of {', '.join(GENRES)}, not {genre!r}")
        fans = [u for u in self.users if u.kind == "narrow" and u.top_genre == genre]
        if fans:
            return max(fans, key=lambda u: u.taste[genre])
        g = _GENRE_INDEX[genre]
        taste = {name: 0.0 for name in GENRES}
        taste[genre] = 0.85
        for step in (1, 2):
            taste[GENRES[(g + step) % len(GENRES)]] = 0.075
        return SimUser(id=f"sim-persona-{genre}", taste=taste, kind="narrow")

    @staticmethod
    def genre_affinity(user: SimUser) -> dict[str, float]:
        """The ``genre_affinity`` context override for the service: the person's taste rounded
        to 4 decimals, zero entries dropped."""
        rounded = ((g, round(float(s), 4)) for g, s in user.taste.items())
        return {g: s for g, s in rounded if s > 0}

    # Contexts and requests ------------------------------------------------------------------

    def sample_context(self, rng: np.random.Generator) -> dict:
        """A random context: ``{"time", "time_bucket", "day_type", "device"}`` (see the module
        docstring for the distribution)."""
        p = self.params
        bucket = TIME_BUCKETS[rng.choice(len(TIME_BUCKETS), p=p.time_bucket_weights)]
        day_type = DAY_TYPES[rng.choice(len(DAY_TYPES), p=p.day_type_weights)]
        device = DEVICES[rng.choice(len(DEVICES), p=p.device_weights)]
        days = _CALENDAR[day_type]
        day = days[int(rng.integers(len(days)))]
        hours = BUCKET_HOURS[bucket]
        hour = hours[int(rng.integers(len(hours)))]
        minute = int(rng.integers(60))
        offset = p.utc_offsets_minutes[int(rng.integers(len(p.utc_offsets_minutes)))]
        when = datetime(day.year, day.month, day.day, hour, minute,
                        tzinfo=timezone(timedelta(minutes=int(offset))))
        return {"time": when.isoformat(timespec="seconds"), "time_bucket": bucket,
                "day_type": day_type, "device": device}

    @staticmethod
    def context_for(time_bucket: str, day_type: str = "weekday", device: str = "web") -> dict:
        """A fixed, representative context: a Wednesday (weekday) or Saturday (weekend) in
        November 2026 at 09:30, 14:30, 20:30 or 23:30 UTC+00:00 for the bucket."""
        if time_bucket not in _BUCKET_INDEX:
            raise ValueError(f"time_bucket must be one of {', '.join(TIME_BUCKETS)}, "
                             f"not {time_bucket!r}")
        if day_type not in DAY_TYPES:
            raise ValueError(f"day_type must be one of {', '.join(DAY_TYPES)}, not {day_type!r}")
        if device not in _DEVICE_INDEX:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        day = _REPRESENTATIVE_DAY[day_type]
        hour, minute = _REPRESENTATIVE_TIME[time_bucket]
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        return {"time": when.isoformat(timespec="seconds"), "time_bucket": time_bucket,
                "day_type": day_type, "device": device}

    def sample_request(self, rng: np.random.Generator) -> Request:
        """A random request: a person uniformly from ``users``, a title uniformly (or by the
        popularity skew) and a context from ``sample_context``."""
        user = self.users[int(rng.integers(len(self.users)))]
        if self._title_p is None:
            title_id = self.title_ids[int(rng.integers(len(self.title_ids)))]
        else:
            title_id = self.title_ids[int(rng.choice(len(self.title_ids), p=self._title_p))]
        return Request(user=user, title_id=title_id, context=self.sample_context(rng))

    def sample_requests(self, rng: np.random.Generator, n: int) -> list[Request]:
        """``n`` requests from ``sample_request``."""
        _check_int("n", n, 0)
        return [self.sample_request(rng) for _ in range(n)]

    # Truth ----------------------------------------------------------------------------------

    @staticmethod
    def _cell(context: Mapping) -> int:
        """The (time bucket, device) cell of a context. ``time_bucket`` is derived from
        ``time`` when absent; ``device`` is required."""
        bucket = context.get("time_bucket")
        if bucket is None:
            when = context.get("time")
            if when is None:
                raise ValueError("context needs a 'time_bucket' or a 'time'")
            bucket = time_bucket_of_hour(datetime.fromisoformat(when).hour)
        try:
            b = _BUCKET_INDEX[bucket]
        except (KeyError, TypeError):
            raise ValueError(f"time_bucket must be one of {', '.join(TIME_BUCKETS)}, "
                             f"not {bucket!r}") from None
        device = context.get("device")
        try:
            d = _DEVICE_INDEX[device]
        except (KeyError, TypeError):
            raise ValueError(f"context device must be one of {', '.join(DEVICES)}, "
                             f"not {device!r}") from None
        return b * len(DEVICES) + d

    def _click(self, taste: Mapping[str, float], i: int, cell: int) -> float:
        theme = self._art_theme[i]
        match = taste.get(theme, 0.0) if theme is not None else 0.0
        z = self._cell_logit_rows[i][cell] + self.params.match_strength * match
        return min(max(_sigmoid(z), _PROB_FLOOR), 1.0 - _PROB_FLOOR)

    def click_probability(self, user: SimUser, title_id: str, artwork_id: str,
                          context: Mapping) -> float:
        """P(click) of showing ``artwork_id`` for ``title_id`` to ``user`` in ``context``, in
        (0, 1)::

            logit = logit(base_click_rate) + match_strength * taste[theme]
                    + time_tone_strength * TIME_TONE[time_bucket][tone]
                    + device_subject_strength * DEVICE_SUBJECT[device][subject]
                    + noise[artwork] + clickbait_click_boost * [clickbait]
        """
        i = self._artwork_index(artwork_id, title_id)
        return self._click(user.taste, i, self._cell(context))

    def play_probability(self, user: SimUser, title_id: str, artwork_id: str,
                         context: Mapping) -> float:
        """P(quality play | click): ``clickbait_play_rate`` for clickbait, else ``play_rate``
        (in this world it depends on the artwork only; the other arguments are for symmetry)."""
        return self._art_play_list[self._artwork_index(artwork_id, title_id)]

    def reward_probability(self, user: SimUser, title_id: str, artwork_id: str,
                           context: Mapping, reward: str = "click") -> float:
        """P(reward): the click probability, or for ``quality_play`` click x play."""
        _check_reward(reward)
        i = self._artwork_index(artwork_id, title_id)
        p = self._click(user.taste, i, self._cell(context))
        return p if reward == "click" else p * self._art_play_list[i]

    def reward_probabilities(self, user: SimUser, title_id: str, context: Mapping,
                             reward: str = "click") -> dict[str, float]:
        """``reward_probability`` of every artwork of the title, in catalog order."""
        _check_reward(reward)
        cell = self._cell(context)
        taste = user.taste
        out = {}
        for i in self._title_indices(title_id):
            p = self._click(taste, i, cell)
            out[self._art_ids[i]] = p if reward == "click" else p * self._art_play_list[i]
        return out

    def draw_outcome(self, rng: np.random.Generator, user: SimUser, title_id: str,
                     artwork_id: str, context: Mapping) -> Outcome:
        """Sample a click, then, after a click, a play: a quality play (probability
        ``play_probability``) lasts 600-5400 s uniformly; otherwise half the clicks play
        nothing and half play 0-120 s. Seconds are rounded to 0.1."""
        i = self._artwork_index(artwork_id, title_id)
        if rng.random() >= self._click(user.taste, i, self._cell(context)):
            return Outcome(clicked=False, played_seconds=0.0)
        if rng.random() < self._art_play_list[i]:
            seconds = rng.uniform(QUALITY_PLAY_SECONDS, MAX_PLAY_SECONDS)
        elif rng.random() < 0.5:
            seconds = 0.0
        else:
            seconds = rng.uniform(0.0, SHORT_PLAY_SECONDS)
        return Outcome(clicked=True, played_seconds=round(float(seconds), 1))

    # Policies and their exact values --------------------------------------------------------

    def expected_reward(self, user: SimUser, title_id: str, context: Mapping,
                        pmf: Mapping[str, float], reward: str = "click") -> float:
        """Exact expected reward of choosing an artwork of the title from ``pmf`` (artwork id
        -> probability; ids left out have probability 0). The pmf must be non-negative and sum
        to 1 within 1e-3 (float32 pmfs pass); it is renormalized."""
        probs = self.reward_probabilities(user, title_id, context, reward)
        total = mass = 0.0
        for art_id, weight in pmf.items():
            if art_id not in probs:
                raise ValueError(f"pmf names {art_id!r}, which is not an artwork of title "
                                 f"{title_id!r}")
            weight = float(weight)
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"pmf probability of {art_id!r} must be >= 0, not {weight!r}")
            total += weight * probs[art_id]
            mass += weight
        if abs(mass - 1.0) > 1e-3:
            raise ValueError(f"pmf must sum to 1, not {mass!r}")
        return total / mass

    def oracle(self, user: SimUser, title_id: str, context: Mapping,
               reward: str = "click") -> str:
        """The artwork with the highest true reward probability (the first in catalog order on
        a tie)."""
        probs = self.reward_probabilities(user, title_id, context, reward)
        return max(probs, key=probs.__getitem__)

    def oracle_value(self, requests: Sequence[Request], reward: str = "click") -> float:
        """Mean over ``requests`` of the best artwork's true reward probability."""
        requests = _nonempty(requests)
        return sum(max(self.reward_probabilities(r.user, r.title_id, r.context, reward).values())
                   for r in requests) / len(requests)

    def policy_value(self, policy: Policy, requests: Sequence[Request],
                     reward: str = "click") -> float:
        """Exact expected reward of ``policy`` (request -> pmf over the title's artwork ids)
        averaged over ``requests``: no sampling noise."""
        requests = _nonempty(requests)
        return sum(self.expected_reward(r.user, r.title_id, r.context, policy(r), reward)
                   for r in requests) / len(requests)

    def uniform_policy(self) -> Policy:
        """The policy that shows each of a title's artworks with equal probability."""
        def policy(request: Request) -> dict[str, float]:
            ids = self.artwork_ids(request.title_id)
            return {a: 1.0 / len(ids) for a in ids}
        return policy

    @staticmethod
    def fixed_policy(choice: Mapping[str, str]) -> Policy:
        """The policy that always shows ``choice[title_id]``."""
        return lambda request: {choice[request.title_id]: 1.0}

    def oracle_policy(self, reward: str = "click") -> Policy:
        """The policy that always shows ``oracle(...)``."""
        _check_reward(reward)
        return lambda r: {self.oracle(r.user, r.title_id, r.context, reward): 1.0}

    def best_fixed_artwork(self, reward: str = "click") -> dict[str, str]:
        """title id -> the artwork with the highest true reward averaged exactly over the
        population (uniform) and the context distribution (time bucket x device weights; the
        day type has no effect): the best a context-free, non-personalized policy can do."""
        _check_reward(reward)
        if reward not in self._best_fixed:
            p = self.params
            cell_w = np.outer(p.time_bucket_weights, p.device_weights).ravel()
            taste = np.hstack([self._user_taste, np.zeros((len(self.users), 1))])
            best = {}
            for title_id, idx in self._title_artworks.items():
                idx = np.asarray(idx)
                match = p.match_strength * taste[:, self._art_theme_idx[idx]]  # users x arts
                logit = self._cell_logit[idx][None, :, :] + match[:, :, None]
                prob = 1.0 / (1.0 + np.exp(-logit))
                value = prob.mean(axis=0) @ cell_w
                if reward == "quality_play":
                    value = value * self._art_play[idx]
                best[title_id] = self._art_ids[int(idx[int(np.argmax(value))])]
            self._best_fixed[reward] = best
        return dict(self._best_fixed[reward])


def _nonempty(requests: Sequence[Request]) -> Sequence[Request]:
    requests = list(requests)
    if not requests:
        raise ValueError("requests must not be empty")
    return requests


_CALENDAR: dict[str, tuple[date, ...]] = {
    day_type: tuple(
        day for day in (CALENDAR_START + timedelta(days=k) for k in range(CALENDAR_DAYS))
        if (day.weekday() >= 5) == (day_type == "weekend"))
    for day_type in DAY_TYPES
}
