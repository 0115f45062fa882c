import io
import math
import random
import struct
import zlib
from collections import Counter

import pytest
from PIL import Image, ImageChops, ImageStat

from artwork import vocab
from artwork.demo_catalog import DEMO_CAST, demo_titles
from artwork.images import (
    SIZES,
    ImageRejected,
    content_name,
    encode_sizes,
    load_image_file,
    render_artwork,
)

# --------------------------------------------------------------------------- demo catalog


def test_demo_catalog_shape():
    titles = demo_titles()
    assert len(titles) >= 30
    ids = [t["id"] for t in titles]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    genre_counts = Counter(g for t in titles for g in t["genres"])
    assert set(genre_counts) == set(vocab.GENRES)
    assert min(genre_counts.values()) >= 4
    artwork_ids = []
    for t in titles:
        assert set(t) == {"id", "name", "genres", "year", "synopsis", "artwork"}
        assert t["name"] and isinstance(t["year"], int) and t["synopsis"].endswith(".")
        assert 1 <= len(t["genres"]) <= 3 and len(set(t["genres"])) == len(t["genres"])
        assert 4 <= len(t["artwork"]) <= 8
        for n, art in enumerate(t["artwork"], start=1):
            assert art["id"] == f"{t['id']}-a{n}"
            tags = art["tags"]
            assert set(tags) == {"theme", "tone", "subject", "cast"}
            assert tags["theme"] in vocab.GENRES
            assert tags["tone"] in vocab.TONES
            assert tags["subject"] in vocab.SUBJECTS
            assert len(tags["cast"]) <= 2 and set(tags["cast"]) <= set(DEMO_CAST)
            artwork_ids.append(art["id"])
        combos = [(a["tags"]["theme"], a["tags"]["tone"], a["tags"]["subject"]) for a in t["artwork"]]
        assert len(set(combos)) == len(combos), t["id"]
        assert len({c[0] for c in combos}) >= 2 and len({c[1] for c in combos}) >= 2, t["id"]
    assert len(set(artwork_ids)) == len(artwork_ids)
    assert len({len(t["artwork"]) for t in titles}) >= 3  # the variant count varies


def test_demo_catalog_sells_titles_several_ways():
    variants = [(t, a) for t in demo_titles() for a in t["artwork"]]
    off_genre = sum(a["tags"]["theme"] not in t["genres"] for t, a in variants)
    assert 0.15 <= off_genre / len(variants) <= 0.5
    for field, values in (("tone", vocab.TONES), ("subject", vocab.SUBJECTS)):
        assert {a["tags"][field] for _, a in variants} == set(values)


def test_demo_titles_are_fresh_copies():
    first = demo_titles()
    first[0]["artwork"][0]["tags"]["cast"].append("Someone Else")
    first[0]["name"] = "changed"
    again = demo_titles()
    assert again[0]["name"] != "changed"
    assert "Someone Else" not in again[0]["artwork"][0]["tags"]["cast"]


# --------------------------------------------------------------------------- rendering


def _title(name="Signal Lost"):
    return {"id": "x1", "name": name, "genres": ["scifi"], "year": 2020, "synopsis": "."}


def _art(theme="scifi", tone="dark", subject="scene", cast=(), art_id="x1-a1"):
    return {"id": art_id, "tags": {"theme": theme, "tone": tone, "subject": subject, "cast": list(cast)}}


def _diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute per-channel difference, 0-255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_render_is_deterministic_and_poster_sized():
    title = demo_titles()[0]
    art = title["artwork"][0]
    first, second = render_artwork(title, art), render_artwork(title, art)
    assert first.size == SIZES["poster"] and first.mode == "RGB"
    assert first.tobytes() == second.tobytes()
    assert encode_sizes(first) == encode_sizes(second)


def test_render_does_not_touch_global_random():
    random.seed(1)
    expected = random.random()
    random.seed(1)
    render_artwork(_title(), _art())
    assert random.random() == expected


def test_variants_of_a_title_all_differ():
    for title in demo_titles()[:6]:
        images = [render_artwork(title, a).resize((96, 54)) for a in title["artwork"]]
        for i, a in enumerate(images):
            for b in images[i + 1:]:
                assert _diff(a, b) > 6, title["id"]


def test_dark_and_bright_variants_differ_in_colour():
    checked = 0
    for title in demo_titles():
        by_tone = {a["tags"]["tone"]: a for a in title["artwork"]}
        if {"dark", "bright"} <= set(by_tone):
            dark = ImageStat.Stat(render_artwork(title, by_tone["dark"])).mean
            bright = ImageStat.Stat(render_artwork(title, by_tone["bright"])).mean
            assert math.dist(dark, bright) > 80 and sum(bright) > sum(dark), title["id"]
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("tone, check", [
    ("dark", lambda mean, sat: sum(mean) / 3 < 60),
    ("bright", lambda mean, sat: sum(mean) / 3 > 120),
    ("warm", lambda mean, sat: mean[0] > mean[2] + 60),
    ("cool", lambda mean, sat: mean[2] > mean[0] + 50),
    ("muted", lambda mean, sat: sat < 50),
])
def test_tone_sets_the_palette(tone, check):
    for theme, subject in zip(("drama", "horror", "comedy", "family", "scifi"), vocab.SUBJECTS, strict=True):
        img = render_artwork(_title(), _art(theme=theme, tone=tone, subject=subject))
        mean = ImageStat.Stat(img).mean
        saturation = ImageStat.Stat(img.convert("HSV")).mean[1]
        assert check(mean, saturation), (subject, mean, saturation)


def test_each_tag_changes_the_picture():
    base = render_artwork(_title(), _art())
    for changed in (_art(theme="romance"), _art(tone="warm"), _art(subject="close-up"),
                    _art(subject="title-logo"), _art(subject="landscape")):
        assert _diff(base, render_artwork(_title(), changed)) > 5, changed["tags"]
    logo = render_artwork(_title(), _art(subject="title-logo"))
    landscape = render_artwork(_title(), _art(subject="landscape"))
    assert _diff(logo, landscape) > 10


def test_title_name_is_drawn_on_every_subject():
    for subject in vocab.SUBJECTS:
        art = _art(subject=subject, cast=["Ana Lee"])
        a = render_artwork(_title("Alpha"), art)
        b = render_artwork(_title("Quiet Lighthouse"), art)
        assert _diff(a, b) > 1, subject


def test_render_accepts_imported_genres():
    img = render_artwork(_title(), _art(theme="western", tone="warm"))
    assert img.size == SIZES["poster"]


# --------------------------------------------------------------------------- encoding


def test_encode_sizes_gives_exact_sizes_without_metadata():
    square = Image.new("RGB", (500, 500), (200, 40, 40))
    encoded = encode_sizes(square)
    assert set(encoded) == set(SIZES)
    for name, data in encoded.items():
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG" and im.size == SIZES[name]
            assert "exif" not in im.info and "icc_profile" not in im.info


def test_content_name_is_content_addressed():
    name = content_name(b"abc")
    assert name == content_name(b"abc") != content_name(b"abd")
    assert name.endswith(".jpg") and len(name) == 24
    int(name[:20], 16)


# --------------------------------------------------------------------------- loading user images


def _noise(size=(200, 120), mode="RGB", seed=0) -> Image.Image:
    rng = random.Random(seed)
    bands = len(mode)
    return Image.frombytes(mode, size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * bands)))


def _png_claiming(path, width, height):
    """A tiny valid-looking PNG whose header claims width x height."""
    buf = io.BytesIO()
    Image.new("L", (64, 64)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def _rejected(path, **kwargs) -> str:
    with pytest.raises(ImageRejected) as info:
        load_image_file(path, **kwargs)
    assert str(path) in str(info.value)
    return str(info.value)


def test_refuses_text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    assert "is not an image file" in _rejected(path)


def test_refuses_missing_file(tmp_path):
    assert "cannot be read" in _rejected(tmp_path / "nope.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_refuses_truncated_image(tmp_path, fmt):
    buf = io.BytesIO()
    _noise().save(buf, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert "truncated or corrupt" in _rejected(path)


@pytest.mark.parametrize("width, height", [
    (20000, 20000),  # beyond Pillow's own bomb limit: DecompressionBombError at open
    (10000, 10000),  # between Pillow's warning and error limits: DecompressionBombWarning
    (8000, 6000),  # under Pillow's limits but over ours
])
def test_refuses_huge_dimensions_before_decoding(tmp_path, width, height):
    path = _png_claiming(tmp_path / "bomb.png", width, height)
    assert path.stat().st_size < 1000
    assert "is too large" in _rejected(path)


def test_refuses_large_file_and_small_image(tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (40, 300)).save(path)
    assert "is too small" in _rejected(path)
    assert "is too large" in _rejected(path, max_bytes=100)


def test_refuses_unsupported_format(tmp_path):
    path = tmp_path / "art.bmp"
    Image.new("RGB", (100, 100)).save(path)
    assert "unsupported format BMP" in _rejected(path)


def test_rgba_png_is_composited_on_black(tmp_path):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    img.paste((255, 255, 255, 255), (50, 0, 100, 100))
    path = tmp_path / "alpha.png"
    img.save(path)
    loaded = load_image_file(path)
    assert loaded.mode == "RGB" and loaded.size == (100, 100)
    assert loaded.getpixel((10, 10)) == (0, 0, 0)
    assert loaded.getpixel((90, 10)) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (100, 100), (0, 255, 255, 0)).save(path)
    loaded = load_image_file(path)
    assert loaded.mode == "RGB"
    r, g, b = loaded.getpixel((50, 50))
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (200, 100), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif.tobytes())
    assert load_image_file(path).size == (100, 200)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("P", (80, 80), i) for i in (1, 2)]
    palette = [0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    for frame in frames:
        frame.putpalette(palette)
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert load_image_file(path).getpixel((5, 5)) == (255, 0, 0)


def test_webp_and_sixteen_bit_grey_are_accepted(tmp_path):
    webp = tmp_path / "art.webp"
    _noise().save(webp, "WEBP")
    assert load_image_file(webp).size == (200, 120)
    grey = tmp_path / "grey16.png"
    Image.new("I;16", (80, 80), 32768).save(grey)
    r, g, b = load_image_file(grey).getpixel((1, 1))
    assert 120 <= r <= 135 and r == g == b
