"""The whole ACKD pipeline from one command (``python -m torchgeo_ackd.pipeline``).

For scripts and ``experiments/``: :class:`PipelineConfig`, the method registry
(:data:`METHODS`), one function per stage and :func:`run_stage`, which runs any stage
configuration as ``torchgeo fit`` + ``torchgeo test``.
"""

from .benchmark import Benchmark, CheckedData, check_data, data_section
from .config import PipelineConfig, stage_config
from .methods import DEFAULT_METHODS, METHODS, Method, kd_methods, register_method
from .run import (
    EvaluationSplit,
    resolve_benchmark,
    run_pipeline,
    student_arguments,
    teacher_arguments,
    train_matcher,
    train_students,
    train_teacher,
)
from .stages import StageResult, read_test_metrics, run_stage

__all__ = (
    'DEFAULT_METHODS',
    'METHODS',
    'Benchmark',
    'CheckedData',
    'EvaluationSplit',
    'Method',
    'PipelineConfig',
    'StageResult',
    'check_data',
    'data_section',
    'kd_methods',
    'read_test_metrics',
    'register_method',
    'resolve_benchmark',
    'run_pipeline',
    'run_stage',
    'stage_config',
    'student_arguments',
    'teacher_arguments',
    'train_matcher',
    'train_students',
    'train_teacher',
)
