"""Base class of the distillation losses."""

from torch import Tensor, nn


class DistillationLoss(nn.Module):
    """A knowledge-distillation loss L_kd with one calling convention for all.

    Every registered loss is called the same way, so tasks swap them by name::

        loss_fn.set_epoch(epoch)  # once per epoch, 0-based (Lightning's)
        loss = loss_fn(student_logits, teacher_logits, target,
                       student_embedding, teacher_embedding)

    Subclasses implement :meth:`logits_loss`, or override :meth:`forward` to read
    the target or the embeddings. The task weighs the loss (``kd.weight``).

    Attributes:
        uses_embeddings: whether the loss needs the pooled embeddings (RKD).
        needs_teacher: whether the loss reads the teacher (False only for ``none``).
        epoch: the last epoch given to :meth:`set_epoch` (0 before any call).
    """

    uses_embeddings: bool = False
    needs_teacher: bool = True

    def __init__(self) -> None:
        """Initialise the loss."""
        super().__init__()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss which epoch is starting (for warm-ups and schedules).

        Args:
            epoch: 0-based epoch index, as Lightning's ``current_epoch``.

        Raises:
            ValueError: if ``epoch`` is not a non-negative integer.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f'epoch must be a non-negative int, got {epoch!r}')
        self.epoch = epoch

    def forward(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None = None,
        teacher_embedding: Tensor | None = None,
    ) -> Tensor:
        """Compute the distillation loss (by default :meth:`logits_loss`).

        Args:
            student_logits: student logits, shape (B, K).
            teacher_logits: teacher logits, shape (B, K), single-label.
            target: ground-truth class indices of the student samples, (B,).
            student_embedding: student pooled features, shape (B, D_s), or None.
            teacher_embedding: teacher pooled features, shape (B, D_t), or None.

        Returns:
            The loss, a scalar.
        """
        return self.logits_loss(student_logits, teacher_logits)

    def logits_loss(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """Compute a loss that reads only the logits (implemented by subclasses).

        Args:
            student_logits: student logits, shape (B, K).
            teacher_logits: teacher logits, shape (B, K), single-label.

        Returns:
            The loss, a scalar.
        """
        raise NotImplementedError
