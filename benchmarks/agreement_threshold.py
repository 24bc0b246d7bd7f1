"""How the agreement pair's threshold was chosen: on training photos only, then checked on real noise.

Each of --photos BSDS500 *training* photos gets one draw of the realistic family as training
draws it (``training_pair``: its whole mix of clean, noise, blur and JPEG, and a quarter of the
targets a little soft, as a photo at a camera's native resolution is), and the gentle and the
strong network restore it. A photo's agreement is the PSNR of the two outputs on its probe
crops, as ``AgreementPair.choose`` measures it. For each threshold the table gives the PSNR of the
mean MSE over those photos when photos that agree better than it get the gentle output, and the
share of photos that do. The threshold to ship is the lowest within ``TIE_DB`` of the best on the
family: where the family cannot tell thresholds apart, the photo goes to the gentle network,
which does not sharpen, so it cannot harm a photo that was only soft. The 40 first real
camera-noise pairs (``real-noise-dev``, never trained on) are printed beside it, to validate.

Usage (from the repository root): python benchmarks/agreement_threshold.py [--photos 160]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from edgedeblur_cli.training.data import list_images, load_photos
from edgedeblur_cli.degradations.realistic import training_pair
from edgedeblur_cli.metrics import psnr_from_mse
from edgedeblur_cli.models import AgreementPair, create_model, model_config_dict
from edgedeblur_cli.restoring.restore import restore_image
from realworld import DEFAULT_DATA, REAL_NOISE, load_benchmarked_model  # the data beside this script's benchmark of real-world inputs

THRESHOLDS = (30, 32, 34, 36, 38, 40, 42, 44, 46)
TIE_DB = 0.05  # family PSNRs closer than this are a tie (160 photos, one draw each)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(value: float) -> float:
    return psnr_from_mse(torch.tensor(value, dtype=torch.float64), 255.0).item()


def judge(pair: AgreementPair, image: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """The photo's agreement (dB, as ``choose`` measures it) and each network's MSE against its target."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    agreement = pair.probe_agreement_db(x).item()
    gentle, strong = restore_image(image, pair.gentle), restore_image(image, pair.strong)
    return {"agreement": agreement, "gentle": mse(gentle, target), "strong": mse(strong, target), "input": mse(image, target)}


def paired_psnr(rows: list[dict[str, float]], threshold: float) -> float:
    """PSNR of the mean MSE when photos agreeing better than ``threshold`` get the gentle output."""
    return psnr(np.mean([r["gentle"] if r["agreement"] > threshold else r["strong"] for r in rows]))


def pick_threshold(rows: list[dict[str, float]]) -> float:
    """The lowest threshold whose PSNR on ``rows`` is within ``TIE_DB`` of the best one's."""
    scores = {t: paired_psnr(rows, t) for t in THRESHOLDS}
    return min(t for t in THRESHOLDS if scores[t] >= max(scores.values()) - TIE_DB)


def sweep(label: str, rows: list[dict[str, float]]) -> None:
    cells = [f"{paired_psnr(rows, t):6.2f} {np.mean([r['agreement'] > t for r in rows]):4.2f}" for t in THRESHOLDS]
    print(f"  {label:<34}" + "".join(f"{c:>13}" for c in cells))
    print(f"  {'':<34} input {psnr(np.mean([r['input'] for r in rows])):.2f}, strong only {psnr(np.mean([r['strong'] for r in rows])):.2f}, gentle only {psnr(np.mean([r['gentle'] for r in rows])):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gentle", default="edgedeblur-denoise", help="a published name or a model folder")
    parser.add_argument("--strong", default="edgedeblur-blind")
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    gentle, strong = load_benchmarked_model(args.gentle), load_benchmarked_model(args.strong)
    pair = create_model("agreement-pair", {"gentle": model_config_dict(gentle), "strong": model_config_dict(strong)})
    pair.gentle, pair.strong = gentle, strong
    rng = np.random.default_rng(args.seed)
    family = []
    for path in list_images(DEFAULT_DATA.parent / "train")[: args.photos]:
        target, degraded, _ = training_pair(load_photos([path])[0].astype(np.float32) / 255, rng)
        family.append(judge(pair, np.round(degraded * 255).astype(np.uint8), np.round(target * 255).astype(np.uint8)))
    names = sorted(p.name for p in (REAL_NOISE / "noisy").glob("*.jpg"))[: args.pairs]
    real = [judge(pair, load_photos([REAL_NOISE / "noisy" / n])[0], load_photos([REAL_NOISE / "clean" / n])[0]) for n in names]
    print(f"gentle {args.gentle} where it agrees with strong {args.strong} better than the threshold; PSNR of the mean MSE, share given the gentle output")
    print(f"  {'threshold (dB)':<34}" + "".join(f"{t:>13}" for t in THRESHOLDS))
    sweep(f"{len(family)} training photos, the family", family)
    sweep(f"{len(real)} real camera-noise pairs", real)
    print(f"threshold to ship (the lowest within {TIE_DB} dB of the best on the family): {pick_threshold(family):g} dB")


if __name__ == "__main__":
    main()
