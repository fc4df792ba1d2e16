"""Student samples joined with their currently paired teacher samples."""

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .ackd import ACKDDataset, Sample
from .pairing import check_pairing


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
        #: Read the teacher image (set False when the task caches the teacher's
        #: outputs per gallery sample; ``teacher_index`` is then all it needs).
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
