"""Context and feature building: pure functions, checked on hand-made values."""

import json
from datetime import datetime

import pytest

from artwork.features import (
    affinity_from_history,
    build_features,
    day_quarter,
    decision_text,
    dominant_genre,
    neutral_affinity,
    parse_time,
    shared_context,
    time_context,
    title_parts,
    to_vw,
    vw_token,
)

DAY = 86400.0
GENRES = {"romance": ["romance"], "thriller": ["thriller"], "romcom": ["romance", "comedy"]}
VOCAB = {"romance", "thriller", "comedy"}


@pytest.mark.parametrize("text,bucket,day_type", [
    ("2026-11-23T07:30:00+01:00", "morning", "weekday"),      # Monday
    ("2026-11-23T12:00:00+01:00", "afternoon", "weekday"),
    ("2026-11-22T17:00:00-05:00", "evening", "weekend"),      # Sunday
    ("2026-11-22T23:59:00+09:00", "late-night", "weekend"),
    ("2026-11-24T04:59:00Z", "late-night", "weekday"),
    ("2026-11-24T05:00:00+00:00", "morning", "weekday"),
])
def test_time_context_uses_local_time_of_the_request(text, bucket, day_type):
    ctx = time_context(parse_time(text))
    assert (ctx["time_bucket"], ctx["day_type"]) == (bucket, day_type)


@pytest.mark.parametrize("text,message", [
    ("2026-11-23T07:30:00", "no UTC offset"),
    ("tomorrow", "not an ISO-8601"),
    ("", "not an ISO-8601"),
])
def test_parse_time_refuses_times_without_offset_or_garbage(text, message):
    with pytest.raises(ValueError, match=message):
        parse_time(text)


def affinity(views=(), ratings=(), onboarding=(), now=100 * DAY, half_life=30.0):
    return affinity_from_history(
        views=list(views), ratings=list(ratings), onboarding_genres=list(onboarding), title_genres=GENRES,
        vocabulary=VOCAB, now_ts=now, half_life_days=half_life, full_view_seconds=1200.0)


def test_new_person_is_neutral():
    assert affinity() == pytest.approx({"comedy": 1 / 3, "romance": 1 / 3, "thriller": 1 / 3}, abs=1e-6)
    assert dominant_genre(affinity()) is None


def test_views_move_affinity_and_recent_views_count_more():
    now = 100 * DAY
    recent_romance = affinity(views=[
        {"title_id": "romance", "seconds": 1200, "at_ts": now},
        {"title_id": "thriller", "seconds": 1200, "at_ts": now - 30 * DAY},
    ])
    assert dominant_genre(recent_romance) == "romance"
    # With a 30-day half-life the month-old thriller view weighs exactly half the fresh romance one:
    # prior 1/3 each, romance +1, thriller +0.5.
    total = 1 + 1 + 0.5
    assert recent_romance["romance"] == pytest.approx((1 / 3 + 1) / total, abs=1e-6)
    assert recent_romance["thriller"] == pytest.approx((1 / 3 + 0.5) / total, abs=1e-6)
    assert sum(recent_romance.values()) == pytest.approx(1.0, abs=1e-5)


def test_short_views_count_in_proportion_and_genres_split():
    a = affinity(views=[{"title_id": "romcom", "seconds": 600, "at_ts": 100 * DAY}])
    # half a full view split over romance and comedy: +0.25 each
    assert a["romance"] == pytest.approx(a["comedy"]) and a["romance"] > a["thriller"]


def test_thumbs_down_lowers_and_clips_at_zero():
    now = 100 * DAY
    a = affinity(ratings=[{"title_id": "thriller", "thumbs": -1, "at_ts": now}])
    assert "thriller" not in a
    assert a == pytest.approx({"comedy": 0.5, "romance": 0.5}, abs=1e-6)


def test_onboarding_picks_count():
    assert dominant_genre(affinity(onboarding=["comedy"])) == "comedy"


def test_vw_lines_carry_interactions_namespaces_and_label():
    artworks = [
        {"id": "t01-a1", "tags": {"theme": "romance", "tone": "warm", "subject": "close-up", "cast": ["Ana Reyes"]}},
        {"id": "t01-a2", "tags": {"theme": "thriller", "tone": "dark", "subject": "scene", "cast": []}},
    ]
    ctx = time_context(datetime.fromisoformat("2026-11-23T21:00:00+01:00"))
    feats = build_features({"romance": 0.75, "thriller": 0.25}, ctx, "tv", artworks)
    lines = to_vw(feats, label=(1, -1.0, 0.25))
    assert lines[0] == ("shared |D device=tv |G romance:0.75 thriller:0.25 |K hour_cos:0.7071 hour_sin:-0.7071"
                        " |T bucket=evening day=weekday")
    assert lines[1] == ("|A id=t01-a1 |C cast=Ana_Reyes |H theme=romance |M match:0.75 |O tone=warm "
                        "|S subject=close-up")
    assert lines[2].startswith("0:-1:0.25 |A id=t01-a2 |H theme=thriller |M match:0.25 |O tone=dark")
    assert to_vw(feats)[2].startswith("|A ")


@pytest.mark.parametrize("raw,safe", [("Ana Reyes", "Ana_Reyes"), ("a|b:c", "a_b_c"), ("  ", "_")])
def test_vw_token_removes_vw_syntax(raw, safe):
    assert vw_token(raw) == safe


def _feature_sets(lines):
    """Each line as {namespace: set of 'name:value'}, order-free, values normalized."""
    out = []
    for line in lines:
        spaces = {}
        for part in line.split("|")[1:]:
            ns, *feats = part.split()
            spaces[ns] = {f if ":" in f else f"{f}:1" for f in feats}
            spaces[ns] = {f"{n}:{float(v):.6g}" for n, v in (f.rsplit(":", 1) for f in spaces[ns])}
        out.append(spaces)
    return out


ARTWORKS = [
    {"id": "t01-a1", "tags": {"theme": "romance", "tone": "warm", "subject": "close-up", "cast": ["Ana Reyes"]}},
    {"id": "t01-a2", "tags": {"theme": "thriller", "tone": "dark", "subject": "scene", "cast": []}},
    {"id": "t01-a3", "tags": {"theme": "comedy", "tone": "bright", "subject": "ensemble"}},
    {"id": "t01-a4", "tags": {"theme": "romance", "tone": "dark|moody", "subject": "two shot",
                              "cast": ["Ana Reyes", "Bo Li:Jr"]}},
    # orjson refuses a lone surrogate: this artwork's JSON is json's, inside orjson's
    {"id": "t01-a5", "tags": {"theme": "horror", "tone": "odd \ud800", "subject": "mask", "cast": ["\u00c9mile"]}},
]


@pytest.mark.parametrize("affinity,device", [
    ({"romance": 1.0}, None),
    ({"comedy": 0.25, "romance": 0.333333, "thriller": 0.416667}, "tv"),
    ({"drama": 0.5, "war": 0.5}, "mobile"),             # no artwork's theme: every match is 0
    ({"horror": 1e-06, "romance": 0.999999}, None),     # a weight that prints in exponent form
    (neutral_affinity({"comedy", "romance", "thriller", "horror"}), "web"),
])
def test_the_request_path_logs_and_predicts_exactly_what_build_features_gives(affinity, device):
    """The request path assembles the logged JSON and the VW lines from cached pieces: the text
    must read back as build_features(...) (and be log_json's text of it wherever orjson writes it
    all), and the lines must carry to_vw's features, or the learner (which rebuilds lines from
    the log) would learn from something else than was used."""
    from artwork.jsontext import log_json

    ctx = time_context(datetime.fromisoformat("2026-11-23T21:00:00+01:00"))
    quarter = day_quarter(ctx["time"])
    shared = shared_context(tuple(affinity.items()), ctx["time_bucket"], ctx["day_type"], device, quarter)
    for artworks in (ARTWORKS[:4], ARTWORKS):
        expected = build_features(affinity, ctx, device, artworks)
        parts = title_parts(artworks)
        for _ in range(2):  # the second time, every theme's match text comes from the cache
            text, lines = decision_text(shared, parts)
            assert json.loads(text) == expected
            assert _feature_sets(lines) == _feature_sets(to_vw(expected))
            if artworks is not ARTWORKS:  # ARTWORKS[4] is json's text inside orjson's (1e-06, not 1e-6)
                assert text == log_json(expected)
    assert shared.dominant_genre == dominant_genre(affinity)
    assert shared.affinity_json == log_json(affinity)
    assert parts.candidates == [a["id"] for a in ARTWORKS]
    assert json.loads(parts.candidates_json) == parts.candidates
    # The cache hands the same context to the next request with the same affinity, time and device.
    assert shared_context(tuple(dict(affinity).items()), ctx["time_bucket"], ctx["day_type"], device,
                            quarter) is shared
