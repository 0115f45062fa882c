"""GET /metrics: Prometheus' text format, counts that go up by exactly what was done, scrape-time
state, and totals added up over gunicorn's serving processes."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families
from servers import get_json, running_server

from artwork import metrics


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) -> value. Parsing is the format check."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.content_type == metrics.CONTENT_TYPE
    return parse(r.get_data(as_text=True))


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def changes(before: dict, after: dict) -> dict:
    """The samples whose value changed between two scrapes, with how much."""
    return {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}


def test_counts_go_up_by_exactly_the_requests_made(client, service):
    policy = service.settings.policy_name
    before = scrape(client)
    events = []
    for i in range(5):
        r = client.post("/api/v1/select-artwork", json={"user_id": f"m{i}", "title_ids": ["t01", "t02"]})
        events.append(r.get_json()["decisions"][0]["event_id"])
    for event_id in events[:3]:
        assert client.post(f"/api/v1/events/{event_id}/click").status_code == 200
    client.post(f"/api/v1/events/{events[0]}/click")  # a second click: a duplicate
    assert client.post("/api/v1/select-artwork", json={"user_id": "m", "title_id": "t999"}).status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    select, click = "/api/v1/select-artwork", "/api/v1/events/<event_id>/click"
    counted = changes(before, after)
    assert counted[("artwork_decisions_total", (("policy", policy),))] == 10  # two titles a request
    assert {labels: delta for (name, labels), delta in counted.items() if name == "artwork_outcomes_total"} == {
        (("effect", "rewarded"), ("kind", "click")): 3, (("effect", "duplicate"), ("kind", "click")): 1}
    responses = {labels: delta for (name, labels), delta in counted.items()
                 if name == "artwork_http_responses_total"}
    assert responses == {
        (("code", ""), ("method", "POST"), ("route", select), ("status", "200")): 5,
        (("code", ""), ("method", "POST"), ("route", click), ("status", "200")): 4,
        (("code", "unknown_title"), ("method", "POST"), ("route", select), ("status", "404")): 1,
        (("code", "not_found"), ("method", "GET"), ("route", "unmatched"), ("status", "404")): 1,
        # the first scrape, counted once its answer was made
        (("code", ""), ("method", "GET"), ("route", "/metrics"), ("status", "200")): 1,
    }
    count = "artwork_http_request_duration_seconds_count"
    assert value(after, count, method="POST", route=select) - value(before, count, method="POST", route=select) == 6
    inf = value(after, "artwork_http_request_duration_seconds_bucket", le="+Inf", method="POST", route=select)
    assert inf == value(after, count, method="POST", route=select)


def test_model_version_lag_and_leadership_are_read_when_scraped(client, service, learner):
    decision = client.post("/api/v1/select-artwork", json={"user_id": "s", "title_id": "t01"}).get_json()
    client.post(f"/api/v1/events/{decision['decisions'][0]['event_id']}/click")
    waiting = scrape(client)
    assert value(waiting, "artwork_learner_lag_events") == 1 and value(waiting, "artwork_model_seq") == 0
    assert value(waiting, "artwork_learner_leader") == 1  # the learner runs in this process
    learner.run_once()
    learned = scrape(client)
    assert value(learned, "artwork_model_seq") == 1 and value(learned, "artwork_learner_lag_events") == 0
    assert value(learned, "artwork_model_epoch") == service.model.epoch == 1
    assert 0 <= value(learned, "artwork_model_age_seconds") < 60  # it has just learned


def test_a_candidate_arms_model_and_lag_are_read_when_scraped(client, service, learner, clock):
    service.experiments.create("e1", [{"name": "live", "policy": "bandit"}, {
        "name": "eps", "policy": "candidate", "vw_args": "--cb_explore_adf --epsilon 0.1"}])
    service.experiments.start("e1")
    arms = set()
    for i in range(10):
        decision = client.post("/api/v1/select-artwork", json={"user_id": f"s{i}", "title_id": "t01"}).get_json()
        client.post(f"/api/v1/events/{decision['decisions'][0]['event_id']}/click")
        arms.add(decision["experiment"]["served_arm"])
    assert arms == {"live", "eps"}
    key = (("arm", "eps"), ("experiment", "e1"))
    waiting = scrape(client)  # the candidate people's decisions loaded its model; it has learned nothing
    assert waiting[("artwork_candidate_model_seq", key)] == 0
    assert waiting[("artwork_candidate_lag_events", key)] == 10
    clock.advance(2)
    learner.run_once()
    learned = scrape(client)
    assert learned[("artwork_candidate_model_seq", key)] == 10
    assert learned[("artwork_candidate_lag_events", key)] == 0


def test_the_personalizer_loops_model_and_lag_are_read_when_scraped(app, client):
    body = {"actions": [{"id": "a"}, {"id": "b"}]}
    rewarded, _ = (client.post("/personalizer/v1.0/rank", json=body).get_json()["eventId"] for _ in range(2))
    assert client.post(f"/personalizer/v1.0/events/{rewarded}/reward", json={"value": 1}).status_code == 204
    waiting = scrape(client)  # one final event (the other waits for its reward), not learned yet
    assert value(waiting, "artwork_personalizer_model_seq") == 0
    assert value(waiting, "artwork_personalizer_lag_events") == 1
    app.extensions["artwork.personalizer.learner"].run_once()
    learned = scrape(client)
    assert value(learned, "artwork_personalizer_model_seq") == 1
    assert value(learned, "artwork_personalizer_lag_events") == 0
    assert value(learned, "artwork_model_seq") == 0 and value(learned, "artwork_learner_lag_events") == 0  # apart


def test_leadership_is_the_learners_own_word_where_it_has_one(client, learner):
    learner.is_leader = False  # an elected learner standing by
    assert value(scrape(client), "artwork_learner_leader") == 0
    learner.is_leader = lambda: True
    assert value(scrape(client), "artwork_learner_leader") == 1
    assert metrics.is_leader(None) is False


def post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def scrape_url(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"] == metrics.CONTENT_TYPE
        return parse(response.read().decode())


def test_totals_add_up_over_the_serving_processes(template_dir, tmp_path):
    """serve --workers 2: decisions made through both serving processes are counted once each,
    whichever process answers the scrape; the learner process's leadership shows in every one."""
    shutil.copytree(template_dir, tmp_path / "data")
    with running_server(tmp_path / "data", tmp_path / "serve.log", args=("--workers", "2")) as (_, base):
        pids, made = set(), 0

        def decide(i):
            post(base, "/api/v1/select-artwork", {"user_id": f"w{i}", "title_id": "t01"})
            return get_json(f"{base}/healthz")["pid"]

        with ThreadPoolExecutor(max_workers=4) as pool:
            while len(pids) < 2 and made < 200:  # until both processes have decided (bounded)
                pids |= set(pool.map(decide, range(made, made + 20)))
                made += 20
        assert len(pids) == 2, "one serving process answered everything"
        # Each process counted only the decisions it made: a total of all of them is the sum.
        leader, deadline = None, time.monotonic() + 20
        while leader != 1 and time.monotonic() < deadline:  # the learner says so after its first round
            samples = scrape_url(base)
            assert sum(v for (name, _), v in samples.items() if name == "artwork_decisions_total") == made
            leader = value(samples, "artwork_learner_leader")
            time.sleep(0.1)
        assert leader == 1  # the learner process leads (the serving processes add 0)
