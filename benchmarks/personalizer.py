"""The Personalizer-compatible loop: what a rank and a reward cost in-process, and apprentice mode
in a seeded world with known click rates, until it switches itself to online.

The world: three segments of people (``s0``, ``s1``, ``s2``) and three actions; the baseline
(``a``, listed first) is a fair default everywhere, ``b`` is far better for ``s0`` and ``c`` for
``s1`` (``CLICK``). Each call ranks for a random segment, a click is a reward of 1, no click the
default reward 0 once the wait time ends; the learner runs every ``every`` calls, as the thread
would. ``tests/test_personalizer.py`` runs the same world and checks what it should show.

Run: .venv/bin/python -m benchmarks.personalizer [--calls 1600] [--cost-calls 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter

from artwork.app import create_app

RANK = "/personalizer/v1.0/rank"
SEGMENTS = ("s0", "s1", "s2")
ACTIONS = [{"id": "a", "features": [{"kind": "plain", "length": 1}]},
           {"id": "b", "features": [{"kind": "sport"}]},
           {"id": "c", "features": [{"kind": "food", "spicy": True}]}]
#: Click probability per segment and action.
CLICK = {"s0": {"a": 0.3, "b": 0.8, "c": 0.1}, "s1": {"a": 0.3, "b": 0.1, "c": 0.8},
         "s2": {"a": 0.4, "b": 0.2, "c": 0.2}}
#: The settings of the apprentice run (a quicker learning rate than the default's, so that a
#: few hundred calls show the difference).
APPRENTICE = {"PERSONALIZER_MODE": "apprentice", "PERSONALIZER_APPRENTICE_EXPLORATION": 0.2,
              "PERSONALIZER_SWITCH_MIN_EVENTS": 300, "PERSONALIZER_REWARD_WAIT_SECONDS": 1,
              "PERSONALIZER_VW_ARGS": "--cb_explore_adf --epsilon 0.2 --power_t 0 -l 0.1 --cb_type mtr -q ::"}


def rank_body(segment: str = "s0", **extra) -> dict:
    return {"contextFeatures": [{"user": {"segment": segment}}, {"time": "evening"}], "actions": ACTIONS, **extra}


def reward_url(event_id: str, what: str = "reward") -> str:
    return f"/personalizer/v1.0/events/{event_id}/{what}"


def apprentice_run(app, advance, calls: int = 1600, seed: int = 17, every: int = 20) -> dict:
    """Run the world against ``app`` (``advance(seconds)`` moves its clock). Returns, per mode, the
    (segment, action) shown counts and the clicks, and the call after which it went online."""
    client, learner = app.test_client(), app.extensions["artwork.personalizer.learner"]
    loop = app.extensions["artwork.personalizer"]
    rng = random.Random(seed)
    shown = {"apprentice": Counter(), "online": Counter()}
    clicks = Counter()
    switched_at = None
    for n in range(1, calls + 1):
        segment = rng.choice(SEGMENTS)
        mode = loop.mode()["mode"]
        answer = client.post(RANK, json=rank_body(segment)).get_json()
        shown[mode][(segment, answer["rewardActionId"])] += 1
        if rng.random() < CLICK[segment][answer["rewardActionId"]]:
            clicks[mode] += 1
            client.post(reward_url(answer["eventId"]), json={"value": 1})
        advance(2)  # the call's wait time ends: no reward is the default, 0
        if n % every == 0:
            learner.run_once()
            if switched_at is None and loop.mode()["mode"] == "online":
                switched_at = n
    return {"shown": shown, "clicks": clicks, "switched_at": switched_at}


class _Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _app(**settings):
    clock = _Clock()
    app = create_app({"DATA_DIR": tempfile.mkdtemp(), "LEARNER": "manual", "SEED": 1, **settings}, clock=clock)
    return app, clock


def rank_cost(calls: int) -> dict:
    """Median microseconds of a rank call and of a reward call through the app (no HTTP server),
    beside a one-title select-artwork call, on SQLite."""
    app, _ = _app()
    client = app.test_client()
    times = {"select-artwork": [], "rank": [], "reward": []}
    for i in range(calls):
        start = time.perf_counter()
        client.post("/api/v1/select-artwork", json={"user_id": f"u{i % 50}", "title_id": "t01"})
        times["select-artwork"].append(time.perf_counter() - start)
        start = time.perf_counter()
        event = client.post(RANK, json=rank_body(SEGMENTS[i % 3])).get_json()["eventId"]
        times["rank"].append(time.perf_counter() - start)
        start = time.perf_counter()
        client.post(reward_url(event), json={"value": 1})
        times["reward"].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1600, help="rank calls of the apprentice run")
    parser.add_argument("--cost-calls", type=int, default=2000, help="calls of each kind timed")
    args = parser.parse_args(argv)
    cost = rank_cost(args.cost_calls)
    print("| call | median µs |\n| --- | --- |")
    for name, micros in cost.items():
        print(f"| {name} | {micros:.0f} |")
    app, clock = _app(**APPRENTICE)
    run = apprentice_run(app, clock.advance, calls=args.calls)
    status = app.extensions["artwork.personalizer"].status()
    print(f"\nswitched to online after call {run['switched_at']}: "
          f"{status['switches'][-1]['reason'] if status['switches'] else 'no switch'}")
    print("| mode | calls | click rate | baseline shown |\n| --- | --- | --- | --- |")
    for mode, shown in run["shown"].items():
        total = sum(shown.values())
        if total:
            baseline = sum(v for (_, action), v in shown.items() if action == "a") / total
            print(f"| {mode} | {total} | {run['clicks'][mode] / total:.3f} | {baseline:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
