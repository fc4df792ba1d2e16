"""The class constraint of every pairing: each student learns from a teacher of its class."""

from collections.abc import Sequence

import torch
from torch import Tensor


def check_pairing(
    pairing: Tensor,
    student_targets: Tensor,
    teacher_targets: Tensor,
    class_names: Sequence[str] | None = None,
) -> None:
    """Check that a pairing is valid: one in-range, same-class teacher per student.

    Args:
        pairing: Teacher index per student, shape (N_s,), integer.
        student_targets: Class index per student, shape (N_s,).
        teacher_targets: Class index per teacher gallery sample, shape (N_t,).
        class_names: Optional names used in error messages.

    Raises:
        ValueError: If the shape, dtype, range or classes are wrong.
    """
    if pairing.dtype not in (torch.int32, torch.int64):
        raise ValueError(f'pairing must be an integer tensor, got {pairing.dtype}')
    if pairing.shape != student_targets.shape:
        raise ValueError(
            f'pairing has shape {tuple(pairing.shape)}; expected one teacher index '
            f'per student sample, shape {tuple(student_targets.shape)}'
        )
    if len(pairing) and (pairing.min() < 0 or pairing.max() >= len(teacher_targets)):
        raise ValueError(
            f'pairing refers to teacher indices outside [0, {len(teacher_targets)})'
        )
    wrong = (teacher_targets[pairing.long()] != student_targets).nonzero().flatten()
    if len(wrong):
        i = int(wrong[0])
        got, want = int(teacher_targets[pairing[i]]), int(student_targets[i])
        if class_names is not None:
            got_name, want_name = class_names[got], class_names[want]
        else:
            got_name, want_name = str(got), str(want)
        raise ValueError(
            f'pairing is not within-class at {len(wrong)} students, e.g. student '
            f'{i} (class {want_name}) -> teacher {int(pairing[i])} (class {got_name})'
        )


def random_same_class_pairing(
    student_targets: Tensor,
    teacher_targets: Tensor,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
) -> Tensor:
    """Pair every student with a uniformly random teacher sample of its class.

    This is the pairing of the plain SCKD baseline under the ACKD setting (no
    matching) and the default before a matcher has been trained.

    Args:
        student_targets: Class index per student, shape (N_s,).
        teacher_targets: Class index per teacher gallery sample, shape (N_t,).
        seed: Seed of the random choice.
        class_names: Optional names used in error messages.

    Returns:
        Teacher index per student, shape (N_s,), int64.

    Raises:
        ValueError: If a student class has no teacher sample.
    """
    g = torch.Generator().manual_seed(seed)
    pairing = torch.empty_like(student_targets, dtype=torch.long)
    for c in torch.unique(student_targets).tolist():
        students = (student_targets == c).nonzero().flatten()
        teachers = (teacher_targets == c).nonzero().flatten()
        if len(teachers) == 0:
            name = class_names[c] if class_names is not None else str(c)
            raise ValueError(
                f'student class {name!r} ({len(students)} samples) has no teacher '
                'samples of that class; every student class needs MS samples'
            )
        choice = torch.randint(len(teachers), (len(students),), generator=g)
        pairing[students] = teachers[choice]
    return pairing
