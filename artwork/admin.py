"""Admin operations: deleting a person, resetting or retraining the model, purging old
records, importing titles. The HTTP layer lets only holders of the admin token call them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .checks import check_id
from .errors import ServiceError, bad_request, not_found
from .policy import check_vw_args

if TYPE_CHECKING:
    from .service import Service


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
            try:
                check_vw_args(vw_args)
            except ValueError as exc:
                raise bad_request(str(exc)[:300]) from None
        return self._epoch("retrain", relearn_log=True, vw_args=vw_args)

    def purge(self, older_than_days: float) -> dict:
        """Delete final decisions (with their outcomes; the Personalizer loop's too), views and
        ratings older than the cutoff.
        The model keeps what it learned from them; a later retrain would not see them."""
        if not older_than_days > 0:
            raise ValueError("older_than_days must be positive")
        cutoff = self.service.clock() - older_than_days * 86400
        deleted = self.store.purge(cutoff)
        return {"cutoff": datetime.fromtimestamp(cutoff).astimezone().isoformat(timespec="seconds"),
                "decisions_deleted": deleted["decisions"],
                "personalizer_decisions_deleted": deleted["personalizer_decisions"], "views_deleted": deleted["views"],
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
                    artwork.append({"id": art["id"], "tags": art["tags"], "file": name,
                                    **({"default": art["default"]} if "default" in art else {})})
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
