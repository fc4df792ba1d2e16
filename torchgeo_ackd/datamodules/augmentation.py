"""What a DataModule's training augmentation does, checked when it is configured."""

from dataclasses import dataclass

import kornia.augmentation as K
from torch import Tensor

from ..transforms import build_augmentation


@dataclass(frozen=True)
class Augmentation:
    """The training augmentation of each modality (flips and rotations always).

    Attributes:
        ms: Augment MS training images.
        rgb: Augment RGB training images.
        crop_scale: Area range ``(low, high)`` of the random resized crop,
            ``0 < low <= high <= 1``; ``(1.0, 1.0)``: no crop.
        spectral_jitter: Amplitude of the MS spectral jitter (0: off).
        band_dropout: MS band dropout probability (0: off).
    """

    ms: bool
    rgb: bool
    crop_scale: tuple[float, float]
    spectral_jitter: float
    band_dropout: float

    def __post_init__(self) -> None:
        """Refuse values out of range, naming the option.

        Raises:
            ValueError: If an option is out of its range.
        """
        low, high = (float(v) for v in self.crop_scale)
        if not 0 < low <= high <= 1:
            raise ValueError(
                f'crop_scale={tuple(self.crop_scale)!r}; expected (low, high) with '
                '0 < low <= high <= 1 (area fractions of the random resized crop)'
            )
        object.__setattr__(self, 'crop_scale', (low, high))
        if not self.spectral_jitter >= 0:
            raise ValueError(
                f'spectral_jitter must be >= 0, got {self.spectral_jitter!r}'
            )
        if not 0 <= self.band_dropout < 1:
            raise ValueError(
                f'band_dropout must be in [0, 1), got {self.band_dropout!r}'
            )

    def pipeline(
        self,
        modality: str,
        train: bool,
        size: tuple[int, int],
        mean: Tensor,
        std: Tensor,
    ) -> K.AugmentationSequential:
        """The normalisation (+ augmentation) pipeline of a modality.

        Args:
            modality: ``'ms'``, ``'rgb'`` or ``'pseudo_rgb'`` (augmented like MS
                images, without the spectral augmentations).
            train: The training pipeline (augmented where enabled).
            size: (H, W) the random resized crop returns.
            mean: Per-band mean of the normalisation, (C,).
            std: Per-band standard deviation of the normalisation, (C,).

        Returns:
            The kornia pipeline.
        """
        if not train:
            return build_augmentation(mean, std, train=False)
        is_ms = modality == 'ms'
        return build_augmentation(
            mean,
            std,
            size=size,
            train=self.rgb if modality == 'rgb' else self.ms,
            crop_scale=self.crop_scale,
            spectral_jitter=self.spectral_jitter if is_ms else 0.0,
            band_dropout=self.band_dropout if is_ms else 0.0,
        )
