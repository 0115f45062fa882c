"""Simulated visitors for a running service: people from the synthetic world make requests
through the service's own decision and outcome code, clicking as the world's true click model
says. The browser demo's "Simulate visitors" button runs this, so a newcomer can watch the
model learn within seconds.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .world import Outcome, Request, World

MAX_VISITORS = 5000


def visitor_context(world: World, request: Request) -> dict:
    """The select-artwork context of a simulated request: its time and device, and the person's
    taste as the ``genre_affinity`` override."""
    return {"time": request.context["time"], "device": request.context["device"],
            "genre_affinity": world.genre_affinity(request.user)}


def visit(service, world: World, request: Request, rng: np.random.Generator) -> tuple[dict, Outcome]:
    """One simulated request of one title: the service's decision, then the world's click and
    play reported through the service's outcome code. Returns the decision and the outcome."""
    user, title_id = request.user, request.title_id
    decision = service.select_artwork(user.id, [title_id], visitor_context(world, request))["decisions"][0]
    outcome = world.draw_outcome(rng, user, title_id, decision["artwork_id"], request.context)
    if outcome.clicked:
        service.record_outcome(decision["event_id"], "click")
    if outcome.played_seconds > 0:
        service.record_outcome(decision["event_id"], "play", outcome.played_seconds)
    if not outcome.clicked:
        # A simulated visitor's visit is over at once: say so, rather than make the demo wait
        # out the reward window before the model can learn from what was not clicked.
        service.record_outcome(decision["event_id"], "dismiss")
    return decision, outcome


def send_visitors(service, world: World, visitors: int, rng: np.random.Generator, on_progress=None) -> int:
    """``visitors`` requests of one title each, with the world's clicks and plays; returns clicks."""
    clicks = 0
    for done in range(1, visitors + 1):
        _, outcome = visit(service, world, world.sample_request(rng), rng)
        clicks += outcome.clicked
        if on_progress is not None:
            on_progress(done, clicks)
    return clicks


@dataclass
class VisitorJob:
    id: str
    visitors: int
    seed: int
    status: str = "running"
    completed: int = 0
    clicks: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "visitors": self.visitors, "completed": self.completed,
                "clicks": self.clicks, "seed": self.seed, "error": self.error,
                "seconds": round((self.finished_at or time.time()) - self.started_at, 3)}


class VisitorJobs:
    """At most one burst at a time, in a background thread of the serving process."""

    def __init__(self, service, world_seed: int = 0):
        self.service = service
        self.world_seed = world_seed
        self._lock = threading.Lock()
        self._jobs: dict[str, VisitorJob] = {}
        self._latest: VisitorJob | None = None
        self._world: World | None = None

    def _get_world(self) -> World:
        if self._world is None:
            self._world = World(self.service.catalog.titles(), seed=self.world_seed)
        return self._world

    def start(self, visitors: int, seed: int | None = None) -> VisitorJob:
        """Start a burst; raises RuntimeError if one is still running."""
        with self._lock:
            if self._latest is not None and self._latest.status == "running":
                raise RuntimeError(f"simulation {self._latest.id} is still running")
            job = VisitorJob(secrets.token_hex(8), visitors, seed if seed is not None else secrets.randbits(31))
            self._jobs[job.id] = self._latest = job
        world = self._get_world()
        threading.Thread(target=self._run, args=(job, world), name=f"visitors-{job.id}", daemon=True).start()
        return job

    def _run(self, job: VisitorJob, world: World) -> None:
        def progress(done: int, clicks: int) -> None:
            job.completed, job.clicks = done, clicks

        try:
            send_visitors(self.service, world, job.visitors, np.random.default_rng(job.seed), progress)
            job.status = "done"
        except Exception as exc:  # reported to the client polling the job
            job.status, job.error = "failed", str(exc)
        finally:
            job.finished_at = time.time()
            self.service.store.close_thread()

    def get(self, job_id: str) -> VisitorJob | None:
        return self._jobs.get(job_id)

    def latest(self) -> VisitorJob | None:
        return self._latest
