"""The HTTP API as a client sees it: contract fields, the log, errors, images, read-outs."""

import json

import pytest

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

EVENING = "2026-11-23T21:00:00+01:00"


def select(client, **body):
    body.setdefault("user_id", "u1")
    return client.post("/api/v1/select-artwork", json=body)


def test_select_one_title_returns_a_logged_decision(client, service):
    r = select(client, title_id="t01", context={"time": EVENING, "device": "tv"})
    assert r.status_code == 200
    body = r.get_json()
    [d] = body["decisions"]
    assert set(d) >= {"event_id", "title_id", "artwork_id", "image_url", "probability", "explored", "ranking"}
    assert d["title_id"] == "t01"
    assert 0 < d["probability"] <= 1
    assert sum(c["probability"] for c in d["ranking"]) == pytest.approx(1.0, abs=1e-9)
    assert d["artwork_id"] in {c["artwork_id"] for c in d["ranking"]}
    assert len(d["event_id"]) == 44 and int(d["event_id"], 16) >= 0
    assert body["model_version"] == 0
    row = service.store.query_one("SELECT * FROM impressions WHERE event_id = ?", (d["event_id"],))
    assert row["user_id"] == "u1" and row["title_id"] == "t01" and row["artwork_id"] == d["artwork_id"]
    assert row["probability"] == d["probability"]
    candidates, pmf = json.loads(row["candidates"]), json.loads(row["pmf"])
    assert [c["artwork_id"] for c in d["ranking"]] == sorted(candidates, key=lambda a: -pmf[candidates.index(a)])
    assert pmf[row["chosen_index"]] == row["probability"] and candidates[row["chosen_index"]] == row["artwork_id"]
    features = json.loads(row["features"])
    assert len(features["actions"]) == len(candidates)
    assert features["shared"]["T"] == {"bucket=evening": 1, "day=weekday": 1}
    assert features["shared"]["D"] == {"device=tv": 1}
    context = json.loads(row["context"])
    assert context["time"] == EVENING and context["affinity_source"] == "neutral"
    assert row["policy"] == "vw-squarecb" and row["state"] == "pending"


def test_untrained_policy_explores_uniformly(client):
    d = select(client, title_id="t02").get_json()["decisions"][0]
    assert [c["probability"] for c in d["ranking"]] == [pytest.approx(1 / len(d["ranking"]))] * len(d["ranking"])


def test_a_page_of_titles_in_one_call(client, service):
    titles = [t["id"] for t in client.get("/api/v1/titles").get_json()["titles"]]
    r = select(client, title_ids=titles)
    decisions = r.get_json()["decisions"]
    assert [d["title_id"] for d in decisions] == titles
    assert len({d["event_id"] for d in decisions}) == len(titles)
    assert service.store.scalar("SELECT count(*) FROM impressions") == len(titles)


def test_seeded_sampling_is_replayable(make_app, clock):
    picks = []
    for _ in range(2):
        app = make_app(SEED=42)
        d = app.test_client().post("/api/v1/select-artwork", json={
            "user_id": "u", "title_ids": ["t01", "t02", "t03", "t04", "t05"]}).get_json()["decisions"]
        picks.append([x["artwork_id"] for x in d])
    assert picks[0] == picks[1]


def test_affinity_override_changes_the_features(client, service):
    d = select(client, title_id="t01", context={"genre_affinity": {"romance": 3, "horror": 1}}).get_json()
    assert d["context"]["genre_affinity"] == {"horror": 0.25, "romance": 0.75}
    assert d["context"]["dominant_genre"] == "romance"
    row = service.store.query_one("SELECT features, dominant_genre FROM impressions")
    assert json.loads(row["features"])["shared"]["G"] == {"horror": 0.25, "romance": 0.75}
    assert row["dominant_genre"] == "romance"


def test_views_build_the_profile_used_by_decisions(client):
    fresh = client.get("/api/v1/users/newbie/profile").get_json()
    assert fresh["known"] is False and fresh["source"] == "neutral" and fresh["dominant_genre"] is None
    assert len(set(fresh["genre_affinity"].values())) == 1
    romance = [t for t in client.get("/api/v1/titles").get_json()["titles"] if "romance" in t["genres"]]
    for t in romance[:3]:
        r = client.post("/api/v1/users/fan/views", json={"title_id": t["id"], "seconds": 3000})
        assert r.status_code == 201
    profile = client.get("/api/v1/users/fan/profile").get_json()
    assert profile["dominant_genre"] == "romance" and profile["views"] == 3
    d = select(client, user_id="fan", title_id="t01").get_json()
    assert d["context"]["affinity_source"] == "history"
    assert d["context"]["genre_affinity"] == profile["genre_affinity"]


def test_each_logged_decision_holds_the_context_and_features_it_was_made_from(client, service, clock):
    """The request path builds the logged context and features from pieces cached per context,
    per title and per second: each row must still be what build_features gives for that
    decision, across people, devices, the hour changing (11:59:59 to 12:00:00 local time) and
    a catalog reload."""
    from datetime import datetime

    from artwork.features import build_features, dominant_genre, time_context

    titles = {t["id"]: t for t in client.get("/api/v1/titles").get_json()["titles"]}
    romance = [tid for tid, t in titles.items() if "romance" in t["genres"]]
    client.post("/api/v1/users/fan/views", json={"title_id": romance[0], "seconds": 3000})
    clock.now = datetime(2026, 11, 23, 11, 59, 58, 700_000).timestamp()  # local time, as the service's
    answers = []
    for step in range(6):
        for user, device in (("fan", None), ("newbie", "tv"), ("fan", "mobile")):
            body = {"user_id": user, "title_ids": list(titles)[step * 5:step * 5 + 5]}
            if device:
                body["context"] = {"device": device}
            answers.append((clock.now, select(client, **body).get_json()))
        clock.advance(0.5)
        if step == 3:
            service.catalog.invalidate()
    buckets = set()
    for now, answer in answers:
        context = dict(answer["context"])
        dominant = context.pop("dominant_genre")
        time_ctx = time_context(datetime.fromtimestamp(now).astimezone())
        assert {k: context[k] for k in time_ctx} == time_ctx
        buckets.add(context["time_bucket"])
        for d in answer["decisions"]:
            row = service.store.query_one("SELECT * FROM impressions WHERE event_id = ?", (d["event_id"],))
            assert json.loads(row["context"]) == context
            assert row["dominant_genre"] == dominant == dominant_genre(context["genre_affinity"])
            expected = build_features(context["genre_affinity"], context, context["device"],
                                        service.catalog.get(d["title_id"])["artwork"])
            assert json.loads(row["features"]) == expected
            assert json.loads(row["candidates"]) == [a["id"] for a in titles[d["title_id"]]["artwork"]]
    assert buckets == {"morning", "afternoon"}


def test_a_title_changed_by_an_import_is_decided_on_its_new_artwork(service, clock):
    """Each title's decision parts are built once per catalog load, and a request may still hold
    a title from before a reload: it must not leave its parts to the titles loaded after."""
    old = service.catalog.get("t01")
    assert service.catalog.parts(old).candidates == [a["id"] for a in old["artwork"]]
    changed = {**old, "artwork": [dict(a, id=a["id"] + "-v2") for a in reversed(old["artwork"])]}
    with service.store.write() as conn:
        service.store.put_title(conn, changed, {}, clock())
    service.catalog.invalidate()
    new = service.catalog.get("t01")
    service.catalog.parts(old)  # a request that read the title before the reload
    assert service.catalog.parts(new).candidates == [a["id"] for a in changed["artwork"]]
    d = service.select_artwork("u1", ["t01"])["decisions"][0]
    assert d["artwork_id"] in {a["id"] for a in changed["artwork"]}


def test_ratings_and_onboarding(client):
    r = client.put("/api/v1/users/kid/onboarding", json={"genres": ["family", "animation"]})
    assert r.status_code == 200 and r.get_json()["onboarding_genres"] == ["animation", "family"]
    thriller = next(t for t in client.get("/api/v1/titles").get_json()["titles"] if t["genres"] == ["thriller"])
    before = client.get("/api/v1/users/kid/profile").get_json()["genre_affinity"].get("thriller", 0)
    r = client.post("/api/v1/users/kid/ratings", json={"title_id": thriller["id"], "thumbs": "down"})
    assert r.status_code == 200
    assert r.get_json()["genre_affinity"].get("thriller", 0) < before
    assert r.get_json()["ratings"] == [{"title_id": thriller["id"], "thumbs": "down"}]


def test_titles_listing_has_tags_and_images(client):
    titles = client.get("/api/v1/titles").get_json()["titles"]
    assert len(titles) >= 30
    t = titles[0]
    assert set(t) >= {"id", "name", "genres", "artwork"}
    assert 4 <= len(t["artwork"]) <= 8
    assert {"theme", "tone", "subject"} <= set(t["artwork"][0]["tags"])
    assert client.get(f"/api/v1/titles/{t['id']}").get_json() == t


def test_images_are_served_with_cache_headers_and_etag(client):
    art = client.get("/api/v1/titles/t01").get_json()["artwork"][0]
    with client.get(art["image_url"]) as r:
        assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
        assert r.headers["ETag"] and "max-age=3600" in r.headers["Cache-Control"]
        etag, poster_bytes = r.headers["ETag"], len(r.data)
    with client.get(art["image_url"], headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
    with client.get(art["thumbnail_url"]) as thumb:
        assert thumb.status_code == 200 and len(thumb.data) < poster_bytes


def test_stats_counts_impressions_and_clicks(client):
    d = select(client, title_ids=["t01", "t02", "t03"], context={"time": EVENING}).get_json()["decisions"]
    client.post(f"/api/v1/events/{d[0]['event_id']}/click")
    client.post(f"/api/v1/events/{d[0]['event_id']}/click")  # duplicate: still one click
    stats = client.get("/api/v1/stats").get_json()
    assert stats["impressions"] == 3 and stats["clicks"] == 1
    assert isinstance(stats["impressions"], int) and isinstance(stats["clicks"], int)
    assert stats["by_time_bucket"] == [{"time_bucket": "evening", "impressions": 3, "clicks": 1,
                                        "click_rate": pytest.approx(1 / 3)}]
    clicked = next(a for a in stats["by_artwork"] if a["artwork_id"] == d[0]["artwork_id"])
    assert clicked["clicks"] == 1
    assert stats["by_dominant_genre"][0]["dominant_genre"] == "none"
    assert stats["model_version"] == 0
    assert stats["learner_lag"] == {"events": 1, "seconds": 0.0}


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_index_page_is_served(client):
    with client.get("/") as r:
        assert r.status_code == 200 and b"<html" in r.data


# Errors: one JSON shape, the right status, never HTML -------------------------------------------

ERRORS = [
    # (method, path, kwargs, status, code)
    ("post", "/api/v1/select-artwork", {"data": "{not json", "content_type": "application/json"}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": [1, 2]}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"title_id": "t01"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01", "bogus": 1}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "", "title_id": "t01"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": 7, "title_id": "t01"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_ids": []}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_ids": "t01"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_ids": ["t01", "t01"]}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_ids": [f"x{i}" for i in range(101)]}},
     400, "too_many_titles"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t999"}}, 404, "unknown_title"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "context": {"time": "2026-11-23T21:00:00"}}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "context": {"device": "fridge"}}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "context": {"genre_affinity": {"polka": 1}}}}, 400, "unknown_genre"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "context": {"genre_affinity": {"drama": -1}}}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "context": {"mood": "happy"}}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"json": {"user_id": "u", "title_id": "t01",
                                                 "defer_activation": "yes"}}, 400, "bad_request"),
    ("post", "/api/v1/select-artwork", {"data": "x" * (1024 * 1024 + 1), "content_type": "application/json"},
     413, "request_entity_too_large"),
    ("get", "/api/v1/select-artwork", {}, 405, "method_not_allowed"),
    ("post", "/api/v1/events/0123456789abcdef0123456789abcdef/click", {}, 404, "unknown_event"),
    ("post", "/api/v1/events/not-an-event/click", {}, 404, "unknown_event"),
    ("post", "/api/v1/events/0123456789abcdef0123456789abcdef/play", {"json": {}}, 400, "bad_request"),
    ("post", "/api/v1/users/u1/views", {"json": {"title_id": "t01"}}, 400, "bad_request"),
    ("post", "/api/v1/users/u1/views", {"json": {"title_id": "t01", "seconds": -5}}, 400, "bad_request"),
    ("post", "/api/v1/users/u1/views", {"data": '{"title_id": "t01", "seconds": NaN}',
                                        "content_type": "application/json"}, 400, "bad_request"),
    ("post", "/api/v1/users/u1/views", {"json": {"title_id": "t01", "seconds": 5, "at": "yesterday"}},
     400, "bad_request"),
    ("post", "/api/v1/users/u1/views", {"json": {"title_id": "nope", "seconds": 5}}, 404, "unknown_title"),
    ("post", "/api/v1/users/u1/ratings", {"json": {"title_id": "t01", "thumbs": "sideways"}}, 400, "bad_request"),
    ("put", "/api/v1/users/u1/onboarding", {"json": {"genres": ["polka"]}}, 400, "unknown_genre"),
    ("get", "/api/v1/users/" + "u" * 200 + "/profile", {}, 400, "bad_request"),
    ("get", "/api/v1/titles/t999", {}, 404, "unknown_title"),
    ("get", "/images/t01-a1/huge.jpg", {}, 404, "not_found"),
    ("get", "/images/nope/poster.jpg", {}, 404, "unknown_artwork"),
    ("get", "/no/such/page", {}, 404, "not_found"),
]


@pytest.mark.parametrize("method,path,kwargs,status,code", ERRORS, ids=[f"{e[0]} {e[1][:50]} {e[3]}" for e in ERRORS])
def test_errors_are_json_with_one_shape(client, method, path, kwargs, status, code):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    assert r.mimetype == "application/json"
    error = r.get_json()["error"]
    assert set(error) == {"status", "code", "message"}
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"] and "Traceback" not in error["message"]


def test_an_unexpected_failure_is_a_json_500_without_a_trace(client, service, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "stats", boom)
    r = client.get("/api/v1/stats")
    assert r.status_code == 500
    assert r.get_json()["error"]["code"] == "internal_error"
    assert "secret" not in r.get_data(as_text=True)


def test_a_failed_log_write_returns_no_decision(client, service, monkeypatch):
    def failing_write():
        raise OSError("disk full")

    monkeypatch.setattr(service.store, "write", failing_write)
    r = select(client, title_id="t01")
    assert r.status_code == 500 and "decisions" not in r.get_json()
    monkeypatch.undo()
    assert service.store.scalar("SELECT count(*) FROM impressions") == 0


def test_images_are_found_with_a_relative_data_dir(template_dir, tmp_path, monkeypatch):
    """The default DATA_DIR is relative (./artwork-data): files must resolve against the working
    directory, not the installed package (a fresh install once answered 500 for every image)."""
    import shutil

    from artwork.app import create_app

    shutil.copytree(template_dir, tmp_path / "artwork-data")
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATA_DIR": "./artwork-data", "LEARNER": "manual"})
    try:
        client = app.test_client()
        art = client.get("/api/v1/titles/t01").get_json()["artwork"][0]
        with client.get(art["thumbnail_url"]) as r:
            assert r.status_code == 200 and r.mimetype == "image/jpeg"
    finally:
        app.extensions["artwork"].store.close()
