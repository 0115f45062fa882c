"""Tests of the synthetic world's variants (simulations/world.py): smooth time of day, per-person
quirks, noisy estimated affinities, titles added mid-run, taste drift and the named VARIANTS.
The first tests pin that every variant, left at its default, leaves the world exactly as it was."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, replace

import numpy as np
import pytest
from test_world import CLEAN, art, logit, make_catalog

from artwork.simulations.world import (
    BUCKET_HOURS,
    TIME_TONE,
    TIME_TONE_PEAK_HOUR,
    VARIANTS,
    SimUser,
    World,
    WorldParams,
    smooth_time_tone,
)
from artwork.vocab import DEVICES, GENRES, SUBJECTS, TIME_BUCKETS, TONES

#: Every variant field at its default, spelled out.
EXPLICIT_DEFAULTS = dict(time_effect="buckets", quirk_fraction=0.0, quirk_strength=0.5,
                         affinity_noise=0.0, late_title_fraction=0.0, late_title_at=0.5,
                         drift_fraction=0.0, drift_at=0.5)

#: One title with an artwork of every tone (drama, scene) and of every subject (drama, muted).
TONES_AND_SUBJECTS = {
    "id": "ts", "genres": ["drama"],
    "artwork": [art(f"ts-{tone}", "drama", tone=tone) for tone in TONES]
    + [art(f"ts-{subject}", "drama", subject=subject) for subject in SUBJECTS],
}


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    return make_catalog()


def at(hour: int, minute: int = 0, second: int = 0, offset: str = "+00:00", device: str = "web",
       bucket: str | None = None) -> dict:
    """A context at a local clock time (Wednesday 2026-11-04)."""
    context = {"time": f"2026-11-04T{hour:02d}:{minute:02d}:{second:02d}{offset}", "device": device,
               "day_type": "weekday"}
    if bucket is not None:
        context["time_bucket"] = bucket
    return context


def snapshot(world: World, progress: float = 0.0, n: int = 200) -> list:
    """People, requests, probabilities and the best fixed artworks of a world, for equality."""
    out: list = [world.users, sorted(world.clickbait)]
    for r in world.sample_requests(np.random.default_rng(5), n, progress):
        out.append((r.user, r.title_id, r.context, world.reward_probabilities(
            r.user, r.title_id, r.context, "quality_play"), world.estimated_affinity(r.user)))
    out.append(world.best_fixed_artwork())
    return out


# Defaults leave the world alone ----------------------------------------------------------------

def test_explicit_defaults_are_the_plain_world(catalog):
    plain = World(catalog, seed=3)
    explicit = World(catalog, WorldParams(**EXPLICIT_DEFAULTS), seed=3)
    assert snapshot(plain) == snapshot(explicit)
    assert plain.late_titles == frozenset() and plain.drifted == frozenset()
    assert not any(u.quirky for u in plain.users)
    for progress in (0.0, 0.5, 0.99, 1.0):
        assert plain.titles_live(progress) == plain.title_ids
        assert plain.users_at(progress) == plain.users
        assert snapshot(plain, progress, 50) == snapshot(plain, 0.0, 50)
    assert all(plain.estimated_affinity(u) == World.genre_affinity(u) for u in plain.users)


def test_default_world_is_pinned(catalog):
    """Figures of the seed-0 world as they were before the variants existed."""
    world = World(catalog, seed=0)
    assert [(u.id, u.top_genre, round(u.taste[u.top_genre], 12)) for u in world.users[:3]] == [
        ("sim-u0001", "scifi", 0.333315411597), ("sim-u0002", "scifi", 0.407387372463),
        ("sim-u0003", "family", 0.723298602602)]
    requests = world.sample_requests(np.random.default_rng(2024), 3)
    assert [(r.user.id, r.title_id, r.context["time"], r.context["device"]) for r in requests] == [
        ("sim-u0049", "t22", "2026-11-26T16:04:00-05:00", "web"),
        ("sim-u0174", "t03", "2026-11-13T09:48:00+01:00", "tv"),
        ("sim-u0198", "t04", "2026-11-03T21:38:00+05:30", "mobile")]
    r = requests[0]
    assert world.click_probability(r.user, "t22", "t22-a1", r.context) == 0.04665141132507489


@pytest.mark.parametrize("overrides", [
    {"quirk_fraction": 0.3}, {"affinity_noise": 0.3}, {"late_title_fraction": 0.25},
    {"drift_fraction": 0.3}, {"time_effect": "smooth"},
])
def test_a_variant_draws_from_its_own_stream(catalog, overrides):
    """Switching a variant on leaves the people's tastes, the artworks and the requests (at a
    progress where the variant does not act on them) exactly as in the default world."""
    plain, variant = World(catalog, seed=4), World(catalog, WorldParams(**overrides), seed=4)
    assert [(u.id, u.taste, u.kind) for u in plain.users] == \
        [(u.id, u.taste, u.kind) for u in variant.users]
    assert plain.clickbait == variant.clickbait
    progress = 0.0 if "drift_fraction" in overrides else 0.99
    mine = variant.sample_requests(np.random.default_rng(8), 300, progress)
    theirs = plain.sample_requests(np.random.default_rng(8), 300)
    assert [(r.user.id, r.title_id, r.context) for r in mine] == \
        [(r.user.id, r.title_id, r.context) for r in theirs]


# Smooth time of day ----------------------------------------------------------------------------

def test_smooth_unit_effect():
    for tone, peak in TIME_TONE_PEAK_HOUR.items():
        if peak is None:
            assert all(smooth_time_tone(tone, h) == 0.0 for h in range(24))
        else:
            assert smooth_time_tone(tone, peak) == pytest.approx(1.0)
            assert smooth_time_tone(tone, peak + 12) == pytest.approx(-1.0)
            assert smooth_time_tone(tone, peak - 30) == pytest.approx(smooth_time_tone(tone, peak - 6))
    assert smooth_time_tone("sepia", 10) == 0.0
    # Each tone is best where the bucket table favours it (at the representative times).
    for bucket, hour in (("morning", 9.5), ("afternoon", 14.5), ("evening", 20.5), ("late-night", 23.5)):
        table_best = max(TIME_TONE[bucket], key=TIME_TONE[bucket].get)
        assert max(TONES, key=lambda t, h=hour: smooth_time_tone(t, h)) == table_best


@pytest.fixture(scope="module")
def smooth() -> World:
    return World([TONES_AND_SUBJECTS], replace(CLEAN, time_effect="smooth"), seed=0)


@pytest.fixture(scope="module")
def buckets() -> World:
    return World([TONES_AND_SUBJECTS], CLEAN, seed=0)


def test_smooth_varies_within_a_bucket(smooth, buckets):
    user = smooth.persona("drama")
    early, late = at(5, 30, bucket="morning"), at(11, 30, bucket="morning")
    p_early = smooth.click_probability(user, "ts", "ts-bright", early)
    p_late = smooth.click_probability(user, "ts", "ts-bright", late)
    assert p_late > p_early
    strength = smooth.params.time_tone_strength
    assert logit(p_late) - logit(p_early) == pytest.approx(
        strength * (smooth_time_tone("bright", 11.5) - smooth_time_tone("bright", 5.5)))
    # The bucket world cannot tell the two apart.
    assert buckets.click_probability(user, "ts", "ts-bright", early) == \
        buckets.click_probability(user, "ts", "ts-bright", late)


@pytest.mark.parametrize("before, after", [((16, 59, 59), (17, 0, 0)), ((11, 59, 59), (12, 0, 0)),
                                           ((4, 59, 59), (5, 0, 0)), ((21, 59, 59), (22, 0, 0))])
def test_smooth_is_continuous_at_bucket_edges(smooth, buckets, before, after):
    user = smooth.persona("drama")
    jumps = []
    for tone in TONES:
        a, b = (smooth.click_probability(user, "ts", f"ts-{tone}", at(*t)) for t in (before, after))
        assert abs(logit(a) - logit(b)) < 1e-3
        a, b = (buckets.click_probability(user, "ts", f"ts-{tone}", at(*t)) for t in (before, after))
        jumps.append(abs(logit(a) - logit(b)))
    assert max(jumps) > 0.2  # whereas the bucket table jumps


def test_smooth_reads_the_local_clock_time(smooth):
    user = smooth.persona("drama")
    here = smooth.reward_probabilities(user, "ts", at(20, 15, offset="+05:30"))
    assert here == smooth.reward_probabilities(user, "ts", at(20, 15, offset="-05:00"))
    # The time wins over a contradicting bucket: the truth follows the clock.
    assert here == smooth.reward_probabilities(user, "ts", at(20, 15, offset="-05:00", bucket="morning"))
    with pytest.raises(ValueError, match="context needs a 'time'"):
        smooth.click_probability(user, "ts", "ts-dark", {"time_bucket": "evening", "device": "tv"})
    with pytest.raises(ValueError, match="device must be one of"):
        smooth.click_probability(user, "ts", "ts-dark", {"time": at(20)["time"], "device": "fridge"})


def test_smooth_oracle_follows_the_hour():
    """Warm artwork beats muted early in the evening and loses late in the evening, one bucket."""
    title = {"id": "wm", "artwork": [art("wm-warm", "drama", tone="warm"), art("wm-muted", "drama")]}
    world = World([title], replace(CLEAN, time_effect="smooth"), seed=0)
    user = world.persona("drama")
    assert world.oracle(user, "wm", at(17, 30)) == "wm-warm"
    assert world.oracle(user, "wm", at(21, 30)) == "wm-muted"
    plain = World([title], CLEAN, seed=0)
    assert plain.oracle(user, "wm", at(17, 30)) == plain.oracle(user, "wm", at(21, 30)) == "wm-muted"


def test_smooth_requests_still_carry_buckets(catalog):
    world = World(catalog, WorldParams(time_effect="smooth"), seed=0)
    for r in world.sample_requests(np.random.default_rng(1), 200):
        assert r.context["time_bucket"] in TIME_BUCKETS
        for a in world.artwork_ids(r.title_id):
            assert 0 < world.click_probability(r.user, r.title_id, a, r.context) < 1


# Quirks ----------------------------------------------------------------------------------------

def test_quirky_share(catalog):
    world = World(catalog, WorldParams(quirk_fraction=0.3), seed=0)
    quirky = [u for u in world.users if u.quirky]
    assert len(quirky) == 60
    assert all(u.favourite_tone in (None, *TONES) and u.disliked_subject in (None, *SUBJECTS)
               for u in world.users)
    assert any(u.favourite_tone and u.disliked_subject for u in quirky)
    assert any(u.favourite_tone and not u.disliked_subject for u in quirky)
    assert any(u.disliked_subject and not u.favourite_tone for u in quirky)
    assert len({u.favourite_tone for u in quirky} - {None}) > 1
    again = World(catalog, WorldParams(quirk_fraction=0.3), seed=0)
    assert again.users == world.users
    other = World(catalog, WorldParams(quirk_fraction=0.3), seed=1)
    assert [u.id for u in other.users if u.quirky] != [u.id for u in quirky]


def test_quirk_moves_the_logit_by_exactly_its_strength():
    params = replace(CLEAN, quirk_fraction=1.0, quirk_strength=0.7)
    world = World([TONES_AND_SUBJECTS], params, seed=0)
    checked_tone = checked_subject = 0
    for user in world.users[:40]:
        plain = replace(user, favourite_tone=None, disliked_subject=None)
        for context in (World.context_for("evening", device="tv"), at(9, 30, device="mobile")):
            for a in world.artwork_ids("ts"):
                tags = world.artwork_tags(a)
                expected = 0.7 * ((tags["tone"] == user.favourite_tone)
                                  - (tags["subject"] == user.disliked_subject))
                gap = logit(world.click_probability(user, "ts", a, context)) - \
                    logit(world.click_probability(plain, "ts", a, context))
                assert gap == pytest.approx(expected, abs=1e-9)
                checked_tone += tags["tone"] == user.favourite_tone and expected > 0
                checked_subject += tags["subject"] == user.disliked_subject and expected < 0
    assert checked_tone and checked_subject


def test_oracle_follows_a_quirk():
    title = {"id": "q", "artwork": [art(f"q-{tone}", "drama", tone=tone) for tone in TONES]}
    world = World([title], replace(CLEAN, quirk_strength=3.0), seed=0)
    fan = world.persona("drama")
    context = World.context_for("afternoon")
    for tone in TONES:
        assert world.oracle(replace(fan, favourite_tone=tone), "q", context) == f"q-{tone}"


def test_quirk_validation():
    with pytest.raises(ValueError, match="favourite_tone must be None or one of"):
        SimUser("x", {"romance": 1.0}, "narrow", favourite_tone="sepia")
    with pytest.raises(ValueError, match="disliked_subject must be None or one of"):
        SimUser("x", {"romance": 1.0}, "narrow", disliked_subject="poster")
    assert not SimUser("x", {"romance": 1.0}, "narrow").quirky


# Noisy estimated affinities --------------------------------------------------------------------

def test_estimated_affinity_is_a_fixed_noisy_estimate(catalog):
    world = World(catalog, WorldParams(affinity_noise=0.3), seed=0)
    kept = {"narrow": [], "broad": []}
    for user in world.users:
        estimate = world.estimated_affinity(user)
        truth = World.genre_affinity(user)
        assert estimate != truth
        assert set(estimate) <= set(GENRES)
        assert all(v > 0 and v == round(v, 4) for v in estimate.values())
        assert sum(estimate.values()) == pytest.approx(1.0, abs=1e-3)
        distance = sum(abs(estimate.get(g, 0.0) - user.taste[g]) for g in GENRES)
        assert 0 < distance <= 2 * 0.3 + 1e-3
        kept[user.kind].append(max(estimate, key=estimate.get) == user.top_genre)
        assert world.estimated_affinity(user) == estimate  # the same every request
    assert all(kept["narrow"])
    assert 0.75 < float(np.mean(kept["broad"])) < 1.0  # broad top genres are sometimes misranked
    same = World(catalog, WorldParams(affinity_noise=0.3), seed=0)
    assert [same.estimated_affinity(u) for u in same.users] == \
        [world.estimated_affinity(u) for u in world.users]
    other = World(catalog, WorldParams(affinity_noise=0.3), seed=1)
    user = world.users[0]
    assert other.estimated_affinity(user) != world.estimated_affinity(user)


def test_affinity_noise_changes_what_is_told_not_the_truth(catalog):
    noisy, plain = World(catalog, WorldParams(affinity_noise=0.5), seed=2), World(catalog, seed=2)
    requests = plain.sample_requests(np.random.default_rng(3), 100)
    for r in requests:
        assert noisy.reward_probabilities(r.user, r.title_id, r.context) == \
            plain.reward_probabilities(r.user, r.title_id, r.context)
    assert noisy.best_fixed_artwork() == plain.best_fixed_artwork()
    # The staticmethod is still the exact taste, on the class and on a world.
    user = SimUser("x", {"romance": 0.7, "drama": 0.29996, "horror": 0.00004}, "narrow")
    assert World.genre_affinity(user) == noisy.genre_affinity(user) == {"romance": 0.7, "drama": 0.3}
    assert sum(noisy.estimated_affinity(user).values()) == pytest.approx(1.0, abs=1e-3)


def test_pure_noise_ignores_the_taste(catalog):
    world = World(catalog, WorldParams(affinity_noise=1.0), seed=0)
    a, b = world.users[:2]
    assert world.estimated_affinity(a) == world.estimated_affinity(replace(a, taste=b.taste))


# Titles added mid-run --------------------------------------------------------------------------

def test_late_titles(catalog):
    world = World(catalog, WorldParams(late_title_fraction=0.25, late_title_at=0.4), seed=0)
    assert len(world.late_titles) == 8 and world.late_titles <= set(world.title_ids)
    early = world.titles_live(0.0)
    assert set(early) == set(world.title_ids) - world.late_titles
    assert list(early) == [t for t in world.title_ids if t in set(early)]  # catalog order
    assert world.titles_live(0.39) == early
    assert world.titles_live(0.4) == world.titles_live(1.0) == world.title_ids
    rng = np.random.default_rng(0)
    before = {world.sample_request(rng, p).title_id for p in np.linspace(0, 0.399, 2000)}
    assert before == set(early)
    after = {r.title_id for r in world.sample_requests(rng, 2000, progress=0.4)}
    assert after == set(world.title_ids)
    # Without a progress a request is made at the start of the run.
    assert not {r.title_id for r in world.sample_requests(rng, 500)} & world.late_titles
    other = World(catalog, WorldParams(late_title_fraction=0.25), seed=1)
    assert other.late_titles != world.late_titles


def test_late_titles_with_popularity_skew(catalog):
    world = World(catalog, WorldParams(late_title_fraction=0.5, title_popularity_skew=1.0), seed=0)
    rng = np.random.default_rng(0)
    counts: dict[str, int] = {}
    for r in world.sample_requests(rng, 3000, progress=0.1):
        counts[r.title_id] = counts.get(r.title_id, 0) + 1
    assert not set(counts) & world.late_titles
    assert max(counts.values()) > 3 * 3000 / 16  # still skewed over the live titles


def test_one_title_is_always_live():
    titles = [{"id": f"x{k}", "artwork": [art(f"x{k}-a", "drama")]} for k in range(3)]
    world = World(titles, WorldParams(late_title_fraction=0.99), seed=0)
    assert len(world.late_titles) == 2 and len(world.titles_live(0.0)) == 1
    single = World(titles[:1], WorldParams(late_title_fraction=0.9), seed=0)
    assert single.late_titles == frozenset() and single.titles_live(0.0) == ("x0",)


# Drift in taste --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def drifting(catalog) -> World:
    return World(catalog, WorldParams(drift_fraction=0.3, drift_at=0.6), seed=0)


def test_drift_changes_a_share_of_the_tastes(drifting):
    world = drifting
    assert len(world.drifted) == 60
    assert world.users_at(0.0) == world.users_at(0.59) == world.users
    after = world.users_at(0.6)
    assert after == world.users_at(1.0)
    assert [u.id for u in after] == [u.id for u in world.users]
    for old, new in zip(world.users, after, strict=True):
        if old.id in world.drifted:
            assert new.top_genre != old.top_genre
            assert new.taste[new.top_genre] == old.taste[old.top_genre]  # the shape is kept
            assert sorted(new.taste.values()) == sorted(old.taste.values())
            assert (new.kind, new.favourite_tone, new.disliked_subject) == \
                (old.kind, old.favourite_tone, old.disliked_subject)
        else:
            assert new is old
    moved_to = {new.top_genre for new in after if new.id in world.drifted}
    assert len(moved_to) > 3
    other = World(world.catalog, world.params, seed=1)
    assert other.drifted != world.drifted


def test_drifted_people_in_requests_and_user_at(drifting):
    world = drifting
    rng = np.random.default_rng(0)
    early = world.sample_requests(rng, 500, progress=0.3)
    late = world.sample_requests(rng, 500, progress=0.8)
    originals = {u.id: u for u in world.users}
    assert all(r.user is originals[r.user.id] for r in early)
    moved = [r for r in late if r.user.id in world.drifted]
    assert moved and all(r.user.top_genre != originals[r.user.id].top_genre for r in moved)
    user = originals[next(iter(sorted(world.drifted)))]
    assert world.user_at(user, 0.8) == world.user_at(world.user_at(user, 0.8), 0.9) != user
    assert world.user_at(world.user_at(user, 0.8), 0.1) is user
    steady = next(u for u in world.users if u.id not in world.drifted)
    assert world.user_at(steady, 0.9) is steady
    stranger = SimUser("x", {"romance": 1.0}, "narrow")
    assert world.user_at(stranger, 0.9) is stranger


def test_oracle_and_affinities_follow_the_drift(catalog):
    world = World(catalog, WorldParams(drift_fraction=1.0, affinity_noise=0.2), seed=0)
    user = next(u for u in world.users if u.kind == "narrow")
    later = world.user_at(user, 0.75)
    old, new = user.top_genre, later.top_genre
    title = {"id": "d", "artwork": [art("d-old", old), art("d-new", new)]}
    lab = World([title], CLEAN, seed=0)
    context = World.context_for("evening")
    assert lab.oracle(user, "d", context) == "d-old"
    assert lab.oracle(later, "d", context) == "d-new"
    told = world.estimated_affinity(later)
    assert max(told, key=told.get) == new
    assert World.genre_affinity(later)[new] == round(user.taste[old], 4)


def test_best_fixed_follows_the_drift(catalog):
    world = World(catalog[:8], WorldParams(drift_fraction=1.0, artwork_noise_sd=0.0), seed=0)
    before, after = world.best_fixed_artwork(progress=0.0), world.best_fixed_artwork(progress=0.9)
    assert before == world.best_fixed_artwork() and before != after
    assert after == world.best_fixed_artwork(progress=0.5)  # drift_at defaults to 0.5


# Exact best fixed artwork, with the variants ---------------------------------------------------

@pytest.mark.parametrize("progress", [0.0, 0.7])
def test_best_fixed_is_exact_with_variants(catalog, progress):
    """Brute force over the population at the progress, every device and, for the smooth time
    effect, each bucket's hours at half past, weighted as documented."""
    params = WorldParams(n_users=25, time_effect="smooth", quirk_fraction=0.5, quirk_strength=1.0,
                         drift_fraction=0.5)
    small = World(catalog[:6], params, seed=2)
    users = small.users_at(progress)
    contexts = []
    for bucket, wb in zip(TIME_BUCKETS, params.time_bucket_weights, strict=True):
        for hour in BUCKET_HOURS[bucket]:
            for device, wd in zip(DEVICES, params.device_weights, strict=True):
                contexts.append((wb / len(BUCKET_HOURS[bucket]) * wd, at(hour, 30, device=device)))
    for reward in ("click", "quality_play"):
        best = small.best_fixed_artwork(reward, progress)
        for title_id in small.title_ids:
            values = dict.fromkeys(small.artwork_ids(title_id), 0.0)
            for weight, ctx in contexts:
                for u in users:
                    for a, prob in small.reward_probabilities(u, title_id, ctx, reward).items():
                        values[a] += weight * prob
            assert best[title_id] == max(values, key=values.get)


# Progress and validation -----------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda w: w.titles_live(1.5),
    lambda w: w.users_at(-0.1),
    lambda w: w.user_at(w.users[0], float("nan")),
    lambda w: w.sample_request(np.random.default_rng(0), 2.0),
    lambda w: w.best_fixed_artwork("click", -1.0),
])
def test_progress_is_checked(catalog, call):
    world = World(catalog[:3], WorldParams(drift_fraction=0.5, late_title_fraction=0.3), seed=0)
    with pytest.raises(ValueError, match="progress must be"):
        call(world)


@pytest.mark.parametrize("overrides, message", [
    ({"time_effect": "hourly"}, "time_effect must be one of buckets, smooth"),
    ({"time_effect": None}, "time_effect must be one of"),
    ({"quirk_fraction": 1.5}, r"quirk_fraction must be in \[0.0, 1.0\]"),
    ({"quirk_strength": -0.5}, "quirk_strength must be >= 0.0"),
    ({"quirk_strength": float("inf")}, "quirk_strength must be a finite number"),
    ({"affinity_noise": -0.1}, r"affinity_noise must be in \[0.0, 1.0\]"),
    ({"affinity_noise": "some"}, "affinity_noise must be a finite number"),
    ({"late_title_fraction": 1.0}, r"late_title_fraction must be in \[0.0, 1.0\)"),
    ({"late_title_at": 0.0}, r"late_title_at must be in \(0.0, 1.0\)"),
    ({"late_title_at": 1.0}, r"late_title_at must be in \(0.0, 1.0\)"),
    ({"drift_fraction": 1.01}, r"drift_fraction must be in \[0.0, 1.0\]"),
    ({"drift_at": 0}, r"drift_at must be in \(0.0, 1.0\)"),
    ({"drift_at": True}, "drift_at must be a finite number"),
])
def test_invalid_variant_params(overrides, message):
    with pytest.raises(ValueError, match=message):
        WorldParams(**overrides)


# Named variants --------------------------------------------------------------------------------

def test_variants_are_named_worlds(catalog):
    assert set(VARIANTS) == {"default", "smooth-time", "quirks", "noisy-affinity", "popular-titles",
                             "new-titles", "drift", "everything"}
    assert VARIANTS["default"] == WorldParams()
    default = asdict(WorldParams())
    changed = {name: {k for k, v in asdict(params).items() if v != default[k]}
               for name, params in VARIANTS.items()}
    assert changed["smooth-time"] == {"time_effect"}
    assert changed["quirks"] == {"quirk_fraction"}  # the strength is the default's
    assert changed["noisy-affinity"] == {"affinity_noise"}
    assert changed["popular-titles"] == {"title_popularity_skew"}
    assert changed["new-titles"] == {"late_title_fraction"}
    assert changed["drift"] == {"drift_fraction"}
    assert changed["everything"] >= set().union(*(changed[n] for n in VARIANTS if n != "everything"))
    assert VARIANTS["everything"].n_users == 500
    for name, params in VARIANTS.items():
        # A simulation's metadata stores asdict(params); it must rebuild the same world.
        assert WorldParams(**asdict(params)) == params
        world = World(catalog, params, seed=0)
        requests = [world.sample_request(np.random.default_rng(k), k / 50) for k in range(50)]
        assert world.oracle_value(requests) > world.policy_value(world.uniform_policy(), requests), name


def test_every_variant_field_is_documented():
    import artwork.simulations.world as module

    fields = {f.name for f in dataclasses.fields(WorldParams)}
    for name in EXPLICIT_DEFAULTS:
        assert name in fields
        assert f"{name} [" in module.__doc__  # in the module docstring's knob list
