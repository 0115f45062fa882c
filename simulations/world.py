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
                     + quirk_strength * ([tone == favourite_tone] - [subject == disliked_subject])

    P(quality play | click) = clickbait_play_rate if the artwork is clickbait else play_rate
    P(quality play)         = P(click) * P(quality play | click)

``TIME_TONE`` and ``DEVICE_SUBJECT`` below are unit tables (entries in [-1, 1]). A theme outside
the person's taste (or outside the genre vocabulary), or a tone or subject outside the
vocabulary, contributes 0. The quirk term is 0 for people without quirks (everyone, by default;
see *Variants*). The day type (weekday/weekend) is part of the context but has no
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

Variants
--------
A benchmark should not tune a policy to one world, so the world has variants, each off by
default (then the world is exactly the one described above: a variant draws only from its own
random stream, and only when it is on). ``VARIANTS`` names ready-made ones.

- *Smooth time of day* (``time_effect="smooth"``): the time x tone term follows the local clock
  time of the context's ``time`` (hour + minute / 60 + second / 3600, as written in the string,
  whatever its UTC offset) instead of the bucket table: ``time_tone_strength * cos(2π (hour -
  peak) / 24)`` with each tone's ``TIME_TONE_PEAK_HOUR`` (bright mid-morning, warm early
  afternoon, cool in the evening, dark at midnight, muted flat), so it changes within a bucket
  and does not jump at a bucket's edge. Contexts must then carry a ``time``; requests still carry
  their bucket, which a policy may use but the truth ignores.
- *Per-person quirks* (``quirk_fraction``, ``quirk_strength``): that share of the people have a
  quirk: a favourite tone (+``quirk_strength`` click logits on artwork of that tone), a disliked
  subject (-``quirk_strength`` on artwork of that subject), or both, kept on the person
  (``SimUser.favourite_tone``, ``SimUser.disliked_subject``). The service is not told about them.
- *Noisy estimated affinities* (``affinity_noise``): what the service is told about a person's
  taste, ``World.estimated_affinity(user)``, is the taste mixed with a fixed, per-person random
  distribution over the genres (weight ``affinity_noise``), the same for every request of that
  person. ``World.genre_affinity(user)`` stays the exact taste (a staticmethod, as before); with
  ``affinity_noise=0`` the two are equal.
- *Popular titles* (``title_popularity_skew``): Zipf-skewed title requests (see *Requests*).
- *Titles added mid-run* (``late_title_fraction``, ``late_title_at``): that share of the titles
  (``World.late_titles``) only exist from progress ``late_title_at`` of the run on.
- *Drift in taste* (``drift_fraction``, ``drift_at``): from progress ``drift_at`` on, that share of
  the people (``World.drifted``) have a new dominant genre: their top genre's share moves to
  another genre and that genre's share to the old top, so the shape of the taste is kept.

*Progress* is how far through a run a request happens, a number in [0, 1] (request ``i`` of
``n``: ``i / n``). The world itself has no clock and no state: a simulator passes the progress
to ``World.sample_request(rng, progress)``, which draws only live titles and returns the person
as they are at that moment (a ``SimUser`` with the same id and, after a drift, the new taste).
Every truth function (``click_probability``, ``reward_probabilities``, ``oracle`` ...) and
``genre_affinity`` / ``estimated_affinity`` judge the person they are given, so passing the
request's person keeps them in step. ``World.titles_live(progress)``,
``World.users_at(progress)`` and ``World.user_at(user, progress)`` say what is true at a moment;
``best_fixed_artwork(reward, progress)`` averages over the population of that moment. Without a
progress everything is as at the start (progress 0)::

    for i in range(n):
        request = world.sample_request(rng, progress=i / n)
        affinity = world.estimated_affinity(request.user)      # what the service is told
        truth = world.reward_probabilities(request.user, request.title_id, request.context)

Randomness of the variants: the quirks come from ``default_rng([seed, 101])``, the late titles
from per-title ``default_rng([seed, 103, <hash of the title id>])`` draws (the smallest are
late), the drift from ``default_rng([seed, 104])`` and the affinity noise from per-person
``default_rng([seed, 102, <hash of the person id>])`` draws.

The knobs (``WorldParams``, defaults in brackets)
-------------------------------------------------
n_users [200], narrow_fraction [0.6], narrow_concentration [12], narrow_secondary_genres [2],
broad_min_genres [3], broad_max_genres [4], broad_concentration [4], base_click_rate [0.04],
match_strength [2.75], time_tone_strength [0.5], device_subject_strength [0.25],
artwork_noise_sd [0.15], clickbait_fraction [0.1], clickbait_click_boost [0.8], play_rate [0.6],
clickbait_play_rate [0.15], time_bucket_weights [0.2, 0.2, 0.4, 0.2],
day_type_weights [5/7, 2/7], device_weights [0.4, 0.3, 0.2, 0.1],
utc_offsets_minutes [-300, 0, 60, 330], title_popularity_skew [0]; the variants:
time_effect ["buckets"], quirk_fraction [0], quirk_strength [0.5], affinity_noise [0],
late_title_fraction [0], late_title_at [0.5], drift_fraction [0], drift_at [0.5]. See each
field's docstring.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

from artwork.features import time_bucket
from artwork.vocab import DAY_TYPES, DEVICES, GENRES, SUBJECTS, TIME_BUCKETS, TONES

__all__ = [
    "DEVICE_SUBJECT",
    "MAX_PLAY_SECONDS",
    "QUALITY_PLAY_SECONDS",
    "REWARDS",
    "Outcome",
    "Request",
    "SimUser",
    "TIME_EFFECTS",
    "TIME_TONE",
    "TIME_TONE_PEAK_HOUR",
    "VARIANTS",
    "World",
    "WorldParams",
    "smooth_time_tone",
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

#: The ways the time of day can act on tone (``WorldParams.time_effect``): the ``TIME_TONE``
#: table of the request's bucket, or a smooth daily cycle of the local hour.
TIME_EFFECTS = ("buckets", "smooth")

#: With ``time_effect="smooth"``: the local hour (0-24) at which each tone sells best; its unit
#: effect is ``cos(2π (hour - peak) / 24)``, +1 at the peak and -1 twelve hours away. None is
#: flat (0 all day). The peaks put each tone's best hours where ``TIME_TONE`` favours it.
TIME_TONE_PEAK_HOUR: dict[str, float | None] = {
    "dark": 0.0, "bright": 10.0, "warm": 14.0, "cool": 20.0, "muted": None,
}


def smooth_time_tone(tone: str, hour: float) -> float:
    """The unit smooth time x tone effect (in [-1, 1]) of ``tone`` at local ``hour`` (a real
    number, 13.5 is 13:30); 0 for a tone outside ``TIME_TONE_PEAK_HOUR`` or with no peak."""
    peak = TIME_TONE_PEAK_HOUR.get(tone)
    if peak is None:
        return 0.0
    return math.cos(2.0 * math.pi * (hour - peak) / 24.0)


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

    # Variants (see the module docstring); each default leaves the world exactly as without it.

    time_effect: str = "buckets"
    """How the time of day acts on tone, one of ``TIME_EFFECTS``: ``"buckets"`` uses the
    ``TIME_TONE`` row of the request's time bucket; ``"smooth"`` a daily cosine of the local hour
    of the context's ``time`` per tone (``TIME_TONE_PEAK_HOUR``), scaled by
    ``time_tone_strength``, so the effect moves within a bucket and is continuous at its edges,
    as real viewing moods are."""

    quirk_fraction: float = 0.0
    """Share of people with a personal quirk, in [0, 1] (``n_users * quirk_fraction`` rounded
    half up, chosen by the seed): a favourite tone, a disliked subject, or both (a third each).
    Quirks are what a person-blind model cannot learn from genre, time and device."""

    quirk_strength: float = 0.5
    """Click-logit size of a quirk (>= 0): +strength on the favourite tone, -strength on the
    disliked subject. The default is the size of the time x tone effect, noticeable but well
    below the taste match. Only matters for people with quirks."""

    affinity_noise: float = 0.0
    """Error of the taste the service is told about (``World.estimated_affinity``), in [0, 1]:
    the estimate is ``(1 - affinity_noise) * taste + affinity_noise * d``, with ``d`` a flat
    Dirichlet draw over the genres fixed per person; 0 is the exact taste, 1 pure noise. Real
    profiles are inferred from history, so they miss some interests and invent others."""

    late_title_fraction: float = 0.0
    """Share of titles that join the catalog mid-run, in [0, 1) (``number of titles *
    fraction`` rounded half up, but at least one title is there from the start), chosen by the
    seed (``World.late_titles``). They are requested only from progress ``late_title_at`` on:
    a policy must cope with artworks it has never seen."""

    late_title_at: float = 0.5
    """Progress through the run, in (0, 1), from which the late titles are requested."""

    drift_fraction: float = 0.0
    """Share of people whose taste changes mid-run, in [0, 1] (``n_users * drift_fraction``
    rounded half up, chosen by the seed; ``World.drifted``): from progress ``drift_at`` on, their
    dominant genre trades shares with another genre drawn uniformly. A policy that stops
    learning keeps serving the old taste."""

    drift_at: float = 0.5
    """Progress through the run, in (0, 1), from which the drifted tastes hold."""

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
        if self.time_effect not in TIME_EFFECTS:
            raise ValueError(f"time_effect must be one of {', '.join(TIME_EFFECTS)}, "
                             f"not {self.time_effect!r}")
        for name in ("quirk_fraction", "affinity_noise", "drift_fraction"):
            _check_real(name, getattr(self, name), 0.0, 1.0)
        _check_real("quirk_strength", self.quirk_strength, 0.0)
        _check_real("late_title_fraction", self.late_title_fraction, 0.0, 1.0, open_high=True)
        for name in ("late_title_at", "drift_at"):
            _check_real(name, getattr(self, name), 0.0, 1.0, open_low=True, open_high=True)


#: Named worlds for benchmarks, each the default world with one variant on (``"default"`` and
#: ``"everything"`` aside), sized so the variant matters without drowning the taste match:
#:
#: - ``default``: ``WorldParams()``.
#: - ``smooth-time``: the time x tone effect is a smooth daily cycle of the local hour.
#: - ``quirks``: 30% of people have a quirk of 0.5 logits, as large as the time x tone effect.
#: - ``noisy-affinity``: the service's taste estimate is 30% noise: a narrow person's dominant
#:   genre stays on top, a broad person's top genres are sometimes misranked.
#: - ``popular-titles``: Zipf title popularity with exponent 1 (the top title gets the most
#:   requests, a long tail is rarely seen).
#: - ``new-titles``: a quarter of the titles appear halfway through the run.
#: - ``drift``: 30% of people change their dominant genre halfway through the run.
#: - ``everything``: all of the above at once, with 500 people.
#:
#: A simulator builds ``World(catalog, VARIANTS[name], seed)``; do not mutate the dict.
VARIANTS: dict[str, WorldParams] = {
    "default": WorldParams(),
    "smooth-time": WorldParams(time_effect="smooth"),
    "quirks": WorldParams(quirk_fraction=0.3, quirk_strength=0.5),
    "noisy-affinity": WorldParams(affinity_noise=0.3),
    "popular-titles": WorldParams(title_popularity_skew=1.0),
    "new-titles": WorldParams(late_title_fraction=0.25, late_title_at=0.5),
    "drift": WorldParams(drift_fraction=0.3, drift_at=0.5),
    "everything": WorldParams(n_users=500, time_effect="smooth", quirk_fraction=0.3,
                              quirk_strength=0.5, affinity_noise=0.3, title_popularity_skew=1.0,
                              late_title_fraction=0.25, late_title_at=0.5, drift_fraction=0.3,
                              drift_at=0.5),
}


# People, requests, outcomes --------------------------------------------------------------------

@dataclass(frozen=True)
class SimUser:
    """A simulated person. ``taste`` maps every genre to its share (summing to 1).

    Hashes by ``id``, so people can key dicts (do not mutate ``taste``). After a taste drift the
    same person is a second ``SimUser`` with the same id and the new taste (``World.user_at``)."""

    id: str
    taste: dict[str, float]
    kind: str
    favourite_tone: str | None = None
    """A quirk: artwork of this tone (one of ``TONES``) gets ``quirk_strength`` more click logits
    from this person; None for no favourite."""
    disliked_subject: str | None = None
    """A quirk: artwork of this subject (one of ``SUBJECTS``) gets ``quirk_strength`` fewer click
    logits from this person; None for no dislike."""

    def __post_init__(self) -> None:
        if self.kind not in ("narrow", "broad"):
            raise ValueError(f"kind must be 'narrow' or 'broad', not {self.kind!r}")
        if self.favourite_tone is not None and self.favourite_tone not in TONES:
            raise ValueError(f"favourite_tone must be None or one of {', '.join(TONES)}, "
                             f"not {self.favourite_tone!r}")
        if self.disliked_subject is not None and self.disliked_subject not in SUBJECTS:
            raise ValueError(f"disliked_subject must be None or one of {', '.join(SUBJECTS)}, "
                             f"not {self.disliked_subject!r}")
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

    @property
    def quirky(self) -> bool:
        """Whether the person has a favourite tone or a disliked subject."""
        return self.favourite_tone is not None or self.disliked_subject is not None


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
_TONE_INDEX = {t: i for i, t in enumerate(TONES)}
_SUBJECT_INDEX = {s: i for i, s in enumerate(SUBJECTS)}
_PROB_FLOOR = 1e-12

# Random streams of the variants, ``default_rng([seed, stream, ...])``: each variant draws from
# its own stream and only when it is on, so the people, artworks and requests of the default
# world never change.
_STREAM_QUIRKS = 101
_STREAM_AFFINITY = 102
_STREAM_LATE = 103
_STREAM_DRIFT = 104


def _id_hash(text: str) -> int:
    """A stable 128-bit integer for an id (Python's ``hash`` of a str changes per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), "big")


def _count(n: int, fraction: float) -> int:
    """``n * fraction`` rounded half up, the world's rule for "a share of"."""
    return int(math.floor(n * fraction + 0.5))


def _local_hour(context: Mapping) -> float:
    """The local clock time of the context's ``time``, in hours (13:30 is 13.5)."""
    when = context.get("time")
    if when is None:
        raise ValueError("context needs a 'time' when time_effect is 'smooth'")
    try:
        local = datetime.fromisoformat(when)
    except (TypeError, ValueError):
        raise ValueError(f"context time must be an ISO-8601 time, not {when!r}") from None
    return local.hour + local.minute / 60.0 + local.second / 3600.0


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
        self._best_fixed: dict[tuple[str, bool], dict[str, str]] = {}
        # The variants, each from its own stream (see the module docstring).
        self._smooth = params.time_effect == "smooth"
        self._affinity_noise: dict[str, list[float]] = {}
        if params.quirk_fraction > 0:
            self.users = self._add_quirks(self.users)
        self._draw_late_titles()
        self._draw_drift()

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
        # Tone and subject indices (len(TONES) / len(SUBJECTS) = outside the vocabulary) for the
        # quirks and the smooth time effect, and the fixed logit part without the time effect.
        self._art_tone_idx = np.empty(n, dtype=np.int64)
        self._art_subject_idx = np.empty(n, dtype=np.int64)
        device_logit = np.empty((n, len(DEVICES)))
        intercept = math.log(p.base_click_rate / (1.0 - p.base_click_rate))
        for i, tags in enumerate(self._art_tags):
            theme = tags.get("theme")
            self._art_theme.append(theme if isinstance(theme, str) else None)
            theme_idx[i] = _GENRE_INDEX.get(theme, len(GENRES))
            tone, subject = tags.get("tone"), tags.get("subject")
            self._art_tone_idx[i] = _TONE_INDEX.get(tone, len(TONES))
            self._art_subject_idx[i] = _SUBJECT_INDEX.get(subject, len(SUBJECTS))
            fixed = intercept + noise[i] + (p.clickbait_click_boost if is_bait[i] else 0.0)
            for b, bucket in enumerate(TIME_BUCKETS):
                tt = p.time_tone_strength * TIME_TONE[bucket].get(tone, 0.0)
                for d, device in enumerate(DEVICES):
                    ds = p.device_subject_strength * DEVICE_SUBJECT[device].get(subject, 0.0)
                    cell_logit[i, b * len(DEVICES) + d] = fixed + tt + ds
            for d, device in enumerate(DEVICES):
                device_logit[i, d] = fixed + p.device_subject_strength * \
                    DEVICE_SUBJECT[device].get(subject, 0.0)
        self._art_theme_idx = theme_idx
        self._cell_logit = cell_logit
        self._cell_logit_rows = cell_logit.tolist()  # python floats for the scalar path
        self._device_logit = device_logit
        self._device_logit_rows = device_logit.tolist()
        self._art_tone_idx_list = self._art_tone_idx.tolist()
        self._art_subject_idx_list = self._art_subject_idx.tolist()
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

    def _add_quirks(self, users: list[SimUser]) -> list[SimUser]:
        """The population with ``quirk_fraction`` of it given a quirk: a favourite tone, a
        disliked subject or both (equally likely), uniform over the vocabulary."""
        rng = np.random.default_rng([self.seed, _STREAM_QUIRKS])
        n_quirky = _count(len(users), self.params.quirk_fraction)
        quirky = np.sort(rng.permutation(len(users))[:n_quirky])
        users = list(users)
        for k in quirky.tolist():
            kind = int(rng.integers(3))  # 0: tone, 1: subject, 2: both
            tone = TONES[int(rng.integers(len(TONES)))]
            subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
            users[k] = replace(users[k], favourite_tone=tone if kind != 1 else None,
                               disliked_subject=subject if kind != 0 else None)
        return users

    def _draw_late_titles(self) -> None:
        """Pick the late titles (the smallest per-title draws, like the clickbait, so the choice
        of one title does not depend on the others' ids) and the live catalog before them."""
        n_late = min(_count(len(self.title_ids), self.params.late_title_fraction),
                     len(self.title_ids) - 1)
        late: frozenset[str] = frozenset()
        if n_late > 0:
            keys = [np.random.default_rng([self.seed, _STREAM_LATE, _id_hash(t)]).random()
                    for t in self.title_ids]
            late = frozenset(self.title_ids[i] for i in np.argsort(keys, kind="stable")[:n_late])
        # Ids of the titles requested only from progress ``late_title_at`` on.
        self.late_titles: frozenset[str] = late
        self._early_title_ids = tuple(t for t in self.title_ids if t not in late)
        self._early_title_p = None
        if self._title_p is not None and late:
            keep = np.array([t not in late for t in self.title_ids])
            self._early_title_p = self._title_p[keep] / self._title_p[keep].sum()

    def _draw_drift(self) -> None:
        """Pick the people whose taste drifts and their taste after ``drift_at``: the dominant
        genre's share swaps with that of another genre drawn uniformly."""
        self._users_after_drift = self.users
        self._user_taste_after_drift = self._user_taste
        # Ids of the people whose taste changes at progress ``drift_at``.
        self.drifted: frozenset[str] = frozenset()
        self._drifted_by_id: dict[str, SimUser] = {}
        self._original_by_id: dict[str, SimUser] = {}
        n_drift = _count(len(self.users), self.params.drift_fraction)
        if n_drift == 0:
            return
        rng = np.random.default_rng([self.seed, _STREAM_DRIFT])
        chosen = np.sort(rng.permutation(len(self.users))[:n_drift])
        after = list(self.users)
        for k in chosen.tolist():
            user = after[k]
            top = user.top_genre
            others = [g for g in GENRES if g != top]
            new_top = others[int(rng.integers(len(others)))]
            taste = dict(user.taste)
            taste[top], taste[new_top] = taste.get(new_top, 0.0), taste[top]
            after[k] = replace(user, taste=taste)
        self._users_after_drift = after
        self._user_taste_after_drift = np.array([[u.taste[g] for g in GENRES] for u in after])
        self.drifted = frozenset(self.users[k].id for k in chosen.tolist())
        self._drifted_by_id = {u.id: u for u in after if u.id in self.drifted}
        self._original_by_id = {u.id: u for u in self.users if u.id in self.drifted}

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
        to 4 decimals, zero entries dropped. This is the exact taste; ``estimated_affinity`` is
        what the service is told in a world with ``affinity_noise``."""
        rounded = ((g, round(float(s), 4)) for g, s in user.taste.items())
        return {g: s for g, s in rounded if s > 0}

    def estimated_affinity(self, user: SimUser) -> dict[str, float]:
        """The ``genre_affinity`` override a service with an imperfect profile would have:
        ``(1 - affinity_noise) * taste + affinity_noise * d``, with ``d`` a flat Dirichlet draw
        over ``GENRES`` fixed per person id (so every request of a person carries the same
        estimate, and a drifted person the same error on the new taste), rounded to 4 decimals,
        zero entries dropped. Equal to ``genre_affinity(user)`` when ``affinity_noise`` is 0."""
        weight = self.params.affinity_noise
        if weight == 0:
            return self.genre_affinity(user)
        noise = self._affinity_noise.get(user.id)
        if noise is None:
            rng = np.random.default_rng([self.seed, _STREAM_AFFINITY, _id_hash(user.id)])
            noise = self._affinity_noise[user.id] = rng.dirichlet(np.ones(len(GENRES))).tolist()
        mixed = {g: weight * d for g, d in zip(GENRES, noise, strict=True)}
        for g, share in user.taste.items():
            mixed[g] = mixed.get(g, 0.0) + (1.0 - weight) * float(share)
        total = sum(mixed.values())
        rounded = ((g, round(v / total, 4)) for g, v in mixed.items())
        return {g: v for g, v in rounded if v > 0}

    def _after_drift(self, progress: float) -> bool:
        _check_real("progress", progress, 0.0, 1.0)
        return bool(self.drifted) and progress >= self.params.drift_at

    def users_at(self, progress: float) -> list[SimUser]:
        """The population at ``progress`` (in [0, 1]) through a run: ``users``, with the
        ``drifted`` people's new tastes from ``drift_at`` on. Same ids, same order."""
        return list(self._users_after_drift if self._after_drift(progress) else self.users)

    def user_at(self, user: SimUser, progress: float) -> SimUser:
        """The person ``user`` (matched by id) as they are at ``progress``: their drifted
        version from ``drift_at`` on, their original one before. People who never drift, and
        people outside the population, are returned as given."""
        after = self._after_drift(progress)
        if user.id not in self.drifted:
            return user
        return self._drifted_by_id[user.id] if after else self._original_by_id[user.id]

    # Contexts and requests ------------------------------------------------------------------

    def sample_context(self, rng: np.random.Generator) -> dict:
        """A random context: ``{"time", "time_bucket", "day_type", "device"}`` (see the module
        docstring for the distribution)."""
        p = self.params
        bucket = TIME_BUCKETS[_draw(rng, _cdf(p.time_bucket_weights))]
        day_type = DAY_TYPES[_draw(rng, _cdf(p.day_type_weights))]
        device = DEVICES[_draw(rng, _cdf(p.device_weights))]
        days = _CALENDAR[day_type]
        day = days[int(rng.integers(len(days)))]
        hours = BUCKET_HOURS[bucket]
        hour = hours[int(rng.integers(len(hours)))]
        minute = int(rng.integers(60))
        offset = p.utc_offsets_minutes[int(rng.integers(len(p.utc_offsets_minutes)))]
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=_utc_offset(int(offset)))
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

    def titles_live(self, progress: float = 0.0) -> tuple[str, ...]:
        """The ids of the titles that can be requested at ``progress`` (in [0, 1]) through a
        run, in catalog order: all of them from ``late_title_at`` on, else all but
        ``late_titles``."""
        _check_real("progress", progress, 0.0, 1.0)
        if self.late_titles and progress < self.params.late_title_at:
            return self._early_title_ids
        return self.title_ids

    def sample_request(self, rng: np.random.Generator, progress: float = 0.0) -> Request:
        """A random request at ``progress`` (in [0, 1]) through a run: a person uniformly from
        ``users_at(progress)``, a title uniformly (or by the popularity skew, renormalized) from
        ``titles_live(progress)`` and a context from ``sample_context``. Without the drift and
        late-title variants the progress changes nothing."""
        users = self._users_after_drift if self._after_drift(progress) else self.users
        user = users[int(rng.integers(len(users)))]
        titles = self.titles_live(progress)
        title_p = self._title_p if titles is self.title_ids else self._early_title_p
        if title_p is None:
            title_id = titles[int(rng.integers(len(titles)))]
        else:
            title_id = titles[int(rng.choice(len(titles), p=title_p))]
        return Request(user=user, title_id=title_id, context=self.sample_context(rng))

    def sample_requests(self, rng: np.random.Generator, n: int,
                        progress: float = 0.0) -> list[Request]:
        """``n`` requests from ``sample_request``, all at the same ``progress``."""
        _check_int("n", n, 0)
        return [self.sample_request(rng, progress) for _ in range(n)]

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
        return b * len(DEVICES) + World._device(context)

    @staticmethod
    def _device(context: Mapping) -> int:
        """The index of the context's ``device`` (required)."""
        device = context.get("device")
        try:
            return _DEVICE_INDEX[device]
        except (KeyError, TypeError):
            raise ValueError(f"context device must be one of {', '.join(DEVICES)}, "
                             f"not {device!r}") from None

    def _context_key(self, context: Mapping):
        """What the click logit needs of a context: the (time bucket, device) cell, or with the
        smooth time effect the device index and the time x tone logit of each tone index."""
        if not self._smooth:
            return self._cell(context)
        hour = _local_hour(context)
        strength = self.params.time_tone_strength
        return self._device(context), [strength * smooth_time_tone(tone, hour)
                                       for tone in TONES] + [0.0]

    def _quirk_logit(self, user: SimUser, i: int) -> float:
        strength, z = self.params.quirk_strength, 0.0
        if user.favourite_tone is not None and \
                self._art_tone_idx_list[i] == _TONE_INDEX[user.favourite_tone]:
            z += strength
        if user.disliked_subject is not None and \
                self._art_subject_idx_list[i] == _SUBJECT_INDEX[user.disliked_subject]:
            z -= strength
        return z

    def _click(self, user: SimUser, i: int, key) -> float:
        theme = self._art_theme[i]
        match = user.taste.get(theme, 0.0) if theme is not None else 0.0
        if self._smooth:
            d, tone_logit = key
            fixed = self._device_logit_rows[i][d] + tone_logit[self._art_tone_idx_list[i]]
        else:
            fixed = self._cell_logit_rows[i][key]
        z = fixed + self.params.match_strength * match
        if user.favourite_tone is not None or user.disliked_subject is not None:
            z += self._quirk_logit(user, i)
        return min(max(_sigmoid(z), _PROB_FLOOR), 1.0 - _PROB_FLOOR)

    def click_probability(self, user: SimUser, title_id: str, artwork_id: str,
                          context: Mapping) -> float:
        """P(click) of showing ``artwork_id`` for ``title_id`` to ``user`` in ``context``, in
        (0, 1)::

            logit = logit(base_click_rate) + match_strength * taste[theme]
                    + time_tone_strength * TIME_TONE[time_bucket][tone]  # or the smooth cycle
                    + device_subject_strength * DEVICE_SUBJECT[device][subject]
                    + noise[artwork] + clickbait_click_boost * [clickbait]
                    + quirk_strength * ([tone == favourite_tone] - [subject == disliked_subject])

        The taste and quirks are those of ``user`` as given (see ``user_at`` for drift); with
        ``time_effect="smooth"`` the context must carry a ``time``.
        """
        i = self._artwork_index(artwork_id, title_id)
        return self._click(user, i, self._context_key(context))

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
        p = self._click(user, i, self._context_key(context))
        return p if reward == "click" else p * self._art_play_list[i]

    def reward_probabilities(self, user: SimUser, title_id: str, context: Mapping,
                             reward: str = "click") -> dict[str, float]:
        """``reward_probability`` of every artwork of the title, in catalog order."""
        _check_reward(reward)
        key = self._context_key(context)
        out = {}
        for i in self._title_indices(title_id):
            p = self._click(user, i, key)
            out[self._art_ids[i]] = p if reward == "click" else p * self._art_play_list[i]
        return out

    def draw_outcome(self, rng: np.random.Generator, user: SimUser, title_id: str,
                     artwork_id: str, context: Mapping) -> Outcome:
        """Sample a click, then, after a click, a play: a quality play (probability
        ``play_probability``) lasts 600-5400 s uniformly; otherwise half the clicks play
        nothing and half play 0-120 s. Seconds are rounded to 0.1."""
        i = self._artwork_index(artwork_id, title_id)
        if rng.random() >= self._click(user, i, self._context_key(context)):
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

    def best_fixed_artwork(self, reward: str = "click", progress: float = 0.0) -> dict[str, str]:
        """title id -> the artwork with the highest true reward averaged exactly over the
        population at ``progress`` (uniform; see ``users_at``) and the context distribution
        (time bucket x device weights; the day type has no effect): the best a context-free,
        non-personalized policy can do.

        With ``time_effect="smooth"`` each bucket's weight is spread evenly over its hours, each
        hour taken at half past: the sampled minute is uniform, so this is the midpoint rule for
        the within-hour average, not the exact average."""
        _check_reward(reward)
        after = self._after_drift(progress)
        if (reward, after) not in self._best_fixed:
            p = self.params
            users = self._users_after_drift if after else self.users
            user_taste = self._user_taste_after_drift if after else self._user_taste
            cell_logit, cell_w = self._smooth_cells() if self._smooth else (
                self._cell_logit, np.outer(p.time_bucket_weights, p.device_weights).ravel())
            quirk = self._quirk_matrix(users)  # users x all artworks, or None
            taste = np.hstack([user_taste, np.zeros((len(users), 1))])
            best = {}
            for title_id, idx in self._title_artworks.items():
                idx = np.asarray(idx)
                match = p.match_strength * taste[:, self._art_theme_idx[idx]]  # users x arts
                if quirk is not None:
                    match = match + quirk[:, idx]
                logit = cell_logit[idx][None, :, :] + match[:, :, None]
                prob = 1.0 / (1.0 + np.exp(-logit))
                value = prob.mean(axis=0) @ cell_w
                if reward == "quality_play":
                    value = value * self._art_play[idx]
                best[title_id] = self._art_ids[int(idx[int(np.argmax(value))])]
            self._best_fixed[(reward, after)] = best
        return dict(self._best_fixed[(reward, after)])

    def _smooth_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The smooth time effect's (hour, device) cells for ``best_fixed_artwork``: the fixed
        logit of each artwork in each (local hour at half past, device), and each cell's weight
        (its bucket's weight shared evenly by the bucket's hours, times the device weight)."""
        p = self.params
        tone_logit = np.array([[p.time_tone_strength * smooth_time_tone(tone, hour + 0.5)
                                for tone in TONES] + [0.0] for hour in range(24)])  # hours x tones
        # arts x hours x devices -> arts x (hour, device) cells
        logit = self._device_logit[:, None, :] + tone_logit[:, self._art_tone_idx].T[:, :, None]
        hour_w = np.zeros(24)
        for bucket, weight in zip(TIME_BUCKETS, p.time_bucket_weights, strict=True):
            for hour in BUCKET_HOURS[bucket]:
                hour_w[hour] += weight / len(BUCKET_HOURS[bucket])
        return logit.reshape(len(self._art_ids), -1), np.outer(hour_w, p.device_weights).ravel()

    def _quirk_matrix(self, users: Sequence[SimUser]) -> np.ndarray | None:
        """people x artworks quirk logits, or None when nobody has a quirk."""
        if not any(u.favourite_tone is not None or u.disliked_subject is not None for u in users):
            return None
        favourite = np.array([_TONE_INDEX.get(u.favourite_tone, -1) for u in users])
        disliked = np.array([_SUBJECT_INDEX.get(u.disliked_subject, -1) for u in users])
        strength = self.params.quirk_strength
        return strength * (favourite[:, None] == self._art_tone_idx[None, :]) \
            - strength * (disliked[:, None] == self._art_subject_idx[None, :])


@lru_cache(maxsize=64)
def _cdf(weights: tuple[float, ...]) -> np.ndarray:
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """``rng.choice(len(cdf), p=...)`` for the weights ``cdf`` came from: the same single uniform
    draw and the same answer (numpy's own method), without re-checking the weights every call."""
    return int(cdf.searchsorted(rng.random(), side="right"))


@lru_cache(maxsize=64)
def _utc_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


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
