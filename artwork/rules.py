"""Every rule on ids and catalog content, stated once.

The JSON schemas (``schemas.py``, published at ``/openapi.json``), the catalog importer
(``importer.py``, behind both ``artwork import`` and ``POST /api/v1/admin/catalog``) and the
service (``service.py``) all read these values; ``tests/test_rules.py`` feeds manifests at each
limit (and one past it) to the importer and to the admin upload and checks both agree. The fixed
vocabularies (genres, tones, subjects, devices, time buckets) live beside them in ``vocab.py``.

Patterns are written for both readers: ECMA-262 for the schemas (anchored with ``^...$``) and
Python's ``re`` (``fullmatch`` on the same pattern; ``$`` then also refuses a trailing newline,
see ``pattern``).
"""

from __future__ import annotations

import re

# Ids in requests and answers ----------------------------------------------------------------------

#: Ids of people, and of titles and artwork as requests name them: 1-128 letters, digits or
#: ``_.:@-``, starting with a letter or digit. (Catalog ids, below, are a subset of these.)
ID_MAX_LENGTH = 128
ID_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
ID_INVALID = "a string of 1-128 letters, digits or _.:@- (starting with a letter or digit)"

#: A decision's id: the decision time in milliseconds (12 hex digits) and 128 random bits (32 hex
#: digits). Ids issued before the time was added are the 32 random digits alone, still accepted.
EVENT_ID_REGEX = r"^(?:[0-9a-f]{12})?[0-9a-f]{32}$"

#: What can happen to a decision (``POST /api/v1/events/<event_id>/<kind>``).
OUTCOME_KINDS = ("click", "play", "activate", "dismiss")

# The Personalizer-compatible API (``personalizer.py``) ------------------------------------------

#: An event id (``eventId`` in a rank call, or in the path of reward and activate): 1-256
#: letters, digits or ``_.:-``, starting with a letter or digit (a GUID fits; Personalizer's own
#: limit is 256 characters).
PZ_EVENT_ID_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$"
PZ_EVENT_ID_INVALID = "1-256 letters, digits or _.:- starting with a letter or digit"
#: An action's id: 1-256 characters.
PZ_ACTION_ID_MAX_LENGTH = 256
#: Actions in one rank call (Personalizer's limit).
PZ_MAX_ACTIONS = 50
#: Rewards are numbers in this range (Personalizer's), the default reward too.
PZ_REWARD_RANGE = (-1.0, 1.0)
#: A Personalizer loop's learning modes (Personalizer's "Online" and "Apprentice").
PZ_MODES = ("online", "apprentice")

# Catalog content: a manifest (``artwork import``) or an upload (``POST /api/v1/admin/catalog``) --

#: Ids of titles and artwork in a catalog: 1-64 characters of ``A-Z a-z 0-9 _ . -``, starting
#: with a letter or digit (every catalog id is also a valid ``ID_REGEX`` id).
CATALOG_ID_MAX_LENGTH = 64
CATALOG_ID_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
CATALOG_ID_INVALID = "1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit"
#: A genre (of a title, or an artwork's ``theme``): a lowercase token of letters, digits and
#: ``-`` starting with a letter, at most 32 characters (``sci-fi``).
GENRE_MAX_LENGTH = 32
GENRE_REGEX = r"^[a-z][a-z0-9-]{0,31}$"
#: A title's name: not empty, at most this many characters.
MAX_NAME = 200
#: A title's synopsis: at most this many characters (it may be left out).
MAX_SYNOPSIS = 1000
#: A title's year (it may be left out): from the first to the last, inclusive.
YEARS = (1870, 2100)
#: Genres per title: at least one, at most this many.
MAX_GENRES_PER_TITLE = 10
#: Artworks per title: at least one, at most this many.
MAX_ARTWORKS = 20
#: An artwork's cast: up to this many names of at most ``MAX_CAST_NAME`` characters.
MAX_CAST = 10
MAX_CAST_NAME = 100
#: Titles in one admin upload (a manifest file has no such limit).
MAX_UPLOAD_TITLES = 500


def pattern(regex: str) -> re.Pattern:
    """A schema pattern for Python's ``fullmatch``: without its anchors (``fullmatch`` anchors,
    and refuses a trailing newline as the schema's ``$`` does)."""
    return re.compile(regex.removeprefix("^").removesuffix("$"))
