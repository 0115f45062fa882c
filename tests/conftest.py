import os
import shutil
import uuid

import pytest
from click.testing import CliRunner

from artwork.app import create_app
from artwork.cli import initialize

#: Where the PostgreSQL tests find a server: scripts/test sets it (a server of the machine's, or
#: a throwaway cluster it starts); by hand, the usual local server is tried.
TEST_DATABASE_URL = "ARTWORK_TEST_DATABASE_URL"
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: in a module that runs on both backends, SQLite's own test")


def pytest_generate_tests(metafunc):
    """A module with ``BOTH_BACKENDS = True`` runs each test that builds an app or a store on
    SQLite and on PostgreSQL (except those marked ``sqlite_only``)."""
    if ("backend" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_BACKENDS", False)
            and metafunc.definition.get_closest_marker("sqlite_only") is None):
        metafunc.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def backend(request):
    return getattr(request, "param", "sqlite")


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    from urllib.parse import urlsplit

    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


class PostgresServer:
    """The test server: creates and drops databases with unique names (never anyone else's)."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def create(self, template: str | None = None) -> str:
        name = f"artwork_test_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        return database_url(self.admin_url, name)


@pytest.fixture(scope="session")
def postgres():
    """The PostgreSQL server of the tests. Never skipped: without one, every PostgreSQL test
    fails, saying how to give one."""
    import psycopg

    admin_url = os.environ.get(TEST_DATABASE_URL)
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail(f"{TEST_DATABASE_URL} is not set: run the tests with scripts/test, which provides a server")
        admin_url = LOCAL_SERVER
    try:
        psycopg.connect(admin_url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL server for the tests at {admin_url} ({exc}); run scripts/test, or set "
                    f"{TEST_DATABASE_URL} to an admin URL")
    return PostgresServer(admin_url)


@pytest.fixture(scope="session")
def postgres_template(postgres, tmp_path_factory):
    """One migrated database with the demo catalog (rendered once), copied for each test."""
    name = postgres.create()
    settings_dir = tmp_path_factory.mktemp("pg-template") / "data"
    previous = os.environ.get("ARTWORK_DATABASE_URL")
    os.environ["ARTWORK_DATABASE_URL"] = postgres.url(name)
    try:
        initialize(settings_dir).close()
    finally:
        if previous is None:
            del os.environ["ARTWORK_DATABASE_URL"]
        else:
            os.environ["ARTWORK_DATABASE_URL"] = previous
    yield name
    postgres.drop(name)


@pytest.fixture
def fresh_database(request):
    """A new empty PostgreSQL database for this test (dropped afterwards); its URL."""
    server = request.getfixturevalue("postgres")
    name = server.create()
    yield server.url(name)
    server.drop(name)


class FakeClock:
    """A settable clock (seconds since the epoch) so reward windows can be crossed at will."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """One initialized data directory (demo catalog rendered once), copied for each test."""
    path = tmp_path_factory.mktemp("template") / "data"
    initialize(path).close()
    return path


@pytest.fixture
def test_database_url(backend, request):
    """None on SQLite; on PostgreSQL, the URL of this test's own copy of the template database."""
    if backend != "postgres":
        yield None
        return
    server = request.getfixturevalue("postgres")
    name = server.create(template=request.getfixturevalue("postgres_template"))
    yield server.url(name)
    server.drop(name)


@pytest.fixture
def data_dir(backend, tmp_path, request):
    """SQLite: a copy of the initialized template. PostgreSQL: an empty folder (the database
    holds everything; the folder is only a cache)."""
    path = tmp_path / "data"
    if backend == "sqlite":
        shutil.copytree(request.getfixturevalue("template_dir"), path)
    else:
        path.mkdir()
    return path


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_app(data_dir, test_database_url, clock):
    """Build apps on this test's data directory (several, to test restarts)."""
    apps = []

    def make(**overrides):
        config = {"DATA_DIR": str(data_dir), "DATABASE_URL": test_database_url, "LEARNER": "manual", "SEED": 1,
                  **overrides}
        app = create_app(config, clock=clock)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        if app.extensions["artwork.learner"] is not None:
            app.extensions["artwork.learner"].stop(checkpoint=False)
        if app.extensions["artwork.snapshots"] is not None:
            app.extensions["artwork.snapshots"].stop()
        app.extensions["artwork"].candidates.stop()
        for name in ("artwork.personalizer.learner", "artwork.personalizer.snapshots"):
            if app.extensions[name] is not None:
                app.extensions[name].stop(**({"checkpoint": False} if name.endswith("learner") else {}))
        app.extensions["artwork"].store.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["artwork"]


@pytest.fixture
def learner(app):
    return app.extensions["artwork.learner"]


@pytest.fixture
def runner():
    return CliRunner()


def numbered(store):
    """The store, its learn queue numbered as the learner would read it (PostgreSQL numbers final
    events when the learner reads; SQLite when they become final)."""
    number = getattr(store, "number_learn_queue", None)
    if number is not None:
        number()
    return store
