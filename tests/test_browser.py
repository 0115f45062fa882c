"""The browser demo, end to end: the real server process and a real headless Chromium.

Needs Playwright's Python package and Debian's Chromium at /usr/bin/chromium (CI installs it;
`playwright install` is never used). Without Chromium these tests fail, on purpose.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from servers import get_json, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
READY = "#rows[aria-busy='false'] .tile"
SIMULATED_VISITORS = 1500


@pytest.fixture(scope="module")
def server(template_dir, tmp_path_factory):
    """`artwork serve` on a copy of the rendered demo catalog; its base URL."""
    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(template_dir, root / "data")
    # ARTWORK_SEED: reproducible sampling of artwork.
    with running_server(root / "data", root / "serve.log", env={"ARTWORK_SEED": "11"}, timeout=60) as (_, base):
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                    "(apt-get install -y chromium); `playwright install` is not used", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Demo:
    """One browser tab on the demo, recording console errors and uncaught page errors."""

    def __init__(self, browser, base: str, viewport: dict, timezone: str | None = None):
        self.base = base
        self.context = browser.new_context(viewport=viewport, timezone_id=timezone)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def open(self, query: str = "") -> Demo:
        self.page.goto(f"{self.base}/{query}")
        self.page.wait_for_selector(READY, timeout=30_000)
        return self

    def load_seq(self) -> str | None:
        return self.page.get_attribute("#rows", "data-load-seq")

    def wait_for_new_artwork(self, since: str | None, timeout: float = 30_000) -> None:
        """Until the page has shown the artwork of a select-artwork call made after `since`."""
        self.page.wait_for_function(
            """since => { const rows = document.getElementById('rows');
                return rows.dataset.loadSeq !== since && rows.getAttribute('aria-busy') === 'false'
                    && rows.querySelector('.tile') !== null; }""", arg=since, timeout=timeout)

    def switch_to(self, persona: str) -> None:
        since = self.load_seq()
        self.page.click(f".persona[data-persona='{persona}']")
        self.wait_for_new_artwork(since)
        assert self.page.get_attribute("#rows", "data-persona") == persona

    def tile_decisions(self) -> dict[str, dict]:
        """Title id -> what its tiles show (a title in two rows shows the same decision)."""
        tiles = self.page.eval_on_selector_all("#rows .tile", """els => els.map(e => ({
            title: e.dataset.titleId, artwork: e.dataset.artworkId, event: e.dataset.eventId,
            probability: Number(e.dataset.probability), explored: e.dataset.explored === "true"}))""")
        shown: dict[str, dict] = {}
        for tile in tiles:
            assert shown.setdefault(tile["title"], tile) == tile, f"{tile['title']} shows two decisions"
        return shown

    def tile_artwork(self) -> dict[str, str]:
        return {title: tile["artwork"] for title, tile in self.tile_decisions().items()}

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def demo(browser, server):
    tabs = []

    def open_tab(viewport=LAPTOP, timezone=None) -> Demo:
        tab = Demo(browser, server, viewport, timezone)
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        tab.close()


def test_home_page_loads_with_artwork_and_no_errors(demo):
    tab = demo().open()
    page = tab.page
    tiles = page.locator("#rows .tile")
    assert tiles.count() >= 30
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rows .tile img')].every(i => i.complete)", timeout=20_000)
    loaded = page.eval_on_selector_all("#rows .tile img", "imgs => imgs.filter(i => i.naturalWidth > 0).length")
    assert loaded >= 30
    # Each tile names its picture, and the top row is personal.
    alts = page.eval_on_selector_all("#rows .tile img", "imgs => imgs.map(i => i.alt)")
    assert all(re.match(r".+ artwork: \w+, \w+ [\w-]+$", alt) for alt in alts), alts[:3]
    expect(page.locator("[data-row='recommended'] .row-title")).to_contain_text("Recommended for you")
    expect(page.locator("#hero .hero-image")).to_be_visible()
    assert len(tab.tile_artwork()) == len(get_json(f"{tab.base}/api/v1/titles")["titles"])
    assert tab.errors == []


def test_switching_persona_changes_the_profile_shown(demo):
    tab = demo(timezone="America/St_Johns").open()  # UTC-03:30: the page must send its own offset
    page = tab.page
    tab.switch_to("demo-thriller-fan")
    expect(page.locator("#profile-dominant")).to_have_text("thriller")
    expect(page.locator(".persona[data-persona='demo-thriller-fan']")).to_have_attribute("aria-pressed", "true")
    tab.switch_to("demo-romance-fan")
    expect(page.locator("#profile-dominant")).to_have_text("romance")
    expect(page.locator("#profile-bars .bar.is-dominant")).to_have_attribute("data-genre", "romance")
    # The persona is a real user of the service: its taste comes from the views the page sent.
    profile = get_json(f"{tab.base}/api/v1/users/demo-romance-fan/profile")
    assert profile["known"] and profile["views"] >= 4 and profile["dominant_genre"] == "romance"
    # The time of day goes with the request, as local time with the browser's UTC offset: late
    # night is what the service says it picked for.
    since = tab.load_seq()
    with page.expect_request(lambda r: r.url.endswith("/api/v1/select-artwork")) as sent:
        page.click("label[for='time-late-night']")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT23:30:00-03:30", sent.value.post_data_json["context"]["time"])
    tab.wait_for_new_artwork(since)
    expect(page.locator("#context-readout")).to_contain_text("late night", ignore_case=True)
    assert tab.errors == []


def test_a_click_is_recorded_and_the_details_show_the_odds(demo):
    tab = demo().open()
    page = tab.page
    before = get_json(f"{tab.base}/api/v1/stats")["clicks"]
    tile = page.locator("[data-row='recommended'] .tile").first
    title_id, artwork_id = tile.get_attribute("data-title-id"), tile.get_attribute("data-artwork-id")
    tile.click()
    dialog = page.locator("#details")
    expect(dialog).to_be_visible()
    # The live panel (refreshed after the click) and the API both count exactly one more click.
    expect(page.locator("#stat-clicks")).to_have_attribute("data-value", str(before + 1), timeout=10_000)
    assert get_json(f"{tab.base}/api/v1/stats")["clicks"] == before + 1
    name = next(t["name"] for t in get_json(f"{tab.base}/api/v1/titles")["titles"] if t["id"] == title_id)
    expect(dialog.locator("#details-title")).to_have_text(name)
    shown_text = dialog.locator(".variant .variant-prob").all_inner_texts()
    percents = [float(re.fullmatch(r"\s*([\d.]+)%\s*", text).group(1)) for text in shown_text]
    assert len(percents) >= 2
    assert abs(sum(percents) - 100) <= 0.05 * len(percents) + 0.01, percents
    shown = dialog.locator(".variant.is-shown")
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("data-artwork-id", artwork_id)
    expect(shown.locator(".badge-shown")).to_have_text("Shown")
    expect(dialog.locator(".why")).to_have_attribute("aria-busy", "false")
    expect(dialog.locator(".why-summary")).not_to_be_empty()
    # Keyboard: Escape closes the panel and focus returns to the tile.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("() => document.activeElement.dataset.titleId") == title_id
    assert tab.errors == []


def test_after_simulated_visitors_two_fans_see_different_artwork(demo):
    tab = demo().open("?seed=7")  # seeds the simulated traffic
    page = tab.page
    tab.switch_to("demo-thriller-fan")
    since = tab.load_seq()
    page.click("#simulate-button")
    card = page.locator("#simulate-card")
    expect(card).to_have_attribute("data-status", re.compile("done|failed"), timeout=90_000)
    assert card.get_attribute("data-status") == "done", page.locator("#simulate-status").inner_text()
    assert page.locator("#simulate-progress").evaluate("p => [p.value, p.max]") == [SIMULATED_VISITORS] * 2
    expect(page.locator("#simulate-status")).to_contain_text(
        f"{SIMULATED_VISITORS:,} / {SIMULATED_VISITORS:,} visitors")
    tab.wait_for_new_artwork(since)  # the page picked its artwork again, from the model that learned
    thriller = tab.tile_decisions()
    tab.switch_to("demo-romance-fan")
    romance = tab.tile_decisions()
    assert thriller.keys() == romance.keys()
    differ = [t for t in thriller if thriller[t]["artwork"] != romance[t]["artwork"]]
    assert len(differ) >= 3, f"only {differ} differ"
    # ...and not by the luck of exploration: for a few titles, each fan is shown the model's
    # clear favourite for them (not explored, most of the probability), and the two differ.
    favourites = [t for t in differ if not thriller[t]["explored"] and not romance[t]["explored"]
                  and thriller[t]["probability"] > 0.5 and romance[t]["probability"] > 0.5]
    assert len(favourites) >= 3, f"the fans' favourites differ only for {favourites}"
    assert tab.errors == []


def test_a_new_person_gets_a_profile_from_what_they_watch(demo):
    tab = demo().open()
    page = tab.page
    since = tab.load_seq()
    page.click("#new-person")
    tab.wait_for_new_artwork(since)
    guest = page.get_attribute("#rows", "data-persona")
    assert re.fullmatch(r"demo-guest-[0-9a-f]{8}", guest)
    expect(page.locator("#profile-dominant")).to_have_text("none yet")
    expect(page.locator("[data-row='recommended'] .row-title")).not_to_contain_text("Recommended for you")
    horror = [t["id"] for t in get_json(f"{tab.base}/api/v1/titles")["titles"] if "horror" in t["genres"]][:3]
    assert len(horror) == 3
    for title_id in horror:
        page.click(f".watch-card button[data-title-id='{title_id}']")
        expect(page.locator(f".watch-card button[data-title-id='{title_id}']")).to_have_attribute(
            "aria-pressed", "true")
    expect(page.locator("#profile-dominant")).to_have_text("horror")
    assert get_json(f"{tab.base}/api/v1/users/{guest}/profile")["views"] == 3
    since = tab.load_seq()
    page.click("#onboarding-done")
    tab.wait_for_new_artwork(since)
    expect(page.locator("#onboarding")).to_be_hidden()
    expect(page.locator("[data-row='recommended'] .row-title")).to_contain_text("Recommended for you")
    assert tab.errors == []


def test_phone_width_has_no_horizontal_overflow(demo):
    tab = demo(PHONE).open()
    page = tab.page
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert page.evaluate("() => document.body.scrollWidth") <= PHONE["width"]
    # Not hidden by clipping either: every block of the page fits the width (rows scroll inside).
    wide = page.evaluate("""w => [...document.querySelectorAll(
        'header, main, footer, main > *, .content > *, .row, .row-body, .row-scroller')]
        .filter(e => e.getBoundingClientRect().right > w + 0.5 || e.getBoundingClientRect().left < -0.5)
        .map(e => e.id || e.className)""", PHONE["width"])
    assert wide == []
    first = page.locator("#rows .tile").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box["width"] >= 120 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(page.locator("#profile-dominant")).to_be_visible()
    tab.page.locator("#rows .tile").nth(2).click()
    panel = page.locator("#details")
    expect(panel).to_be_visible()
    panel_box = panel.bounding_box()
    assert panel_box["x"] >= 0 and panel_box["x"] + panel_box["width"] <= PHONE["width"]
    assert tab.errors == []
