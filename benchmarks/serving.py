"""Serving benchmarks: every figure beside a baseline measured in the same run, same machine.

1. HTTP (wrk on loopback against `artwork serve --workers N`): select-artwork for one title and
   for a page of 40, beside a trivial JSON endpoint (`GET /api/v1/ping`) of the same server, in
   rounds (each ratio taken within its round). Twice: serving alone (no reward window closes
   during the runs), and sustained (windows close 1 s after each decision, so the learner
   closes and learns as many events as are decided, on the same cores).
2. In-process: one decision through the service (features, predict, sample, log to SQLite)
   beside a bare VW predict on the same features; and a page of 40 per title.
3. Learner: final events learned per second from the log, beside bare VW learning the same
   examples; the click-to-model lag (click answered -> every serving process's model contains
   it) under sustained one-title load; how far a sustained page-of-40 load leaves the learner
   behind, and how long it takes to catch up.
4. Memory: resident size of each serving process and the learner, beside a bare Python process
   that imports Flask and VW and holds one workspace.

Run: .venv/bin/python benchmarks/serving.py [--workers 2] [--duration 5] [--rounds 3]
Needs wrk (Debian: apt-get install wrk). Talks only to 127.0.0.1; every run is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from artwork.harness import ServerProcess, get_json

PAGE = 40
EXTRA_TITLES = 84  # demo catalog (36) + these = 120 titles, so a page of 40 is a real page


def post_json(url: str, body: dict | None = None, timeout: float = 10) -> dict:
    request = urllib.request.Request(url, method="POST", data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def prepare_data_dir(path: Path, database_url: str | None = None) -> list[str]:
    """The demo catalog plus generated titles (tags only: decisions need no image files), in
    ``path``'s SQLite database, or with ``database_url`` in that PostgreSQL database (``path``
    is then only the serving host's local cache)."""
    from artwork.catalog import data_paths
    from artwork.demo_catalog import demo_titles
    from artwork.storage import Store

    path.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        store = Store(data_paths(path)["db"])
    else:
        from artwork.postgres import PostgresStore

        store = PostgresStore(database_url)
    demo = demo_titles()
    with store.write() as conn:
        for title in demo:
            store.put_title(conn, title, {}, time.time())
        for i in range(EXTRA_TITLES):
            base = demo[i % len(demo)]
            title = {**base, "id": f"b{i:03d}", "name": f"{base['name']} {i}",
                     "artwork": [{**a, "id": f"b{i:03d}-a{k}"} for k, a in enumerate(base["artwork"])]}
            store.put_title(conn, title, {}, time.time())
    ids = [r["id"] for r in store.query("SELECT id FROM titles ORDER BY position")]
    # 1,000 people with a viewing history (three views each, days apart) for the "fan-" runs.
    now = time.time()
    with store.write() as conn:
        conn.executemany("INSERT INTO users (id, created_ts) VALUES (?, ?)", [(f"fan-{n}", now) for n in range(1000)])
        conn.executemany("INSERT INTO views (user_id, title_id, seconds, at_ts) VALUES (?, ?, ?, ?)",
                         [(f"fan-{n}", ids[(n * 3 + k) % len(ids)], 600.0 * (k + 1), now - 86400 * k)
                          for n in range(1000) for k in range(3)])
    store.close()
    return ids


def lua_select(title_ids: list[str], page: int, people: str = "bench", tastes: list[str] | None = None) -> str:
    """A wrk script that cycles through pre-built select-artwork requests (1,000 people, titles
    in a rotating window), built once per wrk thread before it sends any so that wrk spends no more per request on
    these than on the trivial endpoint's fixed request (Lua building each one cost wrk a third
    more CPU per request, on the cores it shares with the server). ``people``: "bench" people
    have no history (the service starts them from the neutral prior), "fan" people have three
    views each (prepare_data_dir). With ``tastes`` (genres), each of 20,000 requests brings its
    own genre affinity (three of the genres, weights 1-9, seeded), so that no request's context
    or VW example is one the service has seen recently: nothing it keeps helps."""
    ids = ",".join(f'"{t}"' for t in title_ids)
    genres = ",".join(f'"{g}"' for g in tastes or [])
    count = 20000 if tastes else 3000
    return textwrap.dedent(f"""
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        local ids = {{{ids}}}
        local genres = {{{genres}}}
        local requests = {{}}
        -- Built in init, once wrk has set the Host header (HTTP/1.1 requires it; nginx refuses
        -- a request without it).
        function init(args)
          math.randomseed(1)
          for n = 1, {count} do
            local first = (n * 7) % #ids
            local picked = {{}}
            for k = 0, {page - 1} do picked[#picked + 1] = '"' .. ids[((first + k) % #ids) + 1] .. '"' end
            local context = ''
            if #genres > 0 then
              local g = math.random(#genres)
              local weights = {{}}
              for k = 0, 2 do
                weights[#weights + 1] = '"' .. genres[((g + k * 5) % #genres) + 1] .. '": ' .. math.random(9)
              end
              context = ', "context": {{"genre_affinity": {{' .. table.concat(weights, ", ") .. '}}}}'
            end
            local body = '{{"user_id": "{people}-' .. (n % 1000) .. '", "title_ids": ['
              .. table.concat(picked, ",") .. ']' .. context .. '}}'
            requests[n] = wrk.format(nil, "/api/v1/select-artwork", nil, body)
          end
        end
        local n = 0
        request = function()
          n = n % #requests + 1
          return requests[n]
        end
    """)


def run_wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=duration + 60, check=True).stdout

    def latency_ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency_ms("50%"),
            "p99": latency_ms("99%"), "errors": int(errors.group(1)) if errors else 0}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measured_wrk(server_pid: int, url: str, duration: int, connections: int, script: Path | None = None,
                 db_pids: Sequence[int] = ()) -> dict:
    """``run_wrk`` plus the server's CPU per request (every process of it: gunicorn, serving
    processes, learner), user and system, in microseconds; and as "db_us" the CPU per request
    (user + system, µs) of ``db_pids`` (a database server's processes), 0 without them."""
    pids = [server_pid, *children(server_pid)]
    before = {pid: cpu_seconds(pid) for pid in [*pids, *db_pids]}
    result = run_wrk(url, duration, connections, script)
    requests = result["rps"] * duration

    def used(pid: int) -> tuple[float, float]:
        with contextlib.suppress(FileNotFoundError):  # a database connection closed meanwhile
            return tuple(a - b for a, b in zip(cpu_seconds(pid), before[pid], strict=True))
        return 0.0, 0.0

    result["user_us"] = sum(used(pid)[0] for pid in pids) / requests * 1e6
    result["sys_us"] = sum(used(pid)[1] for pid in pids) / requests * 1e6
    result["db_us"] = sum(sum(used(pid)) for pid in db_pids) / requests * 1e6
    return result


def median_run(runs: list[dict]) -> dict:
    """The median of each figure over rounds; non-2xx answers are summed."""
    keys = ("rps", "p50", "p99", "user_us", "sys_us", "db_us")
    merged = {key: statistics.median(r[key] for r in runs) for key in keys}
    merged["errors"] = sum(r["errors"] for r in runs)
    return merged


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def baseline_rss_mb() -> float:
    code = ("import flask, vowpalwabbit, os; ws = vowpalwabbit.Workspace('--cb_explore_adf --quiet');"
            "print(open('/proc/self/status').read())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"VmRSS:\s+(\d+)", out).group(1)) / 1024


def click_lag(base: str, db: Path, title_ids: list[str], clicks: int, workers: int) -> list[float]:
    """Seconds from a click's answer until every serving process's model contains it."""
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lags = []
    for i in range(clicks):
        decision = post_json(f"{base}/api/v1/select-artwork",
                             {"user_id": f"lag-{i}", "title_id": title_ids[i % len(title_ids)]})["decisions"][0]
        post_json(f"{base}/api/v1/events/{decision['event_id']}/click")
        answered = time.monotonic()
        seq = reader.execute("SELECT seq FROM learn_queue WHERE event_id = ?", (decision["event_id"],)).fetchone()[0]
        seen: dict[int, int] = {}
        deadline = answered + 30
        while len(seen) < max(workers, 1) or min(seen.values()) < seq:  # --workers 0: one process
            assert time.monotonic() < deadline, "a click was not in every serving process's model within 30 s"
            health = get_json(f"{base}/healthz")
            seen[health["pid"]] = health["model_version"]
        lags.append(time.monotonic() - answered)
    reader.close()
    return lags


@contextlib.contextmanager
def served(args, tmp: Path, name: str, reward_wait: float):
    """``artwork serve --workers N`` on a copy of the prepared data, with REWARD_WAIT_SECONDS
    set; yields (server process, base URL, data directory) and stops it (SIGTERM) after."""
    data = tmp / name
    shutil.copytree(tmp / "data", data)
    with ServerProcess(data, args=("--workers", str(args.workers), "--threads", str(args.threads)),
                 env={"ARTWORK_REWARD_WAIT_SECONDS": str(reward_wait)}, log_path=tmp / f"{name}.log",
                 timeout=60, grace=30) as service:
        run_wrk(f"{service.base_url}/api/v1/ping", 2, args.connections)  # warm-up
        yield service.proc, service.base_url, data


def rounds(args, proc, targets: dict[str, tuple[str, Path | None]]) -> dict[str, tuple[dict, list[float]]]:
    """``args.rounds`` rounds of every target in turn, each round side by side: the machine's
    noise moves a round's figures together, so each ratio to the first target (the baseline)
    is taken within its round. Returns name -> (median figures, ratio in each round)."""
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (url, script) in targets.items():
            runs[name].append(measured_wrk(proc.pid, url, args.duration, args.connections, script))
    baseline = next(iter(targets))
    return {name: (median_run(runs[name]),
                   [r["rps"] / p["rps"] for r, p in zip(runs[name], runs[baseline], strict=True)])
            for name in targets}


def http_rows(args, title_ids: list[str], tmp: Path) -> dict:
    from artwork.catalog import data_paths

    one, fans, tastes, page = tmp / "one.lua", tmp / "fans.lua", tmp / "tastes.lua", tmp / "page.lua"
    with contextlib.closing(sqlite3.connect(data_paths(tmp / "data")["db"])) as db:
        genres = sorted({g for (listed,) in db.execute("SELECT genres FROM titles") for g in json.loads(listed)})
    one.write_text(lua_select(title_ids, 1))
    fans.write_text(lua_select(title_ids, 1, people="fan"))
    tastes.write_text(lua_select(title_ids, 1, people="taste", tastes=genres))
    page.write_text(lua_select(title_ids, PAGE))
    out: dict = {}
    # Serving alone: no reward window closes during these runs, so the learner has nothing to do.
    with served(args, tmp, "burst", reward_wait=3600) as (proc, base, data):
        out["burst"] = rounds(args, proc, {"ping": (f"{base}/api/v1/ping", None), "one": (base, one),
                                           "fans": (base, fans), "tastes": (base, tastes), "page": (base, page)})
    # Sustained: windows close 1 s after each decision, so while the load runs the learner
    # closes and learns as many events per second as are decided: each decision's whole cost.
    with served(args, tmp, "sustained", reward_wait=1) as (proc, base, data):
        run_wrk(base, 3, args.connections, one)  # windows start closing
        out["sustained"] = rounds(args, proc, {"ping": (f"{base}/api/v1/ping", None), "one": (base, one)})
        # The click-to-model lag while one-title selections keep the server busy (long enough
        # to cover every click: each takes up to a publish interval plus a poll).
        busy = max(args.duration, args.clicks + 3)
        load = threading.Thread(target=run_wrk, args=(base, busy, args.connections // 2, one))
        load.start()
        time.sleep(1)
        out["lags"] = click_lag(base, data / "artwork.db", title_ids, args.clicks, args.workers)
        load.join()
        # A page of 40 decides faster than the learner learns while they share the cores: how
        # far behind it falls in one run, and how long it takes to catch up afterwards.
        page_run = measured_wrk(proc.pid, base, args.duration, args.connections, page)
        time.sleep(1.5)  # the last windows close
        behind = get_json(f"{base}/healthz")["learner_lag"]
        start = time.monotonic()
        while get_json(f"{base}/healthz")["learner_lag"]["events"] and time.monotonic() - start < 300:
            time.sleep(0.25)
        out["page_sustained"] = (page_run, behind, time.monotonic() - start)
        out["memory"] = []  # after all of it, snapshots followed included
        for pid in children(proc.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            role = "learner process" if " learn " in cmdline else "serving process"
            out["memory"].append((f"{role} (pid {pid})", rss_mb(pid)))
    return out


def print_http(args, out: dict) -> None:
    names = {"ping": "trivial JSON endpoint, GET /api/v1/ping (baseline)",
             "one": "select-artwork, 1 title (people without history)",
             "fans": "select-artwork, 1 title, people with a viewing history",
             "tastes": "select-artwork, 1 title, a different taste in every request (nothing kept helps)",
             "page": f"select-artwork, page of {PAGE} titles"}
    header = ("| what | requests/s | p50 ms | p99 ms | non-2xx | server CPU µs/request (user + sys) "
              "| ratio to baseline | ratio in each round |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, title in [("burst", "serving alone (no reward window closes during the runs)"),
                       ("sustained", "sustained (windows close 1 s after each decision: the learner closes and "
                                     "learns them during the runs)")]:
        print(f"HTTP, {title}; `artwork serve --workers {args.workers} --threads {args.threads}`, wrk -t2 "
              f"-c{args.connections} -d{args.duration}s on loopback, {args.rounds} rounds (medians; each ratio "
              "is taken within its round):\n")
        print(header)
        for name, (r, ratios) in out[key].items():
            print(f"| {names[name]} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} "
                  f"| {r['user_us']:.0f} + {r['sys_us']:.0f} | {statistics.median(ratios):.2f} "
                  f"| {', '.join(f'{x:.2f}' for x in ratios)} |")
        print()
    lags_ms = np.array(out["lags"]) * 1000
    print(f"Click to model in every serving process, under sustained one-title load ({len(lags_ms)} clicks): "
          f"p50 {np.percentile(lags_ms, 50):.0f} ms, p99 {np.percentile(lags_ms, 99):.0f} ms, "
          f"max {lags_ms.max():.0f} ms")
    page_run, behind, drained = out["page_sustained"]
    print(f"\nSustained page-of-{PAGE} load: {page_run['rps'] * PAGE:,.0f} decisions/s for {args.duration} s "
          f"({page_run['errors']} non-2xx); afterwards the learner was {behind['events']:,} events "
          f"({behind['seconds']:.1f} s) behind and caught up in {drained:.1f} s\n")


def in_process_rows(tmp: Path, title_ids: list[str]) -> list[tuple]:
    from artwork.app import create_app
    from artwork.features import to_vw

    data = tmp / "inproc"
    shutil.copytree(tmp / "data", data)
    app = create_app({"DATA_DIR": str(data), "LEARNER": "manual", "SEED": 1})
    service = app.extensions["artwork"]
    rng = random.Random(0)
    for i in range(300):
        service.select_artwork(f"w{i}", [rng.choice(title_ids)])
    n = 3000
    picks = [rng.choice(title_ids) for _ in range(n)]
    start = time.perf_counter()
    for i, tid in enumerate(picks):
        service.select_artwork(f"u{i % 1000}", [tid])
    decision = (time.perf_counter() - start) / n  # the model's answers kept: same model, same texts
    memo = service.model._memo
    elapsed = 0.0
    for i, tid in enumerate(picks):
        memo.clear()  # as after every learn: VW answers each decision
        start = time.perf_counter()
        service.select_artwork(f"u{i % 1000}", [tid])
        elapsed += time.perf_counter() - start
    unkept = elapsed / n
    pages = [[title_ids[(k * 7 + j) % len(title_ids)] for j in range(PAGE)] for k in range(100)]
    start = time.perf_counter()
    for i, page in enumerate(pages):
        service.select_artwork(f"p{i}", page)
    per_title = (time.perf_counter() - start) / (len(pages) * PAGE)
    rows = service.store.query("SELECT features FROM impressions ORDER BY rowid DESC LIMIT 3000")
    lines = [to_vw(json.loads(r["features"])) for r in rows]
    model = service.model
    start = time.perf_counter()
    for i in range(n):
        model.predict_text(lines[i % len(lines)])  # VW's native parse and predict, as the service calls it
    bare = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for i in range(n):
        model._vw.predict(lines[i % len(lines)])
    binding = (time.perf_counter() - start) / n
    app.extensions["artwork.learner"].stop(checkpoint=False)
    service.store.close()
    return [("bare VW predict, same features (baseline)", bare * 1e6, 1.0),
            ("the same through the binding's public Workspace.predict", binding * 1e6, binding / bare),
            ("one decision through the service (1 title), VW's answer kept from an earlier one", decision * 1e6,
             decision / bare),
            ("one decision through the service (1 title), VW answering", unkept * 1e6, unkept / bare),
            (f"per title, in a page of {PAGE}", per_title * 1e6, per_title / bare)]


def learner_rows(tmp: Path, title_ids: list[str], n: int) -> list[tuple]:
    """Learn ``n`` final events from a log, beside bare VW learning the same examples."""
    import vowpalwabbit

    from artwork.app import create_app
    from artwork.features import to_vw
    from artwork.learner import Learner
    from artwork.policy import Model

    data = tmp / "learn"
    shutil.copytree(tmp / "data", data)
    app = create_app({"DATA_DIR": str(data), "LEARNER": "manual", "SEED": 2})
    service = app.extensions["artwork"]
    rng = np.random.default_rng(0)
    for i in range(n):
        d = service.select_artwork(f"u{i % 500}", [title_ids[int(rng.integers(len(title_ids)))]])["decisions"][0]
        service.record_outcome(d["event_id"], "click" if rng.random() < 0.1 else "dismiss")
    settings = service.settings
    app.extensions["artwork.learner"].stop(checkpoint=False)
    fresh = Model(settings.vw_args)
    learner = Learner(settings, service.store, fresh, tmp / "learn-models")
    start = time.perf_counter()
    learned = learner.learn_available()
    learn_s = time.perf_counter() - start
    assert learned == n
    rows = service.store.query("SELECT i.features, i.chosen_index, i.reward, i.probability FROM learn_queue q"
                               " JOIN impressions i USING (event_id) ORDER BY q.seq")
    examples = [to_vw(json.loads(r["features"]), label=(r["chosen_index"], -r["reward"], r["probability"]))
                for r in rows]
    native = Model(settings.vw_args)
    start = time.perf_counter()
    for ex in examples:
        native.learn_text(ex)  # VW's native parse and learn, as the learner calls it
    bare_s = time.perf_counter() - start
    native.close()
    ws = vowpalwabbit.Workspace(settings.vw_args + " --quiet")
    start = time.perf_counter()
    for ex in examples:
        ws.learn(ex)
    binding_s = time.perf_counter() - start
    ws.finish()
    service.store.close()
    return [("bare VW learn, same examples (baseline)", n / bare_s, 1.0),
            ("the same through the binding's public Workspace.learn", n / binding_s, bare_s / binding_s),
            ("learner: final events from the log", n / learn_s, bare_s / learn_s)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of (baseline, one title, page)")
    parser.add_argument("--clicks", type=int, default=20, help="clicks timed for the click-to-model lag")
    parser.add_argument("--learn-events", type=int, default=20000)
    parser.add_argument("--skip-http", action="store_true", help="only the in-process figures (no wrk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        title_ids = prepare_data_dir(tmp / "data")
        cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        print(f"{len(title_ids)} titles; machine: {cores} cores\n")
        if not args.skip_http:
            out = http_rows(args, title_ids, tmp)
            print_http(args, out)
            base_rss = baseline_rss_mb()
            print("| process | resident MB | ratio to baseline |\n| --- | --- | --- |")
            print(f"| bare Python + Flask + one VW workspace (baseline) | {base_rss:.0f} | 1.00 |")
            for name, mb in out["memory"]:
                print(f"| {name} | {mb:.0f} | {mb / base_rss:.2f} |")
            print()
        print("| in-process | microseconds | ratio to baseline |\n| --- | --- | --- |")
        for name, us, ratio in in_process_rows(tmp, title_ids):
            print(f"| {name} | {us:.0f} | {ratio:.2f} |")
        print("\n| learning | events/s | ratio to baseline |\n| --- | --- | --- |")
        for name, rate, ratio in learner_rows(tmp, title_ids, args.learn_events):
            print(f"| {name} | {rate:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
