"""Collection: which files become suites, test ids, selection, and options from the ini file."""
from __future__ import annotations

import textwrap

import pytest


def test_one_item_per_category_judged_on_thresholds(tiny_project, pytester):
    tiny_project()
    result = pytester.runpytest("--edgecases", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["PASSED edgecases.yaml::clean*", "FAILED edgecases.yaml::dark*"])


def test_collect_only_lists_categories_and_infers_nothing(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    result = pytester.runpytest("--edgecases", "--co", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["edgecases.yaml::clean", "edgecases.yaml::dark", "2 tests collected*"])
    assert forward_log() == []
    assert "inferred" not in result.stdout.str()


def test_ids_are_suite_path_and_category(tiny_project, pytester):
    (pytester.path / "suites").mkdir()
    suite = tiny_project(filename="suites/road.edgecases.yaml")
    suite.write_text(suite.read_text().replace("data/", "../data/"))
    result = pytester.runpytest("--edgecases", "--co", "-q")
    result.stdout.fnmatch_lines(["suites/road.edgecases.yaml::clean", "suites/road.edgecases.yaml::dark"])


def test_k_selects_categories_by_name(tiny_project, pytester):
    tiny_project()
    result = pytester.runpytest("--edgecases", "-k", "dark", "-rA")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["FAILED edgecases.yaml::dark*"])


def test_items_carry_the_edgecases_marker(tiny_project, pytester):
    tiny_project()
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--edgecases", "-m", "edgecases")
    result.assert_outcomes(passed=1, failed=1, deselected=1)


def test_without_the_flag_nothing_is_collected_from_yaml(tiny_project, pytester):
    tiny_project()
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(["test_plain.py::test_plain", "1 test collected*"])
    assert "edgecases.yaml" not in result.stdout.str()
    pytester.runpytest().assert_outcomes(passed=1)


def test_yaml_files_not_matching_the_patterns_are_ignored(tiny_project, pytester):
    tiny_project()
    (pytester.path / "config.yaml").write_text("this: [is not, a suite\n")
    (pytester.path / "other.edgecases.yml").write_text("nor: [this\n")
    result = pytester.runpytest("--edgecases", "--co", "-q")
    assert result.ret == 0
    assert "config.yaml" not in result.stdout.str()
    assert "other.edgecases.yml" not in result.stdout.str()


def test_star_edgecases_yaml_files_are_collected(tiny_project, pytester):
    tiny_project(filename="road.edgecases.yaml")
    tiny_project(filename="edgecases.yaml")
    result = pytester.runpytest("--edgecases", "--co", "-q")
    result.stdout.fnmatch_lines(["edgecases.yaml::clean", "edgecases.yaml::dark",
                                 "road.edgecases.yaml::clean", "road.edgecases.yaml::dark"])


def test_ini_edgecases_files_takes_other_patterns(tiny_project, pytester):
    tiny_project(filename="colours.suite.yaml")
    pytester.makeini("[pytest]\nedgecases_files = *.suite.yaml\n")
    result = pytester.runpytest("--edgecases", "--co", "-q")
    result.stdout.fnmatch_lines(["colours.suite.yaml::clean", "colours.suite.yaml::dark"])


def test_ini_patterns_may_name_a_path_from_the_rootdir(tiny_project, pytester):
    suite = tiny_project(filename="colours.yaml")
    (pytester.path / "suites").mkdir()
    suite.rename(pytester.path / "suites" / "colours.yaml")
    text = (pytester.path / "suites" / "colours.yaml").read_text().replace("data/", "../data/")
    (pytester.path / "suites" / "colours.yaml").write_text(text)
    (pytester.path / "other.yaml").write_text("not: [a suite\n")
    pytester.makeini("[pytest]\nedgecases_files = suites/*.yaml\n")
    result = pytester.runpytest("--edgecases", "--co", "-q")
    result.stdout.fnmatch_lines(["suites/colours.yaml::clean", "suites/colours.yaml::dark"])
    assert "other.yaml" not in result.stdout.str()


def test_a_yaml_file_named_on_the_command_line_is_collected(tiny_project, pytester):
    tiny_project(filename="colours.yaml")   # matches no pattern
    assert "colours.yaml::" not in pytester.runpytest("--edgecases", "--co", "-q").stdout.str()
    result = pytester.runpytest("--edgecases", "--co", "-q", "colours.yaml")
    result.stdout.fnmatch_lines(["colours.yaml::clean", "colours.yaml::dark"])


def test_ini_enables_edgecases_and_sets_batch_size(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    pytester.makeini(textwrap.dedent("""
        [pytest]
        edgecases = true
        edgecases_batch_size = 5
    """))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "clean")
    result.assert_outcomes(passed=1, deselected=1)
    assert forward_log() == [5, 5, 2]


def test_command_line_wins_over_ini(tiny_project, pytester, forward_log):
    tiny_project(factory="countmodel:build")
    pytester.makeini("[pytest]\nedgecases_batch_size = 5\n")
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-batch-size=7", "-k", "clean")
    assert forward_log() == [7, 5]


@pytest.mark.parametrize("option, message", [
    ("--edgecases-batch-size=0", "--edgecases-batch-size must be a whole number >= 1, got '0'"),
    ("--edgecases-batch-size=many", "--edgecases-batch-size must be a whole number >= 1, got 'many'"),
    ("--edgecases-cache-max-age=-1", "--edgecases-cache-max-age must be a whole number >= 0 (days; 0 keeps "
                                     "everything), got '-1'"),
    ("--edgecases-cache-max-age=1.5", "--edgecases-cache-max-age must be a whole number >= 0*, got '1.5'"),
    ("--edgecases-device=tpu", "--edgecases-device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("--edgecases-precision=int8", "--edgecases-precision must be fp32, bf16 or fp16, got 'int8'"),
    ("--edgecases-results=out.txt", "--edgecases-results must end in .csv or .json, got 'out.txt'"),
])
def test_bad_option_values_are_usage_errors(pytester, option, message):
    result = pytester.runpytest("--edgecases", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


RECORD_IMPORTS = """
import sys


def pytest_unconfigure(config):
    heavy = [name for name in ("torch", "torchvision", "pandas") if name in sys.modules]
    with open("heavy-imports.txt", "w") as f:
        f.write(",".join(heavy) or "none")
"""


def test_without_the_flag_torch_is_never_imported(tiny_project, pytester):
    """A fresh interpreter (subprocess): the plugin is loaded by its entry point, nothing heavy with it."""
    tiny_project()
    pytester.makeconftest(RECORD_IMPORTS)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "edgecases" in result.stdout.str()   # the plugin was loaded (listed under plugins:)
    assert (pytester.path / "heavy-imports.txt").read_text() == "none"
