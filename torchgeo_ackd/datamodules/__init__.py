"""LightningDataModules of the ACKD benchmarks."""

from .ackd import ACKDDataModule
from .m2s_gl import M2SGLDataModule
from .s2s_cn import S2SCNDataModule
from .s2s_eu import S2SEUDataModule
from .statistics import band_statistics
from .synthetic import SyntheticACKDDataModule

__all__ = (
    'ACKDDataModule',
    'M2SGLDataModule',
    'S2SCNDataModule',
    'S2SEUDataModule',
    'SyntheticACKDDataModule',
    'band_statistics',
)
