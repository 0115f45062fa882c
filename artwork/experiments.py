"""Live experiments: A/B tests of artwork policies, with a guardrail.

An experiment has a name, arms (each a policy with a traffic share) and a control arm. This
module owns what an experiment means:

- **Definitions** (``check_definition``): arms of the policies in ``POLICIES``, shares, the
  control, the guardrail margin. At most one experiment runs at a time (the store's unique index
  backs it up), so a person is in at most one.
- **Assignment** (``assign_arm``): a person's arm is a function of (experiment, person) alone,
  a SHA-256 of both (never Python's ``hash()``, which differs between processes), so every
  serving process of every host puts a person in the same arm, and they stay there.
- **Drawing** (``arm_pmf``): the arm's policy gives the distribution the artwork is drawn from,
  and that same distribution is logged: the live bandit its floored distribution, the default
  control the title's default artwork with probability 1, the uniform control 1/K each, a
  candidate arm its own model's floored distribution.
- **Candidate arms**: an arm with ``"policy": "candidate"`` names VW arguments of its own; its
  model is another model of the artwork loop (``candidate_loop``: its checkpoints are rows of
  the same table, ``storage.Loop.model`` = "experiment/arm"), learned from the whole log by
  ``candidates.py``.
- **Results** (``experiment_results``): per arm decisions, people, click and quality-play rates,
  and the lift over control with a fixed 95% interval and an always-valid confidence sequence,
  the person as the unit (``experiment_stats.py``).
- **The guardrail** (``Guardrail``): the learner looks every ``GUARDRAIL_EVERY_SECONDS``; an arm
  whose click-rate lift's confidence sequence lies wholly below ``-guardrail_margin`` is stopped:
  recorded with who, when and why, and from then on its people are served control (and logged
  with ``served_arm`` = the control arm, their ``arm`` unchanged).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import experiment_stats as stats
from .catalog import default_index
from .checks import check_id
from .errors import ServiceError, bad_request, not_found
from .policy import check_vw_args, floor_pmf
from .storage import ARTWORK, Loop

if TYPE_CHECKING:
    from .config import Settings
    from .policy import Model
    from .storage import Storage

#: What an arm can be: the live bandit, the title's default artwork, uniform at random, or a
#: candidate VW configuration learning off-policy from the whole log.
POLICIES = ("bandit", "default", "uniform", "candidate")
POLICY_DOCS = {"bandit": "the live VW bandit: its floored distribution",
               "default": "each title's default artwork (the catalog marks it), probability 1",
               "uniform": "each of the title's active artworks with probability 1/K",
               "candidate": "a model of the arm's own vw_args, learning off-policy from the whole log (every "
                            "arm's decisions, each once, in the live model's order): its floored distribution"}
#: The policies that draw from a learned model.
MODEL_POLICIES = ("bandit", "candidate")
MAX_ARMS = 10
DEFAULT_GUARDRAIL_MARGIN = 0.05
#: How long a serving process keeps the running experiment in memory: a start, a stop or a
#: guardrail stop made elsewhere is followed within this many seconds.
CACHE_SECONDS = 1.0
#: How often (seconds of the service's clock) the learner runs the guardrail's test.
GUARDRAIL_EVERY_SECONDS = 5.0


# Definitions --------------------------------------------------------------------------------------

def check_definition(name, arms, control=None, guardrail_margin=None) -> tuple[str, dict]:
    """The experiment's name and definition, checked (400 naming the problem): 2 to ``MAX_ARMS``
    arms with distinct names, each ``{"name", "policy", "share"}`` (shares positive, normalized to
    sum 1), a control among them (default: the first arm) and a guardrail margin in [0, 1)."""
    name = check_id(name, "experiment name")
    if not isinstance(arms, list) or not 2 <= len(arms) <= MAX_ARMS:
        raise bad_request(f"arms must be a list of 2 to {MAX_ARMS} arms")
    checked = []
    for arm in arms:
        if not isinstance(arm, dict) or set(arm) - {"name", "policy", "share", "vw_args"} or "name" not in arm \
                or "policy" not in arm:
            raise bad_request(f"each arm is an object with name, policy, share (and vw_args), not {arm!r}"[:300])
        arm_name = check_id(arm["name"], "arm name")
        if arm["policy"] not in POLICIES:
            raise bad_request(f"arm {arm_name!r}: policy must be one of {', '.join(POLICIES)}, not {arm['policy']!r}"
                              [:300])
        share = arm.get("share", 1.0)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1e6:
            raise bad_request(f"arm {arm_name!r}: share must be a positive number, not {share!r}"[:300])
        checked.append({"name": arm_name, "policy": arm["policy"], "share": float(share)})
        if arm["policy"] == "candidate" and "vw_args" not in arm:
            raise bad_request(f"arm {arm_name!r}: a candidate arm needs vw_args, the VW arguments of its model"[:300])
        if arm["policy"] != "candidate" and "vw_args" in arm:
            raise bad_request(f"arm {arm_name!r}: vw_args is only for a candidate arm, not a {arm['policy']} one"
                              [:300])
        if "vw_args" in arm:
            try:
                checked[-1]["vw_args"] = check_vw_args(arm["vw_args"])
            except ValueError as exc:
                raise bad_request(f"arm {arm_name!r}: {exc}"[:300]) from None
    names = [a["name"] for a in checked]
    if len(set(names)) != len(names):
        raise bad_request("arm names must differ")
    total = sum(a["share"] for a in checked)
    for arm in checked:
        arm["share"] = arm["share"] / total
    control = names[0] if control is None else control
    if control not in names:
        raise bad_request(f"control {control!r} is not one of the arms ({', '.join(names)})"[:300])
    margin = DEFAULT_GUARDRAIL_MARGIN if guardrail_margin is None else guardrail_margin
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
        raise bad_request(f"guardrail_margin must be a number in [0, 1), not {margin!r}"[:300])
    return name, {"arms": checked, "control": control, "guardrail_margin": float(margin)}


def assign_arm(experiment: str, user_id: str, arms: list[dict]) -> dict:
    """The person's arm: the first 64 bits of SHA-256("experiment\\nperson") as a uniform number
    in [0, 1), placed on the arms' cumulative shares. The same in every process, forever."""
    digest = hashlib.sha256(f"{experiment}\n{user_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    cumulative = 0.0
    for arm in arms:
        cumulative += arm["share"]
        if u < cumulative:
            return arm
    return arms[-1]  # rounding left the shares' sum a hair under 1


def served_arm(experiment: dict, arm: dict) -> dict:
    """The arm whose policy serves ``arm``'s people in ``experiment``: the arm itself, or the
    control once the guardrail stopped it."""
    if any(stop["arm"] == arm["name"] for stop in experiment["arm_stops"]):
        definition = experiment["definition"]
        return next(a for a in definition["arms"] if a["name"] == definition["control"])
    return arm


def candidate_key(experiment: str, arm: str) -> str:
    """A candidate arm's model's name among the artwork loop's models (``storage.Loop.model``)."""
    return f"{experiment}/{arm}"


def candidate_loop(key: str) -> Loop:
    """The artwork loop's tables, its checkpoint operations meaning candidate ``key``'s model."""
    return dataclasses.replace(ARTWORK, model=key)


def candidate_folder(models_dir: Path, key: str) -> Path:
    """Where a candidate's checkpoints (SQLite) or this host's copies of them go: a folder of
    its own under ``models/candidates`` (names are ids, which hold no '/')."""
    return Path(models_dir) / "candidates" / key


def candidate_arms(experiment: dict | None) -> dict[str, dict]:
    """The candidate arms of ``experiment`` (a draft's, or the running one's) that learn: {key:
    arm}, the arms the guardrail stopped left out (their people are served control)."""
    if experiment is None:
        return {}
    stopped = {stop["arm"] for stop in experiment["arm_stops"]}
    return {candidate_key(experiment["name"], arm["name"]): arm for arm in experiment["definition"]["arms"]
            if arm["policy"] == "candidate" and arm["name"] not in stopped}


def arm_pmf(policy: str, model: Model, lines: list[str], artwork: list[dict], floor: float
            ) -> tuple[list[float], int]:
    """The distribution an arm of ``policy`` draws a title's artwork from (candidates in catalog
    order), and the model version that gave it (0 for a fixed policy: no model did). ``model`` is
    the live model, or for a candidate arm its own. What is drawn from is what is logged."""
    if policy in MODEL_POLICIES:
        pmf, version = model.predict_lines(lines)
        return floor_pmf(pmf, floor), version
    k = len(artwork)
    if policy == "uniform":
        return [1.0 / k] * k, 0
    if policy == "default":
        pmf = [0.0] * k
        pmf[default_index(artwork)] = 1.0
        return pmf, 0
    raise ValueError(f"unknown arm policy {policy!r}")


# Results --------------------------------------------------------------------------------------------

def _interval(pair: tuple[float, float] | None) -> dict:
    return {"ci_low": pair[0], "ci_high": pair[1]} if pair is not None else {"ci_low": None, "ci_high": None}


def _lift_view(found: stats.Lift) -> dict:
    return {"value": found.value, **_interval(found.always_valid),
            "fixed_ci_low": found.fixed[0] if found.fixed else None,
            "fixed_ci_high": found.fixed[1] if found.fixed else None}


def experiment_results(store: Storage, settings: Settings, experiment: dict, candidates=None) -> dict:
    """An experiment with its results: per arm ``people``, ``decisions``, ``clicks``,
    ``click_rate`` (with its always-valid interval), ``quality_plays``, ``quality_play_rate``,
    whether the arm was stopped, and for every arm but control the ``lift`` of its click rate
    (and ``quality_play_lift``) over control's: ``value``, ``ci_low``/``ci_high`` (the confidence
    sequence, safe to read at any time) and ``fixed_ci_low``/``fixed_ci_high`` (the fixed-horizon
    delta-method interval, valid only at a horizon chosen up front). A candidate arm says how far
    its model has learned (``model``, by ``candidates``, the service's ``CandidateArmModels``),
    while it serves."""
    definition = experiment["definition"]
    people: dict[str, list[tuple[int, int, int]]] = {arm["name"]: [] for arm in definition["arms"]}
    for row in store.experiment_people(experiment["name"], settings.quality_play_seconds):
        if row["arm"] in people:
            people[row["arm"]].append((row["decisions"], row["clicks"], row["quality_plays"]))
    rates = {}
    for arm, rows in people.items():
        decisions = [r[0] for r in rows]
        rates[arm] = (stats.ratio_rate([r[1] for r in rows], decisions),
                      stats.ratio_rate([r[2] for r in rows], decisions))
    control = definition["control"]
    stops = {s["arm"]: s for s in experiment["arm_stops"]}
    arms = []
    for arm in definition["arms"]:
        clicks, plays = rates[arm["name"]]
        view = {**arm, "control": arm["name"] == control, "people": clicks.people, "decisions": clicks.decisions,
                "clicks": clicks.events, "click_rate": clicks.value,
                "click_rate_ci": _interval(stats.rate_interval(clicks)), "quality_plays": plays.events,
                "quality_play_rate": plays.value, "stopped": stops.get(arm["name"])}
        if arm["policy"] == "candidate":  # how far its model has learned, while it has one
            learning = (candidates is not None and experiment["state"] != "stopped"
                        and candidate_key(experiment["name"], arm["name"]) in candidate_arms(experiment))
            view["model"] = candidates.progress(experiment["name"], arm) if learning else None
        if arm["name"] != control:
            view["lift"] = _lift_view(stats.lift(clicks, rates[control][0]))
            view["quality_play_lift"] = _lift_view(stats.lift(plays, rates[control][1]))
        arms.append(view)
    margin = definition["guardrail_margin"]
    return {"name": experiment["name"], "state": experiment["state"], "control": control,
            "created_ts": experiment["created_ts"], "started_ts": experiment["started_ts"],
            "stopped_ts": experiment["stopped_ts"], "stopped_by": experiment["stopped_by"],
            "stop_reason": experiment["stop_reason"], "arms": arms,
            "guardrail": {"margin": margin, "stopped_arms": [s["arm"] for s in experiment["arm_stops"]],
                          "rule": f"an arm whose click rate's lift over control's is below -{margin:g} by its "
                                  "95% confidence sequence is stopped and its people are served control"},
            "interval": {"method": "asymptotic confidence sequence (Waudby-Smith et al. 2024), person as the unit",
                         "alpha": stats.ALPHA, "min_people_per_arm": stats.MIN_PEOPLE,
                         "optimal_people": stats.OPTIMAL_PEOPLE}}


class Guardrail:
    """The guardrail's test, run by the learner (``Learner.run_once``) at most every
    ``GUARDRAIL_EVERY_SECONDS``: every arm of the running experiment whose click-rate lift over
    control is below ``-guardrail_margin`` by its confidence sequence is stopped (recorded by
    ``Storage.stop_arm``: who, when, why). Returns the arms it stopped."""

    def __init__(self, settings: Settings, store: Storage, clock=time.time):
        self.settings = settings
        self.store = store
        self.clock = clock
        self._last = float("-inf")

    def check(self, force: bool = False) -> list[str]:
        now = self.clock()
        if not force and now - self._last < GUARDRAIL_EVERY_SECONDS:
            return []
        self._last = now
        experiment = self.store.running_experiment()
        if experiment is None:
            return []
        results = experiment_results(self.store, self.settings, experiment)
        margin = results["guardrail"]["margin"]
        stopped = []
        for arm in results["arms"]:
            lift = arm.get("lift")
            if arm["control"] or arm["stopped"] or lift is None or lift["ci_high"] is None or \
                    not lift["ci_high"] < -margin:
                continue
            reason = (f"click rate {arm['click_rate']:.4f} against control's; lift {lift['value']:+.1%}, 95% "
                      f"confidence sequence [{lift['ci_low']:+.1%}, {lift['ci_high']:+.1%}] lies below the margin "
                      f"-{margin:.1%} ({arm['people']} people, {arm['decisions']} decisions)")
            if self.store.stop_arm(experiment["name"], arm["name"], now, "guardrail", reason):
                stopped.append(arm["name"])
        return stopped


# The service's side ----------------------------------------------------------------------------------

class Experiments:
    """A service's experiments: the running one (kept ``CACHE_SECONDS``) for the decision path,
    and the admin operations (create, start, stop, list, report) for the API and the CLI."""

    def __init__(self, settings: Settings, store: Storage, clock=time.time, candidates=None):
        """``candidates``: the service's ``CandidateArmModels``, for what reports say of candidate arms."""
        self.settings = settings
        self.store = store
        self.clock = clock
        self.candidates = candidates
        self._lock = threading.Lock()
        self._cached: tuple[float, dict | None] = (float("-inf"), None)

    # The decision path -----------------------------------------------------------------------------

    def running(self) -> dict | None:
        """The running experiment, read at most once every ``CACHE_SECONDS``."""
        loaded_at, experiment = self._cached
        if time.monotonic() - loaded_at < CACHE_SECONDS:
            return experiment
        with self._lock:
            loaded_at, experiment = self._cached
            if time.monotonic() - loaded_at >= CACHE_SECONDS:
                experiment = self.store.running_experiment()
                self._cached = (time.monotonic(), experiment)
        return experiment

    def invalidate(self) -> None:
        self._cached = (float("-inf"), None)

    def assignment(self, user_id: str) -> dict | None:
        """The person's place in the running experiment: {"experiment", "arm", "served_arm", and
        "served" (that arm's definition: its policy, a candidate's vw_args)}, or None when none
        runs. ``served_arm`` is the control once the person's arm was stopped (``served_arm``)."""
        experiment = self.running()
        if experiment is None:
            return None
        arm = assign_arm(experiment["name"], user_id, experiment["definition"]["arms"])
        served = served_arm(experiment, arm)
        return {"experiment": experiment["name"], "arm": arm["name"], "served_arm": served["name"],
                "served": served}

    # Admin -------------------------------------------------------------------------------------------

    def _get(self, name) -> dict:
        name = check_id(name, "experiment name")
        found = next((e for e in self.store.experiments() if e["name"] == name), None)
        if found is None:
            raise not_found(f"unknown experiment {name!r}", "unknown_experiment")
        return found

    def create(self, name, arms, control=None, guardrail_margin=None) -> dict:
        """A new experiment, not yet running (409 if the name is taken)."""
        name, definition = check_definition(name, arms, control, guardrail_margin)
        if not self.store.create_experiment(name, definition, self.clock()):
            raise ServiceError(409, "experiment_exists", f"experiment {name!r} exists; experiments are kept, pick "
                                                         "another name")
        return self.report(name)

    def start(self, name) -> dict:
        """Start a draft experiment (409 if it is not a draft or another one runs)."""
        experiment = self._get(name)
        if experiment["state"] != "draft":
            raise ServiceError(409, "experiment_not_draft", f"experiment {name!r} is {experiment['state']}: only a "
                                                            "draft can start")
        running = self.store.running_experiment()
        if running is not None or not self.store.start_experiment(experiment["name"], self.clock()):
            other = running["name"] if running else "another experiment"
            raise ServiceError(409, "experiment_running", f"{other!r} is running: stop it first (one experiment "
                                                          "at a time)")
        self.invalidate()
        return self.report(name)

    def stop(self, name, by: str, reason: str = "stopped by hand") -> dict:
        """Stop a running experiment (everyone is served the live bandit again) or call off a
        draft; 409 if it is stopped already."""
        experiment = self._get(name)
        if not self.store.stop_experiment(experiment["name"], self.clock(), by, reason):
            raise ServiceError(409, "experiment_stopped", f"experiment {name!r} is stopped already")
        self.invalidate()
        return self.report(name)

    def list(self) -> list[dict]:
        return [{"name": e["name"], "state": e["state"], "arms": e["definition"]["arms"],
                 "control": e["definition"]["control"], "created_ts": e["created_ts"],
                 "started_ts": e["started_ts"], "stopped_ts": e["stopped_ts"],
                 "stopped_arms": [s["arm"] for s in e["arm_stops"]]} for e in self.store.experiments()]

    def report(self, name) -> dict:
        """The experiment with its results (``experiment_results``)."""
        return experiment_results(self.store, self.settings, self._get(name), self.candidates)
