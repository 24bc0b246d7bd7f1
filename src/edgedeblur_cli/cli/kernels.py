"""The kernel path on the command line: ``edgedeblur kernel`` and ``restore``'s kernel options.

``restore --kernel/--motion/--gaussian/--defocus`` deconvolves every photo by the one kernel
given; ``restore`` with the default model estimates a kernel per photo and deconvolves by it
when the rule in ``deconvolution.route.BlindRule`` trusts it, else runs the networks as before.
"""

from __future__ import annotations

import click

from .app import main
from .common import Context, fatal, file_options, run_file_command, stderr
from .help import brief

JPEG_FORMATS = ("JPEG", "MPO")  # noise saved under JPEG compression reads low: see estimate_noise

KERNEL_HELP = (
    "The kernel is the point-spread function: the image of a point light as the camera recorded it, so "
    "blurred = sharp convolved with the kernel (a true convolution, not a correlation)."
)


def kernel_options(func):
    """--kernel, --motion, --gaussian, --defocus, --noise, --estimate-kernel/--no-estimate-kernel."""
    options = [
        click.option("--kernel", "kernel_file", type=click.Path(dir_okay=False),
                     help="Deconvolve by this blur kernel: an image or .npy array, any size, normalised here. " + KERNEL_HELP,
                     **brief("Deconvolve by this blur kernel (image, .npy).")),
        click.option("--motion", metavar="LENGTH,ANGLE", help="Deconvolve a straight motion of LENGTH px at ANGLE degrees (counter-clockwise from horizontal).",
                     **brief("Deconvolve a LENGTH px motion at ANGLE deg.")),
        click.option("--gaussian", type=float, metavar="SIGMA", help="Deconvolve a Gaussian blur of SIGMA px."),
        click.option("--defocus", type=float, metavar="RADIUS", help="Deconvolve a defocus disc of RADIUS px."),
        click.option("--noise", type=click.FloatRange(0, 0.5), metavar="SIGMA",
                     help="Noise std on [0, 1] pixels for deconvolution  [default: estimated from each photo]."),
        click.option("--estimate-kernel/--no-estimate-kernel", default=False, show_default=True,
                     help="With the default model: estimate each photo's blur kernel and deconvolve by it when the rule "
                          "trusts it (experimental, off by default: it can send a noisy photo to deconvolution; see the README)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def given_kernel(ctx: Context, kernel_file, motion, gaussian, defocus):
    """(kernel, the option or file it came from) or (None, None); a bad one ends the command (exit 2) with one line."""
    from ..deconvolution.kernels import KernelError, defocus_kernel, gaussian_kernel, motion_kernel, read_kernel

    chosen = [name for name, value in (("--kernel", kernel_file), ("--motion", motion), ("--gaussian", gaussian), ("--defocus", defocus)) if value is not None]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be combined: give one kernel")
    try:
        if kernel_file is not None:
            return read_kernel(kernel_file), str(kernel_file)
        if motion is not None:
            try:
                length, angle = (float(v) for v in motion.split(","))
            except ValueError:
                raise KernelError(f"--motion: expected LENGTH,ANGLE such as 15,30, got {motion!r}") from None
            return motion_kernel(length, angle), f"--motion {motion}"
        if gaussian is not None:
            return gaussian_kernel(gaussian), f"--gaussian {gaussian:g}"
        if defocus is not None:
            return defocus_kernel(defocus), f"--defocus {defocus:g}"
    except KernelError as exc:
        fatal(ctx, exc, code=2)
    return None, None


def from_jpeg(image, noise: float | None = None, kernel=None) -> bool:
    """Whether ``image``'s noise is read as a JPEG's: a JPEG file, or pixels that were once one
    (a PNG made from a JPEG: ``once_jpeg``), whose compression hides noise alike.

    The reading matters where the noise is estimated, and for a blob ``kernel``, whose schedule
    allows for JPEG (``schedule_for``): with ``noise`` given and no blob, False without the
    lattice test (0.1-0.2 s a photo)."""
    from ..deconvolution.deconvolve import is_blob
    from ..files.jpeg_history import once_jpeg

    if noise is not None and (kernel is None or not is_blob(kernel)):
        return False
    return image.format in JPEG_FORMATS or once_jpeg(image.pixels)


def load_prior_or_exit(ctx: Context, device):
    from ..deconvolution.route import PRIOR_MODEL

    from .common import load_or_exit

    return load_or_exit(ctx, PRIOR_MODEL, None, None, device)


def deconvolve_batch(prior, kernel, source: str, noise, compare: bool, images):
    """Same-size ``ImageData`` -> per image {"main": deconvolved (and "compare")}: the kernel given by ``source``."""
    from ..deconvolution.route import deconvolve_pixels
    from ..deconvolution.kernels import KernelError

    outputs = []
    for image in images:
        try:  # the decoded integers: the deconvolution converts a window of them at a time
            restored = deconvolve_pixels(image.pixels, kernel, prior, noise, compressed=from_jpeg(image, noise, kernel))
        except KernelError as exc:  # e.g. larger than this photo: name the kernel the user gave
            raise KernelError(f"{source}: {exc}") from None
        out = {"main": image.with_pixels(restored), "details": {"route": "kernel", "kernel_size": list(kernel.shape)}}
        if compare:
            out["compare"] = kernel_compare(image.float_pixels(), kernel, restored)
        outputs.append(out)
    return outputs


def auto_batch(network_batch, prior, noise, compare: bool, images):
    """The default route: per photo, estimate the kernel; deconvolve the photos whose kernel the
    rule trusts, hand the others (together) to ``network_batch`` as before."""
    from ..deconvolution.route import route_photo

    outputs: list = [None] * len(images)
    to_network = []
    for i, image in enumerate(images):
        pixels = image.float_pixels()
        restored, estimate = route_photo(pixels, prior, noise, compressed=from_jpeg(image, noise))
        if restored is None:
            to_network.append((i, estimate))
            continue
        out = {"main": image.with_pixels(restored), "details": _estimate_details(estimate, "kernel")}
        if compare:
            out["compare"] = kernel_compare(pixels, estimate.kernel, restored)
        outputs[i] = out
    if to_network:
        produced = network_batch([images[i] for i, _ in to_network])
        for (i, estimate), out in zip(to_network, produced):
            outputs[i] = {**out, "details": _estimate_details(estimate, "network")}
    return outputs


def _estimate_details(estimate, route: str) -> dict:
    if estimate is None:
        return {"route": route}
    details = {"route": route, "kernel_size": list(estimate.kernel.shape), "kernel_radius": round(estimate.radius, 2),
               "kernel_fill": round(estimate.fill, 2), "confidence": round(estimate.confidence, 3)}
    if "spectral_agreement" in estimate.details:  # the rule's spectrum checks (``BlindRule.min_spectral_agreement``, ``min_orientation_margin``)
        details["spectral_agreement"] = round(estimate.details["spectral_agreement"], 3)
        details["orientation_margin"] = round(estimate.details["orientation_margin"], 3)
    if "reblur_residual" in estimate.details:
        details["reblur_residual"] = round(estimate.details["reblur_residual"], 3)
    judged = estimate.details.get("first_setting", estimate)  # what the rule judges (``route.judged_estimate``)
    if "sharpening" in judged.details:  # the rule's sharpening check (``BlindRule.min_sharpening``)
        details["sharpening"] = round(judged.details["sharpening"], 3)
    if "candidate" in estimate.details:  # which estimator setting gave the kernel (``route.CANDIDATES``)
        details["candidate"] = estimate.details["candidate"]
    if "straight" in estimate.details:  # a line, drawn at the length and angle of the photo's cepstrum (``straight.py``)
        line = estimate.details["straight"]
        details["straight_motion"] = {"length": round(line.length, 2), "angle": round(line.angle, 1)}
    return details


def kernel_compare(degraded, kernel, restored):
    """input | kernel (enlarged, on black, top-aligned) | restored: one ImageData."""
    import numpy as np

    from ..files.io import ImageData
    from ..deconvolution.kernels import kernel_image

    h = degraded.shape[0]
    scale = max(1, min(8, (h // 3) // max(kernel.shape)))
    view = kernel_image(kernel, scale)[: h, : h]
    panel = np.zeros((h, view.shape[1], 3), dtype=np.float32)
    panel[: view.shape[0]] = view[..., None]
    gap = np.ones((h, 4, 3), dtype=np.float32)
    return ImageData(np.concatenate([np.clip(degraded, 0, 1), gap, panel, gap, np.clip(restored, 0, 1)], axis=1).astype(np.float32))


@main.command(epilog="""
\b
Examples:
  edgedeblur kernel shaky.jpg                    # writes shaky_kernel.png
  edgedeblur kernel shaky.jpg --raw -o psf.png   # the kernel at its own size
  edgedeblur kernel shots/ -o kernels/ --json    # sizes, confidences
  edgedeblur restore shaky.jpg --kernel psf.png  # then deconvolve by it
""")
@file_options("_kernel", "png")
@click.option("--raw", is_flag=True, help="Write the kernel at its own size (1 px per entry), not enlarged for viewing.",
              **brief("The kernel at its own size, not enlarged."))
@click.option("--kernel-size", type=click.IntRange(5, 151), help="Kernel side sought, px  [default: searched, 35 then 59 then 95 while a tenth of the kernel lies on its window's border].")
@click.option("--gamma", type=click.FloatRange(1, 3), default=1.0, show_default=True,
              help="Fit in linear light, undoing this display gamma first (2.2 for camera JPEGs).")
def kernel(files, raw, kernel_size, gamma):
    """Estimate the blur kernel of each photo (camera shake, motion, defocus).

    Writes the kernel as a grayscale image (brightest entry white) and prints its size, its
    radius and a confidence in [0, 1] on stderr: how well the kernels fitted to two regions of
    the photo agree, or where one region was fitted, the share of its blurred edges it explains.
    """
    from ..deconvolution.estimate import EstimationOptions

    ctx = files.context()
    options = EstimationOptions(gamma=gamma, kernel_size=kernel_size | 1 if kernel_size else None)

    def make_process():
        prior = load_prior_or_exit(ctx, "cpu")  # fits on regions it denoised, chooses by its deconvolutions

        def process(images):
            from ..files.io import ImageData
            from ..deconvolution.kernels import kernel_image
            from ..deconvolution.route import estimate_for

            outputs = []
            for image in images:
                pixels = image.float_pixels()
                # As the default route estimates, whatever the photo's size.
                estimate = estimate_for(pixels, prior, options, compressed=from_jpeg(image), min_side=0)
                view = kernel_image(estimate.kernel, 1 if raw else max(1, 256 // estimate.kernel.shape[0]))
                outputs.append({"main": ImageData(view[..., None].repeat(3, 2), grayscale=True), "details": _estimate_details(estimate, "kernel")})
            return outputs

        return process, "cpu"

    def report(summary):
        if files.quiet:
            return
        for result in summary.results:
            if result.get("status") == "done" and "kernel_size" in result:
                h, w = result["kernel_size"]
                line = result.get("straight_motion")
                motion = f", a straight motion of {line['length']:.1f} px at {line['angle']:.0f} degrees" if line else ""
                stderr(f"{result['input']}: kernel {h}x{w} px, radius {result['kernel_radius']:.1f} px, confidence {result['confidence']:.2f}{motion}")

    run_file_command(ctx, "estimated", files, make_process, 1, report=report)
