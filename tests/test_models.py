import pytest
import torch

from edgedeblur_cli.models import count_parameters, create_model, list_models, model_config_dict
from edgedeblur_cli.models.common import crop_to, pad_to_multiple


def test_seed_parameter_counts_match_the_study():
    assert count_parameters(create_model("seed-edgenet")) == 3_509_633
    assert count_parameters(create_model("seed")) == 6_661_028


@pytest.mark.parametrize("name", ["seed", "unet", "edgedeblur-s", "edgedeblur-s-noedge"])
@pytest.mark.parametrize("size", [(32, 32), (37, 53), (5, 9)])
def test_restorers_keep_any_size(name, size):
    model = create_model(name).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_edgenet_outputs_probabilities_at_full_size():
    with torch.no_grad():
        edges = create_model("seed-edgenet")(torch.rand(1, 3, 45, 30))
    assert edges.shape == (1, 1, 45, 30)
    assert edges.min() >= 0 and edges.max() <= 1


def test_seed_restorer_exposes_its_edges():
    model = create_model("seed").eval()
    with torch.no_grad():
        restored, edges = model.forward_with_edges(torch.rand(1, 3, 32, 32))
    assert restored.shape == (1, 3, 32, 32) and edges.shape == (1, 1, 32, 32)


def test_discriminator_scores_edge_maps():
    logits = create_model("edge-discriminator")(torch.rand(4, 1, 32, 32))
    assert logits.shape == (4, 1)


def test_untrained_edgedeblur_s_is_the_identity():
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(create_model("edgedeblur-s")(x), x)


def test_ablation_has_no_edge_input():
    model = create_model("edgedeblur-s-noedge")
    assert model.head.in_channels == 3 * 4  # pixel-unshuffled RGB
    assert create_model("edgedeblur-s").head.in_channels == 4 * 4  # RGB + edges


def test_config_round_trip_and_unknown_names():
    model = create_model("edgedeblur-s", {"width": 8, "encoder_blocks": 1, "decoder_blocks": 1, "edge": {"channels": 4}})
    config = model_config_dict(model)
    again = create_model("edgedeblur-s", config)
    assert model_config_dict(again) == config
    assert again.config.edge.channels == 4
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    assert "seed" in list_models()


def test_padding_crops_back():
    x = torch.rand(1, 3, 1, 3)  # smaller than the pad: falls back to replication
    padded, size = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (16, 16) and size == (1, 3)
    assert torch.equal(crop_to(padded, size), x)
    y = torch.rand(2, 3, 21, 30)
    padded, size = pad_to_multiple(y, 8)
    assert padded.shape[-2:] == (24, 32) and torch.equal(crop_to(padded, size), y)


def test_folding_for_inference_keeps_the_outputs():
    torch.manual_seed(0)
    model = create_model("edgedeblur-s").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # norms' affine maps and residual scales away from 1/0
    x = torch.rand(2, 3, 36, 44)
    with torch.no_grad():
        expected = model(x)
        folded = model.fold_for_inference()(x)
    assert (expected - folded).abs().max() < 1e-4
    assert (expected - x).abs().max() > 1e-2


def test_grown_network_starts_with_the_trained_outputs_and_can_learn():
    from edgedeblur_cli.models.edgedeblur_s import grow_middle

    torch.manual_seed(0)
    trained = create_model("edgedeblur-s", {"width": 8, "middle_blocks": 1}).eval()
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.05 * torch.randn_like(p))
    grown = grow_middle(trained, 3)
    assert grown.config.middle_blocks == 3 and len(grown.middle) == 3
    x = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(grown(x), trained(x))
    # The new blocks are not dead weight: their residual scales get a gradient at once.
    grown(x).square().mean().backward()
    assert grown.middle[2].beta.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="already has 3"):
        grow_middle(grown, 2)
