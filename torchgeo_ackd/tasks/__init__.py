"""TorchGeo tasks of the ACKD pipeline (teacher, matcher and student stages)."""

from .ackd import ACKDTask
from .matcher import MatcherTask
from .teacher import TeacherTask

__all__ = ('ACKDTask', 'MatcherTask', 'TeacherTask')
