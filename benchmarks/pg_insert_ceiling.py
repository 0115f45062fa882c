"""The PostgreSQL server's ceiling for inserting decision rows, without Python in the way.

pgbench (PostgreSQL's own load generator) runs a one-statement script: insert one row shaped
like a logged decision (every column of ``impressions`` that ``Storage.log_decisions`` writes,
with the JSON texts of a real decision made by the service on the benchmark's 120-title
catalog) into a scratch table made ``LIKE impressions INCLUDING ALL`` (same columns, checks,
primary key and indexes), one row per transaction, each committed (a WAL flush) before the
next. At 1, 4, 16 and 32 clients for 10 s each; then the same with ``synchronous_commit=off``
for pgbench's sessions only (PGOPTIONS, as a ``SET`` at connection start: the server's
configuration is not touched), which shows how much of the ceiling is waiting for the WAL
flush; and ``pg_test_fsync`` (if installed) for the disk's own flush rate.

Everything happens in a database created for the run and dropped after it.

Run: .venv/bin/python benchmarks/pg_insert_ceiling.py [--url ADMIN_URL] [--clients 1,4,16,32]
[--seconds 10] [--no-fsync-test]. Needs pgbench (Debian: postgresql-client). Talks only to the
server at --url; every run is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres import ADMIN_URL, sample_rows, scratch_database  # noqa: E402
from serving import prepare_data_dir  # noqa: E402

from artwork.storage import DECISION_COLUMNS  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: Columns the script computes per row (a new event id, the time, one of 100,000 people, the deadline).
COMPUTED = {"event_id": "replace(gen_random_uuid()::text, '-', '')",
            "created_ts": "extract(epoch FROM clock_timestamp())",
            "user_id": "'user' || :uid",
            "deadline_ts": "extract(epoch FROM clock_timestamp()) + 1800"}


def literal(value) -> str:
    """``value`` as an SQL literal (the row's JSON texts and numbers). Colons are escaped
    (``\\x3a``): pgbench takes every ``:name`` in a prepared statement for a variable."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    return "E'" + str(value).replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a") + "'"


def insert_script(row: tuple) -> str:
    """The pgbench script: one INSERT of ``row`` (values of DECISION_COLUMNS) with a fresh event id."""
    values = [COMPUTED.get(column, literal(value)) for column, value in zip(DECISION_COLUMNS, row, strict=True)]
    return ("\\set uid random(1, 100000)\n"
            f"INSERT INTO bench_impressions ({', '.join(DECISION_COLUMNS)}) VALUES ({', '.join(values)});\n")


def pgbench(url: str, script: Path, clients: int, seconds: int, options: str = "") -> dict:
    """Run pgbench; returns {"tps", "latency_ms" (average), "failed"}."""
    env = {**os.environ, "PGOPTIONS": options}
    cmd = ["pgbench", "--no-vacuum", "--protocol=prepared", f"--client={clients}", f"--jobs={min(clients, 2)}",
           f"--time={seconds}", f"--file={script}", url]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if run.returncode != 0:
        sys.exit(f"pgbench failed ({run.returncode}):\n{run.stderr}")
    out = run.stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {"tps": float(re.search(r"^tps = ([\d.]+)", out, re.M).group(1)),
            "latency_ms": float(re.search(r"^latency average = ([\d.]+) ms", out, re.M).group(1)),
            "failed": int(failed.group(1)) if failed else 0}


def fsync_rate(directory: Path, seconds: int) -> str:
    """pg_test_fsync's one-8kB-write section, its file in ``directory`` (the server's disk)."""
    tool = PG_BIN / "pg_test_fsync"
    if not tool.exists():
        return f"(pg_test_fsync not installed at {tool})"
    target = directory / f"pg_test_fsync.{os.getpid()}.tmp"
    try:
        out = subprocess.run([str(tool), "-s", str(seconds), "-f", str(target)], capture_output=True, text=True,
                             timeout=60 * seconds + 60, check=True).stdout
    finally:
        target.unlink(missing_ok=True)
    section = out.split("Compare file sync methods using one 8kB write:")[1].split("\n\n")[0]
    return "\n".join(line.strip() for line in section.splitlines()[2:] if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=ADMIN_URL,
                        help="Admin URL of the PostgreSQL server (a database is created on it and dropped)")
    parser.add_argument("--clients", default="1,4,16,32", help="pgbench client counts, comma-separated")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per pgbench run")
    parser.add_argument("--fsync-dir", type=Path, default=Path("/var/lib/postgresql"),
                        help="a directory on the server's disk for pg_test_fsync's file")
    parser.add_argument("--no-fsync-test", action="store_true")
    args = parser.parse_args()
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is not installed (Debian: apt-get install postgresql-client)")
    import psycopg

    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmpdir, scratch_database(args.url) as url:
        tmp = Path(tmpdir)
        prepare_data_dir(tmp / "data", url)
        row = sample_rows(url, "postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_impressions (LIKE impressions INCLUDING ALL)")
            server = conn.execute(
                "SELECT current_setting('server_version'), current_setting('wal_sync_method'),"
                " current_setting('synchronous_commit'), current_setting('shared_buffers')").fetchone()
        script = tmp / "insert_decision.sql"
        script.write_text(insert_script(row))
        sizes = {c: len(str(v)) for c, v in zip(DECISION_COLUMNS, row, strict=True)
                 if c in ("context", "features", "candidates", "pmf")}
        print(f"PostgreSQL {server[0]} at {urlsplit(args.url).hostname}:{urlsplit(args.url).port or 5432}, "
              f"wal_sync_method {server[1]}, synchronous_commit {server[2]}, shared_buffers {server[3]}; "
              f"{os.cpu_count()} cores shared by server and pgbench")
        print("JSON texts of the row, characters: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        print(f"\npgbench --protocol=prepared, one INSERT per transaction, {args.seconds} s per run:\n")
        print("| clients | synchronous_commit | inserts/s (tps) | latency average ms | failed |")
        print("| --- | --- | --- | --- | --- |")
        for options, label in (("", "on (the server's setting)"),
                               ("-c synchronous_commit=off", "off (these sessions only)")):
            for n in clients:
                result = pgbench(url, script, n, args.seconds, options)
                print(f"| {n} | {label} | {result['tps']:,.0f} | {result['latency_ms']:.2f} | {result['failed']} |",
                      flush=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE bench_impressions")
            count, total = conn.execute("SELECT count(*), pg_total_relation_size('bench_impressions')"
                                        " FROM bench_impressions").fetchone()
        print(f"\n{count:,} rows inserted; table, TOAST and indexes: {total / count:,.0f} bytes per row")
    if not args.no_fsync_test:
        print(f"\npg_test_fsync, one 8kB write then flush, on {args.fsync_dir}'s disk (2 s per method):\n")
        print(fsync_rate(args.fsync_dir, 2))


if __name__ == "__main__":
    main()
