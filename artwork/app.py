"""The Flask application factory."""

from __future__ import annotations

import logging
import time
from importlib import resources
from pathlib import Path

import orjson
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from . import metrics
from .catalog import data_paths
from .config import load_settings
from .errors import ServiceError
from .integrity import check_at_start
from .learner import Learner, SnapshotFollower, load_model
from .personalizer import PersonalizerLoop, load_personalizer_model, personalizer_learner
from .personalizer import models_dir as personalizer_models
from .service import Service
from .storage import BACKSTOP_WAL_PAGES
from .stores import open_store

log = logging.getLogger(__name__)


def static_dir() -> Path:
    """The demo's files: installed as the ``artwork.static`` package data, or the checkout's
    ``static/`` folder in an editable install."""
    return Path(str(resources.files("artwork.static")))


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON answers, written by orjson: the same JSON (UTF-8 rather than ``\\u`` escapes),
    keys in the order built, several times faster for an answer like select-artwork's."""

    sort_keys = False

    def response(self, *args, **kwargs):
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)  # indented, for reading
        try:
            body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default,
                                option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
        except TypeError:  # what orjson refuses and json escapes: a lone surrogate quoted in a 400
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)


def _error(status: int, code: str, message: str):
    metrics.note_error(code)
    return jsonify({"error": {"status": status, "code": code, "message": message}}), status


def _personalizer_loop(settings, store, models: Path, clock):
    """The Personalizer-compatible loop beside the artwork loop, wired the same way: with
    ``ROLE=all`` its own learner (thread) from its newest checkpoint and log; with ``ROLE=serve``
    its model follows the learner process's snapshots. Returns (loop, learner, follower)."""
    learner = follower = None
    if settings.role == "all":
        learner = personalizer_learner(settings, store, models, clock=clock)
        loop = PersonalizerLoop(settings, store, learner.model, clock=clock)
        loop.on_final = learner.wake
        learner.on_new_model = lambda new: setattr(loop, "model", new)
        if settings.learner == "thread":
            learner.start()
    else:
        loop = PersonalizerLoop(settings, store, load_personalizer_model(settings, store, models), clock=clock)
        follower = SnapshotFollower(loop, personalizer_models(models), settings.snapshot_poll_seconds, store=loop.log)
        follower.check()
        follower.start()
    return loop, learner, follower


def create_app(test_config: dict | None = None, *, clock=time.time) -> Flask:
    """Build the app: settings (defaults < ``ARTWORK_*`` env < ``test_config``), the store, the
    model and the service.

    ``ROLE=all`` (one process): the model is the latest checkpoint plus re-learning what came
    after it, and a learner thread keeps it current. ``ROLE=serve`` (one of several gunicorn
    workers): the model is the learner process's latest published snapshot, followed as new
    ones appear; this process never learns.
    """
    settings = load_settings(test_config)
    app = Flask(__name__, static_folder=str(static_dir()), static_url_path="/static")
    app.json = JSONProvider(app)
    app.url_map.merge_slashes = False  # '/static//etc' is a JSON 404, not a redirect
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    paths = data_paths(settings.data_dir)
    # A learner (thread or process) checkpoints the WAL after each round; requests do not.
    has_learner = settings.role == "serve" or settings.learner == "thread"
    store = open_store(settings, wal_autocheckpoint=BACKSTOP_WAL_PAGES if has_learner else None)
    # A damaged database is refused before anything is served (StoreDamaged, its message saying
    # how to restore); only the structure here, for every worker: `artwork serve` checked the pages.
    check_at_start(store, seconds=0)
    model = load_model(store, settings.vw_args, paths["models"])
    service = Service(settings, store, model, clock=clock)
    learner = follower = None
    if settings.role == "all":
        learner = Learner(settings, store, model, paths["models"], clock=clock)
        caught_up = learner.learn_available()
        if caught_up:
            log.info("re-learned %d events logged after the checkpoint", caught_up)
        service.on_final = learner.wake
        learner.on_new_model = lambda new: setattr(service, "model", new)
        # candidate arms' models: the learner's own objects, as the live model is
        learner.candidates.on_model, learner.candidates.on_drop = service.candidates.put, service.candidates.drop
        if settings.learner == "thread":
            learner.start()
    else:
        follower = SnapshotFollower(service, paths["models"], settings.snapshot_poll_seconds)
        follower.check()
        follower.start()
        service.candidates.start(service.experiments)
    personalizer, pz_learner, pz_follower = _personalizer_loop(settings, store, paths["models"], clock)
    store.close_thread()
    app.extensions["artwork"] = service
    app.extensions["artwork.settings"] = settings
    app.extensions["artwork.learner"] = learner
    app.extensions["artwork.snapshots"] = follower
    app.extensions["artwork.paths"] = paths
    app.extensions["artwork.personalizer"] = personalizer
    app.extensions["artwork.personalizer.learner"] = pz_learner
    app.extensions["artwork.personalizer.snapshots"] = pz_follower

    from .api import bp
    from .personalizer_api import admin_bp as personalizer_admin_bp
    from .personalizer_api import bp as personalizer_bp
    from .simulations.demo_routes import bp as demo_bp  # the simulator, imported only here

    app.register_blueprint(bp)
    app.register_blueprint(personalizer_bp)
    app.register_blueprint(personalizer_admin_bp)
    app.register_blueprint(demo_bp)
    from . import security
    security.init_app(app)
    metrics.init_app(app, metrics.StateCollector(service, learner, personalizer))

    @app.teardown_appcontext
    def close_connection(_exc):
        store.close_thread()

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        metrics.note_error(exc.code)
        return jsonify(exc.to_dict()), exc.status, exc.headers

    def storage_busy(exc: Exception):
        # E.g. after BUSY_TIMEOUT_MS of waiting for another writer: tell the client to retry,
        # nothing was recorded.
        log.error("storage error: %s", exc)
        response, status = _error(503, "storage_unavailable",
                                  "the decision log is busy or unavailable; nothing was recorded, retry shortly")
        response.headers["Retry-After"] = "1"
        return response, status

    for unavailable in store.unavailable:
        app.register_error_handler(unavailable, storage_busy)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response, status = _error(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() == "allow":  # a 405 says which methods are allowed
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unhandled error")
        return _error(500, "internal_error", "internal error; the server log has the details")

    return app
