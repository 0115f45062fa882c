"""Integrity and backups: `artwork check`, the check at start, /healthz when storage fails, and
a backup taken under load that restores to a log and a model that agree."""

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time

import pytest
from click.testing import CliRunner

from artwork.app import create_app
from artwork.catalog import data_paths
from artwork.cli import cli
from artwork.policy import Model
from artwork.storage import StoreDamaged

#: The tests that build an app through the fixtures run on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True


def make_decisions(client, count: int, seed: int = 0) -> list[str]:
    """``count`` decisions (pages of three titles), about a third clicked; returns the event ids."""
    rng = random.Random(seed)
    events = []
    while len(events) < count:
        answer = client.post("/api/v1/select-artwork", json={
            "user_id": f"u{rng.randrange(50)}", "title_ids": ["t01", "t02", "t03"]})
        assert answer.status_code == 200, answer.get_json()
        for decision in answer.get_json()["decisions"]:
            events.append(decision["event_id"])
            if rng.random() < 0.33:
                assert client.post(f"/api/v1/events/{decision['event_id']}/click").status_code == 200
    return events


def damage_a_page_of_the_log(db, where: str = "middle") -> int:
    """Overwrite one leaf page of the impressions table (``where``: "middle" of the log, or its
    "last", where new decisions land) with bytes that are not a page; returns its number. The
    database must be closed (its WAL copied back)."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [r[0] for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'impressions' AND pagetype = 'leaf' ORDER BY pageno")]
    conn.close()
    assert len(leaves) >= 3, "too few decisions to damage a page in the middle of the log"
    page = leaves[len(leaves) // 2] if where == "middle" else leaves[-1]
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(random.Random(page).randbytes(page_size))
    return page


def logged_and_closed(make_app, count: int = 300) -> None:
    """``count`` decisions through an app, whose store is then closed (the WAL copied back)."""
    app = make_app()
    make_decisions(app.test_client(), count)
    app.extensions["artwork"].store.close()


@pytest.fixture
def damaged_data_dir(make_app, data_dir, backend):
    # SQLite only: pages are SQLite's; PostgreSQL's are checked with its own tools (amcheck)
    logged_and_closed(make_app)
    damage_a_page_of_the_log(data_dir / "artwork.db")
    return data_dir


def test_check_passes_on_a_sound_data_directory(app, client, data_dir, test_database_url, monkeypatch):
    make_decisions(client, 20)
    personalizer_traffic(app, 5)
    if test_database_url:
        monkeypatch.setenv("ARTWORK_DATABASE_URL", test_database_url)
        # the folders are a cache: the loop's checkpoints are checked from the database
        shutil.rmtree(data_dir / "models" / "personalizer")
    result = CliRunner().invoke(cli, ["check", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if not line.startswith(" ")] == [
        "database", "checkpoints", "images"]
    assert "PROBLEMS" not in result.output
    assert "1 of the personalizer loop's model" in result.output
    if test_database_url:
        assert "amcheck" in result.output  # says which tools check PostgreSQL's pages


@pytest.mark.sqlite_only
def test_check_reports_a_damaged_page_and_exits_1(damaged_data_dir):
    result = CliRunner().invoke(cli, ["check", "--data-dir", str(damaged_data_dir)])
    assert result.exit_code == 1, result.output
    assert "database: PROBLEMS" in result.output
    assert "artwork restore" in result.output


@pytest.mark.sqlite_only
def test_check_reports_a_missing_image_and_a_checkpoint_that_fails_its_checksum(app, service, data_dir, backend):
    # SQLite only: with PostgreSQL the files' bytes are in the database; the folders are a cache
    make_decisions(app.test_client(), 30)
    app.extensions["artwork.learner"].run_once()
    checkpoint = app.extensions["artwork.learner"].checkpoint()
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    image = service.store.active_artwork_images()[0]
    (data_dir / "images" / image["file"]).unlink()
    result = CliRunner().invoke(cli, ["check", "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output
    assert f"checkpoint {checkpoint.name}" in result.output and "fails its SHA-256" in result.output
    assert f"image {image['file']} is missing" in result.output
    assert "database: ok" in result.output


@pytest.mark.sqlite_only
def test_serve_refuses_a_damaged_database_with_the_way_back(damaged_data_dir):
    started = subprocess.run([sys.executable, "-m", "artwork", "serve", "--data-dir", str(damaged_data_dir),
                              "--port", "0"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "ARTWORK_DATABASE_URL": ""})
    assert started.returncode == 1, started.stderr
    assert "is damaged" in started.stderr and "malformed" in started.stderr
    assert "artwork restore" in started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.sqlite_only
def test_the_app_factory_refuses_a_database_whose_log_end_is_damaged(make_app, data_dir, backend):
    """Workers check the structure (the pages every write lands on): the last page of the log."""
    # SQLite only: SQLite's pages
    logged_and_closed(make_app)
    damage_a_page_of_the_log(data_dir / "artwork.db", "last")
    with pytest.raises(StoreDamaged, match="artwork restore"):
        create_app({"DATA_DIR": str(data_dir), "LEARNER": "manual"})


def test_healthz_answers_503_with_the_reason_when_storage_fails(client, service, monkeypatch):
    assert client.get("/healthz").status_code == 200
    failure = service.store.failures[0]

    def broken():
        raise failure("database disk image is malformed")

    monkeypatch.setattr(service.store, "ping", broken)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "storage_unavailable"
    assert "database disk image is malformed" in answer.get_json()["error"]["message"]


def test_backup_with_postgresql_says_to_use_pg_dump(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTWORK_DATABASE_URL", "postgresql://127.0.0.1:5432/none")
    result = CliRunner().invoke(cli, ["backup", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b.tar")])
    assert result.exit_code != 0
    assert "pg_dump" in result.output


# Backups -------------------------------------------------------------------------------------------

def relearned(db, vw_args: str) -> Model:
    """A fresh model that learned the log's learn queue of the current epoch in order."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    epoch = conn.execute("SELECT * FROM model_epochs ORDER BY epoch DESC LIMIT 1").fetchone()
    model = Model(epoch["vw_args"] or vw_args, seq=epoch["start_seq"], epoch=epoch["epoch"])
    for row in conn.execute("SELECT q.seq, i.features, i.chosen_index, i.reward, i.probability FROM learn_queue q"
                            " JOIN impressions i USING (event_id) WHERE q.seq > ? ORDER BY q.seq",
                            (epoch["start_seq"],)):
        model.learn(json.loads(row["features"]), row["chosen_index"], row["reward"], row["probability"], row["seq"])
    conn.close()
    return model


@pytest.mark.sqlite_only
def test_a_backup_under_load_restores_every_acknowledged_decision_and_a_model_that_matches_the_log(
        data_dir, backend, tmp_path):
    # SQLite only: with PostgreSQL, backups are pg_dump's (README)
    # A real learner thread, checkpointing often, so checkpoints come and go while the backup runs.
    app = create_app({"DATA_DIR": str(data_dir), "LEARNER": "thread", "SEED": 1, "CHECKPOINT_EVERY_EVENTS": 20,
                      "LEARNER_INTERVAL_SECONDS": 0.05})
    acked: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def load():
        client, rng = app.test_client(), random.Random(7)
        try:
            while not stop.is_set() and len(acked) < 20_000:
                answer = client.post("/api/v1/select-artwork", json={"user_id": f"u{rng.randrange(50)}",
                                                                      "title_ids": ["t01", "t02"]})
                assert answer.status_code == 200
                for decision in answer.get_json()["decisions"]:
                    if rng.random() < 0.5:
                        assert client.post(f"/api/v1/events/{decision['event_id']}/click").status_code == 200
                    acked.append(decision["event_id"])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 400 and time.monotonic() < deadline and not failures:
            time.sleep(0.05)
        before = set(acked)  # acknowledged before the backup began
        out = tmp_path / "backup.tar"
        result = CliRunner().invoke(cli, ["backup", "--data-dir", str(data_dir), "--out", str(out)])
        during = len(acked) - len(before)
    finally:
        stop.set()
        worker.join(timeout=60)
        app.extensions["artwork.learner"].stop(checkpoint=False)
        app.extensions["artwork"].store.close()
    assert not failures, failures
    assert result.exit_code == 0, result.output
    assert len(before) >= 400 and during > 0, "the load did not run while the backup did"

    restored = tmp_path / "restored"
    result = CliRunner().invoke(cli, ["restore", str(out), "--data-dir", str(restored)])
    assert result.exit_code == 0, result.output
    db = data_paths(restored)["db"]
    with sqlite3.connect(db) as conn:
        logged = {r[0] for r in conn.execute("SELECT event_id FROM impressions")}
        checkpoints = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    conn.close()
    assert before <= logged
    assert checkpoints >= 1, "the backup holds no checkpoint: the model part was not tested"

    app = create_app({"DATA_DIR": str(restored), "LEARNER": "manual", "SEED": 1})
    try:
        service = app.extensions["artwork"]
        assert service.model.weights() == relearned(db, service.settings.vw_args).weights()
    finally:
        service.store.close()
    assert CliRunner().invoke(cli, ["check", "--data-dir", str(restored)]).exit_code == 0


@pytest.mark.sqlite_only
def test_restore_refuses_a_data_directory_in_use_and_a_damaged_archive(app, service, data_dir, backend, tmp_path):
    # SQLite only: SQLite backups
    out = tmp_path / "backup.tar"
    assert CliRunner().invoke(cli, ["backup", "--data-dir", str(data_dir), "--out", str(out)]).exit_code == 0
    result = CliRunner().invoke(cli, ["restore", str(out), "--data-dir", str(data_dir)])
    assert result.exit_code != 0 and "in use" in result.output  # the app has the database open

    damaged = tmp_path / "damaged.tar"
    data = bytearray(out.read_bytes())
    with tarfile.open(out) as tar:
        member = tar.getmember("artwork.db")
    data[member.offset_data + member.size // 2] ^= 0xFF  # one bit flipped in the database's copy
    damaged.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["restore", str(damaged), "--data-dir", str(tmp_path / "fresh")])
    assert result.exit_code != 0 and "checksum" in result.output
    assert not (tmp_path / "fresh" / "artwork.db").exists()


@pytest.mark.sqlite_only
def test_a_checkpoint_gone_before_the_backup_copied_it_is_left_out_with_its_row(app, data_dir, backend, tmp_path):
    """A newer checkpoint may delete an older one's file after the database was copied: the backup
    leaves that checkpoint out (its row too), and the restored model still matches the log."""
    # SQLite only: SQLite backups
    learner = app.extensions["artwork.learner"]
    client = app.test_client()
    make_decisions(client, 30, seed=1)
    learner.run_once()
    kept = learner.checkpoint()
    make_decisions(client, 30, seed=2)
    learner.run_once()
    gone = learner.checkpoint()
    gone.unlink()
    out = tmp_path / "backup.tar"
    assert CliRunner().invoke(cli, ["backup", "--data-dir", str(data_dir), "--out", str(out)]).exit_code == 0
    with tarfile.open(out) as tar:
        assert {f"models/{kept.name}", "models/latest.json"} <= set(tar.getnames())
        assert f"models/{gone.name}" not in tar.getnames()
    restored = tmp_path / "restored"
    assert CliRunner().invoke(cli, ["restore", str(out), "--data-dir", str(restored)]).exit_code == 0
    assert CliRunner().invoke(cli, ["check", "--data-dir", str(restored)]).exit_code == 0
    assert json.loads((restored / "models" / "latest.json").read_text())["file"] == kept.name
    app = create_app({"DATA_DIR": str(restored), "LEARNER": "manual", "SEED": 1})
    service = app.extensions["artwork"]
    try:
        assert service.model.weights() == relearned(data_paths(restored)["db"], service.settings.vw_args).weights()
    finally:
        service.store.close()


def personalizer_traffic(app, count: int) -> None:
    """``count`` ranked and rewarded calls of the Personalizer loop, learned and checkpointed."""
    client, rng = app.test_client(), random.Random(count)
    for _ in range(count):
        event = client.post("/personalizer/v1.0/rank", json={
            "contextFeatures": [{"segment": rng.choice("xyz")}], "actions": [{"id": "a"}, {"id": "b"}]}
        ).get_json()["eventId"]
        client.post(f"/personalizer/v1.0/events/{event}/reward", json={"value": rng.choice([0, 1])})
    app.extensions["artwork.personalizer.learner"].run_once()
    app.extensions["artwork.personalizer.learner"].checkpoint()


@pytest.mark.sqlite_only
def test_check_covers_the_personalizer_loops_checkpoints(app, data_dir, backend):
    # SQLite only: with PostgreSQL the files' bytes are in the database; the folders are a cache
    personalizer_traffic(app, 12)
    checkpoint = app.extensions["artwork.personalizer.learner"].checkpoint() or next(
        (data_dir / "models" / "personalizer").glob("model-*.vw"))
    result = CliRunner().invoke(cli, ["check", "--data-dir", str(data_dir)])
    assert result.exit_code == 0 and "1 of the personalizer loop's model" in result.output, result.output
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    result = CliRunner().invoke(cli, ["check", "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output
    assert f"personalizer checkpoint {checkpoint.name} (epoch 1, seq 12) is missing or fails its SHA-256" in (
        result.output)


@pytest.mark.sqlite_only
def test_a_backup_holds_the_personalizer_loops_checkpoints_and_restores_them(app, data_dir, backend, tmp_path):
    # SQLite only: SQLite backups
    make_decisions(app.test_client(), 30)
    app.extensions["artwork.learner"].run_once()
    app.extensions["artwork.learner"].checkpoint()
    personalizer_traffic(app, 12)
    models = data_dir / "models" / "personalizer"
    latest = json.loads((models / "latest.json").read_text())
    out = tmp_path / "backup.tar"
    result = CliRunner().invoke(cli, ["backup", "--data-dir", str(data_dir), "--out", str(out)])
    assert result.exit_code == 0 and "and 1 of the Personalizer loop's model" in result.output, result.output
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {f"models/personalizer/{latest['file']}", "models/personalizer/latest.json", "models/latest.json"} <= names

    restored = tmp_path / "restored"
    assert CliRunner().invoke(cli, ["restore", str(out), "--data-dir", str(restored)]).exit_code == 0
    assert json.loads((restored / "models" / "personalizer" / "latest.json").read_text()) == latest
    restored_file = restored / "models" / "personalizer" / latest["file"]
    assert restored_file.read_bytes() == (models / latest["file"]).read_bytes()
    check = CliRunner().invoke(cli, ["check", "--data-dir", str(restored)])
    assert check.exit_code == 0 and "1 of the personalizer loop's model" in check.output, check.output
    app = create_app({"DATA_DIR": str(restored), "LEARNER": "manual", "SEED": 1})
    try:  # the restored loop ranks with the checkpoint it had
        loop = app.extensions["artwork.personalizer"]
        assert (loop.model.epoch, loop.model.seq) == (1, 12)
        assert app.test_client().post("/personalizer/v1.0/rank", json={"actions": [{"id": "a"}]}).status_code == 201
    finally:
        app.extensions["artwork"].store.close()
