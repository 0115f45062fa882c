"""Online simulation: run policies in the synthetic world, through the service's own code.

Each (policy, seed) run gets its own data directory and a real ``Service`` with a simulated
clock: the world's people make requests, ``Service.select_artwork`` decides and logs exactly
as in production, the world draws a click (and a play) from its true model, the outcome goes
through ``Service.record_outcome``, and the ``Learner`` learns as it would live. The log each
run leaves behind is a service database, ready for ``artwork evaluate``.

Policies are VW argument strings, so the baselines run through the same code too: uniform
random is ``--epsilon 1``; the context-free "best artwork per title for everyone" sees only the
artwork id (every other namespace ``--ignore``d). The oracle is not run: its value at each
impression is computed exactly from the world.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from artwork.catalog import data_paths
from artwork.config import DEFAULT_VW_ARGS, Settings, load_settings
from artwork.learner import Learner
from artwork.policy import Model
from artwork.service import Service
from artwork.storage import Store

from .world import World, WorldParams

_INTERACTIONS = " -q GH -q GO -q GS -q GA -q TO -q TH -q DS"
_CONTEXT_FREE_IGNORES = " ".join(f"--ignore {ns}" for ns in "GTKDMHOSC")
#: The service's default before the decision-quality benchmark (benchmarks/README.md).
PREVIOUS_DEFAULT_VW_ARGS = "--cb_explore_adf --epsilon 0.1 --cb_type mtr" + _INTERACTIONS


@dataclass(frozen=True)
class PolicySpec:
    """A named VW policy for simulation and evaluation."""

    name: str
    vw_args: str
    description: str
    #: The service's ``PROPENSITY_FLOOR`` for this policy (None: the setting's default).
    propensity_floor: float | None = None

    def floor(self) -> float:
        """The propensity floor the service applies to this policy."""
        return Settings().propensity_floor if self.propensity_floor is None else self.propensity_floor


POLICIES: dict[str, PolicySpec] = {p.name: p for p in (
    PolicySpec("uniform", "--cb_explore_adf --epsilon 1.0", "uniform random over the title's artwork"),
    PolicySpec("context-free", f"--cb_explore_adf --epsilon 0.1 {_CONTEXT_FREE_IGNORES}",
               "best artwork per title for everyone (artwork id only), epsilon 0.1"),
    PolicySpec("default", DEFAULT_VW_ARGS, "the service default: contextual, SquareCB (see README)"),
    PolicySpec("default-unfloored", DEFAULT_VW_ARGS, "the service default with PROPENSITY_FLOOR 0: the learner"
               " alone, logging probabilities as small as SquareCB makes them", propensity_floor=0.0),
    PolicySpec("epsilon-greedy", PREVIOUS_DEFAULT_VW_ARGS, "the previous default: contextual, epsilon 0.1"),
    PolicySpec("softmax", "--cb_explore_adf --softmax --lambda 10" + _INTERACTIONS, "contextual, softmax lambda 10"),
    PolicySpec("squarecb", "--cb_explore_adf --squarecb" + _INTERACTIONS, "contextual, SquareCB"),
    PolicySpec("bag", "--cb_explore_adf --bag 5" + _INTERACTIONS, "contextual, bagging with 5 models"),
    PolicySpec("cover", "--cb_explore_adf --cover 4" + _INTERACTIONS, "contextual, online cover with 4 policies"),
)}

DEFAULT_POLICIES = ("uniform", "context-free", "epsilon-greedy", "default")

#: Start of simulated time (2026-11-23 00:00 UTC) and the simulated seconds between impressions.
SIM_START = 1_795_392_000.0
SECONDS_PER_IMPRESSION = 1.0


class SimClock:
    def __init__(self, now: float = SIM_START):
        self.now = now

    def __call__(self) -> float:
        return self.now


def policy_spec(name_or_args: str) -> PolicySpec:
    """A registered policy by name, or an ad-hoc one from VW arguments."""
    if name_or_args in POLICIES:
        return POLICIES[name_or_args]
    if "--cb_explore_adf" not in name_or_args.split():
        raise ValueError(f"unknown policy {name_or_args!r}: use one of {', '.join(POLICIES)} or VW arguments "
                         "including --cb_explore_adf")
    return PolicySpec(name_or_args, name_or_args, "custom VW arguments")


def install_catalog(store: Store, catalog: list[dict]) -> None:
    """Titles and artwork tags only: a simulation needs no image files."""
    with store.write() as conn:
        for title in catalog:
            store.put_title(conn, title, {}, SIM_START)


@dataclass
class RunResult:
    policy: str
    seed: int
    reward: str
    database: str
    #: per impression: the true reward probability of the shown artwork, of the oracle's pick,
    #: and the reward actually drawn.
    expected: np.ndarray
    oracle: np.ndarray
    observed: np.ndarray
    #: per impression: the mean true reward probability over the title's artwork (uniform's value)
    uniform: np.ndarray | None = None
    #: the smallest probability logged with a shown artwork, and the run's wall-clock seconds
    min_propensity: float = 1.0
    seconds: float = 0.0


def run_policy(world: World, spec: PolicySpec, n_impressions: int, seed: int, out_dir: Path, *,
               reward: str = "click", learn_every: int = 10, progress=None, batched: bool = True) -> RunResult:
    """Run one policy for ``n_impressions`` in the world; the log lands in ``out_dir``.

    ``batched``: the store commits once per 1,000 writes and never waits for the disk (the
    default; a simulation acknowledges nothing to anyone); False gives the service's own durable
    store, one commit per write, with the same results."""
    data_dir = Path(out_dir) / f"{spec.name}-seed{seed}"
    paths = data_paths(data_dir)
    if paths["db"].exists():
        raise FileExistsError(f"{paths['db']} exists: simulate into an empty folder")
    settings = load_settings({
        "DATA_DIR": str(data_dir), "VW_ARGS": spec.vw_args, "POLICY_NAME": spec.name, "SEED": seed,
        "LEARNER": "manual", "REWARD": reward, "CHECKPOINT_EVERY_EVENTS": 10**9,
        "CHECKPOINT_EVERY_SECONDS": 10.0**9,
        "PROPENSITY_FLOOR": spec.floor()}, environ={})
    # Nothing here is acknowledged to anyone: no fsync, one commit per 1,000 writes (each write
    # block still all or nothing). The decisions, outcomes and learning are the service's own.
    store = Store(paths["db"], durable=False, writes_per_commit=1000) if batched else Store(paths["db"])
    live = set(world.titles_live(0.0))
    install_catalog(store, [t for t in world.catalog if t["id"] in live])
    late = [t for t in world.catalog if t["id"] not in live]  # added when the world says they exist
    clock = SimClock()
    model = Model(spec.vw_args)
    service = Service(settings, store, model, clock=clock)
    learner = Learner(settings, store, model, paths["models"], clock=clock)
    rng = np.random.default_rng([seed, 7])
    expected, oracle, observed, uniform = (np.zeros(n_impressions) for _ in range(4))
    min_propensity = 1.0
    started = time.perf_counter()
    try:
        for i in range(n_impressions):
            done = i / n_impressions  # how far through the run: the world's clock for late titles and drift
            if late and late[0]["id"] in world.titles_live(done):
                install_catalog(store, late)
                service.catalog.invalidate()
                late = []
            request = world.sample_request(rng, progress=done)
            user, title_id, ctx = request.user, request.title_id, request.context
            result = service.select_artwork(user.id, [title_id], {
                "time": ctx["time"], "device": ctx["device"], "genre_affinity": world.estimated_affinity(user)})
            decision = result["decisions"][0]
            min_propensity = min(min_propensity, decision["probability"])
            truth = world.reward_probabilities(user, title_id, ctx, reward)
            expected[i] = truth[decision["artwork_id"]]
            oracle[i] = max(truth.values())
            uniform[i] = sum(truth.values()) / len(truth)
            outcome = world.draw_outcome(rng, user, title_id, decision["artwork_id"], ctx)
            if outcome.clicked:
                service.record_outcome(decision["event_id"], "click")
            if outcome.played_seconds > 0:
                service.record_outcome(decision["event_id"], "play", outcome.played_seconds)
            observed[i] = outcome.reward(reward)
            clock.now += SECONDS_PER_IMPRESSION
            if (i + 1) % learn_every == 0:
                learner.run_once()
            if progress is not None:
                progress(1)
        clock.now += settings.reward_wait_seconds  # let every window close
        learner.run_once()
        learner.checkpoint()
        meta = {"world_seed": world.seed, "world_params": asdict(world.params), "policy": spec.name,
                "vw_args": spec.vw_args, "seed": seed, "reward": reward, "impressions": n_impressions}
        (data_dir / "simulation.json").write_text(json.dumps(meta, indent=2))
    finally:
        model.close()
        store.close()
    return RunResult(spec.name, seed, reward, str(paths["db"]), expected, oracle, observed, uniform,
                     min_propensity, time.perf_counter() - started)


def lift_share(expected: np.ndarray, uniform: np.ndarray, oracle: np.ndarray) -> float:
    """The share of the oracle's lift over uniform that a policy captured: 0 is uniform's value,
    1 the oracle's (exact expected rewards over the same impressions, so no sampling noise)."""
    gap = float(oracle.mean() - uniform.mean())
    return float(expected.mean() - uniform.mean()) / gap if gap > 0 else float("nan")


def world_from_log_dir(data_dir: Path, catalog: list[dict]) -> World | None:
    """The world a simulated log came from (``simulation.json`` beside it), or None."""
    meta_path = Path(data_dir) / "simulation.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    params = WorldParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["world_params"].items()})
    return World(catalog, params, seed=meta["world_seed"])


def learning_curves(results: list[RunResult], points: int = 40) -> list[dict]:
    """Reward rate (true expected reward of what was shown) per window of impressions, per
    policy: mean and min/max band over seeds, plus the oracle's and cumulative regret."""
    rows = []
    by_policy: dict[str, list[RunResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    for policy, runs in by_policy.items():
        n = min(len(r.expected) for r in runs)
        edges = np.unique(np.linspace(0, n, points + 1).astype(int))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            rates = np.array([r.expected[lo:hi].mean() for r in runs])
            oracle = np.array([r.oracle[lo:hi].mean() for r in runs])
            regret = np.array([(r.oracle[:hi] - r.expected[:hi]).sum() for r in runs])
            rows.append({"policy": policy, "impressions": int(hi), "reward_rate": float(rates.mean()),
                         "reward_rate_low": float(rates.min()), "reward_rate_high": float(rates.max()),
                         "oracle_rate": float(oracle.mean()), "cumulative_regret": float(regret.mean()),
                         "seeds": len(runs)})
    return rows


def summary_rows(results: list[RunResult], tail_fraction: float = 0.2) -> list[dict]:
    """Per policy: overall and final-stretch reward rate, oracle rate and regret, over seeds."""
    rows = []
    by_policy: dict[str, list[RunResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    for policy, runs in by_policy.items():
        tail = [r.expected[-max(1, int(len(r.expected) * tail_fraction)):].mean() for r in runs]
        rows.append({
            "policy": policy, "description": POLICIES[policy].description if policy in POLICIES else policy,
            "seeds": len(runs), "impressions": len(runs[0].expected),
            "reward_rate": float(np.mean([r.expected.mean() for r in runs])),
            "final_reward_rate": float(np.mean(tail)), "final_reward_rate_sd": float(np.std(tail)),
            "observed_rate": float(np.mean([r.observed.mean() for r in runs])),
            "oracle_rate": float(np.mean([r.oracle.mean() for r in runs])),
            "regret": float(np.mean([(r.oracle - r.expected).sum() for r in runs])),
        })
    return rows


def write_simulation_report(results: list[RunResult], out_dir: Path, *, reward: str) -> Path:
    """curves.csv, summary.csv, learning_curves.png, regret.png and README.md in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report import markdown_table, write_rows_csv

    out_dir = Path(out_dir)
    curves, summary = learning_curves(results), summary_rows(results)
    write_rows_csv(curves, out_dir / "curves.csv")
    write_rows_csv(summary, out_dir / "summary.csv")
    policies = list(dict.fromkeys(r["policy"] for r in curves))
    for metric, filename, ylabel in (("reward_rate", "learning_curves.png", f"true {reward} rate of shown artwork"),
                                     ("cumulative_regret", "regret.png", "cumulative regret vs oracle")):
        fig, ax = plt.subplots(figsize=(8, 4.8))
        for policy in policies:
            pts = [r for r in curves if r["policy"] == policy]
            x = [p["impressions"] for p in pts]
            ax.plot(x, [p[metric] for p in pts], label=policy)
            if metric == "reward_rate":
                ax.fill_between(x, [p["reward_rate_low"] for p in pts], [p["reward_rate_high"] for p in pts], alpha=0.2)
        if metric == "reward_rate":
            pts = [r for r in curves if r["policy"] == policies[0]]
            ax.plot([p["impressions"] for p in pts], [p["oracle_rate"] for p in pts], "k--", label="oracle")
        ax.set_xlabel("impressions")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} (band: min-max over {results and max(r['seeds'] for r in curves)} seeds)"
                     if metric == "reward_rate" else ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / filename, dpi=110)
        plt.close(fig)
    columns = [("policy", "policy"), ("reward_rate", "reward rate"), ("final_reward_rate", "final 20%"),
               ("oracle_rate", "oracle"), ("regret", "regret"), ("seeds", "seeds"), ("impressions", "impressions"),
               ("description", "what it is")]
    text = [f"# Simulation: {reward} reward", "",
            "Reward rates are the world's true expected reward of the artwork each policy showed (so they "
            "carry no click-sampling noise); regret is the oracle's expected reward minus the policy's, "
            "summed over impressions. Logs of every run are service databases in the sub-folders.", "",
            markdown_table(summary, columns), "", "![learning curves](learning_curves.png)", "",
            "![regret](regret.png)", ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(text))
    return path


def run_simulation(world: World, policies: list[PolicySpec], n_impressions: int, seeds: list[int], out_dir: Path,
                   *, reward: str = "click", show_progress: bool = True) -> list[RunResult]:
    """Every policy for every seed, with one progress bar over all impressions."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    total = len(policies) * len(seeds) * n_impressions
    with tqdm(total=total, unit="imp", disable=not show_progress, desc="simulating") as bar:
        for spec in policies:
            for seed in seeds:
                bar.set_postfix_str(f"{spec.name} seed {seed}")
                results.append(run_policy(world, spec, n_impressions, seed, out_dir, reward=reward,
                                          progress=bar.update))
    write_simulation_report(results, out_dir, reward=reward)
    return results
