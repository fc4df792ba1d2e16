"""LightningDataModules of the M2S-GL benchmark subset."""

from ..datasets import M2SGL
from .ms import MSDataModule
from .paired import PairedDataModule


class M2SGLMSDataModule(MSDataModule):
    """M2S-GL, teacher and matcher stages. See :class:`MSDataModule` for the arguments."""

    dataset_class = M2SGL


class M2SGLDataModule(PairedDataModule):
    """M2S-GL: multi-label Sentinel-2 (global) teacher, unpaired RGB student. See :class:`PairedDataModule`."""

    dataset_class = M2SGL
    ms_datamodule = M2SGLMSDataModule
