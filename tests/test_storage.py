"""The database itself: WAL, migrations, the one write path, what a decision row holds."""

import sqlite3

import pytest
import sqlite_utils
from conftest import numbered

from artwork.storage import BUSY_TIMEOUT_MS, Store, migrations

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True


def test_wal_mode_and_migrations_are_applied_once(tmp_path):
    store = Store(tmp_path / "a.db")
    store.close()
    Store(tmp_path / "a.db").close()  # opening again applies nothing twice
    db = sqlite_utils.Database(tmp_path / "a.db")
    assert db.journal_mode == "wal"
    assert [m.name for m in migrations.applied(db)] == ["m001_initial", "m002_dismiss_outcome", "m003_model_epochs",
                                                      "m004_no_index_on_decisions_by_person", "m005_pz_personalizer",
                                                      "m006_exp_experiments", "m007_checkpoint_models"]
    assert "impressions_user" not in {i.name for i in db["impressions"].indexes}
    assert {"titles", "artworks", "artwork_images", "users", "views", "ratings", "impressions", "outcomes",
            "learn_queue", "checkpoints"} <= set(db.table_names())


def test_a_failed_write_rolls_back_everything(tmp_path):
    store = Store(tmp_path / "a.db")
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            conn.execute("INSERT INTO users (id, created_ts) VALUES ('u1', 0)")
            raise RuntimeError("boom")
    assert store.query("SELECT * FROM users") == []
    with store.write() as conn:
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('u1', 0)")
    assert store.query("SELECT id FROM users") == [{"id": "u1"}]


def test_an_event_enters_the_learn_queue_once(tmp_path, service, client):
    ev = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"}).get_json()
    event_id = ev["decisions"][0]["event_id"]
    with service.store.reward_join(event_id) as join:
        assert join.finalize(1.0, "outcome", 0.0) is True
        assert join.finalize(0.0, "window", 0.0) is False
        assert (join.event["state"], join.event["reward"]) == ("final", 1.0)
    assert service.store.close_due_windows(float("inf"), 0.0, batch=10) == 0
    assert numbered(service.store).query("SELECT seq, event_id FROM learn_queue") == [{"seq": 1, "event_id": event_id}]


def test_every_person_with_a_decision_has_one_users_row(client, service):
    """The users row is written with a person's first decision, however their taste is given,
    and later decisions do not add another."""
    def select(user, **extra):
        r = client.post("/api/v1/select-artwork", json={"user_id": user, "title_id": "t01", **extra})
        assert r.status_code == 200

    select("new")
    select("new")
    select("override", context={"genre_affinity": {"romance": 1}})
    select("override")
    assert client.post("/api/v1/users/viewer/views", json={"title_id": "t02", "seconds": 600}).status_code in (200, 201)
    select("viewer")
    rows = service.store.query("SELECT id, count(*) AS n FROM users GROUP BY id ORDER BY id")
    assert rows == [{"id": "new", "n": 1}, {"id": "override", "n": 1}, {"id": "viewer", "n": 1}]
    assert ({r["user_id"] for r in service.store.query("SELECT user_id FROM impressions")}
            == {"new", "override", "viewer"})


def test_the_log_refuses_an_impossible_propensity(service):
    with pytest.raises(Exception, match="(?i)check constraint"):
        with service.store.write() as conn:
            conn.execute(
                "INSERT INTO impressions (event_id, created_ts, user_id, title_id, context, features, candidates,"
                " pmf, chosen_index, artwork_id, probability, explored, model_version, policy, time_bucket, state)"
                " VALUES ('e', 0, 'u', 't01', '{}', '{}', '[]', '[]', 0, 'a', 0.0, 0, 0, 'p', 'morning', 'pending')")


def test_migration_keeps_outcomes_recorded_before_it(tmp_path):
    """A database from before m002 (outcomes without 'dismiss') upgrades with its rows intact."""
    from artwork.storage import m001_initial

    db = sqlite_utils.Database(tmp_path / "old.db")
    old = sqlite_utils.Migrations("artwork")
    old(name="m001_initial")(m001_initial)
    old.apply(db)
    db.execute("INSERT INTO impressions (event_id, created_ts, user_id, title_id, context, features, candidates,"
               " pmf, chosen_index, artwork_id, probability, explored, model_version, policy, time_bucket, state)"
               " VALUES ('e', 0, 'u', 't', '{}', '{}', '[]', '[]', 0, 'a', 1.0, 0, 0, 'p', 'morning', 'final')")
    db.execute("INSERT INTO outcomes (event_id, kind, seconds, received_ts, effect)"
               " VALUES ('e', 'click', NULL, 5, 'x')")
    db.conn.commit()
    db.conn.close()
    store = Store(tmp_path / "old.db")
    assert store.query("SELECT event_id, kind, received_ts FROM outcomes") == [
        {"event_id": "e", "kind": "click", "received_ts": 5.0}]
    with store.write() as conn:
        conn.execute("INSERT INTO outcomes (event_id, kind, received_ts, effect) VALUES ('e', 'dismiss', 6, 'y')")


@pytest.mark.sqlite_only
def test_decisions_leave_wal_checkpoints_to_the_learner(make_app, clock):
    """Serving processes never stop a decision to copy the WAL into the database (only past a
    large backstop); the learner's round does it."""
    import os

    from artwork.learner import Learner
    from artwork.learner import learner_store as learner_store_for
    from artwork.storage import BACKSTOP_WAL_PAGES

    serving = make_app(ROLE="serve")
    service = serving.extensions["artwork"]
    assert service.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_WAL_PAGES
    titles = [t["id"] for t in service.titles()]
    db_file = service.store.path
    before = os.path.getsize(db_file)
    for i in range(300):
        service.select_artwork(f"u{i}", titles[:3])
    wal_bytes = os.path.getsize(f"{db_file}-wal")
    assert wal_bytes > 1000 * 4096  # past SQLite's own autocheckpoint, and still all in the WAL
    assert os.path.getsize(db_file) == before
    learner_store = learner_store_for(service.settings)
    learner = Learner(service.settings, learner_store, service.model, db_file.parent / "models", clock=clock)
    clock.advance(31)
    assert learner.close_windows() == 900  # nine write transactions of its own...
    assert os.path.getsize(db_file) == before  # ...and none of them stopped to checkpoint
    learner.run_once()
    assert os.path.getsize(db_file) > before + 900 * 1000  # the round copied the 900 decisions in
    service.select_artwork("after", titles[:1])  # the next write starts the WAL over
    busy, pages, copied = learner_store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and pages < 50, pages
    learner_store.close()


def test_a_long_reader_does_not_make_the_wal_restart_block_writers(tmp_path):
    """The learner's WAL restart holds the writer lock: with a reader on an old snapshot (an
    export, say) it gives up after a few milliseconds instead of waiting the busy timeout."""
    import time

    store = Store(tmp_path / "a.db")
    for i in range(50):
        with store.write() as conn:
            conn.execute("INSERT INTO users (id, created_ts) VALUES (?, 0)", (f"u{i}",))
    reader = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 50  # holds its snapshot
    with store.write() as conn:
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('late', 0)")
    started = time.monotonic()
    store.checkpoint_wal(restart_pages=1)
    # What is asserted is that it did not wait out the busy timeout (10 s), not how fast it was.
    assert time.monotonic() - started < BUSY_TIMEOUT_MS / 1000 / 2
    with store.write() as conn:  # writers go on
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('after', 0)")
    reader.execute("COMMIT")
    assert store.scalar("SELECT count(*) FROM users") == 52
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    reader.close()
    store.close()


def test_only_the_storage_modules_hold_sql():
    """The storage contract is the one seam: no module of the package but the two storage
    modules (SQLite's and PostgreSQL's) imports a database driver or runs a statement, and both
    stores implement every operation of the contract."""
    import inspect
    from pathlib import Path

    import artwork
    from artwork.postgres import PostgresStore
    from artwork.storage import Storage

    package = Path(artwork.__file__).parent
    storage_modules = {"storage.py", "postgres.py"}
    offenders = [p.name for p in package.rglob("*.py") if p.name not in storage_modules
                 and any(word in p.read_text() for word in ("sqlite3", "psycopg", ".execute("))]
    assert offenders == []
    for store in (Store, PostgresStore):
        assert not inspect.isabstract(store) and issubclass(store, Storage)


def test_a_batched_store_keeps_each_write_block_all_or_nothing(tmp_path):
    """The simulation store commits once per many write blocks, but a block that fails still
    leaves nothing behind and takes nothing of the blocks before it with it."""
    store = Store(tmp_path / "sim.db", durable=False, writes_per_commit=10)
    with store.write() as conn:
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('kept', 0)")
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('half', 0)")
        raise RuntimeError("the block fails after its first statement")
    with store.write() as conn:
        conn.execute("INSERT INTO users (id, created_ts) VALUES ('after', 0)")
    assert store.scalar("SELECT count(*) FROM users") == 2  # this connection sees the open batch
    other = sqlite3.connect(tmp_path / "sim.db")
    assert other.execute("SELECT count(*) FROM users").fetchone()[0] == 0  # nothing committed yet
    store.close()  # commits the batch
    assert sorted(r[0] for r in other.execute("SELECT id FROM users")) == ["after", "kept"]
    other.close()
