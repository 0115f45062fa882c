"""Property-based API test: schemathesis reads the OpenAPI document the app serves and sends
every operation its documented examples, then generated valid and invalid requests; every
response is checked against the same document.

- Checks: no 5xx, documented status code, content type, body schema and headers, and that
  requests the document calls invalid are refused with a 4xx (``negative_data_rejection``).
- Deterministic: Hypothesis runs with ``SEED`` and no example database, so a failure replays
  by running this test again (the failing request is printed with its curl form).
- ``POST /api/v1/simulate`` is left out: each accepted request starts a background burst of up to
  5,000 simulated visitors. It stays in the document; ``test_openapi.py`` checks its answers.
- The documented example event and job ids are stand-ins: they are replaced with the ids of
  real decisions (a plain one, and a deferred one for ``activate``) and of a finished burst, so
  the outcome and read-out operations reach their success paths, not only 404.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from artwork.schemas import EXAMPLE_EVENT_ID, EXAMPLE_JOB_ID, PATH_PARAMETERS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
SEED = 20261123
GENERATED_PER_MODE = 50  # per operation, for valid and for invalid data: ~1,300 requests in all
EXCLUDED = [("POST", "/api/v1/simulate")]


def wait_for_job(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/v1/simulate/{job_id}").get_json()["job"])["status"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def real_ids(app) -> dict:
    """Ids that exist in the app, to stand in for the documented example ids."""
    client = app.test_client()
    ids = {}
    for name, extra in (("event", {}), ("deferred_event", {"defer_activation": True})):
        r = client.post("/api/v1/select-artwork", json={"user_id": "fuzz", "title_id": "t01", **extra})
        assert r.status_code == 200, r.get_json()
        ids[name] = r.get_json()["decisions"][0]["event_id"]
    r = client.post("/api/v1/simulate", json={"visitors": 5, "seed": 1})
    assert r.status_code == 202, r.get_json()
    ids["job"] = wait_for_job(client, r.get_json()["job"]["id"])["id"]
    # Personalizer-compatible events: a plain one (reward) and a deferred one (activate)
    for name, defer in (("pz_event", False), ("pz_deferred_event", True)):
        body = {"actions": [{"id": "a"}, {"id": "b"}], "deferActivation": defer}
        r = client.post("/personalizer/v1.0/rank", json=body)
        assert r.status_code == 201, r.get_json()
        ids[name] = r.get_json()["eventId"]
    # The person the examples delete (DELETE /api/v1/users/alice).
    assert client.post("/api/v1/users/alice/views", json={"title_id": "t01", "seconds": 60}).status_code == 201
    # The experiment the examples report on, start and then stop (the paths sort start before stop).
    experiment = {"name": PATH_PARAMETERS["experiment"][0]["examples"][0],
                  "arms": [{"name": "a", "policy": "bandit"}, {"name": "b", "policy": "default"}]}
    r = client.post("/api/v1/admin/experiments", json=experiment, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.get_json()
    return ids


def with_real_ids(ids: dict):
    def swap(case):
        params = case.path_parameters or {}
        if params.get("event_id") == EXAMPLE_EVENT_ID:
            params["event_id"] = ids["deferred_event" if case.path.endswith("/activate") else "event"]
        if params.get("eventId") == PATH_PARAMETERS["eventId"][0]["examples"][0]:
            params["eventId"] = ids["pz_deferred_event" if case.path.endswith("/activate") else "pz_event"]
        if params.get("job_id") == EXAMPLE_JOB_ID:
            params["job_id"] = ids["job"]
        # Admin operations are fuzzed as the admin; tests/test_admin.py covers the refusals.
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN_TOKEN}"}
        return case

    return swap


ADMIN_TOKEN = "fuzz-admin-token-0123456789"


def test_every_operation_conforms_to_the_document(make_app):
    app = make_app(ADMIN_TOKEN=ADMIN_TOKEN)
    ids = real_ids(app)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    operations = [result.ok() for result in schema.get_all_operations()]
    swap = with_real_ids(ids)

    statuses: dict[str, Counter] = defaultdict(Counter)
    started = time.monotonic()
    for op in operations:
        runs = [(1, strategy) for strategy in op.get_strategies_from_examples()]
        runs.append((GENERATED_PER_MODE, op.as_strategy(GenerationMode.POSITIVE)))
        if op.path_parameters or op.body:  # something that can be made invalid
            runs.append((GENERATED_PER_MODE, op.as_strategy(GenerationMode.NEGATIVE)))
        for count, strategy in runs:
            @seed(SEED)
            @settings(max_examples=count, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                             HealthCheck.data_too_large])
            @given(case=strategy.map(swap))
            def check(case):
                response = case.call_and_validate(checks=CHECKS, buffered=True)
                # called below, in this same iteration: op is the one it was defined for
                statuses[op.label][response.status_code] += 1  # noqa: B023

            check()
    took = time.monotonic() - started

    total = sum(sum(c.values()) for c in statuses.values())
    print(f"\nfuzz: {len(operations)} operations, {total} requests in {took:.1f} s, seed {SEED}")
    for label, counts in sorted(statuses.items()):
        print(f"  {label}: {dict(sorted(counts.items()))}")
    documented = {(m.upper(), p) for p, methods in app.test_client().get("/openapi.json").get_json()["paths"].items()
                  for m in methods}
    # Every documented operation was fuzzed but the excluded ones and the document itself (which
    # schemathesis leaves out, being its source).
    assert {(op.method.upper(), op.path) for op in operations} == documented - {*EXCLUDED, ("GET", "/openapi.json")}
    assert total >= 300
    # The examples (and the real ids standing in for them) reach every operation's success path.
    unsuccessful = [label for label, counts in statuses.items() if not any(200 <= s < 300 for s in counts)]
    assert not unsuccessful, unsuccessful
