import pickle

import cv2
import numpy as np
import pytest
import torch

from edgedeblur_cli.training.data import (
    DatasetError,
    DatasetSpec,
    crop_photo,
    fixed_pairs,
    list_images,
    load_cifar10,
    load_images,
    parse_downscale,
    random_flips,
    sample_crops,
    split_train_validation,
)

from conftest import synthetic_photo


def _write_cifar_batch(path, count, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    with open(path, "wb") as handle:
        pickle.dump({b"data": data, b"labels": list(range(count))}, handle)
    return data


def test_cifar10_reads_the_python_batch_format(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    first = _write_cifar_batch(folder / "data_batch_1", 4, 0)
    for i in range(2, 6):
        _write_cifar_batch(folder / f"data_batch_{i}", 4, i)
    test = _write_cifar_batch(folder / "test_batch", 3, 9)
    train_images = load_cifar10(tmp_path, train=True, download=False)
    test_images = load_cifar10(tmp_path, train=False, download=False)
    assert len(train_images) == 20 and len(test_images) == 3
    assert train_images[0].shape == (32, 32, 3)
    # CIFAR stores planes R, G, B of 1024 bytes each
    assert train_images[0][0, 1, 0] == first[0, 1] and train_images[0][0, 0, 2] == first[0, 2048]
    assert test_images[2][31, 31, 1] == test[2, 1024 + 1023]
    images = load_images(DatasetSpec("cifar10", data_root=str(tmp_path)), "test")
    assert len(images) == 3


def test_cifar10_missing_gives_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="put the python batches"):
        load_cifar10(tmp_path, train=True, download=False)


def test_cifar10_corrupt_batch_names_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="test_batch"):
        load_cifar10(tmp_path, train=False, download=False)


def test_photo_folder_listing_and_errors(tmp_path, photo_dir):
    assert [p.name for p in list_images(photo_dir)] == ["a.png", "b.jpg", "c.png"]
    with pytest.raises(DatasetError):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        list_images(tmp_path / "empty")


def test_crops_shrink_and_keep_size():
    photo = synthetic_photo(120, 160)
    crop = crop_photo(photo, 32, 4.0, 0.5, 0.5)
    assert crop.shape == (32, 32, 3)
    whole = crop_photo(photo, None, 1.0, 0, 0)
    assert whole.shape == photo.shape
    batch = sample_crops([photo], 32, parse_downscale("2:8"), 5, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 3, 32, 32) and batch.max() <= 1


def test_factors_below_one_enlarge_crops_softly():
    """A factor of 0.5 covers 16 source pixels for a 32-pixel crop: the same place, enlarged, smoother."""
    photo = synthetic_photo(120, 160)
    enlarged = crop_photo(photo, 32, 0.5, 0.0, 0.0).astype(np.float64)
    plain = crop_photo(photo, 32, 1.0, 0.0, 0.0).astype(np.float64)
    assert enlarged.shape == (32, 32, 3)
    source = cv2.resize(photo[:16, :16], (32, 32), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    assert np.abs(enlarged - source).max() == 0
    roughness = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert roughness(enlarged) < 0.75 * roughness(plain)


def test_fixed_pairs_are_reproducible():
    photos = [synthetic_photo(64, 64, i) for i in range(3)]
    a = fixed_pairs(photos, 16, (2, 4), 7, seed=0)
    b = fixed_pairs(photos, 16, (2, 4), 7, seed=0)
    c = fixed_pairs(photos, 16, (2, 4), 7, seed=1)
    assert len(a.sharp) == 7
    assert all(np.array_equal(x, y) for x, y in zip(a.degraded, b.degraded))
    assert not np.array_equal(a.degraded[0], c.degraded[0])
    whole = fixed_pairs(photos, None, (1, 1), None, seed=0)
    assert len(whole.sharp) == 3 and whole.sharp[0].shape == (64, 64, 3)


def test_validation_split_is_fixed_and_disjoint():
    images = [np.full((2, 2, 3), i, np.uint8) for i in range(20)]
    train, val = split_train_validation(images, 0.1, seed=0)
    train2, val2 = split_train_validation(images, 0.1, seed=0)
    assert len(val) == 2 and len(train) == 18
    ids = lambda xs: [int(x[0, 0, 0]) for x in xs]
    assert ids(val) == ids(val2) and not set(ids(val)) & set(ids(train))


def test_flips_only_flip():
    x = torch.rand(30, 3, 4, 4)
    y = random_flips(x, torch.Generator().manual_seed(0))
    for a, b in zip(x, y):
        assert torch.equal(a, b) or torch.equal(a.flip(-1), b) or torch.equal(a.flip(-2), b)


def test_downscale_parsing():
    assert parse_downscale("2:8") == (2.0, 8.0)
    assert parse_downscale("0.5:2") == (0.5, 2.0)
    for bad in ("0.1", "2:1", "a", "1:2:3"):
        with pytest.raises(ValueError):
            parse_downscale(bad)
