"""Inline SVG charts drawn from the data: no plotting library, nothing fetched, prints sharply.

Every function returns ``Markup`` that is safe to place in the page: numbers are formatted
here, and every piece of text (a level name comes from YAML) goes through ``escape``.
Colours come from CSS classes in the page, so charts follow the page's light/dark theme.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from markupsafe import Markup, escape

from ..stats import ReliabilityBin
from ..terminal import percent as _pct


def _n(x: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _el(tag: str, attrs: dict[str, object], *children: str) -> Markup:
    """One element; attribute values and text children are escaped (nested elements are Markup already)."""
    parts = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items() if v is not None)
    if not children:
        return Markup(f"<{tag}{parts}/>")
    return Markup(f"<{tag}{parts}>{''.join(str(escape(c)) for c in children)}</{tag}>")


def _svg(width: float, height: float, label: str, body: Iterable[str], cls: str) -> Markup:
    inner = "".join(body)
    return Markup(f'<svg class="{cls}" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
                  f'height="{_n(height)}" role="img" aria-label="{escape(label)}">'
                  f"<title>{escape(label)}</title>{inner}</svg>")


def interval_bar(value: float | None, lo: float | None, hi: float | None, threshold: float | None = None,
                 *, passed: bool | None = None, width: int = 150, height: int = 18) -> Markup:
    """Accuracy as a dot, its 95% interval as a band, the threshold as a tick, on a 0–100% track."""
    pad = 4.0
    span = width - 2 * pad

    def x(v: float) -> float:
        return pad + max(0.0, min(1.0, v)) * span

    mid = height / 2
    label = f"accuracy {_pct(value)}"
    if lo is not None and hi is not None:
        label += f", 95% interval {_pct(lo)}–{_pct(hi)}"
    if threshold is not None:
        label += f", threshold {_pct(threshold)}"
    state = "" if passed is None else (" ok" if passed else " bad")
    body = [_el("rect", {"class": "track", "x": _n(pad), "y": _n(mid - 2), "width": _n(span), "height": "4",
                         "rx": "2"})]
    if threshold is not None:
        # The region below the threshold is shaded, so "short of it" reads without a legend.
        body.append(_el("rect", {"class": "below", "x": _n(pad), "y": _n(mid - 2), "width": _n(x(threshold) - pad),
                                 "height": "4", "rx": "2"}))
    if lo is not None and hi is not None:
        body.append(_el("rect", {"class": "ci" + state, "x": _n(x(lo)), "y": _n(mid - 4),
                                 "width": _n(max(1.0, x(hi) - x(lo))), "height": "8", "rx": "3"}))
    if threshold is not None:
        body.append(_el("line", {"class": "thr", "x1": _n(x(threshold)), "x2": _n(x(threshold)), "y1": "1",
                                 "y2": _n(height - 1)}))
    if value is not None:
        body.append(_el("circle", {"class": "dot" + state, "cx": _n(x(value)), "cy": _n(mid), "r": "3.5"}))
    return _svg(width, height, label, body, "bar")


def reliability_diagram(bins: Sequence[ReliabilityBin], ece: float | None, *, size: int = 240,
                        title: str = "") -> Markup:
    """Accuracy against confidence per bin, the diagonal of perfect calibration, counts below."""
    left, top, right, bottom, strip = 34.0, 18.0, 8.0, 34.0, 14.0
    plot = size - left - right
    height = top + plot + strip + bottom

    def x(v: float) -> float:
        return left + v * plot

    def y(v: float) -> float:
        return top + (1 - v) * plot

    n = sum(b.count for b in bins)
    label = (f"{title + ': ' if title else ''}reliability diagram, {n} predictions, "
             f"expected calibration error {_pct(ece)}")
    body = [_el("rect", {"class": "frame", "x": _n(left), "y": _n(top), "width": _n(plot), "height": _n(plot)})]
    for v in (0.0, 0.5, 1.0):
        body.append(_el("line", {"class": "grid", "x1": _n(left), "x2": _n(left + plot), "y1": _n(y(v)),
                                 "y2": _n(y(v))}))
        body.append(_el("text", {"class": "tick", "x": _n(left - 4), "y": _n(y(v) + 3), "text-anchor": "end"},
                        f"{v:.0%}"))
        body.append(_el("text", {"class": "tick", "x": _n(x(v)), "y": _n(top + plot + strip + 12),
                                 "text-anchor": "middle"}, f"{v:.0%}"))
    peak = max((b.count for b in bins), default=0) or 1
    for b in bins:
        if not b.count or b.accuracy is None or b.mean_confidence is None:
            continue
        x0, w = x(b.lo) + 0.5, max(0.5, (b.hi - b.lo) * plot - 1)
        tip = (f"confidence {b.lo:.0%}–{b.hi:.0%}: {b.count} predictions, mean confidence "
               f"{b.mean_confidence:.1%}, accuracy {b.accuracy:.1%}")
        body.append(_el("rect", {"class": "acc", "x": _n(x0), "y": _n(y(b.accuracy)), "width": _n(w),
                                 "height": _n(max(0.0, b.accuracy * plot))}, _el("title", {}, tip)))
        gap_top, gap_bottom = max(b.accuracy, b.mean_confidence), min(b.accuracy, b.mean_confidence)
        if gap_top - gap_bottom > 0.005:
            cls = "gap over" if b.mean_confidence > b.accuracy else "gap under"
            body.append(_el("rect", {"class": cls, "x": _n(x0), "y": _n(y(gap_top)), "width": _n(w),
                                     "height": _n((gap_top - gap_bottom) * plot)}, _el("title", {}, tip)))
        bar = (b.count / peak) * (strip - 3)
        body.append(_el("rect", {"class": "count", "x": _n(x0), "y": _n(top + plot + strip - bar), "width": _n(w),
                                 "height": _n(bar)}, _el("title", {}, f"{b.count} predictions")))
    body.append(_el("line", {"class": "diag", "x1": _n(x(0)), "y1": _n(y(0)), "x2": _n(x(1)), "y2": _n(y(1))}))
    body.append(_el("text", {"class": "axis", "x": _n(left + plot / 2), "y": _n(height - 4),
                             "text-anchor": "middle"}, "confidence"))
    body.append(_el("text", {"class": "axis", "x": "10", "y": _n(top + plot / 2), "text-anchor": "middle",
                             "transform": f"rotate(-90 10 {_n(top + plot / 2)})"}, "accuracy"))
    body.append(_el("text", {"class": "note", "x": _n(left + 4), "y": _n(top - 6)},
                    f"ECE {_pct(ece)} · n={n}"))
    return _svg(size, height, label, body, "chart reliability")


def level_curve(levels: Sequence[str], points: Sequence[tuple[float, float, float, bool] | None], *,
                reference: float | None = None, reference_label: str = "", threshold: float | None = None,
                title: str = "", width: int = 420, height: int = 220) -> Markup:
    """Accuracy (with 95% intervals) against a synthetic category's levels, in declared order.

    ``points[i]`` is (accuracy, ci_low, ci_high, passed) for ``levels[i]``, or None when that level
    could not be scored. ``reference`` is the source category's accuracy, drawn as a dashed line.
    """
    if len(levels) != len(points):
        raise ValueError(f"levels and points must have equal lengths, got {len(levels)} and {len(points)}")
    left, top, right, bottom = 40.0, 20.0, 12.0, 46.0
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (pw / 2 if len(levels) == 1 else i * pw / (len(levels) - 1))

    def y(v: float) -> float:
        return top + (1 - max(0.0, min(1.0, v))) * ph

    label = f"{title + ': ' if title else ''}accuracy by level: " + ", ".join(
        f"{lv} {_pct(p[0]) if p else 'not scored'}" for lv, p in zip(levels, points, strict=True))
    body = [_el("rect", {"class": "frame", "x": _n(left), "y": _n(top), "width": _n(pw), "height": _n(ph)})]
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(_el("line", {"class": "grid", "x1": _n(left), "x2": _n(left + pw), "y1": _n(y(v)),
                                 "y2": _n(y(v))}))
        body.append(_el("text", {"class": "tick", "x": _n(left - 4), "y": _n(y(v) + 3), "text-anchor": "end"},
                        f"{v:.0%}"))
    if threshold is not None:
        body.append(_el("line", {"class": "thr", "x1": _n(left), "x2": _n(left + pw), "y1": _n(y(threshold)),
                                 "y2": _n(y(threshold))}, _el("title", {}, f"threshold {_pct(threshold)}")))
    if reference is not None:
        body.append(_el("line", {"class": "ref", "x1": _n(left), "x2": _n(left + pw), "y1": _n(y(reference)),
                                 "y2": _n(y(reference))}))
        body.append(_el("text", {"class": "note", "x": _n(left + pw - 2), "y": _n(y(reference) - 4),
                                 "text-anchor": "end"}, f"{reference_label or 'source'} {_pct(reference)}"))
    line = [f"{_n(x(i))},{_n(y(p[0]))}" for i, p in enumerate(points) if p is not None]
    if len(line) > 1:
        body.append(_el("polyline", {"class": "curve", "points": " ".join(line)}))
    for i, (lv, p) in enumerate(zip(levels, points, strict=True)):
        short = lv if len(lv) <= 16 else lv[:15] + "…"
        body.append(_el("text", {"class": "tick", "x": _n(x(i)), "y": _n(top + ph + 14), "text-anchor": "middle"},
                        short, _el("title", {}, lv)))
        if p is None:
            continue
        acc, lo, hi, ok = p
        tip = f"{lv}: accuracy {_pct(acc)}, 95% interval {_pct(lo)}–{_pct(hi)}"
        body.append(_el("line", {"class": "err", "x1": _n(x(i)), "x2": _n(x(i)), "y1": _n(y(lo)), "y2": _n(y(hi))}))
        body.append(_el("circle", {"class": "dot " + ("ok" if ok else "bad"), "cx": _n(x(i)), "cy": _n(y(acc)),
                                   "r": "4"}, _el("title", {}, tip)))
    body.append(_el("text", {"class": "axis", "x": _n(left + pw / 2), "y": _n(height - 6),
                             "text-anchor": "middle"}, "level"))
    return _svg(width, height, label, body, "chart levels")
