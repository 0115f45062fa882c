"""HTTP views: translate JSON to ``Service`` calls and back. Every route is listed here."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify, request, send_file, send_from_directory

from .errors import ServiceError, bad_request, not_found
from .service import Service

bp = Blueprint("api", __name__)

SELECT_FIELDS = ("user_id", "title_id", "title_ids", "context", "defer_activation")
IMAGE_SIZES = ("poster", "thumb")


def service() -> Service:
    return current_app.extensions["artwork"]


def json_body(allowed: tuple[str, ...], *, required: bool = True) -> dict:
    """The request's JSON object; 400 for anything else or for fields the route does not know."""
    if not request.get_data(cache=True):
        if required:
            raise bad_request("request body must be a JSON object")
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}"[:300])
    return body


@bp.get("/")
def index():
    return send_from_directory(current_app.static_folder, "index.html")


@bp.get("/healthz")
def healthz():
    svc = service()
    svc.store.scalar("SELECT 1")
    return jsonify({"status": "ok", "model_version": svc.model.version, "learner_lag": svc.learner_lag(),
                    "role": current_app.config["ROLE"], "pid": os.getpid()})


@bp.get("/api/v1/titles")
def list_titles():
    return jsonify({"titles": service().titles()})


@bp.get("/api/v1/titles/<title_id>")
def get_title(title_id):
    return jsonify(service().title(title_id))


@bp.post("/api/v1/select-artwork")
def select_artwork():
    body = json_body(SELECT_FIELDS)
    if "title_id" in body and "title_ids" in body:
        raise bad_request("give either title_id or title_ids, not both")
    if "title_id" in body:
        title_ids = [body["title_id"]]
    elif "title_ids" in body:
        title_ids = body["title_ids"]
    else:
        raise bad_request("title_id or title_ids is required")
    if "user_id" not in body:
        raise bad_request("user_id is required")
    result = service().select_artwork(body["user_id"], title_ids, body.get("context"),
                                      body.get("defer_activation", False))
    return jsonify(result)


@bp.post("/api/v1/events/<event_id>/click")
def click(event_id):
    json_body((), required=False)
    return jsonify(service().record_outcome(event_id, "click"))


@bp.post("/api/v1/events/<event_id>/play")
def play(event_id):
    body = json_body(("seconds",))
    if "seconds" not in body:
        raise bad_request("seconds is required")
    return jsonify(service().record_outcome(event_id, "play", body["seconds"]))


@bp.post("/api/v1/events/<event_id>/activate")
def activate(event_id):
    json_body((), required=False)
    return jsonify(service().record_outcome(event_id, "activate"))


@bp.post("/api/v1/events/<event_id>/dismiss")
def dismiss(event_id):
    json_body((), required=False)
    return jsonify(service().record_outcome(event_id, "dismiss"))


@bp.get("/api/v1/events/<event_id>")
def get_event(event_id):
    return jsonify(service().event(event_id))


@bp.post("/api/v1/users/<user_id>/views")
def add_view(user_id):
    body = json_body(("title_id", "seconds", "at"))
    for field in ("title_id", "seconds"):
        if field not in body:
            raise bad_request(f"{field} is required")
    return jsonify(service().record_view(user_id, body["title_id"], body["seconds"], body.get("at"))), 201


@bp.post("/api/v1/users/<user_id>/ratings")
def add_rating(user_id):
    body = json_body(("title_id", "thumbs"))
    for field in ("title_id", "thumbs"):
        if field not in body:
            raise bad_request(f"{field} is required")
    return jsonify(service().record_rating(user_id, body["title_id"], body["thumbs"]))


@bp.put("/api/v1/users/<user_id>/onboarding")
def set_onboarding(user_id):
    body = json_body(("genres",))
    if "genres" not in body:
        raise bad_request("genres is required")
    return jsonify(service().set_onboarding_genres(user_id, body["genres"]))


@bp.get("/api/v1/users/<user_id>/profile")
def profile(user_id):
    return jsonify(service().profile(user_id))


@bp.get("/api/v1/stats")
def stats():
    return jsonify(service().stats())


@bp.get("/images/<artwork_id>/<size>.jpg")
def image(artwork_id, size):
    if size not in IMAGE_SIZES:
        raise not_found(f"unknown image size {size!r}; sizes: {', '.join(IMAGE_SIZES)}"[:300])
    meta = service().store.image(artwork_id, size)
    if meta is None:
        raise not_found(f"unknown artwork {artwork_id!r}"[:300], "unknown_artwork")
    path = current_app.extensions["artwork.paths"]["images"] / meta["file"]
    # The file name is the hash of the bytes: a strong ETag for free.
    response = send_file(path, mimetype="image/jpeg", etag=meta["file"].split(".")[0],
                         conditional=True, max_age=3600)
    response.cache_control.public = True
    return response


def visitor_jobs():
    from simulations.visitors import VisitorJobs

    jobs = current_app.extensions.get("artwork.visitors")
    if jobs is None:
        jobs = current_app.extensions["artwork.visitors"] = VisitorJobs(service())
    return jobs


@bp.post("/api/v1/simulate")
def start_simulation():
    from simulations.visitors import MAX_VISITORS

    body = json_body(("visitors", "seed"), required=False)
    visitors = body.get("visitors", 500)
    if isinstance(visitors, bool) or not isinstance(visitors, int) or not 1 <= visitors <= MAX_VISITORS:
        raise bad_request(f"visitors must be a whole number from 1 to {MAX_VISITORS}")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise bad_request("seed must be a non-negative whole number")
    try:
        job = visitor_jobs().start(visitors, seed)
    except RuntimeError as exc:
        raise ServiceError(409, "simulation_running", str(exc)) from None
    return jsonify({"job": job.to_dict()}), 202


@bp.get("/api/v1/simulate")
def latest_simulation():
    job = visitor_jobs().latest()
    return jsonify({"job": job.to_dict() if job else None})


@bp.get("/api/v1/simulate/<job_id>")
def get_simulation(job_id):
    job = visitor_jobs().get(job_id)
    if job is None:
        raise not_found(f"unknown simulation {job_id[:64]!r}", "unknown_simulation")
    return jsonify({"job": job.to_dict()})
