"""Putting titles and their images into a data directory: the demo catalog and imports.

Image files are content-addressed (their name is a hash of their bytes), so they are kept first
(``Storage.put_image_files``: files in the data directory, or rows of a database that keeps the
bytes) and the rows that point at them are committed afterwards in one transaction: a failure
at any point leaves at most unreferenced files, never a half-written title.

``Catalog`` is the serving side: the titles with their active artwork, held in memory.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from .features import TitleParts, title_parts
from .images import SIZES, content_name, encode_sizes, render_artwork
from .storage import Storage


def data_paths(data_dir: str | Path) -> dict[str, Path]:
    """The data directory's parts, as absolute paths: a relative ``./artwork-data`` means the
    folder the command was started in, whatever the code later resolves files against."""
    data_dir = Path(data_dir).resolve()
    return {"data_dir": data_dir, "db": data_dir / "artwork.db", "images": data_dir / "images",
            "models": data_dir / "models"}


def _named(encoded: dict[str, bytes]) -> tuple[dict[str, dict], dict[str, bytes]]:
    """One artwork's encoded sizes as ``put_titles`` takes them (size -> {"file", "width",
    "height", "bytes"}), and as content-addressed files (name -> bytes)."""
    written, files = {}, {}
    for size, data in encoded.items():
        name = content_name(data)
        files[name] = data
        width, height = SIZES[size]
        written[size] = {"file": name, "width": width, "height": height, "bytes": len(data)}
    return written, files


def image_files(store: Storage, images_dir: Path, encoded: dict[str, bytes]) -> dict[str, dict]:
    """Keep one artwork's encoded sizes (``Storage.put_image_files``); returns size -> {"file",
    "width", "height", "bytes"}."""
    written, files = _named(encoded)
    store.put_image_files(images_dir, files)
    return written


def install_titles(store: Storage, images_dir: Path, prepared: list[tuple[dict, dict[str, dict[str, bytes]]]],
                   now: float | None = None) -> int:
    """Store titles with their encoded images, all in one transaction. Returns the count.

    ``prepared`` holds ``(title, {artwork_id: {size: jpeg bytes}})`` pairs.
    """
    now = time.time() if now is None else now
    files = [
        (title, {art_id: image_files(store, images_dir, sizes) for art_id, sizes in encoded.items()})
        for title, encoded in prepared
    ]
    store.put_titles(files, now)
    return len(files)


class StagedImages:
    """An import's image files, kept in a hidden folder inside the images folder until its
    titles are committed: an import holds file names, not images, in memory however large the
    catalog, and a refused or stopped import leaves no image behind.

    ``with StagedImages(store, images_dir) as staged:`` ``staged.add`` each title's images, then
    ``staged.publish()`` just before committing the rows that name them; leaving the block
    removes whatever was not published.
    """

    #: Staged files handed to ``Storage.put_image_files`` at a time (bounds the memory publishing takes).
    PUBLISH_BATCH = 256

    def __init__(self, store: Storage, images_dir: Path):
        images_dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.images_dir = images_dir
        self.folder = Path(tempfile.mkdtemp(prefix=".import-", dir=images_dir))

    def add(self, encoded: dict[str, dict[str, bytes]]) -> dict[str, dict]:
        """Write one title's images ({artwork id: {size: JPEG bytes}}) aside; returns them as
        ``Storage.put_titles`` takes them."""
        described = {}
        for art_id, sizes in encoded.items():
            described[art_id], files = _named(sizes)
            for name, data in files.items():
                (self.folder / name).write_bytes(data)
        return described

    def publish(self) -> None:
        """Keep the staged files where the store keeps images (``Storage.put_image_files``: the
        images folder, or the database), a batch at a time. A name already kept holds the same
        bytes (names are content hashes)."""
        paths = sorted(self.folder.iterdir())
        for start in range(0, len(paths), self.PUBLISH_BATCH):
            batch = paths[start:start + self.PUBLISH_BATCH]
            self.store.put_image_files(self.images_dir, {path.name: path.read_bytes() for path in batch})

    def __enter__(self) -> StagedImages:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def install_demo(store: Storage, images_dir: Path, progress=None) -> int:
    """Render the bundled demo catalog's artwork with Pillow and store it."""
    from .demo_catalog import demo_titles

    prepared = []
    titles = demo_titles()
    for title in titles:
        encoded = {art["id"]: encode_sizes(render_artwork(title, art)) for art in title["artwork"]}
        prepared.append((title, encoded))
        if progress is not None:
            progress(1)
    return install_titles(store, images_dir, prepared)


def default_index(artwork: list[dict]) -> int:
    """The index of a title's default artwork among its active artwork (in catalog order): the
    one the catalog marks (``"default": true`` in a manifest or upload), else the first. The
    experiments' fixed control shows it (``experiments.arm_pmf``)."""
    return next((i for i, art in enumerate(artwork) if art.get("default")), 0)


def image_urls(artwork_id: str) -> dict:
    return {"image_url": f"/images/{artwork_id}/poster.jpg",
            "thumbnail_url": f"/images/{artwork_id}/thumb.jpg"}


class Catalog:
    """The titles with their active artwork, held in memory for ``ttl`` seconds.

    Every decision reads the catalog and imports change it rarely, so requests do not go to the
    database for it; an import (possibly by another process) is seen within ``ttl`` seconds.
    """

    def __init__(self, store: Storage, ttl: float):
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._ordered: list[dict] = []
        self._by_id: dict[str, dict] = {}
        self._parts: dict[str, tuple[dict, TitleParts]] = {}
        self._vocabulary: frozenset[str] = frozenset()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl:
                return
            ordered = self.store.titles()
            self._by_id = {t["id"]: t for t in ordered}
            self._vocabulary = frozenset(g for t in ordered for g in t["genres"])
            self._ordered = ordered
            self._parts = {}
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def titles(self) -> list[dict]:
        self._fresh()
        return self._ordered

    def get(self, title_id: str) -> dict | None:
        self._fresh()
        return self._by_id.get(title_id)

    def vocabulary(self) -> frozenset[str]:
        self._fresh()
        return self._vocabulary

    def parts(self, title: dict) -> TitleParts:
        """``title``'s candidates in the forms a decision needs, built once per title as loaded."""
        entry = self._parts.get(title["id"])
        if entry is None or entry[0] is not title:  # first use, or a title from before a reload
            entry = self._parts[title["id"]] = (title, title_parts(title["artwork"]))
        return entry[1]
