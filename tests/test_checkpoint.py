"""Checkpoints and the rules read from them: schedule, divergence, the payload, the export tool."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgedeblur_cli.training.checkpoint import (
    CHECKPOINT_FILE,
    TrainState,
    checkpoint_state,
    diverged,
    load_checkpoint,
    save_checkpoint,
    scheduled_lr,
)
from edgedeblur_cli.models import create_model
from edgedeblur_cli.weights import load_model_dir, save_model_dir

from conftest import TINY_CONFIG, make_tiny_model

ROOT = Path(__file__).resolve().parents[1]


def test_cosine_schedule_decays_to_zero_from_where_it_started():
    assert scheduled_lr(1e-3, TrainState(epoch=3, lr_scale=0.5), "constant", 10, 0.7) == pytest.approx(5e-4)
    started_at_2 = TrainState(epoch=2, schedule_start=2)
    assert scheduled_lr(1e-3, started_at_2, "cosine", 10, 0.0) == pytest.approx(1e-3)
    assert scheduled_lr(1e-3, TrainState(epoch=6, schedule_start=2), "cosine", 10, 0.0) == pytest.approx(5e-4)
    assert scheduled_lr(1e-3, TrainState(epoch=9, schedule_start=2), "cosine", 10, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert scheduled_lr(1e-3, TrainState(epoch=12, schedule_start=2), "cosine", 10, 0.5) == pytest.approx(0.0, abs=1e-12)


def _after(val_loss: float, best: float) -> TrainState:
    return TrainState(best_loss=best, history=[{"val_loss": val_loss}])


def test_divergence_is_a_non_finite_loss_or_3_db_worse_than_the_best():
    assert not diverged(TrainState(), "mse")
    assert diverged(_after(2.1e-3, 1e-3), "mse") and not diverged(_after(1.9e-3, 1e-3), "mse")
    assert diverged(_after(-2.6, -2.95), "psnr") and not diverged(_after(-2.7, -2.95), "psnr")  # log10 MSE: +0.30 is 3 dB
    assert diverged(_after(math.nan, 1e-3), "mse") and diverged(_after(math.inf, -3.0), "psnr")
    assert not diverged(_after(5.0, math.inf), "mse")  # nothing to be worse than yet


def _saved(path: Path, model, identity=None) -> TrainState:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 16, 16)).mean().backward()
    optimizer.step()
    state = TrainState(stage_index=0, epoch=4, best_loss=0.01, schedule_start=1, history=[{"val_loss": 0.01}])
    best = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    save_checkpoint(path, model=model, best_state=best, optimizer=optimizer, state=state,
                    identity=identity or {"model": "edgedeblur-s", "stages": ["joint"]})
    return state


def test_a_checkpoint_reads_back_as_written_and_refuses_another_run(tmp_path):
    model = make_tiny_model()
    state = _saved(tmp_path / CHECKPOINT_FILE, model)
    payload = load_checkpoint(tmp_path / CHECKPOINT_FILE, {"model": "edgedeblur-s", "stages": ["joint"]})
    assert checkpoint_state(payload) == state
    assert all(torch.equal(payload["model"][k], v) for k, v in model.state_dict().items())
    assert payload["optimizer"]["state"]  # Adam's moments travel with it
    with pytest.raises(ValueError, match="was trained as model edgedeblur-s stages"):
        load_checkpoint(tmp_path / CHECKPOINT_FILE, {"model": "seed", "stages": ["edges", "deblur"]})


def test_export_checkpoint_writes_the_weights_the_run_ended_on(tmp_path):
    run = tmp_path / "run"
    save_model_dir(make_tiny_model(seed=1), "edgedeblur-s", run)  # the run's best epoch, as train leaves it
    last = make_tiny_model(seed=2)
    _saved(run / CHECKPOINT_FILE, last)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "export_checkpoint.py"), str(run), str(tmp_path / "latest")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    exported = load_model_dir(tmp_path / "latest")  # checked against the SHA256SUMS it was written with
    assert all(torch.equal(a, b) for a, b in zip(exported.state_dict().values(), last.state_dict().values()))


def test_average_weights_writes_the_mean_of_the_networks_and_refuses_other_sizes(tmp_path):
    a, b = make_tiny_model(seed=1), make_tiny_model(seed=2)
    save_model_dir(a, "edgedeblur-s", tmp_path / "a")
    save_model_dir(b, "edgedeblur-s", tmp_path / "b")
    tool = str(ROOT / "tools" / "average_weights.py")
    result = subprocess.run([sys.executable, tool, str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "soup")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    soup = load_model_dir(tmp_path / "soup").state_dict()
    for name, value in a.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(soup[name], (value + b.state_dict()[name]) / 2, atol=1e-6), name
    assert any(not torch.equal(soup[k], v) for k, v in a.state_dict().items() if v.is_floating_point())
    bigger = create_model("edgedeblur-s", {**TINY_CONFIG, "width": 16})
    save_model_dir(bigger, "edgedeblur-s", tmp_path / "c")
    refused = subprocess.run([sys.executable, tool, str(tmp_path / "a"), str(tmp_path / "c"), str(tmp_path / "bad")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "same configuration" in refused.stderr and not (tmp_path / "bad").exists()
