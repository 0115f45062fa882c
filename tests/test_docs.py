"""The README documents what the code offers."""

import re
from dataclasses import fields
from pathlib import Path

from artwork.api import bp
from artwork.config import NAMES, Settings
from artwork.simulations.demo_routes import bp as demo_bp

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented():
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README, re.M))
    assert documented == set(NAMES) == {f.name.upper() for f in fields(Settings)}


def test_every_api_route_is_documented(app):
    # The service's routes and the demo's simulated-visitor routes (a blueprint of their own).
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith((bp.name + ".", demo_bp.name + "."))}
    assert "/api/v1/simulate" in routes
    for route in routes - {"/"}:
        shown = re.sub(r"<(\w+)>", lambda m: {"size": "poster"}.get(m.group(1), f"<{m.group(1)}>"), route)
        if route.startswith("/images/"):
            shown = "/images/<artwork_id>/poster.jpg"
        assert shown.replace("<title_id>", "<id>").replace("<user_id>", "<id>") in README, route


def test_readme_has_exactly_the_two_setup_commands():
    setup = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in setup.splitlines() if line.startswith("    ")]
    assert commands == ["python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/artwork serve",
                        "./scripts/test"]
    assert "./scripts/test" in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
