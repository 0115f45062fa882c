"""Integrity: ``artwork check`` (the database's own check of its pages, the checksum of every
checkpoint of both loops' models, an image for every active artwork) and the quick check a
server runs before it starts, which refuses a damaged database with a message naming the
problem and the way back."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from .storage import ARTWORK, PERSONALIZER, Loop, Storage, StoreDamaged, damaged_message

#: How long (seconds) the start check's page check (SQLite's ``quick_check``) may run before the
#: server starts anyway, having checked the structure and as many pages as that allowed.
START_CHECK_SECONDS = 2.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finding:
    """One part of ``artwork check``'s report: what was checked, and the problems found."""

    part: str
    summary: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check_at_start(store: Storage, *, seconds: float = START_CHECK_SECONDS) -> bool:
    """Refuse a damaged database before a server starts: raise ``StoreDamaged`` with the problem
    and the way back. Checks the structure (SQLite: the schema, the first and last entry of every
    table and index, where appended rows land) and then the pages (``quick_check``) for at most
    ``seconds`` (0: structure only). Returns whether the page check ran to the end."""
    problems, complete = store.integrity_problems(full=False, seconds=seconds)
    if problems:
        path = getattr(store, "path", None)
        raise StoreDamaged(damaged_message(path, "; ".join(problems[:3])) if path is not None
                           else "the database is damaged: " + "; ".join(problems[:3]))
    return complete


def check(store: Storage, paths: dict[str, Path]) -> list[Finding]:
    """Everything ``artwork check`` checks, one ``Finding`` per part (the database, checkpoints,
    images). ``paths`` is ``catalog.data_paths`` of the data directory."""
    return [check_database(store), check_checkpoints(store, paths["models"]), check_images(store, paths["images"])]


def check_database(store: Storage) -> Finding:
    """The database's own check of every page (SQLite's ``integrity_check``)."""
    problems, _ = store.integrity_problems(full=True)
    if hasattr(store, "path"):
        summary = f"SQLite integrity_check of {store.path}"
    else:
        summary = ("PostgreSQL answers and its tables read; its pages are checked by its own tools "
                   "(amcheck: verify_heapam, bt_index_check; pg_checksums on a stopped cluster)")
    return Finding(part="database", summary=summary, problems=tuple(problems))


def checkpointed_loops(models_dir: Path) -> tuple[tuple[Loop, Path], ...]:
    """Each loop whose own model is checkpointed, with the folder of its checkpoint files: the
    artwork loop's ``models/``, the Personalizer loop's ``models/personalizer/``."""
    # Imported here: personalizer.py imports the learner and with it prometheus_client's metrics,
    # which `serve --workers` must not create before it names their multiprocess folder, and the
    # CLI imports this module (check_at_start) before that.
    from .personalizer import models_dir as personalizer_models

    return (ARTWORK, Path(models_dir)), (PERSONALIZER, personalizer_models(models_dir))


def check_checkpoints(store: Storage, models_dir: Path) -> Finding:
    """Every recorded checkpoint of each loop's own model (``checkpointed_loops``) has its file
    there with the bytes its checksum names."""
    problems, counts = [], []
    for loop, folder in checkpointed_loops(models_dir):
        rows = store.all_checkpoints(loop=loop)
        counts.append(f"{len(rows)} of the {loop.name} loop's model")
        named = "checkpoint" if loop is ARTWORK else f"{loop.name} checkpoint"
        problems += [f"{named} {row['file']} (epoch {row['epoch']}, seq {row['seq']}) is missing or fails its "
                     "SHA-256" for row in rows
                     if store.local_copy(folder, row["file"], "checkpoint", row["sha256"], loop=loop) is None]
    return Finding(part="checkpoints", summary=f"{', '.join(counts)}; SHA-256 of each",
                   problems=tuple(problems))


def check_images(store: Storage, images_dir: Path) -> Finding:
    """Every active artwork has images, and each image file is there with the bytes its
    content-addressed name names."""
    rows = store.active_artwork_images()
    problems = [f"artwork {row['artwork_id']} has no image" for row in rows if row["file"] is None]
    files = sorted({row["file"] for row in rows if row["file"] is not None})
    for name in files:
        path = store.local_copy(images_dir, name, "image")
        if path is None:
            problems.append(f"image {name} is missing")
        elif not name.startswith(hashlib.sha256(path.read_bytes()).hexdigest()[:20]):
            problems.append(f"image {name} does not hold the bytes its name was made from")
    artworks = len({row["artwork_id"] for row in rows})
    return Finding(part="images", summary=f"{artworks} active artwork(s), {len(files)} image file(s)",
                   problems=tuple(problems))
