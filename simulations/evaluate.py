"""Offline (counterfactual) evaluation of candidate policies on a log.

Candidates, each turned into an ``action_dist`` over the log's rounds:

- ``logging``: the policy that wrote the log (its logged probabilities);
- ``uniform``: uniform random over each round's candidates;
- ``context-free-best``: at each round, the artwork with the best IPS estimate of its click
  rate so far (rounds before this one only) - the approach before personalization;
- VW policies from arguments, trained progressively: each round is predicted before the
  policy learns from it, so no round is evaluated by a model that has seen it;
- ``oracle``: when the log came from the synthetic world, the true best artwork per round.

The reward model for DM/DR/Switch-DR is a VW regression (logistic for 0/1 rewards) on the
logged (context, artwork) features, cross-fitted in two folds (each half predicted by a model
trained on the other half). When the world is known, every candidate's true value on the same rounds
is computed exactly and shown beside the estimates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vowpalwabbit

from artwork.config import Settings
from artwork.features import namespaces_text, to_vw
from artwork.policy import floor_pmf

from .estimators import Replay, make_estimator
from .logs import BanditLog
from .report import markdown_table, write_rows_csv
from .simulate import POLICIES, PolicySpec, policy_spec
from .world import World

REWARD_MODEL_ARGS = "-q GH -q TO -q DS"
#: (estimator, options) pairs of the default report: the five classics plus a clipped IPS and a
#: Switch-DR, which trade a little bias for much less variance when some weights are large.
DEFAULT_ESTIMATORS = (
    ("Replay", {}), ("IPS", {}), ("IPS", {"clip": 20.0, "estimator_name": "ips-clip20"}), ("SNIPS", {}),
    ("DM", {}), ("DR", {}), ("SwitchDR", {"tau": 20.0, "estimator_name": "switch-dr-20"}),
)


@dataclass
class Candidate:
    name: str
    description: str
    action_dist: np.ndarray
    true_value: float | None = None


def uniform_dist(log: BanditLog) -> np.ndarray:
    mask = log.candidate_mask().astype(float)
    return mask / mask.sum(axis=1, keepdims=True)


def context_free_best_dist(log: BanditLog) -> np.ndarray:
    """Progressive: each round picks the candidate with the best IPS click-rate estimate from
    the rounds before it (ties and unseen artwork: the first candidate)."""
    dist = np.zeros((log.n_rounds, log.n_actions))
    shown_value: dict[str, float] = {}  # sum of r/p when this artwork was chosen
    offered: dict[str, int] = {}  # rounds in which it was a candidate
    for i in range(log.n_rounds):
        cands = log.candidates[i]
        scores = [shown_value.get(a, 0.0) / offered[a] if offered.get(a) else 0.0 for a in cands]
        dist[i, int(np.argmax(scores))] = 1.0
        for a in cands:
            offered[a] = offered.get(a, 0) + 1
        chosen = cands[int(log.action[i])]
        shown_value[chosen] = shown_value.get(chosen, 0.0) + float(log.reward[i]) / float(log.pscore[i])
    return dist


def vw_progressive_dist(log: BanditLog, vw_args: str,
                        floor: float = Settings().propensity_floor) -> np.ndarray:
    """The pmf a VW policy would have given each round, having learned only the rounds before,
    with the service's propensity floor applied (what the service would have shown with)."""
    ws = vowpalwabbit.Workspace(f"{vw_args} --quiet")
    dist = np.zeros((log.n_rounds, log.n_actions))
    try:
        for i in range(log.n_rounds):
            feats = log.features[i]
            pmf = np.asarray(ws.predict(to_vw(feats)), dtype=float)
            dist[i, :len(pmf)] = floor_pmf(list(pmf / pmf.sum()), floor)
            ws.learn(to_vw(feats, label=(int(log.action[i]), -float(log.reward[i]), float(log.pscore[i]))))
    finally:
        ws.finish()
    return dist


def _regression_line(features: dict, index: int, label: float | None = None) -> str:
    """One candidate as a plain VW regression example: the context and that artwork's features."""
    text = namespaces_text(features["shared"]) + " " + namespaces_text(features["actions"][index])
    return text if label is None else f"{label:g} {text}"


def reward_model(log: BanditLog, folds: int = 2, epochs: int = 2) -> np.ndarray:
    """Cross-fitted predictions of every candidate's reward, shape (n_rounds, n_actions).

    A VW regression on (context, artwork) features of the logged choices: logistic when every
    reward is 0 or 1 (clicks, quality plays), squared loss otherwise; a log with its own features
    crosses its own context and action namespaces (``BanditLog.interactions``). Each fold is predicted by a
    model trained on the other folds only.
    """
    binary = bool(np.isin(log.reward, (0.0, 1.0)).all())
    interactions = REWARD_MODEL_ARGS if log.interactions is None else log.interactions
    args = (interactions + (" --loss_function logistic --link logistic" if binary else "")) + " --quiet"
    reward_hat = np.zeros((log.n_rounds, log.n_actions))
    fold_of = np.arange(log.n_rounds) % folds
    for fold in range(folds):
        ws = vowpalwabbit.Workspace(args)
        try:
            train = np.flatnonzero(fold_of != fold)
            for _ in range(epochs):
                for i in train:
                    label = (1.0 if log.reward[i] > 0 else -1.0) if binary else float(log.reward[i])
                    ws.learn(_regression_line(log.features[i], int(log.action[i]), label))
            for i in np.flatnonzero(fold_of == fold):
                for j in range(len(log.candidates[i])):
                    reward_hat[i, j] = ws.predict(_regression_line(log.features[i], j))
        finally:
            ws.finish()
    return reward_hat if not binary else np.clip(reward_hat, 0.0, 1.0)


#: Exploration of the VW policies evaluated on a log with its own features (a DSJSON log from
#: Personalizer or the Decision Service), each crossed with the log's own namespaces: the
#: registered policies' interactions name the artwork namespaces, which such a log does not have.
OWN_FEATURE_EXPLORATION = {
    "epsilon-greedy": ("--epsilon 0.1", "contextual, epsilon 0.1"),
    "squarecb": ("--squarecb", "contextual, SquareCB"),
    "softmax": ("--softmax --lambda 10", "contextual, softmax lambda 10"),
    "uniform": ("--epsilon 1.0", "uniform random"),
}


def policy_specs_for(log: BanditLog, names) -> list[PolicySpec]:
    """The VW policies to evaluate on ``log``: registered names or VW arguments for the service's
    own logs; for a log with its own features, the names of ``OWN_FEATURE_EXPLORATION`` (crossed
    with the log's namespaces) or VW arguments (taken as they are)."""
    if log.interactions is None:
        return [policy_spec(name) for name in names]
    specs = []
    for name in names:
        if name in OWN_FEATURE_EXPLORATION:
            exploration, description = OWN_FEATURE_EXPLORATION[name]
            specs.append(PolicySpec(name, f"--cb_explore_adf {exploration} {log.interactions}".strip(), description))
        elif name in POLICIES:
            raise ValueError(f"policy {name!r} is built on the artwork features, which this log does not have: use "
                             f"one of {', '.join(OWN_FEATURE_EXPLORATION)} or VW arguments")
        else:
            specs.append(policy_spec(name))
    return specs


def true_reward_matrix(log: BanditLog, world: World, reward: str) -> np.ndarray:
    """The world's true reward probability of every candidate in every round."""
    users = {u.id: u for u in world.users}
    truth = np.zeros((log.n_rounds, log.n_actions))
    for i in range(log.n_rounds):
        user = users.get(log.user_ids[i])
        if user is None:
            raise ValueError(f"round {i}: user {log.user_ids[i]!r} is not in the world: is this the right log?")
        probs = world.reward_probabilities(user, log.title_ids[i], log.contexts[i], reward)
        truth[i, :len(log.candidates[i])] = [probs[a] for a in log.candidates[i]]
    return truth


def candidate_policies(log: BanditLog, vw_policies: list[PolicySpec] = (), *, include_logging: bool = True,
                       truth: np.ndarray | None = None, progress=None) -> list[Candidate]:
    """Build every candidate's action_dist on the log (and true value when ``truth`` is given)."""
    candidates = []
    if include_logging and log.logging_pmf is not None:
        candidates.append(Candidate("logging", "the policy that wrote the log", log.logging_pmf))
    candidates.append(Candidate("uniform", "uniform random", uniform_dist(log)))
    candidates.append(Candidate("context-free-best", "best artwork so far, same for everyone (progressive)",
                                context_free_best_dist(log)))
    for spec in vw_policies:
        candidates.append(Candidate(f"vw:{spec.name}", f"{spec.description} [{spec.vw_args}]",
                                    vw_progressive_dist(log, spec.vw_args, spec.floor())))
        if progress is not None:
            progress(1)
    if truth is not None:
        oracle = np.zeros_like(truth)
        oracle[np.arange(log.n_rounds), truth.argmax(axis=1)] = 1.0
        candidates.append(Candidate("oracle", "the true best artwork per round (known world only)", oracle))
        for c in candidates:
            c.true_value = float(np.mean(np.sum(c.action_dist * truth, axis=1)))
    return candidates


def evaluate(log: BanditLog, candidates: list[Candidate], reward_hat: np.ndarray,
             estimators=DEFAULT_ESTIMATORS, **estimator_options) -> list[dict]:
    """One row per (candidate, estimator): value, 95% interval, diagnostics, truth if known.

    ``estimators`` holds (name, options) pairs for ``estimators.make_estimator``.
    Replay is only defined for deterministic policies, so stochastic candidates get no replay row.
    """
    rows = []
    for cand in candidates:
        deterministic = bool(np.allclose(cand.action_dist.max(axis=1), 1.0))
        for name, options in estimators:
            estimator = make_estimator(name, **{**estimator_options, **options})
            if isinstance(estimator, Replay) and not deterministic:
                continue
            est = estimator.estimate(reward=log.reward, action=log.action, pscore=log.pscore,
                                     action_dist=cand.action_dist, reward_hat=reward_hat)
            diag = est.diagnostics
            ess = diag.get("effective_sample_size")
            rows.append({
                "policy": cand.name, "estimator": est.estimator, "value": est.value, "ci_low": est.ci_low,
                "ci_high": est.ci_high, "ci_method": est.ci_method, "true_value": cand.true_value,
                "covered": None if cand.true_value is None else bool(est.ci_low <= cand.true_value <= est.ci_high),
                "n_rounds": diag.get("n_rounds"), "matched": diag.get("matched"), "effective_sample_size": ess,
                "ess_fraction": None if ess is None else ess / max(1, log.n_rounds),
                "max_weight": diag.get("max_weight"),
            })
    return rows


def write_evaluation_report(rows: list[dict], log: BanditLog, out_dir: Path, *,
                            title: str = "Offline evaluation") -> Path:
    """CSV, a Markdown summary and a plot of estimates (with intervals) beside the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows_csv(rows, out_dir / "estimates.csv")
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    estimators = list(dict.fromkeys(r["estimator"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(policies)), 4.5))
    width = 0.8 / len(estimators)
    for j, est in enumerate(estimators):
        position = {p: k for k, p in enumerate(policies)}
        sub = [r for r in rows if r["estimator"] == est]
        x = np.array([position[r["policy"]] for r in sub]) + (j - (len(estimators) - 1) / 2) * width
        values = np.array([r["value"] for r in sub])
        err = np.array([[r["value"] - r["ci_low"] for r in sub], [r["ci_high"] - r["value"] for r in sub]])
        ax.errorbar(x, values, yerr=np.clip(err, 0, None), fmt="o", capsize=3, label=est)
    truths = [next((r["true_value"] for r in rows if r["policy"] == p), None) for p in policies]
    if any(t is not None for t in truths):
        for k, t in enumerate(truths):
            if t is not None:
                ax.hlines(t, k - 0.45, k + 0.45, colors="black", linewidth=2, label="true value" if k == 0 else None)
    ax.set_xticks(np.arange(len(policies)), policies, rotation=20, ha="right")
    ax.set_ylabel("estimated reward per impression")
    ax.set_title(f"{title}: {log.n_rounds} logged rounds")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out_dir / "estimates.png", dpi=110)
    plt.close(fig)
    columns = [("policy", "policy"), ("estimator", "estimator"), ("value", "estimate"), ("ci_low", "95% low"),
               ("ci_high", "95% high"), ("true_value", "true value"), ("ess_fraction", "ESS / n"),
               ("max_weight", "max weight"), ("matched", "matched (replay)")]
    summary = [f"# {title}", "", f"Log: {log.source}, {log.n_rounds} rounds with final rewards, "
               f"mean logged reward {float(np.mean(log.reward)) if log.n_rounds else 0:.4f}.", "",
               markdown_table(rows, columns), "",
               "Intervals are 95%; `ci_method` in estimates.csv says whether each is analytic or bootstrap. "
               "True values are exact expectations under the synthetic world on the same rounds "
               "(shown only when the log came from the world). ESS / n is the effective sample size "
               "of the importance weights as a share of the rounds: below about 0.1, a few heavily "
               "weighted rounds decide the IPS-type estimates and their analytic intervals are too "
               "narrow; trust DR and the bootstrap interval (estimates.csv) more there. Replay is shown "
               "for deterministic policies only.", "", "![estimates](estimates.png)", ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(summary))
    (out_dir / "estimates.json").write_text(json.dumps(rows, indent=2))
    return path


def run_evaluation(log: BanditLog, out_dir: Path, *, vw_policies: list[PolicySpec] = (), world: World | None = None,
                   reward: str = "click", estimators=DEFAULT_ESTIMATORS, show_progress: bool = True) -> list[dict]:
    """Everything ``artwork evaluate`` does: candidates, reward model, estimates, report."""
    from tqdm import tqdm

    if log.n_rounds == 0:
        raise ValueError(f"{log.source} has no decisions with a final reward to evaluate on")
    truth = true_reward_matrix(log, world, reward) if world is not None else None
    with tqdm(total=len(vw_policies) + 1, unit="policy", disable=not show_progress, desc="evaluating") as bar:
        reward_hat = reward_model(log)
        bar.update(1)
        candidates = candidate_policies(log, list(vw_policies), truth=truth, progress=bar.update)
    rows = evaluate(log, candidates, reward_hat, estimators, n_bootstrap=500)
    write_evaluation_report(rows, log, out_dir)
    return rows
