"""HTTP views of the Personalizer-compatible loop (``personalizer.py``): Azure Personalizer's Rank,
Reward and Activate at its paths (``/personalizer/v1.0/...``), with its key header
(``Ocp-Apim-Subscription-Key``, checked against CLIENT_KEYS like ``X-Api-Key``), its statuses
(rank 201, reward and activate 204) and its error shape, so that a client written for
Personalizer works by changing only the endpoint and the key; Personalizer's Reset Model at its
path and in its shape, but for holders of the admin token only; and the loop's admin read-out
and mode switch (the service's own admin API, in the service's error shape).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from . import metrics
from .api import ADMIN_ERRORS, ADMIN_HEADERS, TOO_LARGE
from .errors import ServiceError
from .openapi import operation
from .personalizer import PersonalizerLoop
from .schemas import (
    EMPTY_BODY,
    PZ_ERROR_CODES,
    PZ_MODE_REQUEST,
    PZ_RANK_REQUEST,
    PZ_RANK_RESPONSE,
    PZ_REWARD_REQUEST,
    PZ_STATUS,
)

#: Personalizer's key header.
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"

bp = Blueprint("personalizer", __name__, url_prefix="/personalizer/v1.0")
admin_bp = Blueprint("personalizer_admin", __name__)

WRITES = {**TOO_LARGE, 503: ["storage_unavailable"]}


def loop() -> PersonalizerLoop:
    return current_app.extensions["artwork.personalizer"]


def pz_operation(summary: str, **kwargs):
    """``@operation`` for Personalizer's routes: its key header and its error shape."""
    return operation(summary, tags=("personalizer",), client_key=True, key_header=SUBSCRIPTION_KEY_HEADER,
                     error_shape="personalizer", **kwargs)


@bp.post("/rank")
@pz_operation("Rank actions (Personalizer's Rank)", body=PZ_RANK_REQUEST,
              description="Chooses one action for the context and logs the decision, with the probability it was "
                          "drawn with, before answering. In apprentice mode the baseline (the first action not "
                          "excluded) is chosen but for PERSONALIZER_APPRENTICE_EXPLORATION of the calls.",
              responses={201: ("The ranking, the event id and the action to show.", PZ_RANK_RESPONSE)},
              errors={400: ["bad_request"], 409: ["duplicate_event"], **WRITES})
def rank(body):
    result = loop().rank(body.get("contextFeatures"), body["actions"], body.get("excludedActions"),
                         body.get("eventId"), body.get("deferActivation"))
    metrics.DECISIONS.labels("personalizer").inc()
    return jsonify(result), 201


def _event_operation(summary: str, description: str, body, body_required: bool):
    return pz_operation(summary, description=description, body=body, body_required=body_required,
                        responses={204: ("Recorded.", None)},
                        errors={400: ["bad_request"], 404: ["unknown_event"], **WRITES})


@bp.post("/events/<eventId>/reward")
@_event_operation("Reward an event (Personalizer's Reward)", "A reward from -1 to 1 for the action shown. With "
                  "PERSONALIZER_REWARD_AGGREGATION=earliest the first one counts; with sum, those of the wait time "
                  "add up. Rewards after the wait time, or before a deferred event's activation, are kept but "
                  "change nothing learned until then.", PZ_REWARD_REQUEST, True)
def reward(eventId, body):  # noqa: N803 - Personalizer's name for it, in the path and the document
    metrics.OUTCOMES.labels("reward", loop().reward(eventId, body["value"])).inc()
    return "", 204


@bp.post("/events/<eventId>/activate")
@_event_operation("Activate a deferred event (Personalizer's Activate)", "The action of an event ranked with "
                  "deferActivation was shown: its wait time starts now and the rewards sent before apply.",
                  EMPTY_BODY, False)
def activate(eventId, body):  # noqa: N803
    metrics.OUTCOMES.labels("activate", loop().activate(eventId)).inc()
    return "", 204


@bp.delete("/model")
@operation("Reset the loop's model (Personalizer's Reset Model; admin)", tags=("personalizer", "admin"), admin=True,
           error_shape="personalizer",
           description="A fresh model that learns only events final from now on (a new model epoch; the log is "
                       "kept). Unlike Personalizer, which took its resource key, this needs the service's admin "
                       "token: a client key ranks and rewards, it cannot wipe a model.",
           responses={204: ("Reset: the learner starts the new model at its next round.", None)},
           errors={**ADMIN_ERRORS, **WRITES}, response_headers=ADMIN_HEADERS)
def reset_model():
    loop().reset_model()
    return "", 204


@bp.errorhandler(Exception)
def personalizer_error(exc: Exception):
    """Every error of these routes in Personalizer's shape: the service's code goes in ``innerError``."""
    headers = {}
    if isinstance(exc, ServiceError):
        status, code, message, headers = exc.status, exc.code, exc.message, exc.headers
    elif isinstance(exc, HTTPException):
        status, code = exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
    elif isinstance(exc, loop().store.unavailable):
        current_app.logger.error("storage error: %s", exc)
        status, code, headers = 503, "storage_unavailable", {"Retry-After": "1"}
        message = "the decision log is busy or unavailable; nothing was recorded, retry shortly"
    else:
        current_app.logger.exception("unhandled error in %s", request.path)
        status, code, message = 500, "internal_error", "internal error; the server log has the details"
    metrics.note_error(code)
    error = {"code": PZ_ERROR_CODES.get(status, PZ_ERROR_CODES[500 if status >= 500 else 400]),
             "message": message, "innerError": {"code": code}}
    return jsonify({"error": error}), status, headers


# Admin: the loop's mode ------------------------------------------------------------------------

@admin_bp.get("/api/v1/admin/personalizer")
@operation("The Personalizer loop's mode and apprentice read-out (admin)", tags=("admin",), admin=True,
           description="The mode and every switch (when, why); over the mode's rewarded events, the bandit's and "
                       "the baseline's mean reward and the bandit's advantage, each with a 95% interval, and how "
                       "often the bandit would have chosen the baseline.",
           responses={200: ("The loop's status.", PZ_STATUS)}, errors=ADMIN_ERRORS, response_headers=ADMIN_HEADERS)
def personalizer_status():
    return jsonify(loop().status())


@admin_bp.put("/api/v1/admin/personalizer/mode")
@operation("Switch the Personalizer loop's mode (admin)", tags=("admin",), admin=True, body=PZ_MODE_REQUEST,
           description="'apprentice': show the baseline while the bandit learns (it switches itself to online once "
                       "it beats the baseline); 'online': the bandit decides.",
           responses={200: ("The loop's status after the switch.", PZ_STATUS)},
           errors={400: ["bad_request"], **ADMIN_ERRORS, **WRITES}, response_headers=ADMIN_HEADERS)
def set_personalizer_mode(body):
    return jsonify(loop().set_mode(body["mode"], "admin"))
