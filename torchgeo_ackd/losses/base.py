"""Base class of the distillation losses."""

from torch import Tensor, nn

from .functional import multilabel_teacher_logits


class DistillationLoss(nn.Module):
    """A knowledge-distillation loss L_kd with one calling convention for all.

    Every registered loss is called the same way, so a training task can swap
    them by name::

        loss_fn.set_epoch(epoch)  # once per epoch, 0-based (Lightning's)
        loss = loss_fn(student_logits, teacher_logits, target,
                       student_embedding, teacher_embedding)

    Subclasses implement :meth:`compute`; :meth:`forward` applies the options
    shared by all losses (the multi-label teacher conversion and the weight).

    Attributes:
        uses_embeddings: whether the loss needs the pooled embeddings (RKD);
            the others ignore them, so callers may pass None.
        epoch: the last epoch given to :meth:`set_epoch` (0 before any call).
    """

    uses_embeddings: bool = False

    def __init__(self, weight: float = 1.0, multilabel_teacher: bool = False) -> None:
        """Initialise the loss.

        Args:
            weight: factor the loss is multiplied by (e.g. 0.01 for the
                reference's "Logits" method).
            multilabel_teacher: if True, the teacher's logits are those of a
                multi-label (sigmoid) classifier and are first converted by
                :func:`~torchgeo_ackd.losses.functional.multilabel_teacher_logits`
                into logits of a single-label distribution (M2S-GL).
        """
        super().__init__()
        self.weight = float(weight)
        self.multilabel_teacher = multilabel_teacher
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
        """Compute the weighted distillation loss.

        Args:
            student_logits: student logits, shape (B, K).
            teacher_logits: teacher logits, shape (B, K) (multi-label logits if
                ``multilabel_teacher``).
            target: ground-truth class indices of the student samples, (B,).
            student_embedding: student pooled features, shape (B, D_s).
            teacher_embedding: teacher pooled features, shape (B, D_t).

        Returns:
            ``weight`` times the loss, a scalar.
        """
        if self.multilabel_teacher:
            teacher_logits = multilabel_teacher_logits(teacher_logits)
        loss = self.compute(
            student_logits, teacher_logits, target, student_embedding, teacher_embedding
        )
        return self.weight * loss

    def compute(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor,
        target: Tensor,
        student_embedding: Tensor | None,
        teacher_embedding: Tensor | None,
    ) -> Tensor:
        """Compute the unweighted loss (implemented by each subclass).

        Args:
            student_logits: student logits, shape (B, K).
            teacher_logits: teacher logits, shape (B, K), single-label.
            target: ground-truth class indices, shape (B,).
            student_embedding: student pooled features, (B, D_s), or None.
            teacher_embedding: teacher pooled features, (B, D_t), or None.

        Returns:
            The loss, a scalar.
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        """Show the shared options in ``print(module)``."""
        return f'weight={self.weight}, multilabel_teacher={self.multilabel_teacher}'
