"""Which split each image of a benchmark belongs to, and the MS multi-label file."""

import csv
import zlib
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

#: The splits a ``path,split`` file may name.
SPLITS = ('train', 'val', 'test')


def random_splits(
    targets: Sequence[int],
    classes: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> list[str]:
    """The default split of every image: seeded, stratified by class.

    Each class's images are shuffled by a generator seeded with *seed* and
    the class name (crc32, not ``hash()``, so every process agrees); the
    first ``round(test_fraction * n)`` are tested, the next
    ``round(val_fraction * n)`` validate, the rest train.

    Args:
        targets: Class index of every image.
        classes: Every class name of the benchmark (indexed by *targets*).
        val_fraction: Fraction of each class for validation.
        test_fraction: Fraction of each class for testing.
        seed: Seed of the split.

    Returns:
        ``'train'``, ``'val'`` or ``'test'`` for every image.
    """
    split_of = ['train'] * len(targets)
    for c in sorted(set(targets)):
        members = [i for i, t in enumerate(targets) if t == c]
        g = torch.Generator().manual_seed(seed + zlib.crc32(classes[c].encode()))
        order = torch.randperm(len(members), generator=g).tolist()
        n_test = round(test_fraction * len(members))
        n_val = round(val_fraction * len(members))
        for j in order[:n_test]:
            split_of[members[j]] = 'test'
        for j in order[n_test : n_test + n_val]:
            split_of[members[j]] = 'val'
    return split_of


def read_split_file(path: Path, files: Sequence[Path], root: Path) -> list[str]:
    """The split of every image from a ``path,split`` CSV that lists them all.

    Args:
        path: The CSV, paths relative to *root*; it may also list other files.
        files: The images whose split is wanted.
        root: The benchmark root.

    Returns:
        ``'train'``, ``'val'`` or ``'test'`` for every file of *files*.

    Raises:
        FileNotFoundError: If the CSV, or a file it lists, does not exist.
        ValueError: If a column or a split name is wrong, or a file of
            *files* is not listed.
    """
    if not path.is_file():
        raise FileNotFoundError(f'split file {str(path)!r} does not exist')
    assigned: dict[Path, str] = {}
    wanted = set(files)
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {'path', 'split'} <= set(reader.fieldnames):
            raise ValueError(f'split file {str(path)!r} needs columns path,split')
        for line, row in enumerate(reader, start=2):
            file = root / row['path']
            if row['split'] not in SPLITS:
                raise ValueError(
                    f'{path}:{line}: split {row["split"]!r}; expected train, val or test'
                )
            if not file.is_file():
                raise FileNotFoundError(
                    f'{path}:{line}: file {str(file)!r} does not exist'
                )
            if file in wanted:
                assigned[file] = row['split']
    unlisted = [str(f) for f in files if f not in assigned]
    if unlisted:
        raise ValueError(
            f'split file {str(path)!r} does not list {len(unlisted)} files, '
            f'e.g. {unlisted[:3]}'
        )
    return [assigned[f] for f in files]


def read_multilabels(
    path: Path,
    files: Sequence[Path],
    folder: Path,
    targets: Tensor,
    classes: Sequence[str],
) -> Tensor:
    """Read the multi-hot labels of MS images from their sidecar CSV.

    Columns: ``path`` (relative to *folder*) and ``labels`` (names separated by
    ``;``). The folder class of every file must be among its labels.

    Args:
        path: The sidecar CSV.
        files: The images.
        folder: The MS folder.
        targets: (N,) the folder class of every image.
        classes: Every class name of the benchmark.

    Returns:
        (N, num_classes) multi-hot labels.

    Raises:
        FileNotFoundError: If the sidecar is missing.
        ValueError: If it names an unknown class, misses an image, or leaves
            out an image's folder class.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f'the MS labels are multi-label: expected the sidecar file '
            f'{str(path)!r} with columns path,labels'
        )
    table: dict[str, list[str]] = {}
    with open(path, newline='') as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            names = [n for n in row['labels'].split(';') if n]
            unknown = [n for n in names if n not in classes]
            if unknown:
                raise ValueError(f'{path}:{line}: unknown classes {unknown}')
            table[row['path']] = names
    multihot = torch.zeros(len(files), len(classes))
    for i, file in enumerate(files):
        key = file.relative_to(folder).as_posix()
        if key not in table:
            raise ValueError(f'{str(path)!r} has no labels for {key!r}')
        names = table[key]
        if classes[int(targets[i])] not in names:
            raise ValueError(
                f'{str(path)!r}: labels {names} of {key!r} do not include its '
                f'folder class {classes[int(targets[i])]!r}'
            )
        multihot[i, [classes.index(n) for n in names]] = 1.0
    return multihot
