"""explain_spec.py (the option, the suite's explain:), inference/explain.py's pooling and the layer errors,
report/heatmap.py, and Saliency's JSON form on ExampleResult."""
from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from support.project import SuiteProject, suite_yaml

from pytest_edgecases.errors import EdgecasesError
from pytest_edgecases.explain_spec import AUTO, ExplainSpec, Method, Request, parse_option, request
from pytest_edgecases.inference.explain import GRID, explainer, normalised, pooled
from pytest_edgecases.records import ExampleResult, Saliency
from pytest_edgecases.report.heatmap import STOPS, colour, heat_uri, legend_uri
from pytest_edgecases.suite import load_suite
from pytest_edgecases.vocabulary import Severity, Status


@pytest.mark.parametrize(("given", "expected"), [
    (None, None), ("", None), ("off", None), ("none", None), ("auto", AUTO), ("on", AUTO), ("TRUE", AUTO),
    ("gradcam", "gradcam"), ("Occlusion", "occlusion"), ("integrated_gradients", "integrated_gradients"),
])
def test_option_values(given: str | None, expected: str | None) -> None:
    assert parse_option(given) == expected


def test_option_refuses_other_words_naming_the_closest() -> None:
    with pytest.raises(ValueError, match="got 'gradcm'; did you mean 'gradcam'"):
        parse_option("gradcm")


def load(tmp_path: Path, explain: str) -> ExplainSpec | None:
    project = SuiteProject(tmp_path).colours()
    return load_suite(project.suite(suite_yaml(extra=f"explain: {explain}")), tmp_path).explain


@pytest.mark.parametrize(("text", "spec"), [
    ("{method: gradcam, layer: features.3}", ExplainSpec(Method.GRADCAM, "features.3", 6)),
    ("{layer: conv}", ExplainSpec(None, "conv", 6)),
    ("{method: auto}", ExplainSpec(None, None, 6)),
    ("occlusion", ExplainSpec(Method.OCCLUSION, None, 6)),
    ("true", ExplainSpec(None, None, 6)),
])
def test_suite_section(tmp_path: Path, text: str, spec: ExplainSpec) -> None:
    assert load(tmp_path, text) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("{method: gradcm}", "edgecases.yaml:6: explain.method must be gradcam, integrated_gradients, occlusion, "
                         "got 'gradcm'; did you mean 'gradcam'?"),
    ("{method: occlusion, layer: conv}", "edgecases.yaml:6: explain.layer is for gradcam; occlusion attributes"),
    ("{layer: [conv]}", "edgecases.yaml:6: explain.layer must be a module's name"),
    ("{methods: gradcam}", "edgecases.yaml:6: unknown key 'methods' in explain (did you mean 'method'?)"),
    ("false", "edgecases.yaml:6: explain must be a mapping"),
])
def test_suite_section_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EdgecasesError) as info:
        load(tmp_path, text)
    assert str(info.value).startswith(message)


def test_the_options_method_wins_and_the_suites_layer_stays_for_gradcam() -> None:
    spec = ExplainSpec(Method.GRADCAM, "block.conv", 7)
    assert request(None, None) is None
    assert request(AUTO, None) == Request(None, None, 0)
    assert request(None, spec) == Request(Method.GRADCAM, "block.conv", 7)
    assert request(AUTO, spec) == Request(Method.GRADCAM, "block.conv", 7)
    assert request("occlusion", spec) == Request(Method.OCCLUSION, None, 7)
    assert request("gradcam", ExplainSpec(None, "x", 3)) == Request(Method.GRADCAM, "x", 3)


# -- pooling ---------------------------------------------------------------------------------------------
def cells(grid: list[list[float]]) -> list[float]:
    return [v for row in grid for v in row]


def test_pooled_grids_are_non_negative_and_sum_to_one() -> None:
    generator = torch.Generator().manual_seed(0)
    maps = torch.rand(3, 37, 23, generator=generator) - 0.3   # odd sizes, some negative values
    for grid in pooled(maps):
        assert len(grid) == GRID and all(len(row) == GRID for row in grid)
        assert min(cells(grid)) >= 0
        assert math.fsum(cells(grid)) == pytest.approx(1.0, abs=1e-12)


def test_pooled_keeps_where_the_mass_is() -> None:
    maps = torch.zeros(1, 16, 16)
    maps[0, :4, 12:] = 2.0   # the top right corner: cells (0..1, 6..7)
    grid = pooled(maps)[0]
    assert [grid[r][c] for r in (0, 1) for c in (6, 7)] == [0.25] * 4
    assert sum(cells(grid)) == 1.0


def test_no_evidence_and_nan_are_a_uniform_map() -> None:
    for maps in (torch.zeros(1, 8, 8), torch.full((1, 8, 8), float("nan"))):
        assert pooled(maps)[0] == [[1 / 64] * 8] * 8


def test_rounding_residue_goes_to_the_largest_cell() -> None:
    flat = [1 / 3, 1 / 3, 1 / 3] + [0.0] * 61
    grid = normalised(flat)
    assert cells(grid)[:3] == [0.333334, 0.333333, 0.333333] and math.fsum(cells(grid)) == pytest.approx(1, abs=1e-12)


# -- choosing the method and the layer --------------------------------------------------------------------
class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


SAMPLE = torch.zeros(2, 3, 8, 8)


def test_gradcam_defaults_to_the_last_conv_and_takes_a_named_layer() -> None:
    assert explainer(Small(), Request(None, None), SAMPLE, "s.yaml").layer == "features.2"
    assert explainer(Small(), Request(Method.GRADCAM, "features.0"), SAMPLE, "s.yaml").layer == "features.0"
    assert explainer(Small(), Request(Method.OCCLUSION, None), SAMPLE, "s.yaml").layer == ""


def test_a_missing_layer_lists_the_nearest_names() -> None:
    with pytest.raises(EdgecasesError) as info:
        explainer(Small(), Request(Method.GRADCAM, "feature.2", 9), SAMPLE, "s.yaml")
    text = str(info.value)
    assert text.startswith("s.yaml:9: explain.layer 'feature.2' is not a module of the model; the nearest names: "
                           "features.2, features.1, features.0, features")
    assert "hint: a name from model.named_modules(), e.g. the last Conv2d: features.2" in text


def test_a_model_without_gradients_defaults_to_occlusion_only_when_it_has_no_conv() -> None:
    class Frozen(Small):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return super().forward(x)

    for method in (None, Method.GRADCAM, Method.INTEGRATED_GRADIENTS):
        with pytest.raises(EdgecasesError, match="needs the model's gradients") as info:
            explainer(Frozen(), Request(method, None), SAMPLE, "s.yaml")
        assert "use occlusion" in str(info.value)
    assert explainer(Frozen(), Request(Method.OCCLUSION, None), SAMPLE, "s.yaml").method is Method.OCCLUSION


# -- heat maps and the JSON form ----------------------------------------------------------------------------
def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_heat_map_is_the_grid_coloured_peak_brightest() -> None:
    grid = [[0.0] * 8 for _ in range(8)]
    grid[2][5], grid[7][0] = 0.75, 0.25
    image = decoded(heat_uri(Saliency("gradcam", "stop", grid))).convert("RGB")
    assert image.size == (8, 8)
    assert image.getpixel((5, 2)) == STOPS[-1] and image.getpixel((0, 0)) == STOPS[0]
    assert image.getpixel((0, 7)) == colour(85 / 255)   # a third of the peak, in the scale's 256 steps
    assert decoded(legend_uri()).size == (64, 1)


@pytest.mark.parametrize("grid", [[], [[0.0] * 8] * 8, [[1.0, 2.0], [1.0]], [[float("nan")] * 2] * 2])
def test_no_heat_map_for_an_unusable_grid(grid: list) -> None:
    assert heat_uri(Saliency("gradcam", "stop", grid)) is None
    assert heat_uri(None) is None


def example(**extra: object) -> ExampleResult:
    return ExampleResult(path="a.png", category="c", label="stop", predicted="yield", confidence=0.9, correct=False,
                         severity=Severity.HIGH, status=Status.FAILURE, counted=True, **extra)


def test_saliency_round_trips_and_is_absent_where_not_explained() -> None:
    assert "saliency" not in example().to_dict() and "saliency_expected" not in example().to_dict()
    explained = example(saliency=Saliency("gradcam", "yield", [[0.5, 0.5]]),
                        saliency_expected=Saliency("gradcam", "stop", [[1.0, 0.0]]))
    data = explained.to_dict()
    assert data["saliency"] == {"method": "gradcam", "target": "yield", "grid": [[0.5, 0.5]]}
    assert ExampleResult.from_dict(data) == explained
    assert ExampleResult.from_dict({**data, "saliency": "junk"}).saliency is None
