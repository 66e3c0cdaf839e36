"""inference/device.py: choosing the device without importing torch (auto, GPU device nodes, torch's build)."""
from __future__ import annotations

import sys

import pytest

from pytest_edgecases.inference import device as device_module


@pytest.mark.parametrize("platform, gpu_build, nodes, expected", [
    ("linux", True, False, "cpu"),      # a CUDA build on a machine with no GPU device node
    ("linux", True, True, None),
    ("linux", False, True, "cpu"),      # a CPU-only build
    ("linux", None, False, None),       # torch's build cannot be read
    ("win32", True, False, None),
    ("darwin", False, False, None),     # MPS may be there
])
def test_auto_is_taken_for_cpu_without_torch_only_where_no_gpu_can_be_used(monkeypatch, platform, gpu_build, nodes,
                                                                           expected):
    """The recipe shortcut keys predictions by device without asking torch: only when cpu is certain."""
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(device_module, "_torch_gpu_build", lambda: gpu_build)
    monkeypatch.setattr(device_module, "_gpu_device_nodes", lambda: nodes)
    assert device_module.torch_free_device("auto") == expected
    assert device_module.torch_free_device("cpu") == "cpu"
    assert device_module.torch_free_device("cuda:0") is None


def test_gpu_device_nodes_and_torch_build_are_read_without_torch(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "null").touch()
    assert not device_module._gpu_device_nodes(dev, tmp_path / "no-driver")
    for node in ("nvidia0", "kfd", "dxg"):
        (dev / node).touch()
        assert device_module._gpu_device_nodes(dev, tmp_path / "no-driver")
        (dev / node).unlink()
    assert device_module._gpu_device_nodes(dev, tmp_path)                  # /proc/driver/nvidia exists
    assert device_module._gpu_device_nodes(tmp_path / "missing", tmp_path / "no-driver")
    import torch.version

    assert device_module._torch_gpu_build() == (torch.version.cuda is not None or torch.version.hip is not None)
