"""Relational knowledge distillation."""

from torch import Tensor

from .base import DistillationLoss
from .functional import rkd_loss
from .registry import register_kd_loss


@register_kd_loss('rkd')
class RKDLoss(DistillationLoss):
    """Relational KD (Park et al., CVPR 2019) on the pooled embeddings.

    Distance weight 25 and angle weight 50 as in the paper (the ACKD reference
    also multiplied the sum by 0.1: scale the task's ``kd.weight`` for that). Needs the
    embeddings and a batch of at least 3 (2 with ``angle_weight=0``).
    """

    uses_embeddings = True

    def __init__(
        self,
        distance_weight: float = 25.0,
        angle_weight: float = 50.0,
    ) -> None:
        """Initialise the loss.

        Args:
            distance_weight: weight of the distance term.
            angle_weight: weight of the angle term.
        """
        super().__init__()
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute the RKD loss on the embeddings (see :func:`~.functional.rkd_loss`).

        Raises:
            ValueError: if an embedding is missing.
        """
        if student_embedding is None or teacher_embedding is None:
            raise ValueError(
                'RKDLoss needs student_embedding and teacher_embedding (B, D) tensors'
            )
        return rkd_loss(
            student_embedding,
            teacher_embedding,
            distance_weight=self.distance_weight,
            angle_weight=self.angle_weight,
        )
