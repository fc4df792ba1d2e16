"""The benchmarks: the ACKD paper's three subsets, an open one, the synthetic one.

S2S-EU: Sentinel-2 over Europe, S2S-CN: Tiangong-2 over China, M2S-GL: global
multi-label Sentinel-2 (each teacher) to unpaired RGB (student). EuroSAT -> UC
Merced: an open S2S-EU-like benchmark that TorchGeo downloads.
"""

from typing import ClassVar

from torchgeo.datasets import EuroSAT, NonGeoDataset, UCMerced

from ..sensors import SENTINEL2_10BAND, SENTINEL2_EUROSAT, TIANGONG2, Sensor
from ..synthetic import SYNTHETIC_CLASSES
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
        'SeaLake', 'River', 'Residential', 'PermanentCrop', 'Pasture', 'Industrial',
        'Highway', 'HerbaceousVegetation', 'Forest', 'AnnualCrop',
    )  # fmt: skip
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT
    default_bands: ClassVar[tuple[str, ...] | None] = SENTINEL2_10BAND.bands
    ms_size: ClassVar[int | None] = 64
    rgb_size: ClassVar[int | None] = 64


class S2SCN(ACKDDataset):
    """The S2S-CN subset of the ACKD benchmark (Wei et al., AAAI 2026).

    MS side: Tiangong-2 wide-band imaging spectrometer, 14 bands. RGB side:
    unpaired scenes, single-label, 128 x 128.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'beach', 'circularfarmland', 'cloud', 'desert', 'forest', 'mountain',
        'rectangularfarmland', 'residential', 'river', 'snowberg',
    )  # fmt: skip
    ms_sensor: ClassVar[Sensor] = TIANGONG2
    rgb_size: ClassVar[int | None] = 128


class M2SGL(ACKDDataset):
    """The M2S-GL subset of the ACKD benchmark (Wei et al., AAAI 2026).

    MS side: 10-band Sentinel-2, MULTI-label: each image sits in the folder of
    its primary class (used for within-class matching) and its full label set
    is read from the sidecar ``MS/labels.csv`` (columns ``path,labels``; path
    relative to ``MS/``, labels separated by ``;``), returned as a multi-hot
    ``label`` of shape (15,). RGB side: single-label, 128 x 128.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'forest', 'agriculture', 'shrub', 'pasture', 'water_body', 'sea', 'industry',
        'grassland', 'water_course', 'crop', 'sport', 'transport', 'beach', 'airport',
        'port',
    )  # fmt: skip
    ms_sensor: ClassVar[Sensor] = SENTINEL2_10BAND
    ms_multilabel: ClassVar[bool] = True
    rgb_size: ClassVar[int | None] = 128


class SyntheticACKD(ACKDDataset):
    """A generated benchmark with a real asymmetric cross-modal problem.

    MS side: 13-band Sentinel-2-like scenes (EuroSAT band order); RGB side: unpaired
    scenes of another "region"; some classes are separable only in NIR / SWIR.
    Generate it with ``python -m torchgeo_ackd.synthetic --root DIR`` or let
    :class:`~torchgeo_ackd.datamodules.SyntheticACKDDataModule` do it (see
    ``docs/synthetic.md``).
    """

    classes: ClassVar[tuple[str, ...]] = SYNTHETIC_CLASSES
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT


class EuroSATUCMerced(ACKDDataset):
    """An open S2S-EU-like benchmark: EuroSAT teacher, UC Merced student.

    MS side: TorchGeo's :class:`~torchgeo.datasets.EuroSAT` (27,000 Sentinel-2
    patches over Europe, 13 bands, 64 x 64, 10 classes), read from its
    extracted folders. RGB side: TorchGeo's :class:`~torchgeo.datasets.UCMerced`
    (USA aerial, 1 ft, 256 x 256), its classes mapped to EuroSAT's as in
    :attr:`rgb_class_folders` (the 6 classes with a clear counterpart, 600 images;
    the 14 others have none and are left out, see ``docs/datasets.md``). No
    image is paired. :meth:`download` fetches both with TorchGeo.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'AnnualCrop', 'Forest', 'HerbaceousVegetation', 'Highway', 'Industrial',
        'Pasture', 'PermanentCrop', 'Residential', 'River', 'SeaLake',
    )  # fmt: skip
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT
    ms_size: ClassVar[int | None] = 64
    # A few UC Merced images are not 256 x 256.
    rgb_size: ClassVar[int | None] = 256
    ms_dir: ClassVar[str] = EuroSAT.base_dir
    rgb_dir: ClassVar[str] = UCMerced.base_dir
    rgb_class_folders: ClassVar[dict[str, tuple[str, ...]]] = {
        'AnnualCrop': ('agricultural',),
        'Forest': ('forest',),
        'HerbaceousVegetation': ('chaparral',),
        'Highway': ('freeway',),
        'Residential': ('denseresidential', 'mediumresidential', 'sparseresidential'),
        'River': ('river',),
    }
    sources: ClassVar[tuple[type[NonGeoDataset], ...]] = (EuroSAT, UCMerced)
