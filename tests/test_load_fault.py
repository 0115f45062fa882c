"""The load-and-fault run, short: concurrent clients, SIGKILL to the production server's whole
process group mid-run, a restart on the same data, and a reconciliation of the log and model
(`python -m scripts.load_and_fault`; the README gives the long run's counts)."""

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    """scripts/load_and_fault.py as the module scripts.load_and_fault (scripts/ is not installed)."""
    spec = importlib.util.spec_from_file_location("scripts.load_and_fault", ROOT / "scripts" / "load_and_fault.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def acknowledged_log(app, clock) -> tuple[list[str], list[tuple], list[tuple]]:
    """A small log as a fault run's clients would have seen it acknowledged: three decisions, a
    click on the first and a dismissal of the second, every window closed and learned, a
    checkpoint. Returns the event ids, and the acknowledged decisions and outcomes in the shapes
    ``reconcile`` takes."""
    client, learner = app.test_client(), app.extensions["artwork.learner"]
    decisions = client.post("/api/v1/select-artwork", json={"user_id": "lf-1", "title_ids": ["t01", "t02", "t03"]}
                            ).get_json()["decisions"]
    ids = [d["event_id"] for d in decisions]
    answers = [client.post(f"/api/v1/events/{ids[0]}/click").get_json(),
               client.post(f"/api/v1/events/{ids[1]}/dismiss").get_json()]
    clock.advance(31)
    learner.run_once()
    learner.checkpoint()
    return ids, [(e, 0.0, 0.0) for e in ids], [(a["event_id"], a["kind"], a["effect"], 0.0) for a in answers]


def test_sigkill_mid_load_loses_nothing_acknowledged_and_learns_everything_once(template_dir, tmp_path):
    shutil.copytree(template_dir, tmp_path / "data")
    run = subprocess.run(
        [sys.executable, "-m", "scripts.load_and_fault", "--duration", "8", "--clients", "6", "--kill-after", "3",
         "--workers", "2", "--seed", "7", "--data-dir", str(tmp_path / "data"), "--log-dir", str(tmp_path / "logs"),
         "--json"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["passed"] and result["problems"] == []
    # Load really ran on both sides of the kill, and the kill took the whole process group.
    assert result["restarts"] == 1
    assert result["processes_in_group_before_kill"] == 4  # master, 2 serving processes, learner
    assert result["processes_left_after_kill"] == 0
    assert result["acknowledged_decisions_before_kill"] > 0
    assert result["acknowledged_decisions_after_restart"] > 0
    assert result["acknowledged_outcomes"] > 0
    # Nothing acknowledged is lost; nothing is learned twice; the learner caught up.
    assert result["decisions_lost"] == 0 and result["decisions_found"] == result["acknowledged_decisions"]
    assert result["outcomes_lost"] == 0 and result["outcomes_found"] == result["acknowledged_outcomes"]
    assert result["reward_mismatches"] == 0
    assert result["learned_twice"] == 0 and result["queued_not_final"] == 0 and result["final_not_queued"] == 0
    assert result["learner_caught_up"] and result["checkpoint_seq"] == result["max_seq"] > 0
    assert result["status_5xx"] == 0
    # The model after the crash is the model that learned the same events without one.
    assert result["model_equal"] is True


def test_the_reconciliation_notices_lost_writes_and_a_different_model(make_app, data_dir, clock):
    """The checks are not vacuous: a missing decision or outcome, a reward that disagrees and a
    log that no longer matches the model are each reported."""
    reconcile = load_script().reconcile
    app = make_app()
    ids, acked, outcomes = acknowledged_log(app, clock)

    ok = reconcile(data_dir, acked, outcomes, 0.0)
    assert (ok["decisions_found"], ok["decisions_lost"], ok["outcomes_found"], ok["outcomes_lost"]) == (3, 0, 2, 0)
    assert ok["reward_mismatches"] == 0 and ok["learned_twice"] == 0 and ok["events_learned"] == 3
    assert ok["learner_caught_up"] and ok["model_equal"] and ok["integrity_check"] == ["ok"]

    never = "f" * 32
    bad = reconcile(data_dir, acked + [(never, 0.0, 0.0)], outcomes + [(ids[2], "click", "rewarded", 0.0)], 0.0)
    assert bad["decisions_lost"] == 1 and bad["decisions_lost_ids"] == [never]
    assert bad["outcomes_lost"] == 1 and bad["reward_mismatches"] == 1  # ids[2] closed by its window, reward 0

    with sqlite3.connect(data_dir / "artwork.db") as conn:  # the log now says the click was a miss
        conn.execute("UPDATE impressions SET reward = 0 WHERE event_id = ?", (ids[0],))
    assert reconcile(data_dir, acked, outcomes, 0.0)["model_equal"] is False
