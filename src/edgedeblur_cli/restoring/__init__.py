"""Restoring photos of any size with the networks: the Python API, tiling, memory, torchrun ranks."""
