"""JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) of every request and response body.

These dicts are the API contract. ``openapi.operation`` validates request bodies and path
parameters against them before a view runs, and ``openapi.build_openapi`` publishes them at
``GET /openapi.json``: the document and the validation cannot drift apart.

Conventions:

- A schema with a ``title`` becomes a named component (``#/components/schemas/<title>``) in the
  document; it is inlined everywhere else, so validation needs no ``$ref`` resolution.
- ``x-invalid`` on a schema is the message of a failed ``pattern``/``format``/``type`` check
  there (a person reads it, not a regular expression); ``x-error-codes`` maps a failed keyword
  to the error ``code`` answered (default ``bad_request``).
- Request schemas are closed (``additionalProperties: false``: unknown fields are refused);
  response schemas are open (clients must ignore fields they do not know), but list every field
  they promise as ``required``.
- Examples use the demo catalog's real ids (``t01``, ``t01-a1``, genres like ``romance``), so a
  client (or a fuzzer) replaying them reaches the success paths.

Shape checks live here; checks that need the data (an unknown title, genre or event) stay in
the service (``service.py`` and its step modules) and answer 404 or their own code.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import rules, vocab
from .policy import ALLOWED_OPTIONS

#: Ids of people, titles and artwork (``rules.py``, as the service's ``ID_PATTERN``). ECMA-262
#: semantics: ``$`` is the end of the string (no trailing newline), and the validator enforces
#: exactly that.
ID_REGEX = rules.ID_REGEX
EVENT_ID_REGEX = rules.EVENT_ID_REGEX
JOB_ID_REGEX = r"^[0-9a-f]{16}$"
IMAGE_SIZES = ("poster", "thumb")
OUTCOME_KINDS = rules.OUTCOME_KINDS
EFFECTS = ("rewarded", "recorded", "duplicate", "late", "held", "activated", "dismissed")
EVENT_STATES = ("pending", "awaiting_activation", "final")

#: Largest number of seconds (a view, a play) or genre weight accepted: 10^9 s is 31 years.
MAX_SECONDS = 1_000_000_000
MAX_WEIGHT = 1_000_000_000
#: Length limits of free-form strings in requests.
MAX_GENRE_LENGTH = 64
MAX_GENRES = 100
MAX_TIME_LENGTH = 64
#: Years a view's ``at`` may fall in (``format: date-time`` cannot say it; the validator does).
VIEW_YEARS = (1970, 2999)
MAX_SEED = 2**63 - 1

EXAMPLE_EVENT_ID = "019ab7c3e2f00123456789abcdef0123456789abcdef"
EXAMPLE_JOB_ID = "0123456789abcdef"
EXAMPLE_TIME = "2026-11-23T21:30:00+01:00"

ID_INVALID = rules.ID_INVALID
TIME_INVALID = "an ISO-8601 date and time with a UTC offset (RFC 3339, e.g. 2026-11-23T21:30:00+01:00)"


def id_schema(what: str, examples: list[str]) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": rules.ID_MAX_LENGTH, "pattern": ID_REGEX,
            "description": f"{what}: 1-{rules.ID_MAX_LENGTH} letters, digits or _.:@-, starting with a letter "
                           "or digit.",
            "x-invalid": ID_INVALID, "examples": examples}


USER_ID = id_schema("A person's id", ["alice", "u1"])
TITLE_ID = id_schema("A title's id", ["t01", "t02"])
ARTWORK_ID = id_schema("An artwork's id", ["t01-a1", "t02-a3"])
EXPERIMENT_NAME = id_schema("An experiment's name", ["personalized-vs-default", "eps-candidate"])
ARM_NAME = id_schema("An experiment arm's name", ["personalized", "default"])
EVENT_ID = {"type": "string", "pattern": EVENT_ID_REGEX, "minLength": 32, "maxLength": 44,
            "description": "A decision's id, 44 lowercase hex digits: the decision time in milliseconds "
                           "since the epoch (12 digits), so that ids sort by time, then 128 random bits "
                           "(32 digits). Decisions logged by earlier versions have the 32 random "
                           "digits alone.",
            "x-invalid": "44 (or, from older logs, 32) lowercase hex digits", "examples": [EXAMPLE_EVENT_ID]}
JOB_ID = {"type": "string", "pattern": JOB_ID_REGEX, "minLength": 16, "maxLength": 16,
          "description": "A simulated-visitor burst's id: 16 lowercase hex digits.",
          "x-invalid": "16 lowercase hex digits", "examples": [EXAMPLE_JOB_ID]}
GENRE = {"type": "string", "minLength": 1, "maxLength": MAX_GENRE_LENGTH,
         "description": "A genre of the catalog (unknown genres are refused with `unknown_genre`).",
         "examples": ["romance", "thriller"]}
SECONDS = {"type": "number", "minimum": 0, "maximum": MAX_SECONDS,
           "description": f"Seconds watched: a finite number from 0 to {MAX_SECONDS:,}.",
           "x-invalid": "a finite number", "examples": [1800]}
TIME = {"type": "string", "format": "date-time", "maxLength": MAX_TIME_LENGTH,
        "description": "ISO 8601 (RFC 3339) date and time with a UTC offset; a time without one is refused.",
        "x-invalid": TIME_INVALID, "examples": [EXAMPLE_TIME]}
PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
COUNT = {"type": "integer", "minimum": 0}
RATE = {"type": "number", "minimum": 0, "maximum": 1}
ISO_TIME_OUT = {"type": "string", "description": "ISO 8601 with the server's UTC offset."}
NULLABLE_GENRE = {"type": ["string", "null"], "description": "The genre with the clearly largest weight, "
                  "or null for a flat (neutral) profile."}
AFFINITY_OUT = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                "description": "Genre -> weight, summing to 1.", "examples": [{"horror": 0.25, "romance": 0.75}]}


def closed(properties: dict, required: tuple[str, ...] = (), **extra) -> dict:
    """A request object: only the listed fields."""
    # Keyword order is checking order: cheap whole-object checks before descending into fields.
    schema = {"type": "object", "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema["properties"] = properties
    schema.update(extra)
    return schema


def record(properties: dict, **extra) -> dict:
    """A response object: every listed field is promised; more may be added later."""
    return {"type": "object", "properties": properties, "required": list(properties), **extra}


# Requests ----------------------------------------------------------------------------------------

CONTEXT = closed({
    "time": {**TIME, "description": TIME["description"] + " Default: the server's local clock. Bucketed into "
             "morning (05-12), afternoon (12-17), evening (17-22), late-night (22-05), weekday/weekend."},
    "device": {"type": ["string", "null"], "enum": [*vocab.DEVICES, None],
               "description": "The device the person uses."},
    "genre_affinity": {"type": "object", "maxProperties": MAX_GENRES, "minProperties": 1,
                       "propertyNames": GENRE,
                       "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT,
                                                "x-invalid": "a finite number"},
                       "description": "Genre -> non-negative weight (at least one positive), normalized to "
                                      "sum 1; overrides the stored profile for this call.",
                       "examples": [{"romance": 3, "horror": 1}]},
}, title="Context", description="Optional context of a decision; each part falls back to what the service knows.",
   examples=[{"time": EXAMPLE_TIME, "device": "tv"}])


def select_request(max_titles: int) -> dict:
    """The select-artwork body; ``max_titles`` is the ``MAX_TITLES_PER_REQUEST`` setting."""
    return closed({
        "user_id": USER_ID,
        "title_id": {**TITLE_ID, "description": "One title (or give `title_ids`)."},
        "title_ids": {"type": "array", "maxItems": max_titles, "minItems": 1, "items": TITLE_ID,
                      "uniqueItems": True, "x-error-codes": {"maxItems": "too_many_titles"},
                      "description": f"Up to {max_titles} distinct titles (the MAX_TITLES_PER_REQUEST setting); "
                                     "one decision each, in this order.",
                      "examples": [["t01", "t02", "t03"]]},
        "context": CONTEXT,
        "defer_activation": {"type": "boolean", "default": False,
                             "description": "Learn from these decisions only if `POST .../activate` arrives "
                                            "(say, for a row below the fold)."},
    }, ("user_id",), title="SelectArtworkRequest",
        oneOf=[{"required": ["title_id"]}, {"required": ["title_ids"]}],
        examples=[{"user_id": "alice", "title_ids": ["t01", "t02"],
                   "context": {"time": EXAMPLE_TIME, "device": "tv"}},
                  {"user_id": "u1", "title_id": "t01"},
                  {"user_id": "bob", "title_id": "t03", "defer_activation": True,
                   "context": {"genre_affinity": {"romance": 3, "horror": 1}, "device": "mobile"}}])


EMPTY_BODY = closed({}, title="NoBody", description="No body, or an empty JSON object.", examples=[{}])

PLAY_REQUEST = closed({"seconds": SECONDS}, ("seconds",), title="PlayRequest",
                      examples=[{"seconds": 1800}, {"seconds": 42.5}])

VIEW_REQUEST = closed({
    "title_id": TITLE_ID,
    "seconds": SECONDS,
    "at": {**TIME, "x-years": list(VIEW_YEARS),
           "description": f"When it was watched, ISO 8601 with a UTC offset, in the years {VIEW_YEARS[0]}-"
                          f"{VIEW_YEARS[1]}; default now."},
}, ("title_id", "seconds"), title="ViewRequest",
    examples=[{"title_id": "t01", "seconds": 3000}, {"title_id": "t02", "seconds": 600, "at": EXAMPLE_TIME}])

RATING_REQUEST = closed({
    "title_id": TITLE_ID,
    "thumbs": {"type": "string", "enum": ["up", "down"]},
}, ("title_id", "thumbs"), title="RatingRequest", examples=[{"title_id": "t01", "thumbs": "up"}])

ONBOARDING_REQUEST = closed({
    "genres": {"type": "array", "maxItems": MAX_GENRES, "items": GENRE,
               "description": "Genres picked at sign-up; replaces earlier picks."},
}, ("genres",), title="OnboardingRequest", examples=[{"genres": ["family", "animation"]}])


def simulate_request(max_visitors: int) -> dict:
    return closed({
        "visitors": {"type": "integer", "minimum": 1, "maximum": max_visitors, "default": 500,
                     "x-invalid": "a whole number"},
        "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SEED,
                 "x-invalid": "a non-negative whole number",
                 "description": "Seed of the world's random draws (default: random)."},
    }, title="SimulateRequest", examples=[{"visitors": 5, "seed": 1}])


# Responses ---------------------------------------------------------------------------------------

ERROR = {
    "title": "Error",
    "type": "object",
    "description": "Every error has this one shape, with the response's status.",
    "properties": {"error": {
        "type": "object",
        "properties": {"status": {"type": "integer", "minimum": 400, "maximum": 599},
                       "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                       "message": {"type": "string", "minLength": 1}},
        "required": ["status", "code", "message"],
        "additionalProperties": False,
    }},
    "required": ["error"],
    "additionalProperties": False,
    "examples": [{"error": {"status": 404, "code": "unknown_title", "message": "unknown title 't999'"}}],
}


def error_for(status: int, codes: list[str]) -> dict:
    """The error shape, narrowed to one status and the codes an operation answers with it."""
    return {"allOf": [ERROR, {"properties": {"error": {"properties": {
        "status": {"const": status}, "code": {"enum": list(codes)}}}}}]}


RANKED = record({"artwork_id": ARTWORK_ID, "probability": PROBABILITY})

DECISION = record({
    "event_id": EVENT_ID,
    "title_id": TITLE_ID,
    "artwork_id": ARTWORK_ID,
    "image_url": {"type": "string", "examples": ["/images/t01-a3/poster.jpg"]},
    "thumbnail_url": {"type": "string", "examples": ["/images/t01-a3/thumb.jpg"]},
    "probability": {**PROBABILITY, "exclusiveMinimum": 0, "description": "The propensity of the shown artwork."},
    "explored": {"type": "boolean"},
    "model_version": COUNT,
    "ranking": {"type": "array", "items": RANKED, "minItems": 1,
                "description": "Every candidate with its probability, highest first, summing to 1."},
}, title="Decision")

RESOLVED_CONTEXT = record({
    "time": ISO_TIME_OUT,
    "time_bucket": {"type": "string", "enum": list(vocab.TIME_BUCKETS)},
    "day_type": {"type": "string", "enum": list(vocab.DAY_TYPES)},
    "device": {"type": ["string", "null"], "enum": [*vocab.DEVICES, None]},
    "affinity_source": {"type": "string", "enum": ["neutral", "history", "request"]},
    "genre_affinity": AFFINITY_OUT,
    "dominant_genre": NULLABLE_GENRE,
}, title="ResolvedContext", description="The context the decision used.")

SELECT_RESPONSE = record({
    "user_id": USER_ID,
    "context": RESOLVED_CONTEXT,
    "decisions": {"type": "array", "items": DECISION, "minItems": 1},
    "model_version": COUNT,
    "deferred": {"type": "boolean"},
    "experiment": {"anyOf": [{"type": "null"}, record({
        "experiment": EXPERIMENT_NAME, "arm": ARM_NAME,
        "served_arm": {**ARM_NAME, "description": "The arm whose policy drew this page: the person's own, or the "
                                                 "control once the guardrail stopped their arm."},
    }, title="ExperimentAssignment")], "description": "The running experiment and the person's arm; null when none "
                                                      "runs."},
}, title="SelectArtworkResponse")

OUTCOME_RESPONSE = record({
    "event_id": EVENT_ID,
    "kind": {"type": "string", "enum": list(OUTCOME_KINDS)},
    "effect": {"type": "string", "enum": list(EFFECTS)},
    "final": {"type": "boolean"},
    "reward": {"type": ["number", "null"]},
}, title="OutcomeEffect", description="What an outcome did (see README, 'Rewards and learning').",
    examples=[{"event_id": EXAMPLE_EVENT_ID, "kind": "click", "effect": "rewarded", "final": True, "reward": 1.0}])

PROFILE = record({
    "user_id": USER_ID,
    "known": {"type": "boolean"},
    "genre_affinity": AFFINITY_OUT,
    "dominant_genre": NULLABLE_GENRE,
    "source": {"type": "string", "enum": ["neutral", "history"]},
    "onboarding_genres": {"type": "array", "items": {"type": "string"}},
    "views": COUNT,
    "recent_views": {"type": "array", "items": record({
        "title_id": TITLE_ID, "seconds": {"type": "number", "minimum": 0}, "at": ISO_TIME_OUT})},
    "ratings": {"type": "array", "items": record({
        "title_id": TITLE_ID, "thumbs": {"type": "string", "enum": ["up", "down"]}})},
    "half_life_days": {"type": "number", "exclusiveMinimum": 0},
}, title="Profile")

ARTWORK = record({
    "id": ARTWORK_ID,
    "tags": {"type": "object", "properties": {
        "theme": {"type": "string"}, "tone": {"type": "string"}, "subject": {"type": "string"},
        "cast": {"type": "array", "items": {"type": "string"}}}, "required": ["theme", "tone", "subject"]},
    "image_url": {"type": "string"},
    "thumbnail_url": {"type": "string"},
    "default": {"type": "boolean", "description": "The title's default artwork (an experiment's fixed control "
                                                 "shows it); with none marked, the first is."},
}, title="Artwork")

TITLE = record({
    "id": TITLE_ID,
    "name": {"type": "string"},
    "genres": {"type": "array", "items": {"type": "string"}},
    "year": {"type": ["integer", "null"]},
    "synopsis": {"type": "string"},
    "artwork": {"type": "array", "items": ARTWORK},
}, title="Title")

TITLES = record({"titles": {"type": "array", "items": TITLE}}, title="Titles")

LEARNER_LAG = record({"events": COUNT, "seconds": {"type": "number", "minimum": 0}}, title="LearnerLag",
                     description="Events final but not yet learned, and the age in seconds of the oldest.")


def rate_rows(key: str) -> dict:
    return {"type": "array", "items": record({key: {"type": "string"}, "impressions": COUNT, "clicks": COUNT,
                                              "click_rate": RATE})}


STATS = record({
    "impressions": COUNT,
    "clicks": COUNT,
    "click_rate": RATE,
    "plays": COUNT,
    "rewards": record({"final": COUNT, "mean_reward": {"type": ["number", "null"]}, "pending": COUNT,
                       "awaiting_activation": COUNT,
                       "definition": {"type": "string", "enum": ["click", "quality_play"]}}),
    "by_artwork": rate_rows("artwork_id"),
    "by_time_bucket": rate_rows("time_bucket"),
    "by_dominant_genre": rate_rows("dominant_genre"),
    "model_version": COUNT,
    "policy": {"type": "string"},
    "learner_lag": LEARNER_LAG,
    "timeline": {"type": "array", "items": record({"minute": ISO_TIME_OUT, "impressions": COUNT, "clicks": COUNT,
                                                   "click_rate": RATE}),
                 "description": "Impressions and clicks per minute over the last 30 minutes."},
}, title="Stats")

EVENT_DETAIL = record({
    "event_id": EVENT_ID,
    "user_id": USER_ID,
    "title_id": TITLE_ID,
    "created_at": ISO_TIME_OUT,
    "context": {"type": "object", "description": "The logged context (as in a decision's `context`)."},
    "artwork_id": ARTWORK_ID,
    "probability": PROBABILITY,
    "explored": {"type": "boolean"},
    "model_version": COUNT,
    "policy": {"type": "string"},
    "state": {"type": "string", "enum": list(EVENT_STATES)},
    "reward": {"type": ["number", "null"]},
    "ranking": {"type": "array", "items": record({"artwork_id": ARTWORK_ID, "probability": PROBABILITY,
                                                 "tags": {"type": "object"}})},
    "outcomes": {"type": "array", "items": record({
        "kind": {"type": "string", "enum": list(OUTCOME_KINDS)}, "seconds": {"type": ["number", "null"]},
        "effect": {"type": "string", "enum": list(EFFECTS)}, "at": ISO_TIME_OUT})},
    "explanation": record({
        "summary": {"type": "string"},
        "factors": {"type": "array", "items": record({
            "factor": {"type": "string", "enum": ["taste", "time", "device"]}, "description": {"type": "string"},
            "changes_choice": {"type": "boolean"}, "top_without": ARTWORK_ID})},
        "current_top": ARTWORK_ID,
    }),
}, title="EventDetail", description="A logged decision, its outcomes, and a plain-language explanation.")

HEALTH = record({"status": {"const": "ok"}, "model_version": COUNT, "learner_lag": LEARNER_LAG,
                 "role": {"type": "string", "enum": ["all", "serve"],
                          "description": "'all': serves and learns; 'serve': a serving worker following snapshots."},
                 "pid": {"type": "integer", "minimum": 1}}, title="Health")

PING = record({"pong": {"const": True}}, title="Ping")

JOB = record({
    "id": JOB_ID,
    "status": {"type": "string", "enum": ["running", "done", "failed"]},
    "visitors": COUNT,
    "completed": COUNT,
    "clicks": COUNT,
    "seed": COUNT,
    "error": {"type": ["string", "null"]},
    "seconds": {"type": "number", "minimum": 0},
}, title="SimulationJob")

JOB_RESPONSE = record({"job": JOB}, title="SimulationJobResponse")
LATEST_JOB_RESPONSE = record({"job": {"anyOf": [JOB, {"type": "null"}]}}, title="LatestSimulationJobResponse")

DEMO_KEY = record({"key": {"type": ["string", "null"], "description": "The key to send in X-Api-Key; null: none is "
                                                                   "needed."}}, title="DemoKey")

#: The OpenAPI document itself (it is described loosely: the OpenAPI 3.1 meta-schema is its contract).
OPENAPI_DOCUMENT = {"type": "object", "required": ["openapi", "info", "paths"]}

#: Path parameters: name -> (schema, the error for a value that does not match it).
#: Event and simulation ids that cannot exist answer 404 like unknown ones; a malformed person or
#: title id is a client mistake (400); a malformed artwork id or image size cannot name an image (404).
PATH_PARAMETERS: Mapping[str, tuple[dict, tuple[int, str, str]]] = {
    "event_id": (EVENT_ID, (404, "unknown_event", "unknown event {value!r}")),
    "user_id": (USER_ID, (400, "bad_request", "user id must be " + ID_INVALID + ", not {value!r}")),
    "title_id": (TITLE_ID, (400, "bad_request", "title id must be " + ID_INVALID + ", not {value!r}")),
    "artwork_id": (ARTWORK_ID, (404, "unknown_artwork", "unknown artwork {value!r}")),
    "size": ({"type": "string", "enum": list(IMAGE_SIZES), "description": "poster (960x540) or thumb (384x216)."},
             (404, "not_found", "unknown image size {value!r}; sizes: " + ", ".join(IMAGE_SIZES))),
    "job_id": (JOB_ID, (404, "unknown_simulation", "unknown simulation {value!r}")),
    "eventId": ({"type": "string", "pattern": rules.PZ_EVENT_ID_REGEX, "minLength": 1, "maxLength": 256,
                 "x-invalid": rules.PZ_EVENT_ID_INVALID, "description": "The eventId of a rank call.",
                 "examples": ["pz-example-event"]},
                (404, "unknown_event", "unknown event {value!r}")),
    "experiment": (EXPERIMENT_NAME,
                   (404, "unknown_experiment", "unknown experiment {value!r}")),
}


# The Personalizer-compatible API (personalizer_api.py) --------------------------------------------

#: Personalizer's error shape (``{"error": {"code", "message", "innerError": {"code"}}}``): the
#: high-level code by status, the service's own code in ``innerError``.
PZ_ERROR_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound",
                  405: "MethodNotAllowed", 409: "Conflict", 413: "PayloadTooLarge", 500: "InternalServerError",
                  503: "ServiceUnavailable"}
PZ_ERROR = {
    "title": "PersonalizerError",
    "type": "object",
    "description": "Errors of the Personalizer-compatible API have Personalizer's shape.",
    "properties": {"error": {
        "type": "object",
        "properties": {"code": {"type": "string", "enum": sorted(set(PZ_ERROR_CODES.values()))},
                       "message": {"type": "string", "minLength": 1},
                       "innerError": {"type": "object", "properties": {"code": {"type": "string"}},
                                      "required": ["code"]}},
        "required": ["code", "message", "innerError"],
    }},
    "required": ["error"],
    "examples": [{"error": {"code": "ResourceNotFound", "message": "unknown event 'e1'",
                            "innerError": {"code": "unknown_event"}}}],
}


def pz_error_for(status: int, codes: list[str]) -> dict:
    """Personalizer's error shape, narrowed to one status and the service's codes answered with it."""
    return {"allOf": [PZ_ERROR, {"properties": {"error": {"properties": {
        "code": {"const": PZ_ERROR_CODES[status]}, "innerError": {"properties": {"code": {"enum": list(codes)}}}}}}}]}


PZ_FEATURE_OBJECTS = {"type": ["array", "null"], "items": {"type": "object"},
                      "description": "Feature objects, read by Vowpal Wabbit's JSON rules: an object value is a "
                                     "namespace, a string a categorical feature, a number a numeric one."}
PZ_ACTION = closed({
    "id": {"type": "string", "minLength": 1, "maxLength": rules.PZ_ACTION_ID_MAX_LENGTH},
    "features": PZ_FEATURE_OBJECTS,
}, ("id",), title="PersonalizerRankableAction")
PZ_RANK_REQUEST = closed({
    "contextFeatures": PZ_FEATURE_OBJECTS,
    "actions": {"type": "array", "items": PZ_ACTION, "minItems": 1, "maxItems": rules.PZ_MAX_ACTIONS,
                "description": "The actions to rank, the baseline first (the first one not excluded)."},
    "excludedActions": {"type": ["array", "null"], "items": {"type": "string"},
                        "description": "Ids of actions not to choose this time."},
    "eventId": {"type": ["string", "null"], "pattern": rules.PZ_EVENT_ID_REGEX, "maxLength": 256,
                "x-invalid": rules.PZ_EVENT_ID_INVALID, "description": "The event's id (default: one made up)."},
    "deferActivation": {"type": ["boolean", "null"],
                        "description": "true: rewards wait for an activate call, the wait time starts there."},
}, ("actions",), title="PersonalizerRankRequest", examples=[{
    "contextFeatures": [{"user": {"profile": "anonymous", "device": "mobile"}}, {"time": "evening"}],
    "actions": [{"id": "news", "features": [{"topic": "politics", "length": 3}]},
                {"id": "sports", "features": [{"topic": "football", "length": 2}]},
                {"id": "recipes", "features": [{"topic": "food", "length": 1}]}],
    "excludedActions": ["recipes"]}])
PZ_RANK_RESPONSE = record({
    "ranking": {"type": "array", "minItems": 1, "items": record({"id": {"type": "string"}, "probability": PROBABILITY}),
                "description": "Every action: the chosen one first, then by probability; excluded ones last, at 0."},
    "eventId": {"type": "string"},
    "rewardActionId": {"type": "string", "description": "The action to show."},
}, title="PersonalizerRankResponse")
PZ_REWARD_REQUEST = closed({
    "value": {"type": "number", "minimum": rules.PZ_REWARD_RANGE[0], "maximum": rules.PZ_REWARD_RANGE[1],
              "x-invalid": "a number from -1 to 1"},
}, ("value",), title="PersonalizerRewardRequest", examples=[{"value": 1}])
PZ_ESTIMATE = record({"estimate": {"type": ["number", "null"]}, "ci_low": {"type": ["number", "null"]},
                      "ci_high": {"type": ["number", "null"]}}, title="PersonalizerEstimate")
PZ_STATUS = record({
    "mode": {"type": "string", "enum": list(rules.PZ_MODES)},
    "since": {"type": ["number", "null"], "description": "When the mode began (seconds since the epoch; null: "
                                                          "the PERSONALIZER_MODE setting, never switched)."},
    "switches": {"type": "array", "items": record({"mode": {"type": "string"}, "reason": {"type": "string"},
                                                   "created_ts": {"type": "number"}})},
    "events": COUNT, "agreement_rate": {"type": ["number", "null"]},
    "bandit": PZ_ESTIMATE, "baseline": PZ_ESTIMATE, "advantage": PZ_ESTIMATE,
    "covered": {"type": "boolean", "description": "Whether every action the bandit would choose could be shown."},
    "log": record({"events": COUNT, "final": COUNT, "pending": COUNT, "awaiting_activation": COUNT,
                   "mean_reward": {"type": ["number", "null"]}}),
}, title="PersonalizerStatus", description="The loop's mode, and the bandit against the baseline over the mode's "
                                           "rewarded events (95% intervals).")
PZ_MODE_REQUEST = closed({"mode": {"type": "string", "enum": list(rules.PZ_MODES)}}, ("mode",),
                         title="PersonalizerModeRequest", examples=[{"mode": "online"}])


# Admin -------------------------------------------------------------------------------------------

DELETE_USER_REQUEST = closed({
    "forget_decisions": {"type": "boolean", "x-invalid": "true or false",
                         "description": "Also delete the person's decisions and retrain the model without them."},
}, title="DeleteUserRequest", examples=[{"forget_decisions": False}])

DELETED_USER = record({
    "user_id": USER_ID, "views_deleted": COUNT, "ratings_deleted": COUNT, "decisions_unlinked": COUNT,
    "decisions_deleted": COUNT, "model_retrained": {"type": "boolean"},
}, title="DeletedUser")

RETRAIN_REQUEST = closed({
    "vw_args": {"type": "string", "minLength": 1, "maxLength": 500, "x-invalid": "a string of VW arguments",
                "description": "New VW arguments (--cb_explore_adf and the options a candidate arm's vw_args may "
                               "use); default: the current ones."},
}, title="RetrainRequest", examples=[{}, {"vw_args": "--cb_explore_adf --epsilon 0.2 -q GH -q TO"}])

MODEL_EPOCH = record({
    "epoch": {"type": "integer", "minimum": 1}, "start_seq": COUNT, "vw_args": {"type": "string"},
    "reason": {"type": "string"},
}, title="ModelEpoch", description="The model now learns the learn queue after start_seq with these arguments.")

#: A 128x72 PNG, the smallest real image the upload examples can carry.
EXAMPLE_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAIAAAABICAIAAACx52pFAAAAfklEQVR42u3RMQEAMAjAsDE1iEAY8pHBQSqhiax+2utbAACAAAAQAAACAE"
    "AAAAgAAAEAIAAABACAAAAQAAACAEAAAAgAAAEAIAAABACAAAAQAAACAEAAAAgAAAEAIAAABACAAAAQAAACAEAAAAgAAAEAIAAAAAgAAAEA"
    "IAAXG/OVAWw5lvswAAAAAElFTkSuQmCC")
CATALOG_GENRE = {"type": "string", "pattern": rules.GENRE_REGEX, "x-invalid": "a lowercase genre name",
                 "description": f"A genre: up to {rules.GENRE_MAX_LENGTH} lowercase letters, digits and -, "
                                "starting with a letter; new genres join the vocabulary."}


def catalog_id_schema(what: str, examples: list[str]) -> dict:
    """A title's or artwork's id in a catalog upload: the importer's rule (``rules.py``)."""
    return {"type": "string", "minLength": 1, "maxLength": rules.CATALOG_ID_MAX_LENGTH,
            "pattern": rules.CATALOG_ID_REGEX, "description": f"{what}: {rules.CATALOG_ID_INVALID}.",
            "x-invalid": rules.CATALOG_ID_INVALID, "examples": examples}


CATALOG_TITLE_ID = catalog_id_schema("A title's id", ["n1", "t01"])
CATALOG_ARTWORK_ID = catalog_id_schema("An artwork's id", ["n1-a", "t01-a1"])

CATALOG_UPLOAD = closed({
    "titles": {"type": "array", "minItems": 1, "maxItems": rules.MAX_UPLOAD_TITLES, "items": closed({
        "id": CATALOG_TITLE_ID,
        "name": {"type": "string", "minLength": 1, "maxLength": rules.MAX_NAME},
        "genres": {"type": "array", "minItems": 1, "maxItems": rules.MAX_GENRES_PER_TITLE, "items": CATALOG_GENRE},
        "year": {"type": ["integer", "null"], "minimum": rules.YEARS[0], "maximum": rules.YEARS[1]},
        "synopsis": {"type": ["string", "null"], "maxLength": rules.MAX_SYNOPSIS},
        "artwork": {"type": "array", "minItems": 1, "maxItems": rules.MAX_ARTWORKS, "items": closed({
            "id": CATALOG_ARTWORK_ID,
            "tags": closed({
                "theme": CATALOG_GENRE,
                "tone": {"type": "string", "enum": list(vocab.TONES)},
                "subject": {"type": "string", "enum": list(vocab.SUBJECTS)},
                "cast": {"type": ["array", "null"], "maxItems": rules.MAX_CAST,
                         "items": {"type": "string", "minLength": 1, "maxLength": rules.MAX_CAST_NAME}},
            }, required=("theme", "tone", "subject")),
            "image_base64": {"type": "string", "minLength": 1, "contentEncoding": "base64",
                             "description": "The image file (JPEG, PNG, WebP or GIF), base64-encoded."},
            "default": {"type": "boolean", "x-invalid": "true or false",
                        "description": "The title's default artwork, which an experiment's fixed control shows "
                                       "(at most one per title; none marked: the first)."},
        }, required=("id", "tags", "image_base64"))},
    }, required=("id", "name", "genres", "artwork"))},
    "skip_invalid": {"type": "boolean", "x-invalid": "true or false",
                     "description": "Import the valid titles and report the others (default: all or nothing)."},
}, required=("titles",), title="CatalogUpload", examples=[{"titles": [{
    "id": "n1", "name": "Night Train", "genres": ["thriller", "drama"], "year": 2024,
    "artwork": [{"id": "n1-a", "tags": {"theme": "thriller", "tone": "dark", "subject": "close-up"},
                 "image_base64": EXAMPLE_PNG_BASE64}]}]}])

CATALOG_UPLOAD_RESULT = record({
    "imported": {"type": "array", "items": TITLE_ID},
    "problems": {"type": "array", "items": {"type": "string"}, "description": "Titles left out, and why."},
}, title="CatalogUploadResult")


# Experiments (artwork/experiments.py) ---------------------------------------------------------------

ARM_POLICIES = ("bandit", "default", "uniform", "candidate")  # experiments.POLICIES
VW_ARGS = {"type": "string", "minLength": 1, "maxLength": 1000,
           "description": "A candidate arm's Vowpal Wabbit arguments: --cb_explore_adf and only these options "
                          "(values as VW takes them; -b at most 22, ensembles at most 32): "
                          + " ".join(sorted(ALLOWED_OPTIONS)) + ". Its model learns the whole log off-policy, "
                          "every arm's decisions once each in the live model's order, and its arm draws from it."}

EXPERIMENT_REQUEST = closed({
    "name": EXPERIMENT_NAME,
    "arms": {"type": "array", "minItems": 2, "maxItems": 10, "items": closed({
        "name": ARM_NAME,
        "policy": {"type": "string", "enum": list(ARM_POLICIES),
                   "description": "bandit: the live VW bandit; default: each title's default artwork; uniform: "
                                  "each artwork with probability 1/K; candidate: a model of the arm's own vw_args "
                                  "learning off-policy from the whole log."},
        "vw_args": VW_ARGS,
        "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000, "default": 1,
                  "description": "The arm's share of people, relative to the others' (normalized to sum 1)."},
    }, ("name", "policy")), "description": "2 to 10 arms with distinct names."},
    "control": {**ARM_NAME, "description": "The arm the others are compared with (default: the first)."},
    "guardrail_margin": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.05,
                         "description": "An arm whose click rate is below control's by more than this share (0.05: "
                                        "5%), by its 95% confidence sequence, is stopped."},
}, ("name", "arms"), title="ExperimentRequest", examples=[{
    "name": "bandit-vs-default-2026-12", "control": "default",
    "arms": [{"name": "personalized", "policy": "bandit", "share": 0.5},
             {"name": "default", "policy": "default", "share": 0.5}]}, {
    "name": "epsilon-candidate-2026-12", "control": "live",
    "arms": [{"name": "live", "policy": "bandit"},
             {"name": "epsilon", "policy": "candidate", "vw_args": "--cb_explore_adf --epsilon 0.05 -q GA"}]}])

STOP_EXPERIMENT_REQUEST = closed({
    "reason": {"type": "string", "minLength": 1, "maxLength": 300, "description": "Why (recorded with the stop)."},
}, title="StopExperimentRequest", examples=[{"reason": "enough data"}])

_NULLABLE_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TS = {"type": ["number", "null"], "description": "Seconds since the epoch."}
INTERVAL = record({"ci_low": _NULLABLE_RATE, "ci_high": _NULLABLE_RATE}, title="RateInterval",
                  description="The always-valid 95% interval (null before 30 people).")
LIFT = record({"value": _NUMBER_OR_NULL, "ci_low": _NUMBER_OR_NULL, "ci_high": _NUMBER_OR_NULL,
               "fixed_ci_low": _NUMBER_OR_NULL, "fixed_ci_high": _NUMBER_OR_NULL}, title="Lift",
              description="rate / control's rate - 1: ci_low/ci_high the 95% confidence sequence (safe to read at any "
                          "time), fixed_ci_* the fixed-horizon delta-method interval; null before 30 people per arm.")
ARM_STOP = record({"arm": ARM_NAME, "stopped_ts": {"type": "number"}, "stopped_by": {"type": "string"},
                   "reason": {"type": "string"}}, title="ArmStop")
ARM = {"type": "object", "required": ["name", "policy", "share", "control", "people", "decisions", "clicks",
                                      "click_rate", "click_rate_ci", "quality_plays", "quality_play_rate", "stopped"],
       "properties": {
           "name": ARM_NAME, "policy": {"type": "string", "enum": list(ARM_POLICIES)}, "share": PROBABILITY,
           "control": {"type": "boolean"}, "people": COUNT, "decisions": COUNT, "clicks": COUNT,
           "click_rate": _NULLABLE_RATE, "click_rate_ci": INTERVAL, "quality_plays": COUNT,
           "quality_play_rate": _NULLABLE_RATE, "stopped": {"anyOf": [{"type": "null"}, ARM_STOP]},
           "lift": LIFT, "quality_play_lift": LIFT, "vw_args": VW_ARGS,
           "model": {"anyOf": [{"type": "null"}, record(
               {"learned": {**COUNT, "description": "The last learn-queue position the model includes (the "
                                                    "serving process's model: with serve --workers, its newest "
                                                    "snapshot)."},
                "behind": {**COUNT, "description": "Queued events it has not learned yet."}},
               title="CandidateModel", description="A candidate arm's model while it serves: how far it has learned "
                                                   "(null before the experiment starts, and once it or the arm "
                                                   "stopped: its model is then deleted).")]}},
       "title": "ExperimentArm",
       "description": "One arm's results, the person as the unit; lift and quality_play_lift for every arm but "
                      "control."}
EXPERIMENT = record({
    "name": EXPERIMENT_NAME, "state": {"type": "string", "enum": ["draft", "running", "stopped"]},
    "control": ARM_NAME, "created_ts": {"type": "number"}, "started_ts": _TS, "stopped_ts": _TS,
    "stopped_by": {"type": ["string", "null"]}, "stop_reason": {"type": ["string", "null"]},
    "arms": {"type": "array", "items": ARM},
    "guardrail": record({"margin": {"type": "number"}, "stopped_arms": {"type": "array", "items": ARM_NAME},
                         "rule": {"type": "string"}}, title="Guardrail"),
    "interval": {"type": "object", "description": "How the intervals are made."},
}, title="Experiment", description="An experiment and its results so far.")
EXPERIMENT_SUMMARY = record({
    "name": EXPERIMENT_NAME, "state": {"type": "string", "enum": ["draft", "running", "stopped"]},
    "arms": {"type": "array", "items": {"type": "object"}}, "control": ARM_NAME, "created_ts": {"type": "number"},
    "started_ts": _TS, "stopped_ts": _TS, "stopped_arms": {"type": "array", "items": ARM_NAME},
}, title="ExperimentSummary")
EXPERIMENTS = record({"experiments": {"type": "array", "items": EXPERIMENT_SUMMARY}}, title="Experiments")
OFFLINE_BESIDE_LIVE = record({
    "arm": ARM_NAME, "policy": {"type": "string"}, "live_click_rate": _NULLABLE_RATE, "live_ci_low": _NULLABLE_RATE,
    "live_ci_high": _NULLABLE_RATE, "offline_estimator": {"type": "string"}, "offline_value": _NUMBER_OR_NULL,
    "offline_ci_low": _NUMBER_OR_NULL, "offline_ci_high": _NUMBER_OR_NULL, "offline_decisions": COUNT,
    "support": _NUMBER_OR_NULL, "effective_sample_size": _NUMBER_OR_NULL,
}, title="OfflineBesideLive", description="What offline evaluation of the other arms' log said of an arm's policy, "
                                          "beside what the arm earned live.")
DEMO_EXPERIMENT = record({
    "experiment": {"anyOf": [{"type": "null"}, EXPERIMENT]},
    "offline_beside_live": {"type": "array", "items": OFFLINE_BESIDE_LIVE},
}, title="DemoExperiment")
