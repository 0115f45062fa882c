"""Which store a process opens: PostgreSQL when ``DATABASE_URL`` is set, else the SQLite file in
the data directory. Every command, the app and the learner open their store here."""

from __future__ import annotations

from .catalog import data_paths
from .config import Settings
from .storage import Storage, Store


def open_store(settings: Settings, *, wal_autocheckpoint: int | None = None) -> Storage:
    """The store ``settings`` name. ``wal_autocheckpoint`` is SQLite's (``Store``); PostgreSQL
    has no use for it. Raises ``storage.StoreOpenError`` (a malformed URL, a server that does
    not answer) with a message to print as it is."""
    if settings.database_url is not None:
        from .postgres import PostgresStore  # imported only by those who use PostgreSQL

        return PostgresStore(settings.database_url)
    paths = data_paths(settings.data_dir)
    paths["data_dir"].mkdir(parents=True, exist_ok=True)
    return Store(paths["db"], wal_autocheckpoint=wal_autocheckpoint)


def has_database(settings: Settings) -> bool:
    """Whether the store exists already (a PostgreSQL server is always there to be asked)."""
    return settings.database_url is not None or data_paths(settings.data_dir)["db"].exists()
