"""Reading and validating a user's own catalog: a manifest file plus a folder of images.

This module only reads and checks; storing the result is the caller's job. Problems with the
manifest's structure raise ``ManifestError``; problems with a title's content are collected
per title, and a title with any problem is left out whole, so a catalog is never half-imported
one title at a time. ``prepare_titles`` streams a catalog of any size, its images prepared in
worker processes (spawned, so a script that calls it with ``jobs`` > 1 needs the usual
``if __name__ == "__main__":`` guard), each title yielded in manifest order.

Manifest formats
----------------

Chosen by file extension. Both are UTF-8 (a leading byte-order mark, as spreadsheets write,
is fine); ``file`` is a path relative to the images folder, with ``/`` between folders.

**JSON** (``.json``)::

    {"titles": [
      {"id": "x1", "name": "My Film", "genres": ["drama", "romance"],
       "year": 2020, "synopsis": "One sentence.",
       "artwork": [
         {"id": "x1-a1", "file": "x1/couple.png",
          "tags": {"theme": "romance", "tone": "warm", "subject": "close-up",
                   "cast": ["Ana Lee", "Sam Ortiz"]}},
         {"id": "x1-a2", "file": "x1/storm.jpg",
          "tags": {"theme": "drama", "tone": "dark", "subject": "landscape", "cast": []}}]}]}

``year``, ``synopsis`` and ``cast`` may be left out (or null); every other key shown is
required, and keys not shown are refused so a typo cannot go unnoticed. An artwork may say
``"default": true``: the title's default artwork, which an experiment's fixed control arm shows
(at most one per title; with none marked, the first artwork is the default). In a CSV
manifest the optional column ``default`` says it: ``true`` on that artwork's row (``false`` or
empty on the others).

**CSV** (``.csv``), one row per artwork, with a header row::

    title_id,title_name,genres,artwork_id,file,theme,tone,subject,cast
    x1,My Film,drama;romance,x1-a1,x1/couple.png,romance,warm,close-up,Ana Lee;Sam Ortiz
    x1,My Film,drama;romance,x1-a2,x1/storm.jpg,drama,dark,landscape,

``genres`` and ``cast`` are ``;``-separated. Optional columns ``year`` and ``synopsis`` may
be added. A title's fields (``title_name``, ``genres``, ``year``, ``synopsis``) are repeated on
each of its rows and must agree. Columns may come in any order; unknown columns are refused.

Rules
-----

The limits are those of ``rules.py``, which the upload's JSON schema (``schemas.CATALOG_UPLOAD``)
reads too:

- Title and artwork ids: 1-64 characters from ``A-Z a-z 0-9 _ . -``, starting with a letter
  or digit. Title ids are unique, and artwork ids are unique across the whole manifest.
- ``name``: not empty, at most 200 characters. ``synopsis``: at most 1000 characters.
  ``year``: a whole number from 1870 to 2100.
- ``genres``: 1 to 10; each a lowercase token of letters, digits and ``-`` starting with
  a letter, at most 32 characters (``sci-fi``). Genres beyond the built-in ten are welcome and
  join the vocabulary.
- ``theme``: a built-in genre or any genre a title of the manifest uses. ``tone``: one of
  dark, bright, warm, cool, muted. ``subject``: one of close-up, ensemble, scene, landscape,
  title-logo. ``cast``: up to 10 names of at most 100 characters.
- 1 to 20 artworks per title.
- Images: JPEG, PNG, WEBP or GIF (first frame), at most 20 MB and 40 megapixels, each side at
  least 64 px, inside the images folder (no ``..``, absolute paths, or symlinks leading out).
  They are centre-cropped to 16:9 and re-encoded at the service's sizes.
"""

import csv
import json
import multiprocessing
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from . import rules, vocab
from .images import ImageRejected, encode_sizes, load_image_file
from .rules import MAX_ARTWORKS, MAX_CAST, MAX_CAST_NAME, MAX_GENRES_PER_TITLE, MAX_NAME, MAX_SYNOPSIS

ID_PATTERN = rules.pattern(rules.CATALOG_ID_REGEX)
GENRE_PATTERN = rules.pattern(rules.GENRE_REGEX)
YEARS = range(rules.YEARS[0], rules.YEARS[1] + 1)

CSV_REQUIRED = ("title_id", "title_name", "genres", "artwork_id", "file", "theme", "tone",
                "subject", "cast")
CSV_OPTIONAL = ("year", "synopsis", "default")
#: What the CSV column ``default`` may say.
CSV_BOOLEANS = {"true": True, "false": False, "": False}

_TITLE_KEYS = {"id": True, "name": True, "genres": True, "artwork": True, "year": False,
               "synopsis": False}
_ARTWORK_KEYS = {"id": True, "file": True, "tags": True, "default": False}
_TAG_KEYS = {"theme": True, "tone": True, "subject": True, "cast": False}


class ManifestError(ValueError):
    """The manifest cannot be read as a catalog at all (syntax or structure)."""


@dataclass(frozen=True)
class PreparedTitle:
    """A title that passed every check, with its images encoded at each of images.SIZES."""

    title: dict  # the demo catalog's shape: id, name, genres, year, synopsis, artwork
    images: dict[str, dict[str, bytes]]  # artwork id -> size name -> JPEG bytes


# --------------------------------------------------------------------------- reading


def read_manifest(path) -> list[dict]:
    """Title dicts in the demo catalog's shape, each artwork with its ``file``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ManifestError(f"{path}: manifest must be a .json or .csv file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ManifestError(f"{path}: cannot be read ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: is not UTF-8 text ({e.reason} at byte {e.start})") from e
    if suffix == ".json":
        return _read_json(text, path)
    return _read_csv(text, path)


def _read_json(text: str, path: Path) -> list[dict]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: line {e.lineno} column {e.colno}: {e.msg}") from e
    if not isinstance(doc, dict) or set(doc) != {"titles"} or not isinstance(doc["titles"], list):
        raise ManifestError(f'{path}: must be an object with one key, "titles", holding a list')
    titles = []
    for i, raw in enumerate(doc["titles"]):
        where = f"{path}: titles[{i}]"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where += f" ({raw['id']!r})"
        _check_keys(raw, _TITLE_KEYS, where)
        artwork = []
        for j, art in enumerate(_typed(raw["artwork"], list, f"{where}.artwork")):
            art_where = f"{where}.artwork[{j}]"
            _check_keys(art, _ARTWORK_KEYS, art_where)
            tags = art["tags"]
            _check_keys(tags, _TAG_KEYS, f"{art_where}.tags")
            artwork.append({
                "id": _typed(art["id"], str, f"{art_where}.id"),
                "file": _typed(art["file"], str, f"{art_where}.file"),
                "default": _typed(art.get("default", False), bool, f"{art_where}.default"),
                "tags": {
                    "theme": _typed(tags["theme"], str, f"{art_where}.tags.theme"),
                    "tone": _typed(tags["tone"], str, f"{art_where}.tags.tone"),
                    "subject": _typed(tags["subject"], str, f"{art_where}.tags.subject"),
                    "cast": _strings(tags.get("cast") or [], f"{art_where}.tags.cast"),
                },
            })
        year = raw.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            raise ManifestError(f"{where}.year: must be a whole number, not {year!r}")
        titles.append({
            "id": _typed(raw["id"], str, f"{where}.id"),
            "name": _typed(raw["name"], str, f"{where}.name"),
            "genres": _strings(raw["genres"], f"{where}.genres"),
            "year": year,
            "synopsis": _typed(raw.get("synopsis") or "", str, f"{where}.synopsis"),
            "artwork": artwork,
        })
    return titles


def _check_keys(obj, keys: dict[str, bool], where: str) -> None:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: must be an object")
    missing = [k for k, required in keys.items() if required and k not in obj]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(obj) - set(keys))
    if unknown:
        raise ManifestError(f"{where}: unknown key {', '.join(unknown)} "
                            f"(allowed: {', '.join(keys)})")


def _typed(value, kind: type, where: str):
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: must be a {'list' if kind is list else 'string'}, "
                            f"not {value!r}")
    return value


def _strings(value, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{where}: must be a list of strings, not {value!r}")
    return list(value)


def _read_csv(text: str, path: Path) -> list[dict]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(f"{path}: is empty; the first line must be the header") from None
    except csv.Error as e:
        raise ManifestError(f"{path}: line 1: {e}") from e
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL]
    doubled = sorted(c for c, n in Counter(header).items() if n > 1)
    if missing or unknown or doubled:
        problems = [f"missing column {', '.join(missing)}" if missing else "",
                    f"unknown column {', '.join(unknown)}" if unknown else "",
                    f"repeated column {', '.join(doubled)}" if doubled else ""]
        raise ManifestError(f"{path}: line 1 (header): {'; '.join(p for p in problems if p)} "
                            f"(columns: {','.join(CSV_REQUIRED)}, optional {','.join(CSV_OPTIONAL)})")

    titles: dict[str, dict] = {}
    first_line: dict[str, tuple[int, dict]] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise ManifestError(f"{path}: line {line}: expected {len(header)} fields, "
                                    f"found {len(cells)}")
            row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
            fields = {
                "title_name": row["title_name"],
                "genres": _split(row["genres"]),
                "year": _csv_year(row.get("year", ""), f"{path}: line {line}"),
                "synopsis": row.get("synopsis", ""),
            }
            tid = row["title_id"]
            if tid not in titles:
                first_line[tid] = (line, fields)
                titles[tid] = {"id": tid, "name": fields["title_name"], "genres": fields["genres"],
                               "year": fields["year"], "synopsis": fields["synopsis"], "artwork": []}
            else:
                earlier, known = first_line[tid]
                for key, value in fields.items():
                    if value != known[key]:
                        raise ManifestError(
                            f"{path}: line {line}: column {key} of title {tid!r} is {value!r} "
                            f"but line {earlier} says {known[key]!r}; title fields must agree")
            marked = row.get("default", "").lower()
            if marked not in CSV_BOOLEANS:
                raise ManifestError(f"{path}: line {line}: column default must be true, false or empty, "
                                    f"not {row['default']!r}")
            titles[tid]["artwork"].append({
                "id": row["artwork_id"],
                "file": row["file"],
                "tags": {"theme": row["theme"], "tone": row["tone"], "subject": row["subject"],
                         "cast": _split(row["cast"])},
                **({"default": True} if CSV_BOOLEANS[marked] else {}),
            })
    except csv.Error as e:
        raise ManifestError(f"{path}: line {reader.line_num}: {e}") from e
    return list(titles.values())


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _csv_year(cell: str, where: str) -> int | None:
    if not cell:
        return None
    try:
        return int(cell)
    except ValueError:
        raise ManifestError(f"{where}: column year: {cell!r} is not a whole number") from None


# --------------------------------------------------------------------------- validating


class PreparationFailed(RuntimeError):
    """Preparing a title stopped for a reason outside the checks (a worker process that died,
    a bug): the import cannot go on. The message names the title."""


@dataclass(frozen=True)
class TitleOutcome:
    """One manifest entry, prepared: the title if it passed every check, else its problems."""

    prepared: PreparedTitle | None
    problems: list[str]
    images: int  # image files looked at, for progress


@dataclass(frozen=True)
class _Checked:
    """A title after the checks that need the whole manifest but no pixels (done in the main
    process); ``files`` are what a worker decodes, one per artwork that is an object."""

    label: str
    title: dict
    problems: list[str]  # the title's own, then per artwork (images' added later)
    artwork: list[tuple[str, list[str], dict | None]]  # (label, own problems, artwork object)
    files: list


def prepare_import(titles: list[dict], images_dir, *,
                   known_genres: Iterable[str] = vocab.GENRES) -> tuple[list[PreparedTitle], list[str]]:
    """Check every title and encode its images in this process; returns (good titles, error
    messages). Holds every encoded image: for uploads of bounded size; ``prepare_titles``
    streams a catalog of any size.

    Never raises for a title's content: each problem becomes a message naming the title (and
    artwork and file), and that title is left out of the result.
    """
    prepared, errors = [], []
    for outcome in prepare_titles(titles, images_dir, known_genres=known_genres, jobs=1):
        errors += outcome.problems
        if outcome.prepared is not None:
            prepared.append(outcome.prepared)
    return prepared, errors


def prepare_titles(titles: list[dict], images_dir, *, known_genres: Iterable[str] = vocab.GENRES,
                   jobs: int = 1) -> Iterator[TitleOutcome]:
    """Check and encode the titles, yielding one ``TitleOutcome`` per manifest entry, in
    manifest order whatever ``jobs`` is, so an import's result does not depend on it.

    With ``jobs`` > 1 the images (decoding, checks, resizing, encoding: the CPU-bound part)
    are prepared in that many worker processes, with at most ``2 * jobs`` titles in flight so
    memory stays bounded whatever the catalog's size; ``jobs`` = 1 works in this process.
    Raises ``PreparationFailed`` naming the title if a worker dies or fails outside the checks.
    """
    root = Path(images_dir).resolve()
    dicts = [t if isinstance(t, dict) else {} for t in titles]
    manifest_genres = {g for t in dicts for g in _list(t.get("genres"))
                       if isinstance(g, str) and GENRE_PATTERN.fullmatch(g)}
    themes = set(known_genres) | manifest_genres
    title_ids = Counter(t["id"] for t in dicts if isinstance(t.get("id"), str))
    artwork_owners = defaultdict(list)
    for t in dicts:
        for art in _list(t.get("artwork")):
            if isinstance(art, dict) and isinstance(art.get("id"), str):
                artwork_owners[art["id"]].append(t.get("id"))

    checked = (_check(index, raw, t, themes, title_ids, artwork_owners)
               for index, (raw, t) in enumerate(zip(titles, dicts, strict=True), start=1))
    # Starting a worker costs about as much as a title: no more workers than titles.
    for title, images in _in_order(checked, root, max(1, min(jobs, len(titles)))):
        yield _assemble(title, images)


def _check(index: int, raw, t: dict, themes: set[str], title_ids: Counter, owners: dict) -> _Checked:
    label = f"title {t['id']!r}" if isinstance(t.get("id"), str) else f"title #{index}"
    if not isinstance(raw, dict):
        return _Checked(label, t, [f"{label}: must be an object, not {raw!r}"], [], [])
    problems = [f"{label}: {p}" for p in _check_title(t, title_ids)]
    artwork, files = [], []
    for number, art in enumerate(_list(t.get("artwork")), start=1):
        aid = art.get("id") if isinstance(art, dict) else None
        art_label = f"{label} artwork {aid!r}" if isinstance(aid, str) else f"{label} artwork #{number}"
        if not isinstance(art, dict):
            artwork.append((art_label, ["must be an object"], None))
            continue
        artwork.append((art_label, _check_artwork(art, themes, owners, t.get("id")), art))
        files.append(art.get("file"))
    return _Checked(label, t, problems, artwork, files)


def _prepare_images(root: Path, files: list) -> list[tuple[dict[str, bytes] | None, str | None]]:
    """A title's images, each encoded or with the reason it cannot be used (the worker's job)."""
    return [_prepare_image(root, file) for file in files]


def _in_order(checked: Iterator[_Checked], root: Path, jobs: int):
    """(title, its prepared images) for each checked title, in order; images in ``jobs`` processes."""
    if jobs == 1:
        for title in checked:
            try:
                images = _prepare_images(root, title.files)
            except Exception as exc:  # not a refusal (those are returned): a bug, an exhausted machine
                raise _failed(title, exc) from exc
            yield title, images
        return
    # spawn, not fork: the caller may hold threads (a progress bar's monitor, a server's) and
    # forking a threaded process can deadlock the child.
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    in_flight: deque[tuple[_Checked, Future]] = deque()
    try:
        for title in checked:
            in_flight.append((title, pool.submit(_prepare_images, root, title.files)))
            if len(in_flight) >= 2 * jobs:
                yield _next_done(in_flight)
        while in_flight:
            yield _next_done(in_flight)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _next_done(in_flight: deque) -> tuple[_Checked, list]:
    title, future = in_flight.popleft()
    try:
        return title, future.result()
    except BrokenProcessPool:
        beside = [t.label for t, _ in in_flight]
        others = f" (also in flight, any of which may be the cause: {', '.join(beside)})" if beside else ""
        raise PreparationFailed(f"a worker process stopped (killed, out of memory, or crashed in an "
                                f"image decoder) while {title.label} was being prepared{others}") from None
    except Exception as exc:
        raise _failed(title, exc) from exc


def _failed(title: _Checked, exc: Exception) -> PreparationFailed:
    return PreparationFailed(f"preparing {title.label} failed: {type(exc).__name__}: {exc}")


def _assemble(checked: _Checked, images: list) -> TitleOutcome:
    """The title with its encoded images, or every problem found, in the manifest's order."""
    t, problems = checked.title, list(checked.problems)
    artwork, encoded_images = [], {}
    prepared_images = iter(images)
    for art_label, own, art in checked.artwork:
        if art is not None:
            encoded, image_problem = next(prepared_images)
            own = own + ([image_problem] if image_problem else [])
        problems += [f"{art_label}: {p}" for p in own]
        if not own:
            tags = art["tags"]
            cast = [name.strip() for name in tags.get("cast") or []]
            artwork.append({"id": art["id"], "tags": {"theme": tags["theme"], "tone": tags["tone"],
                                                      "subject": tags["subject"], "cast": cast},
                            "default": art.get("default") is True})
            encoded_images[art["id"]] = encoded
    if problems:
        return TitleOutcome(None, problems, len(checked.files))
    return TitleOutcome(PreparedTitle({
        "id": t["id"],
        "name": t["name"].strip(),
        "genres": list(dict.fromkeys(t["genres"])),
        "year": t.get("year"),
        "synopsis": (t.get("synopsis") or "").strip(),
        "artwork": artwork,
    }, encoded_images), [], len(checked.files))


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _bad_id(value) -> str | None:
    if isinstance(value, str) and ID_PATTERN.fullmatch(value):
        return None
    return f"id {value!r} must be {rules.CATALOG_ID_INVALID}"


def _check_title(t: dict, title_ids: Counter) -> list[str]:
    tid = t.get("id")
    problems = [p for p in [_bad_id(tid)] if p]
    if not problems and title_ids[tid] > 1:
        problems.append(f"id appears {title_ids[tid]} times in the manifest")
    name = t.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name is empty")
    elif len(name) > MAX_NAME:
        problems.append(f"name is {len(name)} characters long (at most {MAX_NAME})")
    genres = t.get("genres")
    if not isinstance(genres, list) or not genres:
        problems.append("genres: at least one genre is needed")
    elif len(genres) > MAX_GENRES_PER_TITLE:
        problems.append(f"has {len(genres)} genres; a title takes 1 to {MAX_GENRES_PER_TITLE}")
    else:
        problems += [f"genre {g!r} must be lowercase letters, digits and '-', starting with a "
                     f"letter, at most {rules.GENRE_MAX_LENGTH} characters (like 'sci-fi')"
                     for g in genres if not isinstance(g, str) or not GENRE_PATTERN.fullmatch(g)]
    year = t.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int) or year not in YEARS):
        problems.append(f"year {year!r} must be a whole number from {YEARS[0]} to {YEARS[-1]}")
    synopsis = t.get("synopsis")
    if synopsis is not None and not isinstance(synopsis, str):
        problems.append(f"synopsis must be text, not {synopsis!r}")
    elif synopsis and len(synopsis) > MAX_SYNOPSIS:
        problems.append(f"synopsis is {len(synopsis)} characters long (at most {MAX_SYNOPSIS})")
    count = len(_list(t.get("artwork")))
    if not 1 <= count <= MAX_ARTWORKS:
        problems.append(f"has {count} artworks; a title needs 1 to {MAX_ARTWORKS}")
    defaults = [a.get("id") for a in _list(t.get("artwork")) if isinstance(a, dict) and a.get("default") is True]
    if len(defaults) > 1:
        problems.append(f"marks {len(defaults)} artworks as its default ({', '.join(map(repr, defaults))}); "
                        "at most one")
    return problems


def _check_artwork(art: dict, themes: set[str], owners: dict, title_id) -> list[str]:
    aid = art.get("id")
    problems = [p for p in [_bad_id(aid)] if p]
    if not problems and len(owners[aid]) > 1:
        others = sorted({str(o) for o in owners[aid] if o != title_id})
        problems.append(f"artwork id is also used by title {', '.join(map(repr, others))}" if others
                        else "artwork id is used more than once in this title")
    tags = art.get("tags")
    if not isinstance(tags, dict):
        return problems + ["tags must be an object with theme, tone, subject and cast"]
    theme, tone, subject = tags.get("theme"), tags.get("tone"), tags.get("subject")
    if not isinstance(theme, str) or theme not in themes:
        problems.append(f"theme {theme!r} is not a built-in genre or a genre of a title "
                        "in this manifest")
    if tone not in vocab.TONES:
        problems.append(f"tone {tone!r} is not one of {', '.join(vocab.TONES)}")
    if subject not in vocab.SUBJECTS:
        problems.append(f"subject {subject!r} is not one of {', '.join(vocab.SUBJECTS)}")
    cast = tags.get("cast") or []
    if not isinstance(cast, list) or not all(isinstance(n, str) and n.strip() for n in cast):
        problems.append(f"cast must be a list of names, not {cast!r}")
    elif len(cast) > MAX_CAST or any(len(n) > MAX_CAST_NAME for n in cast):
        problems.append(f"cast allows up to {MAX_CAST} names of at most {MAX_CAST_NAME} characters")
    return problems


def _prepare_image(root: Path, file) -> tuple[dict[str, bytes] | None, str | None]:
    """Encoded sizes of one artwork's image, or the reason it cannot be used."""
    if not isinstance(file, str) or not file.strip():
        return None, "file is missing"
    posix, windows = PurePosixPath(file), PureWindowsPath(file)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in windows.parts:
        return None, f"file {file!r} must be a path inside the images folder (no '..' or absolute paths)"
    path = (root / posix).resolve()
    if not path.is_relative_to(root):
        return None, f"file {file!r} leads outside the images folder (through a symlink)"
    if not path.is_file():
        return None, f"{file} does not exist in the images folder"
    try:
        return encode_sizes(load_image_file(path)), None
    except ImageRejected as e:
        return None, f"{file} {e.reason}"
