"""How the agreement pair's threshold was chosen: on training photos only, then checked on real noise.

Each of --photos BSDS500 *training* photos gets one draw of the realistic family
(``degrade_real``, its whole mix: clean, noise, blur, JPEG), and the gentle and the strong
network restore it. A photo's agreement is the PSNR of the two outputs on its probe crops, as
``AgreementPair.choose`` measures it. For each threshold the table gives the PSNR of the mean MSE
over those photos when photos that agree better than it get the gentle output, and the share of
photos that do. The threshold to ship is the best on the family. The 40 first real camera-noise pairs
(``real-noise-dev``, never trained or chosen on) are printed beside it, to validate.

Usage (from the repository root): python benchmarks/agreement_threshold.py [--photos 160]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from edgedeblur_cli.data import list_images, load_photos
from edgedeblur_cli.degrade_real import degrade_real
from edgedeblur_cli.metrics import psnr_from_mse
from edgedeblur_cli.models import AgreementPair, create_model, model_config_dict
from edgedeblur_cli.restore import load_model, restore_image
from realworld import DEFAULT_DATA, REAL_NOISE  # the data beside this script's benchmark of real-world inputs

THRESHOLDS = (30, 32, 34, 36, 38, 40, 42, 44, 46)


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


def sweep(label: str, rows: list[dict[str, float]]) -> None:
    cells = [f"{psnr(np.mean([r['gentle'] if r['agreement'] > t else r['strong'] for r in rows])):6.2f} {np.mean([r['agreement'] > t for r in rows]):4.2f}" for t in THRESHOLDS]
    print(f"  {label:<34}" + "".join(f"{c:>13}" for c in cells))
    print(f"  {'':<34} input {psnr(np.mean([r['input'] for r in rows])):.2f}, strong only {psnr(np.mean([r['strong'] for r in rows])):.2f}, gentle only {psnr(np.mean([r['gentle'] for r in rows])):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gentle", default="edgedeblur-denoise")
    parser.add_argument("--strong", default="edgedeblur-blind")
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    gentle, strong = load_model(args.gentle, device="cpu"), load_model(args.strong, device="cpu")
    pair = create_model("agreement-pair", {"gentle": model_config_dict(gentle), "strong": model_config_dict(strong)})
    pair.gentle, pair.strong = gentle, strong
    rng = np.random.default_rng(args.seed)
    family = []
    for path in list_images(DEFAULT_DATA.parent / "train")[: args.photos]:
        sharp = load_photos([path])[0]
        degraded, _ = degrade_real(sharp.astype(np.float32) / 255, rng)
        family.append(judge(pair, np.round(degraded * 255).astype(np.uint8), sharp))
    names = sorted(p.name for p in (REAL_NOISE / "noisy").glob("*.jpg"))[: args.pairs]
    real = [judge(pair, load_photos([REAL_NOISE / "noisy" / n])[0], load_photos([REAL_NOISE / "clean" / n])[0]) for n in names]
    print(f"gentle {args.gentle} where it agrees with strong {args.strong} better than the threshold; PSNR of the mean MSE, share given the gentle output")
    print(f"  {'threshold (dB)':<34}" + "".join(f"{t:>13}" for t in THRESHOLDS))
    sweep(f"{len(family)} training photos, the family", family)
    sweep(f"{len(real)} real camera-noise pairs", real)


if __name__ == "__main__":
    main()
