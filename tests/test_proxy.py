"""`artwork proxy`: Debian's nginx with the reference configuration (deploy/nginx.conf.template)
in front of real `artwork serve` hosts, all on 127.0.0.1. Requests spread over the hosts, a dead
host is skipped (only requests in flight on it fail), 200 half-sent requests delay no one, and
the proxy's own errors come in the service's JSON shape. Every process started here runs in its
own process group and is stopped by it, even when a test fails."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from artwork import proxy as proxy_module
from artwork.cli import cli
from artwork.harness import HalfSentRequests, ProxyProcess, ServerProcess, free_port, get_json
from artwork.proxy import ProxyError, check_config, find_nginx, nginx_command, render_config

SELECT = "/api/v1/select-artwork"


def request(base_url: str, method: str, path: str, body: dict | None = None, timeout: float = 15) -> tuple[int, dict]:
    """(status, JSON body) of one request; an HTTP error is an answer, not an exception."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base_url}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def select(base_url: str, user: str = "reader", timeout: float = 15) -> tuple[int, dict]:
    return request(base_url, "POST", SELECT, {"user_id": user, "title_id": "t01"}, timeout=timeout)


def timed_select(base_url: str, timeout: float = 15) -> float:
    """Seconds one select-artwork takes; it must succeed."""
    start = time.monotonic()
    status, body = select(base_url, timeout=timeout)
    assert status == 200, body
    return time.monotonic() - start


def logged_event_ids(data_dir: Path) -> set[str]:
    """Every decision in a host's log (read-only; the host may be dead)."""
    with sqlite3.connect(f"file:{data_dir / 'artwork.db'}?mode=ro", uri=True, timeout=10) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM impressions")}


def assert_gateway_error(status: int, body: dict, expected: int = 502) -> None:
    assert status == expected
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}, body
    assert body["error"]["status"] == expected and body["error"]["code"] == "bad_gateway", body


@pytest.fixture(scope="session")
def nginx() -> str:
    return find_nginx()  # scripts/test installs Debian's nginx; without it these tests fail, never skip


@contextmanager
def hosts_and_proxy(template_dir: Path, folder: Path, names=("a", "b"), workers: int = 1):
    """A serving host (`artwork serve --workers N`, its own copy of the demo data) per name, and
    `artwork proxy` in front of them; yields ({name: host}, proxy) once all answer and stops
    every one of them (by process group) on the way out, however the test ended."""
    with ExitStack() as stack:
        hosts = {}
        for name in names:
            shutil.copytree(template_dir, folder / name)
            hosts[name] = ServerProcess(folder / name, args=("--workers", str(workers)),
                                        log_path=folder / f"{name}.log", timeout=120, grace=20)
            stack.callback(hosts[name].stop)
            hosts[name].start()
        for host in hosts.values():  # started together, waited for together
            host.wait_healthy()
        proxy = ProxyProcess([f"{h.host}:{h.port}" for h in hosts.values()], log_path=folder / "proxy.log",
                             timeout=30, grace=20)
        stack.enter_context(proxy)
        yield hosts, proxy


@pytest.fixture(scope="module")
def cluster(nginx, template_dir, tmp_path_factory):
    """Two hosts with one serving process each behind one proxy, shared by the tests that leave
    them running."""
    with hosts_and_proxy(template_dir, tmp_path_factory.mktemp("cluster")) as running:
        yield running


def test_requests_through_the_proxy_are_spread_over_the_hosts(cluster):
    hosts, proxy = cluster
    owner = {pid: name for name, host in hosts.items() for pid, _ in host.members()}
    served = Counter(owner[get_json(f"{proxy.base_url}/healthz")["pid"]] for _ in range(20))
    assert served["a"] >= 5 and served["b"] >= 5, served
    # Each decision is logged by the host that answered it: on one of the two, once.
    acknowledged = []
    for n in range(20):
        status, body = select(proxy.base_url, user=f"spread-{n}")
        assert status == 200, body
        acknowledged.append(body["decisions"][0]["event_id"])
    logs = {name: logged_event_ids(host.data_dir) & set(acknowledged) for name, host in hosts.items()}
    assert logs["a"] and logs["b"], {name: len(ids) for name, ids in logs.items()}
    assert not logs["a"] & logs["b"] and logs["a"] | logs["b"] == set(acknowledged)


def test_200_half_sent_requests_do_not_delay_a_normal_request(cluster):
    hosts, proxy = cluster
    alone = min(timed_select(proxy.base_url) for _ in range(3))
    with HalfSentRequests(proxy.host, proxy.port, count=200) as slow:
        during = timed_select(proxy.base_url, timeout=30)
        # The hosts answer at once meanwhile.
        direct = {name: timed_select(host.base_url, timeout=30) for name, host in hosts.items()}
        held = slow.held()
    print(f"\nselect-artwork through the proxy: {alone * 1000:.1f} ms alone, {during * 1000:.1f} ms with 200 "
          f"half-sent requests hanging (ratio {during / alone:.1f}); directly at the hosts meanwhile: "
          + ", ".join(f"{name} {t * 1000:.1f} ms" for name, t in direct.items()))
    assert held == 200  # nginx still held every one of them while the others were answered
    # (gunicorn's sync workers, before the serving processes read their connections with waitress,
    # were held 30 s by each such client: these bounds are far below.)
    assert during < 5 and max(direct.values()) < 5


def test_a_dead_host_is_skipped_and_only_requests_in_flight_on_it_fail(nginx, template_dir, tmp_path):
    with hosts_and_proxy(template_dir, tmp_path) as (hosts, proxy):
        results = []  # (sent, answered, status, body), appended by every client
        stop = threading.Event()

        def client(n: int) -> None:
            count = 0
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    status, body = select(proxy.base_url, user=f"client-{n}-{count}")
                except http.client.IncompleteRead:
                    # The host died while nginx was passing its answer on: the client got the
                    # status line and part of the body. An in-flight failure like a 502.
                    status, body = None, None
                results.append((sent, time.monotonic(), status, body))
                count += 1

        clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
        for thread in clients:
            thread.start()
        time.sleep(2)
        killed_at = time.monotonic()
        members = hosts["a"].kill()  # SIGKILL to its whole process group: master, worker, learner
        # Dying takes a moment after the master is reaped: until the worker is gone, its listening
        # socket still accepts connections that the kernel then resets (in flight, like the others).
        left = hosts["a"].wait_gone(10)
        killed_by = time.monotonic()
        time.sleep(3)
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in clients)
        assert members and left == []

    failed = [r for r in results if r[2] != 200]
    for sent, answered, status, body in failed:
        assert sent <= killed_by and answered >= killed_at, "a request failed that was not in flight at the kill"
        if status is not None:  # else cut off mid-answer (above)
            assert_gateway_error(status, body)
    assert len(failed) <= len(clients)  # at most one in flight per client
    after = [r for r in results if r[0] > killed_by]
    assert len(after) >= 20 and all(r[2] == 200 for r in after)
    # Nothing acknowledged is lost: every answered decision is in the log of the host that made it.
    acknowledged = {r[3]["decisions"][0]["event_id"] for r in results if r[2] == 200}
    on_a, on_b = logged_event_ids(hosts["a"].data_dir), logged_event_ids(hosts["b"].data_dir)
    assert acknowledged & on_a, "host a answered nothing before it was killed"
    assert acknowledged <= on_a | on_b
    print(f"\n{len(results)} requests, {len(failed)} failed (in flight at the kill), {len(after)} sent after it, "
          "all answered")


def test_the_proxys_own_errors_are_in_the_services_json_shape(nginx, tmp_path):
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    proxy = ProxyProcess([dead], log_path=tmp_path / "proxy.log")
    try:
        proxy.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = request(proxy.base_url, "GET", "/healthz", timeout=5)
                break
            except OSError:
                assert proxy.alive() and time.monotonic() < deadline, (tmp_path / "proxy.log").read_text()
                time.sleep(0.1)
        assert_gateway_error(status, body)
        assert_gateway_error(*select(proxy.base_url))
    finally:
        proxy.stop()


def test_sigterm_stops_nginx_and_removes_its_prefix_directory(cluster, tmp_path):
    hosts, _ = cluster
    log = tmp_path / "proxy.log"
    with ProxyProcess([f"{hosts['a'].host}:{hosts['a'].port}"], log_path=log, timeout=30) as proxy:
        assert select(proxy.base_url)[0] == 200
        assert any("nginx: master process" in cmd for _, cmd in proxy.members())
        prefix = Path(re.search(r"prefix (\S+)\)", log.read_text()).group(1))
        assert (prefix / "nginx.conf").exists()
        assert proxy.terminate() == 0
        assert proxy.wait_gone(10) == []
    assert not prefix.exists()


def test_the_reference_configuration_passes_nginx_t(nginx, tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_config("127.0.0.1:8080", ["127.0.0.1:8001", "127.0.0.1:8002"]))
    out = subprocess.run([*nginx_command(nginx, tmp_path, conf), "-t"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "syntax is ok" in out.stderr and "test is successful" in out.stderr, out.stderr
    conf.write_text(conf.read_text().replace("proxy_pass", "proxy_passes"))
    with pytest.raises(ProxyError, match="unknown directive"):
        check_config(nginx, tmp_path, conf)


def test_the_rendered_configuration_lists_every_host_and_retries_no_post():
    text = render_config("127.0.0.1:8080", ["127.0.0.1:8001", "[::1]:8002"])
    directives = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "listen 127.0.0.1:8080;" in directives
    servers = [d for d in directives if d.startswith("server ") and d.endswith(";")]
    assert servers == ["server 127.0.0.1:8001 max_fails=1 fail_timeout=10s;",
                       "server [::1]:8002 max_fails=1 fail_timeout=10s;"]
    assert "proxy_next_upstream error timeout;" in directives  # never non_idempotent: no POST is resent
    assert "proxy_request_buffering on;" in directives
    assert not any("{{" in d for d in directives)
    with pytest.raises(ProxyError, match="placeholders nothing fills"):
        render_config("127.0.0.1:8080", ["127.0.0.1:8001"], template="listen {{listen}};\nuser {{user}};\n")
    with pytest.raises(ProxyError, match="at least one serving host"):
        render_config("127.0.0.1:8080", [])


def test_proxy_without_nginx_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(proxy_module, "SBIN_DIRS", ())  # PATH is all that is searched
    result = CliRunner().invoke(cli, ["proxy", "--port", str(free_port()), "--upstream", "127.0.0.1:8001"],
                                env={"PATH": str(tmp_path)})
    assert result.exit_code == 1
    assert "nginx not found: install Debian's nginx package (apt-get install nginx)" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_nginx_is_found_in_debians_sbin_when_path_lacks_it(nginx, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a non-root user's PATH has no /usr/sbin
    assert str(Path(find_nginx()).parent) in proxy_module.SBIN_DIRS


def test_a_taken_port_is_a_clear_error(nginx):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["proxy", "--port", str(port), "--upstream", "127.0.0.1:8001"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output


@pytest.mark.parametrize("upstream", ["8001", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:8001", ":8001"])
def test_an_upstream_that_is_not_host_port_is_refused(upstream):
    result = CliRunner().invoke(cli, ["proxy", "--upstream", upstream])
    assert result.exit_code == 2 and "Invalid value for '--upstream'" in result.output


def test_proxy_benchmark_smoke(nginx):
    """benchmarks/proxy.py runs, briefly: every wrk answer through the proxy and directly a 2xx
    (a request nginx refuses, such as one without a Host header, would show here), and the
    normal request through the proxy answered while the half-sent requests hang."""
    assert shutil.which("wrk"), "wrk is installed by scripts/test"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "benchmarks.proxy", "--duration", "1", "--rounds", "1",
                          "--slow-clients", "10", "--direct-wait", "2"],
                         capture_output=True, text=True, timeout=300, cwd=root, check=True).stdout
    rows = re.findall(r"^\| ((?:directly|through)[^|]*) \| ([\d,]+) \| [\d.]+ \| [\d.]+ \| (\d+) \|", out, re.M)
    assert [name for name, _, _ in rows] == ["directly at one host (baseline)", "through the proxy, one host",
                                             "through the proxy, two hosts (same cores)"], out
    for _, rps, non_2xx in rows:
        assert float(rps.replace(",", "")) > 0 and non_2xx == "0", out
    assert re.search(r"^\| through the proxy, 10 half-sent requests \| [\d.]+ \| [\d,.]+ ms \|$", out, re.M), out
