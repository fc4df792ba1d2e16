"""Transforms: pseudo-RGB and band-count-agnostic kornia augmentations."""

from .augmentation import build_augmentation
from .band_dropout import BandDropout
from .pseudo_rgb import PseudoRGB
from .spectral_jitter import SpectralJitter

__all__ = ('BandDropout', 'PseudoRGB', 'SpectralJitter', 'build_augmentation')
