"""Saliency in whole runs (--edgecases-explain, a suite's explain:): which examples get maps, what the maps
say, the same maps on every rerun (cached, -n 2), and what a user sees for each bad input.

The project: ConvNet (support.project.CONV_MODEL) on 16 px images whose left half is red or blue and right
half mid grey. With bias 1.0 the dark red images are read as blue, and a map for "blue" can be worked out
by hand: gradcam's map is channel 1's activation, -4R + 4B + 1 on the left half and 1 on the grey right half.
Dark red is R - B = 29/255 (write_images: 15 % of 220 and of 30, plus the same small offset), so the left half
holds 1 - 4 * 29/255 = 0.545 and the right half 1 / 1.545 = 64.7 % of the mass.
"""
from __future__ import annotations

import json
import sys
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from support.project import conv_project

GRID = 8


def explained(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(category, path) -> the example's dict, for the examples of a results file that carry a map."""
    doc = json.loads(path.read_text())
    return {(c["category"], e["path"]): e for c in doc["categories"] for e in c["examples"] if "saliency" in e}


def maps(path: Path) -> dict[tuple[str, str], tuple]:
    return {k: (e["saliency"], e.get("saliency_expected")) for k, e in explained(path).items()}


def right_half(grid: list[list[float]]) -> float:
    return sum(v for row in grid for v in row[GRID // 2:])


def test_failures_get_maps_for_the_predicted_and_the_expected_label(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain",
                                "--edgecases-results=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*colours: saliency for 4 examples, 8 maps made, 0 from cache*"])
    got = explained(pytester.path / "out.json")
    # The four dark red failures, and nothing the report does not show (the correct examples).
    assert sorted(got) == [("dark", f"data/dark/red/{i:03d}.png") for i in range(4)]
    for example in got.values():
        predicted, expected = example["saliency"], example["saliency_expected"]
        assert (predicted["method"], predicted["target"]) == ("gradcam", "blue")
        assert (expected["method"], expected["target"]) == ("gradcam", "red")
        for grid in (predicted["grid"], expected["grid"]):
            assert len(grid) == GRID and all(len(row) == GRID for row in grid)
            assert min(v for row in grid for v in row) >= 0
            assert sum(v for row in grid for v in row) == pytest.approx(1.0, abs=1e-9)
        # Where the evidence for "blue" is: the grey half more than the dark red one (worked out above).
        assert right_half(predicted["grid"]) == pytest.approx(1 / (2 - 4 * 29 / 255), abs=1e-3)
        # Nothing in the image argues for "red": no evidence anywhere is a uniform map.
        assert expected["grid"] == [[1 / GRID ** 2] * GRID] * GRID


def test_the_other_methods_tell_their_own_story(pytester: pytest.Pytester) -> None:
    """Against a black baseline: integrated gradients finds the grey half neutral (its red and blue cancel)
    and the dark red half the whole story (as evidence against blue: maps keep the magnitude); occluding any
    window only raises "blue" (-4R + 4B + 1 is largest at black), so occlusion finds no positive evidence,
    and no evidence is a uniform map."""
    conv_project(pytester.path)
    for method in ("integrated_gradients", "occlusion"):
        pytester.runpytest("--edgecases", "-p", "no:cacheprovider", f"--edgecases-explain={method}",
                           f"--edgecases-results={method}.json").assert_outcomes(passed=1, failed=1)
        got = explained(pytester.path / f"{method}.json")
        assert len(got) == 4
        for example in got.values():
            grid = example["saliency"]["grid"]
            assert example["saliency"]["method"] == method
            assert sum(v for row in grid for v in row) == pytest.approx(1.0, abs=1e-9) and min(map(min, grid)) >= 0
            if method == "occlusion":
                assert grid == [[1 / GRID ** 2] * GRID] * GRID
            else:
                assert right_half(grid) < 0.01


def test_same_maps_on_rerun_from_cache_and_under_xdist(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path)
    args = ["--edgecases", "--edgecases-explain", "--edgecases-cache-dir=.cache"]
    pytester.runpytest(*args, "--edgecases-results=cold.json")
    warm = pytester.runpytest(*args, "--edgecases-results=warm.json")
    warm.stdout.fnmatch_lines(["*colours: saliency for 4 examples, 0 maps made, 8 from cache*"])
    fresh = pytester.runpytest("--edgecases", "--edgecases-explain", "--edgecases-no-cache",
                               "--edgecases-results=fresh.json")
    fresh.stdout.fnmatch_lines(["*8 maps made, 0 from cache*"])
    xdist = pytester.runpytest_subprocess("--edgecases", "--edgecases-explain", "--edgecases-no-cache", "-n", "2",
                                          "--edgecases-results=xdist.json")
    xdist.assert_outcomes(passed=1, failed=1)
    cold = maps(pytester.path / "cold.json")
    assert len(cold) == 4
    for name in ("warm", "fresh", "xdist"):
        assert maps(pytester.path / f"{name}.json") == cold, name


def test_the_suite_asks_and_the_option_names_another_method(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path, extra="explain: {method: occlusion}")
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=suite.json")
    assert {e["saliency"]["method"] for e in explained(pytester.path / "suite.json").values()} == {"occlusion"}
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain=gradcam",
                       "--edgecases-results=option.json")
    assert {e["saliency"]["method"] for e in explained(pytester.path / "option.json").values()} == {"gradcam"}


def test_without_the_option_or_a_suite_section_nothing_is_explained(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path)
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out.json")
    assert explained(pytester.path / "out.json") == {}
    assert "saliency" not in result.stdout.str()


def test_the_report_embeds_both_heat_maps_on_each_failure_card(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path)
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain")
    html = (pytester.path / "edgecases-report.html").read_text()
    assert html.count('class="thumb sal"') == 4
    assert html.count('<img class="heat predicted" src="data:image/png;base64,') == 4
    assert html.count('<img class="heat expected" src="data:image/png;base64,') == 4
    assert 'id="saliency-legend"' in html and "Saliency (gradcam)" in html
    # Review mode's items carry the maps too (the failures are queued for review).
    data = json.loads(unescape(html.split('id="review-data">', 1)[1].split("</template>", 1)[0]))
    items = [i for i in data["items"] if i["heat"]]
    assert len(items) == 4 and all(i["heat_expected"] and i["method"] == "gradcam" for i in items)


# -- bad input ------------------------------------------------------------------------------------------
def test_a_layer_that_does_not_exist_names_the_nearest(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path, extra="explain: {layer: cnov}")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-results=out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no saliency maps: edgecases.yaml:6: explain.layer 'cnov' is not a module of "
                                 "the model; the nearest names: conv*"])
    assert "Traceback" not in result.stdout.str()
    assert explained(pytester.path / "out.json") == {}   # the results and report are still written


def test_gradcam_on_a_model_without_gradients_suggests_occlusion(pytester: pytest.Pytester) -> None:
    """A model run outside autograd (as an ONNX or exported one is) cannot be differentiated."""
    conv_project(pytester.path, model='{factory: "frozen:build"}')
    (pytester.path / "frozen.py").write_text(
        "import torch\nfrom convmodel import ConvNet\n\n\nclass Frozen(ConvNet):\n"
        "    def forward(self, x):\n        with torch.no_grad():\n            return super().forward(x)\n\n\n"
        "def build():\n    return Frozen(1.0)\n")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain=gradcam")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no saliency maps: edgecases.yaml: gradcam needs the model's gradients, and this "
                                 "model has none*", "*hint: use occlusion*"])
    ok = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain=occlusion",
                            "--edgecases-results=out.json")
    assert ok.ret == pytest.ExitCode.TESTS_FAILED and len(explained(pytester.path / "out.json")) == 4


def test_gradcam_without_a_conv_layer(tiny_project: Any, pytester: pytest.Pytester) -> None:
    """The tiny model is Linear only: the default is occlusion; gradcam asked for by name is an error."""
    tiny_project()
    pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain", "--edgecases-results=a.json")
    assert {e["saliency"]["method"] for e in explained(pytester.path / "a.json").values()} == {"occlusion"}
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "--edgecases-explain=gradcam")
    result.stdout.fnmatch_lines(["*gradcam attributes at a Conv2d layer, and the model has none*"])


def test_a_method_the_option_does_not_know(pytester: pytest.Pytester) -> None:
    conv_project(pytester.path)
    result = pytester.runpytest("--edgecases", "--edgecases-explain=gradient")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--edgecases-explain must be gradcam, integrated_gradients, occlusion (or on, off), "
                                 "got 'gradient'; did you mean 'integrated_gradients'*"])
    # The value is optional: a path after the bare option is taken for one, and the message says so.
    swallowed = pytester.runpytest("--edgecases", "--edgecases-explain", "edgecases.yaml")
    assert swallowed.ret == pytest.ExitCode.USAGE_ERROR
    swallowed.stderr.fnmatch_lines(["*got 'edgecases.yaml' ('edgecases.yaml' is a path: write "
                                    "--edgecases-explain=METHOD, or put the option last)*"])


def test_without_captum_a_usage_error_names_the_extra(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    conv_project(pytester.path)
    monkeypatch.setitem(sys.modules, "captum", None)   # as if it were not installed
    result = pytester.runpytest("--edgecases", "--edgecases-explain")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--edgecases-explain needs Captum, which is not installed: "
                                 "pip install 'pytest-edgecases?explain?'*"])
    # A suite's explain: is read after collection: the run goes on, says why there are no maps, and fails.
    conv_project(pytester.path, extra="explain: {method: gradcam}")
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no saliency maps: edgecases.yaml:6: saliency maps need Captum, which is not "
                                 "installed*", "*hint: pip install 'pytest-edgecases?explain?'*"])


#: ConvNet returning its logits wrapped, as libraries do (logits.py reads each): a tuple, a dict, an object.
WRAPPED = '''
from types import SimpleNamespace

from convmodel import ConvNet


class Wrapped(ConvNet):
    def __init__(self, form):
        super().__init__(1.0)
        self.form = form

    def forward(self, x):
        logits = super().forward(x)
        return {"tuple": (logits,), "dict": {"logits": logits}, "object": SimpleNamespace(logits=logits)}[self.form]


def build(form):
    return Wrapped(form)
'''


@pytest.mark.parametrize("method", ["gradcam", "occlusion"])
def test_a_model_returning_its_logits_wrapped_gets_the_bare_models_maps(pytester: pytest.Pytester, method: str) -> None:
    """Maps score the logits as inference reads them (a Hugging Face model returns an output object)."""
    conv_project(pytester.path)
    bare = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", f"--edgecases-explain={method}",
                              "--edgecases-no-cache", "--edgecases-results=bare.json")
    assert bare.ret == pytest.ExitCode.TESTS_FAILED
    expected = maps(pytester.path / "bare.json")
    assert len(expected) == 4
    (pytester.path / "wrapped.py").write_text(WRAPPED)
    suite = pytester.path / "edgecases.yaml"
    text = suite.read_text()
    for form in ("tuple", "dict", "object"):
        suite.write_text(text.replace('{factory: "convmodel:build", args: {bias: 1.0}}',
                                      f'{{factory: "wrapped:build", args: {{form: {form}}}}}'))
        result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", f"--edgecases-explain={method}",
                                    "--edgecases-no-cache", f"--edgecases-results={form}.json")
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
        assert "no saliency maps" not in result.stdout.str()
        assert maps(pytester.path / f"{form}.json") == expected, form
