"""What the students of a pairing are taught: statistics of the matched teachers."""

from typing import NamedTuple

import torch
from torch import Tensor


class MatchedTeachers(NamedTuple):
    """Means over students of what their matched teacher's soft label says.

    Attributes:
        entropy: Entropy of the soft label ``softmax(z_t / T)`` in nats
            (0: one-hot; ``log K``: uniform).
        true_class_probability: Probability the soft label gives the pair's class.
        wrong_fraction: Share of students whose teacher's top class is not the
            pair's class (the teacher misclassifies its MS image).
    """

    entropy: Tensor
    true_class_probability: Tensor
    wrong_fraction: Tensor


def matched_teachers(
    teacher_logits: Tensor,
    teacher_classes: Tensor,
    teacher_index: Tensor,
    temperature: float,
) -> MatchedTeachers:
    """Describe the soft labels a pairing hands its students.

    Args:
        teacher_logits: (N_t, K) teacher logits of the gallery.
        teacher_classes: (N_t,) class of each gallery image (= its pairs' class).
        teacher_index: (N_s,) gallery index of each student's teacher.
        temperature: Softmax temperature of the distillation (T).

    Returns:
        The means over the N_s students (0-dim float tensors).
    """
    index = teacher_index.to(teacher_logits.device)
    logits = teacher_logits[index].float() / temperature
    classes = teacher_classes.to(teacher_logits.device)[index]
    log_p = torch.log_softmax(logits, dim=1)
    entropy = -(log_p.exp() * log_p).sum(dim=1)
    true_p = log_p.gather(1, classes[:, None]).squeeze(1).exp()
    wrong = (logits.argmax(dim=1) != classes).float()
    return MatchedTeachers(entropy.mean(), true_p.mean(), wrong.mean())
