"""Where the model comes from: factory, torchvision, TorchScript, weights files, the conftest hook."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from support.project import model_suite


def assert_no_traceback(result: pytest.RunResult) -> None:
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out
    assert "site-packages" not in out


def test_factory_args_reach_the_model(tiny_project, pytester):
    # bias 1.0 makes dark red images fail (see conftest); bias 0.0 gets them right.
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 1.0}}'))
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 0.0}}'))
    pytester.runpytest("--edgecases").assert_outcomes(passed=2)


def test_torchvision_architecture(tiny_project, pytester):
    tiny_project(model_suite("{torchvision: squeezenet1_1, args: {num_classes: 2}}", size=32, min_accuracy=0.0),
                 clean=2, dark=2)
    result = pytester.runpytest("--edgecases", "--edgecases-results=out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["edgecases: colours: 8 images, 8 inferred*"])
    doc = json.loads((pytester.path / "out.json").read_text())
    examples = [e for c in doc["categories"] for e in c["examples"]]
    assert len(examples) == 8 and all(e["predicted"] in ("red", "blue") for e in examples)


def test_torchvision_unknown_architecture_suggests_a_name(tiny_project, pytester):
    tiny_project(model_suite("{torchvision: squeezenet1_2, args: {num_classes: 2}}", size=32))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: 'squeezenet1_2' is not a torchvision model "
                                 "(did you mean 'squeezenet1_1'?)*"])
    assert_no_traceback(result)


def test_torchvision_pretrained_weights_are_refused(tiny_project, pytester):
    tiny_project(model_suite("{torchvision: squeezenet1_1, args: {num_classes: 2, weights: DEFAULT}}", size=32))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: model.args.weights would download pretrained weights*"])


@pytest.mark.filterwarnings("ignore:`torch.jit")   # archives made on purpose
def test_torchscript_model(tiny_project, pytester, tiny_net):
    torch.jit.script(tiny_net(1.0)).save(str(pytester.path / "tiny.torchscript"))
    tiny_project(model_suite("{torchscript: tiny.torchscript}"))
    result = pytester.runpytest("--edgecases", "-rA")
    result.assert_outcomes(passed=1, failed=1)   # the same verdicts as the factory with bias 1.0
    result.stdout.fnmatch_lines(["FAILED edgecases.yaml::dark*"])


@pytest.mark.parametrize("filename", ["fixed.safetensors", "fixed.pt"])
def test_weights_file_overrides_the_built_model(tiny_project, pytester, tiny_net, filename):
    # The factory builds the failing model (bias 1.0); the weights are those of bias 0.0.
    state = tiny_net(0.0).state_dict()
    if filename.endswith(".safetensors"):
        save_file(state, str(pytester.path / filename))
    else:
        torch.save(state, str(pytester.path / filename))
    tiny_project(model_suite(f'{{factory: "tinymodel:build", args: {{bias: 1.0}}, weights: {filename}}}'))
    pytester.runpytest("--edgecases").assert_outcomes(passed=2)


class Payload:
    """Unpickling this creates the file ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_that_runs_code_is_refused_and_never_executed(tiny_project, pytester, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"fc.weight": Payload(str(marker))}, str(pytester.path / "evil.pt"))
    tiny_project(model_suite('{factory: "tinymodel:build", weights: evil.pt}'))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*evil.pt: refused to load 'evil.pt' with weights_only=True*",
                                 "*hint: save a plain state_dict*"])
    assert not marker.exists()
    assert_no_traceback(result)
    # The payload is live: loading it the unsafe way does run it.
    torch.load(str(pytester.path / "evil.pt"), weights_only=False)
    assert marker.exists()


def test_force_no_weights_only_load_is_refused(tiny_project, pytester, tiny_net, monkeypatch):
    torch.save(tiny_net(0.0).state_dict(), str(pytester.path / "fixed.pt"))
    tiny_project(model_suite('{factory: "tinymodel:build", weights: fixed.pt}'))
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*fixed.pt: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set*"])
    # safetensors never unpickles anything, so it is still fine.
    save_file(tiny_net(0.0).state_dict(), str(pytester.path / "fixed.safetensors"))
    tiny_project(model_suite('{factory: "tinymodel:build", weights: fixed.safetensors}'))
    pytester.runpytest("--edgecases").assert_outcomes(passed=2)


def test_weights_for_another_architecture(tiny_project, pytester):
    save_file({"fc.weight": torch.zeros(5, 3), "fc.bias": torch.zeros(5)}, str(pytester.path / "other.safetensors"))
    tiny_project(model_suite('{factory: "tinymodel:build", weights: other.safetensors}'))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: weights 'other.safetensors' do not fit the model:*"
                                 "size mismatch for fc.weight*",
                                 "*hint: the architecture and the checkpoint must match*"])
    assert_no_traceback(result)


def test_a_pt_file_that_is_not_a_state_dict(tiny_project, pytester):
    torch.save([torch.zeros(2)], str(pytester.path / "list.pt"))
    tiny_project(model_suite('{factory: "tinymodel:build", weights: list.pt}'))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*list.pt: 'list.pt' is not a state dict (name -> tensor)*"])


def test_factory_must_return_a_module(tiny_project, pytester):
    pytester.makepyfile(notamodel="def build():\n    return lambda x: x\n")
    tiny_project(model_suite('{factory: "notamodel:build"}'))
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*edgecases.yaml:3: the model is a function, not a torch.nn.Module*"])


HOOK = """
import tinymodel


def pytest_edgecases_load_model(suite, device):
    if suite.name == "colours":
        return tinymodel.build(bias={bias})
    return None
"""


def test_conftest_hook_provides_the_model(tiny_project, pytester):
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 1.0}}'))
    pytester.makeconftest(HOOK.format(bias=0.0))
    pytester.runpytest("--edgecases").assert_outcomes(passed=2)


def test_conftest_hook_without_a_model_section(tiny_project, pytester):
    tiny_project(model_suite("{factory: 'tinymodel:build'}").replace("model: {factory: 'tinymodel:build'}\n", ""))
    pytester.makeconftest(HOOK.format(bias=1.0))
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)


def test_conftest_hook_returning_none_falls_back_to_yaml(tiny_project, pytester):
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 1.0}}').replace("suite: colours",
                                                                                        "suite: other"))
    pytester.makeconftest(HOOK.format(bias=0.0))
    pytester.runpytest("--edgecases").assert_outcomes(passed=1, failed=1)


def test_conftest_hook_that_raises(tiny_project, pytester):
    tiny_project(model_suite('{factory: "tinymodel:build"}'))
    pytester.makeconftest("def pytest_edgecases_load_model(suite, device):\n"
                          "    raise FileNotFoundError('checkpoints/latest.ckpt')\n")
    result = pytester.runpytest("--edgecases")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*pytest_edgecases_load_model raised FileNotFoundError: checkpoints/latest.ckpt*"])
    assert_no_traceback(result)


def test_conftest_hook_applies_only_to_suites_below_it(tiny_project, pytester):
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 1.0}}'))
    (pytester.path / "sub").mkdir()
    tiny_project(model_suite('{factory: "tinymodel:build", args: {bias: 1.0}}').replace("data/", "../data/"),
                 filename="sub/edgecases.yaml")
    (pytester.path / "sub/tinymodel.py").write_text((pytester.path / "tinymodel.py").read_text())
    (pytester.path / "sub/conftest.py").write_text(HOOK.format(bias=0.0))
    result = pytester.runpytest("--edgecases", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED edgecases.yaml::dark*"])
