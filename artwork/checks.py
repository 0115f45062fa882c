"""Checks on what clients send (ids, numbers, reported times, event ids), with the rules they
apply taken from ``rules.py``. A failed check raises the 400 the client gets."""

from __future__ import annotations

import math

from . import rules
from .errors import bad_request

ID_PATTERN = rules.pattern(rules.ID_REGEX)
OUTCOME_KINDS = rules.OUTCOME_KINDS
CONTEXT_KEYS = ("time", "device", "genre_affinity")
#: Accepted range of reported times (seconds since the epoch): 1970 to the end of 2999.
MIN_TS, MAX_TS = 0.0, 32503680000.0

_EVENT_ID = rules.pattern(rules.EVENT_ID_REGEX)


def check_id(value, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise bad_request(f"{what} must be {rules.ID_INVALID}, not {value!r}"[:300])
    return value


def check_number(value, what: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{what} must be a finite number, not {value!r}"[:300])
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        raise bad_request(f"{what} must be a finite number, not {str(value)[:40]}...") from None
    if not math.isfinite(value):
        raise bad_request(f"{what} must be a finite number, not {value!r}"[:300])
    if value < minimum:
        raise bad_request(f"{what} must be at least {minimum:g}, not {value!r}")
    return float(value)


def is_event_id(value) -> bool:
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None
