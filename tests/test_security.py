"""Security headers on every kind of response, and no path traversal out of static/ or the
image store: through the test client and through the real servers (one process on waitress, and gunicorn's
with --workers), with raw request lines that no client normalizes."""

from __future__ import annotations

import http.client
import shutil
import socket
from urllib.parse import urlsplit

import pytest
from servers import running_server

from artwork.security import CONTENT_SECURITY_POLICY, HEADERS

#: Each test that builds an app runs on SQLite and on PostgreSQL (conftest.py).
BOTH_BACKENDS = True

EXPECTED = {name: value for name, (value, _) in HEADERS.items()}


def assert_secure(headers) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (name, headers.get(name))


def test_the_policy_allows_no_inline_script():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert EXPECTED["X-Content-Type-Options"] == "nosniff" and EXPECTED["X-Frame-Options"] == "DENY"
    assert EXPECTED["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert EXPECTED["Cross-Origin-Resource-Policy"] == "same-origin"


def test_headers_on_html_json_images_static_and_errors(client, service, monkeypatch):
    with client.get("/") as r:
        assert r.status_code == 200 and r.mimetype == "text/html"
        assert_secure(r.headers)
    with client.get("/static/app.js") as r:
        assert r.status_code == 200
        assert_secure(r.headers)
    r = client.get("/api/v1/titles")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert_secure(r.headers)
    with client.get("/images/t01-a1/poster.jpg") as r:
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        assert_secure(r.headers)
        etag = r.headers["ETag"]
    with client.get("/images/t01-a1/poster.jpg", headers={"If-None-Match": etag}) as r:
        assert r.status_code == 304
        assert_secure(r.headers)
    errors = [client.get("/api/v1/titles/t999"), client.get("/no/such/page"), client.get("/api/v1/select-artwork"),
              client.post("/api/v1/select-artwork", json={}),
              client.post("/api/v1/select-artwork", data="x" * (1024 * 1024 + 1), content_type="application/json")]
    monkeypatch.setattr(service, "stats", lambda: 1 / 0)
    errors.append(client.get("/api/v1/stats"))
    assert [r.status_code for r in errors] == [404, 404, 405, 400, 413, 500]
    for r in errors:
        assert r.mimetype == "application/json"
        assert_secure(r.headers)


def test_a_view_can_keep_its_own_header(app, client):
    @app.get("/test-own-header")
    def own():
        return "x", 200, {"Referrer-Policy": "same-origin"}

    @app.get("/test-own-header-lowercase")
    def own_lowercase():
        return "x", 200, {"referrer-policy": "origin"}

    r = client.get("/test-own-header")
    assert r.headers.getlist("Referrer-Policy") == ["same-origin"]  # its own, and only its own
    assert r.headers.getlist("X-Frame-Options") == ["DENY"]
    assert client.get("/test-own-header-lowercase").headers.getlist("Referrer-Policy") == ["origin"]


# Path traversal ---------------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../artwork/app.py",
    "/static/../pyproject.toml",
    "/static/%2e%2e/artwork/app.py",
    "/static/%2e%2e%2fartwork%2fapp.py",
    "/static/..%2fartwork%2fapp.py",
    "/static/..%2Fpyproject.toml",
    "/static/%252e%252e%252fartwork%252fapp.py",
    "/static/..%252fpyproject.toml",
    "/static/..\\artwork\\app.py",
    "/static/..%5cartwork%5capp.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/%2Fetc/passwd",
    "/static/....//....//etc/passwd",
    "/static/../../../../../../etc/passwd",
    "/static/%c0%ae%c0%ae/artwork/app.py",
    "/static/.%00./artwork/app.py",
    "/images/../../etc/passwd",
    "/images/..%2f..%2fetc%2fpasswd/poster.jpg",
    "/images/%2e%2e/poster.jpg",
    "/images/../artwork.db",
    "/images/t01-a1/../../../etc/passwd",
    "/images/%2e%2e%2f%2e%2e%2fartwork.db/poster.jpg",
    "/images/..%252f..%252fartwork.db/poster.jpg",
    "/images//etc/passwd/poster.jpg",
    "/images/t01-a1/..%2f..%2f..%2fetc%2fpasswd.jpg",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static///..//..//pyproject.toml",
]
#: Request lines only a raw client sends as written (a test client reads "//host/..." as a URL).
RAW_ONLY = ["//evil.example/static/app.js", "//etc/passwd", "/static/../../../../../../../../../etc/passwd",
            "/images/t01-a1/poster.jpg/../../"]
SECRETS = (b"root:", b"create_app", b"[project]", b"SQLite format")


def assert_refused(status: int, content_type: str, body: bytes, path: str) -> None:
    assert status in (400, 404), (path, status, body[:200])
    assert content_type.startswith("application/json"), (path, content_type)
    assert not any(secret in body for secret in SECRETS), path


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_is_refused_by_the_app(client, path):
    with client.get(path) as r:
        assert_secure(r.headers)
        if r.status_code == 308:
            # Werkzeug's routing merges repeated slashes with a redirect to the same host;
            # where it leads is refused like the rest.
            location = urlsplit(r.headers["Location"])
            assert location.netloc in ("", "localhost") and not location.path.startswith("//"), r.headers
            with client.get(location.path) as target:
                assert_refused(target.status_code, target.content_type, target.data, location.path)
            return
        assert_refused(r.status_code, r.content_type, r.data, path)


def raw_get(port: int, path: str) -> tuple[int, str, bytes, dict]:
    """Send the request line exactly as written (http.client would not normalize it either, but
    it refuses some bytes; a socket sends anything)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, response.getheader("Content-Type", ""), body, dict(response.getheaders())


@pytest.mark.parametrize("workers", [(), ("--workers", "1")], ids=["werkzeug", "gunicorn"])
def test_traversal_is_refused_by_the_real_servers(template_dir, tmp_path, workers):
    shutil.copytree(template_dir, tmp_path / "data")
    with running_server(tmp_path / "data", tmp_path / "serve.log", args=workers, timeout=60) as (_, base):
        port = int(base.rsplit(":", 1)[1])
        status, _, body, headers = raw_get(port, "/static/app.js")
        assert status == 200 and b"import" in body
        assert_secure(headers)
        for path in TRAVERSALS + RAW_ONLY:
            status, content_type, body, headers = raw_get(port, path)
            if status == 308:  # repeated slashes merged: a redirect to the same host (see above)
                location = urlsplit(headers["Location"])
                assert location.netloc in ("", f"127.0.0.1:{port}"), headers
                status, content_type, body, headers = raw_get(port, location.path)
            if status == 400 and not content_type.startswith("application/json"):
                # The HTTP server itself refused the request line before the app saw it.
                assert not any(secret in body for secret in SECRETS), path
                continue
            assert_refused(status, content_type, body, path)
            assert_secure(headers)
