"""What the integrity checks and a backup cost on a large log: the check a server runs before it
starts (the structure; SQLite's ``quick_check``), ``artwork check``'s ``integrity_check``, the
health check's ping and ``artwork backup``, on one log of N decisions (default 200,000).

The log is built from one real decision of the demo catalog (its features, candidates and
probabilities), copied N times with new event ids, people and times; half are finalized into the
learn queue. Timings are of a warm page cache (the database was just written), as on a server
that restarts; a cold start reads the file from disk first.

Run: .venv/bin/python benchmarks/integrity.py [--decisions 200000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from artwork import backups, integrity
from artwork.app import create_app
from artwork.catalog import data_paths
from artwork.cli import initialize
from artwork.storage import DECISION_COLUMNS, Store


def build_log(data_dir: Path, decisions: int, seed: int = 0) -> None:
    """A data directory whose log holds ``decisions`` decisions, half of them final and queued."""
    initialize(data_dir).close()
    app = create_app({"DATA_DIR": str(data_dir), "LEARNER": "manual", "SEED": seed})
    event_id = app.test_client().post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"}
                                      ).get_json()["decisions"][0]["event_id"]
    store = app.extensions["artwork"].store
    template = store.decision(event_id)
    store.close()
    rng = random.Random(seed)
    batched = Store(data_paths(data_dir)["db"], durable=False, writes_per_commit=2000)
    for n in range(decisions):
        row = {**template, "event_id": uuid.UUID(int=rng.getrandbits(128)).hex, "user_id": f"u{rng.randrange(50_000)}",
               "created_ts": 1e9 + n, "state": "pending", "deadline_ts": 1e9 + n + (60 if n % 2 else 1e12)}
        batched.log_decisions(row["user_id"], [tuple(row[c] for c in DECISION_COLUMNS)], 1e9 + n, new_person=False)
    batched.flush()
    while batched.close_due_windows(2e9, 0.0, batch=10_000):
        batched.flush()
    batched.close()


def timed(fn, repeat: int = 1) -> float:
    """The median time of ``fn()`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        start = time.perf_counter()
        build_log(data_dir, args.decisions)
        paths = data_paths(data_dir)
        store = Store(paths["db"])
        size = paths["db"].stat().st_size
        built = time.perf_counter() - start
        print(f"log: {args.decisions:,} decisions, {size / 2**20:.0f} MiB (built in {built:.0f} s)")
        rows = [
            ("health check ping (/healthz)", timed(store.ping, repeat=200)),
            ("structure (each serving process, the learner)",
             timed(lambda: integrity.check_at_start(store, seconds=0), repeat=20)),
            ("start check: structure + quick_check (artwork serve)",
             timed(lambda: integrity.check_at_start(store, seconds=None), repeat=3)),
            ("integrity_check (artwork check)", timed(lambda: store.integrity_problems(full=True), repeat=3)),
            ("artwork backup", timed(lambda: backups.backup(store, paths, Path(tmp) / "backup.tar"), repeat=3)),
        ]
        store.close()
    print("| what | ms |\n| --- | --- |")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.2f} |")


if __name__ == "__main__":
    main()
