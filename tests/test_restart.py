"""Restarting gives the same model as never stopping: checkpoints plus re-learning the log."""

import json
import random

from artwork.config import DEFAULT_VW_ARGS
from artwork.policy import Model

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

PERSONAS = [{"romance": 1.0}, {"thriller": 1.0}, {"family": 0.5, "animation": 0.5}]


def traffic(client, clock, n_pages, seed):
    """Pages of decisions for random personas; about a third of the shown artwork is clicked."""
    rng = random.Random(seed)
    titles = [t["id"] for t in client.get("/api/v1/titles").get_json()["titles"]]
    for _ in range(n_pages):
        body = {"user_id": f"u{rng.randrange(5)}", "title_ids": rng.sample(titles, 5),
                "context": {"genre_affinity": rng.choice(PERSONAS)}}
        for d in client.post("/api/v1/select-artwork", json=body).get_json()["decisions"]:
            if rng.random() < 0.33:
                client.post(f"/api/v1/events/{d['event_id']}/click")
        clock.advance(31)


def never_stopped(service) -> Model:
    """A model that learned the whole learn queue in one go, in order."""
    model = Model(DEFAULT_VW_ARGS)
    for row in service.store.query("SELECT q.seq, i.features, i.chosen_index, i.reward, i.probability"
                                   " FROM learn_queue q JOIN impressions i USING (event_id) ORDER BY q.seq"):
        model.learn(json.loads(row["features"]), row["chosen_index"], row["reward"], row["probability"], row["seq"])
    return model


def probe_features(service):
    title = service.catalog.get("t01")
    from artwork import features
    from artwork.features import parse_time, time_context

    ctx = time_context(parse_time("2026-11-23T21:00:00+01:00"))
    return [features.build_features(p, ctx, "tv", title["artwork"]) for p in PERSONAS]


def test_restart_after_a_crash_equals_never_stopping(make_app, clock):
    first = make_app(CHECKPOINT_EVERY_EVENTS=40)
    client, learner = first.test_client(), first.extensions["artwork.learner"]
    for _ in range(6):
        traffic(client, clock, 4, seed=clock.now)
        learner.run_once()
    checkpointed = first.extensions["artwork"].store.scalar("SELECT max(seq) FROM checkpoints")
    traffic(client, clock, 3, seed=7)
    learner.run_once()
    learned = first.extensions["artwork"].model.seq
    assert 0 < checkpointed < learned  # the crash loses the events after the last checkpoint
    learner.stop(checkpoint=False)  # crash: no final checkpoint

    second = make_app(CHECKPOINT_EVERY_EVENTS=40)
    service = second.extensions["artwork"]
    assert service.model.seq == learned  # loaded the checkpoint and re-learned the rest
    reference = never_stopped(service)
    assert service.model.weights() == reference.weights()
    for feats in probe_features(service):
        assert service.model.predict(feats) == reference.predict(feats)

    # ...and keeps learning identically afterwards.
    traffic(second.test_client(), clock, 3, seed=11)
    second.extensions["artwork.learner"].run_once()
    assert service.model.weights() == never_stopped(service).weights()


def test_corrupted_or_missing_checkpoint_falls_back_and_rebuilds(make_app, clock, data_dir):
    first = make_app(CHECKPOINT_EVERY_EVENTS=10)
    learner = first.extensions["artwork.learner"]
    for _ in range(3):
        traffic(first.test_client(), clock, 3, seed=clock.now)
        learner.run_once()
    learner.stop()
    files = sorted((data_dir / "models").glob("model-*.vw"))
    assert len(files) >= 2
    files[-1].write_bytes(b"not a model")
    second = make_app()
    service = second.extensions["artwork"]
    assert service.model.seq == first.extensions["artwork"].model.seq
    assert service.model.weights() == never_stopped(service).weights()

    for f in (data_dir / "models").glob("model-*.vw"):
        f.unlink()
    third = make_app()
    assert third.extensions["artwork"].model.weights() == never_stopped(service).weights()


def test_changed_vw_arguments_retrain_from_the_log(make_app, clock):
    first = make_app(CHECKPOINT_EVERY_EVENTS=5)
    traffic(first.test_client(), clock, 4, seed=3)
    first.extensions["artwork.learner"].run_once()
    first.extensions["artwork.learner"].stop()
    args = DEFAULT_VW_ARGS.replace("--epsilon 0.1", "--epsilon 0.2")
    second = make_app(VW_ARGS=args)
    model = second.extensions["artwork"].model
    assert model.vw_args == args and model.seq == first.extensions["artwork"].model.seq
