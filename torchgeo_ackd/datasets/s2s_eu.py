"""S2S-EU: Sentinel-2 over Europe (teacher) to unpaired RGB (student)."""

from typing import ClassVar

from ..sensors import SENTINEL2_10BAND, SENTINEL2_EUROSAT, Sensor
from .ackd import ACKDDataset


class S2SEU(ACKDDataset):
    """The S2S-EU subset of the ACKD benchmark (Wei et al., AAAI 2026).

    MS side: Sentinel-2 patches in EuroSAT's classes and file layout (13 bands
    stored in EuroSAT order, the paper's 10-band subset returned by default).
    RGB side: unpaired aerial scenes, single-label, resized to 64 x 64.

    ``../shared/data/ackd-real-mini`` (real EuroSAT MS and UC Merced RGB) reads
    with this class; pass ``classes=`` for its 6 RGB classes.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'SeaLake',
        'River',
        'Residential',
        'PermanentCrop',
        'Pasture',
        'Industrial',
        'Highway',
        'HerbaceousVegetation',
        'Forest',
        'AnnualCrop',
    )
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT
    default_bands: ClassVar[tuple[str, ...] | None] = SENTINEL2_10BAND.bands
    ms_size: ClassVar[int | None] = 64
    rgb_size: ClassVar[int | None] = 64
