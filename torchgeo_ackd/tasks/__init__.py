"""TorchGeo tasks of the ACKD pipeline (matcher and student stages)."""

from .ackd import ACKDTask
from .matcher import MatcherTask

__all__ = ('ACKDTask', 'MatcherTask')
