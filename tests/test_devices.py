"""Every tool runs where the policy runs: `--policy.device` on every command that reads a checkpoint, a
checkpoint saved for CUDA loads on a CPU-only machine, and a device the machine lacks is named."""

from __future__ import annotations

import json
import logging
import shutil

import draccus
import pytest
import torch

from lerobot_policy_rewact.tools.checkpoints import DeviceError, PolicyArgs
from lerobot_policy_rewact.tools.cli import COMMANDS, _load
from lerobot_policy_rewact.tools.flags import split_policy_options

from conftest import load_meta
from helpers import build, save_checkpoint

# Every command that reads a trained RewACT (--policy.path).
SCORING = ["evaluate", "visualise", "progress", "audit", "label", "annotate"]
# ... and the demo, which trains and scores its own.
DEMO = ["demo"]


def test_every_command_that_reads_a_checkpoint_takes_policy_device():
    readers = [
        n for n in COMMANDS if "policy" in getattr(_load(COMMANDS[n][1])[0], "__dataclass_fields__", {})
    ]
    assert sorted(readers) == sorted(SCORING + DEMO)
    for name in readers:
        own, options = split_policy_options(["--policy.device=cpu", "--policy.path=p"])
        assert options == [], name  # the command's own flag, not a training option
        cfg = draccus.parse(config_class=_load(COMMANDS[name][1])[0], args=own)
        assert cfg.policy.device == "cpu", name


@pytest.fixture(scope="module")
def checkpoint(marker_ds, tmp_path_factory):
    policy, pre, post, _ = build(marker_ds)
    return save_checkpoint(policy, pre, post, tmp_path_factory.mktemp("policy"))


def test_policy_device_puts_the_policy_and_its_inputs_there(checkpoint, marker_ds):
    policy, pre, _ = PolicyArgs(str(checkpoint), device="cpu").load(load_meta(marker_ds))
    assert next(policy.parameters()).device.type == "cpu" and policy.config.device == "cpu"
    steps = {type(s).__name__: s for s in pre.steps}
    assert steps["DeviceProcessorStep"].device == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_checkpoint_loads_on_a_cpu_only_machine_with_a_note(checkpoint, marker_ds, tmp_path, caplog):
    cuda = tmp_path / "cuda"
    shutil.copytree(checkpoint, cuda)
    config = json.loads((cuda / "config.json").read_text())
    (cuda / "config.json").write_text(json.dumps({**config, "device": "cuda"}))
    with caplog.at_level(logging.WARNING):
        policy, _, _ = PolicyArgs(str(cuda)).load(load_meta(marker_ds))
    assert next(policy.parameters()).device.type == "cpu"
    assert any("cuda" in r.getMessage() and "not available" in r.getMessage() for r in caplog.records)
    with pytest.raises(DeviceError, match="--policy.device=cuda is not available on this machine"):
        PolicyArgs(str(cuda), device="cuda").load()
    with pytest.raises(DeviceError, match="not a device"):
        PolicyArgs(str(cuda), device="banana").load()
