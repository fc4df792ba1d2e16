"""LightningDataModule of the M2S-GL benchmark subset."""

from typing import ClassVar

from ..datasets import ACKDDataset, M2SGL
from .ackd import ACKDDataModule


class M2SGLDataModule(ACKDDataModule):
    """M2S-GL: multi-label Sentinel-2 (global) teacher, unpaired RGB student. See :class:`ACKDDataModule` for the arguments."""

    dataset_class: ClassVar[type[ACKDDataset]] = M2SGL
