"""``edgedeblur degrade``: the seed study's blur and noise, or the realistic family, reproducibly."""

from __future__ import annotations

import click

from ..names import DEGRADATIONS
from .app import main
from .common import Context, file_options, run_file_command
from .help import brief


@main.command()
@file_options("_degraded", None)
@click.option("--sigma", default="1:4", show_default=True, help="Blur sigma: a number, or LOW:HIGH drawn uniformly per image.",
              **brief("Blur sigma, or LOW:HIGH [default: 1:4]."))
@click.option("--kernel", type=click.IntRange(1), default=5, show_default=True, help="Odd Gaussian kernel size.")
@click.option("--noise", type=click.FloatRange(0), default=0.02, show_default=True, help="Std of the added Gaussian noise, on [0, 1] pixels.",
              **brief("Noise std on [0, 1] pixels [default: 0.02]."))
@click.option("--preset", "--degradation", "preset", type=click.Choice(DEGRADATIONS), default="seed", show_default=True,
              help="seed: the study's Gaussian blur + noise (--sigma, --kernel, --noise); real: a random draw of the blur, "
                   "noise and JPEG real photos carry (or none), as `train --degradation real` trains on; real-noise: "
                   "no blur, a camera's noise, mostly saved as JPEG after it.",
              **brief("seed, real or real-noise [default: seed]."))
@click.option("--seed", type=int, help="Seed: the same seed gives the same output bytes.", **brief("The same seed gives the same bytes."))
def degrade(files, sigma, kernel, noise, preset, seed):
    """Blur and add noise: exactly as the seed study did, or as real photos are degraded.

    The seed's degradation itself is not clipped; writing an 8-bit (or 16-bit) file clips it
    to [0, 1]. Image i of a call uses its own random stream seeded by (--seed, i).

    \b
    Examples:
      edgedeblur degrade photo.png --seed 1            # writes photo_degraded.png
      edgedeblur degrade sharp/ -o blurred/ --sigma 2.5 --noise 0.01
      edgedeblur degrade sharp/ -o test/ --preset real --seed 0
      edgedeblur degrade sharp/ -o noisy/ --preset real-noise --seed 0
    """
    from ..degradations.seed import DegradeConfig, degrade_random, parse_sigma
    from ..degradations.realistic import PRESETS, degrade_real

    ctx = files.context()
    try:
        low, high = parse_sigma(sigma)
        config = DegradeConfig(low, high, kernel, noise)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    import numpy as np

    base_seed = seed if seed is not None else int(np.random.SeedSequence().entropy % (2**63))
    counter = iter(range(10**12))

    def process(images):
        outputs = []
        for image in images:
            rng = np.random.default_rng([base_seed, next(counter)])
            if preset in PRESETS:
                degraded = degrade_real(image.float_pixels(), rng, PRESETS[preset])[0]
            else:
                degraded, _ = degrade_random(image.float_pixels(), rng, config)
            outputs.append({"main": image.with_pixels(np.clip(degraded, 0, 1))})
        return outputs

    run_file_command(ctx, "degraded", files, lambda: (process, "cpu"), 1)
