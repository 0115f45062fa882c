"""The Personalizer-compatible loop: Azure Personalizer's Rank, Reward and Activate over a decision
loop of its own (its log, learn queue, model epochs, checkpoints and model: ``storage.PERSONALIZER``),
learned by the same ``Learner`` as the artwork loop, exactly once and in queue order.

- **Rank** turns the request's feature objects into VW namespaces (``features.json_namespaces``,
  the rules DSJSON logs are read by, so an imported log and live calls mean the same features),
  asks the loop's model for a probability per action (floored like the artwork loop's), draws one
  and logs the decision before answering. The logged probability is the probability the action
  was drawn with.
- **Reward** joins a value in [-1, 1] to its event inside one ``Storage.reward_join`` transaction:
  'earliest' finalizes the event with the first reward at once; 'sum' adds the rewards up until
  the wait time ends (the learner closes the window). An event with no reward in its wait time
  gets ``PERSONALIZER_DEFAULT_REWARD``. **Activate** starts a deferred event's wait time and
  applies the rewards held until then.
- **Apprentice mode** shows the baseline (the first action not excluded), except for a share
  ``PERSONALIZER_APPRENTICE_EXPLORATION`` of calls decided by the bandit: the logged probability is
  that mixture's, ``(1 - e) * [baseline] + e * bandit``, which is what makes the bandit's own
  policy evaluable on the log (with ``e = 0`` the baseline is shown with probability 1, and no
  choice of the bandit other than the baseline is ever observed). ``compare_with_baseline``
  estimates both policies on the mode's rewarded events; the loop's learner switches to online
  once the bandit's advantage over the baseline has a lower bound above zero
  (``PersonalizerLearner``), an admin either way (``PersonalizerLoop.set_mode``).
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import NormalDist
from typing import IO

from .config import Settings
from .decisions import new_event_id
from .errors import ServiceError, bad_request, not_found
from .features import json_namespaces, namespaces_json, to_vw
from .jsontext import log_json
from .learner import Learner, load_model
from .policy import Model, floor_pmf, sample_index, top_index
from .storage import PERSONALIZER, LoopLog, Storage

log = logging.getLogger(__name__)

#: The loop's checkpoints, beside the artwork loop's, in this folder of the models folder.
MODELS_FOLDER = "personalizer"
#: Largest magnitude of a numeric feature: beyond it VW's weights overflow.
MAX_FEATURE_VALUE = 1e9
#: Confidence of the intervals of the apprentice read-out and of the automatic switch.
CONFIDENCE = 0.95
#: How often (seconds) the learner looks at whether apprentice mode may end.
SWITCH_CHECK_SECONDS = 5.0
#: Rows read per page when exporting the log as DSJSON.
EXPORT_PAGE = 5000


def models_dir(models: Path) -> Path:
    """The loop's checkpoints folder, inside the data directory's models folder."""
    return Path(models) / MODELS_FOLDER


def rank_features(context_features: list | None, actions: list[dict]) -> dict:
    """The decision's features (``{"shared", "actions"}``, VW namespaces) from a rank call's feature
    objects: every context object, and each action's objects, read by VW's JSON rules.
    ValueError, naming the field, for what VW cannot read."""
    features = {"shared": _merged(context_features or [], "contextFeatures"),
                "actions": [_merged(a.get("features") or [], f"actions[{i}].features") for i, a in actions]}
    for spaces in (features["shared"], *features["actions"]):
        for feats in spaces.values():
            if any(abs(v) > MAX_FEATURE_VALUE for v in feats.values()):
                raise ValueError(f"a numeric feature's magnitude is above {MAX_FEATURE_VALUE:g}")
    return features


def _merged(objects: list, where: str) -> dict:
    spaces: dict[str, dict[str, float]] = {}
    for n, obj in enumerate(objects):
        for ns, feats in json_namespaces(obj, f"{where}[{n}]").items():
            merged = spaces.setdefault(ns, {})
            for name, value in feats.items():
                merged[name] = merged.get(name, 0.0) + value
    return spaces


def drawing_pmf(policy_pmf: list[float], mode: str, exploration: float, floor: float) -> list[float]:
    """What an action is drawn from: the bandit's (floored) distribution online; in apprentice mode
    the baseline (index 0) with probability ``1 - exploration``, else the bandit's draw, the
    mixture floored again (the bandit's 1% times a 5% share would log 0.05%: importance weights of
    2,000). ``exploration`` 0 is pure imitation: the baseline with probability 1, nothing else."""
    if mode == "online":
        return list(policy_pmf)
    mixed = [exploration * p + (1.0 - exploration if i == 0 else 0.0) for i, p in enumerate(policy_pmf)]
    return floor_pmf(mixed, floor) if exploration > 0 else mixed


def _interval(terms: list[float], z: float) -> dict:
    if not terms:
        return {"estimate": None, "ci_low": None, "ci_high": None}
    n = len(terms)
    mean = math.fsum(terms) / n
    if n < 2:  # no spread to measure: no interval
        return {"estimate": mean, "ci_low": None, "ci_high": None}
    half = z * math.sqrt(math.fsum((t - mean) ** 2 for t in terms) / (n - 1) / n)
    return {"estimate": mean, "ci_low": mean - half, "ci_high": mean + half}


def compare_with_baseline(rows: list[dict], confidence: float = CONFIDENCE) -> dict:
    """The bandit's policy against the baseline's on logged, rewarded decisions (each {"chosen_index",
    "probability", "reward", "policy_pmf", "pmf"}): inverse-propensity estimates of each one's mean
    reward and of the bandit's advantage (the paired difference, round by round), with normal
    intervals, and how often the bandit's top action was the baseline.

    The bandit of each round is the model as it was then (it had not learned that round yet:
    progressive validation). ``covered`` says whether every action the bandit could choose had a
    chance to be shown; if not (apprentice mode without exploration), the estimates of the bandit
    leave those choices' rewards out and are biased."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    bandit, baseline, advantage, agree = [], [], [], 0
    covered = True
    for row in rows:
        index, p, reward, policy = row["chosen_index"], row["probability"], row["reward"], row["policy_pmf"]
        shown = row["pmf"]
        covered = covered and all(q > 0 for q, b in zip(shown, policy, strict=True) if b > 0)
        b = reward * policy[index] / p
        a = reward * (index == 0) / p
        bandit.append(b)
        baseline.append(a)
        advantage.append(b - a)
        agree += top_index(policy) == 0
    return {"events": len(rows), "agreement_rate": agree / len(rows) if rows else None,
            "bandit": _interval(bandit, z), "baseline": _interval(baseline, z), "advantage": _interval(advantage, z),
            "covered": covered}


def current_mode(store: Storage, settings: Settings) -> dict:
    """The loop's mode: the newest switch, else the PERSONALIZER_MODE setting ("since" None)."""
    switches = store.pz_modes()
    if switches:
        return {"mode": switches[-1]["mode"], "since": switches[-1]["created_ts"], "switches": switches}
    return {"mode": settings.personalizer_mode, "since": None, "switches": []}


def loop_status(store: Storage, settings: Settings, mode: dict | None = None) -> dict:
    """The admin read-out: the mode with its switches, the bandit against the baseline over the
    current mode's rewarded events, and the log's totals."""
    mode = current_mode(store, settings) if mode is None else mode
    rows = store.pz_evaluation_rows(mode["since"] or float("-inf"))
    return {**mode, **compare_with_baseline(rows), "log": store.pz_totals()}


def switch_if_ready(store: Storage, settings: Settings, now: float) -> dict | None:
    """In apprentice mode: switch to online, recorded with the figures, once at least
    PERSONALIZER_SWITCH_MIN_EVENTS rewarded events of this apprentice period show the bandit's
    advantage over the baseline with a lower bound above zero, on a log that covers the bandit's
    choices. Returns the status it switched on, else None."""
    mode = current_mode(store, settings)
    if mode["mode"] != "apprentice":
        return None
    status = loop_status(store, settings, mode)
    if status["events"] < settings.personalizer_switch_min_events:
        return None
    low = status["advantage"]["ci_low"]
    if not status["covered"] or low is None or not low > 0:
        return None
    bandit, baseline = status["bandit"], status["baseline"]
    reason = (f"automatic: over {status['events']} rewarded events the bandit's mean reward "
              f"{bandit['estimate']:.4f} [{bandit['ci_low']:.4f}, {bandit['ci_high']:.4f}] beats the baseline's "
              f"{baseline['estimate']:.4f} [{baseline['ci_low']:.4f}, {baseline['ci_high']:.4f}] (advantage lower "
              f"bound {low:.4f}, {CONFIDENCE:.0%}); agreement {status['agreement_rate']:.3f}")
    store.set_pz_mode("online", reason, now)
    log.warning("personalizer loop: apprentice -> online (%s)", reason)
    return status


class PersonalizerLearner(Learner):
    """The loop's learner: the artwork loop's ``Learner`` over the loop's ``LoopLog``, which after a
    round that learned something also decides whether apprentice mode ends (``switch_if_ready``),
    at most every ``SWITCH_CHECK_SECONDS``."""

    def __init__(self, settings: Settings, store: Storage, model: Model, folder: Path, clock=time.time,
                 checkpoint_seconds: float | None = None):
        super().__init__(settings, LoopLog(store, PERSONALIZER), model, folder, clock=clock,
                         checkpoint_seconds=checkpoint_seconds, default_reward=settings.personalizer_default_reward,
                         vw_args=settings.personalizer_vw_args)
        self.raw_store = store
        self._checked_at = -math.inf

    def run_once(self, now: float | None = None) -> int:
        learned = super().run_once(now)
        at = self.clock()
        if learned and at - self._checked_at >= SWITCH_CHECK_SECONDS:
            self._checked_at = at
            switch_if_ready(self.raw_store, self.settings, at)
        return learned


def reset_model(store: Storage, now: float) -> dict:
    """Start a fresh model of the loop (Personalizer's Reset Model): a new model epoch whose model
    learns only events final from now on, with the current epoch's VW arguments. The loop's
    learner follows it at its next round (``Learner.follow_epoch``) and forgets the old epoch's
    checkpoints at its first; serving processes follow its snapshots. The log is kept. Returns
    {"epoch", "start_seq", "vw_args"} (None: the PERSONALIZER_VW_ARGS setting)."""
    started = store.start_epoch("reset", now, relearn_log=False, loop=PERSONALIZER)
    log.warning("personalizer loop: model reset (epoch %d, learning from event %d on)", started["epoch"],
                started["start_seq"] + 1)
    return started


def load_personalizer_model(settings: Settings, store: Storage, models: Path) -> Model:
    """The loop's newest usable checkpoint, else a fresh model (``learner.load_model``)."""
    return load_model(LoopLog(store, PERSONALIZER), settings.personalizer_vw_args, models_dir(models))


def personalizer_learner(settings: Settings, store: Storage, models: Path, clock=time.time,
                         checkpoint_seconds: float | None = None) -> PersonalizerLearner:
    """The loop's learner from its newest checkpoint, caught up with its log (a restart's model is
    the one it would have had without stopping)."""
    model = load_personalizer_model(settings, store, models)
    learner = PersonalizerLearner(settings, store, model, models_dir(models), clock=clock,
                                  checkpoint_seconds=checkpoint_seconds)
    learner.learn_available()
    return learner


class PersonalizerLoop:
    """Rank, reward and activate, as Azure Personalizer answered them, over the loop's own log and
    model. ``model`` is replaced when the learner (or a snapshot) brings a newer one, ``on_final``
    by the learner, to wake up when an event's reward is final."""

    def __init__(self, settings: Settings, store: Storage, model: Model, clock=time.time):
        self.settings = settings
        self.store = store
        self.model = model
        self.clock = clock
        self.log = LoopLog(store, PERSONALIZER)
        self.on_final = lambda: None
        seed = settings.seed
        self._rng = random.Random(seed if seed is not None else secrets.randbits(64))
        self._rng_lock = threading.Lock()

    def mode(self) -> dict:
        return current_mode(self.store, self.settings)

    def rank(self, context_features: list | None, actions: list[dict], excluded: list[str] | None = None,
             event_id: str | None = None, defer_activation: bool | None = False) -> dict:
        """Choose one of ``actions`` (each {"id", "features"}) for this context, log the decision,
        and answer Personalizer's rank response: every action's probability (the chosen one
        first, excluded ones last at 0), the event id and the action to show."""
        ids = [a["id"] for a in actions]
        if len(set(ids)) != len(ids):
            raise bad_request("actions: two actions have the same id")
        excluded = list(dict.fromkeys(excluded or []))
        unknown = [x for x in excluded if x not in ids]
        if unknown:
            raise bad_request(f"excludedActions names an action that is not in actions: {unknown[0]!r}"[:300])
        ranked = [(i, a) for i, a in enumerate(actions) if a["id"] not in excluded]
        if not ranked:
            raise bad_request("every action is excluded: there is nothing to rank")
        try:
            features = rank_features(context_features, ranked)
        except ValueError as exc:
            raise bad_request(str(exc)[:300]) from None
        now = self.clock()
        event_id = event_id or new_event_id(now)
        mode = self.mode()["mode"]
        # floored like the artwork loop's: every action keeps a chance, no weight above 1 / floor
        pmf, version = self.model.predict_lines(to_vw(features))
        policy_pmf = floor_pmf(pmf, self.settings.propensity_floor)
        drawn = drawing_pmf(policy_pmf, mode, self.settings.personalizer_apprentice_exploration,
                            self.settings.propensity_floor)
        with self._rng_lock:
            index = sample_index(drawn, self._rng)  # what is drawn from is what is logged
        action_ids = [a["id"] for _, a in ranked]
        deferred = bool(defer_activation)
        logged = self.store.log_pz_event({
            "event_id": event_id, "created_ts": now, "features": log_json(features), "action_ids": log_json(action_ids),
            "excluded": log_json(excluded), "pmf": log_json(drawn), "policy_pmf": log_json(policy_pmf),
            "chosen_index": index, "action_id": action_ids[index], "probability": drawn[index], "mode": mode,
            "model_version": version, "deferred": int(deferred),
            "state": "awaiting_activation" if deferred else "pending",
            "deadline_ts": None if deferred else now + self.settings.personalizer_reward_wait_seconds})
        if not logged:
            raise ServiceError(409, "duplicate_event", f"event {event_id!r} was already ranked: an eventId is "
                                                       "used once")
        others = sorted((j for j in range(len(action_ids)) if j != index), key=lambda j: -drawn[j])
        ranking = [{"id": action_ids[j], "probability": drawn[j]} for j in (index, *others)]
        ranking += [{"id": x, "probability": 0.0} for x in excluded]
        return {"ranking": ranking, "eventId": event_id, "rewardActionId": action_ids[index]}

    def reward(self, event_id: str, value: float) -> str:
        """Join a reward (-1 to 1) to its event; returns what it did: 'rewarded' (final now),
        'added' (summed, final when the wait time ends), 'held' (before activation), 'late' (after
        the wait time) or 'duplicate' (the event already had its reward). Unknown events: 404."""
        return self._outcome(event_id, "reward", float(value))

    def activate(self, event_id: str) -> str:
        """A deferred event was shown: its wait time starts now and the rewards held until now
        apply. 'activated', or 'duplicate' for an event not deferred or already activated."""
        return self._outcome(event_id, "activate", None)

    def _outcome(self, event_id: str, kind: str, value: float | None) -> str:
        now = self.clock()
        earliest = self.settings.personalizer_reward_aggregation == "earliest"
        with self.store.reward_join(event_id, loop=PERSONALIZER) as join:
            event = join.event
            if event is None:
                raise not_found(f"unknown event {event_id!r}"[:300], "unknown_event")
            if event["state"] == "pending" and now >= event["deadline_ts"]:
                # The wait time ended before the learner closed it: close it now, by the clock.
                join.finalize(self.settings.personalizer_default_reward, "window", now)
            state = join.event["state"]
            if kind == "activate":
                effect = "duplicate"
                if state == "awaiting_activation":
                    join.activate(now, now + self.settings.personalizer_reward_wait_seconds)
                    held = [h["value"] for h in join.held_outcomes()]
                    if held and earliest:
                        join.finalize(held[0], "outcome", now)
                    elif held:
                        join.add_reward(math.fsum(held))
                    effect = "activated"
            elif state == "awaiting_activation":
                effect = "held"
            elif state == "pending" and earliest:
                join.finalize(value, "outcome", now)
                effect = "rewarded"
            elif state == "pending":
                join.add_reward(value)
                effect = "added"
            else:
                effect = "late" if join.event["final_reason"] == "window" else "duplicate"
            join.add_outcome(kind, value, now, effect)
            final = join.event["state"] == "final"
        if final:
            self.on_final()
        return effect

    def set_mode(self, mode: str, reason: str) -> dict:
        """Switch to ``mode`` ('online' or 'apprentice'), recorded with ``reason``; the status after."""
        self.store.set_pz_mode(mode, reason, self.clock())
        log.warning("personalizer loop: switched to %s (%s)", mode, reason)
        return self.status()

    def status(self) -> dict:
        return loop_status(self.store, self.settings)

    def reset_model(self) -> dict:
        """``reset_model`` now, and wake the learner (in this process, if it runs here)."""
        started = reset_model(self.store, self.clock())
        self.on_final()
        return started


# Offline: the log as DSJSON, and logs from elsewhere as a warm start -------------------------------

def dsjson_line(row: dict) -> dict:
    """One final decision of the loop's log as a DSJSON line (what ``simulations/dsjson.py`` and
    ``vw --dsjson`` read): the context and actions as feature objects, the chosen action's label
    (cost = -reward), the ``a`` order (chosen first) with its ``p``."""
    features = json.loads(row["features"])
    action_ids = json.loads(row["action_ids"])
    index = row["chosen_index"]
    order = [index, *(j for j in range(len(action_ids)) if j != index)]
    line = {"_label_cost": -row["reward"], "_label_probability": row["probability"], "_labelIndex": index,
            "_label_Action": index + 1, "Timestamp": datetime.fromtimestamp(row["created_ts"], UTC).isoformat(),
            "Version": "1", "EventId": row["event_id"], "a": [j + 1 for j in order],
            "c": {**namespaces_json(features["shared"]),
                  "_multi": [{**namespaces_json(a), "_tag": tag} for a, tag in zip(features["actions"], action_ids,
                                                                                    strict=True)]},
            "VWState": {"m": f"{row['mode']}-{row['model_version']}"}}
    if row["pmf"] is not None:
        pmf = json.loads(row["pmf"])
        line["p"] = [pmf[j] for j in order]
    return line


def export_dsjson(store: Storage, out: IO[str]) -> int:
    """Write every final decision of the loop's log to ``out`` as DSJSON lines, in time order;
    returns how many."""
    after, written = None, 0
    while True:
        rows = store.pz_export_rows(after, EXPORT_PAGE)
        for row in rows:
            out.write(json.dumps(dsjson_line(row)) + "\n")
        written += len(rows)
        if len(rows) < EXPORT_PAGE:
            return written
        after = (rows[-1]["created_ts"], rows[-1]["event_id"])


def import_decisions(store: Storage, rounds: list[dict]) -> int:
    """Log another system's rewarded decisions (each {"event_id", "ts", "features", "candidates",
    "pmf" (None: unknown), "action", "pscore", "reward"}) in the loop's log, final, in (time, event
    id) order, which is the order its learner learns them in, like its own, on either backend
    (``Storage.import_pz_events``). Ids already in the log are left out. Returns how many were
    imported."""
    events = [{
        "event_id": r["event_id"], "created_ts": r["ts"], "features": log_json(r["features"]),
        "action_ids": log_json(r["candidates"]), "excluded": "[]",
        "pmf": None if r["pmf"] is None else log_json(r["pmf"]), "policy_pmf": None,
        "chosen_index": r["action"], "action_id": r["candidates"][r["action"]], "probability": r["pscore"],
        "mode": "import", "model_version": 0, "deferred": 0, "state": "pending", "deadline_ts": None,
        "reward": r["reward"]} for r in sorted(rounds, key=lambda r: (r["ts"], r["event_id"]))]
    return store.import_pz_events(events)
