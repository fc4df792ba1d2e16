"""Lightning callbacks of the ACKD stages (behaviour that happens at epochs)."""

from .channels_last import ChannelsLast
from .compile import CompileModels
from .dynamic_matching import DynamicMatching
from .initial_pairing import InitialPairing
from .prediction_writer import CSVPredictionWriter

__all__ = (
    'CSVPredictionWriter',
    'ChannelsLast',
    'CompileModels',
    'DynamicMatching',
    'InitialPairing',
)
