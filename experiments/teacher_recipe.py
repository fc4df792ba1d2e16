"""The teacher's own accuracy and calibration, K-fold over the MS images.

Trains the pipeline's teacher (``conf/teacher.yaml``: TeacherTask, its
epochs, early stopping and learning-rate schedule) once per fold, every MS
image a test image exactly once (:func:`~torchgeo_ackd.pipeline.folds.write_fold_split`
with ``folded='ms'``), and prints each fold's test OA and expected
calibration error with their mean and 95 % interval. Finished folds are
reused (``--out``), as in the pipeline.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/teacher_recipe.py \\
        --root ../shared/data/ackd-real-mini --folds 5 --fold 0 1 2 3 4
"""

import argparse
import time
from pathlib import Path

import yaml

from torchgeo_ackd.pipeline import resolve_benchmark
from torchgeo_ackd.pipeline.folds import write_fold_split
from torchgeo_ackd.pipeline.intervals import mean_interval
from torchgeo_ackd.pipeline.stages import run_stage

#: The pipeline's stage configs (the repository's ``conf/``).
CONF = Path(__file__).resolve().parents[1] / 'conf'


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, required=True)
    parser.add_argument('--out', type=Path, default=Path('output/teacher-folds'))
    parser.add_argument('--folds', type=int, default=5)
    parser.add_argument('--fold', type=int, nargs='*', help='folds to run (all)')
    parser.add_argument('--epochs', type=int, help='max epochs (the config)')
    args = parser.parse_args(argv)
    bench = resolve_benchmark(args.root, None)
    keys = ('root', 'val_fraction', 'test_fraction', 'seed')
    kwargs = {k: bench.init_args[k] for k in keys if k in bench.init_args}
    results = []
    for fold in args.fold if args.fold else range(args.folds):
        directory = args.out / f'fold{fold}'
        directory.mkdir(parents=True, exist_ok=True)
        split = directory.parent / f'split_fold{fold}.csv'
        write_fold_split(
            split,
            bench.dataset,
            kwargs,
            bench.student_classes,
            fold,
            args.folds,
            seed=int(kwargs.get('seed', 0)),
            folded='ms',
        )
        teacher = yaml.safe_load((CONF / 'teacher.yaml').read_text())
        teacher['model']['init_args'] |= {
            'in_channels': len(bench.bands),
            'num_classes': len(bench.dataset.classes),
        }
        teacher['data'] = {
            'class_path': bench.ms_datamodule,
            'init_args': bench.init_args | {'split_file': str(split)},
        }
        if args.epochs:
            teacher['trainer']['max_epochs'] = args.epochs
        start = time.perf_counter()
        result = run_stage(f'teacher fold {fold}', teacher, directory)
        metrics = result.metrics
        print(
            f'fold {fold}: OA {100 * metrics["test_OverallAccuracy"]:.2f} %, '
            f'ECE {metrics["test_CalibrationError"]:.3f}, '
            f'{time.perf_counter() - start:.0f} s'
        )
        results.append(metrics)
    if len(results) > 1:
        oa = mean_interval([100 * m['test_OverallAccuracy'] for m in results])
        ece = mean_interval([m['test_CalibrationError'] for m in results])
        print(
            f'{len(results)} folds: OA {oa} % (95 % interval), '
            f'ECE {ece.mean:.3f} ± {ece.half_width:.3f}'
        )


if __name__ == '__main__':
    main()
