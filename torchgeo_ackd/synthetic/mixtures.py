"""Scenes that mix two land covers: image-specific knowledge for the teacher to pass on.

A mixed scene covers a share ``s`` (uniform in :data:`DOMINANT_SHARE`) of its area
with a dominant class ``A``, the rest with a class ``B != A``, split along a smooth
random field; an annotator naming one land cover labels it ``A`` with probability
``s``, else ``B``. Files of class folder ``L`` are drawn given the label ``L``, MS and
RGB independently; ``A``, ``B``, ``s`` are never written. See ``docs/synthetic.md``.
"""

from typing import NamedTuple

import numpy as np

from .layouts import SYNTHETIC_CLASSES, class_abundances, smooth_field

#: Range of the dominant land cover's share of a mixed scene (uniform).
DOMINANT_SHARE = (0.55, 0.8)
#: Correlation length of the boundary between the two land covers, in metres.
BOUNDARY_LENGTH_M = 120.0


class Mixture(NamedTuple):
    """The land covers of one scene (never written to disk).

    Attributes:
        dominant: Class covering the larger share (the label of a pure scene).
        second: The other class, or None for a pure scene.
        share: Share of the scene's area covered by *dominant* (1.0 if pure).
    """

    dominant: str
    second: str | None
    share: float


def _annotated_mixture(label: str, rng: np.random.Generator) -> Mixture:
    """A mixture drawn conditionally on an annotator naming it *label*."""
    while True:
        dominant = SYNTHETIC_CLASSES[int(rng.integers(len(SYNTHETIC_CLASSES)))]
        others = [c for c in SYNTHETIC_CLASSES if c != dominant]
        second = others[int(rng.integers(len(others)))]
        share = float(rng.uniform(*DOMINANT_SHARE))
        named = dominant if rng.random() < share else second
        if named == label:
            return Mixture(dominant, second, share)


def scene_abundances(
    class_name: str,
    rng: np.random.Generator,
    size: int,
    pixel_m: float,
    mixed: bool,
) -> tuple[np.ndarray, Mixture]:
    """Abundance maps of one scene of a class, pure or mixed.

    Args:
        class_name: The scene's label (its class folder).
        rng: Random generator (a pure scene draws what ``class_abundances`` draws).
        size: Side in pixels.
        pixel_m: Ground metres per pixel divided by the region's feature scale.
        mixed: Mix in a second land cover (see the module docstring).

    Returns:
        Abundances in [0, 1], shape (size, size, E), and the scene's :class:`Mixture`.
    """
    if not mixed:
        pure = Mixture(class_name, None, 1.0)
        return class_abundances(class_name, rng, size, pixel_m), pure
    mixture = _annotated_mixture(class_name, rng)
    dominant = class_abundances(mixture.dominant, rng, size, pixel_m)
    assert mixture.second is not None
    minor = class_abundances(mixture.second, rng, size, pixel_m)
    field = smooth_field(rng, size, BOUNDARY_LENGTH_M / pixel_m)
    region = field >= np.quantile(field, 1.0 - mixture.share)
    return np.where(region[..., None], dominant, minor), mixture
