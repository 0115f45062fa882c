"""Decision quality: how much of the best possible lift each policy captures, on several worlds.

For every world of ``artwork.simulations.world.VARIANTS`` (or those named) and every seed, each policy
runs online for ``--impressions``: the service's own policies through the service's decision,
logging, reward-join and learning code (``artwork.simulations.simulate.run_policy``), the peers
(``benchmarks/peers.py``) on the same features with the same learning delay. Reported per policy
and world, averaged over seeds:

- the share of the oracle's lift over uniform in the last 20% of impressions and over the whole
  run: (policy - uniform) / (oracle - uniform), with exact expected rewards of what was shown
  on the run's own requests (0: no better than uniform, 1: the oracle);
- the smallest probability logged with a shown artwork (peers decide deterministically: 1);
- wall-clock milliseconds per 1,000 impressions.

    .venv/bin/python -m benchmarks.quality                       # every world, 3 seeds, 30,000
    .venv/bin/python -m benchmarks.quality --worlds default,quirks --seeds 1 --impressions 5000
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import shutil
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from artwork.config import Settings
from artwork.demo_catalog import demo_titles
from artwork.simulations.simulate import POLICIES, lift_share, run_policy
from artwork.simulations.world import VARIANTS, World
from benchmarks.peers import MabwiserLinUCB, RidgeLinUCB, run_peer

#: (name, how it runs): a service policy by its name in artwork.simulations.simulate.POLICIES, or a peer.
POLICY_ROWS = (
    ("default", "service"),
    ("default-unfloored", "service"),
    ("epsilon-greedy", "service"),
    ("ridge-linucb", "peer"),
    ("ridge-linucb-floored", "peer"),
    ("mabwiser-linucb", "peer"),
    ("context-free", "service"),
)
DESCRIPTIONS = {
    "default": "the service's default (VW_ARGS)",
    "default-unfloored": "the same with PROPENSITY_FLOOR 0 (the learner alone)",
    "epsilon-greedy": "the previous default (epsilon 0.1, mtr)",
    "ridge-linucb": "ridge LinUCB, context x artwork products, exact updates",
    "ridge-linucb-floored": "the same under the service's propensity floor (0.01)",
    "mabwiser-linucb": "MABWiser LinUCB, one model per artwork",
    "context-free": "best artwork per title for everyone (VW, artwork id only)",
}


def run_one(job: tuple[str, str, int, int]) -> dict:
    # One BLAS thread per run: runs go side by side on the cores, and a run whose matrix products
    # spread over threads that the other run needs measures the contention, not itself.
    with threadpool_limits(limits=1):
        return _run_one(*job)


def _run_one(world_name: str, policy: str, seed: int, impressions: int) -> dict:
    world = World(demo_titles(), VARIANTS[world_name], seed=seed)
    if dict(POLICY_ROWS)[policy] == "service":
        out = Path(tempfile.mkdtemp(prefix="quality-"))
        try:
            run = run_policy(world, POLICIES[policy], impressions, seed, out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        min_p = run.min_propensity
    else:
        learner = MabwiserLinUCB(alpha=1.0, seed=seed) if policy == "mabwiser-linucb" else RidgeLinUCB(alpha=0.5)
        min_p = Settings().propensity_floor if policy == "ridge-linucb-floored" else 0.0
        run = run_peer(world, policy, learner, impressions, seed, floor=min_p)
        min_p = min_p or 1.0  # deterministic: the one artwork it picks, with probability 1
    tail = slice(int(impressions * 0.8), impressions)
    return {
        "world": world_name, "policy": policy, "seed": seed, "impressions": impressions,
        "share_last20": lift_share(run.expected[tail], run.uniform[tail], run.oracle[tail]),
        "share_all": lift_share(run.expected, run.uniform, run.oracle),
        "rate_last20": float(run.expected[tail].mean()), "uniform_last20": float(run.uniform[tail].mean()),
        "oracle_last20": float(run.oracle[tail].mean()), "min_propensity": min_p,
        "ms_per_1000": run.seconds / impressions * 1e6,
    }


def summarize(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (world, policy), in the order the rows came."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["world"], row["policy"]), []).append(row)
    out = []
    for (world, policy), runs in groups.items():
        shares = [r["share_last20"] for r in runs]
        out.append({
            "world": world, "policy": policy, "seeds": len(runs),
            "share_last20": float(np.mean(shares)), "share_last20_min": float(np.min(shares)),
            "share_last20_max": float(np.max(shares)),
            "share_all": float(np.mean([r["share_all"] for r in runs])),
            "oracle_last20": float(np.mean([r["oracle_last20"] for r in runs])),
            "uniform_last20": float(np.mean([r["uniform_last20"] for r in runs])),
            "min_propensity": float(np.min([r["min_propensity"] for r in runs])),
            "ms_per_1000": float(np.mean([r["ms_per_1000"] for r in runs])),
        })
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| world | policy | last 20% (min-max over seeds) | whole run | smallest propensity | ms / 1,000 |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in summary:
        lines.append(f"| {r['world']} | {r['policy']} | {r['share_last20']:.3f} ({r['share_last20_min']:.3f}-"
                     f"{r['share_last20_max']:.3f}) | {r['share_all']:.3f} | {r['min_propensity']:.4f} | "
                     f"{r['ms_per_1000']:,.0f} |")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worlds", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    parser.add_argument("--policies", default=",".join(p for p, _ in POLICY_ROWS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--impressions", type=int, default=30_000)
    parser.add_argument("--jobs", type=int, default=2, help="processes running at once")
    parser.add_argument("--csv", type=Path, help="also write every run's row here")
    args = parser.parse_args(argv)
    worlds = args.worlds.split(",")
    policies = args.policies.split(",")
    for name in worlds:
        if name not in VARIANTS:
            parser.error(f"unknown world {name!r}: one of {', '.join(VARIANTS)}")
    for name in policies:
        if name not in dict(POLICY_ROWS):
            parser.error(f"unknown policy {name!r}: one of {', '.join(p for p, _ in POLICY_ROWS)}")
    jobs = [(w, p, s, args.impressions) for w in worlds for s in range(1, args.seeds + 1) for p in policies]
    rows = []
    with multiprocessing.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else nullcontext() as pool:
        for row in (pool.imap(run_one, jobs) if pool is not None else map(run_one, jobs)):
            rows.append(row)
            if args.csv:  # every run as it ends: a long run interrupted keeps what it measured
                write_csv(rows, args.csv)
            print(f"{row['world']:>15} {row['policy']:>16} seed {row['seed']}: last 20% {row['share_last20']:.3f}, "
                  f"all {row['share_all']:.3f}, min p {row['min_propensity']:.4f}", file=sys.stderr, flush=True)
    order = {p: i for i, p in enumerate(policies)}
    summary = sorted(summarize(rows), key=lambda r: (worlds.index(r["world"]), order[r["policy"]]))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
