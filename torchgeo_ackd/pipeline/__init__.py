"""The whole ACKD pipeline from one command (``python -m torchgeo_ackd.pipeline``)."""

from .methods import DEFAULT_METHODS, METHODS
from .run import resolve_benchmark, run_pipeline
from .stages import StageResult, run_stage

__all__ = (
    'DEFAULT_METHODS',
    'METHODS',
    'StageResult',
    'resolve_benchmark',
    'run_pipeline',
    'run_stage',
)
