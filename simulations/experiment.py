"""A live experiment in the synthetic world, and what offline evaluation said beside it.

``run_experiment`` is ``artwork experiment simulate``: by default a personalized-versus-default
experiment (the live bandit against each title's default artwork, half the people each); with
``candidate`` (VW arguments), the live bandit (control) against a candidate arm of those
arguments, whose model learns every arm's events off-policy (``artwork/candidates.py``). It runs
through the service's own code: a real ``Service`` over a fresh SQLite log, the experiment
created and started by ``Experiments``, simulated people (``visitors.visit``) deciding and
clicking through ``select_artwork`` and ``record_outcome``, the ``Learner`` learning from every
arm's decisions, running the candidate arm's learner and testing the guardrail. The world knows
every click probability, so the true lift is exact: for every request of the experiment (every
arm's people), the expected click rate of the policy serving each arm at that moment
(``Decisions.distributions``, the same code the decision draws with, a candidate arm with its own
model; control's once the guardrail stopped the arm), averaged over the requests; the true lift
is their ratio minus 1. That is the quantity the experiment's estimate targets: the lift the arm
earned over control on this traffic.

``offline_beside_live`` puts, for each arm, an offline estimate of that arm's policy, made on
the log of the *other* arms (control and exploration), next to what the arm earned live; a
learning arm's policy is replayed progressively (``ProgressiveReplay``), so no decision is judged
by a model that learned from it. It
lives here, on the offline side, because the estimators (``estimators.py``) do: the core
service never imports the simulator (ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artwork.catalog import data_paths, default_index
from artwork.config import load_settings
from artwork.demo_catalog import demo_titles
from artwork.experiments import MODEL_POLICIES, check_definition, served_arm
from artwork.learner import Learner
from artwork.policy import Model, floor_pmf
from artwork.service import Service
from artwork.storage import Store

from .estimators import SNIPS
from .simulate import SimClock, install_catalog
from .visitors import visit, visitor_context
from .world import World, WorldParams

#: The simulated experiment's arms by default: the live bandit against the default artwork, half each.
ARMS = [{"name": "personalized", "policy": "bandit", "share": 0.5},
        {"name": "default", "policy": "default", "share": 0.5}]
CONTROL = "default"
#: With a candidate: the live bandit (control) against the candidate arm, half each.
LIVE_ARM = "live"
CANDIDATE_ARM = "candidate"
#: People in the simulated world: the person is the unit, so the world has many.
WORLD_PEOPLE = 1000
#: Visitors between learner rounds (each round learns and may run the guardrail's test).
LEARN_EVERY = 10


class ProgressiveReplay:
    """A learning arm's policy replayed on the learn queue as its learner learns it: before each
    event is learned, the policy's floored distribution for it is kept when asked for, so no
    decision is judged by a model that had learned from it (progressive validation, as ``artwork
    evaluate`` judges VW policies). ``advance`` goes on from where it stopped (the queue only
    grows); one replay is one arm's VW arguments in one model epoch."""

    def __init__(self, vw_args: str, floor: float, epoch: dict):
        self.model = Model(vw_args, seq=epoch["start_seq"], epoch=epoch["epoch"])
        self.floor = floor
        #: event id -> the floored distribution the policy had for it, just before learning it
        self.targets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def advance(self, store, wanted, batch: int = 2000) -> None:
        """Learn the queue past where the replay stands, keeping the distribution for each event
        in ``wanted`` (event ids) before learning it."""
        with self._lock:
            while True:
                rows = store.queue_entries(self.model.seq, batch)
                for row in rows:
                    if row["event_id"] in wanted:
                        pmf = self.model.predict(row["features"])[0]
                        self.targets[row["event_id"]] = floor_pmf(pmf, self.floor)
                    self.model.learn(row["features"], row["chosen_index"], row["reward"], row["probability"],
                                     row["seq"])
                if len(rows) < batch:
                    return

    def close(self) -> None:
        self.model.close()


def offline_beside_live(store, live_vw_args: str, floor: float, results: dict, catalog,
                        replays: dict | None = None) -> list[dict]:
    """For each arm: its live click rate (with the always-valid interval) and the SNIPS estimate
    of its policy on the final decisions of the other arms, with its 95% interval and
    diagnostics. A fixed policy (default, uniform) is what it is; a learning one (the bandit,
    with the model epoch's VW arguments, else ``live_vw_args``; a candidate, with its own) is
    judged progressively (``ProgressiveReplay``): on each decision as its learner stood just
    before learning it, the way it would have drawn live, never by a model that had learned that
    decision's outcome. The ``support`` is the share of the arm's probability mass on artwork
    the log could have shown (logged probability > 0), averaged over decisions: below 1 the log
    does not cover the policy and the estimate speaks only of the part it covers. ``replays``
    (a dict the caller keeps) lets a later call go on from where this one's replays stopped."""
    replays = {} if replays is None else replays
    decisions = [d for d in store.experiment_decisions(results["name"]) if d["final"]]
    defaults = {t["id"]: t["artwork"][default_index(t["artwork"])]["id"] for t in catalog.titles()}
    epoch = store.current_epoch()
    out, wanted_replays = [], set()
    for arm in results["arms"]:
        view = {"arm": arm["name"], "policy": arm["policy"], "live_click_rate": arm["click_rate"],
                "live_ci_low": arm["click_rate_ci"]["ci_low"], "live_ci_high": arm["click_rate_ci"]["ci_high"],
                "offline_estimator": "snips", "offline_value": None, "offline_ci_low": None, "offline_ci_high": None,
                "offline_decisions": 0, "support": None, "effective_sample_size": None}
        rows = [d for d in decisions if d["served_arm"] != arm["name"]]
        if arm["policy"] in MODEL_POLICIES:
            vw_args = arm["vw_args"] if arm["policy"] == "candidate" else epoch["vw_args"] or live_vw_args
            key = (results["name"], arm["name"], vw_args, epoch["epoch"])
            wanted_replays.add(key)
            replay = replays.get(key)
            if replay is None:
                replay = replays[key] = ProgressiveReplay(vw_args, floor, epoch)
            replay.advance(store, {d["event_id"] for d in rows})
            rows = [d for d in rows if d["event_id"] in replay.targets]  # queued (numbered) ones
            targets = [replay.targets[d["event_id"]] for d in rows]
        else:
            targets = [_fixed_pmf(arm["policy"], d, defaults) for d in rows]
        if rows:
            width = max(len(d["pmf"]) for d in rows)
            target = np.zeros((len(rows), width))
            logging = np.zeros((len(rows), width))
            for i, (d, pmf) in enumerate(zip(rows, targets, strict=True)):
                target[i, :len(pmf)] = pmf
                logging[i, :len(d["pmf"])] = d["pmf"]
            estimate = SNIPS(n_bootstrap=0).estimate(
                np.array([float(d["clicked"]) for d in rows]), np.array([d["chosen_index"] for d in rows]),
                np.array([d["probability"] for d in rows]), target)
            view.update(offline_value=estimate.value, offline_ci_low=estimate.ci_low, offline_ci_high=estimate.ci_high,
                        offline_decisions=len(rows), support=float(((logging > 0) * target).sum(axis=1).mean()),
                        effective_sample_size=estimate.diagnostics["effective_sample_size"])
        out.append(view)
    for key in [key for key in replays if key not in wanted_replays]:  # another experiment's, or epoch's
        replays.pop(key).close()
    return out


def _fixed_pmf(policy: str, decision: dict, defaults: dict) -> list[float]:
    """A fixed arm policy's probabilities over a logged decision's candidates: the default
    artwork's, or uniform."""
    candidates = decision["candidates"]
    if policy == "uniform":
        return [1.0 / len(candidates)] * len(candidates)
    pmf = [0.0] * len(candidates)
    default = defaults.get(decision["title_id"])
    pmf[candidates.index(default) if default in candidates else 0] = 1.0
    return pmf


@dataclass(frozen=True, kw_only=True)
class Design:
    """What a simulated experiment runs: its name's stem, its arms, the control, and the
    sentence that says so in the report."""

    name: str
    arms: list[dict]
    control: str
    description: str


def experiment_design(candidate: str | None = None) -> Design:
    """Personalized against default, or, with ``candidate`` (VW arguments), the live bandit
    against a candidate arm of those arguments."""
    if candidate is None:
        return Design(name="personalized-vs-default", arms=ARMS, control=CONTROL,
                      description="half the people served by the live bandit (arm personalized), half by each "
                                  "title's default artwork (arm default, control)")
    return Design(name="live-vs-candidate", control=LIVE_ARM,
                  arms=[{"name": LIVE_ARM, "policy": "bandit", "share": 0.5},
                        {"name": CANDIDATE_ARM, "policy": "candidate", "share": 0.5, "vw_args": candidate}],
                  description=f"half the people served by the live bandit (arm {LIVE_ARM}, control), half by a "
                              f"candidate arm (arm {CANDIDATE_ARM}) whose own model, of VW arguments `{candidate}`, "
                              "learns every arm's events off-policy, once each, in the live model's order")


def served_arms(experiment: dict) -> dict[str, dict]:
    """{arm name: the arm whose policy serves that arm's people} (``experiments.served_arm``)."""
    return {arm["name"]: served_arm(experiment, arm) for arm in experiment["definition"]["arms"]}


def run_experiment(out_dir: Path, visitors: int = 4000, seed: int = 0, world_seed: int = 0,
                   world_people: int = WORLD_PEOPLE, batched: bool = True, candidate: str | None = None,
                   look_every: int | None = None, keep_weights: bool = False, live_vw_args: str | None = None
                   ) -> dict:
    """Run the experiment of ``experiment_design(candidate)`` for ``visitors`` requests in the
    world of ``world_seed``; the log lands in ``out_dir/log``, ``report.json`` and ``report.md``
    beside it. ``look_every``: also read the lift every that many visitors (``report["looks"]``,
    as someone watching the experiment would, with the true lift over those visitors).
    ``keep_weights``: the returned report (not report.json) also holds ``weights``, {"live", and
    each serving candidate arm's name: the model's weights at the end, ``Model.weights``}.
    ``live_vw_args``: the live model's VW arguments (default: the service's, ``DEFAULT_VW_ARGS``).
    Returns the report."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "log"
    paths = data_paths(data_dir)
    if paths["db"].exists():
        raise FileExistsError(f"{paths['db']} exists: simulate into an empty folder")
    design = experiment_design(candidate)
    name = f"{design.name}-seed{seed}"
    check_definition(name, design.arms, design.control)  # refuses a candidate's VW arguments before any file
    overrides = {} if live_vw_args is None else {"VW_ARGS": live_vw_args}
    settings = load_settings({"DATA_DIR": str(data_dir), "SEED": seed, "LEARNER": "manual",
                              "CHECKPOINT_EVERY_EVENTS": 10**9, "CHECKPOINT_EVERY_SECONDS": 10.0**9,
                              "PUBLISH_EVERY_SECONDS": 10.0**9, **overrides}, environ={})
    store = Store(paths["db"], durable=False, writes_per_commit=1000) if batched else Store(paths["db"])
    catalog = demo_titles()
    install_catalog(store, catalog)
    world = World(catalog, WorldParams(n_users=world_people), seed=world_seed)
    clock = SimClock()
    model = Model(settings.vw_args)
    service = Service(settings, store, model, clock=clock)
    learner = Learner(settings, store, model, paths["models"], clock=clock)
    # As app.py wires ROLE=all: the candidate arms' learners hand their models to the decisions.
    learner.candidates.on_model, learner.candidates.on_drop = service.candidates.put, service.candidates.drop
    service.on_final = lambda: None
    rng = np.random.default_rng([seed, 15])
    service.experiments.create(name, design.arms, design.control)
    service.experiments.start(name)
    truth = {arm["name"]: 0.0 for arm in design.arms}
    looks: list[dict] = []
    stopped_after: dict[str, int] = {}
    weights = {}
    try:
        learner.run_once()  # as a learner thread would at once: the candidate arms' learners start
        for i in range(visitors):
            request = world.sample_request(rng)
            served = served_arms(service.experiments.running())
            distinct = list({arm["name"]: arm for arm in served.values()}.values())
            candidates, pmfs = service.decisions.distributions(request.user.id, request.title_id,
                                                               visitor_context(world, request), name, distinct)
            probabilities = world.reward_probabilities(request.user, request.title_id, request.context)
            for arm_name, serving in served.items():
                truth[arm_name] += sum(p * probabilities[a]
                                       for a, p in zip(candidates, pmfs[serving["name"]], strict=True))
            visit(service, world, request, rng)
            clock.now += 1.0
            if (i + 1) % LEARN_EVERY == 0:
                learner.run_once()
                # The running experiment is cached by the process's monotonic clock, not the
                # simulated one: read afresh after each round, so that a guardrail stop is served
                # from the same visitor in every run of these seeds.
                service.experiments.invalidate()
                for stop in service.experiments.running()["arm_stops"]:
                    stopped_after.setdefault(stop["arm"], i + 1)
            if look_every and (i + 1) % look_every == 0:
                looks.append(_look(service.experiments.report(name), truth, i + 1))
        clock.now += settings.reward_wait_seconds
        learner.run_once()
        learner.guardrail.check(force=True)
        store.flush()
        results = service.experiments.report(name)
        offline = offline_beside_live(store, settings.vw_args, settings.propensity_floor, results, service.catalog)
        models = [_candidate_model(service, name, arm) for arm in results["arms"] if arm["policy"] == "candidate"]
        if keep_weights:
            weights = {"live": service.model.weights(),
                       **{arm["name"]: service.candidates.get(name, arm).weights() for arm in results["arms"]
                          if arm["policy"] == "candidate" and not arm["stopped"]}}
    finally:
        model.close()
        store.close()
    report = simulation_report(results, offline, truth, visitors, seed, world_seed, world_people,
                               description=design.description, live_vw_args=settings.vw_args, candidates=models,
                               looks=looks, stopped_after=stopped_after)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(report_markdown(report))
    return {**report, "weights": weights} if keep_weights else report


def _look(results: dict, truth: dict, visitors: int) -> dict:
    """The lift as read after ``visitors`` requests, and the world's true lift over them."""
    treated = next(arm for arm in results["arms"] if not arm["control"])
    return {"visitors": visitors, "people": treated["people"], "value": treated["lift"]["value"],
            "ci_low": treated["lift"]["ci_low"], "ci_high": treated["lift"]["ci_high"],
            "true": truth[treated["name"]] / truth[results["control"]] - 1.0}


def _candidate_model(service: Service, experiment: str, arm: dict) -> dict:
    """A candidate arm's model at the end: its VW arguments, how far it learned (the report's
    ``model``: its queue position, and how many queued events it lacks) beside the live model, and
    whether its weights are the live model's (None once the arm stopped: its model is deleted)."""
    same = None
    if not arm["stopped"]:
        same = service.candidates.get(experiment, arm).weights() == service.model.weights()
    return {"arm": arm["name"], "vw_args": arm["vw_args"], "learned": arm["model"]["learned"],
            "behind": arm["model"]["behind"], "live_learned": service.model.seq, "weights_equal_live": same}


def simulation_report(results: dict, offline: list[dict], truth: dict, visitors: int, seed: int, world_seed: int,
                      world_people: int, *, description: str, live_vw_args: str, candidates: list[dict] = (),
                      looks: list[dict] = (), stopped_after: dict | None = None) -> dict:
    """``report.json``: what was run (``description``, the live model's ``live_vw_args``), the
    arms (``name``, ``people``, ``decisions``, ``click_rate``, ...), the lift with its intervals
    and the world's true lift, a candidate arm's model (``candidates``: VW arguments, how far it
    learned), the lift at each look (``looks``), the guardrail (with the visitors before each
    stop) and offline beside live.
    ``truth``: each arm's expected clicks summed over the requests."""
    true_rates = {arm["name"]: truth[arm["name"]] / visitors for arm in results["arms"]}
    treated = next(arm for arm in results["arms"] if not arm["control"])
    true_lift = true_rates[treated["name"]] / true_rates[results["control"]] - 1.0
    return {
        "experiment": results["name"], "description": description, "live_vw_args": live_vw_args,
        "visitors": visitors, "seed": seed,
        "world_seed": world_seed, "world_people": world_people,
        "arms": [{"name": arm["name"], "policy": arm["policy"], "vw_args": arm.get("vw_args"),
                  "control": arm["control"], "people": arm["people"],
                  "decisions": arm["decisions"], "clicks": arm["clicks"], "click_rate": arm["click_rate"],
                  "click_rate_ci_low": arm["click_rate_ci"]["ci_low"],
                  "click_rate_ci_high": arm["click_rate_ci"]["ci_high"],
                  "quality_play_rate": arm["quality_play_rate"], "true_click_rate": true_rates[arm["name"]],
                  "stopped": arm["stopped"]} for arm in results["arms"]],
        "lift": {"arm": treated["name"], **treated["lift"], "true": true_lift,
                 "interval": "ci_low/ci_high: 95% asymptotic confidence sequence, the person as the unit (valid at "
                             "every look); fixed_ci_*: the fixed-horizon delta-method 95% interval",
                 "holds_true": (treated["lift"]["ci_low"] is not None
                                and treated["lift"]["ci_low"] <= true_lift <= treated["lift"]["ci_high"])},
        "candidate_models": list(candidates),
        "looks": list(looks),
        "guardrail": {**results["guardrail"], "stopped_after_visitors": dict(stopped_after or {})},
        "offline_beside_live": offline,
    }


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _rate(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def report_markdown(report: dict) -> str:
    """The readable report beside ``report.json``."""
    lift = report["lift"]
    lines = [f"# Experiment `{report['experiment']}` in the synthetic world", "",
             f"{report['visitors']} visitors (seed {report['seed']}) from a world of {report['world_people']} people "
             f"(world seed {report['world_seed']}), {report['description']}, through the service's own decision, "
             f"outcome and learning code. The live bandit's VW arguments: `{report['live_vw_args']}`.", "",
             "| arm | policy | people | decisions | click rate (95% CS) | true click rate | quality-play rate |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for arm in report["arms"]:
        lines.append(f"| {arm['name']}{' (control)' if arm['control'] else ''} | {arm['policy']} | {arm['people']} | "
                     f"{arm['decisions']} | {_rate(arm['click_rate'])} [{_rate(arm['click_rate_ci_low'])}, "
                     f"{_rate(arm['click_rate_ci_high'])}] | {_rate(arm['true_click_rate'])} | "
                     f"{_rate(arm['quality_play_rate'])} |")
    lines += ["", f"**Lift of {lift['arm']} over control: {_pct(lift['value'])}**, 95% confidence sequence "
              f"[{_pct(lift['ci_low'])}, {_pct(lift['ci_high'])}] (fixed-horizon interval "
              f"[{_pct(lift['fixed_ci_low'])}, {_pct(lift['fixed_ci_high'])}]); the world's true lift is "
              f"{_pct(lift['true'])}, "
              f"{'inside' if lift['holds_true'] else 'OUTSIDE'} the interval.", ""]
    for found in report["candidate_models"]:
        if found["weights_equal_live"] is None:
            state = "the arm stopped, so its model and checkpoints are deleted"
        else:
            state = (f"its model learned the log up to event {found['learned']} ({found['behind']} queued events "
                     f"behind; the live model is at event {found['live_learned']}), and its weights are "
                     f"{'equal to' if found['weights_equal_live'] else 'not'} the live model's")
        lines += [f"Candidate arm {found['arm']}: VW arguments `{found['vw_args']}`; {state}.", ""]
    guardrail = report["guardrail"]
    stops = [f"{arm} after {visitors} visitors" for arm, visitors in guardrail["stopped_after_visitors"].items()]
    lines += [f"Guardrail: margin {guardrail['margin']:.0%}; stopped arms: "
              f"{', '.join(stops or guardrail['stopped_arms']) or 'none'}.", "",
              "## Offline beside live", "",
              "For each arm, the SNIPS estimate of its policy on the other arms' log (control and exploration) next "
              "to what it earned live. Support below 1: the log never shows some of what the policy would, and the "
              "estimate covers only the rest.", "",
              "| arm | offline said (95% CI) | live says (95% CS) | support | effective sample size |",
              "| --- | --- | --- | ---: | ---: |"]
    for row in report["offline_beside_live"]:
        ess = row["effective_sample_size"]
        support = row["support"]
        lines.append(f"| {row['arm']} | {_rate(row['offline_value'])} [{_rate(row['offline_ci_low'])}, "
                     f"{_rate(row['offline_ci_high'])}] | {_rate(row['live_click_rate'])} "
                     f"[{_rate(row['live_ci_low'])}, {_rate(row['live_ci_high'])}] | "
                     f"{'n/a' if support is None else f'{support:.2f}'} | "
                     f"{'n/a' if ess is None else f'{ess:.0f}'} |")
    return "\n".join(lines) + "\n"


# The statistics, checked fast on per-person data from the world -------------------------------------

class PersonLevelWorld:
    """Experiments in the world at the level the statistics see them, without the service: the
    exact click probability of every (person, title, time bucket x device) under each fixed
    policy, people assigned to arms by ``experiments.assign_arm``, clicks drawn, per-person
    aggregates out. Thousands of seeded experiments run in seconds, so the intervals' coverage,
    the A/A false-positive share under peeking and the guardrail's stopping time are checked
    over many experiments (``tests/test_experiment_stats.py``, ``benchmarks/experiments.py``).

    Policies: ``"default"`` (each title's default artwork) and ``"personalized"`` (the world's
    oracle: the artwork each person is likeliest to click in that context). ``true_rate`` is a
    policy's exact click rate over the request distribution (people and titles uniform, the
    context by the world's weights)."""

    POLICIES = ("default", "personalized")

    def __init__(self, people: int = 300, world_seed: int = 0):
        from artwork.vocab import DEVICES

        from .world import TIME_BUCKETS

        catalog = demo_titles()
        self.world = World(catalog, WorldParams(n_users=people), seed=world_seed)
        self.users = [u.id for u in self.world.users]
        defaults = {t["id"]: t["artwork"][default_index(t["artwork"])]["id"] for t in catalog}
        cells = [(b, d) for b in TIME_BUCKETS for d in DEVICES]
        params = self.world.params
        self.cell_weights = np.array([params.time_bucket_weights[TIME_BUCKETS.index(b)]
                                      * params.device_weights[DEVICES.index(d)] for b, d in cells])
        titles = self.world.title_ids
        self.click = np.zeros((len(self.POLICIES), len(self.users), len(titles), len(cells)))
        for u, user in enumerate(self.world.users):
            for t, title_id in enumerate(titles):
                for c, (bucket, device) in enumerate(cells):
                    probabilities = self.world.reward_probabilities(user, title_id,
                                                                    {"time_bucket": bucket, "device": device})
                    self.click[0, u, t, c] = probabilities[defaults[title_id]]
                    self.click[1, u, t, c] = max(probabilities.values())

    def true_rate(self, policy: str, factor: float = 1.0) -> float:
        """The policy's exact click rate (``factor`` scales every probability: a worse arm)."""
        return float((self.click[self.POLICIES.index(policy)] * factor).mean(axis=(0, 1)) @ self.cell_weights)

    def run(self, rng: np.random.Generator, name: str, arms: list[tuple[str, float]], requests: int,
            looks: int = 1):
        """One experiment of ``requests`` requests, half the people in each of the two ``arms``
        ((policy, factor): the factor scales its click probabilities); yields, at each of
        ``looks`` evenly spaced looks, the per-person (decisions, clicks) of each arm so far,
        as two (people, 2) arrays."""
        from artwork.experiments import assign_arm

        shares = [{"name": str(i), "share": 0.5} for i in range(2)]
        arm_of = np.array([int(assign_arm(name, user, shares)["name"]) for user in self.users])
        people = rng.integers(len(self.users), size=requests)
        titles = rng.integers(self.click.shape[2], size=requests)
        cells = rng.choice(len(self.cell_weights), size=requests, p=self.cell_weights)
        arm = arm_of[people]
        policy = np.array([self.POLICIES.index(arms[0][0]), self.POLICIES.index(arms[1][0])])[arm]
        factor = np.array([arms[0][1], arms[1][1]])[arm]
        clicks = rng.random(requests) < self.click[policy, people, titles, cells] * factor
        for end in np.linspace(0, requests, looks + 1).astype(int)[1:]:
            out = []
            for a in (0, 1):
                mine = arm[:end] == a
                decisions = np.bincount(people[:end][mine], minlength=len(self.users))
                clicked = np.bincount(people[:end][mine], weights=clicks[:end][mine], minlength=len(self.users))
                seen = decisions > 0
                out.append(np.column_stack([decisions[seen], clicked[seen]]))
            yield out[0], out[1]


def lift_of(arm: np.ndarray, control: np.ndarray):
    """``experiment_stats.lift`` of two arms' per-person (decisions, clicks) arrays."""
    from artwork import experiment_stats as stats

    return stats.lift(stats.ratio_rate(arm[:, 1], arm[:, 0]), stats.ratio_rate(control[:, 1], control[:, 0]))
