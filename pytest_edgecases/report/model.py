"""The report's view model: the typed records the template reads, and the context a caller gives.

Records rather than dicts, so that the template, view.py (which builds them) and callers agree
on every name. The numbers are worked out in view.py; the template only lays them out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from markupsafe import Markup

from ..records import BaselineComparison, CategoryResult, ExampleResult, RunInfo
from ..slicefinder import Slice

#: Most gallery cards per category (ReportContext.failure_cap's default); explain_run.py explains as many.
FAILURE_CAP = 50


@dataclass
class ReportContext:
    """What the report needs besides the results: where images live and the run's other findings."""

    title: str = "Edge-case report"
    generated: str = ""                      # ISO time; now, when empty
    rootdir: Path | None = None              # images: rootdir / Path(result.suite_file).parent / example.path
    thumbnail: Callable[[CategoryResult, ExampleResult], str | None] | None = None   # may run in threads
    review_queue: list[dict] = field(default_factory=list)   # the queue's most urgent entries (or all of it)
    review_total: int | None = None          # the queue's size, where review_queue holds only its head
    baseline: Mapping[str, BaselineComparison | Mapping[str, Any]] | None = None   # category test name -> comparison
    agreement: dict | None = None            # {"suite": {...}, "categories": {name: {...}}, "conflicts": [...]}
    failure_cap: int = FAILURE_CAP
    review_image: Callable[[CategoryResult, ExampleResult], str | None] | None = None   # review mode's large images
    annotations: Mapping[str, Sequence[str]] = field(default_factory=dict)   # suite file -> `annotations:` places
    slices: Sequence[Slice] = ()             # where errors concentrate (slices.py), most significant first

    def queue_total(self, listed: int) -> int:
        """The review queue's size: review_total where given, else the ``listed`` entries themselves."""
        return max(listed, self.review_total or 0)

    def __post_init__(self) -> None:
        if isinstance(self.failure_cap, bool) or not isinstance(self.failure_cap, int) or self.failure_cap < 0:
            raise ValueError(f"failure_cap must be a whole number >= 0 (0 shows no thumbnails), "
                             f"got {self.failure_cap!r}")


@dataclass
class SeverityRow:
    """Counted failures of one severity (or "any") against its limit (None: unlimited)."""

    name: str
    count: int
    limit: int | None
    over: bool


@dataclass
class GroupRow:
    """One value of the category's group_by column."""

    name: str
    n: int
    accuracy: float | None
    bar: Markup


@dataclass
class Calibration:
    """A reliability diagram and its expected calibration error."""

    svg: Markup
    ece: float | None
    n: int


@dataclass
class ConfusionCell:
    """One expected × predicted count and its shading class."""

    count: int
    cls: str                                 # hit/miss and a shade: classes, since the CSP forbids style attributes


@dataclass
class ConfusionRow:
    """The counts of one expected label, predicted label by predicted label."""

    label: str
    cells: list[ConfusionCell]
    total: int


@dataclass
class ConfusionPair:
    """One confusion and how often it happened (the list shown when labels are many)."""

    expected: str
    predicted: str
    count: int


@dataclass
class Confusion:
    """A matrix (labels and rows) or, when labels are many, the commonest confusions (pairs)."""

    labels: list[str] | None
    rows: list[ConfusionRow]
    pairs: list[ConfusionPair] | None
    more: int


@dataclass
class AgreementView:
    """A kappa with its words, from a result's Agreement or a caller's dict."""

    kappa: float | None
    words: str
    method: str
    n: Any                                   # as given: a caller's context may hold anything here


@dataclass
class Paths:
    """Example paths, the first FLIP_CAP of them shown."""

    paths: list[str]
    more: int
    n: int


@dataclass
class BaselineView:
    """A baseline comparison as the category panel and the baseline section show it."""

    delta: float | None
    lo: float | None
    hi: float | None
    words: str
    significant: bool
    direction: str                           # "down", "up" or "none"
    newly_wrong: Paths
    newly_right: Paths
    unstable_flips: Paths


@dataclass
class CategoryView:
    """One category as the summary table, its panel, the gallery and the charts show it."""

    id: str                                  # the HTML anchor
    key: str                                 # the gallery filter's value
    result: CategoryResult
    verdict: str                             # "passed", "failed" or "error"
    bar: Markup
    threshold: float | None
    gate: str | None
    severities: list[SeverityRow]
    confusion: Confusion | None
    groups: list[GroupRow]
    calibration: Calibration | None
    agreement: AgreementView | None
    baseline: BaselineView | None
    ambiguous: int
    errors: int
    stale: int
    gallery_total: int = 0
    gallery_shown: int = 0


@dataclass
class GalleryEntry:
    """A card in the failure gallery."""

    example: ExampleResult
    result: CategoryResult
    category: CategoryView
    flags: list[str]
    name: str                                # file name
    dir: str                                 # its folder
    sort: tuple
    thumb: str | None = None
    heat: str | None = None                  # saliency for the predicted label (heatmap.heat_uri)
    heat_expected: str | None = None         # for the expected label, where the example has that map too


@dataclass
class LeftOut:
    """Gallery entries of one category over the cap."""

    category: CategoryView
    count: int


@dataclass
class Gallery:
    """The failure gallery: its cards, what the cap left out, and the filters' options."""

    entries: list[GalleryEntry]
    left_out: list[LeftOut]
    left_out_total: int
    statuses: list[str]
    severities: list[str]
    cap: int
    saliency: SaliencyLegend | None = None   # the legend, where a card has a heat map


@dataclass
class SaliencyLegend:
    """What the heat maps show: the methods that made them, and the colour scale."""

    methods: list[str]
    scale: str                               # heatmap.legend_uri


@dataclass
class SuiteView:
    """A suite's card in the summary: its run and its calibration."""

    name: str
    file: str
    run: RunInfo
    n: int
    passed: int
    calibration: Calibration | None


@dataclass
class SyntheticChart:
    """Accuracy against level for one synthetic base, with the categories it plots."""

    base: str
    suite: str
    svg: Markup
    source: CategoryView | None
    rows: list[CategoryView]


@dataclass
class ConflictRow:
    """A conflict a caller's context lists, its lists joined for display."""

    image: str
    category: str
    reviewers: str
    verdicts: str


@dataclass
class AgreementSection:
    """The reviewer agreement section: per suite, per category, and the conflicts."""

    suites: list[tuple[str, AgreementView | None]]
    categories: list[CategoryView]
    conflicts: list[ConflictRow]
    conflicts_more: int


@dataclass
class QueueEntry:
    """A review-queue entry as shown, with its annotation stub."""

    image: Any
    category: Any
    label: Any
    predicted: Any
    confidence: Any
    reason: Any
    yaml: str | None


@dataclass
class ReviewSection:
    """The first review-queue entries, and how many there are in all."""

    entries: list[QueueEntry]
    more: int
    total: int


@dataclass
class SliceRow:
    """One slice where errors concentrate, as the report lists it."""

    scope: str                               # the category's test name, or "<suite> (all categories)"
    anchor: str | None                       # the category panel's id, where the slice is one category's
    where: str                               # "camera = dashcam_b and lux < 20"
    n: int
    errors: int
    error_rate: float
    rest_error_rate: float
    q: float
    examples: list[str]                      # the first few, the rest counted in ``more``
    more: int
    promotion: str | None                    # a `where:` category to paste, or None where none can be made


@dataclass
class Totals:
    """The headline figures of the run."""

    categories: int
    passed: int
    images: int
    failures: int
    regressions: int
