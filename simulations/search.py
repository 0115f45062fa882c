"""Policy search: sweep VW arguments on a log and rank them by the lower bound of their interval.

Promoting a policy on its point estimate rewards luck; ranking by the 95% lower bound promotes
the policy we are most sure is good. Each configuration is trained progressively on the log
(predict a round, then learn it) and judged by one estimator (DR by default).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .estimators import make_estimator
from .evaluate import vw_progressive_dist
from .logs import BanditLog
from .report import markdown_table, write_rows_csv

EXPLORATION = {
    "epsilon 0.05": "--epsilon 0.05",
    "epsilon 0.1": "--epsilon 0.1",
    "epsilon 0.2": "--epsilon 0.2",
    "softmax 10": "--softmax --lambda 10",
    "squarecb": "--squarecb",
    # the service's default exploration and learner (README, "Why these defaults")
    "squarecb, constant rate": "--squarecb --gamma_exponent 0.7 --power_t 0 --clip_p 1",
}
INTERACTIONS = {
    "none": "",
    "taste x artwork": "-q GH -q GO -q GS -q GA",
    "previous default": "-q GH -q GO -q GS -q GA -q TO -q TH -q DS",
    "default": "-q GH -q GO -q GS -q GA -q TO -q TH -q KO -q KH -q DS",
}
LEARNING_RATES = (0.1, 0.5, 2.0)


@dataclass(frozen=True)
class Config:
    exploration: str
    interactions: str
    learning_rate: float
    #: the ``-q`` arguments the interaction set's name stands for
    interaction_args: str = ""

    @property
    def vw_args(self) -> str:
        parts = ["--cb_explore_adf", EXPLORATION[self.exploration], self.interaction_args,
                 f"-l {self.learning_rate:g}"]
        return " ".join(p for p in parts if p)


def interaction_sets(log: BanditLog) -> dict[str, str]:
    """The interaction sets to sweep on ``log``: the artwork sets for the service's own logs; for a
    log with its own features, none or its context crossed with its actions."""
    if log.interactions is None:
        return INTERACTIONS
    return {"none": "", "context x action": log.interactions}


def grid(exploration=None, interactions=None, learning_rates=None, *, sets=INTERACTIONS) -> list[Config]:
    """Every combination; ``interactions`` are names in ``sets`` (default: all of them)."""
    return [Config(e, i, lr, sets[i]) for e, i, lr in itertools.product(
        exploration or list(EXPLORATION), interactions or list(sets), learning_rates or LEARNING_RATES)]


def quick_grid(log: BanditLog) -> list[Config]:
    """A small grid: epsilon 0.1 and 0.2, without interactions and with the richest set, one rate."""
    sets = interaction_sets(log)
    return grid(["epsilon 0.1", "epsilon 0.2"], ["none", list(sets)[-1]], [0.5], sets=sets)


def search(log: BanditLog, configs: list[Config], reward_hat: np.ndarray, *, estimator: str = "DR",
           truth: np.ndarray | None = None, progress=None) -> list[dict]:
    """Rows sorted best first by the estimator's 95% lower bound."""
    est = make_estimator(estimator)
    rows = []
    for config in configs:
        dist = vw_progressive_dist(log, config.vw_args)
        result = est.estimate(reward=log.reward, action=log.action, pscore=log.pscore, action_dist=dist,
                              reward_hat=reward_hat)
        rows.append({
            "exploration": config.exploration, "interactions": config.interactions,
            "learning_rate": config.learning_rate, "vw_args": config.vw_args, "estimator": result.estimator,
            "value": result.value, "ci_low": result.ci_low, "ci_high": result.ci_high,
            "true_value": None if truth is None else float(np.mean(np.sum(dist * truth, axis=1))),
            "effective_sample_size": result.diagnostics.get("effective_sample_size"),
        })
        if progress is not None:
            progress(1)
    rows.sort(key=lambda r: -r["ci_low"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def write_search_report(rows: list[dict], log: BanditLog, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows_csv(rows, out_dir / "search.csv")
    columns = [("rank", "rank"), ("exploration", "exploration"), ("interactions", "interactions"),
               ("learning_rate", "learning rate"), ("value", "estimate"), ("ci_low", "95% low"),
               ("ci_high", "95% high"), ("true_value", "true value"), ("effective_sample_size", "ESS")]
    best = rows[0]
    text = ["# Policy search", "", f"Log: {log.source}, {log.n_rounds} rounds. Estimator: {best['estimator']}. "
            "Ranked by the lower bound of the 95% interval (the promotion rule).", "",
            f"Best: `{best['vw_args']}` (estimate {best['value']:.4f}, 95% interval "
            f"[{best['ci_low']:.4f}, {best['ci_high']:.4f}]).", "", markdown_table(rows, columns), ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(text))
    return path
