"""Names the command line shows before it imports torch.

``tests/test_models.py`` keeps ``ARCHITECTURES`` equal to the registry in ``models/`` and
``PUBLISHED`` equal to ``weights/manifest.json``; ``tests/test_degrade_real.py`` keeps
``DEGRADATIONS`` equal to the seed's plus ``degradations.realistic.PRESETS``.
"""

# Registered architectures (``create_model(name)``), in the registry's order.
ARCHITECTURES = ("edgedeblur-s", "edgedeblur-s-noedge", "agreement-pair", "edgedeblur-prior", "seed", "seed-edgenet", "unet", "edge-discriminator")
# Published weights (``load_model(name)``): what `restore`, `edges` and `evaluate` load by name.
PUBLISHED = ("edgedeblur-s", "seed", "edgedeblur-blind", "edgedeblur-denoise", "edgedeblur-auto", "edgedeblur-prior")
# The weights `restore` and `edges` use unless told otherwise.
DEFAULT_MODEL = "edgedeblur-auto"
# The architecture `train` builds unless told otherwise.
DEFAULT_ARCHITECTURE = "edgedeblur-s"
# Degradations `degrade --preset`, `train --degradation` and `evaluate --degradation` know: the seed
# study's; the realistic family; its noise and JPEG without blur.
DEGRADATIONS = ("seed", "real", "real-noise")
