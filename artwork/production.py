"""The two ways ``artwork serve`` runs, both on production WSGI servers.

One process (``serve_single``): waitress, with the learner in a thread of the same process.
Waitress is pure Python and threaded, and its main thread reads every request whole (headers
and body, buffered) before a request thread sees it, and writes answers out from a buffer: a
slow or stalled client costs a socket, never a request thread. That is what a single process
needs, since it has no spare processes to lose. (gunicorn with one gthread worker was the
other candidate; it would put the learner thread in a forked worker, and its threads read the
request themselves.)

N serving processes (``serve_production``): gunicorn, plus one learner candidate process.
Serving processes (``ROLE=serve``) only predict and log; they follow the snapshots the learner
publishes. The learner candidate (``artwork learn``) is started beside gunicorn, restarted if it
dies, and stopped with it (SIGTERM, so a leader writes a last checkpoint); among the candidates
of every host on one log, one is elected and learns (``learner.LearnerCandidate``).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

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
                mark_process_dead(self.proc.pid)
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
        if self.proc is not None:
            mark_process_dead(self.proc.pid)


def fresh_metrics_dir() -> Path:
    """A new folder for this server run's metrics (prometheus_client's multiprocess mode), named
    in this process's environment, which the serving processes and the learner inherit. Set
    before any of them starts: a process picks its mode when it first imports prometheus_client,
    and a folder left from an earlier run would add that run's counts to this one's."""
    folder = Path(tempfile.mkdtemp(prefix="artwork-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def mark_process_dead(pid: int) -> None:
    """Drop a gone process's live gauges from the metrics folder (its counts stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _worker_exit(_arbiter, worker) -> None:
    mark_process_dead(worker.pid)


def serve_production(data_dir: Path, host: str, port: int, workers: int, threads: int) -> None:
    # Loaded (and validated) once, here: the serving processes and the learner get these settings.
    settings = load_settings({"DATA_DIR": str(data_dir), "ROLE": "serve"})
    metrics_dir = fresh_metrics_dir()
    learner = LearnerProcess(data_dir, settings)
    learner.start()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Each serving process on waitress: a slow client costs a socket, not the process.
        "worker_class": f"{__name__}.WaitressWorker",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 20,
        "child_exit": _worker_exit,
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
        shutil.rmtree(metrics_dir, ignore_errors=True)


#: Request threads of the one-process server, by default: the decisions are CPU-bound under the
#: GIL, so more threads add contention, not throughput (benchmarks/README.md); a few keep a
#: slow request (an image, an admin import) from holding up the rest.
SINGLE_THREADS = 2
#: Request threads per serving process of ``serve --workers`` on PostgreSQL, by default: there each
#: decision waits for its own commit's flush on the database server, and threads let those waits
#: overlap (benchmarks/README.md, "PostgreSQL beside SQLite"). On SQLite, 1 (the writer lock serializes).
POSTGRES_THREADS = 8
#: Connections one process keeps open at once (waitress's default is 100); past it, new ones
#: wait in the listen backlog. Each costs a socket and its buffers, not a thread.
MAX_CONNECTIONS = 1000
#: A connection that sends nothing and is sent nothing for this long is closed (seconds).
IDLE_SECONDS = 30


def waitress_options(settings: Settings, threads: int) -> dict:
    """Waitress's settings for one process of ours, with ``threads`` request threads."""
    from .api import MAX_UPLOAD_BYTES

    # Waitress buffers a body whole before the app sees it: nothing larger than the largest body
    # the API takes is buffered (waitress refuses it with a plain-text 413); below that, the
    # app's own limits answer 413 in JSON.
    return {"threads": threads, "connection_limit": MAX_CONNECTIONS, "channel_timeout": IDLE_SECONDS,
            "max_request_body_size": max(settings.max_body_bytes, MAX_UPLOAD_BYTES),
            "clear_untrusted_proxy_headers": True}


def quiet_waitress_queue() -> None:
    # Requests waiting for a thread are normal under load: not worth a warning for each one.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def serve_single(data_dir: Path, host: str, port: int, threads: int = SINGLE_THREADS) -> None:
    """One process on waitress: ``threads`` request threads plus the learner thread. Returns
    when the server is stopped (Ctrl-C or SIGTERM), after the learner's final checkpoint."""
    from waitress import create_server

    from .app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    quiet_waitress_queue()
    # One process counts in its own memory: a multiprocess folder named in the caller's
    # environment (left from elsewhere) would mix another run's counts into this one's.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    app = create_app({"DATA_DIR": str(data_dir)})
    server = create_server(app, host=host, port=port,
                           **waitress_options(app.extensions["artwork.settings"], threads))
    # Ctrl-C and SIGTERM only set a flag, which the loop looks at between polls (at most
    # asyncore_loop_timeout apart, 1 s): an exception raised by a signal at an arbitrary point of
    # waitress's loop can land between a lock's acquire and its release, and closing the server
    # would then wait for that lock forever (seen: Ctrl-C hung `artwork serve` now and then).
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"Serving on http://{host}:{port}/ (data directory {Path(data_dir).resolve()})", flush=True)
    try:
        while not stopping.is_set():
            server.asyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                                 use_poll=server.adj.asyncore_use_poll, count=1)
    finally:
        server.close()
        app.extensions["artwork.learner"].stop()
        app.extensions["artwork.personalizer.learner"].stop()


class WaitressWorker(Worker):
    """A gunicorn serving process that reads and writes its connections with waitress.

    gunicorn's sync worker reads a request itself, blocking: a client that sends half a request
    holds the whole process until gunicorn's timeout kills it. Here the process's main thread
    multiplexes every connection and hands a request to a request thread only once it has
    arrived whole, and answers go out from a buffer: a slow client costs a socket. gunicorn
    still forks, watches and restarts the processes and shares the listening socket.
    """

    def run(self) -> None:
        from waitress import create_server
        from waitress.server import BaseWSGIServer
        from waitress.wasyncore import close_all, loop

        quiet_waitress_queue()
        sockets = {}  # waitress's map of file descriptors to its listeners and connections
        server = create_server(self.wsgi, map=sockets, sockets=[listener.sock for listener in self.sockets],
                               **waitress_options(self.wsgi.extensions["artwork.settings"], self.cfg.threads))
        notified = 0.0
        while self.alive:
            loop(timeout=1.0, map=sockets, use_poll=True, count=1)
            now = time.monotonic()
            if now - notified > 1.0:  # gunicorn's arbiter: this process is alive (one syscall a second)
                self.notify()
                notified = now
            if self.ppid != os.getppid():
                break
        # Stopping: accept nothing new, finish what was received (up to graceful_timeout), close.
        for dispatcher in [d for d in sockets.values() if isinstance(d, BaseWSGIServer)]:
            dispatcher.close()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(getattr(d, "requests", None) or getattr(d, "total_outbufs_len", 0)
                                                  for d in sockets.values()):
            loop(timeout=0.1, map=sockets, use_poll=True, count=1)
        server.task_dispatcher.shutdown(timeout=1)
        close_all(sockets)
