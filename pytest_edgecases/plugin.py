"""pytest hooks and options only; the work lives in session.py and the pure modules.

Nothing heavy is imported here: torch is imported only once ``--edgecases`` is given and
inference starts, so having the plugin installed costs ordinary pytest runs nothing. Modules that
pull in YAML, Pillow or tabulate (the session, the nodes, the summary table) are imported in the
hooks that run only with ``--edgecases``.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Generator

import pytest

from . import hookspec
from .errors import EdgecasesError, printable
from .files import only_images
from .inference.device import resolve_device
from .inference.shard import Shard, parse_shard
from .stash import SESSION_KEY, session_of

IMAGE_DIRS_KEY = pytest.StashKey[dict]()   # folder -> holds nothing but images
DEFAULT_PATTERNS = ["edgecases.yaml", "*.edgecases.yaml"]

# name, ini default, help. Every option is also an ini key (dashes become underscores).
_OPTIONS = [
    ("engine", "local", "where inference runs: local (this process) or ray (a Ray cluster's actors, docs/scaling.md)"),
    ("ray-address", "", "with --edgecases-engine=ray: the cluster to join (else RAY_ADDRESS, else a local instance)"),
    ("ray-actors", "auto", "with --edgecases-engine=ray: actors inferring (auto: one per GPU, or CPU, of the cluster)"),
    ("ray-gpus-per-actor", "0", "with --edgecases-engine=ray: GPUs per actor (0: the actors infer on their CPUs)"),
    ("device", "auto", "where inference runs: auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps"),
    ("batch-size", "32", "inference batch size"),
    ("report", "edgecases-report.html", "self-contained HTML report path ('none' disables)"),
    ("results", "", "write one row per example to PATH (.csv or .json)"),
    ("baseline", "", "compare this run with a saved baseline"),
    ("save-baseline", "", "save this run as a baseline"),
    ("review-queue", "", "write annotation stubs for examples that need human review"),
    ("markdown", "", "write a Markdown summary (CI step summary, PR comment)"),
    ("cache-dir", "", "where cached predictions live (default: inside pytest's cache directory)"),
    ("cache-max-age", "30", "drop cached predictions no run has used for this many days (0: keep them all)"),
    ("precision", "fp32", "inference precision on accelerators: fp32, bf16 or fp16"),
    ("slices", "on", "slice discovery, advisory (on or off): where errors concentrate, FDR-controlled"),
    ("slices-fdr", "0.05", "slice discovery: the false-discovery rate the reported slices are held to"),
    ("slices-min-examples", "10", "slice discovery: the fewest examples a slice may have"),
    ("slices-min-fraction", "0.05", "slice discovery: the smallest share of its category a slice may be"),
    ("slices-properties", "off", "slice discovery: also search the images' brightness, contrast, sharpness and "
                                 "size (on or off)"),
    ("shard", "", "K/N: infer only shard K of N, write its predictions (--edgecases-save-predictions), judge nothing"),
    ("save-predictions", "", "write this run's predictions to PATH (.parquet, .csv or .jsonl)"),
    ("predictions", "", "judge predictions read from FILE (.parquet, .csv, .jsonl; a glob too; repeatable): "
                        "what the files cover is not inferred"),
]
#: Options given any number of times (each ini key a list, one value a line).
_REPEATABLE = {"predictions"}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register pytest_edgecases_load_model for conftest.py files."""
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Command-line options, each mirrored by an ini key."""
    group = parser.getgroup("edgecases", "edge-case suites (pytest-edgecases)")
    group.addoption("--edgecases", action="store_true", default=None, help="collect and run edge-case suites")
    parser.addini("edgecases", "collect and run edge-case suites", type="bool", default=False)
    for name, default, text in _OPTIONS:
        if name in _REPEATABLE:
            group.addoption(f"--edgecases-{name}", action="append", default=None, metavar="VALUE", help=text)
            parser.addini(f"edgecases_{name.replace('-', '_')}", text, type="linelist", default=[])
            continue
        group.addoption(f"--edgecases-{name}", default=None, metavar="VALUE", help=text)
        parser.addini(f"edgecases_{name.replace('-', '_')}", text, default=default)
    text = ("saliency maps of the shown failures and review queue: gradcam, integrated_gradients or occlusion "
            "(bare: gradcam where the model has a Conv2d, else occlusion; needs pytest-edgecases[explain])")
    group.addoption("--edgecases-explain", nargs="?", const="auto", default=None, metavar="METHOD", help=text)
    parser.addini("edgecases_explain", text, default="")
    group.addoption("--edgecases-no-cache", action="store_true", default=None,
                    help="ignore and do not write the prediction cache")
    parser.addini("edgecases_no_cache", "ignore and do not write the prediction cache", type="bool", default=False)
    parser.addini("edgecases_files", "glob patterns of suite files", type="linelist", default=DEFAULT_PATTERNS)


def _get(config: pytest.Config, name: str) -> Any:
    """The command line wins over the ini file."""
    value = config.getoption(f"edgecases_{name.replace('-', '_')}")
    return value if value is not None else config.getini(f"edgecases_{name.replace('-', '_')}")


def _path(config: pytest.Config, name: str) -> Path | None:
    value = _get(config, name)
    if value in (None, "") or str(value).lower() == "none":
        return None
    base = config.invocation_params.dir if config.getoption(f"edgecases_{name.replace('-', '_')}") else config.rootpath
    # Absolute, but links not followed: /dev/stdout must stay itself, not become /proc/PID/fd/pipe:[N].
    return Path(os.path.abspath(Path(base) / str(value)))


def enabled(config: pytest.Config) -> bool:
    """True when --edgecases (or the ini key) asks for edge-case suites."""
    flag = config.getoption("edgecases")
    return bool(flag if flag is not None else config.getini("edgecases"))


def pytest_configure(config: pytest.Config) -> None:
    """Validate options and create the session (only when edge cases are asked for)."""
    config.addinivalue_line("markers", "edgecases: an edge-case category from a suite YAML file")
    config.addinivalue_line("markers", "synthetic: a level of a synthetic (transformed) edge-case category")
    if not enabled(config):
        return
    # The session and the run reporter read YAML, images and tables: imported only with --edgecases.
    from .inference.predfiles import FORMATS as PREDICTION_FORMATS
    from .reporter import RunReporter
    from .session import PRECISIONS, EdgecasesSession, Options

    batch_size = _whole_number(config, "batch-size", 1)
    cache_max_age = _whole_number(config, "cache-max-age", 0, " (days; 0 keeps everything)")
    precision = str(_get(config, "precision")).lower()
    if precision not in PRECISIONS:
        raise pytest.UsageError(f"--edgecases-precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}, "
                                f"got {precision!r}")
    device = str(_get(config, "device")).lower()
    if not (device in ("auto", "cpu", "cuda", "mps") or (device.startswith("cuda:") and device[5:].isdigit())):
        raise pytest.UsageError(f"--edgecases-device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if device not in ("auto", "cpu"):
        _check_device(device)
    results = _path(config, "results")
    if results is not None and results.suffix.lower() not in (".csv", ".json"):
        raise pytest.UsageError(f"--edgecases-results must end in .csv or .json, got {results.name!r}")
    no_cache = config.getoption("edgecases_no_cache")
    no_cache = bool(no_cache if no_cache is not None else config.getini("edgecases_no_cache"))
    cache_dir = _path(config, "cache-dir")
    cache_problem = None
    if cache_dir is None and not no_cache:
        cache_dir, cache_problem = _default_cache_dir(config)
    elif cache_dir is not None and not no_cache:
        cache_problem = _not_writable(cache_dir)
    if cache_problem:
        cache_dir = None
    shard = _shard(config)
    save_predictions = _path(config, "save-predictions")
    if save_predictions is not None and save_predictions.suffix.lower() not in PREDICTION_FORMATS:
        raise pytest.UsageError(f"--edgecases-save-predictions must end in {', '.join(PREDICTION_FORMATS)}, "
                                f"got {save_predictions.name!r}")
    if shard is not None and save_predictions is None:
        raise pytest.UsageError("--edgecases-shard needs --edgecases-save-predictions=FILE: a shard's predictions "
                                "are its output (a final job judges them with --edgecases-predictions)")
    explain = _explain(config)
    options = Options(device=device, batch_size=batch_size, precision=precision, slices=_slices(config),
                      report=_opt_str(_path(config, "report")), results=_opt_str(results),
                      baseline=_opt_str(_path(config, "baseline")),
                      save_baseline=_opt_str(_path(config, "save-baseline")),
                      review_queue=_opt_str(_path(config, "review-queue")),
                      markdown=_opt_str(_path(config, "markdown")), cache_dir=cache_dir, no_cache=no_cache,
                      cache_max_age=cache_max_age, predictions=_prediction_files(config), shard=shard,
                      save_predictions=save_predictions, explain=explain, ray=_ray(config))
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput.get("testrunuid") if workerinput else None
    config.stash[SESSION_KEY] = EdgecasesSession(
        options, config.rootpath, worker_id=workerinput.get("workerid") if workerinput else None, run_id=run_id,
        write=lambda line: _write_line(config, line))   # the model hook is given at session start
    if workerinput is None:
        config.pluginmanager.register(RunReporter(config), "edgecases-run-reporter")
        if cache_problem:
            session_of(config).notes.append(f"edgecases: no prediction cache this run: {cache_problem}")


def _explain(config: pytest.Config) -> str | None:
    """--edgecases-explain (None: off), or a usage error: a method it does not know, Captum missing."""
    from .explain_spec import EXTRA, captum_missing, parse_option  # Captum looked for, not imported

    value = _get(config, "explain")
    try:
        explain = parse_option(value)
    except ValueError as exc:
        # The option's value is optional, so `--edgecases-explain suites/` takes the path for a method.
        taken = value is not None and Path(config.invocation_params.dir, str(value)).exists()
        hint = f" ('{value}' is a path: write --edgecases-explain=METHOD, or put the option last)" if taken else ""
        raise pytest.UsageError(f"--edgecases-explain {exc}{hint}") from None
    if explain is not None and captum_missing():
        raise pytest.UsageError(f"--edgecases-explain needs Captum, which is not installed: {EXTRA}")
    return explain


def _slices(config: pytest.Config) -> Any:
    """--edgecases-slices and its settings, or a usage error naming the option."""
    from .slicefinder import SliceSettings  # light, but only needed with --edgecases

    switch = str(_get(config, "slices")).lower()
    if switch not in ("on", "off"):
        raise pytest.UsageError(f"--edgecases-slices must be on or off, got {switch!r}")
    properties = str(_get(config, "slices-properties")).lower()
    if properties not in ("on", "off"):
        raise pytest.UsageError(f"--edgecases-slices-properties must be on or off, got {properties!r}")
    if switch == "off":
        return None
    return SliceSettings(q=_fraction(config, "slices-fdr", open_low=True),
                         min_support=_whole_number(config, "slices-min-examples", 1),
                         min_fraction=_fraction(config, "slices-min-fraction", open_low=False),
                         properties=properties == "on")


def _ray(config: pytest.Config) -> Any:
    """--edgecases-engine=ray's settings (None for the local engine), or a usage error naming the option;
    without Ray installed, one naming the extra (looked for, not imported: ray_engine.py imports it)."""
    from .inference.runner import RaySettings  # with --edgecases only, as the session

    engine = str(_get(config, "engine")).lower()
    if engine not in ("local", "ray"):
        raise pytest.UsageError(f"--edgecases-engine must be local or ray, got {engine!r}")
    if engine == "local":
        return None
    if importlib.util.find_spec("ray") is None:
        raise pytest.UsageError("--edgecases-engine=ray needs Ray: pip install 'pytest-edgecases[ray]'")
    actors = str(_get(config, "ray-actors")).lower()
    raw = _get(config, "ray-gpus-per-actor")
    try:
        gpus = float(raw)
    except (TypeError, ValueError):
        gpus = float("nan")
    if not (0 <= gpus < math.inf):
        raise pytest.UsageError(f"--edgecases-ray-gpus-per-actor must be a number >= 0, got {raw!r}")
    return RaySettings(address=str(_get(config, "ray-address") or "") or None,
                       actors=None if actors == "auto" else _whole_number(config, "ray-actors", 1, " or auto"),
                       gpus_per_actor=gpus, progress_bars=config.get_verbosity() >= 1)


def _fraction(config: pytest.Config, name: str, *, open_low: bool) -> float:
    """A number in (0, 1) (or [0, 1) when ``open_low`` is False), or a usage error naming the option."""
    raw = _get(config, name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not ((0 < value if open_low else 0 <= value) and value < 1):
        low = "above 0" if open_low else "at least 0"
        raise pytest.UsageError(f"--edgecases-{name} must be a number {low} and below 1, got {raw!r}")
    return value


def _whole_number(config: pytest.Config, name: str, minimum: int, unit: str = "") -> int:
    """An integer option of at least ``minimum``, or a usage error naming the option and the value."""
    value = _get(config, name)
    try:
        number = int(value)
        if number >= minimum:
            return number
    except ValueError:
        pass
    raise pytest.UsageError(f"--edgecases-{name} must be a whole number >= {minimum}{unit}, got {value!r}")


def _shard(config: pytest.Config) -> Shard | None:
    """--edgecases-shard=K/N, or None."""
    value = str(_get(config, "shard") or "").strip()
    if not value or value.lower() == "none":
        return None
    try:
        return parse_shard(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--edgecases-shard {exc}") from None


def _prediction_files(config: pytest.Config) -> tuple[Path, ...]:
    """--edgecases-predictions (relative to where pytest was started), else the ini key (to the rootdir)."""
    from .inference.predfiles import expand as expand_predictions  # with --edgecases only, as the session
    given = config.getoption("edgecases_predictions")
    values, base = (given, config.invocation_params.dir) if given else (config.getini("edgecases_predictions"),
                                                                        config.rootpath)
    try:
        return expand_predictions(values or [], Path(base))
    except ValueError as exc:
        raise pytest.UsageError(f"--edgecases-predictions {exc}") from None


def _check_device(device: str) -> None:
    """A device the machine lacks is a usage error now, not one failure per category after collection."""
    try:
        resolve_device(device)   # imports torch: only when a GPU was asked for by name
    except EdgecasesError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Let go of the run's predictions and results before pytest's closing garbage collections
    (twice in pytest 9, 0.1 s apiece with 20,000 examples alive: a tenth of a warm rerun).

    Nothing reads them after the terminal summary; tryfirst puts this before pytest's own unconfigure.
    """
    if SESSION_KEY in config.stash:
        session_of(config).release()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Scope pytest_edgecases_load_model as pytest scopes conftest hooks: to the suites below it."""
    if SESSION_KEY in session.config.stash:
        edge = session_of(session.config)
        edge.model_hook = lambda suite, device: session.gethookproxy(
            suite.path).pytest_edgecases_load_model(suite=suite, device=device)
        edge.has_model_hook = lambda suite: bool(
            session.gethookproxy(suite.path).pytest_edgecases_load_model.get_hookimpls())


def _opt_str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _default_cache_dir(config: pytest.Config) -> tuple[Path | None, str | None]:
    """The cache folder inside pytest's cache, or (None, why not) in a read-only project."""
    cache = getattr(config, "cache", None)
    if cache is None:   # -p no:cacheprovider
        return None, None
    try:
        return Path(cache.mkdir("edgecases")), None
    except OSError as exc:  # read-only project: run without a cache rather than fail, and say so
        return None, f"cannot create it in {config.getini('cache_dir')} ({exc.strerror or exc})"


def _not_writable(path: Path) -> str | None:
    """Why the cache cannot be kept in ``path``, or None; creates nothing (a collection error writes nothing)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent   # what mkdir would create the folder in
    if not existing.is_dir():
        return f"cannot create {path}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write to {existing}"
    return None


def _write_line(config: pytest.Config, line: str) -> None:
    """Write around output capturing, as pytest's live logging does."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    line = printable(line)   # it may name a suite: text from YAML
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)
    else:
        reporter.write_line(line)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Suite files become SuiteFile collectors, only with --edgecases."""
    config = parent.config
    if SESSION_KEY not in config.stash:
        return None
    patterns = config.getini("edgecases_files") or DEFAULT_PATTERNS
    try:
        relative = file_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        relative = file_path.name
    # A pattern matches the file name or its path from the rootdir (suites/*.yaml); a YAML file
    # named on the command line is collected whatever its name, as pytest does for .py files.
    named = parent.session.isinitpath(file_path) and file_path.suffix in (".yaml", ".yml")
    if named or any(fnmatch.fnmatch(file_path.name, p) or fnmatch.fnmatch(relative, p) for p in patterns):
        from .nodes import SuiteFile  # the nodes parse YAML and judge: imported only with --edgecases

        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With --edgecases, keep pytest out of folders that hold nothing but images (none is a test)."""
    if SESSION_KEY not in config.stash or collection_path.suffix:   # files, and folders named like files
        return None
    from .suite import IMAGE_SUFFIXES  # the suite parser reads YAML: imported only with --edgecases

    memo = config.stash.setdefault(IMAGE_DIRS_KEY, {})
    return True if collection_path.is_dir() and only_images(collection_path, IMAGE_SUFFIXES, memo) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    """Infer every selected category once, before the first item runs (after -k/-m deselection)."""
    config = session.config
    if SESSION_KEY in config.stash and not config.option.collectonly and not (
            session.testsfailed and not config.option.continue_on_collection_errors):
        from .nodes import CategoryItem  # imported only with --edgecases, as in pytest_collect_file

        selected = [(i.suite, i.category) for i in session.items if isinstance(i, CategoryItem)]
        edge = session_of(config)
        if not hasattr(config, "workerinput") and (edge.options.explain or any(s.explain for s, _ in selected)):
            from .explain_run import prefetch  # the maps are made on the controller, at the end

            prefetch()
        if selected:
            edge.prepare(selected)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the category's result to its report, so the controller gets it under xdist too."""
    report = yield
    result = getattr(item, "result", None)
    if report.when == "call" and result is not None and hasattr(result, "to_dict"):
        # An xdist worker sends the whole result in its report. In one process the controller takes
        # the object itself (20,000 examples to dicts and back cost half a second) and the report,
        # which other plugins may serialise, keeps the category's figures without the examples.
        worker = hasattr(item.config, "workerinput")
        report.edgecases = result.to_dict(examples=worker)
        if not worker:
            session_of(item.config).local_results[report.nodeid] = result
        item.result = None   # handed on: the item need not keep 20,000 examples' results alive
        report.edgecases_description = item.category.description  # type: ignore[attr-defined]
        if item.config.pluginmanager.hasplugin("html") and item.config.getoption("htmlpath", None):
            # The session's outputs and the report's image code: only with pytest-html.
            from .reporter import attach_html_extras

            attach_html_extras(item, report, result)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """With -v, show each category's accuracy and description after its outcome."""
    data = getattr(report, "edgecases", None)
    if data is None or report.when != "call" or config.get_verbosity() < 1:
        return None
    from .terminal import percent  # tabulate: only for a report of ours
    extra = percent(data.get("accuracy"))
    if data.get("ci_low") is not None:
        extra += f" [{percent(data['ci_low'])}–{percent(data['ci_high'])}]"
    if data.get("description"):
        extra += f" · {printable(data['description'])}"
    word = "PASSED" if report.passed else "FAILED"
    return report.outcome, "." if report.passed else "F", (f"{word} ({extra})", {"green": report.passed,
                                                                                "red": not report.passed})
