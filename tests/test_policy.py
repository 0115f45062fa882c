"""``Model`` calls VW's native predict and learn directly (the binding's wrappers cost more than
VW itself): what it gets must be exactly what the binding's public ``predict``/``learn`` give."""

import random

import pytest
import vowpalwabbit

from artwork.config import DEFAULT_VW_ARGS
from artwork.features import build_features, normalize_affinity, to_vw
from artwork.policy import Model, normalize_pmf, sample_index

THEMES = ["romance", "thriller", "comedy", "horror", "family"]
GENRES = ["drama", "action", "romance", "thriller", "comedy"]


def random_features(rng: random.Random) -> dict:
    raw = {g: rng.random() for g in rng.sample(GENRES, rng.randint(1, len(GENRES)))}
    affinity = normalize_affinity(raw)
    when = {"time_bucket": rng.choice(["morning", "evening"]), "day_type": rng.choice(["weekday", "weekend"])}
    artworks = [{"id": f"a{k}-{rng.randrange(50)}",
                 "tags": {"theme": rng.choice(THEMES), "tone": rng.choice(["dark", "light"]),
                          "subject": rng.choice(["couple", "face"]),
                          "cast": rng.sample(["x", "y", "z"], rng.randint(0, 2))}}
                for k in range(rng.randint(2, 7))]
    return build_features(affinity, when, rng.choice([None, "tv", "mobile"]), artworks)


def labelled(features: dict, rng: random.Random) -> tuple[list[str], tuple]:
    index = rng.randrange(len(features["actions"]))
    label = (index, -float(rng.random() < 0.3), 1 / len(features["actions"]))
    return to_vw(features, label=label), label


def test_direct_predict_and_learn_equal_the_bindings_own():
    rng = random.Random(7)
    ours = Model(DEFAULT_VW_ARGS)
    reference = vowpalwabbit.Workspace(f"{DEFAULT_VW_ARGS} --quiet")
    for step in range(400):
        features = random_features(rng)
        lines = to_vw(features)
        with ours._lock:
            got = ours.predict_text(lines)
        assert list(got) == list(reference.predict(lines)), step
        train, label = labelled(features, rng)
        ours.learn(features, label[0], -label[1], label[2], seq=step + 1)
        reference.learn(train)
    assert ours.weights() == reference.json_weights()
    assert ours.version == 400
    reference.finish()
    ours.close()


def test_model_probabilities_are_a_distribution_over_the_candidates():
    rng = random.Random(11)
    model = Model(DEFAULT_VW_ARGS)
    for _ in range(50):
        features = random_features(rng)
        pmf, version = model.predict(features)
        assert len(pmf) == len(features["actions"])
        assert all(p > 0 for p in pmf)
        assert sum(pmf) == pytest.approx(1.0, abs=1e-12)
        assert version == 0
        assert 0 <= sample_index(pmf, rng) < len(pmf)
    model.close()


def test_normalize_pmf_refuses_no_mass():
    with pytest.raises(RuntimeError):
        normalize_pmf([0.0, 0.0])


def test_predictions_are_kept_per_text_until_the_model_learns(monkeypatch):
    """``predict_lines`` keeps VW's answer per text for as long as the model does not learn:
    within a version the same text gets the same answer without VW; after a learn every answer
    is VW's for the new weights, as a model that never kept one gives."""
    rng = random.Random(5)
    model, fresh = Model(DEFAULT_VW_ARGS), Model(DEFAULT_VW_ARGS)
    calls = []
    joined = model._predict_joined
    monkeypatch.setattr(model, "_predict_joined", lambda text: calls.append(text) or joined(text))
    decisions = [random_features(rng) for _ in range(6)]
    for step in range(1, 41):
        features = decisions[step % len(decisions)]
        lines = to_vw(features)
        before = len(calls)
        first, version = model.predict_lines(lines)
        again, version_again = model.predict_lines(lines)
        with fresh._lock:
            direct = normalize_pmf(fresh.predict_text(lines))  # VW itself, nothing kept
        assert (again, version_again) == (first, version) == (direct, step - 1)
        assert len(calls) - before <= 1  # VW at most once per text and version
        train, label = labelled(features, rng)
        for m in (model, fresh):
            m.learn(features, label[0], -label[1], label[2], seq=step)
    assert len(calls) == 40  # every step's text was new to its version: nothing outlived a learn
    lines = to_vw(decisions[0])
    assert model.predict_lines(lines) == model.predict_lines(lines) and len(calls) == 41


def test_the_memo_starts_over_when_full(monkeypatch):
    import artwork.policy as P

    monkeypatch.setattr(P, "MEMO_SIZE", 3)
    rng = random.Random(9)
    model = Model(DEFAULT_VW_ARGS)
    for _ in range(10):
        model.predict_lines(to_vw(random_features(rng)))
        assert len(model._memo) <= 3
