"""Profiles: what a person tells the service about their taste (views, ratings, onboarding
picks) and what the service makes of it (the genre affinity that decisions use)."""

from __future__ import annotations

from datetime import datetime

from .checks import MAX_TS, MIN_TS, check_id, check_number
from .errors import bad_request, not_found
from .features import dominant_genre, parse_time
from .steps import Step


class Profiles(Step):
    """A person's views, ratings and onboarding genres, and their profile."""

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
                at_ts = parse_time(at).timestamp()
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
        affinity, source, _ = self.service.decisions.history_affinity(user_id, now)
        stored = self.store.profile(user_id, recent=20)
        return {
            "user_id": user_id,
            "known": stored["known"],
            "genre_affinity": affinity,
            "dominant_genre": dominant_genre(affinity),
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
