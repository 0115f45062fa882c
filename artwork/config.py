"""Settings: defaults, then ``ARTWORK_*`` environment variables, then explicit overrides.

Every setting is listed in ``DEFAULTS`` with its documentation; the README's settings table is
checked against this dict by a test, so a new setting cannot go undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: The VW arguments of the default policy. See README "Why these defaults".
DEFAULT_VW_ARGS = (
    "--cb_explore_adf --squarecb --gamma_exponent 0.7 --power_t 0 -l 0.1 --clip_p 1 "
    "-q GH -q GO -q GS -q GA -q TO -q TH -q KO -q KH -q DS"
)


@dataclass(frozen=True)
class Setting:
    default: object
    doc: str


DEFAULTS: dict[str, Setting] = {
    "DATA_DIR": Setting("./artwork-data", "Folder holding the SQLite database, images and model checkpoints."),
    "VW_ARGS": Setting(DEFAULT_VW_ARGS, "Vowpal Wabbit arguments of the policy (must include --cb_explore_adf)."),
    "POLICY_NAME": Setting("vw-squarecb", "Name logged with every decision, to tell policies apart in the log."),
    "PROPENSITY_FLOOR": Setting(0.01, "Smallest probability any candidate artwork is shown with (0 to 1): the "
                                "policy's distribution is mixed with uniform just enough, so no importance weight "
                                "exceeds 1/floor."),
    "REWARD": Setting("click", "Reward definition: 'click' (a click or any play) or 'quality_play'."),
    "QUALITY_PLAY_SECONDS": Setting(600.0, "Seconds watched that make a play a quality play."),
    "REWARD_WAIT_SECONDS": Setting(30.0, "How long after a decision (or its activation) an outcome still counts."),
    "DEFAULT_REWARD": Setting(0.0, "Reward of an event whose wait window closed with no qualifying outcome."),
    "HALF_LIFE_DAYS": Setting(30.0, "Half-life, in days, of a view's or rating's weight in the genre affinity."),
    "FULL_VIEW_SECONDS": Setting(1200.0, "Seconds of viewing that count as one full view for affinity."),
    "CHECKPOINT_EVERY_EVENTS": Setting(1000, "Write a model checkpoint after this many newly learned events."),
    "CHECKPOINT_EVERY_SECONDS": Setting(60.0, "...or after this many seconds with anything new learned."),
    "PUBLISH_EVERY_SECONDS": Setting(0.5, "With serve --workers: how often the learner publishes a snapshot "
                                          "when it learned something."),
    "SNAPSHOT_POLL_SECONDS": Setting(0.25, "With serve --workers: how often a serving process looks for a "
                                           "newer snapshot."),
    "LEARNER_INTERVAL_SECONDS": Setting(0.25, "How often the learner looks for closed windows when nothing wakes it."),
    "CATALOG_CACHE_SECONDS": Setting(2.0, "How long a serving process keeps the catalog in memory; imports show "
                                          "within this."),
    "MAX_TITLES_PER_REQUEST": Setting(100, "Most titles one select-artwork call may ask for."),
    "MAX_BODY_BYTES": Setting(1024 * 1024, "Largest request body accepted; larger bodies get 413."),
    "SEED": Setting(None, "Seed of the sampling of artwork from the policy's probabilities (unset: OS randomness)."),
    "LEARNER": Setting("thread", "'thread': learn in a background thread; 'manual': only when run_once() is called."),
    "ADMIN_TOKEN": Setting(None, "Bearer token for admin operations (catalog upload, deleting users, model "
                                 "reset/retrain); unset: they are off."),
    "RETENTION_DAYS": Setting(0.0, "`artwork purge` deletes decisions, outcomes, views and ratings older than this "
                                   "(0: keep everything)."),
    "ROLE": Setting("all", "'all': serve and learn in one process; 'serve': predict with the learner's snapshots "
                           "only."),
}

REWARDS = ("click", "quality_play")
ROLES = ("all", "serve")
LEARNER_MODES = ("thread", "manual")


def _coerce(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if default is None and name == "SEED":
        return int(raw) if raw.strip() else None
    if default is None:
        return raw or None
    return raw


def load_settings(overrides: dict | None = None, environ: dict | None = None) -> dict:
    """Return the effective settings: defaults < ``ARTWORK_<NAME>`` environment < overrides."""
    environ = os.environ if environ is None else environ
    settings = {name: s.default for name, s in DEFAULTS.items()}
    for name, s in DEFAULTS.items():
        raw = environ.get(f"ARTWORK_{name}")
        if raw is not None:
            try:
                settings[name] = _coerce(name, raw, s.default)
            except ValueError:
                raise ValueError(f"ARTWORK_{name}={raw!r} is not a valid value") from None
    for name, value in (overrides or {}).items():
        if name in DEFAULTS:
            settings[name] = value
    validate(settings)
    return settings


def validate(settings: dict) -> None:
    """Refuse settings that would make the service misbehave, with the setting named."""
    if settings["REWARD"] not in REWARDS:
        raise ValueError(f"REWARD must be one of {', '.join(REWARDS)}, not {settings['REWARD']!r}")
    if settings["LEARNER"] not in LEARNER_MODES:
        raise ValueError(f"LEARNER must be one of {', '.join(LEARNER_MODES)}, not {settings['LEARNER']!r}")
    if settings["ROLE"] not in ROLES:
        raise ValueError(f"ROLE must be one of {', '.join(ROLES)}, not {settings['ROLE']!r}")
    if "--cb_explore_adf" not in str(settings["VW_ARGS"]).split():
        raise ValueError("VW_ARGS must include --cb_explore_adf: the service needs a probability per artwork")
    if float(settings["CATALOG_CACHE_SECONDS"]) < 0:
        raise ValueError("CATALOG_CACHE_SECONDS must not be negative")
    for name in ("REWARD_WAIT_SECONDS", "HALF_LIFE_DAYS", "FULL_VIEW_SECONDS", "LEARNER_INTERVAL_SECONDS",
                 "CHECKPOINT_EVERY_SECONDS", "PUBLISH_EVERY_SECONDS", "SNAPSHOT_POLL_SECONDS"):
        if not float(settings[name]) > 0:
            raise ValueError(f"{name} must be a positive number of seconds/days, not {settings[name]!r}")
    for name in ("CHECKPOINT_EVERY_EVENTS", "MAX_TITLES_PER_REQUEST", "MAX_BODY_BYTES"):
        if int(settings[name]) < 1:
            raise ValueError(f"{name} must be at least 1, not {settings[name]!r}")
    token = settings["ADMIN_TOKEN"]
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise ValueError("ADMIN_TOKEN must be at least 16 characters (or unset, which turns admin operations off)")
    if float(settings["RETENTION_DAYS"]) < 0:
        raise ValueError("RETENTION_DAYS must not be negative (0 keeps everything)")
    if not 0 <= float(settings["PROPENSITY_FLOOR"]) < 1:
        raise ValueError(f"PROPENSITY_FLOOR must be at least 0 and below 1, not {settings['PROPENSITY_FLOOR']!r}")
    if float(settings["QUALITY_PLAY_SECONDS"]) < 0:
        raise ValueError("QUALITY_PLAY_SECONDS must not be negative")
