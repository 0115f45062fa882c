import shutil

import pytest
from click.testing import CliRunner

from artwork.app import create_app
from artwork.cli import initialize


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
def data_dir(template_dir, tmp_path):
    path = tmp_path / "data"
    shutil.copytree(template_dir, path)
    return path


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_app(data_dir, clock):
    """Build apps on this test's data directory (several, to test restarts)."""
    apps = []

    def make(**overrides):
        config = {"DATA_DIR": str(data_dir), "LEARNER": "manual", "SEED": 1, **overrides}
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
