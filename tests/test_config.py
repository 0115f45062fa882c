"""Settings: one typed, validated object, built once with defaults < environment < overrides."""

import dataclasses

import pytest

from artwork.config import DEFAULT_VW_ARGS, NAMES, Settings, load_settings


def test_defaults_environment_and_overrides_in_that_order():
    environ = {"ARTWORK_REWARD_WAIT_SECONDS": "7", "ARTWORK_MAX_TITLES_PER_REQUEST": "12", "ARTWORK_SEED": "4"}
    settings = load_settings({"REWARD_WAIT_SECONDS": 5, "NOT_A_SETTING": 1}, environ)
    assert settings.reward_wait_seconds == 5.0 and type(settings.reward_wait_seconds) is float
    assert settings.max_titles_per_request == 12 and settings.seed == 4
    assert settings.vw_args == DEFAULT_VW_ARGS and settings.admin_token is None
    assert load_settings(environ={}) == Settings()


def test_every_value_is_coerced_once_to_its_type():
    settings = load_settings({"CHECKPOINT_EVERY_EVENTS": "10", "HALF_LIFE_DAYS": 3, "SEED": None}, {})
    assert settings.checkpoint_every_events == 10 and settings.half_life_days == 3.0 and settings.seed is None
    hints = {f.name: f.type for f in dataclasses.fields(Settings)}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        assert value is None or type(value).__name__ in hints[f.name], f.name


def test_the_settings_are_frozen_and_changed_by_copy():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 3
    assert settings.replace(SEED=3).seed == 3 and settings.seed is None
    with pytest.raises(ValueError, match="PROPENSITY_FLOOR"):
        settings.replace(propensity_floor=2)


def test_they_travel_through_the_environment_and_overrides_unchanged():
    settings = load_settings({"SEED": 9, "ADMIN_TOKEN": "x" * 16, "REWARD": "quality_play", "DATA_DIR": "/tmp/d"}, {})
    assert load_settings(environ=settings.to_environ()) == settings
    assert load_settings(settings.as_overrides(), {}) == settings
    assert set(settings.as_overrides()) == set(NAMES)


@pytest.mark.parametrize("overrides, environ, message", [
    ({"REWARD_WAIT_SECONDS": "soon"}, {}, "REWARD_WAIT_SECONDS must be a number"),
    ({"REWARD_WAIT_SECONDS": 0}, {}, "REWARD_WAIT_SECONDS must be a positive"),
    ({"MAX_BODY_BYTES": 1.5}, {}, "MAX_BODY_BYTES must be an integer"),
    ({"SEED": True}, {}, "SEED must be an integer"),
    ({"DATA_DIR": None}, {}, "DATA_DIR must be set"),
    ({"REWARD": "views"}, {}, "REWARD must be one of click, quality_play"),
    ({"ROLE": "learn"}, {}, "ROLE must be one of"),
    ({"LEARNER": "never"}, {}, "LEARNER must be one of"),
    ({"VW_ARGS": "--cb_adf"}, {}, "VW_ARGS must include --cb_explore_adf"),
    ({"ADMIN_TOKEN": "short"}, {}, "ADMIN_TOKEN must be at least 16 characters"),
    ({"RETENTION_DAYS": -1}, {}, "RETENTION_DAYS must not be negative"),
    ({}, {"ARTWORK_SEED": "1.5"}, r"ARTWORK_SEED='1.5' is not a valid value"),
    ({}, {"ARTWORK_CHECKPOINT_EVERY_EVENTS": "0"}, "CHECKPOINT_EVERY_EVENTS must be at least 1"),
])
def test_invalid_settings_are_refused_naming_the_setting(overrides, environ, message):
    with pytest.raises(ValueError, match=message):
        load_settings(overrides, environ)
