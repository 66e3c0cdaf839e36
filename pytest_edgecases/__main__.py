"""``python -m pytest_edgecases report RESULTS.json [--baseline B.json] -o report.html``, and
``python -m pytest_edgecases jobs SUITE... --out DIR``.

``report`` regenerates the HTML report from a saved JSON results file (``--edgecases-results=PATH.json``)
without loading the model, optionally comparing it with a baseline first. ``jobs`` writes every model
input the suites need, and a jobs file listing them, for another engine to predict (jobs.py). Errors in
the user's files are one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Sequence

from .baseline import compare_all, load_baseline
from .errors import EdgecasesError
from .jobs import export
from .results import read_results
from .review_queue import REPORT_ENTRIES, queue_head

#: Exit statuses: 0 written, 1 could not write, 2 bad input (as argparse uses for bad arguments).
OK, WRITE_FAILED, BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The command line: the sub-commands ``report`` and ``jobs``."""
    parser = argparse.ArgumentParser(prog="python -m pytest_edgecases",
                                     description="Tools for pytest-edgecases runs that need no model.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser("report", help="regenerate the HTML report from a JSON results file",
                                 description="Regenerate the HTML failure-mode report from the JSON file written "
                                             "by --edgecases-results=PATH.json, without running the model.")
    report.add_argument("results", type=Path, metavar="RESULTS.json", help="results file of an earlier run")
    report.add_argument("--baseline", type=Path, metavar="B.json",
                        help="compare with this baseline (--edgecases-save-baseline) instead of the one the run "
                             "used; the baseline thresholds are judged again against it")
    report.add_argument("-o", "--output", type=Path, default=Path("edgecases-report.html"), metavar="PATH",
                        help="where to write the report (default: edgecases-report.html)")
    report.add_argument("--rootdir", type=Path, default=Path("."), metavar="DIR",
                        help="the project root the suite paths are relative to, for thumbnails (default: .)")
    report.add_argument("--title", default=None, help="report title (default: the suite names)")
    report.add_argument("--no-thumbnails", action="store_true", help="leave images out of the report")
    report.add_argument("--failure-cap", type=int, default=None, metavar="N",
                        help="show at most N failures per category (default: the report's own cap)")
    jobs = commands.add_parser("jobs", help="write every model input the suites need, and jobs.parquet listing them",
                               description="Write every image the suites need (synthetic levels rendered; all as "
                                           "lossless PNG) and DIR/jobs.parquet (and jobs.csv) with one row per input, "
                                           "for another engine to predict (docs/predictions.md).")
    jobs.add_argument("suites", type=Path, nargs="+", metavar="SUITE", help="suite files (edgecases.yaml)")
    jobs.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder to write into")
    jobs.add_argument("--rootdir", type=Path, default=Path("."), metavar="DIR",
                      help="the project root, as pytest finds it (default: .): synthetic levels are seeded by the "
                           "image's path inside it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _jobs(args) if args.command == "jobs" else _report(args)
    except EdgecasesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT


def _jobs(args: argparse.Namespace) -> int:
    try:
        done = export(args.suites, args.rootdir, args.out)
    except OSError as exc:
        print(f"error: could not write into {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return WRITE_FAILED
    for line in done.unreadable:
        print(f"warning: not exported (the run reports it as an error): {line}", file=sys.stderr)
    print(f"{len(done.rows)} jobs ({done.images} images) written to {args.out / 'jobs.parquet'}")
    return OK


def _report(args: argparse.Namespace) -> int:
    if args.failure_cap is not None and args.failure_cap < 0:
        raise EdgecasesError(f"--failure-cap must be a whole number >= 0, got {args.failure_cap}")
    if args.results.suffix.lower() != ".json":
        raise EdgecasesError("only a JSON results file can be reloaded", str(args.results),
                             hint="write one with --edgecases-results=PATH.json")
    try:
        results = read_results(args.results)
    except FileNotFoundError:
        raise EdgecasesError("results file not found", str(args.results)) from None
    except OSError as exc:
        raise EdgecasesError(f"cannot read the results file: {exc.strerror or exc}", str(args.results)) from None
    except json.JSONDecodeError as exc:
        raise EdgecasesError(f"not valid JSON (line {exc.lineno}: {exc.msg})", str(args.results)) from None
    except (ValueError, KeyError, TypeError, AttributeError):   # wrong schema, or a damaged file
        raise EdgecasesError("not a pytest-edgecases JSON results file (or a damaged one)", str(args.results),
                             hint="write one with --edgecases-results=PATH.json") from None
    if not results:
        raise EdgecasesError("the results file holds no categories", str(args.results))
    if args.baseline is not None:
        compare_all(results, load_baseline(args.baseline))

    try:
        from . import report as html  # lazy: the report pulls in jinja2 and image code
    except ImportError as exc:
        print(f"error: the HTML report module is not available: {exc}", file=sys.stderr)
        return WRITE_FAILED

    suites = ", ".join(dict.fromkeys(r.suite for r in results))
    rootdir = args.rootdir.resolve()
    options = {"failure_cap": args.failure_cap} if args.failure_cap is not None else {}
    thumbnailer = getattr(html, "file_thumbnailer", None)   # images are read from rootdir, as the run did
    if thumbnailer is not None and not args.no_thumbnails:
        options["thumbnail"] = thumbnailer(rootdir)
    head = queue_head(results, REPORT_ENTRIES)   # the review queue the run would have written, as its report shows it
    options["review_queue"], options["review_total"] = head.entries, head.total
    context = html.ReportContext(
        title=args.title or f"Edge cases: {suites}",
        generated=dt.datetime.now().isoformat(timespec="seconds"),
        rootdir=rootdir,
        baseline={r.category: r.baseline for r in results if r.baseline},
        **options)
    try:
        html.write_report(args.output, results, context)
    except OSError as exc:
        print(f"error: could not write the report {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return WRITE_FAILED
    print(f"report written to {args.output}")
    return OK


if __name__ == "__main__":
    sys.exit(main())
