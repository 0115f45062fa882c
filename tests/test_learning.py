"""The policy learns a known click rule from a few thousand decisions, and keeps exploring."""

import random

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

FANS = {"romance": {"romance": 1.0}, "thriller": {"thriller": 1.0}}
CLICK_IF_MATCH, CLICK_OTHERWISE = 0.7, 0.03


def test_policy_learns_who_likes_which_artwork(client, service, learner, clock):
    rng = random.Random(20261122)
    catalog = client.get("/api/v1/titles").get_json()["titles"]
    themes = {a["id"]: a["tags"]["theme"] for t in catalog for a in t["artwork"]}
    # Titles where both fans have a matching artwork and at least one that matches neither.
    contested = [t["id"] for t in catalog
                 if {"romance", "thriller"} <= {a["tags"]["theme"] for a in t["artwork"]}]
    assert len(contested) >= 3
    titles = [t["id"] for t in catalog]
    decisions = explored = 0
    while decisions < 3000:
        fan = rng.choice(sorted(FANS))
        body = {"user_id": f"{fan}-{rng.randrange(20)}", "title_ids": rng.sample(titles, 10),
                "context": {"genre_affinity": FANS[fan], "time": "2026-11-23T20:00:00+00:00"}}
        for d in client.post("/api/v1/select-artwork", json=body).get_json()["decisions"]:
            decisions += 1
            explored += d["explored"]
            p_click = CLICK_IF_MATCH if themes[d["artwork_id"]] == fan else CLICK_OTHERWISE
            if rng.random() < p_click:
                assert client.post(f"/api/v1/events/{d['event_id']}/click").status_code == 200
        clock.advance(31)  # close the windows of what was not clicked
        learner.run_once()
    assert service.model.version == decisions  # every decision learned exactly once
    assert explored > 0.03 * decisions

    for fan in FANS:
        body = {"user_id": f"probe-{fan}", "title_ids": contested,
                "context": {"genre_affinity": FANS[fan], "time": "2026-11-23T20:00:00+00:00"}}
        for d in client.post("/api/v1/select-artwork", json=body).get_json()["decisions"]:
            top = d["ranking"][0]
            assert themes[top["artwork_id"]] == fan, (fan, d["title_id"], d["ranking"])
            assert top["probability"] >= 0.85
            # Still exploring: every other artwork keeps a non-zero probability.
            assert all(c["probability"] > 0 for c in d["ranking"])
