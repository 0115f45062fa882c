"""The demo's experiment panel in a real headless Chromium on the real server: the running
personalized-vs-default experiment (with a candidate VW configuration as a third arm) fills up as
simulated visitors go through it, with its intervals and the guardrail's state (the panel's
whole contract with GET /api/v1/demo/experiment)."""

from __future__ import annotations

import json
import shutil
import urllib.request

from playwright.sync_api import expect
from servers import get_json, running_server
from test_browser import LAPTOP, READY, browser  # noqa: F401 - the fixture

from artwork.cli import cli


def test_the_panel_shows_the_running_experiment_filling_up_with_simulated_visitors(
        browser, template_dir, tmp_path, runner):  # noqa: F811
    shutil.copytree(template_dir, tmp_path / "data")
    where = ["--data-dir", str(tmp_path / "data")]
    assert runner.invoke(cli, ["experiment", "create", "pvd", "--arm", "personalized=bandit", "--arm",
                               "default=default", "--arm", "eps=candidate:0.5", "--vw-args",
                               "eps=--cb_explore_adf --epsilon 0.1 -q GA", "--control", "default",
                               *where]).exit_code == 0
    assert runner.invoke(cli, ["experiment", "start", "pvd", *where]).exit_code == 0
    with running_server(tmp_path / "data", tmp_path / "serve.log", env={"ARTWORK_SEED": "5"}, timeout=60) as (_, base):
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.wait_for_selector(READY, timeout=30_000)
        card = page.locator("#experiment-card")
        expect(card).to_have_attribute("data-state", "running", timeout=10_000)
        expect(page.locator("#experiment-name")).to_have_text("pvd \u00b7 running")
        expect(card.locator(".arm")).to_have_count(3)
        body = json.dumps({"visitors": 800, "seed": 3}).encode()
        request = urllib.request.Request(base + "/api/v1/simulate", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=10).status == 202
        # The lift's confidence sequence appears once each arm has 30 people, drawn against 0 and the margin.
        expect(card.locator(".arm[data-arm='personalized'] .lift-cs")).to_have_count(1, timeout=30_000)
        expect(card.locator(".lift-margin")).to_have_count(2)  # one per arm beside control
        expect(card.locator(".guardrail")).to_contain_text("Guardrail (margin 5%)")
        # the candidate arm: its VW arguments and how far its model has learned the log
        model = card.locator(".arm[data-arm='eps'] .arm-model")
        expect(model).to_contain_text("--cb_explore_adf --epsilon 0.1 -q GA")
        expect(model).to_contain_text("learned the log up to event")
        report = get_json(base + "/api/v1/demo/experiment")["experiment"]
        people = {arm["name"]: arm["people"] for arm in report["arms"]}
        assert min(people.values()) >= 30
        assert "people" in card.locator(".arm[data-arm='default'] .arm-numbers").inner_text()
        assert errors == []
        context.close()
