"""The pairing of student (RGB) samples with teacher (MS) gallery samples.

:class:`Pairing` is the package's one type for "which teacher sample does each
student sample learn from". It carries its file lists (relative to the benchmark
root), so it can always be checked against, and mapped onto, the datasets it is
applied to. On disk it is ``pairing.pt`` (:meth:`Pairing.state_dict`, loadable
with ``weights_only=True``) and ``pairing.csv`` (one readable row per student).
"""

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import MissingStageOutputError
from ..io import atomic_open, file_hashes, fingerprint, read_torch_file
from .ackd import ACKDDataset
from .pairing_csv import read_pairing_csv, write_pairing_csv
from .same_class import check_pairing, random_same_class_pairing

#: File names written by :meth:`Pairing.save`.
PAIRING_PT = 'pairing.pt'
PAIRING_CSV = 'pairing.csv'
#: Version of the ``pairing.pt`` dict layout.
PAIRING_FORMAT_VERSION = 1


def relative_files(dataset: ACKDDataset) -> tuple[str, ...]:
    """A dataset's files as POSIX paths relative to its benchmark root."""
    return tuple(Path(f).relative_to(dataset.root).as_posix() for f in dataset.files)


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ', '.join(repr(x) for x in items[:n])
    return shown + (', ...' if len(items) > n else '')


@dataclass(frozen=True, eq=False)
class Pairing:
    """One teacher gallery sample per student sample, with the files it refers to.

    Attributes:
        teacher_index: (N_s,) int64 index into :attr:`teacher_files` per student.
        scores: (N_s,) float32 score of each pair (cosine similarity after SSM,
            KL in nats after a Dynamic Matching; NaN when unknown).
        student_files: N_s student files, relative to the benchmark root.
        teacher_files: N_t teacher gallery files, relative to the root.
        student_labels: (N_s,) int64 class index of each student.
        classes: Class names indexed by class index.
        source: The file the pairing was read from (for messages), if any.
        epoch: The epoch a Dynamic Matching made it at (``None``: initial pairing).
        data_fingerprint: :meth:`content_fingerprint` when it was made, so that it
            is refused for other pixels under the same names (``None``: unknown).
    """

    teacher_index: Tensor
    scores: Tensor
    student_files: tuple[str, ...]
    teacher_files: tuple[str, ...]
    student_labels: Tensor
    classes: tuple[str, ...]
    source: str | None = None
    epoch: int | None = None
    data_fingerprint: str | None = None

    def __post_init__(self) -> None:
        """Bring tensors to the CPU and check the shapes."""
        n = len(self.student_files)
        fields = {
            'teacher_index': self.teacher_index.detach().cpu().long(),
            'scores': self.scores.detach().cpu().float(),
            'student_labels': self.student_labels.detach().cpu().long(),
        }
        for name, value in fields.items():
            if value.shape != (n,):
                raise ValueError(
                    f'{self._where()}{name} must have shape ({n},) like '
                    f'student_files, got {tuple(value.shape)}'
                )
            object.__setattr__(self, name, value)
        if n and (
            int(fields['teacher_index'].min()) < 0
            or int(fields['teacher_index'].max()) >= len(self.teacher_files)
        ):
            raise ValueError(
                f'{self._where()}teacher indices must lie in '
                f'[0, {len(self.teacher_files)})'
            )

    def _where(self) -> str:
        return f'{self.source}: ' if self.source else ''

    def __len__(self) -> int:
        """Number of student samples."""
        return len(self.student_files)

    @classmethod
    def for_datasets(
        cls,
        teacher_index: Tensor,
        student: ACKDDataset,
        teacher: ACKDDataset,
        scores: Tensor | None = None,
    ) -> 'Pairing':
        """A pairing of two datasets' samples in their order, checked.

        Args:
            teacher_index: (N_s,) index into *teacher* per sample of *student*.
            student: The RGB training set.
            teacher: The MS gallery.
            scores: (N_s,) score per pair (default: NaN).

        Returns:
            The pairing.

        Raises:
            ValueError: If it is not one in-range, same-class teacher per student.
        """
        check_pairing(teacher_index, student.targets, teacher.targets, student.classes)
        if scores is None:
            scores = torch.full((len(teacher_index),), math.nan)
        pairing = cls(
            teacher_index,
            scores,
            relative_files(student),
            relative_files(teacher),
            student.targets,
            tuple(student.classes),
        )
        fingerprint = pairing.content_fingerprint(student.root)
        return dataclasses.replace(pairing, data_fingerprint=fingerprint)

    def content_fingerprint(self, root: str | os.PathLike[str]) -> str:
        """Digest of the names and current contents of the paired files.

        Args:
            root: The benchmark root the file names are relative to.

        Returns:
            A hex digest over the student files and their paired teachers.
        """
        root = Path(root)
        paired = {self.teacher_files[t] for t in self.teacher_index.unique().tolist()}
        names = sorted(set(self.student_files) | paired)
        return fingerprint(file_hashes([root / n for n in names], root))

    @classmethod
    def random(
        cls, student: ACKDDataset, teacher: ACKDDataset, seed: int = 0
    ) -> 'Pairing':
        """A seeded random same-class pairing (see :func:`random_same_class_pairing`).

        Args:
            student: The RGB training set.
            teacher: The MS gallery.
            seed: Seed of the random choice.

        Returns:
            The pairing.
        """
        index = random_same_class_pairing(
            student.targets, teacher.targets, seed, student.classes
        )
        return cls.for_datasets(index, student, teacher)

    def remap(self, student: ACKDDataset, teacher: ACKDDataset) -> 'Pairing':
        """Map the pairing onto two datasets by file name, and check it.

        Pairs are matched by file name, so the listing order may differ; the
        pairing must cover exactly the student samples, with every paired teacher
        in *teacher* and every pair within one class.

        Args:
            student: The RGB training set.
            teacher: The MS gallery.

        Returns:
            The same pairs, indexed in the datasets' order.

        Raises:
            ValueError: If the pairing was made for other data (naming its file).
        """
        student_files, teacher_files = relative_files(student), relative_files(teacher)
        fits = (
            student_files == self.student_files and teacher_files == self.teacher_files
        )
        index, scores = (
            (self.teacher_index, self.scores)
            if fits
            else self._remap_by_name(student_files, teacher_files)
        )
        try:
            check_pairing(index, student.targets, teacher.targets, student.classes)
        except ValueError as err:
            raise ValueError(f'{self._where()}{err}') from err
        if fits:
            return self
        return dataclasses.replace(
            self,
            teacher_index=index,
            scores=scores,
            student_files=student_files,
            teacher_files=teacher_files,
            student_labels=student.targets,
            classes=tuple(student.classes),
        )

    def _remap_by_name(
        self, student_files: Sequence[str], teacher_files: Sequence[str]
    ) -> tuple[Tensor, Tensor]:
        students = {f: i for i, f in enumerate(student_files)}
        teachers = {f: i for i, f in enumerate(teacher_files)}
        unknown = [f for f in self.student_files if f not in students]
        if unknown:
            raise ValueError(
                f'{self._where()}{len(unknown)} of its {len(self)} student files are '
                f'not RGB training samples of this datamodule (e.g. '
                f'{_examples(unknown)}): the pairing was made for other data '
                '(another benchmark, root, split or seed)'
            )
        index = torch.full((len(student_files),), -1, dtype=torch.long)
        scores = torch.full((len(student_files),), math.nan)
        for s, t, score in zip(
            self.student_files,
            self.teacher_index.tolist(),
            self.scores.tolist(),
            strict=True,
        ):
            name = self.teacher_files[t]
            if name not in teachers:
                raise ValueError(
                    f'{self._where()}student {s!r} is paired with {name!r}, which is '
                    'not an MS training sample of this datamodule: the pairing was '
                    'made for other data (another benchmark, root, split or seed)'
                )
            index[students[s]] = teachers[name]
            scores[students[s]] = score
        unpaired = [student_files[i] for i in (index < 0).nonzero().flatten().tolist()]
        if unpaired:
            raise ValueError(
                f'{self._where()}{len(unpaired)} of the {len(student_files)} RGB '
                f'training samples have no pair (e.g. {_examples(unpaired)}): the '
                'pairing was made for other data'
            )
        return index, scores

    def distinct_teachers(self) -> int:
        """Number of distinct teacher samples in use."""
        return int(torch.unique(self.teacher_index).numel())

    def loads(self) -> Tensor:
        """(N_s,) how many students share each student's teacher."""
        counts = torch.bincount(self.teacher_index, minlength=len(self.teacher_files))
        return counts[self.teacher_index]

    def max_load(self) -> int:
        """The largest number of students on one teacher (hubness)."""
        return int(self.loads().max()) if len(self) else 0

    def state_dict(self) -> dict[str, Any]:
        """The pairing as tensors and strings (checkpoints and ``pairing.pt``).

        Returns:
            A dict loadable with ``torch.load(..., weights_only=True)``.
        """
        return {
            'format_version': PAIRING_FORMAT_VERSION,
            'pairing': self.teacher_index.clone(),
            'scores': self.scores.clone(),
            'student_files': list(self.student_files),
            'teacher_files': list(self.teacher_files),
            'student_labels': self.student_labels.clone(),
            'classes': list(self.classes),
            'epoch': self.epoch,
            'data_fingerprint': self.data_fingerprint,
        }

    @classmethod
    def from_state_dict(cls, state: object, source: str | None = None) -> 'Pairing':
        """Rebuild a pairing from :meth:`state_dict`.

        Args:
            state: The dict.
            source: Where it was read from, for messages.

        Returns:
            The pairing.

        Raises:
            ValueError: If *state* is not such a dict.
        """
        where = f'{source}: ' if source else ''
        keys = ('pairing', 'student_files', 'teacher_files')
        if not isinstance(state, dict) or any(k not in state for k in keys):
            found = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f'{where}not a pairing file written by Pairing.save; expected a dict '
                f'with keys {list(keys)}, found {found}'
            )
        index = state['pairing']
        students = tuple(state['student_files'])
        if (
            not isinstance(index, Tensor)
            or index.is_floating_point()
            or index.shape != (len(students),)
        ):
            raise ValueError(
                f'{where}corrupt pairing: expected {len(students)} integer teacher '
                'indices'
            )
        n = len(students)
        return cls(
            index,
            state.get('scores', torch.full((n,), math.nan)),
            students,
            tuple(state['teacher_files']),
            # Older files lack labels: only the CSV needs them; remap() restores them.
            state.get('student_labels', torch.zeros(n, dtype=torch.long)),
            tuple(state.get('classes', ())),
            source,
            state.get('epoch'),
            state.get('data_fingerprint'),
        )

    def save(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``pairing.pt`` and ``pairing.csv`` into *directory*, atomically.

        Existing files are replaced; missing folders are created.

        Args:
            directory: Output folder.

        Returns:
            Paths of the ``.pt`` and the ``.csv`` file.
        """
        folder = Path(directory)
        pt_path, csv_path = folder / PAIRING_PT, folder / PAIRING_CSV
        with atomic_open(pt_path, 'wb') as f:
            torch.save(self.state_dict(), f)
        write_pairing_csv(
            csv_path,
            self.teacher_index,
            self.scores,
            self.student_files,
            self.teacher_files,
            self.student_labels.tolist(),
            self.classes,
            self.loads(),
        )
        return pt_path, csv_path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        student: ACKDDataset,
        teacher: ACKDDataset,
    ) -> 'Pairing':
        """Read a pairing file and map it onto two datasets (see :meth:`remap`).

        Args:
            path: ``pairing.pt`` or ``pairing.csv`` written by :meth:`save`,
                or a folder holding one of them (the ``.pt`` is preferred).
            student: The RGB training set.
            teacher: The MS gallery.

        Returns:
            The pairing, in the datasets' order.

        Raises:
            FileNotFoundError: If the file (or both files of a folder) is missing.
            ValueError: If the file is not a pairing file or was made for other
                data; the message names the file.
        """
        file = Path(path)
        if file.is_dir():
            found = [c for c in (file / PAIRING_PT, file / PAIRING_CSV) if c.is_file()]
            if not found:
                raise FileNotFoundError(
                    f'no pairing file in {str(file)!r}: expected {PAIRING_PT} or '
                    f'{PAIRING_CSV}'
                )
            file = found[0]
        if not file.is_file():
            raise MissingStageOutputError('pairing file', file, 'matcher')
        suffix = file.suffix.lower()
        if suffix == '.csv':
            index = read_pairing_csv(
                file, relative_files(student), relative_files(teacher)
            )
            try:
                return cls.for_datasets(index, student, teacher)
            except ValueError as err:
                raise ValueError(f'{file}: {err}') from err
        if suffix != '.pt':
            raise ValueError(
                f'pairing file {str(file)!r}: unknown format {file.suffix!r}; '
                "expected ['.pt', '.csv']"
            )
        pairing = cls.read(file).remap(student, teacher)
        stored = pairing.data_fingerprint
        if stored is not None and stored != pairing.content_fingerprint(student.root):
            raise ValueError(
                f'pairing file {str(file)!r} was computed on other images than the '
                f'ones now under {str(student.root)!r} (same file names, other '
                'content); compute it again for these images (the matcher stage '
                'writes it)'
            )
        return pairing

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> 'Pairing':
        """Read a ``pairing.pt`` as written, without mapping it onto datasets.

        Args:
            path: The ``pairing.pt`` file.

        Returns:
            The pairing (file lists as stored).
        """
        state = read_torch_file(path, 'pairing file')
        return cls.from_state_dict(state, str(path))
