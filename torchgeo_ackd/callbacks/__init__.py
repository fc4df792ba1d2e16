"""Lightning callbacks of the ACKD student stage (behaviour that happens at epochs)."""

from .dynamic_matching import DynamicMatching

__all__ = ('DynamicMatching',)
