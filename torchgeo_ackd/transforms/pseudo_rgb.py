"""Pseudo-RGB: the red, green and blue bands of an MS image in an RGB-like range."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..sensors import RGB, Sensor


class PseudoRGB(nn.Module):
    """Cut the red/green/blue bands out of an MS batch by NAME and scale them.

    The bands are taken by name (B04, B03, B02 for Sentinel-2), divided by the
    sensor scale, then by one high percentile of the image (keeping the colour
    balance) and mapped to the RGB sensor's range (0-255).
    """

    def __init__(
        self,
        sensor: Sensor,
        bands: Sequence[str] | None = None,
        percentile: float = 0.98,
    ) -> None:
        """Initialize a new PseudoRGB instance.

        Args:
            sensor: The MS sensor (for band names and value scale).
            bands: Band names of the input batch in order (default: all the
                sensor's bands in file order).
            percentile: Quantile in (0, 1] of each image's RGB values mapped to
                the top of the output range; 1.0 uses the maximum.
        """
        super().__init__()
        if not 0 < percentile <= 1:
            raise ValueError(f'percentile={percentile}; expected a value in (0, 1]')
        self.bands = tuple(bands) if bands is not None else sensor.bands
        missing = [b for b in sensor.rgb if b not in self.bands]
        if missing:
            raise ValueError(
                f'pseudo-RGB needs the bands {list(sensor.rgb)} of {sensor.name}, '
                f'but {missing} are not among the input bands {list(self.bands)}'
            )
        self.rgb_index: Tensor
        self.register_buffer(
            'rgb_index',
            torch.tensor([self.bands.index(b) for b in sensor.rgb]),
            persistent=False,
        )
        self.scale = sensor.scale
        self.percentile = percentile

    def forward(self, image: Tensor) -> Tensor:
        """Compute pseudo-RGB images.

        Args:
            image: MS batch in stored units, (B, C, H, W).

        Returns:
            (B, 3, H, W) float in [0, 255] (8-bit RGB), channels red, green, blue.
        """
        rgb = image.index_select(1, self.rgb_index) / self.scale
        flat = rgb.flatten(1)
        if self.percentile < 1:
            top = torch.quantile(flat, self.percentile, dim=1)
        else:
            top = flat.amax(dim=1)
        # Guard against black (all-zero) images: their top is 0.
        top = top.clamp_min(1e-6).view(-1, 1, 1, 1)
        return (rgb / top).clamp(0, 1) * RGB.scale
