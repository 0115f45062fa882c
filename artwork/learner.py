"""The online learner: closes reward windows, learns final events in order, checkpoints.

Exactly-once learning rests on one sequence: ``learn_queue``. An event enters it once (when its
reward becomes final) and gets the next sequence number; the model is the VW arguments plus the
events 1..seq learned in order. A checkpoint records the seq it includes, so on start the
service loads the latest checkpoint and re-learns everything after it: a crash loses no
learning and learns nothing twice.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from . import metrics
from .config import Settings
from .experiments import Guardrail
from .policy import Model
from .storage import BACKSTOP_WAL_PAGES, LoopLog, Storage, file_sha256
from .stores import open_store

log = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 3
#: Events whose windows the learner closes per write transaction (measured 35 µs each: about
#: 4 ms of the writer lock, which decisions wait for).
CLOSE_BATCH = 100


def epoch_args(epoch: dict, default_args: str) -> str:
    return epoch["vw_args"] or default_args


def load_model(store: Storage, default_args: str, models_dir: Path) -> Model:
    """The newest checkpoint of the current model epoch that loads, else a fresh model.

    A checkpoint made with other VW arguments or in an earlier epoch is not used: the model is
    then rebuilt from the log, from the epoch's starting point. A checkpoint's file comes from
    this host's disk or, where the database keeps the bytes, from the database
    (``Storage.local_copy``), checksum checked either way.
    """
    epoch = store.current_epoch()
    vw_args = epoch_args(epoch, default_args)
    rows = store.checkpoints(vw_args, epoch["epoch"])
    for row in rows:
        path = store.local_copy(models_dir, row["file"], "checkpoint", row["sha256"])
        if path is None:
            log.warning("checkpoint %s is missing or corrupted (checksum mismatch); trying an older one", row["file"])
            continue
        try:
            return Model(vw_args, path, seq=row["seq"], epoch=epoch["epoch"])
        except Exception as exc:  # VW raises plain RuntimeError/Exception for a bad file
            log.warning("checkpoint %s could not be loaded (%s); trying an older one", path, exc)
    if rows:
        log.warning("no usable checkpoint: rebuilding the model from the log")
    return Model(vw_args, seq=epoch["start_seq"], epoch=epoch["epoch"])


class SnapshotFollower:
    """In a serving process: load each snapshot the learner publishes and swap it in (SQLite:
    ``latest.json`` in the models folder; PostgreSQL: the database's newest checkpoint).

    Requests keep using the model they started with; the old one is freed when the last of them
    is done with it.
    """

    def __init__(self, service, models_dir: Path, interval: float, store=None):
        """``service`` holds the ``model`` swapped; ``store`` (default: the service's) publishes the
        snapshots (another loop's: its ``storage.LoopLog``)."""
        self.service = service
        self.store = service.store if store is None else store
        self.models_dir = Path(models_dir)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="artwork-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Load the published snapshot if it is newer than the model in use; True if swapped."""
        snapshot = self.store.latest_snapshot(self.models_dir)
        current = self.service.model
        if snapshot is None or (snapshot.get("epoch", 1), snapshot["seq"]) <= (current.epoch, current.seq):
            return False
        try:
            path = self.store.local_copy(self.models_dir, snapshot["file"], "checkpoint", snapshot["sha256"])
            if path is None:
                return False  # being replaced right now; the next look will find the new one
            self.service.model = Model(snapshot["vw_args"], path, seq=snapshot["seq"],
                                       epoch=snapshot.get("epoch", 1))
        except (OSError, RuntimeError) as exc:  # deleted or replaced under us: try again later
            log.info("snapshot %s not loaded (%s); will retry", snapshot["file"], exc)
            return False
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("snapshot check failed; retrying")


class Learner:
    """Turns final events into model updates, in learn-queue order, each exactly once."""

    def __init__(self, settings: Settings, store: Storage, model: Model, models_dir: Path, clock=time.time,
                 checkpoint_seconds: float | None = None, *, default_reward: float | None = None,
                 vw_args: str | None = None):
        """``store`` is the store (the artwork loop) or another loop's ``storage.LoopLog``, with
        that loop's ``default_reward`` and ``vw_args`` (None: the artwork loop's settings)."""
        self.settings = settings
        self.default_reward = settings.default_reward if default_reward is None else default_reward
        self.vw_args = settings.vw_args if vw_args is None else vw_args
        self.checkpoint_seconds = float(settings.checkpoint_every_seconds if checkpoint_seconds is None
                                        else checkpoint_seconds)
        self.store = store
        self.model = model
        self.models_dir = Path(models_dir)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpointed = (model.epoch, model.seq)
        self._checkpointed_at = clock()
        #: Told about the new model when a reset or retrain replaces it (the service swaps it in).
        self.on_new_model = lambda model: None
        self._run_lock = threading.RLock()
        #: At most this many events learned per round (None: all there are), so that a model
        #: catching up on a long log (a candidate arm's) does not hold up the round's other work.
        self.round_limit: int | None = None
        #: The running experiment's guardrail (experiments.py), tested between rounds, and the
        #: learners of its candidate arms (candidates.py), run in each round. Experiments are the
        #: artwork loop's, so another loop's learner (given a ``LoopLog``) has neither.
        self.guardrail = self.candidates = None
        if not isinstance(store, LoopLog):
            from .candidates import CandidateArmLearners  # it builds on this module

            self.guardrail = Guardrail(settings, store, clock)
            self.candidates = CandidateArmLearners(settings, store, self.models_dir, clock,
                                                   settings.publish_every_seconds)

    # One round ------------------------------------------------------------------------------

    def close_windows(self, now: float | None = None, batch: int = CLOSE_BATCH) -> int:
        """Give the default reward to every pending event whose wait window has closed.

        ``batch`` events per write transaction, so decisions never wait long for the writer
        lock; each batch is finalized by the reward join's rule (``Storage``), the one the
        outcome path uses: they enter the learn queue in deadline order and become final, or
        nothing changes.
        """
        now = self.clock() if now is None else now
        return self.store.close_due_windows(now, self.default_reward, batch)

    def learn_available(self, batch: int = 2000, limit: int | None = None) -> int:
        """Learn every queued event the model does not have yet (at most ``limit`` of them, in
        queue order); returns how many."""
        learned = 0
        with self._run_lock:
            while True:
                size = batch if limit is None else min(batch, limit - learned)
                rows = self.store.learn_batch(self.model.seq, size)
                for row in rows:
                    self.model.learn(row["features"], row["chosen_index"], row["reward"], row["probability"],
                                     row["seq"])
                learned += len(rows)
                if len(rows) < size or learned == limit:
                    return learned

    def checkpoint(self) -> Path | None:
        """Save the model if it learned anything since the last checkpoint; returns the file."""
        with self._run_lock:  # nothing is learned while the model is being saved
            seq = self.model.seq
            if (self.model.epoch, seq) == self._checkpointed:
                return None
            name = f"model-e{self.model.epoch}-{seq:012d}.vw"
            self.model.save(self.models_dir / name)
            # Forgets older checkpoints beyond the last few, and every one of an earlier model epoch
            # (after a person's decisions were forgotten, no model file may keep what was learned from them).
            snapshot = {"seq": seq, "epoch": self.model.epoch, "file": name,
                        "sha256": file_sha256(self.models_dir / name), "vw_args": self.model.vw_args}
            old = self.store.publish_checkpoint(self.models_dir, snapshot, self.clock(), keep=KEEP_CHECKPOINTS)
            for file in old:
                if file != name:
                    (self.models_dir / file).unlink(missing_ok=True)
            self._checkpointed = (self.model.epoch, seq)
            self._checkpointed_at = self.clock()
            return self.models_dir / name

    def follow_epoch(self) -> bool:
        """After a reset or retrain (a new model epoch), start the new epoch's model; True if so."""
        epoch = self.store.current_epoch()
        if epoch["epoch"] == self.model.epoch:
            return False
        with self._run_lock:
            self.model = Model(epoch_args(epoch, self.vw_args), seq=epoch["start_seq"],
                               epoch=epoch["epoch"])
            log.info("model epoch %d (%s): learning from event %d on", epoch["epoch"], epoch["reason"],
                     epoch["start_seq"] + 1)
            if self.round_limit is None:  # else the round's budget is learned by run_once
                self.learn_available()
            self.on_new_model(self.model)
        return True

    def run_once(self, now: float | None = None) -> int:
        """Close due windows, learn what is final, checkpoint when due. Returns events learned."""
        with self._run_lock:
            self.close_windows(now)
            self.follow_epoch()
            learned = self.learn_available(limit=self.round_limit)
            due_events = (self.model.epoch != self._checkpointed[0]
                          or self.model.seq - self._checkpointed[1] >= self.settings.checkpoint_every_events)
            due_time = self.clock() - self._checkpointed_at >= self.checkpoint_seconds
            if due_events or due_time:
                self.checkpoint()
        try:
            if self.guardrail is not None:
                self.guardrail.check()
            if self.candidates is not None:
                self.candidates.run_once()
        finally:
            # The WAL's checkpoints happen here, off the request path (serving processes only keep a
            # backstop, storage.BACKSTOP_WAL_PAGES).
            self.store.maintain()
        return learned

    # Background thread ----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="artwork-learner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.settings.learner_interval_seconds
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("learner round failed; retrying")
            self._wake.wait(interval)
            self._wake.clear()

    def stop(self, checkpoint: bool = True) -> None:
        """Stop the thread and (by default) write a final checkpoint."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if checkpoint:
            self.checkpoint()
            if self.candidates is not None:
                self.candidates.checkpoint()


def learner_store(settings: Settings) -> Storage:
    """The learner process's store. With SQLite it checkpoints the WAL after each round
    (``Learner.run_once``), never inside a commit, where the writer lock is held and every
    serving process's decisions would wait for the copying (SQLite's own autocheckpoint runs
    inside the commit)."""
    return open_store(settings, wal_autocheckpoint=BACKSTOP_WAL_PAGES)


class LearnerCandidate:
    """One candidate for being the learner of a log: among all candidates of every host that
    share it, exactly one leads (holds ``Storage.learner_lease``) and learns; the others stand
    by, trying for the lease every ``STANDBY_POLL_SECONDS``. A leader checks that it still holds
    the lease before each round and, if it was lost (its database connection broke), stops
    learning at once and stands by again. Becoming leader starts from the newest checkpoint and
    the log, as a restart does."""

    def __init__(self, settings: Settings, store: Storage, models_dir: Path, clock=time.time):
        self.settings = settings
        self.store = store
        self.models_dir = Path(models_dir)
        self.clock = clock
        self.lease = store.learner_lease()
        #: The learner while this candidate leads, else None.
        self.learner: Learner | None = None
        #: The other loops' learners (the Personalizer loop's), led along with it.
        self.loop_learners: list[Learner] = []

    @property
    def is_leader(self) -> bool:
        """Whether this process is the one learner now (for metrics and logs)."""
        return self.learner is not None

    def step(self) -> bool:
        """One pass: a standby tries for the lease (and, winning it, catches up with the log); a
        leader checks it still holds the lease and runs a learner round, or steps down. Returns
        whether this candidate leads afterwards."""
        if self.learner is None:
            if self.lease.acquire():
                self._lead()
            return self.is_leader
        if not self.lease.held():
            log.warning("lost the learner lease (database connection gone?): standing by")
            self.learner, self.loop_learners = None, []
            return False
        self.learner.run_once()
        for learner in self.loop_learners:
            learner.run_once()
        return True

    def _lead(self) -> None:
        model = load_model(self.store, self.settings.vw_args, self.models_dir)
        learner = Learner(self.settings, self.store, model, self.models_dir, clock=self.clock,
                          checkpoint_seconds=self.settings.publish_every_seconds)
        learned = learner.learn_available()
        learner.checkpoint()
        self.learner = learner
        from .personalizer import personalizer_learner  # it builds on this module

        self.loop_learners = [personalizer_learner(self.settings, self.store, self.models_dir, clock=self.clock,
                                                   checkpoint_seconds=self.settings.publish_every_seconds)]
        log.info("leading: the learner of this log, at event %d (%d re-learned from the log)", model.seq, learned)

    def stop(self) -> None:
        """A leader writes a last checkpoint; the lease is given up either way."""
        try:
            if self.learner is not None and self.lease.held():
                for learner in (self.learner, *self.loop_learners):
                    learner.checkpoint()
                self.learner.candidates.checkpoint()
        finally:
            self.learner, self.loop_learners = None, []
            self.lease.release()


#: How often a standby candidate tries for the learner lease, in seconds.
STANDBY_POLL_SECONDS = 1.0


def run_learner_process(settings: Settings, parent_pid: int | None = None) -> None:
    """The learner as its own process (``artwork learn``): a candidate that, once it leads,
    catches up with the log, then learns and publishes snapshots; until SIGTERM or SIGINT (or,
    with ``parent_pid``, until that process is gone: a server killed outright leaves no learner
    behind), when a leader writes a last checkpoint."""
    from .catalog import data_paths
    from .integrity import check_at_start

    store = learner_store(settings)
    check_at_start(store, seconds=0)  # the structure only: `artwork serve` checked the pages
    candidate = LearnerCandidate(settings, store, data_paths(settings.data_dir)["models"])
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    log.info("learner candidate started (pid %d)", os.getpid())
    while not stopping.is_set():
        try:
            candidate.step()
        except Exception:
            log.exception("learner round failed; retrying")
        metrics.set_leader(candidate)  # for the serving processes' /metrics (under serve --workers)
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the server (pid %d) is gone; stopping", parent_pid)
            break
        stopping.wait(settings.learner_interval_seconds if candidate.is_leader else STANDBY_POLL_SECONDS)
    candidate.stop()
    metrics.set_leader(candidate)
    store.close()
