"""Artwork images: procedural key art for the demo catalog, and safe loading of user images.

The demo art is generated rather than shipped so the repository stays small and every install
renders identical bytes. Each variant's look follows its tags (tone -> palette, theme -> motif,
subject -> layout), so variants of one title differ in the same ways real key art does and the
bandit has something real to tell apart.
"""

import functools
import hashlib
import io
import math
import random
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, ImageFilter, ImageFont, ImageOps

#: Output sizes, all 16:9 key art.
SIZES = {"poster": (960, 540), "thumb": (384, 216)}
IMAGE_FORMAT = "JPEG"
EXTENSION = ".jpg"
# Fixed encoder settings: same Pillow version + same pixels -> same bytes (content-addressed
# names and ETags stay stable across re-renders).
_JPEG_OPTIONS = {"quality": 85, "subsampling": 2, "optimize": False, "progressive": False}

W, H = SIZES["poster"]
_SS = 2  # shapes are drawn at twice the size and reduced, for anti-aliased edges

RGB = tuple[int, int, int]


# --------------------------------------------------------------------------- palettes


@dataclass(frozen=True)
class _Palette:
    top: RGB  # background gradient
    bottom: RGB
    accent: RGB  # the one light / highlight colour
    figure: RGB  # silhouettes and foreground
    ink: RGB  # title text
    stroke: RGB  # title outline and shadow
    pops: tuple[RGB, ...]  # multi-coloured confetti and bubbles
    vignette: float  # 0..1 edge darkening


# Each theme's signature colour: the single accent on dark art, a tint of the sky elsewhere.
_THEME_COLOURS = {
    "action": (255, 120, 30),
    "animation": (176, 110, 255),
    "comedy": (255, 212, 60),
    "documentary": (110, 214, 150),
    "drama": (246, 222, 170),
    "family": (255, 186, 84),
    "horror": (220, 24, 36),
    "romance": (255, 80, 140),
    "scifi": (60, 220, 255),
    "thriller": (196, 240, 64),
}
_THEME_TINT = {"dark": 0.0, "bright": 0.18, "warm": 0.3, "cool": 0.14, "muted": 0.1}


def _palette(tone: str, theme: str, rng: random.Random) -> _Palette:
    """Colours for a tone; jittered per variant so same-tone art of different titles varies."""
    if tone == "dark":
        accent = _THEME_COLOURS.get(theme, (235, 235, 235))
        base = _Palette((14, 18, 40), (3, 4, 10), accent, (2, 3, 8), (250, 250, 250), (0, 0, 0),
                        (accent, (250, 250, 250), _mix(accent, (0, 0, 0), 0.4)), 0.75)
    elif tone == "bright":
        base = _Palette((118, 196, 250), (255, 234, 140), (255, 112, 84), (34, 52, 104),
                        (255, 255, 255), (26, 40, 92),
                        ((255, 99, 132), (255, 205, 60), (54, 162, 235), (70, 200, 130),
                         (255, 255, 255)), 0.25)
    elif tone == "warm":
        base = _Palette((255, 182, 72), (176, 38, 22), (255, 238, 176), (62, 16, 8),
                        (255, 247, 230), (64, 12, 2),
                        ((255, 236, 160), (255, 124, 60), (255, 204, 80), (214, 44, 32)), 0.5)
    elif tone == "cool":
        base = _Palette((14, 50, 118), (10, 148, 160), (176, 246, 255), (4, 22, 44),
                        (255, 255, 255), (0, 18, 40),
                        ((176, 246, 255), (80, 200, 220), (140, 170, 255), (255, 255, 255)), 0.5)
    else:  # muted
        base = _Palette((214, 206, 190), (136, 132, 126), (172, 128, 106), (80, 76, 72),
                        (42, 38, 36), (242, 236, 224),
                        ((172, 128, 106), (150, 150, 140), (206, 196, 176), (112, 122, 132)),
                        0.35)
    # The theme's tint keeps same-tone variants of one title apart.
    top = _mix(base.top, _THEME_COLOURS.get(theme, base.top), _THEME_TINT[tone])
    j = functools.partial(_jitter, rng=rng)
    return _Palette(j(top), j(base.bottom), base.accent, j(base.figure, amount=6),
                    base.ink, base.stroke, base.pops, base.vignette)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def _jitter(c: RGB, rng: random.Random, amount: int = 14) -> RGB:
    return tuple(min(255, max(0, v + rng.randint(-amount, amount))) for v in c)


def _rgba(c: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (*c, alpha)


# --------------------------------------------------------------------------- drawing


class _Pen:
    """ImageDraw that takes poster coordinates and draws on a canvas of another scale.

    Colours with alpha blend onto RGB canvases; on "L" masks fills are plain intensities.
    """

    def __init__(self, canvas: Image.Image, scale: float):
        self._d = ImageDraw.Draw(canvas, "RGBA" if canvas.mode == "RGB" else None)
        self._k = scale

    def _box(self, box):
        return [v * self._k for v in box]

    def _pts(self, pts):
        return [(x * self._k, y * self._k) for x, y in pts]

    def _w(self, width):
        return max(1, round(width * self._k))

    def ellipse(self, box, fill=None, outline=None, width=1):
        self._d.ellipse(self._box(box), fill, outline, self._w(width))

    def circle(self, x, y, r, fill=None, outline=None, width=1):
        self.ellipse((x - r, y - r, x + r, y + r), fill, outline, width)

    def polygon(self, pts, fill=None, outline=None, width=1):
        self._d.polygon(self._pts(pts), fill, outline, self._w(width))

    def line(self, pts, fill, width=1):
        self._d.line(self._pts(pts), fill, self._w(width), joint="curve")

    def rect(self, box, fill=None, outline=None, width=1, radius=0):
        self._d.rounded_rectangle(self._box(box), radius * self._k, fill, outline, self._w(width))

    def arc(self, box, start, end, fill, width=1):
        self._d.arc(self._box(box), start, end, fill, self._w(width))


def _glow(img: Image.Image, colour: RGB, draw, blur: float, strength: float = 1.0) -> None:
    """Soft light: draw a mask at quarter size, blur it and paint `colour` through it."""
    mask = Image.new("L", (W // 4, H // 4))
    draw(_Pen(mask, 0.25))
    mask = mask.filter(ImageFilter.GaussianBlur(blur / 4))
    if strength != 1.0:
        mask = mask.point(lambda v: min(255, round(v * strength)))
    img.paste(colour, (0, 0), mask.resize(img.size, Image.Resampling.BILINEAR))


@functools.cache
def _vertical_gradient() -> Image.Image:
    return Image.linear_gradient("L").resize((W, H), Image.Resampling.BILINEAR)


@functools.cache
def _vignette_mask(strength: float) -> Image.Image:
    """Edge-darkening mask: zero in the middle, rising towards the corners."""
    radial = Image.radial_gradient("L").resize((W, H), Image.Resampling.BILINEAR)
    return radial.point(lambda v: round(min(255, max(0, v - 96) * 1.9 * strength)))


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


# --------------------------------------------------------------------------- layout plan


@dataclass(frozen=True)
class _Plan:
    """Where the subject puts things, so motifs and text can work around it."""

    light: tuple[float, float]  # the glow / light source
    focus: tuple[float, float]  # what motifs aim at (a face, a burst origin)
    title_box: tuple[float, float, float, float]
    align: str  # "left" or "center"
    max_size: int  # largest title font size
    credits_above: bool  # cast line above the title (else below)


def _plan(subject: str, rng: random.Random) -> _Plan:
    if subject == "close-up":
        left = rng.random() < 0.5
        cx = W * (0.27 if left else 0.73)
        box = (W * 0.5 + 10, H * 0.2, W - 40, H * 0.8) if left else (40, H * 0.2, W * 0.5 - 10, H * 0.8)
        return _Plan((cx + (-90 if left else 90), H * 0.32), (cx, H * 0.36), box, "center", 100, False)
    if subject == "ensemble":
        return _Plan((W * 0.5, H * 0.55), (W * 0.5, H * 0.55), (60, 44, W - 60, H * 0.36),
                     "center", 84, True)
    if subject == "scene":
        x = W * rng.uniform(0.55, 0.8)
        return _Plan((x, H * 0.62), (x, H * 0.62), (48, 48, W * 0.66, H * 0.38), "left", 80, True)
    if subject == "landscape":
        x = W * rng.uniform(0.25, 0.75)
        return _Plan((x, H * 0.6), (x, H * 0.5), (60, H * 0.14, W - 60, H * 0.44), "center", 92,
                     True)
    return _Plan((W * 0.5, H * 0.5), (W * 0.5, H * 0.5), (56, H * 0.18, W - 56, H * 0.82),
                 "center", 170, True)


# --------------------------------------------------------------------------- motifs
# A motif is called twice: with front=False behind the subject and front=True over it (that
# pass is skipped on title-logo art). It gets the 2x canvas (for glows), a pen on it, the
# palette, the plan and the variant's rng.


def _free_spot(rng, plan, r, xs=(0, W), ys=(0, H), tries=12):
    """A random point whose radius-r circle keeps clear of the title box, if one is found."""
    x0, y0, x1, y1 = plan.title_box
    for _ in range(tries):
        x, y = rng.uniform(*xs), rng.uniform(*ys)
        if x + r < x0 or x - r > x1 or y + r < y0 or y - r > y1:
            break
    return x, y


def _heart(pen, x, y, size, fill):
    pts = []
    for i in range(36):
        t = 2 * math.pi * i / 36
        hx = 16 * math.sin(t) ** 3
        hy = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x + hx * size / 32, y - hy * size / 32))
    pen.polygon(pts, fill)


def _romance(img, pen, pal, plan, rng, front):
    pink = _mix(_THEME_COLOURS["romance"], pal.accent, 0.3)
    if front:
        for _ in range(rng.randint(5, 8)):
            size = rng.uniform(18, 52)
            _heart(pen, *_free_spot(rng, plan, size, (30, W - 30), (30, H - 60)), size,
                   _rgba(_mix(pink, (255, 255, 255), 0.45), rng.randint(120, 210)))
        return
    lx, ly = plan.light
    _glow(img, pink, lambda p: _heart(p, lx, ly, 420, 200), blur=40)
    for _ in range(12):  # bokeh
        pen.circle(rng.uniform(0, W), rng.uniform(0, H), rng.uniform(16, 60),
                   _rgba(_mix(pink, (255, 255, 255), 0.5), rng.randint(20, 50)))


def _thriller(img, pen, pal, plan, rng, front):
    fx, fy = plan.focus
    if front:
        line = _rgba(pal.accent, 220)
        r = 74
        pen.circle(fx, fy, r, outline=line, width=3)
        pen.circle(fx, fy, r * 0.45, outline=_rgba(pal.accent, 120), width=2)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            pen.line([(fx + dx * r * 0.6, fy + dy * r * 0.6), (fx + dx * r * 1.5, fy + dy * r * 1.5)],
                     line, width=3)
        return
    ox, oy = rng.uniform(W * 0.3, W * 0.7), rng.uniform(H * 0.2, H * 0.6)
    angle = rng.uniform(0, math.tau)
    for _ in range(rng.randint(9, 13)):
        angle += rng.uniform(0.35, 0.8)
        length = rng.uniform(300, 700)
        spread = rng.uniform(0.04, 0.12)
        tip = (ox + math.cos(angle) * length, oy + math.sin(angle) * length)
        side = (ox + math.cos(angle + spread) * length * 0.7, oy + math.sin(angle + spread) * length * 0.7)
        pen.polygon([(ox, oy), side, tip], _rgba((255, 255, 255), rng.randint(10, 34)),
                    outline=_rgba(pal.accent, rng.randint(60, 140)), width=2)


def _horror(img, pen, pal, plan, rng, front):
    drip = _mix(pal.accent, (40, 0, 0), 0.25)
    if front:
        pen.rect((-10, -10, W + 10, 14), _rgba(drip, 235))
        x = rng.uniform(-10, 20)
        while x < W:
            w = rng.uniform(10, 24)
            length = rng.uniform(12, 110) if rng.random() < 0.5 else rng.uniform(8, 30)
            pen.rect((x, 0, x + w, length), _rgba(drip, 235), radius=w / 2)
            pen.circle(x + w / 2, length - w * 0.2, w * 0.62, _rgba(drip, 235))
            x += w + rng.uniform(6, 60)
        return
    ex, ey = rng.uniform(W * 0.3, W * 0.7), H * 0.3
    ew, eh = 190, 70
    eye = [(ex + ew * math.cos(t), ey + eh * math.sin(t) * abs(math.sin(t)) ** 0.3)
           for t in (math.tau * i / 48 for i in range(48))]
    pen.polygon(eye, _rgba(_mix(pal.accent, (255, 255, 255), 0.6), 60),
                outline=_rgba(pal.accent, 150), width=3)
    pen.circle(ex, ey, eh * 0.9, _rgba(pal.accent, 120))
    pen.circle(ex, ey, eh * 0.35, _rgba((0, 0, 0), 200))


def _scifi(img, pen, pal, plan, rng, front):
    if front:
        return
    for _ in range(140):
        r = rng.choice((0.8, 1, 1.2, 1.6, 2.4))
        pen.circle(rng.uniform(0, W), rng.uniform(0, H), r, _rgba((255, 255, 255), rng.randint(70, 230)))
    pr = rng.uniform(60, 90)
    px, py = _free_spot(rng, plan, pr * 1.6, (W * 0.1, W * 0.9), (H * 0.16, H * 0.5))
    ring = _rgba(_mix(pal.accent, (255, 255, 255), 0.4), 200)
    box = (px - pr * 2.1, py - pr * 0.5, px + pr * 2.1, py + pr * 0.5)
    pen.arc(box, 180, 360, ring, width=7)
    pen.circle(px, py, pr, _rgba(_mix(pal.accent, pal.figure, 0.35), 255))
    pen.ellipse((px - pr * 0.8, py - pr * 0.85, px + pr * 0.5, py + pr * 0.4),
                _rgba(_mix(pal.accent, (255, 255, 255), 0.3), 110))
    pen.arc(box, 0, 180, ring, width=7)


def _action(img, pen, pal, plan, rng, front):
    fx, fy = plan.focus
    if front:
        for _ in range(rng.randint(14, 22)):
            a = rng.uniform(0, math.tau)
            d = rng.uniform(120, 420)
            x, y = fx + math.cos(a) * d, fy + math.sin(a) * d
            pen.line([(x, y), (x + math.cos(a) * 26, y + math.sin(a) * 26)],
                     _rgba(_mix(pal.accent, (255, 255, 255), 0.5), 220), width=3)
        return
    rays = 22
    start = rng.uniform(0, math.tau)
    for i in range(rays):
        a = start + math.tau * i / rays
        half = math.tau / rays * 0.3
        far = 1400
        pen.polygon([(fx, fy), (fx + math.cos(a - half) * far, fy + math.sin(a - half) * far),
                     (fx + math.cos(a + half) * far, fy + math.sin(a + half) * far)],
                    _rgba(pal.accent if i % 2 else (255, 255, 255), 46 if i % 2 else 24))
    for _ in range(6):
        y = rng.uniform(H * 0.1, H * 0.9)
        x = rng.uniform(-100, W * 0.6)
        pen.line([(x, y), (x + rng.uniform(160, 360), y - 40)], _rgba((255, 255, 255), 60), width=4)


def _comedy(img, pen, pal, plan, rng, front):
    if front:
        for _ in range(rng.randint(40, 60)):
            x, y = rng.uniform(0, W), rng.uniform(0, H)
            a = rng.uniform(0, math.pi)
            w, h = rng.uniform(6, 12), rng.uniform(12, 22)
            c, s = math.cos(a), math.sin(a)
            pts = [(x + dx * c - dy * s, y + dx * s + dy * c)
                   for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]
            pen.polygon(pts, _rgba(rng.choice(pal.pops), 230))
        return
    for _ in range(rng.randint(6, 9)):
        r = rng.uniform(26, 80)
        x, y = _free_spot(rng, plan, r, (r, W - r), (r, H - r))
        pen.circle(x, y, r, _rgba(rng.choice(pal.pops), 90))
        pen.circle(x - r * 0.35, y - r * 0.35, r * 0.25, _rgba((255, 255, 255), 90))


def _drama(img, pen, pal, plan, rng, front):
    if front:
        return
    x = plan.focus[0]  # the beam falls on the subject from the side the light is on
    top = x + (plan.light[0] - x) * 3
    light = _mix(pal.accent, (255, 255, 255), 0.75)

    def cone(p):
        p.polygon([(top - 30, -20), (top + 30, -20), (x + 240, H + 20), (x - 240, H + 20)], 130)
        p.polygon([(top - 12, -20), (top + 12, -20), (x + 120, H + 20), (x - 120, H + 20)], 210)
        p.ellipse((x - 250, H * 0.86, x + 250, H * 1.04), 200)

    _glow(img, light, cone, blur=14)
    for _ in range(30):  # dust caught in the beam
        t = rng.uniform(0.05, 0.9)
        pen.circle(top + (x - top) * t + rng.uniform(-150, 150) * t, H * t, rng.uniform(1, 2.5),
                   _rgba((255, 255, 255), rng.randint(60, 160)))


def _animation(img, pen, pal, plan, rng, front):
    if front:
        return
    line = _mix(pal.figure, (0, 0, 0), 0.3)
    for _ in range(rng.randint(2, 3)):  # clouds
        s = rng.uniform(0.7, 1.2)
        cx, cy = _free_spot(rng, plan, 100 * s, (80, W - 80), (50, H * 0.45))
        parts = [(-50, 10, 40), (0, -12, 52), (52, 8, 38)]
        for dx, dy, r in parts:
            pen.circle(cx + dx * s, cy + dy * s, r * s + 5, line)
        for dx, dy, r in parts:
            pen.circle(cx + dx * s, cy + dy * s, r * s, (255, 255, 255))
    for _ in range(rng.randint(6, 9)):
        r = rng.uniform(22, 60)
        x, y = _free_spot(rng, plan, r, (r, W - r), (H * 0.3, H - r))
        colour = rng.choice(pal.pops)
        if rng.random() < 0.5:
            pen.circle(x, y, r, colour, outline=line, width=6)
        else:
            pen.rect((x - r, y - r * 0.7, x + r, y + r * 0.7), colour, outline=line, width=6,
                     radius=r * 0.5)
        pen.circle(x - r * 0.35, y - r * 0.3, r * 0.2, (255, 255, 255))


def _family(img, pen, pal, plan, rng, front):
    if front:
        return
    sx, sy = _free_spot(rng, plan, 100, (W * 0.1, W * 0.9), (80, 110))
    sun = _mix(pal.accent, (255, 230, 120), 0.5)
    for i in range(12):
        a = math.tau * i / 12
        pen.line([(sx + math.cos(a) * 70, sy + math.sin(a) * 70),
                  (sx + math.cos(a) * 100, sy + math.sin(a) * 100)], _rgba(sun, 200), width=8)
    pen.circle(sx, sy, 54, _rgba(sun, 255))
    hill_far = _mix(_mix(pal.bottom, (90, 170, 90), 0.45), pal.figure, 0.25)
    hill_near = _mix(hill_far, pal.figure, 0.35)
    pen.ellipse((-300, H * 0.72, W * 0.65, H * 1.6), _rgba(hill_far, 255))
    hx = W * (0.8 if sx < W / 2 else 0.2)  # the house sits on a far hill, away from the sun
    pen.ellipse((W * 0.3, H * 0.78, W + 300, H * 1.6), _rgba(hill_far, 255))
    roof = _mix(pal.accent, (180, 40, 30), 0.5)
    base_y = H * 0.83
    pen.rect((hx - 46, base_y - 62, hx + 46, base_y + 6), _rgba((250, 240, 220), 255))
    pen.polygon([(hx - 60, base_y - 58), (hx, base_y - 108), (hx + 60, base_y - 58)], _rgba(roof, 255))
    pen.rect((hx - 12, base_y - 30, hx + 12, base_y + 6), _rgba(pal.figure, 255))
    pen.rect((hx + 18, base_y - 46, hx + 36, base_y - 28), _rgba((255, 214, 110), 255))
    pen.ellipse((-200, H * 0.9, W + 200, H * 1.5), _rgba(hill_near, 255))


def _documentary(img, pen, pal, plan, rng, front):
    if front:
        return
    gx, gy, r = rng.choice((W * 0.22, W * 0.78)), H * 0.48, rng.uniform(170, 210)
    grid = _rgba(_mix(pal.accent, (255, 255, 255), 0.4), 170)
    pen.circle(gx, gy, r, _rgba(pal.accent, 40), outline=grid, width=4)
    for k in (0.25, 0.55, 0.85):
        pen.ellipse((gx - r * k, gy - r, gx + r * k, gy + r), outline=grid, width=2)
    for k in (-0.66, -0.33, 0, 0.33, 0.66):
        half = r * math.sqrt(1 - k * k)
        pen.line([(gx - half, gy + k * r), (gx + half, gy + k * r)], grid, width=2)
    for i in range(4):  # contour lines of a map
        y0 = H * (0.15 + 0.22 * i) + rng.uniform(-20, 20)
        amp, phase = rng.uniform(10, 26), rng.uniform(0, math.tau)
        pts = [(x, y0 + amp * math.sin(x / 90 + phase) + amp * 0.5 * math.sin(x / 37 + i))
               for x in range(-10, W + 20, 20)]
        pen.line(pts, _rgba(_mix(pal.accent, (255, 255, 255), 0.5), 80), width=2)


_MOTIFS = {
    "action": _action,
    "animation": _animation,
    "comedy": _comedy,
    "documentary": _documentary,
    "drama": _drama,
    "family": _family,
    "horror": _horror,
    "romance": _romance,
    "scifi": _scifi,
    "thriller": _thriller,
}


# --------------------------------------------------------------------------- subjects


def _bust(pen, cx, top, s, fill, hair, rim=None, rim_dx=0.0, outline=None):
    """Head-and-shoulders silhouette with its head's top at `top`; s=1 is 250 px of head."""
    hw, hh = 96 * s, 122 * s
    cy = top + hh
    sy = cy + hh * 1.02  # shoulder line
    shapes = []
    if hair == "long":
        shapes.append(("rect", (cx - hw * 1.16, cy - hh * 0.4, cx + hw * 1.16, sy + 90 * s), 80 * s))
    shapes.append(("poly", [(cx - 58 * s, cy + hh * 0.55), (cx + 58 * s, cy + hh * 0.55),
                            (cx + 210 * s, sy + 34 * s), (cx - 210 * s, sy + 34 * s)]))
    shapes.append(("rect", (cx - 250 * s, sy, cx + 250 * s, sy + 520 * s), 120 * s))
    if hair == "bun":
        shapes.append(("ellipse", (cx - 44 * s, top - 58 * s, cx + 44 * s, top + 26 * s)))
    shapes.append(("ellipse", (cx - hw, top, cx + hw, top + 2 * hh)))
    if hair in ("short", "long"):
        shapes.append(("ellipse", (cx - hw * 1.07, top - 12 * s, cx + hw * 1.07, cy + hh * 0.05)))

    def draw(colour, dx, grow):
        for kind, geometry, *radius in shapes:
            if kind == "poly":
                pts = [(x + dx + (grow if x > cx else -grow), y - grow) for x, y in geometry]
                pen.polygon(pts, colour)
                continue
            box = (geometry[0] + dx - grow, geometry[1] - grow, geometry[2] + dx + grow,
                   geometry[3] + grow)
            if kind == "rect":
                pen.rect(box, colour, radius=radius[0] + grow)
            else:
                pen.ellipse(box, colour)

    if outline:
        draw(outline, 0, 6)
    if rim:
        draw(rim, rim_dx, 0)
    draw(fill, 0, 0)


def _walker(pen, x, feet, h, fill, rng, rim, rim_dx):
    """A small full-body figure standing or striding, feet at `feet`, `h` px tall."""
    r = h * 0.075
    head_y = feet - h + r
    sh, hip = feet - h + r * 2.3, feet - h * 0.47
    stride = h * rng.uniform(0.04, 0.16)
    pen.ellipse((x - h * 0.16, feet - 6, x + h * 0.16, feet + 6), _rgba((0, 0, 0), 70))
    for dx, colour in ((rim_dx, rim), (0, fill)):
        cx = x + dx
        pen.polygon([(cx - h * 0.13, sh), (cx + h * 0.13, sh), (cx + h * 0.09, hip),
                     (cx - h * 0.09, hip)], colour)
        pen.circle(cx, sh + h * 0.03, h * 0.13, colour)
        for sign in (-1, 1):
            pen.line([(cx + sign * h * 0.045, hip - 4), (cx + sign * stride, feet)], colour,
                     width=h * 0.075)
            pen.line([(cx + sign * h * 0.12, sh + 6),
                      (cx + sign * (h * 0.15 + stride * 0.4), hip + h * 0.05)], colour, width=h * 0.055)
        pen.circle(cx, head_y, r, colour)


def _ridge(rng, base, amp, jagged, step=24):
    """Skyline of a hill or mountain range, as points from left to right."""
    pts, phase = [], rng.uniform(0, math.tau)
    y = base
    for x in range(-step, W + 2 * step, step if not jagged else step * 2):
        if jagged:
            y = base - amp * rng.uniform(0.1, 1.0)
        else:
            y = base - amp * (0.55 + 0.3 * math.sin(x / 130 + phase) + 0.15 * math.sin(x / 53 + phase * 2))
        pts.append((x, y))
    return pts


_JAGGED = {"action", "thriller", "horror", "scifi"}
_URBAN = {"action", "thriller", "scifi", "drama", "comedy"}


def _close_up(pen, pal, plan, theme, rng, outline):
    cx = plan.focus[0]
    rim_dx = 7 if plan.light[0] < cx else -7
    _bust(pen, cx, H * 0.12, 1.22, pal.figure, rng.choice(("short", "long", "bun", "none")),
          rim=pal.accent, rim_dx=rim_dx, outline=outline)


def _ensemble(pen, pal, plan, theme, rng, outline):
    n = rng.randint(3, 5)
    xs = [W * (0.14 + 0.72 * i / (n - 1)) for i in range(n)]
    big = 0.62 - 0.05 * (n - 3)
    order = sorted(range(n), key=lambda i: -abs(i - (n - 1) / 2))  # outer figures behind
    for i in order:
        centre = 1 - abs(i - (n - 1) / 2) / n
        s = big * (0.8 + 0.2 * centre) + rng.uniform(-0.02, 0.02)
        fill = _mix(pal.figure, pal.bottom, 0.3 * (1 - centre))
        _bust(pen, xs[i] + rng.uniform(-14, 14), H * 0.56 - 80 * centre, s, fill,
              rng.choice(("short", "long", "bun", "none")), rim=pal.accent,
              rim_dx=5 if xs[i] > plan.light[0] else -5, outline=outline)


def _environment(pen, pal, theme, rng, horizon):
    ground = _mix(pal.figure, pal.bottom, 0.35)
    far = _mix(pal.figure, pal.bottom, 0.6)
    if theme in _URBAN:
        x = -10
        while x < W:
            w, h = rng.uniform(40, 90), rng.uniform(40, 170)
            pen.rect((x, horizon - h, x + w, horizon + 2), far)
            for wy in range(int(horizon - h + 12), int(horizon - 10), 22):
                for wx in range(int(x + 8), int(x + w - 12), 18):
                    if rng.random() < 0.35:
                        pen.rect((wx, wy, wx + 7, wy + 10), _rgba(pal.accent, 170))
            x += w + rng.uniform(2, 14)
    else:
        pen.polygon(_ridge(rng, horizon + 4, 70, False) + [(W + 60, H), (-60, H)], far)
        for _ in range(rng.randint(3, 6)):
            tx, th = rng.uniform(20, W - 20), rng.uniform(40, 80)
            base = horizon - 10
            pen.rect((tx - 4, base - th * 0.4, tx + 4, base + 8), far)
            pen.polygon([(tx - th * 0.3, base - th * 0.3), (tx, base - th), (tx + th * 0.3, base - th * 0.3)],
                        _mix(far, pal.figure, 0.2))
    pen.polygon([(-10, horizon), (W + 10, horizon), (W + 10, H + 10), (-10, H + 10)], ground)


def _scene(pen, pal, plan, theme, rng, outline):
    horizon = H * 0.68
    _environment(pen, pal, theme, rng, horizon)
    x0 = plan.focus[0]
    for k in range(rng.randint(1, 3)):
        h = rng.uniform(190, 230) - 24 * k
        x = x0 + (k * 70 if k % 2 else -k * 60)
        _walker(pen, x, H * 0.9 - 12 * k, h, pal.figure, rng, pal.accent, 3 if plan.light[0] > x else -3)


def _landscape(pen, pal, plan, theme, rng, outline):
    jagged = theme in _JAGGED
    layers = ((H * 0.66, 150, 0.55), (H * 0.8, 110, 0.3), (H * 0.95, 80, 0.0))
    for base, amp, t in layers:
        colour = _mix(pal.figure, pal.bottom, t)
        pen.polygon(_ridge(rng, base, amp, jagged) + [(W + 60, H + 10), (-60, H + 10)], colour)


def _title_logo(pen, pal, plan, theme, rng, outline):
    """Nothing but the faded motif: the name itself, drawn later, is the art."""


_SUBJECTS = {
    "close-up": _close_up,
    "ensemble": _ensemble,
    "scene": _scene,
    "landscape": _landscape,
    "title-logo": _title_logo,
}


# --------------------------------------------------------------------------- text


def _layout_text(text: str, box, max_size: int) -> tuple[list[str], ImageFont.FreeTypeFont]:
    """Largest font (and 1-3 line split) that fits the box; long names wrap, short ones grow."""
    x0, y0, x1, y1 = box
    words = text.split()
    ref = _font(100)
    best = ([text], 1)
    for n in range(1, min(3, len(words)) + 1):
        lines = _split_lines(words, n)
        widest = max(ref.getlength(line) for line in lines) + 24  # room for the stroke
        size = min(max_size, int(100 * (x1 - x0) / widest), int((y1 - y0) / (n * 1.12)))
        if size > best[1] * 1.15:  # wrap only if it buys a clearly bigger title
            best = (lines, size)
    return best[0], _font(max(12, best[1]))


def _split_lines(words: list[str], n: int) -> list[str]:
    """Split words into n lines with the longest line as short as possible."""
    if n == 1:
        return [" ".join(words)]
    best = None
    for cut in range(1, len(words) - n + 2):
        head, rest = " ".join(words[:cut]), _split_lines(words[cut:], n - 1)
        lines = [head, *rest]
        score = max(len(line) for line in lines)
        if best is None or score < best[0]:
            best = (score, lines)
    return best[1]


def _draw_title(img: Image.Image, title: dict, tags: dict, pal: _Palette, plan: _Plan) -> None:
    lines, font = _layout_text(title["name"].upper(), plan.title_box, plan.max_size)
    size = font.size
    cast = [name.upper() for name in tags.get("cast", [])[:2]]
    credit_font = _font(max(16, min(24, size // 3)))
    credit = "   ".join(cast)
    line_h = size * 1.08
    block_h = line_h * len(lines) + (credit_font.size * 1.8 if credit else 0)
    x0, y0, x1, y1 = plan.title_box
    y = y0 + (y1 - y0 - block_h) / 2
    anchor_x = x0 if plan.align == "left" else (x0 + x1) / 2
    anchor = "la" if plan.align == "left" else "ma"
    rows = []
    if credit and plan.credits_above:
        rows.append((credit, credit_font, credit_font.size * 1.8))
    rows += [(line, font, line_h) for line in lines]
    if credit and not plan.credits_above:
        rows.append((credit, credit_font, credit_font.size * 1.8))

    shadow = Image.new("L", img.size)
    sd = ImageDraw.Draw(shadow)
    placed = []
    for text, f, h in rows:
        placed.append((text, f, y))
        sd.text((anchor_x, y), text, font=f, fill=200, anchor=anchor, stroke_width=max(2, f.size // 12))
        y += h
    mask = shadow.filter(ImageFilter.GaussianBlur(max(4, size // 10)))
    img.paste(pal.stroke, (0, 0), mask)

    draw = ImageDraw.Draw(img)
    for text, f, y in placed:
        bold = max(1, f.size // 40)
        outline = max(2, f.size // 18)
        draw.text((anchor_x, y), text, font=f, fill=pal.stroke, anchor=anchor,
                  stroke_width=bold + outline, stroke_fill=pal.stroke)
        draw.text((anchor_x, y), text, font=f, fill=pal.ink, anchor=anchor,
                  stroke_width=bold, stroke_fill=pal.ink)


# --------------------------------------------------------------------------- public API


def render_artwork(title: dict, artwork: dict) -> Image.Image:
    """Key art for one variant at poster size; same title/artwork -> same pixels."""
    tags = artwork["tags"]
    theme, tone, subject = tags["theme"], tags["tone"], tags["subject"]
    rng = random.Random(zlib.crc32(artwork["id"].encode("utf-8")))
    pal = _palette(tone, theme, rng)
    plan = _plan(subject, rng)
    motif = _MOTIFS.get(theme, _drama)

    img = Image.composite(Image.new("RGB", (W, H), pal.bottom), Image.new("RGB", (W, H), pal.top),
                          _vertical_gradient())
    lx, ly = plan.light
    _glow(img, pal.accent, lambda p: p.circle(lx, ly, 230, 255), blur=90,
          strength=0.55 if tone in ("dark", "cool") else 0.35)

    # NEAREST is exact here: reduce() below averages each block back to these pixels.
    big = img.resize((W * _SS, H * _SS), Image.Resampling.NEAREST)
    pen = _Pen(big, _SS)
    fade = subject == "title-logo"
    motif(big, pen, pal, plan, rng, front=False)
    if fade:  # a title-logo keeps the theme as a hint behind the name
        big.paste(pal.top, (0, 0), Image.new("L", big.size, 90))
    outline = _mix(pal.figure, (0, 0, 0), 0.5) if theme == "animation" else None
    _SUBJECTS[subject](pen, pal, plan, theme, rng, outline)
    if not fade:
        motif(big, pen, pal, plan, rng, front=True)
    img = big.reduce(_SS)

    img.paste(_mix(pal.figure, (0, 0, 0), 0.5), (0, 0), _vignette_mask(pal.vignette))
    _draw_title(img, title, tags, pal, plan)
    return img


def encode_sizes(img: Image.Image) -> dict[str, bytes]:
    """The image cropped to each of SIZES and encoded as JPEG with fixed settings."""
    out = {}
    for name, size in SIZES.items():
        fitted = ImageOps.fit(img.convert("RGB"), size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        fitted.save(buf, IMAGE_FORMAT, **_JPEG_OPTIONS)
        out[name] = buf.getvalue()
    return out


def content_name(data: bytes) -> str:
    """Content-addressed file name: identical bytes share a name, so it doubles as an ETag."""
    return hashlib.sha256(data).hexdigest()[:20] + EXTENSION


class ImageRejected(ValueError):
    """A user-supplied image that will not be imported; `reason` reads after the file name."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path} {reason}")
        self.path = str(path)
        self.reason = reason


# MPO is how Pillow identifies the multi-picture JPEGs many phones and cameras write.
_ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}

_SRGB = ImageCms.createProfile("sRGB")


def load_image_file(path, *, max_bytes: int = 20 * 1024 * 1024, max_pixels: int = 40_000_000,
                    min_side: int = 64) -> Image.Image:
    """Open a user's image as RGB, refusing anything unsafe or unusable with ImageRejected.

    Sizes are checked from the file and the header before any pixel is decoded, so a small
    file claiming huge dimensions (a decompression bomb) costs nothing.
    """
    path = Path(path)
    try:
        n_bytes = path.stat().st_size
    except OSError as e:
        raise ImageRejected(path, f"cannot be read ({e.strerror or e})") from e
    if n_bytes > max_bytes:
        raise ImageRejected(path, f"is too large: {n_bytes / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB)")
    with warnings.catch_warnings():
        # Pillow's own pixel limit warns before it raises; both mean "too many pixels" here.
        # Other Pillow warnings concern metadata (odd EXIF, palettes) and are not refusals.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                return _decode(im, path, max_pixels, min_side)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageRejected(path, f"is too large: {e}") from e
        except Image.UnidentifiedImageError as e:
            raise ImageRejected(path, "is not an image file") from e
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise ImageRejected(path, f"is truncated or corrupt ({e})") from e


def _decode(im: Image.Image, path: Path, max_pixels: int, min_side: int) -> Image.Image:
    fmt = _ACCEPTED_FORMATS.get(im.format or "")
    if fmt is None:
        raise ImageRejected(path, f"has unsupported format {im.format} (use JPEG, PNG, WEBP or GIF)")
    w, h = im.size
    if w * h > max_pixels:
        raise ImageRejected(path, f"is too large: {w}x{h} pixels (limit {max_pixels:,})")
    if min(w, h) < min_side:
        raise ImageRejected(path, f"is too small: {w}x{h} (each side needs at least {min_side} px)")
    im.load()  # GIF and WEBP animations stay on their first frame
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: scale, don't clip
        im = im.point(lambda v: v / 256).convert("L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), rgba)
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        try:  # colours as the author saw them (Display P3 photos, print CMYK)
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im.convert("RGB") if im.mode == "RGBA" else im,
                                             src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is not worth refusing the image over
    return im.convert("RGB")
