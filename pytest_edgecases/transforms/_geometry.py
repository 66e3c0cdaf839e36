"""Geometry: a tilted camera (rotation) and an oblique view (perspective), through torchvision's
Pillow kernels; the perspective coefficients are computed here in plain Python floats."""
from __future__ import annotations

import math
from typing import Any

from ._pixels import tvf
from ._registry import Param, register_kernel, rgb_param


@register_kernel(
    "rotation",
    simulates="a tilted camera or object (roll)",
    params=(
        Param("angle", "float", "degrees, counter-clockwise",
              "rotation about the image centre; corners outside the original are filled", None, -180, 180),
        rgb_param("fill", (0, 0, 0), "colour of the uncovered corners"),
    ),
    primary="angle",
    examples={"angle": [15, 45, 90]},
    implementation="torchvision.transforms.v2.functional.rotate (Pillow kernel, bilinear)",
)
def rotation(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = tvf()
    return F.rotate(
        img, angle=p["angle"], interpolation=F.InterpolationMode.BILINEAR, expand=False, fill=list(p["fill"])
    )


@register_kernel(
    "perspective",
    simulates="an unusual viewing angle: the object seen obliquely, from the side, above or below",
    params=(
        Param("tilt", "float", "degrees",
              "how far the picture plane is turned away from facing the camera", None, -80, 80),
        Param("axis", "choice", "vertical: turned left/right (positive: right side away); "
              "horizontal: up/down (positive: top away)",
              "the axis the picture turns about", "vertical", choices=("vertical", "horizontal")),
        rgb_param("fill", (0, 0, 0), "colour of the area outside the turned picture"),
    ),
    primary="tilt",
    examples={"tilt": [30, 50, 70]},
    implementation="torchvision.transforms.v2.functional.perspective (Pillow kernel, bilinear; "
    "coefficients from a pinhole camera model, the picture spanning 30 degrees)",
)
def perspective(img: Any, p: dict[str, Any], op_seed: bytes) -> Any:
    F = tvf()
    coeffs = _perspective_coefficients(img.size[0], img.size[1], p["tilt"], p["axis"])
    # The coefficients are computed here in plain Python floats rather than by
    # torchvision's startpoints/endpoints least-squares solve (a LAPACK call
    # whose result may differ in the last bits between CPUs).
    return F.perspective(
        img,
        startpoints=None,
        endpoints=None,
        interpolation=F.InterpolationMode.BILINEAR,
        fill=list(p["fill"]),
        coefficients=coeffs,
    )


# Angle the picture (its longer side) subtends in the simulated camera's view: an
# object filling part of a phone photo.  Smaller = farther away = less perspective.


# Angle the picture (its longer side) subtends in the simulated camera's view: an
# object filling part of a phone photo.  Smaller = farther away = less perspective.
_FOV_DEGREES = 30.0


def _perspective_coefficients(width: int, height: int, tilt: float, axis: str) -> list[float]:
    """Pillow PERSPECTIVE coefficients (output -> input) for a flat picture turned
    by ``tilt`` degrees about its vertical or horizontal centre line, seen by a
    pinhole camera to which the picture spans 30 degrees, then scaled about the centre
    so the whole picture stays in the frame.

    Model, in centred coordinates along the tilt direction (X) and across it (Y):
    a point (X, Y) of the picture moves to depth f + X sin(t) and projects to
    u = f X cos(t) / (f + X sin(t)), v = f Y / (f + X sin(t)).  Inverted:
    X = (u / cos t) / (1 - u tan(t) / f), Y = v / (1 - u tan(t) / f).
    f > half the picture, so the picture stays in front of the camera and output
    pixels beyond its vanishing line map far outside it (filled).
    """
    if tilt == 0:
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    vertical = axis == "vertical"
    # "along" is the direction that recedes; for the horizontal axis a positive
    # tilt turns the top edge (negative y) away from the camera.
    along, across = (width, height) if vertical else (height, width)
    th = math.radians(tilt if vertical else -tilt)
    c, s = math.cos(th), math.sin(th)
    f = (max(width, height) / 2.0) / math.tan(math.radians(_FOV_DEGREES / 2.0))
    k = 1.0
    for X in (-along / 2.0, along / 2.0):
        den = f + X * s
        for Y in (-across / 2.0, across / 2.0):
            u, v = f * X * c / den, f * Y / den
            k = min(k, (along / 2.0) / abs(u), (across / 2.0) / abs(v))
    t = math.tan(th) / f
    # [X, Y, 1] ~ M1 @ [U, V, 1] with U, V centred output coordinates (u = U / k).
    m1 = [[1.0 / (k * c), 0.0, 0.0], [0.0, 1.0 / k, 0.0], [-t / k, 0.0, 1.0]]
    if not vertical:  # swap the roles of x and y
        m1 = [[m1[1][1], m1[1][0], m1[1][2]], [m1[0][1], m1[0][0], m1[0][2]], [m1[2][1], m1[2][0], m1[2][2]]]
    cx, cy = width / 2.0, height / 2.0
    to_centred = [[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]]
    from_centred = [[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]]
    m = _matmul(from_centred, _matmul(m1, to_centred))
    n = m[2][2]
    return [m[0][0] / n, m[0][1] / n, m[0][2] / n, m[1][0] / n, m[1][1] / n, m[1][2] / n, m[2][0] / n, m[2][1] / n]


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
