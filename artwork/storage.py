"""All SQLite access: schema migrations, the one write path, and per-thread readers.

Everything the service stores goes through ``Store``; moving the log to a server database is a
new implementation of this module, not a rewrite of the service (DESIGN.md, "Scale path").

Writes happen inside ``with store.write() as conn:``: a process-wide lock plus ``BEGIN
IMMEDIATE``, so a write transaction never fails half-way on a lock upgrade and the learn queue's
sequence numbers commit in the order they were assigned.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

BUSY_TIMEOUT_MS = 10_000
#: WAL size (pages) at which a committing serving process checkpoints anyway: a backstop only,
#: for when no learner runs; the learner checkpoints after each round (``Store.checkpoint_wal``).
BACKSTOP_WAL_PAGES = 10_000
#: How long the learner's WAL restart waits for readers while writers wait for it.
RESTART_WAIT_MS = 5
#: Idle connections kept per process for the next request.
POOL_SIZE = 16

migrations = Migrations("artwork")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE titles (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            genres TEXT NOT NULL,            -- JSON list
            year INTEGER,
            synopsis TEXT,
            position INTEGER NOT NULL,
            updated_ts REAL NOT NULL
        );
        CREATE TABLE artworks (
            id TEXT PRIMARY KEY,
            title_id TEXT NOT NULL REFERENCES titles(id),
            position INTEGER NOT NULL,
            tags TEXT NOT NULL,              -- JSON object: theme, tone, subject, cast
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX artworks_title ON artworks(title_id, active, position);
        CREATE TABLE artwork_images (
            artwork_id TEXT NOT NULL REFERENCES artworks(id),
            size TEXT NOT NULL,
            file TEXT NOT NULL,              -- content-addressed name under images/, also the ETag
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            PRIMARY KEY (artwork_id, size)
        );
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            created_ts REAL NOT NULL,
            onboarding_genres TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE views (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            title_id TEXT NOT NULL REFERENCES titles(id),
            seconds REAL NOT NULL,
            at_ts REAL NOT NULL
        );
        CREATE INDEX views_user ON views(user_id, at_ts);
        CREATE TABLE ratings (
            user_id TEXT NOT NULL REFERENCES users(id),
            title_id TEXT NOT NULL REFERENCES titles(id),
            thumbs INTEGER NOT NULL CHECK (thumbs IN (-1, 1)),
            at_ts REAL NOT NULL,
            PRIMARY KEY (user_id, title_id)
        );
        -- One row per decision, written before the response is sent.
        CREATE TABLE impressions (
            event_id TEXT PRIMARY KEY,
            created_ts REAL NOT NULL,
            user_id TEXT NOT NULL,
            title_id TEXT NOT NULL,
            context TEXT NOT NULL,           -- JSON: time, time_bucket, day_type, device, affinity_source
            features TEXT NOT NULL,          -- JSON: {"shared": {...}, "actions": [{...}, ...]}
            candidates TEXT NOT NULL,        -- JSON list of artwork ids, in feature order
            pmf TEXT NOT NULL,               -- JSON list of probabilities, same order, sums to 1
            chosen_index INTEGER NOT NULL,
            artwork_id TEXT NOT NULL,
            probability REAL NOT NULL CHECK (probability > 0 AND probability <= 1),
            explored INTEGER NOT NULL,
            model_version INTEGER NOT NULL,
            policy TEXT NOT NULL,
            time_bucket TEXT NOT NULL,
            dominant_genre TEXT,
            deferred INTEGER NOT NULL DEFAULT 0,
            activated_ts REAL,
            state TEXT NOT NULL CHECK (state IN ('awaiting_activation', 'pending', 'final')),
            deadline_ts REAL,                -- when the reward wait window closes
            reward REAL,
            final_reason TEXT CHECK (final_reason IN ('outcome', 'window')),
            final_ts REAL
        );
        CREATE INDEX impressions_pending ON impressions(state, deadline_ts);
        CREATE INDEX impressions_user ON impressions(user_id);
        CREATE INDEX impressions_created ON impressions(created_ts);
        CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES impressions(event_id),
            kind TEXT NOT NULL CHECK (kind IN ('click', 'play', 'activate')),
            seconds REAL,
            received_ts REAL NOT NULL,
            effect TEXT NOT NULL
        );
        CREATE INDEX outcomes_event ON outcomes(event_id);
        -- The order in which final events are learned. The model is a function of this sequence.
        CREATE TABLE learn_queue (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE REFERENCES impressions(event_id),
            final_ts REAL NOT NULL
        );
        CREATE TABLE checkpoints (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL,            -- learn_queue.seq the model includes, inclusive
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,            -- of the file, checked before loading
            vw_args TEXT NOT NULL,
            created_ts REAL NOT NULL
        );
        """
    )


@migrations()
def m002_dismiss_outcome(db: sqlite_utils.Database) -> None:
    """Outcomes may be 'dismiss' (the person moved on): SQLite cannot alter a CHECK, so the
    table is rebuilt with its rows."""
    db.executescript(
        """
        CREATE TABLE outcomes_new (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES impressions(event_id),
            kind TEXT NOT NULL CHECK (kind IN ('click', 'play', 'activate', 'dismiss')),
            seconds REAL,
            received_ts REAL NOT NULL,
            effect TEXT NOT NULL
        );
        INSERT INTO outcomes_new (id, event_id, kind, seconds, received_ts, effect)
            SELECT id, event_id, kind, seconds, received_ts, effect FROM outcomes;
        DROP TABLE outcomes;
        ALTER TABLE outcomes_new RENAME TO outcomes;
        CREATE INDEX outcomes_event ON outcomes(event_id);
        """
    )


@migrations()
def m003_model_epochs(db: sqlite_utils.Database) -> None:
    """Model epochs: a reset or retrain starts a new epoch, whose model learns the learn queue
    from ``start_seq`` on (0: everything still in the log) with the epoch's VW arguments."""
    db.executescript(
        """
        CREATE TABLE model_epochs (
            epoch INTEGER PRIMARY KEY,
            start_seq INTEGER NOT NULL,      -- the model learns learn_queue events after this seq
            vw_args TEXT,                    -- NULL: the VW_ARGS setting
            reason TEXT NOT NULL,
            created_ts REAL NOT NULL
        );
        INSERT INTO model_epochs (epoch, start_seq, vw_args, reason, created_ts) VALUES (1, 0, NULL, 'initial', 0);
        ALTER TABLE checkpoints ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1;
        """
    )


@migrations()
def m004_no_index_on_decisions_by_person(db: sqlite_utils.Database) -> None:
    """Decisions are no longer indexed by person. With many people, each decision's entry in
    that index landed on a random page of an index as large as the log, the one part of a
    decision's write that grew with the log; deleting a person (rare) scans the log instead,
    in chunks outside the writer lock (``Store.scan_person_decisions``)."""
    db.execute("DROP INDEX IF EXISTS impressions_user")


class Store:
    """The project's SQLite database: one file, WAL mode, one writer at a time."""

    def __init__(self, path: str | Path, wal_autocheckpoint: int | None = None, *, durable: bool = True,
                 writes_per_commit: int = 1):
        """``wal_autocheckpoint``: WAL pages at which a commit also checkpoints (SQLite's
        default, 1000, if None). Serving processes that have a learner checkpointing for them
        pass ``BACKSTOP_WAL_PAGES``, so no decision waits for a checkpoint's copying and fsync.

        For simulated runs only (one thread, nothing acknowledged to anyone): ``durable=False``
        never waits for the disk (SQLite's ``synchronous = OFF``: a power loss may corrupt the
        file), and ``writes_per_commit`` > 1 commits once every that many ``write()`` blocks
        (and on ``flush`` and ``close``), each block still all or nothing (a savepoint)."""
        self.path = Path(path)
        self.wal_autocheckpoint = wal_autocheckpoint
        self.durable = durable
        self.writes_per_commit = int(writes_per_commit)
        if self.writes_per_commit < 1:
            raise ValueError(f"writes_per_commit must be at least 1, not {writes_per_commit!r}")
        self._uncommitted = 0
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_lock_fd = os.open(self.path.with_name(self.path.name + ".write-lock"),
                                       os.O_RDWR | os.O_CREAT, 0o644)
        # Several serving processes may open a new database at once: one migrates, the others wait.
        with open(self.path.with_name(self.path.name + ".migrate-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            db = sqlite_utils.Database(self._connect())
            db.enable_wal()
            migrations.apply(db)
            db.conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL + NORMAL survives a process crash with every committed transaction; only an OS
        # crash or power loss can drop the last transactions.
        conn.execute("PRAGMA synchronous = NORMAL" if self.durable else "PRAGMA synchronous = OFF")
        if self.wal_autocheckpoint is not None:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(self.wal_autocheckpoint)}")
        return conn

    def checkpoint_wal(self, restart_pages: int = 1000) -> tuple[int, int]:
        """Copy what the WAL holds into the database file; returns (WAL pages, pages copied).

        A PASSIVE checkpoint first, which waits for no reader or writer and does the copying.
        SQLite starts the WAL over only when no reader still uses it, which under steady load
        is never by chance: once the WAL holds ``restart_pages`` or more, a RESTART checkpoint
        (copying only what was appended meanwhile, then waiting for the readers of the moment)
        runs while writers wait on the writer lock, and the next write starts the WAL from the
        beginning. Measured under select load: the WAL peaks at about 6,000 pages instead of
        growing to the serving processes' backstop, and p99 went from 17 to 13 ms.
        """
        if self.writes_per_commit > 1:  # a batched (simulation) store: the batch's commits checkpoint
            return 0, 0
        conn = self.conn
        busy, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if wal_pages >= restart_pages:
            with self._writers_held():
                # Writers wait meanwhile, so never wait long for a reader (an export, say, can read
                # for minutes): if one still uses the WAL after a few milliseconds, try next round.
                conn.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
                try:
                    busy, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return wal_pages, copied

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection: taken from the pool (or opened) on first use, until
        ``close_thread`` gives it back. Opening one costs far more than a decision does."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._pool_lock:
                conn = self._pool.pop() if self._pool else None
            if conn is None:
                conn = self._connect()
            self._local.conn = conn
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.conn)

    def close_thread(self) -> None:
        """Give this thread's connection back to the pool (request teardown calls this)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        with self._pool_lock:
            if len(self._pool) < POOL_SIZE:
                self._pool.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every pooled connection and this thread's own (committing a batch first)."""
        self.flush()
        self.close_thread()
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    def __del__(self):
        fd = getattr(self, "_writer_lock_fd", None)
        if fd is not None:
            os.close(fd)

    @contextmanager
    def write(self):
        """One write transaction: commits on success, rolls back on any exception.

        Writers queue on a thread lock and then an ``flock`` on a file beside the database, so
        writers in other serving processes wait in the kernel's queue and wake the moment the
        lock is free; SQLite's own busy handler would sleep in growing steps (up to 100 ms)
        instead, which is what made tail latency under load.
        """
        if self.writes_per_commit > 1:
            with self._batched_write() as conn:
                yield conn
            return
        with self._writers_held():
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _batched_write(self):
        """``write`` for simulated runs: a savepoint inside a transaction that commits every
        ``writes_per_commit`` blocks. Single-threaded use only (the transaction stays open on
        this thread's connection between blocks)."""
        with self._write_lock:
            conn = self.conn
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            conn.execute("SAVEPOINT batched_write")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK TO batched_write")
                conn.execute("RELEASE batched_write")
                raise
            conn.execute("RELEASE batched_write")
            self._uncommitted += 1
            if self._uncommitted >= self.writes_per_commit:
                self.flush()

    def flush(self) -> None:
        """Commit the writes a batched store holds (nothing to do for a store that commits each)."""
        if self.writes_per_commit == 1:
            return
        with self._write_lock:
            conn = getattr(self._local, "conn", None)
            if conn is not None and conn.in_transaction:
                conn.execute("COMMIT")
            self._uncommitted = 0

    @contextmanager
    def _writers_held(self):
        """Every writer, of this process and of the others, waits while this is held: a thread
        lock, then an ``flock`` on a file beside the database."""
        with self._write_lock:
            fcntl.flock(self._writer_lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._writer_lock_fd, fcntl.LOCK_UN)

    def scan_person_decisions(self, user_id: str, chunk: int = 50_000) -> tuple[list[str], tuple | None]:
        """The event ids of a person's decisions, read in chunks of ``chunk`` rows, each its own
        read transaction: nothing waits for the scan. Returns them with the log's last row when
        the scan began, (rowid, event id) or None: a caller re-checks each id under the writer
        lock (the log may have moved on) and looks past that rowid for decisions made meanwhile,
        which holds only while that row still exists (``impressions`` has no AUTOINCREMENT:
        once the newest rows are deleted, SQLite hands their rowids out again)."""
        last = self.conn.execute("SELECT rowid, event_id FROM impressions ORDER BY rowid DESC LIMIT 1").fetchone()
        last = tuple(last) if last is not None else None
        top = last[0] if last else 0
        found: list[str] = []
        for start in range(0, top, chunk):
            found += [r[0] for r in self.conn.execute(
                "SELECT event_id FROM impressions WHERE rowid > ? AND rowid <= ? AND user_id = ?",
                (start, min(start + chunk, top), user_id))]
        return found, last

    def query(self, sql: str, params=()) -> list[dict]:
        return [dict(row) for row in self.conn.execute(sql, params)]

    def query_one(self, sql: str, params=()) -> dict | None:
        row = self.conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def scalar(self, sql: str, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    # Catalog --------------------------------------------------------------------------------

    def has_catalog(self) -> bool:
        return bool(self.scalar("SELECT EXISTS (SELECT 1 FROM titles)"))

    def put_title(self, conn: sqlite3.Connection, title: dict, images: dict, now: float) -> None:
        """Insert or replace one title and its artwork inside the caller's write transaction.

        ``images`` maps artwork id -> size -> {"file", "width", "height", "bytes"}. Artwork that
        the title had before and no longer lists is retired (kept, inactive), because logged
        decisions still refer to it.
        """
        position = conn.execute(
            "SELECT coalesce((SELECT position FROM titles WHERE id = ?),"
            " (SELECT coalesce(max(position), -1) + 1 FROM titles))", (title["id"],)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO titles (id, name, genres, year, synopsis, position, updated_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
            " genres = excluded.genres, year = excluded.year, synopsis = excluded.synopsis,"
            " updated_ts = excluded.updated_ts",
            (title["id"], title["name"], json.dumps(title["genres"]), title.get("year"),
             title.get("synopsis"), position, now),
        )
        conn.execute("UPDATE artworks SET active = 0 WHERE title_id = ?", (title["id"],))
        for index, art in enumerate(title["artwork"]):
            owner = conn.execute("SELECT title_id FROM artworks WHERE id = ?", (art["id"],)).fetchone()
            if owner is not None and owner[0] != title["id"]:
                raise ValueError(f"artwork id {art['id']!r} already belongs to title {owner[0]!r}")
            conn.execute(
                "INSERT INTO artworks (id, title_id, position, tags, active) VALUES (?, ?, ?, ?, 1)"
                " ON CONFLICT(id) DO UPDATE SET position = excluded.position, tags = excluded.tags,"
                " active = 1",
                (art["id"], title["id"], index, json.dumps(art["tags"])),
            )
            for size, meta in images.get(art["id"], {}).items():
                conn.execute(
                    "INSERT OR REPLACE INTO artwork_images (artwork_id, size, file, width, height, bytes)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (art["id"], size, meta["file"], meta["width"], meta["height"], meta["bytes"]),
                )

    def titles(self) -> list[dict]:
        """Every title in catalog order with its active artwork, as plain dicts (the service
        reads them through its in-memory ``Catalog``)."""
        rows = self.query("SELECT * FROM titles ORDER BY position")
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        arts = self.query(
            f"SELECT id, title_id, tags FROM artworks WHERE active = 1 AND title_id IN ({marks})"
            " ORDER BY title_id, position", [r["id"] for r in rows])
        by_title: dict[str, list] = {}
        for art in arts:
            by_title.setdefault(art["title_id"], []).append({"id": art["id"], "tags": json.loads(art["tags"])})
        return [
            {"id": r["id"], "name": r["name"], "genres": json.loads(r["genres"]), "year": r["year"],
             "synopsis": r["synopsis"], "artwork": by_title.get(r["id"], [])}
            for r in rows
        ]

    def genre_vocabulary(self) -> set[str]:
        return {g for (genres,) in self.conn.execute("SELECT genres FROM titles") for g in json.loads(genres)}

    # Model epochs ---------------------------------------------------------------------------

    def current_epoch(self) -> dict:
        return self.query_one("SELECT * FROM model_epochs ORDER BY epoch DESC LIMIT 1")

    @staticmethod
    def new_epoch(conn: sqlite3.Connection, start_seq: int, vw_args: str | None, reason: str, now: float) -> int:
        """Start a new model epoch inside the caller's write transaction; returns its number."""
        conn.execute("INSERT INTO model_epochs (start_seq, vw_args, reason, created_ts) VALUES (?, ?, ?, ?)",
                     (start_seq, vw_args, reason, now))
        return conn.execute("SELECT max(epoch) FROM model_epochs").fetchone()[0]

    # Reward join ------------------------------------------------------------------------------

    @staticmethod
    def finalize(conn: sqlite3.Connection, event_id: str, reward: float, reason: str, now: float) -> bool:
        """Make an event's reward final and queue it for learning, inside the caller's write
        transaction. Returns False (and changes nothing) if it was not pending: an event enters
        the learn queue at most once, which the UNIQUE constraint on learn_queue backs up."""
        changed = conn.execute(
            "UPDATE impressions SET state = 'final', reward = ?, final_reason = ?, final_ts = ?"
            " WHERE event_id = ? AND state = 'pending'", (reward, reason, now, event_id)).rowcount
        if changed:
            conn.execute("INSERT INTO learn_queue (event_id, final_ts) VALUES (?, ?)", (event_id, now))
        return bool(changed)

    def image(self, artwork_id: str, size: str) -> dict | None:
        return self.query_one("SELECT * FROM artwork_images WHERE artwork_id = ? AND size = ?",
                              (artwork_id, size))
