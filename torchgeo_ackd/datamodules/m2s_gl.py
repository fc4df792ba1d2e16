"""LightningDataModule of the M2S-GL benchmark subset."""

from ..datasets import M2SGL
from .ackd import ACKDDataModule


class M2SGLDataModule(ACKDDataModule):
    """M2S-GL: multi-label Sentinel-2 (global) teacher, unpaired RGB student. See :class:`ACKDDataModule` for the arguments."""

    dataset_class = M2SGL
