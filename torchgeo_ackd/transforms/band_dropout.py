"""Random band dropout that works for any band count."""

from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor


class BandDropout(IntensityAugmentationBase2D):
    """Zero out random bands of a sample, always keeping at least one.

    Apply it after normalisation, where 0 is the band mean, so a dropped band
    carries no information rather than an extreme value.
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
        """Draw a keep-mask of shape (B, C) with at least one kept band per row."""
        b, c = batch_shape[0], batch_shape[1]
        keep = torch.rand(b, c) >= self.drop_prob
        # Rows that lost every band keep one random band.
        rescue = torch.randint(c, (b,))
        empty = ~keep.any(dim=1)
        keep[empty, rescue[empty]] = True
        return {'keep': keep}

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Apply the dropout to (B, C, H, W) input."""
        keep = params['keep'].to(device=input.device, dtype=input.dtype)
        return input * keep[..., None, None]
