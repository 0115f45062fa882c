"""Context and artwork features, and their Vowpal Wabbit text form. Pure functions only.

The features of a decision are logged exactly as built here (``{"shared": ..., "actions":
[...]}``) and the learner turns the logged form back into VW lines with ``to_vw``: what the
model learns from is always what it predicted from, even if the catalog changes later.

VW namespaces (one letter each, because VW keys interactions on the first letter):

- shared (the context): ``G`` genre affinity (genre -> weight in [0, 1], summing to 1),
  ``T`` time (``bucket=evening``, ``day=weekend``), ``K`` clock (the local time of day as a
  point on a circle, ``hour_cos`` and ``hour_sin``, to the quarter hour: crossed with an
  artwork's tone it lets the effect of a tone rise and fall smoothly through the day instead of
  jumping at the buckets' edges), ``D`` device (``device=tv``).
- per artwork: ``A`` artwork id, ``H`` theme, ``O`` tone, ``S`` subject, ``C`` cast,
  ``M`` match: the person's affinity for the artwork's theme, one number that lets what is
  learned about "show people the aspect they like" carry over to every genre at once.

Which namespaces are crossed with which is the policy's choice (``config.DEFAULT_VW_ARGS``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from . import vocab
from .jsontext import log_json

_UNSAFE = re.compile(r"[\s|:]+")


@lru_cache(maxsize=65536)
def vw_token(text: str) -> str:
    """A VW-safe feature name: no whitespace, '|' or ':' (they are VW syntax)."""
    return _UNSAFE.sub("_", str(text).strip()) or "_"


# Time ------------------------------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time that carries a UTC offset; raise ValueError otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"time {text!r} is not an ISO-8601 date and time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"time {text!r} has no UTC offset (add e.g. +01:00 or Z)")
    return when


def time_bucket(hour: int) -> str:
    """morning 05-12, afternoon 12-17, evening 17-22, late-night 22-05 (local hours)."""
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "late-night"


def time_context(when: datetime) -> dict:
    """The time part of the context, from a local, offset-aware time."""
    return {
        "time": when.isoformat(timespec="seconds"),
        "time_bucket": time_bucket(when.hour),
        "day_type": "weekend" if when.weekday() >= 5 else "weekday",
    }


#: The clock's resolution: quarters of an hour, 96 a day.
QUARTERS_PER_DAY = 96


def day_quarter(time_text: str) -> int:
    """The quarter hour of the day (0-95) of an ISO-8601 time, in the time's own local clock."""
    when = datetime.fromisoformat(time_text)
    return when.hour * 4 + when.minute // 15


@lru_cache(maxsize=QUARTERS_PER_DAY)
def clock_features(quarter: int) -> dict:
    """The ``K`` namespace: the time of day as a point on the unit circle (midnight at angle 0),
    so 23:45 and 00:00 are neighbours."""
    angle = 2 * math.pi * quarter / QUARTERS_PER_DAY
    return {"hour_cos": round(math.cos(angle), 4), "hour_sin": round(math.sin(angle), 4)}


# Genre affinity --------------------------------------------------------------------------------

def neutral_affinity(genres) -> dict[str, float]:
    """The prior of a person we know nothing about: every genre equally."""
    return dict(_neutral(frozenset(genres)))


@lru_cache(maxsize=64)
def _neutral(genres: frozenset) -> tuple:
    ordered = sorted(genres)
    return tuple((g, round(1.0 / len(ordered), 6)) for g in ordered)


def normalize_affinity(weights: dict[str, float]) -> dict[str, float]:
    """Clip negatives to 0 and scale to sum 1; an all-zero input stays empty."""
    positive = {g: float(w) for g, w in weights.items() if w > 0}
    total = sum(positive.values())
    if total <= 0:
        return {}
    return {g: round(w / total, 6) for g, w in sorted(positive.items())}


def affinity_from_history(
    *,
    views: list[dict],
    ratings: list[dict],
    onboarding_genres: list[str],
    title_genres: dict[str, list[str]],
    vocabulary: set[str],
    now_ts: float,
    half_life_days: float,
    full_view_seconds: float,
) -> dict[str, float]:
    """Recency-weighted genre affinity from what a person watched and rated.

    A view adds ``min(1, seconds / full_view_seconds)`` to its title's genres, split equally
    among them; a thumbs up adds 1 and a thumbs down subtracts 1 the same way; both decay by
    half every ``half_life_days``. Onboarding picks add 0.5 each and never decay. The result
    starts from a neutral prior of total weight 1 (so one short view does not make a person a
    single-genre fan), is clipped at 0 and normalized to sum 1.
    """
    weights = {g: 1.0 / len(vocabulary) for g in vocabulary} if vocabulary else {}

    def add(title_id: str, amount: float, at_ts: float) -> None:
        genres = title_genres.get(title_id) or []
        if not genres:
            return
        age_days = max(0.0, now_ts - at_ts) / 86400.0
        decayed = amount * math.pow(0.5, age_days / half_life_days)
        for g in genres:
            weights[g] = weights.get(g, 0.0) + decayed / len(genres)

    for view in views:
        add(view["title_id"], min(1.0, view["seconds"] / full_view_seconds), view["at_ts"])
    for rating in ratings:
        add(rating["title_id"], float(rating["thumbs"]), rating["at_ts"])
    for g in onboarding_genres:
        weights[g] = weights.get(g, 0.0) + 0.5
    return normalize_affinity(weights)


def dominant_genre(affinity: dict[str, float]) -> str | None:
    """The genre with the clearly largest weight, or None for a flat (neutral) profile."""
    if not affinity:
        return None
    ranked = sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 1e-6:
        return None
    return ranked[0][0]


# Feature dictionaries ----------------------------------------------------------------------------

def shared_features(affinity: dict[str, float], time_ctx: dict, device: str | None) -> dict:
    """The context features: ``{namespace: {feature: value}}``. The clock comes from
    ``time_ctx["time"]`` (or ``time_ctx["quarter"]``); without either there is no ``K``."""
    shared = {
        "G": {vw_token(g): round(w, 6) for g, w in affinity.items() if w > 0},
        "T": {f"bucket={time_ctx['time_bucket']}": 1, f"day={time_ctx['day_type']}": 1},
    }
    quarter = time_ctx.get("quarter")
    if quarter is None and time_ctx.get("time"):
        quarter = day_quarter(time_ctx["time"])
    if quarter is not None:
        shared["K"] = dict(clock_features(quarter))
    if device:
        shared["D"] = {f"device={device}": 1}
    return shared


@lru_cache(maxsize=65536)
def _artwork_namespaces(artwork_id: str, theme: str, tone: str, subject: str, cast: tuple) -> dict:
    """The namespaces that depend on the artwork alone (built once per artwork)."""
    spaces = {
        "A": {f"id={vw_token(artwork_id)}": 1},
        "H": {f"theme={vw_token(theme)}": 1},
        "O": {f"tone={vw_token(tone)}": 1},
        "S": {f"subject={vw_token(subject)}": 1},
    }
    if cast:
        spaces["C"] = {f"cast={vw_token(name)}": 1 for name in cast}
    return spaces


def _static(artwork: dict) -> dict:
    tags = artwork["tags"]
    return _artwork_namespaces(artwork["id"], tags["theme"], tags["tone"], tags["subject"],
                               tuple(tags.get("cast") or ()))


def action_features(artwork: dict, affinity: dict[str, float]) -> dict:
    """One candidate artwork's features: ``{namespace: {feature: value}}``."""
    return {**_static(artwork), "M": {"match": round(affinity.get(artwork["tags"]["theme"], 0.0), 6)}}


def build_features(affinity: dict[str, float], time_ctx: dict, device: str | None,
                   artworks: list[dict]) -> dict:
    """Everything the policy sees for one decision, in the form that is logged."""
    return {
        "shared": shared_features(affinity, time_ctx, device),
        "actions": [action_features(a, affinity) for a in artworks],
    }


# Counterfactuals -------------------------------------------------------------------------------

#: The parts of a context a decision can be explained by, and the namespaces each one fills.
FACTORS = ("taste", "time", "device")
_FACTOR_NAMESPACES = {"time": ("T", "K"), "device": ("D",)}


def without_factor(features: dict, factor: str, neutral: dict[str, float]) -> dict | None:
    """A decision's features as if its context lacked ``factor``: for ``taste`` the ``neutral``
    prior in place of the person's affinity (and each artwork's match with it), for ``time`` and
    ``device`` no such namespaces. None if the context had no such part to take away."""
    if factor == "taste":
        match = round(1 / max(1, len(neutral)), 6)
        return {"shared": {**features["shared"], "G": {vw_token(g): w for g, w in neutral.items()}},
                "actions": [{**a, "M": {"match": match}} for a in features["actions"]]}
    namespaces = _FACTOR_NAMESPACES[factor]
    if not any(ns in features["shared"] for ns in namespaces):
        return None
    return {"shared": {k: v for k, v in features["shared"].items() if k not in namespaces},
            "actions": features["actions"]}


# The request path ----------------------------------------------------------------------------------
# ``build_features``, ``to_vw`` and ``log_json`` of the result, assembled from pieces built once:
# the context's per context, each artwork's per artwork. tests/test_features.py checks that the
# text and lines are exactly what those three give.

class SharedContext(NamedTuple):
    """A decision's context in every form the request path needs: the same for each title of a
    page and, cached, for each request with the same affinity, time and device."""

    affinity: dict[str, float]
    features: dict          # the shared namespaces, as logged
    line: str               # their VW line
    json: str               # log_json(features)
    affinity_json: str      # log_json(affinity)
    dominant_genre: str | None
    #: theme -> the match feature's (JSON, VW) text, filled in as themes come up
    matches: dict[str, tuple[str, str]]


@lru_cache(maxsize=4096)
def shared_context(affinity: tuple, time_bucket: str, day_type: str, device: str | None,
                   quarter: int | None = None) -> SharedContext:
    """``affinity``: its ``(genre, weight)`` items, as ``normalize_affinity`` or
    ``neutral_affinity`` give them (positive floats: the cache would take 1 and 1.0, or 0.0 and
    -0.0, for one key); ``quarter``: ``day_quarter`` of the time. Callers must not change what
    they get."""
    weights = dict(affinity)
    shared = shared_features(weights, {"time_bucket": time_bucket, "day_type": day_type, "quarter": quarter},
                             device)
    return SharedContext(weights, shared, "shared " + namespaces_text(shared), log_json(shared),
                         log_json(weights), dominant_genre(weights), {})


class TitleParts(NamedTuple):
    """A title's candidates in the forms every decision on it needs (built once per catalog load)."""

    candidates: list[str]               # artwork ids, in feature order
    candidates_json: str
    #: per artwork: its features' JSON without the closing brace, its VW text, its theme
    artworks: tuple[tuple[str, str, str], ...]


def title_parts(artworks: list[dict]) -> TitleParts:
    parts = []
    for art in artworks:
        static = _static(art)
        parts.append((log_json(static)[:-1], namespaces_text(static), art["tags"]["theme"]))
    candidates = [a["id"] for a in artworks]
    return TitleParts(candidates, log_json(candidates), tuple(parts))


def decision_text(shared: SharedContext, title: TitleParts) -> tuple[str, list[str]]:
    """One decision's logged features as JSON text, and its VW lines."""
    actions, lines = [], [shared.line]
    for static_json, static_text, theme in title.artworks:
        match = shared.matches.get(theme)
        if match is None:
            value = round(shared.affinity.get(theme, 0.0), 6)
            match = shared.matches[theme] = (',"M":' + log_json({"match": value}) + "}",
                                             f" |M match:{value:.6g}")
        actions.append(static_json + match[0])
        lines.append(static_text + match[1])
    return '{"shared":' + shared.json + ',"actions":[' + ",".join(actions) + "]}", lines


def namespaces_text(spaces: dict) -> str:
    """VW text for ``{namespace: {feature: value}}``."""
    parts = []
    for ns in sorted(spaces):
        feats = " ".join(
            name if value == 1 else f"{name}:{value:.6g}"
            for name, value in sorted(spaces[ns].items())
        )
        parts.append(f"|{ns} {feats}")
    return " ".join(parts)


def to_vw(features: dict, label: tuple[int, float, float] | None = None) -> list[str]:
    """VW multiline (ADF) text for one decision.

    ``label`` is ``(chosen_index, cost, probability)``; VW minimizes cost, so cost = -reward.
    """
    lines = ["shared " + namespaces_text(features["shared"])]
    for index, action in enumerate(features["actions"]):
        prefix = ""
        if label is not None and index == label[0]:
            prefix = f"0:{label[1]:.6g}:{label[2]:.9g} "
        # an action without features is "|": an empty line would end VW's multiline example
        lines.append(prefix + (namespaces_text(action) or "|"))
    return lines


def validate_device(device) -> str | None:
    if device is None:
        return None
    if device not in vocab.DEVICES:
        raise ValueError(f"device must be one of {', '.join(vocab.DEVICES)}, not {device!r}")
    return device


# Features given as JSON (DSJSON logs, the Personalizer API) ----------------------------------------

#: The namespace of features given without one (VW's default namespace, written ``|`` alone).
DEFAULT_NAMESPACE = " "


def json_namespaces(obj: dict, where: str) -> dict:
    """``{namespace: {feature: value}}`` of one example given as a JSON object (a DSJSON context or
    action, a Personalizer context or action's features), by Vowpal Wabbit's JSON rules
    (``simulations/dsjson.py`` says what they are). A value VW cannot read raises ValueError
    naming ``where``."""
    spaces: dict[str, dict[str, float]] = {}
    _object_into(obj, DEFAULT_NAMESPACE, spaces, where)
    return {ns: feats for ns, feats in spaces.items() if feats}


def namespaces_json(spaces: dict) -> dict:
    """The JSON object that ``json_namespaces`` reads back as ``spaces``: a feature of value 1 is
    ``"name": true`` (or, named with a leading ``_``, a token of ``_text``), the default
    namespace's features are plain keys, every other namespace an object. ValueError for what
    has no such form (a default-namespace feature with a namespace's name, say)."""
    out = _features_json(spaces.get(DEFAULT_NAMESPACE, {}))
    for ns, feats in spaces.items():
        if ns == DEFAULT_NAMESPACE:
            continue
        if ns in out or ns.startswith("_"):
            raise ValueError(f"namespace {ns!r} cannot be written as JSON beside the default namespace's features")
        out[ns] = _features_json(feats)
    return out


def _features_json(feats: dict) -> dict:
    out, text = {}, []
    for name, value in feats.items():
        if name.startswith("_"):
            if value != 1.0:
                raise ValueError(f"feature {name!r} (value {value:g}) cannot be written as JSON")
            text.append(name)
        else:
            out[name] = True if value == 1.0 else value
    if text:
        out["_text"] = " ".join(text)
    return out


def _add(spaces: dict, ns: str, name: str, value: float) -> None:
    feats = spaces.setdefault(ns, {})
    # VW adds a repeated feature again; for a linear model that is the sum of the values.
    feats[name] = feats.get(name, 0.0) + value


def _object_into(obj: dict, ns: str, spaces: dict, where: str) -> None:
    for key, value in obj.items():
        if key.startswith("_"):
            if key == "_text":
                if not isinstance(value, str):
                    raise ValueError(f"{where}: _text must be a string")
                for token in value.split():
                    _add(spaces, ns, vw_token(token), 1.0)
            continue  # every other _key is metadata, not a feature (VW ignores it)
        _value_into(key, value, ns, spaces, f"{where}.{key}")


def _value_into(key: str, value, ns: str, spaces: dict, where: str) -> None:
    if value is None or value is False:
        return
    if value is True:
        _add(spaces, ns, vw_token(key), 1.0)
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: a feature's value must be finite")
        _add(spaces, ns, vw_token(key), float(value))
    elif isinstance(value, str):
        _add(spaces, ns, vw_token(f"{key}={value}"), 1.0)
    elif isinstance(value, dict):
        _object_into(value, vw_token(key), spaces, where)
    elif isinstance(value, list):
        _array_into(vw_token(key), value, spaces, where)


def _array_into(ns: str, values: list, spaces: dict, where: str) -> None:
    position = 0
    for item in values:
        if item is None:
            continue  # VW skips a null without using up a position
        if isinstance(item, dict):
            _object_into(item, ns, spaces, where)
        elif isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            _add(spaces, ns, f"[{position}]", float(item))
            position += 1
        else:
            raise ValueError(f"{where}: an array holds numbers or objects (VW's JSON rules), not {item!r}")
