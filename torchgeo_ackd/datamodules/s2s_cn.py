"""LightningDataModule of the S2S-CN benchmark subset."""

from ..datasets import S2SCN
from .ackd import ACKDDataModule


class S2SCNDataModule(ACKDDataModule):
    """S2S-CN: Tiangong-2 (China) teacher, unpaired RGB student. See :class:`ACKDDataModule` for the arguments."""

    dataset_class = S2SCN
