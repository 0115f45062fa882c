"""The OpenAPI document is generated from the code, valid, complete, and the same definitions
validate requests: what the document calls invalid is refused, with a message naming the field."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest
import schemathesis
from jsonschema import Draft202012Validator

from artwork import openapi, schemas

EXAMPLE_TIME = schemas.EXAMPLE_TIME


@pytest.fixture
def doc(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def validator_for(doc: dict, pointer: str) -> Draft202012Validator:
    """A validator of the schema at ``pointer`` inside the document (its $refs resolve in it)."""
    return Draft202012Validator({**doc, "$ref": pointer})


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def response_validator(doc, path, method, status, media="application/json"):
    return validator_for(doc, pointer("paths", path, method, "responses", str(status), "content", media, "schema"))


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    # schemathesis checks the document against the OpenAPI 3.1 meta-schema it ships.
    schemathesis.openapi.from_dict(doc).validate()
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in set(refs):
        node = doc
        for part in ref.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op["operationId"] and op["summary"] and op["responses"], (method, path)
            templated = re.findall(r"{([^}]+)}", path)
            assert [p["name"] for p in op.get("parameters", []) if p["in"] == "path"] == templated
            for p in op.get("parameters", []):
                assert p["required"] is True and p["schema"]
                if "example" in p:
                    assert validator_for(doc, pointer("paths", path, method, "parameters",
                                                      str(op["parameters"].index(p)), "schema")).is_valid(p["example"])
            assert any(s.startswith("2") for s in op["responses"]), (method, path)


def test_every_route_of_the_blueprints_is_documented(app, doc):
    # The service's blueprint, the demo's simulated-visitor one (artwork.simulations.demo_routes)
    # and the Personalizer-compatible ones (artwork.personalizer_api).
    routes = {(method.lower(), openapi.openapi_path(rule.rule))
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith(("api.", "simulate.", "personalizer.", "personalizer_admin."))
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(method, path) for path, methods in doc["paths"].items() for method in methods}
    assert routes == documented
    assert ("post", "/api/v1/select-artwork") in documented and ("get", "/openapi.json") in documented


def test_the_document_is_built_per_app_from_its_settings(make_app):
    app = make_app(MAX_TITLES_PER_REQUEST=3)
    client = app.test_client()
    doc = client.get("/openapi.json").get_json()
    title_ids = doc["components"]["schemas"]["SelectArtworkRequest"]["properties"]["title_ids"]
    assert title_ids["maxItems"] == 3
    r = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_ids": ["t01", "t02", "t03", "t04"]})
    assert r.status_code == 400
    assert r.get_json()["error"] == {"status": 400, "code": "too_many_titles",
                                     "message": "title_ids: expected at most 3 items, got 4"}
    assert client.post("/api/v1/select-artwork", json={"user_id": "u", "title_ids": ["t01", "t02", "t03"]}
                       ).status_code == 200


def test_default_title_limit_matches_the_setting(app, doc):
    title_ids = doc["components"]["schemas"]["SelectArtworkRequest"]["properties"]["title_ids"]
    assert title_ids["maxItems"] == app.extensions["artwork.settings"].max_titles_per_request == 100


def request_examples(doc):
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody")
            if body and "admin" not in op.get("tags", ()):  # admin examples: tests/test_admin.py
                for name, example in body["content"]["application/json"].get("examples", {}).items():
                    yield path, method, name, example["value"]


def test_body_examples_are_valid_and_reach_the_success_path(client, doc):
    """Replaying each documented example against the demo catalog succeeds (for events, on a
    real decision of the kind the operation needs)."""
    examples = list(request_examples(doc))
    assert len(examples) >= 10
    for path, method, name, value in examples:
        schema = validator_for(doc, pointer("paths", path, method, "requestBody", "content", "application/json",
                                            "schema"))
        assert schema.is_valid(value), (path, name, value)
        if path == "/api/v1/simulate":
            continue  # tested below: it starts a background burst
        if "{event_id}" in path:
            extra = {"defer_activation": True} if path.endswith("/activate") else {}
            decision = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t02", **extra})
            path = path.replace("{event_id}", decision.get_json()["decisions"][0]["event_id"])
        if "{eventId}" in path:  # the Personalizer-compatible API's events
            ranked = client.post("/personalizer/v1.0/rank", json={"actions": [{"id": "a"}, {"id": "b"}]})
            path = path.replace("{eventId}", ranked.get_json()["eventId"])
        r = client.open(path.replace("{user_id}", "alice"), method=method.upper(), json=value)
        assert 200 <= r.status_code < 300, (path, name, r.get_json())


def test_unknown_fields_are_refused_by_every_body(client, doc):
    for path, method, _, value in request_examples(doc):
        path = path.replace("{event_id}", schemas.EXAMPLE_EVENT_ID).replace("{user_id}", "alice")
        path = path.replace("{eventId}", "e1")
        r = client.open(path, method=method.upper(), json={**value, "zz_unknown": 1})
        assert r.status_code == 400, path
        assert r.get_json()["error"]["message"] == "unknown field(s): zz_unknown"


def test_responses_match_the_document(client, doc):
    """A few answers checked by hand against their documented schemas (the fuzz test does many)."""
    r = client.post("/api/v1/select-artwork", json={"user_id": "alice", "title_ids": ["t01", "t02"],
                                                    "context": {"time": EXAMPLE_TIME, "device": "tv"}})
    response_validator(doc, "/api/v1/select-artwork", "post", 200).validate(r.get_json())
    event_id = r.get_json()["decisions"][0]["event_id"]
    r = client.post(f"/api/v1/events/{event_id}/click")
    response_validator(doc, "/api/v1/events/{event_id}/click", "post", 200).validate(r.get_json())
    r = client.get(f"/api/v1/events/{event_id}")
    response_validator(doc, "/api/v1/events/{event_id}", "get", 200).validate(r.get_json())
    r = client.get("/api/v1/stats")
    response_validator(doc, "/api/v1/stats", "get", 200).validate(r.get_json())
    r = client.get("/api/v1/titles/t01")
    response_validator(doc, "/api/v1/titles/{title_id}", "get", 200).validate(r.get_json())
    r = client.get("/api/v1/titles/t999")
    assert r.status_code == 404
    response_validator(doc, "/api/v1/titles/{title_id}", "get", 404).validate(r.get_json())


def test_simulate_answers_match_the_document(client, doc):
    """Left out of the fuzz test (each accepted request starts a burst), so checked here."""
    r = client.get("/api/v1/simulate")
    response_validator(doc, "/api/v1/simulate", "get", 200).validate(r.get_json())
    assert r.get_json() == {"job": None}
    r = client.post("/api/v1/simulate", json={"visitors": 2000, "seed": 1})
    assert r.status_code == 202
    response_validator(doc, "/api/v1/simulate", "post", 202).validate(r.get_json())
    job_id = r.get_json()["job"]["id"]
    second = client.post("/api/v1/simulate", json={"visitors": 5})
    if second.status_code == 409:  # only while the first still runs
        response_validator(doc, "/api/v1/simulate", "post", 409).validate(second.get_json())
    for body in ({"visitors": 0}, {"visitors": 5001}, {"visitors": "many"}, {"visitors": 5, "seed": -1},
                 {"visitors": 5, "speed": 2}, {"visitors": 1.5}, {"visitors": True}):
        bad = client.post("/api/v1/simulate", json=body)
        assert bad.status_code == 400, body
        response_validator(doc, "/api/v1/simulate", "post", 400).validate(bad.get_json())
    deadline = time.monotonic() + 60
    while (job := client.get(f"/api/v1/simulate/{job_id}").get_json())["job"]["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response_validator(doc, "/api/v1/simulate/{job_id}", "get", 200).validate(job)
    assert job["job"]["status"] == "done"


# Refusals name the field ------------------------------------------------------------------------

REFUSALS = [
    # (path, body or raw JSON text, status, code, message)
    ("/api/v1/select-artwork", {"user_id": "u", "title_ids": [f"x{i}" for i in range(101)]},
     400, "too_many_titles", "title_ids: expected at most 100 items, got 101"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_ids": ["t01", "t01"]},
     400, "bad_request", "title_ids: contains duplicates"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_ids": []},
     400, "bad_request", "title_ids: expected a non-empty list"),
    ("/api/v1/select-artwork", {"user_id": "u"}, 400, "bad_request", "title_id or title_ids is required"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "title_ids": ["t02"]},
     400, "bad_request", "give either title_id or title_ids, not both"),
    ("/api/v1/select-artwork", {"title_id": "t01"}, 400, "bad_request", "user_id is required"),
    ("/api/v1/select-artwork", {"user_id": "u\n", "title_id": "t01"}, 400, "bad_request", "user_id: expected a string"),
    ("/api/v1/select-artwork", {"user_id": "u" * 129, "title_id": "t01"}, 400, "bad_request", "user_id: expected"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_ids": ["t01", "../x"]},
     400, "bad_request", "title_ids[1]: expected"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"time": "2026-11-23T21:00:00"}},
     400, "bad_request", "context.time: expected an ISO-8601 date and time with a UTC offset"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"time": "x" * 65}},
     400, "bad_request", "context.time: expected "),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"device": "fridge"}},
     400, "bad_request", "context.device: expected one of 'tv', 'mobile', 'web', 'tablet', null, got 'fridge'"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"mood": "happy"}},
     400, "bad_request", "context: unknown field(s): mood"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"genre_affinity": {"drama": -1}}},
     400, "bad_request", "context.genre_affinity.drama: expected at least 0, got -1"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"genre_affinity": {"drama": 1e12}}},
     400, "bad_request", "context.genre_affinity.drama: expected at most 1e+09"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "context": {"genre_affinity": {}}},
     400, "bad_request", "context.genre_affinity: expected at least 1 entry"),
    ("/api/v1/select-artwork", {"user_id": "u", "title_id": "t01", "defer_activation": "yes"},
     400, "bad_request", "defer_activation: expected true or false, got 'yes'"),
    ("/api/v1/users/u1/views", {"title_id": "t01", "seconds": -5},
     400, "bad_request", "seconds: expected at least 0, got -5"),
    ("/api/v1/users/u1/views", {"title_id": "t01", "seconds": 10**30}, 400, "bad_request", "seconds: expected at most"),
    ("/api/v1/users/u1/views", {"title_id": "t01", "seconds": "long"},
     400, "bad_request", "seconds: expected a finite number"),
    ("/api/v1/users/u1/views", '{"title_id": "t01", "seconds": NaN}', 400, "bad_request", "not valid JSON: NaN"),
    ("/api/v1/users/u1/views", '{"title_id": "t01", "seconds": Infinity}', 400, "bad_request", "not valid JSON"),
    ("/api/v1/users/u1/views", '{"title_id": "t01", "seconds": 1e400}', 400, "bad_request", "not valid JSON"),
    ("/api/v1/users/u1/views", "[" * 100_000, 400, "bad_request", "nested too deeply"),
    ("/api/v1/users/u1/views", b"\xff\xfe{", 400, "bad_request", "not valid JSON"),
    ("/api/v1/users/u1/views", "{not json", 400, "bad_request", "not valid JSON"),
    ("/api/v1/users/u1/views", "[1, 2]", 400, "bad_request", "request body must be a JSON object"),
    ("/api/v1/users/u1/views", "", 400, "bad_request", "request body must be a JSON object"),
    ("/api/v1/users/u1/views", {"title_id": "t01", "seconds": 5, "at": "0001-01-01T00:00:00+14:00"},
     400, "bad_request", "at: year 1 is outside 1970-2999"),
    ("/api/v1/users/u1/views", {"title_id": "t01", "seconds": 5, "at": "2026-02-30T10:00:00Z"},
     400, "bad_request", "at: expected an ISO-8601 date and time"),
    ("/api/v1/users/u1/ratings", {"title_id": "t01", "thumbs": "sideways"},
     400, "bad_request", "thumbs: expected one of 'up', 'down', got 'sideways'"),
    ("/api/v1/users/u1/onboarding", {"genres": ["x" * 65]}, 400, "bad_request", "genres[0]: expected at most 64"),
    ("/api/v1/users/u1/onboarding", {"genres": "drama"}, 400, "bad_request", "genres: expected a list"),
    ("/api/v1/events/" + "f" * 32 + "/play", {}, 400, "bad_request", "seconds is required"),
    ("/api/v1/events/" + "f" * 32 + "/click", {"seconds": 1}, 400, "bad_request", "unknown field(s): seconds"),
    ("/api/v1/events/" + "f" * 32 + "/click", "null", 400, "bad_request", "request body must be a JSON object"),
    ("/api/v1/simulate", {"visitors": 5001}, 400, "bad_request", "visitors: expected at most 5000, got 5001"),
]


@pytest.mark.parametrize("path,body,status,code,message", REFUSALS, ids=[r[4][:40] for r in REFUSALS])
def test_refusals_name_the_field(client, path, body, status, code, message):
    method = "PUT" if path.endswith("/onboarding") else "POST"
    if isinstance(body, (str, bytes)):
        r = client.open(path, method=method, data=body, content_type="application/json")
    else:
        r = client.open(path, method=method, json=body)
    assert r.status_code == status and r.mimetype == "application/json"
    error = r.get_json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"].startswith(message) or message in error["message"], error["message"]
    assert len(error["message"]) <= 300


PATH_REFUSALS = [
    ("get", "/api/v1/events/0123456789ABCDEF0123456789ABCDEF", 404, "unknown_event"),
    ("post", "/api/v1/events/" + "f" * 31 + "/click", 404, "unknown_event"),
    ("post", "/api/v1/events/" + "f" * 32 + "%0A/click", 404, "unknown_event"),
    ("get", "/api/v1/users/bad%20id/profile", 400, "bad_request"),
    ("get", "/api/v1/users/u%0A/profile", 400, "bad_request"),
    ("get", "/api/v1/users/" + "u" * 129 + "/profile", 400, "bad_request"),
    ("put", "/api/v1/users/-u/onboarding", 400, "bad_request"),
    ("get", "/api/v1/titles/t01%0A", 400, "bad_request"),
    ("get", "/images/t01-a1%0A/poster.jpg", 404, "unknown_artwork"),
    ("get", "/images/t01-a1/huge.jpg", 404, "not_found"),
    ("get", "/api/v1/simulate/" + "F" * 16, 404, "unknown_simulation"),
]


@pytest.mark.parametrize("method,path,status,code", PATH_REFUSALS, ids=[p[1][:60] for p in PATH_REFUSALS])
def test_path_parameters_are_checked_against_their_patterns(client, service, method, path, status, code):
    r = getattr(client, method)(path, json={"genres": []} if method == "put" else None)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert service.store.scalar("SELECT count(*) FROM users") == 0


def test_an_id_with_a_trailing_newline_is_refused_not_stored(client, service):
    """Python's ``$`` matches before a final newline; the schemas' patterns are read the ECMA way."""
    assert client.post("/api/v1/users/u%0A/views", json={"title_id": "t01", "seconds": 5}).status_code == 400
    assert client.post("/api/v1/users/u/views", json={"title_id": "t01\n", "seconds": 5}).status_code == 400
    assert service.store.scalar("SELECT count(*) FROM views") == 0


def test_optional_bodies(client):
    ev = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"}).get_json()
    event_id = ev["decisions"][0]["event_id"]
    assert client.post(f"/api/v1/events/{event_id}/click").status_code == 200
    assert client.post(f"/api/v1/events/{event_id}/click", json={}).status_code == 200
    # The README's curl example sends its JSON as a form (curl -d): still read as JSON.
    r = client.post(f"/api/v1/events/{event_id}/play", data='{"seconds": 1800}',
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and r.get_json()["kind"] == "play"


def test_documented_error_answers_of_writes(client, service, doc, monkeypatch):
    """413 and 503 cannot be generated from the document by a fuzzer; checked here."""
    r = client.post("/api/v1/select-artwork", data="x" * (1024 * 1024 + 1), content_type="application/json")
    assert r.status_code == 413
    response_validator(doc, "/api/v1/select-artwork", "post", 413).validate(r.get_json())

    def locked():
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(service.store, "write", locked)
    r = client.post("/api/v1/select-artwork", json={"user_id": "u", "title_id": "t01"})
    assert r.status_code == 503 and r.headers["Retry-After"].isdigit()
    response_validator(doc, "/api/v1/select-artwork", "post", 503).validate(r.get_json())
    assert "Retry-After" in doc["paths"]["/api/v1/select-artwork"]["post"]["responses"]["503"]["headers"]


# The compiled validator in front of jsonschema ----------------------------------------------------

ODD_VALUES = [None, True, False, 0, -1, 1.0, 1.5, -0.5, 1e300, 10**20, 10**40, "", "x" * 129, "t01\n", "t01",
              "UPPER", "a b", "2026-11-23T20:00:00+00:00", "2026-11-23T20:00:00Z", "2026-13-01T00:00:00Z",
              "1899-01-01T00:00:00+00:00", "2226-01-01T00:00:00+00:00", f"{schemas.VIEW_YEARS[0] - 1}-12-31T23:00:00Z",
              f"{schemas.VIEW_YEARS[1] + 1}-01-01T00:00:00Z", f"{schemas.VIEW_YEARS[1]}-12-31T23:59:59-05:00",
              "2026-11-23T20:00:00", "2026-02-30T00:00:00Z",
              [], ["t01", "t01"], ["t01", "t02"], ["t01"] * 101, {}, {"romance": 1}, {"romance": -1}, {"nope": 1},
              {"romance": 1e9}, "tv", "mobile", "watch", "up", 3000, 0.0, 86400 * 365, "0" * 32, "f" * 32]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _mutate(value, rng):
    """A copy of ``value`` with one random change: a value swapped for an odd one, a key dropped
    or added, or a list item repeated."""
    value = json.loads(json.dumps(value))
    path = rng.choice(list(_paths(value)))
    if not path:
        return rng.choice(ODD_VALUES + [{"extra": 1}])
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    last, action = path[-1], rng.random()
    if action < 0.6:
        parent[last] = rng.choice(ODD_VALUES)
    elif action < 0.75 and isinstance(parent, dict):
        del parent[last]
    elif action < 0.9 and isinstance(parent, dict):
        parent[rng.choice(["extra", "seconds", "title_id", "user_id", "context", "device", "time",
                           "at"])] = rng.choice(ODD_VALUES)
    elif isinstance(parent, list):
        parent.append(parent[last])
    return value


def test_the_compiled_validator_never_accepts_what_jsonschema_refuses(app):
    """The fast path (jsonschema-rs) may only say yes where the reference validator says yes;
    on these bodies the two agree outright."""
    import random

    rng = random.Random(20261122)
    checked = accepted = 0
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if op is None or op.body is None:
            continue
        schema = op.body_schema(app.extensions["artwork.settings"])
        validator = openapi.RequestValidator(schema)
        examples = list(schema.get("examples", [])) or [{}]
        bodies = list(examples)
        for _ in range(1500):
            body = rng.choice(examples)
            for _ in range(rng.randint(1, 2)):
                body = _mutate(body, rng)
            bodies.append(body)
        for body in bodies:
            fast, reference = validator.accepts(body), validator.reference.is_valid(body)
            assert fast == reference, (rule.rule, body, fast, reference)
            checked += 1
            accepted += fast
    assert checked > 15000 and 0.05 < accepted / checked < 0.95, (checked, accepted)
    for name, (schema, _) in schemas.PATH_PARAMETERS.items():
        validator = openapi.RequestValidator(schema)
        for value in [v for v in ODD_VALUES if isinstance(v, str)] + ["t01", "a" * 128, "a" * 129, "ab-c_d.e"]:
            assert validator.accepts(value) == validator.reference.is_valid(value), (name, value)


@pytest.mark.parametrize("body", [
    b'{"user_id": "u", "title_id": "t01", "\\ud800": 1}',  # a lone surrogate as a field name
    b'{"user_id": ["\\ud800"], "title_id": "t01"}',        # ... quoted back in the message
])
def test_a_lone_surrogate_is_refused_not_a_500(client, body):
    r = client.post("/api/v1/select-artwork", data=body, content_type="application/json")
    assert r.status_code == 400, r.data
    assert r.get_json()["error"]["code"] == "bad_request"


def test_log_json_writes_what_json_reads_back():
    from artwork.jsontext import log_json

    for value in [{"a": [1, 2.5, None, True]}, {"time": "2026-11-23T21:00:00+01:00"}, ["\ud800"], {"x": 1e-7}]:
        assert json.loads(log_json(value)) == value


BODY_TEXTS = [
    b'{"user_id": "u1", "title_ids": ["t01", "t02"]}', b'  {"a": [1, -0, 18446744073709551615]} \n',
    b'{"big": 123456789012345678901234567890}', b'[-123456789012345678901234567890]',  # orjson: a float
    b'{"w": 0.25, "v": 1E5, "z": -0.0, "tiny": 2.5e-320}', b'{"x": 1e400}', b'[-1e400]',
    b'NaN', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"a": 1, "a": 2}', b'"\\ud800"', b'{"\\ud83d\\ude00": 1}',
    b'\xef\xbb\xbf{"bom": 1}', b'{"bad utf-8": "\xff"}', b'{"trailing": 1},', b'{"a": 1', b'', b'tru', b'null',
    b'[' * 300 + b']' * 300, b'[' * 3000 + b']' * 3000, b'{"a":' * 600 + b'1' + b'}' * 600, b'"\\u0000"',
]


@pytest.mark.parametrize("text", BODY_TEXTS)
def test_the_fast_json_reader_reads_what_json_reads(text, monkeypatch):
    """parse_json takes orjson's reading only where it is json's: the same value (an int stays an
    int) or, for what json refuses, the same 400 and message."""
    from artwork.errors import ServiceError

    def outcome():
        try:
            return "value", openapi.parse_json(text)
        except ServiceError as exc:
            return "refused", exc.to_dict()

    fast = outcome()
    with monkeypatch.context() as m:  # json alone, as parse_json read before orjson went first
        m.setattr(openapi.orjson, "loads", lambda _: (_ for _ in ()).throw(openapi.orjson.JSONDecodeError("", "", 0)))
        reference = outcome()
    assert fast == reference
    if fast[0] == "value":
        assert repr(fast[1]) == repr(reference[1])  # same types too: 1 is not 1.0, -0.0 is not 0.0


@pytest.mark.parametrize("where", ["top", "title_ids", "genre_affinity"])
@pytest.mark.parametrize("depth", [openapi.MAX_NESTING - 3, openapi.MAX_NESTING + 1, 500, 990, 1000, 1024, 5000])
def test_deep_bodies_are_refused_with_400_never_500(client, where, depth):
    """However deep a body nests (orjson reads 1,024 levels, json as deep as the stack allows,
    and the validator's messages recurse), the answer is a 400; past MAX_NESTING it says why."""
    nested = "[" * depth + '"t01"' + "]" * depth
    body = {"top": nested,
            "title_ids": f'{{"user_id": "u1", "title_ids": {nested[1:-1]}}}',
            "genre_affinity": '{"user_id": "u1", "title_id": "t01", "context": {"genre_affinity": {"drama": '
                              + nested + "}}}"}[where]
    r = client.post("/api/v1/select-artwork", data=body, content_type="application/json")
    assert r.status_code == 400, (r.status_code, r.data[:200])
    levels = depth + (where != "top") + (where == "genre_affinity") * 2 - (where == "title_ids")
    assert ("nested too deeply" in r.get_json()["error"]["message"]) == (levels > openapi.MAX_NESTING)
