"""Slow clients: how long a normal request waits while N clients hold connections open with half a request.

Each slow client connects and sends the start of a request's headers (no blank line ends them),
then sends nothing more. With them holding their connections, a normal client times
``GET /api/v1/ping`` and a one-title select-artwork, one after the other, each on a new
connection; each is repeated ``--probes`` times. Reported per server mode: the slowest and the
median wait, and whether any probe failed.

Run: .venv/bin/python benchmarks/slow_clients.py [--slow 2 --slow 200] [--mode single --mode workers]
Talks only to 127.0.0.1; every wait is bounded (``--limit`` seconds per probe), and the slow
sockets are closed when a mode's probes are done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from artwork.harness import ServerProcess

MODES = {"single": (), "workers": ("--workers", "2")}
HALF_REQUEST = b"POST /api/v1/select-artwork HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@contextlib.contextmanager
def slow_clients(host: str, port: int, count: int):
    """``count`` connections, each having sent half a request's headers; closed on the way out."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(HALF_REQUEST)
            sockets.append(sock)
        time.sleep(0.5)  # let the server accept them (and, if it does, hand them to its workers)
        yield
    finally:
        for sock in sockets:
            sock.close()


def timed_request(base: str, limit: float, select: bool) -> float | None:
    """Seconds until the answer came, or None if it failed or took longer than ``limit``."""
    if select:
        request = urllib.request.Request(f"{base}/api/v1/select-artwork", method="POST",
                                         data=json.dumps({"user_id": "probe", "title_id": "t01"}).encode(),
                                         headers={"Content-Type": "application/json"})
    else:
        request = urllib.request.Request(f"{base}/api/v1/ping")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=limit) as response:
            response.read()
    except (OSError, urllib.error.URLError):
        return None
    return time.monotonic() - start


def measure(mode: str, slow: int, probes: int, limit: float, data_dir: Path, log: Path) -> dict:
    """Start the server in ``mode``, hold ``slow`` half-requests open, time ``probes`` probes of each kind."""
    with ServerProcess(data_dir, args=MODES[mode], log_path=log, timeout=120, grace=30) as server:
        timed_request(server.base_url, limit, select=True)  # warm-up, without slow clients
        with slow_clients(server.host, server.port, slow):
            times = [timed_request(server.base_url, limit, select=bool(i % 2)) for i in range(2 * probes)]
    answered = [t for t in times if t is not None]
    return {"mode": mode, "slow": slow, "probes": len(times), "failed": len(times) - len(answered),
            "median_s": statistics.median(answered) if answered else None,
            "max_s": max(answered) if answered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", action="append", choices=sorted(MODES), help="default: both")
    parser.add_argument("--slow", action="append", type=int, help="slow clients; repeat (default: 2 and 200)")
    parser.add_argument("--probes", type=int, default=3, help="probes of each kind (ping, select) per run")
    parser.add_argument("--limit", type=float, default=40.0, help="seconds a probe may take before it counts as failed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("| server | slow clients | probes | failed or over the limit | median s | slowest s |")
        print("| --- | --- | --- | --- | --- | --- |")
        for mode in args.mode or sorted(MODES, reverse=True):
            for slow in args.slow or [2, 200]:
                row = measure(mode, slow, args.probes, args.limit, tmp / "data", tmp / f"{mode}-{slow}.log")
                fmt = lambda s: "-" if s is None else f"{s:.3f}"  # noqa: E731
                command = "artwork serve" + "".join(f" {a}" for a in MODES[mode])
                print(f"| `{command}` | {slow} | {row['probes']} | {row['failed']} | {fmt(row['median_s'])} "
                      f"| {fmt(row['max_s'])} |", flush=True)


if __name__ == "__main__":
    main()
