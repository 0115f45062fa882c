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
import functools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

# (size, format): what a catalog's key art tends to arrive as.
SHAPES = [((1920, 1080), "JPEG"), ((1280, 720), "JPEG"), ((1280, 720), "PNG"), ((1000, 1500), "JPEG")]
TAGS = {"theme": "drama", "tone": "warm", "subject": "scene"}


@functools.cache
def _grain(size: tuple[int, int]) -> Image.Image:
    """Film grain for one size (one field per size keeps generating 2,000 images quick)."""
    return Image.effect_noise(size, 14).convert("RGB")


def draw_image(rng: random.Random, size: tuple[int, int], grain: bool) -> Image.Image:
    """Key-art-like pixels: a gradient and soft shapes, under film grain for photos (so JPEG has
    real work); PNGs, flat illustrations, go without."""
    small = (size[0] // 4, size[1] // 4)  # drawn small and enlarged: soft edges, cheaply
    w, h = small
    top, bottom = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    img = Image.composite(Image.new("RGB", small, bottom), Image.new("RGB", small, top),
                          Image.linear_gradient("L").resize(small))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 14)):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(h // 20, h // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5))).resize(size, Image.Resampling.BICUBIC)
    return Image.blend(img, _grain(size), rng.uniform(0.06, 0.14)) if grain else img


def _write_image(path: Path, seed: int, size: tuple[int, int], fmt: str) -> None:
    if not path.exists():
        draw_image(random.Random(seed), size, grain=fmt == "JPEG").save(path, fmt, quality=92)


def write_catalog(folder: Path, titles: int, per_title: int, seed: int) -> tuple[Path, Path, int]:
    """The manifest, the images folder and the image count; images already there are kept."""
    rng = random.Random(seed)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries, jobs = [], []
    for t in range(titles):
        artwork = []
        for a in range(per_title):
            size, fmt = rng.choice(SHAPES)
            name = f"t{t:05d}-{a}.{'png' if fmt == 'PNG' else 'jpg'}"
            jobs.append((images / name, rng.randrange(2**32), size, fmt))
            artwork.append({"id": f"t{t:05d}-a{a}", "file": name, "tags": TAGS})
        entries.append({"id": f"t{t:05d}", "name": f"Title {t}", "genres": ["drama"], "artwork": artwork})
    with ProcessPoolExecutor() as pool:  # drawing is not what is measured: use every core
        list(pool.map(_write_image, *zip(*jobs, strict=True), chunksize=16))
    manifest = folder / "catalog.json"
    manifest.write_text(json.dumps({"titles": entries}))
    return manifest, images, titles * per_title


def import_once(manifest: Path, images: Path, jobs: int, data_dir: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (every process's) of one ``artwork import`` into ``data_dir``;
    run one at a time (the CPU seconds are the difference of this process's children's)."""
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
