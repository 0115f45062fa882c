"""The service's core: decisions, outcomes, profiles and read-outs, over plain values.

Nothing here touches a request or a response: the HTTP views (``api.py``), the CLI and the
simulator all call these methods, so a simulation runs exactly the decision and logging code
that production runs. Client mistakes raise ``ServiceError`` with the status to answer.
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
import threading
import time
from datetime import datetime

from . import features as F
from .config import Settings
from .errors import ServiceError, bad_request, not_found
from .jsontext import log_json
from .policy import TIE, Model, floor_pmf, sample_index, top_index
from .schemas import EVENT_ID_REGEX
from .storage import Storage

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
CONTEXT_KEYS = ("time", "device", "genre_affinity")
#: Accepted range of reported times (seconds since the epoch): 1970 to the end of 2999.
MIN_TS, MAX_TS = 0.0, 32503680000.0
OUTCOME_KINDS = ("click", "play", "activate", "dismiss")


def check_id(value, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise bad_request(f"{what} must be a string of 1-128 letters, digits or _.:@- "
                          f"(starting with a letter or digit), not {value!r}"[:300])
    return value


def check_number(value, what: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{what} must be a finite number, not {value!r}"[:300])
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float
        raise bad_request(f"{what} must be a finite number, not {str(value)[:40]}...") from None
    if not math.isfinite(value):
        raise bad_request(f"{what} must be a finite number, not {value!r}"[:300])
    if value < minimum:
        raise bad_request(f"{what} must be at least {minimum:g}, not {value!r}")
    return float(value)


_EVENT_ID = re.compile(EVENT_ID_REGEX.removeprefix("^").removesuffix("$"))


def new_event_id(now: float) -> str:
    """A decision's id: the decision time in milliseconds (12 hex digits), then 128 random bits.

    The time comes first so that ids sort by time: each decision's entry in the log's index on
    event ids lands at its end, on pages every recent decision touched, instead of on a random
    page of an index as large as the log (benchmarks/README.md has what that cost)."""
    return "%012x" % (int(now * 1000) & 0xFFFF_FFFF_FFFF) + secrets.token_hex(16)


def is_event_id(value) -> bool:
    return isinstance(value, str) and _EVENT_ID.fullmatch(value) is not None


def image_urls(artwork_id: str) -> dict:
    return {"image_url": f"/images/{artwork_id}/poster.jpg",
            "thumbnail_url": f"/images/{artwork_id}/thumb.jpg"}


class Catalog:
    """The titles with their active artwork, held in memory for ``ttl`` seconds.

    Every decision reads the catalog and imports change it rarely, so requests do not go to the
    database for it; an import (possibly by another process) is seen within ``ttl`` seconds.
    """

    def __init__(self, store: Storage, ttl: float):
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._ordered: list[dict] = []
        self._by_id: dict[str, dict] = {}
        self._parts: dict[str, tuple[dict, F.TitleParts]] = {}
        self._vocabulary: frozenset[str] = frozenset()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl:
                return
            ordered = self.store.titles()
            self._by_id = {t["id"]: t for t in ordered}
            self._vocabulary = frozenset(g for t in ordered for g in t["genres"])
            self._ordered = ordered
            self._parts = {}
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def titles(self) -> list[dict]:
        self._fresh()
        return self._ordered

    def get(self, title_id: str) -> dict | None:
        self._fresh()
        return self._by_id.get(title_id)

    def vocabulary(self) -> frozenset[str]:
        self._fresh()
        return self._vocabulary

    def parts(self, title: dict) -> F.TitleParts:
        """``title``'s candidates in the forms a decision needs, built once per title as loaded."""
        entry = self._parts.get(title["id"])
        if entry is None or entry[0] is not title:  # first use, or a title from before a reload
            entry = self._parts[title["id"]] = (title, F.title_parts(title["artwork"]))
        return entry[1]


class Service:
    """Decisions, reward join and read-outs over one ``Storage`` and one ``Model``."""

    def __init__(self, settings: Settings, store: Storage, model: Model, clock=time.time):
        self.settings = settings
        self.store = store
        self.model = model
        self.clock = clock
        self.catalog = Catalog(store, settings.catalog_cache_seconds)
        seed = settings.seed
        self._rng = random.Random(seed if seed is not None else secrets.randbits(64))
        self._rng_lock = threading.Lock()
        self._time_context = (None, {})  # (second, its time context)
        self.on_final = lambda: None  # the learner replaces this to wake up at once

    # Context --------------------------------------------------------------------------------

    def _local_now(self, now: float) -> datetime:
        return datetime.fromtimestamp(now).astimezone()

    def _time_now(self, now: float) -> dict:
        """The time context of ``now`` in local time: the same for a whole second, so built once
        a second (it shows the time to the second)."""
        second, context = self._time_context
        if second != math.floor(now):
            second = math.floor(now)
            context = F.time_context(self._local_now(second))
            self._time_context = (second, context)
        return context

    def _history_affinity(self, user_id: str, now: float) -> tuple[dict, str, bool]:
        """The person's affinity, its source, and whether the service knows the person (has
        their ``users`` row). One round trip for the whole history: views, ratings and
        onboarding picks."""
        history = self.store.history(user_id)
        views, ratings, onboarding, known = (history["views"], history["ratings"], history["onboarding_genres"],
                                             history["known"])
        vocabulary = self.catalog.vocabulary()
        if not (views or ratings or onboarding):
            return F.neutral_affinity(vocabulary), "neutral", known
        title_genres = {tid: title["genres"] for tid in {r["title_id"] for r in views + ratings}
                        if (title := self.catalog.get(tid)) is not None}
        affinity = F.affinity_from_history(
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
        affinity = F.normalize_affinity(weights)
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
                time_ctx = F.time_context(F.parse_time(context["time"]))
            except ValueError as exc:
                raise bad_request(f"context.{exc}"[:300]) from None
        else:
            time_ctx = self._time_now(now)
        try:
            device = F.validate_device(context.get("device"))
        except ValueError as exc:
            raise bad_request(f"context.{exc}"[:300]) from None
        if "genre_affinity" in context:
            affinity, source, known = self._override_affinity(context["genre_affinity"]), "request", False
        else:
            affinity, source, known = self._history_affinity(user_id, now)
        resolved = {**time_ctx, "device": device, "affinity_source": source}
        return resolved, affinity, device, known

    # Decisions ------------------------------------------------------------------------------

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
        shared = F.shared_context(tuple(affinity.items()), resolved["time_bucket"], resolved["day_type"], device,
                                  F.day_quarter(resolved["time"]))
        dominant = shared.dominant_genre
        deadline = None if defer_activation else now + self.settings.reward_wait_seconds
        state = "awaiting_activation" if defer_activation else "pending"
        # log_json({**resolved, "genre_affinity": affinity}), with the affinity's JSON made once
        context_json = log_json(resolved)[:-1] + ',"genre_affinity":' + shared.affinity_json + "}"
        model = self.model  # one model for the whole page, even if a new snapshot arrives meanwhile
        floor = self.settings.propensity_floor
        decisions, rows = [], []
        for tid in title_ids:
            title = titles[tid]
            if not title["artwork"]:
                raise ServiceError(409, "no_artwork", f"title {tid!r} has no active artwork")
            parts = self.catalog.parts(title)
            features_json, lines = F.decision_text(shared, parts)
            pmf, version = model.predict_lines(lines)
            pmf = floor_pmf(pmf, floor)  # what is sampled from is what is logged
            with self._rng_lock:
                index = sample_index(pmf, self._rng)
            candidates = parts.candidates
            probability = pmf[index]
            explored = probability < max(pmf) - TIE
            event_id = new_event_id(now)
            rows.append((event_id, now, user_id, tid, context_json, features_json, parts.candidates_json,
                         log_json(pmf), index, candidates[index], probability, int(explored), version,
                         self.settings.policy_name, resolved["time_bucket"], dominant, int(defer_activation),
                         state, deadline))
            ranking = sorted(zip(candidates, pmf, strict=True), key=lambda cp: -cp[1])
            decisions.append({
                "event_id": event_id, "title_id": tid, "artwork_id": candidates[index],
                **image_urls(candidates[index]), "probability": probability, "explored": explored,
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
        }

    # Outcomes -------------------------------------------------------------------------------

    def _qualifies(self, kind: str, seconds: float | None) -> bool:
        if self.settings.reward == "click":
            return kind in ("click", "play")
        return kind == "play" and seconds is not None and seconds >= self.settings.quality_play_seconds

    def record_outcome(self, event_id, kind: str, seconds=None) -> dict:
        """Record a click, play, activation or dismissal for a logged decision; join it to the reward.

        The first qualifying outcome inside the wait window makes the reward final (1.0) and
        queues the event for learning; a dismissal (the person moved on without engaging) closes
        the window at once with the default reward. Later, repeated or out-of-window outcomes are
        recorded but change nothing learned. Unknown events are refused (404).
        """
        if kind not in OUTCOME_KINDS:
            raise bad_request(f"unknown outcome {kind!r}")
        if not is_event_id(event_id):
            raise not_found(f"unknown event {str(event_id)[:64]!r}", "unknown_event")
        if kind == "play":
            seconds = check_number(seconds, "seconds")
        now = self.clock()
        wait = self.settings.reward_wait_seconds
        default = self.settings.default_reward
        # The reads and writes below are one write transaction (``Storage.reward_join``); each
        # ``join.finalize`` applies the reward join's one rule (``Storage``).
        with self.store.reward_join(event_id) as join:
            ev = join.event
            if ev is None:
                raise not_found(f"unknown event {event_id!r}", "unknown_event")
            state = ev["state"]
            if state == "pending" and now >= ev["deadline_ts"]:
                # The window closed before the sweeper got to it: close it now, by the clock.
                join.finalize(default, "window", now)
                state, reason = "final", "window"
            else:
                reason = ev["final_reason"]
            if kind == "activate":
                if not ev["deferred"]:
                    raise ServiceError(409, "not_deferred",
                                       f"event {event_id!r} was not requested with defer_activation")
                if state == "awaiting_activation":
                    effect = "activated"
                    join.activate(now, now + wait)
                    held = join.held_outcomes()
                    if any(self._qualifies(h["kind"], h["seconds"]) for h in held):
                        join.finalize(1.0, "outcome", now)
                    elif any(h["kind"] == "dismiss" for h in held):
                        join.finalize(default, "window", now)
                else:
                    effect = "duplicate"
            elif state == "awaiting_activation":
                effect = "held"
            elif state == "pending" and kind == "dismiss":
                # The person moved on: the window closes now, with the default reward.
                join.finalize(default, "window", now)
                effect = "dismissed"
            elif state == "pending":
                if self._qualifies(kind, seconds):
                    join.finalize(1.0, "outcome", now)
                    effect = "rewarded"
                else:
                    effect = "recorded"
            else:
                effect = "late" if reason == "window" else "duplicate"
            join.add_outcome(kind, seconds, now, effect)
            final = dict(join.event)  # the state and reward the transaction commits
        if final["state"] == "final":
            self.on_final()
        return {"event_id": event_id, "kind": kind, "effect": effect,
                "final": final["state"] == "final", "reward": final["reward"]}

    # Profiles -------------------------------------------------------------------------------

    def _check_title(self, title_id) -> str:
        check_id(title_id, "title_id")
        if self.catalog.get(title_id) is None:
            raise not_found(f"unknown title {title_id!r}", "unknown_title")
        return title_id

    def record_view(self, user_id, title_id, seconds, at=None) -> dict:
        """Add ``seconds`` of viewing of a title to a person's history (``at``: ISO 8601 with
        offset, default now)."""
        user_id = check_id(user_id, "user id")
        title_id = self._check_title(title_id)
        seconds = check_number(seconds, "seconds")
        now = self.clock()
        if at is None:
            at_ts = now
        else:
            if not isinstance(at, str):
                raise bad_request("at must be an ISO-8601 string with a UTC offset")
            try:
                at_ts = F.parse_time(at).timestamp()
            except (ValueError, OverflowError) as exc:
                raise bad_request(str(exc)[:300]) from None
            if not MIN_TS <= at_ts <= MAX_TS:
                raise bad_request(f"at {at!r} is not between 1970 and 2999")
        self.store.add_view(user_id, title_id, seconds, at_ts, now)
        return self.profile(user_id)

    def record_rating(self, user_id, title_id, thumbs) -> dict:
        """Thumbs ``"up"`` or ``"down"`` on a title; a person's latest rating of a title wins."""
        user_id = check_id(user_id, "user id")
        title_id = self._check_title(title_id)
        if thumbs not in ("up", "down"):
            raise bad_request(f"thumbs must be \"up\" or \"down\", not {thumbs!r}"[:300])
        now = self.clock()
        self.store.set_rating(user_id, title_id, 1 if thumbs == "up" else -1, now)
        return self.profile(user_id)

    def set_onboarding_genres(self, user_id, genres) -> dict:
        """The genres a person picked when signing up (replaces earlier picks)."""
        user_id = check_id(user_id, "user id")
        vocabulary = self.catalog.vocabulary()
        if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
            raise bad_request("genres must be a list of genre names")
        unknown = [g for g in genres if g not in vocabulary]
        if unknown:
            raise bad_request(f"unknown genre {unknown[0]!r}"[:300], "unknown_genre")
        now = self.clock()
        self.store.set_onboarding_genres(user_id, sorted(set(genres)), now)
        return self.profile(user_id)

    def profile(self, user_id) -> dict:
        """What the service knows of a person's taste; an unknown person gets the neutral prior."""
        user_id = check_id(user_id, "user id")
        now = self.clock()
        affinity, source, _ = self._history_affinity(user_id, now)
        stored = self.store.profile(user_id, recent=20)
        return {
            "user_id": user_id,
            "known": stored["known"],
            "genre_affinity": affinity,
            "dominant_genre": F.dominant_genre(affinity),
            "source": source,
            "onboarding_genres": stored["onboarding_genres"],
            "views": stored["views"],
            "recent_views": [
                {"title_id": v["title_id"], "seconds": v["seconds"],
                 "at": datetime.fromtimestamp(v["at_ts"]).astimezone().isoformat(timespec="seconds")}
                for v in stored["recent_views"]],
            "ratings": [{"title_id": r["title_id"], "thumbs": "up" if r["thumbs"] > 0 else "down"}
                        for r in stored["ratings"]],
            "half_life_days": self.settings.half_life_days,
        }

    # One decision, explained -------------------------------------------------------------------

    def event(self, event_id) -> dict:
        """A logged decision with its outcomes and a plain-language account of the choice."""
        if not is_event_id(event_id):
            raise not_found(f"unknown event {str(event_id)[:64]!r}", "unknown_event")
        row = self.store.decision(event_id)
        if row is None:
            raise not_found(f"unknown event {event_id!r}", "unknown_event")
        candidates, pmf = json.loads(row["candidates"]), json.loads(row["pmf"])
        tags = self.store.artwork_tags(candidates)
        outcomes = row["outcomes"]
        context = json.loads(row["context"])
        iso = lambda ts: datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")  # noqa: E731
        return {
            "event_id": event_id, "user_id": row["user_id"], "title_id": row["title_id"],
            "created_at": iso(row["created_ts"]), "context": context, "artwork_id": row["artwork_id"],
            "probability": row["probability"], "explored": bool(row["explored"]),
            "model_version": row["model_version"], "policy": row["policy"], "state": row["state"],
            "reward": row["reward"],
            "ranking": [{"artwork_id": a, "probability": p, "tags": tags.get(a, {})}
                        for a, p in sorted(zip(candidates, pmf, strict=True), key=lambda cp: -cp[1])],
            "outcomes": [{"kind": o["kind"], "seconds": o["seconds"], "effect": o["effect"],
                          "at": iso(o["received_ts"])} for o in outcomes],
            "explanation": self._explain(json.loads(row["features"]), candidates, row["chosen_index"], pmf,
                                         context, tags),
        }

    def _explain(self, feats: dict, candidates: list[str], chosen: int, pmf: list[float], context: dict,
                 tags: dict) -> dict:
        """Why this artwork: the logged pick, and what the current model would pick without each part
        of the context (taste, time, device) - a counterfactual a person can read."""

        def describe(artwork_id: str) -> str:
            t = tags.get(artwork_id, {})
            return f"a {t.get('tone', '?')} {t.get('subject', '?')} selling the {t.get('theme', '?')} side"

        def top(features: dict) -> int:
            return top_index(self.model.predict(features)[0])

        shown = candidates[chosen]
        now_top = top(feats)
        affinity = context.get("genre_affinity") or {}
        dominant = F.dominant_genre(affinity)
        neutral = F.neutral_affinity(self.catalog.vocabulary())
        variants = {factor: variant for factor in F.FACTORS
                    if (variant := F.without_factor(feats, factor, neutral)) is not None}
        labels = {"taste": f"your taste ({dominant} first)" if dominant else "your taste (no clear favourite yet)",
                  "time": f"the time of day ({context.get('time_bucket')}, {context.get('day_type')})",
                  "device": f"the device ({context.get('device')})"}
        factors = []
        for factor, variant in variants.items():
            alt = top(variant)
            changes = alt != now_top
            description = (f"Without {labels[factor]}, it would show {describe(candidates[alt])} instead."
                           if changes else f"{labels[factor][0].upper()}{labels[factor][1:]} does not change the pick.")
            factors.append({"factor": factor, "description": description, "changes_choice": changes,
                            "top_without": candidates[alt]})
        uniform = max(pmf) - min(pmf) < TIE
        if uniform:
            summary = (f"The model had no preference yet when this was shown, so every artwork was equally "
                       f"likely; it showed {describe(shown)}.")
        elif pmf[chosen] < max(pmf) - TIE:
            summary = (f"An exploration pick: the model gave {describe(shown)} only {pmf[chosen]:.0%} and showed it "
                       f"to learn whether it works for people like you.")
        else:
            summary = f"The model's top choice for you ({pmf[chosen]:.0%}): {describe(shown)}."
        mattered = [f for f in factors if f["changes_choice"]]
        if mattered:
            summary += " What matters now: " + ", ".join(labels[f["factor"]] for f in mattered) + "."
        if now_top != chosen and not uniform and pmf[chosen] >= max(pmf) - TIE:
            summary += f" Having learned since, the model now prefers {describe(candidates[now_top])}."
        return {"summary": summary, "factors": factors, "current_top": candidates[now_top]}

    # Read-outs ------------------------------------------------------------------------------

    def titles(self) -> list[dict]:
        return [self._public_title(t) for t in self.catalog.titles()]

    def title(self, title_id) -> dict:
        check_id(title_id, "title id")
        found = self.catalog.get(title_id)
        if found is None:
            raise not_found(f"unknown title {title_id!r}", "unknown_title")
        return self._public_title(found)

    @staticmethod
    def _public_title(title: dict) -> dict:
        return {**title, "artwork": [{**a, **image_urls(a["id"])} for a in title["artwork"]]}

    def learner_lag(self) -> dict:
        """Events final but not yet in the model, and the age in seconds of the oldest."""
        learned = self.model.seq
        events, oldest = self.store.learn_queue_after(learned)
        return {"events": events, "seconds": round(max(0.0, self.clock() - oldest), 3) if events else 0.0}

    def stats(self) -> dict:
        """Totals and click rates from the log."""
        store = self.store

        def rates(column: str) -> list[dict]:
            return [{column: r["key"], "impressions": r["impressions"], "clicks": r["clicks"],
                     "click_rate": r["clicks"] / r["impressions"]} for r in store.click_rates(column)]

        totals = store.log_totals()
        impressions, clicks = totals["impressions"], totals["clicks"]
        return {
            "impressions": impressions,
            "clicks": clicks,
            "click_rate": clicks / impressions if impressions else 0.0,
            "plays": totals["plays"],
            "rewards": {"final": totals["final"], "mean_reward": totals["mean_reward"],
                        "pending": totals["pending"], "awaiting_activation": totals["awaiting_activation"],
                        "definition": self.settings.reward},
            "by_artwork": rates("artwork_id"),
            "by_time_bucket": rates("time_bucket"),
            "by_dominant_genre": rates("dominant_genre"),
            "model_version": self.model.version,
            "policy": self.settings.policy_name,
            "learner_lag": self.learner_lag(),
            "timeline": self.timeline(),
        }

    def timeline(self, minutes: int = 30) -> list[dict]:
        """Impressions and clicks per minute (by decision time) over the last ``minutes``."""
        since = self.clock() - 60 * minutes
        rows = self.store.timeline(since)
        return [{"minute": datetime.fromtimestamp(r["minute"] * 60).astimezone().isoformat(timespec="minutes"),
                 "impressions": r["impressions"], "clicks": r["clicks"],
                 "click_rate": r["clicks"] / r["impressions"]} for r in rows]


class Admin:
    """Operations that change what the service knows or how it learns; the HTTP layer lets only
    holders of the admin token call them."""

    def __init__(self, service: Service):
        self.service = service
        self.store = service.store

    def delete_user(self, user_id, forget_decisions: bool = False) -> dict:
        """Delete a person's profile, views and ratings, and unlink their decisions (the decisions
        stay for learning and evaluation under the user id "deleted"). With ``forget_decisions``
        the decisions and their outcomes are deleted too and the model is retrained from the log
        that remains, so nothing learned from this person stays in it."""
        user_id = check_id(user_id, "user id")
        now = self.service.clock()
        counts = self.store.delete_person(user_id, bool(forget_decisions), now)
        views, ratings, known = counts["views"], counts["ratings"], counts["known"]
        unlinked, deleted = counts["unlinked"], counts["deleted"]
        if not (views or ratings or known or unlinked or deleted):
            raise not_found(f"unknown user {user_id!r}", "unknown_user")
        self.service.on_final()
        return {"user_id": user_id, "views_deleted": views, "ratings_deleted": ratings,
                "decisions_unlinked": unlinked, "decisions_deleted": deleted, "model_retrained": deleted > 0}

    def _epoch(self, reason: str, *, relearn_log: bool, vw_args: str | None = None) -> dict:
        started = self.store.start_epoch(reason, self.service.clock(), relearn_log=relearn_log, vw_args=vw_args)
        self.service.on_final()  # wake the learner
        return {**started, "vw_args": started["vw_args"] or self.service.settings.vw_args, "reason": reason}

    def reset_model(self) -> dict:
        """Start a fresh model that learns only events finalized from now on."""
        return self._epoch("reset", relearn_log=False)

    def retrain_model(self, vw_args: str | None = None) -> dict:
        """Rebuild the model from every event still in the log, with new VW arguments if given."""
        if vw_args is not None:
            if not isinstance(vw_args, str) or "--cb_explore_adf" not in vw_args.split():
                raise bad_request("vw_args must include --cb_explore_adf")
            if "-i" in vw_args.split() or "--initial_regressor" in vw_args or "-f" in vw_args.split():
                raise bad_request("vw_args may not name files")
            try:
                Model(vw_args).close()
            except Exception as exc:  # VW's own complaint about the arguments
                raise bad_request(f"VW refused the arguments: {exc}"[:300]) from None
        return self._epoch("retrain", relearn_log=True, vw_args=vw_args)

    def purge(self, older_than_days: float) -> dict:
        """Delete final decisions (with their outcomes), views and ratings older than the cutoff.
        The model keeps what it learned from them; a later retrain would not see them."""
        if not older_than_days > 0:
            raise ValueError("older_than_days must be positive")
        cutoff = self.service.clock() - older_than_days * 86400
        deleted = self.store.purge(cutoff)
        return {"cutoff": datetime.fromtimestamp(cutoff).astimezone().isoformat(timespec="seconds"),
                "decisions_deleted": deleted["decisions"], "views_deleted": deleted["views"],
                "ratings_deleted": deleted["ratings"]}

    def import_titles(self, titles: list[dict], images_dir, skip_invalid: bool = False) -> dict:
        """Import titles whose artwork images come base64-encoded in the request: the same checks
        as ``artwork import`` (real image, size and pixel limits, re-encoded), each title whole or
        not at all; by default nothing is imported if any title has a problem."""
        import base64
        import binascii
        import tempfile
        from pathlib import Path

        from . import importer, vocab
        from .catalog import install_titles

        with tempfile.TemporaryDirectory(prefix="artwork-upload-") as tmp:
            manifest = []
            for t_index, title in enumerate(titles):
                artwork = []
                for a_index, art in enumerate(title["artwork"]):
                    try:
                        data = base64.b64decode(art["image_base64"], validate=True)
                    except (binascii.Error, ValueError):
                        data = b""  # the importer refuses it as "not an image", naming the artwork
                    name = f"{t_index}-{a_index}.img"
                    (Path(tmp) / name).write_bytes(data)
                    artwork.append({"id": art["id"], "tags": art["tags"], "file": name})
                manifest.append({**{k: v for k, v in title.items() if k != "artwork"}, "artwork": artwork})
            known = tuple(sorted(self.service.catalog.vocabulary() | set(vocab.GENRES)))
            prepared, problems = importer.prepare_import(manifest, tmp, known_genres=known)
        if problems and not skip_invalid:
            raise ServiceError(400, "invalid_catalog",
                               f"{len(problems)} problem(s), nothing imported: " + "; ".join(problems)[:800])
        try:
            install_titles(self.store, Path(images_dir), [(p.title, p.images) for p in prepared])
        except ValueError as exc:  # an artwork id that belongs to another title
            raise ServiceError(409, "conflict", f"{exc}; nothing imported"[:300]) from None
        self.service.catalog.invalidate()
        return {"imported": [p.title["id"] for p in prepared], "problems": problems}
