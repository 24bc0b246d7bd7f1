"""--strength / RestoreOptions.strength: that share of the network's correction, whole images and tiles alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edgedeblur_cli.cli import main
from edgedeblur_cli.restoring.restore import RestoreOptions, restore_tensor

from conftest import make_tiny_model, synthetic_photo


@pytest.mark.parametrize("tile", [1024, 128])  # the whole image in one call; tiles blended
def test_strength_applies_that_share_of_the_correction(tile):
    model = make_tiny_model()
    image = torch.from_numpy(synthetic_photo(150, 200, 3)).permute(2, 0, 1)[None].float() / 255
    options = RestoreOptions(tile=tile, tile_overlap=48 if tile < 1024 else None)
    full, full_edges = restore_tensor(model, image, options)
    assert (full - image).abs().max() > 0.05  # the tiny model does change the image
    untouched, edges = restore_tensor(model, image, RestoreOptions(tile=tile, tile_overlap=options.tile_overlap, strength=0.0))
    assert torch.equal(untouched, image)
    assert torch.equal(edges, full_edges)  # the edge map is the network's, whatever the strength
    half, _ = restore_tensor(model, image, RestoreOptions(tile=tile, tile_overlap=options.tile_overlap, strength=0.5))
    assert (half - (image + full) / 2).abs().max() < 1e-6


def test_strength_outside_0_1_is_refused():
    for strength in (-0.1, 1.5):
        with pytest.raises(ValueError, match="strength"):
            RestoreOptions(strength=strength)


def test_the_cli_strength_0_writes_the_input_and_bad_values_are_usage_errors(runner, tiny_model_dir, tmp_path):
    photo = synthetic_photo(40, 56, 7)
    Image.fromarray(photo).save(tmp_path / "a.png")
    args = ["restore", str(tmp_path / "a.png"), "--weights", str(tiny_model_dir), "--device", "cpu"]
    result = runner.invoke(main, args + ["--strength", "0"])
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a_restored.png")), photo)
    result = runner.invoke(main, args + ["--strength", "2", "--overwrite"])
    assert result.exit_code == 2 and "strength" in result.stderr.lower()
