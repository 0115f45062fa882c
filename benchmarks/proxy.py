"""Serving through `artwork proxy` (nginx) beside the same hosts served directly, in one run.

1. Slow clients: how long one normal select-artwork takes while clients hold half-sent requests
   open, through the proxy and directly at `artwork serve --workers N`, each beside the same
   request without them. Directly, each wait is bounded (``--direct-wait``): no answer in that
   time is reported as such.
2. Throughput (wrk on loopback, the one-title select-artwork script of benchmarks/serving.py):
   directly at one host (the baseline), through the proxy to that host, through the proxy to two
   hosts; in rounds, each ratio taken within its round. Every process shares the machine's cores
   (hosts, nginx, wrk): on a machine with few cores the two-host row shows what the proxy costs,
   not what a second machine would add.

Run (from the repository's root): .venv/bin/python -m benchmarks.proxy [--duration 10] [--rounds 2]
Needs nginx and wrk (Debian: apt-get install nginx wrk). Talks only to 127.0.0.1; every run is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from artwork.harness import HalfSentRequests, ProxyProcess, ServerProcess
from benchmarks.serving import lua_select, post_json, prepare_data_dir, run_wrk


def normal_request_s(base_url: str, timeout: float) -> float | None:
    """Seconds one select-artwork takes, or None if it got no answer within ``timeout``."""
    start = time.monotonic()
    try:
        post_json(f"{base_url}/api/v1/select-artwork", {"user_id": "normal", "title_id": "t01"}, timeout=timeout)
    except OSError:  # timed out, or refused or reset by a server that gave up
        return None
    return time.monotonic() - start


def median_request_s(base_url: str, timeout: float, times: int = 5) -> float | None:
    """The median of ``times`` normal requests in seconds, or None if one got no answer."""
    took = [normal_request_s(base_url, timeout) for _ in range(times)]
    return None if None in took else statistics.median(took)


def slow_client_rows(args, host: ServerProcess, proxy: ProxyProcess) -> list[tuple[str, float, float | None]]:
    """(what, normal request alone in s, the same with the slow clients in s or None)."""
    rows = []
    alone = median_request_s(proxy.base_url, 10)
    with HalfSentRequests(proxy.host, proxy.port, count=args.slow_clients):
        during = median_request_s(proxy.base_url, args.direct_wait)
    rows.append((f"through the proxy, {args.slow_clients} half-sent requests", alone, during))
    # Directly last (the host stays busy with the half-sent requests until they are closed),
    # and one request each: it may wait up to --direct-wait.
    alone = median_request_s(host.base_url, 10)
    for count in sorted({2, args.slow_clients}):
        with HalfSentRequests(host.host, host.port, count=count):
            during = normal_request_s(host.base_url, args.direct_wait)
        rows.append((f"directly at `artwork serve --workers {args.workers}`, {count} half-sent requests", alone,
                     during))
        host.wait_healthy(60)  # it recovers once they are closed
    return rows


def throughput_rows(args, targets: dict[str, str], script: Path) -> dict[str, tuple[dict, list[float]]]:
    """``args.rounds`` rounds of every target in turn; name -> (median figures, ratio to the first
    target in each round)."""
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, url in targets.items():
            runs[name].append(run_wrk(url, args.duration, args.connections, script))
    first = next(iter(targets))
    return {name: ({key: statistics.median(r[key] for r in runs[name]) for key in ("rps", "p50", "p99")}
                   | {"errors": sum(r["errors"] for r in runs[name])},
                   [r["rps"] / b["rps"] for r, b in zip(runs[name], runs[first], strict=True)])
            for name in targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="serving processes per host")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slow-clients", type=int, default=200)
    parser.add_argument("--direct-wait", type=float, default=40.0,
                        help="seconds a normal request may wait for an answer with the slow clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        title_ids = prepare_data_dir(tmp / "data")
        hosts = []
        for name in ("h1", "h2"):
            shutil.copytree(tmp / "data", tmp / name)
            host = ServerProcess(tmp / name, args=("--workers", str(args.workers)), log_path=tmp / f"{name}.log",
                                 env={"ARTWORK_REWARD_WAIT_SECONDS": "3600"}, timeout=60, grace=30)
            stack.callback(host.stop)
            hosts.append(host.start())
        for host in hosts:
            host.wait_healthy()
        upstreams = [f"{h.host}:{h.port}" for h in hosts]
        one = stack.enter_context(ProxyProcess(upstreams[:1], log_path=tmp / "proxy-one.log", timeout=30))
        two = stack.enter_context(ProxyProcess(upstreams, log_path=tmp / "proxy-two.log", timeout=30))
        script = tmp / "one.lua"
        script.write_text(lua_select(title_ids, 1))
        targets = {"direct": hosts[0].base_url, "one": one.base_url, "two": two.base_url}
        for url in targets.values():
            run_wrk(url, 2, args.connections, script)  # warm-up
        throughput = throughput_rows(args, targets, script)
        slow = slow_client_rows(args, hosts[0], one)
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"{len(title_ids)} titles; machine: {cores} cores; hosts: `artwork serve --workers {args.workers}`\n")
    print("| a normal select-artwork (1 title) | alone, ms (median of 5) | with the half-sent requests hanging "
          "(through the proxy: median of 5; directly: one request) |\n| --- | --- | --- |")
    for what, alone, during in slow:
        waited = f"no answer within {args.direct_wait:g} s" if during is None else f"{during * 1000:,.1f} ms"
        print(f"| {what} | {alone * 1000:.1f} | {waited} |")
    names = {"direct": "directly at one host (baseline)", "one": "through the proxy, one host",
             "two": "through the proxy, two hosts (same cores)"}
    print(f"\nDecisions (select-artwork, 1 title), wrk -t2 -c{args.connections} -d{args.duration}s, {args.rounds} "
          "rounds (medians; each ratio is taken within its round):\n")
    print("| what | decisions/s | p50 ms | p99 ms | non-2xx | ratio to baseline | ratio in each round |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for name, (r, ratios) in throughput.items():
        print(f"| {names[name]} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} "
              f"| {statistics.median(ratios):.2f} | {', '.join(f'{x:.2f}' for x in ratios)} |")


if __name__ == "__main__":
    main()
