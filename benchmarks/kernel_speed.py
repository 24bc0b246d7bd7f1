"""Speed and memory of the kernel path on a 12 MP photo, through the command line as a user runs it.

Makes a 12 MP photo (a held-out test photo enlarged to 4000x3000), a copy blurred by a 25 px
motion + noise 0.01, and a 51 px kernel, then times each command in its own process (wall
time and peak RSS of the child), side by side in one run:

- ``edgedeblur kernel`` (estimation alone) on the 12 MP photo and on a 481x321 one;
- ``restore --estimate-kernel`` on the shaken photo (the kernel route if the rule trusts it)
  and on the sharp photo (estimation + the networks), and the default on the sharp photo
  (the networks alone, no estimation);
- ``restore --kernel`` with the 51 px kernel.

``seconds`` is the median of three runs for the short ``kernel`` commands (one run for the
others); ``first`` is the first of them, which may pay for a cold page cache.

``--beside OTHER/src`` times only ``restore --kernel`` (51 px), with that checkout's code and
with this one, alternately, ``--rounds`` times; ``--precision float32`` (or ``bfloat16``) makes
the prior run so in both, as on a CPU without (or with) native bfloat16.

    python benchmarks/kernel_speed.py [--work /tmp/kernel-speed]
    python benchmarks/kernel_speed.py --beside /tmp/before/src --rounds 2 [--precision float32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from edgedeblur_cli.deconvolution.kernels import motion_kernel

from realworld import DEFAULT_DATA


def run(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS of this child in GiB, stdout) of one command in a fresh process."""
    script = (
        "import resource, subprocess, sys, time, json; t = time.monotonic(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(json.dumps([time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode, p.stdout, p.stderr[-400:]]))"
    )
    out = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True, check=True).stdout
    seconds, rss_kb, code, stdout, stderr = json.loads(out)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}): {stderr}")
    return seconds, rss_kb / 2**20, stdout


# The command line, with the prior's precision forced when asked (argv: precision or "", then edgedeblur's arguments).
CLI_WITH_PRECISION = (
    "import sys; from dataclasses import replace; import edgedeblur_cli.deconvolution.route as route; "
    "precision = sys.argv.pop(1); schedule_for = route.schedule_for\n"
    "if precision: route.schedule_for = lambda *a, **k: replace(schedule_for(*a, **k), precision=precision)\n"
    "sys.argv[0] = 'edgedeblur'; from edgedeblur_cli.cli import main; main()"
)


def beside(work: Path, other_src: Path, rounds: int, precision: str) -> None:
    """``restore --kernel`` (51 px) on the 12 MP photo with ``other_src``'s code and this checkout's, alternately."""
    this_src = Path(__file__).resolve().parents[1] / "src"
    print(f"restore --kernel (51 px), shaken 12 MP; prior precision: {precision or 'as the CPU has it'}")
    print(f"{'code':<44} {'seconds':>8} {'peak GiB':>9}")
    for _ in range(rounds):
        for label, src in ((f"beside ({other_src})", other_src), ("this checkout", this_src)):
            os.environ["PYTHONPATH"] = str(src)
            command = [sys.executable, "-c", CLI_WITH_PRECISION, precision, "restore", str(work / "shaken12.jpg"), "-o", str(work / "out" / "beside.jpg"),
                       "--overwrite", "--kernel", str(work / "k51.npy")]
            seconds, gib, _ = run(command)
            print(f"{label[-44:]:<44} {seconds:8.1f} {gib:9.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/kernel-speed"))
    parser.add_argument("--beside", type=Path, help="another checkout's src/: time restore --kernel with it and with this one, alternately")
    parser.add_argument("--rounds", type=int, default=1, help="with --beside: how many times each")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="", help="with --beside: the prior's precision in both")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    source = sorted(DEFAULT_DATA.glob("*.jpg"))[0]
    small = Image.open(source).convert("RGB")
    big = small.resize((4000, 3000), Image.BICUBIC)
    big.save(work / "sharp12.jpg", quality=95)
    small.save(work / "small.png")
    import cv2

    pixels = np.asarray(big, dtype=np.float32) / 255
    kernel = motion_kernel(25, 30).astype(np.float32)
    shaken = cv2.filter2D(pixels, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT_101)
    shaken += 0.01 * np.random.default_rng(0).standard_normal(shaken.shape).astype(np.float32)
    Image.fromarray(np.round(np.clip(shaken, 0, 1) * 255).astype(np.uint8)).save(work / "shaken12.jpg", quality=95)
    yy, xx = np.mgrid[-25:26, -25:26]
    np.save(work / "k51.npy", np.exp(-(xx**2 + (yy / 3) ** 2) / 200.0) * (np.abs(yy) < 26))  # a 51x51 kernel
    if args.beside:
        return beside(work, args.beside, args.rounds, args.precision)
    out = str(work / "out")
    cases = [
        ("kernel: estimation on 12 MP", ["edgedeblur", "kernel", str(work / "shaken12.jpg"), "-o", out + "/k.png", "--overwrite", "--json"]),
        ("kernel: estimation on 481x321", ["edgedeblur", "kernel", str(work / "small.png"), "-o", out + "/ks.png", "--overwrite", "--json"]),
        ("restore --estimate-kernel, shaken 12 MP", ["edgedeblur", "restore", str(work / "shaken12.jpg"), "-o", out + "/a.jpg", "--overwrite", "--json", "--estimate-kernel"]),
        ("restore --estimate-kernel, sharp 12 MP", ["edgedeblur", "restore", str(work / "sharp12.jpg"), "-o", out + "/b.jpg", "--overwrite", "--json", "--estimate-kernel"]),
        ("restore (default: networks), sharp 12 MP", ["edgedeblur", "restore", str(work / "sharp12.jpg"), "-o", out + "/c.jpg", "--overwrite"]),
        ("restore --kernel (51 px), shaken 12 MP", ["edgedeblur", "restore", str(work / "shaken12.jpg"), "-o", out + "/d.jpg", "--overwrite", "--kernel", str(work / "k51.npy")]),
    ]
    print(f"{'command':<44} {'seconds':>8} {'first':>6} {'peak GiB':>9}  route")
    for label, command in cases:
        # The short commands run three times: the first after a while pays the disk reads of
        # torch's libraries (a cold page cache), the median is what a user running it again sees.
        runs = [run(command) for _ in range(3 if label.startswith("kernel") else 1)]
        seconds, gib, stdout = sorted(runs)[len(runs) // 2]
        first = runs[0][0]
        route = ""
        if "--json" in command:
            result = json.loads(stdout)["results"][0]
            route = result.get("route", "") + (f", radius {result['kernel_radius']}" if "kernel_radius" in result else "")
        print(f"{label:<44} {seconds:8.1f} {first:6.1f} {gib:9.2f}  {route}", flush=True)


if __name__ == "__main__":
    main()
