"""Starting the real `artwork serve` process for tests that talk to it over loopback (through
the package's one harness, artwork.harness)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from artwork.harness import ServerProcess, free_port, get_json

__all__ = ["free_port", "get_json", "running_server"]


@contextmanager
def running_server(data_dir: Path, log_path: Path, *, env: dict | None = None, timeout: float = 120,
                   args: tuple[str, ...] = ()):
    """`artwork serve` on ``data_dir`` and a free port, in its own process group; yields
    (process, base URL) once /healthz answers (ServerStartError, with the log's last lines, if it
    exits or never answers), and stops it afterwards (SIGTERM, then SIGKILL; nothing it
    started outlives the test)."""
    with ServerProcess(data_dir, log_path=log_path, env=env, args=args, timeout=timeout, grace=20) as service:
        yield service.proc, service.base_url
