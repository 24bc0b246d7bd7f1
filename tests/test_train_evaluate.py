import json
import math

import numpy as np
import torch
from safetensors.torch import load_file

from edgedeblur_cli.cli import main
from edgedeblur_cli.training.data import DatasetSpec
from edgedeblur_cli.metrics import psnr_from_mse, wiener_deconvolve
from edgedeblur_cli.degradations.seed import degrade_batch
from edgedeblur_cli.training.train import CHECKPOINT_FILE, TrainConfig, train
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


def _checkpoint(run):
    return torch.load(run / CHECKPOINT_FILE, map_location="cpu", weights_only=True)


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_resume_continues_exactly(train_folder, tmp_path):
    # The checkpoint's current weights and Adam moments after "2 epochs straight" and "1, then
    # resume 1" must match: the saved best model alone could hide a resume that loads nothing.
    straight = train(_config(train_folder, tmp_path / "straight", epochs=2, min_delta=0), log=lambda m: None)
    first = train(_config(train_folder, tmp_path / "resumed", epochs=1, min_delta=0), log=lambda m: None)
    after_one = _checkpoint(first)["model"]
    resumed = train(_config(train_folder, first, epochs=2, resume=True, min_delta=0), log=lambda m: None)
    a, b = _checkpoint(straight), _checkpoint(resumed)
    assert _max_difference(a["model"], b["model"]) < 1e-6
    moments_a, moments_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys() and moments_a
    for key in moments_a:
        assert moments_a[key]["step"] == moments_b[key]["step"] == 4  # 2 epochs x 2 steps
        for name in ("exp_avg", "exp_avg_sq"):
            assert (moments_a[key][name] - moments_b[key][name]).abs().max() < 1e-9
    # The second epoch did move the weights, so a resume that lost them would show.
    assert _max_difference(after_one, a["model"]) > 1e-4


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


def test_deblur_stage_leaves_the_edge_branch_as_it_was(train_folder, tmp_path):
    edges_run = train(_config(train_folder, tmp_path / "edges", stage="edges", epochs=1), log=lambda m: None)
    before = load_file(str(edges_run / "model.safetensors"))
    deblur_run = train(_config(train_folder, tmp_path / "deblur", stage="deblur", epochs=1, init=str(edges_run)), log=lambda m: None)
    after = _checkpoint(deblur_run)["model"]  # the weights as trained, not the best kept
    edge_keys = [k for k in before if k.startswith("edgenet.")]
    assert edge_keys and all(torch.equal(before[k], after[k]) for k in edge_keys)
    assert max((before[k] - after[k]).abs().max().item() for k in before if k not in edge_keys) > 1e-4  # the rest trained


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
    assert [r["name"] for r in rows] == ["degraded input", rows[1]["name"], str(tiny_model_dir)]
    assert rows[1]["name"].startswith("Wiener")
    for row in rows:
        assert row["images"] == 12
        assert 0 < row["mse"] < 1 and 0 < row["ssim"] <= 1 and math.isfinite(row["psnr_of_mean_mse"])
    assert rows[1]["psnr_of_mean_mse"] > rows[0]["psnr_of_mean_mse"]  # Wiener with the true sigma helps
    assert abs(rows[2]["mse"] - rows[0]["mse"]) > 1e-6  # the model's row scores the model's output


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


def test_init_from_a_grown_network_trains_and_resumes_at_its_size(train_folder, tmp_path, tiny_model_dir):
    from edgedeblur_cli.models.edgedeblur_s import grow_middle
    from edgedeblur_cli.weights import save_model_dir

    grown_dir = tmp_path / "grown"
    save_model_dir(grow_middle(load_model_dir(tiny_model_dir), 3), "edgedeblur-s", grown_dir)
    run = train(_config(train_folder, tmp_path / "run", epochs=1, init=str(grown_dir), min_delta=0, lr=1e-3), log=lambda m: None)
    assert len(_checkpoint(run)["model"]) == len(load_model_dir(grown_dir).state_dict())
    messages = []
    train(_config(train_folder, run, epochs=2, init=str(grown_dir), resume=True, min_delta=0, lr=1e-3), log=messages.append)
    assert any(m.startswith("resumed from") for m in messages)
    assert load_model_dir(run).config.middle_blocks == 3


def test_adversarial_edge_loss_updates_the_discriminator_and_trains_the_edge_branch():
    from edgedeblur_cli.edges import edge_network
    from edgedeblur_cli.models import create_model
    from edgedeblur_cli.training.stages import adversarial_edge_loss

    from conftest import make_tiny_model

    torch.manual_seed(0)
    model, discriminator = make_tiny_model(), create_model("edge-discriminator")
    disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    # Parameters, not the state dict: spectral norm's power-iteration buffers move on every forward.
    before = {k: v.detach().clone() for k, v in discriminator.named_parameters()}
    sharp = torch.from_numpy(synthetic_photo(32, 32)).permute(2, 0, 1)[None].float() / 255
    degraded, _ = degrade_batch(sharp, generator=torch.Generator().manual_seed(0))
    term = adversarial_edge_loss(model, discriminator, disc_optimizer, degraded, sharp)
    assert any(not torch.equal(before[k], v) for k, v in discriminator.named_parameters())
    model.zero_grad()
    term.backward()
    edge_grads = [p.grad for p in edge_network(model).parameters() if p.grad is not None]
    assert term.item() > 0 and edge_grads and any(g.abs().sum() > 0 for g in edge_grads)


def test_summed_stage_loss_is_the_per_sample_loss_summed():
    from edgedeblur_cli.training.stages import restoration_loss, summed_stage_loss

    from conftest import make_tiny_model

    model = make_tiny_model().eval()
    sharp = torch.from_numpy(np.stack([synthetic_photo(32, 32, seed=s) for s in range(3)])).permute(0, 3, 1, 2).float() / 255
    degraded, _ = degrade_batch(sharp, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        summed = summed_stage_loss(model, "deblur", "psnr", degraded, sharp)
        each = [restoration_loss(model(degraded[i : i + 1]).clamp(0, 1), sharp[i : i + 1], "psnr") for i in range(3)]
    assert torch.allclose(summed, torch.stack(each).sum(), atol=1e-5)


def test_an_epochs_logged_seconds_include_its_validation(train_folder, tmp_path, monkeypatch):
    import time as time_module

    from edgedeblur_cli.training.train import Trainer

    validate = Trainer._validate

    def slow_validate(self, stage):
        time_module.sleep(0.3)
        return validate(self, stage)

    monkeypatch.setattr(Trainer, "_validate", slow_validate)
    out = train(_config(train_folder, tmp_path / "slow", epochs=1), log=lambda m: None)
    seconds = float((out / "log.csv").read_text().splitlines()[-1].split(",")[5])
    assert seconds >= 0.3
