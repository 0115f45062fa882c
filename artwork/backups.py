"""Backups of a SQLite data directory while the service runs, and restoring one.

A backup is one tar file: ``manifest.json`` (format, time, and the SHA-256 and size of every
other member), ``artwork.db`` (SQLite's online backup: the log as of one moment), the model
checkpoints that copy's checkpoint rows name, of each loop's own model (the artwork loop's in
``models/``, the Personalizer loop's in ``models/personalizer/``: ``integrity.checkpointed_loops``),
copied after it, so each one's ``seq`` is within the copied learn queue (a checkpoint learned only
events committed before its row was), with each folder's ``latest.json`` pointing at its loop's
newest, and the image files. So the log and the models agree: the restored service loads each
loop's newest checkpoint and relearns the rest of the restored queue, the model a fresh learner
of that queue would have. A checkpoint deleted by a newer one between the copy and the packing
is left out, its row with it (an older one, or the log, stands in for it). A running
experiment's candidate arms' checkpoints are left out, rows and files: a restored learner
rebuilds them from the log (restoring also removes ``models/candidates``).

With PostgreSQL the log and the model snapshots are both in the database: its own tools
(pg_dump, pg_basebackup) back them up together (README, "Integrity and backups").
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from .experiments import candidate_loop
from .integrity import checkpointed_loops
from .storage import LATEST, Loop, Store, database_in_use, file_sha256

#: Format 2 added the Personalizer loop's checkpoints (``models/personalizer/``); a format 1
#: backup (the artwork loop's only) restores as it did.
FORMAT = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
DATABASE = "artwork.db"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why, for the command line."""


def _member_folder(models_dir: Path, folder: Path) -> str:
    """A loop's checkpoint folder as the backup names it: ``models`` or ``models/personalizer``."""
    return (Path("models") / Path(folder).relative_to(models_dir)).as_posix()


def member_folders() -> frozenset[str]:
    """The folders a backup's members are in (besides the database)."""
    return frozenset({"images", *(_member_folder(Path("models"), folder)
                                  for _, folder in checkpointed_loops(Path("models")))})


def backup(store: Store, paths: dict[str, Path], out: Path) -> dict:
    """Write a backup of the data directory ``paths`` (``catalog.data_paths``), whose database
    ``store`` has open, to the tar file ``out`` (written beside it, then renamed into place).
    Returns the manifest: {"format", "created_ts", "decisions", "checkpoints" (the artwork
    loop's model's), "personalizer_checkpoints", "files"}."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix=".artwork-backup-", dir=out.parent) as tmp:
        db_copy = Path(tmp) / DATABASE
        store.backup_to(db_copy)
        members = {DATABASE: db_copy}
        kept: dict[str, int] = {}
        copy = Store(db_copy)
        try:
            for key in copy.checkpoint_models():  # a running experiment's candidate arms relearn the log
                copy.forget_checkpoints(candidate_loop(key))
            for loop, folder in checkpointed_loops(paths["models"]):
                kept[loop.name] = _copy_checkpoints(store, copy, loop, folder,
                                                    _member_folder(paths["models"], folder), Path(tmp), members)
            decisions = copy.log_totals()["impressions"]
        finally:
            copy.close()
            del copy  # its locks and connections, before the folder goes
        images = paths["images"]
        if images.is_dir():
            for path in sorted(images.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    members["images/" + path.name] = path
        manifest = {"format": FORMAT, "created_ts": time.time(), "decisions": decisions,
                    "checkpoints": kept["artwork"], "personalizer_checkpoints": kept["personalizer"],
                    "files": {name: {"sha256": file_sha256(path), "bytes": path.stat().st_size}
                              for name, path in members.items()}}
        partial = Path(tmp) / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(manifest["created_ts"])
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, out)
    return manifest


def _copy_checkpoints(store: Store, copy: Store, loop: Loop, folder: Path, member_folder: str, tmp: Path,
                      members: dict[str, Path]) -> int:
    """Copy the checkpoint files of ``loop``'s own model that the database ``copy`` names from
    ``folder`` into ``tmp``, as members ``member_folder/<file>``, with a ``latest.json`` naming
    the newest of the copy's current epoch; forget in ``copy`` those that could not be had intact.
    Returns how many were kept."""
    saved_dir = tmp / member_folder
    saved_dir.mkdir(parents=True, exist_ok=True)
    kept = []
    for row in copy.all_checkpoints(loop=loop):
        saved = saved_dir / row["file"]
        source = store.local_copy(folder, row["file"], "checkpoint", row["sha256"], loop=loop)
        intact = False
        if source is not None:
            with contextlib.suppress(FileNotFoundError):  # deleted since, by a newer checkpoint
                shutil.copyfile(source, saved)
                intact = file_sha256(saved) == row["sha256"]
        if not intact:
            copy.forget_checkpoint(row["file"], loop=loop)
            continue
        members[f"{member_folder}/{row['file']}"] = saved
        kept.append(row)
    epoch = copy.current_epoch(loop=loop)["epoch"]
    current = [row for row in kept if row["epoch"] == epoch]
    if current:
        latest = saved_dir / LATEST
        latest.write_text(json.dumps(max(current, key=lambda row: row["seq"])))
        members[f"{member_folder}/{LATEST}"] = latest
    return len(kept)


def _member_path(name: str) -> bool:
    """Whether a member name is one a backup writes (no absolute path, no '..', known folders)."""
    folder, _, base = name.rpartition("/")
    return name == DATABASE or (folder in member_folders() and base not in ("", ".", ".."))


def read_manifest(archive: Path) -> dict:
    """The manifest of a backup, after checking every member against its SHA-256 and size."""
    try:
        with tarfile.open(archive, "r") as tar:
            try:
                manifest = json.load(tar.extractfile(MANIFEST))
            except (KeyError, ValueError) as exc:
                raise BackupError(f"{archive} is not an artwork backup (no readable {MANIFEST}: {exc})") from None
            if manifest.get("format") not in READABLE_FORMATS:
                raise BackupError(f"{archive} is a backup of format {manifest.get('format')!r}; this version "
                                  f"reads formats {', '.join(map(str, READABLE_FORMATS))}")
            files = manifest["files"]
            seen = set()
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if member.name not in files or not member.isfile():
                    raise BackupError(f"{archive}: unexpected member {member.name!r}")
                digest = hashlib.file_digest(tar.extractfile(member), "sha256").hexdigest()
                if digest != files[member.name]["sha256"] or member.size != files[member.name]["bytes"]:
                    raise BackupError(f"{archive}: {member.name} fails its checksum; the backup is damaged")
                seen.add(member.name)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None
    missing = set(files) - seen
    if missing or DATABASE not in files or not all(_member_path(name) for name in files):
        raise BackupError(f"{archive}: incomplete or unexpected members ({', '.join(sorted(missing)) or 'names'})")
    return manifest


def restore(archive: Path, paths: dict[str, Path], *, force: bool = False) -> dict:
    """Install the backup ``archive`` into the data directory ``paths`` (``catalog.data_paths``).
    Refuses (``BackupError``) a damaged archive, and, unless ``force``, a data directory that
    has a database already or whose database a process of this host has open. Returns the manifest."""
    db = paths["db"]
    if db.exists() and not force:
        if database_in_use(db):
            raise BackupError(f"{db} is in use by a running process (a server, a learner or a command): stop it "
                              "first, or pass --force to replace the database under it anyway")
        raise BackupError(f"{paths['data_dir']} has a database already: pass --force to replace it")
    manifest = read_manifest(archive)
    paths["data_dir"].mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".artwork-restore-", dir=paths["data_dir"]) as tmp:
        with tarfile.open(archive, "r") as tar:
            tar.extractall(tmp, members=[m for m in tar if m.name in manifest["files"]], filter="data")
        for name in manifest["files"]:  # checked in the archive; checked again as written
            if file_sha256(Path(tmp) / name) != manifest["files"][name]["sha256"]:
                raise BackupError(f"{name} changed while it was unpacked; nothing was restored")
        loops = [(_member_folder(paths["models"], folder), folder) for _, folder in checkpointed_loops(paths["models"])]
        for member_folder, folder in [("images", paths["images"]), *loops]:
            folder.mkdir(parents=True, exist_ok=True)
            for path in sorted((Path(tmp) / member_folder).glob("*")):
                if path.is_file() and path.name != LATEST:
                    os.replace(path, folder / path.name)
        for _, folder in loops:
            (folder / LATEST).unlink(missing_ok=True)  # points at the old log's model
        shutil.rmtree(paths["models"] / "candidates", ignore_errors=True)  # the old log's candidate arms
        for suffix in ("-wal", "-shm"):  # the old database's: SQLite would replay them into the new one
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        os.replace(Path(tmp) / DATABASE, db)
        for member_folder, folder in loops:
            if (Path(tmp) / member_folder / LATEST).exists():
                os.replace(Path(tmp) / member_folder / LATEST, folder / LATEST)
    return manifest
