"""DSJSON in: the decision logs of Azure Personalizer, learning-loop and the Decision Service, written
here from the documented format (seeded), read back with their own features, evaluated and searched
through the CLI; what is not a contextual-bandit decision, and every malformed line, is refused
with the file and line named; Vowpal Wabbit's own DSJSON parser reads the same files the same way."""

import json
import math
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import vowpalwabbit
from vowpalwabbit import LabelType

from artwork.cli import cli
from artwork.simulations import logs
from artwork.simulations.dsjson import read_dsjson
from artwork.simulations.evaluate import policy_specs_for, vw_progressive_dist

TOPICS = ("sport", "politics", "music", "food")
STATES = ("Louisiana", "Texas", "Ohio")
DRINKS = {"Cappucino": "hot", "Cold brew": "cold", "Iced mocha": "cold", "Latte": "hot"}
START = datetime(2021, 2, 4, 16, 0, tzinfo=UTC)


def logging_pmf(rng, k, epsilon=0.3):
    """Epsilon-greedy around a random favourite: every action has probability at least epsilon / k."""
    pmf = np.full(k, epsilon / k)
    pmf[rng.integers(k)] += 1 - epsilon
    return pmf


def ordered(rng, chosen, k):
    """The ``a`` order: the chosen action first, then the others in any order (0-based here)."""
    return [chosen] + [int(j) for j in rng.permutation(k) if j != chosen]


def click_probability(device, topic):
    """The news site's truth: mobile readers click sport and music, desktop readers the rest."""
    return 0.7 if (device == "Mobile") == (topic in ("sport", "music")) else 0.1


def decision_service_event(rng, i):
    """One Decision Service line of a news site: nested namespaces (``_``-keys that are not
    features among them), a ``j`` array of objects holding a nested ``Tags`` namespace, a
    positional ``e`` array with a null, ``_tag`` per action, the ``_label_*`` fields, ``a`` and
    ``p``; no Timestamp (the Decision Service's older logs have none)."""
    device = ("Desktop", "Mobile")[rng.integers(2)]
    k = 3 + int(rng.integers(2))
    topics = [str(t) for t in rng.permutation(TOPICS)[:k]]
    pmf = logging_pmf(rng, k)
    chosen = int(rng.choice(k, p=pmf))
    reward = float(rng.random() < click_probability(device, topics[chosen]))
    order = ordered(rng, chosen, k)
    record = {
        "_label_cost": -reward, "_label_probability": float(pmf[chosen]), "_label_Action": chosen + 1,
        "_labelIndex": chosen, "Version": "1", "EventId": f"ds-{i}", "a": [j + 1 for j in order],
        "c": {
            "_synthetic": False, "User": {"_age": 0},
            "Geo": {"country": "United States", "_countrycf": "8", "state": STATES[i % 3]},
            "OUserAgent": {"_ua": "Mozilla/5.0 (X11; Linux)", "_DeviceIsSpider": False, "DeviceType": device},
            "_multi": [{
                "_tag": f"article-{t}", "i": {"constant": 1, "id": f"article-{t}"},
                "j": [{"_title": f"All about {t}"}, {"Tags": {t: 0.9, "news": 0.25}, "_expires": "2017-07-20T20:44Z"}],
                "e": [round(0.1 * (n + 1), 2), None, 0.5],
            } for n, t in enumerate(topics)],
        },
        "p": [float(pmf[j]) for j in order],
    }
    truth = [click_probability(device, t) for t in topics]
    return record, {"action": chosen, "reward": reward, "pscore": float(pmf[chosen]), "pmf": list(pmf),
                    "candidates": [f"article-{t}" for t in topics], "truth": truth}


def personalizer_event(rng, i, variants=True):
    """One Personalizer / learning-loop line: context features in the default namespace (string,
    number and boolean) beside a ``FromUrl`` array of objects, an ``o`` outcome array, Timestamp,
    VWState and a real-valued reward. With ``variants``, some lines are ``_skipLearn``, deferred
    (activated or not) or carry their reward only in ``o``."""
    weather = ("Sunny", "Snowy")[rng.integers(2)]
    drinks = list(DRINKS)
    pmf = logging_pmf(rng, len(drinks))
    chosen = int(rng.choice(len(drinks), p=pmf))
    best = (weather == "Sunny") == (DRINKS[drinks[chosen]] == "cold")
    reward = float(rng.choice([0.5, 1.0])) if rng.random() < (0.8 if best else 0.2) else 0.0
    event_id = f"pz-{i:04d}"
    order = ordered(rng, chosen, len(drinks))
    record = {
        "_label_cost": -reward, "_label_probability": float(pmf[chosen]), "_label_Action": chosen + 1,
        "_labelIndex": chosen, "o": [{"v": reward, "EventId": event_id, "ActionTaken": False}],
        "Timestamp": (START + timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z"), "Version": "1",
        "EventId": event_id, "a": [j + 1 for j in order],
        "c": {
            "weather": weather, "age": int(20 + i % 40), "isWeekend": bool(i % 3 == 0), "returning": False,
            "FromUrl": [{"timeofday": ("Morning", "Evening")[i % 2], "name": f"person{i % 5}"}],
            "_multi": [{"_tag": d, "i": {"constant": 1, "id": d}, "j": [{"type": DRINKS[d], "origin": "kenya"}]}
                       for d in drinks],
        },
        "p": [float(pmf[j]) for j in order], "VWState": {"m": "ff0744c1/550c12cb"}, "_original_label_cost": -reward,
    }
    kept = True
    if variants and i % 10 == 3:
        record["_skipLearn"] = True
        kept = False
    elif variants and i % 10 == 6:
        record["DeferredAction"] = True
        kept = bool(i % 20 == 6)
        if kept:  # activated: the activation arrives among the outcomes
            record["o"].append({"EventId": event_id, "ActionTaken": True})
    elif variants and i % 10 == 8:  # the reward only in o: learning-loop's joined outcome
        for key in ("_label_cost", "_label_probability", "_label_Action", "_labelIndex"):
            del record[key]
    truth_best = [(weather == "Sunny") == (DRINKS[d] == "cold") for d in drinks]
    truth = [0.75 * (0.8 if b else 0.2) for b in truth_best]  # mean of 0.5 and 1.0 times the chance
    return record, {"action": chosen, "reward": reward, "pscore": float(pmf[chosen]), "pmf": list(pmf),
                    "candidates": drinks, "truth": truth, "kept": kept}


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def make_file(tmp_path, name, maker, n, seed, **options):
    rng = np.random.default_rng(seed)
    events = [maker(rng, i, **options) for i in range(n)]
    write(tmp_path / name, [record for record, _ in events])
    return tmp_path / name, [expected for _, expected in events if expected.get("kept", True)]


# Reading each shape ------------------------------------------------------------------------------

def test_decision_service_log_reads_back_its_actions_rewards_propensities_and_features(tmp_path):
    path, expected = make_file(tmp_path, "ds.dsjson", decision_service_event, 60, seed=1)
    log = logs.from_dsjson(path)
    assert log.n_rounds == 60 and log.event_ids[:2] == ["ds-0", "ds-1"]
    assert log.action.tolist() == [e["action"] for e in expected]
    assert log.reward.tolist() == [e["reward"] for e in expected]
    assert np.allclose(log.pscore, [e["pscore"] for e in expected])
    assert log.candidates == [e["candidates"] for e in expected]
    for i, e in enumerate(expected):  # the whole pmf, rebuilt from a and p, padded where k = 3
        assert np.allclose(log.logging_pmf[i, :len(e["pmf"])], e["pmf"])
        assert np.all(log.logging_pmf[i, len(e["pmf"]):] == 0)
    record, _ = decision_service_event(np.random.default_rng(1), 0)
    device = record["c"]["OUserAgent"]["DeviceType"]
    assert log.features[0]["shared"] == {  # _-keys are not features; User holds none, so it is gone
        "Geo": {"country=United_States": 1.0, "state=Louisiana": 1.0},
        "OUserAgent": {f"DeviceType={device}": 1.0},
    }
    topic = record["c"]["_multi"][0]["_tag"].removeprefix("article-")
    assert log.features[0]["actions"][0] == {
        "i": {"constant": 1.0, f"id=article-{topic}": 1.0},
        "Tags": {topic: 0.9, "news": 0.25},  # a namespace nested in the j array's object
        "e": {"[0]": 0.1, "[1]": 0.5},  # positional; the null takes no position
    }
    assert "-q OT" in log.interactions  # device x tags: what decides the clicks


def test_personalizer_log_skips_what_was_never_learned_and_takes_rewards_from_o(tmp_path):
    path, expected = make_file(tmp_path, "pz.dsjson", personalizer_event, 100, seed=2)
    log = logs.from_dsjson(path)
    assert log.n_rounds == len(expected) == 100 - 10 - 5  # 10 _skipLearn, 5 deferred and never activated
    assert log.meta["skipped_events"] == {"_skipLearn": 10, "never activated": 5}
    assert "left out: 10 _skipLearn, 5 never activated" in log.source
    assert "pz-0006" in log.event_ids and "pz-0016" not in log.event_ids and "pz-0003" not in log.event_ids
    assert log.action.tolist() == [e["action"] for e in expected]
    assert log.reward.tolist() == [e["reward"] for e in expected]  # real values, also where only o had it
    assert np.allclose(log.pscore, [e["pscore"] for e in expected])
    assert np.allclose(log.logging_pmf, [e["pmf"] for e in expected])
    assert log.candidates[0] == list(DRINKS)
    assert log.timestamps[1] - log.timestamps[0] == pytest.approx(7.0)
    first = log.features[0]
    assert set(first["shared"]) == {" ", "FromUrl"}
    assert first["shared"][" "]["age"] == 20.0 and first["shared"][" "]["isWeekend"] == 1.0  # i = 0: a weekend
    assert "returning" not in first["shared"][" "]  # false is no feature
    assert first["shared"]["FromUrl"] == {"timeofday=Morning": 1.0, "name=person0": 1.0}
    assert first["actions"][1] == {"i": {"constant": 1.0, "id=Cold_brew": 1.0}, "j": {"type=cold": 1.0,
                                                                                       "origin=kenya": 1.0}}
    # the default namespace is crossed too, written as VW's hex escape
    assert log.interactions == r"-q \x20i -q \x20j -q Fi -q Fj"


@pytest.mark.parametrize("context,expected", [
    ({"a": "x y|z:w"}, {" ": {"a=x_y_z_w": 1.0}}),  # VW's escapes for a string value
    ({"n": 2.5, "zero": 0, "t": True, "f": False, "nothing": None}, {" ": {"n": 2.5, "zero": 0.0, "t": 1.0}}),
    ({"N": {"inner": {"deep": 1}, "x": 3}}, {"N": {"x": 3.0}, "inner": {"deep": 1.0}}),  # nesting: own namespace
    ({"E": [0.5, None, 2]}, {"E": {"[0]": 0.5, "[1]": 2.0}}),
    ({"L": [{"k": "v"}, {"m": 1}]}, {"L": {"k=v": 1.0, "m": 1.0}}),
    ({"_text": "hello big world", "_hidden": "x", "W": {"_id": 4, "_text": "a a"}},
     {" ": {"hello": 1.0, "big": 1.0, "world": 1.0}, "W": {"a": 2.0}}),  # a repeated feature adds up
])
def test_context_features_follow_vws_json_rules(tmp_path, context, expected):
    record = {"_label_cost": 0, "_label_probability": 1, "_labelIndex": 0, "a": [1], "p": [1.0],
              "c": {**context, "_multi": [{"x": 1}]}}
    log = read_dsjson(write(tmp_path / "one.dsjson", [record]))
    assert log.features[0]["shared"] == expected
    assert log.features[0]["actions"] == [{" ": {"x": 1.0}}]


def test_o_rewards_aggregate_as_earliest_or_sum(tmp_path):
    record = {"o": [{"v": 0.25, "EventId": "e"}, {"EventId": "e", "ActionTaken": True}, {"v": 0.5, "EventId": "e"}],
              "a": [2, 1], "p": [0.8, 0.2], "c": {"_multi": [{"x": 1}, {"x": 2}]}}
    path = write(tmp_path / "o.dsjson", [record])
    earliest = read_dsjson(path)
    assert earliest.reward.tolist() == [0.25] and earliest.action.tolist() == [1] and earliest.pscore.tolist() == [0.8]
    assert read_dsjson(path, reward_aggregation="sum").reward.tolist() == [0.75]


def test_a_log_without_p_knows_only_the_logged_probability(tmp_path):
    record = {"_label_cost": -1, "_label_probability": 0.4, "_labelIndex": 1, "a": [2, 1],
              "c": {"_multi": [{"x": 1}, {"x": 2}]}}
    log = read_dsjson(write(tmp_path / "nop.dsjson", [record, record]))
    assert log.logging_pmf is None and log.pscore.tolist() == [0.4, 0.4] and log.reward.tolist() == [1.0, 1.0]


def test_rewards_without_a_decision_are_skipped_and_counted(tmp_path):
    good, _ = personalizer_event(np.random.default_rng(0), 0, variants=False)
    dangling = {"RewardValue": 1.0, "EnqueuedTimeUtc": "2018-09-22T01:48:38.423Z", "EventId": "gone",
                "Observations": [{"v": 1.0, "EventId": "gone", "ActionId": None}]}
    log = read_dsjson(write(tmp_path / "dangling.dsjson", [good, dangling]))
    assert log.n_rounds == 1 and log.meta["skipped_events"] == {"reward without a decision": 1}


def test_the_projects_own_export_keeps_its_artwork_features(tmp_path, client, clock, learner, data_dir, runner):
    from test_sim_logs import make_traffic

    make_traffic(client, clock, learner, n=20, seed=3)
    out = tmp_path / "export.dsjson"
    assert runner.invoke(cli, ["export", "--data-dir", str(data_dir), "--out", str(out)]).exit_code == 0
    again = logs.from_dsjson(out)
    original = logs.from_database(data_dir / "artwork.db")
    assert again.interactions is None  # the service's policies and reward model apply as they are
    assert again.features == original.features and again.user_ids == original.user_ids


# Refused shapes and malformed lines --------------------------------------------------------------

def good_record():
    record, _ = personalizer_event(np.random.default_rng(5), 0, variants=False)
    return record


def changed(**changes):
    def apply(record):
        for key, value in changes.items():
            if value is ...:
                del record[key]
            else:
                record[key] = value
        return record
    return apply


def in_context(**changes):
    def apply(record):
        record["c"].update(changes)
        return record
    return apply


def first_action(**changes):
    def apply(record):
        record["c"]["_multi"][0].update(changes)
        return record
    return apply


REFUSED = [
    (in_context(_slots=[{"_inc": [1]}]), "conditional contextual bandit or slates decision (_slots)"),
    (changed(_outcomes=[{"_label_cost": 1, "_a": [1], "_p": [1.0]}]),
     "conditional contextual bandit or slates decision (_outcomes)"),
    (first_action(_slot_id=0), "a slates decision (_slot_id in action 1)"),
    (changed(_label_ca={"cost": 0.5, "pdf_value": 0.1, "action": 185.0}), "continuous-action decision (_label_ca)"),
    (changed(pdf=[{"left": 0, "right": 1, "pdf_value": 1}]), "continuous-action decision (pdf)"),
    (changed(o=[{"v": {"v=click": 1}}]), "interaction-grounded learning"),
]


@pytest.mark.parametrize("change,message", REFUSED)
def test_what_is_not_a_contextual_bandit_decision_is_refused_with_its_line(tmp_path, change, message):
    path = write(tmp_path / "refused.dsjson", [good_record(), change(good_record())])
    with pytest.raises(logs.LogError, match=re.escape(f"{path}:2: not a contextual-bandit decision: ") + ".*"
                       + re.escape(message)):
        read_dsjson(path)


MALFORMED = [
    (lambda r: "{not json", "not JSON"),
    (lambda r: "[1, 2]", "a DSJSON line is a JSON object, not list"),
    (lambda r: b"\xff\xfe\x00binary", "not UTF-8 text"),
    (changed(c=...), "no context: c must be an object"),
    (in_context(_multi=[]), "c._multi must be a non-empty array"),
    (changed(a=...), "no action order"),
    (changed(a=[5, 1, 2, 3]), "action id 5 in a is out of range 1..4"),
    (changed(a=[0, 1, 2, 3]), "action id 0 in a is out of range 1..4 (ids are 1-based)"),
    (changed(a=[1, 1, 2, 3]), "a repeats an action id"),
    (changed(_labelIndex=7, _label_Action=8), "chosen action 8 is out of range 1..4"),
    (lambda r: {**r, "_label_Action": r["_labelIndex"] + 2}, "(1-based) and _labelIndex"),
    (lambda r: {**r, "a": r["a"][1:] + r["a"][:1]}, "a lists the chosen action first"),
    (lambda r: {**r, "p": [0.5] * 4}, "p sums to 2, not 1"),
    (lambda r: {**r, "p": r["p"][:3]}, "p must be an array with one probability per entry of a (4)"),
    (lambda r: {**r, "p": [1.5, -0.5, 0, 0]}, "p must hold probabilities in [0, 1]"),
    (lambda r: {**r, "_label_probability": 0.0, "p": [0.0, 0.5, 0.5, 0.0]},
     "the chosen action's probability 0 is not in (0, 1]"),
    (changed(_label_probability=1.5, p=...), "the chosen action's probability 1.5 is not in (0, 1]"),
    (lambda r: {**r, "_label_probability": r["p"][0] / 2}, "disagrees with the chosen action's p"),
    (changed(_label_cost="NaN"), "_label_cost must be a finite number, not 'NaN'"),
    (changed(_label_cost=..., o=[]), "no reward: neither _label_cost nor an outcome value"),
    (changed(Timestamp="yesterday"), "Timestamp 'yesterday' is not an ISO 8601 time"),
    (changed(pdrop=1), "pdrop 1 is not in [0, 1)"),
    (in_context(E=["a", "b"]), "c.E: an array holds numbers or objects"),
    (in_context(E=[[1, 2]]), "c.E: an array holds numbers or objects"),
]


@pytest.mark.parametrize("change,message", MALFORMED)
def test_a_malformed_line_is_refused_with_the_file_and_line(tmp_path, change, message):
    bad = change(good_record())
    if isinstance(bad, dict):
        bad = json.dumps(bad)
    path = tmp_path / "bad.dsjson"
    path.write_bytes(json.dumps(good_record()).encode() + b"\n" + (bad if isinstance(bad, bytes) else bad.encode())
                     + b"\n")
    with pytest.raises(logs.LogError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(message)):
        read_dsjson(path)


def test_a_log_sampled_at_different_rates_is_refused(tmp_path):
    path = write(tmp_path / "pdrop.dsjson", [changed(pdrop=0.1)(good_record()), changed(pdrop=0.5)(good_record())])
    with pytest.raises(logs.LogError, match="pdrop varies .0.1 at line 1, 0.5 at line 2."):
        read_dsjson(path)
    same = read_dsjson(write(tmp_path / "same.dsjson", [changed(pdrop=0.1)(good_record())] * 2))
    assert same.n_rounds == 2 and same.meta["pdrop"] == 0.1


def test_skip_invalid_leaves_bad_lines_out_and_names_them(tmp_path, runner):
    records = [json.dumps(good_record()), "{oops", json.dumps(good_record()),
               json.dumps(in_context(_slots=[])(good_record()))]
    path = tmp_path / "mixed.dsjson"
    path.write_text("\n".join(records) + "\n")
    log = read_dsjson(path, skip_invalid=True)
    assert log.n_rounds == 2 and len(log.meta["invalid_lines"]) == 2
    assert log.meta["invalid_lines"][0].startswith(f"{path}:2: not JSON")
    assert log.meta["invalid_lines"][1].startswith(f"{path}:4: not a contextual-bandit decision")
    assert "2 invalid line(s)" in log.source

    stopped = runner.invoke(cli, ["evaluate", "--dsjson", str(path), "--out", str(tmp_path / "r1")])
    assert stopped.exit_code == 1 and f"Error: {path}:2: not JSON" in stopped.output
    assert "Traceback" not in stopped.output
    skipped = runner.invoke(cli, ["evaluate", "--dsjson", str(path), "--skip-invalid", "--policy", "squarecb",
                                  "--out", str(tmp_path / "r2")])
    assert skipped.exit_code == 0, skipped.output
    assert f"skipped: {path}:2: not JSON" in skipped.output and "2 rounds" in skipped.output
    misplaced = runner.invoke(cli, ["search", "--csv", str(path), "--skip-invalid", "--out", str(tmp_path / "r3")])
    assert misplaced.exit_code == 2 and "--skip-invalid applies to --dsjson logs only" in misplaced.output


# Evaluation and search through the CLI -------------------------------------------------------------

def check_estimates(rows, policies):
    assert {r["policy"] for r in rows} == set(policies)
    for row in rows:
        assert all(math.isfinite(row[k]) for k in ("value", "ci_low", "ci_high")), row
        assert row["ci_low"] <= row["value"] <= row["ci_high"], row


def true_values(expected):
    truth = [np.array(e["truth"]) for e in expected]
    uniform = float(np.mean([t.mean() for t in truth]))
    logging = float(np.mean([np.dot(e["pmf"], t) for e, t in zip(expected, truth, strict=True)]))
    return {"uniform": uniform, "logging": logging}


@pytest.mark.parametrize("maker,name", [(decision_service_event, "decision-service"),
                                        (personalizer_event, "personalizer")])
def test_evaluate_gives_estimates_on_a_dsjson_log_with_its_own_features(tmp_path, runner, maker, name):
    path, expected = make_file(tmp_path, f"{name}.dsjson", maker, 300, seed=11)
    result = runner.invoke(cli, ["evaluate", "--dsjson", str(path), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report" / "estimates.json").read_text())
    check_estimates(rows, {"logging", "uniform", "context-free-best", "vw:epsilon-greedy", "vw:squarecb",
                           "vw:softmax"})
    # the logging policy's and uniform's values are known from how the file was written
    for policy, truth in true_values(expected).items():
        for estimator in ("ips", "dr"):
            row = next(r for r in rows if r["policy"] == policy and r["estimator"] == estimator)
            assert row["ci_low"] <= truth <= row["ci_high"], (policy, estimator, row, truth)


def test_evaluate_refuses_an_artwork_policy_on_a_log_without_artwork_features(tmp_path, runner):
    path, _ = make_file(tmp_path, "pz.dsjson", personalizer_event, 20, seed=4)
    result = runner.invoke(cli, ["evaluate", "--dsjson", str(path), "--policy", "context-free",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "built on the artwork features" in result.output


@pytest.mark.parametrize("maker,name,crossed", [(decision_service_event, "decision-service", "-q OT"),
                                                (personalizer_event, "personalizer", r"-q \x20j")])
def test_search_ranks_configurations_on_a_dsjson_log(tmp_path, runner, maker, name, crossed):
    path, _ = make_file(tmp_path, f"{name}.dsjson", maker, 300, seed=12)
    result = runner.invoke(cli, ["search", "--dsjson", str(path), "--quick", "--out", str(tmp_path / "search")])
    assert result.exit_code == 0, result.output
    import csv

    with open(tmp_path / "search" / "search.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["interactions"] for r in rows} == {"none", "context x action"}
    assert any(crossed in r["vw_args"] for r in rows if r["interactions"] == "context x action")
    for row in rows:
        low, value, high = float(row["ci_low"]), float(row["value"]), float(row["ci_high"])
        assert math.isfinite(value) and low <= value <= high


def test_a_contextual_policy_learns_from_the_logs_own_features(tmp_path):
    """Crossing the log's own namespaces is what lets a policy personalize: on the news site, where
    the device decides which topic is clicked, it ends far above uniform's click rate."""
    path, expected = make_file(tmp_path, "ds.dsjson", decision_service_event, 600, seed=13)
    log = read_dsjson(path)
    (spec,) = policy_specs_for(log, ["epsilon-greedy"])
    assert log.interactions in spec.vw_args
    dist = vw_progressive_dist(log, spec.vw_args)
    truth = np.zeros_like(dist)
    for i, e in enumerate(expected):
        truth[i, :len(e["truth"])] = e["truth"]
    late = slice(300, None)
    learned = float(np.mean(np.sum(dist[late] * truth[late], axis=1)))
    assert learned > true_values(expected[300:])["uniform"] + 0.15


# Vowpal Wabbit agrees ----------------------------------------------------------------------------

def vw_namespace_counts(example) -> dict[str, int]:
    counts = {}
    for i in range(example.num_namespaces()):
        index = chr(example.namespace(i))
        if index != "\x80":  # VW's constant feature, not in the file
            counts[index] = example.num_features_in(index)
    return counts


def our_namespace_counts(spaces: dict) -> dict[str, int]:
    counts = {}
    for ns, feats in spaces.items():  # VW keys a namespace on its first character
        counts[ns[0]] = counts.get(ns[0], 0) + len(feats)
    return counts


@pytest.mark.parametrize("maker", [decision_service_event, personalizer_event])
def test_vw_reads_each_line_as_we_do(tmp_path, maker):
    rng = np.random.default_rng(21)
    records = [maker(rng, i)[0] for i in range(40)]
    path = write(tmp_path / "log.dsjson", records)
    log = read_dsjson(path)
    kept = [r for r in records if not r.get("_skipLearn") and not (
        r.get("DeferredAction") and not any(o.get("ActionTaken") for o in r["o"]))]
    assert len(kept) == log.n_rounds
    ws = vowpalwabbit.Workspace("--cb_explore_adf --dsjson --quiet")
    try:
        for i, record in enumerate(kept):
            examples = ws.parse(json.dumps(record))
            shared, actions = examples[0], examples[1:]
            assert [a.get_tag() for a in actions] == log.candidates[i]
            assert our_namespace_counts(log.features[i]["shared"]) == vw_namespace_counts(shared)
            for j, action in enumerate(actions):
                assert our_namespace_counts(log.features[i]["actions"][j]) == vw_namespace_counts(action)
            labelled = [j for j, a in enumerate(actions) if a.get_label(LabelType.CONTEXTUAL_BANDIT).costs]
            if "_labelIndex" in record:  # a line with its reward only in o has no VW label
                costs = actions[labelled[0]].get_label(LabelType.CONTEXTUAL_BANDIT).costs[0]
                assert labelled == [int(log.action[i])]
                assert costs.cost == pytest.approx(-log.reward[i]) and costs.probability == pytest.approx(log.pscore[i])
            ws.finish_example(examples)
    finally:
        ws.finish()

    # Learning the whole file, VW skips the _skipLearn lines as we do; it does not know
    # DeferredAction, so it also learns the deferred events that were never activated.
    ws = vowpalwabbit.Workspace(f"--cb_explore_adf --dsjson -d {path} --quiet")
    try:
        ws.run_parser()
        assert ws.get_weighted_examples() == log.n_rounds + log.meta["skipped_events"].get("never activated", 0)
    finally:
        ws.finish()
