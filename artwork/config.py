"""Settings: defaults, then ``ARTWORK_*`` environment variables, then explicit overrides.

``Settings`` is one frozen object with a typed field per setting, each with its documentation;
``load_settings`` builds it once, coerced and validated, and code reads attributes
(``settings.reward_wait_seconds``). A setting's name, as the environment (``ARTWORK_<NAME>``),
overrides (``create_app({"REWARD_WAIT_SECONDS": 5})``) and the README spell it, is its field's
name in upper case. The README's settings table is checked against ``NAMES`` by a test, so a new
setting cannot go undocumented.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field

from . import rules

#: The VW arguments of the default policy. See README "Why these defaults".
DEFAULT_VW_ARGS = (
    "--cb_explore_adf --squarecb --gamma_exponent 0.7 --power_t 0 -l 0.1 --clip_p 1 "
    "-q GH -q GO -q GS -q GA -q TO -q TH -q KO -q KH -q DS"
)

#: The Personalizer loop's VW arguments: explore 20% of the time (Personalizer's default exploration)
#: over a reward regression (MTR), every namespace crossed with every other (its features are the
#: client's own, so no crossing can be chosen in advance).
DEFAULT_PERSONALIZER_VW_ARGS = "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.01 --cb_type mtr -q ::"

REWARDS = ("click", "quality_play")
REWARD_AGGREGATIONS = ("earliest", "sum")
ROLES = ("all", "serve")
LEARNER_MODES = ("thread", "manual")
DATABASE_SCHEMES = ("postgresql", "postgres")

def setting(default, doc: str, kind: type | None = None, optional: bool = False):
    """A field of ``Settings``: its default, its documentation and its type (``kind``: what the
    value is coerced to; ``optional``: None is allowed too)."""
    kind = kind or type(default)
    return field(default=default, metadata={"doc": doc, "kind": kind, "optional": optional})


@dataclass(frozen=True)
class Settings:
    """Every setting, typed, coerced and validated when built (an invalid value raises
    ``ValueError`` naming the setting). Build it with ``load_settings``; change it with
    ``settings.replace(NAME=value)``."""

    data_dir: str = setting("./artwork-data", "Folder holding the SQLite database, images and model checkpoints "
                            "(with DATABASE_URL: only a cache of images and checkpoints).")
    database_url: str | None = setting(None, "PostgreSQL URL (postgresql://user@host:port/db) of the log that every "
                                       "serving host and learner shares; unset: the SQLite file in DATA_DIR.",
                                       kind=str, optional=True)
    vw_args: str = setting(DEFAULT_VW_ARGS, "Vowpal Wabbit arguments of the policy (must include --cb_explore_adf).")
    policy_name: str = setting("vw-squarecb", "Name logged with every decision, to tell policies apart in the log.")
    propensity_floor: float = setting(0.01, "Smallest probability any candidate artwork is shown with (0 to 1): the "
                                      "policy's distribution is mixed with uniform just enough, so no importance "
                                      "weight exceeds 1/floor.")
    reward: str = setting("click", "Reward definition: 'click' (a click or any play) or 'quality_play'.")
    quality_play_seconds: float = setting(600.0, "Seconds watched that make a play a quality play.")
    reward_wait_seconds: float = setting(30.0, "How long after a decision (or its activation) an outcome still "
                                         "counts.")
    default_reward: float = setting(0.0, "Reward of an event whose wait window closed with no qualifying outcome.")
    half_life_days: float = setting(30.0, "Half-life, in days, of a view's or rating's weight in the genre affinity.")
    full_view_seconds: float = setting(1200.0, "Seconds of viewing that count as one full view for affinity.")
    checkpoint_every_events: int = setting(1000, "Write a model checkpoint after this many newly learned events.")
    checkpoint_every_seconds: float = setting(60.0, "...or after this many seconds with anything new learned.")
    publish_every_seconds: float = setting(0.5, "With serve --workers: how often the learner publishes a snapshot "
                                           "when it learned something (and, with any server, how often a running "
                                           "experiment's candidate arm is checkpointed while it learns).")
    snapshot_poll_seconds: float = setting(0.25, "With serve --workers: how often a serving process looks for a "
                                           "newer snapshot.")
    learner_interval_seconds: float = setting(0.25, "How often the learner looks for closed windows when nothing "
                                              "wakes it.")
    catalog_cache_seconds: float = setting(2.0, "How long a serving process keeps the catalog in memory; imports "
                                           "show within this.")
    max_titles_per_request: int = setting(100, "Most titles one select-artwork call may ask for.")
    max_body_bytes: int = setting(1024 * 1024, "Largest request body accepted; larger bodies get 413.")
    seed: int | None = setting(None, "Seed of the sampling of artwork from the policy's probabilities (unset: OS "
                               "randomness).", kind=int, optional=True)
    learner: str = setting("thread", "'thread': learn in a background thread; 'manual': only when run_once() is "
                           "called.")
    admin_token: str | None = setting(None, "Bearer token for admin operations (catalog upload, deleting users, "
                                      "model reset/retrain); unset: they are off.", kind=str, optional=True)
    client_keys: str | None = setting(None, "Comma-separated keys, at least 16 characters each, one of which every "
                                      "public API call must send in X-Api-Key (README \"Client keys\"); unset: no key "
                                      "is needed.", kind=str, optional=True)
    demo_key: str | None = setting(None, "With CLIENT_KEYS: the demo page's own key, handed to every browser that "
                                   "opens it (so public, unlike the client keys); unset: the demo is off.",
                                   kind=str, optional=True)
    retention_days: float = setting(0.0, "`artwork purge` deletes decisions (of both loops), outcomes, views and "
                                    "ratings older than this (0: keep everything).")
    role: str = setting("all", "'all': serve and learn in one process; 'serve': predict with the learner's "
                        "snapshots only.")
    personalizer_vw_args: str = setting(DEFAULT_PERSONALIZER_VW_ARGS, "Vowpal Wabbit arguments of the "
                                        "Personalizer-compatible loop's policy (must include --cb_explore_adf).")
    personalizer_reward_wait_seconds: float = setting(600.0, "Personalizer loop: how long after a rank call (or its "
                                                      "activation) a reward still counts (Personalizer's reward "
                                                      "wait time).")
    personalizer_default_reward: float = setting(0.0, "Personalizer loop: the reward of an event that got none in "
                                                 "the wait time (-1 to 1).")
    personalizer_reward_aggregation: str = setting("earliest", "Personalizer loop: 'earliest' (the first reward "
                                                   "counts, at once) or 'sum' (the rewards of the wait time add up).")
    personalizer_mode: str = setting("online", "Personalizer loop: the mode it starts in, 'online' or 'apprentice' "
                                     "(show the baseline, the first action not excluded, while learning); "
                                     "afterwards the admin switch and the automatic switch decide.")
    personalizer_apprentice_exploration: float = setting(0.05, "Personalizer loop in apprentice mode: the share "
                                                         "of rank calls (0 to 1) decided by the bandit instead of "
                                                         "the baseline, so that it can be evaluated against the "
                                                         "baseline (0: never; then it never switches by itself).")
    personalizer_switch_min_events: int = setting(1000, "Personalizer loop in apprentice mode: the rewarded rank "
                                                  "calls needed before it may switch itself to online.")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerce_value(f, getattr(self, f.name)))
        _validate(self)

    @functools.cached_property
    def accepted_keys(self) -> tuple[str, ...]:
        """The keys a public API call may send: the client keys and the demo key; empty when
        CLIENT_KEYS is unset (no key needed)."""
        if self.client_keys is None:
            return ()
        return (*_split_keys(self.client_keys), *([self.demo_key] if self.demo_key else []))

    def replace(self, **changes) -> Settings:
        """A copy with some settings changed, by name (``REWARD=...``) or field (``reward=...``);
        validated like any other."""
        return dataclasses.replace(self, **{_field_name(k): v for k, v in changes.items()})

    def as_overrides(self) -> dict:
        """Every setting by name: overrides that ``load_settings`` turns back into these settings."""
        return {f.name.upper(): getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_environ(self) -> dict[str, str]:
        """Every setting as ``ARTWORK_<NAME>`` environment variables that ``load_settings`` reads
        back as these settings (unset optional settings are empty), for a child process."""
        return {f"ARTWORK_{name}": "" if value is None else str(value) for name, value in self.as_overrides().items()}


FIELDS: dict[str, dataclasses.Field] = {f.name.upper(): f for f in dataclasses.fields(Settings)}
#: Every setting's name, in the order documented.
NAMES: tuple[str, ...] = tuple(FIELDS)
#: Each setting's documentation, by name.
DOCS: dict[str, str] = {name: f.metadata["doc"] for name, f in FIELDS.items()}


def _field_name(name: str) -> str:
    if name.upper() not in FIELDS:
        raise TypeError(f"no setting named {name!r}")
    return name.lower()


def _coerce_value(f: dataclasses.Field, value):
    """``value`` as the field's type: numbers from numbers or their text, strings from strings
    (or paths), None only where the setting may be unset."""
    name, kind, optional = f.name.upper(), f.metadata["kind"], f.metadata["optional"]
    if value is None:
        if optional:
            return None
        raise ValueError(f"{name} must be set")
    try:
        if kind is str:
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str):
                raise TypeError
            return value
        if isinstance(value, bool):
            raise TypeError
        if kind is int:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, (int, str)):
                return int(value)
            raise TypeError
        if kind is float:
            if isinstance(value, (int, float, str)):
                return float(value)
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        what = {str: "a string", int: "an integer", float: "a number"}[kind]
        raise ValueError(f"{name} must be {what}, not {value!r}"[:300]) from None
    raise AssertionError(f"setting {name} has an unknown kind {kind!r}")


def _from_environment(name: str, raw: str):
    """The value of ``ARTWORK_<name>=raw``: text, coerced by ``Settings`` like any value, except
    that an empty optional setting is unset."""
    f = FIELDS[name]
    if f.metadata["optional"] and not (raw if f.metadata["kind"] is str else raw.strip()):
        return None
    if f.metadata["kind"] is str:
        return raw
    try:
        return _coerce_value(f, raw.strip())
    except ValueError:
        raise ValueError(f"ARTWORK_{name}={raw!r} is not a valid value") from None


def load_settings(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """The effective settings: defaults < ``ARTWORK_<NAME>`` environment < overrides (by name;
    names that are not settings are ignored)."""
    environ = os.environ if environ is None else environ
    values = {}
    for name in NAMES:
        raw = environ.get(f"ARTWORK_{name}")
        if raw is not None:
            values[name.lower()] = _from_environment(name, raw)
    for name, value in (overrides or {}).items():
        if name in FIELDS:
            values[name.lower()] = value
    return Settings(**values)


def _split_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",")]


def _validate_keys(s: Settings) -> None:
    """Every key long enough to be unguessable; the demo key (handed to anyone) never one of the
    client keys. Messages never show a key."""
    if s.client_keys is None:
        return
    keys = _split_keys(s.client_keys)
    for n, key in enumerate(keys, 1):
        if len(key) < 16 or any(ch.isspace() or not ch.isprintable() for ch in key) or not key.isascii():
            raise ValueError(f"CLIENT_KEYS: key {n} of {len(keys)} must be at least 16 printable ASCII characters "
                             "without spaces (keys are separated by commas)")
    if s.demo_key is not None:
        if len(s.demo_key) < 16 or not (s.demo_key.isascii() and s.demo_key.isprintable()) or " " in s.demo_key:
            raise ValueError("DEMO_KEY must be at least 16 printable ASCII characters without spaces")
        if s.demo_key in keys:
            raise ValueError("DEMO_KEY must not be one of CLIENT_KEYS: every visitor of the demo page gets it")


def _validate(s: Settings) -> None:
    """Refuse settings that would make the service misbehave, with the setting named."""
    if s.reward not in REWARDS:
        raise ValueError(f"REWARD must be one of {', '.join(REWARDS)}, not {s.reward!r}")
    if s.learner not in LEARNER_MODES:
        raise ValueError(f"LEARNER must be one of {', '.join(LEARNER_MODES)}, not {s.learner!r}")
    if s.role not in ROLES:
        raise ValueError(f"ROLE must be one of {', '.join(ROLES)}, not {s.role!r}")
    if "--cb_explore_adf" not in s.vw_args.split():
        raise ValueError("VW_ARGS must include --cb_explore_adf: the service needs a probability per artwork")
    if s.database_url is not None and s.database_url.split("://", 1)[0] not in DATABASE_SCHEMES:
        # The URL may hold a password: the message does not repeat it.
        raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:port/database)")
    if s.catalog_cache_seconds < 0:
        raise ValueError("CATALOG_CACHE_SECONDS must not be negative")
    for name in ("reward_wait_seconds", "half_life_days", "full_view_seconds", "learner_interval_seconds",
                 "checkpoint_every_seconds", "publish_every_seconds", "snapshot_poll_seconds"):
        if not getattr(s, name) > 0:
            raise ValueError(f"{name.upper()} must be a positive number of seconds/days, not {getattr(s, name)!r}")
    for name in ("checkpoint_every_events", "max_titles_per_request", "max_body_bytes"):
        if getattr(s, name) < 1:
            raise ValueError(f"{name.upper()} must be at least 1, not {getattr(s, name)!r}")
    if s.admin_token is not None and len(s.admin_token) < 16:
        raise ValueError("ADMIN_TOKEN must be at least 16 characters (or unset, which turns admin operations off)")
    _validate_keys(s)
    if s.retention_days < 0:
        raise ValueError("RETENTION_DAYS must not be negative (0 keeps everything)")
    if not 0 <= s.propensity_floor < 1:
        raise ValueError(f"PROPENSITY_FLOOR must be at least 0 and below 1, not {s.propensity_floor!r}")
    if "--cb_explore_adf" not in s.personalizer_vw_args.split():
        raise ValueError("PERSONALIZER_VW_ARGS must include --cb_explore_adf: rank answers a probability per action")
    if not s.personalizer_reward_wait_seconds > 0:
        raise ValueError("PERSONALIZER_REWARD_WAIT_SECONDS must be a positive number of seconds")
    if not rules.PZ_REWARD_RANGE[0] <= s.personalizer_default_reward <= rules.PZ_REWARD_RANGE[1]:
        raise ValueError("PERSONALIZER_DEFAULT_REWARD must be between -1 and 1 (Personalizer's reward range)")
    if s.personalizer_reward_aggregation not in REWARD_AGGREGATIONS:
        raise ValueError(f"PERSONALIZER_REWARD_AGGREGATION must be one of {', '.join(REWARD_AGGREGATIONS)}")
    if s.personalizer_mode not in rules.PZ_MODES:
        raise ValueError(f"PERSONALIZER_MODE must be one of {', '.join(rules.PZ_MODES)}")
    if not 0 <= s.personalizer_apprentice_exploration <= 1:
        raise ValueError("PERSONALIZER_APPRENTICE_EXPLORATION must be between 0 and 1")
    if s.personalizer_switch_min_events < 1:
        raise ValueError("PERSONALIZER_SWITCH_MIN_EVENTS must be at least 1")
    if s.quality_play_seconds < 0:
        raise ValueError("QUALITY_PLAY_SECONDS must not be negative")
