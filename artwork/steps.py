"""What every step of the loop (``decisions.py``, ``outcomes.py``, ``profiles.py``,
``readouts.py``) is built on: the service's shared parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .service import Service


class Step:
    """One step of the loop over the service's settings, store, catalog and clock. The
    service's ``model`` and ``on_final`` change while it runs (a snapshot, the learner): a step
    reads them through ``self.service``, never keeps its own."""

    def __init__(self, service: Service):
        self.service = service
        self.settings = service.settings
        self.store = service.store
        self.catalog = service.catalog
        self.clock = service.clock
