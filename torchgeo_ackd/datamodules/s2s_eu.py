"""LightningDataModules of the S2S-EU benchmark subset."""

from ..datasets import S2SEU
from .ms import MSDataModule
from .paired import PairedDataModule


class S2SEUMSDataModule(MSDataModule):
    """S2S-EU, teacher and matcher stages. See :class:`MSDataModule` for the arguments."""

    dataset_class = S2SEU


class S2SEUDataModule(PairedDataModule):
    """S2S-EU: Sentinel-2 (Europe) teacher, unpaired RGB student. See :class:`PairedDataModule`."""

    dataset_class = S2SEU
    ms_datamodule = S2SEUMSDataModule
