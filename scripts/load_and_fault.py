#!/usr/bin/env python3
"""Load and fault: drive the production server, SIGKILL it mid-run, restart it, reconcile.

Run it from the repository's root with the project's virtualenv (it re-executes itself with
`.venv/bin/python` if started by another interpreter):

    .venv/bin/python -m scripts.load_and_fault                   # 30 s, 16 clients, 2 workers
    .venv/bin/python -m scripts.load_and_fault --duration 60 --clients 16 --workers 2 --json

What it does, talking only to 127.0.0.1:

1. Starts `artwork serve --workers N` on a free port and a data directory (by default a fresh
   temporary one made with `artwork init`) in its own process group, with
   `ARTWORK_REWARD_WAIT_SECONDS` set to `--reward-wait` (2 s) so that every decision's reward
   window closes soon after the load stops.
2. Runs `--clients` threads for `--duration` seconds. Each asks `POST /api/v1/select-artwork`
   for a page of 5-20 titles for a random person, then reports some of the decisions: clicks,
   plays (some after a click), dismissals, a few repeated clicks. Every request has a timeout.
3. At `--kill-after` seconds it sends SIGKILL to the server's whole process group (gunicorn
   master, serving processes and the learner die at once; the SQLite files stay) and restarts
   the server at once on the same data directory (same port, or a new one the clients then
   switch to). The clients keep going; their requests fail until the server is back.
4. After the load: waits until every reward window has closed, the learner has learned every
   final event and every serving process serves that model, then stops the server gracefully
   (SIGTERM) and reads the database (read-only) to check that
   - every decision that was answered 2xx is in `impressions` (found / lost),
   - every outcome that was answered 2xx is in `outcomes` with the same kind and effect, and
     its reward agrees (rewarded: 1.0 from an outcome; dismissed: the default, window closed),
   - nothing is learned twice: learn_queue event ids are unique, each queued event is final and
     each final event is queued,
   - the learner caught up: the newest checkpoint (and models/latest.json) includes every
     queued event,
   - the model after the crash equals a model that learned the same events without one
     (a fresh VW model fed the learn queue in order: same JSON weights).

It prints a table of counts (and with `--json` the result as one JSON line at the end) and
exits 0 only if nothing acknowledged was lost, nothing was learned twice, no 5xx was answered,
rewards agree and the model is equal; 1 if a check failed; 2 if the run itself could not be
carried out (the server did not start, the hard wall limit of duration + 120 s was reached).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
USER_PREFIX = "lf-"


def reexec_with_venv(argv: list[str], module: str = "scripts.load_and_fault") -> None:
    """Run again as `.venv/bin/python -m MODULE` if another interpreter started it (the package,
    artwork, is installed in the virtualenv; it is imported only after this)."""
    venv = REPO / ".venv"
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        os.execve(str(venv_python), [str(venv_python), "-m", module, *argv],
                  {**os.environ, "PYTHONPATH": path})


def log(message: str) -> None:
    print(f"[load_and_fault {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Processes ----------------------------------------------------------------------------------
# The server is artwork.harness.ServerProcess (`artwork serve` in its own process group), imported
# in run(), after the re-execution with the virtualenv's interpreter.


def start_server(server, log_dir: Path, port: int) -> None:
    """(Re)start the server on ``port``, each start with a log of its own (serve-N.log)."""
    server.start(port, log_dir / f"serve-{server.starts + 1}.log")


def came_up(server, timeout: float) -> bool:
    """True once /healthz answers; False if the server exited or the time ran out."""
    from artwork.harness import ServerStartError

    try:
        server.wait_healthy(timeout)
    except ServerStartError as exc:
        log(str(exc))
        return False
    return True


# HTTP ---------------------------------------------------------------------------------------


def request(port: int, method: str, path: str, body=None, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Shared:
    """What the clients and the conductor share: the server's port, the run's clock marks."""

    def __init__(self, port: int):
        self.port = port
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.kill_t: float | None = None
        self.ready_t: float | None = None


class Client(threading.Thread):
    """One simulated front end: pages of decisions and what the person did with them."""

    def __init__(self, index: int, shared: Shared, titles: list[str], genres: list[str], seed, timeout: float):
        super().__init__(name=f"client-{index}", daemon=True)
        self.shared, self.titles, self.genres, self.timeout = shared, titles, genres, timeout
        self.rng = random.Random(f"{seed}-{index}")
        self.conn: http.client.HTTPConnection | None = None
        self.conn_port: int | None = None
        self.conn_used = False
        self.sent = collections.Counter()         # kind -> requests
        self.statuses = collections.Counter()     # (kind, status) -> count
        self.errors: list[tuple[float, str, str]] = []   # (time, kind, exception)
        self.answered_5xx: list[tuple[float, str, int]] = []  # (time, kind, status): a proxy's 502 for a host that died
        self.decisions: list[tuple[str, float, float]] = []  # (event_id, started, answered)
        self.outcomes: list[tuple[str, str, str, float]] = []  # (event_id, kind, effect, answered)
        self.retries: list[float] = []  # when a request was re-sent after its kept-alive connection broke
        self.bad_bodies = 0

    # One keep-alive connection per client; a new one after any error or a port change.
    def _connection(self) -> http.client.HTTPConnection:
        port = self.shared.port
        if self.conn is None or self.conn_port != port:
            self._drop()
            self.conn = http.client.HTTPConnection(HOST, port, timeout=self.timeout)
            self.conn_port, self.conn_used = port, False
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def _send(self, kind: str, path: str, body) -> tuple[int, dict | None] | None:
        """One request: (status, JSON body) or None if the connection failed (not acknowledged)."""
        self.sent[kind] += 1
        data = json.dumps(body).encode() if body is not None else b""
        for attempt in (1, 2):
            conn = self._connection()
            reused = self.conn_used
            try:
                conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                self.conn_used = True
                if response.getheader("Connection", "").lower() == "close":
                    self._drop()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                # A kept-alive connection that broke (the server closed it while idle, or died):
                # no answer came, so nothing is owed; send the request once more on a new one.
                if (attempt == 1 and reused and not isinstance(exc, TimeoutError)
                        and isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected))):
                    self.retries.append(time.monotonic())
                    continue
                self.errors.append((time.monotonic(), kind, type(exc).__name__))
                return None
        status = response.status
        self.statuses[(kind, status)] += 1
        if status >= 500:
            self.answered_5xx.append((time.monotonic(), kind, status))
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
            if 200 <= status < 300:
                self.bad_bodies += 1
        return status, parsed

    def run(self) -> None:
        from artwork.vocab import DEVICES

        rng, stop = self.rng, self.shared.stop
        while not stop.is_set():
            page = rng.sample(self.titles, rng.randint(5, min(20, len(self.titles))))
            context = {"device": rng.choice(DEVICES)}
            if rng.random() < 0.4:
                context["genre_affinity"] = {g: rng.random() + 0.01 for g in rng.sample(self.genres, 2)}
            body = {"user_id": f"{USER_PREFIX}{rng.randrange(400)}", "title_ids": page, "context": context}
            started = time.monotonic()
            answer = self._send("select-artwork", "/api/v1/select-artwork", body)
            if answer is None:
                stop.wait(0.05)  # the server is down: do not spin
                continue
            status, parsed = answer
            if not 200 <= status < 300 or not parsed or "decisions" not in parsed:
                continue
            answered = time.monotonic()
            for d in parsed["decisions"]:
                self.decisions.append((d["event_id"], started, answered))
            for d in parsed["decisions"]:
                if stop.is_set():
                    break
                r = rng.random()
                if r < 0.20:
                    self._outcome(d["event_id"], "click")
                    if rng.random() < 0.5:
                        self._outcome(d["event_id"], "play", {"seconds": rng.choice([30, 300, 1800])})
                    if rng.random() < 0.1:
                        self._outcome(d["event_id"], "click")  # a repeated click: duplicate
                elif r < 0.30:
                    self._outcome(d["event_id"], "play", {"seconds": rng.randint(1, 3600)})
                elif r < 0.55:
                    self._outcome(d["event_id"], "dismiss")
                # else: nothing; the window closes by itself
        self._drop()

    def _outcome(self, event_id: str, kind: str, body=None) -> None:
        answer = self._send(kind, f"/api/v1/events/{event_id}/{kind}", body)
        if answer is None:
            return
        status, parsed = answer
        if 200 <= status < 300 and parsed:
            self.outcomes.append((event_id, kind, parsed.get("effect"), time.monotonic()))


def worker_models(port: int, workers: int, timeout: float) -> dict[int, tuple[int, int]]:
    """pid -> (model_version, learner lag events) of every serving process (asking /healthz
    several at a time, since one process may take every sequential request)."""
    seen: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + timeout

    def ask(_):
        try:
            status, payload = request(port, "GET", "/healthz", timeout=5)
            if status == 200:
                return json.loads(payload)
        except (OSError, http.client.HTTPException, ValueError):
            return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        while len(seen) < workers and time.monotonic() < deadline:
            for health in pool.map(ask, range(8)):
                if health and "pid" in health:
                    seen[health["pid"]] = (health["model_version"], health["learner_lag"]["events"])
    return seen


def make_clients(port: int, args) -> tuple[Shared, list[Client]]:
    """``args.clients`` clients (not started yet) of the service on ``port``, for the titles
    with artwork of its catalog, with ``args.seed`` and ``args.timeout`` (seconds per request)."""
    status, payload = request(port, "GET", "/api/v1/titles", timeout=args.timeout)
    if status != 200:
        raise RuntimeError(f"GET /api/v1/titles on port {port} answered {status}")
    catalog = json.loads(payload)["titles"]
    titles = [t["id"] for t in catalog if t["artwork"]]
    genres = sorted({g for t in catalog for g in t["genres"]})
    shared = Shared(port)
    return shared, [Client(i, shared, titles, genres, args.seed, args.timeout) for i in range(args.clients)]


def start_load(shared: Shared, clients: list[Client]) -> None:
    """Start the clients; the run's clock (``shared.t0``) starts now."""
    shared.t0 = time.monotonic()
    for c in clients:
        c.start()


def stop_clients(shared: Shared, clients: list[Client], timeout: float, say=None) -> float:
    """Tell the clients to stop and wait for them (each at most 3 request timeouts + 5 s);
    when the load ended (``time.monotonic``)."""
    shared.stop.set()
    for c in clients:
        c.join(timeout=timeout * 3 + 5)
    load_end = time.monotonic()
    stuck = [c.name for c in clients if c.is_alive()]
    if say is not None:
        say(f"load stopped after {load_end - shared.t0:.1f} s" + (f"; clients still running: {stuck}" if stuck else ""))
    return load_end


def tally(clients: list[Client]) -> tuple[collections.Counter, int, collections.Counter]:
    """The clients' requests by kind, how many were answered 2xx, and the other answers by status."""
    sent, statuses, other = collections.Counter(), collections.Counter(), collections.Counter()
    for c in clients:
        sent.update(c.sent)
        statuses.update(c.statuses)
    for (_kind, s), count in statuses.items():
        if not 200 <= s < 300:
            other[str(s)] += count
    return sent, sum(count for (_, s), count in statuses.items() if 200 <= s < 300), other


def count_load(clients: list[Client], errors: list[tuple], kill_t: float, window_end: float, t0: float,
               error_key: str) -> tuple[dict, list, list, collections.Counter]:
    """What a fault run reports of its clients' load: requests, what was acknowledged, and the
    ``errors`` ((time, kind, what) tuples) inside the kill's window [kill_t, window_end] and
    outside it, under ``{error_key}_during_kill`` and ``{error_key}_outside_kill``. Returns the
    counts with the acknowledged decisions, outcomes and the non-2xx answers by status."""
    sent, acked_requests, other = tally(clients)
    in_window = [e for e in errors if kill_t <= e[0] <= window_end]
    outside = [e for e in errors if not kill_t <= e[0] <= window_end]
    decisions = [d for c in clients for d in c.decisions]
    outcomes = [o for c in clients for o in c.outcomes]
    counts = {
        "requests": sum(sent.values()),
        "requests_by_kind": dict(sent),
        "acknowledged_requests": acked_requests,
        "acknowledged_decisions": len(decisions),
        "acknowledged_decisions_before_kill": sum(1 for _, _, a in decisions if a < kill_t),
        "acknowledged_outcomes": len(outcomes),
        "outcome_effects": dict(collections.Counter(o[2] for o in outcomes)),
        f"{error_key}_during_kill": len(in_window),
        f"{error_key}_during_kill_by_type": dict(collections.Counter(e[2] for e in in_window)),
        f"{error_key}_outside_kill": len(outside),
        f"{error_key}_outside_kill_examples": [[round(e[0] - t0, 2), e[1], e[2]] for e in outside[:10]],
        "other_non_2xx": dict(other),
        "unparseable_2xx_bodies": sum(c.bad_bodies for c in clients),
    }
    return counts, decisions, outcomes, other


def log_problems(result: dict) -> list[str]:
    """What the reconciliation (``compare_log`` and the learn-queue and model counts) says is
    wrong: lost writes, rewards that disagree, events learned twice or not at all, bad bodies, a
    model that differs from the replay."""
    problems = []
    if result["decisions_lost"]:
        problems.append(f"{result['decisions_lost']} acknowledged decisions are not in the log")
    if result["outcomes_lost"]:
        problems.append(f"{result['outcomes_lost']} acknowledged outcomes are not in the log")
    if result["reward_mismatches"]:
        problems.append(f"{result['reward_mismatches']} outcomes whose logged reward disagrees with their answer")
    if result["learned_twice"] or result["queued_not_final"] or result["final_not_queued"]:
        problems.append("learn queue: {learned_twice} learned twice, {queued_not_final} queued but not final, "
                        "{final_not_queued} final but not queued".format(**result))
    if result["unparseable_2xx_bodies"]:
        problems.append(f"{result['unparseable_2xx_bodies']} 2xx answers that were not JSON")
    if not result["model_equal"]:
        problems.append(f"the model differs from one that learned the same log in order without crashing "
                        f"({result['model_comparison']})")
    return problems


# Reconciling --------------------------------------------------------------------------------


def read_only(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def scalar(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def table_columns(conn, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def compare_log(decisions: list, outcomes: list, logged: set[str], ours: set[str], in_log: collections.Counter,
                rewards: dict, default_reward: float) -> dict:
    """What the clients were told against what the log holds, whatever the database.

    ``decisions``/``outcomes``: the clients' acknowledged ones (as ``Client`` keeps them);
    ``logged``: every event id in impressions; ``ours``: those of the run's people (USER_PREFIX);
    ``in_log``: (event_id, kind, effect) -> count in outcomes; ``rewards``: event_id -> (state,
    reward, final_reason) of the run's people."""
    acked = {e for e, _, _ in decisions}
    # Outcomes: every acknowledged (event, kind, effect) is there as often as it was answered.
    answered = collections.Counter((e, k, eff) for e, k, eff, _ in outcomes)
    ours_outcomes = sum(n for (e, _, _), n in in_log.items() if e in ours)
    # The reward join agrees with what the clients were told.
    reward_mismatches = []
    for (event_id, kind, effect), _ in answered.items():
        state, reward, reason = rewards.get(event_id, (None, None, None))
        if effect == "rewarded" and (state, reward, reason) != ("final", 1.0, "outcome"):
            reward_mismatches.append((event_id, kind, effect, state, reward, reason))
        elif effect == "dismissed" and (state, reward, reason) != ("final", default_reward, "window"):
            reward_mismatches.append((event_id, kind, effect, state, reward, reason))
    return {
        "decisions_found": len(acked & logged),
        "decisions_lost": len(acked - logged),
        "decisions_lost_ids": sorted(acked - logged)[:20],
        "decisions_unacknowledged_in_log": len(ours - acked),
        "outcomes_found": sum(min(n, in_log[key]) for key, n in answered.items()),
        "outcomes_lost": sum(max(0, n - in_log[key]) for key, n in answered.items()),
        "outcomes_lost_examples": [list(k) for k, n in answered.items() if in_log[k] < n][:20],
        "outcomes_unacknowledged_in_log": max(0, ours_outcomes - sum(answered.values())),
        "reward_mismatches": len(reward_mismatches),
        "reward_mismatch_examples": [list(m) for m in reward_mismatches[:20]],
    }


def replay_equal(path: Path, checkpoint: dict, vw_args: str, events, start_seq: int) -> tuple[bool, str]:
    """Whether the checkpoint's model file at ``path`` ({"seq", "file", "sha256"}) equals a fresh
    model with ``vw_args`` fed ``events`` (learn-queue rows with seq, features, chosen_index,
    reward, probability, in seq order) up to the checkpoint's seq: same JSON weights. Also a note
    saying what was compared, or why nothing could be."""
    from artwork.policy import Model

    if not path.is_file():
        return False, f"checkpoint file {path} missing"
    if hashlib.sha256(path.read_bytes()).hexdigest() != checkpoint["sha256"]:
        return False, f"checkpoint file {path} fails its checksum"
    restarted = Model(vw_args, path, seq=checkpoint["seq"])
    never_crashed = Model(vw_args)
    try:
        for row in events:
            if row["seq"] > checkpoint["seq"]:
                break
            never_crashed.learn(json.loads(row["features"]), row["chosen_index"], row["reward"],
                                row["probability"], row["seq"])
        equal = restarted.weights() == never_crashed.weights()
    finally:
        restarted.close()
        never_crashed.close()
    return equal, (f"checkpoint {checkpoint['file']} (event {checkpoint['seq']}) vs a fresh model fed "
                   f"events {start_seq + 1}..{checkpoint['seq']} in order")


def reconcile(data_dir: Path, decisions: list, outcomes: list, default_reward: float) -> dict:
    db = data_dir / "artwork.db"
    conn = read_only(db)
    try:
        logged = {row[0] for row in conn.execute("SELECT event_id FROM impressions")}
        ours = {row[0] for row in conn.execute("SELECT event_id FROM impressions WHERE user_id LIKE ?",
                                               (USER_PREFIX + "%",))}
        in_log = collections.Counter((r["event_id"], r["kind"], r["effect"])
                                     for r in conn.execute("SELECT event_id, kind, effect FROM outcomes"))
        rewards = {r["event_id"]: (r["state"], r["reward"], r["final_reason"]) for r in conn.execute(
            "SELECT event_id, state, reward, final_reason FROM impressions WHERE user_id LIKE ?",
            (USER_PREFIX + "%",))}
        # Exactly-once learning.
        queued = scalar(conn, "SELECT count(*) FROM learn_queue")
        twice = scalar(conn, "SELECT count(*) - count(DISTINCT event_id) FROM learn_queue")
        queued_not_final = scalar(conn, "SELECT count(*) FROM learn_queue q LEFT JOIN impressions i USING (event_id)"
                                        " WHERE i.state IS NOT 'final'")
        final_not_queued = scalar(conn, "SELECT count(*) FROM impressions i WHERE i.state = 'final' AND NOT EXISTS"
                                        " (SELECT 1 FROM learn_queue q WHERE q.event_id = i.event_id)")
        pending = scalar(conn, "SELECT count(*) FROM impressions WHERE state = 'pending'")
        max_seq = scalar(conn, "SELECT coalesce(max(seq), 0) FROM learn_queue")
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        # The model epoch (a reset/retrain starts one), if this version of the schema has them.
        start_seq, epoch, epoch_args = 0, None, None
        if scalar(conn, "SELECT count(*) FROM sqlite_master WHERE name = 'model_epochs'"):
            row = conn.execute("SELECT * FROM model_epochs ORDER BY epoch DESC LIMIT 1").fetchone()
            start_seq, epoch, epoch_args = row["start_seq"], row["epoch"], row["vw_args"]
        where, params = "", ()
        if epoch is not None and "epoch" in table_columns(conn, "checkpoints"):
            where, params = " WHERE epoch = ?", (epoch,)
        checkpoint = conn.execute(f"SELECT seq, file, sha256, vw_args FROM checkpoints{where}"
                                  " ORDER BY seq DESC, id DESC LIMIT 1", params).fetchone()
        events = conn.execute(
            "SELECT q.seq, i.features, i.chosen_index, i.reward, i.probability FROM learn_queue q"
            " JOIN impressions i USING (event_id) WHERE q.seq > ? ORDER BY q.seq", (start_seq,)).fetchall()
    finally:
        conn.close()

    latest = None
    try:
        latest = json.loads((data_dir / "models" / "latest.json").read_text())
    except (OSError, ValueError):
        pass
    model_equal, model_note = False, "no checkpoint"
    if checkpoint is not None:
        model_equal, model_note = replay_equal(data_dir / "models" / checkpoint["file"], checkpoint,
                                               checkpoint["vw_args"] or epoch_args, events, start_seq)
    return {
        **compare_log(decisions, outcomes, logged, ours, in_log, rewards, default_reward),
        "integrity_check": integrity[:10],
        "events_learned": queued,
        "learned_twice": twice,
        "queued_not_final": queued_not_final,
        "final_not_queued": final_not_queued,
        "pending_left": pending,
        "max_seq": max_seq,
        "checkpoint_seq": checkpoint["seq"] if checkpoint is not None else None,
        "latest_json_seq": latest.get("seq") if latest else None,
        "learner_caught_up": (checkpoint is not None and checkpoint["seq"] == max_seq
                              and latest is not None and latest.get("seq") == max_seq),
        "model_equal": model_equal,
        "model_comparison": model_note,
    }


# The run ------------------------------------------------------------------------------------


def load_parser(prog: str, description: str, kill: str, wall: int) -> argparse.ArgumentParser:
    """The options of a load-and-fault run (this script's and scripts/multihost_fault's): load,
    seed, reward window, timeouts, the kill's time (``kill`` says what is killed), the hard wall
    (``wall`` seconds past the duration by default), logs, --keep and --json."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    p.add_argument("--workers", type=int, default=2, help="serving processes of a server (default 2)")
    p.add_argument("--kill-after", type=float, default=None,
                   help=f"seconds into the load to SIGKILL {kill} (default: half the duration)")
    p.add_argument("--log-dir", type=Path, default=None, help="where the server logs go (default: a temporary folder)")
    p.add_argument("--seed", type=int, default=None, help="seed of the clients' choices (default: random)")
    p.add_argument("--reward-wait", type=float, default=2.0,
                   help="ARTWORK_REWARD_WAIT_SECONDS for the servers (default 2), so every window closes soon")
    p.add_argument("--timeout", type=float, default=10.0, help="timeout of each HTTP request (default 10 s)")
    p.add_argument("--wall", type=float, default=None,
                   help=f"hard limit of the whole run (default duration + {wall} s)")
    p.set_defaults(wall_margin=wall)
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line at the end")
    return p


def parse_load_args(p: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """``argv`` parsed by a ``load_parser``, checked, with the defaults that depend on others."""
    args = p.parse_args(argv)
    if args.kill_after is None:
        args.kill_after = args.duration / 2
    if not 0 < args.kill_after < args.duration:
        p.error("--kill-after must be between 0 and --duration")
    if args.clients < 1 or args.workers < 1 or args.duration <= 0:
        p.error("--clients, --workers and --duration must be positive")
    if args.wall is None:
        args.wall = args.duration + args.wall_margin
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    return args


def parse_args(argv):
    p = load_parser("load_and_fault", __doc__.split("\n\n")[0], "the server's process group", 120)
    p.add_argument("--threads", type=int, default=4, help="request threads per serving process (default 4)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data directory (default: a fresh temporary one made with `artwork init`, removed "
                        "afterwards unless --keep or a check failed); an empty or missing one is initialized")
    return parse_load_args(p, argv)


def run(args) -> dict:
    from artwork.config import load_settings
    from artwork.harness import ServerProcess, artwork_command, free_port

    scratch = None if args.data_dir and args.log_dir else Path(tempfile.mkdtemp(prefix="load_and_fault-"))
    log_dir = args.log_dir or scratch
    log_dir.mkdir(parents=True, exist_ok=True)
    data_dir = args.data_dir or scratch / "data"
    result: dict = {"settings": {"duration": args.duration, "clients": args.clients, "workers": args.workers,
                                 "threads": args.threads, "kill_after": args.kill_after, "seed": args.seed,
                                 "reward_wait_seconds": args.reward_wait, "data_dir": str(data_dir),
                                 "log_dir": str(log_dir)},
                    "passed": False, "problems": []}
    server = ServerProcess(data_dir, args=("--workers", str(args.workers), "--threads", str(args.threads)), host=HOST,
                     env={"ARTWORK_REWARD_WAIT_SECONDS": str(args.reward_wait), "ARTWORK_DATA_DIR": None})
    default_reward = load_settings(environ=server.env).default_reward
    init: list[subprocess.Popen] = []

    # The hard wall: whatever happens, the children die and the run fails by then.
    def wall_reached():
        log(f"hard wall limit of {args.wall:.0f} s reached: killing the server and failing")
        for proc in init:
            proc.kill()
        if server.alive():
            try:
                os.killpg(server.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(2)

    watchdog = threading.Timer(args.wall, wall_reached)
    watchdog.daemon = True
    watchdog.start()

    if args.data_dir is None:
        log(f"initializing {data_dir} (artwork init)")
        init.append(subprocess.Popen([*artwork_command(), "init", "--data-dir", str(data_dir)],
                                     stdout=subprocess.DEVNULL))
        if init[0].wait() != 0:
            watchdog.cancel()
            raise RuntimeError(f"artwork init failed with exit code {init[0].returncode}")

    clients: list[Client] = []
    try:
        start_server(server, log_dir, free_port(HOST))
        if not came_up(server, 90):
            raise RuntimeError(f"the server did not come up; see {server.logs[-1]}")
        shared, clients = make_clients(server.port, args)
        workers_before = worker_models(server.port, args.workers, 30)
        log(f"server up on port {server.port} ({len(workers_before)} serving processes answered); "
            f"{args.clients} clients for {args.duration:.0f} s, SIGKILL at {args.kill_after:.1f} s")
        start_load(shared, clients)

        # The fault: SIGKILL to the whole process group, then a restart on the same data.
        time.sleep(max(0.0, shared.t0 + args.kill_after - time.monotonic()))
        members = server.members()
        shared.kill_t = time.monotonic()
        kill_wall = time.time()
        killed = server.kill()
        checkpoint_at_kill = None
        try:  # the snapshot the learner had published when it died (a file: no database access)
            checkpoint_at_kill = json.loads((data_dir / "models" / "latest.json").read_text()).get("seq")
        except (OSError, ValueError):
            pass
        left = server.wait_gone(10)
        log(f"SIGKILL to process group {server.pgid}: {len(killed)} processes "
            f"({len(left)} still alive after 10 s)")
        port = first_port = server.port
        start_server(server, log_dir, port)
        if not came_up(server, 90):
            log(f"restart on port {port} failed ({server.logs[-1]}); trying a new port")
            if server.alive():
                server.kill()
            start_server(server, log_dir, free_port(HOST))
            if not came_up(server, 90):
                raise RuntimeError(f"the server did not come back after the kill; see {server.logs[-1]}")
        shared.port = server.port
        shared.ready_t = time.monotonic()
        log(f"restarted on port {server.port} after {shared.ready_t - shared.kill_t:.2f} s")

        time.sleep(max(0.0, shared.t0 + args.duration - time.monotonic()))
        load_end = stop_clients(shared, clients, args.timeout, log)

        # Drain: every window closes, the learner learns it all, every serving process has it.
        drain_deadline = time.monotonic() + max(45.0, 10 * args.reward_wait)
        caught_up = False
        db = data_dir / "artwork.db"
        while time.monotonic() < drain_deadline and server.alive():
            conn = read_only(db)
            try:
                pending = scalar(conn, "SELECT count(*) FROM impressions WHERE state = 'pending'")
                max_seq = scalar(conn, "SELECT coalesce(max(seq), 0) FROM learn_queue")
            finally:
                conn.close()
            if pending == 0:
                served = worker_models(server.port, args.workers, 10)
                if len(served) == args.workers and all(v == max_seq and lag == 0 for v, lag in served.values()):
                    caught_up = True
                    break
            time.sleep(0.25)
        drained_in = time.monotonic() - load_end
        log(f"drained in {drained_in:.1f} s (every window closed and every serving process at the learner's model: "
            f"{caught_up})")
        code = server.terminate(60)  # SIGTERM to the master; its exit code, or None if it had to be killed
        left_after_stop = server.wait_gone(30)
        log(f"graceful stop: exit code {code}")

        conn = read_only(db)
        try:  # events final before the kill: the ones after the published checkpoint were re-learned
            final_at_kill = scalar(conn, "SELECT coalesce(max(seq), 0) FROM learn_queue WHERE final_ts <= ?",
                                   (kill_wall,))
        finally:
            conn.close()
        reconciled = reconcile(data_dir, [d for c in clients for d in c.decisions],
                               [o for c in clients for o in c.outcomes], default_reward)
    finally:
        watchdog.cancel()
        if server.alive():
            server.kill()

    # Counting.
    window_end = shared.ready_t + 2.0
    counts, decisions, _, other = count_load(clients, [e for c in clients for e in c.errors], shared.kill_t,
                                             window_end, shared.t0, "connection_errors")
    five_xx = sum(n for s, n in other.items() if s.startswith("5"))
    result.update({
        **counts,
        "acknowledged_decisions_after_restart": sum(1 for _, s, _ in decisions if s >= shared.ready_t),
        "resent_during_kill": sum(1 for c in clients for t in c.retries if shared.kill_t <= t <= window_end),
        "resent_outside_kill": sum(1 for c in clients for t in c.retries if not shared.kill_t <= t <= window_end),
        "status_5xx": five_xx,
        "restarts": 1,
        "restart_port_changed": server.port != first_port,
        "killed_processes": [cmd for _, cmd in killed],
        "processes_in_group_before_kill": len(members),
        "processes_left_after_kill": len(left),
        "kill_at_seconds": round(shared.kill_t - shared.t0, 2),
        "downtime_seconds": round(shared.ready_t - shared.kill_t, 2),
        "learned_before_kill": final_at_kill,
        "checkpoint_at_kill": checkpoint_at_kill,
        "relearned_after_restart": final_at_kill - (checkpoint_at_kill or 0),
        "load_seconds": round(load_end - shared.t0, 2),
        "drained": caught_up,
        "drain_seconds": round(drained_in, 2),
        "graceful_exit_code": code,
        "processes_left_after_stop": len(left_after_stop),
        **reconciled,
    })
    problems = result["problems"]
    problems += log_problems(result)
    if result["integrity_check"] != ["ok"]:
        problems.append(f"the database fails its integrity check: {result['integrity_check']}")
    if five_xx:
        problems.append(f"{five_xx} responses with a 5xx status: {dict(other)}")
    if not result["learner_caught_up"]:
        problems.append(f"the learner did not catch up: checkpoint at {result['checkpoint_seq']}, latest.json at "
                        f"{result['latest_json_seq']}, learn queue at {result['max_seq']}")
    if code != 0:
        problems.append(f"the graceful stop ended with exit code {code}")
    if left or left_after_stop:
        problems.append(f"processes outlived the server: {len(left)} after SIGKILL, "
                        f"{len(left_after_stop)} after SIGTERM")
    if not result["drained"]:
        problems.append("the learner and serving processes did not reach the last event before the stop")
    result["passed"] = not problems
    result["server_logs"] = [str(p) for p in server.logs]
    if result["passed"] and not args.keep and scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def table(r: dict) -> str:
    s = r["settings"]
    other = ", ".join(f"{k}: {v}" for k, v in sorted(r["other_non_2xx"].items())) or "none"
    kinds = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["requests_by_kind"].items()))
    effects = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["outcome_effects"].items()))
    errs = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["connection_errors_during_kill_by_type"].items()))
    rows = [
        ("requests sent", f"{n(r['requests'])} ({kinds})"),
        ("acknowledged (2xx)", n(r["acknowledged_requests"])),
        ("connection errors during the kill", n(r["connection_errors_during_kill"]) + (f" ({errs})" if errs else "")
         + f"; {n(r['resent_during_kill'])} requests re-sent after their kept-alive connection broke"),
        ("connection errors outside the kill",
         f"{n(r['connection_errors_outside_kill'])}; {n(r['resent_outside_kill'])} re-sent"),
        ("other non-2xx, by status", other),
        ("acknowledged decisions", f"{n(r['acknowledged_decisions'])} "
                                   f"({n(r['acknowledged_decisions_before_kill'])} before the kill, "
                                   f"{n(r['acknowledged_decisions_after_restart'])} after the restart)"),
        ("decisions found in the log", n(r["decisions_found"])),
        ("decisions lost", n(r["decisions_lost"])),
        ("acknowledged outcomes", f"{n(r['acknowledged_outcomes'])} ({effects})"),
        ("outcomes found in the log", n(r["outcomes_found"])),
        ("outcomes lost", n(r["outcomes_lost"])),
        ("rewards disagreeing with the answer", n(r["reward_mismatches"])),
        ("unacknowledged writes in the log (answer cut by the kill)",
         f"decisions {n(r['decisions_unacknowledged_in_log'])}, outcomes {n(r['outcomes_unacknowledged_in_log'])}"),
        ("events final at the kill / in the last published checkpoint",
         f"{n(r['learned_before_kill'])} / {n(r['checkpoint_at_kill'] or 0)} "
         f"({n(r['relearned_after_restart'])} learned from the log by the restarted learner)"),
        ("database integrity check after the crash", ", ".join(r["integrity_check"])),
        ("events learned", n(r["events_learned"])),
        ("learned twice", n(r["learned_twice"])),
        ("learner caught up (checkpoint = latest.json = last event)",
         f"{'yes' if r['learner_caught_up'] else 'no'} "
         f"({r['checkpoint_seq']} = {r['latest_json_seq']} = {r['max_seq']})"),
        ("model equal to one that never crashed", "yes" if r["model_equal"] else "no"),
    ]
    head = (f"load and fault: {s['duration']:g} s of load, {s['clients']} clients, {s['workers']} serving processes, "
            f"seed {s['seed']}, ARTWORK_REWARD_WAIT_SECONDS={s['reward_wait_seconds']:g}\n"
            f"SIGKILL to the process group at {r['kill_at_seconds']:.1f} s ({r['processes_in_group_before_kill']} "
            f"processes: master, serving processes, learner); restarted ({r['restarts']} restart) and answering "
            f"after {r['downtime_seconds']:.2f} s; drained in {r['drain_seconds']:.1f} s; graceful stop exit code "
            f"{r['graceful_exit_code']}\n\n")
    return head + verdict_table(rows, r)


def verdict_table(rows: list[tuple[str, str]], r: dict) -> str:
    """``rows`` (what, count) as a Markdown table, then PASS or FAIL with the run's problems."""
    width = max(len(a) for a, _ in rows)
    lines = [f"| {'what'.ljust(width)} | count |", f"| {'-' * width} | --- |"]
    lines += [f"| {a.ljust(width)} | {b} |" for a, b in rows]
    verdict = "\n\nPASS" if r["passed"] else "\n\nFAIL:\n" + "\n".join(f"- {p}" for p in r["problems"])
    return "\n".join(lines) + verdict


def n(x) -> str:
    """A count with thousands separators; anything else as it is."""
    return f"{x:,}" if isinstance(x, int) else str(x)


def run_and_report(run, table, args, say, errors=(), where=lambda result: "") -> int:
    """Carry out ``run(args)`` and print ``table(result)`` (and with ``args.json`` the result as
    one JSON line); the exit code: 0 passed, 1 a check failed (then ``where(result)`` is printed:
    where to look), 2 the run could not be carried out (``errors``, besides RuntimeError,
    SubprocessError and OSError, are such exceptions)."""
    try:
        result = run(args)
    except (RuntimeError, subprocess.SubprocessError, OSError, *errors) as exc:
        say(f"the run could not be carried out: {exc}")
        if args.json:
            print(json.dumps({"passed": False, "error": str(exc)}))
        return 2
    print(table(result))
    if not result["passed"]:
        print(where(result))
    if args.json:
        print(json.dumps(result))
    return 0 if result["passed"] else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    reexec_with_venv(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))  # run the clean-up (kill the server) on SIGTERM
    return run_and_report(run, table, args, log, where=lambda r: f"server logs: {', '.join(r['server_logs'])}; "
                                                                 f"data directory: {r['settings']['data_dir']}")


if __name__ == "__main__":
    sys.exit(main())
