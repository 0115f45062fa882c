"""Context and decisions: the request's context resolved into features, one artwork picked per
title by the policy, and the page's decisions logged before they are answered.

``Decisions.select_artwork`` is the route's one call (``api.py``); the context comes from the
time, the device and the person's taste (their history, read in one round trip, or the
request's own); ``Storage.log_decisions`` writes the page in one transaction.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from .catalog import image_urls
from .checks import CONTEXT_KEYS, check_id, check_number
from .errors import ServiceError, bad_request, not_found
from .experiments import arm_pmf
from .features import (
    SharedContext,
    affinity_from_history,
    day_quarter,
    decision_text,
    neutral_affinity,
    normalize_affinity,
    parse_time,
    shared_context,
    time_context,
    validate_device,
)
from .jsontext import log_json
from .policy import explored, sample_index
from .steps import Step

if TYPE_CHECKING:
    from .policy import Model
    from .service import Service


def new_event_id(now: float) -> str:
    """A decision's id: the decision time in milliseconds (12 hex digits), then 128 random bits.

    The time comes first so that ids sort by time: each decision's entry in the log's index on
    event ids lands at its end, on pages every recent decision touched, instead of on a random
    page of an index as large as the log (benchmarks/README.md has what that cost)."""
    return "%012x" % (int(now * 1000) & 0xFFFF_FFFF_FFFF) + secrets.token_hex(16)


class Decisions(Step):
    """The context of a request and the decisions taken in it."""

    def __init__(self, service: Service):
        super().__init__(service)
        seed = self.settings.seed
        self._rng = random.Random(seed if seed is not None else secrets.randbits(64))
        self._rng_lock = threading.Lock()
        self._time_context = (None, {})  # (second, its time context)

    # Context --------------------------------------------------------------------------------

    def _local_now(self, now: float) -> datetime:
        return datetime.fromtimestamp(now).astimezone()

    def _time_now(self, now: float) -> dict:
        """The time context of ``now`` in local time: the same for a whole second, so built once
        a second (it shows the time to the second)."""
        second, context = self._time_context
        if second != math.floor(now):
            second = math.floor(now)
            context = time_context(self._local_now(second))
            self._time_context = (second, context)
        return context

    def history_affinity(self, user_id: str, now: float) -> tuple[dict, str, bool]:
        """The person's affinity, its source, and whether the service knows the person (has
        their ``users`` row). One round trip for the whole history: views, ratings and
        onboarding picks."""
        history = self.store.history(user_id)
        views, ratings, onboarding, known = (history["views"], history["ratings"], history["onboarding_genres"],
                                             history["known"])
        vocabulary = self.catalog.vocabulary()
        if not (views or ratings or onboarding):
            return neutral_affinity(vocabulary), "neutral", known
        title_genres = {tid: title["genres"] for tid in {r["title_id"] for r in views + ratings}
                        if (title := self.catalog.get(tid)) is not None}
        affinity = affinity_from_history(
            views=views, ratings=ratings, onboarding_genres=onboarding, title_genres=title_genres,
            vocabulary=vocabulary, now_ts=now, half_life_days=self.settings.half_life_days,
            full_view_seconds=self.settings.full_view_seconds)
        return affinity, "history", known

    def _override_affinity(self, raw) -> dict:
        if not isinstance(raw, dict) or not raw:
            raise bad_request("context.genre_affinity must be a non-empty object of genre -> weight")
        vocabulary = self.catalog.vocabulary()
        weights = {}
        for genre, weight in raw.items():
            if genre not in vocabulary:
                raise bad_request(f"context.genre_affinity: unknown genre {genre!r}"[:300], "unknown_genre")
            weights[genre] = check_number(weight, f"context.genre_affinity.{genre}")
        affinity = normalize_affinity(weights)
        if not affinity:
            raise bad_request("context.genre_affinity needs at least one positive weight")
        return affinity

    def _context(self, user_id: str, context, now: float) -> tuple[dict, dict, str | None, bool]:
        """The resolved context, the affinity, the device, and whether the person is known
        (False when the request's own affinity meant the history was not read)."""
        if context is None:
            context = {}
        if not isinstance(context, dict):
            raise bad_request("context must be an object")
        unknown = sorted(set(context) - set(CONTEXT_KEYS))
        if unknown:
            raise bad_request(f"context has unknown field(s): {', '.join(unknown)}"[:300])
        if "time" in context:
            if not isinstance(context["time"], str):
                raise bad_request("context.time must be an ISO-8601 string with a UTC offset")
            try:
                time_ctx = time_context(parse_time(context["time"]))
            except ValueError as exc:
                raise bad_request(f"context.{exc}"[:300]) from None
        else:
            time_ctx = self._time_now(now)
        try:
            device = validate_device(context.get("device"))
        except ValueError as exc:
            raise bad_request(f"context.{exc}"[:300]) from None
        if "genre_affinity" in context:
            affinity, source, known = self._override_affinity(context["genre_affinity"]), "request", False
        else:
            affinity, source, known = self.history_affinity(user_id, now)
        resolved = {**time_ctx, "device": device, "affinity_source": source}
        return resolved, affinity, device, known

    @staticmethod
    def _shared(resolved: dict, affinity: dict, device: str | None) -> SharedContext:
        return shared_context(tuple(affinity.items()), resolved["time_bucket"], resolved["day_type"], device,
                                day_quarter(resolved["time"]))

    # Decisions ------------------------------------------------------------------------------

    def distributions(self, user_id: str, title_id: str, context: dict, experiment: str, arms: list[dict]
                      ) -> tuple[list[str], dict]:
        """What each arm of ``arms`` (arm dicts of experiment ``experiment``'s definition: ``name``,
        ``policy``, and a candidate arm's ``vw_args``) would draw this title's artwork from for this
        person now: (the candidates, {arm name: probabilities}), by the code ``select_artwork``
        draws with (a candidate arm with its own model, ``service.candidates``), drawing and
        logging nothing. The experiment simulation computes the true lift with it."""
        resolved, affinity, device, _ = self._context(user_id, context, self.clock())
        title = self.catalog.get(title_id)
        if title is None:
            raise not_found(f"unknown title {title_id!r}", "unknown_title")
        parts = self.catalog.parts(title)
        _, lines = decision_text(self._shared(resolved, affinity, device), parts)
        floor = self.settings.propensity_floor
        return parts.candidates, {arm["name"]: arm_pmf(arm["policy"], self._arm_model(experiment, arm), lines,
                                                       title["artwork"], floor)[0] for arm in arms}

    def _arm_model(self, experiment: str, arm: dict) -> Model:
        """The model an experiment arm draws with: a candidate arm's own (candidates.py), else the
        live one (a fixed policy draws with none, and ignores it)."""
        if arm["policy"] == "candidate":
            return self.service.candidates.get(experiment, arm)
        return self.service.model

    def select_artwork(self, user_id, title_ids, context=None, defer_activation: bool = False) -> dict:
        """Pick one artwork per title for this person now, log every decision, return them.

        Every decision is committed to the log before this returns; if the write fails, no
        decision is returned.
        """
        user_id = check_id(user_id, "user_id")
        if not isinstance(title_ids, list) or not title_ids:
            raise bad_request("title_ids must be a non-empty list of title ids")
        limit = self.settings.max_titles_per_request
        if len(title_ids) > limit:
            raise bad_request(f"at most {limit} titles per request, got {len(title_ids)}", "too_many_titles")
        for tid in title_ids:
            check_id(tid, "title id")
        if len(set(title_ids)) != len(title_ids):
            raise bad_request("title_ids contains duplicates")
        if not isinstance(defer_activation, bool):
            raise bad_request("defer_activation must be true or false")
        now = self.clock()
        resolved, affinity, device, known = self._context(user_id, context, now)
        titles = {tid: title for tid in title_ids if (title := self.catalog.get(tid)) is not None}
        missing = [tid for tid in title_ids if tid not in titles]
        if missing:
            raise not_found(f"unknown title {missing[0]!r}", "unknown_title")
        shared = self._shared(resolved, affinity, device)
        dominant = shared.dominant_genre
        deadline = None if defer_activation else now + self.settings.reward_wait_seconds
        state = "awaiting_activation" if defer_activation else "pending"
        # log_json({**resolved, "genre_affinity": affinity}), with the affinity's JSON made once
        context_json = log_json(resolved)[:-1] + ',"genre_affinity":' + shared.affinity_json + "}"
        floor = self.settings.propensity_floor
        # A running experiment: the person's arm (experiments.assign_arm) decides which policy
        # draws the page, and every decision logs the experiment and arms. One model for the whole
        # page, even if a new snapshot arrives meanwhile.
        assignment = self.service.experiments.assignment(user_id)
        policy = assignment["served"]["policy"] if assignment else "bandit"
        model = self._arm_model(assignment["experiment"], assignment["served"]) if assignment else self.service.model
        in_experiment = ((assignment["experiment"], assignment["arm"], assignment["served_arm"]) if assignment
                         else (None, None, None))
        decisions, rows = [], []
        for tid in title_ids:
            title = titles[tid]
            if not title["artwork"]:
                raise ServiceError(409, "no_artwork", f"title {tid!r} has no active artwork")
            parts = self.catalog.parts(title)
            features_json, lines = decision_text(shared, parts)
            # the bandit's floored distribution, or an experiment arm's: what is sampled from is what is logged
            pmf, version = arm_pmf(policy, model, lines, title["artwork"], floor)
            with self._rng_lock:
                index = sample_index(pmf, self._rng)
            candidates = parts.candidates
            probability = pmf[index]
            was_explored = explored(pmf, index)
            event_id = new_event_id(now)
            rows.append((event_id, now, user_id, tid, context_json, features_json, parts.candidates_json,
                         log_json(pmf), index, candidates[index], probability, int(was_explored), version,
                         self.settings.policy_name, resolved["time_bucket"], dominant, int(defer_activation),
                         state, deadline, *in_experiment))
            ranking = sorted(zip(candidates, pmf, strict=True), key=lambda cp: -cp[1])
            decisions.append({
                "event_id": event_id, "title_id": tid, "artwork_id": candidates[index],
                **image_urls(candidates[index]), "probability": probability, "explored": was_explored,
                "model_version": version,
                "ranking": [{"artwork_id": a, "probability": p} for a, p in ranking],
            })
        # One transaction: the page's decisions (storage.DECISION_COLUMNS), and the users row
        # unless the history read found it.
        self.store.log_decisions(user_id, rows, now, new_person=not known)
        return {
            "user_id": user_id,
            "context": {**resolved, "genre_affinity": affinity, "dominant_genre": dominant},
            "decisions": decisions,
            "model_version": max(d["model_version"] for d in decisions),
            "deferred": defer_activation,
            "experiment": assignment and {k: assignment[k] for k in ("experiment", "arm", "served_arm")},
        }
