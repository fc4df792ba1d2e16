"""LightningDataModules of the ACKD benchmarks: one per stage kind and benchmark."""

from .ackd import ACKDDataModule
from .eurosat_ucmerced import EuroSATUCMercedDataModule, EuroSATUCMercedMSDataModule
from .m2s_gl import M2SGLDataModule, M2SGLMSDataModule
from .ms import MSDataModule
from .paired import PairedDataModule
from .s2s_cn import S2SCNDataModule, S2SCNMSDataModule
from .s2s_eu import S2SEUDataModule, S2SEUMSDataModule
from .statistics import band_statistics
from .synthetic import SyntheticACKDDataModule, SyntheticMSDataModule

__all__ = (
    'ACKDDataModule',
    'EuroSATUCMercedDataModule',
    'EuroSATUCMercedMSDataModule',
    'M2SGLDataModule',
    'M2SGLMSDataModule',
    'MSDataModule',
    'PairedDataModule',
    'S2SCNDataModule',
    'S2SCNMSDataModule',
    'S2SEUDataModule',
    'S2SEUMSDataModule',
    'SyntheticACKDDataModule',
    'SyntheticMSDataModule',
    'band_statistics',
)
