"""Hinton knowledge distillation."""

from torch import Tensor

from .base import DistillationLoss
from .functional import kd_loss
from .registry import register_kd_loss


@register_kd_loss('kd')
class KDLoss(DistillationLoss):
    """Vanilla KD (Hinton et al., 2015): KL(teacher || student) at temperature T.

    The default is Hinton's form with the T^2 factor at T = 4; the ACKD
    authors' headline "SemBridge (Vanilla KD)" is
    ``KDLoss(temperature=3.0, scale_by_temperature_squared=False)``.
    """

    def __init__(
        self,
        temperature: float = 4.0,
        scale_by_temperature_squared: bool = True,
    ) -> None:
        """Initialise the loss.

        Args:
            temperature: softmax temperature T > 0.
            scale_by_temperature_squared: whether to multiply by T^2.

        Raises:
            ValueError: if ``temperature`` is not positive.
        """
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be positive, got {temperature!r}')
        self.temperature = float(temperature)
        self.scale_by_temperature_squared = scale_by_temperature_squared

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute the KD loss (see :func:`~.functional.kd_loss`)."""
        return kd_loss(
            student_logits,
            teacher_logits,
            temperature=self.temperature,
            scale_by_temperature_squared=self.scale_by_temperature_squared,
        )
