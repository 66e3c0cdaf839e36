"""Issue 9: a corpus of bad inputs, each with its exact outcome.

The cases are tables: RUN_CASES are whole pytest runs (in-process, on the tiny colour project with
one bad input put in place), DECODE_CASES are single images through the decoder. Each row says what
the input is and what happens, in the words docs/what-happens-when.md uses; the last test checks
that the page lists every case. The runs that need processes, signals or mounts (Ctrl-C, a full
disk, a read-only project, concurrent sessions) are in test_hardening_runs.py.

Bad inputs covered elsewhere are not repeated here; the docs page points at those tests.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch
import yaml
from PIL import EpsImagePlugin, Image
from safetensors.torch import save_file
from support.project import PASSING_MODEL, SuiteProject, colour_categories, suite_yaml

from pytest_edgecases.images import ImageError, decode_rgb

#: The suite: five lines of settings (suite, labels, model, preprocess, defaults), then two categories
#: (lines 6-10: clean, dark). The model is the tiny colour
#: model with no bias, which gets every image right: any example that is not right is the bad input's doing.
HEAD = suite_yaml(model=PASSING_MODEL, categories="")
CATS = colour_categories(dark="")
SUITE = HEAD + CATS
#: Images per category: three red and three blue.
IMAGES = {"clean": 6, "dark": 6}
#: The same with one more file in dark/.
PLUS_ONE = {"clean": 6, "dark": 7}
#: What a hostile file would create if anything ran it.
PWNED = "pwned"


# -- the project ------------------------------------------------------------------------------------------


class Project(SuiteProject):
    """The tiny colour project in pytester's folder, plus helpers to put one bad input in place and run."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, outside: Path):
        super().__init__(pytester.path)
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.outside_dir = outside   # a folder outside the project root
        self.colours(clean=3, dark=3)
        self.suite(SUITE)

    def outside(self, name: str, data: str | bytes) -> Path:
        """Write a file outside the project root."""
        path = self.outside_dir / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def run(self, *args: str) -> pytest.RunResult:
        """pytest --edgecases in-process, with a results file, a report and a cache inside the project."""
        return self.pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-cache-dir=.cache",
                                       "--edgecases-results=results.json", "--edgecases-report=report.html", *args)

    def results(self) -> dict[str, dict[str, Any]]:
        """The results file: category -> its record."""
        doc = json.loads((self.root / "results.json").read_text(encoding="utf-8"))
        return {c["category"]: c for c in doc["categories"]}

    def written(self) -> set[str]:
        """What a run may have written: results, report, cache."""
        return {name for name in ("results.json", "report.html", ".cache") if (self.root / name).exists()}


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
            tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tiny colour project (both categories pass), with nothing bad in it yet."""
    return Project(pytester, monkeypatch, tmp_path_factory.mktemp("outside"))


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def assert_clean(project: Project, result: pytest.RunResult) -> None:
    """No traceback, no frame from an installed library, nothing executed, no temp file left behind."""
    out = output(result)
    assert "Traceback" not in out, out
    assert "site-packages" not in out, out
    assert "INTERNALERROR" not in out, out
    assert "\x1b" not in out, "a raw escape character reached the terminal"
    assert not list(project.root.rglob(PWNED)) and not list(project.outside_dir.rglob(PWNED)), "something ran"
    assert not list(project.root.glob(".*.tmp")), "a half-written output was left behind"


# -- what a run's outcome must be -----------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """Collection stops (pytest's exit status 2 for a collection error); the error names file and line;
    no category runs and nothing is written: no results, no report, no cache."""

    lines: tuple[str, ...]
    exit: int = pytest.ExitCode.INTERRUPTED

    def check(self, project: Project, result: pytest.RunResult) -> None:
        assert result.ret == self.exit, output(result)
        result.stdout.fnmatch_lines(list(self.lines))
        if self.exit == pytest.ExitCode.INTERRUPTED:
            result.stdout.fnmatch_lines(["*ERROR collecting*", "*Interrupted: 1 error during collection*"])
        assert project.written() == set(), project.written()


@dataclass(frozen=True)
class Failed:
    """Every category fails with the same message (the model, not the data, is at fault), and is reported as
    not judged: in the results with that message as its error, and in the report."""

    lines: tuple[str, ...]

    def check(self, project: Project, result: pytest.RunResult) -> None:
        result.assert_outcomes(failed=len(IMAGES))
        for name in IMAGES:
            result.stdout.fnmatch_lines([f"*_ edge-case category: {name} _*", *self.lines])
        result.stdout.fnmatch_lines([f"{name} * NOT JUDGED" for name in IMAGES])
        results = project.results()
        assert sorted(results) == sorted(IMAGES)
        for record in results.values():
            assert not record["passed"] and re.fullmatch(_glob(self.lines[0]), record["error"].splitlines()[0])
        assert {"results.json", "report.html"} <= project.written()


@dataclass(frozen=True)
class Judged:
    """The run completes and writes its outputs; each category passes or fails as given; the examples named
    in ``errors`` could not be scored, for the reason given; every other example is present and right."""

    outcome: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)    # example path -> fnmatch pattern of its error
    lines: tuple[str, ...] = ()
    images: dict[str, int] = field(default_factory=lambda: dict(IMAGES))
    wrong: tuple[str, ...] = ()                              # examples the model is meant to get wrong

    def check(self, project: Project, result: pytest.RunResult) -> None:
        failed = sum(v == "failed" for v in self.outcome.values())
        result.assert_outcomes(passed=len(self.outcome) - failed, failed=failed)
        assert result.ret == (pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK)
        result.stdout.fnmatch_lines(list(self.lines) or ["*edge cases*"])
        results = project.results()
        assert {name: "passed" if r["passed"] else "failed" for name, r in results.items()} == self.outcome
        assert {name: r["n_examples"] for name, r in results.items()} == self.images
        errors = {e["path"]: e["error"] for r in results.values() for e in r["examples"] if e["error"]}
        assert sorted(errors) == sorted(self.errors), errors
        for path, pattern in self.errors.items():
            assert re.fullmatch(_glob(pattern), errors[path]), (path, errors[path])
        wrong = [e["path"] for r in results.values() for e in r["examples"] if not e["error"] and not e["correct"]]
        assert wrong == list(self.wrong), f"examples lost or changed by the bad input: {wrong}"
        assert {"results.json", "report.html"} <= project.written()


@dataclass(frozen=True)
class UsageError:
    """pytest refuses the command line (exit status 4) before collecting; nothing is written."""

    lines: tuple[str, ...]

    def check(self, project: Project, result: pytest.RunResult) -> None:
        assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
        result.stderr.fnmatch_lines(list(self.lines))
        assert project.written() == set()


def one_bad(path: str, error: str) -> Judged:
    """One more file in dark/, which cannot be scored: dark fails naming it, clean is unaffected."""
    return Judged({"clean": "passed", "dark": "failed"}, {path: error}, (f"*{path} ({error}*",), images=PLUS_ONE)


NOT_ALLOWED = "not an image in an allowed format (PNG, JPEG, BMP, GIF, WEBP, TIFF)"


def _glob(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


@dataclass(frozen=True)
class Case:
    """One bad input: what it is, what happens (both as docs/what-happens-when.md says), how to make it."""

    id: str
    given: str
    outcome: str
    expect: Refused | Failed | Judged | UsageError
    setup: Callable[[Project], Any] = lambda p: None
    args: tuple[str, ...] = ()
    #: What else this case must show: it raises, or returns False, when that does not hold.
    check: Callable[[Project, pytest.RunResult], bool | None] | None = None
    marks: tuple[Any, ...] = ()


# -- inputs ---------------------------------------------------------------------------------------------


def with_weights(path: str) -> str:
    """The suite, its factory's model loading weights from ``path``."""
    return SUITE.replace('{factory: "tinymodel:build"}', f'{{factory: "tinymodel:build", weights: {path}}}')


def paths(p: Project, category: str) -> set[str]:
    """The example paths of a category in the results file."""
    return {e["path"] for e in p.results()[category]["examples"]}


def suite(text: str) -> Callable[[Project], Any]:
    """Setup: replace the suite file."""
    return lambda p: p.suite(text)


def steps(*setups: Callable[[Project], Any]) -> Callable[[Project], None]:
    """Setup: several steps in order."""
    def run(p: Project) -> None:
        for step in setups:
            step(p)
    return run


def png(rgb: tuple[int, ...] = (220, 30, 30), size: int = 16, mode: str = "RGB", fmt: str = "PNG",
        **params: Any) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), rgb).save(buf, fmt, **params)
    return buf.getvalue()


def noise_jpeg(size: int = 64) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_chunks(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    """A PNG written by hand: for sizes and depths Pillow will not write."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


#: 30000 x 30000 pixels declared in 100 bytes: Pillow refuses it (over twice MAX_IMAGE_PIXELS) at open.
BOMB = png_chunks(30000, 30000, 1, 0, b"\0")

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n0 0 moveto 8 8 lineto stroke\nshowpage\n"

BILLION_LAUGHS = "\n".join(
    ["reviewer: alice", "examples: []", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"


class Payload:
    """Unpickling this creates the file PWNED next to the checkpoint: what a hostile checkpoint would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def hostile_checkpoint(rel: str) -> Callable[[Project], None]:
    def make(p: Project) -> None:
        torch.save({"fc.weight": Payload(str(p.root / PWNED)), "fc.bias": torch.zeros(2)}, str(p.root / rel))
    return make


MODELS = {
    "returns_text": "from tinymodel import Net\n\n\nclass D(Net):\n    def forward(self, x):\n"
                    "        return 'a red one'\n\n\ndef build():\n    return D()\n",
    # NaN for dark images (mean brightness under 0.2), honest logits for the others.
    "nan_on_dark": "import torch\nfrom tinymodel import Net\n\n\nclass N(Net):\n    def forward(self, x):\n"
                   "        out = super().forward(x)\n        dark = x.mean(dim=(1, 2, 3)) < 0.2\n"
                   "        return torch.where(dark[:, None], torch.full_like(out, float('nan')), out)\n\n\n"
                   "def build():\n    return N()\n",
    # Raises on any batch holding a bright green image.
    "green_crash": "from tinymodel import Net\n\n\nclass G(Net):\n    def forward(self, x):\n"
                   "        if (x[:, 1].mean(dim=(1, 2)) > 0.5).any():\n"
                   "            raise RuntimeError('green overflows the colour head')\n"
                   "        return super().forward(x)\n\n\ndef build():\n    return G()\n",
    "cli_model": "import argparse\n\n\ndef build():\n    parser = argparse.ArgumentParser()\n"
                "    parser.add_argument('--epochs', type=int, required=True)\n    parser.parse_args()\n",
}


def model(name: str) -> Callable[[Project], None]:
    """Setup: the suite's factory is MODELS[name]."""
    def make(p: Project) -> None:
        p.write(f"{name}.py", MODELS[name])
        p.suite(SUITE.replace("tinymodel:build", f"{name}:build"))
    return make


def no_secret(secret: str) -> Callable[[Project, pytest.RunResult], None]:
    def check(p: Project, result: pytest.RunResult) -> None:
        assert secret not in output(result)
    return check


def fake_ghostscript(p: Project) -> None:
    """A `gs` first on PATH that records every call, and Pillow made to look for it again."""
    bin_dir = p.outside_dir / "bin"
    bin_dir.mkdir()
    gs = bin_dir / "gs"
    gs.write_text(f'#!/bin/sh\necho "$@" >> {p.outside_dir / "gs-calls"}\nexit 0\n')
    gs.chmod(0o755)
    p.monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    p.monkeypatch.setattr(EpsImagePlugin, "gs_binary", None, raising=False)   # Pillow < 10.1 has none


def ghostscript_never_ran(p: Project, result: pytest.RunResult) -> None:
    calls = p.outside_dir / "gs-calls"
    assert not calls.exists(), calls.read_text()
    # The trap works: decoding the same file the way Pillow would by default does call it.
    with pytest.raises(OSError), Image.open(p.root / "data/dark/red/scan.png") as im:
        im.load()
    assert calls.exists()


def deleted_after_collection(p: Project) -> None:
    p.write("conftest.py", "import os\n\n\ndef pytest_collection_finish(session):\n"
                           "    os.remove('data/dark/red/001.png')\n")


def nothing_executed_from_names(p: Project, result: pytest.RunResult) -> None:
    paths = {e["path"] for e in p.results()["dark"]["examples"]}
    assert {f"data/dark/red/{name}" for name in SHELL_NAMES} <= paths


SHELL_NAMES = ["$(touch pwned).png", "`touch pwned`.png", "a;b|c&d>e.png", "*?[x].png", "'\"quoted\".png",
               "-rf --no-preserve-root.png", "%s%n%x.png"]


def bomb_guard_stays_on(p: Project, result: pytest.RunResult) -> None:
    assert Image.MAX_IMAGE_PIXELS == 89478485


def quick(limit: float) -> Callable[[Project, pytest.RunResult], None]:
    """The case must be decided before anything is expanded or walked: in well under ``limit`` seconds."""
    def check(p: Project, result: pytest.RunResult) -> None:
        assert result.duration < limit, result.duration
    return check


RUN_CASES = [
    # -- YAML ------------------------------------------------------------------------------------------
    Case("yaml-unclosed-quote", "a description whose quote is never closed",
         "collection error at the end of the file, naming the line the quote started on",
         Refused(("edgecases.yaml:12: YAML syntax error: found unexpected end of stream "
                  "(while scanning a quoted scalar, started on line 10)",)),
         suite(SUITE.replace("  - name: dark\n", '  - name: dark\n    description: "Dusk and night\n'))),
    Case("yaml-tab-in-mapping", "a nested key indented with a tab",
         "collection error on that line, with the hint that YAML indents with spaces",
         Refused(("edgecases.yaml:4: YAML syntax error: found character that cannot start any token",
                  "  hint: YAML indentation must use spaces, not tabs")),
         suite(SUITE.replace('model: {factory: "tinymodel:build"}', 'model:\n\tfactory: "tinymodel:build"'))),
    Case("yaml-duplicate-key-in-category", "a category that says images: twice",
         "collection error naming both lines (PyYAML alone would keep the second silently)",
         Refused(("edgecases.yaml:11: duplicate key 'images' (first on line 10)", "  hint: remove one of them")),
         suite(SUITE + "    images: data/clean/\n")),
    Case("yaml-unknown-review-key", "a misspelt key in the review: section",
         "collection error naming the key, the closest valid one, and every valid one",
         Refused(("edgecases.yaml:6: unknown key 'confidence_under' in review (did you mean 'confidence_below'?)",
                  "  hint: valid keys: confidence_below")),
         suite(HEAD + "review: {confidence_under: 0.6}\n" + CATS)),
    Case("yaml-number-as-text", "a whole number written in quotes (min_examples: \"3\")",
         "collection error: the value's type and value are shown",
         Refused(("edgecases.yaml:11: min_examples must be a whole number >= 0, got str '3'",)),
         suite(SUITE + '    min_examples: "3"\n')),
    Case("yaml-nan-threshold", "min_accuracy: .nan", "collection error: NaN is not a number between 0 and 1",
         Refused(("edgecases.yaml:5: min_accuracy must be a number between 0 and 1, got float nan",)),
         suite(SUITE.replace("min_accuracy: 0.9", "min_accuracy: .nan"))),
    Case("yaml-comment-only", "a suite file holding only a comment", "collection error: the suite file is empty",
         Refused(("edgecases.yaml:1: the suite file is empty",
                  "  hint: start with `suite: NAME`, `labels:` and `categories:`")),
         suite("# TODO: write the road-sign suite\n")),
    Case("yaml-scalar-document", "a suite file that is one line of text", "collection error: a suite is a mapping",
         Refused(("edgecases.yaml:1: a suite file must be a mapping (key: value lines), got str 'colours red blue'",)),
         suite("colours red blue\n")),
    Case("yaml-two-documents", "a second YAML document after ---", "collection error: one document per file",
         Refused(("edgecases.yaml:11: YAML syntax error: but found another document "
                  "(expected a single document in the stream, started on line 1)",)),
         suite(SUITE + "---\n" + HEAD)),
    Case("yaml-python-tag", "description: !!python/object/apply:os.system [\"touch pwned\"]",
         "collection error naming the tag; nothing is constructed, so nothing runs",
         Refused(("edgecases.yaml:11: YAML tag !!python/object/apply:os.system is not supported",
                  "  hint: write plain text, numbers, dates, lists and mappings")),
         suite(SUITE + '    description: !!python/object/apply:os.system ["touch pwned"]\n')),
    Case("yaml-deep-nesting", "a description nested 200,000 brackets deep (400 KB)",
         "collection error before anything is built (libyaml's composer would crash the process)",
         Refused(("edgecases.yaml:11: nested more than 100 levels deep",
                  "  hint: suites and annotation files need a few levels; this looks generated")),
         suite(SUITE + "    description: " + "[" * 200_000 + "]" * 200_000 + "\n"), check=quick(5.0)),
    Case("yaml-alias-bomb-in-review", "a reviewer's file that is a billion-laughs alias bomb",
         "collection error at the anchor the first alias refers to, before anything is expanded",
         Refused(("reviews/alice.yaml:3: anchors and aliases (*name) are not supported (anchor on line 3)",)),
         steps(suite(HEAD + "annotations: reviews/\n" + CATS), lambda p: p.write("reviews/alice.yaml", BILLION_LAUGHS)),
         check=quick(5.0)),
    Case("yaml-huge-review-file", "a 9 MiB annotation file", "collection error: refused by size, unread",
         Refused(("reviews/big.yaml: file is 9437184 bytes; YAML files over 8388608 bytes are refused",
                  "  hint: split it into several files")),
         steps(suite(HEAD + "annotations: reviews/\n" + CATS),
               lambda p: p.write("reviews/big.yaml", b"# " + b"x" * (9 * 1024 * 1024 - 3) + b"\n")),
         check=quick(5.0)),
    Case("yaml-utf16-suite", "a suite saved as UTF-16 (a Windows editor's \"Unicode\")",
         "collection error: not UTF-8, at byte 0",
         Refused(("edgecases.yaml:1: not valid UTF-8 (byte 0)", "  hint: save the file as UTF-8")),
         suite(SUITE.encode("utf-16"))),  # type: ignore[arg-type]
    Case("yaml-latin1-review", "a reviewer's comment saved as Latin-1", "collection error naming that file and line",
         Refused(("reviews/alice.yaml:5: not valid UTF-8 (byte 96)", "  hint: save the file as UTF-8")),
         steps(suite(HEAD + "annotations: reviews/\n" + CATS),
               lambda p: p.write("reviews/alice.yaml", "reviewer: alice\nexamples:\n  - image: data/dark/red/000.png\n"
                                 "    verdict: correct\n    comment: caf\xe9 au lait\n".encode("latin-1")))),
    # -- paths -----------------------------------------------------------------------------------------
    Case("path-labels-absolute", "labels: /etc/passwd", "collection error: absolute paths are refused, unread",
         Refused(("edgecases.yaml:2: labels file '/etc/passwd' is absolute",
                  "  hint: write paths relative to the suite file, inside the project")),
         suite(SUITE.replace("labels: [red, blue]", "labels: /etc/passwd")), check=no_secret("root:")),
    Case("path-home", "images: ~/datasets/dark/", "collection error: a home-relative path is absolute",
         Refused(("edgecases.yaml:10: images '~/datasets/dark/' is absolute",)),
         suite(SUITE.replace("images: data/dark/", "images: ~/datasets/dark/"))),
    Case("path-weights-escape", "model weights: ../../weights.pt", "collection error: it leaves the project root",
         Refused(("edgecases.yaml:3: model.weights '../../weights.pt' resolves outside the project root *",)),
         suite(with_weights("../../weights.pt"))),
    Case("path-dotdot-inside", "images: ./data/../data/dark/ (a .. that stays inside)",
         "works: the same examples under the same paths", Judged({"clean": "passed", "dark": "passed"}),
         suite(SUITE.replace("images: data/dark/", "images: ./data/../data/dark/"))),
    Case("path-review-links-outside", "reviews/alice.yaml, a symlink to a file outside the project",
         "collection error naming the link; the target is never read (its contents appear nowhere)",
         Refused(("edgecases.yaml:6: annotation file 'reviews/alice.yaml' links outside the project root",)),
         steps(suite(HEAD + "annotations: reviews/\n" + CATS),
               lambda p: p.link("reviews/alice.yaml", p.outside("secret.yaml", "api_token: hunter2\n"))),
         check=no_secret("hunter2")),
    Case("path-manifest-links-outside", "a manifest that is a symlink to a CSV outside the project",
         "collection error: the link resolves outside the root",
         Refused(("edgecases.yaml:10: manifest 'dark.csv' resolves outside the project root *",)),
         steps(suite(SUITE.replace("images: data/dark/", "manifest: dark.csv")),
               lambda p: p.link("dark.csv", p.outside("dark.csv", "path,label\n")))),
    Case("path-symlink-loop", "data/dark/red/again -> .. (a folder link back up the tree)",
         "collection error naming the loop, instead of listing every image once per lap",
         Refused(("edgecases.yaml:10: folder 'data/dark/red/again' links back to 'data/dark' (a symlink loop)",
                  "  hint: remove the link; each image must be listed once")),
         lambda p: p.link("data/dark/red/again", ".."), args=("edgecases.yaml",)),
    Case("path-folder-link-to-root", "data/dark/red/all -> / (a folder link to the whole disk)",
         "collection error naming the link, before walking into it",
         Refused(("edgecases.yaml:10: folder 'data/dark/red/all' links outside the project root",)),
         # The suite file is named: pytest's own collection follows links to folders, and would walk / too.
         lambda p: p.link("data/dark/red/all", "/"), args=("edgecases.yaml",), check=quick(5.0)),
    Case("path-label-folder-links-outside", "data/dark/red -> a folder of images outside the project",
         "collection error naming the first image behind the link",
         Refused(("edgecases.yaml:10: image 'data/dark/red/000.png' links outside the project root",)),
         steps(lambda p: p.outside("000.png", png()),
               lambda p: [f.unlink() for f in (p.root / "data/dark/red").iterdir()],
               lambda p: (p.root / "data/dark/red").rmdir(),
               lambda p: p.link("data/dark/red", p.outside_dir))),
    Case("path-defined-by-escape", "model defined_by: ../ (the files said to define a factory's model)",
         "collection error: it leaves the project root",
         Refused(("edgecases.yaml:3: model.defined_by '../' resolves outside the project root *",)),
         suite(SUITE.replace('{factory: "tinymodel:build"}', '{factory: "tinymodel:build", defined_by: ../}'))),
    Case("path-image-deleted", "an image deleted after collection, before inference",
         "its category fails naming the file (cannot read); the other category is unaffected",
         Judged({"clean": "passed", "dark": "failed"},
                {"data/dark/red/001.png": "cannot read: No such file or directory"},
                ("*data/dark/red/001.png (cannot read: No such file or directory)*",)),
         deleted_after_collection),
    Case("path-manifest-is-folder", "manifest: data/dark/ (a folder)", "collection error: a folder, not a file",
         Refused(("edgecases.yaml:10: manifest 'data/dark/' is a folder, not a file",)),
         suite(SUITE.replace("images: data/dark/", "manifest: data/dark/"))),
    Case("path-weights-is-folder", "weights: w.pt, where w.pt is a folder", "collection error: a folder, not a file",
         Refused(("edgecases.yaml:3: model weights 'w.pt' are a folder, not a file",)),
         steps(suite(with_weights("w.pt")),
               lambda p: (p.root / "w.pt").mkdir())),
    Case("path-nul-byte", 'images: "data/dark\\0/" (a NUL character, written as a YAML escape)',
         "collection error naming the path (the OS would raise, not answer)",
         Refused(("edgecases.yaml:10: images 'data/dark\\x00/' contains a NUL character",)),
         suite(SUITE.replace("images: data/dark/", 'images: "data/dark\\0/"'))),
    Case("path-nul-in-manifest", "a manifest row whose path holds a NUL byte", "collection error naming the row",
         Refused(("dark.csv:3: image path 'data/dark/red/001\\x00.png' contains a NUL character",)),
         steps(suite(SUITE.replace("images: data/dark/", "manifest: dark.csv")),
               lambda p: p.write("dark.csv", b"path,label\ndata/dark/red/000.png,red\ndata/dark/red/001\0.png,red\n"))),
    Case("path-manifest-huge-field", "a manifest row with a 200 KB cell", "collection error naming the row: not valid CSV",
         Refused(("dark.csv:3: not valid CSV: field larger than field limit (131072)",)),
         steps(suite(SUITE.replace("images: data/dark/", "manifest: dark.csv")),
               lambda p: p.write("dark.csv", b"path,label\ndata/dark/red/000.png,red\n" + b"x" * 200_000 + b",red\n"))),
    Case("path-spaces", "folders and files with spaces and brackets (data/low light/red/IMG 0001 (copy).png)",
         "works; paths are reported verbatim", Judged({"clean": "passed", "dark": "passed"}),
         steps(lambda p: os.rename(p.root / "data/dark", p.root / "data/low light"),
               lambda p: os.rename(p.root / "data/low light/red/000.png",
                                   p.root / "data/low light/red/IMG 0001 (copy).png"),
               suite(SUITE.replace("images: data/dark/", "images: data/low light/"))),
         check=lambda p, r: "data/low light/red/IMG 0001 (copy).png" in paths(p, "dark")),
    Case("path-unicode", "labels, folders, files and suite name in Unicode (röd, blå, bild_ü_🚦.png)",
         "works; names are reported verbatim", Judged({"clean": "passed", "dark": "passed"}),
         steps(*[lambda p, a=a, b=b: os.rename(p.root / a, p.root / b) for a, b in [
             ("data/clean/red", "data/clean/röd"), ("data/clean/blue", "data/clean/blå"),
             ("data/dark/red", "data/dark/röd"), ("data/dark/blue", "data/dark/blå"),
             ("data/dark/röd/000.png", "data/dark/röd/bild_ü_🚦.png")]],
               suite(SUITE.replace("colours", "färger").replace("[red, blue]", "[röd, blå]"))),
         check=lambda p, r: "data/dark/röd/bild_ü_🚦.png" in paths(p, "dark")),
    Case("path-shell-metacharacters", "image files named $(touch pwned).png, `touch pwned`.png, a;b|c&d>e.png, …",
         "works; the names are data, never run through a shell",
         Judged({"clean": "passed", "dark": "passed"}, images={"clean": 6, "dark": 6 + len(SHELL_NAMES)}),
         lambda p: [p.write(f"data/dark/red/{name}", png((33, 4, 4))) for name in SHELL_NAMES],
         check=nothing_executed_from_names),
    # -- images ----------------------------------------------------------------------------------------
    Case("image-truncated-jpeg", "a JPEG cut off halfway",
         "its category fails naming the file; the other is unaffected",
         one_bad("data/dark/red/cut.jpg", "corrupt or truncated image: image file is truncated*"),
         lambda p: p.write("data/dark/red/cut.jpg", noise_jpeg()[:1500])),
    Case("image-zero-bytes", "a 0-byte .jpg", "its category fails: empty file (0 bytes)",
         one_bad("data/dark/red/empty.jpg", "empty file (0 bytes)"), lambda p: p.write("data/dark/red/empty.jpg", b"")),
    Case("image-html-named-jpg", "an HTML page saved as photo.jpg",
         "its category fails: not an image in an allowed format",
         one_bad("data/dark/red/photo.jpg", NOT_ALLOWED),
         lambda p: p.write("data/dark/red/photo.jpg", "<!doctype html><title>404 Not Found</title>")),
    Case("image-jpeg-named-png", "a JPEG saved with a .png name", "works: the format is read from the bytes",
         Judged({"clean": "passed", "dark": "passed"}),
         lambda p: p.write("data/dark/red/000.png", png((33, 4, 4), fmt="JPEG"))),
    Case("image-non-images-in-folder", "Thumbs.db, .DS_Store, desktop.ini, notes.txt, photo.png.txt in image folders",
         "ignored: only image extensions are listed", Judged({"clean": "passed", "dark": "passed"}),
         lambda p: [p.write(f"data/dark/red/{n}", b"\0junk") for n in
                    ("Thumbs.db", ".DS_Store", "desktop.ini", "notes.txt", "photo.png.txt", "README")]),
    Case("image-decompression-bomb", "a 100-byte PNG declaring 30000 x 30000 pixels",
         "its category fails: refused as a decompression bomb; Pillow's limit is left on",
         one_bad("data/dark/red/bomb.png", "refused as a decompression bomb: Image size (900000000 pixels) exceeds "
                                           "limit of 178956970 pixels, could be decompression bomb DOS attack."),
         lambda p: p.write("data/dark/red/bomb.png", BOMB), check=bomb_guard_stays_on),
    Case("image-eps-named-png", "an EPS file named scan.png, with a `gs` on PATH",
         "its category fails: not an image in an allowed format; Ghostscript is never run",
         one_bad("data/dark/red/scan.png", NOT_ALLOWED),
         steps(fake_ghostscript, lambda p: p.write("data/dark/red/scan.png", EPS)), check=ghostscript_never_ran),
    Case("image-pcx-named-png", "a valid PCX image named .png (a format Pillow reads, not on the allowlist)",
         "its category fails: not an image in an allowed format",
         one_bad("data/dark/red/old.png", NOT_ALLOWED),
         lambda p: p.write("data/dark/red/old.png", png((33, 4, 4), fmt="PCX"))),
    # -- models ----------------------------------------------------------------------------------------
    Case("model-pickle-named-safetensors", "a pickle that creates a file when loaded, named model.safetensors",
         "every category fails: not safetensors; the payload never runs",
         Failed(("model.safetensors: cannot read safetensors weights: Error while deserializing header: *",)),
         steps(hostile_checkpoint("model.safetensors"), suite(with_weights("model.safetensors")))),
    Case("model-payload-with-force-env", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 and a .pt whose pickle creates a file",
         "every category fails: .pt weights are refused while the variable is set; the payload never runs",
         Failed(("model.pt: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it would make torch.load unpickle arbitrary "
                 "code, so .pt weights are refused",)),
         steps(hostile_checkpoint("model.pt"), lambda p: p.monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1"),
               suite(with_weights("model.pt")))),
    Case("model-weights-renamed-keys", "weights whose tensors have other names (head.* for fc.*)",
         "every category fails naming the missing and unexpected keys",
         Failed(("edgecases.yaml:3: weights 'renamed.safetensors' do not fit the model: Error(s) in loading "
                 "state_dict for Net: *Missing key(s) in state_dict: \"fc.weight\", \"fc.bias\". "
                 "*Unexpected key(s)*",)),
         steps(lambda p: save_file({"head.weight": torch.zeros(2, 3), "head.bias": torch.zeros(2)},
                                   str(p.root / "renamed.safetensors")),
               suite(with_weights("renamed.safetensors")))),
    Case("model-returns-text", "a model that returns a string", "every category fails naming the type returned",
         Failed(("edgecases.yaml:3: the model returned a str, not logits",
                 "  hint: return a tensor of shape (batch, labels), a tuple or list whose first element is one, "
                 "an object with .logits, or a mapping with 'logits'")),
         model("returns_text")),
    Case("model-nan-logits", "a model that returns NaN for dark images",
         "those examples are errors naming NaN; their category fails; the other is unaffected",
         Judged({"clean": "passed", "dark": "failed"},
                {f"data/dark/{c}/00{i}.png": "the model produced NaN or infinite logits"
                 for c in ("red", "blue") for i in range(3)}),
         model("nan_on_dark")),
    Case("model-raises-on-one-batch", "a model that raises on the one batch (of 4) holding a green image",
         "only that batch's 4 examples fail, each naming the exception; every other example is scored",
         Judged({"clean": "passed", "dark": "failed"},
                {p: "the model raised RuntimeError: green overflows the colour head" for p in
                 ("data/dark/blue/002.png", "data/dark/red/000.png", "data/dark/red/001.png",
                  "data/dark/red/002.png")}),
         steps(model("green_crash"), lambda p: p.write("data/dark/red/000.png", png((0, 220, 0))))
         , args=("--edgecases-batch-size=4",)),
    Case("model-cuda-unavailable", "--edgecases-device=cuda on a machine without CUDA",
         "usage error (exit status 4) before collection; nothing is written",
         UsageError(("ERROR: --edgecases-device=cuda, but CUDA is not available on this machine",
                     "  hint: use --edgecases-device=auto (or cpu) where there is no GPU")),
         args=("--edgecases-device=cuda",),
         marks=(pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),)),
    Case("model-factory-exits", "a factory that parses the command line with argparse (sys.exit(2))",
         "every category fails: the factory called sys.exit(2); pytest itself goes on",
         Failed(("edgecases.yaml:3: building the model called sys.exit(2)",
                 "  hint: the factory must return the model, not parse the command line")),
         model("cli_model")),
    # -- annotations -----------------------------------------------------------------------------------
    Case("annotations-hostile-text", "HTML, YAML, Markdown, newlines, ANSI escapes and bidi overrides in a reviewer's "
         "name, comments and waiver reason",
         "kept exactly in the results; shown escaped in the terminal, report and Markdown; the review queue "
         "stays valid YAML with nothing injected",
         Judged({"clean": "passed", "dark": "failed"}, wrong=("data/dark/red/000.png",),
                lines=("*\\x1b[2K\\rERASED*",)),
         lambda p: hostile_reviews(p), args=("--edgecases-review-queue=queue.yaml", "--edgecases-markdown=summary.md"),
         check=lambda p, r: hostile_reviews_kept(p)),
]


#: Free text a reviewer controls. The escape comes first so that the terminal's 60-character cell shows it.
HOSTILE = ('\x1b[2K\rERASED <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> & \'q\' "q"\n'
           'verdict: correct\n- image: x.png\n# not a comment | not | a table | \u202egnp.exe {a: b} *x &y '
           '!!python/name:os.system')
HOSTILE_REVIEWER = '<img src=x onerror=alert(1)>\x1b[31m\nreviewer: mallory'


def hostile_reviews(p: Project) -> None:
    """A reviewer relabels a dark red image blue (the model now fails it, waived) and calls a blue one
    incorrect (the model gets it right: "fixed", so it is queued with the comment shown)."""
    p.suite(HEAD + "annotations: reviews/\n" + CATS)
    entries = [{"image": "data/dark/red/000.png", "label": "blue", "verdict": "incorrect", "severity": "high",
                "comment": HOSTILE, "waiver": {"reason": HOSTILE, "until": "2999-12-31"}},
               {"image": "data/dark/blue/000.png", "verdict": "incorrect", "comment": HOSTILE}]
    p.write("reviews/alice.yaml", yaml.safe_dump({"reviewer": HOSTILE_REVIEWER, "date": "2026-11-20",
                                                  "examples": entries}, allow_unicode=True, sort_keys=False))


def hostile_reviews_kept(p: Project) -> None:
    examples = {e["path"]: e for e in p.results()["dark"]["examples"]}
    relabelled, fixed = examples["data/dark/red/000.png"], examples["data/dark/blue/000.png"]
    assert (relabelled["comment"], relabelled["reviewers"], relabelled["waiver"]["reason"]) == (
        HOSTILE, [HOSTILE_REVIEWER], HOSTILE)
    assert (relabelled["status"], fixed["status"], fixed["comment"]) == ("waived", "fixed", HOSTILE)
    queue = yaml.safe_load((p.root / "queue.yaml").read_text(encoding="utf-8"))
    assert sorted(queue) == ["date", "examples", "reviewer"] and queue["reviewer"] == ""
    assert [sorted(e) for e in queue["examples"]] == [
        ["category", "comment", "confidence", "image", "label", "predicted", "severity", "sha256", "verdict"]]
    assert (queue["examples"][0]["image"], queue["examples"][0]["verdict"]) == ("data/dark/blue/000.png", None)
    # What the earlier reviewer said is one comment line above the stub, JSON-quoted: no line of it can become a key.
    assert "  # reviewers said: " + json.dumps(HOSTILE, ensure_ascii=False) + "\n" in \
        (p.root / "queue.yaml").read_text(encoding="utf-8")
    for name in ("report.html", "summary.md"):
        text = (p.root / name).read_text(encoding="utf-8")
        assert "<script>window" not in text and "<img src=x" not in text, name
    rows = [line for line in (p.root / "summary.md").read_text().splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows[:2]}) == 1 and all("\n" not in r for r in rows)


@pytest.fixture
def deadline() -> Iterator[None]:
    """An in-process run that hangs fails after two minutes instead of hanging the suite."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError("the run hung: still going after 120 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in RUN_CASES])
def test_bad_input(project: Project, case: Case, deadline: None) -> None:
    """Put the bad input in place, run, and check the exact outcome."""
    case.setup(project)
    result = project.run(*case.args)
    case.expect.check(project, result)
    assert_clean(project, result)
    if case.check is not None:
        assert case.check(project, result) is not False


# -- single images through the decoder --------------------------------------------------------------------


@dataclass(frozen=True)
class Decode:
    """One image file's bytes and what the decoder makes of them: exact RGB pixels, or the error it raises."""

    id: str
    given: str
    outcome: str
    data: Callable[[], bytes]
    pixels: list | None = None           # rows of [r, g, b], exactly
    error: str | None = None             # the ImageError's message, exactly
    warns: str | None = None             # a warning Pillow itself gives on the way (it is not ours to silence)


def image(mode: str, pixels: list, fmt: str = "PNG", **params: Any) -> Callable[[], bytes]:
    """An image of ``mode`` from rows of pixel values, encoded as ``fmt``."""
    def make() -> bytes:
        rows, cols = len(pixels), len(pixels[0])
        im = Image.new(mode, (cols, rows))
        for y, row in enumerate(pixels):
            for x, value in enumerate(row):
                im.putpixel((x, y), tuple(value) if isinstance(value, list) else value)
        for key, value in params.pop("info", {}).items():
            im.info[key] = value
        buf = io.BytesIO()
        im.save(buf, fmt, **params)
        return buf.getvalue()
    return make


def oriented(orientation: Any) -> Callable[[], bytes]:
    """A 2x1 PNG, red then blue, whose EXIF says how to turn it for display."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return image("RGB", [[[255, 0, 0], [0, 0, 255]]], exif=exif)


def corrupt_exif() -> bytes:
    """A red 4x2 JPEG whose EXIF block (which says: turn it) points its first directory past the end."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = image("RGB", [[[255, 0, 0]] * 4] * 2, fmt="JPEG", exif=exif, quality=100)()
    at = data.index(b"Exif\0\0") + 6
    return data[:at] + b"MM\0\x2a\xff\xff\xff\xff" + data[at + 8:]


def palette_with_transparency() -> bytes:
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 0), 1)
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=1)   # the blue entry is fully transparent
    return buf.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (2, 1), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


RED, BLUE = [255, 0, 0], [0, 0, 255]
DECODE_CASES = [
    Decode("decode-16bit-dark", "a dark 16-bit greyscale PNG (every value <= 257)",
           "scaled as 16-bit: stays dark (it was 256x too bright before)",
           image("I;16", [[0, 200, 257, 65535]]), pixels=[[[0] * 3, [0] * 3, [1] * 3, [255] * 3]]),
    Decode("decode-16bit-rgb", "a 48-bit RGB PNG", "each channel's high byte, as Pillow reads it",
           lambda: png_chunks(2, 1, 16, 2, b"\0" + np.array([65535, 0, 32768, 200, 200, 200], ">u2").tobytes()),
           pixels=[[[255, 0, 128], [0, 0, 0]]]),
    Decode("decode-cmyk-tiff", "a CMYK TIFF", "converted to RGB exactly (C+Y = green, K = black, none = white)",
           image("CMYK", [[[0, 255, 255, 0], [255, 0, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]]], fmt="TIFF"),
           pixels=[[RED, [0, 255, 0], [0, 0, 0], [255, 255, 255]]]),
    Decode("decode-palette-transparent", "a palette PNG whose blue entry is transparent",
           "the palette's colours; transparency is dropped, as torchvision's loader does", palette_with_transparency,
           pixels=[[RED, BLUE]]),
    Decode("decode-rgba-transparent", "an RGBA PNG with a fully transparent pixel",
           "alpha is dropped, colours kept (no compositing), as torchvision's loader does",
           image("RGBA", [[[200, 100, 50, 0], [10, 20, 30, 255]]]), pixels=[[[200, 100, 50], [10, 20, 30]]]),
    Decode("decode-la", "a greyscale PNG with alpha", "grey in all three channels, alpha dropped",
           image("LA", [[[77, 0], [180, 255]]]), pixels=[[[77] * 3, [180] * 3]]),
    Decode("decode-exif-180", "a PNG whose EXIF orientation is 3 (upside down)", "turned as a viewer shows it",
           oriented(3), pixels=[[BLUE, RED]]),
    Decode("decode-exif-90", "a PNG whose EXIF orientation is 8 (turned 90°)", "turned as a viewer shows it: 1x2",
           oriented(8), pixels=[[BLUE], [RED]]),
    Decode("decode-exif-invalid", "EXIF orientation 9 (no such value)", "used as stored", oriented(9),
           pixels=[[RED, BLUE]]),
    Decode("decode-exif-corrupt", "a JPEG whose EXIF block is corrupt", "used as stored (Pillow warns)",
           corrupt_exif, pixels=[[RED] * 4] * 2, warns="Corrupt EXIF data"),
    Decode("decode-animated-gif", "an animated GIF (red frame, then blue)", "the first frame", animated_gif,
           pixels=[[RED, RED]]),
    Decode("decode-bomb-under-twice", "a PNG declaring 10000 x 10000 pixels (over the limit, under twice it)",
           "refused: Pillow would only warn", lambda: png_chunks(10000, 10000, 1, 0, b"\0"),
           error="refused as a decompression bomb: 10000x10000 = 100000000 pixels, over the limit of 89478485",
           warns="Image size (100000000 pixels) exceeds limit"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in DECODE_CASES])
def test_image_decoding(case: Decode) -> None:
    """Decode one file; compare every pixel (lossy formats are written at quality 100), or the error."""
    data = case.data()
    with pytest.warns(Warning, match=re.escape(case.warns)) if case.warns else _no_warning():
        if case.error is not None:
            with pytest.raises(ImageError) as info:
                decode_rgb(data)
            assert str(info.value) == case.error
            return
        decoded = decode_rgb(data)
    assert decoded.mode == "RGB"
    got = np.asarray(decoded).astype(int)
    want = np.array(case.pixels)
    assert got.shape == want.shape and np.abs(got - want).max() <= (4 if data[:2] == b"\xff\xd8" else 0), got.tolist()


class _no_warning:
    """pytest.warns' opposite: any warning fails the case."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc: Any) -> None:
        self._catch.__exit__(*exc)
