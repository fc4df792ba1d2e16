"""Stratified K-fold evaluation over the RGB images.

In fold ``f`` the RGB images of fold ``f`` are the test set, those of fold ``f + 1``
(mod K) the validation set and the rest the training set (60/20/20 with K = 5, as
the default split). The MS images keep the default split, so the teacher and the
matcher (which never see an RGB label) are shared by all folds. ``folded='ms'``
folds the MS images instead, to measure the teacher (``experiments/teacher_recipe.py``).
"""

import csv
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..datasets import ACKDDataset, relative_files
from ..io import atomic_open


def stratified_folds(
    labels: Sequence[int], num_folds: int, seed: int, class_names: Sequence[str]
) -> list[int]:
    """Assign every sample to one of *num_folds* folds, class by class.

    Each class's samples are shuffled (seeded by *seed* and the class name), then
    dealt out round-robin: every fold gets ``floor`` or ``ceil`` of its share.

    Args:
        labels: Class index per sample.
        num_folds: K >= 3 (one fold tests, one validates, the rest train).
        seed: Seed of the shuffles.
        class_names: Names indexed by class (seeds each class's shuffle).

    Returns:
        The fold (0..K-1) of each sample.

    Raises:
        ValueError: If K < 3 or a class has fewer than K samples.
    """
    if num_folds < 3:
        raise ValueError(
            '--folds must be >= 3 for K-fold evaluation (one fold tests, the next '
            f'validates, the others train), got {num_folds}'
        )
    fold = [-1] * len(labels)
    for c in sorted(set(labels)):
        members = [i for i, label in enumerate(labels) if label == c]
        if len(members) < num_folds:
            raise ValueError(
                f'class {class_names[c]!r} has {len(members)} images, fewer than '
                f'--folds={num_folds}: every fold needs one image of it'
            )
        g = torch.Generator().manual_seed(seed + zlib.crc32(class_names[c].encode()))
        for rank, j in enumerate(torch.randperm(len(members), generator=g).tolist()):
            fold[members[j]] = rank % num_folds
    return fold


def split_kwargs(init_args: dict[str, Any]) -> dict[str, Any]:
    """The dataset arguments that fix the default split, from DataModule arguments.

    Args:
        init_args: The DataModule arguments shared by all stages.

    Returns:
        ``root`` and, where given, ``val_fraction``, ``test_fraction``, ``seed``.
    """
    keys = ('val_fraction', 'test_fraction', 'seed')
    return {'root': init_args['root']} | {
        k: init_args[k] for k in keys if k in init_args
    }


def write_fold_split(
    path: Path,
    dataset_class: type[ACKDDataset],
    dataset_kwargs: dict[str, Any],
    student_classes: Sequence[str] | None,
    fold: int,
    num_folds: int,
    seed: int,
    folded: str = 'rgb',
) -> None:
    """Write the ``path,split`` file of one fold (see the module docstring).

    Args:
        path: CSV to write (atomically).
        dataset_class: The benchmark's dataset.
        dataset_kwargs: The default split's arguments (:func:`split_kwargs`).
        student_classes: RGB classes present (``None``: all).
        fold: This fold, in [0, K).
        num_folds: K.
        seed: Seed of the fold assignment.
        folded: The modality folded (``'rgb'`` or ``'ms'``); the other keeps the
            default split.

    Raises:
        ValueError: If *folded* is neither ``'rgb'`` nor ``'ms'``.
    """
    if folded not in ('rgb', 'ms'):
        raise ValueError(f"folded must be 'rgb' or 'ms', got {folded!r}")
    kept = 'ms' if folded == 'rgb' else 'rgb'
    classes = {'rgb': student_classes, 'ms': None}

    def images(modality: str, split: str) -> ACKDDataset:
        return dataset_class(
            modality=modality, split=split, classes=classes[modality], **dataset_kwargs
        )

    splits = ('train', 'val', 'test')
    rows = [(f, s) for s in splits for f in relative_files(images(kept, s))]
    dataset = images(folded, 'all')
    folds = stratified_folds(
        dataset.targets.tolist(), num_folds, seed, dataset_class.classes
    )
    val_fold = (fold + 1) % num_folds
    rows += [
        (file, 'test' if f == fold else 'val' if f == val_fold else 'train')
        for file, f in zip(relative_files(dataset), folds, strict=True)
    ]
    with atomic_open(path, 'w', newline='') as out:
        writer = csv.writer(out)
        writer.writerow(('path', 'split'))
        writer.writerows(rows)
