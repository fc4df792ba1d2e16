"""M2S-GL: global multi-label Sentinel-2 (teacher) to unpaired RGB (student)."""

from typing import ClassVar

from ..sensors import SENTINEL2_10BAND, Sensor
from .ackd import ACKDDataset


class M2SGL(ACKDDataset):
    """The M2S-GL subset of the ACKD benchmark (Wei et al., AAAI 2026).

    MS side: 10-band Sentinel-2, MULTI-label: each image sits in the folder of
    its primary class (used for within-class matching) and its full label set
    is read from the sidecar ``MS/labels.csv`` (columns ``path,labels``; path
    relative to ``MS/``, labels separated by ``;``), returned as a multi-hot
    ``label`` of shape (15,). RGB side: single-label, 128 x 128.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'forest',
        'agriculture',
        'shrub',
        'pasture',
        'water_body',
        'sea',
        'industry',
        'grassland',
        'water_course',
        'crop',
        'sport',
        'transport',
        'beach',
        'airport',
        'port',
    )
    ms_sensor: ClassVar[Sensor] = SENTINEL2_10BAND
    ms_multilabel: ClassVar[bool] = True
    rgb_size: ClassVar[int | None] = 128
