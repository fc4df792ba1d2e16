"""Human-readable pairing files: which teacher sample each student learns from.

One row per student (:data:`PAIRING_COLUMNS`), read back by FILE name, not by
index, so a pairing survives a re-ordering of the dataset.
"""

import csv
import os
from collections.abc import Sequence

import torch
from torch import Tensor

from ..io import atomic_open

#: Column names of a pairing CSV, in order.
PAIRING_COLUMNS = (
    'student_index',
    'student_file',
    'teacher_index',
    'teacher_file',
    'class',
    'score',
    'teacher_load',
)


def _as_vector(name: str, x: Tensor, n: int) -> Tensor:
    """Check that ``x`` is an (n,) tensor and return it on the CPU."""
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a Tensor, got {type(x).__name__}')
    if x.shape != (n,):
        raise ValueError(f'{name} must have shape ({n},), got {tuple(x.shape)}')
    return x.detach().cpu()


def _file_positions(name: str, files: Sequence[str]) -> dict[str, int]:
    """Map each file name to its position; file names must be unique."""
    positions: dict[str, int] = {}
    for i, f in enumerate(files):
        if f in positions:
            raise ValueError(
                f'{name} lists {f!r} twice (positions {positions[f]} and {i}); '
                'files must be unique to be matched by name'
            )
        positions[f] = i
    return positions


def write_pairing_csv(
    path: str | os.PathLike[str],
    pairing: Tensor,
    scores: Tensor,
    student_files: Sequence[str],
    teacher_files: Sequence[str],
    student_labels: Sequence[int],
    class_names: Sequence[str],
    teacher_loads: Tensor | None = None,
) -> None:
    """Write a pairing as a CSV file, atomically (:func:`~torchgeo_ackd.io.atomic_open`).

    Args:
        path: Destination CSV path.
        pairing: (Ns,) integer teacher index of each student.
        scores: (Ns,) matching score of each pair (cosine similarity or KL in nats).
        student_files: Ns student file names, in dataset order.
        teacher_files: Nt teacher file names, in dataset order.
        student_labels: Ns class indices of the students.
        class_names: Class names indexed by class index.
        teacher_loads: (Ns,) how many students share each row's teacher
            (default: counted from *pairing*); its maximum shows hubs.

    Raises:
        TypeError: If ``pairing`` or ``scores`` is not a tensor.
        ValueError: If lengths disagree or an index is out of range.
    """
    n = len(student_files)
    pairing = _as_vector('pairing', pairing, n)
    scores = _as_vector('scores', scores, n)
    if pairing.is_floating_point() or pairing.dtype == torch.bool:
        raise TypeError(f'pairing must be an integer tensor, got {pairing.dtype}')
    if len(student_labels) != n:
        raise ValueError(
            f'student_labels has {len(student_labels)} entries but student_files '
            f'has {n}'
        )
    if n and (int(pairing.min()) < 0 or int(pairing.max()) >= len(teacher_files)):
        raise ValueError(
            f'pairing values must be in [0, {len(teacher_files)}) (the number of '
            f'teacher_files), got min {int(pairing.min())} and max '
            f'{int(pairing.max())}'
        )
    for i, label in enumerate(student_labels):
        if not 0 <= int(label) < len(class_names):
            raise ValueError(
                f'student_labels[{i}] = {label} is outside [0, {len(class_names)}) '
                '(the number of class_names)'
            )

    if teacher_loads is None:
        teacher_loads = torch.bincount(pairing, minlength=len(teacher_files))[pairing]
    loads = _as_vector('teacher_loads', teacher_loads, n).tolist()
    with atomic_open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(PAIRING_COLUMNS)
        for i, (t, s) in enumerate(zip(pairing.tolist(), scores.tolist(), strict=True)):
            name = class_names[int(student_labels[i])]
            row = (i, student_files[i], t, teacher_files[t], name, f'{s:.8g}', loads[i])
            writer.writerow(row)


def read_pairing_csv(
    path: str | os.PathLike[str],
    student_files: Sequence[str],
    teacher_files: Sequence[str],
) -> Tensor:
    """Read a pairing CSV and map it onto the given file lists.

    Rows are matched by their ``student_file`` and ``teacher_file``; the index
    columns are ignored.

    Args:
        path: CSV written by :func:`write_pairing_csv`.
        student_files: Ns student file names, in the current dataset order.
        teacher_files: Nt teacher file names, in the current dataset order.

    Returns:
        (Ns,) long tensor: the teacher position (in ``teacher_files``) paired
        with each student position (in ``student_files``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If a column is missing, a file is not in the given lists
            (naming the CSV line), a student appears twice, or a student of
            ``student_files`` has no row.
    """
    students = _file_positions('student_files', student_files)
    teachers = _file_positions('teacher_files', teacher_files)
    pairing = torch.full((len(student_files),), -1, dtype=torch.long)
    seen_at: dict[int, int] = {}
    path = os.fspath(path)
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        missing = [c for c in ('student_file', 'teacher_file') if c not in fields]
        if missing:
            raise ValueError(
                f'{path}: missing column(s) {missing}; found {reader.fieldnames}'
            )
        for row in reader:
            line = reader.line_num
            student, teacher = row['student_file'], row['teacher_file']
            if student not in students:
                raise ValueError(
                    f'{path} line {line}: student_file {student!r} is not in '
                    'student_files'
                )
            if teacher not in teachers:
                raise ValueError(
                    f'{path} line {line}: teacher_file {teacher!r} is not in '
                    'teacher_files'
                )
            s = students[student]
            if s in seen_at:
                raise ValueError(
                    f'{path} line {line}: student_file {student!r} already paired '
                    f'on line {seen_at[s]}'
                )
            seen_at[s] = line
            pairing[s] = teachers[teacher]
    unpaired = (pairing < 0).nonzero().flatten().tolist()
    if unpaired:
        names = [student_files[i] for i in unpaired[:5]]
        raise ValueError(
            f'{path}: {len(unpaired)} of {len(student_files)} students have no row '
            f'(e.g. {names})'
        )
    return pairing
