"""Curriculum temperature knowledge distillation."""

import torch
from torch import Tensor, nn

from .base import DistillationLoss
from .functional import cosine_decay, gradient_reversal, kd_loss
from .registry import register_kd_loss


@register_kd_loss('ctkd')
class CTKDLoss(DistillationLoss):
    """Curriculum temperature KD (Li et al., AAAI 2023) with a global temperature.

    A learnable scalar theta sets the temperature
    ``tau = temperature_start + temperature_range * sigmoid(GRL(theta))``, and
    the loss is Hinton KD at tau (with tau^2, as the CTKD authors' code). The
    gradient reversal layer GRL multiplies theta's gradient by lambda, which
    follows a cosine from ``lambda_max`` (0) to ``lambda_min`` (-1) over
    ``cosine_epochs``: the temperature is an adversary that increasingly
    *raises* the distillation loss, an easy-to-hard curriculum.

    Epochs: CTKD's loop counts from 1 and evaluates the schedule at that count,
    so by default (``first_epoch=1``), after ``set_epoch(epoch)`` (0-based),
    lambda is the cosine at epoch + 1: with 10 cosine epochs, -0.0245 in the
    first epoch and -1 from epoch index 9 on. The ACKD reference code evaluates
    it at the 0-based epoch (``first_epoch=0``: lambda 0 in the first epoch). Defaults are the CTKD paper's (tau in [1, 21], theta initialised to 1,
    10 cosine epochs); the ACKD authors used 5 cosine epochs and no tau^2.

    The module owns the parameter ``theta``: include this module's parameters
    in the optimiser.
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
            cosine_epochs: epochs over which lambda goes from ``lambda_max`` to
                ``lambda_min``, > 0.
            lambda_max: lambda at the start of training.
            lambda_min: lambda at the end of the cosine.
            scale_by_temperature_squared: whether to multiply KD by tau^2.
            first_epoch: the count the schedule gives the first epoch: 1 as
                CTKD's authors' loop, 0 as the ACKD reference code.

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

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute KD at the learned temperature, theta behind the GRL."""
        theta = gradient_reversal(self.theta, self.grl_lambda)
        temperature = self._temperature_of(theta).to(student_logits.dtype)
        return kd_loss(
            student_logits,
            teacher_logits,
            temperature=temperature,
            scale_by_temperature_squared=self.scale_by_temperature_squared,
        )
