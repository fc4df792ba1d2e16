"""Initial pairing of Self-supervised Semantic Matching, and pairing files.

After the matcher is trained on MS images only, every real RGB training image
is embedded with the pseudo-RGB encoder M_G, every MS training image with the
MS encoder M_V, and each RGB image is paired with the MS image of its class of
highest cosine similarity (DESIGN 2, stage 3). The pairing is saved twice:

* ``pairing.pt``: a dict with the pairing tensor, the scores and both file
  lists (paths relative to the benchmark root), so that a loader can check it
  belongs to the data it is applied to;
* ``pairing.csv``: the same, human-readable (:func:`write_pairing_csv`).

:func:`load_pairing` reads either one and maps it onto a datamodule's current
file order by file name.
"""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .atomic import atomic_open
from .embed import broadcast_buffers, compute_embeddings, eval_mode
from .pairing_csv import read_pairing_csv, write_pairing_csv
from .search import match_cosine
from .sharding import shard_loader

# Only type hints: runtime imports would be circular (tasks import matching),
# and the search and embedding engine must import with torch alone.
if TYPE_CHECKING:
    from ..datamodules import ACKDDataModule
    from ..datasets import ACKDDataset
    from ..tasks import MatcherTask

#: File names written by :func:`save_pairing`.
PAIRING_PT = 'pairing.pt'
PAIRING_CSV = 'pairing.csv'
#: Version of the ``pairing.pt`` dict layout.
PAIRING_FORMAT_VERSION = 1


def _train_datasets(
    datamodule: 'ACKDDataModule',
) -> tuple['ACKDDataset', 'ACKDDataset']:
    """The MS (gallery) and RGB (student) training sets of a datamodule.

    Uses the datamodule's own instances when it has built them (``setup``),
    otherwise lists the files without storing anything on the datamodule.
    """
    ms = datamodule.ms_train
    rgb = datamodule.rgb_train
    return (
        ms if ms is not None else datamodule.ms_dataset('train'),
        rgb if rgb is not None else datamodule.rgb_dataset('train'),
    )


def _relative_files(dataset: 'ACKDDataset') -> list[str]:
    """The dataset's files as POSIX paths relative to the benchmark root."""
    return [Path(f).relative_to(dataset.root).as_posix() for f in dataset.files]


def initial_pairing(
    matcher: 'MatcherTask',
    datamodule: 'ACKDDataModule',
    chunk_size: int = 4096,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Pair every RGB training sample with its most similar same-class MS sample.

    MS gallery images (``datamodule.gallery_dataloader()``, key ``image_ms``)
    are normalised by ``datamodule.preprocess`` (evaluation pipeline, no
    augmentation) and embedded with M_V and its head; real RGB training images
    (``datamodule.student_dataloader()``, key ``image_rgb``) are normalised with
    the RGB evaluation pipeline through ``datamodule.preprocess`` and embedded with M_G and its head. Both run under :func:`eval_mode`, so
    the matcher's train/eval state is restored afterwards.

    Under :mod:`torch.distributed` every rank takes rank 0's buffers (BatchNorm
    statistics), embeds its shard of both sets, the embeddings are gathered and
    every rank returns the same pairing.

    Args:
        matcher: Trained matcher.
        datamodule: DataModule whose RGB and MS statistics are known, i.e.
            set up in the ``'ms'`` mode with ``pseudo_rgb=True`` or in the
            ``'paired'`` mode (``setup('fit')`` is called if it was not).
        chunk_size: Students per similarity matrix product.
        device: Device of the forward passes (default: the matcher's).

    Returns:
        ``(pairing, scores)`` on the CPU: (N_s,) long index into
        ``datamodule.ms_train`` of each RGB training sample's match, and (N_s,)
        float32 cosine similarity of each pair.

    Raises:
        ValueError: If the datamodule lacks the MS or RGB statistics, or a
            student class has no MS training sample.
    """
    if not hasattr(datamodule, 'pipelines'):
        datamodule.setup('fit')
    missing = [k for k in ('ms_eval', 'rgb_eval') if k not in datamodule.pipelines]
    if missing:
        raise ValueError(
            f'the datamodule has no {missing} normalisation: the initial pairing '
            "needs the MS and RGB statistics; use modality='ms' with "
            "pseudo_rgb=True (the matcher stage) or modality='paired'"
        )
    ms_train, rgb_train = _train_datasets(datamodule)
    device = torch.device(device) if device is not None else matcher.device

    def normalise(batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return datamodule.preprocess(batch, train=False)

    broadcast_buffers(matcher)
    with eval_mode(matcher):
        ms_embedding = compute_embeddings(
            matcher.embed_ms,
            shard_loader(datamodule.gallery_dataloader()),
            len(ms_train),
            key='image_ms',
            device=device,
            transform=normalise,
        )
        rgb_embedding = compute_embeddings(
            matcher.embed_rgb,
            shard_loader(datamodule.student_dataloader()),
            len(rgb_train),
            key='image_rgb',
            device=device,
            transform=normalise,
        )
    pairing, scores = match_cosine(
        rgb_embedding,
        rgb_train.targets.to(device),
        ms_embedding,
        ms_train.targets.to(device),
        chunk_size=chunk_size,
    )
    return pairing.cpu(), scores.float().cpu()


def _atomic_torch_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary sibling, then rename into place."""
    with atomic_open(path, 'wb') as f:
        torch.save(obj, f)


def save_pairing(
    directory: str | os.PathLike[str],
    pairing: Tensor,
    scores: Tensor,
    datamodule: 'ACKDDataModule',
) -> tuple[Path, Path]:
    """Write a pairing as ``pairing.pt`` and ``pairing.csv`` in ``directory``.

    ``pairing.pt`` holds a dict: ``pairing`` (N_s,) long, ``scores`` (N_s,)
    float32, ``student_files`` and ``teacher_files`` (paths relative to the
    benchmark root, in dataset order), ``classes`` (class names) and
    ``format_version``. Both files are written atomically and replace existing
    ones; missing folders are created.

    Args:
        directory: Output folder.
        pairing: (N_s,) index into ``datamodule.ms_train`` per RGB training
            sample.
        scores: (N_s,) score of each pair (cosine similarity, or KL in nats
            for a Dynamic Matching pairing).
        datamodule: DataModule the pairing was computed on.

    Returns:
        Paths of the ``.pt`` and the ``.csv`` file.

    Raises:
        ValueError: If the pairing does not fit the datamodule's training sets
            (length, range or classes).
    """
    ms_train, rgb_train = _train_datasets(datamodule)
    pairing = pairing.detach().cpu()
    scores = scores.detach().cpu()
    from ..datasets import check_pairing  # lazily: the search needs torch only

    check_pairing(pairing, rgb_train.targets, ms_train.targets, rgb_train.classes)
    if scores.shape != pairing.shape:
        raise ValueError(
            f'scores must have shape {tuple(pairing.shape)} like pairing, got '
            f'{tuple(scores.shape)}'
        )
    student_files = _relative_files(rgb_train)
    teacher_files = _relative_files(ms_train)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    pt_path, csv_path = folder / PAIRING_PT, folder / PAIRING_CSV
    _atomic_torch_save(
        {
            'format_version': PAIRING_FORMAT_VERSION,
            'pairing': pairing.long(),
            'scores': scores.float(),
            'student_files': student_files,
            'teacher_files': teacher_files,
            'classes': list(rgb_train.classes),
        },
        pt_path,
    )
    write_pairing_csv(
        csv_path,
        pairing,
        scores,
        student_files,
        teacher_files,
        rgb_train.targets.tolist(),
        rgb_train.classes,
    )
    return pt_path, csv_path


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ', '.join(repr(x) for x in items[:n])
    return shown + (', ...' if len(items) > n else '')


def _read_pairing_pt(
    path: Path, student_files: Sequence[str], teacher_files: Sequence[str]
) -> Tensor:
    """Read ``pairing.pt`` and map it onto the current file lists by name."""
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # Unpickling errors have many types.
        raise ValueError(f'{path}: cannot read a pairing file: {err}') from err
    keys = ('pairing', 'student_files', 'teacher_files')
    if not isinstance(state, dict) or any(k not in state for k in keys):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f'{path}: not a pairing file written by save_pairing; expected a dict '
            f'with keys {list(keys)}, found {found}'
        )
    stored = state['pairing']
    stored_students = list(state['student_files'])
    stored_teachers = list(state['teacher_files'])
    if (
        not isinstance(stored, Tensor)
        or stored.is_floating_point()
        or stored.shape != (len(stored_students),)
        or (
            len(stored)
            and (int(stored.min()) < 0 or int(stored.max()) >= len(stored_teachers))
        )
    ):
        raise ValueError(
            f'{path}: corrupt pairing: expected {len(stored_students)} integer '
            f'teacher indices in [0, {len(stored_teachers)})'
        )

    current_students = {f: i for i, f in enumerate(student_files)}
    current_teachers = {f: i for i, f in enumerate(teacher_files)}
    unknown = [f for f in stored_students if f not in current_students]
    if unknown:
        raise ValueError(
            f'{path}: {len(unknown)} of its {len(stored_students)} student files are '
            f'not RGB training samples of this datamodule (e.g. '
            f'{_examples(unknown)}): the pairing was made for other data (another '
            'benchmark, root, split or seed)'
        )
    pairing = torch.full((len(student_files),), -1, dtype=torch.long)
    for student, teacher in zip(stored_students, stored.tolist(), strict=True):
        name = stored_teachers[teacher]
        if name not in current_teachers:
            raise ValueError(
                f'{path}: student {student!r} is paired with {name!r}, which is not '
                'an MS training sample of this datamodule: the pairing was made for '
                'other data (another benchmark, root, split or seed)'
            )
        pairing[current_students[student]] = current_teachers[name]
    unpaired = [student_files[i] for i in (pairing < 0).nonzero().flatten().tolist()]
    if unpaired:
        raise ValueError(
            f'{path}: {len(unpaired)} of the {len(student_files)} RGB training '
            f'samples have no pair (e.g. {_examples(unpaired)}): the pairing was '
            'made for other data'
        )
    return pairing


def load_pairing(path: str | os.PathLike[str], datamodule: 'ACKDDataModule') -> Tensor:
    """Read a pairing file and map it onto a datamodule's training sets.

    Pairs are matched by file name (relative to the benchmark root), so the
    pairing survives a different listing order; it must cover exactly the
    datamodule's RGB training samples, every paired MS file must be one of its
    MS training samples, and every pair must be within one class.

    Args:
        path: ``pairing.pt`` or ``pairing.csv`` written by
            :func:`save_pairing`, or a folder holding one of them (the
            ``.pt`` is preferred).
        datamodule: DataModule the pairing is for.

    Returns:
        (N_s,) long index into the datamodule's MS training set for each of
        its RGB training samples, e.g. for ``datamodule.set_pairing``.

    Raises:
        FileNotFoundError: If the file (or both files of a folder) is missing.
        ValueError: If the file is not a pairing file, refers to samples the
            datamodule does not have, misses some, or pairs across classes;
            the message names the file.
    """
    file = Path(path)
    if file.is_dir():
        candidates = [file / PAIRING_PT, file / PAIRING_CSV]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FileNotFoundError(
                f'no pairing file in {str(file)!r}: expected {PAIRING_PT} or '
                f'{PAIRING_CSV}'
            )
        file = found[0]
    if not file.is_file():
        raise FileNotFoundError(f'pairing file {str(file)!r} does not exist')
    readers: dict[str, Callable[[Path, Sequence[str], Sequence[str]], Tensor]] = {
        '.pt': _read_pairing_pt,
        '.csv': read_pairing_csv,
    }
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise ValueError(
            f'pairing file {str(file)!r}: unknown format {file.suffix!r}; expected '
            f'{list(readers)}'
        )
    ms_train, rgb_train = _train_datasets(datamodule)
    pairing = reader(file, _relative_files(rgb_train), _relative_files(ms_train))
    from ..datasets import check_pairing  # lazily: the search needs torch only

    try:
        check_pairing(pairing, rgb_train.targets, ms_train.targets, rgb_train.classes)
    except ValueError as err:
        raise ValueError(f'{file}: {err}') from err
    return pairing
