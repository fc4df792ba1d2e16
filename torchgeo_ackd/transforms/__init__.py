"""Transforms: pseudo-RGB and band-count-agnostic kornia augmentations."""

from .augmentation import BandDropout, SpectralJitter, build_augmentation
from .pseudo_rgb import PseudoRGB

__all__ = ('BandDropout', 'PseudoRGB', 'SpectralJitter', 'build_augmentation')
