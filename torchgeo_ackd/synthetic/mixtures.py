"""Scenes that mix two land covers: image-specific knowledge for the teacher to pass on.

A mixed scene covers a random share ``s`` of its area with the layout of a
dominant land cover ``A`` and the rest with the layout of a second class
``B != A``; the boundary between the two follows a smooth random field. ``s``
is uniform in :data:`DOMINANT_SHARE`, so ``B`` covers 20-45 % of the scene.

A mixed scene's label is what an annotator who names one land cover per
scene writes: ``A`` with probability ``s``, ``B`` with probability ``1 - s``
(``A`` uniform over the classes, ``B`` uniform over the others). A third of
the labels (on average ``1 - E[s] = 0.325``) then name the minor land cover,
in the MS archive and the RGB set alike, and the best any model can do is to
predict ``A`` (the Bayes rate is ``E[s] = 67.5 %``). A teacher trained on the
large MS archive learns, from many noisy labels, the probability of each label
given a scene's composition; its soft label for a scene *of the same
composition* as a student's tells the student which of its few noisy labels
to doubt. A teacher image of the same label drawn at random (vanilla KD) has
another composition, and in a third of cases another dominant land cover; a
semantically similar one (SemBridge's matching) tends to have the same. This
is the mechanism the method relies on for real archives, whose scene labels
are single names for mixed scenes.

Each file of class folder ``L`` is a scene drawn conditionally on its label
being ``L`` (by rejection: mixtures are drawn until the label is ``L``;
on average ten draws of three numbers). Nothing of ``A``, ``B`` or ``s`` is
written to disk, and MS and RGB scenes are drawn independently (no pairs).

The default benchmark is ``mixed=True``: the mechanism that knowledge
distillation through semantically similar pairs can pass on. ``mixed=False``
gives pure scenes, the control under which no method should gain.
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
        rng: Random generator (a pure scene draws exactly what
            :func:`~torchgeo_ackd.synthetic.layouts.class_abundances` draws).
        size: Side in pixels.
        pixel_m: Ground metres per pixel divided by the region's feature scale.
        mixed: Mix in a second land cover (see the module docstring).

    Returns:
        Abundances in [0, 1] summing to at most 1 per pixel, shape
        (size, size, E), and the scene's :class:`Mixture`.
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
