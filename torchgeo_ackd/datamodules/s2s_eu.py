"""LightningDataModule of the S2S-EU benchmark subset."""

from ..datasets import S2SEU
from .ackd import ACKDDataModule


class S2SEUDataModule(ACKDDataModule):
    """S2S-EU: Sentinel-2 (Europe) teacher, unpaired RGB student. See :class:`ACKDDataModule` for the arguments."""

    dataset_class = S2SEU
