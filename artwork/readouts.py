"""Read-outs: the catalog as clients see it, one logged decision with its outcomes and a
plain-language explanation, the learner's lag, and the log's totals and click rates."""

from __future__ import annotations

import json
from datetime import datetime

from .catalog import image_urls
from .checks import check_id, is_event_id
from .errors import not_found
from .features import FACTORS, dominant_genre, neutral_affinity, without_factor
from .policy import TIE, explored, top_index
from .steps import Step


class Readouts(Step):
    """What the service shows of its catalog, its decisions and its log."""

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
            return top_index(self.service.model.predict(features)[0])

        shown = candidates[chosen]
        now_top = top(feats)
        affinity = context.get("genre_affinity") or {}
        dominant = dominant_genre(affinity)
        neutral = neutral_affinity(self.catalog.vocabulary())
        variants = {factor: variant for factor in FACTORS
                    if (variant := without_factor(feats, factor, neutral)) is not None}
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
        elif explored(pmf, chosen):
            summary = (f"An exploration pick: the model gave {describe(shown)} only {pmf[chosen]:.0%} and showed it "
                       f"to learn whether it works for people like you.")
        else:
            summary = f"The model's top choice for you ({pmf[chosen]:.0%}): {describe(shown)}."
        mattered = [f for f in factors if f["changes_choice"]]
        if mattered:
            summary += " What matters now: " + ", ".join(labels[f["factor"]] for f in mattered) + "."
        if now_top != chosen and not uniform and not explored(pmf, chosen):
            summary += f" Having learned since, the model now prefers {describe(candidates[now_top])}."
        return {"summary": summary, "factors": factors, "current_top": candidates[now_top]}

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
        learned = self.service.model.seq
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
            "model_version": self.service.model.version,
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
