"""TorchGeo tasks of the ACKD pipeline (teacher, matcher and student stages)."""

from ..migrate import check_torchgeo_command_line
from .ackd import ACKDTask
from .matcher import MatcherTask
from .teacher import TeacherTask

# Plain `torchgeo fit --config old.yaml` imports this package before it checks
# the config's options: the one place to say what an old option became.
check_torchgeo_command_line()

__all__ = ('ACKDTask', 'MatcherTask', 'TeacherTask')
