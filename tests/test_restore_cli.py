"""The command-line contract of restore (and edges/degrade, which share it)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from edgedeblur_cli.cli import main
from edgedeblur_cli.files.atomic import WriteError, write_atomic
from edgedeblur_cli.files.io import read_image
from edgedeblur_cli.models import create_model
from edgedeblur_cli.restoring.restore import RestoreOptions, load_model, restore_arrays, restore_image, restore_tensor
from edgedeblur_cli.restoring.tiling import tile_grid

from conftest import file_hash, make_tiny_model, synthetic_photo


def _restore(runner, tiny_model_dir, *args):
    return runner.invoke(main, ["restore", *map(str, args), "--weights", str(tiny_model_dir), "--device", "cpu"])


def test_single_file_writes_beside_it_and_keeps_the_input(runner, tiny_model_dir, photo_dir):
    before = file_hash(photo_dir / "a.png")
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png")
    assert result.exit_code == 0, result.stderr
    out = photo_dir / "a_restored.png"
    assert Image.open(out).size == (56, 40)
    assert file_hash(photo_dir / "a.png") == before
    assert result.stdout == ""


def test_folder_recursive_mirrors_and_skips_non_images(runner, tiny_model_dir, photo_dir, tmp_path):
    (photo_dir / "notes.txt").write_text("hello")
    out = tmp_path / "fixed"
    result = _restore(runner, tiny_model_dir, photo_dir, "-r", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.*")) == ["a.png", "b.jpg", "sub/c.png"]
    assert "notes.txt" in result.stderr and "3 restored, 0 skipped, 0 failed" in result.stderr
    # Without -r the sub-folder is not entered.
    flat = tmp_path / "flat"
    assert _restore(runner, tiny_model_dir, photo_dir, "-o", flat).exit_code == 0
    assert sorted(p.name for p in flat.iterdir()) == ["a.png", "b.jpg"]


def test_output_file_ext_and_existing_outputs(runner, tiny_model_dir, photo_dir, tmp_path):
    target = tmp_path / "x.webp"
    assert _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", target).exit_code == 0
    assert Image.open(target).format == "WEBP"
    stamp = file_hash(target)
    target.write_bytes(b"keep me")
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", target)
    assert result.exit_code == 0 and "exists" in result.stderr
    assert target.read_bytes() == b"keep me"
    assert _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", target, "--overwrite").exit_code == 0
    assert file_hash(target) == stamp
    assert _restore(runner, tiny_model_dir, photo_dir / "a.png", "--ext", "jpg", "--suffix", "_x").exit_code == 0
    assert Image.open(photo_dir / "a_x.jpg").format == "JPEG"


def test_never_writes_over_an_input(runner, tiny_model_dir, photo_dir):
    before = file_hash(photo_dir / "a.png")
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", photo_dir / "a.png", "--overwrite")
    assert result.exit_code == 1
    assert "would overwrite an input" in result.stderr
    assert file_hash(photo_dir / "a.png") == before
    # A folder restored into itself keeps the same names: every output would be an input.
    result = _restore(runner, tiny_model_dir, photo_dir, "-o", photo_dir, "--overwrite")
    assert result.exit_code == 1 and file_hash(photo_dir / "a.png") == before


def test_failures_exit_1_and_the_rest_is_done(runner, tiny_model_dir, photo_dir, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    out = tmp_path / "out"
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", tmp_path / "missing.png", bad, "-o", out)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert any("missing.png" in e and "no such file" in e for e in errors)
    assert any("broken.png" in e for e in errors)
    assert "1 restored, 0 skipped, 2 failed" in result.stderr
    assert (out / "a.png").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]  # no partial or temporary file


def test_usage_errors_exit_2(runner, tiny_model_dir, photo_dir):
    assert runner.invoke(main, ["restore"]).exit_code == 2
    assert _restore(runner, tiny_model_dir, photo_dir / "a.png", photo_dir / "b.jpg", "-o", "-").exit_code == 2
    assert runner.invoke(main, ["restore", "x.png", "--tile", "5"]).exit_code == 2


def test_stdout_carries_only_the_image(runner, tiny_model_dir, photo_dir):
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", "-")
    assert result.exit_code == 0
    image = Image.open(io.BytesIO(result.stdout_bytes))
    assert image.format == "PNG" and image.size == (56, 40)
    # Pillow ignores bytes after the image: the stream must end with the PNG's last chunk (IEND).
    assert result.stdout_bytes.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_pipe_through_a_real_process(tiny_model_dir, photo_dir):
    data = (photo_dir / "a.png").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "edgedeblur_cli", "restore", "-", "--weights", str(tiny_model_dir), "--device", "cpu"],
        input=data,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert Image.open(io.BytesIO(proc.stdout)).size == (56, 40)
    assert proc.stdout.endswith(b"IEND\xaeB`\x82")  # flushed to the last byte before the quick exit
    empty = subprocess.run([sys.executable, "-m", "edgedeblur_cli", "restore", "-", "--weights", str(tiny_model_dir)], input=b"", capture_output=True, timeout=120)
    assert empty.returncode == 1 and b"empty" in empty.stderr and empty.stdout == b""


def test_a_real_process_reports_a_mixed_batch(tiny_model_dir, photo_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(photo_dir / "a.png", folder / "a.png")
    (folder / "b.png").write_bytes(b"not an image")
    proc = subprocess.run(
        [sys.executable, "-m", "edgedeblur_cli", "restore", str(folder), "-o", str(tmp_path / "out"), "--weights", str(tiny_model_dir), "--device", "cpu", "--json"],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert b"b.png" in proc.stderr and b"1 restored, 0 skipped, 1 failed" in proc.stderr, proc.stderr.decode()
    assert Image.open(tmp_path / "out" / "a.png").size == (56, 40)
    # stdout to a pipe is block-buffered: the JSON is there only if the quick exit flushed it.
    assert json.loads(proc.stdout)["summary"] == {"done": 1, "skipped": 0, "failed": 1}


def test_png_headers_tell_8_from_16_bits(tmp_path, monkeypatch):
    from edgedeblur_cli.files import io as image_io
    from edgedeblur_cli.files import png_codec

    Image.fromarray(synthetic_photo(8, 8)).save(tmp_path / "eight.png")
    texted = PngImagePlugin.PngInfo()
    texted.add_text("Comment", "read by Pillow")  # not a plain PNG: Pillow decodes it
    Image.fromarray(synthetic_photo(8, 8)).save(tmp_path / "eight-text.png", pnginfo=texted)
    cv2.imwrite(str(tmp_path / "sixteen.png"), (synthetic_photo(8, 8).astype(np.uint16) * 257))
    assert png_codec.png_bit_depth((tmp_path / "eight.png").read_bytes()) == 8
    assert png_codec.png_bit_depth((tmp_path / "sixteen.png").read_bytes()) == 16
    assert png_codec.png_bit_depth(b"not a png") is None

    decodes = []
    opencv_decode, pillow_decoder = image_io.cv2.imdecode, Image._getdecoder
    monkeypatch.setattr(image_io.cv2, "imdecode", lambda *a, **k: decodes.append("opencv") or opencv_decode(*a, **k))
    monkeypatch.setattr(Image, "_getdecoder", lambda *a, **k: decodes.append("pillow") or pillow_decoder(*a, **k))
    for name in ("eight.png", "eight-text.png"):
        decodes.clear()
        assert image_io.read_image(tmp_path / name).bit_depth == 8
        assert len(decodes) == 1, f"{name} was decoded {decodes}"
    assert image_io.read_image(tmp_path / "sixteen.png").bit_depth == 16


def test_json_results(runner, tiny_model_dir, photo_dir, tmp_path):
    import json

    result = _restore(runner, tiny_model_dir, photo_dir, "-o", tmp_path / "o", "--json")
    payload = json.loads(result.stdout)
    assert payload["summary"] == {"done": 2, "skipped": 0, "failed": 0}


def test_atomic_write_leaves_nothing_when_the_disk_fills(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(WriteError, match="No space left"):
        write_atomic(target, b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", [None, b"the old output"])
def test_a_failed_rename_leaves_the_destination_absent_or_intact(tmp_path, monkeypatch, existing):
    # The moment that matters: the data is in the temporary file, the rename has not happened.
    target = tmp_path / "out.png"
    if existing is not None:
        target.write_bytes(existing)
    seen = []

    def fail_rename(source, destination):
        seen.append(Path(source).read_bytes())  # the complete data sat in a temporary file
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", fail_rename)
    with pytest.raises(WriteError, match="Input/output error"):
        write_atomic(target, b"new data" * 100)
    assert seen == [b"new data" * 100]
    assert (target.read_bytes() == existing) if existing is not None else not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["out.png"] if existing is not None else [])


def test_temporary_files_of_killed_writes_are_cleaned_up(runner, tiny_model_dir, photo_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.png.k3j_x9qz.part").write_bytes(b"half an image")  # left by a killed run, for an output we write
    (out / ".zzz.png.abcdefgh.part").write_bytes(b"not ours to judge")  # some other output's
    (out / ".b.png.tmp").write_bytes(b"not ours at all")
    assert _restore(runner, tiny_model_dir, photo_dir, "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".b.png.tmp", ".zzz.png.abcdefgh.part", "a.png", "b.jpg"]
    write_atomic(out / "zzz.png", b"data")  # alone, write_atomic cleans up after its own path
    assert sorted(p.name for p in out.iterdir()) == [".b.png.tmp", "a.png", "b.jpg", "zzz.png"]


def test_the_cli_writes_what_the_network_restores(runner, tiny_model_dir, photo_dir, tmp_path):
    pixels = np.asarray(Image.open(photo_dir / "a.png").convert("RGB"))
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    written = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    expected = restore_image(pixels, load_model("edgedeblur-s", weights=str(tiny_model_dir), device="cpu")).astype(int)
    assert np.abs(written - expected).max() <= 1
    assert np.abs(written - pixels).mean() > 1  # the tiny model does change the image


def test_alpha_passes_through(runner, tiny_model_dir, tmp_path):
    rgba = np.dstack([synthetic_photo(30, 30), np.linspace(0, 255, 900).reshape(30, 30).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert _restore(runner, tiny_model_dir, tmp_path / "t.png").exit_code == 0
    out = Image.open(tmp_path / "t_restored.png")
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_grayscale_stays_grayscale(runner, tiny_model_dir, tmp_path):
    Image.fromarray(synthetic_photo(30, 30)[..., 0], "L").save(tmp_path / "g.png")
    assert _restore(runner, tiny_model_dir, tmp_path / "g.png").exit_code == 0
    assert Image.open(tmp_path / "g_restored.png").mode == "L"


def test_16_bit_stays_16_bit(runner, tiny_model_dir, tmp_path):
    deep = (synthetic_photo(30, 40).astype(np.uint16) * 257 + 100).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep[..., ::-1])
    loaded = read_image(tmp_path / "deep.png")
    assert loaded.bit_depth == 16
    assert np.abs(loaded.float_pixels() - deep / 65535).max() < 1e-6  # no 8-bit rounding on read
    assert _restore(runner, tiny_model_dir, tmp_path / "deep.png").exit_code == 0
    out = cv2.imread(str(tmp_path / "deep_restored.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (30, 40, 3)
    assert np.any(out % 257 != 0)  # finer than 8 bits


def test_exif_orientation_is_applied(runner, tiny_model_dir, tmp_path):
    image = Image.fromarray(synthetic_photo(20, 40))  # 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    assert read_image(tmp_path / "r.jpg").size == (40, 20)
    assert _restore(runner, tiny_model_dir, tmp_path / "r.jpg").exit_code == 0
    out = Image.open(tmp_path / "r_restored.jpg")
    assert out.size == (20, 40)
    assert out.getexif().get(0x0112, 1) == 1


def test_icc_profile_is_kept(runner, tiny_model_dir, tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(synthetic_photo(24, 24)).save(tmp_path / "c.png", icc_profile=icc)
    assert _restore(runner, tiny_model_dir, tmp_path / "c.png").exit_code == 0
    assert Image.open(tmp_path / "c_restored.png").info.get("icc_profile") == icc


@pytest.mark.parametrize("model_factory", [make_tiny_model, lambda: _perturbed("edgedeblur-s"), lambda: _perturbed("seed")])
def test_tiles_equal_the_whole_image(model_factory):
    model = model_factory()
    image = torch.from_numpy(synthetic_photo(300, 400, 5)).permute(2, 0, 1)[None].float() / 255
    whole, whole_edges = restore_tensor(model, image, RestoreOptions(tile=1024))
    tiled, tiled_edges = restore_tensor(model, image, RestoreOptions(tile=256, tile_overlap=96, batch_size=3))
    assert (whole - tiled).abs().max() < 1e-3
    assert (whole_edges - tiled_edges).abs().max() < 1e-3


@pytest.mark.parametrize("dtype, scale", [(torch.uint8, 255), (torch.uint16, 65535)])
@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_decoded_photos_are_restored_in_their_own_integers(dtype, scale, strength):
    """A photo kept as decoded (uint8 / uint16, the big-photo path) comes back in its dtype, tiled
    or whole, equal to the float result rounded (within one level: rounding of a 1e-6 difference)."""
    model = make_tiny_model()
    decoded = torch.from_numpy(synthetic_photo(300, 400, 5).astype(np.int32) * (scale // 255)).to(dtype).permute(2, 0, 1)[None]
    options = RestoreOptions(tile=1024, strength=strength)
    floats, float_edges = restore_tensor(model, decoded.float() / scale, options)
    expected = torch.round(floats * scale)
    for tile in (1024, 160):  # whole, then tiled in strips
        restored, edges = restore_tensor(model, decoded, RestoreOptions(tile=tile, tile_overlap=48, strength=strength))
        assert restored.dtype == dtype and edges.dtype == dtype
        assert (restored.double() - expected).abs().max() <= 1
        assert (edges.double() - torch.round(float_edges * scale)).abs().max() <= 1
    assert (restored.double() - decoded.double()).abs().mean() > 0.5  # the model did change it


def test_shipped_model_tiles_seamlessly_with_its_default_overlap():
    """The trained default model, tiled with the overlap it states, equals the whole image."""
    model = load_model(device="cpu")
    image = torch.from_numpy(synthetic_photo(300, 420, 7)).permute(2, 0, 1)[None].float() / 255
    image = (image + 0.03 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)  # work to do
    whole, _ = restore_tensor(model, image, RestoreOptions(tile=1024))
    tiled, _ = restore_tensor(model, image, RestoreOptions(tile=160))
    assert (whole - tiled).abs().max() < 1e-3
    assert (whole - image).abs().mean() > 1e-3  # the model really changed the image


@pytest.mark.parametrize("length", [161, 481, 1000, 3000, 4000, 4321])
@pytest.mark.parametrize("tile, overlap", [(160, 32), (512, 96), (1024, 64)])
def test_tile_grid_covers_evenly_on_the_model_grid(length, tile, overlap):
    padded = -(-length // 4) * 4
    size, starts = tile_grid(padded, tile, overlap, 4)
    if padded <= tile:
        assert (size, starts) == (padded, [0])
        return
    assert size <= tile and size % 4 == 0 and all(start % 4 == 0 for start in starts)
    assert starts[0] == 0 and starts[-1] + size == padded
    assert all(size - (b - a) >= overlap for a, b in zip(starts, starts[1:]))
    assert len(starts) * size < padded * 1.3  # evenly spread: no squeezed extra tile


def test_device_defaults_fill_only_what_was_left_open():
    from edgedeblur_cli.restoring.restore import for_device

    cpu, cuda = torch.device("cpu"), torch.device("cuda")  # no GPU needed: only the type is read
    assert (for_device(RestoreOptions(), cpu).tile, for_device(RestoreOptions(), cpu).batch_pixels) == (512, 512 * 512)
    assert (for_device(RestoreOptions(), cuda).tile, for_device(RestoreOptions(), cuda).batch_pixels) == (2048, 2048 * 2048)
    assert for_device(RestoreOptions(tile=300), cuda).tile == 300
    assert for_device(RestoreOptions(tile=256, batch_pixels=7), cpu).batch_pixels == 7


def test_edges_are_only_made_when_asked(tiny_model_dir):
    model = make_tiny_model()
    image = synthetic_photo(40, 60).astype(np.float32) / 255
    [(restored, edges)] = restore_arrays(model, [image], with_edges=False)
    assert edges is None and restored.shape == image.shape
    [(again, edges)] = restore_arrays(model, [image])
    assert edges.shape == (40, 60) and np.array_equal(restored, again)


def _perturbed(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        model.tail.weight.normal_(0, 0.05)
    return model


def test_python_api_keeps_types(tiny_model_dir):
    model = make_tiny_model()
    array = synthetic_photo(20, 30)
    out = restore_image(array, model)
    assert out.dtype == np.uint8 and out.shape == array.shape
    gray = restore_image(array[..., 0], model)
    assert gray.shape == (20, 30)
    pil = restore_image(Image.fromarray(array).convert("RGBA"), model)
    assert pil.mode == "RGBA"


def test_edges_and_degrade_follow_the_same_contract(runner, tiny_model_dir, photo_dir, tmp_path):
    result = runner.invoke(main, ["edges", str(photo_dir / "a.png"), "--weights", str(tiny_model_dir)])
    assert result.exit_code == 0, result.stderr
    assert Image.open(photo_dir / "a_edges.png").mode == "L"
    result = runner.invoke(main, ["degrade", str(photo_dir / "a.png"), str(tmp_path / "nope.png"), "--seed", "1", "-o", str(tmp_path / "d")])
    assert result.exit_code == 1 and "1 degraded, 0 skipped, 1 failed" in result.stderr


def test_save_edges_and_compare(runner, tiny_model_dir, photo_dir, tmp_path):
    result = _restore(runner, tiny_model_dir, photo_dir / "a.png", "--save-edges", tmp_path / "e", "--compare")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "e" / "a_edges.png").is_file()
    compare = Image.open(photo_dir / "a_restored_compare.png")
    assert compare.size[0] > 3 * 56


def test_outputs_get_normal_permissions(tmp_path, monkeypatch):
    old = os.umask(0o022)
    (tmp_path / "private.png").write_bytes(b"old")
    os.chmod(tmp_path / "private.png", 0o600)

    def no_umask(mask):  # the umask is process-wide: setting it, even to read it, races other writer threads
        raise AssertionError("write_atomic changed the process umask")

    try:
        monkeypatch.setattr(os, "umask", no_umask)
        write_atomic(tmp_path / "new.png", b"data")
        write_atomic(tmp_path / "private.png", b"new")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert (tmp_path / "new.png").stat().st_mode & 0o777 == 0o644  # 0666 less the umask, as open() makes it
    assert (tmp_path / "private.png").stat().st_mode & 0o777 == 0o600  # a replaced file keeps its mode
    assert (tmp_path / "private.png").read_bytes() == b"new"


def test_out_of_memory_falls_back_to_smaller_tiles():
    class Flaky(torch.nn.Module):
        """Runs like the tiny model but runs out of memory on inputs above 100 pixels a side."""

        size_multiple = 4

        def __init__(self):
            super().__init__()
            self.inner = make_tiny_model()

        def forward_with_edges(self, x):
            if max(x.shape[-2:]) > 100:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.inner.forward_with_edges(x)

    model = Flaky()
    notes = []
    image = torch.from_numpy(synthetic_photo(150, 180)).permute(2, 0, 1)[None].float() / 255
    restored, _ = restore_tensor(model, image, RestoreOptions(tile=512, tile_overlap=32), note=notes.append)
    assert restored.shape == image.shape and notes
    expected, _ = restore_tensor(model.inner, image, RestoreOptions(tile=512))
    assert (restored - expected).abs().max() < 5e-3  # smaller tiles, narrower overlap: close, not bit-equal
