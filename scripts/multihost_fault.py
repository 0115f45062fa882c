#!/usr/bin/env python3
"""Multi-host fault: two serving hosts on one PostgreSQL log behind `artwork proxy`; SIGKILL one
host and the leading learner mid-run; the other host answers, the standby learns; reconcile.

Run it from the repository's root with the project's virtualenv (it re-executes itself with
`.venv/bin/python` if started by another interpreter):

    .venv/bin/python -m scripts.multihost_fault                  # 30 s, 16 clients
    .venv/bin/python -m scripts.multihost_fault --duration 60 --clients 16 --json

What it does, talking only to 127.0.0.1:

1. Creates a fresh PostgreSQL database with a unique name on the server of `--database-url`
   (default `ARTWORK_TEST_DATABASE_URL`, else postgresql://postgres@127.0.0.1:5432/postgres, an
   admin URL) and drops it at the end (kept with `--keep`).
2. Starts two serving hosts, `artwork serve --workers N` each, with data directories of their
   own (the second one empty: the database holds everything) and `ARTWORK_DATABASE_URL` set to
   that database, each in its own process group; each starts its own learner candidate, so two
   candidates elect one learner through the database. The first host starts first, so its
   candidate leads. Then `artwork proxy` (nginx) in front of both, in its own process group.
3. Runs `--clients` threads for `--duration` seconds through the proxy (the clients of
   scripts/load_and_fault: pages of decisions, then clicks, plays, dismissals, repeated clicks for
   some of them; an outcome often reaches the other host than its decision).
4. At `--kill-after` seconds (default half the duration): `--kill leader-host` (the default)
   SIGKILLs the whole process group of the host whose candidate leads (gunicorn, serving
   processes and the leading learner at once); `--kill other-host` SIGKILLs the other host's
   group and the leading learner's process on the surviving host (its server restarts a
   candidate). A thread watching pg_locks times the takeover: from the kill until another
   session holds the learner's advisory lock, and until the new leader publishes a snapshot.
5. After the load: waits until every reward window closed (`ARTWORK_REWARD_WAIT_SECONDS` is
   `--reward-wait`, 2 s), every final event is numbered and learned, the newest snapshot holds
   the last event and the surviving host's serving processes serve it; stops the proxy and the
   surviving host gracefully (SIGTERM), then reads the database to check that
   - every decision answered 2xx is in `impressions`, every outcome answered 2xx is in
     `outcomes` as often as it was answered, and rewards agree with the answers,
   - nothing is learned twice: learn_queue event ids are unique, every queued event is final
     and every final event is queued,
   - the newest snapshot includes every queued event, and its model equals a fresh model with
     the epoch's VW arguments fed the learn queue in order (same JSON weights),
   - the surviving host answered through the proxy after the kill, errors (connection errors and
     5xx answers) came only within `KILL_WINDOW_SECONDS` of the kill (requests in flight on the
     killed host), nginx's log names no failed request to the surviving host, and a candidate
     of the surviving host took the lease.

It prints a table (and with `--json` the result as one JSON line at the end) and exits 0 if
every check passed; 1 if a check failed; 2 if the run itself could not be carried out (no
PostgreSQL, a host or the proxy did not start, the hard wall limit of duration + 150 s).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from scripts.load_and_fault import (
    HOST,
    USER_PREFIX,
    Client,
    compare_log,
    count_load,
    load_parser,
    log_problems,
    make_clients,
    n,
    parse_load_args,
    reexec_with_venv,
    replay_equal,
    run_and_report,
    start_load,
    stop_clients,
    verdict_table,
    worker_models,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Errors (connection errors, 5xx answers) this long after the kill are the killed host's
#: requests in flight; any other error fails the run. Seconds.
KILL_WINDOW_SECONDS = 2.0
#: How often the lease watcher asks pg_locks who holds the learner's lock, in seconds.
WATCH_INTERVAL = 0.05
LEADING = "leading: the learner of this log"
LOST = "lost the learner lease"


def log(message: str) -> None:
    print(f"[multihost_fault {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def connect(url: str):
    import psycopg
    from psycopg.rows import dict_row

    return psycopg.connect(url, autocommit=True, connect_timeout=5, row_factory=dict_row)


def scalar(conn, sql: str, params=()):
    return next(iter(conn.execute(sql, params).fetchone().values()))


# Who learns ---------------------------------------------------------------------------------


class LeaseWatch(threading.Thread):
    """Polls the database every ``WATCH_INTERVAL`` s: which session holds the learner's advisory
    lock (PostgreSQL's backend pid, None if nobody) and the newest checkpoint's id, keeping each
    change with its time (``time.monotonic``)."""

    def __init__(self, url: str):
        super().__init__(name="lease-watch", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.holders: list[tuple[float, int | None]] = []
        self.publishes: list[tuple[float, int]] = []
        self.failures = 0

    def run(self) -> None:
        from artwork.postgres import LEARNER_LOCK

        conn = None
        while not self.stop.wait(WATCH_INTERVAL):
            try:
                conn = conn or connect(self.url)
                # A one-key advisory lock: classid holds the key's high 32 bits, objid the low ones.
                row = conn.execute(
                    "SELECT (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                    "  AND classid = %s AND objid = %s LIMIT 1) AS holder,"
                    " (SELECT max(id) FROM checkpoints) AS newest",
                    (LEARNER_LOCK >> 32, LEARNER_LOCK & 0xFFFFFFFF)).fetchone()
            except Exception:  # noqa: BLE001 - counted and reported; the watch goes on
                self.failures += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            now = time.monotonic()
            if not self.holders or self.holders[-1][1] != row["holder"]:
                self.holders.append((now, row["holder"]))
            if row["newest"] is not None and (not self.publishes or self.publishes[-1][1] != row["newest"]):
                self.publishes.append((now, row["newest"]))
        if conn is not None:
            conn.close()

    def holder(self) -> int | None:
        return self.holders[-1][1] if self.holders else None

    def wait_for_holder(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.holder() is None and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL)
        return self.holder()

    def taken_over(self, since: float, before: int | None) -> float | None:
        """When a session other than ``before`` first held the lock after ``since``; None if none did."""
        return next((t for t, h in self.holders if t >= since and h is not None and h != before), None)

    def published_after(self, since: float) -> float | None:
        """When a checkpoint newer than the newest seen before ``since`` first appeared; None if none did."""
        at_since = max((c for t, c in self.publishes if t < since), default=None)
        return next((t for t, c in self.publishes if t >= since and c != at_since), None)


def host_log(server) -> str:
    try:
        return server.logs[-1].read_text(errors="replace")
    except OSError:
        return ""


def leads(server) -> bool:
    """Whether this host's learner candidate leads, from its log: its last leadership line says
    it took the lease (the learner logs when it takes the lease and when it loses it)."""
    text = host_log(server)
    return text.rfind(LEADING) > text.rfind(LOST)


def times_led(server) -> int:
    """How many times a learner candidate of this host took the lease (its log's lines)."""
    return host_log(server).count(LEADING)


def learner_pids(server) -> list[int]:
    """The pids of the host's learner candidate (`artwork learn`, started by `serve --workers`)."""
    return [pid for pid, cmd in server.members() if " learn " in f" {cmd} "]


def proxy_errors(proxy, upstream: str) -> int:
    """How many errors nginx logged about requests to the serving host ``upstream`` (host:port)."""
    try:
        lines = proxy.logs[-1].read_text(errors="replace").splitlines()
    except OSError:
        return 0
    return sum(1 for line in lines if "[error]" in line and f'upstream: "http://{upstream}/' in line)


# Reconciling --------------------------------------------------------------------------------


def reconcile(url: str, decisions: list, outcomes: list, default_reward: float, scratch: Path) -> dict:
    """Read the log (PostgreSQL) and compare it with what the clients were told, as
    load_and_fault's ``reconcile`` does for SQLite; the newest snapshot's bytes come from the
    database and are compared with a replay of the learn queue."""
    like = (USER_PREFIX + "%",)
    with connect(url) as conn:
        logged = {r["event_id"] for r in conn.execute("SELECT event_id FROM impressions")}
        ours = {r["event_id"] for r in conn.execute("SELECT event_id FROM impressions WHERE user_id LIKE %s", like)}
        in_log = collections.Counter((r["event_id"], r["kind"], r["effect"])
                                     for r in conn.execute("SELECT event_id, kind, effect FROM outcomes"))
        rewards = {r["event_id"]: (r["state"], r["reward"], r["final_reason"]) for r in conn.execute(
            "SELECT event_id, state, reward, final_reason FROM impressions WHERE user_id LIKE %s", like)}
        queued = scalar(conn, "SELECT count(*) FROM learn_queue")
        twice = scalar(conn, "SELECT count(*) - count(DISTINCT event_id) FROM learn_queue")
        queued_not_final = scalar(conn, "SELECT count(*) FROM learn_queue q LEFT JOIN impressions i USING (event_id)"
                                        " WHERE i.state IS DISTINCT FROM 'final'")
        final_not_queued = scalar(conn, "SELECT count(*) FROM impressions i WHERE i.state = 'final' AND NOT EXISTS"
                                        " (SELECT 1 FROM learn_queue q WHERE q.event_id = i.event_id)")
        pending = scalar(conn, "SELECT count(*) FROM impressions WHERE state <> 'final'")
        max_seq = scalar(conn, "SELECT coalesce(max(seq), 0) FROM learn_queue")
        numbers = scalar(conn, "SELECT count(DISTINCT seq) FROM learn_queue")
        epoch = conn.execute("SELECT epoch, start_seq, vw_args FROM model_epochs"
                             " ORDER BY epoch DESC LIMIT 1").fetchone()
        checkpoint = conn.execute("SELECT seq, file, sha256, vw_args, data FROM checkpoints WHERE epoch = %s"
                                  " ORDER BY seq DESC, id DESC LIMIT 1", (epoch["epoch"],)).fetchone()
        events = conn.execute(
            "SELECT q.seq, i.features, i.chosen_index, i.reward, i.probability FROM learn_queue q"
            " JOIN impressions i USING (event_id) WHERE q.seq > %s ORDER BY q.seq", (epoch["start_seq"],)).fetchall()
    model_equal, model_note = False, "no checkpoint"
    if checkpoint is not None:
        path = scratch / "snapshot" / checkpoint["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(checkpoint["data"])
        model_equal, model_note = replay_equal(path, checkpoint, checkpoint["vw_args"] or epoch["vw_args"], events,
                                               epoch["start_seq"])
    return {
        **compare_log(decisions, outcomes, logged, ours, in_log, rewards, default_reward),
        "events_learned": queued,
        "learned_twice": twice,
        "queued_not_final": queued_not_final,
        "final_not_queued": final_not_queued,
        "pending_left": pending,
        "max_seq": max_seq,
        "queue_numbers_gapless": numbers == max_seq - epoch["start_seq"] == queued,
        "checkpoint_seq": checkpoint["seq"] if checkpoint is not None else None,
        "learner_caught_up": checkpoint is not None and checkpoint["seq"] == max_seq,
        "model_equal": model_equal,
        "model_comparison": model_note,
    }


def drain_state(url: str) -> dict:
    """Pending windows, final events not yet numbered, the learn queue's top, the newest snapshot."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM impressions WHERE state <> 'final') AS pending,"
            " (SELECT count(*) FROM finalized) AS unnumbered,"
            " (SELECT coalesce(max(seq), 0) FROM learn_queue) AS max_seq,"
            " (SELECT seq FROM checkpoints ORDER BY epoch DESC, seq DESC, id DESC LIMIT 1) AS snapshot_seq").fetchone()


# The run ------------------------------------------------------------------------------------


def parse_args(argv):
    p = load_parser("multihost_fault", __doc__.split("\n\n")[0], "a host (see --kill)", 150)
    p.add_argument("--kill", choices=("leader-host", "other-host"), default="leader-host",
                   help="leader-host: SIGKILL the process group of the host whose learner leads (default); "
                        "other-host: SIGKILL the other host's group and the leading learner process")
    p.add_argument("--database-url", default=None,
                   help="admin URL of the PostgreSQL server, where the run creates and drops its own database "
                        f"(default: ARTWORK_TEST_DATABASE_URL, else {ADMIN_URL})")
    args = parse_load_args(p, argv)
    args.database_url = args.database_url or os.environ.get("ARTWORK_TEST_DATABASE_URL") or ADMIN_URL
    return args


def admin(admin_url: str, sql: str) -> None:
    with connect(admin_url) as conn:
        conn.execute(sql)


def run(args) -> dict:
    from artwork.config import load_settings
    from artwork.harness import ProxyProcess, ServerProcess, free_port

    scratch = Path(tempfile.mkdtemp(prefix="multihost_fault-"))
    log_dir = args.log_dir or scratch / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    name = f"artwork_multihost_{uuid.uuid4().hex[:12]}"
    url = database_url(args.database_url, name)
    result: dict = {"settings": {"duration": args.duration, "clients": args.clients, "workers": args.workers,
                                 "kill_after": args.kill_after, "kill": args.kill, "seed": args.seed,
                                 "reward_wait_seconds": args.reward_wait, "database": name,
                                 "data_dirs": [str(scratch / "host-a"), str(scratch / "host-b")],
                                 "log_dir": str(log_dir)},
                    "passed": False, "problems": []}
    env = {"ARTWORK_DATABASE_URL": url, "ARTWORK_REWARD_WAIT_SECONDS": str(args.reward_wait),
           "ARTWORK_DATA_DIR": None}
    hosts = [ServerProcess(scratch / f"host-{h}", args=("--workers", str(args.workers)), host=HOST, env=env)
             for h in "ab"]
    (scratch / "host-b").mkdir()  # an empty disk: the second host gets everything from the database
    proxy: ProxyProcess | None = None
    watch = LeaseWatch(url)
    default_reward = load_settings(environ=hosts[0].env).default_reward
    created = False

    def stop_all(grace: float) -> None:
        for proc in [proxy, *hosts]:
            if proc is not None and proc.proc is not None:
                proc.stop(grace)

    # The hard wall: whatever happens, every process started dies and the run fails by then.
    def wall_reached():
        log(f"hard wall limit of {args.wall:.0f} s reached: killing every process started and failing")
        try:
            for proc in [proxy, *hosts]:
                if proc is not None and proc.alive():
                    proc.kill()
            if created and not args.keep:
                admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            os._exit(2)

    watchdog = threading.Timer(args.wall, wall_reached)
    watchdog.daemon = True
    watchdog.start()
    clients: list[Client] = []
    try:
        try:
            admin(args.database_url, f'CREATE DATABASE "{name}"')
        except Exception as exc:  # noqa: BLE001 - psycopg's errors: the run cannot be carried out
            raise RuntimeError(f"cannot create a database on {args.database_url}: {exc}") from exc
        created = True
        # The first host initializes the database (migrations, the demo catalog) and its
        # candidate takes the lease; the second starts on an empty disk and stands by.
        for host, label in zip(hosts, "ab", strict=True):
            host.start(free_port(HOST), log_dir / f"host-{label}.log")
            host.wait_healthy(120)
            if label == "a":  # migrated now: the watch can read pg_locks and the checkpoints
                watch.start()
                if watch.wait_for_holder(30) is None:
                    raise RuntimeError(f"no learner took the lease within 30 s; see {host.logs[-1]}")
        proxy = ProxyProcess([f"{HOST}:{h.port}" for h in hosts], host=HOST, port=free_port(HOST))
        proxy.start(log_path=log_dir / "proxy.log")
        proxy.wait_healthy(30)
        shared, clients = make_clients(proxy.port, args)
        log(f"hosts on ports {hosts[0].port} and {hosts[1].port}, proxy on {proxy.port}, database {name}; "
            f"{args.clients} clients for {args.duration:.0f} s, {args.kill} killed at {args.kill_after:.1f} s")
        start_load(shared, clients)

        # The fault.
        time.sleep(max(0.0, shared.t0 + args.kill_after - time.monotonic()))
        leaders = [leads(h) for h in hosts]
        if leaders.count(True) != 1:
            raise RuntimeError(f"before the kill, the hosts' logs name {leaders.count(True)} leaders, not one")
        leader = leaders.index(True)
        victim = leader if args.kill == "leader-host" else 1 - leader
        survivor = hosts[1 - victim]
        survivor_led = times_led(survivor)
        leader_pids = learner_pids(hosts[leader])
        holder_before = watch.holder()
        group_before = hosts[victim].members()
        shared.kill_t = time.monotonic()
        killed = hosts[victim].kill()
        if leader != victim:
            for pid in leader_pids:
                os.kill(pid, signal.SIGKILL)
        left = hosts[victim].wait_gone(10)
        log(f"SIGKILL to host {'ab'[victim]}'s process group ({len(killed)} processes)"
            + ("" if leader == victim else f" and to the leading learner on host {'ab'[leader]} ({leader_pids})"))
        time.sleep(max(0.0, shared.t0 + args.duration - time.monotonic()))
        load_end = stop_clients(shared, clients, args.timeout, log)

        # Drain: every window closes, the leader learns and publishes it all, the survivor serves it.
        drain_deadline = time.monotonic() + max(60.0, 10 * args.reward_wait)
        caught_up = False
        while time.monotonic() < drain_deadline and survivor.alive():
            state = drain_state(url)
            if state["pending"] == 0 and state["unnumbered"] == 0 and state["snapshot_seq"] == state["max_seq"]:
                served = worker_models(survivor.port, args.workers, 10)
                if len(served) == args.workers and all(v == state["max_seq"] and lag == 0
                                                       for v, lag in served.values()):
                    caught_up = True
                    break
            time.sleep(0.25)
        drained_in = time.monotonic() - load_end
        log(f"drained in {drained_in:.1f} s (caught up: {caught_up})")
        # A candidate of the surviving host took the lease after the kill (the killed host's log ends as it was).
        new_leader = 1 - victim if times_led(survivor) > survivor_led and leads(survivor) else None
        takeover_t = watch.taken_over(shared.kill_t, holder_before)
        # The new leader's first snapshot (one the old leader committed just before the kill may be seen after it).
        published_t = None if takeover_t is None else watch.published_after(takeover_t)
        watch.stop.set()
        watch.join(5)
        proxy.stop(30)
        code = survivor.terminate(60)  # SIGTERM: its exit code, or None if it had to be killed
        left_after_stop = survivor.wait_gone(30)
        log(f"graceful stop of host {'ab'[1 - victim]}: exit code {code}")
        # nginx names the host of each failed request: none may be the surviving host.
        upstream_errors = [proxy_errors(proxy, f"{HOST}:{h.port}") for h in hosts]
        reconciled = reconcile(url, [d for c in clients for d in c.decisions],
                               [o for c in clients for o in c.outcomes], default_reward, scratch)
    finally:
        watchdog.cancel()
        watch.stop.set()
        stop_all(10)
        if created and not args.keep:  # a shared server: the run's database never outlives it
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Counting.
    window_end = shared.kill_t + KILL_WINDOW_SECONDS
    errors = [(t, kind, what) for c in clients for t, kind, what in c.errors]
    errors += [(t, kind, str(status)) for c in clients for t, kind, status in c.answered_5xx]
    counts, decisions, outcomes, _ = count_load(clients, errors, shared.kill_t, window_end, shared.t0, "errors")
    result.update({
        **counts,
        "acknowledged_decisions_after_kill": sum(1 for _, s, _ in decisions if s > window_end),
        "acknowledged_outcomes_after_kill": sum(1 for o in outcomes if o[3] > window_end),
        "killed_host": "ab"[victim],
        "leader_before_kill": "ab"[leader],
        "leader_after_kill": None if new_leader is None else "ab"[new_leader],
        "killed_processes": [cmd for _, cmd in killed],
        "processes_in_group_before_kill": len(group_before),
        "processes_left_after_kill": len(left),
        "leading_learner_killed_separately": leader != victim,
        "kill_at_seconds": round(shared.kill_t - shared.t0, 2),
        "takeover_seconds": None if takeover_t is None else round(takeover_t - shared.kill_t, 2),
        "first_publish_after_kill_seconds": None if published_t is None else round(published_t - shared.kill_t, 2),
        "proxy_errors_killed_host": upstream_errors[victim],
        "proxy_errors_surviving_host": upstream_errors[1 - victim],
        "lease_holders": len(watch.holders),
        "lease_watch_failures": watch.failures,
        "load_seconds": round(load_end - shared.t0, 2),
        "drained": caught_up,
        "drain_seconds": round(drained_in, 2),
        "graceful_exit_code": code,
        "processes_left_after_stop": len(left_after_stop),
        **reconciled,
    })
    problems = result["problems"]
    problems += log_problems(result)
    if not result["queue_numbers_gapless"]:
        problems.append("the learn queue's numbers have gaps or repeats")
    if result["errors_outside_kill"]:
        problems.append(f"{result['errors_outside_kill']} errors outside the {KILL_WINDOW_SECONDS:g} s after the kill: "
                        f"{result['errors_outside_kill_examples']}")
    if result["proxy_errors_surviving_host"]:
        problems.append(f"nginx logged {result['proxy_errors_surviving_host']} failed requests to the surviving host")
    if not result["acknowledged_decisions_after_kill"] or not result["acknowledged_outcomes_after_kill"]:
        problems.append("the surviving host answered no decision or no outcome through the proxy after the kill")
    if takeover_t is None:
        problems.append("no other learner candidate took the lease after the kill")
    if result["leader_after_kill"] != "ab"[1 - victim]:
        problems.append(f"after the kill the leader is {result['leader_after_kill']}, not the surviving host's "
                        "candidate")
    if not result["learner_caught_up"]:
        problems.append(f"the learner did not catch up: snapshot at {result['checkpoint_seq']}, learn queue at "
                        f"{result['max_seq']}")
    if code != 0:
        problems.append(f"the surviving host's graceful stop ended with exit code {code}")
    if left or left_after_stop:
        problems.append(f"processes outlived their host: {len(left)} after SIGKILL, "
                        f"{len(left_after_stop)} after SIGTERM")
    if not caught_up:
        problems.append("the learner and the surviving host's serving processes did not reach the last event")
    result["passed"] = not problems
    result["logs"] = [str(p) for h in [*hosts, proxy] for p in h.logs]
    if result["passed"] and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def table(r: dict) -> str:
    s = r["settings"]
    kinds = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["requests_by_kind"].items()))
    effects = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["outcome_effects"].items()))
    errs = ", ".join(f"{k} {n(v)}" for k, v in sorted(r["errors_during_kill_by_type"].items()))
    other = ", ".join(f"{k}: {v}" for k, v in sorted(r["other_non_2xx"].items())) or "none"
    rows = [
        ("requests sent through the proxy", f"{n(r['requests'])} ({kinds})"),
        ("acknowledged (2xx)", n(r["acknowledged_requests"])),
        (f"errors within {KILL_WINDOW_SECONDS:g} s of the kill",
         n(r["errors_during_kill"]) + (f" ({errs})" if errs else "")),
        ("errors at other times", n(r["errors_outside_kill"])),
        ("non-2xx answers, by status", other),
        ("requests nginx logged as failed: to the killed host / to the other",
         f"{n(r['proxy_errors_killed_host'])} / {n(r['proxy_errors_surviving_host'])}"),
        ("acknowledged decisions", f"{n(r['acknowledged_decisions'])} ({n(r['acknowledged_decisions_before_kill'])} "
                                   f"before the kill, {n(r['acknowledged_decisions_after_kill'])} after it)"),
        ("decisions lost", n(r["decisions_lost"])),
        ("acknowledged outcomes", f"{n(r['acknowledged_outcomes'])} ({effects})"),
        ("outcomes lost", n(r["outcomes_lost"])),
        ("rewards disagreeing with the answer", n(r["reward_mismatches"])),
        ("events learned", n(r["events_learned"])),
        ("learned twice", n(r["learned_twice"])),
        ("queued but not final / final but not queued", f"{n(r['queued_not_final'])} / {n(r['final_not_queued'])}"),
        ("learner takeover after the kill (lease / first snapshot)",
         f"{r['takeover_seconds']} s / {r['first_publish_after_kill_seconds']} s"),
        ("newest snapshot = last event", f"{'yes' if r['learner_caught_up'] else 'no'} "
                                         f"({r['checkpoint_seq']} = {r['max_seq']})"),
        ("model equal to one that learned the log in order", "yes" if r["model_equal"] else "no"),
    ]
    head = (f"multi-host fault: {s['duration']:g} s of load, {s['clients']} clients, 2 hosts x {s['workers']} serving "
            f"processes on PostgreSQL behind artwork proxy, seed {s['seed']}, "
            f"ARTWORK_REWARD_WAIT_SECONDS={s['reward_wait_seconds']:g}\n"
            f"SIGKILL at {r['kill_at_seconds']:.1f} s to host {r['killed_host']}'s process group "
            f"({r['processes_in_group_before_kill']} processes)"
            + (" and to the leading learner" if r["leading_learner_killed_separately"] else ", the leader's host")
            + f"; leader {r['leader_before_kill']} -> {r['leader_after_kill']}; drained in {r['drain_seconds']:.1f} s; "
              f"graceful stop exit code {r['graceful_exit_code']}\n\n")
    return head + verdict_table(rows, r)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    reexec_with_venv(argv, "scripts.multihost_fault")
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))  # run the clean-up (stop every process) on SIGTERM
    import psycopg

    return run_and_report(run, table, args, log, errors=(psycopg.Error,),
                          where=lambda r: f"logs: {', '.join(r['logs'])}")


if __name__ == "__main__":
    sys.exit(main())
