"""Tests of the synthetic world (simulations/world.py): determinism, the designed effects, the
context sampler, exact policy values and parameter validation. Every test builds its own
catalog; one extra test also runs against artwork.demo_catalog when it exists."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from artwork.simulations.world import (
    DEVICE_SUBJECT,
    QUALITY_PLAY_SECONDS,
    TIME_TONE,
    Outcome,
    Request,
    SimUser,
    World,
    WorldParams,
)
from artwork.vocab import DAY_TYPES, DEVICES, GENRES, SUBJECTS, TIME_BUCKETS, TONES

CAST = ("Ana Ruiz", "Ben Okafor", "Chen Wei", "Dara Quinn", "Eli Novak", "Fay Laurent")

#: No noise, no clickbait: probabilities follow the formula exactly.
CLEAN = WorldParams(artwork_noise_sd=0.0, clickbait_fraction=0.0)


def make_catalog(n_titles: int = 32, seed: int = 7) -> list[dict]:
    """A demo-shaped catalog: 2-3 genres per title, 4-8 artworks whose themes cycle over them."""
    rng = np.random.default_rng(seed)
    titles = []
    for t in range(1, n_titles + 1):
        k = int(rng.integers(2, 4))
        genres = [GENRES[i] for i in rng.choice(len(GENRES), k, replace=False)]
        artwork = []
        for a in range(1, int(rng.integers(4, 9)) + 1):
            artwork.append({
                "id": f"t{t:02d}-a{a}",
                "tags": {
                    "theme": genres[(a - 1) % k],
                    "tone": TONES[int(rng.integers(len(TONES)))],
                    "subject": SUBJECTS[int(rng.integers(len(SUBJECTS)))],
                    "cast": [CAST[int(rng.integers(len(CAST)))]],
                },
            })
        titles.append({"id": f"t{t:02d}", "name": f"Title {t}", "genres": genres,
                       "year": 1990 + t, "synopsis": f"Synopsis of title {t}.",
                       "artwork": artwork})
    return titles


def art(art_id: str, theme: str, tone: str = "muted", subject: str = "scene") -> dict:
    return {"id": art_id, "tags": {"theme": theme, "tone": tone, "subject": subject,
                                   "cast": ["Ana Ruiz"]}}


#: One hand-made title whose artworks differ in exactly one tag from a reference.
LAB = {
    "id": "lab", "name": "Lab", "genres": ["romance", "thriller"], "year": 2020, "synopsis": "",
    "artwork": [
        art("lab-romance", "romance"),
        art("lab-thriller", "thriller"),
        art("lab-bright", "drama", tone="bright"),
        art("lab-dark", "drama", tone="dark"),
        art("lab-closeup", "drama", subject="close-up"),
        art("lab-landscape", "drama", subject="landscape"),
    ],
}


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    return make_catalog()


@pytest.fixture(scope="module")
def world(catalog) -> World:
    return World(catalog, seed=0)


@pytest.fixture(scope="module")
def lab() -> World:
    return World([LAB], params=CLEAN, seed=0)


@pytest.fixture(scope="module")
def requests(world) -> list[Request]:
    return world.sample_requests(np.random.default_rng(2024), 3000)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def all_contexts():
    for bucket in TIME_BUCKETS:
        for device in DEVICES:
            yield World.context_for(bucket, "weekday", device)


# Determinism -----------------------------------------------------------------------------------

def probabilities(world: World, seed: int = 5, n: int = 300) -> list[float]:
    out = []
    for r in world.sample_requests(np.random.default_rng(seed), n):
        for artwork_id in world.artwork_ids(r.title_id):
            out.append(world.click_probability(r.user, r.title_id, artwork_id, r.context))
            out.append(world.play_probability(r.user, r.title_id, artwork_id, r.context))
    return out


def test_same_seed_same_world(catalog):
    a, b = World(catalog, seed=3), World(catalog, seed=3)
    assert a.users == b.users
    assert a.clickbait == b.clickbait
    assert probabilities(a) == probabilities(b)
    assert a.best_fixed_artwork() == b.best_fixed_artwork()


def test_different_seed_different_world(catalog):
    a, b = World(catalog, seed=3), World(catalog, seed=4)
    assert [u.taste for u in a.users] != [u.taste for u in b.users]
    assert a.clickbait != b.clickbait
    assert probabilities(a) != probabilities(b)


def test_adding_a_title_keeps_people_and_other_artworks(catalog):
    small, full = World(catalog[:-1], seed=1), World(catalog, seed=1)
    assert small.users == full.users
    user, context = full.users[0], World.context_for("evening")
    for title in catalog[:-1]:
        for a in title["artwork"]:
            if a["id"] not in small.clickbait and a["id"] not in full.clickbait:
                assert small.click_probability(user, title["id"], a["id"], context) == \
                    full.click_probability(user, title["id"], a["id"], context)


# People ----------------------------------------------------------------------------------------

def test_population(world):
    p = world.params
    assert len(world.users) == p.n_users
    assert [u.id for u in world.users][:2] == ["sim-u0001", "sim-u0002"]
    assert len({u.id for u in world.users}) == p.n_users
    narrow = [u for u in world.users if u.kind == "narrow"]
    assert len(narrow) == round(p.n_users * p.narrow_fraction)
    for u in world.users:
        assert set(u.taste) == set(GENRES)
        assert sum(u.taste.values()) == pytest.approx(1.0)
        assert min(u.taste.values()) >= 0
        support = sum(1 for s in u.taste.values() if s > 0)
        if u.kind == "narrow":
            assert support <= 1 + p.narrow_secondary_genres
        else:
            assert p.broad_min_genres <= support <= p.broad_max_genres
    top_shares = [u.taste[u.top_genre] for u in narrow]
    assert 0.75 < float(np.mean(top_shares)) < 0.95
    # Dominant genres are dealt evenly: every genre has its fans.
    assert {u.top_genre for u in narrow} == set(GENRES)


def test_persona(world):
    for genre in GENRES:
        user = world.persona(genre)
        assert user in world.users
        assert user.kind == "narrow" and user.top_genre == genre
    lonely = World(make_catalog(2), WorldParams(n_users=1, narrow_fraction=0.0))
    synthetic = lonely.persona("horror")
    assert synthetic.id == "sim-persona-horror" and synthetic.top_genre == "horror"
    with pytest.raises(ValueError, match="genre must be one of"):
        world.persona("western")


def test_genre_affinity(world):
    for user in world.users:
        affinity = world.genre_affinity(user)
        assert affinity and set(affinity) <= set(GENRES)
        assert all(v > 0 and v == round(v, 4) for v in affinity.values())
        assert sum(affinity.values()) == pytest.approx(1.0, abs=1e-3)
        assert max(affinity, key=affinity.get) == user.top_genre
    user = SimUser("x", {"romance": 0.7, "drama": 0.29996, "horror": 0.00004}, "narrow")
    assert World.genre_affinity(user) == {"romance": 0.7, "drama": 0.3}


def test_sim_user_validation():
    with pytest.raises(ValueError, match="kind must be"):
        SimUser("x", {"romance": 1.0}, "medium")
    with pytest.raises(ValueError, match="taste must sum to 1"):
        SimUser("x", {"romance": 0.5}, "narrow")


# The click and play model ----------------------------------------------------------------------

def test_probabilities_in_open_interval(world, requests):
    for r in requests[:500]:
        for artwork_id in world.artwork_ids(r.title_id):
            for reward in ("click", "quality_play"):
                p = world.reward_probability(r.user, r.title_id, artwork_id, r.context, reward)
                assert 0.0 < p < 1.0
            assert 0.0 <= world.play_probability(r.user, r.title_id, artwork_id, r.context) <= 1


def test_taste_match_is_the_dominant_effect(lab):
    fan = lab.persona("romance")
    assert fan.taste["thriller"] == 0
    for context in all_contexts():
        p_rom = lab.click_probability(fan, "lab", "lab-romance", context)
        p_thr = lab.click_probability(fan, "lab", "lab-thriller", context)
        # Exactly the designed logit gap, and "several times" in probability.
        assert logit(p_rom) - logit(p_thr) == pytest.approx(
            lab.params.match_strength * fan.taste["romance"])
        assert p_rom > 4 * p_thr


def test_default_calibration(catalog):
    """Matching theme ~0.25-0.35 for a typical narrow fan, ~0.04 without a match."""
    clean = World(catalog + [LAB], params=CLEAN, seed=0)
    context = World.context_for("afternoon", device="web")  # muted scene: neutral
    fans = [u for u in clean.users if u.kind == "narrow" and u.top_genre == "romance"]
    matching = [clean.click_probability(u, "lab", "lab-romance", context) for u in fans]
    assert 0.25 <= float(np.median(matching)) <= 0.35
    for u in fans:
        if u.taste["thriller"] == 0:
            p = clean.click_probability(u, "lab", "lab-thriller", context)
            assert p == pytest.approx(clean.params.base_click_rate)


def test_match_effect_with_noise_and_defaults(catalog):
    noisy = World(catalog + [LAB], params=WorldParams(clickbait_fraction=0.0), seed=0)
    fan = noisy.persona("romance")
    for context in all_contexts():
        assert noisy.click_probability(fan, "lab", "lab-romance", context) > \
            4 * noisy.click_probability(fan, "lab", "lab-thriller", context)


@pytest.mark.parametrize("bucket, favoured, disfavoured", [
    ("morning", "lab-bright", "lab-dark"),
    ("afternoon", "lab-bright", "lab-dark"),
    ("evening", "lab-dark", "lab-bright"),
    ("late-night", "lab-dark", "lab-bright"),
])
def test_time_of_day_x_tone(lab, bucket, favoured, disfavoured):
    for user in (lab.persona("drama"), lab.persona("action")):
        for device in DEVICES:
            context = World.context_for(bucket, device=device)
            better = lab.click_probability(user, "lab", favoured, context)
            worse = lab.click_probability(user, "lab", disfavoured, context)
            assert better > worse
            tone = {"lab-bright": "bright", "lab-dark": "dark"}
            gap = TIME_TONE[bucket][tone[favoured]] - TIME_TONE[bucket][tone[disfavoured]]
            assert logit(better) - logit(worse) == pytest.approx(
                lab.params.time_tone_strength * gap)


def test_device_x_subject(lab):
    user = lab.persona("comedy")
    for bucket in TIME_BUCKETS:
        mobile = World.context_for(bucket, device="mobile")
        tv = World.context_for(bucket, device="tv")
        assert lab.click_probability(user, "lab", "lab-closeup", mobile) > \
            lab.click_probability(user, "lab", "lab-landscape", mobile)
        assert lab.click_probability(user, "lab", "lab-landscape", tv) > \
            lab.click_probability(user, "lab", "lab-closeup", tv)
        gap = DEVICE_SUBJECT["tv"]["landscape"] - DEVICE_SUBJECT["tv"]["close-up"]
        assert logit(lab.click_probability(user, "lab", "lab-landscape", tv)) - logit(
            lab.click_probability(user, "lab", "lab-closeup", tv)) == pytest.approx(
            lab.params.device_subject_strength * gap)


def test_clickbait_clicks_more_but_plays_less():
    twins = [{"id": f"w{t}", "genres": ["drama"], "artwork": [
        art(f"w{t}-a", "drama", "warm", "ensemble"), art(f"w{t}-b", "drama", "warm", "ensemble")]}
        for t in range(20)]
    params = WorldParams(artwork_noise_sd=0.0, clickbait_fraction=0.25)
    world = World(twins, params=params, seed=0)
    assert len(world.clickbait) == 10
    pairs = [(a, b) for a, b in ((f"w{t}-a", f"w{t}-b") for t in range(20))
             if (a in world.clickbait) != (b in world.clickbait)]
    assert pairs, "seed 0 should make at least one twin pair with exactly one clickbait"
    user = world.persona("drama")
    for a, b in pairs:
        title = a.split("-")[0]
        bait, honest = (a, b) if a in world.clickbait else (b, a)
        for context in all_contexts():
            assert world.click_probability(user, title, bait, context) > \
                world.click_probability(user, title, honest, context)
            assert world.play_probability(user, title, bait, context) == params.clickbait_play_rate
            assert world.play_probability(user, title, honest, context) == params.play_rate
            assert world.reward_probability(user, title, bait, context, "quality_play") < \
                world.reward_probability(user, title, honest, context, "quality_play")


def test_clickbait_share(world, catalog):
    n_artworks = sum(len(t["artwork"]) for t in catalog)
    assert len(world.clickbait) == round(0.1 * n_artworks)
    assert world.clickbait <= {a["id"] for t in catalog for a in t["artwork"]}


def test_quality_play_is_click_times_play(world, requests):
    for r in requests[:100]:
        for a in world.artwork_ids(r.title_id):
            assert world.reward_probability(r.user, r.title_id, a, r.context, "quality_play") == \
                pytest.approx(world.click_probability(r.user, r.title_id, a, r.context)
                              * world.play_probability(r.user, r.title_id, a, r.context))


def test_context_without_bucket_uses_time(world):
    user, title = world.users[0], world.title_ids[0]
    artwork_id = world.artwork_ids(title)[0]
    full = World.context_for("late-night", device="tv")
    bare = {"time": "2026-11-05T02:10:00+09:00", "device": "tv"}
    assert world.click_probability(user, title, artwork_id, bare) == \
        world.click_probability(user, title, artwork_id, full)


def test_bad_lookups(world):
    user, ctx = world.users[0], World.context_for("morning")
    with pytest.raises(KeyError, match="unknown artwork"):
        world.click_probability(user, "t01", "nope", ctx)
    with pytest.raises(KeyError, match="unknown title"):
        world.reward_probabilities(user, "nope", ctx)
    with pytest.raises(ValueError, match="belongs to title 't02'"):
        world.click_probability(user, "t01", "t02-a1", ctx)
    with pytest.raises(ValueError, match="device must be one of"):
        world.click_probability(user, "t01", "t01-a1", {"time_bucket": "morning",
                                                         "device": "fridge"})
    with pytest.raises(ValueError, match="reward must be one of"):
        world.reward_probability(user, "t01", "t01-a1", ctx, "views")


# Contexts and requests -------------------------------------------------------------------------

EXPECTED_HOURS = {"morning": range(5, 12), "afternoon": range(12, 17),
                  "evening": range(17, 22), "late-night": [22, 23, 0, 1, 2, 3, 4]}


def test_sampled_contexts(world):
    rng = np.random.default_rng(11)
    contexts = [world.sample_context(rng) for _ in range(4000)]
    for c in contexts:
        assert set(c) == {"time", "time_bucket", "day_type", "device"}
        when = datetime.fromisoformat(c["time"])
        assert when.tzinfo is not None and when.utcoffset() is not None
        assert when.hour in EXPECTED_HOURS[c["time_bucket"]]
        assert (when.weekday() >= 5) == (c["day_type"] == "weekend")
        assert c["device"] in DEVICES
    p = world.params
    for key, labels, weights in (("time_bucket", TIME_BUCKETS, p.time_bucket_weights),
                                 ("day_type", DAY_TYPES, p.day_type_weights),
                                 ("device", DEVICES, p.device_weights)):
        for label, weight in zip(labels, weights, strict=True):
            share = sum(c[key] == label for c in contexts) / len(contexts)
            assert share == pytest.approx(weight, abs=5 * math.sqrt(weight / len(contexts)))
    offsets = {datetime.fromisoformat(c["time"]).utcoffset().total_seconds() / 60
               for c in contexts}
    assert offsets == set(p.utc_offsets_minutes)


@pytest.mark.parametrize("bucket", TIME_BUCKETS)
@pytest.mark.parametrize("day_type", DAY_TYPES)
def test_context_for(bucket, day_type):
    c = World.context_for(bucket, day_type, "tv")
    assert c == World.context_for(bucket, day_type, "tv")
    when = datetime.fromisoformat(c["time"])
    assert when.utcoffset() is not None
    assert when.hour in EXPECTED_HOURS[bucket]
    assert (when.weekday() >= 5) == (day_type == "weekend")
    assert c["time_bucket"] == bucket and c["day_type"] == day_type and c["device"] == "tv"


def test_context_for_rejects_unknown_names():
    with pytest.raises(ValueError, match="time_bucket must be one of"):
        World.context_for("noon")
    with pytest.raises(ValueError, match="day_type must be one of"):
        World.context_for("morning", "holiday")
    with pytest.raises(ValueError, match="device must be one of"):
        World.context_for("morning", device="fridge")


def test_requests(world, requests):
    assert all(isinstance(r, Request) for r in requests)
    assert {r.user.id for r in requests} <= {u.id for u in world.users}
    counts = np.array([sum(r.title_id == t for r in requests) for t in world.title_ids])
    expected = len(requests) / len(world.title_ids)
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))
    again = world.sample_requests(np.random.default_rng(2024), 3000)
    assert again == requests


def test_title_popularity_skew(catalog):
    skewed = World(catalog, WorldParams(title_popularity_skew=1.0), seed=0)
    rng = np.random.default_rng(0)
    counts = {}
    for r in skewed.sample_requests(rng, 4000):
        counts[r.title_id] = counts.get(r.title_id, 0) + 1
    top = max(counts.values())
    assert top > 4 * 4000 / len(catalog)  # rank 1 gets 1 / H(32) ~ 25% of requests


# Outcomes --------------------------------------------------------------------------------------

def test_draw_outcome_matches_probabilities(lab):
    fan = lab.persona("romance")
    context = World.context_for("evening", device="tv")
    p_click = lab.click_probability(fan, "lab", "lab-romance", context)
    p_play = lab.play_probability(fan, "lab", "lab-romance", context)
    rng = np.random.default_rng(99)
    n = 20_000
    outcomes = [lab.draw_outcome(rng, fan, "lab", "lab-romance", context) for _ in range(n)]
    clicks = [o for o in outcomes if o.clicked]
    assert abs(len(clicks) / n - p_click) < 4.5 * math.sqrt(p_click * (1 - p_click) / n)
    plays = sum(o.quality_play for o in clicks)
    assert abs(plays / len(clicks) - p_play) < 4.5 * math.sqrt(p_play * (1 - p_play) / len(clicks))
    for o in outcomes:
        if not o.clicked:
            assert o.played_seconds == 0 and o.reward("click") == 0
        elif o.quality_play:
            assert QUALITY_PLAY_SECONDS <= o.played_seconds <= 5400
            assert o.reward("quality_play") == 1 and o.reward("click") == 1
        else:
            assert 0 <= o.played_seconds <= 120
    assert any(o.clicked and o.played_seconds == 0 for o in outcomes)


def test_draw_outcome_over_requests(world, requests):
    rng = np.random.default_rng(7)
    total_p = total_var = clicks = quality_p = quality = 0.0
    for r in requests:
        for a in world.artwork_ids(r.title_id):
            p = world.click_probability(r.user, r.title_id, a, r.context)
            q = world.reward_probability(r.user, r.title_id, a, r.context, "quality_play")
            o = world.draw_outcome(rng, r.user, r.title_id, a, r.context)
            total_p += p
            total_var += p * (1 - p)
            clicks += o.clicked
            quality_p += q
            quality += o.quality_play
    assert abs(clicks - total_p) < 4.5 * math.sqrt(total_var)
    assert abs(quality - quality_p) < 4.5 * math.sqrt(quality_p)


def test_draw_outcome_is_seeded(world, requests):
    r = requests[0]
    a = world.artwork_ids(r.title_id)[0]
    draws = [[world.draw_outcome(rng, r.user, r.title_id, a, r.context) for _ in range(200)]
             for rng in (np.random.default_rng(1), np.random.default_rng(1))]
    assert draws[0] == draws[1]
    assert Outcome(True, 700.0).quality_play and not Outcome(True, 599.9).quality_play


# Policy values ---------------------------------------------------------------------------------

def test_value_ordering(world, requests):
    """oracle >= best fixed >= uniform, and personalization is clearly worth it."""
    for reward, margin in (("click", 0.05), ("quality_play", 0.02)):
        uniform = world.policy_value(world.uniform_policy(), requests, reward)
        fixed = world.policy_value(world.fixed_policy(world.best_fixed_artwork(reward)),
                                   requests, reward)
        oracle = world.oracle_value(requests, reward)
        assert oracle >= fixed >= uniform
        assert oracle - uniform > margin
        assert oracle == pytest.approx(
            world.policy_value(world.oracle_policy(reward), requests, reward))


def test_figures_on_the_32_title_catalog(world, requests):
    """Pin the headline figures reported for the default world (seed 0, 3000 requests)."""
    values = {
        reward: (world.policy_value(world.uniform_policy(), requests, reward),
                 world.policy_value(world.fixed_policy(world.best_fixed_artwork(reward)),
                                    requests, reward),
                 world.oracle_value(requests, reward))
        for reward in ("click", "quality_play")
    }
    uniform, fixed, oracle = values["click"]
    assert 0.05 < uniform < 0.10 and 0.08 < fixed < 0.14 and 0.12 < oracle < 0.20
    assert oracle / uniform > 1.6


def test_oracle_is_the_argmax(world, requests):
    for r in requests[:200]:
        for reward in ("click", "quality_play"):
            probs = world.reward_probabilities(r.user, r.title_id, r.context, reward)
            best = world.oracle(r.user, r.title_id, r.context, reward)
            assert probs[best] == max(probs.values())
            for a in probs:
                assert world.expected_reward(r.user, r.title_id, r.context, {a: 1.0}, reward) \
                    <= probs[best]


def test_best_fixed_is_exact(catalog):
    """The vectorized best_fixed_artwork equals a brute-force average over people and contexts."""
    small = World(catalog[:6], WorldParams(n_users=25), seed=2)
    p = small.params
    for reward in ("click", "quality_play"):
        best = small.best_fixed_artwork(reward)
        for title_id in small.title_ids:
            values = {}
            for a in small.artwork_ids(title_id):
                total = 0.0
                for bucket, wb in zip(TIME_BUCKETS, p.time_bucket_weights, strict=True):
                    for device, wd in zip(DEVICES, p.device_weights, strict=True):
                        ctx = World.context_for(bucket, device=device)
                        total += wb * wd * sum(
                            small.reward_probability(u, title_id, a, ctx, reward)
                            for u in small.users) / len(small.users)
                values[a] = total
            assert best[title_id] == max(values, key=values.get)


def test_expected_reward_mixes_exactly(world, requests):
    r = requests[0]
    ids = world.artwork_ids(r.title_id)
    probs = world.reward_probabilities(r.user, r.title_id, r.context)
    pmf = {ids[0]: 0.25, ids[1]: 0.75}
    assert world.expected_reward(r.user, r.title_id, r.context, pmf) == pytest.approx(
        0.25 * probs[ids[0]] + 0.75 * probs[ids[1]])
    with pytest.raises(ValueError, match="must sum to 1"):
        world.expected_reward(r.user, r.title_id, r.context, {ids[0]: 0.5})
    with pytest.raises(ValueError, match="not an artwork of title"):
        world.expected_reward(r.user, r.title_id, r.context, {"zzz": 1.0})
    with pytest.raises(ValueError, match="must be >= 0"):
        world.expected_reward(r.user, r.title_id, r.context, {ids[0]: 1.5, ids[1]: -0.5})
    with pytest.raises(ValueError, match="requests must not be empty"):
        world.oracle_value([])


# Validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"n_users": 0}, "n_users must be >= 1"),
    ({"n_users": 2.5}, "n_users must be an integer"),
    ({"n_users": True}, "n_users must be an integer"),
    ({"narrow_fraction": 1.5}, r"narrow_fraction must be in \[0.0, 1.0\]"),
    ({"narrow_fraction": -0.1}, r"narrow_fraction must be in \[0.0, 1.0\]"),
    ({"narrow_concentration": 0}, "narrow_concentration must be > 0.0"),
    ({"narrow_secondary_genres": 10}, "narrow_secondary_genres must be between 0 and 9"),
    ({"broad_min_genres": 1}, "broad_min_genres must be between 2 and 10"),
    ({"broad_min_genres": 5, "broad_max_genres": 4}, "broad_max_genres must be between 5 and 10"),
    ({"broad_concentration": -1.0}, "broad_concentration must be > 0.0"),
    ({"base_click_rate": 0.0}, r"base_click_rate must be in \(0.0, 1.0\)"),
    ({"base_click_rate": 1.0}, r"base_click_rate must be in \(0.0, 1.0\)"),
    ({"match_strength": -1.0}, "match_strength must be >= 0.0"),
    ({"match_strength": float("nan")}, "match_strength must be a finite number"),
    ({"time_tone_strength": float("inf")}, "time_tone_strength must be a finite number"),
    ({"device_subject_strength": -0.1}, "device_subject_strength must be >= 0.0"),
    ({"artwork_noise_sd": -0.1}, "artwork_noise_sd must be >= 0.0"),
    ({"clickbait_fraction": 2}, r"clickbait_fraction must be in \[0.0, 1.0\]"),
    ({"clickbait_click_boost": -1}, "clickbait_click_boost must be >= 0.0"),
    ({"play_rate": 1.2}, r"play_rate must be in \[0.0, 1.0\]"),
    ({"clickbait_play_rate": -0.1}, r"clickbait_play_rate must be in \[0.0, 1.0\]"),
    ({"clickbait_play_rate": "low"}, "clickbait_play_rate must be a finite number"),
    ({"time_bucket_weights": (0.5, 0.5, 0.5, 0.5)}, "time_bucket_weights must sum to 1"),
    ({"device_weights": (1.0,)}, "device_weights must be 4 probabilities"),
    ({"day_type_weights": (1.2, -0.2)}, r"day_type_weights\[weekday\] must be in"),
    ({"utc_offsets_minutes": ()}, "utc_offsets_minutes must be a non-empty"),
    ({"utc_offsets_minutes": (900,)}, "utc_offsets_minutes entries must be between -720 and 840"),
    ({"title_popularity_skew": -0.5}, "title_popularity_skew must be >= 0.0"),
])
def test_invalid_params(overrides, message):
    with pytest.raises(ValueError, match=message):
        WorldParams(**overrides)


def _no_id(catalog):
    return [{"name": "x", "artwork": catalog[0]["artwork"]}]


def _duplicate_artwork(catalog):
    other = {**catalog[1], "artwork": [catalog[0]["artwork"][0]]}
    return [catalog[0], other]


@pytest.mark.parametrize("build, message", [
    (lambda c: [], "at least one title"),
    (lambda c: {"id": "t01"}, "catalog must be a list"),
    (_no_id, "has no string 'id'"),
    (lambda c: [c[0], c[0]], "duplicate title id 't01'"),
    (lambda c: [{**c[0], "artwork": []}], "title 't01' has no artwork"),
    (_duplicate_artwork, "duplicate artwork id 't01-a1'"),
    (lambda c: [{**c[0], "artwork": [{"id": "x", "tags": ["drama"]}]}], "tags that are not"),
])
def test_invalid_catalog(catalog, build, message):
    with pytest.raises(ValueError, match=message):
        World(build(catalog))


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_invalid_seed(catalog, seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        World(catalog, seed=seed)


def test_unknown_tags_are_neutral():
    odd = [{"id": "odd", "artwork": [
        {"id": "odd-1", "tags": {"theme": "western", "tone": "sepia", "subject": "poster"}},
        {"id": "odd-2", "tags": {}},
    ]}]
    world = World(odd, CLEAN)
    user = world.users[0]
    for context in all_contexts():
        for a in ("odd-1", "odd-2"):
            assert world.click_probability(user, "odd", a, context) == pytest.approx(0.04)


# The real demo catalog ---------------------------------------------------------------------------

def test_demo_catalog():
    from artwork.demo_catalog import demo_titles

    titles = demo_titles()
    world = World(titles, seed=0)
    reqs = world.sample_requests(np.random.default_rng(1), 2000)
    uniform = world.policy_value(world.uniform_policy(), reqs)
    fixed = world.policy_value(world.fixed_policy(world.best_fixed_artwork()), reqs)
    oracle = world.oracle_value(reqs)
    assert oracle >= fixed >= uniform and oracle > uniform
    for title in titles:
        for a in title["artwork"]:
            p = world.click_probability(world.users[0], title["id"], a["id"],
                                        World.context_for("evening"))
            assert 0 < p < 1


def test_effect_tables_cover_the_vocabulary():
    assert set(TIME_TONE) == set(TIME_BUCKETS)
    assert all(set(row) == set(TONES) for row in TIME_TONE.values())
    assert set(DEVICE_SUBJECT) == set(DEVICES)
    assert all(set(row) == set(SUBJECTS) for row in DEVICE_SUBJECT.values())


def test_sampled_contexts_agree_with_the_service_context():
    from artwork import features

    world = World(make_catalog(3), seed=0)
    rng = np.random.default_rng(3)
    for _ in range(300):
        c = world.sample_context(rng)
        ctx = features.time_context(features.parse_time(c["time"]))
        assert (ctx["time_bucket"], ctx["day_type"]) == (c["time_bucket"], c["day_type"])
