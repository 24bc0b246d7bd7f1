"""The ``edgedeblur`` command line: thin click commands over the library modules.

``app`` holds the command group and the console entry point; ``common`` what the commands
share (messages, options, running a command over files); ``restoring`` (restore, edges),
``kernels`` (kernel, and restore's kernel options), ``degrading`` (degrade) and ``training`` (train, evaluate) the commands themselves.

stdout carries only image data or ``--json`` results; notes, errors and progress go to stderr.
Exit status: 0 all done, 1 some input failed (the rest are still done), 2 usage error.
Nothing here imports torch or numpy at module level: `--help`, `--version` and usage errors
answer in a fraction of a second; each command imports what it needs when it runs.
"""

from . import degrading, kernels, restoring, training  # noqa: F401  (each registers its commands on ``main``)
from .app import main, run

__all__ = ["main", "run"]
