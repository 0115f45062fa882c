#!/usr/bin/env python3
"""Save a full-page PNG of the browser demo, in headless Chromium.

Run it from the repository's root with the project's virtualenv (it needs Playwright's Python
package, and Debian's Chromium at /usr/bin/chromium; never `playwright install`):

    .venv/bin/python -m scripts.screenshot --out demo.png
    .venv/bin/python -m scripts.screenshot --out phone.png --width 390 --height 844
    .venv/bin/python -m scripts.screenshot --simulate --persona demo-romance-fan --details --out details.png
    .venv/bin/python -m scripts.screenshot --url http://127.0.0.1:8000 --out live.png

Without --url it starts `artwork serve` on a fresh temporary data directory (the first start
renders the demo catalog, a few seconds) and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def shoot(args, base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": args.height},
                                    device_scale_factor=args.scale)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/" + (f"?seed={args.seed}" if args.seed is not None else ""))
            ready = "#rows[aria-busy='false'] .tile"
            page.wait_for_selector(ready, timeout=60_000)
            if args.simulate:
                page.click("#simulate-button")
                page.wait_for_selector("#simulate-card[data-status='done'], #simulate-card[data-status='failed']",
                                       timeout=args.timeout * 1000)
                page.wait_for_selector("#rows[aria-busy='false'] .tile", timeout=30_000)
            if args.persona:
                page.click(f".persona[data-persona='{args.persona}']")
                page.wait_for_selector(f"#rows[data-persona='{args.persona}'][aria-busy='false'] .tile",
                                       timeout=60_000)
            if args.new_person:
                page.click("#new-person")
                page.wait_for_selector("#onboarding:not([hidden]) .watch-card button", timeout=30_000)
                for i in range(args.new_person):
                    page.locator(".watch-card button[aria-pressed='false']").nth(i * 3).click()
                    page.wait_for_function("() => document.querySelectorAll("
                                           f"\".watch-card button[aria-pressed='true']\").length > {i}",
                                           timeout=10_000)
            if args.time:
                page.click(f"label[for='time-{args.time}']")
                page.wait_for_timeout(300)
                page.wait_for_selector("#rows[aria-busy='false'] .tile", timeout=30_000)
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete)", timeout=30_000)
            page.wait_for_timeout(2300)  # a stats poll, fonts, transitions
            if args.details:
                page.locator(".row .tile").nth(args.details_index).click()
                page.wait_for_selector("#details[open] .why[aria-busy='false']", timeout=15_000)
                page.wait_for_function("() => [...document.querySelectorAll('#details img')].every(i => i.complete)",
                                       timeout=15_000)
                page.wait_for_timeout(400)
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            if args.details:
                # A modal dialog is fixed to the viewport: shoot the viewport, and the panel whole.
                page.screenshot(path=str(out))
                # ...then grow the viewport until the panel needs no scrolling, and shoot it alone.
                needed = page.eval_on_selector("#details", "d => d.scrollHeight") + 60
                page.set_viewport_size({"width": args.width, "height": max(args.height, needed)})
                page.wait_for_timeout(300)
                panel = out.with_name(out.stem + "-panel" + out.suffix)
                page.locator("#details").screenshot(path=str(panel))
                print(f"saved {out} and {panel}")
            else:
                page.screenshot(path=str(out), full_page=not args.viewport_only)
                print(f"saved {out}")
            for error in errors:
                print(f"console error: {error}", file=sys.stderr)
        finally:
            browser.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="screenshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo.png", help="PNG file to write (default demo.png)")
    parser.add_argument("--url", help="a running service (default: start one on a temporary data directory)")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--scale", type=float, default=1, help="device scale factor (default 1)")
    parser.add_argument("--simulate", action="store_true", help="press 'Simulate visitors' and wait for it first")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated traffic (default 7)")
    parser.add_argument("--persona", help="switch to this person id first, e.g. demo-romance-fan")
    parser.add_argument("--new-person", type=int, default=0, metavar="N",
                        help="press 'New person' and mark N titles as watched")
    parser.add_argument("--time", choices=["now", "morning", "evening", "late-night"], help="time of day to pick for")
    parser.add_argument("--details", action="store_true", help="open the details panel of a tile")
    parser.add_argument("--details-index", type=int, default=0, help="which tile's details (default the first)")
    parser.add_argument("--viewport-only", action="store_true", help="only the viewport, not the full page")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for a simulation")
    args = parser.parse_args(argv)

    try:
        import playwright.sync_api  # noqa: F401

        import artwork.harness  # noqa: F401
    except ImportError:
        repo = Path(__file__).resolve().parents[1]
        venv = repo / ".venv"
        venv_python = venv / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
            path = os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH")) if p)
            os.execve(str(venv_python), [str(venv_python), "-m", "scripts.screenshot",
                                         *(argv if argv is not None else sys.argv[1:])],
                      {**os.environ, "PYTHONPATH": path})
        print("Playwright or the artwork package is missing: run this with the project's virtualenv "
              "(.venv/bin/python -m scripts.screenshot) after `.venv/bin/pip install -e '.[test]'`",
              file=sys.stderr)
        return 2
    from artwork.harness import ServerProcess, ServerStartError, wait_healthy

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    if args.url:
        base = args.url.rstrip("/")
        try:
            wait_healthy(base, 10)
        except ServerStartError as exc:
            raise SystemExit(str(exc)) from None
        shoot(args, base)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="artwork-screenshot-"))
    try:
        # `artwork serve` in its own process group, stopped afterwards (SIGTERM, then SIGKILL).
        with ServerProcess(tmp / "data", log_path=tmp / "serve.log", timeout=120, grace=20) as service:
            shoot(args, service.base_url)
    except ServerStartError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
