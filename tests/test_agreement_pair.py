"""The agreement pair: the gentle network where the two agree, the strong one where they do not,
one choice per photo, made before a big photo is cut into tiles."""

import dataclasses

import pytest
import torch

from edgedeblur_cli.models import create_model
from edgedeblur_cli.models.agreement_pair import probe_starts
from edgedeblur_cli.restoring.restore import RestoreOptions, restore_tensor

from conftest import TINY_CONFIG, make_tiny_model, synthetic_photo


def _pair(threshold_db: float, probe: int = 32):
    """Gentle: the identity (an untrained network); strong: a perturbed one that changes every photo."""
    pair = create_model("agreement-pair", {"gentle": TINY_CONFIG, "strong": TINY_CONFIG, "threshold_db": threshold_db, "probe": probe})
    pair.strong.load_state_dict(make_tiny_model(seed=1).state_dict())
    return pair.eval()


def _photos(n: int, h: int, w: int) -> torch.Tensor:
    return torch.stack([torch.from_numpy(synthetic_photo(h, w, seed)).permute(2, 0, 1).float() / 255 for seed in range(n)])


def test_probes_sit_in_the_middle_and_spread_out_on_long_sides():
    assert probe_starts(100, 256) == [0]
    assert probe_starts(500, 256) == [122]
    starts = probe_starts(4000, 256)
    assert len(starts) == 2 and all(0 <= s <= 4000 - 256 for s in starts) and starts[0] < 2000 < starts[1] + 256


@pytest.mark.parametrize("threshold_db, expert", [(-1.0, "gentle"), (200.0, "strong")])
def test_small_and_big_photos_get_the_network_the_rule_picks(threshold_db, expert):
    pair = _pair(threshold_db)
    chosen = getattr(pair, expert)
    options = RestoreOptions(tile=64, tile_overlap=16)
    for photos in (_photos(2, 24, 28), _photos(1, 100, 140)):  # one run whole; probes, then tiles
        expected, expected_edges = restore_tensor(chosen, photos, options)
        restored, edges = restore_tensor(pair, photos, options)
        assert torch.equal(restored, expected) and torch.equal(edges, expected_edges)
    assert not torch.equal(restore_tensor(pair.gentle, photos)[0], restore_tensor(pair.strong, photos)[0])


def test_the_rule_compares_the_two_outputs_against_the_threshold():
    pair = _pair(0.0)
    photos = _photos(1, 60, 80)
    probe = photos[:, :, 14:46, 24:56]  # the one 32-pixel probe of a 60x80 photo, in its middle
    assert (probe_starts(60, 32), probe_starts(80, 32)) == ([14], [24])
    with torch.no_grad():
        agreement = pair.agreement_db(pair.gentle(probe), pair.strong(probe)).item()
    assert 10 < agreement < 60
    for margin, expected in ((-0.01, 0), (0.01, 1)):  # threshold just below the agreement: gentle; just above: strong
        pair.config = dataclasses.replace(pair.config, threshold_db=agreement + margin)
        assert pair.choose(photos).tolist() == [expected]


def test_a_batch_of_photos_that_choose_differently_gets_each_its_own(monkeypatch):
    pair = _pair(0.0)
    photos = _photos(2, 100, 140)
    monkeypatch.setattr(pair, "choose", lambda images: torch.tensor([1, 0]))
    options = RestoreOptions(tile=64, tile_overlap=16)
    restored, edges = restore_tensor(pair, photos, options)
    strong, strong_edges = restore_tensor(pair.strong, photos[:1], options)
    gentle, gentle_edges = restore_tensor(pair.gentle, photos[1:], options)
    assert torch.equal(restored[0], strong[0]) and torch.equal(restored[1], gentle[0])
    assert torch.equal(edges[0], strong_edges[0]) and torch.equal(edges[1], gentle_edges[0])
