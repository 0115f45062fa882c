"""The service's rules on what clients send: ids, numbers, reported times, outcome kinds.

The decisions, outcomes, profiles and read-outs modules check what they are given with these;
``artwork.service`` re-exports them.
"""

from __future__ import annotations

import math
import re

from .errors import bad_request
from .schemas import EVENT_ID_REGEX

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
CONTEXT_KEYS = ("time", "device", "genre_affinity")
#: Accepted range of reported times (seconds since the epoch): 1970 to the end of 2999.
MIN_TS, MAX_TS = 0.0, 32503680000.0
OUTCOME_KINDS = ("click", "play", "activate", "dismiss")


def check_id(value, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise bad_request(f"{what} must be a string of 1-128 letters, digits or _.:@- "
                          f"(starting with a letter or digit), not {value!r}"[:300])
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


_EVENT_ID = re.compile(EVENT_ID_REGEX.removeprefix("^").removesuffix("$"))


def is_event_id(value) -> bool:
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None
