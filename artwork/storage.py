"""The storage contract and its SQLite implementation (``artwork/postgres.py`` is the other).

``Storage`` names every operation the service, the learner and the tools need from the log
(logging a page of decisions, reading a person's history, recording an outcome under the reward
join, closing due windows, the next batch to learn, checkpoints and snapshots, image bytes,
electing the learner, profiles, read-outs, deleting a person...) and says what each promises:
atomicity, ordering, exactly-once. ``Store`` implements it over one SQLite file;
``postgres.PostgresStore`` over a PostgreSQL database that many serving hosts share.

The reward join's rule, what finalizing an event does (it becomes final with its reward and
enters the learn queue, in order, at most once), is written once: ``Store._finalize``, used by
both the outcome path (``reward_join``) and window closing (``close_due_windows``).

In ``Store``, writes happen inside ``with store.write() as conn:``: a process-wide lock plus
``BEGIN IMMEDIATE``, so a write transaction never fails half-way on a lock upgrade and the learn
queue's sequence numbers commit in the order they were assigned.
"""

from __future__ import annotations

import abc
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
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
#: The published snapshot, in the models folder (SQLite): serving processes follow this pointer.
LATEST = "latest.json"
#: Copies of checkpoints fetched from a database that keeps their bytes, per host (a cache).
CACHED_CHECKPOINTS = 4


class StoreOpenError(RuntimeError):
    """The store cannot be opened: a malformed database URL, or a server that does not answer.
    The message says which, naming the setting, for the command line to print as it is."""


class StoreDamaged(StoreOpenError):
    """The database is damaged (SQLite: a page that fails its check, "database disk image is
    malformed"). The message names the problem and the way back, for the command line to print."""


def damaged_message(path: Path, problem: str) -> str:
    """What a damaged SQLite database's refusal says: the problem, and how to get back."""
    return (f"the database {path} is damaged: {problem}. Nothing was started. To get back: stop every "
            f"process using it and restore the newest backup (`artwork restore BACKUP.tar --data-dir "
            f"{path.parent} --force`); without one, SQLite's `sqlite3 {path.name} .recover` salvages the rows "
            f"it can still read. `artwork check --data-dir {path.parent}` reports every problem found")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a
    part (write a temporary file beside it, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def in_use_path(db_path: Path) -> Path:
    """The file every ``Store`` of a database holds a shared ``flock`` on while it is open."""
    return db_path.with_name(db_path.name + ".in-use")


def database_in_use(db_path: Path) -> bool:
    """Whether some process of this host has the SQLite database at ``db_path`` open as a store
    (a server, a learner, a command): the kernel drops their locks when they exit."""
    fd = os.open(in_use_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class LearnerLease(abc.ABC):
    """The right to be the one learner of a log (``Storage.learner_lease``): at most one holder
    at a time among every process of every host that shares the log. A holder that dies, or
    whose connection to the database is lost, loses it, and a candidate's next ``acquire`` wins."""

    @abc.abstractmethod
    def acquire(self) -> bool:
        """Take the lease if nobody holds it, without waiting; True if this lease now holds it."""

    @abc.abstractmethod
    def held(self) -> bool:
        """True while this lease still holds it (a leader asks before each round: False means it
        was lost, e.g. with the database connection, and the leader must stop learning)."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give it up (if held) and free what the lease holds."""

    @abc.abstractmethod
    def taken(self) -> bool:
        """Whether some candidate, of any process or host, holds the lease now (read-only, for
        metrics: any process may ask, candidate or not)."""


class FileLease(LearnerLease):
    """A lease as an ``flock`` on a file: the kernel drops it when the process dies. Each lease
    opens the file itself, so two leases in one process exclude each other too."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def taken(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:  # a shared lock is refused while a leader holds the exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # a candidate that tried meanwhile just tries again at its next poll
        return False

#: The live experiments' schema (``artwork/experiments.py``), one text for both backends (SQLite
#: reads DOUBLE PRECISION as REAL): SQLite's m006_exp_experiments, PostgreSQL's m003_exp_experiments.
EXPERIMENT_SCHEMA = """
    CREATE TABLE experiments (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,        -- JSON: {"arms": [{"name", "policy", "share"}], "control", "guardrail_margin"}
        state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'stopped')),
        created_ts DOUBLE PRECISION NOT NULL,
        started_ts DOUBLE PRECISION,
        stopped_ts DOUBLE PRECISION,
        stopped_by TEXT,
        stop_reason TEXT
    );
    -- At most one experiment runs at a time, so a person is in at most one.
    CREATE UNIQUE INDEX experiments_one_running ON experiments(state) WHERE state = 'running';
    -- Arms taken out of an experiment (by the guardrail or by hand): their people are served control.
    CREATE TABLE experiment_arm_stops (
        experiment TEXT NOT NULL REFERENCES experiments(name),
        arm TEXT NOT NULL,
        stopped_ts DOUBLE PRECISION NOT NULL,
        stopped_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (experiment, arm)
    );
    ALTER TABLE impressions ADD COLUMN experiment TEXT;
    ALTER TABLE impressions ADD COLUMN arm TEXT;
    ALTER TABLE impressions ADD COLUMN served_arm TEXT;
    -- Only decisions taken in an experiment are indexed: outside one, logging a decision costs what it did.
    CREATE INDEX impressions_experiment ON impressions(experiment, user_id) WHERE experiment IS NOT NULL;
    -- The title's default artwork (the fixed control arm shows it); at most one per title, by the importer's rule.
    ALTER TABLE artworks ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
"""

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


@migrations()
def m005_pz_personalizer(db: sqlite_utils.Database) -> None:
    """The Personalizer-compatible loop (``personalizer.py``): its own log, outcomes, learn
    queue, model epochs and checkpoints (``PERSONALIZER``), and its mode switches."""
    db.executescript(
        """
        -- One row per rank call, written before the response is sent.
        CREATE TABLE pz_events (
            event_id TEXT PRIMARY KEY,       -- the client's eventId, or one made up
            created_ts REAL NOT NULL,
            features TEXT NOT NULL,          -- JSON: {"shared": {...}, "actions": [{...}, ...]} (VW namespaces)
            action_ids TEXT NOT NULL,        -- JSON list: the ranked actions' ids, in the request's order
            excluded TEXT NOT NULL,          -- JSON list: the excluded actions' ids
            pmf TEXT NOT NULL,               -- JSON: the probability each action was drawn with
            policy_pmf TEXT,                 -- JSON: the bandit's own distribution then (NULL: imported)
            chosen_index INTEGER NOT NULL,
            action_id TEXT NOT NULL,
            probability REAL NOT NULL CHECK (probability > 0 AND probability <= 1),
            mode TEXT NOT NULL CHECK (mode IN ('online', 'apprentice', 'import')),
            model_version INTEGER NOT NULL,
            deferred INTEGER NOT NULL DEFAULT 0,
            activated_ts REAL,
            state TEXT NOT NULL CHECK (state IN ('awaiting_activation', 'pending', 'final')),
            deadline_ts REAL,
            reward REAL,                     -- with sum aggregation: the rewards so far while pending
            final_reason TEXT CHECK (final_reason IN ('outcome', 'window', 'import')),
            final_ts REAL
        );
        CREATE INDEX pz_events_pending ON pz_events(state, deadline_ts);
        CREATE INDEX pz_events_created ON pz_events(created_ts);
        CREATE TABLE pz_outcomes (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES pz_events(event_id),
            kind TEXT NOT NULL CHECK (kind IN ('reward', 'activate')),
            value REAL,
            received_ts REAL NOT NULL,
            effect TEXT NOT NULL
        );
        CREATE INDEX pz_outcomes_event ON pz_outcomes(event_id);
        CREATE TABLE pz_learn_queue (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE REFERENCES pz_events(event_id),
            final_ts REAL NOT NULL
        );
        CREATE TABLE pz_epochs (
            epoch INTEGER PRIMARY KEY,
            start_seq INTEGER NOT NULL,
            vw_args TEXT,                    -- NULL: the PERSONALIZER_VW_ARGS setting
            reason TEXT NOT NULL,
            created_ts REAL NOT NULL
        );
        INSERT INTO pz_epochs (epoch, start_seq, vw_args, reason, created_ts) VALUES (1, 0, NULL, 'initial', 0);
        CREATE TABLE pz_checkpoints (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL,
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            vw_args TEXT NOT NULL,
            created_ts REAL NOT NULL,
            epoch INTEGER NOT NULL
        );
        -- Every switch between online and apprentice mode; the newest is the mode.
        CREATE TABLE pz_modes (
            id INTEGER PRIMARY KEY,
            mode TEXT NOT NULL CHECK (mode IN ('online', 'apprentice')),
            reason TEXT NOT NULL,
            created_ts REAL NOT NULL
        );
        """
    )


@migrations()
def m006_exp_experiments(db: sqlite_utils.Database) -> None:
    """Live experiments (``artwork/experiments.py``): their definitions, the arms the guardrail
    stopped, each decision's experiment, assigned arm and served arm, and each title's default
    artwork (the fixed control)."""
    db.executescript(EXPERIMENT_SCHEMA.replace("DOUBLE PRECISION", "REAL"))


#: Which model of its loop a checkpoint is (``Loop.model``): '' the loop's own, else a live
#: experiment's candidate arm (``candidates.py``). The same statements on both backends.
CHECKPOINT_MODEL_SCHEMA = """
    ALTER TABLE checkpoints ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE pz_checkpoints ADD COLUMN model TEXT NOT NULL DEFAULT '';
"""


@migrations()
def m007_checkpoint_models(db: sqlite_utils.Database) -> None:
    """Checkpoints say which of their loop's models they are: the loop's own, or an experiment's
    candidate VW configuration learning from the same log."""
    db.executescript(CHECKPOINT_MODEL_SCHEMA)


#: The columns of one logged decision, in the order ``Storage.log_decisions`` takes each row's
#: values (a tuple, built once per decision on the request path).
DECISION_COLUMNS = ("event_id", "created_ts", "user_id", "title_id", "context", "features", "candidates", "pmf",
                    "chosen_index", "artwork_id", "probability", "explored", "model_version", "policy",
                    "time_bucket", "dominant_genre", "deferred", "state", "deadline_ts",
                    # live experiments: the experiment, the person's assigned arm and the arm whose
                    # policy drew the artwork (control after a guardrail stop); NULL outside one
                    "experiment", "arm", "served_arm")
#: What read-outs may group click rates by (``Storage.click_rates``).
RATE_COLUMNS = ("artwork_id", "time_bucket", "dominant_genre")
#: What offline evaluation reads of a decision with a final reward (``Storage.final_decisions``).
FINAL_DECISION_COLUMNS = ("event_id", "created_ts", "user_id", "title_id", "context", "features", "candidates", "pmf",
                          "chosen_index", "probability", "reward", "experiment", "arm", "served_arm")


def _final_decisions_sql(policy: str | None, order: str) -> str:
    return (f"SELECT {', '.join(FINAL_DECISION_COLUMNS)} FROM impressions WHERE state = 'final'"
            + (" AND policy = ?" if policy is not None else "") + f" ORDER BY created_ts, {order}")


def read_final_decisions(path: str | Path, policy: str | None = None) -> list[dict]:
    """``Storage.final_decisions`` of a SQLite database file, opened read-only (a copy of a log,
    or one a simulation wrote): nothing is migrated, locked or written."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(_final_decisions_sql(policy, Store.LOG_ORDER), () if policy is None else (policy,))
        return [dict(r) for r in rows]
    finally:
        conn.close()


@dataclass(frozen=True)
class Loop:
    """The tables of one decision loop: its log of decisions (``events``) and their outcomes, its
    learn queue, model epochs and checkpoints. Each loop has its own model; the reward join's
    rule, the learn queue, epochs and checkpoints are the same code for every loop, given its
    tables (``loop=`` on those operations, or a ``LoopLog``)."""

    name: str
    events: str
    outcomes: str
    #: The outcomes' number column (``RewardJoin.held_outcomes`` names it so).
    outcome_value: str
    queue: str
    epochs: str
    checkpoints: str
    #: PostgreSQL: final events not yet numbered, and the last number given (ARCHITECTURE.md).
    finalized: str
    queue_top: str
    #: Which of the loop's models the checkpoint operations mean: '' is the loop's own, learned
    #: with its epoch's VW arguments; an experiment's candidate arm (``candidates.py``) is another
    #: model learned from the same learn queue, its checkpoints rows of the same table.
    model: str = ""


#: The artwork loop (select-artwork, clicks and plays).
ARTWORK = Loop("artwork", "impressions", "outcomes", "seconds", "learn_queue", "model_epochs", "checkpoints",
               "finalized", "learn_queue_top")
#: The Personalizer-compatible loop (``personalizer.py``: rank, reward, activate).
PERSONALIZER = Loop("personalizer", "pz_events", "pz_outcomes", "value", "pz_learn_queue", "pz_epochs",
                    "pz_checkpoints", "pz_finalized", "pz_learn_queue_top")
#: The columns of one Personalizer decision (``Storage.log_pz_event`` takes a dict of them).
PZ_EVENT_COLUMNS = ("event_id", "created_ts", "features", "action_ids", "excluded", "pmf", "policy_pmf",
                    "chosen_index", "action_id", "probability", "mode", "model_version", "deferred", "state",
                    "deadline_ts")


class RewardJoin(abc.ABC):
    """One outcome's reads and writes under the reward join, all in one write transaction (opened
    by ``Storage.reward_join``): nothing else writes to the log meanwhile, so what ``event`` shows
    stays true until the block ends, and either every write below commits or none does.

    The caller (the service's outcome state machine) decides what the outcome means; these are
    the only reads and writes it needs."""

    #: The decision's reward state, kept current by ``activate`` and ``finalize``: ``state``
    #: ('awaiting_activation', 'pending' or 'final'), ``deadline_ts``, ``deferred`` (bool),
    #: ``final_reason`` ('outcome', 'window' or None) and ``reward``; None for an unknown event.
    event: dict | None

    @abc.abstractmethod
    def held_outcomes(self) -> list[dict]:
        """The outcomes (``kind``, ``seconds``) recorded for the event so far, activations left
        out, in the order they arrived."""

    @abc.abstractmethod
    def activate(self, now: float, deadline_ts: float) -> None:
        """A deferred decision was shown: it becomes pending, its wait window closing at
        ``deadline_ts``."""

    @abc.abstractmethod
    def finalize(self, reward: float, reason: str, now: float) -> bool:
        """The reward join's rule for this event (``Storage`` states it): True if the event was
        pending and is now final with ``reward`` (or the rewards ``add_reward`` summed) and queued
        for learning; False, changing nothing, otherwise."""

    @abc.abstractmethod
    def add_reward(self, value: float) -> None:
        """A pending event's reward so far plus ``value`` (a loop that sums rewards until its
        window closes); finalizing then keeps the sum."""

    @abc.abstractmethod
    def add_outcome(self, kind: str, seconds: float | None, now: float, effect: str) -> None:
        """Record the outcome and what it did (``effect``), every outcome, repeated or late too."""


class Storage(abc.ABC):
    """The storage contract: every operation on the log, the catalog, people and the model's
    checkpoints, and what each promises. ``Store`` is the SQLite implementation,
    ``postgres.PostgresStore`` the PostgreSQL one (``SQLStorage``'s ``write``, ``query`` and
    ``put_title`` are for the SQL backends, their tests and tools, and not part of the contract).

    Promises that hold throughout:

    - A write operation is one transaction: all of it commits, or (on any exception) none.
    - **The reward join's rule.** Finalizing an event makes it final with its reward and queues
      it for learning, in the same transaction, only if it was pending: an event enters the
      learn queue at most once, and once ``learn_batch`` has returned a place, no event is ever
      given a place at or before it (SQLite numbers at finalizing, its one writer committing in
      order; PostgreSQL numbers committed final events when the learner reads, ARCHITECTURE.md).
      The model is the epoch's VW arguments plus the queue learned in order, so learning is
      exactly-once and a restart rebuilds the same model (``reward_join`` and
      ``close_due_windows`` both finalize by this one rule).
    - Values go in and come out plain: str, int, float, None, lists and dicts.
    - Operations that take ``loop`` (a ``Loop``: the artwork loop by default, or the
      Personalizer-compatible one) work on that loop's tables, and each promise holds per loop:
      every loop has its own learn queue, epochs and checkpoints.
    """

    #: Exceptions that mean the store was busy or unreachable and nothing was written: the
    #: HTTP layer answers them with 503 and Retry-After.
    unavailable: tuple[type[BaseException], ...] = ()

    # Lifecycle ------------------------------------------------------------------------------

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise (one of ``unavailable``) unless the store answers a trivial read."""

    #: Every exception the driver raises when the store fails (unavailable, damaged, refused):
    #: ``/healthz`` answers any of them from ``ping`` with 503 and the reason.
    failures: tuple[type[BaseException], ...] = ()

    @abc.abstractmethod
    def integrity_problems(self, *, full: bool = True, seconds: float | None = None) -> tuple[list[str], bool]:
        """The database's own check of its pages: (the problems found, whether the check ran to the
        end). ``full``: every page, index entries against rows (SQLite's ``integrity_check``);
        else the cheaper ``quick_check``. ``seconds``: stop after about that long (the first
        part, the structure, always runs; 0: only it). PostgreSQL checks no pages here (its own tools do)."""

    @abc.abstractmethod
    def close_thread(self) -> None:
        """Release what this thread holds (its connection) for the next request; cheap."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release everything; committed writes are kept."""

    @abc.abstractmethod
    def maintain(self) -> None:
        """Housekeeping between learner rounds, never on a request's path (SQLite: copy the
        WAL into the database file)."""

    # Catalog --------------------------------------------------------------------------------

    @abc.abstractmethod
    def has_catalog(self) -> bool:
        """True once any title is stored."""

    @abc.abstractmethod
    def catalog_counts(self) -> tuple[int, int]:
        """(titles, active artwork variants)."""

    @abc.abstractmethod
    def put_titles(self, titles: Sequence[tuple[dict, dict]], now: float) -> None:
        """Insert or replace titles, all in one transaction: every title or none.

        Each item is ``(title, images)``, ``images`` mapping artwork id -> size -> {"file",
        "width", "height", "bytes"}. A new title goes after the others, a replaced one keeps its
        place; artwork a title no longer lists is retired (kept, inactive: logged decisions
        refer to it). An artwork id that belongs to another title raises ValueError."""

    @abc.abstractmethod
    def titles(self) -> list[dict]:
        """Every title in catalog order with its active artwork in order: {"id", "name",
        "genres", "year", "synopsis", "artwork": [{"id", "tags", "default"}, ...]} ("default": the
        catalog marks it as the title's default artwork)."""

    @abc.abstractmethod
    def genre_vocabulary(self) -> set[str]:
        """Every genre some title has."""

    @abc.abstractmethod
    def image(self, artwork_id: str, size: str) -> dict | None:
        """One stored image size of an artwork ({"file", "width", "height", "bytes", ...}), or None."""

    @abc.abstractmethod
    def artwork_tags(self, artwork_ids: Sequence[str]) -> dict[str, dict]:
        """artwork id -> its tags, for the ids that exist (retired artwork included)."""

    # People ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def history(self, user_id: str) -> dict:
        """What a decision needs of a person, in one read (one round trip on the request path):
        {"known": whether the person has a users row, "views": [{"title_id", "seconds",
        "at_ts"}], "ratings": [{"title_id", "thumbs", "at_ts"}], "onboarding_genres": [...]}."""

    @abc.abstractmethod
    def add_view(self, user_id: str, title_id: str, seconds: float, at_ts: float, now: float) -> None:
        """Add a view to a person's history, creating the person (at ``now``) if new; one transaction."""

    @abc.abstractmethod
    def set_rating(self, user_id: str, title_id: str, thumbs: int, now: float) -> None:
        """A person's rating of a title (+1 or -1) at ``now``, replacing an earlier one; creates
        the person if new; one transaction."""

    @abc.abstractmethod
    def set_onboarding_genres(self, user_id: str, genres: list[str], now: float) -> None:
        """Replace a person's onboarding genres, creating the person if new; one transaction."""

    @abc.abstractmethod
    def profile(self, user_id: str, recent: int = 20) -> dict:
        """A person's stored profile: {"known", "onboarding_genres", "views" (how many),
        "recent_views": the ``recent`` latest [{"title_id", "seconds", "at_ts"}], newest first,
        "ratings": [{"title_id", "thumbs"}], latest first}."""

    @abc.abstractmethod
    def delete_person(self, user_id: str, forget_decisions: bool, now: float) -> dict:
        """Delete a person's users row, views and ratings, and either unlink their decisions
        (their user id becomes "deleted"; they stay for learning and evaluation) or, with
        ``forget_decisions``, delete the decisions, their outcomes and learn-queue entries and,
        if any were deleted, start a new model epoch that relearns the whole remaining log with
        the current epoch's VW arguments. The changes are one transaction; every decision that
        is the person's when it commits is covered, including those made while it waited.
        Returns the counts: {"views", "ratings", "known" (users rows), "unlinked", "deleted"}."""

    # Decisions and the reward join -----------------------------------------------------------

    @abc.abstractmethod
    def log_decisions(self, user_id: str, rows: Sequence[tuple], now: float, new_person: bool) -> None:
        """Log a page of decisions, each row the values of ``DECISION_COLUMNS``, and (with
        ``new_person``) the person's users row unless it exists: one transaction, committed
        before this returns, so no decision is answered that the log does not have. The only
        write on a decision's path."""

    @abc.abstractmethod
    def reward_join(self, event_id: str, loop: Loop = ARTWORK) -> AbstractContextManager[RewardJoin]:
        """``with store.reward_join(event_id) as join:``: one write transaction for recording an
        outcome of ``loop``, reads and writes alike (see ``RewardJoin``); an exception in the
        block rolls every write of it back."""

    @abc.abstractmethod
    def close_due_windows(self, now: float, reward: float, batch: int, loop: Loop = ARTWORK) -> int:
        """Finalize, by the reward join's rule and with ``reward`` (unless rewards were added:
        ``RewardJoin.add_reward``) and reason 'window', every pending event of ``loop`` whose
        window closed by ``now``. ``batch`` events per transaction (so
        decisions never wait long for the writer), each batch in deadline order (then event id)
        and whole or not at all. Returns how many were closed."""

    # Learning -------------------------------------------------------------------------------

    @abc.abstractmethod
    def learn_batch(self, after_seq: int, limit: int, loop: Loop = ARTWORK) -> list[dict]:
        """The next ``limit`` learn-queue entries (of ``loop``'s queue) after ``after_seq``, in queue order: {"seq",
        "event_id", "features" (parsed), "chosen_index", "reward", "probability"}."""

    @abc.abstractmethod
    def queue_entries(self, after_seq: int, limit: int, loop: Loop = ARTWORK) -> list[dict]:
        """``learn_batch`` for a reader beside the learner (offline evaluation replaying what a
        learner learns): read only, so on PostgreSQL only what the learner has numbered already."""

    @abc.abstractmethod
    def learn_queue_after(self, seq: int, loop: Loop = ARTWORK) -> tuple[int, float | None]:
        """(How many events are queued after ``seq``, the oldest of their final times or None)."""

    @abc.abstractmethod
    def current_epoch(self, loop: Loop = ARTWORK) -> dict:
        """The current model epoch: {"epoch", "start_seq", "vw_args" (None: the VW_ARGS
        setting), "reason", "created_ts"}."""

    @abc.abstractmethod
    def start_epoch(self, reason: str, now: float, *, relearn_log: bool, vw_args: str | None = None,
                    loop: Loop = ARTWORK) -> dict:
        """Start a new model epoch, in one transaction: its model learns the whole log
        (``relearn_log``) or only what is finalized from now on, with ``vw_args`` (None: the
        current epoch's). Returns {"epoch", "start_seq", "vw_args"}."""

    @abc.abstractmethod
    def checkpoints(self, vw_args: str, epoch: int, loop: Loop = ARTWORK) -> list[dict]:
        """The checkpoints of ``loop.model`` made with ``vw_args`` in ``epoch``, newest first:
        {"seq", "file", "sha256"}. (Every checkpoint operation is of ``loop.model``'s checkpoints.)"""

    @abc.abstractmethod
    def checkpoint_models(self, loop: Loop = ARTWORK) -> list[str]:
        """The models other than the loop's own that have checkpoints (``Loop.model``)."""

    @abc.abstractmethod
    def forget_checkpoints(self, loop: Loop) -> list[str]:
        """Delete every checkpoint of ``loop.model`` (a candidate arm no longer learning); returns
        their files (the caller deletes them from its disk)."""

    @abc.abstractmethod
    def publish_checkpoint(self, models_dir: Path, snapshot: dict, now: float, keep: int,
                           loop: Loop = ARTWORK) -> list[str]:
        """Record a checkpoint and publish it as the snapshot serving processes load, and forget
        every checkpoint of an earlier epoch and all but the newest ``keep`` of this one.
        ``snapshot`` is {"seq", "epoch", "file", "sha256", "vw_args"}; the model's file is
        ``models_dir / snapshot["file"]``. Published atomically: a reader finds the previous
        snapshot or this whole one, with bytes that match its sha256 (SQLite: the file stays the
        only copy and ``latest.json`` points at it; PostgreSQL: the bytes go into the database in
        the checkpoint's own transaction). Returns the files of the checkpoints forgotten (the
        caller deletes them from its disk)."""

    @abc.abstractmethod
    def latest_snapshot(self, models_dir: Path, loop: Loop = ARTWORK) -> dict | None:
        """The newest published snapshot ({"seq", "epoch", "file", "sha256", "vw_args"}), or
        None if none was published; ``local_copy(models_dir, ...)`` gives its file."""

    @abc.abstractmethod
    def stored_file(self, kind: str, name: str, loop: Loop = ARTWORK) -> bytes | None:
        """The bytes of a file the database keeps (``kind`` 'image': a content-addressed image
        file; 'checkpoint': a model checkpoint's file), or None where it keeps none (SQLite:
        the files in the data directory are the only copy)."""

    @abc.abstractmethod
    def learner_lease(self) -> LearnerLease:
        """A new candidate's lease on being the one learner of this log (not yet acquired)."""

    # Read-outs ------------------------------------------------------------------------------

    @abc.abstractmethod
    def decision(self, event_id: str) -> dict | None:
        """One logged decision, every column of ``DECISION_COLUMNS`` and the reward state
        (``context``, ``features``, ``candidates`` and ``pmf`` as the logged JSON text), with
        "outcomes": [{"kind", "seconds", "effect", "received_ts"}] in arrival order; None if unknown."""

    @abc.abstractmethod
    def log_totals(self) -> dict:
        """{"impressions", "clicks" and "plays" (decisions with at least one), "final",
        "mean_reward" (of final ones, None if none), "pending", "awaiting_activation"}."""

    @abc.abstractmethod
    def click_rates(self, column: str) -> list[dict]:
        """Per value of ``column`` (one of ``RATE_COLUMNS``; None reads 'none'), in value order:
        {"key", "impressions", "clicks"}."""

    @abc.abstractmethod
    def final_decisions(self, policy: str | None = None) -> list[dict]:
        """Every decision with a final reward (of ``policy`` only, if given), in the order they were
        logged: the columns of ``FINAL_DECISION_COLUMNS``, JSON columns as the logged text (for
        ``artwork export`` and offline evaluation of the live log)."""

    @abc.abstractmethod
    def timeline(self, since: float) -> list[dict]:
        """Decisions made since ``since``, per minute in order: {"minute" (seconds since the
        epoch / 60), "impressions", "clicks"}."""

    # Experiments ----------------------------------------------------------------------------

    @abc.abstractmethod
    def create_experiment(self, name: str, definition: dict, now: float) -> bool:
        """Record a new experiment (state 'draft') with its ``definition`` (plain JSON values);
        False, changing nothing, if the name is taken."""

    @abc.abstractmethod
    def experiments(self) -> list[dict]:
        """Every experiment, newest first: {"name", "definition" (parsed), "state", "created_ts",
        "started_ts", "stopped_ts", "stopped_by", "stop_reason", "arm_stops": [{"arm",
        "stopped_ts", "stopped_by", "reason"}]}."""

    @abc.abstractmethod
    def running_experiment(self) -> dict | None:
        """The running experiment (at most one), as ``experiments`` gives it, or None. On the
        decision path once a second per process (``experiments.Experiments.running``)."""

    @abc.abstractmethod
    def start_experiment(self, name: str, now: float) -> bool:
        """A draft experiment starts running, in one transaction, unless another one runs (the
        unique index on running experiments backs this up). False, changing nothing, if it was
        not a draft or another one runs."""

    @abc.abstractmethod
    def open_experiments(self) -> list[dict]:
        """The experiments not stopped (the drafts and the running one), as ``experiments`` gives them."""

    @abc.abstractmethod
    def stop_experiment(self, name: str, now: float, by: str, reason: str) -> bool:
        """A running experiment stops, or a draft is called off (who, when, why recorded); False if
        it was stopped already."""

    @abc.abstractmethod
    def stop_arm(self, name: str, arm: str, now: float, by: str, reason: str) -> bool:
        """Take one arm of a running experiment out: its people are served control from now on.
        Recorded once (who, when, why); False if it was already stopped or the experiment is
        not running."""

    @abc.abstractmethod
    def experiment_people(self, name: str, quality_play_seconds: float) -> list[dict]:
        """Per (arm, person) of an experiment, the decisions served by the person's own arm's
        policy (after a stop, those served control are left out: the arm's record ends there):
        {"arm", "user_id", "decisions", "clicks" (decisions with a click), "quality_plays"
        (decisions with a play of at least ``quality_play_seconds``)}."""

    @abc.abstractmethod
    def experiment_decisions(self, name: str) -> list[dict]:
        """Every decision of an experiment, in decision order, for offline evaluation: {"event_id",
        "final" (its reward is final), "arm",
        "served_arm", "title_id", "candidates", "features", "pmf" (parsed), "chosen_index",
        "probability", "clicked" (bool)}."""

    # Retention ------------------------------------------------------------------------------

    @abc.abstractmethod
    def purge(self, cutoff: float) -> dict:
        """Delete final decisions made before ``cutoff`` with their outcomes and learn-queue
        entries (the artwork loop's and the Personalizer loop's), and views and ratings before
        it, in one transaction (pending decisions stay). Returns {"decisions",
        "personalizer_decisions", "views", "ratings"} deleted."""

    # The Personalizer loop (``personalizer.py``; its learning goes through the operations above
    # with ``loop=PERSONALIZER``) ---------------------------------------------------------------

    @abc.abstractmethod
    def log_pz_event(self, event: dict) -> bool:
        """Log one rank decision (``PZ_EVENT_COLUMNS``), committed before this returns; False,
        writing nothing, if its event id is already logged (an event id is used once)."""

    @abc.abstractmethod
    def import_pz_events(self, events: Sequence[dict]) -> int:
        """Log decisions of another system's log (``PZ_EVENT_COLUMNS`` and ``reward``), given in
        (created time, event id) order, and finalize each by the reward join's rule (reason
        'import', final at its own created time), so they enter the learn queue in that order on
        either backend; one transaction. Events whose id is already logged are left out. Returns
        how many were imported."""

    @abc.abstractmethod
    def pz_modes(self) -> list[dict]:
        """Every switch of the loop's mode, oldest first: {"mode", "reason", "created_ts"}."""

    @abc.abstractmethod
    def set_pz_mode(self, mode: str, reason: str, now: float) -> None:
        """Record a switch to ``mode`` ('online' or 'apprentice') with its reason, at ``now``."""

    @abc.abstractmethod
    def pz_evaluation_rows(self, since: float) -> list[dict]:
        """The final online and apprentice decisions made at or after ``since``, in time order:
        {"chosen_index", "probability", "reward", "policy_pmf" and "pmf" (parsed: the bandit's
        distribution, and the one the action was drawn from)}."""

    @abc.abstractmethod
    def pz_export_rows(self, after: tuple[float, str] | None, limit: int) -> list[dict]:
        """The next ``limit`` final decisions in (created time, event id) order after ``after``
        (None: from the first): every column of ``PZ_EVENT_COLUMNS`` with ``reward``."""

    @abc.abstractmethod
    def pz_totals(self) -> dict:
        """{"events", "final", "pending", "awaiting_activation", "mean_reward" (of final ones, None if none)}."""

    # Files: images and model checkpoints (the same for every backend) -------------------------

    def put_image_files(self, images_dir: Path, files: Mapping[str, bytes]) -> None:
        """Keep content-addressed image files (name -> bytes) before the rows that name them are
        committed (``put_titles``): a failure in between leaves unreferenced files, never a row
        without its image. Here, as files in ``images_dir``; a database that keeps the bytes
        itself overrides this."""
        images_dir.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if not (images_dir / name).exists():
                write_atomically(images_dir / name, data)

    def local_copy(self, folder: Path, name: str, kind: str, sha256: str | None = None,
                   loop: Loop = ARTWORK) -> Path | None:
        """A file of ``kind`` ('image' or 'checkpoint', see ``stored_file``) on this host's disk:
        ``folder / name`` if it is there (and, given ``sha256``, has those bytes), else the
        database's copy (checked against ``sha256``, or for an image against its content-addressed
        name) written to the cache under ``folder``; None if neither is to be had intact. Where
        the database keeps the bytes, the local disk is only a cache: a host with an empty one
        gets every file from the database."""
        for path in (folder / name, folder / "cache" / name):
            if path.is_file() and (sha256 is None or file_sha256(path) == sha256):
                return path
        data = self.stored_file(kind, name, loop)
        if data is None:
            return None
        digest = hashlib.sha256(data).hexdigest()
        intact = digest == sha256 if sha256 is not None else name.startswith(digest[:20])
        if not intact:
            return None  # damaged in the database: the caller falls back as for a bad file
        cache = folder / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        write_atomically(cache / name, data)
        if kind == "checkpoint":  # a host follows snapshot after snapshot: keep the newest few only
            for old in sorted(cache.glob("*.vw"), key=lambda p: p.stat().st_mtime)[:-CACHED_CHECKPOINTS]:
                old.unlink(missing_ok=True)
        return cache / name


class SQLStorage(Storage):
    """What the SQL backends (``Store``, ``postgres.PostgresStore``) run alike, written once with
    ``?`` placeholders and SQL that SQLite and PostgreSQL both read the same way. A subclass
    gives ``write`` (a transaction whose connection runs ``?`` statements), ``query``,
    ``query_one`` and ``scalar``; what differs between the databases (the reward join, the learn
    queue, retention, snapshots) stays in the subclass."""

    @abc.abstractmethod
    def write(self) -> AbstractContextManager:
        """``with store.write() as conn:`` one write transaction; ``conn.execute(sql, params)``
        and ``conn.executemany`` take ``?`` placeholders."""

    @abc.abstractmethod
    def query(self, sql: str, params=()) -> list[dict]:
        """Rows of a read as dicts (``?`` placeholders)."""

    @abc.abstractmethod
    def query_one(self, sql: str, params=()) -> dict | None:
        """The first row of a read as a dict, or None."""

    @abc.abstractmethod
    def scalar(self, sql: str, params=()):
        """The first column of the first row of a read, or None."""

    @abc.abstractmethod
    def rows(self, sql: str, params=()) -> list[tuple]:
        """Rows of a read as tuples (``?`` placeholders): no dict per row, for the request path."""

    # Catalog --------------------------------------------------------------------------------

    def has_catalog(self) -> bool:
        return bool(self.scalar("SELECT EXISTS (SELECT 1 FROM titles)"))

    def catalog_counts(self) -> tuple[int, int]:
        return (self.scalar("SELECT count(*) FROM titles"),
                self.scalar("SELECT count(*) FROM artworks WHERE active = 1"))

    def put_titles(self, titles: Sequence[tuple[dict, dict]], now: float) -> None:
        with self.write() as conn:
            for title, images in titles:
                self.put_title(conn, title, images, now)

    def put_title(self, conn, title: dict, images: dict, now: float) -> None:
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
                "INSERT INTO artworks (id, title_id, position, tags, active, is_default) VALUES (?, ?, ?, ?, 1, ?)"
                " ON CONFLICT(id) DO UPDATE SET position = excluded.position, tags = excluded.tags,"
                " active = 1, is_default = excluded.is_default",
                (art["id"], title["id"], index, json.dumps(art["tags"]), int(bool(art.get("default")))),
            )
            for size, meta in images.get(art["id"], {}).items():
                conn.execute(
                    "INSERT INTO artwork_images (artwork_id, size, file, width, height, bytes)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(artwork_id, size) DO UPDATE SET file = excluded.file,"
                    " width = excluded.width, height = excluded.height, bytes = excluded.bytes",
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
            f"SELECT id, title_id, tags, is_default FROM artworks WHERE active = 1 AND title_id IN ({marks})"
            " ORDER BY title_id, position", [r["id"] for r in rows])
        by_title: dict[str, list] = {}
        for art in arts:
            by_title.setdefault(art["title_id"], []).append({"id": art["id"], "tags": json.loads(art["tags"]),
                                                             "default": bool(art["is_default"])})
        return [
            {"id": r["id"], "name": r["name"], "genres": json.loads(r["genres"]), "year": r["year"],
             "synopsis": r["synopsis"], "artwork": by_title.get(r["id"], [])}
            for r in rows
        ]

    def genre_vocabulary(self) -> set[str]:
        return {g for r in self.query("SELECT genres FROM titles") for g in json.loads(r["genres"])}

    def image(self, artwork_id: str, size: str) -> dict | None:
        return self.query_one("SELECT * FROM artwork_images WHERE artwork_id = ? AND size = ?",
                              (artwork_id, size))

    def artwork_tags(self, artwork_ids: Sequence[str]) -> dict[str, dict]:
        marks = ",".join("?" * len(artwork_ids))
        return {r["id"]: json.loads(r["tags"]) for r in self.query(
            f"SELECT id, tags FROM artworks WHERE id IN ({marks})", list(artwork_ids))}

    # People ---------------------------------------------------------------------------------

    def history(self, user_id: str) -> dict:
        rows = self.rows(
            "SELECT 'v', title_id, seconds, at_ts FROM views WHERE user_id = ?"
            " UNION ALL SELECT 'r', title_id, thumbs, at_ts FROM ratings WHERE user_id = ?"
            " UNION ALL SELECT 'o', onboarding_genres, NULL, NULL FROM users WHERE id = ?", (user_id,) * 3)
        onboarding = [r[1] for r in rows if r[0] == "o"]
        return {"known": bool(onboarding),
                "views": [{"title_id": r[1], "seconds": r[2], "at_ts": r[3]} for r in rows if r[0] == "v"],
                # PostgreSQL types the union's column as a float: thumbs come back as the int stored
                "ratings": [{"title_id": r[1], "thumbs": int(r[2]), "at_ts": r[3]} for r in rows if r[0] == "r"],
                "onboarding_genres": json.loads(onboarding[0]) if onboarding else []}

    _NEW_PERSON = "INSERT INTO users (id, created_ts) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"

    def add_view(self, user_id: str, title_id: str, seconds: float, at_ts: float, now: float) -> None:
        with self.write() as conn:
            conn.execute(self._NEW_PERSON, (user_id, now))
            conn.execute("INSERT INTO views (user_id, title_id, seconds, at_ts) VALUES (?, ?, ?, ?)",
                         (user_id, title_id, seconds, at_ts))

    def set_rating(self, user_id: str, title_id: str, thumbs: int, now: float) -> None:
        with self.write() as conn:
            conn.execute(self._NEW_PERSON, (user_id, now))
            conn.execute("INSERT INTO ratings (user_id, title_id, thumbs, at_ts) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT (user_id, title_id) DO UPDATE SET thumbs = excluded.thumbs,"
                         " at_ts = excluded.at_ts", (user_id, title_id, thumbs, now))

    def set_onboarding_genres(self, user_id: str, genres: list[str], now: float) -> None:
        with self.write() as conn:
            conn.execute(self._NEW_PERSON, (user_id, now))
            conn.execute("UPDATE users SET onboarding_genres = ? WHERE id = ?", (json.dumps(genres), user_id))

    def profile(self, user_id: str, recent: int = 20) -> dict:
        user = self.query_one("SELECT onboarding_genres FROM users WHERE id = ?", (user_id,))
        return {
            "known": user is not None,
            "onboarding_genres": json.loads(user["onboarding_genres"]) if user else [],
            "views": self.scalar("SELECT count(*) FROM views WHERE user_id = ?", (user_id,)),
            "recent_views": self.query("SELECT title_id, seconds, at_ts FROM views WHERE user_id = ?"
                                       " ORDER BY at_ts DESC, id DESC LIMIT ?", (user_id, recent)),
            "ratings": self.query("SELECT title_id, thumbs FROM ratings WHERE user_id = ? ORDER BY at_ts DESC",
                                  (user_id,)),
        }

    # Decisions --------------------------------------------------------------------------------

    _LOG_DECISION = (f"INSERT INTO impressions ({', '.join(DECISION_COLUMNS)})"
                     f" VALUES ({', '.join('?' * len(DECISION_COLUMNS))})")

    def log_decisions(self, user_id: str, rows: Sequence[tuple], now: float, new_person: bool) -> None:
        with self.write() as conn:
            if new_person:
                conn.execute(self._NEW_PERSON, (user_id, now))
            conn.executemany(self._LOG_DECISION, rows)

    # The reward join ----------------------------------------------------------------------------

    #: How the reward join's read of an event and window closing's read of due events lock
    #: their rows (SQLite: nothing to add, its writer lock makes every other writer wait).
    _EVENT_LOCK = ""
    _DUE_LOCK = ""

    @staticmethod
    @abc.abstractmethod
    def _finalize(conn, event_ids: Sequence[str], reward: float, reason: str, now: float,
                  loop: Loop = ARTWORK) -> list[str]:
        """The backend's reward join rule (``Storage`` states it) inside the caller's write
        transaction; returns the events of ``event_ids`` that it finalized."""

    @contextmanager
    def reward_join(self, event_id: str, loop: Loop = ARTWORK) -> Iterator[RewardJoin]:
        with self.write() as conn:
            yield SQLRewardJoin(conn, event_id, self._finalize, lock=self._EVENT_LOCK, loop=loop)

    def close_due_windows(self, now: float, reward: float, batch: int, loop: Loop = ARTWORK) -> int:
        closed = 0
        while True:
            with self.write() as conn:
                due = [r[0] for r in conn.execute(
                    f"SELECT event_id FROM {loop.events} WHERE state = 'pending' AND deadline_ts <= ?"
                    " ORDER BY deadline_ts, event_id LIMIT ?" + self._DUE_LOCK, (now, batch))]
                done = self._finalize(conn, due, reward, "window", now, loop=loop)
                if len(done) != len(due):  # cannot happen with the rows locked; never half-close
                    raise RuntimeError(f"closing windows: {len(due)} due, {len(done)} finalized")
            closed += len(due)
            if len(due) < batch:
                return closed

    # Learning ---------------------------------------------------------------------------------

    def current_epoch(self, loop: Loop = ARTWORK) -> dict:
        return self.query_one(f"SELECT * FROM {loop.epochs} ORDER BY epoch DESC LIMIT 1")

    @staticmethod
    def _epoch_args(conn, loop: Loop = ARTWORK) -> str | None:
        return conn.execute(f"SELECT vw_args FROM {loop.epochs} ORDER BY epoch DESC LIMIT 1").fetchone()[0]

    @staticmethod
    def _new_epoch(conn, start_seq: int, vw_args: str | None, reason: str, now: float, loop: Loop = ARTWORK) -> int:
        return conn.execute(f"INSERT INTO {loop.epochs} (epoch, start_seq, vw_args, reason, created_ts)"
                            f" SELECT max(epoch) + 1, ?, ?, ?, ? FROM {loop.epochs} RETURNING epoch",
                            (start_seq, vw_args, reason, now)).fetchone()[0]

    def checkpoints(self, vw_args: str, epoch: int, loop: Loop = ARTWORK) -> list[dict]:
        return self.query(f"SELECT seq, file, sha256 FROM {loop.checkpoints} WHERE vw_args = ? AND epoch = ?"
                          " AND model = ? ORDER BY seq DESC, id DESC", (vw_args, epoch, loop.model))

    #: What ``learn_batch`` and ``queue_entries`` give of each learn-queue entry, in order.
    _QUEUE_ENTRY = ("seq", "event_id", "features", "chosen_index", "reward", "probability")

    @classmethod
    def _queue_entries_sql(cls, loop: Loop) -> str:
        """The learn-queue entries after a position (``?``), at most a number (``?``), in order:
        the one statement ``learn_batch`` and ``queue_entries`` read with."""
        return (f"SELECT q.seq, q.event_id, i.features, i.chosen_index, i.reward, i.probability FROM {loop.queue} q"
                f" JOIN {loop.events} i ON i.event_id = q.event_id WHERE q.seq > ? ORDER BY q.seq LIMIT ?")

    @classmethod
    def _queue_entry(cls, values) -> dict:
        entry = dict(zip(cls._QUEUE_ENTRY, values, strict=True))
        entry["features"] = json.loads(entry["features"])
        return entry

    def queue_entries(self, after_seq: int, limit: int, loop: Loop = ARTWORK) -> list[dict]:
        return [self._queue_entry(row.values())
                for row in self.query(self._queue_entries_sql(loop), (after_seq, limit))]

    def checkpoint_models(self, loop: Loop = ARTWORK) -> list[str]:
        return [r["model"] for r in self.query(f"SELECT DISTINCT model FROM {loop.checkpoints} WHERE model != ''"
                                               " ORDER BY model")]

    def forget_checkpoints(self, loop: Loop) -> list[str]:
        with self.write() as conn:
            return [r[0] for r in conn.execute(f"DELETE FROM {loop.checkpoints} WHERE model = ? RETURNING file",
                                               (loop.model,)).fetchall()]

    def all_checkpoints(self, loop: Loop = ARTWORK) -> list[dict]:
        """Every recorded checkpoint of ``loop``'s own model, of every epoch, oldest first:
        {"epoch", "seq", "file", "sha256", "vw_args"} (for ``artwork check`` and backups; a
        candidate arm's model is relearned from the log instead)."""
        return self.query(f"SELECT epoch, seq, file, sha256, vw_args FROM {loop.checkpoints} WHERE model = ''"
                          " ORDER BY epoch, seq, id")

    def forget_checkpoint(self, file: str, loop: Loop = ARTWORK) -> None:
        """Delete ``loop``'s checkpoint rows that name ``file`` (a backup whose copy of it could not
        be had)."""
        with self.write() as conn:
            conn.execute(f"DELETE FROM {loop.checkpoints} WHERE file = ? AND model = ''", (file,))

    def active_artwork_images(self) -> list[dict]:
        """Every active artwork with its image files: {"artwork_id", "size", "file"}, with size and
        file None for an artwork that has no image at all (for ``artwork check`` and backups)."""
        return self.query("SELECT a.id AS artwork_id, i.size, i.file FROM artworks a"
                          " LEFT JOIN artwork_images i ON i.artwork_id = a.id WHERE a.active = 1"
                          " ORDER BY a.id, i.size")

    # Experiments -----------------------------------------------------------------------------

    def create_experiment(self, name: str, definition: dict, now: float) -> bool:
        with self.write() as conn:
            return conn.execute("INSERT INTO experiments (name, definition, state, created_ts)"
                                " VALUES (?, ?, 'draft', ?) ON CONFLICT (name) DO NOTHING",
                                (name, json.dumps(definition), now)).rowcount == 1

    def _experiments(self, where: str = "", params=()) -> list[dict]:
        rows = self.query(f"SELECT * FROM experiments {where} ORDER BY created_ts DESC, name", params)
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        stops: dict[str, list] = {}
        for stop in self.query(f"SELECT * FROM experiment_arm_stops WHERE experiment IN ({marks})"
                               " ORDER BY stopped_ts, arm", [r["name"] for r in rows]):
            stops.setdefault(stop["experiment"], []).append(
                {"arm": stop["arm"], "stopped_ts": stop["stopped_ts"], "stopped_by": stop["stopped_by"],
                 "reason": stop["reason"]})
        return [{**row, "definition": json.loads(row["definition"]), "arm_stops": stops.get(row["name"], [])}
                for row in rows]

    def experiments(self) -> list[dict]:
        return self._experiments()

    def running_experiment(self) -> dict | None:
        found = self._experiments("WHERE state = 'running'")
        return found[0] if found else None

    def open_experiments(self) -> list[dict]:
        return self._experiments("WHERE state IN ('draft', 'running')")

    #: The driver's error for a broken unique constraint: two starts racing on PostgreSQL can both
    #: find none running, and the unique index on running experiments refuses the second.
    _UNIQUE_VIOLATION: tuple[type[BaseException], ...] = ()

    def start_experiment(self, name: str, now: float) -> bool:
        try:
            with self.write() as conn:
                return conn.execute(
                    "UPDATE experiments SET state = 'running', started_ts = ? WHERE name = ? AND state = 'draft'"
                    " AND NOT EXISTS (SELECT 1 FROM experiments WHERE state = 'running')", (now, name)).rowcount == 1
        except self._UNIQUE_VIOLATION:
            return False

    def stop_experiment(self, name: str, now: float, by: str, reason: str) -> bool:
        with self.write() as conn:
            return conn.execute(
                "UPDATE experiments SET state = 'stopped', stopped_ts = ?, stopped_by = ?, stop_reason = ?"
                " WHERE name = ? AND state IN ('draft', 'running')", (now, by, reason, name)).rowcount == 1

    def stop_arm(self, name: str, arm: str, now: float, by: str, reason: str) -> bool:
        with self.write() as conn:
            return conn.execute(
                "INSERT INTO experiment_arm_stops (experiment, arm, stopped_ts, stopped_by, reason)"
                " SELECT name, ?, ?, ?, ? FROM experiments WHERE name = ? AND state = 'running'"
                " ON CONFLICT (experiment, arm) DO NOTHING", (arm, now, by, reason, name)).rowcount == 1

    #: Whether a decision had an outcome of a kind (one index lookup per decision, no scan of outcomes).
    _HAD = ("CASE WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.event_id = i.event_id AND o.kind = {kind})"
            " THEN 1 ELSE 0 END")

    def experiment_people(self, name: str, quality_play_seconds: float) -> list[dict]:
        clicked = self._HAD.format(kind="'click'")
        played = self._HAD.format(kind="'play' AND o.seconds >= ?")
        return self.query(
            f"SELECT i.arm, i.user_id, count(*) AS decisions, sum({clicked}) AS clicks,"
            f" sum({played}) AS quality_plays FROM impressions i"
            " WHERE i.experiment = ? AND i.served_arm = i.arm GROUP BY i.arm, i.user_id ORDER BY i.arm, i.user_id",
            (quality_play_seconds, name))

    def experiment_decisions(self, name: str) -> list[dict]:
        clicked = self._HAD.format(kind="'click'")
        return [{"event_id": r["event_id"], "final": r["state"] == "final", "arm": r["arm"],
                 "served_arm": r["served_arm"], "title_id": r["title_id"],
                 "candidates": json.loads(r["candidates"]), "features": json.loads(r["features"]),
                 "pmf": json.loads(r["pmf"]), "chosen_index": r["chosen_index"], "probability": r["probability"],
                 "clicked": bool(r["clicked"])} for r in self.query(
            "SELECT i.event_id, i.state, i.arm, i.served_arm, i.title_id, i.candidates, i.features, i.pmf,"
            " i.chosen_index, i.probability,"
            f" {clicked} AS clicked FROM impressions i WHERE i.experiment = ? ORDER BY i.created_ts, i.event_id",
            (name,))]

    # Retention --------------------------------------------------------------------------------

    @staticmethod
    def _queue_tables(loop: Loop) -> tuple[str, ...]:
        """The tables that hold an event of ``loop`` in (or on the way to) its learn queue."""
        return (loop.queue,)

    def purge(self, cutoff: float) -> dict:
        with self.write() as conn:
            deleted = {}
            for loop in (ARTWORK, PERSONALIZER):
                old = f"SELECT event_id FROM {loop.events} WHERE state = 'final' AND created_ts < ?"
                for table in (loop.outcomes, *self._queue_tables(loop)):
                    conn.execute(f"DELETE FROM {table} WHERE event_id IN ({old})", (cutoff,))
                deleted[loop.name] = conn.execute(f"DELETE FROM {loop.events} WHERE state = 'final'"
                                                  " AND created_ts < ?", (cutoff,)).rowcount
            views = conn.execute("DELETE FROM views WHERE at_ts < ?", (cutoff,)).rowcount
            ratings = conn.execute("DELETE FROM ratings WHERE at_ts < ?", (cutoff,)).rowcount
        return {"decisions": deleted[ARTWORK.name], "personalizer_decisions": deleted[PERSONALIZER.name],
                "views": views, "ratings": ratings}

    # The Personalizer loop -----------------------------------------------------------------------

    _LOG_PZ_EVENT = (f"INSERT INTO pz_events ({', '.join(PZ_EVENT_COLUMNS)})"
                     f" VALUES ({', '.join('?' * len(PZ_EVENT_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING")

    def log_pz_event(self, event: dict) -> bool:
        with self.write() as conn:
            return conn.execute(self._LOG_PZ_EVENT, [event[c] for c in PZ_EVENT_COLUMNS]).rowcount == 1

    def import_pz_events(self, events: Sequence[dict]) -> int:
        imported = 0
        with self.write() as conn:
            for event in events:
                if conn.execute(self._LOG_PZ_EVENT, [event[c] for c in PZ_EVENT_COLUMNS]).rowcount == 1:
                    imported += len(self._finalize(conn, [event["event_id"]], event["reward"], "import",
                                                   event["created_ts"], loop=PERSONALIZER))
        return imported

    def pz_modes(self) -> list[dict]:
        return self.query("SELECT mode, reason, created_ts FROM pz_modes ORDER BY id")

    def set_pz_mode(self, mode: str, reason: str, now: float) -> None:
        with self.write() as conn:
            conn.execute("INSERT INTO pz_modes (mode, reason, created_ts) VALUES (?, ?, ?)", (mode, reason, now))

    def pz_evaluation_rows(self, since: float) -> list[dict]:
        return [{"chosen_index": r[0], "probability": r[1], "reward": r[2], "policy_pmf": json.loads(r[3]),
                 "pmf": json.loads(r[4])}
                for r in self.rows("SELECT chosen_index, probability, reward, policy_pmf, pmf FROM pz_events"
                                   " WHERE state = 'final' AND mode != 'import' AND created_ts >= ?"
                                   " ORDER BY created_ts, event_id", (since,))]

    def pz_export_rows(self, after: tuple[float, str] | None, limit: int) -> list[dict]:
        created, event_id = after if after is not None else (float("-inf"), "")
        return self.query(f"SELECT {', '.join(PZ_EVENT_COLUMNS)}, reward FROM pz_events WHERE state = 'final'"
                          " AND (created_ts > ? OR (created_ts = ? AND event_id > ?))"
                          " ORDER BY created_ts, event_id LIMIT ?", (created, created, event_id, limit))

    def pz_totals(self) -> dict:
        row = self.query_one(
            "SELECT count(*) AS events, count(CASE WHEN state = 'final' THEN 1 END) AS final,"
            " count(CASE WHEN state = 'pending' THEN 1 END) AS pending,"
            " count(CASE WHEN state = 'awaiting_activation' THEN 1 END) AS awaiting_activation,"
            " avg(CASE WHEN state = 'final' THEN reward END) AS mean_reward FROM pz_events")
        return dict(row)

    # Read-outs --------------------------------------------------------------------------------

    def decision(self, event_id: str) -> dict | None:
        row = self.query_one("SELECT * FROM impressions WHERE event_id = ?", (event_id,))
        if row is not None:
            row["outcomes"] = self.query("SELECT kind, seconds, effect, received_ts FROM outcomes"
                                         " WHERE event_id = ? ORDER BY id", (event_id,))
        return row

    def log_totals(self) -> dict:
        final = self.query_one("SELECT count(*) AS n, avg(reward) AS mean FROM impressions WHERE state = 'final'")
        return {
            "impressions": self.scalar("SELECT count(*) FROM impressions"),
            "clicks": self.scalar("SELECT count(DISTINCT event_id) FROM outcomes WHERE kind = 'click'"),
            "plays": self.scalar("SELECT count(DISTINCT event_id) FROM outcomes WHERE kind = 'play'"),
            "final": final["n"], "mean_reward": final["mean"],
            "pending": self.scalar("SELECT count(*) FROM impressions WHERE state = 'pending'"),
            "awaiting_activation": self.scalar("SELECT count(*) FROM impressions WHERE state = 'awaiting_activation'"),
        }

    _CLICKED = "LEFT JOIN (SELECT DISTINCT event_id FROM outcomes WHERE kind = 'click') c ON c.event_id = i.event_id"

    def click_rates(self, column: str) -> list[dict]:
        if column not in RATE_COLUMNS:
            raise ValueError(f"click rates by {column!r}: not one of {RATE_COLUMNS}")
        return self.query(f"SELECT coalesce(i.{column}, 'none') AS key, count(*) AS impressions,"
                          f" count(c.event_id) AS clicks FROM impressions i {self._CLICKED}"
                          " GROUP BY 1 ORDER BY 1")

    #: Decisions logged in the same second: SQLite's rowid is the order they were inserted in; a
    #: PostgreSQL table has none, and event ids (time first) stand in for it.
    LOG_ORDER = "event_id"

    def final_decisions(self, policy: str | None = None) -> list[dict]:
        return self.query(_final_decisions_sql(policy, self.LOG_ORDER), () if policy is None else (policy,))


class Store(SQLStorage):
    """The storage contract over the project's SQLite database: one file, WAL mode, one writer at
    a time. ``write``, ``query``, ``query_one``, ``scalar``, ``rows`` and ``put_title`` (for tests,
    benchmarks and the simulator's set-up) are not part of the contract."""

    LOG_ORDER = "rowid"

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
        # Held (shared) for as long as this store exists, so that ``artwork restore`` can tell
        # that some process of this host still uses the database (``database_in_use``).
        self._in_use_fd = os.open(in_use_path(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._in_use_fd, fcntl.LOCK_SH)
        # Several serving processes may open a new database at once: one migrates, the others wait.
        with open(self.path.with_name(self.path.name + ".migrate-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            db = sqlite_utils.Database(self._connect())
            try:
                db.enable_wal()
                migrations.apply(db)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise  # locked, a full disk, a folder we may not write: not damage
                raise StoreDamaged(damaged_message(self.path, str(exc))) from None
            finally:
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
        for name in ("_writer_lock_fd", "_in_use_fd"):
            fd = getattr(self, name, None)
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

    def rows(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    # Catalog --------------------------------------------------------------------------------

    # Lifecycle (the contract's) ---------------------------------------------------------------

    unavailable = (sqlite3.OperationalError,)  # a lock held past BUSY_TIMEOUT_MS, a full disk...
    _UNIQUE_VIOLATION = (sqlite3.IntegrityError,)
    failures = (sqlite3.DatabaseError,)  # also "database disk image is malformed", "file is not a database"

    def ping(self) -> None:
        """SQLite: reads the schema and the newest decision, so that a damaged header, schema or
        end of the log (where every new decision is written) fails the ping, in microseconds."""
        self.conn.execute("SELECT rowid FROM impressions ORDER BY rowid DESC LIMIT 1").fetchone()

    def integrity_problems(self, *, full: bool = True, seconds: float | None = None) -> tuple[list[str], bool]:
        """SQLite: first the structure (the schema, and the first and last entry of every table
        and index: where appended rows land, a few reads each), then
        ``PRAGMA integrity_check`` (``full``) or ``quick_check``, interrupted after ``seconds`` (0:
        not run)."""
        conn = self._connect()  # its own, so an interrupt cannot reach a request's connection
        try:
            problems = self._structure_problems(conn)
            if problems:
                return problems, True
            if seconds == 0:  # the structure only
                return [], False
            timer = None
            if seconds is not None:
                timer = threading.Timer(seconds, conn.interrupt)
                timer.start()
            try:
                rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
            except sqlite3.OperationalError as exc:
                if "interrupt" in str(exc):
                    return [], False
                raise
            except sqlite3.DatabaseError as exc:
                return [str(exc)], True
            finally:
                if timer is not None:
                    timer.cancel()
            return [r[0] for r in rows if r[0] != "ok"], True
        finally:
            conn.close()

    @staticmethod
    def _structure_problems(conn: sqlite3.Connection) -> list[str]:
        try:
            objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"
                                   " WHERE type IN ('table', 'index') ORDER BY type DESC, name").fetchall()
        except sqlite3.DatabaseError as exc:
            return [f"the schema cannot be read: {exc}"]
        problems = []
        for kind, name, table, sql in objects:
            try:
                if kind == "table":
                    reads = [f'SELECT * FROM "{name}" ORDER BY rowid {order} LIMIT 1' for order in ("ASC", "DESC")]
                else:
                    column = conn.execute(f'PRAGMA index_info("{name}")').fetchone()[2]
                    # a partial index (CREATE INDEX ... WHERE ...) is read under its own condition
                    partial = sql.split(" WHERE ", 1)[1] if sql and " WHERE " in sql else None
                    where = f" WHERE {partial}" if partial else ""
                    reads = [f'SELECT "{column}" FROM "{table}" INDEXED BY "{name}"{where} ORDER BY "{column}" {order}'
                             " LIMIT 1" for order in ("ASC", "DESC")]
                for sql in reads:
                    conn.execute(sql).fetchall()
            except sqlite3.DatabaseError as exc:
                problems.append(f"{kind} {name}: {exc}")
        return problems

    def backup_to(self, path: Path) -> None:
        """Copy the database, as of one moment, to a new file ``path`` with SQLite's online
        backup: one read transaction on a connection of its own, so the service goes on writing
        meanwhile (into the WAL), and the copy holds exactly what was committed when it began."""
        source = self._connect()
        target = sqlite3.connect(path)
        try:
            source.backup(target)  # pages=-1: in one step, so one snapshot
        finally:
            target.close()
            source.close()

    def maintain(self) -> None:
        self.checkpoint_wal()

    # Catalog (the contract's) ---------------------------------------------------------------

    # People (the contract's) ----------------------------------------------------------------


    def delete_person(self, user_id: str, forget_decisions: bool, now: float) -> dict:
        """SQLite: the log has no index by person (m004), so the decisions are found by a scan
        outside the writer lock (``scan_person_decisions``); then, under it, those still the
        person's are kept and any made meanwhile added."""
        scanned, last = self.scan_person_decisions(user_id)
        with self.write() as conn:
            views = conn.execute("DELETE FROM views WHERE user_id = ?", (user_id,)).rowcount
            ratings = conn.execute("DELETE FROM ratings WHERE user_id = ?", (user_id,)).rowcount
            known = conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount
            top = last[0] if last else 0
            still = last is None or conn.execute("SELECT 1 FROM impressions WHERE rowid = ? AND event_id = ?",
                                                 last).fetchone() is not None
            if still:  # the log's last row outlived the scan, so every row added since comes after it
                ids = [r[0] for r in conn.execute(
                    "SELECT i.event_id FROM json_each(?) AS j JOIN impressions AS i ON i.event_id = j.value"
                    " WHERE i.user_id = ?", (json.dumps(scanned), user_id))]
                ids += [r[0] for r in conn.execute("SELECT event_id FROM impressions WHERE rowid > ? AND user_id = ?",
                                                   (top, user_id))]
            else:  # the newest rows were deleted meanwhile and their rowids may be reused: read it all again
                ids = [r[0] for r in conn.execute("SELECT event_id FROM impressions WHERE user_id = ?", (user_id,))]
            events = json.dumps(ids)
            unlinked = deleted = 0
            if forget_decisions:
                chosen = "SELECT value FROM json_each(?)"
                conn.execute(f"DELETE FROM outcomes WHERE event_id IN ({chosen})", (events,))
                conn.execute(f"DELETE FROM learn_queue WHERE event_id IN ({chosen})", (events,))
                deleted = conn.execute(f"DELETE FROM impressions WHERE event_id IN ({chosen})", (events,)).rowcount
                if deleted:
                    self._new_epoch(conn, 0, self._epoch_args(conn), f"forget {deleted} decisions", now)
            else:
                unlinked = conn.execute("UPDATE impressions SET user_id = 'deleted' WHERE event_id IN"
                                        " (SELECT value FROM json_each(?))", (events,)).rowcount
        return {"views": views, "ratings": ratings, "known": known, "unlinked": unlinked, "deleted": deleted}

    # Decisions and the reward join (the contract's) ------------------------------------------


    @staticmethod
    def _finalize(conn: sqlite3.Connection, event_ids: Sequence[str], reward: float, reason: str,
                  now: float, loop: Loop = ARTWORK) -> list[str]:
        """The reward join's rule, the one place it is written (``Storage`` states it), inside the
        caller's write transaction: of ``event_ids``, each still pending becomes final with
        ``reward`` and takes the next learn-queue place, in the order given. Returns those; the
        others are left as they were. The UNIQUE constraint on learn_queue backs up "at most once"."""
        done = [event_id for event_id in event_ids if conn.execute(
            f"UPDATE {loop.events} SET state = 'final', reward = coalesce(reward, ?), final_reason = ?, final_ts = ?"
            " WHERE event_id = ? AND state = 'pending'", (reward, reason, now, event_id)).rowcount]
        conn.executemany(f"INSERT INTO {loop.queue} (event_id, final_ts) VALUES (?, ?)",
                         [(event_id, now) for event_id in done])
        return done

    # Learning (the contract's) ----------------------------------------------------------------

    def learn_batch(self, after_seq: int, limit: int, loop: Loop = ARTWORK) -> list[dict]:
        return [self._queue_entry(row) for row in self.conn.execute(self._queue_entries_sql(loop), (after_seq, limit))]

    def learn_queue_after(self, seq: int, loop: Loop = ARTWORK) -> tuple[int, float | None]:
        count, oldest = self.conn.execute(f"SELECT count(*), min(final_ts) FROM {loop.queue} WHERE seq > ?",
                                          (seq,)).fetchone()
        return count, oldest

    def start_epoch(self, reason: str, now: float, *, relearn_log: bool, vw_args: str | None = None,
                    loop: Loop = ARTWORK) -> dict:
        with self.write() as conn:
            start = 0 if relearn_log else conn.execute(f"SELECT coalesce(max(seq), 0) FROM {loop.queue}").fetchone()[0]
            args = vw_args if vw_args is not None else self._epoch_args(conn, loop)
            epoch = self._new_epoch(conn, start, args, reason, now, loop)
        return {"epoch": epoch, "start_seq": start, "vw_args": args}

    def publish_checkpoint(self, models_dir: Path, snapshot: dict, now: float, keep: int,
                           loop: Loop = ARTWORK) -> list[str]:
        """SQLite: the row commits, then ``latest.json`` is pointed at the file (write, fsync,
        rename), which is what serving processes on this host follow."""
        epoch = snapshot["epoch"]
        with self.write() as conn:
            conn.execute(f"INSERT INTO {loop.checkpoints} (seq, file, sha256, vw_args, created_ts, epoch, model)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", (snapshot["seq"], snapshot["file"], snapshot["sha256"],
                                                           snapshot["vw_args"], now, epoch, loop.model))
            old = conn.execute(
                f"SELECT id, file FROM {loop.checkpoints} WHERE model = ?3 AND (epoch < ?1 OR id IN (SELECT id FROM"
                f" {loop.checkpoints} WHERE epoch = ?1 AND model = ?3 ORDER BY seq DESC, id DESC LIMIT -1 OFFSET ?2))",
                (epoch, keep, loop.model)).fetchall()
            conn.executemany(f"DELETE FROM {loop.checkpoints} WHERE id = ?", [(r[0],) for r in old])
        write_atomically(Path(models_dir) / LATEST, json.dumps(snapshot).encode())
        return [r[1] for r in old]

    def latest_snapshot(self, models_dir: Path, loop: Loop = ARTWORK) -> dict | None:
        try:  # each loop's models folder has its own pointer
            return json.loads((Path(models_dir) / LATEST).read_text())
        except (OSError, ValueError):
            return None

    def stored_file(self, kind: str, name: str, loop: Loop = ARTWORK) -> bytes | None:
        return None  # the data directory's files are the only copy

    def learner_lease(self) -> LearnerLease:
        return FileLease(self.path.with_name(self.path.name + ".learner-lock"))

    # Read-outs (the contract's) -------------------------------------------------------------


    def timeline(self, since: float) -> list[dict]:
        return self.query("SELECT CAST(i.created_ts / 60 AS INTEGER) AS minute, count(*) AS impressions,"
                          f" count(c.event_id) AS clicks FROM impressions i {self._CLICKED}"
                          " WHERE i.created_ts >= ? GROUP BY minute ORDER BY minute", (since,))


class SQLRewardJoin(RewardJoin):
    """``RewardJoin`` inside a SQL store's write transaction, on a connection that runs ``?``
    statements. ``finalize_rule`` is the store's reward join rule (``Store._finalize``,
    ``PostgresStore._finalize``); ``lock`` ends the read of the event (PostgreSQL: ``FOR UPDATE``,
    so outcomes for one event take turns; SQLite's writer lock already makes everything wait)."""

    def __init__(self, conn, event_id: str, finalize_rule, lock: str = "", loop: Loop = ARTWORK):
        self._conn = conn
        self._event_id = event_id
        self._finalize = finalize_rule
        self._loop = loop
        row = conn.execute(f"SELECT state, deadline_ts, deferred, final_reason, reward FROM {loop.events}"
                           " WHERE event_id = ?" + lock, (event_id,)).fetchone()
        self.event = None if row is None else {"state": row[0], "deadline_ts": row[1], "deferred": bool(row[2]),
                                               "final_reason": row[3], "reward": row[4]}

    def held_outcomes(self) -> list[dict]:
        value = self._loop.outcome_value
        return [{"kind": r[0], value: r[1]} for r in self._conn.execute(
            f"SELECT kind, {value} FROM {self._loop.outcomes} WHERE event_id = ? AND kind != 'activate' ORDER BY id",
            (self._event_id,))]

    def activate(self, now: float, deadline_ts: float) -> None:
        self._conn.execute(f"UPDATE {self._loop.events} SET state = 'pending', activated_ts = ?, deadline_ts = ?"
                           " WHERE event_id = ?", (now, deadline_ts, self._event_id))
        self.event.update(state="pending", deadline_ts=deadline_ts)

    def finalize(self, reward: float, reason: str, now: float) -> bool:
        if not self._finalize(self._conn, [self._event_id], reward, reason, now, loop=self._loop):
            return False
        self.event.update(state="final", reward=reward if self.event["reward"] is None else self.event["reward"],
                          final_reason=reason)
        return True

    def add_reward(self, value: float) -> None:
        total = (self.event["reward"] or 0.0) + value
        self._conn.execute(f"UPDATE {self._loop.events} SET reward = ? WHERE event_id = ? AND state = 'pending'",
                           (total, self._event_id))
        self.event.update(reward=total)

    def add_outcome(self, kind: str, seconds: float | None, now: float, effect: str) -> None:
        self._conn.execute(f"INSERT INTO {self._loop.outcomes} (event_id, kind, {self._loop.outcome_value},"
                           " received_ts, effect) VALUES (?, ?, ?, ?, ?)", (self._event_id, kind, seconds, now, effect))


class LoopLog:
    """One loop's log as its learner sees it: the store's learning operations (the reward join's
    window closing, the learn queue, epochs, checkpoints and snapshots) with ``loop`` fixed. The
    artwork loop's learner is given the store itself; another loop's, a ``LoopLog``."""

    def __init__(self, store: Storage, loop: Loop):
        self.store = store
        self.loop = loop

    def close_due_windows(self, now: float, reward: float, batch: int) -> int:
        return self.store.close_due_windows(now, reward, batch, loop=self.loop)

    def learn_batch(self, after_seq: int, limit: int) -> list[dict]:
        return self.store.learn_batch(after_seq, limit, loop=self.loop)

    def learn_queue_after(self, seq: int) -> tuple[int, float | None]:
        return self.store.learn_queue_after(seq, loop=self.loop)

    def current_epoch(self) -> dict:
        return self.store.current_epoch(loop=self.loop)

    def start_epoch(self, reason: str, now: float, *, relearn_log: bool, vw_args: str | None = None) -> dict:
        return self.store.start_epoch(reason, now, relearn_log=relearn_log, vw_args=vw_args, loop=self.loop)

    def checkpoints(self, vw_args: str, epoch: int) -> list[dict]:
        return self.store.checkpoints(vw_args, epoch, loop=self.loop)

    def publish_checkpoint(self, models_dir: Path, snapshot: dict, now: float, keep: int) -> list[str]:
        return self.store.publish_checkpoint(models_dir, snapshot, now, keep, loop=self.loop)

    def latest_snapshot(self, models_dir: Path) -> dict | None:
        return self.store.latest_snapshot(models_dir, loop=self.loop)

    def local_copy(self, folder: Path, name: str, kind: str, sha256: str | None = None) -> Path | None:
        return self.store.local_copy(folder, name, kind, sha256, loop=self.loop)

    def maintain(self) -> None:
        """Nothing: the store's housekeeping is the artwork loop's learner's."""
