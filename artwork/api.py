"""HTTP views: translate JSON to ``Service`` calls and back. Every route of the service is listed
here; the demo's simulated-visitor routes are a blueprint of their own (``simulations/demo_routes.py``,
installed as ``artwork.simulations.demo_routes``), so the core imports nothing from the simulator.

Each view declares its contract with ``@operation`` (``openapi.py``): the request body and path
parameters are validated against ``schemas.py`` before the view runs, and the same declarations
make the OpenAPI document served at ``GET /openapi.json``. Operations declared with
``client_key=True`` need a client key when CLIENT_KEYS is set (``security.require_client_key``);
health, metrics, the document, ping, images and the demo page stay open (README "Client keys").
"""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify, send_file, send_from_directory

from . import metrics, schemas
from .errors import ServiceError, not_found
from .openapi import openapi_document, operation
from .service import Service

bp = Blueprint("api", __name__)

IMAGE_SIZES = schemas.IMAGE_SIZES
TOO_LARGE = {413: ["request_entity_too_large"]}
WRITES = {**TOO_LARGE, 503: ["storage_unavailable"]}  # for operations that write to the decision log
EVENT_404 = ["unknown_event", "not_found"]


def service() -> Service:
    return current_app.extensions["artwork"]


def _select_request(settings) -> dict:
    return schemas.select_request(settings.max_titles_per_request)


@bp.get("/")
@operation("The browser demo", tags=("demo",), media_type="text/html",
           responses={200: ("The demo page (its scripts and styles are under /static/).", None)})
def index():
    return send_from_directory(current_app.static_folder, "index.html")


@bp.get("/openapi.json")
@operation("This document", tags=("meta",), description="The OpenAPI 3.1 document, generated from the code.",
           responses={200: ("The OpenAPI document.", schemas.OPENAPI_DOCUMENT)})
def openapi_json():
    return jsonify(openapi_document())


@bp.get("/healthz")
@operation("Liveness and learner lag", tags=("meta",), responses={200: ("The service is up.", schemas.HEALTH)},
           description="503 when the decision log cannot be read (unreachable, locked past the wait, or damaged), "
                       "with the reason: a load balancer takes the host out.",
           errors={503: ["storage_unavailable"]})
def healthz():
    svc = service()
    try:
        svc.store.ping()
    except svc.store.failures as exc:
        current_app.logger.error("health check: storage failed: %s", exc)
        raise ServiceError(503, "storage_unavailable", f"the decision log cannot be read: {exc}"[:300],
                           {"Retry-After": "1"}) from None
    return jsonify({"status": "ok", "model_version": svc.model.version, "learner_lag": svc.learner_lag(),
                    "role": svc.settings.role, "pid": os.getpid()})


@bp.get("/metrics")
@operation("Prometheus metrics", tags=("meta",), media_type="text/plain",
           description="Prometheus' text format: decisions, outcomes, answers by route, status and error code, "
                       "latency histograms (added up over every serving process), and, read when scraped, the "
                       "model's version and age and the learner's lag and leadership.",
           responses={200: ("The metrics (`text/plain; version=0.0.4`).", None)})
def prometheus_metrics():
    return current_app.response_class(metrics.exposition(current_app.extensions["artwork.metrics"]),
                                      content_type=metrics.CONTENT_TYPE)


@bp.get("/api/v1/ping")
@operation("Trivial answer", tags=("meta",), description="Touches nothing: the baseline the serving benchmarks "
           "compare select-artwork with.", responses={200: ("Always.", schemas.PING)})
def ping():
    return jsonify({"pong": True})


@bp.get("/api/v1/titles")
@operation("The catalog", tags=("catalog",), client_key=True,
           responses={200: ("Every title with its active artwork.", schemas.TITLES)})
def list_titles():
    return jsonify({"titles": service().titles()})


@bp.get("/api/v1/titles/<title_id>")
@operation("One title", tags=("catalog",), client_key=True,
           responses={200: ("The title with its active artwork.", schemas.TITLE)},
           errors={400: ["bad_request"], 404: ["unknown_title", "not_found"]})
def get_title(title_id):
    return jsonify(service().title(title_id))


@bp.post("/api/v1/select-artwork")
@operation("Pick one artwork per title for a person now", tags=("decisions",), client_key=True, body=_select_request,
           description="Every decision is logged (with its propensity) before the answer is sent. Give "
                       "`title_id` or `title_ids`.",
           responses={200: ("One decision per title, in the order asked.", schemas.SELECT_RESPONSE)},
           errors={400: ["bad_request", "too_many_titles", "unknown_genre"], 404: ["unknown_title"],
                   409: ["no_artwork"], **WRITES})
def select_artwork(body):
    title_ids = [body["title_id"]] if "title_id" in body else body["title_ids"]
    svc = service()
    result = svc.decisions.select_artwork(body["user_id"], title_ids, body.get("context"),
                                          body.get("defer_activation", False))
    metrics.DECISIONS.labels(svc.settings.policy_name).inc(len(result["decisions"]))
    return jsonify(result)


def _outcome(kind: str, summary: str, description: str, conflicts: list[str] | None = None):
    errors = {400: ["bad_request"], 404: EVENT_404, **WRITES}
    if conflicts:
        errors[409] = conflicts
    return operation(summary, tags=("outcomes",), description=description, client_key=True,
                     body=schemas.PLAY_REQUEST if kind == "play" else schemas.EMPTY_BODY, body_required=kind == "play",
                     responses={200: ("The outcome's effect.", schemas.OUTCOME_RESPONSE)}, errors=errors)


def _outcome_answer(result: dict):
    metrics.OUTCOMES.labels(result["kind"], result["effect"]).inc()
    return jsonify(result)


@bp.post("/api/v1/events/<event_id>/click")
@_outcome("click", "The person clicked the shown artwork", "Rewarded if it is the first qualifying outcome "
          "inside the wait window (under `REWARD=click`).")
def click(event_id, body):
    return _outcome_answer(service().record_outcome(event_id, "click"))


@bp.post("/api/v1/events/<event_id>/play")
@_outcome("play", "The person played the title", "A play of `seconds`; under `REWARD=quality_play` only a "
          "play of at least `QUALITY_PLAY_SECONDS` qualifies.")
def play(event_id, body):
    return _outcome_answer(service().record_outcome(event_id, "play", body["seconds"]))


@bp.post("/api/v1/events/<event_id>/activate")
@_outcome("activate", "A deferred decision was shown", "Starts the wait window of a decision requested "
          "with `defer_activation`; 409 for any other decision.", ["not_deferred"])
def activate(event_id, body):
    return _outcome_answer(service().record_outcome(event_id, "activate"))


@bp.post("/api/v1/events/<event_id>/dismiss")
@_outcome("dismiss", "The person moved on without engaging", "Closes the wait window now with "
          "`DEFAULT_REWARD`; a later click is `late`.")
def dismiss(event_id, body):
    return _outcome_answer(service().record_outcome(event_id, "dismiss"))


@bp.get("/api/v1/events/<event_id>")
@operation("One logged decision, explained", tags=("decisions",), client_key=True,
           responses={200: ("The decision, its outcomes and an explanation.", schemas.EVENT_DETAIL)},
           errors={404: EVENT_404})
def get_event(event_id):
    return jsonify(service().event(event_id))


USER_ERRORS = {400: ["bad_request"], 404: ["unknown_title", "not_found"], **WRITES}


@bp.post("/api/v1/users/<user_id>/views")
@operation("Add a view to a person's history", tags=("people",), client_key=True, body=schemas.VIEW_REQUEST,
           responses={201: ("The updated profile.", schemas.PROFILE)}, errors=USER_ERRORS)
def add_view(user_id, body):
    return jsonify(service().record_view(user_id, body["title_id"], body["seconds"], body.get("at"))), 201


@bp.post("/api/v1/users/<user_id>/ratings")
@operation("Thumbs up or down on a title", tags=("people",), client_key=True, body=schemas.RATING_REQUEST,
           description="A person's latest rating of a title wins.",
           responses={200: ("The updated profile.", schemas.PROFILE)}, errors=USER_ERRORS)
def add_rating(user_id, body):
    return jsonify(service().record_rating(user_id, body["title_id"], body["thumbs"]))


@bp.put("/api/v1/users/<user_id>/onboarding")
@operation("Genres picked at sign-up", tags=("people",), client_key=True, body=schemas.ONBOARDING_REQUEST,
           responses={200: ("The updated profile.", schemas.PROFILE)},
           errors={400: ["bad_request", "unknown_genre"], 404: ["not_found"], **WRITES})
def set_onboarding(user_id, body):
    return jsonify(service().set_onboarding_genres(user_id, body["genres"]))


@bp.get("/api/v1/users/<user_id>/profile")
@operation("What the service knows of a person's taste", tags=("people",), client_key=True,
           description="A person never seen before gets the neutral prior.",
           responses={200: ("The profile.", schemas.PROFILE)}, errors={400: ["bad_request"], 404: ["not_found"]})
def profile(user_id):
    return jsonify(service().profile(user_id))


@bp.get("/api/v1/stats")
@operation("Totals, click rates and the learner's lag", tags=("read-outs",), client_key=True,
           responses={200: ("Read-outs of the decision log.", schemas.STATS)})
def stats():
    return jsonify(service().stats())


@bp.get("/images/<artwork_id>/<size>.jpg")
@operation("An artwork's image", tags=("catalog",), media_type="image/jpeg",
           description="960x540 (poster) or 384x216 (thumb) JPEG with a strong ETag; 304 on `If-None-Match`.",
           responses={200: ("The JPEG.", None), 304: ("Not modified since the ETag given.", None)},
           response_headers={200: {"ETag": {"required": True, "schema": {"type": "string"}},
                                   "Cache-Control": {"required": True, "schema": {"type": "string"}}}},
           errors={404: ["unknown_artwork", "not_found"]})
def image(artwork_id, size):
    meta = service().store.image(artwork_id, size)
    if meta is None:
        raise not_found(f"unknown artwork {artwork_id!r}"[:300], "unknown_artwork")
    path = service().store.local_copy(current_app.extensions["artwork.paths"]["images"], meta["file"], "image")
    if path is None:  # a row without its image: the store lost the file
        raise not_found(f"artwork {artwork_id!r} has no stored {size} image"[:300], "not_found")
    # The file name is the hash of the bytes: a strong ETag for free.
    response = send_file(path, mimetype="image/jpeg", etag=meta["file"].split(".")[0],
                         conditional=True, max_age=3600)
    response.cache_control.public = True
    return response


# Admin: only with the admin token (see security.require_admin) ----------------------------------

ADMIN_ERRORS = {401: ["unauthorized"], 403: ["admin_disabled"]}
ADMIN_HEADERS = {401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}}


def admin():
    from .service import Admin

    return Admin(service())


@bp.delete("/api/v1/users/<user_id>")
@operation("Delete a person (admin)", tags=("admin",), admin=True, body=schemas.DELETE_USER_REQUEST,
           body_required=False,
           description="Deletes the profile, views and ratings and unlinks the person's decisions; with "
                       "forget_decisions, deletes the decisions too and retrains the model without them.",
           responses={200: ("What was deleted.", schemas.DELETED_USER)},
           errors={400: ["bad_request"], 404: ["unknown_user"], **ADMIN_ERRORS, **WRITES},
           response_headers=ADMIN_HEADERS)
def delete_user(user_id, body):
    return jsonify(admin().delete_user(user_id, body.get("forget_decisions", False)))


@bp.post("/api/v1/admin/model/reset")
@operation("Reset the model (admin)", tags=("admin",), admin=True,
           description="A fresh model that learns only events finalized from now on.",
           responses={200: ("The new model epoch.", schemas.MODEL_EPOCH)}, errors={**ADMIN_ERRORS, **WRITES},
           response_headers=ADMIN_HEADERS)
def reset_model():
    return jsonify(admin().reset_model())


@bp.post("/api/v1/admin/model/retrain")
@operation("Retrain the model from the log (admin)", tags=("admin",), admin=True, body=schemas.RETRAIN_REQUEST,
           body_required=False,
           description="Rebuild the model from every event in the log, optionally with new VW arguments.",
           responses={200: ("The new model epoch.", schemas.MODEL_EPOCH)},
           errors={400: ["bad_request"], **ADMIN_ERRORS, **WRITES}, response_headers=ADMIN_HEADERS)
def retrain_model(body):
    return jsonify(admin().retrain_model(body.get("vw_args")))


#: Largest catalog upload (images travel base64-encoded in the JSON body).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


@bp.post("/api/v1/admin/catalog")
@operation("Import titles with their images (admin)", tags=("admin",), admin=True, body=schemas.CATALOG_UPLOAD,
           max_body_bytes=MAX_UPLOAD_BYTES,
           description="Each image is checked with Pillow (a real JPEG, PNG, WebP or GIF within the size and pixel "
                       "limits), cropped to 16:9 and re-encoded; each title is written whole or not at all. "
                       "Bodies up to 64 MiB.",
           responses={200: ("The titles imported, and those left out with skip_invalid.",
                            schemas.CATALOG_UPLOAD_RESULT)},
           errors={400: ["bad_request", "invalid_catalog"], 409: ["conflict"], **ADMIN_ERRORS, **WRITES},
           response_headers=ADMIN_HEADERS)
def upload_catalog(body):
    images = current_app.extensions["artwork.paths"]["images"]
    return jsonify(admin().import_titles(body["titles"], images, body.get("skip_invalid", False)))


# Experiments (admin; artwork/experiments.py) --------------------------------------------------------

EXPERIMENT_ERRORS = {404: ["unknown_experiment", "not_found"], **ADMIN_ERRORS}


@bp.post("/api/v1/admin/experiments")
@operation("Define an experiment (admin)", tags=("admin",), admin=True, body=schemas.EXPERIMENT_REQUEST,
           description="Arms of policies with traffic shares, a control and a guardrail margin. It does not run "
                       "until started.",
           responses={201: ("The experiment, not yet running.", schemas.EXPERIMENT)},
           errors={400: ["bad_request"], 409: ["experiment_exists"], **ADMIN_ERRORS, **WRITES},
           response_headers=ADMIN_HEADERS)
def create_experiment(body):
    created = service().experiments.create(body["name"], body["arms"], body.get("control"),
                                           body.get("guardrail_margin"))
    return jsonify(created), 201


@bp.get("/api/v1/admin/experiments")
@operation("Every experiment (admin)", tags=("admin",), admin=True,
           responses={200: ("Every experiment, newest first.", schemas.EXPERIMENTS)}, errors=ADMIN_ERRORS,
           response_headers=ADMIN_HEADERS)
def list_experiments():
    return jsonify({"experiments": service().experiments.list()})


@bp.get("/api/v1/admin/experiments/<experiment>")
@operation("An experiment's results (admin)", tags=("admin",), admin=True,
           description="Per arm: people, decisions, click and quality-play rates and the lift over control, with "
                       "always-valid 95% intervals (the person as the unit), and the guardrail's stops.",
           responses={200: ("The experiment and its results.", schemas.EXPERIMENT)},
           errors={400: ["bad_request"], **EXPERIMENT_ERRORS}, response_headers=ADMIN_HEADERS)
def experiment_report(experiment):
    return jsonify(service().experiments.report(experiment))


@bp.post("/api/v1/admin/experiments/<experiment>/start")
@operation("Start an experiment (admin)", tags=("admin",), admin=True,
           description="People are assigned to arms from now on; one experiment runs at a time.",
           responses={200: ("The running experiment.", schemas.EXPERIMENT)},
           errors={400: ["bad_request"], 409: ["experiment_not_draft", "experiment_running"], **EXPERIMENT_ERRORS,
                   **WRITES}, response_headers=ADMIN_HEADERS)
def start_experiment(experiment):
    return jsonify(service().experiments.start(experiment))


@bp.post("/api/v1/admin/experiments/<experiment>/stop")
@operation("Stop an experiment (admin)", tags=("admin",), admin=True, body=schemas.STOP_EXPERIMENT_REQUEST,
           body_required=False, description="A running experiment: everyone is served the live bandit again; a "
                                            "draft: called off (its candidate arms stop learning). The results stay.",
           responses={200: ("The stopped experiment.", schemas.EXPERIMENT)},
           errors={400: ["bad_request"], 409: ["experiment_stopped"], **EXPERIMENT_ERRORS, **WRITES},
           response_headers=ADMIN_HEADERS)
def stop_experiment(experiment, body):
    return jsonify(service().experiments.stop(experiment, "admin api", body.get("reason", "stopped by hand")))
