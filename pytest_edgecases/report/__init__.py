"""The HTML failure-mode report: one self-contained file, readable offline, no network requests.

``render_report`` turns judged categories into a page: Jinja2 with autoescaping on, CSS and JS
inlined (and pinned by hash in a Content-Security-Policy, so a string that escaped escaping
still could not run), thumbnails inlined as data URIs, charts drawn as inline SVG.
Nothing here imports pytest: the plugin hands over plain records.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from pathlib import Path
from typing import Any, Sequence

from markupsafe import Markup

from .. import __version__
from ..files import atomic_write
from ..records import CategoryResult
from ..vocabulary import Status
from .model import ReportContext
from .review import review_data
from .thumbs import data_uri, file_thumbnailer, session_thumbnailer
from .view import (
    agreement_section,
    category_view,
    gallery,
    kappa_words,
    p_value_words,
    percent,
    review_section,
    severities,
    slices_section,
    suites,
    synthetic,
    thumb,
    thumbnailer,
    totals,
)

__all__ = ["ReportContext", "render_report", "write_report", "html_extras", "data_uri", "file_thumbnailer",
           "session_thumbnailer", "kappa_words", "p_value_words"]

_HERE = Path(__file__).parent
#: How each ExampleResult.status reads in the report (and the filter's option text), then the gallery's flags.
STATUS_WORDS = {Status.REGRESSION: "regression", Status.FAILURE: "unreviewed", Status.KNOWN_FAILURE: "known",
                Status.WAIVER_EXPIRED: "waiver expired", Status.WAIVED: "waived", Status.ERROR: "unreadable",
                Status.FIXED: "fixed", Status.AMBIGUOUS: "ambiguous", Status.CORRECT: "correct",
                "stale": "stale review", "unstable": "unstable", "conflict": "reviewers disagree"}


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
    # One script (one hash in the CSP): the gallery's filters, then review mode.
    js = "\n".join((_HERE / name).read_text(encoding="utf-8") for name in ("report.js", "review.js"))
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
    cats = [category_view(i, r, context) for i, r in enumerate(results)]
    generated = context.generated or dt.datetime.now().isoformat(timespec="seconds")
    reviewing = review_data(results, context, generated)
    page = {
        "title": context.title, "generated": generated, "review_data": reviewing.to_json() if reviewing else None,
        "version": __version__, "csp": csp, "css": Markup(css), "js": Markup(js),
        "cats": cats, "suites": suites(results), "gallery": gallery(results, cats, context),
        "synthetic": synthetic(results, cats), "baseline": [c for c in cats if c.baseline],
        "agreement": agreement_section(cats, context), "review": review_section(context), "totals": totals(results),
        "slices": slices_section(context.slices, cats),
    }
    return _environment().get_template("template.html.j2").render(**page)


def write_report(path: Path, results: Sequence[CategoryResult], context: ReportContext) -> None:
    """Render and write atomically: readers never see a half-written report."""
    atomic_write(Path(path), render_report(results, context))


def html_extras(result: CategoryResult, context: ReportContext, max_thumbs: int = 4) -> list[dict]:
    """pytest-html 4 ``extras`` for a category's row: its summary table and a few failure thumbnails."""
    if isinstance(max_thumbs, bool) or not isinstance(max_thumbs, int) or max_thumbs < 0:
        raise ValueError(f"max_thumbs must be a whole number >= 0, got {max_thumbs!r}")
    make = thumbnailer(context)
    failures = result.failures()
    shown = [(e, thumb(make, result, e)) for e in failures[:max_thumbs]]
    content = _environment().get_template("extras.html.j2").render(
        r=result, severities=severities(result), shown=shown, more=len(failures) - len(shown))
    # The dict pytest_html.extras.html() makes, built here so pytest-html is never imported.
    return [{"name": None, "format_type": "html", "content": content, "mime_type": None, "extension": None}]
