import json
import math

import numpy as np
import torch
from safetensors.torch import load_file

from edgedeblur_cli.cli import main
from edgedeblur_cli.data import DatasetSpec
from edgedeblur_cli.metrics import psnr_from_mse, wiener_deconvolve
from edgedeblur_cli.degrade import degrade_batch
from edgedeblur_cli.train import CHECKPOINT_FILE, TrainConfig, train
from edgedeblur_cli.weights import load_model_dir

from conftest import synthetic_photo


def _config(folder, out, **kw):
    base = dict(
        dataset=DatasetSpec(str(folder), crop=16, downscale=(1.0, 2.0)),
        out=out,
        model="edgedeblur-s",
        epochs=2,
        batch_size=4,
        epoch_size=8,
        val_size=8,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_a_loadable_model_dir(train_folder, tmp_path):
    out = train(_config(train_folder, tmp_path / "run"), log=lambda m: None)
    for name in ("model.safetensors", "config.json", "SHA256SUMS", "log.csv", "loss.png", CHECKPOINT_FILE):
        assert (out / name).is_file(), name
    model = load_model_dir(out)
    assert model(torch.rand(1, 3, 20, 20)).shape == (1, 3, 20, 20)
    rows = (out / "log.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs


def test_resume_continues_exactly(train_folder, tmp_path):
    straight = train(_config(train_folder, tmp_path / "straight", epochs=2), log=lambda m: None)
    first = train(_config(train_folder, tmp_path / "resumed", epochs=1), log=lambda m: None)
    resumed = train(_config(train_folder, first, epochs=2, resume=True), log=lambda m: None)
    a = load_file(str(straight / "model.safetensors"))
    b = load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


def test_resume_with_a_new_learning_rate_uses_it(train_folder, tmp_path):
    first = train(_config(train_folder, tmp_path / "decay", epochs=1), log=lambda m: None)
    train(_config(train_folder, first, epochs=2, resume=True, lr=1e-5), log=lambda m: None)
    checkpoint = torch.load(first / "checkpoint.pt", weights_only=True)
    assert [group["lr"] for group in checkpoint["optimizer"]["param_groups"]] == [1e-5]


def test_cosine_schedule_decays_from_where_it_started_and_keeps_that_start_on_resume(train_folder, tmp_path):
    # 2 constant epochs; a cosine run to epoch 4 starts at epoch 2; resumed with --epochs 6 it
    # keeps that start and stretches the rest of the decay to the new end.
    run = train(_config(train_folder, tmp_path / "cos", epochs=2), log=lambda m: None)
    train(_config(train_folder, run, epochs=4, resume=True, lr_schedule="cosine"), log=lambda m: None)
    train(_config(train_folder, run, epochs=6, resume=True, lr_schedule="cosine"), log=lambda m: None)
    rates = [float(row.split(",")[-1]) for row in (run / "log.csv").read_text().splitlines()[1:]]

    def cosine(progress):
        return 1e-3 * 0.5 * (1 + math.cos(math.pi * progress))

    # The logged rate is the epoch's last step's: 2 steps per epoch, so half an epoch in.
    expected = [1e-3, 1e-3, cosine(0.5 / 2), cosine(1.5 / 2), cosine(2.5 / 4), cosine(3.5 / 4)]
    assert np.allclose(rates, expected, rtol=1e-2), rates


def test_two_stage_seed_training_freezes_the_edgenet(train_folder, tmp_path):
    config = _config(train_folder, tmp_path / "seed", model="seed", stage="all", epochs=1)
    out = train(config, log=lambda m: None)
    log = (out / "log.csv").read_text()
    assert "edges" in log and "deblur" in log


def test_max_minutes_stops_and_leaves_a_model(train_folder, tmp_path):
    out = train(_config(train_folder, tmp_path / "quick", epochs=50, epoch_size=4000, max_minutes=0.05), log=lambda m: None)
    assert (out / "model.safetensors").is_file()
    assert len((out / "log.csv").read_text().splitlines()) == 2  # stopped inside the first epoch


def test_gan_edge_loss_runs(train_folder, tmp_path):
    out = train(_config(train_folder, tmp_path / "gan", stage="edges", edge_loss="gan", epochs=1), log=lambda m: None)
    assert (out / "model.safetensors").is_file()


def test_evaluate_json_scores_three_rows(runner, tiny_model_dir, train_folder):
    args = ["evaluate", "--dataset", str(train_folder), "--crop", "16", "--downscale", "1:2", "--model", str(tiny_model_dir), "--limit", "12", "--json", "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["name"] for r in rows][0] == "degraded input"
    assert rows[1]["name"].startswith("Wiener")
    assert all(r["images"] == 12 for r in rows)
    assert rows[1]["psnr_of_mean_mse"] > rows[0]["psnr_of_mean_mse"]  # Wiener with the true sigma helps


def test_psnr_and_wiener():
    assert math.isclose(psnr_from_mse(torch.tensor(0.001)).item(), 30.0, rel_tol=1e-6)
    sharp = torch.from_numpy(np.stack([synthetic_photo(32, 32, i) for i in range(2)])).permute(0, 3, 1, 2).float() / 255
    sigmas = torch.tensor([1.5, 2.5])
    blurred, _ = degrade_batch(sharp, sigmas=sigmas, noise=torch.zeros_like(sharp))
    restored = wiener_deconvolve(blurred, sigmas, nsr=1e-2)
    assert (restored - sharp).pow(2).mean() < 0.5 * (blurred - sharp).pow(2).mean()


def test_cli_help_lists_the_five_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("restore", "degrade", "edges", "train", "evaluate"):
        assert command in result.output
    assert runner.invoke(main, ["--version"]).output.startswith("edgedeblur, version")


def test_train_cli_reports_missing_dataset(runner, tmp_path):
    result = runner.invoke(main, ["train", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "not a folder" in result.stderr and "Traceback" not in result.stderr


def test_init_starts_from_trained_weights_and_keeps_them_unless_beaten(train_folder, tmp_path):
    first = train(_config(train_folder, tmp_path / "first", epochs=1), log=lambda m: None)
    messages = []
    # A wild learning rate wrecks the weights: the starting ones score better and must come out unchanged.
    tuned = train(_config(train_folder, tmp_path / "tuned", epochs=1, lr=10.0, init=str(first), seed=5), log=messages.append)
    a = load_file(str(first / "model.safetensors"))
    b = load_file(str(tuned / "model.safetensors"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) == 0
    assert any("before training" in m for m in messages)


def test_init_with_weights_of_another_architecture_is_refused(train_folder, tmp_path, tiny_model_dir):
    import pytest

    with pytest.raises(ValueError, match="do not fit"):
        train(_config(train_folder, tmp_path / "run", model="seed", init=str(tiny_model_dir)), log=lambda m: None)


def test_resumed_fine_tune_continues_from_its_checkpoint(train_folder, tmp_path):
    first = train(_config(train_folder, tmp_path / "first", epochs=1), log=lambda m: None)
    tuned = train(_config(train_folder, tmp_path / "tuned", epochs=1, init=str(first)), log=lambda m: None)
    messages = []
    # The --init folder is gone: a resume must not need it, since the checkpoint holds the run.
    import shutil

    shutil.rmtree(first)
    train(_config(train_folder, tuned, epochs=2, init=str(first), resume=True), log=messages.append)
    assert any(m.startswith("resumed from") for m in messages)
    assert not any("before training" in m for m in messages)
