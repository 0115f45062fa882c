"""`artwork serve --workers N`: gunicorn serving processes plus one learner process."""

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from servers import get_json, running_server

from artwork.storage import Store


def post(base, path, body=None):
    request = urllib.request.Request(f"{base}{path}", method="POST", data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_until(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def production(template_dir, tmp_path):
    shutil.copytree(template_dir, tmp_path / "data")
    with running_server(tmp_path / "data", tmp_path / "serve.log", args=("--workers", "2")) as (proc, base):
        yield proc, base, tmp_path / "data"


def worker_versions(base, workers=2, timeout=20):
    """model_version per serving process: ask /healthz (4 at a time, since one busy process may
    take every sequential request) until every process has answered."""
    seen = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=4) as pool:
        while len(seen) < workers:
            assert time.monotonic() < deadline, f"only {len(seen)} of {workers} serving processes answered"
            for health in pool.map(lambda _: get_json(f"{base}/healthz"), range(8)):
                assert health["role"] == "serve"
                seen[health["pid"]] = health["model_version"]
    return seen


def learner_pids(data_dir):
    out = subprocess.run(["pgrep", "-f", f"artwork learn --data-dir {data_dir}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_clicks_reach_every_serving_process_and_nothing_is_lost(production):
    proc, base, data_dir = production
    assert len(worker_versions(base)) == 2  # two serving processes answer
    titles = [t["id"] for t in get_json(f"{base}/api/v1/titles")["titles"]]

    def visit(i):
        decisions = post(base, "/api/v1/select-artwork", {"user_id": f"u{i}", "title_ids": titles[i % 30:i % 30 + 6]})
        for d in decisions["decisions"][:2]:
            post(base, f"/api/v1/events/{d['event_id']}/click")
        return [d["event_id"] for d in decisions["decisions"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        events = [e for batch in pool.map(visit, range(120)) for e in batch]
    store = Store(data_dir / "artwork.db")
    assert store.scalar("SELECT count(*) FROM impressions") == len(events) == 720
    assert store.scalar("SELECT count(*) FROM learn_queue") == 240
    # Every serving process follows the learner's snapshots: all 240 clicks arrive everywhere.
    wait_until(lambda: all(v == 240 for v in worker_versions(base).values()), 15,
               "the serving processes did not all load the learner's snapshot")

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    wait_until(lambda: not learner_pids(data_dir), 30, "the learner outlived the server")
    assert store.scalar("SELECT max(seq) FROM checkpoints") == 240


def test_a_dead_learner_is_restarted_and_catches_up(production):
    _, base, data_dir = production
    wait_until(lambda: len(learner_pids(data_dir)) == 1, 20, "no learner process")
    [first] = learner_pids(data_dir)
    subprocess.run(["kill", "-9", str(first)], check=True)
    decision = post(base, "/api/v1/select-artwork", {"user_id": "u", "title_id": "t01"})["decisions"][0]
    post(base, f"/api/v1/events/{decision['event_id']}/click")
    wait_until(lambda: learner_pids(data_dir) not in ([], [first]), 20, "the learner was not restarted")
    wait_until(lambda: all(v >= 1 for v in worker_versions(base).values()), 20,
               "the restarted learner did not learn and publish the click")


def test_errors_stay_json_under_gunicorn(production):
    _, base, _ = production
    with pytest.raises(urllib.error.HTTPError) as err:
        post(base, "/api/v1/select-artwork", {"user_id": "u", "title_id": "nope"})
    assert err.value.code == 404 and json.load(err.value)["error"]["code"] == "unknown_title"


def raw_http(base, head: bytes, body: bytes = b"", hang_up: bool = False) -> tuple[int, dict]:
    """Send bytes as they are (curl and urllib frame bodies their own way) and read the answer;
    ``hang_up``: then close the sending side, as a client that gives up mid-body does."""
    import http.client
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(base)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(head + b"\r\n" + body)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, json.loads(answer.read())


def test_bodies_are_read_as_framed_under_gunicorn(production):
    """Select bodies with a Content-Length are read straight from the server's input; chunked ones
    and ones over the limit go through werkzeug. Each must be read whole, or refused with 413."""
    _, base, _ = production
    body = json.dumps({"user_id": "framing", "title_ids": ["t01", "t02"]}).encode()
    head = b"POST /api/v1/select-artwork HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
    status, answer = raw_http(base, head + b"Content-Length: %d\r\n" % len(body), body)
    assert status == 200 and [d["title_id"] for d in answer["decisions"]] == ["t01", "t02"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    status, answer = raw_http(base, head + b"Transfer-Encoding: chunked\r\n", chunked + b"0\r\n\r\n")
    assert status == 200 and [d["title_id"] for d in answer["decisions"]] == ["t01", "t02"]
    # The server buffers a body whole before the app sees it: a body over MAX_BODY_BYTES is sent
    # whole, and refused (in JSON) by the app.
    status, answer = raw_http(base, head + b"Content-Length: 10000000\r\n", body + b" " * (10_000_000 - len(body)))
    assert status == 413 and answer["error"]["code"] == "request_entity_too_large"
    status, answer = raw_http(base, head + b"Content-Length: %d\r\n" % len(body), body[:-1] + b" ")
    assert status == 400 and "not valid JSON" in answer["error"]["message"]


def test_a_body_cut_short_is_never_answered_or_logged_by_either_server(template_dir, tmp_path):
    """A client that sends less than its Content-Length and gives up: both servers buffer a
    request whole before the app sees it, so the app never sees this one. No answer, nothing
    logged, and the server goes on answering."""
    import http.client

    body = json.dumps({"user_id": "cut-short", "title_id": "t01"}).encode()
    head = (b"POST /api/v1/select-artwork HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n" % (len(body) + 20))
    for args in ((), ("--workers", "2")):
        data = tmp_path / f"data{len(args)}"
        shutil.copytree(template_dir, data)
        with running_server(data, tmp_path / f"serve{len(args)}.log", args=args) as (_, base):
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                raw_http(base, head, body, hang_up=True)
            assert get_json(f"{base}/healthz")["status"] == "ok"
        store = Store(data / "artwork.db")
        assert store.scalar("SELECT count(*) FROM impressions WHERE user_id = 'cut-short'") == 0


HALF_REQUEST = b"POST /api/v1/select-artwork HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize("args", [(), ("--workers", "2")], ids=["one-process", "workers"])
def test_clients_that_send_half_a_request_do_not_delay_anyone_else(template_dir, tmp_path, args):
    """Fifty connections stuck halfway through their headers cost the server sockets, not its
    request threads or serving processes: a normal decision is still answered at once (gunicorn's
    sync workers waited 30 s on two such clients)."""
    import socket
    from urllib.parse import urlsplit

    shutil.copytree(template_dir, tmp_path / "data")
    with running_server(tmp_path / "data", tmp_path / "serve.log", args=args) as (_, base):
        where = urlsplit(base)
        stalled = [socket.create_connection((where.hostname, where.port), timeout=10) for _ in range(50)]
        try:
            for sock in stalled:
                sock.sendall(HALF_REQUEST)
            time.sleep(0.5)  # accepted, and read as far as they go
            for i in range(4):
                start = time.monotonic()
                request = urllib.request.Request(
                    f"{base}/api/v1/select-artwork", method="POST", headers={"Content-Type": "application/json"},
                    data=json.dumps({"user_id": f"prompt-{i}", "title_id": "t01"}).encode())
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 200
                assert time.monotonic() - start < 5, "a normal request waited for the stalled clients"
        finally:
            for sock in stalled:
                sock.close()


def test_serving_benchmark_smoke():
    """benchmarks/serving.py runs (in-process and learner parts; the HTTP part needs wrk)."""
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "serving.py"
    out = subprocess.run([sys.executable, str(script), "--skip-http", "--learn-events", "200"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "| one decision through the service (1 title), VW's answer kept from an earlier one |" in out
    assert "| one decision through the service (1 title), VW answering |" in out
    assert "| learner: final events from the log |" in out


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is installed by scripts/test")
def test_serving_benchmark_http_smoke():
    """The HTTP part of benchmarks/serving.py, briefly: wrk against `serve --workers 2`, every
    answer a 2xx, the click-to-model lag measured in both serving processes."""
    import re
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "serving.py"
    out = subprocess.run([sys.executable, str(script), "--duration", "1", "--rounds", "1", "--clicks", "2",
                          "--learn-events", "200"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = re.findall(r"^\| ((?:trivial JSON endpoint|select-artwork)[^|]*) \| ([\d,]+) \| [\d.]+ \| [\d.]+ "
                      r"\| (\d+) \|", out, re.M)
    names = [name for name, _, _ in rows]
    assert names.count("select-artwork, 1 title (people without history)") == 2, out  # alone, and sustained
    assert {"select-artwork, 1 title, people with a viewing history", "select-artwork, page of 40 titles",
            "select-artwork, 1 title, a different taste in every request (nothing kept helps)"} <= set(names)
    assert names.count("trivial JSON endpoint, GET /api/v1/ping (baseline)") == 2, out
    for _, rps, non_2xx in rows:
        assert float(rps.replace(",", "")) > 0 and non_2xx == "0", out
    assert "Click to model in every serving process, under sustained" in out and "| serving process (pid" in out
    caught_up = re.search(r"the learner was ([\d,]+) events .* caught up in ([\d.]+) s", out)
    assert caught_up and float(caught_up.group(2)) < 300, out
