"""Per-band gain and offset jitter that works for any band count."""

from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor


class SpectralJitter(IntensityAugmentationBase2D):
    """Multiply each band by a random gain and add a random offset.

    Models small radiometric differences between acquisitions (calibration,
    atmosphere) per band, for any number of bands. Apply it after
    normalisation: the offset is in units of the band's standard deviation.
    """

    def __init__(
        self,
        gain: float = 0.05,
        offset: float = 0.05,
        p: float = 0.5,
        same_on_batch: bool = False,
    ) -> None:
        """Initialize a new SpectralJitter instance.

        Args:
            gain: Gains are drawn from U(1 - gain, 1 + gain) per sample and band.
            offset: Offsets are drawn from U(-offset, offset) per sample and band.
            p: Probability of applying the jitter to a sample.
            same_on_batch: Use the same draw for the whole batch.
        """
        super().__init__(p=p, same_on_batch=same_on_batch)
        if gain < 0 or offset < 0:
            raise ValueError('gain and offset must be >= 0')
        self.gain = gain
        self.offset = offset

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        """Draw gains and offsets of shape (B, C)."""
        b, c = batch_shape[0], batch_shape[1]
        n = 1 if self.same_on_batch else b
        u = torch.rand(2, n, c)
        gain = 1 + self.gain * (2 * u[0] - 1)
        offset = self.offset * (2 * u[1] - 1)
        return {'gain': gain.expand(b, c), 'offset': offset.expand(b, c)}

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Apply the jitter to (B, C, H, W) input."""
        gain = params['gain'].to(input)[..., None, None]
        offset = params['offset'].to(input)[..., None, None]
        return input * gain + offset
