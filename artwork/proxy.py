"""`artwork proxy`: nginx in front of several serving hosts, run in the foreground.

Renders the reference configuration (``deploy/nginx.conf.template``, installed as the
``artwork.deploy`` package data) for one listen address and the serving hosts into a fresh
prefix directory, has ``nginx -t`` check it, runs ``nginx -g 'daemon off;'`` until nginx exits
or this process is told to stop, and deletes the directory. Every path nginx writes (pid file,
temporary files) is inside that directory and its log goes to stderr, so it runs as any user
and leaves nothing behind; the Debian package's own service and its /etc/nginx are not used.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

NGINX_MISSING = "nginx not found: install Debian's nginx package (apt-get install nginx)"
#: Where Debian installs nginx, searched after PATH: a non-root user's PATH lacks the sbin folders.
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")
TEMPLATE_NAME = "nginx.conf.template"
#: Default per-client-key rate limit: requests per second, and how many more may come at once.
KEY_RATE = 100
KEY_BURST = 200
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class ProxyError(Exception):
    """The proxy cannot start: nginx is missing, the configuration is rejected, the port is taken."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets: ``[::1]:8001``) as (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProxyError(f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ProxyError(f"{text!r}: write an IPv6 address in brackets, as in [::1]:8001")
    return host, int(port)


def address(host: str, port: int) -> str:
    """``host:port`` as nginx's listen and server directives take it (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def template_text() -> str:
    """The reference configuration, with its ``{{listen}}`` and ``{{upstream}}`` placeholders."""
    return resources.files("artwork.deploy").joinpath(TEMPLATE_NAME).read_text()


def render_config(listen: str, upstreams: Sequence[str], template: str | None = None, *, key_rate: int = KEY_RATE,
                  key_burst: int = KEY_BURST) -> str:
    """The nginx configuration for ``listen`` (``host:port``) and the serving hosts
    (``host:port`` each): the directive line holding ``{{upstream}}`` is written once per host,
    ``{{listen}}``, ``{{key_rate}}`` (requests per second per client key) and ``{{key_burst}}``
    (requests above the rate a key may send at once) are replaced; comment lines are left as
    they are."""
    if key_rate < 1 or key_burst < 0:
        raise ProxyError(f"the key rate must be at least 1 request/s and the burst at least 0, not "
                         f"{key_rate} and {key_burst}")
    values = {"listen": listen, "key_rate": str(key_rate), "key_burst": str(key_burst)}
    if not upstreams:
        raise ProxyError("give at least one serving host (--upstream HOST:PORT)")
    lines = []
    for line in (template_text() if template is None else template).splitlines(keepends=True):
        if line.lstrip().startswith("#"):
            lines.append(line)
        elif "{{upstream}}" in line:
            lines += [line.replace("{{upstream}}", upstream) for upstream in upstreams]
        else:
            lines.append(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), line))
    text = "".join(lines)
    left = {m.group(1) for line in text.splitlines() if not line.lstrip().startswith("#")
            for m in _PLACEHOLDER.finditer(line)}
    if left:
        raise ProxyError(f"the configuration template has placeholders nothing fills: {sorted(left)}")
    return text


def find_nginx() -> str:
    """The nginx executable: on PATH, else in Debian's sbin folders; ProxyError if none."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    found = shutil.which("nginx", path=search)
    if found is None:
        raise ProxyError(NGINX_MISSING)
    return found


def nginx_command(nginx: str, prefix: Path, conf: Path) -> list[str]:
    """nginx with everything under ``prefix`` and its early messages on stderr (-e: before the
    configuration's error_log is read, nginx would open its compiled-in log path)."""
    return [nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr"]


def check_config(nginx: str, prefix: Path, conf: Path) -> None:
    """``nginx -t`` on the configuration; ProxyError with nginx's own words if it is rejected."""
    out = subprocess.run([*nginx_command(nginx, prefix, conf), "-t", "-q"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        raise ProxyError(f"nginx rejected the configuration {conf}:\n{(out.stderr + out.stdout).strip()}")


def check_port_free(host: str, port: int) -> None:
    """ProxyError if nothing can listen on ``host``:``port`` (taken, or a privileged port for a
    non-root user), said before nginx starts (nginx itself retries for 2.5 s, then fails)."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: TIME_WAIT is no obstacle
        try:
            sock.bind((bare, port))
        except OSError as exc:
            raise ProxyError(f"cannot listen on {address(host, port)}: {exc.strerror or exc}"
                             " (is another proxy or server using the port?)") from None


def make_prefix() -> Path:
    """A fresh prefix directory for nginx. Started as root, nginx's worker processes run as
    ``nobody`` and must reach the temporary folders nginx creates for them inside it: so the
    directory and every folder above it must let others pass (o+x), though not read."""
    prefix = Path(tempfile.mkdtemp(prefix="artwork-proxy-"))
    prefix.chmod(0o711)
    if os.geteuid() == 0:
        closed = [p for p in prefix.parents if not p.stat().st_mode & stat.S_IXOTH]
        if closed:
            shutil.rmtree(prefix, ignore_errors=True)
            raise ProxyError(f"nginx's worker processes (user nobody) cannot pass through {closed[0]}: "
                             "set TMPDIR to a folder others may pass through, such as /tmp")
    return prefix


def run_proxy(host: str, port: int, upstreams: Sequence[str], echo=print, *, key_rate: int = KEY_RATE,
              key_burst: int = KEY_BURST) -> None:
    """Run nginx in the foreground on ``host``:``port`` in front of ``upstreams`` (``host:port``
    each), each client key limited to ``key_rate`` requests/s with ``key_burst`` more at once,
    until it exits, or until SIGTERM or SIGINT, which stop it gracefully (SIGQUIT: requests in
    flight finish, for up to the configuration's worker_shutdown_timeout). ProxyError if it
    cannot start or exits on its own with an error (its messages are on stderr)."""
    nginx = find_nginx()
    check_port_free(host, port)
    prefix = make_prefix()
    try:
        conf = prefix / "nginx.conf"
        conf.write_text(render_config(address(host, port), upstreams, key_rate=key_rate, key_burst=key_burst))
        check_config(nginx, prefix, conf)
        echo(f"Proxying http://{address(host, port)}/ to {', '.join(upstreams)} (nginx, prefix {prefix})")
        proc = subprocess.Popen([*nginx_command(nginx, prefix, conf), "-g", "daemon off;"])
        stops: list[int] = []

        def stop(signum, _frame):
            stops.append(signum)
            proc.send_signal(signal.SIGQUIT)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if proc.poll() is None:  # only if waiting itself failed: nginx must not outlive us
                proc.kill()
                proc.wait()
        if code != 0 and not stops:
            raise ProxyError(f"nginx exited with code {code} (its messages are above)")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
