"""The storage contract over PostgreSQL: one log that every serving host and learner shares.

``PostgresStore`` keeps everything in the database (titles, image bytes, the log, model
checkpoints with their bytes), so a host with an empty disk serves from it; its local folders
are only a cache (``Storage.local_copy``). Connections come from a ``psycopg_pool`` pool;
each write operation is one transaction.

Two things differ from SQLite, where one writer at a time gives commit order for free:

- **The learn queue is numbered after commit, under a lock.** Finalizing marks the event final
  and inserts it into ``finalized`` (unnumbered). ``_number`` later moves every committed row of
  ``finalized`` into ``learn_queue`` with the next numbers, in (final time, deadline, event id)
  order, in one statement under a transaction-level advisory lock. A transaction that finalized
  an event but commits late is simply numbered in a later round, after everything numbered
  before it: nobody ever reads past a number that a late commit could still take.
  ARCHITECTURE.md gives the argument in full.
- **One learner among all hosts**: ``AdvisoryLease``, a session-level advisory lock held on a
  connection of its own; PostgreSQL drops it when that session ends (the process died, or the
  connection was lost).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from .storage import (
    ARTWORK,
    CHECKPOINT_MODEL_SCHEMA,
    EXPERIMENT_SCHEMA,
    POOL_SIZE,
    LearnerLease,
    Loop,
    SQLStorage,
    StoreOpenError,
)

log = logging.getLogger(__name__)

#: Advisory lock keys (one 64-bit space per database): applying migrations, numbering the
#: learn queue, writing the catalog, and the learner's lease.
MIGRATE_LOCK, NUMBER_LOCK, CATALOG_LOCK, LEARNER_LOCK, EPOCH_LOCK = (
    0x617274_01, 0x617274_02, 0x617274_03, 0x617274_04, 0x617274_05)
#: Seconds to wait for the server when opening the store, and for a pooled connection.
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 10.0
#: TCP keepalive probes on the learner lease's connection (client side, libpq's parameters, and
#: server side, the session's settings): a vanished peer is noticed after about idle +
#: interval x count seconds, and a request unanswered for ``tcp_user_timeout`` ms fails.
LEASE_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 3, "keepalives_interval": 1, "keepalives_count": 3,
                    "tcp_user_timeout": 6000}
SERVER_KEEPALIVES = {"tcp_keepalives_idle": 3, "tcp_keepalives_interval": 1, "tcp_keepalives_count": 3}

#: The schema, as named migrations applied in order, each once (recorded in ``schema_migrations``).
MIGRATIONS: list[tuple[str, str]] = [("m001_initial", """
    CREATE TABLE titles (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        genres TEXT NOT NULL,
        year INTEGER,
        synopsis TEXT,
        position INTEGER NOT NULL,
        updated_ts DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE artworks (
        id TEXT PRIMARY KEY,
        title_id TEXT NOT NULL REFERENCES titles(id),
        position INTEGER NOT NULL,
        tags TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX artworks_title ON artworks(title_id, active, position);
    CREATE TABLE artwork_images (
        artwork_id TEXT NOT NULL REFERENCES artworks(id),
        size TEXT NOT NULL,
        file TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (artwork_id, size)
    );
    -- The image files themselves, content-addressed: hosts need no shared disk.
    CREATE TABLE image_files (
        file TEXT PRIMARY KEY,
        data BYTEA NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        created_ts DOUBLE PRECISION NOT NULL,
        onboarding_genres TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE views (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        title_id TEXT NOT NULL REFERENCES titles(id),
        seconds DOUBLE PRECISION NOT NULL,
        at_ts DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX views_user ON views(user_id, at_ts);
    CREATE TABLE ratings (
        user_id TEXT NOT NULL REFERENCES users(id),
        title_id TEXT NOT NULL REFERENCES titles(id),
        thumbs INTEGER NOT NULL CHECK (thumbs IN (-1, 1)),
        at_ts DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (user_id, title_id)
    );
    CREATE TABLE impressions (
        event_id TEXT PRIMARY KEY,
        created_ts DOUBLE PRECISION NOT NULL,
        user_id TEXT NOT NULL,
        title_id TEXT NOT NULL,
        context TEXT NOT NULL,
        features TEXT NOT NULL,
        candidates TEXT NOT NULL,
        pmf TEXT NOT NULL,
        chosen_index INTEGER NOT NULL,
        artwork_id TEXT NOT NULL,
        probability DOUBLE PRECISION NOT NULL CHECK (probability > 0 AND probability <= 1),
        explored INTEGER NOT NULL,
        model_version BIGINT NOT NULL,
        policy TEXT NOT NULL,
        time_bucket TEXT NOT NULL,
        dominant_genre TEXT,
        deferred INTEGER NOT NULL DEFAULT 0,
        activated_ts DOUBLE PRECISION,
        state TEXT NOT NULL CHECK (state IN ('awaiting_activation', 'pending', 'final')),
        deadline_ts DOUBLE PRECISION,
        reward DOUBLE PRECISION,
        final_reason TEXT CHECK (final_reason IN ('outcome', 'window')),
        final_ts DOUBLE PRECISION
    );
    CREATE INDEX impressions_pending ON impressions(deadline_ts) WHERE state = 'pending';
    -- Unlike SQLite's log (m004 there), indexed by person: a server database's index pages stay
    -- cached and deleting a person is then a lookup, not a scan.
    CREATE INDEX impressions_user ON impressions(user_id);
    CREATE INDEX impressions_created ON impressions(created_ts);
    CREATE TABLE outcomes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id TEXT NOT NULL REFERENCES impressions(event_id),
        kind TEXT NOT NULL CHECK (kind IN ('click', 'play', 'activate', 'dismiss')),
        seconds DOUBLE PRECISION,
        received_ts DOUBLE PRECISION NOT NULL,
        effect TEXT NOT NULL
    );
    CREATE INDEX outcomes_event ON outcomes(event_id);
    -- Final events not yet numbered: finalizing inserts here, numbering (under NUMBER_LOCK)
    -- moves them into learn_queue.
    CREATE TABLE finalized (
        event_id TEXT PRIMARY KEY REFERENCES impressions(event_id),
        final_ts DOUBLE PRECISION NOT NULL,
        deadline_ts DOUBLE PRECISION
    );
    CREATE TABLE learn_queue (
        seq BIGINT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE REFERENCES impressions(event_id),
        final_ts DOUBLE PRECISION NOT NULL
    );
    -- The last number given (never reused, even when purging deletes the newest entries).
    CREATE TABLE learn_queue_top (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq BIGINT NOT NULL
    );
    INSERT INTO learn_queue_top (seq) VALUES (0);
    CREATE TABLE model_epochs (
        epoch INTEGER PRIMARY KEY,
        start_seq BIGINT NOT NULL,
        vw_args TEXT,
        reason TEXT NOT NULL,
        created_ts DOUBLE PRECISION NOT NULL
    );
    INSERT INTO model_epochs (epoch, start_seq, vw_args, reason, created_ts) VALUES (1, 0, NULL, 'initial', 0);
    -- Checkpoints with their model bytes: the newest is the published snapshot.
    CREATE TABLE checkpoints (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        seq BIGINT NOT NULL,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        vw_args TEXT NOT NULL,
        created_ts DOUBLE PRECISION NOT NULL,
        epoch INTEGER NOT NULL,
        data BYTEA NOT NULL
    );
    CREATE INDEX checkpoints_newest ON checkpoints(epoch, seq);
"""), ("m002_pz_personalizer", """
    -- The Personalizer-compatible loop (storage.PERSONALIZER): the artwork loop's tables again.
    CREATE TABLE pz_events (
        event_id TEXT PRIMARY KEY,
        created_ts DOUBLE PRECISION NOT NULL,
        features TEXT NOT NULL,
        action_ids TEXT NOT NULL,
        excluded TEXT NOT NULL,
        pmf TEXT NOT NULL,
        policy_pmf TEXT,
        chosen_index INTEGER NOT NULL,
        action_id TEXT NOT NULL,
        probability DOUBLE PRECISION NOT NULL CHECK (probability > 0 AND probability <= 1),
        mode TEXT NOT NULL CHECK (mode IN ('online', 'apprentice', 'import')),
        model_version BIGINT NOT NULL,
        deferred INTEGER NOT NULL DEFAULT 0,
        activated_ts DOUBLE PRECISION,
        state TEXT NOT NULL CHECK (state IN ('awaiting_activation', 'pending', 'final')),
        deadline_ts DOUBLE PRECISION,
        reward DOUBLE PRECISION,
        final_reason TEXT CHECK (final_reason IN ('outcome', 'window', 'import')),
        final_ts DOUBLE PRECISION
    );
    CREATE INDEX pz_events_pending ON pz_events(deadline_ts) WHERE state = 'pending';
    CREATE INDEX pz_events_created ON pz_events(created_ts);
    CREATE TABLE pz_outcomes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id TEXT NOT NULL REFERENCES pz_events(event_id),
        kind TEXT NOT NULL CHECK (kind IN ('reward', 'activate')),
        value DOUBLE PRECISION,
        received_ts DOUBLE PRECISION NOT NULL,
        effect TEXT NOT NULL
    );
    CREATE INDEX pz_outcomes_event ON pz_outcomes(event_id);
    CREATE TABLE pz_finalized (
        event_id TEXT PRIMARY KEY REFERENCES pz_events(event_id),
        final_ts DOUBLE PRECISION NOT NULL,
        deadline_ts DOUBLE PRECISION
    );
    CREATE TABLE pz_learn_queue (
        seq BIGINT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE REFERENCES pz_events(event_id),
        final_ts DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE pz_learn_queue_top (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        seq BIGINT NOT NULL
    );
    INSERT INTO pz_learn_queue_top (seq) VALUES (0);
    CREATE TABLE pz_epochs (
        epoch INTEGER PRIMARY KEY,
        start_seq BIGINT NOT NULL,
        vw_args TEXT,
        reason TEXT NOT NULL,
        created_ts DOUBLE PRECISION NOT NULL
    );
    INSERT INTO pz_epochs (epoch, start_seq, vw_args, reason, created_ts) VALUES (1, 0, NULL, 'initial', 0);
    CREATE TABLE pz_checkpoints (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        seq BIGINT NOT NULL,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        vw_args TEXT NOT NULL,
        created_ts DOUBLE PRECISION NOT NULL,
        epoch INTEGER NOT NULL,
        data BYTEA NOT NULL
    );
    CREATE INDEX pz_checkpoints_newest ON pz_checkpoints(epoch, seq);
    CREATE TABLE pz_modes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        mode TEXT NOT NULL CHECK (mode IN ('online', 'apprentice')),
        reason TEXT NOT NULL,
        created_ts DOUBLE PRECISION NOT NULL
    );
"""),
    # Live experiments (artwork/experiments.py): the schema both backends share.
    ("m003_exp_experiments", EXPERIMENT_SCHEMA),
    # Which of its loop's models a checkpoint is (candidates.py): the same statements as SQLite's.
    ("m004_checkpoint_models", CHECKPOINT_MODEL_SCHEMA)]


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """A statement written with ``?`` placeholders (the SQL shared with SQLite) in psycopg's style."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that runs statements written with ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection):
        self.raw = conn

    def execute(self, sql: str, params=()) -> psycopg.Cursor:
        return self.raw.execute(_pg(sql), params)

    def executemany(self, sql: str, rows) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_pg(sql), rows)


def _server(info: dict) -> str:
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def _parse(url: str) -> dict:
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreOpenError(f"DATABASE_URL is not a valid PostgreSQL URL ({exc})") from None
    ports = str(info.get("port") or "5432").split(",")  # libpq allows a list, one port per host
    if not all(port.strip().isdigit() for port in ports):
        raise StoreOpenError(f"DATABASE_URL is not a valid PostgreSQL URL (port {info['port']!r} is not a number)")
    return info


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations not yet applied, each once, whoever else starts at the same moment:
    one transaction under an advisory lock (a second process waits, then finds them applied).
    Returns the names applied now."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY,"
                     " applied_ts TIMESTAMPTZ NOT NULL DEFAULT now())")
        done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name not in done:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
    return applied


class PostgresStore(SQLStorage):
    """The storage contract over a PostgreSQL database (``url``: a libpq URL or key=value
    string). Opening it applies pending migrations; a malformed URL or a server that does not
    answer raises ``StoreOpenError``."""

    unavailable = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
    _UNIQUE_VIOLATION = (psycopg.errors.UniqueViolation,)

    def __init__(self, url: str, *, max_connections: int = POOL_SIZE):
        self.url = url
        self.where = _server(_parse(url))
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
                applied = migrate(conn)
        except psycopg.OperationalError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreOpenError(f"the PostgreSQL server at {self.where} (DATABASE_URL) does not answer: "
                                 f"{detail}") from None
        if applied:
            log.info("PostgreSQL %s: applied migrations %s", self.where, ", ".join(applied))
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max_connections, timeout=POOL_TIMEOUT, open=True, name="artwork",
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT})

    # Connections ------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[_Connection]:
        """One transaction: commits on success, rolls back on any exception."""
        with self.pool.connection() as conn, conn.transaction():
            yield _Connection(conn)

    def query(self, sql: str, params=()) -> list[dict]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_pg(sql), params).fetchall()

    def query_one(self, sql: str, params=()) -> dict | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_pg(sql), params).fetchone()

    def scalar(self, sql: str, params=()):
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def rows(self, sql: str, params=()) -> list[tuple]:
        with self.pool.connection() as conn:
            return conn.execute(_pg(sql), params).fetchall()

    # Lifecycle --------------------------------------------------------------------------------

    failures = (psycopg.Error, psycopg_pool.PoolTimeout)

    def ping(self) -> None:
        self.scalar("SELECT 1")

    def integrity_problems(self, *, full: bool = True, seconds: float | None = None) -> tuple[list[str], bool]:
        """PostgreSQL: the server answers and the tables are readable; its pages are checked by
        its own tools (``amcheck``'s ``verify_heapam``/``bt_index_check``, ``pg_checksums``),
        which need rights and a stopped cluster that a service's role should not have."""
        try:
            self.scalar("SELECT count(*) FROM model_epochs")
        except psycopg.Error as exc:
            return [f"PostgreSQL does not answer a read: {exc}"], True
        return [], True

    def close_thread(self) -> None:
        """Nothing: each operation gives its connection back to the pool when it ends."""

    def close(self) -> None:
        self.pool.close()

    def maintain(self) -> None:
        """Nothing: PostgreSQL's autovacuum does the housekeeping."""

    # Files ------------------------------------------------------------------------------------

    def put_image_files(self, images_dir: Path, files: Mapping[str, bytes]) -> None:
        """In the database (hosts share no disk), committed before the rows that name them."""
        with self.write() as conn:
            conn.executemany("INSERT INTO image_files (file, data) VALUES (?, ?) ON CONFLICT (file) DO NOTHING",
                             list(files.items()))

    def stored_file(self, kind: str, name: str, loop: Loop = ARTWORK) -> bytes | None:
        if kind == "image":
            return self.scalar("SELECT data FROM image_files WHERE file = ?", (name,))
        return self.scalar(f"SELECT data FROM {loop.checkpoints} WHERE file = ? AND model = ? ORDER BY id DESC LIMIT 1",
                           (name, loop.model))

    def put_titles(self, titles: Sequence[tuple[dict, dict]], now: float) -> None:
        """Catalog writes from several hosts at once (each host's first start installs the demo)
        take turns, so positions stay distinct."""
        with self.write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (CATALOG_LOCK,))
            for title, images in titles:
                self.put_title(conn, title, images, now)

    # People -----------------------------------------------------------------------------------

    def delete_person(self, user_id: str, forget_decisions: bool, now: float) -> dict:
        with self.write() as conn:
            views = conn.execute("DELETE FROM views WHERE user_id = ?", (user_id,)).rowcount
            ratings = conn.execute("DELETE FROM ratings WHERE user_id = ?", (user_id,)).rowcount
            known = conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount
            unlinked = deleted = 0
            if forget_decisions:
                mine = "SELECT event_id FROM impressions WHERE user_id = ?"
                for table in ("outcomes", *self._queue_tables(ARTWORK)):
                    conn.execute(f"DELETE FROM {table} WHERE event_id IN ({mine})", (user_id,))
                deleted = conn.execute("DELETE FROM impressions WHERE user_id = ?", (user_id,)).rowcount
                if deleted:
                    self._new_epoch(conn, 0, self._epoch_args(conn), f"forget {deleted} decisions", now)
            else:
                unlinked = conn.execute("UPDATE impressions SET user_id = 'deleted' WHERE user_id = ?",
                                        (user_id,)).rowcount
        return {"views": views, "ratings": ratings, "known": known, "unlinked": unlinked, "deleted": deleted}

    # The reward join and the learn queue ------------------------------------------------------

    @staticmethod
    def _finalize(conn: _Connection, event_ids: Sequence[str], reward: float, reason: str,
                  now: float, loop: Loop = ARTWORK) -> list[str]:
        """The reward join's rule, the one place it is written for PostgreSQL (``Storage`` states
        it), inside the caller's transaction: of ``event_ids`` (row-locked by the caller), each
        still pending becomes final with ``reward`` and waits in ``finalized`` for its learn-queue
        number (``_number``). Returns those; the others are left as they were. The primary key of
        ``finalized`` and the UNIQUE constraint of ``learn_queue`` back up "at most once"."""
        return [r[0] for r in conn.execute(
            f"WITH done AS (UPDATE {loop.events} SET state = 'final', reward = coalesce(reward, ?),"
            " final_reason = ?, final_ts = ?"
            " WHERE event_id = ANY(?) AND state = 'pending' RETURNING event_id, final_ts, deadline_ts)"
            f" INSERT INTO {loop.finalized} (event_id, final_ts, deadline_ts) SELECT * FROM done RETURNING event_id",
            (reward, reason, now, list(event_ids)))]

    @staticmethod
    def _number(conn: _Connection, loop: Loop = ARTWORK) -> int:
        """Give every committed, unnumbered final event its learn-queue number, in (final time,
        deadline, event id) order after the last number given; returns how many. Under an
        advisory lock, so numbering rounds take turns, and in one statement: the DELETE sees the
        rows committed when the statement began, and a row committed later stays for the next
        round, to be numbered after these (ARCHITECTURE.md, "The learn queue on PostgreSQL")."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (NUMBER_LOCK,))
        return conn.execute(
            f"WITH moved AS (DELETE FROM {loop.finalized} RETURNING event_id, final_ts, deadline_ts),"
            " numbered AS (SELECT event_id, final_ts,"
            "  row_number() OVER (ORDER BY final_ts, deadline_ts, event_id) AS n FROM moved),"
            f" top AS (UPDATE {loop.queue_top} SET seq = seq + (SELECT count(*) FROM moved)"
            "  WHERE EXISTS (SELECT 1 FROM moved) RETURNING seq - (SELECT count(*) FROM moved) AS base),"
            f" queued AS (INSERT INTO {loop.queue} (seq, event_id, final_ts)"
            "  SELECT top.base + numbered.n, numbered.event_id, numbered.final_ts FROM numbered, top RETURNING 1)"
            " SELECT count(*) FROM queued").fetchone()[0]

    def number_learn_queue(self) -> int:
        """Number what is final and committed (``_number``) in a transaction of its own."""
        with self.write() as conn:
            return self._number(conn)

    #: The reward join locks its event's row for the whole transaction, so outcomes for the same
    #: event, from any host, take turns while outcomes for other events do not wait; window
    #: closing skips events an outcome holds right now (left to that outcome, and if still
    #: pending after it, to the next round).
    _EVENT_LOCK = " FOR UPDATE"
    _DUE_LOCK = " FOR UPDATE SKIP LOCKED"

    @staticmethod
    def _queue_tables(loop: Loop) -> tuple[str, ...]:
        return (loop.finalized, loop.queue)  # final but not yet numbered, then numbered

    def learn_batch(self, after_seq: int, limit: int, loop: Loop = ARTWORK) -> list[dict]:
        """Numbers what is final first (``_number``), then reads past ``after_seq``: every number
        at or below one read here is final for good, so nothing can appear behind the reader."""
        with self.write() as conn:
            self._number(conn, loop)
            rows = conn.execute(self._queue_entries_sql(loop), (after_seq, limit)).fetchall()
        return [self._queue_entry(row) for row in rows]

    def learn_queue_after(self, seq: int, loop: Loop = ARTWORK) -> tuple[int, float | None]:
        """Counts the numbered events after ``seq`` and those final but not numbered yet (both
        are waiting for the learner), without taking the numbering lock: read-outs never wait."""
        row = self.query_one(
            f"SELECT count(*) AS n, min(final_ts) AS oldest FROM (SELECT final_ts FROM {loop.queue} WHERE seq > ?"
            f" UNION ALL SELECT final_ts FROM {loop.finalized}) waiting", (seq,))
        return row["n"], row["oldest"]

    @staticmethod
    def _new_epoch(conn, start_seq: int, vw_args: str | None, reason: str, now: float, loop: Loop = ARTWORK) -> int:
        """Resets and retrains from several hosts at once take turns: each statement of a
        transaction sees what committed before it began, so after the lock the next number is free."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (EPOCH_LOCK,))
        return SQLStorage._new_epoch(conn, start_seq, vw_args, reason, now, loop)

    def start_epoch(self, reason: str, now: float, *, relearn_log: bool, vw_args: str | None = None,
                    loop: Loop = ARTWORK) -> dict:
        with self.write() as conn:
            if relearn_log:
                start = 0
            else:  # what is final now belongs to the old epoch: number it before taking the top
                self._number(conn, loop)
                start = conn.execute(f"SELECT seq FROM {loop.queue_top}").fetchone()[0]
            args = vw_args if vw_args is not None else self._epoch_args(conn, loop)
            epoch = self._new_epoch(conn, start, args, reason, now, loop)
        return {"epoch": epoch, "start_seq": start, "vw_args": args}

    # Checkpoints and snapshots ----------------------------------------------------------------

    def publish_checkpoint(self, models_dir: Path, snapshot: dict, now: float, keep: int,
                           loop: Loop = ARTWORK) -> list[str]:
        """The checkpoint's row and its bytes commit together: the newest row is the published
        snapshot, so a host sees the previous snapshot or this whole one."""
        data = (Path(models_dir) / snapshot["file"]).read_bytes()
        epoch = snapshot["epoch"]
        with self.write() as conn:
            conn.execute(f"INSERT INTO {loop.checkpoints} (seq, file, sha256, vw_args, created_ts, epoch, data, model)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (snapshot["seq"], snapshot["file"], snapshot["sha256"],
                                                              snapshot["vw_args"], now, epoch, data, loop.model))
            old = conn.execute(
                f"DELETE FROM {loop.checkpoints} WHERE model = ? AND (epoch < ? OR id IN (SELECT id FROM"
                f" {loop.checkpoints} WHERE epoch = ? AND model = ? ORDER BY seq DESC, id DESC OFFSET ?))"
                " RETURNING file",
                (loop.model, epoch, epoch, loop.model, keep)).fetchall()
        return [r[0] for r in old]

    def latest_snapshot(self, models_dir: Path, loop: Loop = ARTWORK) -> dict | None:
        """The newest checkpoint (of the newest epoch, with the most events learned)."""
        return self.query_one(f"SELECT seq, epoch, file, sha256, vw_args FROM {loop.checkpoints} WHERE model = ?"
                              " ORDER BY epoch DESC, seq DESC, id DESC LIMIT 1", (loop.model,))

    def learner_lease(self) -> LearnerLease:
        return AdvisoryLease(self.url)

    # Read-outs --------------------------------------------------------------------------------

    def timeline(self, since: float) -> list[dict]:
        return self.query("SELECT floor(i.created_ts / 60)::bigint AS minute, count(*) AS impressions,"
                          f" count(c.event_id) AS clicks FROM impressions i {self._CLICKED}"
                          " WHERE i.created_ts >= ? GROUP BY 1 ORDER BY 1", (since,))


class AdvisoryLease(LearnerLease):
    """The learner's lease as a session-level advisory lock on a connection of its own: the
    server drops it when the session ends, so a leader that dies or loses its connection loses
    the lease, and a standby's next ``acquire`` takes it."""

    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._conn is not None:
                return self._still_held()
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                       application_name="artwork-learner", **LEASE_KEEPALIVES)
            except psycopg.OperationalError as exc:
                log.warning("learner lease: no connection to the database (%s)", exc)
                return False
            try:
                # A leader cut off by the network sends no FIN: probes on both ends end the session
                # (and free the lock for a standby) within seconds instead of the OS's hours.
                for name, value in SERVER_KEEPALIVES.items():
                    conn.execute(f"SET {name} = {int(value)}")
                if conn.execute("SELECT pg_try_advisory_lock(%s)", (LEARNER_LOCK,)).fetchone()[0]:
                    self._conn = conn
                    return True
            except psycopg.Error:
                pass
            conn.close()
            return False

    def held(self) -> bool:
        with self._lock:
            return self._conn is not None and self._still_held()

    def _still_held(self) -> bool:
        """Asks the server whether this session holds the lock; a lost connection means not."""
        try:
            held = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = %s)",
                (LEARNER_LOCK,)).fetchone()[0]
        except psycopg.Error:
            held = False
        if not held:
            self._drop()
        return held

    def _drop(self) -> None:
        try:
            self._conn.close()
        finally:
            self._conn = None

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._drop()  # ending the session releases the lock

    def taken(self) -> bool:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            return conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = %s AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database()))", (LEARNER_LOCK,)).fetchone()[0]
