"""What the command line imports: `--help`, `--version` and usage errors must not load torch,
and restoring must not load training, evaluation or plotting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from edgedeblur_cli import names
from edgedeblur_cli.models import list_models
from edgedeblur_cli.weights import load_manifest, shipped_weights_dir

HEAVY = ("torch", "numpy", "PIL", "cv2")
TRAINING = ("edgedeblur_cli.training.train", "edgedeblur_cli.training.data", "edgedeblur_cli.training.evaluate", "edgedeblur_cli.degradations.seed",
            "edgedeblur_cli.degradations.realistic", "kornia", "torchmetrics", "matplotlib", "deepinv")


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (which may exit)."""
    probe = f"""
import atexit, json, sys
atexit.register(lambda: print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr))
{code}
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    line = next(l for l in result.stderr.splitlines() if l.startswith("MODULES="))
    return set(json.loads(line[len("MODULES="):]))


def _cli(*args: str) -> str:
    return f"from edgedeblur_cli.cli import main\nmain({list(args)!r})"


def test_help_version_and_usage_errors_do_not_import_torch():
    for args in (["--help"], ["--version"], ["restore", "--help"], ["train", "--help"], ["restore", "--tile", "1", "x.png"]):
        loaded = _modules_after(_cli(*args))
        assert not loaded & set(HEAVY), (args, loaded & set(HEAVY))


def test_restoring_imports_nothing_of_training(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    loaded = _modules_after(_cli("restore", str(tmp_path / "a.png"), "--model", "edgedeblur-s", "--device", "cpu", "-q"))
    assert "torch" in loaded and (tmp_path / "a_restored.png").is_file()  # it did restore
    training = {m for m in loaded if m.startswith("edgedeblur_cli.training")} | (loaded & set(TRAINING))
    assert not training, training
    # The shipped copy is the pinned Hub revision's bytes: no Hub client, no network at start.
    assert "huggingface_hub" not in loaded


def test_the_names_the_cli_shows_match_the_registry_and_manifest():
    assert list(names.ARCHITECTURES) == list_models()
    assert list(names.PUBLISHED) == list(load_manifest())
    assert names.DEFAULT_MODEL in names.PUBLISHED and names.DEFAULT_ARCHITECTURE in names.ARCHITECTURES
    manifest = json.loads((shipped_weights_dir() / "manifest.json").read_text())
    assert names.DEFAULT_MODEL in manifest["models"]


def test_the_quick_exit_keeps_unflushed_output_and_the_exit_code():
    """`run` ends the process without Python's teardown: what a command left in stdout's buffer still arrives."""
    probe = (
        "import sys, torch\n"
        "from edgedeblur_cli.cli import app\n"
        "def command():\n"
        "    sys.stdout.write('unflushed result')\n"
        "    sys.exit(3)\n"
        "app.main = command\n"
        "app.run()\n"
        "print('not reached')\n"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as most users run it
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=buffered)
    assert result.returncode == 3 and result.stdout == "unflushed result", (result.returncode, result.stdout, result.stderr)


COMMANDS = ("restore", "edges", "degrade", "kernel", "train", "evaluate")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_help_fits_one_screen_and_names_every_option(command):
    """--help fits 80x40; every option is on it or named under "More options", and --help-all shows them in full."""
    from click.testing import CliRunner

    from edgedeblur_cli.cli import main

    runner = CliRunner()
    short = runner.invoke(main, [command, "--help"], terminal_width=80).output
    lines = short.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 80, short
    full = runner.invoke(main, [command, "--help-all"], terminal_width=80).output
    for option in main.commands[command].params:
        if getattr(option, "opts", None) and option.param_type_name == "option":
            name = max(option.opts, key=len)
            assert name in short and name in full, name
    assert len(full.splitlines()) > len(lines)
