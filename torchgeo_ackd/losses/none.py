"""The empty distillation loss, so a config can say ``kd: none``."""

from torch import Tensor

from .base import DistillationLoss
from .registry import register_kd_loss


@register_kd_loss('none')
class NoKDLoss(DistillationLoss):
    """No distillation: always an exact zero.

    The zero is a constant (no autograd graph); adding it to a loss that has a
    graph leaves that graph intact.
    """

    needs_teacher = False

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Return a scalar zero on the logits' device and dtype."""
        return student_logits.new_zeros(())
