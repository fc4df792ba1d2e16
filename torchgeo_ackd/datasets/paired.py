"""Dataset views (students with their paired teachers, renamed keys) and the pairs' figure."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import Dataset

from ..transforms import PseudoRGB
from .ackd import ACKDDataset, Sample
from .batch import FetchedBatch
from .pairing import Pairing
from .same_class import check_pairing


class PairedDataset(Dataset[Sample]):
    """Each RGB student sample with the MS teacher sample it is paired with.

    The pairing lives in a shared-memory tensor and is replaced IN PLACE by
    :meth:`set_pairing`, so loader workers (also persistent ones) see a new
    pairing from their next sample on, without rebuilding any dataset.
    """

    def __init__(
        self, student: ACKDDataset, teacher: ACKDDataset, pairing: Tensor
    ) -> None:
        """Initialize a new PairedDataset instance.

        Args:
            student: The RGB training split.
            teacher: The MS training split (the teacher gallery).
            pairing: Teacher index per student sample, shape (N_s,).
        """
        self.student = student
        self.teacher = teacher
        check_pairing(pairing, student.targets, teacher.targets, student.classes)
        self.pairing = pairing.clone().long().share_memory_()
        #: Read the teacher image (False when the task caches the teacher outputs).
        self.load_teacher = True

    def set_pairing(self, pairing: Tensor) -> None:
        """Replace the pairing in place (seen by all loader workers).

        Args:
            pairing: Teacher index per student sample, shape (N_s,).
        """
        check_pairing(
            pairing, self.student.targets, self.teacher.targets, self.student.classes
        )
        self.pairing.copy_(pairing)

    def __len__(self) -> int:
        """Number of student samples."""
        return len(self.student)

    def __getitem__(self, index: int) -> Sample:
        """Return a student sample and its paired teacher sample.

        Args:
            index: Student index.

        Returns:
            ``image`` (3, H, W) RGB, ``label``, ``index``, ``image_ms``
            (C, H', W') and ``teacher_index``.
        """
        student = self.student[index]
        teacher_index = int(self.pairing[index])
        sample: dict[str, Any] = dict(student)
        if self.load_teacher:
            sample['image_ms'] = self.teacher[teacher_index]['image']
        sample['teacher_index'] = torch.tensor(teacher_index)
        return sample

    def __getitems__(self, indices: Sequence[int]) -> FetchedBatch:
        """Return the student samples of one batch with their teacher samples.

        Args:
            indices: Student indexes.

        Returns:
            The samples and their batch, as :meth:`__getitem__` gives them
            (images of decoded splits in their stored type).
        """
        batch = dict(self.student.__getitems__(indices).collated)
        teacher_index = self.pairing[torch.as_tensor(indices, dtype=torch.long)]
        if self.load_teacher:
            teachers = self.teacher.__getitems__(teacher_index.tolist())
            batch['image_ms'] = teachers.collated['image']
        batch['teacher_index'] = teacher_index
        return FetchedBatch(batch)


class RenamedDataset(Dataset[Sample]):
    """A view of a dataset that renames its ``image`` key (e.g. to ``image_ms``)."""

    def __init__(self, dataset: ACKDDataset, key: str) -> None:
        """Initialize a new RenamedDataset instance.

        Args:
            dataset: Dataset to wrap.
            key: New name of the ``image`` key.
        """
        self.dataset = dataset
        self.key = key

    def __len__(self) -> int:
        """Length of the wrapped dataset."""
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        """Return the wrapped sample with ``image`` renamed.

        Args:
            index: Sample index.

        Returns:
            The sample, with its image under :attr:`key`.
        """
        sample = dict(self.dataset[index])
        sample[self.key] = sample.pop('image')
        return sample

    def __getitems__(self, indices: Sequence[int]) -> FetchedBatch:
        """Return the wrapped samples of one batch with ``image`` renamed.

        Args:
            indices: Sample indexes.

        Returns:
            The samples and their batch (:meth:`ACKDDataset.__getitems__`).
        """
        batch = dict(self.dataset.__getitems__(indices).collated)
        batch[self.key] = batch.pop('image')
        return FetchedBatch(batch)


def plot_pairs(
    student: ACKDDataset,
    teacher: ACKDDataset,
    columns: Sequence[tuple[str, Pairing]],
    num_pairs: int = 8,
) -> Figure:
    """Student RGB images next to the pseudo-RGB of their teachers.

    Args:
        student: The RGB training set.
        teacher: The MS gallery.
        columns: ``(title, pairing)`` per teacher column (e.g. after SSM and after
            the last re-matching), each mapped onto the datasets by file name.
        num_pairs: Rows, spread evenly over the students.

    Returns:
        The figure: one row per student.
    """
    mapped = [(title, p.remap(student, teacher)) for title, p in columns]
    rows = np.linspace(0, len(student) - 1, min(num_pairs, len(student))).astype(int)
    pseudo = PseudoRGB(teacher.sensor, teacher.bands)
    fig = Figure(figsize=(2 * (1 + len(mapped)), 2 * len(rows)))
    axes = fig.subplots(len(rows), 1 + len(mapped), squeeze=False)
    for row, s in enumerate(rows.tolist()):
        name = student.classes[int(student.targets[s])]
        panels = [(student[s]['image'] / student.sensor.scale, f'RGB #{s}: {name}')]
        for title, pairing in mapped:
            t = int(pairing.teacher_index[s])
            image = pseudo(teacher[t]['image'][None].float())[0] / 255
            panels.append((image, f'MS #{t} ({title})'))
        for ax, (image, label) in zip(axes[row], panels, strict=True):
            ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(label, fontsize=7)
            ax.axis('off')
    fig.suptitle('Matched pairs: student RGB | teacher pseudo-RGB', fontsize=9)
    fig.tight_layout()
    return fig
