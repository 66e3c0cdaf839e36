"""Procedural road-sign scenes, drawn with PIL and numpy.

Every image is a :class:`Scene` (what a reviewer would describe: which sign, on
what background, in what light, through which camera) rendered with a seeded
``numpy.random.Generator`` that decides the incidental detail (textures,
colours, noise). The same scene and seed always give the same bytes, so the
committed evaluation sets can be regenerated exactly and the training data of
``train.py`` never has to be stored.

Scenes are drawn at twice the output size and box-filtered down, which
anti-aliases the sign edges the way a real camera's optics would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from signs import LABELS

SIZE = 64
"""Side of every rendered image, in pixels."""

_SS = 2  # supersampling factor
_CANVAS = SIZE * _SS

BACKGROUNDS: tuple[str, ...] = ("sky", "grass", "urban", "snow")
CONDITIONS: tuple[str, ...] = ("day", "dusk", "night")
CAMERAS: tuple[str, ...] = ("survey", "dashcam_a", "dashcam_b")

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Scene:
    """What one image shows; everything a reviewer could name about it."""

    label: str
    background: str = "sky"
    condition: str = "day"
    camera: str = "survey"
    sign_size: float = 0.5
    """Outer diameter of the sign as a fraction of the image side."""
    center: tuple[float, float] = (0.5, 0.45)
    """Sign centre (x, y) as fractions of the image side."""
    rotation: float = 0.0
    """Degrees, counter-clockwise: signs on bent posts, a tilted camera."""
    snow_cover: float = 0.0
    """Fraction of the sign face hidden under stuck snow (0..1)."""
    fade: float = 0.0
    """Sun bleaching: 0 is a new sign, 1 is almost white."""
    old_style: bool = False
    """pedestrian_crossing only: the old red-bordered upright warning triangle."""
    clutter: int = 0
    """Number of distracting objects (poles, boxes, wires) in the scene."""
    snowfall: bool = False
    exposure: float = 1.0
    """Extra multiplier on the scene's light, for deliberately extreme shots."""

    def __post_init__(self) -> None:
        """Reject scenes that the renderer cannot draw, naming the valid values."""
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {self.camera!r}")
        if not 0.05 <= self.sign_size <= 1.0:
            raise ValueError(f"sign_size must be in [0.05, 1.0], got {self.sign_size}")
        if not 0.0 <= self.snow_cover <= 0.9:
            raise ValueError(f"snow_cover must be in [0, 0.9], got {self.snow_cover}")
        if not 0.0 <= self.fade <= 1.0:
            raise ValueError(f"fade must be in [0, 1], got {self.fade}")
        if self.old_style and self.label != "pedestrian_crossing":
            raise ValueError("old_style exists only for pedestrian_crossing")


def sample_scene(
    rng: np.random.Generator,
    label: str,
    background: str,
    *,
    condition: str = "day",
    camera: str = "survey",
    snow_cover: float = 0.0,
    size_range: tuple[float, float] = (0.38, 0.72),
    **overrides: object,
) -> Scene:
    """Draw the geometry of a typical photo of ``label`` on ``background``.

    Position, scale, tilt and clutter vary; ``overrides`` pins any Scene field.
    """
    size = float(rng.uniform(*size_range))
    # Keep most of the sign in frame; a sliver may be cut off, as in real crops.
    half = size / 2
    cx = float(rng.uniform(half - 0.04, 1 - half + 0.04))
    cy = float(rng.uniform(half - 0.04, 1 - half + 0.04))
    fields: dict[str, object] = dict(
        label=label,
        background=background,
        condition=condition,
        camera=camera,
        sign_size=size,
        center=(cx, cy),
        rotation=float(rng.uniform(-10, 10)),
        snow_cover=snow_cover,
        clutter=int(rng.integers(0, 4)),
        snowfall=background == "snow" and bool(rng.random() < 0.4),
    )
    fields.update(overrides)
    return Scene(**fields)  # type: ignore[arg-type]


def render(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """Render ``scene`` to a 64x64 RGB image; ``rng`` decides the incidental detail."""
    canvas = Image.fromarray(_to_u8(_background(scene.background, rng)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(scene.clutter):
        _draw_clutter(draw, rng, snowy=scene.background == "snow")

    patch = _sign_patch(scene, rng)
    d = scene.sign_size * _CANVAS
    cx, cy = scene.center[0] * _CANVAS, scene.center[1] * _CANVAS
    # The post goes in first so that the sign face covers its top end.
    post_w = max(2.0, d * 0.07)
    grey = int(rng.integers(105, 165))
    draw.rectangle((cx - post_w / 2, cy, cx + post_w / 2, _CANVAS), fill=(grey, grey, grey + 5))

    patch = patch.rotate(scene.rotation, resample=Image.Resampling.BICUBIC, expand=True)
    top_left = (int(round(cx - patch.width / 2)), int(round(cy - patch.height / 2)))
    canvas.paste(patch, top_left, patch)
    # Where the sign is: at night the retro-reflective face is lit by headlights
    # while the surroundings stay dark, so lighting needs to tell them apart.
    sign_mask = Image.new("L", canvas.size, 0)
    sign_mask.paste(patch.getchannel("A"), top_left)

    if scene.snowfall:
        _draw_snowfall(ImageDraw.Draw(canvas), rng)

    small = canvas.resize((SIZE, SIZE), Image.Resampling.BOX)
    mask = np.asarray(sign_mask.resize((SIZE, SIZE), Image.Resampling.BOX), dtype=np.float32) / 255
    img = np.asarray(small, dtype=np.float32) / 255
    img = _light(img, mask, scene, rng)
    img = _camera(img, scene.camera, rng)
    return Image.fromarray(_to_u8(img))


# --------------------------------------------------------------------------- backgrounds


def _smooth(rng: np.random.Generator, cells: int, size: int = _CANVAS) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells), dtype=np.float32)
    up = Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(up, dtype=np.float32), 0.0, 1.0)


def _vgradient(top: np.ndarray, bottom: np.ndarray, rows: int) -> np.ndarray:
    """A (rows, _CANVAS, 3) vertical blend from ``top`` to ``bottom`` colour."""
    t = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (rows, _CANVAS, 3)).copy()


def _jitter(rng: np.random.Generator, rgb: tuple[float, float, float], amount: float) -> np.ndarray:
    """``rgb`` with each channel moved by up to ``amount``."""
    return np.clip(np.array(rgb, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 1).astype(np.float32)


def _sky(rng: np.random.Generator, rows: int = _CANVAS) -> np.ndarray:
    """Blue sky, paler at the horizon, with soft clouds."""
    img = _vgradient(_jitter(rng, (0.30, 0.50, 0.85), 0.08), _jitter(rng, (0.72, 0.83, 0.95), 0.05), rows)
    cloud = np.clip((_smooth(rng, int(rng.integers(3, 7)))[:rows] - rng.uniform(0.45, 0.75)) * 3, 0, 1)
    return img * (1 - cloud[..., None]) + 0.96 * cloud[..., None]


def _horizon_band(rng: np.random.Generator, img: np.ndarray, y0: int, colour: tuple[float, float, float]) -> None:
    """Paint a ragged silhouette (tree line, distant buildings) rising from row ``y0``."""
    heights = _smooth(rng, 8)[0] * rng.uniform(6, 22)
    base = _jitter(rng, colour, 0.05)
    for x in range(_CANVAS):
        top = max(0, int(y0 - heights[x]))
        img[top:y0, x] = base


def _bg_sky(rng: np.random.Generator) -> np.ndarray:
    """Mostly sky, sometimes with a tree line or rooftops low in the frame."""
    img = _sky(rng)
    if rng.random() < 0.6:
        y0 = int(rng.uniform(0.75, 1.0) * _CANVAS)
        _horizon_band(rng, img, y0, (0.18, 0.30, 0.15) if rng.random() < 0.5 else (0.40, 0.40, 0.42))
        img[y0:] = _jitter(rng, (0.35, 0.42, 0.30), 0.08)
    return img


def _bg_grass(rng: np.random.Generator) -> np.ndarray:
    """A field under a strip of sky: green or straw, textured, with far trees."""
    horizon = int(rng.uniform(0.12, 0.45) * _CANVAS)
    img = np.empty((_CANVAS, _CANVAS, 3), dtype=np.float32)
    img[:horizon] = _sky(rng, horizon)
    green = (0.28, 0.52, 0.18) if rng.random() < 0.7 else (0.62, 0.58, 0.25)
    field = _vgradient(_jitter(rng, green, 0.06) * 0.8, _jitter(rng, green, 0.06) * 1.1, _CANVAS - horizon)
    tex = _smooth(rng, 16)[horizon:] - 0.5
    fine = _smooth(rng, 40)[horizon:] - 0.5
    img[horizon:] = np.clip(field * (1 + 0.35 * tex[..., None] + 0.25 * fine[..., None]), 0, 1)
    _horizon_band(rng, img, horizon, (0.12, 0.25, 0.10))
    return img


def _bg_urban(rng: np.random.Generator) -> np.ndarray:
    """A building wall: brick, concrete or painted render, often with windows."""
    kind = rng.choice(["brick", "concrete", "paint"])
    if kind == "brick":
        base = _jitter(rng, (0.55, 0.28, 0.20), 0.07)
    elif kind == "concrete":
        base = _jitter(rng, (0.60, 0.60, 0.58), 0.08)
    else:
        base = _jitter(rng, (0.80, 0.72, 0.55), 0.15)
    img = np.broadcast_to(base, (_CANVAS, _CANVAS, 3)).copy()
    img *= (0.85 + 0.3 * _smooth(rng, 10))[..., None]
    if kind == "brick":
        # Mortar lines every course, head joints offset every other course.
        course, brick = int(rng.integers(6, 10)), int(rng.integers(14, 22))
        mortar = _jitter(rng, (0.70, 0.68, 0.62), 0.05)
        for row, y in enumerate(range(0, _CANVAS, course)):
            img[y : y + 1] = mortar
            offset = (brick // 2) * (row % 2)
            for x in range(offset, _CANVAS, brick):
                img[y : y + course, x : x + 1] = mortar
    if rng.random() < 0.6:
        win = _jitter(rng, (0.15, 0.18, 0.22), 0.08)
        w, h = int(rng.integers(14, 26)), int(rng.integers(18, 30))
        gx, gy = w + int(rng.integers(10, 24)), h + int(rng.integers(10, 24))
        ox, oy = int(rng.integers(0, gx)), int(rng.integers(0, gy))
        for y in range(oy - gy, _CANVAS, gy):
            for x in range(ox - gx, _CANVAS, gx):
                img[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = win
    if rng.random() < 0.5:
        pavement = int(rng.uniform(0.8, 0.95) * _CANVAS)
        img[pavement:] = _jitter(rng, (0.45, 0.45, 0.45), 0.05)
    return np.clip(img, 0, 1)


def _bg_snow(rng: np.random.Generator) -> np.ndarray:
    """Winter: overcast sky over snowy ground, dark conifers with white on them."""
    horizon = int(rng.uniform(0.2, 0.55) * _CANVAS)
    grey = float(rng.uniform(0.72, 0.88))
    img = np.empty((_CANVAS, _CANVAS, 3), dtype=np.float32)
    img[:horizon] = _vgradient(
        _jitter(rng, (grey - 0.05, grey - 0.03, grey + 0.02), 0.03),
        _jitter(rng, (grey + 0.06, grey + 0.07, grey + 0.09), 0.02),
        horizon,
    )
    snow = _jitter(rng, (0.90, 0.93, 0.98), 0.04)
    shade = 0.88 + 0.16 * _smooth(rng, 8)[horizon:] + 0.04 * (_smooth(rng, 32)[horizon:] - 0.5)
    img[horizon:] = np.clip(snow * shade[..., None], 0, 1)
    img = np.ascontiguousarray(img)
    pil = Image.fromarray(_to_u8(img))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(1, 6))):
        # A conifer: dark triangle tiers, then snow caps on the tiers.
        x = float(rng.uniform(0, _CANVAS))
        h = float(rng.uniform(25, 70))
        w = h * float(rng.uniform(0.4, 0.6))
        base_y = horizon + float(rng.uniform(0, 15))
        dark = tuple(int(c) for c in rng.integers([15, 35, 20], [40, 65, 45]))
        for tier in range(3):
            ty = base_y - tier * h / 3.5
            tw = w * (1 - tier * 0.25)
            draw.polygon([(x - tw / 2, ty), (x + tw / 2, ty), (x, ty - h / 2.2)], fill=dark)
            draw.polygon([(x - tw / 4, ty - h / 4.4), (x + tw / 4, ty - h / 4.4), (x, ty - h / 2.2)],
                         fill=(235, 240, 248))
    return np.asarray(pil, dtype=np.float32) / 255


_BACKGROUND_FNS = {"sky": _bg_sky, "grass": _bg_grass, "urban": _bg_urban, "snow": _bg_snow}


def _background(kind: str, rng: np.random.Generator) -> np.ndarray:
    """The (_CANVAS, _CANVAS, 3) float background of the given kind."""
    return _BACKGROUND_FNS[kind](rng)


def _draw_clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, snowy: bool) -> None:
    """One distractor: a lamp post, a utility box or billboard back, or a wire."""
    kind = rng.choice(["pole", "box", "wire"], p=[0.45, 0.35, 0.2])
    if kind == "pole":
        x, w = float(rng.uniform(0, _CANVAS)), float(rng.uniform(3, 7))
        c = int(rng.integers(50, 140))
        fill = (c, c, c) if rng.random() < 0.6 else (c + 30, c, c // 2)
        draw.rectangle((x, float(rng.uniform(-10, 40)), x + w, _CANVAS), fill=fill)
    elif kind == "box":
        x, y = float(rng.uniform(-10, _CANVAS)), float(rng.uniform(0, _CANVAS))
        w, h = float(rng.uniform(12, 40)), float(rng.uniform(10, 35))
        fill = tuple(int(c) for c in rng.integers(30, 220, 3))
        draw.rectangle((x, y, x + w, y + h), fill=fill)
        if snowy:
            draw.rectangle((x, y - 3, x + w, y + 2), fill=(240, 243, 250))
    else:
        y0, y1 = float(rng.uniform(0, 60)), float(rng.uniform(0, 60))
        draw.line((0, y0, _CANVAS, y1), fill=(30, 30, 30), width=int(rng.integers(1, 3)))


def _draw_snowfall(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    """Falling flakes in front of everything, the sign included."""
    for _ in range(int(rng.integers(25, 70))):
        x, y = rng.uniform(0, _CANVAS, 2)
        r = float(rng.uniform(0.8, 2.2))
        v = int(rng.integers(225, 256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(v, v, min(255, v + 5)))


# --------------------------------------------------------------------------- signs


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font, so rendering does not depend on installed system fonts."""
    return ImageFont.load_default(size=max(4, size))


def _colour(rng: np.random.Generator, base: RGB, spread: int) -> RGB:
    """``base`` moved by up to ``spread`` per channel: paint and print vary."""
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in base)  # type: ignore[return-value]


def _triangle(cx: float, cy: float, r: float, up: bool) -> list[tuple[float, float]]:
    """Equilateral triangle with circumradius ``r``, pointing up or down."""
    s = -1 if up else 1
    return [
        (cx, cy + s * r),
        (cx - r * math.sqrt(3) / 2, cy - s * r / 2),
        (cx + r * math.sqrt(3) / 2, cy - s * r / 2),
    ]


def _walker(draw: ImageDraw.ImageDraw, cx: float, cy: float, h: float, fill: RGB) -> None:
    """A stick figure mid-stride, ``h`` tall, centred on (cx, cy)."""
    w = max(1, int(round(h * 0.12)))
    head_r = h * 0.12
    top = cy - h / 2
    draw.ellipse((cx - head_r, top, cx + head_r, top + 2 * head_r), fill=fill)
    neck, hip = (cx, top + 2.2 * head_r), (cx - h * 0.03, cy + h * 0.1)
    draw.line((neck, hip), fill=fill, width=w)
    draw.line((hip, (cx - h * 0.22, cy + h / 2)), fill=fill, width=w)
    draw.line((hip, (cx + h * 0.2, cy + h / 2)), fill=fill, width=w)
    draw.line(((cx - h * 0.2, cy + h * 0.05), (cx, top + 2.8 * head_r), (cx + h * 0.22, cy - h * 0.02)),
              fill=fill, width=w)


def _sign_patch(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """The sign face alone, on a transparent square, with wear and snow applied."""
    d = scene.sign_size * _CANVAS
    side = int(math.ceil(d)) + 4
    patch = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(patch)
    c, r = side / 2, d / 2
    red = _colour(rng, (205, 30, 38), 20)
    white = _colour(rng, (242, 242, 240), 8)
    black = _colour(rng, (28, 28, 30), 10)
    blue = _colour(rng, (25, 85, 180), 20)
    a = (255,)

    if scene.label == "stop":
        draw.regular_polygon((c, c, r), 8, rotation=22.5, fill=white + a)
        draw.regular_polygon((c, c, r * 0.9), 8, rotation=22.5, fill=red + a)
        draw.text((c, c), "STOP", font=_font(int(r * 0.58)), anchor="mm", fill=white + a,
                  stroke_width=max(1, int(r * 0.03)), stroke_fill=white + a)
    elif scene.label == "yield":
        border = r * 0.2
        draw.polygon(_triangle(c, c, r, up=False), fill=red + a)
        draw.polygon(_triangle(c, c, r - 2 * border, up=False), fill=white + a)
    elif scene.label == "speed_limit":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=red + a)
        draw.ellipse((c - r * 0.78, c - r * 0.78, c + r * 0.78, c + r * 0.78), fill=white + a)
        number = str(int(rng.choice([20, 30, 40, 50, 60, 70, 80, 90])))
        draw.text((c, c), number, font=_font(int(r * 0.85)), anchor="mm", fill=black + a,
                  stroke_width=max(1, int(r * 0.04)), stroke_fill=black + a)
    elif scene.label == "no_entry":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=white + a)
        draw.ellipse((c - r * 0.94, c - r * 0.94, c + r * 0.94, c + r * 0.94), fill=red + a)
        draw.rectangle((c - r * 0.66, c - r * 0.15, c + r * 0.66, c + r * 0.15), fill=white + a)
    elif scene.old_style:
        # The older warning-triangle design: upright, red border, white field.
        draw.polygon(_triangle(c, c + r * 0.1, r, up=True), fill=red + a)
        draw.polygon(_triangle(c, c + r * 0.1, r * 0.62, up=True), fill=white + a)
        _walker(draw, c, c + r * 0.22, r * 0.5, black)
    else:
        half = r * 0.86
        draw.rounded_rectangle((c - half, c - half, c + half, c + half), radius=r * 0.12, fill=white + a)
        draw.rounded_rectangle((c - half * 0.93, c - half * 0.93, c + half * 0.93, c + half * 0.93),
                               radius=r * 0.1, fill=blue + a)
        draw.polygon(_triangle(c, c + r * 0.1, r * 0.72, up=True), fill=white + a)
        _walker(draw, c, c + r * 0.2, r * 0.55, black)

    arr = np.asarray(patch, dtype=np.float32)
    rgb, alpha = arr[..., :3], arr[..., 3:] / 255
    if scene.fade > 0:
        # Sun bleaching: colours lose saturation and drift towards a chalky grey,
        # unevenly, with grime where rain runs down.
        lum = rgb.mean(axis=-1, keepdims=True)
        f = scene.fade * (0.8 + 0.4 * _smooth(rng, 4, side))[..., None]
        rgb = rgb * (1 - f) + (0.6 * lum + 0.4 * 215) * f
        rgb = rgb * (1 - 0.12 * scene.fade * _smooth(rng, 12, side)[..., None])
    if scene.snow_cover > 0:
        snow = _snow_mask(rng, alpha[..., 0], scene.snow_cover)[..., None]
        rgb = rgb * (1 - snow) + _jitter(rng, (0.95, 0.96, 0.99), 0.03) * 255 * snow
    arr = np.concatenate([np.clip(rgb, 0, 255), alpha * 255], axis=-1)
    return Image.fromarray(arr.round().astype(np.uint8))


def _snow_mask(rng: np.random.Generator, alpha: np.ndarray, cover: float) -> np.ndarray:
    """Soft mask of snow stuck to the sign face, covering about ``cover`` of it.

    Snow settles on the top edge first, then in clumps anywhere on the face.
    """
    side = alpha.shape[0]
    face = alpha > 0.5
    area = max(1, int(face.sum()))
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    rows = np.nonzero(face.any(axis=1))[0]
    top = float(rows[0]) if len(rows) else 0.0
    cap_h = side * (0.1 + 0.35 * cover) * float(rng.uniform(0.6, 1.2))
    draw.ellipse((side * 0.05, top - cap_h, side * 0.95, top + cap_h), fill=255)
    for _ in range(60):
        if (np.asarray(mask) > 127)[face].sum() / area >= cover:
            break
        x, y = rng.uniform(0.1, 0.9) * side, rng.beta(1.3, 2.0) * side
        rx, ry = rng.uniform(0.06, 0.2, 2) * side
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255)
    soft = mask.filter(ImageFilter.GaussianBlur(max(0.6, side / 80)))
    return np.asarray(soft, dtype=np.float32) / 255 * alpha


# --------------------------------------------------------------------------- light and camera


def _light(img: np.ndarray, mask: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Scale the scene's light for the time of day; the sign face may be lit apart."""
    if scene.condition == "day":
        bg = float(rng.uniform(0.72, 1.15))
        sign = bg * float(rng.uniform(0.95, 1.1))
        contrast = float(rng.uniform(0.85, 1.1))
        tint = _jitter(rng, (1.0, 1.0, 1.0), 0.05)
    elif scene.condition == "dusk":
        bg = float(rng.uniform(0.18, 0.32))
        sign = float(rng.uniform(0.32, 0.52))
        contrast = float(rng.uniform(0.6, 0.85))
        # Sodium street lamps (orange) or the blue hour.
        tint = _jitter(rng, (1.12, 0.92, 0.72) if rng.random() < 0.5 else (0.8, 0.9, 1.15), 0.05)
    else:
        bg = float(rng.uniform(0.05, 0.13))
        sign = float(rng.uniform(0.3, 0.55))
        contrast = float(rng.uniform(0.6, 0.8))
        tint = _jitter(rng, (1.05, 1.0, 0.85), 0.08)
    bg, sign = bg * scene.exposure, sign * scene.exposure
    gain = bg * (1 - mask) + sign * mask
    # Uneven illumination: a linear ramp in a random direction.
    angle = float(rng.uniform(0, 2 * math.pi))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE - 0.5
    ramp = 1 + float(rng.uniform(0, 0.25)) * (xx * math.cos(angle) + yy * math.sin(angle))
    out = img * (gain * ramp)[..., None] * tint
    mean = out.mean()
    out = (out - mean) * contrast + mean
    if scene.condition == "night" and rng.random() < 0.5:
        # A street lamp or oncoming headlight blooming somewhere in frame.
        gx, gy = rng.uniform(0, SIZE, 2)
        rad = float(rng.uniform(4, 10))
        glow = np.exp(-((xx * SIZE + SIZE / 2 - gx) ** 2 + (yy * SIZE + SIZE / 2 - gy) ** 2) / (2 * rad**2))
        out = out + glow[..., None] * _jitter(rng, (0.9, 0.8, 0.55), 0.1)
    return out


def _camera(img: np.ndarray, camera: str, rng: np.random.Generator) -> np.ndarray:
    """Sensor and optics: blur, resolution loss, colour cast and noise."""
    if camera == "survey":
        noise, blur, low_res, cast, gain = float(rng.uniform(0.004, 0.012)), 0.0, 0, (1.0, 1.0, 1.0), 1.0
        if rng.random() < 0.2:
            blur = 0.4
    elif camera == "dashcam_a":
        noise, blur, low_res, cast, gain = float(rng.uniform(0.015, 0.03)), 0.35, 0, (1.0, 1.0, 1.0), 1.0
    else:
        # A cheaper sensor: smaller, noisier, greenish, and it underexposes.
        noise, blur, low_res, cast, gain = float(rng.uniform(0.04, 0.065)), 0.6, 28, (0.9, 1.06, 0.85), 0.8
    img = np.clip(img * gain * np.array(cast, dtype=np.float32), 0, 1)
    if low_res or blur:
        pil = Image.fromarray(_to_u8(img))
        if low_res:
            pil = pil.resize((low_res, low_res), Image.Resampling.BILINEAR)
            pil = pil.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        if blur:
            pil = pil.filter(ImageFilter.GaussianBlur(blur))
        img = np.asarray(pil, dtype=np.float32) / 255
    # Luminance noise plus weaker per-channel (chroma) noise, as in real sensors.
    lum_noise = rng.normal(0, noise, (SIZE, SIZE, 1)).astype(np.float32)
    chroma = rng.normal(0, noise * 0.5, (SIZE, SIZE, 3)).astype(np.float32)
    return img + lum_noise + chroma


def _to_u8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to uint8, rounding and clipping."""
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
