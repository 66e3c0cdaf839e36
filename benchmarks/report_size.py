"""How big and how fast is the report for a large suite?

Builds N synthetic ExampleResults (default 20,000 in 40 categories, 2,000 of them failures),
writes one photo-like 320×240 PNG per failure (only failures get thumbnails), renders the report
through the default thumbnailer, and prints the file size and the time to render. Then opens
the file in headless Chromium and prints DOMContentLoaded / load times (Navigation Timing) and
how long one filter change takes. Usage:

    PYTHONPATH=. python benchmarks/report_size.py [--examples 20000 --categories 40 --failures 2000]
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pytest_edgecases.records import CategoryResult, Check, ExampleResult, RunInfo
from pytest_edgecases.report import ReportContext, render_report, write_report
from pytest_edgecases.review_queue import queue_entries
from pytest_edgecases.stats import wilson_interval

LABELS = ["stop", "yield", "speed_limit", "no_entry", "give_way", "pedestrian", "cycle", "school", "parking",
          "roundabout"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def photo(rng: random.Random, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like image: a lit gradient, a few shapes, sensor noise (so JPEG is not trivially small)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * rng.uniform(80, 200), yy / h * rng.uniform(80, 200),
                     np.full_like(xx, rng.uniform(40, 160))], axis=-1)
    im = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(w // 20, w // 4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    arr = np.asarray(im, dtype=np.int16) + np.random.default_rng(rng.randrange(1 << 30)).integers(-12, 13, (h, w, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def build(root: Path, n_examples: int, n_categories: int, n_failures: int, seed: int = 0) -> list[CategoryResult]:
    """Categories of equal size; failures spread evenly; one image file per failure under root."""
    rng = random.Random(seed)
    per_cat, fail_per_cat = n_examples // n_categories, n_failures // n_categories
    results = []
    for c in range(n_categories):
        name = f"category_{c:02d}"
        examples = []
        for i in range(per_cat):
            label = LABELS[i % len(LABELS)]
            wrong = i < fail_per_cat
            predicted = LABELS[(i + 1 + c) % len(LABELS)] if wrong else label
            if wrong and predicted == label:
                predicted = LABELS[(LABELS.index(label) + 1) % len(LABELS)]
            confidence = rng.uniform(0.35, 0.99) if wrong else rng.uniform(0.6, 1.0)
            second = LABELS[(LABELS.index(predicted) + 3) % len(LABELS)]
            path = f"data/{name}/{label}/{i:05d}.jpg"
            if wrong:
                file = root / path
                file.parent.mkdir(parents=True, exist_ok=True)
                photo(rng).save(file.with_suffix(".png"))
                path = path[:-4] + ".png"
            severity = ("high", "medium", "low")[i % 3]
            status = ("failure", "known_failure", "regression", "waived")[i % 4] if wrong else "correct"
            examples.append(ExampleResult(
                path=path, category=name, label=label, predicted=predicted, confidence=confidence,
                correct=not wrong, severity=severity, status=status, counted=wrong and status != "waived",
                top=[[predicted, confidence], [second, (1 - confidence) * 0.7], [label, (1 - confidence) * 0.2]],
                margin=confidence - (1 - confidence) * 0.7, metadata={"camera": f"cam{i % 4}"},
                reviewed=status != "failure", reviewers=["alice"] if status != "failure" else [],
                comment="Partly occluded by a branch; reviewer unsure about the lower half." if wrong else ""))
        k = per_cat - fail_per_cat
        lo, hi = wilson_interval(k, per_cat)
        by_sev = {s: sum(1 for e in examples if e.counted and e.severity == s) for s in ("high", "medium", "low")}
        results.append(CategoryResult(
            suite="road-signs", suite_file="edgecases.yaml", category=name, base=name, level="", description="",
            passed=k / per_cat >= 0.9, n_examples=per_cat, n_scored=per_cat, n_correct=k, accuracy=k / per_cat,
            ci_low=lo, ci_high=hi, failures_by_severity=by_sev, regressions=fail_per_cat // 4, fixed=0,
            checks=[Check("min_accuracy", f"{k / per_cat:.1%}", ">= 90.0%", k / per_cat >= 0.9)],
            examples=examples, labels=LABELS, thresholds={"min_accuracy": 0.9, "max_failures": {"high": 0}},
            run=RunInfo(model="0123456789abcdef", device="cuda:0", precision="fp32"), index=c))
    return results


def open_in_chromium(path: Path, repeats: int) -> None:
    """DOMContentLoaded and load, from the Navigation Timing entry, median of `repeats` fresh pages."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: playwright is not installed; skipped")
        return
    executable = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()),
                      None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        dcl, load, wall, filt, review = [], [], [], [], []
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            wall.append(time.perf_counter() - start)
            nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                " return [n.domContentLoadedEventEnd, n.loadEventEnd]; })()")
            dcl.append(nav[0] / 1000)
            load.append(nav[1] / 1000)
            filt.append(page.evaluate("""(() => { const s = document.querySelector('#filters select[name=severity]');
                const t = performance.now(); s.value = 'high'; s.dispatchEvent(new Event('change', {bubbles: true}));
                return performance.now() - t; })()""") / 1000)
            if page.locator("#review-open").count():   # review mode: open it, name the reviewer, judge, next
                page.evaluate("localStorage.setItem('pytest-edgecases:reviewer', JSON.stringify('bench'))")
                review.append(page.evaluate("""(() => { const t = performance.now();
                    document.getElementById('review-open').click();
                    for (const k of ['i', '3', 'j']) document.dispatchEvent(new KeyboardEvent('keydown', {key: k}));
                    return performance.now() - t; })()""") / 1000)
            page.close()
        browser.close()
    ms = {name: statistics.median(values) * 1000 for name, values in
          (("dcl", dcl), ("load", load), ("wall", wall), ("filter", filt))}
    print(f"browser: DOMContentLoaded {ms['dcl']:.0f} ms, load {ms['load']:.0f} ms, goto wall {ms['wall']:.0f} ms, "
          f"one filter change {ms['filter']:.1f} ms (median of {repeats}, headless Chromium)")
    if review:
        print(f"review mode: open, judge one example and move to the next {statistics.median(review) * 1000:.1f} ms")


def main() -> None:
    """Build, render, write, open; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--categories", type=int, default=40)
    parser.add_argument("--failures", type=int, default=2_000)
    parser.add_argument("--cap", type=int, default=50, help="failure_cap per category")
    parser.add_argument("--out", type=Path, default=None, help="keep the report here (default: a temp dir)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-review", action="store_true", help="leave the review queue (and review mode) out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        results = build(root, args.examples, args.categories, args.failures)
        print(f"built {sum(r.n_examples for r in results)} examples in {len(results)} categories, "
              f"{sum(len(r.failures()) for r in results)} failures ({time.perf_counter() - start:.1f}s)")
        # As a run writes it: with the review queue, so review mode's data and large images are in it.
        queue = [] if args.no_review else queue_entries(results)
        context = ReportContext(title="Benchmark", rootdir=root, failure_cap=args.cap, review_queue=queue)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            html = render_report(results, context)
            times.append(time.perf_counter() - start)
        no_thumbs = ReportContext(title="Benchmark", thumbnail=lambda r, e: None, failure_cap=args.cap,
                                  review_queue=queue)
        start = time.perf_counter()
        render_report(results, no_thumbs)
        bare = time.perf_counter() - start
        out = args.out or root / "report.html"
        write_report(out, results, context)
        size = out.stat().st_size
        thumbs = html.count('<img src="data:image/')
        start_data = html.find('<template id="review-data">')
        review_bytes = html.find("</template>", start_data) - start_data if start_data >= 0 else 0
        large = html.count("data:image/", start_data, start_data + review_bytes) if review_bytes else 0
        print(f"review mode data: {review_bytes / 1e6:.2f} MB ({len(queue)} queued; {large} large images)")
        print(f"report: {size / 1e6:.2f} MB ({size} bytes), {thumbs} thumbnails; render "
              f"{statistics.median(times):.2f} s (median of {args.repeats}; {bare:.2f} s of it without thumbnails)")
        if not args.no_browser:
            open_in_chromium(out, args.repeats)


if __name__ == "__main__":
    main()
