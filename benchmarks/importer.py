"""Catalog import speed: ``artwork import`` with one worker process beside two, in one run.

A seeded synthetic catalog (by default 500 titles, 2,000 images drawn with Pillow at the sizes
people upload: 1920x1080 and 1280x720 JPEG, 1280x720 PNG, 1000x1500 portrait JPEG) is imported
into a fresh data directory by the real command (a subprocess, start-up included), alternating
``--jobs 1`` and ``--jobs 2`` so that both see the same load on a shared machine. Prints images/s
for every run, the median of each, and the ratio of the two-process time to the one-process time.

Run: .venv/bin/python benchmarks/importer.py [--titles 500] [--images-per-title 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

# (size, format): what a catalog's key art tends to arrive as.
SHAPES = [((1920, 1080), "JPEG"), ((1280, 720), "JPEG"), ((1280, 720), "PNG"), ((1000, 1500), "JPEG")]
TAGS = {"theme": "drama", "tone": "warm", "subject": "scene"}


def draw_image(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Key-art-like pixels: a gradient, soft shapes and film grain (so JPEG has real work)."""
    w, h = size
    top, bottom = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), img.convert("L"))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 14)):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(h // 20, h // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1, 4)))
    grain = Image.effect_noise(size, rng.uniform(8, 20)).convert("RGB")
    return Image.blend(img, grain, 0.12)


def write_catalog(folder: Path, titles: int, per_title: int, seed: int) -> tuple[Path, Path, int]:
    """The manifest, the images folder and the image count; files already there are kept."""
    rng = random.Random(seed)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries = []
    for t in range(titles):
        artwork = []
        for a in range(per_title):
            size, fmt = rng.choice(SHAPES)
            name = f"t{t:05d}-{a}.{'png' if fmt == 'PNG' else 'jpg'}"
            image_seed = rng.randrange(2**32)
            if not (images / name).exists():
                draw_image(random.Random(image_seed), size).save(images / name, fmt, quality=92)
            artwork.append({"id": f"t{t:05d}-a{a}", "file": name, "tags": TAGS})
        entries.append({"id": f"t{t:05d}", "name": f"Title {t}", "genres": ["drama"], "artwork": artwork})
    manifest = folder / "catalog.json"
    manifest.write_text(json.dumps({"titles": entries}))
    return manifest, images, titles * per_title


def import_once(manifest: Path, images: Path, jobs: int, data_dir: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (every process's) of one ``artwork import`` into ``data_dir``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "artwork", "import", "--data-dir", str(data_dir), "--jobs", str(jobs),
                    "--no-progress", str(manifest), str(images)], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=500)
    parser.add_argument("--images-per-title", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="Pairs of runs (one process, then two).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None,
                        help="Folder for the catalog (kept and reused if given; default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        work = args.work or Path(tmp)
        manifest, images, n_images = write_catalog(work / "catalog", args.titles, args.images_per_title, args.seed)
        runs: dict[int, list[float]] = {1: [], 2: []}
        print(f"{args.titles} titles, {n_images} images\n")
        print("| round | --jobs | seconds | images/s | CPU seconds | load average before |\n"
              "| --- | --- | --- | --- | --- | --- |")
        for round_ in range(1, args.rounds + 1):
            for jobs in (1, 2):
                load = os.getloadavg()[0]  # others' work on a shared machine: read the ratio with it
                with tempfile.TemporaryDirectory(prefix="import-bench-data-", dir=work) as data:
                    wall, cpu = import_once(manifest, images, jobs, Path(data))
                runs[jobs].append(wall)
                print(f"| {round_} | {jobs} | {wall:.1f} | {n_images / wall:.1f} | {cpu:.1f} | {load:.1f} |",
                      flush=True)
        one, two = statistics.median(runs[1]), statistics.median(runs[2])
        pairs = ", ".join(f"{b / a:.2f}" for a, b in zip(runs[1], runs[2], strict=True))
        print(f"\nmedian images/s: one process {n_images / one:.1f}, two {n_images / two:.1f}; "
              f"two-process time / one-process time: {two / one:.2f} (per round: {pairs})")


if __name__ == "__main__":
    main()
