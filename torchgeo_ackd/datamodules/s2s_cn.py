"""LightningDataModules of the S2S-CN benchmark subset."""

from ..datasets import S2SCN
from .ms import MSDataModule
from .paired import PairedDataModule


class S2SCNMSDataModule(MSDataModule):
    """S2S-CN, teacher and matcher stages. See :class:`MSDataModule` for the arguments."""

    dataset_class = S2SCN


class S2SCNDataModule(PairedDataModule):
    """S2S-CN: Tiangong-2 (China) teacher, unpaired RGB student. See :class:`PairedDataModule`."""

    dataset_class = S2SCN
    ms_datamodule = S2SCNMSDataModule
