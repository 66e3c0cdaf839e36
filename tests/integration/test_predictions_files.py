"""Predictions as files, seen from outside: shards and a judge job, an external producer, the jobs export,
model: {predictions: FILE}, stale rows, and every bad input's outcome in a run (issue 16)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from support.project import colour_categories, suite_yaml

REPO = Path(__file__).resolve().parents[2]
#: Subprocesses import this checkout first, then whatever this process was given (a floor's pyarrow, say).
PATH = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

#: A synthetic category besides the colour suite's two: its levels are inputs no folder holds.
NOISY = ("  - name: noisy\n    from: clean\n    transform: {gaussian_noise: {sigma: [0.05, 0.4]}}\n"
         "    min_accuracy: 0.5\n")


def suite_text(model: str) -> str:
    """The tiny project's suite (support.project.suite_yaml) with the noisy category, for ``model``."""
    return suite_yaml(model=model, categories=colour_categories() + NOISY)


def factory(name: str) -> str:
    return f'{{factory: "{name}", args: {{bias: 1.0}}}}'


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none", *args)


#: What a run record says about how long inference took and where predictions came from, which differs
#: between one run and a judge of shards by design (the judge ran no model, on no device).
HOW = ("seconds", "date", "inferred", "cached", "from_files", "device")


def comparable(path: Path) -> list[dict[str, Any]]:
    """A results file's categories, their run records without timings and sources (HOW)."""
    doc = json.loads(path.read_text())
    out = []
    for cat in doc["categories"]:
        cat = dict(cat)
        cat["run"] = {k: v for k, v in cat["run"].items() if k not in HOW}
        assert cat["run"]["model"] and cat["run"]["images"]
        out.append(cat)
    return out


def counts(result: pytest.RunResult) -> dict[str, int]:
    """The run line's counts: images, from predictions files (0 when not shown), inferred, from cache."""
    import re

    match = re.search(r"edgecases: colours: (?:shard \d+/\d+: )?(\d+) images, (?:(\d+) from predictions files, )?"
                      r"(\d+) inferred, (\d+) from cache", result.stdout.str())
    assert match, result.stdout.str()
    return {"images": int(match[1]), "files": int(match[2] or 0), "inferred": int(match[3]),
            "cached": int(match[4])}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_three_shards_and_a_judge_give_one_runs_results(pytester, tiny_project, forward_log, fmt):
    tiny_project(suite_text(factory("countmodel:build")))
    one = run(pytester, "--edgecases-no-cache", "--edgecases-results=one.json")
    total = counts(one)["images"]
    assert sum(forward_log()) == total
    before = len(forward_log())

    shard_images = 0
    for k in (1, 2, 3):
        shard = run(pytester, "--edgecases-no-cache", f"--edgecases-shard={k}/3",
                    f"--edgecases-save-predictions=parts/{k}.{fmt}", "-rs")
        assert shard.ret == 0
        shard.assert_outcomes(skipped=4)
        line = counts(shard)
        assert line["inferred"] == line["images"]
        shard_images += line["images"]
        shard.stdout.fnmatch_lines([f"*shard {k}/3: {line['images']} of {total} predictions written*"])
    # Each input inferred once in all: the shards' forward passes add up to one run's.
    assert shard_images == total
    assert sum(forward_log()[before:]) == total
    before = len(forward_log())

    judge = run(pytester, "--edgecases-no-cache", f"--edgecases-predictions=parts/*.{fmt}",
                "--edgecases-results=judge.json")
    assert judge.ret == one.ret == pytest.ExitCode.TESTS_FAILED
    assert counts(judge) == {"images": total, "files": total, "inferred": 0, "cached": 0}
    assert len(forward_log()) == before           # the judge runs no model
    assert comparable(pytester.path / "judge.json") == comparable(pytester.path / "one.json")
    judge.stdout.fnmatch_lines([f"*{total} images, {total} from predictions files, 0 inferred, 0 from cache*"])


def test_shards_under_xdist_write_the_same_predictions(pytester, tiny_project):
    tiny_project(suite_text(factory("tinymodel:build")))
    run(pytester, "--edgecases-no-cache", "--edgecases-shard=2/2", "--edgecases-save-predictions=plain.parquet")
    run(pytester, "--edgecases-no-cache", "--edgecases-shard=2/2", "--edgecases-save-predictions=xdist.parquet",
        "-n", "2").assert_outcomes(skipped=4)
    plain, spread = (pq.read_table(pytester.path / f"{name}.parquet").to_pylist() for name in ("plain", "xdist"))
    assert plain and sorted(plain, key=lambda r: r["key"]) == sorted(spread, key=lambda r: r["key"])
    run(pytester, "--edgecases-no-cache", "--edgecases-shard=1/2", "--edgecases-save-predictions=one.parquet")
    # The judge under xdist judges as in one process.
    files = ("--edgecases-predictions=one.parquet", "--edgecases-predictions=xdist.parquet")
    single = run(pytester, *files, "--edgecases-results=single.json")
    spread_judge = run(pytester, *files, "--edgecases-results=spread.json", "-n", "2")
    assert single.ret == spread_judge.ret == pytest.ExitCode.TESTS_FAILED
    assert comparable(pytester.path / "single.json") == comparable(pytester.path / "spread.json")


def test_a_judge_run_over_files_imports_no_torch(pytester, tiny_project):
    tiny_project()
    run(pytester, "--edgecases-no-cache", "--edgecases-save-predictions=all.parquet")
    script = textwrap.dedent("""
        import sys, pytest
        code = pytest.main(["--edgecases", "-p", "no:cacheprovider", "--edgecases-report=none", "-q",
                            "--edgecases-predictions=all.parquet"])
        print("EXIT", int(code), "TORCH", "torch" in sys.modules)
    """)
    env = {**os.environ, "PYTHONPATH": PATH}
    done = subprocess.run([sys.executable, "-c", script], cwd=pytester.path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert "EXIT 1 TORCH False" in done.stdout, done.stdout + done.stderr
    assert "24 from predictions files, 0 inferred" in done.stdout


#: A plain PyTorch script that knows nothing of the plugin: it reads jobs.parquet, runs the model on each
#: PNG with the suite's preprocessing (resize to 8x8, bilinear; scale to [0, 1]) and writes logits.
PRODUCER = '''
import json, sys
import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image
from tinymodel import build

jobs = pq.read_table("jobs/jobs.parquet").to_pylist()
labels = json.load(open("jobs/labels.json"))["colours"]
model = build(bias=1.0).eval()
with open(sys.argv[1], "w") as out:
    for job in jobs:
        image = Image.open("jobs/" + job["path"]).convert("RGB").resize((8, 8), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255).unsqueeze(0)
        with torch.no_grad():
            logits = model(x)[0].tolist()
        out.write(json.dumps({"key": job["key"], "kind": "logits", **dict(zip(labels, logits))}) + "\\n")
'''


def verdicts(path: Path) -> dict[tuple[str, str], tuple[str | None, bool]]:
    doc = json.loads(path.read_text())
    out = {}
    for cat in doc["categories"]:
        out[(cat["category"], "")] = (None, cat["passed"])
        for ex in cat["examples"]:
            out[(cat["category"], ex["path"])] = (ex["predicted"], ex["status"])
    return out


def test_an_external_producer_gives_the_plugins_verdicts(pytester, tiny_project):
    suite = tiny_project(suite_text(factory("tinymodel:build")))
    own = run(pytester, "--edgecases-no-cache", "--edgecases-results=own.json")
    env = {**os.environ, "PYTHONPATH": f"{PATH}{os.pathsep}{pytester.path}"}
    exported = subprocess.run([sys.executable, "-m", "pytest_edgecases", "jobs", suite.name, "--out", "jobs"],
                              cwd=pytester.path, env=env, capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr
    rows = pq.read_table(pytester.path / "jobs/jobs.parquet").to_pylist()
    assert {r["level"] for r in rows if r["category"] == "noisy"} == {"sigma=0.05", "sigma=0.4"}
    assert len(rows) == counts(own)["images"]
    assert all((pytester.path / "jobs" / r["path"]).is_file() for r in rows)
    assert list(csv.DictReader(open(pytester.path / "jobs/jobs.csv"))) == rows

    (pytester.path / "producer.py").write_text(PRODUCER)
    made = subprocess.run([sys.executable, "producer.py", "external.jsonl"], cwd=pytester.path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr

    judged = run(pytester, "--edgecases-no-cache", "--edgecases-predictions=external.jsonl",
                 "--edgecases-results=external.json")
    assert judged.ret == own.ret
    assert counts(judged)["inferred"] == 0
    assert verdicts(pytester.path / "external.json") == verdicts(pytester.path / "own.json")

    # The same file as a suite's own model: a suite with no model to run.
    (pytester.path / "fromfile.yaml").write_text(suite_text("{predictions: external.jsonl}"))
    alone = run(pytester, "fromfile.yaml", "--edgecases-no-cache", "--edgecases-results=alone.json")
    assert alone.ret == own.ret
    assert verdicts(pytester.path / "alone.json") == verdicts(pytester.path / "own.json")


def test_inputs_no_file_covers_are_inferred_or_not_judged(pytester, tiny_project, forward_log):
    tiny_project(suite_text(factory("countmodel:build")))
    run(pytester, "--edgecases-no-cache", "-k", "clean", "--edgecases-save-predictions=clean.csv")
    before = sum(forward_log())
    # With a model: what the file covers is read, the rest inferred.
    mixed = run(pytester, "--edgecases-no-cache", "--edgecases-predictions=clean.csv")
    line = counts(mixed)
    assert line["files"] == 12 and line["inferred"] == line["images"] - 12 == sum(forward_log()) - before
    # Without one: the categories with an uncovered image are NOT JUDGED, with the count and the first paths.
    (pytester.path / "fromfile.yaml").write_text(suite_text("{predictions: clean.csv}"))
    alone = run(pytester, "fromfile.yaml", "--edgecases-no-cache", "-rf")
    alone.assert_outcomes(passed=1, failed=3)
    # Line 9: the dark category (suite_yaml writes no leading blank line).
    alone.stdout.fnmatch_lines(["fromfile.yaml:9: 12 of 12 images have no prediction in the predictions files, and the suite "
                                "has no model to infer them: data/dark/blue/000.png, data/dark/blue/001.png, *",
                                "*NOT JUDGED*"])


def test_a_stale_row_is_named_and_never_used(pytester, tiny_project, forward_log, solid_image):
    tiny_project(suite_text(factory("countmodel:build")))
    run(pytester, "--edgecases-no-cache", "-k", "clean and not noisy", "--edgecases-save-predictions=p.csv")
    rows = list(csv.DictReader(open(pytester.path / "p.csv")))
    # Name rows by path and sha256, as a producer without the jobs file would.
    import hashlib

    with open(pytester.path / "bypath.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "sha256", "red", "blue"])
        writer.writeheader()
        for image in sorted((pytester.path / "data/clean").rglob("*.png")):
            red = 0.9 if image.parent.name == "red" else 0.1
            writer.writerow({"path": image.relative_to(pytester.path).as_posix(),
                             "sha256": hashlib.sha256(image.read_bytes()).hexdigest(), "red": red, "blue": 1 - red})
    assert rows
    changed = pytester.path / "data/clean/red/000.png"
    solid_image(changed, (250, 0, 0), size=16)
    before = sum(forward_log())
    result = run(pytester, "--edgecases-no-cache", "--edgecases-predictions=bypath.csv", "-k", "clean and not noisy")
    assert counts(result)["files"] == 11 and sum(forward_log()) - before == 1   # re-inferred, not read
    result.stdout.fnmatch_lines(["*bypath.csv:8: data/clean/red/000.png has changed since it was predicted*"])
    # Without a model, the changed image leaves its category NOT JUDGED: the stale row is never used.
    (pytester.path / "fromfile.yaml").write_text(suite_text("{predictions: bypath.csv}"))
    alone = run(pytester, "fromfile.yaml", "--edgecases-no-cache", "-k", "clean and not noisy")
    alone.assert_outcomes(failed=1)
    alone.stdout.fnmatch_lines(["*1 of 12 images have no prediction in the predictions files, and the suite has no "
                                "model to infer them: data/clean/red/000.png*"])


def _bad_run(pytester: pytest.Pytester, name: str, text: str) -> pytest.RunResult:
    (pytester.path / name).write_text(text)
    return run(pytester, "--edgecases-no-cache", f"--edgecases-predictions={name}", "-k", "clean and not noisy")


def test_a_bad_predictions_file_judges_nothing_and_says_where(pytester, tiny_project, forward_log):
    tiny_project(suite_text(factory("countmodel:build")))
    run(pytester, "--edgecases-no-cache", "-k", "clean and not noisy", "--edgecases-save-predictions=good.csv")
    lines = (pytester.path / "good.csv").read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    before = len(forward_log())
    red = header.split(",").index("red")
    nan = ",".join(first[:red] + ["nan"] + first[red + 1:])
    result = _bad_run(pytester, "nan.csv", "\n".join([header, nan] + lines[2:]) + "\n")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nan.csv:2: a label's value is empty or NaN*"])
    assert len(forward_log()) == before   # not judged on wrong data, and not inferred around it either
    result = _bad_run(pytester, "extra.csv", "\n".join([header + ",green"] + [r + ",0" for r in lines[1:]]) + "\n")
    result.stdout.fnmatch_lines(["*extra.csv*column 'green' is not a label of suite colours*"])
    (pytester.path / "empty.parquet").write_bytes(b"")
    result = run(pytester, "--edgecases-no-cache", "--edgecases-predictions=empty.parquet")
    result.stdout.fnmatch_lines(["*empty.parquet: not a readable Parquet file (empty or truncated?)*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("args, message", [
    (["--edgecases-shard=3/2", "--edgecases-save-predictions=p.csv"], "*--edgecases-shard must be K/N with 1 <= K <= N*"),
    (["--edgecases-shard=0/2", "--edgecases-save-predictions=p.csv"], "*--edgecases-shard must be K/N with 1 <= K*"),
    (["--edgecases-shard=x", "--edgecases-save-predictions=p.csv"], "*--edgecases-shard must be K/N (this job*"),
    (["--edgecases-shard=1/2"], "*--edgecases-shard needs --edgecases-save-predictions=FILE*"),
    (["--edgecases-save-predictions=p.txt"], "*--edgecases-save-predictions must end in .parquet, .csv, .jsonl*"),
    (["--edgecases-predictions=parts/*.parquet"], "*--edgecases-predictions 'parts/*.parquet' matches no file*"),
    (["--edgecases-predictions=edgecases.yaml"], "*'edgecases.yaml' is not a predictions file*"),
])
def test_bad_options_are_usage_errors(pytester, tiny_project, args, message):
    tiny_project()
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_ini_key_takes_files_and_globs(pytester, tiny_project):
    tiny_project()
    run(pytester, "--edgecases-no-cache", "--edgecases-save-predictions=parts/all.jsonl")
    pytester.makeini("[pytest]\nedgecases_predictions =\n    parts/*.jsonl\n")
    assert counts(run(pytester, "--edgecases-no-cache"))["files"] == 24


def test_the_jobs_export_writes_only_into_its_own_folder(pytester, tiny_project):
    suite = tiny_project()
    (pytester.path / "mine").mkdir()
    (pytester.path / "mine/notes.txt").write_text("keep me")
    env = {**os.environ, "PYTHONPATH": PATH}
    done = subprocess.run([sys.executable, "-m", "pytest_edgecases", "jobs", suite.name, "--out", "mine"],
                          cwd=pytester.path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "holds other files; nothing was written" in done.stderr
    assert sorted(os.listdir(pytester.path / "mine")) == ["notes.txt"]
