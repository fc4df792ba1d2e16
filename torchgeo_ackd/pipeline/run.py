"""The whole ACKD pipeline: data -> teacher -> matcher -> students -> results.

Each stage's ``torchgeo fit`` config is built from ``conf/<stage>.yaml`` and the
:class:`PipelineConfig`, and run with :func:`~torchgeo_ackd.pipeline.run_stage`.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .benchmark import (
    Benchmark,
    CheckedData,
    check_data,
    data_section,
    download_benchmark,
    prepare_folds,
    resolve_benchmark,
)
from .config import PipelineConfig, stage_config
from .lock import output_lock
from .methods import METHODS, model_args
from .pairings import SSMPairings
from .pretrained import PRETRAINED, teacher_weights
from .results import teacher_summary, write_results
from .stages import StageResult, run_stage


@dataclass(frozen=True)
class EvaluationSplit:
    """One split the students are evaluated on.

    Attributes:
        prefix: Prefix of the run names (``''`` or ``'fold<f>_'``).
        file: The split file (None: the benchmark's default split).
    """

    prefix: str
    file: Path | None


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def teacher_arguments(
    config: PipelineConfig, bench: Benchmark
) -> tuple[dict[str, Any], str]:
    """The teacher stage's configuration, with the weights it starts from.

    Args:
        config: The run's options.
        bench: The benchmark (its ``bands`` may be set to the weights' order).

    Returns:
        The stage configuration and the teacher's timm architecture.
    """
    teacher = stage_config('teacher')
    args = teacher['model']['init_args']
    if config.teacher_model is not None:
        args['model'] = config.teacher_model
    weights, mapped = teacher_weights(bench, config.use_pretrained)
    source = f'TorchGeo pretrained weights {PRETRAINED}' if weights else None
    print(f'[teacher] starting from {source or "scratch (random init)"}')
    args |= {
        'in_channels': len(bench.bands),
        'num_classes': len(bench.dataset.classes),
        'weights': weights,
    } | mapped
    teacher['data'] = data_section(bench, ms=True)
    teacher['trainer']['max_epochs'] = config.teacher_epochs
    return teacher, args['model']


def train_teacher(
    config: PipelineConfig, bench: Benchmark, data: CheckedData
) -> tuple[StageResult, str]:
    """Stage 1: the MS teacher (``TeacherTask``), tested on MS images.

    Returns:
        Its result and its timm architecture.
    """
    teacher, model = teacher_arguments(config, bench)
    result = run_stage(
        'teacher', teacher, config.out / 'teacher', config.fresh, data.hashes('ms')
    )
    print(f'[teacher] {teacher_summary(result.metrics)}')
    return result, model


def train_matcher(
    config: PipelineConfig, bench: Benchmark, data: CheckedData
) -> StageResult:
    """Stage 2: the matcher (SSM), which writes the initial pairing beside it."""
    matcher = stage_config('matcher')
    args = matcher['model']['init_args']
    args['in_channels'] = len(bench.bands)
    if config.matcher_model is not None:
        args |= {'ms_model': config.matcher_model, 'rgb_model': config.matcher_model}
    matcher['trainer']['callbacks'] = [
        {
            'class_path': 'torchgeo_ackd.callbacks.InitialPairing',
            'init_args': {'output_dir': str(config.out / 'matcher')},
        }
    ]
    matcher['data'] = data_section(bench, ms=True, pseudo_rgb=True)
    matcher['trainer']['max_epochs'] = config.matcher_epochs
    return run_stage(
        'matcher',
        matcher,
        config.out / 'matcher',
        config.fresh,
        data.hashes('ms', 'rgb'),
    )


def student_arguments(
    config: PipelineConfig,
    bench: Benchmark,
    method: str,
    seed: int,
    teacher_model: str,
    split: EvaluationSplit,
    pairing: Path | None,
) -> dict[str, Any]:
    """One student's stage configuration (``ACKDTask`` on ``conf/ackd.yaml``).

    Args:
        config: The run's options.
        bench: The benchmark.
        method: A name of :data:`~torchgeo_ackd.pipeline.methods.METHODS`.
        seed: The run's seed.
        teacher_model: The teacher's timm architecture.
        split: The evaluation split.
        pairing: The initial pairing file (None: a seeded random same-class one).

    Returns:
        The stage configuration.
    """
    student = stage_config('ackd')
    args = student['model']['init_args']
    args['num_classes'] = len(bench.dataset.classes)
    args['teacher'] = args['teacher'] | {
        'model': teacher_model,
        'in_channels': len(bench.bands),
        'weights': str(config.out / 'teacher' / 'best.ckpt'),
    }
    if config.student_model is not None:
        args['student'] = config.student_model
    for key, value in model_args(method).items():  # groups key by key
        args[key] = args.get(key, {}) | value if isinstance(value, dict) else value
    dm_args = {'pairing_file': None if pairing is None else str(pairing)}
    if split.file is not None:
        dm_args['split_file'] = str(split.file)
    student['data'] = data_section(bench, ms=False, **dm_args)
    student['trainer']['max_epochs'] = config.student_epochs
    # Every student records its initial pairing; DynM ones also re-match.
    dynm = list(config.dynm_epochs) if METHODS[method].dynm else []
    student['trainer']['callbacks'] = [
        {
            'class_path': 'torchgeo_ackd.callbacks.DynamicMatching',
            'init_args': {'epochs': dynm},
        }
    ]
    student['seed_everything'] = seed
    return student


def train_students(
    config: PipelineConfig,
    bench: Benchmark,
    data: CheckedData,
    splits: list[EvaluationSplit],
    stages: dict[str, StageResult],
    teacher_model: str,
) -> list[StageResult]:
    """Stage 3: every student run, on every evaluation split.

    Args:
        config: The run's options.
        bench: The benchmark.
        data: The checked files (a student's inputs).
        splits: The evaluation splits.
        stages: The teacher's and matcher's results (their run ids are inputs).
        teacher_model: The teacher's timm architecture.

    Returns:
        The students' results, in run order.
    """
    ssm = SSMPairings(bench.ms_datamodule, bench.init_args, config.out, config.fresh)
    ssm.ensure_matcher_pairing()
    results = []
    for method, seed in config.runs:
        for split in splits:
            inputs = data.hashes('ms', 'rgb') | {
                f'stage:{name}': result.run_id for name, result in stages.items()
            }
            if split.file is not None:
                inputs['split_file'] = _sha1(split.file)
            pairing = None
            if METHODS[method].initial == 'ssm':
                pairing = ssm.path(split.file)
                inputs['pairing_file'] = _sha1(pairing)
            student = student_arguments(
                config, bench, method, seed, teacher_model, split, pairing
            )
            name = f'{method}_{split.prefix}seed{seed}'
            results.append(
                run_stage(
                    name,
                    student,
                    config.out / 'students' / name,
                    config.fresh,
                    inputs,
                    keep_last=config.keep_last_checkpoints,
                )
            )
    return results


def run_pipeline(
    config: PipelineConfig | None = None, **options: Any
) -> list[StageResult]:
    """Run every stage (reusing finished ones) and write the results.

    Args:
        config: The run's options.
        **options: Or the :class:`PipelineConfig` fields themselves, without *config*.

    Returns:
        The student stages' results.

    Raises:
        ValueError: For an unknown method, impossible epochs or folds, or a teacher
            the pretrained weights do not fit, before any stage runs.
        PreflightError: Listing every bad image, before any stage runs.
    """
    if config is None:
        config = PipelineConfig(**options)
    elif options:
        raise TypeError('run_pipeline: give a PipelineConfig or options, not both')
    config.check()
    if config.download:
        download_benchmark(config.root, config.datamodule)
    bench = resolve_benchmark(config.root, config.datamodule)
    data = check_data(bench)
    with output_lock(config.out):
        # Every split file first: a K the data cannot support fails before training.
        splits = [EvaluationSplit('', None)]
        if config.folds > 1:
            splits = [
                EvaluationSplit(f'fold{f}_', path)
                for f, path in enumerate(prepare_folds(bench, config.out, config.folds))
            ]
        teacher, teacher_model = train_teacher(config, bench, data)
        matcher = train_matcher(config, bench, data)
        stages = {'teacher': teacher, 'matcher': matcher}
        results = train_students(config, bench, data, splits, stages, teacher_model)
        write_results(
            results,
            config.out / 'results',
            bench.dataset,
            config.out,
            bench.student_classes,
            teacher.metrics,
        )
        return results
