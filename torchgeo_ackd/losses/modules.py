"""The registered distillation losses, modules around :mod:`.functional`."""

import torch
from torch import Tensor, nn

from .base import DistillationLoss
from .functional import (
    cosine_decay,
    dkd_loss,
    gradient_reversal,
    kd_loss,
    linear_warmup,
    logits_mse_loss,
    lskd_loss,
    rkd_loss,
)
from .registry import register_kd_loss


@register_kd_loss('ctkd')
class CTKDLoss(DistillationLoss):
    """Curriculum temperature KD (Li et al., AAAI 2023) with a global temperature.

    The loss is Hinton KD at ``tau = temperature_start + temperature_range *
    sigmoid(GRL(theta))`` for a learnable scalar theta. The gradient reversal layer
    multiplies theta's gradient by lambda, a cosine from ``lambda_max`` to
    ``lambda_min`` over ``cosine_epochs`` evaluated at ``epoch + first_epoch``.
    Defaults are the CTKD paper's; the ACKD authors used ``first_epoch=0``, 5
    cosine epochs and no tau^2. Include this module's parameters in the optimiser.
    """

    def __init__(
        self,
        temperature_start: float = 1.0,
        temperature_range: float = 20.0,
        initial_theta: float = 1.0,
        cosine_epochs: int = 10,
        lambda_max: float = 0.0,
        lambda_min: float = -1.0,
        scale_by_temperature_squared: bool = True,
        first_epoch: int = 1,
    ) -> None:
        """Initialise the loss.

        Args:
            temperature_start: lowest temperature (tau at sigmoid = 0), > 0.
            temperature_range: width of the temperature interval, >= 0.
            initial_theta: initial value of the learnable theta.
            cosine_epochs: epochs of lambda's cosine, > 0.
            lambda_max: lambda at the start of training.
            lambda_min: lambda at the end of the cosine.
            scale_by_temperature_squared: whether to multiply KD by tau^2.
            first_epoch: the count of the first epoch: 1 as CTKD's code, 0 as ACKD's.

        Raises:
            ValueError: on a non-positive start temperature or cosine length, or
                a negative range.
        """
        super().__init__()
        if not temperature_start > 0:
            raise ValueError(
                f'temperature_start must be positive, got {temperature_start!r}'
            )
        if temperature_range < 0:
            raise ValueError(
                f'temperature_range must be >= 0, got {temperature_range!r}'
            )
        if cosine_epochs <= 0:
            raise ValueError(f'cosine_epochs must be positive, got {cosine_epochs!r}')
        if first_epoch not in (0, 1):
            raise ValueError(f'first_epoch must be 0 or 1, got {first_epoch!r}')
        self.first_epoch = first_epoch
        self.temperature_start = float(temperature_start)
        self.temperature_range = float(temperature_range)
        self.cosine_epochs = cosine_epochs
        self.lambda_max = float(lambda_max)
        self.lambda_min = float(lambda_min)
        self.scale_by_temperature_squared = scale_by_temperature_squared
        self.theta = nn.Parameter(torch.tensor(float(initial_theta)))

    @property
    def grl_lambda(self) -> float:
        """Gradient-reversal multiplier of the current epoch."""
        return cosine_decay(
            self.epoch + self.first_epoch,
            self.cosine_epochs,
            self.lambda_max,
            self.lambda_min,
        )

    def _temperature_of(self, theta: Tensor) -> Tensor:
        """Temperature start + range * sigmoid(theta), a 0-dim tensor."""
        return self.temperature_start + self.temperature_range * torch.sigmoid(theta)

    def temperature(self) -> Tensor:
        """Current temperature tau, a 0-dim tensor (no gradient reversal)."""
        return self._temperature_of(self.theta)

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Compute KD at the learned temperature, theta behind the GRL."""
        theta = gradient_reversal(self.theta, self.grl_lambda)
        temperature = self._temperature_of(theta).to(student_logits.dtype)
        return kd_loss(
            student_logits,
            teacher_logits,
            temperature=temperature,
            scale_by_temperature_squared=self.scale_by_temperature_squared,
        )


@register_kd_loss('dkd')
class DKDLoss(DistillationLoss):
    """Decoupled KD (Zhao et al., CVPR 2022) with mdistiller's linear warm-up.

    The loss is ``min((epoch + first_epoch) / warmup_epochs, 1) * (alpha * TCKD +
    beta * NCKD)``: mdistiller counts epochs from 1, the ACKD reference (the paper
    configs) from 0. Defaults are the DKD authors'.
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
            first_epoch: the count of the first epoch: 1 as mdistiller, 0 as ACKD.

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
        """Warm-up factor of the current epoch."""
        return linear_warmup(self.epoch + self.first_epoch, self.warmup_epochs)

    def forward(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None = None,
        teacher_embedding: Tensor | None = None,
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


@register_kd_loss('kd')
class KDLoss(DistillationLoss):
    """Vanilla KD (Hinton et al., 2015): KL(teacher || student) at temperature T.

    The ACKD authors' "SemBridge (Vanilla KD)" is
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

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Compute the KD loss (see :func:`~.functional.kd_loss`)."""
        return kd_loss(
            student_logits,
            teacher_logits,
            temperature=self.temperature,
            scale_by_temperature_squared=self.scale_by_temperature_squared,
        )


@register_kd_loss('logits')
class LogitsMSELoss(DistillationLoss):
    """MSE between student and teacher logits (ACKD reference: ``kd.weight`` 0.01)."""

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Compute the logit MSE (see :func:`~.functional.logits_mse_loss`)."""
        return logits_mse_loss(student_logits, teacher_logits)


@register_kd_loss('lskd')
class LSKDLoss(DistillationLoss):
    """Logit standardisation KD (Sun et al., CVPR 2024); the ACKD authors ran T = 3."""

    def __init__(self, temperature: float = 2.0) -> None:
        """Initialise the loss.

        Args:
            temperature: softmax temperature T > 0.

        Raises:
            ValueError: if ``temperature`` is not positive.
        """
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be positive, got {temperature!r}')
        self.temperature = float(temperature)

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Compute the LSKD loss (see :func:`~.functional.lskd_loss`)."""
        return lskd_loss(student_logits, teacher_logits, temperature=self.temperature)


@register_kd_loss('none')
class NoKDLoss(DistillationLoss):
    """No distillation (``kd: none``): always a constant zero, with no graph."""

    needs_teacher = False

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Return a scalar zero on the logits' device and dtype."""
        return student_logits.new_zeros(())


@register_kd_loss('rkd')
class RKDLoss(DistillationLoss):
    """Relational KD (Park et al., CVPR 2019) on the pooled embeddings.

    The ACKD reference also multiplied the sum by 0.1 (the task's ``kd.weight``).
    Needs the embeddings and a batch of at least 3 (2 with ``angle_weight=0``).
    """

    uses_embeddings = True

    def __init__(
        self, distance_weight: float = 25.0, angle_weight: float = 50.0
    ) -> None:
        """Initialise the loss.

        Args:
            distance_weight: weight of the distance term.
            angle_weight: weight of the angle term.
        """
        super().__init__()
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def forward(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None = None,
        teacher_embedding: Tensor | None = None,
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
