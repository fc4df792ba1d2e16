"""Kornia augmentation pipelines, one per modality, run on the batch."""

import kornia.augmentation as K
from torch import Tensor

from .band_dropout import BandDropout
from .spectral_jitter import SpectralJitter


def build_augmentation(
    mean: Tensor,
    std: Tensor,
    size: int | tuple[int, int] | None = None,
    train: bool = True,
    crop_scale: tuple[float, float] = (0.8, 1.0),
    spectral_jitter: float = 0.0,
    band_dropout: float = 0.0,
) -> K.AugmentationSequential:
    """Build the normalisation (+ augmentation) pipeline of one modality.

    The pipeline normalises per band, then (if *train*) applies flips, random
    90-degree rotations, a random resized crop back to *size*, and optionally a
    spectral jitter and band dropout; both work for any band count.

    Args:
        mean: Per-band mean in stored units, shape (C,).
        std: Per-band standard deviation in stored units, shape (C,).
        size: Output side length, or (height, width), of the random resized
            crop (``None``: no crop).
        train: Whether to add the random augmentations.
        crop_scale: Area range of the random resized crop.
        spectral_jitter: Gain/offset amplitude of :class:`SpectralJitter`
            (0 disables it).
        band_dropout: Per-band drop probability of :class:`BandDropout`
            (0 disables it).

    Returns:
        A pipeline mapping a (B, C, H, W) batch to a (B, C, H', W') batch.
    """
    if mean.shape != std.shape or mean.ndim != 1:
        raise ValueError(
            f'mean and std must be 1-D and of equal length, got {tuple(mean.shape)} '
            f'and {tuple(std.shape)}'
        )
    augs: list[K.base._AugmentationBase] = [K.Normalize(mean=mean, std=std)]
    if train:
        augs += [
            K.RandomHorizontalFlip(),
            K.RandomVerticalFlip(),
            K.RandomRotation90(times=(0, 3), p=1.0),
        ]
        if size is not None:
            shape = (size, size) if isinstance(size, int) else (size[0], size[1])
            augs.append(K.RandomResizedCrop(shape, scale=crop_scale, p=1.0))
        if spectral_jitter > 0:
            augs.append(SpectralJitter(gain=spectral_jitter, offset=spectral_jitter))
        if band_dropout > 0:
            augs.append(BandDropout(drop_prob=band_dropout))
    return K.AugmentationSequential(*augs, data_keys=['input'])
