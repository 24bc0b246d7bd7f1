"""The CLI pins glibc's malloc thresholds, unless the user tunes malloc themselves."""

import os
import platform
import subprocess
import sys

import pytest

from edgedeblur_cli.restoring.allocator import MALLOC_ENV_SETTINGS

CHECK = "from edgedeblur_cli.restoring.allocator import keep_freed_memory; print(keep_freed_memory())"


def _run(extra_env: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV_SETTINGS}
    env.update(extra_env)
    # A fresh process: mallopt changes the process it runs in for good.
    return subprocess.run([sys.executable, "-c", CHECK], env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_are_pinned_on_glibc():
    assert _run({}) == "True"


@pytest.mark.parametrize("name", MALLOC_ENV_SETTINGS)
def test_users_malloc_settings_win(name):
    assert _run({name: "131072" if name != "GLIBC_TUNABLES" else ""}) == "False"
