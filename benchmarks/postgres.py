"""PostgreSQL beside SQLite, side by side in one run on one machine.

1. Logging decisions (``Storage.log_decisions``, one single-title decision per transaction, the
   request path's only write): rows/s from 1 connection and from 4 and 16 processes at once, on
   PostgreSQL and on SQLite (SQLite's writers take turns on its one writer lock; PostgreSQL's
   commit together, one WAL flush for the commits that wait on it).
2. The learner: final events learned per second from the log (``Learner.learn_available`` from
   nothing), PostgreSQL beside SQLite, on the same events.

Run: .venv/bin/python benchmarks/postgres.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
[--seconds 5] [--events 5000]. It creates a database of its own on that server and drops it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit


def open_store(backend: str, target: str):
    if backend == "postgres":
        from artwork.postgres import PostgresStore

        return PostgresStore(target)
    from artwork.storage import Store

    return Store(target)


def sample_rows(target: str, backend: str) -> tuple[tuple, ...]:
    """One real decision row (made by the service) to copy with new ids."""
    from artwork.config import load_settings
    from artwork.learner import load_model
    from artwork.service import Service
    from artwork.storage import DECISION_COLUMNS

    store = open_store(backend, target)
    settings = load_settings({"LEARNER": "manual", "SEED": 1})
    service = Service(settings, store, load_model(store, settings.vw_args, Path(tempfile.mkdtemp())))
    event = service.select_artwork("sample", ["t01"])["decisions"][0]["event_id"]
    row = store.query_one(f"SELECT {', '.join(DECISION_COLUMNS)} FROM impressions WHERE event_id = ?", (event,))
    store.close()
    return tuple(row[c] for c in DECISION_COLUMNS)


def log_for(args: tuple) -> int:
    """Log single-decision pages for ``seconds``; returns how many were committed."""
    backend, target, row, seconds, worker = args
    store = open_store(backend, target)
    count, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        event_id = f"{worker:02d}{uuid.uuid4().hex}"
        store.log_decisions(f"user{count % 1000}", [(event_id, time.time(), f"user{count % 1000}", *row[3:])],
                            time.time(), new_person=True)
        count += 1
    store.close()
    return count


def rows_per_second(backend: str, target: str, row: tuple, seconds: float, processes: int) -> float:
    jobs = [(backend, target, row, seconds, w) for w in range(processes)]
    if processes == 1:
        return log_for(jobs[0]) / seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.map(log_for, jobs)) / seconds


def learner_rate(backend: str, target: str, events: int) -> float:
    """Final events learned per second by a fresh learner that starts from nothing."""
    from artwork.config import load_settings
    from artwork.learner import Learner
    from artwork.policy import Model
    from artwork.service import Service

    store = open_store(backend, target)
    settings = load_settings({"LEARNER": "manual", "SEED": 2})
    models = Path(tempfile.mkdtemp())
    service = Service(settings, store, Model(settings.vw_args), clock=lambda: 1_800_000_000.0)
    titles = [t["id"] for t in store.titles()]
    for i in range(events // 10):
        service.select_artwork(f"p{i % 50}", titles[i % 20:i % 20 + 10])
    store.close_due_windows(float("inf"), 0.0, batch=100)
    learner = Learner(settings, store, Model(settings.vw_args), models)
    started = time.perf_counter()
    learned = learner.learn_available()
    elapsed = time.perf_counter() - started
    store.close()
    return learned / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="Admin URL of a PostgreSQL server (a database is created on it and dropped).")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--writers", default="1,4,16", help="Numbers of writing processes to measure, comma-separated.")
    args = parser.parse_args()

    import psycopg

    from artwork.cli import initialize

    name = f"artwork_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    pg_url = urlsplit(args.url)._replace(path=f"/{name}").geturl()
    tmp = Path(tempfile.mkdtemp())
    try:
        import os

        os.environ["ARTWORK_DATABASE_URL"] = pg_url
        initialize(tmp / "pg").close()
        del os.environ["ARTWORK_DATABASE_URL"]
        initialize(tmp / "sqlite").close()
        targets = {"postgres": pg_url, "sqlite": str(tmp / "sqlite" / "artwork.db")}
        print(f"log_decisions, one single-title decision per transaction, {args.seconds:g} s each:")
        for backend, target in targets.items():
            row = sample_rows(target, backend)
            for processes in (int(w) for w in args.writers.split(",")):
                rate = rows_per_second(backend, target, row, args.seconds, processes)
                print(f"  {backend:8s} {processes} writer(s): {rate:8.0f} rows/s")
        print(f"learner, {args.events} final events learned from nothing:")
        for backend, target in targets.items():
            print(f"  {backend:8s} {learner_rate(backend, target, args.events):8.0f} events/s")
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
