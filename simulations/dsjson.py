"""DSJSON in: contextual-bandit decision logs as Azure Personalizer, microsoft/learning-loop and the
Decision Service write them (one JSON object per line, the format of ``vw --dsjson``), read into a
``BanditLog`` that carries the log's own features.

What a line means, as Vowpal Wabbit's own DSJSON parser reads it (``parse_example_json.cc``):

- ``c`` is the context. Its plain keys are features of the default namespace; an object value is
  a namespace named by its key (nested objects are namespaces of their own, named by their own
  key); ``"name": "value"`` is the feature ``name=value`` (VW hashes name and value together), a
  number is ``name:value``, ``true`` is ``name`` (``false`` and ``null`` are nothing); an array of
  numbers is positional features ``[0]``, ``[1]``... in the namespace named by its key (a ``null``
  takes no position), an array of objects puts their features in that namespace. Keys starting
  with ``_`` are not features, except ``_text`` (a string of space-separated features).
- ``c._multi`` lists the actions, each an object of the same form; its ``_tag`` names it.
- ``_labelIndex`` (0-based) or ``_label_Action`` (1-based) is the action that was shown,
  ``_label_cost`` its cost (Personalizer's convention: cost = -reward), ``_label_probability`` the
  probability it was shown with.
- ``a`` is the order of the action ids (1-based), the chosen one first; ``p`` their probabilities,
  in the order of ``a`` (the logging policy's whole distribution).
- ``o`` lists the outcomes joined to the event (``{"v": reward, "EventId": ..., "ActionTaken":
  ...}``); without ``_label_cost`` the reward is their earliest value (or their sum).
- ``_skipLearn: true`` marks an event not to learn (VW skips it), and ``DeferredAction: true`` an
  event whose activation was deferred: without an activation (an ``o`` entry with ``"ActionTaken":
  true``) the person never saw it, so it is neither learned nor evaluated. A line with a reward
  and no decision (``RewardValue``, ``Observations``: a reward that found no event) has nothing to
  learn either. All three are skipped and counted.
- ``Timestamp``, ``EventId``, ``Version``, ``VWState`` (the model that decided) and ``pdrop`` (the
  share of events the logger dropped, each kept event standing for ``1 / (1 - pdrop)``).

Refused, with the line named: conditional contextual bandits (``_slots``, ``_outcomes``), slates
(``_slot_id``), continuous actions (``_label_ca``, ``pdf``), interaction-grounded learning (an
``o`` value that is an object), and malformed lines (bad JSON, a
missing field, a chosen action out of range, a probability of 0 or above 1, ``p`` not summing to
1, a label that disagrees with ``a``). By default the first bad line stops the read;
``skip_invalid=True`` skips bad lines and counts them (``BanditLog.meta["invalid_lines"]``).

The project's own export (``logs.to_dsjson``) carries a ``_meta`` block with the artwork ids,
person, title and context: such a log keeps them, and its features are the service's own.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime
from pathlib import Path

from artwork.features import json_namespaces

from .logs import BanditLog, LogError, build_log

#: ``p`` must sum to 1 within this (logs keep probabilities as float32).
PMF_TOLERANCE = 1e-3
#: ``_label_probability`` and the first entry of ``p`` must agree within this.
PROBABILITY_AGREEMENT = 1e-3
#: How rewards from an ``o`` outcome array combine when the line has no ``_label_cost``
#: (Personalizer's reward aggregations).
REWARD_AGGREGATIONS = ("earliest", "sum")

#: Top-level keys of decisions that are not contextual-bandit decisions, and what they are.
_REFUSED_TOP = {
    "_outcomes": "a conditional contextual bandit or slates decision (_outcomes)",
    "_label_ca": "a continuous-action decision (_label_ca)",
    "pdf": "a continuous-action decision (pdf)",
}
_REFUSED_CONTEXT = {
    "_slots": "a conditional contextual bandit or slates decision (_slots)",
    "_slot_id": "a slates decision (_slot_id)",
    "_label_ca": "a continuous-action decision (_label_ca)",
}


class _Line(Exception):
    """A problem with one line; the reader adds the file and line number."""


def read_dsjson(path: str | Path, *, skip_invalid: bool = False,
                reward_aggregation: str = "earliest") -> BanditLog:
    """Every contextual-bandit decision of a DSJSON file, in file order, with its own features.

    Events marked ``_skipLearn`` or deferred and never activated are left out and counted in
    ``meta["skipped_events"]``. A bad line raises ``LogError`` naming the file and line, unless
    ``skip_invalid``: then it is left out and its message kept in ``meta["invalid_lines"]``.
    """
    if reward_aggregation not in REWARD_AGGREGATIONS:
        raise ValueError(f"reward_aggregation must be one of {', '.join(REWARD_AGGREGATIONS)}")
    path = Path(path)
    rows, invalid, skipped, pdrops = [], [], Counter(), {}
    own_export = True
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = _parse_object(raw)
                reason = _skip_reason(rec)
                if reason is not None:
                    skipped[reason] += 1
                    continue
                row = _decision(rec, line_no, reward_aggregation)
            except _Line as exc:
                message = f"{path}:{line_no}: {exc}"
                if not skip_invalid:
                    raise LogError(message) from None
                invalid.append(message)
                continue
            pdrops.setdefault(row.pop("pdrop"), line_no)
            from_this_service = row.pop("own_export")
            own_export = own_export and from_this_service
            rows.append(row)
    if len(pdrops) > 1:
        (first, first_line), (other, other_line) = list(pdrops.items())[:2]
        raise LogError(f"{path}: pdrop varies ({first:g} at line {first_line}, {other:g} at line {other_line}); "
                       "the estimators weight every round alike, so a log sampled at different rates cannot be "
                       "evaluated as it is")
    has_pmf = bool(rows) and all(r["pmf"] is not None for r in rows)
    for row in rows:
        if row["pmf"] is None:
            row["pmf"] = [0.0] * len(row["candidates"])
    meta = {"skipped_events": dict(skipped), "invalid_lines": invalid, "pdrop": next(iter(pdrops), 0.0)}
    interactions = None if (own_export and rows) else context_action_interactions([r["features"] for r in rows])
    return build_log(rows, _source(path, skipped, invalid), meta, has_pmf=has_pmf, interactions=interactions)


def _source(path: Path, skipped: Counter, invalid: list) -> str:
    notes = [f"{n} {reason}" for reason, n in sorted(skipped.items())]
    if invalid:
        notes.append(f"{len(invalid)} invalid line(s)")
    return f"dsjson {path}" + (f" (left out: {', '.join(notes)})" if notes else "")


def context_action_interactions(features: list[dict]) -> str:
    """VW ``-q`` arguments crossing every context namespace with every action namespace seen in
    ``features`` (VW keys interactions on a namespace's first character; the default namespace
    and anything but ASCII letters and digits are written as VW's ``\\xNN`` escapes)."""
    shared = {ns[:1] for f in features for ns in f["shared"]}
    actions = {ns[:1] for f in features for a in f["actions"] for ns in a}
    return " ".join(f"-q {_ns_char(s)}{_ns_char(a)}" for s in sorted(shared) for a in sorted(actions))


def _ns_char(char: str) -> str:
    if char.isascii() and char.isalnum():
        return char
    return f"\\x{char.encode('utf-8')[0]:02x}"


# One line --------------------------------------------------------------------------------------

def _parse_object(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Line("not UTF-8 text (DSJSON is one JSON object per line; is this a binary log?)") from None
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Line(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(rec, dict):
        raise _Line(f"a DSJSON line is a JSON object, not {type(rec).__name__}")
    for key, what in _REFUSED_TOP.items():
        if key in rec:
            raise _Line(f"not a contextual-bandit decision: {what}")
    return rec


def _skip_reason(rec: dict) -> str | None:
    """Why a well-formed event is not learned (None: it is)."""
    if "c" not in rec and ("RewardValue" in rec or "Observations" in rec):
        return "reward without a decision"
    if rec.get("_skipLearn") is True:
        return "_skipLearn"
    if rec.get("DeferredAction") is True and not any(
            isinstance(o, dict) and o.get("ActionTaken") is True for o in _outcomes(rec)):
        return "never activated"
    return None


def _outcomes(rec: dict) -> list:
    outcomes = rec.get("o", [])
    if not isinstance(outcomes, list):
        raise _Line("o must be an array of outcomes")
    return outcomes


def _number(rec: dict, key: str):
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Line(f"{key} must be a finite number, not {value!r}")
    return float(value)


def _decision(rec: dict, line_no: int, reward_aggregation: str) -> dict:
    if any(isinstance(o, dict) and isinstance(o.get("v"), dict) for o in _outcomes(rec)):
        raise _Line("not a contextual-bandit decision: interaction-grounded learning (an o value that is an object)")
    context = rec.get("c")
    if not isinstance(context, dict):
        raise _Line("no context: c must be an object")
    for key, what in _REFUSED_CONTEXT.items():
        if key in context:
            raise _Line(f"not a contextual-bandit decision: {what}")
    actions = context.get("_multi")
    if not isinstance(actions, list) or not actions:
        raise _Line("not a multi-action decision: c._multi must be a non-empty array of actions")
    if not all(isinstance(a, dict) for a in actions):
        raise _Line("every action in c._multi must be an object")
    for j, action in enumerate(actions, start=1):
        if "_slot_id" in action:
            raise _Line(f"not a contextual-bandit decision: a slates decision (_slot_id in action {j})")
    n = len(actions)
    chosen, order, probs = _chosen(rec, n)
    pscore = _number(rec, "_label_probability")
    if pscore is None:
        if probs is None:
            raise _Line("no probability: neither _label_probability nor p")
        pscore = probs[0]
    elif probs is not None and abs(pscore - probs[0]) > PROBABILITY_AGREEMENT:
        raise _Line(f"_label_probability {pscore:g} disagrees with the chosen action's p {probs[0]:g}")
    if not 0.0 < pscore <= 1.0:
        raise _Line(f"the chosen action's probability {pscore:g} is not in (0, 1]")
    pmf = None
    if probs is not None:
        total = sum(probs)
        pmf = [0.0] * n
        for action_id, p in zip(order, probs, strict=True):
            pmf[action_id - 1] = p / total
    pdrop = _number(rec, "pdrop") or 0.0
    if not 0.0 <= pdrop < 1.0:
        raise _Line(f"pdrop {pdrop:g} is not in [0, 1)")
    meta = rec.get("_meta") if isinstance(rec.get("_meta"), dict) else {}
    try:
        shared = json_namespaces(context, "c")
        per_action = [json_namespaces(a, f"action {j}") for j, a in enumerate(actions, start=1)]
    except ValueError as exc:
        raise _Line(str(exc)) from None
    candidates = meta.get("candidates") or [str(a.get("_tag", j)) for j, a in enumerate(actions, start=1)]
    if len(candidates) != n:
        raise _Line(f"_meta.candidates names {len(candidates)} actions for {n} in c._multi")
    return {
        "event_id": str(rec.get("EventId", f"line-{line_no}")),
        "ts": _timestamp(rec.get("Timestamp"), line_no), "user_id": meta.get("user_id", ""),
        "title_id": meta.get("title_id", ""), "context": meta.get("context", {}),
        "features": {"shared": shared, "actions": per_action}, "candidates": candidates,
        "pmf": pmf, "action": chosen, "pscore": pscore, "reward": _reward(rec, reward_aggregation),
        "pdrop": pdrop, "own_export": bool(meta),
    }


def _chosen(rec: dict, n: int) -> tuple[int, list[int], list[float] | None]:
    """The chosen action (0-based), the ``a`` order (1-based ids) and ``p`` (None if absent)."""
    order = rec.get("a")
    if not isinstance(order, list) or not order:
        raise _Line("no action order: a must be a non-empty array of 1-based action ids (VW skips lines without it)")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in order):
        raise _Line(f"a must hold integer action ids, not {order!r}")
    bad = next((x for x in order if not 1 <= x <= n), None)
    if bad is not None:
        raise _Line(f"action id {bad} in a is out of range 1..{n} (ids are 1-based)")
    if len(set(order)) != len(order):
        raise _Line(f"a repeats an action id: {order!r}")
    index, action = _number(rec, "_labelIndex"), _number(rec, "_label_Action")
    for key, value in (("_labelIndex", index), ("_label_Action", action)):
        if value is not None and not value.is_integer():
            raise _Line(f"{key} must be an integer, not {value:g}")
    if index is not None and action is not None and int(action) != int(index) + 1:
        raise _Line(f"_label_Action {int(action)} (1-based) and _labelIndex {int(index)} (0-based) disagree")
    chosen = int(index) if index is not None else int(action) - 1 if action is not None else order[0] - 1
    if not 0 <= chosen < n:
        raise _Line(f"chosen action {chosen + 1} is out of range 1..{n}")
    if order[0] != chosen + 1:
        raise _Line(f"a starts with action {order[0]} but the label's action is {chosen + 1} (a lists the chosen "
                    "action first)")
    probs = rec.get("p", rec.get("_p"))
    if probs is None:
        return chosen, order, None
    if not isinstance(probs, list) or len(probs) != len(order):
        raise _Line(f"p must be an array with one probability per entry of a ({len(order)})")
    if not all(isinstance(p, int | float) and not isinstance(p, bool) and 0.0 <= p <= 1.0 for p in probs):
        raise _Line(f"p must hold probabilities in [0, 1], not {probs!r}")
    if abs(sum(probs) - 1.0) > PMF_TOLERANCE:
        raise _Line(f"p sums to {sum(probs):.6g}, not 1")
    return chosen, order, [float(p) for p in probs]


def _reward(rec: dict, aggregation: str) -> float:
    cost = _number(rec, "_label_cost")
    if cost is not None:
        return -cost
    values = []
    for outcome in _outcomes(rec):
        value = outcome.get("v") if isinstance(outcome, dict) else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _Line(f"an outcome's v must be a finite number, not {value!r}")
        values.append(float(value))
    if not values:
        raise _Line("no reward: neither _label_cost nor an outcome value (o[].v)")
    return values[0] if aggregation == "earliest" else sum(values)


def _timestamp(value, line_no: int) -> float:
    if value is None:
        return float(line_no)
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _Line(f"Timestamp {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise _Line(f"Timestamp {value!r} has no UTC offset")
    return when.timestamp()
