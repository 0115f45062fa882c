"""The multi-host fault run, short: two serving hosts on one PostgreSQL log behind `artwork proxy`,
concurrent clients through the proxy, SIGKILL to the leading learner's host mid-run, the standby
on the other host takes over; the log and model reconciled (`python -m scripts.multihost_fault`;
the README gives the long run's figures)."""

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from test_load_fault import acknowledged_log

from scripts.multihost_fault import reconcile

ROOT = Path(__file__).resolve().parents[1]


def test_a_host_and_the_leading_learner_killed_mid_load_lose_nothing_and_the_standby_learns_everything_once(
        postgres, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "scripts.multihost_fault", "--duration", "12", "--clients", "5", "--kill-after", "5",
         "--workers", "1", "--seed", "7", "--database-url", postgres.admin_url, "--log-dir", str(tmp_path / "logs"),
         "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["passed"] and result["problems"] == []
    # The kill took the leader's whole host (gunicorn's master, its serving process, the learner).
    assert result["killed_host"] == result["leader_before_kill"] == "a"
    assert result["processes_in_group_before_kill"] == 3 and result["processes_left_after_kill"] == 0
    # The standby on the other host took the lease within seconds and published.
    assert result["leader_after_kill"] == "b"
    assert 0 <= result["takeover_seconds"] < 10
    assert result["first_publish_after_kill_seconds"] is not None and result["first_publish_after_kill_seconds"] < 15
    # The surviving host kept answering through the proxy; errors only for requests in flight at the kill.
    assert result["acknowledged_decisions_before_kill"] > 0
    assert result["acknowledged_decisions_after_kill"] > 0 and result["acknowledged_outcomes_after_kill"] > 0
    assert result["errors_outside_kill"] == 0
    assert result["errors_during_kill"] <= 5  # at most one request in flight per client
    assert set(result["other_non_2xx"]) <= {"502"}
    assert result["proxy_errors_surviving_host"] == 0  # nginx: every failed request went to the killed host
    # Nothing acknowledged is lost; nothing is learned twice; the model is the one of the log in order.
    assert result["decisions_lost"] == 0 and result["decisions_found"] == result["acknowledged_decisions"]
    assert result["outcomes_lost"] == 0 and result["outcomes_found"] == result["acknowledged_outcomes"]
    assert result["reward_mismatches"] == 0
    assert result["learned_twice"] == 0 and result["queued_not_final"] == 0 and result["final_not_queued"] == 0
    assert result["events_learned"] == result["max_seq"] >= result["acknowledged_decisions"]
    assert result["learner_caught_up"] and result["checkpoint_seq"] == result["max_seq"]
    assert result["model_equal"] is True
    assert result["graceful_exit_code"] == 0
    # The run's database was dropped.
    with psycopg.connect(postgres.admin_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            (result["settings"]["database"],)).fetchone()[0] == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_postgres_reconciliation_notices_lost_writes_learning_twice_and_a_different_model(
        make_app, test_database_url, clock, tmp_path):
    """The checks are not vacuous: a missing decision or outcome, a reward that disagrees, an
    event queued twice and a log that no longer matches the model are each reported."""
    app = make_app()
    ids, acked, outcomes = acknowledged_log(app, clock)

    ok = reconcile(test_database_url, acked, outcomes, 0.0, tmp_path)
    assert (ok["decisions_found"], ok["decisions_lost"], ok["outcomes_found"], ok["outcomes_lost"]) == (3, 0, 2, 0)
    assert ok["reward_mismatches"] == 0 and ok["learned_twice"] == 0 and ok["events_learned"] == 3
    assert ok["queue_numbers_gapless"] and ok["learner_caught_up"] and ok["model_equal"]

    never = "f" * 32
    bad = reconcile(test_database_url, acked + [(never, 0.0, 0.0)], outcomes + [(ids[2], "click", "rewarded", 0.0)],
                    0.0, tmp_path)
    assert bad["decisions_lost"] == 1 and bad["decisions_lost_ids"] == [never]
    assert bad["outcomes_lost"] == 1 and bad["reward_mismatches"] == 1  # ids[2] closed by its window, reward 0

    with psycopg.connect(test_database_url, autocommit=True) as conn:
        conn.execute("UPDATE impressions SET reward = 0 WHERE event_id = %s", (ids[0],))  # the click became a miss
        assert reconcile(test_database_url, acked, outcomes, 0.0, tmp_path)["model_equal"] is False
        # The same event queued a second time, under a new number: learned twice.
        conn.execute("ALTER TABLE learn_queue DROP CONSTRAINT learn_queue_event_id_key")
        conn.execute("INSERT INTO learn_queue (seq, event_id, final_ts) SELECT 4, event_id, final_ts FROM learn_queue"
                     " WHERE seq = 1")
    twice = reconcile(test_database_url, acked, outcomes, 0.0, tmp_path)
    assert twice["learned_twice"] == 1 and not twice["learner_caught_up"]
