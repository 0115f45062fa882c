"""Outcomes: the reward state machine, stated once.

An event is ``pending`` from its decision (or ``awaiting_activation`` if the page was deferred)
until its reward is final. Which outcome rewards (``Outcomes.qualifies``: a click or any play,
or a quality play), which is held (anything before activation), which is late (after the
window closed), what a dismissal does (closes the window at once with the default reward) and
what an activation does (opens the window, then applies what was held) are all decided in
``Outcomes.record_outcome``, inside one ``Storage.reward_join`` transaction; finalizing applies
the store's one rule. Windows that run out are closed by the learner (``Storage.close_due_windows``).
"""

from __future__ import annotations

from .checks import OUTCOME_KINDS, check_number, is_event_id
from .errors import ServiceError, bad_request, not_found
from .steps import Step


class Outcomes(Step):
    """Clicks, plays, activations and dismissals joined to their decisions' rewards."""

    def qualifies(self, kind: str, seconds: float | None) -> bool:
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
                    if any(self.qualifies(h["kind"], h["seconds"]) for h in held):
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
                if self.qualifies(kind, seconds):
                    join.finalize(1.0, "outcome", now)
                    effect = "rewarded"
                else:
                    effect = "recorded"
            else:
                effect = "late" if reason == "window" else "duplicate"
            join.add_outcome(kind, seconds, now, effect)
            final = dict(join.event)  # the state and reward the transaction commits
        if final["state"] == "final":
            self.service.on_final()
        return {"event_id": event_id, "kind": kind, "effect": effect,
                "final": final["state"] == "final", "reward": final["reward"]}
