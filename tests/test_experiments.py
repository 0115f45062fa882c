"""Live experiments through the service: arms assigned by a stable hash, every decision logged
with its experiment and arms and the probability it was drawn with, the guardrail stopping a
worse arm (its people then served control, logged as such), learning exactly once from every
arm, the admin API and the CLI."""

import hashlib
import json
from collections import Counter

import pytest
from scipy.stats import chisquare

from artwork.cli import cli
from artwork.experiments import GUARDRAIL_EVERY_SECONDS, assign_arm
from artwork.policy import Model
from tests.conftest import numbered

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

TOKEN = "s3cret-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTEXT = {"time": "2026-11-23T21:30:00+01:00", "device": "tv", "genre_affinity": {"drama": 1.0}}
THREE_ARMS = [{"name": "personalized", "policy": "bandit"}, {"name": "default", "policy": "default"},
              {"name": "uniform", "policy": "uniform"}]


def start(service, name="e1", arms=THREE_ARMS, control="default", **extra) -> dict:
    service.experiments.create(name, arms, control, **extra)
    return service.experiments.start(name)


def logged(service) -> list[dict]:
    return service.store.query("SELECT event_id, user_id, experiment, arm, served_arm, pmf, probability, chosen_index,"
                               " artwork_id, candidates FROM impressions ORDER BY created_ts, event_id")


def test_a_persons_arm_is_a_sha256_of_experiment_and_person_and_never_changes(make_app, clock):
    app = make_app()
    service = app.extensions["artwork"]
    start(service)
    arms = service.store.running_experiment()["definition"]["arms"]
    # the hash, worked out here by hand: the first 8 bytes of SHA-256("e1\nalice") on the shares
    u = int.from_bytes(hashlib.sha256(b"e1\nalice").digest()[:8], "big") / 2.0 ** 64
    expected = "personalized" if u < 1 / 3 else "default" if u < 2 / 3 else "uniform"
    assert assign_arm("e1", "alice", arms)["name"] == expected
    first = {}
    for round_ in range(3):
        if round_ == 2:  # a restart: a new process, the same arms
            service = make_app().extensions["artwork"]
        for i in range(60):
            result = service.select_artwork(f"u{i}", ["t01", "t02"], CONTEXT)
            arm = result["experiment"]["arm"]
            assert first.setdefault(f"u{i}", arm) == arm
            assert result["experiment"] == {"experiment": "e1", "arm": arm, "served_arm": arm}
        clock.advance(60)
    assert set(first.values()) == {"personalized", "default", "uniform"}
    rows = logged(service)
    assert len(rows) == 3 * 60 * 2
    assert all(row["experiment"] == "e1" and row["arm"] == first[row["user_id"]] == row["served_arm"]
               for row in rows)


def test_outside_a_running_experiment_decisions_log_none(service, clock):
    service.select_artwork("u1", ["t01"], CONTEXT)
    start(service)
    clock.advance(1)
    service.select_artwork("u1", ["t01"], CONTEXT)
    service.experiments.stop("e1", "test")
    clock.advance(1)
    result = service.select_artwork("u1", ["t01"], CONTEXT)
    assert result["experiment"] is None
    assert [row["experiment"] for row in logged(service)] == [None, "e1", None]


def test_logged_propensities_of_every_arm_are_the_probabilities_it_drew_with(make_app, clock):
    """As the propensity floor's test does for the bandit: many seeded draws in one context, each
    arm's artwork shown as often as its logged probability says (chi-square), every logged
    probability the logged distribution's, the bandit's and a candidate arm's never under the
    floor, the default arm's the default artwork with probability 1."""
    app = make_app(VW_ARGS="--cb_explore_adf --epsilon 0.001", PROPENSITY_FLOOR=0.05, SEED=20261202)
    service = app.extensions["artwork"]
    first = service.select_artwork("warm-up", ["t01"], CONTEXT)["decisions"][0]
    service.record_outcome(first["event_id"], "click")
    app.extensions["artwork.learner"].run_once()  # one artwork leads: the bandit's distribution is not uniform
    # and a candidate arm, whose own model learned the same event (candidates.py)
    start(service, arms=[*THREE_ARMS, {"name": "candidate", "policy": "candidate",
                                       "vw_args": "--cb_explore_adf --epsilon 0.3"}])
    clock.advance(1)  # the learner looks for candidate arms every second
    app.extensions["artwork.learner"].run_once()
    default_id = next(a["id"] for a in service.catalog.get("t01")["artwork"] if a["default"])
    shown, pmfs = {}, {}
    for i in range(3000):
        result = service.select_artwork(f"person-{i}", ["t01"], CONTEXT)
        decision, arm = result["decisions"][0], result["experiment"]["arm"]
        shown.setdefault(arm, Counter())[decision["artwork_id"]] += 1
        pmfs.setdefault(arm, set()).add(tuple(sorted((r["artwork_id"], r["probability"])
                                                     for r in decision["ranking"])))
    assert all(len(found) == 1 for found in pmfs.values())  # one context: one distribution per arm
    for arm, counts in shown.items():
        pmf = dict(next(iter(pmfs[arm])))
        if arm == "default":
            assert counts == Counter({default_id: sum(counts.values())}) and pmf[default_id] == 1.0
            continue
        if arm == "personalized":
            assert min(pmf.values()) == pytest.approx(0.05) and max(pmf.values()) > 0.5
        elif arm == "candidate":  # epsilon-greedy: 0.7 + 0.3/K on its pick, 0.3/K on the others
            k = len(pmf)
            assert sorted(pmf.values()) == pytest.approx(sorted([0.3 / k] * (k - 1) + [0.7 + 0.3 / k]))
        else:
            assert all(p == pytest.approx(1 / len(pmf)) for p in pmf.values())
        candidates = sorted(pmf)
        total = sum(counts.values())
        assert chisquare([counts[a] for a in candidates], [pmf[a] * total for a in candidates]).pvalue > 0.001
    for row in logged(service)[1:]:
        stored = json.loads(row["pmf"])
        assert row["probability"] == stored[row["chosen_index"]] > 0
        assert sum(stored) == pytest.approx(1.0)
        if row["served_arm"] in ("personalized", "candidate"):
            assert min(stored) >= 0.05 - 1e-12


def test_the_guardrail_stops_a_worse_arm_and_its_people_are_then_served_control(make_app, clock):
    app = make_app()
    service, learner = app.extensions["artwork"], app.extensions["artwork.learner"]
    start(service, arms=[{"name": "worse", "policy": "uniform"}, {"name": "default", "policy": "default"}],
          guardrail_margin=0.1)
    # Made worse on purpose: the people of arm "worse" click 5% of what they are shown, control's 50%.
    for round_ in range(4):
        for i in range(200):
            result = service.select_artwork(f"p{i}", ["t01"], CONTEXT)
            if (i * 7 + round_) % (20 if result["experiment"]["arm"] == "worse" else 2) == 0:
                service.record_outcome(result["decisions"][0]["event_id"], "click")
        clock.advance(GUARDRAIL_EVERY_SECONDS + 31)
        learner.run_once()
    report = service.experiments.report("e1")
    worse = next(arm for arm in report["arms"] if arm["name"] == "worse")
    assert report["guardrail"]["stopped_arms"] == ["worse"]
    assert worse["stopped"]["stopped_by"] == "guardrail" and "below the margin -10.0%" in worse["stopped"]["reason"]
    assert worse["lift"]["ci_high"] < -0.1
    stopped_at = worse["stopped"]["stopped_ts"]
    service.experiments.invalidate()  # a serving process follows within CACHE_SECONDS; here at once
    person = next(f"p{i}" for i in range(200) if assign_arm("e1", f"p{i}", [
        {"name": "worse", "share": 0.5}, {"name": "default", "share": 0.5}])["name"] == "worse")
    result = service.select_artwork(person, ["t01"], CONTEXT)
    assert result["experiment"] == {"experiment": "e1", "arm": "worse", "served_arm": "default"}
    assert result["decisions"][0]["probability"] == 1.0  # control's: the default artwork
    row = logged(service)[-1]
    assert (row["arm"], row["served_arm"]) == ("worse", "default")
    # The stopped arm's record ends at the stop: what it served after is control's, counted nowhere.
    after = service.experiments.report("e1")
    assert next(arm for arm in after["arms"] if arm["name"] == "worse")["decisions"] == worse["decisions"]
    assert after["arms"][0]["stopped"]["stopped_ts"] == stopped_at


def test_every_arms_decisions_are_learned_exactly_once(make_app, clock):
    app = make_app()
    service, learner = app.extensions["artwork"], app.extensions["artwork.learner"]
    start(service)
    for i in range(90):
        decision = service.select_artwork(f"u{i % 30}", ["t01", "t03"], CONTEXT)["decisions"][0]
        if i % 3 == 0:
            service.record_outcome(decision["event_id"], "click")
        if i % 10 == 9:
            learner.run_once()
    clock.advance(31)
    learner.run_once()
    store = numbered(service.store)
    queue = store.query("SELECT q.event_id, i.served_arm FROM learn_queue q JOIN impressions i"
                        " ON i.event_id = q.event_id ORDER BY q.seq")
    assert len(queue) == len({q["event_id"] for q in queue}) == 180 == service.model.seq
    assert {q["served_arm"] for q in queue} == {"personalized", "default", "uniform"}
    fresh = Model(service.model.vw_args)
    for row in store.learn_batch(0, 10_000):
        fresh.learn(row["features"], row["chosen_index"], row["reward"], row["probability"], row["seq"])
    assert fresh.weights() == service.model.weights()


@pytest.fixture
def admin_client(make_app):
    return make_app(ADMIN_TOKEN=TOKEN).test_client()


BODY = {"name": "bandit-vs-default", "control": "default",
        "arms": [{"name": "personalized", "policy": "bandit"}, {"name": "default", "policy": "default"}]}


def test_experiments_through_the_admin_api(admin_client):
    assert admin_client.post("/api/v1/admin/experiments", json=BODY).status_code == 401
    r = admin_client.post("/api/v1/admin/experiments", json=BODY, headers=AUTH)
    assert r.status_code == 201 and r.get_json()["state"] == "draft"
    assert [a["share"] for a in r.get_json()["arms"]] == [0.5, 0.5]
    assert admin_client.post("/api/v1/admin/experiments", json=BODY, headers=AUTH).get_json()["error"]["code"] == \
        "experiment_exists"
    other = {**BODY, "name": "other"}
    assert admin_client.post("/api/v1/admin/experiments", json=other, headers=AUTH).status_code == 201
    r = admin_client.post("/api/v1/admin/experiments/bandit-vs-default/start", headers=AUTH)
    assert r.status_code == 200 and r.get_json()["state"] == "running"
    r = admin_client.post("/api/v1/admin/experiments/other/start", headers=AUTH)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "experiment_running"
    decision = admin_client.post("/api/v1/select-artwork", json={"user_id": "ann", "title_id": "t01"}).get_json()
    assert decision["experiment"]["experiment"] == "bandit-vs-default"
    r = admin_client.get("/api/v1/admin/experiments/bandit-vs-default", headers=AUTH)
    arms = {a["name"]: a for a in r.get_json()["arms"]}
    assert arms[decision["experiment"]["arm"]]["decisions"] == 1 and "lift" in arms["personalized"]
    demo = admin_client.get("/api/v1/demo/experiment").get_json()
    assert demo["experiment"]["name"] == "bandit-vs-default" and len(demo["offline_beside_live"]) == 2
    r = admin_client.post("/api/v1/admin/experiments/bandit-vs-default/stop", json={"reason": "done"}, headers=AUTH)
    assert r.get_json()["state"] == "stopped" and r.get_json()["stop_reason"] == "done"
    r = admin_client.post("/api/v1/admin/experiments/bandit-vs-default/stop", headers=AUTH)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "experiment_stopped"
    listed = admin_client.get("/api/v1/admin/experiments", headers=AUTH).get_json()["experiments"]
    assert {(e["name"], e["state"]) for e in listed} == {("bandit-vs-default", "stopped"), ("other", "draft")}
    r = admin_client.get("/api/v1/admin/experiments/nope", headers=AUTH)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_experiment"


@pytest.mark.parametrize("body,message", [
    ({"name": "x", "arms": [{"name": "a", "policy": "bandit"}]}, "arms: expected at least 2 items"),
    ({"name": "x", "arms": [{"name": "a", "policy": "bandit"}, {"name": "a", "policy": "default"}]},
     "arm names must differ"),
    ({"name": "x", "arms": [{"name": "a", "policy": "bandit"}, {"name": "b", "policy": "vw"}]}, "policy"),
    ({"name": "x", "arms": [{"name": "a", "policy": "bandit"}, {"name": "b", "policy": "default"}], "control": "c"},
     "control 'c' is not one of the arms"),
    ({"name": "x", "arms": [{"name": "a", "policy": "bandit", "share": 0}, {"name": "b", "policy": "default"}]},
     "share"),
])
def test_a_bad_experiment_is_refused_naming_the_problem(admin_client, body, message):
    r = admin_client.post("/api/v1/admin/experiments", json=body, headers=AUTH)
    assert r.status_code == 400 and message in r.get_json()["error"]["message"]


@pytest.mark.sqlite_only
def test_the_cli_creates_starts_reports_and_stops_an_experiment(runner, data_dir):
    where = ["--data-dir", str(data_dir)]
    r = runner.invoke(cli, ["experiment", "create", "e1", "--arm", "personalized=bandit:3", "--arm",
                            "default=default:1", "--control", "default", *where])
    assert r.exit_code == 0, r.output
    assert runner.invoke(cli, ["experiment", "start", "e1", *where]).exit_code == 0
    r = runner.invoke(cli, ["experiment", "start", "e1", *where])
    assert r.exit_code == 1 and "only a draft can start" in r.output
    r = runner.invoke(cli, ["experiment", "list", *where])
    assert "e1" in r.output and "running" in r.output and "personalized=bandit:0.75" in r.output
    r = runner.invoke(cli, ["experiment", "report", "e1", "--json", *where])
    assert json.loads(r.output)["offline_beside_live"][0]["arm"] == "personalized"
    r = runner.invoke(cli, ["experiment", "stop", "e1", "--reason", "enough", *where])
    assert r.exit_code == 0 and "stopped" in r.output


@pytest.mark.sqlite_only
def test_experiment_simulate_writes_a_report_whose_interval_holds_the_true_lift(runner, tmp_path):
    out = tmp_path / "sim"
    r = runner.invoke(cli, ["experiment", "simulate", "--out", str(out), "--visitors", "1500", "--seed", "2"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert [a["name"] for a in report["arms"]] == ["personalized", "default"]
    assert all(a["people"] > 100 and a["decisions"] > 500 and 0 < a["click_rate"] < 1 for a in report["arms"])
    assert sum(a["decisions"] for a in report["arms"]) == 1500
    lift = report["lift"]
    assert lift["ci_low"] <= lift["true"] <= lift["ci_high"] and lift["holds_true"]
    assert lift["true"] > 0.2  # personalized artwork earns more than the default, in this world
    assert "Offline beside live" in (out / "report.md").read_text()
    r = runner.invoke(cli, ["experiment", "simulate", "--out", str(out), "--visitors", "20"])
    assert r.exit_code == 1 and "exists" in r.output


@pytest.mark.sqlite_only
def test_a_manifest_marks_a_titles_default_artwork_once_and_the_default_arm_shows_it(tmp_path):
    from PIL import Image

    from artwork.catalog import default_index
    from artwork.importer import ManifestError, prepare_import, read_manifest

    for name in ("a.png", "b.png"):
        Image.new("RGB", (320, 180), (200, 60, 40)).save(tmp_path / name)
    art = [{"id": "n1-a", "file": "a.png", "tags": {"theme": "drama", "tone": "dark", "subject": "scene"}},
           {"id": "n1-b", "file": "b.png", "default": True,
            "tags": {"theme": "drama", "tone": "warm", "subject": "close-up"}}]
    manifest = tmp_path / "catalog.json"
    manifest.write_text(json.dumps({"titles": [{"id": "n1", "name": "N", "genres": ["drama"], "artwork": art}]}))
    (title,), problems = prepare_import(read_manifest(manifest), tmp_path)
    assert problems == [] and [a["default"] for a in title.title["artwork"]] == [False, True]
    assert default_index(title.title["artwork"]) == 1
    assert default_index([{"id": "x"}, {"id": "y"}]) == 0  # none marked: the first
    both = [{**a, "default": True} for a in art]
    manifest.write_text(json.dumps({"titles": [{"id": "n1", "name": "N", "genres": ["drama"], "artwork": both}]}))
    prepared, problems = prepare_import(read_manifest(manifest), tmp_path)
    assert prepared == [] and "marks 2 artworks as its default" in problems[0]
    # a CSV manifest marks it in its optional column "default"
    header = "title_id,title_name,genres,artwork_id,file,theme,tone,subject,cast,default\n"
    csv_manifest = tmp_path / "catalog.csv"
    csv_manifest.write_text(header + "n1,N,drama,n1-a,a.png,drama,dark,scene,,\n"
                                     "n1,N,drama,n1-b,b.png,drama,warm,close-up,,TRUE\n")
    (title,), problems = prepare_import(read_manifest(csv_manifest), tmp_path)
    assert problems == [] and default_index(title.title["artwork"]) == 1
    csv_manifest.write_text(header + "n1,N,drama,n1-a,a.png,drama,dark,scene,,yes\n")
    with pytest.raises(ManifestError, match="line 2: column default must be true, false or empty, not 'yes'"):
        read_manifest(csv_manifest)


@pytest.mark.sqlite_only
def test_the_exported_log_carries_each_decisions_experiment_and_arms(make_app, data_dir, clock, runner, tmp_path):
    service = make_app().extensions["artwork"]
    service.select_artwork("before", ["t01"], CONTEXT)
    start(service)
    result = service.select_artwork("during", ["t01"], CONTEXT)
    clock.advance(31)
    service.store.close_due_windows(clock(), 0.0, 100)  # every reward final: exported
    r = runner.invoke(cli, ["export", "--data-dir", str(data_dir), "--out", str(tmp_path / "log.jsonl")])
    assert r.exit_code == 0, r.output
    metas = [json.loads(line)["_meta"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [m.get("experiment") for m in metas] == [None, result["experiment"]]


def test_two_starts_at_once_leave_one_experiment_running(make_app, test_database_url, data_dir):
    """Another process starts experiment "a" and has not committed when this one starts "b":
    "b" is refused (False, a 409 for the API) once "a" commits, never a second running one."""
    import sqlite3
    import threading
    import time

    import psycopg

    service = make_app().extensions["artwork"]
    for name in ("a", "b"):
        service.experiments.create(name, THREE_ARMS)
    if test_database_url:
        other = psycopg.connect(test_database_url)
    else:
        other = sqlite3.connect(data_dir / "artwork.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE experiments SET state = 'running', started_ts = 0 WHERE name = 'a'")
    result = {}
    racer = threading.Thread(target=lambda: result.setdefault("b", service.store.start_experiment("b", 1.0)))
    racer.start()
    time.sleep(0.5)
    other.commit() if test_database_url else other.execute("COMMIT")
    racer.join(15)
    other.close()
    assert result == {"b": False}
    assert service.store.running_experiment()["name"] == "a"
