"""The whole ACKD pipeline from one command (``python -m torchgeo_ackd.pipeline``)."""

from .methods import DEFAULT_METHODS, METHODS, Method, kd_methods, register_method
from .run import resolve_benchmark, run_pipeline
from .stages import StageResult, run_stage

__all__ = (
    'DEFAULT_METHODS',
    'METHODS',
    'Method',
    'StageResult',
    'kd_methods',
    'register_method',
    'resolve_benchmark',
    'run_pipeline',
    'run_stage',
)
