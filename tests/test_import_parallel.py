"""``artwork import`` on several cores: the same catalog whatever ``--jobs`` is, progress on
stderr, every promise of the one-process import kept (checked before anything is written, each
title whole or not at all), and a worker that dies is a clear error that leaves nothing behind."""

import hashlib
import json
import os
import random

import pytest
from PIL import Image, ImageDraw

from artwork import importer
from artwork.cli import cli
from artwork.storage import Store

TITLES = 6
PER_TITLE = 3


def write_catalog(folder, seed=7):
    """A seeded catalog: TITLES titles of PER_TITLE drawn images each, of several sizes and formats."""
    rng = random.Random(seed)
    images = folder / "images"
    titles = []
    for t in range(TITLES):
        artwork = []
        for a in range(PER_TITLE):
            size = rng.choice([(960, 540), (1280, 720), (700, 1000)])
            img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
            draw = ImageDraw.Draw(img)
            for _ in range(12):
                x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
                draw.ellipse((x0, y0, x0 + rng.randrange(20, 300), y0 + rng.randrange(20, 300)),
                             fill=tuple(rng.randrange(256) for _ in range(3)))
            name = f"t{t}/{a}.{rng.choice(['png', 'jpg', 'webp'])}"
            (images / f"t{t}").mkdir(parents=True, exist_ok=True)
            img.save(images / name)
            artwork.append({"id": f"t{t}-a{a}", "file": name,
                            "tags": {"theme": "drama", "tone": rng.choice(["dark", "warm"]), "subject": "scene"}})
        titles.append({"id": f"t{t}", "name": f"Title {t}", "genres": ["drama"], "artwork": artwork})
    manifest = folder / "catalog.json"
    manifest.write_text(json.dumps({"titles": titles}))
    return manifest, images


def run_import(runner, data_dir, manifest, images, *options):
    return runner.invoke(cli, ["import", "--data-dir", str(data_dir), *options, str(manifest), str(images)])


def stored(data_dir) -> tuple[list[dict], dict]:
    """The catalog as the service reads it, and the sha256 of every stored image size's file."""
    store = Store(data_dir / "artwork.db")
    titles = store.titles()
    shas = {}
    for title in titles:
        for art in title["artwork"]:
            for size in ("poster", "thumb"):
                data = (data_dir / "images" / store.image(art["id"], size)["file"]).read_bytes()
                shas[art["id"], size] = hashlib.sha256(data).hexdigest()
    store.close()
    return titles, shas


def image_files(data_dir) -> list[str]:
    """Everything in the images folder, hidden staging folders included."""
    folder = data_dir / "images"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_one_process_and_two_import_the_same_catalog(runner, tmp_path):
    manifest, images = write_catalog(tmp_path / "mine")
    results = {}
    for jobs in ("1", "2"):
        data = tmp_path / f"jobs{jobs}"
        result = run_import(runner, data, manifest, images, "--jobs", jobs)
        assert result.exit_code == 0, result.output
        assert result.stdout == f"Imported {TITLES} title(s).\n"
        results[jobs] = stored(data), image_files(data)
    (titles, shas), files = results["1"]
    assert [t["id"] for t in titles] == [f"t{t}" for t in range(TITLES)]
    assert len(shas) == 2 * TITLES * PER_TITLE
    assert results["2"] == results["1"]
    assert not any(name.startswith(".") for name in files)  # no staging folder left


def test_progress_is_shown_on_stderr_when_asked_and_the_summary_is_unchanged(runner, tmp_path):
    manifest, images = write_catalog(tmp_path / "mine")
    shown = run_import(runner, tmp_path / "shown", manifest, images, "--jobs", "2", "--progress")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == f"Imported {TITLES} title(s).\n"
    assert f"{TITLES * PER_TITLE}/{TITLES * PER_TITLE}" in shown.stderr  # images done
    assert f"{TITLES}/{TITLES} titles" in shown.stderr and "image/s" in shown.stderr
    quiet = run_import(runner, tmp_path / "quiet", manifest, images, "--jobs", "2")  # not a terminal
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout == shown.stdout


def break_one_image(manifest, images):
    """t3's second image becomes a file that is not an image."""
    (images / json.loads(manifest.read_text())["titles"][3]["artwork"][1]["file"]).write_bytes(b"not an image")


def test_a_bad_image_under_two_jobs_imports_nothing_and_leaves_no_file(runner, tmp_path):
    manifest, images = write_catalog(tmp_path / "mine")
    break_one_image(manifest, images)
    data = tmp_path / "data"
    result = run_import(runner, data, manifest, images, "--jobs", "2")
    assert result.exit_code == 1
    assert "error: title 't3' artwork 't3-a1'" in result.stderr and "is not an image file" in result.stderr
    assert "1 problem(s); nothing imported" in result.stderr
    assert Store(data / "artwork.db").titles() == []
    assert image_files(data) == []


def test_skip_invalid_under_two_jobs_skips_the_bad_title_whole(runner, tmp_path):
    manifest, images = write_catalog(tmp_path / "mine")
    break_one_image(manifest, images)
    data = tmp_path / "data"
    result = run_import(runner, data, manifest, images, "--jobs", "2", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Imported {TITLES - 1} title(s); skipped 1 invalid.\n"
    titles, shas = stored(data)
    assert [t["id"] for t in titles] == [f"t{t}" for t in range(TITLES) if t != 3]
    assert not any(art_id.startswith("t3-") for art_id, _ in shas)
    # No file of t3's good images is kept: only the imported titles' files are there.
    assert image_files(data) == sorted({Store(data / "artwork.db").image(a, s)["file"] for a, s in shas})


def die_on_title_zero(root, files):
    """Stands in for the worker's image preparation: the worker process dies on t0's images."""
    if files and files[0].startswith("t0/"):
        os._exit(3)
    return importer_prepare_images(root, files)


def raise_on_title_two(root, files):
    if files and files[0].startswith("t2/"):
        raise MemoryError("cannot allocate the image")
    return importer_prepare_images(root, files)


importer_prepare_images = importer._prepare_images


def test_a_worker_that_dies_is_a_clear_error_naming_the_title_and_nothing_is_written(runner, tmp_path, monkeypatch):
    # The pool pickles the function by name, so its spawned workers import this module and run it.
    monkeypatch.setattr(importer, "_prepare_images", die_on_title_zero)
    manifest, images = write_catalog(tmp_path / "mine")
    data = tmp_path / "data"
    result = run_import(runner, data, manifest, images, "--jobs", "2")
    assert result.exit_code == 1
    assert "Error: a worker process stopped" in result.stderr
    assert "while title 't0' was being prepared" in result.stderr and "nothing imported" in result.stderr
    assert "Traceback" not in result.output
    assert Store(data / "artwork.db").titles() == []
    assert image_files(data) == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failure_outside_the_checks_names_the_title(runner, tmp_path, monkeypatch, jobs):
    monkeypatch.setattr(importer, "_prepare_images", raise_on_title_two)
    manifest, images = write_catalog(tmp_path / "mine")
    data = tmp_path / "data"
    result = run_import(runner, data, manifest, images, "--jobs", jobs, "--skip-invalid")
    assert result.exit_code == 1
    assert ("Error: preparing title 't2' failed: MemoryError: cannot allocate the image; nothing imported"
            in result.stderr)
    assert "Traceback" not in result.output
    assert Store(data / "artwork.db").titles() == []
    assert image_files(data) == []


def test_titles_in_flight_are_bounded_however_long_the_manifest(tmp_path, monkeypatch):
    """Memory stays bounded: a title is handed to a worker only when at most 2 per worker are
    ahead of the one being consumed."""
    manifest, images = write_catalog(tmp_path / "mine")
    submitted = []
    check = importer._check
    monkeypatch.setattr(importer, "_check", lambda *args: submitted.append(args[0]) or check(*args))
    titles = json.loads(manifest.read_text())["titles"]
    outcomes = importer.prepare_titles(titles, images, jobs=2)
    for consumed, outcome in enumerate(outcomes, start=1):
        assert outcome.problems == [] and outcome.images == PER_TITLE
        assert len(submitted) <= consumed - 1 + 2 * 2
    assert submitted == list(range(1, TITLES + 1))


def test_an_import_on_postgresql_keeps_every_image_in_the_database(runner, tmp_path, fresh_database, monkeypatch):
    """With ARTWORK_DATABASE_URL the staged images go into the database, not the data directory:
    a host with an empty disk serves each imported image's exact bytes."""
    from artwork.postgres import PostgresStore

    monkeypatch.setenv("ARTWORK_DATABASE_URL", fresh_database)
    manifest, images = write_catalog(tmp_path / "mine")
    result = run_import(runner, tmp_path / "host-a", manifest, images, "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert not [name for name in image_files(tmp_path / "host-a") if not name.startswith(".")]
    store = PostgresStore(fresh_database)
    try:
        titles = store.titles()
        assert [t["id"] for t in titles] == [f"t{t}" for t in range(TITLES)]
        for title in titles:
            for art in title["artwork"]:
                for size in ("poster", "thumb"):
                    name = store.image(art["id"], size)["file"]
                    copy = store.local_copy(tmp_path / "host-b" / "images", name, "image")
                    assert copy is not None and hashlib.sha256(copy.read_bytes()).hexdigest()[:20] == name.split(".")[0]
    finally:
        store.close()
