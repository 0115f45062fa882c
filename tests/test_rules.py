"""One source for each rule (artwork/rules.py): the importer (``artwork import``, from files) and
the admin upload (``POST /api/v1/admin/catalog``, whose schema /openapi.json publishes) accept and
refuse the same manifests, at each limit and one past it."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image

from artwork import rules
from artwork.importer import ManifestError, prepare_import, read_manifest
from artwork.openapi import make_validator
from artwork.schemas import CATALOG_UPLOAD, TITLE_ID, USER_ID

TOKEN = "s3cret-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIRST_YEAR, LAST_YEAR = rules.YEARS


def _id(prefix: str, length: int) -> str:
    return (prefix + "x" * length)[:length]


def _title(key: str, **change) -> dict:
    """A valid title whose ids start with ``key`` (each case imports titles of its own)."""
    artwork = [{"id": key.lstrip("-")[:3] + "-a", "file": "one.png",
                "tags": {"theme": "drama", "tone": "dark", "subject": "scene", "cast": ["Ana Lee"]}}]
    title = {"id": key, "name": "Boundary", "genres": ["drama"], "year": 2000, "synopsis": "One line.",
             "artwork": artwork}
    title.update(change)
    return title


def _artworks(key: str, n: int) -> list[dict]:
    return [{"id": f"{key}-a{i}", "file": "one.png", "tags": {"theme": "drama", "tone": "warm", "subject": "scene"}}
            for i in range(n)]


def _cast(key: str, cast) -> list[dict]:
    return [{"id": f"{key}-a", "file": "one.png",
             "tags": {"theme": "drama", "tone": "dark", "subject": "scene", "cast": cast}}]


#: (case, title, accepted): each limit at its edge and one past it.
CASES = [
    ("plain", _title("c00"), True),
    ("title id at the limit", _title(_id("c01", rules.CATALOG_ID_MAX_LENGTH)), True),
    ("title id one past", _title(_id("c02", rules.CATALOG_ID_MAX_LENGTH + 1)), False),
    ("title id with ':'", _title("c03:x"), False),
    ("title id starting with '-'", _title("-c04"), False),
    ("artwork id at the limit", _title("c05", artwork=[{**_title("c05")["artwork"][0],
                                                         "id": _id("c05-a", rules.CATALOG_ID_MAX_LENGTH)}]), True),
    ("artwork id one past", _title("c06", artwork=[{**_title("c06")["artwork"][0],
                                                     "id": _id("c06-a", rules.CATALOG_ID_MAX_LENGTH + 1)}]), False),
    ("name at the limit", _title("c07", name="n" * rules.MAX_NAME), True),
    ("name one past", _title("c08", name="n" * (rules.MAX_NAME + 1)), False),
    ("empty name", _title("c09", name=""), False),
    ("synopsis at the limit", _title("c10", synopsis="s" * rules.MAX_SYNOPSIS), True),
    ("synopsis one past", _title("c11", synopsis="s" * (rules.MAX_SYNOPSIS + 1)), False),
    ("no synopsis", _title("c12", synopsis=None), True),
    ("first year", _title("c13", year=FIRST_YEAR), True),
    ("year before the first", _title("c14", year=FIRST_YEAR - 1), False),
    ("last year", _title("c15", year=LAST_YEAR), True),
    ("year after the last", _title("c16", year=LAST_YEAR + 1), False),
    ("no year", _title("c17", year=None), True),
    ("genres at the limit", _title("c18", genres=[f"g{i}" for i in range(rules.MAX_GENRES_PER_TITLE)]), True),
    ("genres one past", _title("c19", genres=[f"g{i}" for i in range(rules.MAX_GENRES_PER_TITLE + 1)]), False),
    ("no genre", _title("c20", genres=[]), False),
    ("genre name at the limit", _title("c21", genres=["g" * rules.GENRE_MAX_LENGTH]), True),
    ("genre name one past", _title("c22", genres=["g" * (rules.GENRE_MAX_LENGTH + 1)]), False),
    ("artworks at the limit", _title("c23", artwork=_artworks("c23", rules.MAX_ARTWORKS)), True),
    ("artworks one past", _title("c24", artwork=_artworks("c24", rules.MAX_ARTWORKS + 1)), False),
    ("no artwork", _title("c25", artwork=[]), False),
    ("cast at the limit", _title("c26", artwork=_cast("c26", [f"Name {i}" for i in range(rules.MAX_CAST)])), True),
    ("cast one past", _title("c27", artwork=_cast("c27", [f"Name {i}" for i in range(rules.MAX_CAST + 1)])), False),
    ("cast name at the limit", _title("c28", artwork=_cast("c28", ["c" * rules.MAX_CAST_NAME])), True),
    ("cast name one past", _title("c29", artwork=_cast("c29", ["c" * (rules.MAX_CAST_NAME + 1)])), False),
    ("no cast", _title("c30", artwork=_cast("c30", None)), True),
    ("unknown tone", _title("c31", artwork=[{**_title("c31")["artwork"][0],
                                              "tags": {"theme": "drama", "tone": "neon", "subject": "scene"}}]), False),
]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (320, 180), (200, 60, 40)).save(folder / "one.png")
    return folder


def importer_accepts(tmp_path, images, title: dict) -> bool:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"titles": [title]}), encoding="utf-8")
    try:
        prepared, errors = prepare_import(read_manifest(path), images)
    except ManifestError:
        return False
    return not errors and [p.title["id"] for p in prepared] == [title["id"]]


def upload_body(images, title: dict) -> dict:
    image = base64.b64encode((images / "one.png").read_bytes()).decode()
    return {**title, "artwork": [{"id": a["id"], "tags": a["tags"], "image_base64": image} for a in title["artwork"]]}


def schema_accepts(body: dict) -> bool:
    """What /openapi.json promises: the upload's schema alone."""
    return make_validator(CATALOG_UPLOAD).is_valid({"titles": [body]})


def upload_accepts(client, body: dict) -> bool:
    r = client.post("/api/v1/admin/catalog", json={"titles": [body]}, headers=AUTH)
    assert r.status_code in (200, 400), (r.status_code, r.get_json())
    return r.status_code == 200 and r.get_json()["imported"] == [body["id"]]


def test_importer_schema_and_admin_upload_agree_at_every_boundary(make_app, tmp_path, images):
    client = make_app(ADMIN_TOKEN=TOKEN).test_client()
    wrong = {}
    for case, title, expected in CASES:
        body = upload_body(images, title)
        got = (importer_accepts(tmp_path, images, title), schema_accepts(body), upload_accepts(client, body))
        if got != (expected,) * 3:
            wrong[case] = got
    assert not wrong, f"(importer, published schema, upload) accepted differently from the rule: {wrong}"


def test_the_published_schema_states_the_importers_limits(client):
    doc = client.get("/openapi.json").get_json()["components"]["schemas"]["CatalogUpload"]
    title = doc["properties"]["titles"]["items"]["properties"]
    assert (title["year"]["minimum"], title["year"]["maximum"]) == rules.YEARS == (1870, 2100)
    assert title["synopsis"]["maxLength"] == rules.MAX_SYNOPSIS == 1000
    assert title["name"]["maxLength"] == rules.MAX_NAME
    assert title["id"]["maxLength"] == rules.CATALOG_ID_MAX_LENGTH == 64
    assert title["id"]["pattern"] == rules.CATALOG_ID_REGEX
    assert title["genres"]["maxItems"] == rules.MAX_GENRES_PER_TITLE
    assert title["artwork"]["maxItems"] == rules.MAX_ARTWORKS
    # Ids in requests keep the general rule (README, "Who may do what"): up to 128 characters.
    assert USER_ID["maxLength"] == TITLE_ID["maxLength"] == rules.ID_MAX_LENGTH == 128
