"""Datasets of asymmetric cross-modal (MS teacher -> RGB student) benchmarks."""

from .ackd import ACKDDataset
from .batch import FetchedBatch, collate_fetched
from .benchmarks import M2SGL, S2SCN, S2SEU, EuroSATUCMerced, SyntheticACKD
from .paired import PairedDataset, RenamedDataset, plot_pairs
from .pairing import Pairing, relative_files
from .same_class import check_pairing, random_same_class_pairing
from .tiles import SameShapeBatches, Tile, TileDataset, list_tiles

__all__ = (
    'M2SGL',
    'S2SCN',
    'S2SEU',
    'ACKDDataset',
    'EuroSATUCMerced',
    'FetchedBatch',
    'PairedDataset',
    'Pairing',
    'RenamedDataset',
    'SameShapeBatches',
    'SyntheticACKD',
    'Tile',
    'TileDataset',
    'check_pairing',
    'collate_fetched',
    'list_tiles',
    'plot_pairs',
    'random_same_class_pairing',
    'relative_files',
)
