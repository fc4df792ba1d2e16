"""The whole ACKD pipeline from one command (``python -m torchgeo_ackd.pipeline``).

The public parts, for scripts and ``experiments/``: the run's options
(:class:`PipelineConfig`), the benchmark it runs on (:func:`resolve_benchmark`),
the method registry (:data:`METHODS`, :func:`register_method`), one function
per stage (:func:`train_teacher`, :func:`train_matcher`, :func:`train_students`,
with the stage configurations they run: :func:`teacher_arguments`,
:func:`student_arguments`) and :func:`run_stage`, which runs any stage
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
