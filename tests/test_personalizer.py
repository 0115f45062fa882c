"""The Personalizer-compatible loop (README "Moving from Azure Personalizer"): Rank, Reward and
Activate in Personalizer's shapes, statuses, errors and key header; real-valued rewards with
Personalizer's aggregations and default reward; deferred activation; exactly-once learning and
restart equality for the loop's own model on both backends; a client written for Personalizer's
REST API working against a real server; the log out as DSJSON and a DSJSON log in as a warm start;
apprentice mode imitating the baseline, then switching itself to online, visibly."""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from scipy.stats import chisquare
from servers import running_server

from artwork.cli import cli
from artwork.policy import Model
from artwork.simulations.dsjson import read_dsjson
from benchmarks.personalizer import ACTIONS, APPRENTICE, RANK, SEGMENTS, apprentice_run, rank_body, reward_url

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

KEY = "client-key-a-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"


def pz_learner(app):
    return app.extensions["artwork.personalizer.learner"]


def logged(app, event_id: str) -> dict:
    return app.extensions["artwork"].store.query_one("SELECT * FROM pz_events WHERE event_id = ?", (event_id,))


def queue(app) -> list[dict]:
    from conftest import numbered

    return numbered(app.extensions["artwork"].store).query(
        "SELECT q.seq, q.event_id, i.features, i.chosen_index, i.reward, i.probability FROM pz_learn_queue q"
        " JOIN pz_events i USING (event_id) ORDER BY q.seq")


# Rank, reward, activate: shapes, statuses, errors -------------------------------------------------

def test_rank_answers_201_with_every_action_the_chosen_first_and_excluded_ones_last_at_zero(app):
    client = app.test_client()
    r = client.post(RANK, json=rank_body(excludedActions=["c"], eventId="evt-1"))
    assert r.status_code == 201
    answer = r.get_json()
    assert set(answer) == {"ranking", "eventId", "rewardActionId"} and answer["eventId"] == "evt-1"
    ranking = answer["ranking"]
    assert [x["id"] for x in ranking][0] == answer["rewardActionId"] in {"a", "b"}
    assert ranking[-1] == {"id": "c", "probability": 0.0}
    assert sum(x["probability"] for x in ranking) == pytest.approx(1.0)
    row = logged(app, "evt-1")  # logged before the answer, with the probability it was drawn with
    assert row["action_id"] == answer["rewardActionId"] and row["state"] == "pending"
    assert row["probability"] == ranking[0]["probability"] == json.loads(row["pmf"])[row["chosen_index"]]
    assert json.loads(row["action_ids"]) == ["a", "b"] and json.loads(row["excluded"]) == ["c"]
    # no eventId: one is made up
    made_up = client.post(RANK, json=rank_body()).get_json()["eventId"]
    assert made_up and logged(app, made_up) is not None


def test_reward_and_activate_answer_204_with_no_body(app):
    client = app.test_client()
    event = client.post(RANK, json=rank_body(deferActivation=True)).get_json()["eventId"]
    r = client.post(reward_url(event), json={"value": 0.5})
    assert (r.status_code, r.data) == (204, b"")
    r = client.post(reward_url(event, "activate"))
    assert (r.status_code, r.data) == (204, b"")


ERRORS = [
    # (request, status, Personalizer's code, the service's code in innerError, words of the message)
    (("rank", {"actions": []}), 400, "BadRequest", "bad_request", "non-empty"),
    (("rank", {"contextFeatures": [{"a": 1}]}), 400, "BadRequest", "bad_request", "actions is required"),
    (("rank", {"actions": [{"id": "a"}, {"id": "a"}]}), 400, "BadRequest", "bad_request", "same id"),
    (("rank", {"actions": [{"id": "a"}], "excludedActions": ["z"]}), 400, "BadRequest", "bad_request", "'z'"),
    (("rank", {"actions": [{"id": "a"}], "excludedActions": ["a"]}), 400, "BadRequest", "bad_request",
     "every action is excluded"),
    (("rank", {"actions": [{"id": "a", "features": [{"tags": ["x", "y"]}]}]}), 400, "BadRequest", "bad_request",
     "actions[0].features[0].tags"),
    (("rank", {"actions": [{"id": "a"}], "eventId": "has space"}), 400, "BadRequest", "bad_request", "eventId"),
    (("rank", {"actions": [{"id": str(i)} for i in range(51)]}), 400, "BadRequest", "bad_request", "at most 50"),
    (("reward", "evt-known", {"value": 1.5}), 400, "BadRequest", "bad_request", "at most 1"),
    (("reward", "evt-known", {}), 400, "BadRequest", "bad_request", "value is required"),
    (("reward", "nobody-ranked-this", {"value": 1}), 404, "ResourceNotFound", "unknown_event", "nobody-ranked-this"),
    (("activate", "nobody-ranked-this", None), 404, "ResourceNotFound", "unknown_event", "unknown event"),
    (("reward", "not%20an%20id", {"value": 1}), 404, "ResourceNotFound", "unknown_event", "unknown event"),
    (("rank", {"actions": [{"id": "a"}], "eventId": "evt-known"}), 409, "Conflict", "duplicate_event", "used once"),
]


@pytest.mark.parametrize("request_, status, code, inner, words", ERRORS,
                         ids=[f"{e[0][0]}-{e[1]}-{e[4][:12]}" for e in ERRORS])
def test_errors_have_personalizers_shape_and_status(app, request_, status, code, inner, words):
    client = app.test_client()
    assert client.post(RANK, json={"actions": [{"id": "a"}], "eventId": "evt-known"}).status_code == 201
    if request_[0] == "rank":
        r = client.post(RANK, json=request_[1])
    else:
        r = client.post(reward_url(request_[1], request_[0]), json=request_[2])
    assert r.status_code == status, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == code and error["innerError"] == {"code": inner}
    assert words in error["message"]
    assert "status" not in error  # Personalizer's shape, not the service's


def test_the_subscription_key_header_is_checked_against_the_client_keys(make_app):
    client = make_app(CLIENT_KEYS=KEY).test_client()
    r = client.post(RANK, json=rank_body())
    assert r.status_code == 401 and r.get_json()["error"]["innerError"]["code"] == "missing_client_key"
    assert r.headers["WWW-Authenticate"] == 'ApiKey header="Ocp-Apim-Subscription-Key"'
    r = client.post(RANK, json=rank_body(), headers={"Ocp-Apim-Subscription-Key": "wrong-key-0123456789abcdef"})
    assert r.status_code == 401 and r.get_json()["error"] == {
        "code": "Unauthorized", "message": "the key in the Ocp-Apim-Subscription-Key header is not a valid client key",
        "innerError": {"code": "invalid_client_key"}}
    assert client.post(RANK, json=rank_body(), headers={"X-Api-Key": KEY}).status_code == 401  # not its header
    r = client.post(RANK, json=rank_body(), headers={"Ocp-Apim-Subscription-Key": KEY})
    assert r.status_code == 201
    event = r.get_json()["eventId"]
    assert client.post(reward_url(event), json={"value": 1}).status_code == 401
    assert client.post(reward_url(event), json={"value": 1},
                       headers={"Ocp-Apim-Subscription-Key": KEY}).status_code == 204


# Rewards: real values, aggregation, default reward, deferred activation ---------------------------

def test_earliest_aggregation_keeps_the_first_reward_and_finalizes_at_once(make_app, clock):
    app = make_app()
    client = app.test_client()
    event = client.post(RANK, json=rank_body()).get_json()["eventId"]
    assert client.post(reward_url(event), json={"value": -0.25}).status_code == 204
    assert client.post(reward_url(event), json={"value": 1}).status_code == 204
    row = logged(app, event)
    assert (row["state"], row["reward"], row["final_reason"]) == ("final", -0.25, "outcome")
    effects = app.extensions["artwork"].store.query("SELECT kind, value, effect FROM pz_outcomes ORDER BY id")
    assert effects == [{"kind": "reward", "value": -0.25, "effect": "rewarded"},
                       {"kind": "reward", "value": 1.0, "effect": "duplicate"}]


def test_sum_aggregation_adds_the_rewards_of_the_wait_time_and_the_default_reward_fills_silence(make_app, clock):
    app = make_app(PERSONALIZER_REWARD_AGGREGATION="sum", PERSONALIZER_REWARD_WAIT_SECONDS=60,
                   PERSONALIZER_DEFAULT_REWARD=-0.5)
    client = app.test_client()
    summed, silent = (client.post(RANK, json=rank_body()).get_json()["eventId"] for _ in range(2))
    client.post(reward_url(summed), json={"value": 0.5})
    client.post(reward_url(summed), json={"value": 0.25})
    assert logged(app, summed)["state"] == "pending"  # more may come until the wait time ends
    clock.advance(61)
    pz_learner(app).run_once()
    assert (logged(app, summed)["state"], logged(app, summed)["reward"]) == ("final", 0.75)
    assert (logged(app, silent)["reward"], logged(app, silent)["final_reason"]) == (-0.5, "window")
    client.post(reward_url(summed), json={"value": 1})  # after the wait time: kept, changes nothing
    assert logged(app, summed)["reward"] == 0.75
    assert app.extensions["artwork"].store.scalar("SELECT effect FROM pz_outcomes ORDER BY id DESC LIMIT 1") == "late"
    # both closed by the learner, in (deadline, event id) order: the artwork loop's window closing
    closing_order = sorted([summed, silent], key=lambda e: (logged(app, e)["deadline_ts"], e))
    assert [r["event_id"] for r in queue(app)] == closing_order


def test_a_deferred_event_waits_for_activation_and_then_takes_the_rewards_held(make_app, clock):
    app = make_app(PERSONALIZER_REWARD_WAIT_SECONDS=60)
    client = app.test_client()
    shown, never = (client.post(RANK, json=rank_body(deferActivation=True)).get_json()["eventId"] for _ in range(2))
    client.post(reward_url(shown), json={"value": 0.8})
    clock.advance(3600)  # no window runs before activation
    pz_learner(app).run_once()
    assert logged(app, shown)["state"] == logged(app, never)["state"] == "awaiting_activation"
    assert client.post(reward_url(shown, "activate")).status_code == 204
    row = logged(app, shown)
    assert (row["state"], row["reward"], row["activated_ts"]) == ("final", 0.8, clock.now)
    pz_learner(app).run_once()
    assert [r["event_id"] for r in queue(app)] == [shown]  # never shown: never learned
    # activating an event that was not deferred, or twice, changes nothing
    plain = client.post(RANK, json=rank_body()).get_json()["eventId"]
    assert client.post(reward_url(plain, "activate")).status_code == 204
    assert client.post(reward_url(shown, "activate")).status_code == 204
    assert logged(app, plain)["state"] == "pending" and logged(app, shown)["reward"] == 0.8


# Exactly once, and restarts ------------------------------------------------------------------------

def traffic(client, clock, n: int, seed: int) -> None:
    """Rank calls for random segments; about half are rewarded with a real value."""
    rng = random.Random(seed)
    for _ in range(n):
        event = client.post(RANK, json=rank_body(rng.choice(SEGMENTS))).get_json()["eventId"]
        if rng.random() < 0.5:
            client.post(reward_url(event), json={"value": round(rng.uniform(-1, 1), 3)})
        clock.advance(7)


def never_stopped(app, vw_args: str) -> Model:
    """A model that learned the loop's whole learn queue in one go, in order."""
    model = Model(vw_args)
    for row in queue(app):
        model.learn(json.loads(row["features"]), row["chosen_index"], row["reward"], row["probability"], row["seq"])
    return model


def test_the_loops_events_are_learned_exactly_once_and_a_restart_equals_never_stopping(make_app, clock):
    settings = {"CHECKPOINT_EVERY_EVENTS": 15, "PERSONALIZER_REWARD_WAIT_SECONDS": 20}
    first = make_app(**settings)
    client, learner = first.test_client(), pz_learner(first)
    for round_ in range(4):
        traffic(client, clock, 12, seed=round_)
        learner.run_once()
    checkpointed = first.extensions["artwork"].store.scalar("SELECT max(seq) FROM pz_checkpoints")
    traffic(client, clock, 9, seed=99)
    clock.advance(30)
    learner.run_once()
    learned = learner.model.seq
    rows = queue(first)
    assert len(rows) == len({r["event_id"] for r in rows}) == learned == 57  # every event once, none twice
    assert 0 < checkpointed < learned  # the crash loses the events after the last checkpoint
    assert first.extensions["artwork"].model.seq == 0  # the artwork loop learned none of them
    learner.stop(checkpoint=False)  # crash: no final checkpoint

    second = make_app(**settings)
    loop = second.extensions["artwork.personalizer"]
    vw_args = second.extensions["artwork.settings"].personalizer_vw_args
    assert loop.model.seq == learned  # loaded the checkpoint and re-learned the rest
    assert loop.model.weights() == never_stopped(second, vw_args).weights()
    traffic(second.test_client(), clock, 10, seed=5)  # ...and keeps learning identically afterwards
    clock.advance(30)
    pz_learner(second).run_once()
    assert loop.model.seq == 67 and loop.model.weights() == never_stopped(second, vw_args).weights()


@pytest.mark.sqlite_only
def test_logged_probabilities_in_apprentice_mode_are_the_probabilities_drawn_with(make_app):
    """Apprentice mode mixes the baseline with the bandit's draw; over many seeded calls each
    action is shown as often as the probability logged with it says (chi-square)."""
    app = make_app(PERSONALIZER_MODE="apprentice", PERSONALIZER_APPRENTICE_EXPLORATION=0.3, SEED=20261202)
    client = app.test_client()
    shown, probabilities = Counter(), {}
    for _ in range(3000):
        answer = client.post(RANK, json=rank_body()).get_json()
        shown[answer["rewardActionId"]] += 1
        probabilities.setdefault(answer["rewardActionId"], set()).add(answer["ranking"][0]["probability"])
    assert all(len(p) == 1 for p in probabilities.values())  # one context, one untrained model: one distribution
    pmf = {a: p.pop() for a, p in probabilities.items()}
    assert pmf == pytest.approx({"a": 0.7 + 0.3 / 3, "b": 0.1, "c": 0.1})
    observed = [shown[a] for a in "abc"]
    assert chisquare(observed, [pmf[a] * 3000 for a in "abc"]).pvalue > 0.001, observed


def test_apprentice_mode_never_logs_a_probability_under_the_floor():
    """A confident bandit's 1% times a 5% exploration share would be 0.05%: the mixture is floored
    again, so no logged probability is under PROPENSITY_FLOOR; with no exploration the baseline
    is shown with probability 1."""
    from artwork.personalizer import drawing_pmf

    mixed = drawing_pmf([0.01, 0.98, 0.01], "apprentice", 0.05, 0.01)
    assert min(mixed) >= 0.01 - 1e-12 and sum(mixed) == pytest.approx(1.0)
    assert mixed[0] == max(mixed)  # still mostly the baseline
    assert drawing_pmf([0.01, 0.98, 0.01], "apprentice", 0.0, 0.01) == [1.0, 0.0, 0.0]
    assert drawing_pmf([0.01, 0.98, 0.01], "online", 0.05, 0.01) == [0.01, 0.98, 0.01]


# A client written for Personalizer ------------------------------------------------------------------

class PersonalizerClient:
    """What a team's code for Azure Personalizer's REST API does: Rank, then Reward, with the
    resource's endpoint and key. Nothing in it knows about this service."""

    def __init__(self, endpoint: str, key: str):
        self.endpoint = endpoint.rstrip("/")
        self.key = key

    def _post(self, path: str, body: dict | None) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            f"{self.endpoint}/personalizer/v1.0/{path}", method="POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Ocp-Apim-Subscription-Key": self.key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def rank(self, context_features: list, actions: list, excluded=None, event_id=None, defer=False):
        return self._post("rank", {"contextFeatures": context_features, "actions": actions,
                                   "excludedActions": excluded, "eventId": event_id, "deferActivation": defer})

    def reward(self, event_id: str, value: float):
        return self._post(f"events/{event_id}/reward", {"value": value})

    def activate(self, event_id: str):
        return self._post(f"events/{event_id}/activate", None)


@pytest.mark.sqlite_only
def test_a_client_written_for_personalizer_works_by_changing_only_the_endpoint_and_key(template_dir, tmp_path):
    """Against a real `artwork serve --workers 2` (serving processes and a learner process)."""
    shutil.copytree(template_dir, tmp_path / "data")
    env = {"ARTWORK_CLIENT_KEYS": KEY, "ARTWORK_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_server(tmp_path / "data", tmp_path / "serve.log", env=env, args=("--workers", "2")) as (_, base):
        personalizer = PersonalizerClient(endpoint=base, key=KEY)  # was https://<resource>.cognitiveservices...
        status, answer = personalizer.rank([{"user": {"segment": "s0"}}], ACTIONS, excluded=["c"])
        assert status == 201 and answer["rewardActionId"] in {"a", "b"}
        assert personalizer.reward(answer["eventId"], 1.0) == (204, None)
        status, deferred = personalizer.rank([{"user": {"segment": "s1"}}], ACTIONS, event_id="page-42", defer=True)
        assert status == 201 and deferred["eventId"] == "page-42"
        assert personalizer.activate("page-42") == (204, None)
        assert personalizer.reward("page-42", 0.5) == (204, None)
        status, error = PersonalizerClient(base, "not-the-key-0123456789").rank([], ACTIONS)
        assert status == 401 and error["error"]["code"] == "Unauthorized"
        # the learner process learns both events and publishes the loop's model
        deadline = time.monotonic() + 30
        while not list((tmp_path / "data" / "models" / "personalizer").glob("model-e1-000000000002.vw")):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.1)


# The log out as DSJSON, a DSJSON log in as a warm start -----------------------------------------------

def test_the_log_exports_as_dsjson_that_reads_back_with_the_same_decisions(make_app, clock, tmp_path, runner):
    app = make_app(PERSONALIZER_REWARD_WAIT_SECONDS=20)
    traffic(app.test_client(), clock, 30, seed=3)
    clock.advance(30)
    pz_learner(app).run_once()
    out = tmp_path / "pz.dsjson"
    data_dir = app.extensions["artwork.settings"].data_dir
    env = {"ARTWORK_DATABASE_URL": app.extensions["artwork.settings"].database_url or ""}
    result = runner.invoke(cli, ["personalizer", "export", "--data-dir", data_dir, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    log = read_dsjson(out)
    rows = queue(app)
    assert log.n_rounds == len(rows) == 30
    by_id = {r["event_id"]: r for r in rows}
    for i, event_id in enumerate(log.event_ids):
        row = by_id[event_id]
        assert log.features[i] == json.loads(row["features"])  # the features the model learned from
        assert (int(log.action[i]), float(log.reward[i])) == (row["chosen_index"], row["reward"])
        assert float(log.pscore[i]) == pytest.approx(row["probability"])
        assert log.candidates[i] == ["a", "b", "c"]


@pytest.mark.sqlite_only
def test_evaluate_runs_on_the_exported_log(make_app, clock, tmp_path, runner):
    app = make_app(PERSONALIZER_REWARD_WAIT_SECONDS=20)
    traffic(app.test_client(), clock, 60, seed=4)
    clock.advance(30)
    pz_learner(app).run_once()
    data_dir = app.extensions["artwork.settings"].data_dir
    out = tmp_path / "pz.dsjson"
    assert runner.invoke(cli, ["personalizer", "export", "--data-dir", data_dir, "--out", str(out)]).exit_code == 0
    result = runner.invoke(cli, ["evaluate", "--dsjson", str(out), "--out", str(tmp_path / "report"),
                                 "--policy", "uniform"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report" / "estimates.json").read_text())
    logged_mean = sum(r["reward"] for r in queue(app)) / 60
    # the logging policy's IPS estimate on its own log is its mean reward (every weight is 1)
    assert next(r for r in rows if r["policy"] == "logging" and r["estimator"] == "ips")["value"] == pytest.approx(
        logged_mean)
    assert any(r["policy"] == "uniform" for r in rows)


def test_warm_start_trains_a_new_loop_from_a_dsjson_log_through_the_learner(make_app, clock, tmp_path, runner,
                                                                           data_dir, test_database_url):
    source = make_app(DATA_DIR=str(tmp_path / "old"), DATABASE_URL=None, PERSONALIZER_REWARD_WAIT_SECONDS=20)
    traffic(source.test_client(), clock, 40, seed=8)
    clock.advance(30)
    pz_learner(source).run_once()
    log = tmp_path / "personalizer.dsjson"
    assert runner.invoke(cli, ["personalizer", "export", "--data-dir", str(tmp_path / "old"), "--out", str(log),
                               ]).exit_code == 0
    env = {"ARTWORK_DATABASE_URL": test_database_url or ""}
    result = runner.invoke(cli, ["personalizer", "warm-start", "--data-dir", str(data_dir), "--dsjson", str(log)],
                           env=env)
    assert result.exit_code == 0, result.output
    assert "imported 40 of 40 decisions" in result.output and "learned 40 events" in result.output
    again = runner.invoke(cli, ["personalizer", "warm-start", "--data-dir", str(data_dir), "--dsjson", str(log)],
                          env=env)
    assert "imported 0 of 40 decisions" in again.output  # ids already in the log are not learned twice
    moved = make_app()
    vw_args = moved.extensions["artwork.settings"].personalizer_vw_args
    loop = moved.extensions["artwork.personalizer"]
    assert loop.model.seq == 40  # from the warm start's checkpoint, not cold
    assert loop.model.weights() == never_stopped(moved, vw_args).weights()
    # learned in the log's (time, event id) order on either backend (the old loop learned in the
    # order rewards became final)
    imported = read_dsjson(log)
    assert [r["event_id"] for r in queue(moved)] == [e for _, e in sorted(zip(imported.timestamps, imported.event_ids,
                                                                              strict=True))]


# Resetting the model ---------------------------------------------------------------------------------

MODEL = "/personalizer/v1.0/model"


def epochs(app) -> list[dict]:
    return app.extensions["artwork"].store.query("SELECT epoch, start_seq, reason FROM pz_epochs ORDER BY epoch")


def learned_after(app, start_seq: int, epoch: int) -> Model:
    """A fresh model of ``epoch`` that learned the loop's learn queue after ``start_seq``, in order."""
    model = Model(app.extensions["artwork.settings"].personalizer_vw_args, seq=start_seq, epoch=epoch)
    for row in queue(app):
        if row["seq"] > start_seq:
            model.learn(json.loads(row["features"]), row["chosen_index"], row["reward"], row["probability"],
                        row["seq"])
    return model


def test_a_reset_starts_a_model_that_learns_only_what_is_final_after_it(make_app, clock):
    settings = {"ADMIN_TOKEN": ADMIN_TOKEN, "PERSONALIZER_REWARD_WAIT_SECONDS": 20}
    app = make_app(**settings)
    client, learner, loop = app.test_client(), pz_learner(app), app.extensions["artwork.personalizer"]
    traffic(client, clock, 20, seed=1)
    clock.advance(30)
    learner.run_once()
    assert (loop.model.epoch, loop.model.seq) == (1, 20)
    final_before = client.post(RANK, json=rank_body()).get_json()["eventId"]
    client.post(reward_url(final_before), json={"value": 1})  # final before the reset, not learned yet
    final_after = client.post(RANK, json=rank_body()).get_json()["eventId"]

    r = client.delete(MODEL, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert (r.status_code, r.data) == (204, b"")
    assert epochs(app)[-1] == {"epoch": 2, "start_seq": 21, "reason": "reset"}
    assert app.extensions["artwork"].store.current_epoch()["epoch"] == 1  # the artwork loop's model is untouched

    client.post(reward_url(final_after), json={"value": -1})
    traffic(client, clock, 10, seed=2)
    clock.advance(30)
    learner.run_once()
    rows = queue(app)
    after = [r["event_id"] for r in rows if r["seq"] > 21]
    assert final_after in after and final_before not in after and len(after) == 11
    assert (loop.model.epoch, loop.model.seq) == (2, rows[-1]["seq"])  # what rank answers with
    assert loop.model.weights() == learned_after(app, 21, 2).weights()  # nothing of the old epoch in it
    answer = client.post(RANK, json=rank_body())
    assert answer.status_code == 201 and answer.get_json()["rewardActionId"] in {"a", "b", "c"}
    # the old epoch's checkpoints are forgotten; a restart starts from the new epoch's
    assert {r["epoch"] for r in app.extensions["artwork"].store.query("SELECT epoch FROM pz_checkpoints")} == {2}
    learner.stop()
    restarted = make_app(**settings).extensions["artwork.personalizer"]
    assert (restarted.model.epoch, restarted.model.seq) == (2, rows[-1]["seq"])
    assert restarted.model.weights() == learned_after(app, 21, 2).weights()


def test_only_the_admin_token_resets_the_model_never_a_client_key(make_app):
    app = make_app(CLIENT_KEYS=KEY, ADMIN_TOKEN=ADMIN_TOKEN)
    client = app.test_client()
    for headers in ({"Ocp-Apim-Subscription-Key": KEY}, {"Authorization": f"Bearer {KEY}"}, {}):
        r = client.delete(MODEL, headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert r.get_json()["error"] == {"code": "Unauthorized", "innerError": {"code": "unauthorized"},
                                         "message": "admin operations need 'Authorization: Bearer <admin token>'"}
    assert [e["epoch"] for e in epochs(app)] == [1]  # nothing was reset
    assert client.delete(MODEL, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 204
    # with no admin token configured, nobody can
    r = make_app(CLIENT_KEYS=KEY).test_client().delete(MODEL, headers={"Ocp-Apim-Subscription-Key": KEY})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "Forbidden"
    assert r.get_json()["error"]["innerError"] == {"code": "admin_disabled"}
    assert [e["epoch"] for e in epochs(app)] == [1, 2]


def test_the_model_can_be_reset_from_the_command_line(make_app, clock, runner, test_database_url):
    app = make_app(PERSONALIZER_REWARD_WAIT_SECONDS=20)
    client, learner = app.test_client(), pz_learner(app)
    traffic(client, clock, 6, seed=3)
    clock.advance(30)
    learner.run_once()
    data_dir = app.extensions["artwork.settings"].data_dir
    env = {"ARTWORK_DATABASE_URL": test_database_url or ""}
    refused = runner.invoke(cli, ["personalizer", "reset", "--data-dir", data_dir], input="n\n", env=env)
    assert refused.exit_code != 0 and [e["epoch"] for e in epochs(app)] == [1]
    result = runner.invoke(cli, ["personalizer", "reset", "--data-dir", data_dir, "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert "reset: epoch 2, learning from event 7" in result.output
    learner.run_once()  # the server's learner follows
    loop = app.extensions["artwork.personalizer"]
    assert (loop.model.epoch, loop.model.seq) == (2, 6) and loop.model.weights() == learned_after(app, 6, 2).weights()


# Apprentice mode --------------------------------------------------------------------------------------

@pytest.mark.sqlite_only
def test_apprentice_mode_imitates_the_baseline_then_switches_itself_online_visibly(make_app, clock, caplog):
    """The seeded world of benchmarks/personalizer.py: the baseline is fair everywhere, another
    action far better for two segments of three."""
    app = make_app(**APPRENTICE, ADMIN_TOKEN=ADMIN_TOKEN)
    caplog.set_level(logging.WARNING, logger="artwork.personalizer")
    run = apprentice_run(app, clock.advance, calls=1600)
    client, admin = app.test_client(), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status = client.get("/api/v1/admin/personalizer", headers=admin).get_json()
    assert status["mode"] == "online" and run["switched_at"] is not None
    switch = status["switches"][-1]
    assert switch["mode"] == "online" and switch["reason"].startswith("automatic: over")
    assert switch["created_ts"] == status["since"]
    assert any("apprentice -> online" in r.getMessage() for r in caplog.records)  # the log line
    apprentice = run["shown"]["apprentice"]
    total = sum(apprentice.values())
    assert total == run["switched_at"] >= APPRENTICE["PERSONALIZER_SWITCH_MIN_EVENTS"]
    # in apprentice mode the baseline is what people saw: all but (about) the exploration share
    assert sum(v for (_, action), v in apprentice.items() if action == "a") / total > 0.8
    # online, the bandit shows each segment its best action
    online = run["shown"]["online"]
    for segment, best in (("s0", "b"), ("s1", "c")):
        served = sum(v for (s, _), v in online.items() if s == segment)
        assert online[(segment, best)] / served > 0.6, (segment, online)
    assert run["clicks"]["online"] / sum(online.values()) > run["clicks"]["apprentice"] / total
    # the read-out starts over for the online period
    assert status["events"] == sum(online.values())


@pytest.mark.sqlite_only
def test_the_personalizer_benchmark_runs(capsys):
    from benchmarks.personalizer import main

    assert main(["--calls", "60", "--cost-calls", "20"]) == 0
    out = capsys.readouterr().out
    assert "| rank |" in out and "| apprentice | 60 |" in out


def test_the_apprentice_read_out_reports_agreement_and_both_estimates_and_an_admin_switches_either_way(make_app,
                                                                                                     clock):
    app = make_app(PERSONALIZER_MODE="apprentice", PERSONALIZER_APPRENTICE_EXPLORATION=0.0,
                   PERSONALIZER_SWITCH_MIN_EVENTS=5, PERSONALIZER_REWARD_WAIT_SECONDS=1, ADMIN_TOKEN=ADMIN_TOKEN)
    client, admin = app.test_client(), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for _ in range(40):
        answer = client.post(RANK, json=rank_body("s0")).get_json()
        assert answer["rewardActionId"] == "a" and answer["ranking"][0] == {"id": "a", "probability": 1.0}
        client.post(reward_url(answer["eventId"]), json={"value": 1})
        clock.advance(6)
        pz_learner(app).run_once()
    status = client.get("/api/v1/admin/personalizer", headers=admin).get_json()
    assert status["mode"] == "apprentice" and status["events"] == 40
    assert status["baseline"]["estimate"] == 1.0 and 0 <= status["agreement_rate"] <= 1
    # with no exploration the bandit's other choices were never shown: no switch on a biased estimate
    assert status["covered"] is False
    r = client.put("/api/v1/admin/personalizer/mode", json={"mode": "online"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["mode"] == "online"
    assert r.get_json()["switches"][-1] == {"mode": "online", "reason": "admin", "created_ts": clock.now}
    r = client.put("/api/v1/admin/personalizer/mode", json={"mode": "apprentice"}, headers=admin)
    assert r.get_json()["mode"] == "apprentice" and r.get_json()["events"] == 0  # a new period
    assert client.put("/api/v1/admin/personalizer/mode", json={"mode": "sleep"}, headers=admin).status_code == 400
    assert client.get("/api/v1/admin/personalizer").status_code == 401


@pytest.mark.sqlite_only
def test_the_mode_can_be_switched_and_read_from_the_command_line(app, runner):
    data_dir = app.extensions["artwork.settings"].data_dir
    result = runner.invoke(cli, ["personalizer", "mode", "apprentice", "--data-dir", data_dir])
    assert result.exit_code == 0 and "apprentice mode" in result.output
    assert app.test_client().post(RANK, json=rank_body()).status_code == 201  # the server follows at once
    status = json.loads(runner.invoke(cli, ["personalizer", "status", "--data-dir", data_dir]).output)
    assert status["mode"] == "apprentice" and status["switches"][-1]["reason"].startswith("admin")
    assert logged_modes(app) == ["apprentice"]


def logged_modes(app) -> list[str]:
    return [r["mode"] for r in app.extensions["artwork"].store.query("SELECT mode FROM pz_events")]
