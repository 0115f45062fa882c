"""PostgreSQL across hosts: a learn queue that late commits cannot skip, one elected learner,
snapshots and images from the database onto an empty disk, migrations by many at once."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import numbered

from artwork.config import DEFAULT_VW_ARGS
from artwork.learner import LearnerCandidate
from artwork.policy import Model
from artwork.postgres import MIGRATIONS, PostgresStore
from artwork.storage import Store


@pytest.fixture
def backend():
    return "postgres"


def decide(client, title):
    r = client.post("/api/v1/select-artwork", json={"user_id": "u1", "title_id": title})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["decisions"][0]["event_id"]


def queue(store):
    rows = numbered(store).query("SELECT seq, event_id FROM learn_queue ORDER BY seq")
    return [(r["seq"], r["event_id"]) for r in rows]


def relearned(store) -> Model:
    """A model that learned the whole learn queue in one go, in order."""
    import json

    model = Model(DEFAULT_VW_ARGS)
    for row in store.query("SELECT q.seq, i.features, i.chosen_index, i.reward, i.probability"
                           " FROM learn_queue q JOIN impressions i USING (event_id) ORDER BY q.seq"):
        model.learn(json.loads(row["features"]), row["chosen_index"], row["reward"], row["probability"], row["seq"])
    return model


def test_an_event_whose_finalizing_commits_late_is_learned_once_after_the_others(client, service, learner, clock):
    """PostgreSQL hands out numbers at insert but commits in another order: a learner reading
    "past the last number" would skip a finalizing transaction that commits late. Here one stays
    open (on a connection of its own) while later outcomes commit and are learned; once it
    commits, its event is learned exactly once, after them, and nothing was skipped."""
    late, first, second = (decide(client, t) for t in ("t01", "t02", "t03"))
    with service.store.reward_join(late) as join:  # an outcome's transaction, still open
        assert join.finalize(1.0, "outcome", clock())  # final first, committed last
        for event in (first, second):
            clock.advance(1)
            assert client.post(f"/api/v1/events/{event}/click").get_json()["final"] is True
        assert learner.run_once() == 2
        assert queue(service.store) == [(1, first), (2, second)]
        assert service.model.seq == 2
    assert learner.run_once() == 1  # committed now: numbered after what was learned, and learned
    assert queue(service.store) == [(1, first), (2, second), (3, late)]
    assert learner.run_once() == 0 and service.model.seq == 3
    assert service.model.weights() == relearned(service.store).weights()


def test_outcomes_racing_from_many_connections_are_each_queued_once(make_app, clock):
    """Clicks for the same decisions from several threads (hosts) at once: each decision is
    final and queued once, with numbers 1..n and no gaps."""
    from concurrent.futures import ThreadPoolExecutor

    app = make_app()
    client = app.test_client()
    events = [decide(client, f"t{i:02d}") for i in range(1, 13)]

    def click(event):
        return app.test_client().post(f"/api/v1/events/{event}/click").get_json()["effect"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        effects = list(pool.map(click, events * 3))
    assert effects.count("rewarded") == len(events)
    rows = queue(app.extensions["artwork"].store)
    assert sorted(e for _, e in rows) == sorted(events)
    assert [seq for seq, _ in rows] == list(range(1, len(events) + 1))


def test_a_host_with_an_empty_disk_serves_the_published_model_and_images(make_app, clock, tmp_path):
    """Snapshots and image files travel through the database: a serving host with nothing on
    its disk loads the newest snapshot (checksum checked) and serves images from it."""
    learning = make_app(CHECKPOINT_EVERY_EVENTS=1)
    client, learner = learning.test_client(), learning.extensions["artwork.learner"]
    for title in ("t01", "t02", "t03", "t04"):
        client.post(f"/api/v1/events/{decide(client, title)}/click")
    learner.run_once()
    model = learning.extensions["artwork"].model
    assert model.seq == 4

    empty = tmp_path / "other-host"
    serving = make_app(ROLE="serve", DATA_DIR=str(empty), SNAPSHOT_POLL_SECONDS=3600)  # checked by hand
    served = serving.extensions["artwork"].model
    assert (served.seq, served.weights()) == (4, model.weights())
    meta = serving.extensions["artwork"].store.image("t01-a1", "thumb")
    with serving.test_client().get("/images/t01-a1/thumb.jpg") as image:
        assert image.status_code == 200
        assert image.data == serving.extensions["artwork"].store.stored_file("image", meta["file"])
        assert image.data[:2] == b"\xff\xd8"

    # It follows newer snapshots as they are published...
    client.post(f"/api/v1/events/{decide(client, 't05')}/click")
    learner.run_once()
    assert serving.extensions["artwork.snapshots"].check() is True
    assert serving.extensions["artwork"].model.seq == 5
    # ...and refuses one whose bytes do not match their checksum.
    client.post(f"/api/v1/events/{decide(client, 't06')}/click")
    learner.run_once()
    store = serving.extensions["artwork"].store
    with store.write() as conn:
        conn.execute("UPDATE checkpoints SET data = ? WHERE seq = 6", (b"not a model",))
    assert serving.extensions["artwork.snapshots"].check() is False
    assert serving.extensions["artwork"].model.seq == 5


def test_two_learner_candidates_elect_one_and_the_standby_takes_over(make_app, tmp_path, postgres):
    """Two candidates on one log: one leads, the other stands by. When the leader's connection
    is cut, it stops learning at its next step and the standby leads within a few seconds."""
    service = make_app().extensions["artwork"]
    one = LearnerCandidate(service.settings, service.store, tmp_path / "a")
    two = LearnerCandidate(service.settings, service.store, tmp_path / "b")
    assert not one.lease.taken()
    assert one.step() is True and two.step() is False
    assert one.step() is True and two.step() is False
    assert one.lease.taken() and two.lease.taken()  # any process may ask whether a learner leads
    pid = one.lease._conn.info.backend_pid
    postgres.admin(f"SELECT pg_terminate_backend({pid})")
    cut = time.monotonic()
    assert one.step() is False and not one.is_leader
    while not two.step():
        assert time.monotonic() - cut < 5, "the standby did not take over"
        time.sleep(0.2)
    assert two.is_leader and one.step() is False
    two.stop()
    assert one.step() is True  # the lease is free again once the leader stops
    one.stop()


def test_a_killed_learner_process_is_replaced_by_the_standby(data_dir, test_database_url, tmp_path):
    """`artwork learn` on two "hosts": SIGKILL the leader and the other leads within seconds."""
    env = {**os.environ, "ARTWORK_DATABASE_URL": test_database_url, "ARTWORK_LEARNER_INTERVAL_SECONDS": "0.1"}
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    procs = []
    for i, log in enumerate(logs):
        with open(log, "w") as err:  # the child keeps its own copy of the descriptor
            procs.append(subprocess.Popen([sys.executable, "-m", "artwork", "learn", "--data-dir",
                                           str(tmp_path / f"host{i}")], env=env, stdout=subprocess.DEVNULL,
                                          stderr=err, start_new_session=True))

    def leaders():
        return [i for i, log in enumerate(logs) if "leading" in log.read_text()]

    try:
        deadline = time.monotonic() + 30
        while not leaders():
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.1)
        time.sleep(1.5)  # the other has tried for the lease at least once, and stands by
        assert len(leaders()) == 1
        leader = leaders()[0]
        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait(timeout=10)
        killed = time.monotonic()
        while leaders() == [leader]:
            assert time.monotonic() - killed < 5, logs[1 - leader].read_text()
            time.sleep(0.1)
        assert leaders() == [0, 1]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)


def test_sqlite_candidates_exclude_each_other_by_a_file_lock(tmp_path):
    store = Store(tmp_path / "a.db")
    one, two = store.learner_lease(), store.learner_lease()
    assert not two.taken()
    assert one.acquire() and one.held() and two.taken()
    assert not two.acquire() and not two.held()
    one.release()
    assert not two.taken()
    assert two.acquire() and two.held()
    two.release()
    store.close()


def test_migrations_by_several_processes_at_once_apply_each_once(fresh_database):
    code = "import sys; from artwork.postgres import PostgresStore; PostgresStore(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, fresh_database], stderr=subprocess.PIPE) for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
        proc.stderr.close()
    store = PostgresStore(fresh_database)
    assert [r["name"] for r in store.query("SELECT name FROM schema_migrations ORDER BY name")] == \
        [name for name, _ in MIGRATIONS]
    assert store.current_epoch()["epoch"] == 1 and store.scalar("SELECT count(*) FROM model_epochs") == 1
    store.close()


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:1/nothing", "does not answer"),
    ("postgresql://postgres@127.0.0.1:notaport/x", "not a valid PostgreSQL URL"),
    ("mysql://root@127.0.0.1/x", "must be a PostgreSQL URL"),
])
def test_a_bad_database_url_is_a_clear_error(runner, tmp_path, url, message):
    from artwork.cli import cli

    result = runner.invoke(cli, ["init", "--data-dir", str(tmp_path / "d")], env={"ARTWORK_DATABASE_URL": url})
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_the_store_answers_503_when_the_database_goes_away(make_app, postgres, test_database_url):
    """A serving host whose database connections are cut answers 503 (nothing recorded), then
    serves again on fresh connections."""
    app = make_app()
    client = app.test_client()
    assert client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"}).status_code == 200
    name = test_database_url.rsplit("/", 1)[1]
    postgres.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                   " AND pid <> pg_backend_pid()")
    answers = []
    for _ in range(10):
        answers.append(client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"}).status_code)
        if answers[-1] == 200:
            break
    assert answers[0] == 503 and answers[-1] == 200 and set(answers) == {200, 503}, answers


def test_serve_workers_on_postgres_from_an_empty_disk(test_database_url, tmp_path):
    """`serve --workers 2` with only a database URL and an empty data directory: decisions and
    clicks are logged, the elected learner learns them, and every serving process follows its
    snapshots through the database; images come from the database too."""
    import json
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from servers import get_json, running_server

    def post(base, path, body=None):
        request = urllib.request.Request(f"{base}{path}", method="POST", data=json.dumps(body or {}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    env = {"ARTWORK_DATABASE_URL": test_database_url}
    with running_server(tmp_path / "empty", tmp_path / "serve.log", env=env, args=("--workers", "2")) as (_, base):
        for i in range(20):
            decision = post(base, "/api/v1/select-artwork", {"user_id": f"u{i}", "title_id": "t01"})["decisions"][0]
            post(base, f"/api/v1/events/{decision['event_id']}/click")
        with urllib.request.urlopen(f"{base}/images/t02-a1/poster.jpg", timeout=30) as image:
            assert image.status == 200 and image.read()[:2] == b"\xff\xd8"
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(max_workers=4) as pool:
            while True:
                versions = {h["pid"]: h["model_version"] for h in pool.map(lambda _: get_json(f"{base}/healthz"),
                                                                           range(8))}
                if len(versions) == 2 and set(versions.values()) == {20}:
                    break
                assert time.monotonic() < deadline, versions
                time.sleep(0.2)
    assert "leading" in (tmp_path / "serve.log").read_text()


def test_resets_from_many_hosts_at_once_each_start_their_own_epoch(make_app):
    """Admin resets and retrains racing on several connections (hosts): every one succeeds and
    gets an epoch number of its own, one after another."""
    from concurrent.futures import ThreadPoolExecutor

    store = make_app().extensions["artwork"].store
    first = store.current_epoch()["epoch"]

    def reset(i):
        return store.start_epoch(f"reset {i}", 1.0, relearn_log=i % 2 == 0)["epoch"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        epochs = list(pool.map(reset, range(16)))
    assert sorted(epochs) == list(range(first + 1, first + 17))


def test_purging_the_newest_learned_events_never_reuses_their_numbers(client, service, learner, clock):
    """Learn-queue numbers are never given twice, even after a purge deleted the newest ones:
    a number the model already includes must not come back for a new event."""
    for title in ("t01", "t02"):
        client.post(f"/api/v1/events/{decide(client, title)}/click")
        clock.advance(1)
    assert learner.run_once() == 2
    assert service.store.purge(cutoff=clock() + 1) == {"decisions": 2, "personalizer_decisions": 0, "views": 0,
                                                       "ratings": 0}
    assert queue(service.store) == []
    later = decide(client, "t03")
    client.post(f"/api/v1/events/{later}/click")
    assert learner.run_once() == 1 and service.model.seq == 3
    assert queue(service.store) == [(3, later)]
