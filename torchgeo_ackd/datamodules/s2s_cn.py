"""LightningDataModule of the S2S-CN benchmark subset."""

from typing import ClassVar

from ..datasets import ACKDDataset, S2SCN
from .ackd import ACKDDataModule


class S2SCNDataModule(ACKDDataModule):
    """S2S-CN: Tiangong-2 (China) teacher, unpaired RGB student. See :class:`ACKDDataModule` for the arguments."""

    dataset_class: ClassVar[type[ACKDDataset]] = S2SCN
