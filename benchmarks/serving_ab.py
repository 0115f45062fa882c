"""Servers side by side: the serving benchmark's trivial endpoint and one-title select-artwork,
against two or more servers at once, in alternating rounds.

Each side is a name, a source tree (a checkout of this repository, run through PYTHONPATH; "."
is this one) and `artwork serve` arguments. Every side's server runs on its own copy of the same
prepared data (benchmarks/serving.py's 120-title catalog) for the whole run; each round runs wrk
against each side in turn (trivial endpoint, then select-artwork), so the machine's noise moves
all sides' figures in a round together. Reported per side: medians over rounds of requests/s,
p99 and server CPU per request (and on PostgreSQL, the CPU of the database's server processes
for the side's connections), the select/ping ratio (within each round), and each side's
select-artwork requests/s against the first side's in the same round.

With ``--backend sqlite,postgres`` every side runs once per backend (named SIDE/BACKEND): on
SQLite, its own copy of the prepared data; on PostgreSQL, a fresh database of its own created on
``--url``'s server (default ARTWORK_TEST_DATABASE_URL, else postgres@127.0.0.1:5432), holding
the same catalog, served with ARTWORK_DATABASE_URL set, and dropped at the end.

Run (before: a checkout of the commit to compare with, e.g. `git worktree add /tmp/before main`):

    .venv/bin/python benchmarks/serving_ab.py --side "sync:/tmp/before:--workers 2" \\
        --side "waitress:.:--workers 2" --rounds 5 --duration 4
    .venv/bin/python benchmarks/serving_ab.py --side "serve:.:--workers 2" --backend sqlite,postgres

Needs wrk. Talks only to 127.0.0.1; every run is bounded, and the servers stop at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres import ADMIN_URL, scratch_database  # noqa: E402
from serving import lua_select, measured_wrk, median_run, prepare_data_dir, run_wrk  # noqa: E402

from artwork.harness import ServerProcess  # noqa: E402


def backend_pids(database_url: str | None) -> list[int]:
    """The PostgreSQL server processes serving connections to ``database_url``'s database (its
    CPU is then counted beside the server's); none for SQLite, which runs inside the server."""
    if database_url is None:
        return []
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                               " AND pid <> pg_backend_pid()")]


def parse_side(text: str) -> tuple[str, str, list[str]]:
    name, tree, args = text.split(":", 2)
    return name, tree, args.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", action="append", required=True, type=parse_side,
                        help='NAME:SOURCE_TREE:SERVE_ARGS, e.g. "waitress:.:--workers 2"; repeat')
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", default="sqlite", type=lambda text: text.split(","),
                        help="sqlite, postgres or both (sqlite,postgres): each side runs once per backend")
    parser.add_argument("--url", default=ADMIN_URL, help="Admin URL of the PostgreSQL server for --backend postgres")
    args = parser.parse_args()
    if len(args.backend) > 1:
        args.side = [(f"{name}/{backend}", tree, serve_args, backend)
                     for name, tree, serve_args in args.side for backend in args.backend]
    else:
        args.side = [(*side, args.backend[0]) for side in args.side]
    with tempfile.TemporaryDirectory() as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        title_ids = prepare_data_dir(tmp / "data")
        script = tmp / "one.lua"
        script.write_text(lua_select(title_ids, 1))
        servers = {}
        for n, (name, tree, serve_args, backend) in enumerate(args.side):
            database_url = None
            if backend == "postgres":
                database_url = stack.enter_context(scratch_database(args.url))
                prepare_data_dir(tmp / f"data{n}", database_url)
            else:
                shutil.copytree(tmp / "data", tmp / f"data{n}")
            env = {"ARTWORK_REWARD_WAIT_SECONDS": "3600", "ARTWORK_DATABASE_URL": database_url,
                   "PYTHONPATH": None if tree == "." else str(Path(tree).resolve())}
            server = stack.enter_context(ServerProcess(tmp / f"data{n}", args=serve_args, env=env,
                                                       log_path=tmp / f"{n}.log", timeout=120, grace=30))
            run_wrk(f"{server.base_url}/api/v1/ping", 2, args.connections)  # warm-up
            servers[name] = (server, database_url)
        runs = {name: {"ping": [], "one": []} for name in servers}
        for _ in range(args.rounds):
            for name, (server, database_url) in servers.items():
                pid, db = server.proc.pid, backend_pids(database_url)
                runs[name]["ping"].append(measured_wrk(pid, f"{server.base_url}/api/v1/ping", args.duration,
                                                       args.connections, db_pids=db))
                runs[name]["one"].append(measured_wrk(pid, server.base_url, args.duration, args.connections, script,
                                                      db_pids=db))
    first = next(iter(runs))
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.rounds} rounds, sides alternating within each "
          "round (medians; ratios taken within each round):\n")
    print("| side | `artwork serve` arguments | ping requests/s | select requests/s | select p50 ms | select p99 ms "
          "| select server CPU µs (user + sys) | select database CPU µs | select / ping "
          "| select / first side's select |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (name, tree, serve_args, _) in args.side:
        ping, one = median_run(runs[name]["ping"]), median_run(runs[name]["one"])
        ratios = [o["rps"] / p["rps"] for o, p in zip(runs[name]["one"], runs[name]["ping"], strict=True)]
        against = [o["rps"] / f["rps"] for o, f in zip(runs[name]["one"], runs[first]["one"], strict=True)]
        print(f"| {name} ({tree}) | {' '.join(serve_args) or '(none)'} | {ping['rps']:,.0f} | {one['rps']:,.0f} "
              f"| {one['p50']:.1f} | {one['p99']:.1f} | {one['user_us']:.0f} + {one['sys_us']:.0f} "
              f"| {one['db_us']:.0f} "
              f"| {statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}) "
              f"| {statistics.median(against):.2f} ({', '.join(f'{r:.2f}' for r in against)}) |")
        if ping["errors"] or one["errors"]:
            print(f"|   non-2xx answers: ping {ping['errors']}, select {one['errors']} | | | | | | | | | |")


if __name__ == "__main__":
    main()
