"""Admin operations: only with the token; deleting a person; resetting and retraining the model;
retention purge."""

import json
import time

import pytest

from artwork.cli import cli
from artwork.service import Admin
from artwork.storage import Store

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

TOKEN = "s3cret-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_app(make_app):
    return make_app(ADMIN_TOKEN=TOKEN)


@pytest.fixture
def admin_client(admin_app):
    return admin_app.test_client()


ADMIN_CALLS = [("delete", "/api/v1/users/alice", {}), ("post", "/api/v1/admin/model/reset", None),
               ("post", "/api/v1/admin/model/retrain", {}), ("post", "/api/v1/admin/catalog", {"titles": []})]


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS)
def test_admin_operations_are_off_without_a_configured_token(client, method, path, body):
    r = getattr(client, method)(path, json=body, headers=AUTH)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "admin_disabled"


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", "Basic " + TOKEN, TOKEN,
                                    "Bearer " + TOKEN[:-1]])
def test_admin_operations_need_the_exact_token(admin_client, method, path, body, header):
    headers = {"Authorization": header} if header else {}
    r = getattr(admin_client, method)(path, json=body, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_a_short_token_is_refused_at_start(make_app):
    with pytest.raises(ValueError, match="at least 16 characters"):
        make_app(ADMIN_TOKEN="short")


def decide_and_click(client, user, n, clock):
    events = []
    for i in range(n):
        d = client.post("/api/v1/select-artwork", json={"user_id": user, "title_id": f"t{i % 30 + 1:02d}"})
        event = d.get_json()["decisions"][0]["event_id"]
        client.post(f"/api/v1/events/{event}/click")
        clock.advance(0.01)  # final one after another (PostgreSQL orders the queue by final time)
        events.append(event)
    return events


def test_deleting_a_person_removes_history_and_unlinks_decisions(admin_app, admin_client, clock):
    admin_client.post("/api/v1/users/alice/views", json={"title_id": "t01", "seconds": 900})
    admin_client.post("/api/v1/users/alice/ratings", json={"title_id": "t02", "thumbs": "up"})
    events = decide_and_click(admin_client, "alice", 3, clock)
    r = admin_client.delete("/api/v1/users/alice", headers=AUTH)
    assert r.status_code == 200
    assert r.get_json() == {"user_id": "alice", "views_deleted": 1, "ratings_deleted": 1, "decisions_unlinked": 3,
                            "decisions_deleted": 0, "model_retrained": False}
    store = admin_app.extensions["artwork"].store
    assert store.query("SELECT * FROM views WHERE user_id = 'alice'") == []
    assert store.scalar("SELECT count(*) FROM impressions WHERE user_id = 'alice'") == 0
    assert {r["user_id"] for r in store.query("SELECT user_id FROM impressions WHERE event_id IN (?, ?, ?)",
                                              events)} == {"deleted"}
    assert admin_client.get("/api/v1/users/alice/profile").get_json()["known"] is False
    assert admin_client.delete("/api/v1/users/alice", headers=AUTH).status_code == 404


@pytest.mark.sqlite_only  # SQLite's own scan for a person's decisions / its file
@pytest.mark.parametrize("forget", [False, True])
def test_deleting_a_person_finds_every_decision_of_theirs_even_those_made_during_the_scan(
        admin_app, admin_client, clock, monkeypatch, forget):
    """The log has no index by person: deleting one scans it in chunks outside the writer lock,
    then takes, under the lock, what is still theirs plus what they were shown meanwhile."""
    store = admin_app.extensions["artwork"].store
    dana, erin = [], []
    for _ in range(5):
        dana += decide_and_click(admin_client, "dana", 1, clock)
        erin += decide_and_click(admin_client, "erin", 1, clock)
    scan = store.scan_person_decisions

    def scan_then_decide(user_id):
        found = scan(user_id, chunk=3)  # chunk ends fall between and on the person's decisions
        dana.extend(decide_and_click(admin_client, "dana", 2, clock))  # after the scan read the log
        return found

    monkeypatch.setattr(store, "scan_person_decisions", scan_then_decide)
    r = admin_client.delete("/api/v1/users/dana", json={"forget_decisions": forget}, headers=AUTH).get_json()
    assert (r["decisions_unlinked"], r["decisions_deleted"]) == ((0, 7) if forget else (7, 0))
    assert store.scalar("SELECT count(*) FROM impressions WHERE user_id = 'dana'") == 0
    owners = {r["event_id"]: r["user_id"] for r in store.query("SELECT event_id, user_id FROM impressions")}
    assert owners == {**dict.fromkeys(erin, "erin"), **({} if forget else dict.fromkeys(dana, "deleted"))}
    outcomes = {r["event_id"] for r in store.query("SELECT event_id FROM outcomes")}
    assert outcomes == set(erin) | (set() if forget else set(dana))


@pytest.mark.sqlite_only  # SQLite's own scan for a person's decisions / its file
@pytest.mark.parametrize("forget", [False, True])
def test_a_decision_on_a_reused_rowid_during_the_scan_is_found(admin_app, admin_client, clock, monkeypatch, forget):
    """The log has no AUTOINCREMENT: once its newest rows are deleted (another person forgotten,
    here) their rowids go to the next decisions, so one the person is shown during the scan
    can land at or below the last rowid the scan saw. It is found all the same."""
    store = admin_app.extensions["artwork"].store
    decide_and_click(admin_client, "dana", 2, clock)
    decide_and_click(admin_client, "erin", 2, clock)  # the log's last rows
    scan = store.scan_person_decisions

    def scan_then_race(user_id):
        found = scan(user_id)
        if user_id == "dana":
            r = admin_client.delete("/api/v1/users/erin", json={"forget_decisions": True}, headers=AUTH)
            assert r.status_code == 200
            decide_and_click(admin_client, "dana", 1, clock)  # takes erin's first rowid
        return found

    monkeypatch.setattr(store, "scan_person_decisions", scan_then_race)
    r = admin_client.delete("/api/v1/users/dana", json={"forget_decisions": forget}, headers=AUTH).get_json()
    assert (r["decisions_unlinked"], r["decisions_deleted"]) == ((0, 3) if forget else (3, 0))
    assert store.scalar("SELECT count(*) FROM impressions WHERE user_id = 'dana'") == 0


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_a_decision_on_a_rowid_freed_by_a_purge_during_the_scan_is_found(admin_app, admin_client, clock, monkeypatch):
    service = admin_app.extensions["artwork"]
    store = service.store
    decide_and_click(admin_client, "dana", 2, clock)
    decide_and_click(admin_client, "erin", 2, clock)
    clock.advance(3 * 86400)
    admin_app.extensions["artwork.learner"].run_once()  # every decision final, three days old
    scan = store.scan_person_decisions

    def scan_then_purge(user_id):
        found = scan(user_id)
        Admin(service).purge(1)  # another process's `artwork purge` empties the log
        decide_and_click(admin_client, "dana", 1, clock)  # rowid 1 again
        return found

    monkeypatch.setattr(store, "scan_person_decisions", scan_then_purge)
    r = admin_client.delete("/api/v1/users/dana", json={"forget_decisions": True}, headers=AUTH).get_json()
    assert (r["decisions_deleted"], r["model_retrained"]) == (1, True)
    assert store.scalar("SELECT count(*) FROM impressions") == 0


@pytest.mark.sqlite_only  # SQLite's own scan for a person's decisions / its file
def test_a_decision_no_longer_the_persons_after_the_scan_is_left_alone(admin_app, admin_client, clock, monkeypatch):
    """A decision the scan found but another deletion unlinked before the writer lock was taken
    is no longer this person's: forgetting the person leaves it (and its outcome) in the log."""
    store = admin_app.extensions["artwork"].store
    events = decide_and_click(admin_client, "fay", 3, clock)
    scan = store.scan_person_decisions

    def scan_then_unlink(user_id):
        found = scan(user_id)
        with store.write() as conn:
            conn.execute("UPDATE impressions SET user_id = 'deleted' WHERE event_id = ?", (events[0],))
        return found

    monkeypatch.setattr(store, "scan_person_decisions", scan_then_unlink)
    r = admin_client.delete("/api/v1/users/fay", json={"forget_decisions": True}, headers=AUTH).get_json()
    assert r["decisions_deleted"] == 2
    assert store.query("SELECT event_id, user_id FROM impressions") == [{"event_id": events[0], "user_id": "deleted"}]
    assert store.scalar("SELECT count(*) FROM outcomes WHERE event_id = ?", (events[0],)) == 1


def test_forgetting_decisions_retrains_without_them(admin_app, admin_client, clock):
    from test_restart import never_stopped

    service, learner = admin_app.extensions["artwork"], admin_app.extensions["artwork.learner"]
    decide_and_click(admin_client, "bob", 5, clock)
    kept = decide_and_click(admin_client, "carol", 4, clock)
    learner.run_once()
    assert service.model.seq == 9
    r = admin_client.delete("/api/v1/users/bob", json={"forget_decisions": True}, headers=AUTH).get_json()
    assert (r["decisions_deleted"], r["model_retrained"]) == (5, True)
    learner.run_once()
    assert service.model.epoch == 2
    assert [row["event_id"] for row in service.store.query("SELECT event_id FROM learn_queue ORDER BY seq")] == kept
    assert service.model.weights() == never_stopped(service).weights()  # only carol's events
    learner.checkpoint()
    files = {row["file"] for row in service.store.query("SELECT file FROM checkpoints")}
    assert all("-e2-" in f for f in files)  # no checkpoint of the model that saw bob remains


def test_reset_and_retrain_start_new_model_epochs(admin_app, admin_client, clock, make_app):
    service, learner = admin_app.extensions["artwork"], admin_app.extensions["artwork.learner"]
    decide_and_click(admin_client, "u", 6, clock)
    learner.run_once()
    before = service.model.weights()
    reset = admin_client.post("/api/v1/admin/model/reset", headers=AUTH).get_json()
    assert (reset["epoch"], reset["start_seq"], reset["reason"]) == (2, 6, "reset")
    learner.run_once()
    assert (service.model.epoch, service.model.seq) == (2, 6) and service.model.weights() != before
    retrain = admin_client.post("/api/v1/admin/model/retrain", json={
        "vw_args": "--cb_explore_adf --epsilon 0.2 -q GH"}, headers=AUTH).get_json()
    assert (retrain["epoch"], retrain["start_seq"]) == (3, 0)
    learner.run_once()
    assert service.model.vw_args == "--cb_explore_adf --epsilon 0.2 -q GH" and service.model.seq == 6
    learner.stop()
    # A restart keeps the retrained model and its arguments (they live in the log, not the config).
    again = make_app(ADMIN_TOKEN=TOKEN).extensions["artwork"].model
    assert (again.epoch, again.seq, again.vw_args) == (3, 6, "--cb_explore_adf --epsilon 0.2 -q GH")
    bad = admin_client.post("/api/v1/admin/model/retrain", json={"vw_args": "--epsilon 0.2"}, headers=AUTH)
    assert bad.status_code == 400


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_purge_deletes_what_is_older_than_the_retention(runner, data_dir, make_app, clock):
    app = make_app()
    client = app.test_client()
    client.post("/api/v1/users/old/views", json={"title_id": "t01", "seconds": 60,
                                                 "at": "2020-01-01T00:00:00+00:00"})
    decide_and_click(client, "old", 2, clock)
    from benchmarks.personalizer import RANK, rank_body, reward_url

    for event in ("pz-old", "pz-pending"):  # Personalizer-loop decisions: one rewarded (final), one not
        assert client.post(RANK, json=rank_body(eventId=event)).status_code == 201
    assert client.post(reward_url("pz-old"), json={"value": 1}).status_code == 204
    store = Store(data_dir / "artwork.db")
    with store.write() as conn:  # make the decisions 100 days old (purge uses the real clock)
        conn.execute("UPDATE impressions SET created_ts = ?", (time.time() - 100 * 86400,))
        conn.execute("UPDATE pz_events SET created_ts = ?", (time.time() - 100 * 86400,))
    result = runner.invoke(cli, ["purge", "--data-dir", str(data_dir), "--older-than", "90"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert (counts["decisions_deleted"], counts["personalizer_decisions_deleted"], counts["views_deleted"]) == (2, 1, 1)
    assert store.scalar("SELECT count(*) FROM impressions") == 0 and store.scalar("SELECT count(*) FROM outcomes") == 0
    assert [r["event_id"] for r in store.query("SELECT event_id FROM pz_events")] == ["pz-pending"]
    assert store.scalar("SELECT count(*) FROM pz_outcomes") == 0
    assert store.scalar("SELECT count(*) FROM pz_learn_queue") == 0
    nothing = runner.invoke(cli, ["purge", "--data-dir", str(data_dir)])
    assert nothing.exit_code != 0 and "RETENTION_DAYS" in nothing.output


def png_base64(colour=(200, 40, 40), size=(320, 180)) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def upload_title(title_id, image):
    return {"id": title_id, "name": f"Upload {title_id}", "genres": ["drama", "noir"],
            "artwork": [{"id": f"{title_id}-a", "tags": {"theme": "noir", "tone": "dark", "subject": "scene"},
                         "image_base64": image},
                        {"id": f"{title_id}-b", "tags": {"theme": "drama", "tone": "warm", "subject": "close-up"},
                         "image_base64": png_base64((240, 180, 60))}]}


def test_catalog_upload_imports_checked_reencoded_images(admin_client):
    r = admin_client.post("/api/v1/admin/catalog", json={"titles": [upload_title("up1", png_base64())]}, headers=AUTH)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"imported": ["up1"], "problems": []}
    title = admin_client.get("/api/v1/titles/up1").get_json()  # visible at once in this process
    assert [a["tags"]["theme"] for a in title["artwork"]] == ["noir", "drama"]
    with admin_client.get(title["artwork"][0]["image_url"]) as image:
        assert image.status_code == 200 and image.data[:3] == b"\xff\xd8\xff"  # re-encoded as JPEG
    decision = admin_client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "up1",
                                                                 "context": {"genre_affinity": {"noir": 1}}})
    assert decision.status_code == 200


def test_catalog_upload_is_all_or_nothing_unless_told(admin_client):
    titles = [upload_title("up2", png_base64()), upload_title("up3", "bm90IGFuIGltYWdl")]  # "not an image"
    r = admin_client.post("/api/v1/admin/catalog", json={"titles": titles}, headers=AUTH)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_catalog"
    assert "up3-a" in r.get_json()["error"]["message"]
    assert admin_client.get("/api/v1/titles/up2").status_code == 404
    r = admin_client.post("/api/v1/admin/catalog", json={"titles": titles, "skip_invalid": True}, headers=AUTH)
    assert r.get_json()["imported"] == ["up2"] and len(r.get_json()["problems"]) == 1
    assert admin_client.get("/api/v1/titles/up3").status_code == 404


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(admin_client):
    huge = b'{"titles": [' + b" " * (2 * 1024 * 1024) + b"]}"
    r = admin_client.post("/api/v1/admin/catalog", data=huge, content_type="application/json")
    assert r.status_code == 401  # not 413 and not a parse: the token comes first
