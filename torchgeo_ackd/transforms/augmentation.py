"""Batch augmentations for any band count, and the kornia pipeline of a modality."""

from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor


class _PerBand(K.IntensityAugmentationBase2D):
    """Multiply each band by ``params['gain']`` (B, C), add ``params['offset']``."""

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Apply the per-band gain (and offset, if drawn) to (B, C, H, W) input."""
        gain = params['gain'].to(input)[..., None, None]
        if 'offset' not in params:
            return input * gain
        return input * gain + params['offset'].to(input)[..., None, None]


class SpectralJitter(_PerBand):
    """Multiply each band by a random gain and add a random offset.

    Models small per-band radiometric differences between acquisitions. Apply it
    after normalisation: the offset is in units of the band's standard deviation.
    """

    def __init__(
        self,
        gain: float = 0.05,
        offset: float = 0.05,
        p: float = 0.5,
    ) -> None:
        """Initialize a new SpectralJitter instance.

        Args:
            gain: Gains are drawn from U(1 - gain, 1 + gain) per sample and band.
            offset: Offsets are drawn from U(-offset, offset) per sample and band.
            p: Probability of applying the jitter to a sample.
        """
        super().__init__(p=p)
        if gain < 0 or offset < 0:
            raise ValueError('gain and offset must be >= 0')
        self.gain = gain
        self.offset = offset

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        """Draw gains and offsets of shape (B, C)."""
        u = torch.rand(2, batch_shape[0], batch_shape[1])
        return {
            'gain': 1 + self.gain * (2 * u[0] - 1),
            'offset': self.offset * (2 * u[1] - 1),
        }


class BandDropout(_PerBand):
    """Zero out random bands of a sample, always keeping at least one.

    Apply it after normalisation, where 0 is the band mean.
    """

    def __init__(self, drop_prob: float = 0.1, p: float = 0.5) -> None:
        """Initialize a new BandDropout instance.

        Args:
            drop_prob: Probability that a band of a selected sample is dropped.
            p: Probability of applying the dropout to a sample.
        """
        super().__init__(p=p)
        if not 0 <= drop_prob < 1:
            raise ValueError(f'drop_prob={drop_prob}; expected a value in [0, 1)')
        self.drop_prob = drop_prob

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        """Draw a keep-mask (the gain, 0 or 1) of shape (B, C), one band kept per row."""
        b, c = batch_shape[0], batch_shape[1]
        keep = torch.rand(b, c) >= self.drop_prob
        rescue = torch.randint(c, (b,))
        empty = ~keep.any(dim=1)
        keep[empty, rescue[empty]] = True
        return {'gain': keep}


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

    Normalises per band, then (if *train*) applies flips, random 90-degree
    rotations, a random resized crop to *size*, and optionally a spectral jitter
    and band dropout.

    Args:
        mean: Per-band mean in stored units, shape (C,).
        std: Per-band standard deviation in stored units, shape (C,).
        size: Side, or (height, width), of the random resized crop (``None``: no crop).
        train: Whether to add the random augmentations.
        crop_scale: Area range of the random resized crop.
        spectral_jitter: Gain/offset amplitude of :class:`SpectralJitter` (0: off).
        band_dropout: Per-band drop probability of :class:`BandDropout` (0: off).

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
