"""Lightning callbacks of the ACKD stages (behaviour that happens at epochs)."""

from .channels_last import ChannelsLast
from .compile import CompileModels
from .dynamic_matching import DynamicMatching, pair_in_label_space

__all__ = ('ChannelsLast', 'CompileModels', 'DynamicMatching', 'pair_in_label_space')
