import csv
import io
import json
import os

import pytest
from PIL import Image

from artwork.images import SIZES
from artwork.importer import ManifestError, PreparedTitle, prepare_import, read_manifest

CSV_HEADER = ["title_id", "title_name", "genres", "artwork_id", "file", "theme", "tone",
              "subject", "cast", "year", "synopsis"]


def _image(path, colour=(200, 60, 40), size=(320, 180), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)
    return path


def _catalog():
    """Two titles: one uses a genre outside the built-in vocabulary as a theme."""
    return [
        {"id": "x1", "name": "Dust and Daylight", "genres": ["western", "drama"], "year": 1999,
         "synopsis": "A sheriff, a drought, and one last well.",
         "artwork": [
             {"id": "x1-a1", "file": "x1/one.png",
              "tags": {"theme": "western", "tone": "warm", "subject": "landscape", "cast": []}},
             {"id": "x1-a2", "file": "x1/two.jpg",
              "tags": {"theme": "romance", "tone": "dark", "subject": "close-up",
                       "cast": ["Ana Lee", "Sam Ortiz"]}},
         ]},
        {"id": "x2", "name": "Tiny Giants", "genres": ["documentary"],
         "artwork": [
             {"id": "x2-a1", "file": "x2.webp",
              "tags": {"theme": "documentary", "tone": "bright", "subject": "scene"}},
         ]},
    ]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    _image(folder / "x1" / "one.png")
    _image(folder / "x1" / "two.jpg", (20, 30, 200), size=(600, 900))
    _image(folder / "x2.webp", (40, 160, 90), fmt="WEBP")
    return folder


def _write_json(tmp_path, titles, name="catalog.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"titles": titles}), encoding="utf-8")
    return path


def _write_csv(tmp_path, rows, header=CSV_HEADER, name="catalog.csv"):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")  # spreadsheets write a BOM
    return path


def _csv_rows(titles):
    return [[t["id"], t["name"], ";".join(t["genres"]), a["id"], a["file"], a["tags"]["theme"],
             a["tags"]["tone"], a["tags"]["subject"], ";".join(a["tags"].get("cast", [])),
             t.get("year") or "", t.get("synopsis", "")]
            for t in titles for a in t["artwork"]]


def _prepare(titles, images):
    prepared, errors = prepare_import(titles, images)
    return {p.title["id"]: p for p in prepared}, errors


# --------------------------------------------------------------------------- good manifests


def test_good_json_manifest_imports(tmp_path, images):
    titles = read_manifest(_write_json(tmp_path, _catalog()))
    prepared, errors = _prepare(titles, images)
    assert errors == []
    assert list(prepared) == ["x1", "x2"]
    x1 = prepared["x1"]
    assert isinstance(x1, PreparedTitle)
    assert x1.title == {
        "id": "x1", "name": "Dust and Daylight", "genres": ["western", "drama"], "year": 1999,
        "synopsis": "A sheriff, a drought, and one last well.",
        "artwork": [
            {"id": "x1-a1", "tags": {"theme": "western", "tone": "warm", "subject": "landscape",
                                     "cast": []}, "default": False},
            {"id": "x1-a2", "tags": {"theme": "romance", "tone": "dark", "subject": "close-up",
                                     "cast": ["Ana Lee", "Sam Ortiz"]}, "default": False},
        ]}
    assert prepared["x2"].title["year"] is None and prepared["x2"].title["synopsis"] == ""
    for p in prepared.values():
        assert set(p.images) == {a["id"] for a in p.title["artwork"]}
        for sizes in p.images.values():
            for name, data in sizes.items():
                with Image.open(io.BytesIO(data)) as im:
                    assert im.format == "JPEG" and im.size == SIZES[name]


def test_good_csv_manifest_matches_json(tmp_path, images):
    from_json, _ = _prepare(read_manifest(_write_json(tmp_path, _catalog())), images)
    from_csv, errors = _prepare(read_manifest(_write_csv(tmp_path, _csv_rows(_catalog()))), images)
    assert errors == []
    assert {k: p.title for k, p in from_csv.items()} == {k: p.title for k, p in from_json.items()}
    assert from_csv["x1"].images == from_json["x1"].images


def test_csv_optional_columns_may_be_left_out(tmp_path, images):
    rows = [row[:9] for row in _csv_rows(_catalog())]
    titles = read_manifest(_write_csv(tmp_path, rows, header=CSV_HEADER[:9]))
    assert [t["year"] for t in titles] == [None, None]
    assert _prepare(titles, images)[1] == []


# --------------------------------------------------------------------------- per-title refusals


def test_bad_image_refuses_only_its_title(tmp_path, images):
    (images / "x1" / "two.jpg").write_text("not really a jpeg")
    prepared, errors = _prepare(_catalog(), images)
    assert list(prepared) == ["x2"]
    assert len(errors) == 1
    assert "title 'x1' artwork 'x1-a2'" in errors[0]
    assert "x1/two.jpg is not an image file" in errors[0]


def test_missing_image_is_reported(images):
    titles = _catalog()
    titles[1]["artwork"][0]["file"] = "nowhere.png"
    prepared, errors = _prepare(titles, images)
    assert list(prepared) == ["x1"]
    assert errors == ["title 'x2' artwork 'x2-a1': nowhere.png does not exist in the images folder"]


@pytest.mark.parametrize("file", ["../secret.png", "x1/../../secret.png", "..\\secret.png"])
def test_path_traversal_is_refused(tmp_path, images, file):
    _image(tmp_path / "secret.png")
    titles = _catalog()
    titles[1]["artwork"][0]["file"] = file
    prepared, errors = _prepare(titles, images)
    assert "x2" not in prepared
    assert "inside the images folder" in errors[0] and "title 'x2'" in errors[0]


def test_absolute_path_is_refused(tmp_path, images):
    titles = _catalog()
    titles[1]["artwork"][0]["file"] = str(_image(tmp_path / "elsewhere.png"))
    prepared, errors = _prepare(titles, images)
    assert "x2" not in prepared and "inside the images folder" in errors[0]


def test_symlink_leading_outside_is_refused(tmp_path, images):
    outside = _image(tmp_path / "outside" / "secret.png")
    try:
        os.symlink(outside.parent, images / "link")
    except OSError:
        pytest.skip("symlinks not available")
    titles = _catalog()
    titles[1]["artwork"][0]["file"] = "link/secret.png"
    prepared, errors = _prepare(titles, images)
    assert "x2" not in prepared and "leads outside the images folder" in errors[0]


def test_symlink_inside_the_folder_is_fine(images):
    try:
        os.symlink(images / "x1", images / "alias")
    except OSError:
        pytest.skip("symlinks not available")
    titles = _catalog()
    titles[1]["artwork"][0]["file"] = "alias/one.png"
    assert _prepare(titles, images)[1] == []


@pytest.mark.parametrize("field, value", [
    ("tone", "dusky"),
    ("subject", "portrait"),
    ("theme", "noir"),
    ("tone", "Dark"),
])
def test_bad_tag_is_refused_naming_the_field(images, field, value):
    titles = _catalog()
    titles[0]["artwork"][1]["tags"][field] = value
    prepared, errors = _prepare(titles, images)
    assert list(prepared) == ["x2"]
    assert len(errors) == 1
    assert errors[0].startswith(f"title 'x1' artwork 'x1-a2': {field} {value!r} is not ")


def test_theme_may_use_a_genre_from_another_title(images):
    titles = _catalog()
    titles[1]["artwork"][0]["tags"]["theme"] = "western"  # only x1 lists western
    assert _prepare(titles, images)[1] == []


def test_duplicate_ids_are_refused(images):
    titles = _catalog()
    titles[1]["artwork"][0]["id"] = "x1-a1"
    prepared, errors = _prepare(titles, images)
    assert prepared == {}
    assert any("title 'x1' artwork 'x1-a1'" in e and "also used by title 'x2'" in e for e in errors)
    assert any("title 'x2' artwork 'x1-a1'" in e and "also used by title 'x1'" in e for e in errors)

    titles = _catalog()
    titles[1]["id"] = "x1"
    titles[1]["artwork"][0]["id"] = "x1-a9"
    prepared, errors = _prepare(titles, images)
    assert prepared == {}
    assert errors.count("title 'x1': id appears 2 times in the manifest") == 2


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(id="bad id"), "id 'bad id' must be"),
    (lambda t: t.update(name="  "), "name is empty"),
    (lambda t: t.update(name="n" * 201), "name is 201 characters long"),
    (lambda t: t.update(genres=[]), "at least one genre"),
    (lambda t: t.update(genres=["Sci Fi"]), "genre 'Sci Fi' must be lowercase"),
    (lambda t: t.update(year=1492), "year 1492 must be"),
    (lambda t: t.update(artwork=[]), "has 0 artworks"),
    (lambda t: t.update(artwork=t["artwork"] * 11), "has 22 artworks"),
    (lambda t: t["artwork"][0].update(id="a/b"), "id 'a/b' must be"),
    (lambda t: t["artwork"][0]["tags"].update(cast=["x" * 101]), "cast allows up to"),
])
def test_title_rules(images, change, message):
    titles = _catalog()
    change(titles[0])
    prepared, errors = _prepare(titles, images)
    assert list(prepared) == ["x2"]
    assert any(message in e for e in errors), errors


def test_garbage_is_reported_not_raised(images):
    titles = [None, {"id": ["x"], "genres": "drama", "artwork": [7, {"tags": "warm"}]}, *_catalog()]
    prepared, errors = _prepare(titles, images)
    assert list(prepared) == ["x1", "x2"]
    assert errors[0].startswith("title #1: must be an object")
    assert all(e.startswith("title #") for e in errors)


# --------------------------------------------------------------------------- structural errors


def _manifest_error(path) -> str:
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    return str(info.value)


def test_json_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"titles": [\n  {"id": "x1",}\n]}')
    assert "line 2" in _manifest_error(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda doc: doc.update(films=[]), 'one key, "titles"'),
    (lambda doc: doc["titles"][0].update(synopis="typo"), "titles[0] ('x1'): unknown key synopis"),
    (lambda doc: doc["titles"][0].pop("name"), "titles[0] ('x1'): missing name"),
    (lambda doc: doc["titles"][1]["artwork"][0]["tags"].pop("tone"),
     "titles[1] ('x2').artwork[0].tags: missing tone"),
    (lambda doc: doc["titles"][0].update(genres="drama"), "titles[0] ('x1').genres: must be a list"),
    (lambda doc: doc["titles"][0].update(year="1999"), "titles[0] ('x1').year: must be a whole number"),
])
def test_json_structure_errors(tmp_path, mutate, message):
    doc = {"titles": _catalog()}
    mutate(doc)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    assert message in _manifest_error(path)


def test_csv_header_must_have_the_columns(tmp_path):
    path = _write_csv(tmp_path, [], header=["title_id", "title_name", "genre"])
    error = _manifest_error(path)
    assert "line 1" in error and "missing column genres" in error and "unknown column genre" in error


def test_csv_title_fields_must_agree(tmp_path):
    rows = _csv_rows(_catalog())
    rows[1][1] = "Dust & Daylight"
    error = _manifest_error(_write_csv(tmp_path, rows))
    assert "line 3" in error and "title_name" in error and "line 2" in error


def test_csv_row_problems_name_the_line(tmp_path):
    rows = _csv_rows(_catalog())
    rows[2][9] = "nineteen"
    assert "line 4: column year" in _manifest_error(_write_csv(tmp_path, rows))
    rows = _csv_rows(_catalog())
    rows[1] = rows[1][:5]
    assert "line 3: expected 11 fields, found 5" in _manifest_error(_write_csv(tmp_path, rows))


def test_unknown_manifest_type_and_missing_file(tmp_path):
    assert ".json or .csv" in _manifest_error(tmp_path / "catalog.yaml")
    assert "cannot be read" in _manifest_error(tmp_path / "absent.json")
