"""Sensor descriptions: band names, centre wavelengths and stored value scale.

The plugin looks every band up by NAME through a :class:`Sensor`, never by position.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Sensor:
    """An imaging sensor as stored on disk.

    Attributes:
        name: Human-readable sensor name.
        bands: Band names in file order.
        wavelengths: Centre wavelength of each band in nanometres, in file order.
        rgb: Names of the red, green and blue bands, in that order.
        scale: Stored value that corresponds to reflectance 1.0 (10000 for
            Sentinel-2 L1C/L2A digital numbers, 255 for 8-bit RGB).
    """

    name: str
    bands: tuple[str, ...]
    wavelengths: tuple[float, ...]
    rgb: tuple[str, str, str]
    scale: float

    def __post_init__(self) -> None:
        """Validate the description."""
        if len(self.bands) != len(self.wavelengths):
            raise ValueError(
                f'Sensor {self.name!r}: {len(self.bands)} band names but '
                f'{len(self.wavelengths)} wavelengths'
            )
        if len(set(self.bands)) != len(self.bands):
            raise ValueError(f'Sensor {self.name!r}: duplicate band names')
        missing = [b for b in self.rgb if b not in self.bands]
        if missing:
            raise ValueError(f'Sensor {self.name!r}: RGB bands {missing} not in bands')
        if self.scale <= 0:
            raise ValueError(f'Sensor {self.name!r}: scale must be > 0')

    @property
    def num_bands(self) -> int:
        """Number of bands."""
        return len(self.bands)

    def band_indices(self, names: Sequence[str]) -> list[int]:
        """Positions of the named bands in this sensor's file order.

        Args:
            names: Band names.

        Returns:
            One index per name, in the order of *names*.

        Raises:
            ValueError: If a name is not a band of this sensor.
        """
        unknown = [n for n in names if n not in self.bands]
        if unknown:
            raise ValueError(
                f'bands {unknown} are not bands of sensor {self.name!r}; '
                f'expected names from {list(self.bands)}'
            )
        return [self.bands.index(n) for n in names]

    @property
    def rgb_indices(self) -> list[int]:
        """Positions of the red, green and blue bands."""
        return self.band_indices(self.rgb)


def reorder_bands(
    image: Tensor, source: Sequence[str], target: Sequence[str], dim: int = -3
) -> Tensor:
    """Reorder (and optionally subset) the bands of an image by name.

    Args:
        image: Image or batch, bands along *dim*, e.g. (C, H, W) or (B, C, H, W).
        source: Band names of *image*, in its current order.
        target: Band names wanted, in the wanted order.
        dim: Band dimension of *image*.

    Returns:
        The image with ``len(target)`` bands along *dim*, in *target* order.

    Raises:
        ValueError: If *image* has not ``len(source)`` bands or a target band is
            not in *source*.
    """
    if image.shape[dim] != len(source):
        raise ValueError(
            f'image has {image.shape[dim]} bands along dim {dim} but '
            f'{len(source)} source band names were given'
        )
    missing = [b for b in target if b not in source]
    if missing:
        raise ValueError(
            f'target bands {missing} are not in the source bands {list(source)}'
        )
    index = torch.tensor([list(source).index(b) for b in target], device=image.device)
    return image.index_select(dim, index)


# Centre wavelengths (nm) of the Sentinel-2A MSI bands.
_S2_WAVELENGTHS = {
    'B01': 443.0, 'B02': 490.0, 'B03': 560.0, 'B04': 665.0, 'B05': 705.0,
    'B06': 740.0, 'B07': 783.0, 'B08': 842.0, 'B8A': 865.0, 'B09': 945.0,
    'B10': 1375.0, 'B11': 1610.0, 'B12': 2190.0,
}  # fmt: skip


def _sentinel2(name: str, bands: Sequence[str]) -> Sensor:
    return Sensor(
        name=name,
        bands=tuple(bands),
        wavelengths=tuple(_S2_WAVELENGTHS[b] for b in bands),
        rgb=('B04', 'B03', 'B02'),
        scale=10000.0,
    )


#: Sentinel-2, 13 bands in EuroSAT file order (B8A stored last).
SENTINEL2_EUROSAT = _sentinel2(
    'Sentinel-2 (EuroSAT order)',
    'B01 B02 B03 B04 B05 B06 B07 B08 B09 B10 B11 B12 B8A'.split(),
)

#: Sentinel-2, 13 bands in the SSL4EO order of TorchGeo's ``SENTINEL2_ALL_*`` weights.
SENTINEL2_SSL4EO = _sentinel2(
    'Sentinel-2 (SSL4EO order)',
    'B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B10 B11 B12'.split(),
)

#: The 10 Sentinel-2 bands at 10 m and 20 m used by S2S-EU and M2S-GL.
SENTINEL2_10BAND = _sentinel2(
    'Sentinel-2 (10 bands)',
    ['B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12'],
)

#: Tiangong-2 Wide-band Imaging Spectrometer, 14 VNIR bands (approximate wavelengths).
TIANGONG2 = Sensor(
    name='Tiangong-2 WIS (VNIR)',
    bands=tuple(f'B{i:02d}' for i in range(1, 15)),
    wavelengths=(
        413.0, 443.0, 490.0, 510.0, 565.0, 620.0, 665.0, 678.0, 708.0, 753.0, 780.0,
        865.0, 900.0, 940.0,
    ),
    rgb=('B07', 'B05', 'B03'),
    scale=10000.0,
)  # fmt: skip

#: Plain 8-bit RGB (aerial / very-high-resolution imagery).
RGB = Sensor(
    name='RGB',
    bands=('R', 'G', 'B'),
    wavelengths=(650.0, 550.0, 470.0),
    rgb=('R', 'G', 'B'),
    scale=255.0,
)
