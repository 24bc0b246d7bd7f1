"""Model registry: ``create_model(name)`` builds any network by its registered name.

Every restorer takes degraded RGB (N, 3, H, W) in about [0, 1] and returns restored RGB of
the same shape; those with an edge branch expose it as ``.edgenet`` and also offer
``forward_with_edges(x) -> (restored, edges)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from .agreement_pair import AgreementPair, AgreementPairConfig
from .common import count_parameters
from .discriminator import EdgeDiscriminator, EdgeDiscriminatorConfig
from .edgedeblur_s import EdgeBranchConfig, EdgeDeblurS, EdgeDeblurSConfig
from .prior_denoiser import PriorDenoiser, PriorDenoiserConfig
from .seed_deblurnet import SeedDeblurNet, SeedDeblurNetConfig
from .seed_edgenet import SeedEdgeNet, SeedEdgeNetConfig
from .unet import UNet, UNetConfig


@dataclass(frozen=True)
class ModelEntry:
    name: str
    model_class: Callable[..., nn.Module]
    config_class: type
    description: str
    default_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry("edgedeblur-s", EdgeDeblurS, EdgeDeblurSConfig, "edge branch + small NAFNet-style U-Net (default)"),
        ModelEntry(
            "edgedeblur-s-noedge",
            EdgeDeblurS,
            EdgeDeblurSConfig,
            "edgedeblur-s without the edge channel (ablation)",
            {"use_edges": False},
        ),
        ModelEntry("agreement-pair", AgreementPair, AgreementPairConfig, "a denoiser and a blind deblurrer, one picked per photo"),
        ModelEntry("edgedeblur-prior", PriorDenoiser, PriorDenoiserConfig, "denoiser told its noise level: the learned prior of deconvolution"),
        ModelEntry("seed", SeedDeblurNet, SeedDeblurNetConfig, "the seed study's EdgeNet + DeblurNet"),
        ModelEntry("seed-edgenet", SeedEdgeNet, SeedEdgeNetConfig, "the seed study's HED-style EdgeNet alone"),
        ModelEntry("unet", UNet, UNetConfig, "the seed study's plain U-Net baseline"),
        ModelEntry("edge-discriminator", EdgeDiscriminator, EdgeDiscriminatorConfig, "spectral-norm GAN discriminator"),
    ]
}

from ..names import DEFAULT_MODEL  # noqa: E402  (the published weights restore uses by default)


def list_models() -> list[str]:
    """Registered model names."""
    return list(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_REGISTRY)}") from None


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) config dataclass from ``dataclasses.asdict`` output."""
    kwargs = {}
    for f in dataclasses.fields(config_class):
        if f.name not in values:
            continue
        value = values[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = config_from_dict(type(default), value)
        elif isinstance(default, tuple):
            value = tuple(value)
        kwargs[f.name] = value
    return config_class(**kwargs)


def create_model(name: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Build the registered network ``name`` with its default config updated by ``config``."""
    entry = get_entry(name)
    values = {**entry.default_overrides, **(config or {})}
    return entry.model_class(config_from_dict(entry.config_class, values))


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    """The model's config dataclass as a JSON-ready dict."""
    return dataclasses.asdict(model.config)


__all__ = [
    "DEFAULT_MODEL",
    "AgreementPair",
    "EdgeBranchConfig",
    "EdgeDeblurS",
    "EdgeDeblurSConfig",
    "EdgeDiscriminator",
    "PriorDenoiser",
    "SeedDeblurNet",
    "SeedEdgeNet",
    "UNet",
    "count_parameters",
    "create_model",
    "list_models",
    "model_config_dict",
]
