"""Candidate arms: an experiment arm that is a VW configuration of its own, learning off-policy
from the whole log. Its model learns every queued event of every arm once, in the live model's
order, from the epoch's start; it is checkpointed and equal after a restart; a serving process
follows its snapshots; it follows model epochs with its own arguments; its checkpoints go when
it stops serving; what its arm draws with is what is logged."""

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from servers import running_server

from artwork import candidates
from artwork.admin import Admin
from artwork.candidates import CandidateArmLog
from artwork.errors import ServiceError
from artwork.experiments import CACHE_SECONDS, assign_arm, candidate_folder, candidate_key
from artwork.learner import load_model
from artwork.policy import Model
from tests.conftest import numbered

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

CONTEXT = {"time": "2026-11-23T21:30:00+01:00", "device": "tv", "genre_affinity": {"drama": 1.0}}
CANDIDATE = "--cb_explore_adf --epsilon 0.2 --cb_type ips -q GA"
ARMS = [{"name": "live", "policy": "bandit"}, {"name": "challenger", "policy": "candidate", "vw_args": CANDIDATE}]
KEY = candidate_key("e1", "challenger")


def traffic(service, clock, people: int, prefix: str, titles=("t01", "t02")) -> list[dict]:
    """One page per person; every third person clicks the first title's artwork."""
    results = []
    for i in range(people):
        result = service.select_artwork(f"{prefix}{i}", list(titles), CONTEXT)
        if i % 3 == 0:
            service.record_outcome(result["decisions"][0]["event_id"], "click")
        results.append(result)
    clock.advance(31)  # every window closes: all of it becomes final
    return results


def service_and_learner(app):
    return app.extensions["artwork"], app.extensions["artwork.learner"]


def start(service, arms=ARMS, control="live"):
    service.experiments.create("e1", arms, control)
    return service.experiments.start("e1")


def replayed(store, vw_args: str, start_seq: int = 0) -> Model:
    """A model of ``vw_args`` that learned the queue after ``start_seq`` in order, from scratch."""
    model = Model(vw_args, seq=start_seq)
    for row in numbered(store).learn_batch(start_seq, 100_000):
        model.learn(row["features"], row["chosen_index"], row["reward"], row["probability"], row["seq"])
    return model


def queue_top(store) -> int:
    return numbered(store).query("SELECT coalesce(max(seq), 0) AS top FROM learn_queue")[0]["top"]


@pytest.mark.parametrize(("arm", "message"), [
    ({"name": "c", "policy": "candidate"}, "a candidate arm needs vw_args"),
    ({"name": "c", "policy": "bandit", "vw_args": CANDIDATE}, "vw_args is only for a candidate arm, not a bandit"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_adf"}, "must include --cb_explore_adf"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf -f /tmp/x.vw"}, "may not use '-f'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --readable_model=/tmp/x"},
     "may not use '--readable_model'"),
    # options VW takes that read or write files, or take a file as the data
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --dump_json_weights_experimental /tmp/x"},
     "may not use '--dump_json_weights_experimental'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf /etc/hostname"}, "may not use '/etc/hostname'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --predict_only_model"},
     "may not use '--predict_only_model'"),
    # values of their form, and sizes that cannot take a host's memory
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf -b 28"},
     "-b takes a whole number from 10 to 22, not '28'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --bag 1000"},
     "--bag takes a whole number from 1 to 32, not '1000'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --epsilon"}, "--epsilon needs a value"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --epsilon x"},
     "--epsilon takes a number, not 'x'"),
    ({"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf --cb_type mtr --cb_type ips"}, "VW refused"),
    ({"name": "c", "policy": "candidate", "vw_args": 7}, "vw_args must be a string"),
])
def test_a_candidate_arm_needs_vw_args_a_client_may_use(service, arm, message):
    with pytest.raises(ServiceError) as raised:
        service.experiments.create("e1", [{"name": "live", "policy": "bandit"}, arm])
    assert raised.value.status == 400 and message in raised.value.message


def test_a_candidate_learns_every_arms_events_once_from_the_whole_log_and_its_arm_draws_with_it(make_app, clock):
    service, learner = service_and_learner(make_app())
    traffic(service, clock, 40, "before-")  # the log the candidate starts from
    learner.run_once()
    start(service)
    clock.advance(1)  # the learner looks for a running experiment's candidates every second
    learner.run_once()  # and takes up the candidate: it learns the whole log
    candidate = learner.candidates.learners[KEY]
    assert candidate.model.seq == learner.model.seq == queue_top(service.store) == 80
    results = traffic(service, clock, 90, "during-")
    learner.run_once()
    top = queue_top(service.store)
    assert candidate.model.seq == learner.model.seq == top == 80 + 180
    assert candidate.model.vw_args == CANDIDATE and learner.model.vw_args == service.settings.vw_args
    # every event of every arm, once each, in queue order: the same weights as a replay from scratch
    assert candidate.model.weights() == replayed(service.store, CANDIDATE).weights()
    # The candidate arm's people were drawn from the candidate's floored epsilon-greedy distribution:
    # 0.8 + 0.2/K on its pick, 0.2/K on each other (the live model's SquareCB gives other shapes).
    rows = service.store.query("SELECT served_arm, pmf, probability, chosen_index, model_version FROM impressions"
                               " WHERE experiment = 'e1'")
    by_arm = {arm: [r for r in rows if r["served_arm"] == arm] for arm in ("live", "challenger")}
    assert len(by_arm["challenger"]) > 40 and len(by_arm["live"]) > 40
    for row in by_arm["challenger"]:
        pmf = json.loads(row["pmf"])
        k = len(pmf)
        assert sorted(pmf) == pytest.approx(sorted([0.2 / k] * (k - 1) + [0.8 + 0.2 / k]))
        assert row["probability"] == pmf[row["chosen_index"]]
        assert 80 <= row["model_version"] <= top  # the candidate's own position in the log
    assert any(sorted(json.loads(r["pmf"])) != sorted(json.loads(by_arm["challenger"][0]["pmf"]))
               for r in by_arm["live"])
    assert {r["experiment"]["served_arm"] for r in results} == {"live", "challenger"}
    # the read-out says how far the candidate has learned
    report = service.experiments.report("e1")
    assert report["arms"][1]["model"] == {"learned": top, "behind": 0}  # the model this process draws with
    assert report["arms"][1]["vw_args"] == CANDIDATE


def test_a_restarted_learner_continues_the_candidate_from_its_checkpoint_with_the_same_model(make_app, clock):
    service, learner = service_and_learner(make_app(CHECKPOINT_EVERY_EVENTS=50))
    start(service)
    traffic(service, clock, 60, "a-")
    learner.run_once()
    checkpointed = learner.candidates.learners[KEY].model.seq
    assert checkpointed == 120
    traffic(service, clock, 45, "b-")  # logged, final, not learned: the process dies here
    restarted = make_app(CHECKPOINT_EVERY_EVENTS=50)
    candidate_log = CandidateArmLog(restarted.extensions["artwork"].store, KEY)
    folder = candidate_folder(Path(restarted.extensions["artwork.settings"].data_dir) / "models", KEY)
    assert load_model(candidate_log, CANDIDATE, folder).seq == checkpointed  # its checkpoint, found
    learner = restarted.extensions["artwork.learner"]
    learner.run_once()
    assert learner.candidates.learners[KEY].model.seq == queue_top(service.store) == 210
    assert learner.candidates.learners[KEY].model.weights() == replayed(service.store, CANDIDATE).weights()


def test_a_candidate_catches_up_on_a_long_log_a_share_at_a_time(make_app, clock, monkeypatch):
    monkeypatch.setattr(candidates, "CATCH_UP_EVENTS", 70)
    service, learner = service_and_learner(make_app())
    traffic(service, clock, 100, "p")
    learner.run_once()
    start(service)
    clock.advance(1)
    seen = []
    for _ in range(4):
        learner.run_once()
        seen.append(learner.candidates.learners[KEY].model.seq)
        assert learner.model.seq == 200  # the live model is never held up
    assert seen == [70, 140, 200, 200]
    assert learner.candidates.learners[KEY].model.weights() == replayed(service.store, CANDIDATE).weights()


def test_a_new_epoch_rebuilds_the_candidate_with_its_own_arguments_and_forgets_its_old_files(make_app, clock):
    service, learner = service_and_learner(make_app(CHECKPOINT_EVERY_EVENTS=1))
    start(service)
    traffic(service, clock, 30, "p")
    learner.run_once()
    old_files = [row["file"] for row in CandidateArmLog(service.store, KEY).checkpoints(CANDIDATE, 1)]
    assert old_files
    # forgetting a person: a new epoch learning the log without their decisions
    Admin(service).delete_user("p3", True)
    other_args = "--cb_explore_adf --epsilon 0.05"
    retrained = Admin(service).retrain_model(other_args)  # and a retrain with other arguments
    learner.run_once()
    candidate = learner.candidates.learners[KEY].model
    assert (candidate.epoch, candidate.vw_args) == (retrained["epoch"], CANDIDATE)
    assert learner.model.vw_args == other_args
    assert candidate.weights() == replayed(service.store, CANDIDATE).weights()
    candidate_log = CandidateArmLog(service.store, KEY)
    assert candidate_log.checkpoints(CANDIDATE, 1) == []
    folder = candidate_folder(Path(service.settings.data_dir) / "models", KEY)
    assert candidate_log.latest_snapshot(folder)["epoch"] == retrained["epoch"]
    assert not any((folder / name).exists() for name in old_files)


def test_when_the_experiment_stops_the_candidates_checkpoints_and_files_are_deleted(make_app, clock):
    service, learner = service_and_learner(make_app(CHECKPOINT_EVERY_EVENTS=1))
    start(service)
    traffic(service, clock, 20, "p")
    learner.run_once()
    models = Path(service.settings.data_dir) / "models"
    assert service.store.checkpoint_models() == [KEY]
    assert service.candidates.get("e1", ARMS[1]) is learner.candidates.learners[KEY].model  # shared, in process
    service.experiments.stop("e1", "test")
    clock.advance(2)
    learner.run_once()
    assert service.store.checkpoint_models() == [] and learner.candidates.learners == {}
    assert not candidate_folder(models, KEY).exists()
    assert KEY not in service.candidates._held
    assert service.store.all_checkpoints()  # the live model's are untouched
    assert service.experiments.report("e1")["arms"][1]["model"] is None


def test_a_serving_process_follows_the_candidates_snapshots(make_app, clock):
    learning = make_app(CHECKPOINT_EVERY_EVENTS=1)
    service, learner = learning.extensions["artwork"], learning.extensions["artwork.learner"]
    serving = make_app(ROLE="serve").extensions["artwork"]
    start(service)
    traffic(service, clock, 30, "p")
    learner.run_once()
    serving.experiments.invalidate()
    person = next(f"x{i}" for i in range(100) if assign_arm("e1", f"x{i}", [
        {"name": "live", "share": 0.5}, {"name": "challenger", "share": 0.5}])["name"] == "challenger")
    first = serving.select_artwork(person, ["t01"], CONTEXT)
    assert first["experiment"]["served_arm"] == "challenger" and first["model_version"] == 60
    model = serving.candidates.get("e1", ARMS[1])
    assert model.weights() == learner.candidates.learners[KEY].model.weights()
    traffic(service, clock, 15, "q")
    learner.run_once()
    serving.candidates.follow(serving.experiments.running())  # what its thread does every poll
    top = queue_top(service.store)  # the 30 pages and the serving process's own decision
    assert serving.candidates.get("e1", ARMS[1]).seq == top == 91
    assert serving.select_artwork(person, ["t01"], CONTEXT)["model_version"] == 91


@pytest.mark.sqlite_only
def test_a_candidate_arm_runs_on_serve_workers_with_the_learner_process(template_dir, tmp_path):
    """The real `artwork serve --workers 2`: the learner process learns the candidate, the
    serving processes draw its arm's artwork with its published snapshots."""
    shutil.copytree(template_dir, tmp_path / "data")
    token = "s3cret-admin-token-0123456789"
    env = {"ARTWORK_ADMIN_TOKEN": token}

    def call(base, path, body=None, headers=None):
        request = urllib.request.Request(base + path, None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **(headers or {})})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    with running_server(tmp_path / "data", tmp_path / "serve.log", env=env, args=("--workers", "2")) as (_, base):
        admin = {"Authorization": f"Bearer {token}"}
        call(base, "/api/v1/admin/experiments", {"name": "e1", "arms": ARMS}, admin)
        call(base, "/api/v1/admin/experiments/e1/start", {}, admin)
        time.sleep(CACHE_SECONDS + 0.2)  # every serving process has seen the start
        versions = []
        for i in range(400):
            page = call(base, "/api/v1/select-artwork", {"user_id": f"v{i}", "title_ids": ["t01"],
                                                          "context": CONTEXT})
            decision = page["decisions"][0]
            if page["experiment"]["served_arm"] == "challenger":
                versions.append(decision["model_version"])
            call(base, f"/api/v1/events/{decision['event_id']}/click", {})
        report = call(base, "/api/v1/admin/experiments/e1", headers=admin)
        assert report["arms"][1]["policy"] == "candidate" and report["arms"][1]["decisions"] == len(versions)
        # clicks are final at once: the learner process learns them, the workers follow its snapshots
        assert max(versions) > 0, (tmp_path / "serve.log").read_text()[-2000:]
        assert report["arms"][1]["model"]["learned"] > 0


@pytest.mark.sqlite_only
def test_the_cli_creates_a_candidate_arm_and_reports_its_model(runner, make_app, clock, data_dir):
    from artwork.cli import cli

    where = ["--data-dir", str(data_dir)]
    r = runner.invoke(cli, ["experiment", "create", "e1", "--arm", "live=bandit", "--arm", "challenger=candidate",
                            "--vw-args", f"challenger={CANDIDATE}", *where])
    assert r.exit_code == 0, r.output
    assert "challenger       candidate" in r.output and f"model: {CANDIDATE}; learned up to event 0" in r.output
    r = runner.invoke(cli, ["experiment", "create", "e2", "--arm", "live=bandit", "--arm", "c=candidate",
                            "--vw-args", "c=--cb_explore_adf --final_regressor /tmp/x", *where])
    assert r.exit_code == 1 and "may not use '--final_regressor'" in r.output
    r = runner.invoke(cli, ["experiment", "create", "e3", "--arm", "live=bandit", "--arm", "c=uniform",
                            "--vw-args", f"d={CANDIDATE}", *where])
    assert r.exit_code == 2 and "--vw-args names no arm: d" in r.output
    assert runner.invoke(cli, ["experiment", "start", "e1", *where]).exit_code == 0
    app = make_app(CHECKPOINT_EVERY_EVENTS=1)
    traffic(app.extensions["artwork"], clock, 20, "p")
    app.extensions["artwork.learner"].run_once()
    r = runner.invoke(cli, ["experiment", "report", "e1", *where])
    assert r.exit_code == 0 and "learned up to event 40, 0 queued events behind" in r.output, r.output
    r = runner.invoke(cli, ["experiment", "report", "e1", "--json", *where])
    offline = {row["arm"]: row for row in json.loads(r.output)["offline_beside_live"]}
    assert offline["challenger"]["offline_decisions"] > 0 and offline["challenger"]["offline_value"] is not None
    assert runner.invoke(cli, ["experiment", "stop", "e1", *where]).exit_code == 0
    r = runner.invoke(cli, ["experiment", "report", "e1", *where])
    assert "(deleted: the arm no longer serves)" in r.output


@pytest.mark.sqlite_only
def test_a_backup_leaves_candidates_out_and_the_restored_learner_rebuilds_them_from_the_log(
        make_app, clock, data_dir, runner, tmp_path):
    import tarfile

    from artwork.cli import cli

    service, learner = service_and_learner(make_app(CHECKPOINT_EVERY_EVENTS=1))
    start(service)
    traffic(service, clock, 20, "p")
    learner.run_once()
    assert service.store.checkpoint_models() == [KEY]
    out = tmp_path / "backup.tar"
    assert runner.invoke(cli, ["backup", "--data-dir", str(data_dir), "--out", str(out)]).exit_code == 0
    with tarfile.open(out) as tar:
        assert not [name for name in tar.getnames() if "candidates" in name]
    restored = tmp_path / "restored"
    (restored / "models" / "candidates" / "e1" / "challenger").mkdir(parents=True)  # a stale one is removed
    assert runner.invoke(cli, ["restore", str(out), "--data-dir", str(restored)]).exit_code == 0
    assert not (restored / "models" / "candidates").exists()
    assert runner.invoke(cli, ["check", "--data-dir", str(restored)]).exit_code == 0
    again = make_app(DATA_DIR=str(restored))
    again_service, again_learner = again.extensions["artwork"], again.extensions["artwork.learner"]
    assert again_service.store.checkpoint_models() == []
    again_learner.run_once()  # the experiment still runs in the restored log: its candidate is rebuilt
    assert again_learner.candidates.learners[KEY].model.weights() == replayed(again_service.store,
                                                                              CANDIDATE).weights()


def test_a_failing_candidate_holds_up_neither_the_others_nor_the_round(make_app, clock, monkeypatch):
    service, learner = service_and_learner(make_app())
    arms = [*ARMS, {"name": "other", "policy": "candidate", "vw_args": "--cb_explore_adf --epsilon 0.1"}]
    start(service, arms=arms)
    traffic(service, clock, 20, "p")
    learner.run_once()
    broken = learner.candidates.learners[KEY]
    monkeypatch.setattr(broken, "learn_available", lambda **_: (_ for _ in ()).throw(RuntimeError("boom")))
    maintained = []
    monkeypatch.setattr(service.store, "maintain", lambda: maintained.append(True))
    traffic(service, clock, 20, "q")
    learner.run_once()
    assert maintained == [True]
    assert learner.model.seq == learner.candidates.learners["e1/other"].model.seq == 80
    assert broken.model.seq == 40
    monkeypatch.undo()
    learner.run_once()
    assert broken.model.seq == 80 and broken.model.weights() == replayed(service.store, CANDIDATE).weights()


def test_offline_beside_live_scores_a_learning_arm_by_its_model_just_before_it_learned_each_decision(
        make_app, clock):
    from artwork.policy import floor_pmf
    from artwork.simulations.experiment import ProgressiveReplay, offline_beside_live

    service, learner = service_and_learner(make_app())
    start(service, arms=[*ARMS, {"name": "default", "policy": "default"}], control="default")
    traffic(service, clock, 30, "p")
    learner.run_once()
    store, floor = numbered(service.store), service.settings.propensity_floor
    entries = store.queue_entries(0, 1000)
    assert [e["seq"] for e in entries] == list(range(1, 61))
    replay = ProgressiveReplay(CANDIDATE, floor, store.current_epoch())
    replay.advance(store, {e["event_id"] for e in entries[:40]})
    assert set(replay.targets) == {e["event_id"] for e in entries[:40]} and replay.model.seq == 60
    for k in (0, 17, 39):  # a fresh model of the arm's arguments that learned the k entries before
        before = Model(CANDIDATE)
        for e in entries[:k]:
            before.learn(e["features"], e["chosen_index"], e["reward"], e["probability"], e["seq"])
        assert replay.targets[entries[k]["event_id"]] == floor_pmf(before.predict(entries[k]["features"])[0], floor)
    # kept replays go on from where they stopped, and give what one replay of the whole log gives
    replays = {}
    first = offline_beside_live(store, service.settings.vw_args, floor, service.experiments.report("e1"),
                                service.catalog, replays)
    traffic(service, clock, 30, "q")
    learner.run_once()
    report = service.experiments.report("e1")
    kept = offline_beside_live(numbered(service.store), service.settings.vw_args, floor, report, service.catalog,
                               replays)
    fresh = offline_beside_live(service.store, service.settings.vw_args, floor, report, service.catalog)
    assert kept == fresh and kept != first
    assert {row["arm"]: row["offline_decisions"] for row in kept} == {
        arm["name"]: sum(a["decisions"] for a in report["arms"] if a["name"] != arm["name"])
        for arm in report["arms"]}


def test_a_drafts_candidate_learns_before_the_start_and_calling_the_draft_off_deletes_it(make_app, clock):
    service, learner = service_and_learner(make_app(CHECKPOINT_EVERY_EVENTS=1))
    traffic(service, clock, 30, "p")
    learner.run_once()
    service.experiments.create("e1", ARMS, "live")  # a draft: nobody is assigned yet
    clock.advance(1)
    learner.run_once()
    draft = service.experiments.report("e1")
    assert draft["state"] == "draft" and draft["arms"][1]["model"] == {"learned": 60, "behind": 0}
    assert service.select_artwork("x", ["t01"], CONTEXT)["experiment"] is None
    service.experiments.start("e1")  # caught up already: its first decision draws with what it learned
    arms = service.store.running_experiment()["definition"]["arms"]
    person = next(f"x{i}" for i in range(100) if assign_arm("e1", f"x{i}", arms)["name"] == "challenger")
    first = service.select_artwork(person, ["t01"], CONTEXT)
    assert first["experiment"]["served_arm"] == "challenger" and first["model_version"] == 60
    assert learner.candidates.learners[KEY].model.weights() == replayed(service.store, CANDIDATE).weights()
    # a draft called off: its candidate stops learning and its checkpoints go
    service.experiments.create("e2", [{"name": "live", "policy": "bandit"},
                                      {"name": "c", "policy": "candidate", "vw_args": "--cb_explore_adf"}])
    clock.advance(1)
    learner.run_once()
    assert set(service.store.checkpoint_models()) == {KEY, "e2/c"}
    assert service.experiments.stop("e2", "test")["state"] == "stopped"
    with pytest.raises(ServiceError) as again:
        service.experiments.stop("e2", "test")
    assert again.value.status == 409 and again.value.code == "experiment_stopped"
    clock.advance(1)
    learner.run_once()
    assert service.store.checkpoint_models() == [KEY] and set(learner.candidates.learners) == {KEY}
