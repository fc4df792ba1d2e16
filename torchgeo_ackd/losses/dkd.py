"""Decoupled knowledge distillation."""

from torch import Tensor

from .base import DistillationLoss
from .functional import dkd_loss, linear_warmup
from .registry import register_kd_loss


@register_kd_loss('dkd')
class DKDLoss(DistillationLoss):
    """Decoupled KD (Zhao et al., CVPR 2022) with mdistiller's linear warm-up.

    The loss is ``warmup * (alpha * TCKD + beta * NCKD)`` where
    ``warmup = min(e / warmup_epochs, 1)`` and e counts epochs from
    ``first_epoch``. By default (``first_epoch=1``) e is the 1-based epoch, as
    in mdistiller (whose training loop counts epochs from 1): after
    ``set_epoch(epoch)`` (0-based, Lightning's) the factor is
    ``min((epoch + 1) / warmup_epochs, 1)``, 1/20 in the first epoch. The ACKD
    reference passes its 0-based epoch (``first_epoch=0``: factor 0 in the
    first epoch, ``epoch / 20`` after; the paper configs). Defaults are the
    DKD authors': alpha 1, beta 8, T 4, 20 warm-up epochs.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 8.0,
        temperature: float = 4.0,
        warmup_epochs: int = 20,
        first_epoch: int = 1,
    ) -> None:
        """Initialise the loss.

        Args:
            alpha: weight of the target-class term (TCKD).
            beta: weight of the non-target-class term (NCKD).
            temperature: softmax temperature T > 0.
            warmup_epochs: length of the linear warm-up; 0 disables it.
            first_epoch: the count the warm-up gives the first epoch: 1 as
                mdistiller, 0 as the ACKD reference.

        Raises:
            ValueError: if ``temperature`` is not positive, ``warmup_epochs``
                is negative or ``first_epoch`` is not 0 or 1.
        """
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be positive, got {temperature!r}')
        if warmup_epochs < 0:
            raise ValueError(f'warmup_epochs must be >= 0, got {warmup_epochs!r}')
        if first_epoch not in (0, 1):
            raise ValueError(f'first_epoch must be 0 or 1, got {first_epoch!r}')
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.warmup_epochs = warmup_epochs
        self.first_epoch = first_epoch

    @property
    def warmup_factor(self) -> float:
        """Warm-up factor of the current epoch, min((epoch + first_epoch) / warmup, 1)."""
        return linear_warmup(self.epoch + self.first_epoch, self.warmup_epochs)

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute the warmed-up DKD loss (see :func:`~.functional.dkd_loss`)."""
        loss = dkd_loss(
            student_logits,
            teacher_logits,
            target,
            alpha=self.alpha,
            beta=self.beta,
            temperature=self.temperature,
        )
        return self.warmup_factor * loss
