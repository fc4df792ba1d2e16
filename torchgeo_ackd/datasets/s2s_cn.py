"""S2S-CN: Tiangong-2 over China (teacher) to unpaired RGB (student)."""

from typing import ClassVar

from ..sensors import TIANGONG2, Sensor
from .ackd import ACKDDataset


class S2SCN(ACKDDataset):
    """The S2S-CN subset of the ACKD benchmark (Wei et al., AAAI 2026).

    MS side: Tiangong-2 wide-band imaging spectrometer, 14 bands. RGB side:
    unpaired scenes, single-label, 128 x 128.
    """

    classes: ClassVar[tuple[str, ...]] = (
        'beach',
        'circularfarmland',
        'cloud',
        'desert',
        'forest',
        'mountain',
        'rectangularfarmland',
        'residential',
        'river',
        'snowberg',
    )
    ms_sensor: ClassVar[Sensor] = TIANGONG2
    rgb_size: ClassVar[int | None] = 128
