"""Building the report's view model (model.py) from judged categories and the report's context.

The numbers are worked out here, the template only lays them out. Charts come from svg.py as Markup.
"""
from __future__ import annotations

import concurrent.futures
from typing import Any, Mapping, Sequence

from ..agreement import describe
from ..images import cpu_count
from ..records import Agreement, BaselineComparison, CategoryResult, ExampleResult, severity_rank
from ..review_queue import stub_yaml
from ..slicefinder import Slice
from ..slices import describe as describe_slice
from ..slices import promotion
from ..stats import expected_calibration_error, reliability_bins
from ..terminal import percent as terminal_percent
from ..vocabulary import Severity, Status
from . import svg
from .heatmap import heat_uri, legend_uri
from .model import (
    AgreementSection,
    AgreementView,
    BaselineView,
    Calibration,
    CategoryView,
    ConflictRow,
    Confusion,
    ConfusionCell,
    ConfusionPair,
    ConfusionRow,
    Gallery,
    GalleryEntry,
    GroupRow,
    LeftOut,
    Paths,
    QueueEntry,
    ReportContext,
    ReviewSection,
    SaliencyLegend,
    SeverityRow,
    SliceRow,
    SuiteView,
    SyntheticChart,
    Totals,
)
from .thumbs import Thumbnailer, file_thumbnailer

#: Most review-queue entries and baseline flips listed; the rest are counted.
LIST_CAP = 200
FLIP_CAP = 25
#: Examples a slice lists in the report (its whole list is in the results file's category rows).
SLICE_EXAMPLES = 10
#: Marks on a gallery card besides its status, in the order the status filter lists them.
FLAGS = ("stale", "unstable", "conflict")
#: Where a status sits in the gallery's status filter: vocabulary's order, unknown words last.
_STATUS_ORDER = {s.value: n for n, s in enumerate(Status)}


# -- building them --------------------------------------------------------------------------------
def percent(value: Any) -> str:
    """0.8333 → '83.3%'; None, or anything a caller passed that is not a number → '—'."""
    return terminal_percent(value if isinstance(value, (int, float)) and not isinstance(value, bool) else None)


def thumbnailer(context: ReportContext) -> Thumbnailer | None:
    """The context's thumbnailer, else one reading images under its rootdir, else none."""
    if context.thumbnail is not None:
        return context.thumbnail
    return file_thumbnailer(context.rootdir) if context.rootdir is not None else None


def thumb(make: Thumbnailer | None, result: CategoryResult, example: ExampleResult) -> str | None:
    """An inline image of the example, or None (no thumbnailer, unreadable, or not a data URI)."""
    if make is None or example.status == Status.ERROR:
        return None
    try:
        uri = make(result, example)
    except Exception:  # noqa: BLE001 - a caller's thumbnailer failing costs a preview, not the report
        return None
    # Only inline images; anything else (a URL a caller returned) would be a request leaving the page.
    return uri if isinstance(uri, str) and uri.startswith(("data:image/png;base64,", "data:image/jpeg;base64,",
                                                            "data:image/webp;base64,", "data:image/gif;base64,")) \
        else None


def totals(results: Sequence[CategoryResult]) -> Totals:
    """The headline figures."""
    return Totals(categories=len(results), passed=sum(1 for r in results if r.passed),
                  images=sum(r.n_examples for r in results),
                  failures=sum(sum(r.failures_by_severity.values()) for r in results),
                  regressions=sum(r.regressions for r in results))


def severities(r: CategoryResult) -> list[SeverityRow]:
    """Counted failures per severity against their limits (None: unlimited)."""
    limits = r.thresholds.get("max_failures") or {}
    names = [s.value for s in Severity.most_severe_first() if s in r.failures_by_severity or s in limits]
    names += sorted(s for s in r.failures_by_severity if s not in names)
    out = []
    for s in names:
        count, limit = r.failures_by_severity.get(s, 0), limits.get(s)
        out.append(SeverityRow(name=s, count=count, limit=limit, over=limit is not None and count > limit))
    if "any" in limits:
        total = sum(r.failures_by_severity.values())
        out.append(SeverityRow(name="any", count=total, limit=limits["any"], over=total > limits["any"]))
    return out


def _scored(examples: Sequence[ExampleResult]) -> list[ExampleResult]:
    return [e for e in examples if e.correct is not None and e.status != Status.AMBIGUOUS and e.confidence is not None]


def calibration(examples: Sequence[ExampleResult], title: str, size: int) -> Calibration | None:
    """The reliability diagram of the scored examples; None when none is scored."""
    scored = _scored(examples)
    if not scored:
        return None
    bins = reliability_bins([min(1.0, max(0.0, float(e.confidence))) for e in scored],  # type: ignore[arg-type]
                            [bool(e.correct) for e in scored])
    ece = expected_calibration_error(bins)
    return Calibration(svg=svg.reliability_diagram(bins, ece, size=size, title=title), ece=ece, n=len(scored))


def confusion(r: CategoryResult) -> Confusion | None:
    """Counts of expected × predicted; a list of the commonest confusions when labels are many."""
    scored = [e for e in r.examples
              if e.correct is not None and e.status != Status.AMBIGUOUS and e.predicted is not None]
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
        return Confusion(labels=None, rows=[], more=max(0, len(pairs) - 15),
                         pairs=[ConfusionPair(expected=a, predicted=b, count=n) for n, a, b in pairs[:15]])
    peak = max(counts.values())
    rows = []
    for a in labels:
        total = sum(counts.get((a, b), 0) for b in labels)
        cells = []
        for b in labels:
            n = counts.get((a, b), 0)
            # Five shades by share of the busiest cell: classes, not style attributes (the CSP forbids those).
            shade = 0 if n == 0 else 1 + min(3, int(4 * n / peak))
            cells.append(ConfusionCell(count=n, cls=f"{'hit' if a == b else 'miss'} s{shade}"))
        rows.append(ConfusionRow(label=a, cells=cells, total=total))
    return Confusion(labels=labels, rows=rows, pairs=None, more=0)


def category_view(i: int, r: CategoryResult, context: ReportContext) -> CategoryView:
    """Category i of the report; the context's baseline and agreement, where given, take precedence."""
    agreement = (context.agreement or {}).get("categories", {}).get(r.category) or r.agreement or None
    baseline = (context.baseline or {}).get(r.category) or r.baseline or None
    groups = [GroupRow(name=g, n=v.n, accuracy=v.accuracy,
                       bar=svg.interval_bar(v.accuracy, v.ci_low, v.ci_high, width=120))
              for g, v in r.groups.items()]
    threshold = r.thresholds.get("min_accuracy")
    return CategoryView(
        id=f"c{i}", key=str(i), result=r, verdict="error" if r.error else ("passed" if r.passed else "failed"),
        bar=svg.interval_bar(r.accuracy, r.ci_low, r.ci_high, threshold, passed=r.passed),
        threshold=threshold, gate=r.thresholds.get("gate"),
        severities=severities(r), confusion=confusion(r), groups=groups,
        calibration=calibration(r.examples, r.category, 200), agreement=agreement_view(agreement),
        baseline=baseline_view(baseline) if baseline else None,
        ambiguous=sum(1 for e in r.examples if e.status == Status.AMBIGUOUS),
        errors=sum(1 for e in r.examples if e.status == Status.ERROR),
        stale=sum(1 for e in r.examples if e.stale))


def suites(results: Sequence[CategoryResult]) -> list[SuiteView]:
    """One card per suite file: its run and its calibration over all its categories."""
    by_file: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        by_file.setdefault(r.suite_file, []).append(i)
    out = []
    for file, idx in by_file.items():
        first = results[idx[0]]
        examples = [e for i in idx for e in results[i].examples]
        out.append(SuiteView(name=first.suite, file=file, run=first.run, n=len(idx),
                             passed=sum(1 for i in idx if results[i].passed),
                             calibration=calibration(examples, first.suite, 300)))
    return out


def _in_gallery(e: ExampleResult) -> bool:
    return e.is_failure or e.status in (Status.ERROR, Status.FIXED, Status.AMBIGUOUS) or e.stale


def gallery(results: Sequence[CategoryResult], cats: Sequence[CategoryView], context: ReportContext) -> Gallery:
    """Failures (and fixed, ambiguous and stale examples), capped per category, worst first."""
    make = thumbnailer(context)
    entries: list[GalleryEntry] = []
    left_out: list[LeftOut] = []
    for i, (r, view) in enumerate(zip(results, cats, strict=True)):
        failures = r.failures()
        listed = {id(e) for e in failures}
        others = sorted((e for e in r.examples if id(e) not in listed and _in_gallery(e)), key=lambda e: e.path)
        chosen = (failures + others)[:context.failure_cap]
        view.gallery_total, view.gallery_shown = len(failures) + len(others), len(chosen)
        if len(failures) + len(others) > len(chosen):
            left_out.append(LeftOut(category=view, count=len(failures) + len(others) - len(chosen)))
        for e in chosen:
            kind = 0 if e.is_failure else 1 if e.status == Status.ERROR else 2
            flags = [f for f, on in zip(FLAGS, (e.stale, e.unstable, e.conflict), strict=True) if on]
            directory, _, name = e.path.rpartition("/")
            entries.append(GalleryEntry(example=e, result=r, category=view, flags=flags, name=name, dir=directory,
                                        sort=(kind, severity_rank(e.severity), -(e.confidence or 0.0), i, e.path)))
    entries.sort(key=lambda d: d.sort)
    # Decoding and re-encoding dominate a large report; Pillow releases the GIL while it does both.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, cpu_count())) as pool:
        for d, uri in zip(entries, pool.map(lambda d: thumb(make, d.result, d.example), entries), strict=True):
            d.thumb = uri
    for d in entries:
        if d.thumb is not None:
            d.heat, d.heat_expected = heat_uri(d.example.saliency), heat_uri(d.example.saliency_expected)
    methods = sorted({d.example.saliency.method for d in entries if d.heat and d.example.saliency})
    statuses = sorted({str(d.example.status) for d in entries}, key=lambda s: _STATUS_ORDER.get(s, 99))
    statuses += [f for f in FLAGS if any(f in d.flags for d in entries)]
    shown = [s.value for s in Severity.most_severe_first() if any(d.example.severity == s for d in entries)]
    shown += sorted({str(d.example.severity) for d in entries} - set(shown))
    return Gallery(entries=entries, left_out=left_out, left_out_total=sum(d.count for d in left_out),
                   statuses=statuses, severities=shown, cap=context.failure_cap,
                   saliency=SaliencyLegend(methods=methods, scale=legend_uri()) if methods else None)


def synthetic(results: Sequence[CategoryResult], cats: Sequence[CategoryView]) -> list[SyntheticChart]:
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
        out.append(SyntheticChart(base=base, suite=members[0].suite, svg=chart,
                                  source=cats[source] if source is not None else None, rows=[cats[i] for i in idx]))
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


def _capped(paths: Any) -> Paths:
    items = [str(p) for p in paths] if isinstance(paths, (list, tuple)) else []
    return Paths(paths=items[:FLIP_CAP], more=max(0, len(items) - FLIP_CAP), n=len(items))


def baseline_view(data: BaselineComparison | Mapping[str, Any]) -> BaselineView:
    """A comparison as the report shows it (a caller's context may give it as a dict of the same keys)."""
    cmp = data if isinstance(data, BaselineComparison) else BaselineComparison.from_json(data)
    delta = cmp.delta
    return BaselineView(delta=delta, lo=cmp.lo, hi=cmp.hi, words=p_value_words(cmp.p_value, cmp.significant),
                        significant=bool(cmp.significant),
                        direction="none" if not delta else ("down" if delta < 0 else "up"),
                        newly_wrong=_capped(cmp.newly_wrong), newly_right=_capped(cmp.newly_right),
                        unstable_flips=_capped(cmp.unstable_flips))


def kappa_words(kappa: float | None) -> str:
    """Landis & Koch's words for a kappa value."""
    return "not enough doubly reviewed examples" if kappa is None else describe(kappa)


def agreement_view(data: Agreement | Mapping[str, Any] | None) -> AgreementView | None:
    """Kappa, its words, method and n; None for nothing (a caller's context may give a dict)."""
    if isinstance(data, Agreement):
        kappa, method, n = data.kappa, data.method, data.n
    elif data and isinstance(data, Mapping):
        kappa, method, n = data.get("kappa"), data.get("method"), data.get("n")
    else:
        return None
    kappa = float(kappa) if isinstance(kappa, (int, float)) and not isinstance(kappa, bool) else None
    return AgreementView(kappa=kappa, words=kappa_words(kappa), method=str(method or ""), n=n)


def agreement_section(cats: Sequence[CategoryView], context: ReportContext) -> AgreementSection | None:
    """Per suite (from the context), per category, and the conflicts; None when there is none of them."""
    data = context.agreement or {}
    suite = data.get("suite")
    if isinstance(suite, Mapping) and "kappa" not in suite:   # one entry per suite name
        per_suite = [(str(name), agreement_view(v)) for name, v in suite.items()]
    else:
        per_suite = [("", agreement_view(suite))] if suite else []
    per_cat = [view for view in cats if view.agreement]
    conflicts = [ConflictRow(**{k: _words(c.get(k)) for k in ("image", "category", "reviewers", "verdicts")})
                 for c in data.get("conflicts") or [] if isinstance(c, Mapping)]
    if not (per_suite or per_cat or conflicts):
        return None
    return AgreementSection(suites=per_suite, categories=per_cat, conflicts=conflicts[:LIST_CAP],
                            conflicts_more=max(0, len(conflicts) - LIST_CAP))


def _words(value: Any) -> str:
    """A value for display: lists joined with commas, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def slices_section(found: Sequence[Slice], cats: Sequence[CategoryView]) -> list[SliceRow]:
    """Every slice of the run with its first examples and, where it can be one, a `where:` to paste."""
    anchors = {(c.result.suite, c.result.category): c.id for c in cats}
    return [SliceRow(scope=s.category if s.category is not None else f"{s.suite} (all categories)",
                     anchor=anchors.get((s.suite, s.category)) if s.category is not None else None,
                     where=describe_slice(s.where), n=s.n, errors=s.errors, error_rate=s.error_rate,
                     rest_error_rate=s.rest_error_rate, q=s.q, examples=list(s.examples[:SLICE_EXAMPLES]),
                     more=max(0, len(s.examples) - SLICE_EXAMPLES), promotion=promotion(s)) for s in found]


def review_section(context: ReportContext) -> ReviewSection | None:
    """The first LIST_CAP queue entries with their annotation stubs; None for an empty queue."""
    entries = [e for e in context.review_queue if isinstance(e, Mapping)]
    if not entries:
        return None
    shown = [QueueEntry(image=e.get("image"), category=e.get("category"), label=e.get("label"),
                        predicted=e.get("predicted"), confidence=e.get("confidence"), reason=e.get("reason"),
                        yaml=_stub(e)) for e in entries[:LIST_CAP]]
    total = context.queue_total(len(entries))
    return ReviewSection(entries=shown, more=total - len(shown), total=total)


def _stub(entry: Mapping[str, Any]) -> str | None:
    """The entry's annotation stub: the one given, else one written now (only the shown entries pay
    for it); none for a caller's entry that lacks what a stub names."""
    if entry.get("yaml"):
        return str(entry["yaml"])
    if all(entry.get(k) is not None for k in ("image", "category", "label", "reason")):
        return stub_yaml(dict(entry))
    return None
