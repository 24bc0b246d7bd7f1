"""Speed benchmark: restore throughput of the seed architecture and each shipped model, side by side.

Prints images/s at 32x32 (batched) and MP/s on a 1-megapixel photo (min and median of several
runs), the ratio to the seed, achieved GFLOP/s against a plain fp32 matrix multiply measured in
the same run, and the wall time and peak RSS of restoring a 12-megapixel (4000x3000) JPEG photo
with the CLI in a fresh process (decode + restore + encode; Linux, for the peak RSS). The command
line end to end: start-up (`--help`, `--version`, one small image, against `import torch`) and
a folder of 1,000 32x32 PNGs with each model through `edgedeblur restore DIR -o OUT`.

Usage (from the repository root, after `pip install .`):
    python benchmarks/speed.py [--runs 5] [--skip-12mp] [--runs-12mp 2] [--device cpu] [--cli-only]
    python benchmarks/speed.py --device cuda   # adds the GPU section: 1080p/4K MP/s, end to end, training img/s
    python benchmarks/speed.py --scale [--baseline-src /tmp/baseline/src] [--runs-12mp 2]
        # 12/48/100 MP photos (time, peak RSS), beside another checkout; torchrun against one process
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from edgedeblur_cli.restoring.allocator import MALLOC_ENV_SETTINGS, keep_freed_memory
from edgedeblur_cli.names import DEFAULT_MODEL
from edgedeblur_cli.restoring.restore import RestoreOptions, load_model, restore_tensor
from edgedeblur_cli.weights import load_manifest
from quality import DEFAULT_DATA  # the held-out BSDS500 test photos, beside this script's benchmark of quality


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def matmul_gflops(device: torch.device, runs: int) -> float:
    a = torch.rand(2048, 2048, device=device)
    b = torch.rand(2048, 2048, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = timed(lambda: (a @ b, sync()), runs)
    return 2 * 2048**3 / min(times) / 1e9


def flops_per_pixel(model: torch.nn.Module) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, 64, 64, device=next(model.parameters()).device))
    return counter.get_total_flops() / (64 * 64)


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """Smooth random detail (a cubic upscale of noise), like a camera photo to a JPEG coder."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray((rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8))
    return small.resize((width, height), Image.BICUBIC)


# The child reports its own peak RSS: getrusage(RUSAGE_CHILDREN) would include this process's
# own peak, which a child inherits across fork + exec on Linux.
_CHILD = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'): sys.stderr.write('PEAK_KIB ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "from edgedeblur_cli.cli import main\n"
    "main(prog_name='edgedeblur')\n"
)


def twelve_megapixels(model: str, device: str, glibc_defaults: bool = False, photos: int = 1) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of `edgedeblur restore` on 4000x3000 JPEG photos in a new process.

    ``photos`` > 1 restores a folder of that many (different) photos in one command, to show
    that a batch of big photos stays within one photo's memory.

    The photo is smooth random detail (a cubic upscale of noise) saved at quality 95, like a
    camera's JPEG; the output is a JPEG too. Decode, restore and encode are all timed.
    ``glibc_defaults``: run with malloc as glibc sets it (an empty GLIBC_TUNABLES makes the
    CLI leave its thresholds alone), for the side-by-side with the CLI's pinned thresholds.
    """
    env = dict(os.environ)
    for name in MALLOC_ENV_SETTINGS:
        env.pop(name, None)
    if glibc_defaults:
        env["GLIBC_TUNABLES"] = ""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for seed in range(photos):
            photo_like(4000, 3000, seed).save(folder / f"big{seed}.jpg", quality=95)
        target, output = (folder / "big0.jpg", Path(tmp) / "out.jpg") if photos == 1 else (folder, Path(tmp) / "out")
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, "restore", str(target), "-o", str(output), "--model", model, "--device", device, "-q"],
            check=True,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - started
    peaks = [int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_KIB ")]
    return wall, (peaks[0] / 2**20 if peaks else float("nan"))


def restore_in_child(target: Path, output: Path, model: str, device: str, src: str | None = None, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of `edgedeblur restore TARGET -o OUTPUT` in a new process;
    ``src``: run the package found there instead (another checkout's ``src/``, side by side)."""
    env = dict(os.environ)
    for name in MALLOC_ENV_SETTINGS:
        env.pop(name, None)
    if src is not None:
        env["PYTHONPATH"] = src
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, "restore", str(target), "-o", str(output), "--model", model, "--device", device, "-q", "--overwrite", *extra],
        check=True, stderr=subprocess.PIPE, text=True, env=env,
    )
    wall = time.perf_counter() - started
    peaks = [int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_KIB ")]
    return wall, (peaks[0] / 2**20 if peaks else float("nan"))


BIG_PHOTOS = {"12 MP": (4000, 3000), "48 MP": (8000, 6000), "100 MP": (12000, 8400)}


def big_photos_report(model: str, device: str, runs: int, baseline_src: str | None) -> None:
    """Time and peak RSS of `edgedeblur restore` on 12, 48 and 100 MP JPEGs (JPEG out), this
    checkout and, with ``baseline_src``, another one, alternating in the same run."""
    versions = {"this checkout": None} | ({"baseline": baseline_src} if baseline_src else {})
    print(f"big photos: `edgedeblur restore photo.jpg -o out.jpg --model {model}`, {runs} alternating run(s) each, a new process per run:")
    with tempfile.TemporaryDirectory() as tmp:
        for label, (width, height) in BIG_PHOTOS.items():
            photo = Path(tmp) / f"{width}x{height}.jpg"
            photo_like(width, height, 0).save(photo, quality=95)
            measured: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
            outputs = {}
            for _ in range(runs):
                for name, src in versions.items():
                    outputs[name] = Path(tmp) / f"out-{name.replace(' ', '-')}.jpg"
                    measured[name].append(restore_in_child(photo, outputs[name], model, device, src))
            for name, values in measured.items():
                walls = sorted(wall for wall, _ in values)
                print(f"  {label:>6} ({width}x{height}) {name:<14} {walls[0]:6.1f} s min, {statistics.median(walls):6.1f} s median; "
                      f"peak RSS {max(peak for _, peak in values):.2f} GiB")
            if len(outputs) == 2:
                a, b = (np.asarray(Image.open(path), dtype=np.int16) for path in outputs.values())
                print(f"  {'':>6} outputs differ by at most {np.abs(a - b).max()} (8-bit levels)")
            photo.unlink()


def torchrun_report(model: str, runs: int, photos: int = 12) -> None:
    """A folder of 2 MP photos: one process with every core against two CPU processes under
    torchrun (gloo, a thread each), alternating; the outputs are compared byte for byte."""
    print(f"\na folder of {photos} 2 MP (1632x1224) JPEGs, `edgedeblur restore DIR -o OUT --model {model}`, {runs} alternating run(s):")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for seed in range(photos):
            photo_like(1632, 1224, seed).save(folder / f"p{seed:02d}.jpg", quality=95)
        command = ["restore", str(folder), "--model", model, "--device", "cpu", "-q", "--overwrite"]
        one_thread = dict(os.environ, OMP_NUM_THREADS="1")  # what torchrun gives each of its processes
        variants = {
            f"1 process, {torch.get_num_threads()} threads": ([sys.executable, "-m", "edgedeblur_cli", *command, "-o", f"{tmp}/one"], None),
            "1 process, 1 thread": ([sys.executable, "-m", "edgedeblur_cli", *command, "-o", f"{tmp}/single"], one_thread),
            "2 processes under torchrun": ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                                            "-m", "edgedeblur_cli", *command, "-o", f"{tmp}/two"], None),
        }
        walls: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, (line, env) in variants.items():
                walls[name].append(_wall(line, env))
        for name, values in walls.items():
            values.sort()
            print(f"  {name:<28} {values[0]:6.1f} s min, {statistics.median(values):6.1f} s median ({photos / values[0]:.2f} photos/s best)")
        written = sorted((Path(tmp) / "two").iterdir())
        for reference in ("single", "one"):
            same = sum((Path(tmp) / reference / p.name).read_bytes() == p.read_bytes() for p in written)
            worst = max(int(np.abs(np.asarray(Image.open(p), np.int16) - np.asarray(Image.open(Path(tmp) / reference / p.name), np.int16)).max()) for p in written)
            print(f"  torchrun's {len(written)} files against one process with {'1 thread' if reference == 'single' else 'all threads'}: "
                  f"{same} byte for byte the same, largest difference {worst} levels (JPEG out)")


def real_photo_tiling_error(model: torch.nn.Module, count: int = 4) -> float | None:
    """Worst tiling error over ``count`` degraded BSDS500 test photos, each mirrored 2x2 into
    642x962 so the default 512-pixel tiles meet in a cross; None without the data."""
    from edgedeblur_cli.training.data import list_images, load_photos
    from edgedeblur_cli.degradations.seed import degrade_random

    if not DEFAULT_DATA.is_dir():
        return None
    rng = np.random.default_rng(0)
    worst = 0.0
    for photo in load_photos(list_images(DEFAULT_DATA)[:count]):
        sharp = photo.astype(np.float32) / 255
        sharp = np.concatenate([sharp, sharp[:, ::-1]], 1)
        sharp = np.ascontiguousarray(np.concatenate([sharp, sharp[::-1]], 0))
        degraded, _ = degrade_random(sharp, rng)
        worst = max(worst, tiling_error(model, torch.from_numpy(degraded).permute(2, 0, 1)[None]))
    return worst


def tiling_error(model: torch.nn.Module, photo: torch.Tensor) -> float:
    """Largest |difference| between 512-pixel tiles (the CPU default) and one whole-image call."""
    whole = restore_tensor(model, photo, RestoreOptions(tile=1024), with_edges=False)[0]
    tiled = restore_tensor(model, photo, RestoreOptions(tile=512), with_edges=False)[0]
    return (whole - tiled).abs().max().item()


def gpu_restore_options() -> dict[str, RestoreOptions]:
    """The configurations compared on a GPU: the CPU's tiles, CUDA's default tiles and whole images, fp32 and fp16."""
    return {
        "tile 512 fp32": RestoreOptions(tile=512),
        "tile 2048 fp32": RestoreOptions(tile=2048),  # the default on CUDA
        "tile 2048 fp16": RestoreOptions(tile=2048, half=True),
        "whole fp32": RestoreOptions(tile=4096),
        "whole fp16": RestoreOptions(tile=4096, half=True),
    }


def end_to_end(model, options: RestoreOptions, folder: Path, out: Path, io_threads: int) -> float:
    """Seconds for `edgedeblur restore folder -o out` in this process: decode, restore, encode."""
    from edgedeblur_cli.files.batch import run_jobs
    from edgedeblur_cli.files.jobs import OutputPlan, collect_inputs, plan_jobs
    from edgedeblur_cli.cli.restoring import restore_batch

    jobs = plan_jobs(collect_inputs((str(folder),), False, print), OutputPlan(str(out), "", None, False))
    started = time.perf_counter()
    summary = run_jobs(
        jobs,
        lambda images: restore_batch(model, options, False, False, images),
        overwrite=True,
        quality=95,
        batch_size=options.batch_size,
        note=print,
        error=print,
        io_threads=io_threads,
    )
    assert summary.failed == 0
    return time.perf_counter() - started


def training_images_per_second(name: str, device: torch.device, batch: int, steps: int) -> float:
    """Optimizer steps on degraded 32x32 crops, as `edgedeblur train` runs them (bf16 autocast, clipping)."""
    from edgedeblur_cli.degradations.seed import DegradeConfig, degrade_batch
    from edgedeblur_cli.models import create_model
    from edgedeblur_cli.training.stages import StageLoss, set_trainable
    from edgedeblur_cli.training.train import _autocast

    torch.manual_seed(0)
    model = create_model(name).to(device)
    stage = "deblur" if name == "seed" else "joint"  # the seed's costly stage: DeblurNet with the EdgeNet frozen
    set_trainable(model, stage)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-4)
    loss_module = StageLoss(model, stage, 0.05)
    sharp = torch.rand(batch, 3, 32, 32, device=device)
    sigmas = torch.rand(batch, device=device) * 3 + 1

    def step():
        degraded, _ = degrade_batch(sharp, DegradeConfig(), sigmas=sigmas, noise=torch.randn_like(sharp))
        with _autocast(device):
            loss = loss_module(degraded, sharp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()  # the trainer reads the loss every step too

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.enable_grad():
        for _ in range(10):
            step()
        sync()
        started = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
    return steps * batch / (time.perf_counter() - started)


GPU_SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160)}
TRAIN_BATCHES = (256, 1024)


def gpu_report(names: list[str], device: torch.device, runs: int) -> None:
    """GPU section: MP/s at 1080p and 4K (model alone, then end to end with and without
    overlapped decode/encode) and training images/s."""
    if device.type == "cuda":
        a = torch.rand(8192, 8192, device=device, dtype=torch.bfloat16)
        bf16 = 2 * 8192**3 / min(timed(lambda: (a @ a, torch.cuda.synchronize()), runs)) / 1e12
        print(f"\n== GPU: {torch.cuda.get_device_name(device)}; bf16 matmul 8192^3: {bf16:.0f} TFLOP/s")
        empty_cache = torch.cuda.empty_cache
    else:
        empty_cache = lambda: None  # noqa: E731
    print("restore, model alone (CPU tensor in, CPU tensor out), MP/s min/med:")
    best: dict[str, tuple[float, str]] = {}
    for name in names:
        model = load_model(name, device=device)
        for label, (w, h) in GPU_SIZES.items():
            image = torch.rand(1, 3, h, w)
            for option_name, options in gpu_restore_options().items():
                try:
                    times = timed(lambda: restore_tensor(model, image, options, with_edges=False), runs)
                except RuntimeError as exc:  # e.g. out of memory: report and go on
                    print(f"  {name:<14} {label:<6} {option_name:<18} failed: {exc}")
                    continue
                mps = [w * h / 1e6 / t for t in times]
                print(f"  {name:<14} {label:<6} {option_name:<18} {min(mps):8.1f} / {statistics.median(mps):<8.1f}")
                if max(mps) > best.get(f"{name} {label}", (0.0, ""))[0]:
                    best[f"{name} {label}"] = (max(mps), option_name)
        del model
        empty_cache()
    print("restore end to end (JPEG files in, JPEG files out, best options above), MP/s:")
    with tempfile.TemporaryDirectory() as tmp:
        for label, (w, h) in GPU_SIZES.items():
            folder = Path(tmp) / label
            folder.mkdir()
            count = 24 if label == "1080p" else 8
            for i in range(count):
                photo_like(w, h, i).save(folder / f"{i:03d}.jpg", quality=95)
            for name in names:
                model = load_model(name, device=device)
                options = gpu_restore_options()[best[f"{name} {label}"][1]]
                line = []
                for threads in (0, 4, 8):
                    seconds = min(end_to_end(model, options, folder, Path(tmp) / "out", threads) for _ in range(2))
                    line.append(f"{count * w * h / 1e6 / seconds:6.1f} ({'serial' if threads == 0 else f'{threads} io threads'})")
                print(f"  {name:<14} {label:<6} {best[f'{name} {label}'][1]:<18} " + "  ".join(line))
                del model
                empty_cache()
    print("training, 32x32 crops, bf16 autocast (model steps only; the data loader is measured by `train`), img/s:")
    for name in names:
        rates = [f"{training_images_per_second(name, device, batch, 30):8.0f} (batch {batch})" for batch in TRAIN_BATCHES]
        print(f"  {name:<14} " + "  ".join(rates))


def _wall(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def command_line_report(names: list[str], runs: int, count: int = 1000) -> None:
    """The command a user types, end to end in a fresh process: start-up, one small image, a folder of thumbnails."""
    cli = [sys.executable, "-m", "edgedeblur_cli"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "thumbs"
        folder.mkdir()
        photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(DEFAULT_DATA.glob("*.jpg"))[:50]]
        rng = np.random.default_rng(0)
        for i in range(count):  # 32x32 crops of the held-out test photos
            photo = photos[i % len(photos)] if photos else np.asarray(photo_like(64, 64, i))
            y, x = rng.integers(0, photo.shape[0] - 32), rng.integers(0, photo.shape[1] - 32)
            Image.fromarray(photo[y : y + 32, x : x + 32]).save(folder / f"t{i:04d}.png")
        print(f"\nthe command line, each a fresh process, {runs} alternating runs (s, min / median):")
        timings: dict[str, list[float]] = {}
        cases = [
            ('python -c "import torch"', [sys.executable, "-c", "import torch"]),
            ("edgedeblur --version", cli + ["--version"]),
            ("edgedeblur --help", cli + ["--help"]),
        ]
        for name in names:
            cases.append((f"restore one 32x32 PNG --model {name}", cli + ["restore", str(folder / "t0000.png"), "-o", str(Path(tmp) / "one.png"), "--overwrite", "--model", name, "-q"]))
        for name in names:
            cases.append((f"restore {count} 32x32 PNGs --model {name}", cli + ["restore", str(folder), "-o", str(Path(tmp) / "out"), "--overwrite", "--model", name, "-q"]))
        for _ in range(runs):
            for label, command in cases:
                timings.setdefault(label, []).append(_wall(command))
        for label, walls in timings.items():
            extra = f"  ({count / min(walls):.0f} images/s)" if label.startswith(f"restore {count}") else ""
            print(f"  {label:<48} {min(walls):6.2f} / {statistics.median(walls):6.2f}{extra}")
        folder_best = {name: min(timings[f"restore {count} 32x32 PNGs --model {name}"]) for name in names}
        for name in names[1:]:
            print(f"  {count} thumbnails: {name} is {folder_best[names[0]] / folder_best[name]:.1f}x faster than {names[0]} through the same command (best vs best)")
        torch_start = min(timings['python -c "import torch"'])
        for name in names:
            print(f"  one small image with {name}: {min(timings[f'restore one 32x32 PNG --model {name}']) - torch_start:+.2f} s over importing torch")
        # What no file handling can beat: importing torch, then the network alone on the same pixels.
        print(f"\nthe network alone on {count} 32x32 images in batches of 64 (in this process, as the CLI runs it), {runs} runs (s, min / median):")
        floors = {}
        for name in names:
            network = network_alone(name, count, runs)
            floors[name] = torch_start + min(network)
            over = folder_best[name] - floors[name]
            print(f"  {name:<18} {min(network):6.2f} / {statistics.median(network):6.2f}; import torch + network {floors[name]:5.2f} s, "
                  f"the command {folder_best[name]:5.2f} s ({over:+.2f} s for everything else)")
        for name in names[1:]:
            print(f"  the most any file handling could give {name} over {names[0]} through the command: {floors[names[0]] / floors[name]:.1f}x")


def network_alone(name: str, count: int, runs: int) -> list[float]:
    """Seconds for ``count`` 32x32 images through the network in batches of 64, the CLI's default for thumbnails."""
    keep_freed_memory()  # as the CLI does
    model = load_model(name, device="cpu")
    images = torch.rand(count, 3, 32, 32)
    options = RestoreOptions()
    return timed(lambda: [restore_tensor(model, images[i : i + 64], options) for i in range(0, count, 64)], runs)


def compare_twelve_megapixels(models: list[str], device: str, runs: int) -> None:
    """`edgedeblur restore` of the 12 MP photo with each model, alternating, ``runs`` times each."""
    print(f"12 MP (4000x3000 JPEG) `edgedeblur restore --model MODEL`, {runs} alternating runs each:")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for _ in range(runs):
        for name in models:
            results[name].append(twelve_megapixels(name, device))
    for name, measured in results.items():
        walls = sorted(wall for wall, _ in measured)
        print(f"  {name:<22} {walls[0]:5.1f} s min, {statistics.median(walls):5.1f} s median wall; peak RSS {max(m for _, m in measured):.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-12mp", action="store_true")
    parser.add_argument("--runs-12mp", type=int, default=2, help="runs of the 12 MP photo with each allocator setting")
    parser.add_argument("--cli-only", action="store_true", help="only the command-line section (start-up, a folder of thumbnails)")
    parser.add_argument("--compare-12mp", metavar="MODEL", action="append", help="only the 12 MP photo, these models side by side (repeatable)")
    parser.add_argument("--scale", action="store_true", help="only the scaling section: 12/48/100 MP photos (time, peak RSS) and torchrun")
    parser.add_argument("--baseline-src", help="with --scale: another checkout's src/ to run side by side (e.g. a git worktree of the last release)")
    args = parser.parse_args()
    if args.scale:
        big_photos_report(DEFAULT_MODEL, args.device, args.runs_12mp, args.baseline_src)
        torchrun_report(DEFAULT_MODEL, args.runs_12mp)
        return
    if args.compare_12mp:
        compare_twelve_megapixels(args.compare_12mp, args.device, args.runs_12mp)
        return
    if args.cli_only:
        command_line_report(["seed"] + [n for n in load_manifest() if n != "seed"], args.runs)
        return
    device = torch.device(args.device)
    torch.set_grad_enabled(False)
    pinned = keep_freed_memory()  # as the CLI does
    # The default last: the sections on one model (tiles, profile, 12 MP) are about what `restore` runs.
    names = ["seed"] + [n for n in load_manifest() if n not in ("seed", DEFAULT_MODEL)] + [DEFAULT_MODEL]
    ceiling = matmul_gflops(device, args.runs)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, malloc thresholds pinned: {pinned}")
    print(f"fp32 matmul 2048^3: {ceiling:.1f} GFLOP/s (the ceiling)\n")
    header = f"{'model':<22} {'32x32 img/s (min/med)':>22} {'1MP MP/s (min/med)':>20} {'x seed':>7} {'GFLOP/s':>8} {'% of matmul':>11}"
    print(header)
    print("-" * len(header))
    baseline = None
    for name in names:
        model = load_model(name, device=device)  # what `edgedeblur restore` runs: shipped weights, folded
        per_pixel = flops_per_pixel(model)
        tiny = torch.rand(64, 3, 32, 32)
        photo = torch.rand(1, 3, 1000, 1000)
        options = RestoreOptions()  # the CLI defaults: 512-pixel tiles on a CPU (2048 on CUDA), one per call
        tiny_times = timed(lambda: restore_tensor(model, tiny, options), args.runs)
        photo_times = timed(lambda: restore_tensor(model, photo, options), args.runs)
        ips = [64 / t for t in tiny_times]
        mps = [1.0 / t for t in photo_times]
        best_ips, best_mps = max(ips), max(mps)
        gflops = per_pixel * 1e6 * best_mps / 1e9
        ratio = "" if baseline is None else f"{best_ips / baseline[0]:.1f}/{best_mps / baseline[1]:.1f}"
        baseline = baseline or (best_ips, best_mps)
        print(
            f"{name:<22} {min(ips):>9.0f} / {statistics.median(ips):<9.0f}  {min(mps):>8.3f} / {statistics.median(mps):<8.3f} "
            f"{ratio:>7} {gflops:>8.1f} {100 * gflops / ceiling:>10.0f}%"
        )
    print("(x seed: ratio of the best 32x32 img/s / of the best 1MP MP/s, measured in this run)")
    print(f"seamless: {names[-1]} on the 1 MP photo, default tiles vs whole, max |difference| {tiling_error(model, photo):.1e}")
    real = real_photo_tiling_error(model)
    if real is not None:
        print(f"seamless: {names[-1]} on 4 degraded BSDS500 test photos (642x962), max |difference| {real:.1e}")
    print(f"\ntile size sweep, {names[-1]}, a 2000x1500 photo, one tile per call (MP/s, min/med):")
    wide = torch.rand(1, 3, 1500, 2000)
    for tile in (384, 512, 768, 1024):
        options = RestoreOptions(tile=tile, batch_pixels=tile * tile)
        mps = [3.0 / t for t in timed(lambda: restore_tensor(model, wide, options, with_edges=False), args.runs)]
        print(f"  tile {tile:>4}: {min(mps):.3f} / {statistics.median(mps):.3f}")
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False  # cuDNN's default TF32 convolutions round to 10-bit mantissas
        error = tiling_error(model, photo)
        torch.backends.cudnn.allow_tf32 = True
        print(f"seamless with full fp32 convolutions (TF32 off): max |difference| {error:.1e}")
        gpu_report(names, device, args.runs)
        return
    print(f"\nwhere the time goes, {names[-1]} on one 512x512 tile (torch.profiler, share of CPU time):")
    tile = torch.rand(1, 3, 512, 512).contiguous(memory_format=torch.channels_last)
    model(tile)
    with torch.profiler.profile() as profile:
        model(tile)
    events = sorted(profile.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    for event in events[:6]:
        print(f"  {event.key:<28} {100 * event.self_cpu_time_total / total:5.1f}%")
    command_line_report(names, args.runs)
    if not args.skip_12mp:
        print(f"\n12 MP (4000x3000 JPEG) `edgedeblur restore --model {names[-1]}`, {args.runs_12mp} alternating runs each:")
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.runs_12mp):
            for glibc_defaults in (False, True):
                runs[glibc_defaults].append(twelve_megapixels(names[-1], args.device, glibc_defaults))
        for glibc_defaults, label in ((False, "the CLI (malloc thresholds pinned)"), (True, "glibc's malloc defaults")):
            walls = sorted(wall for wall, _ in runs[glibc_defaults])
            rss = max(peak for _, peak in runs[glibc_defaults])
            print(f"  {label:<36} {walls[0]:5.1f} s min, {statistics.median(walls):5.1f} s median wall; peak RSS {rss:.2f} GiB")
        best = {key: min(wall for wall, _ in value) for key, value in runs.items()}
        print(f"  pinned thresholds: {best[True] / best[False]:.2f}x faster (best vs best)")
        wall, rss = twelve_megapixels(names[-1], args.device, photos=3)
        print(f"  a folder of 3 such photos, one command: {wall:.1f} s wall ({wall / 3:.1f} s per photo), peak RSS {rss:.2f} GiB")


if __name__ == "__main__":
    main()
