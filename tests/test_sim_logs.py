"""The log contract: the service's database, CSV and DSJSON all read into one BanditLog, and the
DSJSON export is something Vowpal Wabbit itself learns from."""

import json

import numpy as np
import pytest
import vowpalwabbit

from artwork.simulations import logs

FANS = ({"romance": 1.0}, {"thriller": 1.0})
BOTH_BACKENDS = True


def make_traffic(client, clock, learner, n=60, seed=0):
    rng = np.random.default_rng(seed)
    titles = [t["id"] for t in client.get("/api/v1/titles").get_json()["titles"]]
    for i in range(n):
        d = client.post("/api/v1/select-artwork", json={
            "user_id": f"u{i % 7}", "title_id": titles[i % len(titles)],
            "context": {"genre_affinity": FANS[i % 2], "time": "2026-11-23T20:00:00+01:00", "device": "tv"},
        }).get_json()["decisions"][0]
        if rng.random() < 0.3:
            client.post(f"/api/v1/events/{d['event_id']}/click")
    clock.advance(31)
    learner.run_once()


@pytest.mark.sqlite_only
def test_database_log_matches_the_impressions(client, clock, learner, data_dir, service):
    make_traffic(client, clock, learner)
    pending = client.post("/api/v1/select-artwork", json={"user_id": "late", "title_id": "t01"}).get_json()
    log = logs.from_database(data_dir / "artwork.db")
    assert log.n_rounds == 60  # the decision still inside its window is left out
    assert pending["decisions"][0]["event_id"] not in log.event_ids
    rows = service.store.query("SELECT event_id, chosen_index, probability, reward FROM impressions"
                               " WHERE state = 'final' ORDER BY created_ts, rowid")
    assert log.event_ids == [r["event_id"] for r in rows]
    assert log.action.tolist() == [r["chosen_index"] for r in rows]
    assert log.pscore.tolist() == [r["probability"] for r in rows]
    assert log.reward.tolist() == [r["reward"] for r in rows]
    assert np.allclose(log.logging_pmf.sum(axis=1), 1.0)
    assert np.allclose(log.logging_pmf[np.arange(60), log.action], log.pscore)
    assert log.candidate_mask().sum() == sum(len(c) for c in log.candidates)


@pytest.mark.sqlite_only
def test_the_store_log_matches_the_database_file(client, clock, learner, data_dir, service):
    make_traffic(client, clock, learner)
    log = logs.from_store(service.store, "test")
    assert log.event_ids == logs.from_database(data_dir / "artwork.db").event_ids
    assert log.n_rounds == 60


def test_dsjson_export_round_trips_and_vw_learns_from_it(client, clock, learner, data_dir, tmp_path, runner,
                                                          service, test_database_url):
    """On both backends: with ARTWORK_DATABASE_URL, export reads the PostgreSQL log."""
    make_traffic(client, clock, learner, n=80, seed=1)
    from artwork.cli import cli

    out = tmp_path / "log.dsjson"
    env = {"ARTWORK_DATABASE_URL": test_database_url} if test_database_url else {}
    result = runner.invoke(cli, ["export", "--data-dir", str(data_dir), "--out", str(out)], env=env)
    assert result.exit_code == 0 and "Wrote 80 decisions" in result.output, result.output
    original = logs.from_store(service.store, "the test's log")
    again = logs.from_dsjson(out)
    assert again.event_ids == original.event_ids and again.candidates == original.candidates
    assert np.array_equal(again.action, original.action) and np.allclose(again.pscore, original.pscore)
    assert np.allclose(again.reward, original.reward) and np.allclose(again.logging_pmf, original.logging_pmf)
    first = json.loads(out.read_text().splitlines()[0])
    assert first["_label_cost"] == -original.reward[0] and first["a"][0] == original.action[0] + 1

    # VW reads the export with its own DSJSON parser and learns every decision in it.
    ws = vowpalwabbit.Workspace(f"--cb_explore_adf --dsjson -d {out} --quiet -q GH")
    ws.run_parser()
    assert ws.get_weighted_examples() == 80
    ws.finish()


def test_csv_log_builds_features_with_the_service_code(tmp_path):
    from artwork.demo_catalog import demo_titles

    catalog = demo_titles()
    t = catalog[0]
    ids = [a["id"] for a in t["artwork"]]
    path = tmp_path / "log.csv"
    path.write_text(
        "event_id,time,user_id,title_id,device,genre_affinity,candidates,chosen,propensity,reward,pmf\n"
        f'e1,2026-11-23T21:00:00+01:00,u1,{t["id"]},tv,"{{""romance"": 3, ""drama"": 1}}",{";".join(ids)},'
        f'{ids[1]},0.5,1,{";".join(["0.5"] + ["0.5"] + ["0"] * (len(ids) - 2))}\n')
    log = logs.from_csv(path, catalog)
    assert log.action.tolist() == [1] and log.pscore.tolist() == [0.5] and log.reward.tolist() == [1.0]
    assert log.features[0]["shared"]["G"] == {"drama": 0.25, "romance": 0.75}
    assert log.features[0]["shared"]["T"] == {"bucket=evening": 1, "day=weekday": 1}
    assert log.features[0]["actions"][0]["A"] == {f"id={ids[0]}": 1}


@pytest.mark.parametrize("row,message", [
    ("e1,2026-11-23T21:00:00,u1,t01,tv,{},t01-a1;t01-a2,t01-a1,0.5,1", "no UTC offset"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,tv,{},t01-a1;t01-a2,t01-a9,0.5,1", "not among the candidates"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,tv,{},t01-a1;zz,t01-a1,0.5,1", "not in the catalog"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,tv,{},t01-a1;t01-a2,t01-a1,0,1", r"propensity 0.0 is not in \(0, 1\]"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,tv,{},t01-a1;t01-a2,t01-a1,1.5,1", r"not in \(0, 1\]"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,tv,{},t01-a1;t01-a2,t01-a1,0.5,nan", "not a finite number"),
    ("e1,2026-11-23T21:00:00Z,u1,t01,fridge,{},t01-a1;t01-a2,t01-a1,0.5,1", "device"),
])
def test_bad_csv_rows_are_refused_with_the_line(tmp_path, row, message):
    from artwork.demo_catalog import demo_titles

    path = tmp_path / "bad.csv"
    path.write_text("event_id,time,user_id,title_id,device,genre_affinity,candidates,chosen,propensity,reward\n"
                    + row + "\n")
    with pytest.raises(logs.LogError, match=message):
        logs.from_csv(path, demo_titles())


def test_missing_csv_columns_are_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("event_id,time\n")
    with pytest.raises(logs.LogError, match="missing column"):
        logs.from_csv(path, [])
