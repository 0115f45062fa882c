"""The service's core: decisions, outcomes, profiles and read-outs, over plain values.

Nothing here touches a request or a response: the HTTP views (``api.py``), the CLI and the
simulator all call these methods, so a simulation runs exactly the decision and logging code
that production runs. Client mistakes raise ``ServiceError`` with the status to answer.

``Service`` is a thin facade over one module per step of the loop: ``decisions.py`` (context
and decisions), ``outcomes.py`` (the reward state machine), ``profiles.py`` (views, ratings,
onboarding, profile) and ``readouts.py`` (catalog, event detail and explanation, stats).
"""

from __future__ import annotations

import time

from .admin import Admin
from .candidates import CandidateArmModels
from .catalog import Catalog, image_urls
from .checks import CONTEXT_KEYS, ID_PATTERN, MAX_TS, MIN_TS, OUTCOME_KINDS, check_id, check_number, is_event_id
from .config import Settings
from .decisions import Decisions, new_event_id
from .experiments import Experiments
from .outcomes import Outcomes
from .policy import Model
from .profiles import Profiles
from .readouts import Readouts
from .storage import Storage

__all__ = ["CONTEXT_KEYS", "ID_PATTERN", "MAX_TS", "MIN_TS", "OUTCOME_KINDS", "Admin", "Catalog", "Service",
           "check_id", "check_number", "image_urls", "is_event_id", "new_event_id"]


class Service:
    """Decisions, reward join and read-outs over one ``Storage`` and one ``Model``.

    ``model`` is replaced when the learner (or a snapshot) brings a newer one (``candidates``
    holds the models of an experiment's candidate arms), and ``on_final``
    by the learner, to wake up at once when an event's reward is final; the steps read both here.
    """

    def __init__(self, settings: Settings, store: Storage, model: Model, clock=time.time):
        self.settings = settings
        self.store = store
        self.model = model
        self.clock = clock
        self.catalog = Catalog(store, settings.catalog_cache_seconds)
        self.on_final = lambda: None  # the learner replaces this to wake up at once
        #: The running experiment's candidate arms' models (candidates.py).
        self.candidates = CandidateArmModels(settings, store)
        self.experiments = Experiments(settings, store, clock, self.candidates)
        self.decisions = Decisions(self)
        self.outcomes = Outcomes(self)
        self.profiles = Profiles(self)
        self.readouts = Readouts(self)

    # Decisions (decisions.py) -----------------------------------------------------------------

    def select_artwork(self, user_id, title_ids, context=None, defer_activation: bool = False) -> dict:
        """See ``Decisions.select_artwork``."""
        return self.decisions.select_artwork(user_id, title_ids, context, defer_activation)

    # Outcomes (outcomes.py) -------------------------------------------------------------------

    def record_outcome(self, event_id, kind: str, seconds=None) -> dict:
        """See ``Outcomes.record_outcome``."""
        return self.outcomes.record_outcome(event_id, kind, seconds)

    # Profiles (profiles.py) -------------------------------------------------------------------

    def record_view(self, user_id, title_id, seconds, at=None) -> dict:
        return self.profiles.record_view(user_id, title_id, seconds, at)

    def record_rating(self, user_id, title_id, thumbs) -> dict:
        return self.profiles.record_rating(user_id, title_id, thumbs)

    def set_onboarding_genres(self, user_id, genres) -> dict:
        return self.profiles.set_onboarding_genres(user_id, genres)

    def profile(self, user_id) -> dict:
        return self.profiles.profile(user_id)

    # Read-outs (readouts.py) ------------------------------------------------------------------

    def event(self, event_id) -> dict:
        return self.readouts.event(event_id)

    def titles(self) -> list[dict]:
        return self.readouts.titles()

    def title(self, title_id) -> dict:
        return self.readouts.title(title_id)

    def learner_lag(self) -> dict:
        return self.readouts.learner_lag()

    def stats(self) -> dict:
        return self.readouts.stats()

    def timeline(self, minutes: int = 30) -> list[dict]:
        return self.readouts.timeline(minutes)
