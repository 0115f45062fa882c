"""The ``artwork`` command: init, serve (a real server process) and catalog import."""

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from servers import get_json, running_server

from artwork.cli import cli
from artwork.storage import Store


def test_init_creates_the_data_directory_and_demo_catalog(runner, tmp_path):
    data = tmp_path / "fresh"
    result = runner.invoke(cli, ["init", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    store = Store(data / "artwork.db")
    titles, arts = store.scalar("SELECT count(*) FROM titles"), store.scalar("SELECT count(*) FROM artworks")
    assert titles >= 30 and f"{titles} titles, {arts} artwork variants" in result.output
    assert store.scalar("SELECT count(*) FROM artwork_images") == 2 * arts
    files = sorted(p.name for p in (data / "images").glob("*.jpg"))
    assert len(files) == store.scalar("SELECT count(DISTINCT file) FROM artwork_images")
    again = runner.invoke(cli, ["init", "--data-dir", str(data)])
    assert again.exit_code == 0 and f"{titles} titles, {arts} artwork variants" in again.output
    assert sorted(p.name for p in (data / "images").glob("*.jpg")) == files


def test_data_dir_from_the_environment(runner, tmp_path):
    data = tmp_path / "from-env"
    result = runner.invoke(cli, ["init", "--no-demo"], env={"ARTWORK_DATA_DIR": str(data)})
    assert result.exit_code == 0, result.output
    assert (data / "artwork.db").exists() and "0 titles" in result.output


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serve_initializes_an_empty_directory_and_answers(tmp_path, stop):
    """What the README's first command does: a real server process on loopback (waitress, not a
    development server), which keeps its learning when a service manager (SIGTERM) or Ctrl-C
    stops it."""
    data = tmp_path / "served"
    with running_server(data, tmp_path / "serve.log") as (proc, base):
        request = urllib.request.Request(
            f"{base}/api/v1/select-artwork", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"user_id": "readme", "title_id": "t01"}).encode())
        decision = json.load(urllib.request.urlopen(request, timeout=10))["decisions"][0]
        assert 0 < decision["probability"] <= 1
        row = Store(data / "artwork.db").query_one("SELECT user_id, probability FROM impressions WHERE event_id = ?",
                                                   (decision["event_id"],))
        assert row == {"user_id": "readme", "probability": decision["probability"]}
        click = urllib.request.Request(f"{base}/api/v1/events/{decision['event_id']}/click", method="POST")
        assert json.load(urllib.request.urlopen(click, timeout=10))["effect"] == "rewarded"
        deadline = time.monotonic() + 30
        while get_json(f"{base}/healthz")["model_version"] < 1:
            assert time.monotonic() < deadline, "the click was not learned"
            time.sleep(0.05)
        proc.send_signal(stop)
        assert proc.wait(timeout=90) == 0  # generous: the suite's machine is shared and loaded
    assert Store(data / "artwork.db").scalar("SELECT max(seq) FROM checkpoints") == 1
    log = (tmp_path / "serve.log").read_text()
    assert "Serving on http://127.0.0.1:" in log and "development server" not in log


def write_manifest(folder: Path) -> Path:
    from PIL import Image

    images = folder / "images"
    images.mkdir(parents=True)
    for name, colour in (("n1-a.png", "navy"), ("n1-b.jpg", "orange")):
        Image.new("RGB", (800, 450), colour).save(images / name)
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    manifest = {"titles": [
        {"id": "n1", "name": "Night Train", "genres": ["thriller", "drama"], "year": 2024,
         "artwork": [{"id": "n1-a", "file": "n1-a.png", "tags": {"theme": "thriller", "tone": "dark",
                                                                  "subject": "close-up", "cast": ["Jo Park"]}},
                     {"id": "n1-b", "file": "n1-b.jpg", "tags": {"theme": "drama", "tone": "warm",
                                                                  "subject": "scene"}}]},
        {"id": "n2", "name": "Broken Frame", "genres": ["comedy"],
         "artwork": [{"id": "n2-a", "file": "n1-a.png", "tags": {"theme": "comedy", "tone": "bright",
                                                                  "subject": "ensemble"}},
                     {"id": "n2-b", "file": "broken.jpg", "tags": {"theme": "comedy", "tone": "cool",
                                                                    "subject": "title-logo"}}]},
    ]}
    path = folder / "catalog.json"
    path.write_text(json.dumps(manifest))
    return path


def test_import_refuses_a_bad_image_and_writes_nothing(runner, tmp_path, data_dir):
    manifest = write_manifest(tmp_path / "mine")
    before = Store(data_dir / "artwork.db").scalar("SELECT count(*) FROM titles")
    result = runner.invoke(cli, ["import", "--data-dir", str(data_dir), str(manifest), str(tmp_path / "mine/images")])
    assert result.exit_code == 1
    assert "title 'n2' artwork 'n2-b'" in result.output and "broken.jpg" in result.output
    assert "nothing imported" in result.output
    store = Store(data_dir / "artwork.db")
    assert store.scalar("SELECT count(*) FROM titles") == before
    assert store.scalar("SELECT count(*) FROM artworks WHERE id LIKE 'n%'") == 0


def test_import_skip_invalid_imports_whole_good_titles_only(runner, tmp_path, data_dir, make_app):
    manifest = write_manifest(tmp_path / "mine")
    result = runner.invoke(cli, ["import", "--data-dir", str(data_dir), "--skip-invalid", str(manifest),
                                 str(tmp_path / "mine/images")])
    assert result.exit_code == 0, result.output
    assert "Imported 1 title(s); skipped 1 invalid." in result.output
    store = Store(data_dir / "artwork.db")
    assert store.query("SELECT id FROM titles WHERE id IN ('n1', 'n2')") == [{"id": "n1"}]
    assert store.query("SELECT id FROM artworks WHERE title_id = 'n2'") == []
    client = make_app().test_client()
    title = client.get("/api/v1/titles/n1").get_json()
    assert [a["tags"]["theme"] for a in title["artwork"]] == ["thriller", "drama"]
    with client.get(title["artwork"][0]["thumbnail_url"]) as image:
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
    decision = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "n1"}).get_json()
    assert decision["decisions"][0]["artwork_id"] in {"n1-a", "n1-b"}


def test_import_csv_manifest_and_reimport_retires_dropped_artwork(runner, tmp_path, data_dir, make_app):
    write_manifest(tmp_path / "mine")
    csv_path = tmp_path / "mine" / "catalog.csv"
    csv_path.write_text(
        "title_id,title_name,genres,artwork_id,file,theme,tone,subject,cast\n"
        "n1,Night Train,thriller;drama,n1-a,n1-a.png,thriller,dark,close-up,Jo Park\n"
        "n1,Night Train,thriller;drama,n1-b,n1-b.jpg,drama,warm,scene,\n")
    args = ["import", "--data-dir", str(data_dir), str(csv_path), str(tmp_path / "mine/images")]
    assert runner.invoke(cli, args).exit_code == 0
    csv_path.write_text(
        "title_id,title_name,genres,artwork_id,file,theme,tone,subject,cast\n"
        "n1,Night Train,thriller;drama,n1-b,n1-b.jpg,drama,warm,scene,\n")
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    store = Store(data_dir / "artwork.db")
    assert store.query("SELECT id, active FROM artworks WHERE title_id = 'n1' ORDER BY id") == [
        {"id": "n1-a", "active": 0}, {"id": "n1-b", "active": 1}]
    assert [a["id"] for a in make_app().test_client().get("/api/v1/titles/n1").get_json()["artwork"]] == ["n1-b"]
