"""Start `artwork serve` (or `artwork proxy` in front of it) as a subprocess on a free port, wait
until it answers, stop it; and clients that send half a request, for slow-client tests.

The one harness the tests (tests/servers.py), the serving benchmark (benchmarks/serving.py) and
the scripts (``python -m scripts.load_and_fault``, ``python -m scripts.screenshot``) start the
real server with. The server runs in a session of its own, so its process group holds exactly
what it started (gunicorn's master, the serving processes, the learner): stopping it reaches
those and nothing else.

    with ServerProcess(data_dir, log_path=tmp / "serve.log", args=("--workers", "2")) as service:
        get_json(f"{service.base_url}/healthz")

Talks only to the address it binds (127.0.0.1 by default); every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The service exited before it answered, or did not answer /healthz in time."""


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the operating system's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 10) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def artwork_command() -> list[str]:
    """The `artwork` command: the console script beside this interpreter (a virtualenv's), else
    the package run by this interpreter."""
    script = Path(sys.executable).with_name("artwork")
    return [str(script)] if script.exists() else [sys.executable, "-m", "artwork"]


def answers(base_url: str, timeout: float = 2.0) -> bool:
    """True if GET /healthz answers 2xx within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as response:
            response.read()
        return True
    except (OSError, http.client.HTTPException):  # refused, reset, timed out, 4xx/5xx, cut short
        return False


def log_tail(log_path: Path | None, lines: int = 40) -> str:
    """The last lines of a log file, for an error message ("" if there is none)."""
    if log_path is None:
        return ""
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return f"\nlast lines of {log_path}:\n{tail}" if tail else f"\n{log_path} is empty"


def wait_healthy(base_url: str, timeout: float, *, proc: subprocess.Popen | None = None,
                 log_path: Path | None = None, poll: float = 0.1) -> None:
    """Return once ``base_url``/healthz answers 2xx; raise ServerStartError if ``proc`` (the server,
    if it is ours) exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not answers(base_url):
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(f"`{shlex.join(map(str, proc.args))}` exited with code {proc.returncode} before "
                                   f"{base_url}/healthz answered{log_tail(log_path)}")
        if time.monotonic() >= deadline:
            raise ServerStartError(f"the service at {base_url} did not answer /healthz within {timeout:g} s"
                               f"{log_tail(log_path)}")
        time.sleep(poll)


def group_members(pgid: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes of a process group, as (pid, command line)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            state, pgrp = fields[0], int(fields[2])
            if pgrp != pgid or state in ("Z", "X"):
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        members.append((int(entry), cmdline.strip()))
    return members


class ServerProcess:
    """`artwork serve --data-dir DATA_DIR --host HOST --port PORT *ARGS` in its own process group.

    ``env``: variables set on top of this process's environment (None removes one). ``port``:
    default a free one. ``log_path``: the server's stdout and stderr (default: discarded).
    ``timeout``: how long ``with`` waits for /healthz. ``grace``: how long a stop waits after
    SIGTERM before SIGKILL. It can be started again after it stopped (same port by default).

    As a context manager: starts, waits until /healthz answers (stopping it and raising
    ServerStartError if it exits or never answers), and stops it on the way out.
    """

    def __init__(self, data_dir: Path, *, args: Sequence[str] = (), env: Mapping[str, str | None] | None = None,
                 host: str = HOST, port: int | None = None, log_path: Path | None = None,
                 timeout: float = 120.0, grace: float = 30.0):
        self.data_dir, self.args, self.host, self.port = Path(data_dir), tuple(args), host, port
        self.log_path, self.timeout, self.grace = log_path, timeout, grace
        self.env = dict(os.environ)
        for name, value in (env or {}).items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = str(value)
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.logs: list[Path] = []  # the log of each start

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pgid(self) -> int:
        return self.proc.pid  # a new session: the leader's pid is the group id

    def command(self) -> list[str]:
        return [*artwork_command(), "serve", "--data-dir", str(self.data_dir), "--host", self.host,
                "--port", str(self.port), *self.args]

    def start(self, port: int | None = None, log_path: Path | None = None) -> ServerProcess:
        """Start the server (without waiting for it) on ``port``: default the port of the last
        start, else a free one; its output goes to ``log_path`` (default the one given)."""
        if self.alive():
            raise ServerStartError(f"already running (pid {self.proc.pid})")
        self.port = port or self.port or free_port(self.host)
        log_path = log_path or self.log_path
        self.starts += 1
        if log_path is not None:
            self.logs.append(Path(log_path))
        if log_path is None:
            self._popen(subprocess.DEVNULL)
        else:
            with open(log_path, "wb") as out:
                self._popen(out)
        return self

    def _popen(self, out) -> None:
        # A new session: its process group holds the server and whatever it starts, and nothing else.
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)

    def wait_healthy(self, timeout: float | None = None) -> ServerProcess:
        """Return once /healthz answers; ServerStartError if the server exits first or ``timeout``
        (default the one given) passes."""
        wait_healthy(self.base_url, self.timeout if timeout is None else timeout, proc=self.proc,
                     log_path=self.logs[-1] if self.logs else None)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def members(self) -> list[tuple[int, str]]:
        """The live processes of its process group: (pid, command line)."""
        return group_members(self.pgid) if self.proc is not None else []

    def kill(self) -> list[tuple[int, str]]:
        """SIGKILL to every process of its group at once; returns who was in it."""
        members = self.members()
        self._signal_group(signal.SIGKILL)
        self.proc.wait()
        return members

    def wait_gone(self, timeout: float) -> list[tuple[int, str]]:
        """Wait until no process of its group is left; returns those still there at ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := self.members()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def terminate(self, grace: float | None = None) -> int | None:
        """SIGTERM to the server (it stops its serving processes and the learner, which writes a
        last checkpoint); its exit code, or None if it was still running after ``grace`` seconds
        (default the one given) and its group was killed."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)  # nothing if it has exited already
        try:
            return self.proc.wait(timeout=self.grace if grace is None else grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self, grace: float | None = None) -> int | None:
        """``terminate``, then SIGKILL to whatever of its group outlived the server; the exit code."""
        code = self.terminate(grace)
        if self.proc is not None and self.members():  # no worker or learner may outlive it
            self._signal_group(signal.SIGKILL)
        return code

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ServerProcess:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class ProxyProcess(ServerProcess):
    """`artwork proxy --host HOST --port PORT --upstream U...` (nginx in the foreground, in front of
    the serving hosts ``upstreams``, ``host:port`` each) in its own process group, with the life
    cycle of ServerProcess: ``with`` waits until /healthz answers through it (so at least one
    host must answer) and stops it afterwards (SIGTERM: nginx stops gracefully)."""

    def __init__(self, upstreams: Sequence[str], **kwargs):
        super().__init__(Path(), **kwargs)  # a proxy has no data directory: command() uses none
        self.upstreams = tuple(upstreams)

    def command(self) -> list[str]:
        hosts = [arg for upstream in self.upstreams for arg in ("--upstream", upstream)]
        return [*artwork_command(), "proxy", "--host", self.host, "--port", str(self.port), *hosts, *self.args]


class HalfSentRequests:
    """``count`` clients that each send part of a ``POST path`` to ``host``:``port`` and then hold
    their connection open, sending nothing more (a slow or hostile client). Every other one stops
    in the middle of its headers; the rest send whole headers announcing a JSON ``body`` and then
    half of it. As a context manager: connects them all (each connect bounded by ``timeout``
    seconds) and closes them on the way out."""

    def __init__(self, host: str, port: int, count: int = 200, path: str = "/api/v1/select-artwork",
                 body: bytes = b'{"user_id": "slow", "title_id": "t01"}', timeout: float = 5.0):
        self.address, self.count, self.timeout = (host, port), count, timeout
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.messages = [head[:len(head) // 2], head + body[:len(body) // 2]]
        self.sockets: list[socket.socket] = []

    def open(self) -> HalfSentRequests:
        for n in range(self.count):
            sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sockets.append(sock)
            sock.sendall(self.messages[n % 2])
            sock.setblocking(False)  # held() peeks without waiting
        return self

    def held(self) -> int:
        """How many of them the server still holds: connected, neither closed nor answered."""
        count = 0
        for sock in self.sockets:
            try:
                sock.recv(1, socket.MSG_PEEK)  # b"": closed; bytes: answered
            except BlockingIOError:
                count += 1  # nothing to read: still waiting on us
            except OSError:
                pass  # reset
        return count

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def __enter__(self) -> HalfSentRequests:
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()
