"""Check every image of a benchmark before anything trains."""

import os
from collections.abc import Sequence
from pathlib import Path

from ..io import PreflightError, cached_summaries, check_files, check_sha256sums
from .ackd import ACKDDataset


def preflight(
    dataset_class: type[ACKDDataset],
    root: str | os.PathLike[str],
    modalities: Sequence[str] = ('ms', 'rgb'),
    student_classes: Sequence[str] | None = None,
) -> None:
    """Check every image of each modality of a benchmark.

    :func:`~torchgeo_ackd.io.check_files`, and
    :func:`~torchgeo_ackd.io.check_sha256sums` when the root has ``SHA256SUMS``.

    Args:
        dataset_class: The benchmark's dataset.
        root: Benchmark root.
        modalities: Which sides to check.
        student_classes: RGB class folders present (``None``: all).

    Raises:
        PreflightError: Listing every problem found, each with its file.
        ValueError: If the folder layout itself is wrong (from the dataset).
    """
    root = Path(root)
    problems: list[str] = []
    with cached_summaries(root):
        for modality in modalities:
            classes = student_classes if modality == 'rgb' else None
            dataset = dataset_class(
                root, modality=modality, split='all', classes=classes
            )
            problems += check_files(
                dataset.files, modality, dataset.sensor.bands, dataset.size, root
            )
            problems += check_sha256sums(dataset.files, root)
    if problems:
        raise PreflightError(
            f'{len(problems)} problem(s) with the images under {str(root)!r} '
            '(nothing was trained or written):\n  ' + '\n  '.join(problems)
        )
