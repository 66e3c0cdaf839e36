"""The HTML failure-mode report: one self-contained file, readable offline, no network requests.

``render_report`` turns judged categories into a page: Jinja2 with autoescaping on, CSS and JS
inlined (and pinned by hash in a Content-Security-Policy, so a string that escaped escaping
still could not run), thumbnails inlined as data URIs, charts drawn as inline SVG.
Nothing here imports pytest: the plugin hands over plain records.
"""
from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from markupsafe import Markup

from .. import __version__
from ..records import CategoryResult, ExampleResult
from ..review_queue import stub_yaml
from ..stats import expected_calibration_error, reliability_bins
from ..terminal import percent as terminal_percent
from . import svg
from .thumbs import Thumbnailer, data_uri, file_thumbnailer, session_thumbnailer

__all__ = ["ReportContext", "render_report", "write_report", "html_extras", "data_uri", "file_thumbnailer",
           "session_thumbnailer"]

_HERE = Path(__file__).parent
SEVERITY_ORDER = ("high", "medium", "low")
#: How each ExampleResult.status reads in the report (and the filter's option text).
STATUS_WORDS = {"regression": "regression", "failure": "unreviewed", "known_failure": "known",
                "waiver_expired": "waiver expired", "waived": "waived", "error": "unreadable", "fixed": "fixed",
                "ambiguous": "ambiguous", "correct": "correct", "stale": "stale review",
                "unstable": "unstable", "conflict": "reviewers disagree"}
#: Most review-queue entries and baseline flips listed; the rest are counted.
LIST_CAP = 200
FLIP_CAP = 25


@dataclass
class ReportContext:
    """What the report needs besides the results: where images live and the run's other findings."""

    title: str = "Edge-case report"
    generated: str = ""                      # ISO time; now, when empty
    rootdir: Path | None = None              # images: rootdir / Path(result.suite_file).parent / example.path
    thumbnail: Callable[[CategoryResult, ExampleResult], str | None] | None = None   # may run in threads
    review_queue: list[dict] = field(default_factory=list)
    baseline: dict | None = None             # category test name -> {"delta","lo","hi","p_value",…}
    agreement: dict | None = None            # {"suite": {...}, "categories": {name: {...}}, "conflicts": [...]}
    failure_cap: int = 50

    def __post_init__(self) -> None:
        if isinstance(self.failure_cap, bool) or not isinstance(self.failure_cap, int) or self.failure_cap < 0:
            raise ValueError(f"failure_cap must be a whole number >= 0 (0 shows no thumbnails), "
                             f"got {self.failure_cap!r}")


# -- rendering ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_HERE)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=_bytecode_cache())
    env.filters["pct"] = percent
    env.filters["status_word"] = lambda s: STATUS_WORDS.get(s, s.replace("_", " "))
    return env


def _bytecode_cache() -> Any:
    """Compiling the template costs a fifth of a second every run; Jinja can keep the compiled code.

    Jinja's default place: a folder in the temp dir that only this user can read or write (Jinja
    checks owner and mode), never the project's cache folder, which CI may restore from elsewhere.
    """
    import jinja2

    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):   # no safe folder: compile every time
        return None


@functools.lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    css = (_HERE / "report.css").read_text(encoding="utf-8")
    js = (_HERE / "report.js").read_text(encoding="utf-8")
    if "</" in css or "</" in js:   # would end the inline <style>/<script> early
        raise RuntimeError("report.css / report.js must not contain '</'")
    return css, js


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_report(results: Sequence[CategoryResult], context: ReportContext) -> str:
    """The whole report as one HTML string (self-contained: no external resource of any kind)."""
    results = list(results)
    css, js = _assets()
    csp = (f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
           "base-uri 'none'; form-action 'none'")
    cats = [_category_view(i, r, context) for i, r in enumerate(results)]
    gallery = _gallery(results, cats, context)
    page = {
        "title": context.title, "generated": context.generated or dt.datetime.now().isoformat(timespec="seconds"),
        "version": __version__, "csp": csp, "css": Markup(css), "js": Markup(js),
        "cats": cats, "suites": _suites(results), "gallery": gallery, "synthetic": _synthetic(results, cats),
        "baseline": [{"cat": c, "b": c["baseline"]} for c in cats if c["baseline"]],
        "agreement": _agreement(cats, context), "review": _review(context),
        "totals": {"categories": len(results), "passed": sum(1 for r in results if r.passed),
                   "images": sum(r.n_examples for r in results),
                   "failures": sum(sum(r.failures_by_severity.values()) for r in results),
                   "regressions": sum(r.regressions for r in results)},
    }
    return _environment().get_template("template.html.j2").render(**page)


def write_report(path: Path, results: Sequence[CategoryResult], context: ReportContext) -> None:
    """Render and write atomically: readers never see a half-written report."""
    from ..files import atomic_write

    atomic_write(Path(path), render_report(results, context))


def html_extras(result: CategoryResult, context: ReportContext, max_thumbs: int = 4) -> list[dict]:
    """pytest-html 4 ``extras`` for a category's row: its summary table and a few failure thumbnails."""
    if isinstance(max_thumbs, bool) or not isinstance(max_thumbs, int) or max_thumbs < 0:
        raise ValueError(f"max_thumbs must be a whole number >= 0, got {max_thumbs!r}")
    thumb = _thumbnailer(context)
    failures = result.failures()
    shown = [(e, _thumb(thumb, result, e)) for e in failures[:max_thumbs]]
    content = _environment().get_template("extras.html.j2").render(
        r=result, severities=_severities(result), shown=shown, more=len(failures) - len(shown))
    # The dict pytest_html.extras.html() makes, built here so pytest-html is never imported.
    return [{"name": None, "format_type": "html", "content": content, "mime_type": None, "extension": None}]


# -- view model: plain dicts the template reads ----------------------------------------------------


def percent(value: Any) -> str:
    """0.8333 → '83.3%'; None, or anything a caller passed that is not a number → '—'."""
    return terminal_percent(value if isinstance(value, (int, float)) and not isinstance(value, bool) else None)


def _thumbnailer(context: ReportContext) -> Thumbnailer | None:
    if context.thumbnail is not None:
        return context.thumbnail
    return file_thumbnailer(context.rootdir) if context.rootdir is not None else None


def _thumb(thumb: Thumbnailer | None, result: CategoryResult, example: ExampleResult) -> str | None:
    if thumb is None or example.status == "error":
        return None
    try:
        uri = thumb(result, example)
    except Exception:  # noqa: BLE001 - a caller's thumbnailer failing costs a preview, not the report
        return None
    # Only inline images; anything else (a URL a caller returned) would be a request leaving the page.
    return uri if isinstance(uri, str) and uri.startswith(("data:image/png;base64,", "data:image/jpeg;base64,",
                                                            "data:image/webp;base64,", "data:image/gif;base64,")) \
        else None


def _bar(r: CategoryResult) -> Markup:
    threshold = r.thresholds.get("min_accuracy")
    return svg.interval_bar(r.accuracy, r.ci_low, r.ci_high, threshold, passed=r.passed)


def _severities(r: CategoryResult) -> list[dict[str, Any]]:
    """Counted failures per severity against their limits (None: unlimited)."""
    limits = r.thresholds.get("max_failures") or {}
    names = [s for s in SEVERITY_ORDER if s in r.failures_by_severity or s in limits]
    names += sorted(s for s in r.failures_by_severity if s not in names)
    out = []
    for s in names:
        count, limit = r.failures_by_severity.get(s, 0), limits.get(s)
        out.append({"name": s, "count": count, "limit": limit, "over": limit is not None and count > limit})
    if "any" in limits:
        total = sum(r.failures_by_severity.values())
        out.append({"name": "any", "count": total, "limit": limits["any"], "over": total > limits["any"]})
    return out


def _scored(examples: Sequence[ExampleResult]) -> list[ExampleResult]:
    return [e for e in examples if e.correct is not None and e.status != "ambiguous" and e.confidence is not None]


def _calibration(examples: Sequence[ExampleResult], title: str, size: int) -> dict[str, Any] | None:
    scored = _scored(examples)
    if not scored:
        return None
    bins = reliability_bins([min(1.0, max(0.0, float(e.confidence))) for e in scored],  # type: ignore[arg-type]
                            [bool(e.correct) for e in scored])
    ece = expected_calibration_error(bins)
    return {"svg": svg.reliability_diagram(bins, ece, size=size, title=title), "ece": ece, "n": len(scored)}


def _confusion(r: CategoryResult) -> dict[str, Any] | None:
    """Counts of expected × predicted; a list of the commonest confusions when labels are many."""
    scored = [e for e in r.examples if e.correct is not None and e.status != "ambiguous" and e.predicted is not None]
    if not scored:
        return None
    counts: dict[tuple[str, str], int] = {}
    for e in scored:
        counts[(e.label, e.predicted)] = counts.get((e.label, e.predicted), 0) + 1  # type: ignore[index]
    seen = {lab for pair in counts for lab in pair}
    labels = [lab for lab in r.labels if lab in seen] if len(r.labels) > 12 else list(r.labels)
    labels += sorted(seen - set(labels))
    if len(labels) > 16:
        pairs = sorted(((n, a, b) for (a, b), n in counts.items() if a != b), key=lambda t: (-t[0], t[1], t[2]))
        return {"pairs": [{"expected": a, "predicted": b, "count": n} for n, a, b in pairs[:15]],
                "more": max(0, len(pairs) - 15), "labels": None}
    peak = max(counts.values())
    rows = []
    for a in labels:
        total = sum(counts.get((a, b), 0) for b in labels)
        cells = []
        for b in labels:
            n = counts.get((a, b), 0)
            # Five shades by share of the busiest cell: classes, not style attributes (the CSP forbids those).
            shade = 0 if n == 0 else 1 + min(3, int(4 * n / peak))
            cells.append({"count": n, "cls": f"{'hit' if a == b else 'miss'} s{shade}"})
        rows.append({"label": a, "cells": cells, "total": total})
    return {"labels": labels, "rows": rows, "pairs": None, "more": 0}


def _category_view(i: int, r: CategoryResult, context: ReportContext) -> dict[str, Any]:
    agreement = (context.agreement or {}).get("categories", {}).get(r.category) or r.agreement or None
    baseline = (context.baseline or {}).get(r.category) or r.baseline or None
    groups = [{"name": g, "n": v.get("n", 0), "accuracy": v.get("accuracy"),
               "bar": svg.interval_bar(v.get("accuracy"), v.get("ci_low"), v.get("ci_high"), width=120)}
              for g, v in r.groups.items()]
    return {
        "id": f"c{i}", "key": str(i), "r": r, "verdict": "error" if r.error else ("passed" if r.passed else "failed"),
        "bar": _bar(r), "threshold": r.thresholds.get("min_accuracy"), "gate": r.thresholds.get("gate"),
        "severities": _severities(r), "confusion": _confusion(r), "groups": groups,
        "calibration": _calibration(r.examples, r.category, 200), "agreement": _agreement_view(agreement),
        "baseline": _baseline_row(baseline) if baseline else None,
        "ambiguous": sum(1 for e in r.examples if e.status == "ambiguous"),
        "errors": sum(1 for e in r.examples if e.status == "error"),
        "stale": sum(1 for e in r.examples if e.stale),
    }


def _suites(results: Sequence[CategoryResult]) -> list[dict[str, Any]]:
    by_file: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        by_file.setdefault(r.suite_file, []).append(i)
    out = []
    for file, idx in by_file.items():
        first = results[idx[0]]
        examples = [e for i in idx for e in results[i].examples]
        run = {k: first.run.get(k) for k in ("model", "device", "precision", "date", "images", "inferred", "cached",
                                             "preprocess", "versions")}
        out.append({"name": first.suite, "file": file, "run": run, "n": len(idx),
                    "passed": sum(1 for i in idx if results[i].passed),
                    "calibration": _calibration(examples, first.suite, 300)})
    return out


def _in_gallery(e: ExampleResult) -> bool:
    return e.is_failure or e.status in ("error", "fixed", "ambiguous") or e.stale


def _gallery(results: Sequence[CategoryResult], cats: Sequence[dict[str, Any]],
             context: ReportContext) -> dict[str, Any]:
    """Failures (and fixed, ambiguous and stale examples), capped per category, worst first."""
    thumb = _thumbnailer(context)
    rank = {s: n for n, s in enumerate(SEVERITY_ORDER)}
    entries, left_out = [], []
    for i, (r, view) in enumerate(zip(results, cats)):
        failures = r.failures()
        listed = {id(e) for e in failures}
        others = sorted((e for e in r.examples if id(e) not in listed and _in_gallery(e)), key=lambda e: e.path)
        chosen = (failures + others)[:context.failure_cap]
        view["gallery_total"], view["gallery_shown"] = len(failures) + len(others), len(chosen)
        if len(failures) + len(others) > len(chosen):
            left_out.append({"cat": view, "count": len(failures) + len(others) - len(chosen)})
        for e in chosen:
            kind = 0 if e.is_failure else 1 if e.status == "error" else 2
            flags = [f for f, on in (("stale", e.stale), ("unstable", e.unstable), ("conflict", e.conflict)) if on]
            directory, _, name = e.path.rpartition("/")
            entries.append({"e": e, "r": r, "cat": view, "thumb": None, "flags": flags,
                            "name": name, "dir": directory,
                            "sort": (kind, rank.get(e.severity, 3), -(e.confidence or 0.0), i, e.path)})
    entries.sort(key=lambda d: d["sort"])
    # Decoding and re-encoding dominate a large report; Pillow releases the GIL while it does both.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for d, uri in zip(entries, pool.map(lambda d: _thumb(thumb, d["r"], d["e"]), entries)):
            d["thumb"] = uri
    statuses = sorted({d["e"].status for d in entries}, key=lambda s: list(STATUS_WORDS).index(s)
                      if s in STATUS_WORDS else 99)
    statuses += [f for f in ("stale", "unstable", "conflict") if any(f in d["flags"] for d in entries)]
    severities = [s for s in SEVERITY_ORDER if any(d["e"].severity == s for d in entries)]
    severities += sorted({d["e"].severity for d in entries} - set(severities))
    return {"entries": entries, "left_out": left_out, "left_out_total": sum(d["count"] for d in left_out),
            "statuses": statuses, "severities": severities, "cap": context.failure_cap}


def _synthetic(results: Sequence[CategoryResult], cats: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy against level, one chart per synthetic base, the source category as a reference line."""
    families: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        if r.level:
            families.setdefault((r.suite_file, r.base), []).append(i)
    out = []
    for (file, base), idx in families.items():
        idx.sort(key=lambda i: (results[i].index, i))
        members = [results[i] for i in idx]
        paths = {e.path for m in members for e in m.examples}
        # The source is the real category holding the same images (the suite's `from:`); results do
        # not name it, and a `from:` folder that no category declares simply has no reference.
        source = next((j for j, r in enumerate(results) if r.suite_file == file and not r.level
                       and r.accuracy is not None and paths <= {e.path for e in r.examples}), None)
        ref = results[source] if source is not None else None
        thresholds = {m.thresholds.get("min_accuracy") for m in members}
        threshold = thresholds.pop() if len(thresholds) == 1 else None
        points = [(m.accuracy, m.ci_low, m.ci_high, m.passed) if m.accuracy is not None else None for m in members]
        chart = svg.level_curve([m.level for m in members], points,  # type: ignore[arg-type]
                                reference=ref.accuracy if ref else None,
                                reference_label=f"source: {ref.category}" if ref else "",
                                threshold=threshold, title=base)
        out.append({"base": base, "suite": members[0].suite, "svg": chart,
                    "source": cats[source] if source is not None else None,
                    "rows": [{"cat": cats[i], "r": results[i]} for i in idx]})
    return out


def p_value_words(p: float | None, significant: bool | None = None) -> str:
    """A McNemar p-value in plain words, for readers who do not read p-values."""
    if p is None:
        return "no paired examples to compare"
    if p < 0.001:
        words = "almost certainly a real change, not noise"
    elif p < 0.01:
        words = "very likely a real change"
    elif p < 0.05:
        words = "probably a real change"
    elif p < 0.1:
        words = "weak evidence; could well be noise"
    else:
        words = "consistent with noise"
    if significant is not None:
        words += " (significant)" if significant else " (not significant)"
    shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return f"{shown}: {words}"


def _capped(paths: Any) -> dict[str, Any]:
    items = [str(p) for p in paths] if isinstance(paths, (list, tuple)) else []
    return {"paths": items[:FLIP_CAP], "more": max(0, len(items) - FLIP_CAP), "n": len(items)}


def _baseline_row(data: Mapping[str, Any]) -> dict[str, Any]:
    delta = data.get("delta")
    return {"delta": delta, "lo": data.get("lo"), "hi": data.get("hi"),
            "words": p_value_words(data.get("p_value"), data.get("significant")),
            "significant": bool(data.get("significant")),
            "direction": "none" if not delta else ("down" if delta < 0 else "up"),
            "newly_wrong": _capped(data.get("newly_wrong")), "newly_right": _capped(data.get("newly_right")),
            "unstable_flips": _capped(data.get("unstable_flips"))}


def kappa_words(kappa: float | None) -> str:
    """Landis & Koch's words for a kappa value."""
    from ..agreement import describe

    return "not enough doubly reviewed examples" if kappa is None else describe(kappa)


def _agreement_view(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not data or not isinstance(data, Mapping):
        return None
    kappa = data.get("kappa")
    kappa = float(kappa) if isinstance(kappa, (int, float)) and not isinstance(kappa, bool) else None
    return {"kappa": kappa, "words": kappa_words(kappa), "method": str(data.get("method") or ""),
            "n": data.get("n")}


def _agreement(cats: Sequence[dict[str, Any]], context: ReportContext) -> dict[str, Any] | None:
    data = context.agreement or {}
    suite = data.get("suite")
    if isinstance(suite, Mapping) and "kappa" not in suite:   # one entry per suite name
        suites = [(str(name), _agreement_view(v)) for name, v in suite.items()]
    else:
        suites = [("", _agreement_view(suite))] if suite else []
    per_cat = [view for view in cats if view["agreement"]]
    conflicts = [{k: _words(c.get(k)) for k in ("image", "category", "reviewers", "verdicts")}
                 for c in data.get("conflicts") or [] if isinstance(c, Mapping)]
    if not (suites or per_cat or conflicts):
        return None
    return {"suites": suites, "cats": per_cat, "conflicts": conflicts[:LIST_CAP],
            "conflicts_more": max(0, len(conflicts) - LIST_CAP)}


def _words(value: Any) -> str:
    """A value for display: lists joined with commas, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _review(context: ReportContext) -> dict[str, Any] | None:
    keys = ("image", "category", "label", "predicted", "confidence", "reason")
    entries = [e for e in context.review_queue if isinstance(e, Mapping)]
    if not entries:
        return None
    shown = [{k: e.get(k) for k in keys} | {"yaml": _stub(e)} for e in entries[:LIST_CAP]]
    return {"entries": shown, "more": max(0, len(entries) - LIST_CAP), "total": len(entries)}


def _stub(entry: Mapping[str, Any]) -> str | None:
    """The entry's annotation stub: the one given, else one written now (only the shown entries pay
    for it); none for a caller's entry that lacks what a stub names."""
    if entry.get("yaml"):
        return str(entry["yaml"])
    if all(entry.get(k) is not None for k in ("image", "category", "label", "reason")):
        return stub_yaml(dict(entry))
    return None
