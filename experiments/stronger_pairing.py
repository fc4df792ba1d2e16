# Archived: ran at commit a261fe0 (`git checkout a261fe0`, where it is
# benchmarks/stronger_pairing.py); the option it studies (the label-space pairing, with out-of-fold teacher logits)
# was removed from the package after it showed no gain (see
# experiments/README.md). It does not run on the current package; no test.
"""How much would KD gain from label-space pairs found by a stronger RGB model?

A diagnostic of the annotated mixed benchmark (``python -m
torchgeo_ackd.synthetic --mixed --label-rule annotated``), not a method: the
label-space pairing (``kd_label_space``) reads the students through the
baseline, an RGB model trained on the same 360 noisy labels, and
``kd_targets.py`` shows its targets name a mislabelled student's dominant
cover no more often than the baseline itself does. Here the students are
paired through an RGB model trained on *other* labelled RGB images of the
same generator instead (``--extra-per-class`` more per class, drawn after the
benchmark's own; a benchmark with more images per class is the same
benchmark with images appended), then vanilla KD is trained with those pairs
from the config of the pipeline's ``kd_label_space`` runs (the same teacher
logits, KD loss, seeds and students), and every run is scored, paired by
seed, on ``--test-per-class`` further fresh RGB images that no model saw::

    python experiments/stronger_pairing.py data/synthetic-annotated-300 \\
        output/annotated-300-oof --seeds 0,1,2

The stronger model's extra labels reach the KD students only through the
choice of their teachers, so this bounds what better pairs are worth; it is
not a fair comparison with the baseline, which never sees those labels.
Finished runs in ``OUT/stronger-pairing`` are reused.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from fresh_test import accuracy, fresh_indices
from kd_targets import (
    checkpoint_statistics,
    label_space_neighbours,
    score_targets,
    targets_of_run,
)

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import Pairing, relative_files
from torchgeo_ackd.io import read_torch_file
from torchgeo_ackd.matching import student_logits
from torchgeo_ackd.models.teacher import read_out_of_fold_logits
from torchgeo_ackd.pipeline.intervals import mean_interval, paired_difference
from torchgeo_ackd.synthetic import benchmark_parameters, generate_synthetic_benchmark
from torchgeo_ackd.tasks import ACKDTask


def split_rows(
    files: list[str], seen: int, train: int, val: int
) -> list[tuple[str, str]]:
    """The split of the stronger RGB model over the RGB files of a larger benchmark.

    Args:
        files: RGB file paths, each ending in ``_<index>.<ext>``.
        seen: Images per class of the original benchmark (never trained on).
        train: Images per class after those to train on.
        val: Images per class after the training ones to validate on.

    Returns:
        ``(file, split)`` for every file: ``'train'``, ``'val'`` or ``'test'``
        (the original images and every image after the validation ones, which
        the model never reads).
    """
    rows = []
    for file in files:
        index = int(Path(file).stem.rsplit('_', 1)[1])
        if seen <= index < seen + train:
            rows.append((file, 'train'))
        elif seen + train <= index < seen + train + val:
            rows.append((file, 'val'))
        else:
            rows.append((file, 'test'))
    return rows


def fit(config: dict, run: Path) -> Path:  # type: ignore[type-arg]
    """Train one run with ``torchgeo fit`` (reused when finished); its best checkpoint."""
    run.mkdir(parents=True, exist_ok=True)
    config['trainer']['default_root_dir'] = str(run)
    for callback in config['trainer']['callbacks']:
        if 'dirpath' in callback['init_args']:
            callback['init_args']['dirpath'] = str(run)
    config['trainer']['logger'] = False
    config['trainer']['enable_progress_bar'] = False
    (run / 'config.yaml').write_text(yaml.safe_dump(config))
    if not (run / 'best.ckpt').is_file():
        torchgeo = Path(sys.executable).with_name('torchgeo')
        subprocess.run(
            [str(torchgeo), 'fit', '--config', str(run / 'config.yaml')],
            check=True,
            capture_output=True,
        )
    return run / 'best.ckpt'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', type=Path, help='an annotated mixed benchmark')
    parser.add_argument('out', type=Path, help='its pipeline output (kd_label_space)')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--extra-per-class', type=int, default=240)
    parser.add_argument('--val-per-class', type=int, default=20)
    parser.add_argument('--test-per-class', type=int, default=240)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(',')]
    params = benchmark_parameters(args.root)
    seen = params.pop('rgb_per_class')
    train = args.extra_per_class - args.val_per_class
    total = seen + args.extra_per_class + args.test_per_class
    work = args.out / 'stronger-pairing'
    larger = Path(f'{args.root}-extra{args.extra_per_class}-test{args.test_per_class}')
    generate_synthetic_benchmark(larger, rgb_per_class=total, **params)
    everything = SyntheticACKDDataModule(
        root=str(larger), generate=False, pairing_file=None
    )
    rows = [(f, 'train') for f in relative_files(everything.ms_dataset('all'))]
    rgb_files = relative_files(everything.rgb_dataset('all'))
    rows += split_rows(rgb_files, seen, train, args.val_per_class)
    work.mkdir(parents=True, exist_ok=True)
    split = work / 'split.csv'
    split.write_text('path,split\n' + ''.join(f'{f},{s}\n' for f, s in rows))

    # The stronger RGB model: the baseline's recipe on the extra images.
    students = args.out / 'students'
    config = yaml.safe_load(
        (students / f'baseline_seed{seeds[0]}' / 'config.yaml').read_text()
    )
    config['data']['init_args'] |= {'root': str(larger), 'split_file': str(split)}
    checkpoint = fit(config, work / 'pairing_model')

    # Its predictions on the benchmark's own students, paired in label space.
    model = ACKDTask.load_from_checkpoint(
        checkpoint, map_location='cpu', weights_only=True
    ).eval()
    stats = checkpoint_statistics(read_torch_file(checkpoint, 'pairing model'))
    init = {'root': str(args.root), 'generate': False}
    dm = SyntheticACKDDataModule(**(init | {'pairing_file': None} | stats))
    dm.setup('fit')
    with torch.no_grad():
        logits = student_logits(
            model.student, dm.student_dataloader(), dm.preprocess, torch.device('cpu')
        )
    teacher = read_out_of_fold_logits(
        args.out / 'teacher_folds' / 'out_of_fold_logits.pt', dm.gallery
    )
    labels, teacher_classes = dm.rgb_train.targets, dm.gallery.targets
    nearest = label_space_neighbours(logits, labels, teacher, teacher_classes, 1)[:, 0]
    Pairing.for_datasets(nearest, dm.rgb_train, dm.gallery).save(work / 'pairing')
    targets, dominant, _ = targets_of_run(args.root, args.out, seeds[0], [1], 3.0)
    soft = (teacher / 3.0).softmax(1)
    for name, target in (
        ('label space, the baseline', targets['label space top-1']),
        ('label space, the stronger model', soft[nearest]),
        ('oracle', targets['oracle']),
    ):
        print(f'KD targets, {name}: {score_targets(target, dominant, labels)}')

    # Vanilla KD with those pairs, as the pipeline's kd_label_space runs.
    runs = {'kd_stronger_pairs': {}} | {
        m: {}
        for m in (
            'baseline',
            'kd',
            'kd_label_space',
            'kd_sembridge_label_space_no_dynm',
            'kd_oracle',
        )
    }
    fresh = fresh_indices(everything, seen + args.extra_per_class)
    for seed in seeds:
        config = yaml.safe_load(
            (students / f'kd_label_space_seed{seed}' / 'config.yaml').read_text()
        )
        config['data']['init_args']['pairing_file'] = str(
            work / 'pairing' / 'pairing.pt'
        )
        checkpoints = {
            'kd_stronger_pairs': fit(config, work / f'kd_stronger_pairs_seed{seed}')
        }
        for method in runs:
            checkpoints.setdefault(
                method, students / f'{method}_seed{seed}' / 'best.ckpt'
            )
            if checkpoints[method].is_file():
                runs[method][str(seed)] = accuracy(
                    checkpoints[method], everything, fresh
                )
    print(f'\n{len(fresh)} fresh RGB test images; OA (%), paired by seed')
    for method, scores in runs.items():
        if not scores:
            continue
        line = f'{method}: {mean_interval(list(scores.values()))}'
        for other in ('baseline', 'kd'):
            if method != other and runs[other]:
                line += f', vs {other} {paired_difference(scores, runs[other])}'
        print(line, '(seeds ' + ' / '.join(f'{v:.2f}' for v in scores.values()) + ')')


if __name__ == '__main__':
    main()
