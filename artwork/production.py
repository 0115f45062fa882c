"""The production server: gunicorn with N serving processes, plus one learner candidate process.

Serving processes (``ROLE=serve``) only predict and log; they follow the snapshots the learner
publishes. The learner candidate (``artwork learn``) is started beside gunicorn, restarted if it
dies, and stopped with it (SIGTERM, so a leader writes a last checkpoint); among the candidates
of every host on one log, one is elected and learns (``learner.LearnerCandidate``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from gunicorn.app.base import BaseApplication

from .config import Settings, load_settings


class _Server(BaseApplication):
    def __init__(self, options: dict, app_config: dict):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app  # in each worker, after the fork: its own VW workspace

        return create_app(self.app_config)


class LearnerProcess:
    """``artwork learn`` as a child process, restarted if it exits while the server runs; its
    settings travel as ``ARTWORK_*`` environment variables."""

    def __init__(self, data_dir: Path, settings: Settings | None = None):
        self.command = [sys.executable, "-m", "artwork", "learn", "--data-dir", str(data_dir),
                        "--parent-pid", str(os.getpid())]
        self.env = None if settings is None else {**os.environ, **settings.to_environ()}
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, env=self.env)
        threading.Thread(target=self._watch, name="learner-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            if self.proc.poll() is not None and not self._stopping.is_set():
                print(f"learner exited with {self.proc.returncode}; restarting", file=sys.stderr)
                self.proc = subprocess.Popen(self.command, env=self.env)

    def stop(self) -> None:
        self._stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_production(data_dir: Path, host: str, port: int, workers: int, threads: int) -> None:
    # Loaded (and validated) once, here: the serving processes and the learner get these settings.
    settings = load_settings({"DATA_DIR": str(data_dir), "ROLE": "serve"})
    learner = LearnerProcess(data_dir, settings)
    learner.start()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        # One thread: gunicorn's sync worker (measured faster than gthread with one thread, and
        # free of gthread's thread pool, which can hang a worker that is told to quit mid-spawn).
        "worker_class": "sync" if threads == 1 else "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "artwork",
    }
    print(f"Serving on http://{host}:{port}/ with {workers} serving processes and one learner "
          f"(data directory {Path(data_dir).resolve()})", file=sys.stderr)
    try:
        _Server(options, settings.as_overrides()).run()
    finally:
        learner.stop()
