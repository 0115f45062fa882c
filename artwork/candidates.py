"""Candidate arms at work: the learners of an experiment's candidate VW configurations, and the
models a serving process draws their arms' artwork from.

A candidate arm (``experiments.py``: ``{"policy": "candidate", "vw_args": ...}``) is a second
model of the artwork loop. It learns the loop's learn queue, the same events in the same order
as the live model, each once, from the current model epoch's starting point: the whole log,
whichever arm drew each event. Every event carries the probability it was drawn with, so this
is off-policy learning, by the VW arguments' own ``cb_type``. Like the live model it is
checkpointed with the queue position it includes (its rows of the checkpoints table,
``storage.Loop.model`` = "experiment/arm"), so a restarted learner loads its newest checkpoint
and relearns the rest; serving processes follow its snapshots; a new epoch (a reset, a retrain,
a person's decisions forgotten) rebuilds it from the epoch's starting point, with its own
arguments, not a retrain's.

- ``CandidateArmLearners`` runs in the live learner's round (``Learner.run_once``), so wherever
  the one learner runs: one ``Learner`` per candidate arm of a draft or of the running
  experiment (a draft's learn before it starts, so they are caught up when it does), on a
  ``CandidateArmLog``, together catching up at most ``CATCH_UP_EVENTS`` per round so that the
  live model's learning is not held up behind a long log. When the arm stops (its experiment
  stopped or called off, or the guardrail stopped the arm) its checkpoints and files are deleted.
- ``CandidateArmModels`` holds, in each serving process, the models decisions draw from: the
  learner's own model objects when it runs in the process (``ROLE=all``), else each candidate's
  newest snapshot, followed as the learner publishes them (``ROLE=serve``).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from pathlib import Path

from .catalog import data_paths
from .experiments import CACHE_SECONDS, candidate_arms, candidate_folder, candidate_key, candidate_loop
from .learner import Learner, SnapshotFollower, load_model
from .policy import Model
from .storage import LoopLog, Storage

log = logging.getLogger(__name__)

#: Events the candidates learn per learner round at most, shared among them: a new candidate
#: catches up on a long log over many rounds (the live model's round goes on between them)
#: instead of in one.
CATCH_UP_EVENTS = 20_000
#: How long a serving process keeps a candidate's last model after the candidate stopped serving:
#: its people may still be assigned to it for ``CACHE_SECONDS`` (the running experiment is kept
#: that long), and they are served its last model rather than an untrained one.
RETIRED_SECONDS = 2 * CACHE_SECONDS


class CandidateArmLog(LoopLog):
    """The artwork loop's log as a candidate arm's learner sees it: the same learn queue and
    epochs, its own checkpoints. It closes no windows (the live learner does) and starts no
    epochs; an epoch's VW arguments (a retrain's) are the live model's, not the candidate's."""

    def __init__(self, store: Storage, key: str):
        super().__init__(store, candidate_loop(key))

    def close_due_windows(self, now: float, reward: float, batch: int) -> int:
        return 0

    def current_epoch(self) -> dict:
        return {**self.store.current_epoch(loop=self.loop), "vw_args": None}

    def start_epoch(self, reason: str, now: float, *, relearn_log: bool, vw_args: str | None = None) -> dict:
        raise RuntimeError("a candidate arm's model follows the artwork loop's epochs; it starts none")

    def forget(self) -> list[str]:
        """Delete every checkpoint of this candidate; returns their files."""
        return self.store.forget_checkpoints(self.loop)


class CandidateArmLearners:
    """The learners of the candidate arms of the drafts and of the running experiment, run by the
    live learner each round. ``on_model(key, model)`` and ``on_drop(key)`` tell a serving process
    in the same process (``CandidateArmModels``) which model each candidate now has. Each
    candidate is checkpointed every ``checkpoint_seconds`` while it learns
    (``PUBLISH_EVERY_SECONDS``, even beside a one-process server: other processes, the CLI's
    report for one, know a candidate only by its checkpoints)."""

    def __init__(self, settings, store: Storage, models_dir: Path, clock, checkpoint_seconds: float):
        self.settings = settings
        self.store = store
        self.models_dir = Path(models_dir)
        self.clock = clock
        self.checkpoint_seconds = checkpoint_seconds
        self.learners: dict[str, Learner] = {}
        self.on_model = lambda key, model: None
        self.on_drop = lambda key: None
        self._looked_at = float("-inf")
        self._swept = False

    def run_once(self) -> int:
        """Follow the candidate arms of the drafts and the running experiment (looked up every
        ``CACHE_SECONDS`` of the service's clock: a draft's candidates learn before it starts,
        so they are caught up when it does), then run each one's learner round. Returns events
        learned. A candidate that fails is logged and tried again next round; the others, and
        the live learner's round, go on."""
        now = self.clock()
        if now - self._looked_at >= CACHE_SECONDS:
            self._looked_at = now
            self._follow({key: arm for experiment in self.store.open_experiments()
                          for key, arm in candidate_arms(experiment).items()})
        learned = 0
        for key, learner in list(self.learners.items()):
            learner.round_limit = max(1, CATCH_UP_EVENTS // len(self.learners))
            try:
                learned += learner.run_once(now)
            except Exception:
                log.exception("candidate arm %s: learner round failed; retrying next round", key)
        return learned

    def _follow(self, wanted: dict[str, dict]) -> None:
        gone = [key for key in self.learners if key not in wanted]
        if not self._swept:  # candidates whose experiment ended while no learner ran: rows and files
            gone += [key for key in self.store.checkpoint_models() if key not in wanted and key not in gone]
            folders = Path(self.models_dir) / "candidates"
            gone += [f"{folder.parent.name}/{folder.name}" for folder in sorted(folders.glob("*/*"))
                     if f"{folder.parent.name}/{folder.name}" not in wanted]
            self._swept = True
        for key in dict.fromkeys(gone):
            self._drop(key)
        for key, arm in wanted.items():
            if key not in self.learners:
                try:
                    self._start(key, arm)
                except Exception:
                    log.exception("candidate arm %s: could not start its learner; trying again", key)
                    self._looked_at = float("-inf")

    def _start(self, key: str, arm: dict) -> None:
        candidate_log = CandidateArmLog(self.store, key)
        folder = candidate_folder(self.models_dir, key)
        model = load_model(candidate_log, arm["vw_args"], folder)
        learner = Learner(self.settings, candidate_log, model, folder, clock=self.clock,
                          checkpoint_seconds=self.checkpoint_seconds, vw_args=arm["vw_args"])
        learner.round_limit = CATCH_UP_EVENTS
        learner.on_new_model = lambda new: self.on_model(key, new)
        self.learners[key] = learner
        self.on_model(key, model)
        log.info("candidate arm %s (%s): learning the log from event %d on", key, arm["vw_args"], model.seq + 1)

    def _drop(self, key: str) -> None:
        self.learners.pop(key, None)
        CandidateArmLog(self.store, key).forget()
        shutil.rmtree(candidate_folder(self.models_dir, key), ignore_errors=True)
        with_parent = candidate_folder(self.models_dir, key).parent
        with contextlib.suppress(OSError):  # the experiment's folder, once its last candidate is gone
            with_parent.rmdir()
        self.on_drop(key)
        log.info("candidate arm %s no longer serves: its checkpoints are deleted", key)

    def checkpoint(self) -> None:
        for learner in self.learners.values():
            learner.checkpoint()


class _Held:
    """One candidate's model in a serving process, and how it is kept current: a follower of its
    snapshots, or None when the learner in this process hands over its model itself."""

    def __init__(self, model: Model, follower: SnapshotFollower | None):
        self.model = model
        self.follower = follower


class CandidateArmModels:
    """The candidate arms' models one serving process draws artwork with (``get``). With the
    learner in the process, ``put`` and ``drop`` are its ``CandidateArmLearners``' callbacks;
    otherwise a model is loaded from the candidate's newest checkpoint (a fresh model of its VW
    arguments before the first) when a decision first needs it, and ``start`` keeps it current."""

    def __init__(self, settings, store: Storage):
        self.settings = settings
        self.store = store
        self.models_dir = data_paths(settings.data_dir)["models"]
        self._held: dict[str, _Held] = {}
        self._retired: dict[str, tuple[Model, float]] = {}  # key -> (its last model, when dropped)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, experiment: str, arm: dict) -> Model:
        """The model candidate ``arm`` of ``experiment`` draws with now."""
        key = candidate_key(experiment, arm["name"])
        held = self._held.get(key)
        if held is None:
            retired = self._retired.get(key)
            if retired is not None and time.monotonic() - retired[1] < RETIRED_SECONDS:
                return retired[0]
            with self._lock:
                held = self._held.get(key)
                if held is None:
                    candidate_log = CandidateArmLog(self.store, key)
                    folder = candidate_folder(self.models_dir, key)
                    held = _Held(load_model(candidate_log, arm["vw_args"], folder), None)
                    held.follower = SnapshotFollower(held, folder, self.settings.snapshot_poll_seconds,
                                                     store=candidate_log)
                    self._held[key] = held
        return held.model

    def progress(self, experiment: str, arm: dict) -> dict:
        """How far the model candidate ``arm`` draws with here has learned: {"learned": the last
        learn-queue position it includes, "behind": how many queued events it has not learned}."""
        return self._progress(self.get(experiment, arm))

    def all_progress(self) -> dict[str, dict]:
        """``progress`` of every candidate model this process holds now, by key (for /metrics)."""
        with self._lock:
            models = {key: held.model for key, held in self._held.items()}
        return {key: self._progress(model) for key, model in models.items()}

    def _progress(self, model: Model) -> dict:
        behind, _ = self.store.learn_queue_after(model.seq)
        return {"learned": model.seq, "behind": behind}

    def put(self, key: str, model: Model) -> None:
        """The learner in this process now learns ``model`` for candidate ``key``."""
        with self._lock:  # after any load under way in ``get``, so the learner's model is the one kept
            self._held[key] = _Held(model, None)
            self._retired.pop(key, None)

    def drop(self, key: str) -> None:
        """Candidate ``key`` no longer serves: its model is kept ``RETIRED_SECONDS`` for the
        decisions still assigned to it, then forgotten."""
        now = time.monotonic()
        with self._lock:
            held = self._held.pop(key, None)
            for old in [old for old, (_, dropped) in self._retired.items() if now - dropped >= RETIRED_SECONDS]:
                self._retired.pop(old, None)
            if held is not None:
                self._retired[key] = (held.model, now)

    def follow(self, running: dict | None) -> None:
        """Forget the candidates ``running`` (the running experiment) no longer serves, and load
        the others' newer snapshots."""
        wanted = candidate_arms(running)
        with self._lock:
            held_now = dict(self._held)
        for key, held in held_now.items():
            if key in wanted:
                continue
            if held.follower is not None:  # this host's copies of its snapshots (PostgreSQL)
                shutil.rmtree(candidate_folder(self.models_dir, key) / "cache", ignore_errors=True)
            self.drop(key)
        for held in [held for key, held in held_now.items() if key in wanted]:
            if held.follower is not None:
                held.follower.check()

    def start(self, experiments) -> None:
        """Follow the candidates' snapshots in a thread (``ROLE=serve``), every
        ``SNAPSHOT_POLL_SECONDS``, by ``experiments.running()``."""
        def loop():
            while not self._stop.wait(self.settings.snapshot_poll_seconds):
                try:
                    self.follow(experiments.running())
                except Exception:
                    log.exception("candidate snapshot check failed; retrying")

        self._thread = threading.Thread(target=loop, name="artwork-candidate-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
