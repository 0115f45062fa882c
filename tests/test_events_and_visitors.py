"""Reading one decision back (with its explanation), the stats timeline, and simulated visitors."""

import time

import pytest

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

FANS = {"thriller": {"thriller": 1.0}, "romance": {"romance": 1.0}}


def test_event_detail_shows_the_logged_decision_and_its_outcomes(client):
    d = client.post("/api/v1/select-artwork", json={
        "user_id": "u1", "title_id": "t01", "context": {"time": "2026-11-23T08:00:00+01:00", "device": "mobile",
                                                       "genre_affinity": {"romance": 1}}}).get_json()["decisions"][0]
    client.post(f"/api/v1/events/{d['event_id']}/click")
    e = client.get(f"/api/v1/events/{d['event_id']}").get_json()
    assert (e["artwork_id"], e["probability"], e["explored"]) == (d["artwork_id"], d["probability"], d["explored"])
    assert [r["artwork_id"] for r in e["ranking"]] == [r["artwork_id"] for r in d["ranking"]]
    assert all({"theme", "tone", "subject"} <= set(r["tags"]) for r in e["ranking"])
    assert e["context"]["time_bucket"] == "morning" and e["context"]["device"] == "mobile"
    assert e["state"] == "final" and e["reward"] == 1.0
    assert [(o["kind"], o["effect"]) for o in e["outcomes"]] == [("click", "rewarded")]
    assert {f["factor"] for f in e["explanation"]["factors"]} == {"taste", "time", "device"}
    assert "no preference yet" in e["explanation"]["summary"]  # an untrained model is uniform


def test_explanation_names_taste_when_it_decides(client, learner, clock):
    """Train: romance fans click romance-themed artwork only; then taste is what changes the pick."""
    title = next(t for t in client.get("/api/v1/titles").get_json()["titles"]
                 if set(FANS) <= {a["tags"]["theme"] for a in t["artwork"]})
    themes = {a["id"]: a["tags"]["theme"] for a in title["artwork"]}
    for i in range(400):
        fan = "romance" if i % 2 else "thriller"
        d = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": title["id"], "context": {
            "genre_affinity": FANS[fan]}}).get_json()["decisions"][0]
        if themes[d["artwork_id"]] == fan:
            client.post(f"/api/v1/events/{d['event_id']}/click")
        clock.advance(31)
        learner.run_once()
    changed = []
    for fan in FANS:
        d = client.post("/api/v1/select-artwork", json={"user_id": "v", "title_id": title["id"], "context": {
            "genre_affinity": FANS[fan]}}).get_json()["decisions"][0]
        e = client.get(f"/api/v1/events/{d['event_id']}").get_json()
        assert themes[e["explanation"]["current_top"]] == fan
        taste = next(f for f in e["explanation"]["factors"] if f["factor"] == "taste")
        if taste["changes_choice"]:
            changed.append(fan)
            assert f"your taste ({fan} first)" in e["explanation"]["summary"]
            assert taste["top_without"] != e["explanation"]["current_top"]
    # Without taste there is one top pick; it cannot be both fans' artwork, so taste decides for one at least.
    assert changed


def test_event_detail_unknown_is_404(client):
    assert client.get("/api/v1/events/" + "0" * 32).status_code == 404


def test_stats_timeline_counts_per_minute(client, clock):
    client.post("/api/v1/select-artwork", json={"user_id": "u", "title_ids": ["t01", "t02"]})
    clock.advance(120)
    d = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t03"}).get_json()["decisions"][0]
    client.post(f"/api/v1/events/{d['event_id']}/click")
    timeline = client.get("/api/v1/stats").get_json()["timeline"]
    assert [(p["impressions"], p["clicks"]) for p in timeline] == [(2, 0), (1, 1)]
    clock.advance(3600)
    assert client.get("/api/v1/stats").get_json()["timeline"] == []


def wait_for(client, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/simulate/{job_id}").get_json()["job"]
        if job["status"] != "running":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_simulated_visitors_go_through_the_log_and_are_learned(client, service, learner, clock):
    r = client.post("/api/v1/simulate", json={"visitors": 300, "seed": 5})
    assert r.status_code == 202
    job = wait_for(client, r.get_json()["job"]["id"])
    assert job["status"] == "done" and job["completed"] == 300 and 0 < job["clicks"] < 300
    assert service.store.scalar("SELECT count(*) FROM impressions WHERE user_id LIKE 'sim-%'") == 300
    clicked = service.store.scalar("SELECT count(DISTINCT event_id) FROM outcomes WHERE kind = 'click'")
    assert clicked == job["clicks"]
    clock.advance(31)
    learner.run_once()
    assert service.model.version == 300
    assert client.get("/api/v1/simulate").get_json()["job"]["id"] == job["id"]


def test_one_simulation_at_a_time_and_bad_requests(client):
    first = client.post("/api/v1/simulate", json={"visitors": 2000, "seed": 1}).get_json()["job"]
    second = client.post("/api/v1/simulate", json={"visitors": 5})
    if wait_for(client, first["id"])["seconds"] > 0.5:  # only meaningful while the first still ran
        assert second.status_code == 409 and second.get_json()["error"]["code"] == "simulation_running"
    for body in ({"visitors": 0}, {"visitors": 5001}, {"visitors": "many"}, {"visitors": 5, "seed": -1},
                 {"visitors": 5, "speed": 2}):
        r = client.post("/api/v1/simulate", json=body)
        assert r.status_code == 400, body
    assert client.get("/api/v1/simulate/" + "f" * 16).status_code == 404


@pytest.mark.parametrize("fan,other", [("thriller", "romance")])
def test_visitors_make_contrasting_fans_diverge(client, clock, learner, fan, other):
    job = client.post("/api/v1/simulate", json={"visitors": 3000, "seed": 2}).get_json()["job"]
    wait_for(client, job["id"])
    clock.advance(31)
    learner.run_once()
    titles = [t["id"] for t in client.get("/api/v1/titles").get_json()["titles"]]
    tops = {}
    for who in (fan, other):
        decisions = client.post("/api/v1/select-artwork", json={
            "user_id": f"probe-{who}", "title_ids": titles, "context": {"genre_affinity": FANS[who]}}).get_json()
        tops[who] = [d["ranking"][0]["artwork_id"] for d in decisions["decisions"]]
    assert sum(a != b for a, b in zip(tops[fan], tops[other], strict=True)) >= 5
