"""Out-of-fold teacher logits of the gallery (the pipeline's ``--teacher-folds K``).

The gallery is the teacher's own training set, and a network's soft labels on
its training images repeat their labels, noise included: on the annotated
synthetic benchmark the teacher names a minority-cover label on half of its
own images so labelled, and on 15 % of held-out ones. Soft labels out of fold
say instead what the teacher learned about such scenes. The MS training
images of the default split are dealt into K stratified folds; teacher ``f``
trains on the other folds (validating and testing on the default MS split, as
the main teacher) and gives the logits of fold ``f``. The main teacher stays
the students' teacher for everything else (its features, the test metrics).
"""

import copy
import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..datamodules import ACKDDataModule
from ..datasets import ACKDDataset, relative_files
from ..datasets.atomic import atomic_open
from ..datasets.torch_files import read_torch_file
from ..models.teacher import FrozenTeacher, TeacherConfig
from .classes import datamodule as build_datamodule
from .folds import default_split_rows, split_kwargs, stratified_folds
from .stages import run_stage


def prepare_teacher_folds(
    dataset_class: type[ACKDDataset],
    init_args: dict[str, Any],
    out: Path,
    num_folds: int,
    student_classes: Sequence[str] | None = None,
) -> list[list[str]]:
    """Write the split file of every teacher fold (rewritten identically on a rerun).

    Fold ``f``'s file (``out/teacher_folds/fold<f>/split.csv``) keeps the
    default split of every image except the MS training images dealt to fold
    ``f``: they join the test split (a split file lists every image), so the
    fold's teacher never trains or selects its checkpoint on them. The
    pipeline calls it before any stage trains, so a K the data cannot support
    fails first.

    Args:
        dataset_class: The benchmark's dataset.
        init_args: The DataModule arguments shared by all stages.
        out: Pipeline output folder.
        num_folds: K >= 2.
        student_classes: RGB classes present (``None``: all), as the
            datamodule's ``student_classes``.

    Returns:
        The MS training images held out of each fold (relative paths, sorted).

    Raises:
        ValueError: If a class has fewer MS training images than K.
    """
    dataset_kwargs = split_kwargs(init_args)
    train = dataset_class(modality='ms', split='train', **dataset_kwargs)
    folds = stratified_folds(
        train.targets.tolist(),
        num_folds,
        int(init_args.get('seed', 0)),
        dataset_class.classes,
        minimum=2,
        option='--teacher-folds',
    )
    rows = default_split_rows(dataset_class, dataset_kwargs, 'ms', None)
    rows += default_split_rows(dataset_class, dataset_kwargs, 'rgb', student_classes)
    train_files = relative_files(train)
    held_out = []
    for fold in range(num_folds):
        held = {f for f, k in zip(train_files, folds, strict=True) if k == fold}
        path = out / 'teacher_folds' / f'fold{fold}' / 'split.csv'
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, 'w', newline='') as file:
            writer = csv.writer(file)
            writer.writerow(('path', 'split'))
            writer.writerows((f, 'test' if f in held else s) for f, s in rows)
        held_out.append(sorted(held))
    return held_out


def out_of_fold_logits(
    datamodule: str,
    init_args: dict[str, Any],
    teacher: dict[str, Any],
    student_teacher: dict[str, Any],
    out: Path,
    held_out: list[list[str]],
    fresh: bool = False,
    inputs: dict[str, str] | None = None,
) -> Path:
    """Train the K fold teachers (or reuse them) and write their logits.

    Args:
        datamodule: Class path of the benchmark's DataModule.
        init_args: Its arguments shared by all stages.
        teacher: The main teacher stage's config (each fold's is a copy with
            its split file).
        student_teacher: The students' ``teacher`` group (a
            :class:`~torchgeo_ackd.models.teacher.TeacherConfig` mapping);
            the fold teachers are built as it says, with their own weights.
        out: Pipeline output folder; fold ``f`` trains in
            ``out/teacher_folds/fold<f>``.
        held_out: Each fold's held-out images, from
            :func:`prepare_teacher_folds` (whose split files the folds train on).
        fresh: Start the fold teachers over.
        inputs: The teacher stage's inputs (data hashes).

    Returns:
        ``out/teacher_folds/out_of_fold_logits.pt``: ``{'files', 'logits',
        'runs'}``, one row per MS training image of the default split, each
        from the fold teacher that did not train on it. Rewritten only when a
        fold teacher's run changed.
    """
    folder = out / 'teacher_folds'
    num_folds = len(held_out)
    runs = {}
    for fold in range(num_folds):
        split = folder / f'fold{fold}' / 'split.csv'
        config = copy.deepcopy(teacher)
        config['data']['init_args']['split_file'] = str(split)
        split_hash = hashlib.sha1(split.read_bytes()).hexdigest()
        result = run_stage(
            f'teacher_fold{fold}',
            config,
            split.parent,
            fresh,
            (inputs or {}) | {'split_file': split_hash},
        )
        runs[fold] = result.run_id
    path = folder / 'out_of_fold_logits.pt'
    if path.is_file() and read_torch_file(path, 'out-of-fold logits')['runs'] == runs:
        return path
    files, logits = [], []
    for fold in range(num_folds):
        files += held_out[fold]
        logits.append(
            _fold_logits(
                datamodule,
                init_args,
                folder / f'fold{fold}',
                student_teacher,
                teacher['model']['init_args']['num_classes'],
                held_out[fold],
            )
        )
    with atomic_open(path, 'wb') as f:
        torch.save({'files': files, 'logits': torch.cat(logits), 'runs': runs}, f)
    print(
        f'[teacher folds] out-of-fold logits of {len(files)} MS training images '
        f'from {num_folds} fold teachers written to {path}',
        flush=True,
    )
    return path


@torch.no_grad()
def _fold_logits(
    datamodule: str,
    init_args: dict[str, Any],
    run: Path,
    teacher_args: dict[str, Any],
    num_classes: int,
    files: list[str],
) -> torch.Tensor:
    """Logits of a fold teacher on its held-out images, as a student sees them.

    The images are normalised with the statistics the fold teacher trained
    with (from its checkpoint), and the teacher is the students'
    :class:`FrozenTeacher` with the fold's weights, so a multi-label teacher's
    logits are converted as the students' are.
    """
    checkpoint = run / 'best.ckpt'
    state = read_torch_file(checkpoint, 'fold teacher checkpoint')
    stats = state[datamodule.rpartition('.')[2]]
    args = init_args | {'modality': 'ms', 'split_file': str(run / 'split.csv')}
    args |= {k: v.tolist() for k, v in stats.items() if k.endswith(('_mean', '_std'))}
    dm = build_datamodule(datamodule, args)
    assert isinstance(dm, ACKDDataModule)
    config = TeacherConfig(**(teacher_args | {'weights': str(checkpoint)}))
    teacher = FrozenTeacher.from_config(config, num_classes)
    dataset = dm.ms_dataset('all')
    teacher.adapt_input(dataset.bands, *dm.statistics('ms'))
    position = {f: i for i, f in enumerate(relative_files(dataset))}
    index = [position[f] for f in files]
    logits = []
    for start in range(0, len(index), 256):
        batch = dataset.__getitems__(index[start : start + 256]).collated
        image = dm.preprocess({'image_ms': batch['image']})['image_ms']
        logits.append(teacher(image).logits.float())
    return torch.cat(logits)
