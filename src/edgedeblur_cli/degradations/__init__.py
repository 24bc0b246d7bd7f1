"""Degradations: the seed study's blur and noise, and the realistic family."""
