"""Datasets of asymmetric cross-modal (MS teacher -> RGB student) benchmarks."""

from .ackd import ACKDDataset
from .m2s_gl import M2SGL
from .paired import PairedDataset
from .pairing import check_pairing, random_same_class_pairing
from .renamed import RenamedDataset
from .s2s_cn import S2SCN
from .s2s_eu import S2SEU
from .synthetic import SyntheticACKD

__all__ = (
    'M2SGL',
    'S2SCN',
    'S2SEU',
    'ACKDDataset',
    'PairedDataset',
    'RenamedDataset',
    'SyntheticACKD',
    'check_pairing',
    'random_same_class_pairing',
)
