"""Datasets of asymmetric cross-modal (MS teacher -> RGB student) benchmarks."""

from .ackd import ACKDDataset
from .batch import FetchedBatch, collate_fetched
from .m2s_gl import M2SGL
from .paired import PairedDataset, plot_pairs
from .pairing import Pairing, relative_files
from .renamed import RenamedDataset
from .s2s_cn import S2SCN
from .s2s_eu import S2SEU
from .same_class import check_pairing, random_same_class_pairing
from .synthetic import SyntheticACKD

__all__ = (
    'M2SGL',
    'S2SCN',
    'S2SEU',
    'ACKDDataset',
    'FetchedBatch',
    'PairedDataset',
    'Pairing',
    'RenamedDataset',
    'SyntheticACKD',
    'check_pairing',
    'collate_fetched',
    'plot_pairs',
    'random_same_class_pairing',
    'relative_files',
)
