"""Prometheus metrics, served at ``GET /metrics`` in Prometheus' text format (prometheus_client).

Two kinds, kept apart on purpose:

- **Counted per request, per process**: decisions, outcomes, answers by route, status and error
  code, and request latency. Under ``serve --workers`` each process keeps its counts in files
  of prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``: a fresh folder per
  server run, set before any process starts; ``production.py``), and ``/metrics`` adds up
  every process's files, so whichever process answers the scrape gives the server's totals.
  In one process (``artwork serve``) they live in this module's registry.
- **Read at scrape time** (``StateCollector``): the model's version and age, the learner's lag
  and leadership, and the place in the log and lag of the candidate arms' and the Personalizer
  loop's models. They describe state the processes share (the log in the database, the
  published model), so they are computed when scraped rather than updated per request, and any
  process reads them correctly.

Under ``serve --workers`` the learner is its own process (``artwork learn``), which nobody
scrapes: it keeps its leadership in a multiprocess gauge (``LEADER``, summed over the live
processes), which every serving process's ``/metrics`` reads from the shared folder.
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily

#: prometheus_client's multiprocess mode is on in a process whose environment names this folder.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: What Prometheus scrapes (the text format every Prometheus version reads).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: Seconds; the service answers most requests in well under a millisecond of its own time.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Methods kept as they are in labels; any other (a client may send anything) is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})

# The "_created" samples (when each series started) exist only in one process, not in
# multiprocess mode: off, so that both modes answer the same series.
disable_created_metrics()

#: This process's per-request metrics (scraped as they are in one process; in multiprocess mode
#: their values live in the shared folder's files).
REGISTRY = CollectorRegistry(auto_describe=True)
DECISIONS = Counter("artwork_decisions", "Decisions made and logged (one per title asked for).", ["policy"],
                    registry=REGISTRY)
OUTCOMES = Counter("artwork_outcomes", "Outcomes reported for decisions, by kind and by their effect.",
                   ["kind", "effect"], registry=REGISTRY)
RESPONSES = Counter("artwork_http_responses", "HTTP answers by route (the URL rule, or 'unmatched'), method, "
                    "status and error code (the JSON error's code; empty for an answer that is not an error).",
                    ["route", "method", "status", "code"], registry=REGISTRY)
LATENCY = Histogram("artwork_http_request_duration_seconds", "Time to answer a request, from routing to the "
                    "answer's start (seconds), by route and method.", ["route", "method"],
                    buckets=LATENCY_BUCKETS, registry=REGISTRY)
#: The learner process's leadership under ``serve --workers`` (registered nowhere: only its
#: multiprocess files are read). Summed over live processes: the serving processes add 0.
LEADER_HELP = "1 if this server's learner leads (learns and publishes), else 0."
LEADER = Gauge("artwork_learner_leader", LEADER_HELP, multiprocess_mode="livesum", registry=None)


def multiprocess_dir() -> str | None:
    """The multiprocess folder of this process's server, or None in one process."""
    return os.environ.get(MULTIPROC_ENV) or None


def is_leader(learner) -> bool:
    """Whether ``learner`` is the one that learns and publishes: its ``is_leader`` (an attribute,
    property or method) where it has one, as an elected learner does; else True, since it is
    then its server's only learner. None (no learner in this process) is not a leader."""
    if learner is None:
        return False
    leads = getattr(learner, "is_leader", True)
    return bool(leads() if callable(leads) else leads)


def set_leader(learner) -> None:
    """Record ``learner``'s leadership for scrapes by other processes (multiprocess mode only)."""
    if multiprocess_dir():
        LEADER.set(1.0 if is_leader(learner) else 0.0)


class StateCollector:
    """Scrape-time gauges of one app: its model's version and age, the learner's lag, the
    candidate arms' models (their place in the log and lag), the Personalizer loop's model (its
    place in that loop's log and lag), and (where the learner runs in this process) its leadership."""

    def __init__(self, service, learner=None, personalizer=None):
        """``personalizer`` is the app's ``personalizer.PersonalizerLoop`` (None: no gauges for it)."""
        self.service = service
        self.learner = learner
        self.personalizer = personalizer

    def collect(self):
        model = self.service.model
        lag = self.service.learner_lag()
        yield _gauge("artwork_model_seq", "Events learned by the model this process decides with (its place "
                     "in the learn queue: the model_version of /healthz).", model.seq)
        yield _gauge("artwork_model_epoch", "Model epoch of that model (a reset or retrain starts a new one).",
                     model.epoch)
        yield _gauge("artwork_model_age_seconds", "Seconds since that model last changed (learned an event, or "
                     "was saved by the learner process).", max(0.0, time.time() - model.updated_at))  # Model's clock
        yield _gauge("artwork_learner_lag_events", "Events whose reward is final but that model has not learned.",
                     lag["events"])
        yield _gauge("artwork_learner_lag_seconds", "Age of the oldest of those events (seconds; 0 if none).",
                     lag["seconds"])
        seq = GaugeMetricFamily("artwork_candidate_model_seq", "Events learned by the model of a running "
                                "experiment's candidate arm that this process draws its artwork with.",
                                labels=["experiment", "arm"])
        lag_events = GaugeMetricFamily("artwork_candidate_lag_events", "Events whose reward is final but that "
                                       "candidate's model has not learned (a new candidate catches up on the log).",
                                       labels=["experiment", "arm"])
        for key, progress in self.service.candidates.all_progress().items():
            experiment, arm = key.split("/", 1)
            seq.add_metric([experiment, arm], float(progress["learned"]))
            lag_events.add_metric([experiment, arm], float(progress["behind"]))
        yield seq
        yield lag_events
        if self.personalizer is not None:
            pz_seq = self.personalizer.model.seq
            yield _gauge("artwork_personalizer_model_seq", "Events learned by the Personalizer loop's model that "
                         "this process ranks with (its place in that loop's learn queue).", pz_seq)
            yield _gauge("artwork_personalizer_lag_events", "Events of the Personalizer loop whose reward is final "
                         "but that model has not learned.", self.personalizer.log.learn_queue_after(pz_seq)[0])
        if not multiprocess_dir():  # else the learner process's LEADER files answer
            yield _gauge("artwork_learner_leader", LEADER_HELP, 1.0 if is_leader(self.learner) else 0.0)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def exposition(state: StateCollector) -> bytes:
    """The metrics of this server in Prometheus' text format: every process's counts (this
    process's, in one process) and the scrape-time state."""
    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder:
        multiprocess.MultiProcessCollector(registry, folder)
    else:
        registry.register(REGISTRY)
    registry.register(state)
    return generate_latest(registry)


# Per request --------------------------------------------------------------------------------------

def note_error(code: str) -> None:
    """Remember the error code of the answer being built (the error handlers call this)."""
    g.artwork_error_code = code


def _start() -> None:
    g.artwork_started = time.perf_counter()


def _count(response):
    started = g.get("artwork_started")
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"  # unknown paths: one label, not one each
    method = request.method if request.method in METHODS else "other"
    RESPONSES.labels(route, method, str(response.status_code), g.get("artwork_error_code", "")).inc()
    if started is not None:
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask, state: StateCollector) -> None:
    """Count every request of ``app`` (errors included) and keep ``state`` for ``/metrics``."""
    app.extensions["artwork.metrics"] = state
    app.before_request(_start)
    app.after_request(_count)
