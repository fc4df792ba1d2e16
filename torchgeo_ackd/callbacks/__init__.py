"""Lightning callbacks of the ACKD stages (behaviour that happens at epochs)."""

from .channels_last import ChannelsLast
from .compile import CompileModels
from .dynamic_matching import DynamicMatching

__all__ = ('ChannelsLast', 'CompileModels', 'DynamicMatching')
