"""Client keys (README "Client keys"): off by default; with CLIENT_KEYS set, every public API call
needs one of the keys (or the demo's own key) in X-Api-Key, else 401 in the usual JSON error
shape, and the OpenAPI document says so. Health, metrics, the document, images and the demo page
stay open; admin operations keep their own token. Per-key rate limits are nginx's: a key over
its limit gets 429 through a real `artwork proxy` while another key is not limited."""

from __future__ import annotations

import http.client
import json
import logging
import shutil
import time

import pytest
from test_browser import LAPTOP, Demo, browser  # noqa: F401 (the browser fixture)
from test_openapi import response_validator
from test_proxy import nginx  # noqa: F401 (the nginx fixture: tests fail, never skip, without it)

from artwork.config import load_settings
from artwork.harness import ProxyProcess, ServerProcess
from artwork.security import CLIENT_KEY_HEADER, key_matches

KEY_A = "client-key-a-0123456789abcdef"
KEY_B = "client-key-b-0123456789abcdef"
DEMO_KEY = "demo-key-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
KEYS = {"CLIENT_KEYS": f"{KEY_A}, {KEY_B}", "DEMO_KEY": DEMO_KEY}
SELECT = "/api/v1/select-artwork"
PICK = {"user_id": "keyed", "title_id": "t01"}

#: Operations that stay open with keys on, and why: a load balancer's and Prometheus' probes,
#: the API contract, images (an <img> sends no header; the catalog's pictures are not secret),
#: the demo page and the question of its key. Everything else but admin needs a key.
OPEN = {("get", "/"), ("get", "/healthz"), ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/api/v1/ping"),
        ("get", "/images/{artwork_id}/{size}.jpg"), ("get", "/api/v1/demo-key")}


def with_key(key: str | None) -> dict:
    return {} if key is None else {CLIENT_KEY_HEADER: key}


@pytest.fixture
def keyed(make_app):
    return make_app(**KEYS, ADMIN_TOKEN=ADMIN_TOKEN).test_client()


def assert_refused(response, code: str) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert set(response.get_json()["error"]) == {"status", "code", "message"}
    assert response.get_json()["error"]["status"] == 401
    assert response.headers["WWW-Authenticate"] == f'ApiKey header="{CLIENT_KEY_HEADER}"'


def test_keys_are_off_by_default(client):
    assert load_settings(environ={}).accepted_keys == ()
    r = client.post(SELECT, json=PICK)
    assert r.status_code == 200
    assert client.post(f"/api/v1/events/{r.get_json()['decisions'][0]['event_id']}/click").status_code == 200
    assert client.get("/api/v1/demo-key").get_json() == {"key": None}
    doc = client.get("/openapi.json").get_json()
    assert "clientKey" not in doc["components"]["securitySchemes"]
    for op in (op for methods in doc["paths"].values() for op in methods.values() if "admin" not in op["tags"]):
        assert "security" not in op and "401" not in op["responses"], op["operationId"]


def test_with_keys_select_artwork_and_outcomes_need_a_valid_key(keyed):
    assert_refused(keyed.post(SELECT, json=PICK), "missing_client_key")
    assert_refused(keyed.post(SELECT, json=PICK, headers=with_key("")), "missing_client_key")
    assert_refused(keyed.post(SELECT, json=PICK, headers=with_key("client-key-a-0123456789abcdeX")),
                   "invalid_client_key")
    assert_refused(keyed.post(SELECT, json=PICK, headers={"Authorization": f"Bearer {KEY_A}"}), "missing_client_key")
    # Both listed keys are valid (rotation: list the old and the new key while clients move over).
    events = []
    for key in (KEY_A, KEY_B):
        r = keyed.post(SELECT, json=PICK, headers=with_key(key))
        assert r.status_code == 200, r.get_json()
        events.append(r.get_json()["decisions"][0]["event_id"])
    click = f"/api/v1/events/{events[0]}/click"
    assert_refused(keyed.post(click), "missing_client_key")
    assert_refused(keyed.post(f"/api/v1/events/{events[1]}/play", json={"seconds": 5}, headers=with_key("nope")),
                   "invalid_client_key")
    r = keyed.post(click, headers=with_key(KEY_B))
    assert r.status_code == 200 and r.get_json()["effect"] == "rewarded", r.get_json()
    assert keyed.post(f"/api/v1/events/{events[1]}/play", json={"seconds": 5}, headers=with_key(KEY_A)
                      ).status_code == 200


def test_a_refused_request_records_nothing(keyed, make_app):
    service = keyed.application.extensions["artwork"]
    before = service.stats()["impressions"]
    for headers in ({}, with_key("wrong-key-0123456789abcdef")):
        assert keyed.post(SELECT, json=PICK, headers=headers).status_code == 401
        assert keyed.post("/api/v1/users/u9/views", json={"title_id": "t01", "seconds": 60},
                          headers=headers).status_code == 401
    assert service.stats()["impressions"] == before
    assert keyed.get("/api/v1/users/u9/profile", headers=with_key(KEY_A)).get_json()["recent_views"] == []


def test_health_metrics_document_images_and_the_demo_page_stay_open(keyed):
    for path in ("/healthz", "/metrics", "/openapi.json", "/api/v1/ping", "/", "/static/api.js", "/api/v1/demo-key"):
        with keyed.get(path) as response:
            assert response.status_code == 200, path
    titles = keyed.get("/api/v1/titles", headers=with_key(KEY_A)).get_json()["titles"]
    with keyed.get(titles[0]["artwork"][0]["thumbnail_url"]) as image:
        assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_admin_operations_keep_their_own_token(keyed):
    refused = keyed.post("/api/v1/admin/model/reset", headers=with_key(KEY_A))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    r = keyed.post("/api/v1/admin/model/reset", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200, r.get_json()


def test_the_document_declares_the_key_and_the_401_on_exactly_the_keyed_operations(keyed):
    doc = keyed.get("/openapi.json").get_json()
    scheme = doc["components"]["securitySchemes"]["clientKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
    keyed_ops, admin_ops = set(), set()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if "admin" in op["tags"]:
                admin_ops.add((method, path))
                assert op["security"] == [{"adminToken": []}]
            elif (method, path) not in OPEN:
                keyed_ops.add((method, path))
                # Personalizer's routes take the same keys in Personalizer's header
                scheme_name = "subscriptionKey" if path.startswith("/personalizer/") else "clientKey"
                assert op["security"] == [{scheme_name: []}], (method, path)
                assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
            else:
                assert "security" not in op and "401" not in op["responses"], (method, path)
    assert {("post", "/api/v1/select-artwork"), ("post", "/api/v1/events/{event_id}/click"),
            ("get", "/api/v1/users/{user_id}/profile"), ("post", "/api/v1/simulate")} <= keyed_ops
    # with Personalizer's operations (its model reset among the admin ones) and the experiments'
    assert len(keyed_ops) == 20 and len(admin_ops) == 12
    # Each keyed operation answers 401 without a key, before reading anything, as documented.
    for method, path in sorted(keyed_ops):
        url = path.format(event_id="0" * 44, user_id="u1", title_id="t01", job_id="0" * 16, eventId="e1")
        r = keyed.open(url, method=method.upper(), data=b"not even JSON", content_type="application/json")
        if path.startswith("/personalizer/"):  # Personalizer's error shape and header
            assert r.status_code == 401 and r.get_json()["error"]["innerError"]["code"] == "missing_client_key"
            assert r.headers["WWW-Authenticate"] == 'ApiKey header="Ocp-Apim-Subscription-Key"'
        else:
            assert_refused(r, "missing_client_key")
        response_validator(doc, path, method, 401).validate(r.get_json())


def test_the_demos_calls_work_with_its_own_key(keyed):
    """What static/api.js does, call by call, with the key /api/v1/demo-key hands out."""
    key = keyed.get("/api/v1/demo-key").get_json()["key"]
    assert key == DEMO_KEY
    headers = with_key(key)
    titles = keyed.get("/api/v1/titles", headers=headers).get_json()["titles"]
    assert keyed.post("/api/v1/users/demo-thriller-fan/views", json={"title_id": titles[0]["id"], "seconds": 3000},
                      headers=headers).status_code == 201
    picked = keyed.post(SELECT, json={"user_id": "demo-thriller-fan", "title_ids": [t["id"] for t in titles[:20]],
                                      "context": {"device": "web"}}, headers=headers)
    assert picked.status_code == 200, picked.get_json()
    event_id = picked.get_json()["decisions"][0]["event_id"]
    assert keyed.post(f"/api/v1/events/{event_id}/click", headers=headers).get_json()["effect"] == "rewarded"
    assert keyed.get(f"/api/v1/events/{event_id}", headers=headers).status_code == 200
    profile = keyed.get("/api/v1/users/demo-thriller-fan/profile", headers=headers).get_json()
    assert profile["recent_views"]
    assert keyed.get("/api/v1/stats", headers=headers).get_json()["clicks"] >= 1
    started = keyed.post("/api/v1/simulate", json={"visitors": 5, "seed": 3}, headers=headers)
    assert started.status_code == 202, started.get_json()
    job_id = started.get_json()["job"]["id"]
    deadline = time.monotonic() + 60
    while (job := keyed.get(f"/api/v1/simulate/{job_id}", headers=headers).get_json()["job"])["status"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["status"] == "done" and keyed.get("/api/v1/simulate", headers=headers).get_json()["job"]["id"] == job_id


def test_without_a_demo_key_the_demo_is_off_and_says_why(make_app):
    client = make_app(CLIENT_KEYS=KEY_A).test_client()
    r = client.get("/api/v1/demo-key")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "demo_off"
    assert "ARTWORK_DEMO_KEY" in r.get_json()["error"]["message"]
    with client.get("/") as page:  # the page itself loads, and shows that message
        assert page.status_code == 200


@pytest.mark.parametrize("settings, message", [
    ({"CLIENT_KEYS": "short"}, "CLIENT_KEYS: key 1 of 1 must be at least 16"),
    ({"CLIENT_KEYS": f"{KEY_A},"}, "CLIENT_KEYS: key 2 of 2 must be at least 16"),
    ({"CLIENT_KEYS": f"{KEY_A},with space 0123456789"}, "CLIENT_KEYS: key 2 of 2"),
    ({"CLIENT_KEYS": KEY_A, "DEMO_KEY": KEY_A}, "DEMO_KEY must not be one of CLIENT_KEYS"),
    ({"CLIENT_KEYS": KEY_A, "DEMO_KEY": "tiny"}, "DEMO_KEY must be at least 16"),
])
def test_unusable_keys_stop_the_start_without_showing_a_key(settings, message):
    with pytest.raises(ValueError, match=message) as caught:
        load_settings(settings, environ={})
    assert KEY_A not in str(caught.value) and "short" not in str(caught.value)


def test_keys_come_from_the_environment():
    settings = load_settings(environ={"ARTWORK_CLIENT_KEYS": f" {KEY_A} ,{KEY_B}", "ARTWORK_DEMO_KEY": DEMO_KEY})
    assert settings.accepted_keys == (KEY_A, KEY_B, DEMO_KEY)
    assert load_settings(environ={"ARTWORK_CLIENT_KEYS": ""}).accepted_keys == ()  # empty: off
    assert load_settings(environ={"ARTWORK_DEMO_KEY": DEMO_KEY}).accepted_keys == ()  # no client keys: off


def test_key_matches_only_a_whole_listed_key():
    keys = (KEY_A, KEY_B)
    assert key_matches(KEY_A, keys) and key_matches(KEY_B, keys)
    for given in (None, "", KEY_A[:-1], KEY_A + "x", KEY_A.upper(), "é" * 30):
        assert not key_matches(given, keys), given
    assert not key_matches(KEY_A, ())


def test_keys_are_never_logged_nor_echoed(keyed, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-0123456789abcdef"
    answers = [keyed.post(SELECT, json=PICK, headers=with_key(key)).get_data(as_text=True) for key in (wrong, KEY_A)]
    answers.append(keyed.get("/openapi.json").get_data(as_text=True))
    for text in (*answers, caplog.text):
        assert wrong not in text and KEY_A not in text and KEY_B not in text


# Through the real server and proxy --------------------------------------------------------------


def call(base_url: str, method: str, path: str, key: str | None = None, body: dict | None = None) -> tuple:
    """(status, headers, JSON body) of one request over a new connection."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json", **with_key(key)})
        response = conn.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def keyed_server(template_dir, tmp_path_factory):
    """`artwork serve` with client keys and a demo key, on a copy of the demo data."""
    root = tmp_path_factory.mktemp("keyed")
    shutil.copytree(template_dir, root / "data")
    env = {f"ARTWORK_{name}": value for name, value in KEYS.items()}
    with ServerProcess(root / "data", env={**env, "ARTWORK_SEED": "11"}, log_path=root / "serve.log",
                       timeout=120, grace=20) as server:
        yield server


def test_a_key_over_its_rate_limit_gets_429_from_the_proxy_and_another_key_does_not(nginx, keyed_server,  # noqa: F811
                                                                                    tmp_path):
    log = tmp_path / "proxy.log"
    with ProxyProcess([f"{keyed_server.host}:{keyed_server.port}"], args=("--key-rate", "1", "--key-burst", "3"),
                      log_path=log, timeout=30, grace=20) as proxy:
        assert call(proxy.base_url, "POST", SELECT, body=PICK)[0] == 401  # the service's refusal passes through
        start = time.monotonic()
        statuses = [call(proxy.base_url, "POST", SELECT, KEY_A, PICK)[0] for _ in range(12)]
        elapsed = time.monotonic() - start
        # 1 request/s with 3 more at once: the first four pass, then about one a second.
        assert statuses[:4] == [200] * 4, statuses
        assert statuses.count(200) <= 4 + 1 + int(elapsed), (statuses, elapsed)
        assert set(statuses) == {200, 429} and statuses[-1] == 429, statuses
        status, headers, body = call(proxy.base_url, "POST", SELECT, KEY_A, PICK)
        assert status == 429 and headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"
        assert set(body) == {"error"} and body["error"]["status"] == 429
        assert body["error"]["code"] == "too_many_requests", body
        # Another key has its own allowance.
        assert [call(proxy.base_url, "POST", SELECT, KEY_B, PICK)[0] for _ in range(3)] == [200] * 3
        assert call(proxy.base_url, "GET", "/healthz")[0] == 200  # no key: not limited by the proxy
    text = log.read_text()
    assert "limiting requests" in text and KEY_A not in text and KEY_B not in text


def test_the_browser_demo_works_with_keys_on(browser, keyed_server):  # noqa: F811
    tab = Demo(browser, keyed_server.base_url, LAPTOP)
    sent_keys = []
    tab.page.on("request", lambda r: sent_keys.append((r.url, r.headers.get("x-api-key")))
                if "/api/v1/" in r.url and not r.url.endswith("/demo-key") else None)
    try:
        tab.open()
        tab.switch_to("demo-thriller-fan")
        assert len(tab.tile_artwork()) >= 30
        assert tab.errors == []
    finally:
        tab.close()
    assert sent_keys and all(key == DEMO_KEY for _, key in sent_keys), sent_keys[:3]
