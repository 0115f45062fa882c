"""The PostgreSQL benchmarks measure what they say: pgbench's script inserts the real decision row,
and the serving comparison runs on both backends and cleans up after itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench comes with Debian's postgresql-client")
def test_pgbench_script_inserts_the_logged_decision_row(fresh_database, tmp_path):
    """Every row pgbench inserts is the service's logged decision, byte for byte (the JSON texts'
    quotes, backslashes and colons survive the script), with a new event id and the time."""
    from artwork.storage import DECISION_COLUMNS
    from benchmarks.pg_insert_ceiling import COMPUTED, insert_script
    from benchmarks.postgres import sample_rows
    from benchmarks.serving import prepare_data_dir

    prepare_data_dir(tmp_path / "data", fresh_database)
    row = sample_rows(fresh_database, "postgres")
    assert ":" in row[DECISION_COLUMNS.index("features")]  # what pgbench would take for variables
    row = list(row)
    row[DECISION_COLUMNS.index("context")] = '{"note": "it\'s a \\\\ back:slash"}'  # quotes and backslashes too
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_impressions (LIKE impressions INCLUDING ALL)")
    script = tmp_path / "insert.sql"
    script.write_text(insert_script(tuple(row)))
    started = time.time()
    subprocess.run(["pgbench", "--no-vacuum", "--protocol=prepared", "--client=1", "--transactions=3",
                    f"--file={script}", fresh_database], capture_output=True, text=True, timeout=60, check=True)
    with psycopg.connect(fresh_database) as conn:
        inserted = conn.execute(f"SELECT {', '.join(DECISION_COLUMNS)} FROM bench_impressions").fetchall()
    assert len(inserted) == 3
    assert len({r[0] for r in inserted}) == 3
    for got in inserted:
        for column, value, expected in zip(DECISION_COLUMNS, got, row, strict=True):
            if column not in COMPUTED:
                assert value == expected, column
        assert started - 1 < got[DECISION_COLUMNS.index("created_ts")] < time.time() + 1


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is installed by scripts/test")
def test_serving_ab_runs_on_both_backends_and_drops_its_databases(postgres):
    """`serving_ab.py --backend sqlite,postgres`, briefly: a row per backend, every answer a 2xx,
    and no database of its own left on the server."""
    def bench_databases() -> set[str]:
        with psycopg.connect(postgres.admin_url) as conn:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'artwork_bench_%'")}

    before = bench_databases()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serving_ab.py"), "--side", "s:.:--workers 2",
                          "--backend", "sqlite,postgres", "--rounds", "1", "--duration", "1", "--url",
                          postgres.admin_url], capture_output=True, text=True, timeout=300, check=True).stdout
    rows = dict(re.findall(r"^\| (s/\w+) \(\.\) \| --workers 2 \| [\d,]+ \| ([\d,]+) \|", out, re.M))
    assert set(rows) == {"s/sqlite", "s/postgres"}, out
    assert all(float(rps.replace(",", "")) > 0 for rps in rows.values()), out
    assert "non-2xx" not in out, out
    assert bench_databases() == before
