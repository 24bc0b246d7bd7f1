"""edgedeblur: remove Gaussian blur and noise from photos with an edge-aware network.

The Python API: ``restore_image(image, model=...)`` and ``load_model(name)``.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: `edgedeblur --help` should not pay for importing torch.
    if name in ("restore_image", "load_model", "RestoreOptions"):
        from .restoring import restore

        return getattr(restore, name)
    raise AttributeError(name)


__all__ = ["RestoreOptions", "__version__", "load_model", "restore_image"]
