"""Scenes that mix two land covers: image-specific knowledge for the teacher to pass on.

A scene of class ``A`` covers a random share ``s`` of its area with ``A``'s
layout (the dominant land cover, the label) and the rest with the layout of a
second class ``B`` drawn uniformly from the other classes; the boundary
between the two follows a smooth random field. ``s`` is uniform in
:data:`DOMINANT_SHARE`, so ``B`` covers 20-45 % of the scene.

Why: a teacher's soft label tells a student more than its hard label only
through the other classes' probabilities. In pure scenes those carry little
about the particular image; in a mixed scene they say which second land cover
it holds and how much. That is knowledge about one image, and it fits a
student image only when both hold the same second land cover: a teacher
image of the same class drawn at random (vanilla KD) has another ``B`` eight
times in nine, while a semantically similar one (SemBridge's matching) can
have the same. ``B`` is visible in RGB except where it is the RGB twin of ``A``
(e.g. annual and stressed crop, which differ in NIR/SWIR only).

Nothing of ``B`` or ``s`` is written to disk: labels are the dominant class,
and MS and RGB scenes are drawn independently (no pairs). ``mixed=False``
gives pure scenes, the control under which no method should gain.
"""

import numpy as np

from .layouts import SYNTHETIC_CLASSES, class_abundances, smooth_field

#: Range of the dominant land cover's share of a mixed scene (uniform).
DOMINANT_SHARE = (0.55, 0.8)
#: Correlation length of the boundary between the two land covers, in metres.
BOUNDARY_LENGTH_M = 120.0


def scene_abundances(
    class_name: str,
    rng: np.random.Generator,
    size: int,
    pixel_m: float,
    mixed: bool,
) -> np.ndarray:
    """Abundance maps of one scene of a class, pure or mixed.

    Args:
        class_name: The scene's class (its dominant land cover when mixed).
        rng: Random generator (a pure scene draws exactly what
            :func:`~torchgeo_ackd.synthetic.layouts.class_abundances` draws).
        size: Side in pixels.
        pixel_m: Ground metres per pixel divided by the region's feature scale.
        mixed: Mix in a second land cover (see the module docstring).

    Returns:
        Abundances in [0, 1] summing to at most 1 per pixel, shape
        (size, size, E).
    """
    dominant = class_abundances(class_name, rng, size, pixel_m)
    if not mixed:
        return dominant
    others = [c for c in SYNTHETIC_CLASSES if c != class_name]
    second = others[int(rng.integers(len(others)))]
    share = rng.uniform(*DOMINANT_SHARE)
    minor = class_abundances(second, rng, size, pixel_m)
    field = smooth_field(rng, size, BOUNDARY_LENGTH_M / pixel_m)
    region = field >= np.quantile(field, 1.0 - share)
    return np.where(region[..., None], dominant, minor)
