"""The demo's simulated-visitor routes (``POST/GET /api/v1/simulate...``): a blueprint of their
own, registered by the app factory (``artwork.app.create_app``), so the core service and its API
import nothing from the simulator. People from the synthetic world (``visitors.py``) make
requests through the same decision and outcome code as the API. With CLIENT_KEYS set, the demo
page asks ``GET /api/v1/demo-key`` for its own key (DEMO_KEY) and sends it like any client.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from artwork import schemas
from artwork.api import TOO_LARGE, service
from artwork.errors import ServiceError, not_found
from artwork.openapi import app_settings, operation

from .visitors import MAX_VISITORS, VisitorJobs

bp = Blueprint("simulate", __name__)


@bp.get("/api/v1/demo-key")
@operation("The demo page's key", tags=("demo",),
           description="The key the demo page sends in X-Api-Key: null when the service needs no key, DEMO_KEY "
                       "when CLIENT_KEYS is set; 403 demo_off when keys are needed and DEMO_KEY is unset. Anyone "
                       "may ask: the demo key is public by design, never one of the client keys.",
           responses={200: ("The demo's key.", schemas.DEMO_KEY)}, errors={403: ["demo_off"]})
def demo_key():
    settings = app_settings(current_app)
    if settings.accepted_keys and not settings.demo_key:
        raise ServiceError(403, "demo_off", "this service needs a client key and has no demo key: the demo is off "
                                            "(set ARTWORK_DEMO_KEY to turn it on)")
    response = jsonify({"key": settings.demo_key if settings.accepted_keys else None})
    response.headers["Cache-Control"] = "no-store"  # a rotated demo key must reach the next page load
    return response


def _simulate_request(settings) -> dict:
    return schemas.simulate_request(MAX_VISITORS)


def visitor_jobs() -> VisitorJobs:
    jobs = current_app.extensions.get("artwork.visitors")
    if jobs is None:
        jobs = current_app.extensions["artwork.visitors"] = VisitorJobs(service())
    return jobs


@bp.post("/api/v1/simulate")
@operation("Start a burst of simulated visitors", tags=("demo",), client_key=True, body=_simulate_request,
           body_required=False,
           description="People from the synthetic world make requests through the same decision and outcome "
                       "code as the API, in a background thread; one burst at a time.",
           responses={202: ("The burst started.", schemas.JOB_RESPONSE)},
           errors={400: ["bad_request"], 409: ["simulation_running"], **TOO_LARGE})
def start_simulation(body):
    try:
        job = visitor_jobs().start(body.get("visitors", 500), body.get("seed"))
    except RuntimeError as exc:
        raise ServiceError(409, "simulation_running", str(exc)) from None
    return jsonify({"job": job.to_dict()}), 202


@bp.get("/api/v1/simulate")
@operation("The latest burst's progress", tags=("demo",), client_key=True,
           responses={200: ("The latest burst, or null if none ran.", schemas.LATEST_JOB_RESPONSE)})
def latest_simulation():
    job = visitor_jobs().latest()
    return jsonify({"job": job.to_dict() if job else None})


@bp.get("/api/v1/simulate/<job_id>")
@operation("One burst's progress", tags=("demo",), client_key=True,
           responses={200: ("The burst.", schemas.JOB_RESPONSE)},
           errors={404: ["unknown_simulation", "not_found"]})
def get_simulation(job_id):
    job = visitor_jobs().get(job_id)
    if job is None:
        raise not_found(f"unknown simulation {job_id!r}", "unknown_simulation")
    return jsonify({"job": job.to_dict()})


#: Seconds the demo panel's offline estimates are kept (each learns the new part of the log again).
OFFLINE_KEEP_SECONDS = 5.0


@bp.get("/api/v1/demo/experiment")
@operation("The experiment the demo panel shows", tags=("demo",), client_key=True,
           description="The running experiment (else the newest) with its results, and for each arm what offline "
                       "evaluation (SNIPS on the other arms' log) said beside what it earned live; null when there is "
                       "none. Read-only: experiments are defined and started with the admin token (or the CLI).",
           responses={200: ("The experiment, or null.", schemas.DEMO_EXPERIMENT)})
def demo_experiment():
    import time

    from .experiment import offline_beside_live

    svc = service()
    experiment = svc.store.running_experiment() or next(iter(svc.store.experiments()), None)
    if experiment is None:
        return jsonify({"experiment": None, "offline_beside_live": []})
    report = svc.experiments.report(experiment["name"])
    kept = current_app.extensions.get("artwork.demo_offline")
    if kept is None or kept[0] != report["name"] or time.monotonic() - kept[1] > OFFLINE_KEEP_SECONDS:
        # the learning arms' replays go on from where the last call's stopped
        replays = current_app.extensions.setdefault("artwork.demo_replays", {})
        offline = offline_beside_live(svc.store, svc.settings.vw_args, svc.settings.propensity_floor, report,
                                      svc.catalog, replays)
        kept = current_app.extensions["artwork.demo_offline"] = (report["name"], time.monotonic(), offline)
    return jsonify({"experiment": report, "offline_beside_live": kept[2]})
