"""Lightning callbacks of the ACKD stages (behaviour that happens at epochs)."""

from .channels_last import ChannelsLast
from .dynamic_matching import DynamicMatching

__all__ = ('ChannelsLast', 'DynamicMatching')
