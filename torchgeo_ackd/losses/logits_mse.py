"""Mean squared error between logits (the reference's "Logits" method)."""

from torch import Tensor

from .base import DistillationLoss
from .functional import logits_mse_loss
from .registry import register_kd_loss


@register_kd_loss('logits')
class LogitsMSELoss(DistillationLoss):
    """MSE between student and teacher logits (Ba & Caruana, NeurIPS 2014).

    The ACKD reference's "Logits" method weights it by 0.01: set the task's
    ``kd.weight`` accordingly.
    """

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute the logit MSE (see :func:`~.functional.logits_mse_loss`)."""
        return logits_mse_loss(student_logits, teacher_logits)
