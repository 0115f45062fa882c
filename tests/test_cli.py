"""The ``artwork`` command: init, serve (a real server process) and catalog import."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from artwork.cli import cli
from artwork.storage import Store


def test_init_creates_the_data_directory_and_demo_catalog(runner, tmp_path):
    data = tmp_path / "fresh"
    result = runner.invoke(cli, ["init", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    store = Store(data / "artwork.db")
    titles, arts = store.scalar("SELECT count(*) FROM titles"), store.scalar("SELECT count(*) FROM artworks")
    assert titles >= 30 and f"{titles} titles, {arts} artwork variants" in result.output
    assert store.scalar("SELECT count(*) FROM artwork_images") == 2 * arts
    files = sorted(p.name for p in (data / "images").glob("*.jpg"))
    assert len(files) == store.scalar("SELECT count(DISTINCT file) FROM artwork_images")
    again = runner.invoke(cli, ["init", "--data-dir", str(data)])
    assert again.exit_code == 0 and f"{titles} titles, {arts} artwork variants" in again.output
    assert sorted(p.name for p in (data / "images").glob("*.jpg")) == files


def test_data_dir_from_the_environment(runner, tmp_path):
    data = tmp_path / "from-env"
    result = runner.invoke(cli, ["init", "--no-demo"], env={"ARTWORK_DATA_DIR": str(data)})
    assert result.exit_code == 0, result.output
    assert (data / "artwork.db").exists() and "0 titles" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_initializes_an_empty_directory_and_answers(tmp_path):
    """What the README's first command does: a real server process on loopback."""
    port, data = free_port(), tmp_path / "served"
    artwork = Path(sys.executable).with_name("artwork")
    proc = subprocess.Popen([str(artwork), "serve", "--data-dir", str(data), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        request = urllib.request.Request(
            f"{base}/api/v1/select-artwork", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"user_id": "readme", "title_id": "t01"}).encode())
        decision = json.load(urllib.request.urlopen(request, timeout=10))["decisions"][0]
        assert 0 < decision["probability"] <= 1
        row = Store(data / "artwork.db").query_one("SELECT user_id, probability FROM impressions WHERE event_id = ?",
                                                   (decision["event_id"],))
        assert row == {"user_id": "readme", "probability": decision["probability"]}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
