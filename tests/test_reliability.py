"""Bad input, corrupted files and interruptions never cost a file or fake success.

The fuzz sample is small by default; set EDGEDEBLUR_FUZZ=500 for the full run.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.files.jobs import OutputPlan, collect_inputs, plan_jobs

from conftest import file_hash, synthetic_photo


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): file_hash(p) for p in folder.rglob("*") if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.fixture
def bad_batch(tmp_path) -> tuple[Path, list[str], list[str]]:
    """A folder of good images and every kind of bad one; returns (folder, good names, bad names)."""
    folder = tmp_path / "in"
    folder.mkdir()
    good = synthetic_photo(24, 32)
    Image.fromarray(good).save(folder / "good.png")
    Image.fromarray(good).save(folder / "wrong_ext.jpg", format="PNG")  # PNG bytes named .jpg
    Image.fromarray(good[:1, :1]).save(folder / "one_pixel.png")
    Image.fromarray(good[:1]).save(folder / "one_row.png")
    Image.fromarray(good).convert("P").save(folder / "palette.png")
    Image.fromarray(good).convert("LA").save(folder / "la.png")
    Image.fromarray(good).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray((good[..., 0].astype(np.uint16) * 257)).save(folder / "i16.png")
    Image.fromarray(good[..., 0].astype(np.float32) / 255, "F").save(folder / "float.tif")
    frames = [Image.fromarray(good), Image.fromarray(255 - good)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:])
    Image.fromarray(good).save(folder / "space and ünïcode.png")
    Image.fromarray(good).save(os.fsencode(folder) + b"/bad-\xff-name.png")
    png = (folder / "good.png").read_bytes()
    jpg_buffer = io.BytesIO()
    Image.fromarray(good).save(jpg_buffer, "JPEG")
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "truncated.jpg").write_bytes(jpg_buffer.getvalue()[:200])
    (folder / "text.png").write_text("definitely not an image")
    bomb = bytearray(png)
    bomb[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")  # declared 100k x 100k
    (folder / "bomb.png").write_bytes(bytes(bomb))
    os.symlink(folder, folder / "loop")
    good_names = ["good.png", "wrong_ext.jpg", "one_pixel.png", "one_row.png", "palette.png", "la.png", "cmyk.jpg",
                  "i16.png", "float.tif", "anim.gif", "anim.webp", "space and ünïcode.png"]
    bad_names = ["empty.png", "truncated.png", "truncated.jpg", "text.png", "bomb.png"]
    return folder, good_names, bad_names


@pytest.mark.parametrize("command", ["restore", "edges", "degrade"])
def test_bad_inputs_in_a_batch(runner, tiny_model_dir, bad_batch, tmp_path, command):
    folder, good_names, bad_names = bad_batch
    before = _hashes(folder)
    out = tmp_path / "out"
    args = [command, str(folder), str(tmp_path / "missing.png"), str(folder / "good.png"), "-r", "-o", str(out)]
    if command != "degrade":
        args += ["--weights", str(tiny_model_dir), "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    # `edges` writes PNGs, so anim.gif and anim.webp both map to anim.png: the second one fails
    # (and so does one of truncated.jpg / truncated.png, both bad anyway) instead of overwriting.
    clashes = ["anim.webp"] if command == "edges" else []
    failed = [Path(line[len("error: ") :].split(": ")[0]).name for line in errors]
    assert sorted(failed) == sorted(bad_names + ["missing.png"] + clashes), errors
    if clashes:
        assert sum("is also the output of" in line for line in errors) == 2
    done = len(good_names) + 1 - len(clashes)  # the bad-name file is done too
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"{done} ") and last.endswith(f", 0 skipped, {len(failed)} failed"), last
    assert _hashes(folder) == before  # no input touched
    assert not _leftovers(out)
    written = {p.stem for p in out.iterdir()}
    assert {Path(n).stem for n in good_names} <= written
    assert not {Path(n).stem for n in bad_names} & written


def test_unwritable_output_is_one_failure(runner, tiny_model_dir, photo_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    result = runner.invoke(main, ["degrade", str(photo_dir / "a.png"), str(photo_dir / "b.jpg"), "-o", str(blocker / "sub"), "--seed", "0"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "0 degraded, 0 skipped, 2 failed" in result.stderr


def _corrupt(data: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(data)
    kind = rng.integers(3)
    if kind == 0:  # bit flips
        for _ in range(int(rng.integers(1, 20))):
            i = int(rng.integers(len(data)))
            data[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncation
        data = data[: int(rng.integers(1, len(data)))]
    else:  # header edits
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(min(64, len(data))))] = int(rng.integers(256))
    return bytes(data)


def test_fuzzed_images_never_crash(runner, tiny_model_dir, tmp_path):
    count = int(os.environ.get("EDGEDEBLUR_FUZZ", "60"))
    rng = np.random.default_rng(0)
    folder = tmp_path / "fuzz"
    folder.mkdir()
    seeds = []
    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("TIFF", "tif"), ("BMP", "bmp")]:
        buffer = io.BytesIO()
        Image.fromarray(synthetic_photo(24, 24, len(seeds))).save(buffer, fmt)
        seeds.append((buffer.getvalue(), ext))
    for i in range(count):
        data, ext = seeds[i % len(seeds)]
        (folder / f"f{i:04d}.{ext}").write_bytes(_corrupt(data, rng))
    started = time.monotonic()
    result = runner.invoke(main, ["restore", str(folder), "-o", str(tmp_path / "out"), "--weights", str(tiny_model_dir), "--device", "cpu"])
    elapsed = time.monotonic() - started
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    last = result.stderr.splitlines()[-1]
    done, skipped, failed = (int(part.split()[0]) for part in last.split(", "))
    assert done + skipped + failed == count
    assert elapsed / count < 2.0  # bounded time per file: no hangs


def _spawn_restore(folder: Path, out: Path, model: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgedeblur_cli", "restore", str(folder), "-o", str(out), "--weights", str(model), "--device", "cpu", "--batch-size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C as at a terminal: a shell starts background jobs (`pytest &`, `nohup ... &`) with
        # SIGINT ignored, the child inherits that, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_folder_restore_leaves_complete_outputs(tiny_model_dir, tmp_path, sig):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(synthetic_photo(200, 240, i)).save(folder / f"p{i:02d}.png")
    out = tmp_path / "out"
    proc = _spawn_restore(folder, out, tiny_model_dir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.is_dir() or len(list(out.glob("*.png"))) < 3):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert b"Traceback" not in stderr
    if sig == signal.SIGINT:
        assert proc.returncode == 130
    finished = list(out.glob("*.png"))
    assert 3 <= len(finished) < 40
    for path in finished:  # every output present is complete
        Image.open(path).load()
    rerun = _spawn_restore(folder, out, tiny_model_dir)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert len(list(out.glob("*.png"))) == 40
    assert not _leftovers(out)
    assert f"{40 - len(finished)} restored, {len(finished)} skipped".encode() in stderr


@pytest.mark.slow
def test_killed_training_resumes_from_the_last_checkpoint(train_folder, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "edgedeblur_cli", "train", "--dataset", str(train_folder), "--crop", "16", "--epochs", "50",
           "--epoch-size", "16", "--batch-size", "8", "--device", "cpu", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "log.csv").is_file():
        time.sleep(0.1)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    done = len((out / "log.csv").read_text().splitlines()) - 1
    assert done >= 1
    resumed = subprocess.run(cmd[:-2] + ["--out", str(out), "--resume", "--epochs", str(done + 2)], capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert b"resumed from" in resumed.stderr
    epochs = [int(line.split(",")[1]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert epochs == list(range(1, len(epochs) + 1))  # no epoch lost or repeated beyond the one in flight
    assert epochs[-1] == done + 2
    # Killed, resumed: the same weights and optimizer state as a run that was never interrupted.
    straight = tmp_path / "straight"
    subprocess.run(cmd[:-2] + ["--out", str(straight), "--epochs", str(done + 2)], capture_output=True, timeout=300, check=True)
    a = torch.load(out / "checkpoint.pt", weights_only=True)
    b = torch.load(straight / "checkpoint.pt", weights_only=True)
    assert max((a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"]) < 1e-6
    moments = [(a["optimizer"]["state"][i]["exp_avg"], b["optimizer"]["state"][i]["exp_avg"]) for i in a["optimizer"]["state"]]
    assert max((x - y).abs().max().item() for x, y in moments) < 1e-9


@pytest.mark.slow
def test_a_genuinely_large_image(runner, tiny_model_dir, tmp_path):
    big = np.tile(synthetic_photo(500, 500), (8, 12, 1))  # 4000 x 6000, 24 megapixels
    Image.fromarray(big).save(tmp_path / "big.png", compress_level=1)
    result = runner.invoke(main, ["degrade", str(tmp_path / "big.png"), "--seed", "0"])
    assert result.exit_code == 0, result.stderr
    assert Image.open(tmp_path / "big_degraded.png").size == (6000, 4000)
    # The network on 12 megapixels, through the CLI: tiles, their blending, and the result.
    photo = big[:3000, :4000]
    Image.fromarray(photo).save(tmp_path / "photo.png", compress_level=1)
    result = runner.invoke(main, ["restore", str(tmp_path / "photo.png"), "--weights", str(tiny_model_dir), "--device", "cpu", "--tile", "1024"])
    assert result.exit_code == 0, result.stderr
    restored = np.asarray(Image.open(tmp_path / "photo_restored.png"))
    assert restored.shape == photo.shape
    # Tiles must join without seams: a window around a tile border matches the same window restored whole.
    from edgedeblur_cli.restoring.restore import load_model, restore_image

    window = photo[900:1100, 900:1100]  # 1024-pixel tiles overlap around x, y ~ 1000
    alone = restore_image(window, load_model("edgedeblur-s", weights=str(tiny_model_dir), device="cpu"))
    inner = (slice(60, 140), slice(60, 140))  # far enough from the window's own border
    assert np.abs(restored[900:1100, 900:1100][inner].astype(int) - alone[inner].astype(int)).max() <= 1
    assert np.abs(restored.astype(int) - photo.astype(int)).mean() > 0.5  # the network did change it


@pytest.mark.parametrize("io_threads, decode_ahead", [(0, True), (4, True), (4, False)])
def test_overlapped_decode_and_encode_keep_order_results_and_failures(bad_batch, tmp_path, io_threads, decode_ahead):
    from edgedeblur_cli.files.batch import run_jobs
    from edgedeblur_cli.files.jobs import OutputPlan, collect_inputs, plan_jobs

    folder, good, bad = bad_batch
    out = tmp_path / f"out{io_threads}{decode_ahead}"
    jobs = plan_jobs(collect_inputs((str(folder),), False, lambda m: None), OutputPlan(str(out), "", "png", False))
    calls, errors = [], []

    def invert(images):
        calls.append(len(images))
        return [{"main": image.with_pixels(1 - image.float_pixels())} for image in images]

    summary = run_jobs(
        jobs, invert, overwrite=False, quality=95, batch_size=2, note=lambda m: None, error=errors.append, io_threads=io_threads,
        decode_ahead=decode_ahead,
    )
    assert [r["input"] for r in summary.results] == [j.display for j in jobs]  # job order, whatever finished first
    # With --ext png, anim.gif and anim.webp both map to anim.png: the second one fails, unwritten.
    assert summary.done == len(jobs) - len(bad) - 1 and summary.failed == len(bad) + 1
    assert sorted(Path(e.split(":")[0]).name for e in errors) == sorted(bad + ["anim.webp"])
    assert any("anim.png is also the output of" in e and e.endswith("rename one of them or use --suffix/--ext") for e in errors)
    first_frame = np.asarray(Image.open(folder / "anim.gif").convert("RGB"), dtype=np.int16)
    assert np.abs(np.asarray(Image.open(out / "anim.png").convert("RGB"), dtype=np.int16) - (255 - first_frame)).max() <= 1
    for name in ("good.png", "one_row.png", "palette.png"):
        written = np.asarray(Image.open(out / (Path(name).stem + ".png")).convert("RGB"), dtype=np.int16)
        source = np.asarray(Image.open(folder / name).convert("RGB"), dtype=np.int16)
        assert np.abs(written - (255 - source)).max() <= 1
    assert not _leftovers(out)


@pytest.mark.parametrize("device_type, overlapped", [("cpu", False), ("cuda", True)])
def test_on_the_cpu_files_are_decoded_and_encoded_between_network_calls(monkeypatch, tmp_path, device_type, overlapped):
    """Decoders beside a CPU network take cores from its threads (1,000 thumbnails: 2.0-2.5 s of network instead of 1.0-1.1);
    for a GPU they run in threads of their own. Each call is watched from inside: in which thread, and whether the network ran."""
    import threading

    from edgedeblur_cli.files import batch

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(synthetic_photo(24, 24, i)).save(folder / f"p{i:02d}.png")
    in_network = threading.Event()
    seen = []  # (what, thread, while the network ran)
    real_read, real_encode = batch.read_image, batch.encode_image

    def watched(what, function):
        def call(*args, **kwargs):
            seen.append((what, threading.current_thread() is threading.main_thread(), in_network.is_set()))
            return function(*args, **kwargs)
        return call

    def network(images):
        in_network.set()
        try:
            return [{"main": image.with_pixels(1 - image.float_pixels())} for image in images]
        finally:
            in_network.clear()

    monkeypatch.setattr(batch, "read_image", watched("read", real_read))
    monkeypatch.setattr(batch, "encode_image", watched("encode", real_encode))
    jobs = plan_jobs(collect_inputs((str(folder),), False, lambda m: None), OutputPlan(str(tmp_path / "out"), "", "png", False))
    summary = batch.run_jobs(jobs, network, overwrite=False, quality=95, batch_size=2, note=lambda m: None, error=lambda m: None,
                             io_threads=2, decode_ahead=device_type != "cpu")
    assert summary.done == 12 and len(seen) == 24
    if overlapped:
        assert not any(main for _, main, _ in seen)
    else:
        assert all(main and not during for _, main, during in seen), seen


def test_the_cli_on_the_cpu_decodes_and_encodes_in_its_own_thread(monkeypatch, runner, tiny_model_dir, photo_dir, tmp_path):
    import threading

    from edgedeblur_cli.files import batch
    from edgedeblur_cli.cli import main

    threads = []
    for name in ("read_image", "encode_image"):
        real = getattr(batch, name)
        monkeypatch.setattr(batch, name, lambda *a, _real=real, **k: threads.append(threading.current_thread()) or _real(*a, **k))
    result = runner.invoke(main, ["restore", str(photo_dir), "-r", "-o", str(tmp_path / "out"), "--weights", str(tiny_model_dir), "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    assert len(threads) == 6 and all(t is threading.main_thread() for t in threads)


def test_real_paths_equal_realpath_with_symlinks(tmp_path):
    from edgedeblur_cli.files.jobs import real_paths

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"x")
    (tmp_path / "link-folder").symlink_to(tmp_path / "photos")
    (tmp_path / "photos" / "b.png").symlink_to(tmp_path / "photos" / "a.png")
    paths = [tmp_path / "photos" / "a.png", tmp_path / "photos" / "b.png", tmp_path / "link-folder" / "a.png",
             tmp_path / "link-folder" / "b.png", tmp_path / "link-folder" / "new.png", "relative/x.png"]
    assert real_paths(paths) == [os.path.realpath(p) for p in paths]


def test_settle_outputs_refuses_clashes_and_input_overwrites_and_skips_existing_outputs(tmp_path):
    from edgedeblur_cli.files.jobs import Job, settle_outputs

    for name in ("a.png", "b.gif", "b.webp", "done.png", "done_restored.png"):
        (tmp_path / name).write_bytes(b"x")

    def job(source: str, output: str) -> Job:
        return Job(tmp_path / source, source, {"main": tmp_path / output}, "png")

    jobs = [job("a.png", "a_restored.png"), job("b.gif", "b.png"), job("b.webp", "b.png"), job("done.png", "done_restored.png"), job("a.png", "b.gif")]
    todo, refused = settle_outputs(jobs, overwrite=False)
    assert [index for index, _ in todo] == [0, 1]
    assert [(index, existing) for index, _, existing, _ in refused] == [(2, None), (3, tmp_path / "done_restored.png"), (4, None)]
    assert "is also the output of b.gif" in refused[0][3] and "would overwrite an input" in refused[2][3]
    todo, refused = settle_outputs(jobs, overwrite=True)
    assert [index for index, _ in todo] == [0, 1, 3] and [index for index, *_ in refused] == [2, 4]
