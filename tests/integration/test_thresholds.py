"""Thresholds and their defaults, judged end to end. (Example statuses judged from records:
tests/unit/test_verdicts.py.)

The tiny project's model (bias 1.0) gets every clean image right and exactly the six dark red
images of data/dark/ wrong, so each category's figures are known in advance.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from support.project import suite_yaml

#: The colour suite's settings (the tiny model with bias 1.0), without defaults or categories.
HEAD = suite_yaml(defaults=None, categories="")


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    """Run the suite; return the result and each category's entry of the JSON results file."""
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-rA", "--edgecases-results=out.json",
                                *args)
    doc = json.loads((pytester.path / "out.json").read_text())
    return result, {c["category"]: c for c in doc["categories"]}


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """category -> PASSED/FAILED, from the -rA summary."""
    out = {}
    for line in result.stdout.lines:
        for word in ("PASSED", "FAILED"):
            if line.startswith(word + " ") and "::" in line:
                out[line.split("::", 1)[1].split()[0]] = word
    return out


def test_min_accuracy_with_defaults_and_overrides(tiny_project, pytester):
    tiny_project(HEAD + """
defaults: {min_accuracy: 0.9}
categories:
  - {name: clean, images: data/clean/}
  - {name: dark_default, images: data/dark/}
  - {name: dark_half, images: data/dark/, min_accuracy: 0.5}
  - {name: dark_more, images: data/dark/, min_accuracy: 0.51}
  - {name: dark_unchecked, images: data/dark/, min_accuracy: null}
""")
    result, cats = run(pytester)
    assert outcomes(result) == {"clean": "PASSED", "dark_default": "FAILED", "dark_half": "PASSED",
                                "dark_more": "FAILED", "dark_unchecked": "PASSED"}
    assert cats["dark_half"]["accuracy"] == 0.5
    assert cats["dark_default"]["thresholds"]["min_accuracy"] == 0.9
    assert cats["dark_unchecked"]["thresholds"]["min_accuracy"] is None
    result.stdout.fnmatch_lines(["min_accuracy *50.0% (accuracy)*>= 51.0%*FAILED*short by 1.0%"])


def test_max_failures_per_severity(tiny_project, pytester):
    tiny_project(HEAD + """
defaults: {max_failures: {high: 0}}
categories:
  - {name: high_default, images: data/dark/, severity: high}
  - {name: high_lifted, images: data/dark/, severity: high, max_failures: {high: null}}
  - {name: high_6, images: data/dark/, severity: high, max_failures: {high: 6}}
  - {name: high_5, images: data/dark/, severity: high, max_failures: {high: 5}}
  - {name: medium_unlimited, images: data/dark/, severity: medium}
  - {name: medium_merged, images: data/dark/, severity: medium, max_failures: {medium: 5}}
  - {name: any_6, images: data/dark/, severity: low, max_failures: 6}
  - {name: any_5, images: data/dark/, severity: low, max_failures: 5}
""")
    result, cats = run(pytester)
    assert outcomes(result) == {
        "high_default": "FAILED", "high_lifted": "PASSED", "high_6": "PASSED", "high_5": "FAILED",
        "medium_unlimited": "PASSED", "medium_merged": "FAILED", "any_6": "PASSED", "any_5": "FAILED"}
    assert cats["high_5"]["failures_by_severity"] == {"low": 0, "medium": 0, "high": 6}
    # The category's own level is added to the defaults' levels, not swapped for them.
    assert cats["medium_merged"]["thresholds"]["max_failures"] == {"high": 0, "medium": 5}
    result.stdout.fnmatch_lines(["max_failures?high?*6*<= 5*FAILED*1 over"])


def test_min_examples_is_too_few_to_judge_never_a_pass(tiny_project, pytester):
    (pytester.path / "two.csv").write_text("path,label\ndata/clean/red/000.png,red\ndata/clean/blue/000.png,blue\n")
    tiny_project(HEAD + """
categories:
  - {name: two_of_three, manifest: two.csv, min_examples: 3}
  - {name: two_of_two, manifest: two.csv, min_examples: 2}
""")
    result, cats = run(pytester)
    assert outcomes(result) == {"two_of_three": "FAILED", "two_of_two": "PASSED"}
    assert cats["two_of_three"]["accuracy"] == 1.0
    result.stdout.fnmatch_lines(["min_examples *2*>= 3*FAILED*too few to judge*"])


def test_a_category_with_nothing_scored_fails(tiny_project, pytester):
    (pytester.path / "data/broken/red").mkdir(parents=True)
    (pytester.path / "data/broken/red/000.png").write_bytes(b"not a png")
    tiny_project(HEAD + """
categories:
  - {name: broken, images: data/broken/}
""", clean=0, dark=0)
    result, cats = run(pytester)
    assert outcomes(result) == {"broken": "FAILED"}
    assert cats["broken"]["n_scored"] == 0 and cats["broken"]["accuracy"] is None
    result.stdout.fnmatch_lines(["min_examples *0*>= 1*FAILED*too few to judge*"])


def test_gate_lower_bound_applies_min_accuracy_to_the_wilson_bound(tiny_project, pytester):
    # 12/12 correct: point estimate 100%, Wilson 95% interval [75.8%, 100%].
    tiny_project(HEAD + """
defaults: {min_accuracy: 0.8}
categories:
  - {name: point, images: data/clean/}
  - {name: bound, images: data/clean/, gate: lower_bound}
  - {name: bound_low, images: data/clean/, gate: lower_bound, min_accuracy: 0.75}
""", dark=0)
    result, cats = run(pytester)
    assert outcomes(result) == {"point": "PASSED", "bound": "FAILED", "bound_low": "PASSED"}
    assert cats["bound"]["ci_low"] == pytest.approx(0.7575, abs=1e-4)
    result.stdout.fnmatch_lines(["min_accuracy *75.8% (lower 95% bound)*>= 80.0%*FAILED*short by 4.2%;"
                                 " gate: lower_bound*accuracy 100.0% meets the limit, but 12 examples are too few*"])


def test_gate_in_defaults(tiny_project, pytester):
    tiny_project(HEAD + """
defaults: {min_accuracy: 0.8, gate: lower_bound}
categories:
  - {name: bound, images: data/clean/}
  - {name: point, images: data/clean/, gate: point}
""", dark=0)
    result, _ = run(pytester)
    assert outcomes(result) == {"bound": "FAILED", "point": "PASSED"}


def camera_manifest(root: Path) -> None:
    """Camera a: 8 clean images (all right). Camera b: 4 dark red (wrong) and 4 dark blue (right)."""
    rows = ["path,label,camera"]
    rows += [f"data/clean/{lab}/{i:03d}.png,{lab},a" for lab in ("red", "blue") for i in range(4)]
    rows += [f"data/dark/{lab}/{i:03d}.png,{lab},b" for lab in ("red", "blue") for i in range(4)]
    (root / "cameras.csv").write_text("\n".join(rows) + "\n")


def test_group_by_and_max_group_gap(tiny_project, pytester):
    camera_manifest(pytester.path)
    tiny_project(HEAD + """
categories:
  - {name: gap_ok, manifest: cameras.csv, group_by: camera, max_group_gap: 0.5}
  - {name: gap_too_big, manifest: cameras.csv, group_by: camera, max_group_gap: 0.4}
  - {name: groups_only, manifest: cameras.csv, group_by: camera}
""")
    result, cats = run(pytester)
    assert outcomes(result) == {"gap_ok": "PASSED", "gap_too_big": "FAILED", "groups_only": "PASSED"}
    groups = cats["gap_too_big"]["groups"]
    assert {g: (v["n"], v["correct"]) for g, v in groups.items()} == {"a": (8, 8), "b": (8, 4)}
    result.stdout.fnmatch_lines(["max_group_gap *50.0%*<= 40.0%*FAILED*camera=b trails camera=a",
                                 "camera *images*accuracy (95% CI)*"])


def test_max_group_gap_in_defaults(tiny_project, pytester):
    camera_manifest(pytester.path)
    tiny_project(HEAD + """
defaults: {max_group_gap: 0.4}
categories:
  - {name: cameras, manifest: cameras.csv, group_by: camera}
""")
    result, _ = run(pytester)
    assert outcomes(result) == {"cameras": "FAILED"}


def test_severity_precedence_manifest_category_defaults_medium(tiny_project, pytester):
    rows = ["path,label,severity", "data/dark/red/000.png,red,low", "data/dark/red/001.png,red,",
            "data/dark/red/002.png,red,high"]
    (pytester.path / "sev.csv").write_text("\n".join(rows) + "\n")
    tiny_project(HEAD + """
defaults: {severity: low}
categories:
  - {name: from_defaults, images: data/dark/}
  - {name: from_category, images: data/dark/, severity: high}
  - {name: from_manifest, manifest: sev.csv, severity: medium, max_failures: {low: 0}}
""")
    (pytester.path / "plain.edgecases.yaml").write_text(HEAD + """
categories:
  - {name: no_severity_anywhere, images: data/dark/}
""")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-rA", "--edgecases-results=out.csv")
    table = pd.read_csv(pytester.path / "out.csv")
    wrong = table[table["correct"] == False]  # noqa: E712
    severities = {(r.category, r.path): r.severity for r in wrong.itertuples()}
    assert {c: s for (c, _), s in severities.items() if c != "from_manifest"} == {
        "from_defaults": "low", "from_category": "high", "no_severity_anywhere": "medium"}
    assert {p: s for (c, p), s in severities.items() if c == "from_manifest"} == {
        "data/dark/red/000.png": "low", "data/dark/red/001.png": "medium", "data/dark/red/002.png": "high"}
    # max_failures counts each failure at its resolved severity.
    assert outcomes(result)["from_manifest"] == "FAILED"
    result.stdout.fnmatch_lines(["max_failures?low? *1*<= 0*FAILED*"])


# -- verdicts.example_result and judge, directly ------------------------------------------------


