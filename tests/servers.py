"""Starting the real `artwork serve` process for tests that talk to it over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@contextmanager
def running_server(data_dir: Path, log_path: Path, *, env: dict | None = None, timeout: float = 120,
                   args: tuple[str, ...] = ()):
    """`artwork serve` on ``data_dir`` and a free port; yields (process, base URL) once /healthz
    answers, and stops it (SIGINT, then SIGKILL) afterwards if it is still running."""
    port = free_port()
    artwork = Path(sys.executable).with_name("artwork")
    with open(log_path, "wb") as log:
        # Its own process group, so that whatever it started can be cleaned up with it.
        proc = subprocess.Popen([str(artwork), "serve", "--data-dir", str(data_dir), "--port", str(port), *args],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                get_json(f"{base}/healthz")
                break
            except OSError:
                assert proc.poll() is None, Path(log_path).read_text(errors="replace")
                assert time.monotonic() < deadline, f"the server did not come up within {timeout:.0f} s"
                time.sleep(0.2)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:  # no worker or learner may outlive the test
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
