"""Semantic-aware Knowledge Alignment (SKA): the attention "Planner" with CORAL."""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses.functional import coral

#: Added to both energies of the refinement, so all-zero features stay finite.
ENERGY_EPSILON = 1e-12


def pool_patches_to_grid(patches: Tensor, grid_size: int) -> Tensor:
    """Adaptive-average-pool a square patch sequence to a ``grid_size`` grid.

    Args:
        patches: shape (B, N, C) with N = h * h, in row-major order.
        grid_size: side g of the output grid, 1 <= g <= h.

    Returns:
        Pooled patches, shape (B, g * g, C), row-major.

    Raises:
        ValueError: if N is not a perfect square.
    """
    batch_size, num_patches, channels = patches.shape
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(
            'patches must come from a square grid (N = h * h) to be pooled, got '
            f'N = {num_patches}'
        )
    grid = patches.transpose(1, 2).reshape(batch_size, channels, side, side)
    pooled = F.adaptive_avg_pool2d(grid, grid_size)
    return pooled.flatten(2).transpose(1, 2)


def patch_transport_weights(
    patches: Tensor, query_key: nn.Linear, num_heads: int
) -> Tensor:
    """Per-patch weights of an intra-modal transport plan.

    The plan is attention pi = softmax(Q K^T / sqrt(d_head)), (B, H, N, N), with
    Q, K = ``query_key(patches)`` in H heads. Its mean over the queries gives each
    patch's weight; the weights of one head sum to one.

    Args:
        patches: shape (B, N, D).
        query_key: linear map D -> 2 D producing [Q, K].
        num_heads: H, dividing D.

    Returns:
        Weights, shape (B, H, N).
    """
    batch_size, num_patches, dim = patches.shape
    head_dim = dim // num_heads
    query, key = (
        query_key(patches)
        .reshape(batch_size, num_patches, 2, num_heads, head_dim)
        .permute(2, 0, 3, 1, 4)
    )
    plan = torch.softmax(query @ key.transpose(-2, -1) * head_dim**-0.5, dim=-1)
    return plan.mean(dim=-2)


def cross_modal_weights(
    teacher_weights: Tensor, student_weights: Tensor
) -> tuple[Tensor, Tensor]:
    """Patch weights of the cross-modal plan, as in the ACKD reference.

    The cross plan is the outer product P[b, h, i, j] = w_s[b, h, i] * w_t[b, h, j].
    Its means over the student and teacher axes, each divided by that modality's
    mean weight, give the teacher and student patch weights; P is never built.

    Args:
        teacher_weights: w_t, shape (B, H, N_t).
        student_weights: w_s, shape (B, H, N_s).

    Returns:
        (teacher patch weights (B, H, N_t), student patch weights (B, H, N_s)).
    """
    teacher_mean = teacher_weights.mean(dim=-1, keepdim=True)
    student_mean = student_weights.mean(dim=-1, keepdim=True)
    teacher_cross = teacher_weights * student_mean / teacher_mean
    student_cross = student_weights * teacher_mean / student_mean
    return teacher_cross, student_cross


def energy_preserving_refinement(patches: Tensor, weights: Tensor) -> Tensor:
    """Reweight patches by their head-averaged weights, keeping the mean's energy.

    The refined patches are s * a_n * x_n, with a the head mean of ``weights`` and
    s = sqrt(||mean_n x_n||^2 / ||mean_n a_n x_n||^2) (both energies plus 1e-12).

    Args:
        patches: x, shape (B, N, D).
        weights: per-head patch weights, shape (B, H, N).

    Returns:
        Refined patches, shape (B, N, D).
    """
    patch_weights = weights.mean(dim=1).unsqueeze(-1)
    weighted = patch_weights * patches
    energy_before = patches.mean(dim=1).pow(2).sum(dim=-1)
    energy_after = weighted.mean(dim=1).pow(2).sum(dim=-1)
    scale = ((energy_before + ENERGY_EPSILON) / (energy_after + ENERGY_EPSILON)).sqrt()
    return scale[:, None, None] * weighted


@dataclass
class AlignmentConfig:
    """SemBridge's knowledge alignment (SKA) in a student task, one group in a config.

    Attributes:
        use_ot1: Use L_ot1 (CORAL of the refined patch features).
        use_ot2: Use L_ot2 (CORAL of the pooled embeddings).
        weight: Weight of L_ot1 + L_ot2 in the task's total loss.
        dim: Attention dimension of the :class:`Planner`.
        heads: Attention heads of the Planner.
    """

    use_ot1: bool = True
    use_ot2: bool = True
    weight: float = 0.003
    dim: int = 512
    heads: int = 8

    @property
    def enabled(self) -> bool:
        """Whether either alignment loss is on (a Planner is needed)."""
        return self.use_ot1 or self.use_ot2


class Planner(nn.Module):
    """SemBridge's Semantic-aware Knowledge Alignment (SKA) module.

    From the teacher's and student's patch sequences (B, N, C) and pooled
    embeddings it computes the alignment losses L_ot1 and L_ot2:

    1. If N_t != N_s, both square grids are pooled to the smaller one.
    2. A modality whose width differs from ``embed_dim`` is mapped to it by a
       learned linear projection (no bias), patches and embedding alike. CORAL
       alone trains it, and a shrinking projection lowers CORAL without aligning
       anything: for heterogeneous pairs prefer ``embed_dim = teacher_channels``.
    3. L_ot1: per-modality attention plans (:func:`patch_transport_weights`),
       :func:`cross_modal_weights`, :func:`energy_preserving_refinement`, then
       CORAL of the refined patches flattened to (B, N * embed_dim).
    4. L_ot2: CORAL of the projected embeddings.

    A switched-off loss (ablation) is a constant zero, and the modules only it
    needs are not created.
    """

    def __init__(
        self,
        teacher_channels: int,
        student_channels: int,
        embed_dim: int = 512,
        num_heads: int = 8,
        qkv_bias: bool = False,
        use_ot1: bool = True,
        use_ot2: bool = True,
    ) -> None:
        """Initialise the planner.

        Args:
            teacher_channels: C_t, channels of the teacher features.
            student_channels: C_s, channels of the student features.
            embed_dim: D, width of the attention and of the compared features.
            num_heads: H, attention heads; must divide ``embed_dim``.
            qkv_bias: whether the query/key map has a bias (reference: no).
            use_ot1: compute L_ot1 (plans, refinement, patch CORAL).
            use_ot2: compute L_ot2 (embedding CORAL).

        Raises:
            ValueError: on non-positive sizes or ``num_heads`` not dividing
                ``embed_dim``.
        """
        super().__init__()
        for name, value in (
            ('teacher_channels', teacher_channels),
            ('student_channels', student_channels),
            ('embed_dim', embed_dim),
            ('num_heads', num_heads),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if embed_dim % num_heads:
            raise ValueError(
                f'num_heads must divide embed_dim, got embed_dim={embed_dim} and '
                f'num_heads={num_heads}'
            )
        self.teacher_channels = teacher_channels
        self.student_channels = student_channels
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.use_ot1 = use_ot1
        self.use_ot2 = use_ot2

        needs_projection = use_ot1 or use_ot2
        self.teacher_projection = self._projection(teacher_channels, needs_projection)
        self.student_projection = self._projection(student_channels, needs_projection)
        self.teacher_query_key: nn.Linear | None = None
        self.student_query_key: nn.Linear | None = None
        if use_ot1:
            self.teacher_query_key = nn.Linear(embed_dim, 2 * embed_dim, bias=qkv_bias)
            self.student_query_key = nn.Linear(embed_dim, 2 * embed_dim, bias=qkv_bias)

    def _projection(self, channels: int, needed: bool) -> nn.Module:
        """Linear map channels -> embed_dim, or identity if not needed."""
        if not needed or channels == self.embed_dim:
            return nn.Identity()
        return nn.Linear(channels, self.embed_dim, bias=False)

    def _check_inputs(
        self,
        teacher_patches: Tensor,
        student_patches: Tensor,
        teacher_embedding: Tensor,
        student_embedding: Tensor,
    ) -> None:
        """Raise a ValueError naming the first input with a wrong shape."""
        batch_size = -1
        if isinstance(teacher_patches, Tensor) and teacher_patches.ndim:
            batch_size = teacher_patches.shape[0]
        c_t, c_s = self.teacher_channels, self.student_channels
        expected = (
            ('teacher_patches', teacher_patches, 3, c_t, '(B, N_t, C_t)'),
            ('student_patches', student_patches, 3, c_s, '(B, N_s, C_s)'),
            ('teacher_embedding', teacher_embedding, 2, c_t, '(B, C_t)'),
            ('student_embedding', student_embedding, 2, c_s, '(B, C_s)'),
        )
        for name, tensor, ndim, channels, layout in expected:
            if not isinstance(tensor, Tensor):
                raise TypeError(f'{name} must be a Tensor, got {type(tensor).__name__}')
            if (
                tensor.ndim != ndim
                or tensor.shape[-1] != channels
                or tensor.shape[0] != batch_size
                or tensor.numel() == 0
            ):
                raise ValueError(
                    f'{name} must have shape {layout} with B = {batch_size} and '
                    f'{channels} channels, got {tuple(tensor.shape)}'
                )

    def forward(
        self,
        teacher_patches: Tensor,
        student_patches: Tensor,
        teacher_embedding: Tensor,
        student_embedding: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Compute the two SKA alignment losses.

        Args:
            teacher_patches: teacher patch features, shape (B, N_t, C_t).
            student_patches: student patch features, shape (B, N_s, C_s).
            teacher_embedding: teacher pooled embedding, shape (B, C_t).
            student_embedding: student pooled embedding, shape (B, C_s).

        Returns:
            (L_ot1, L_ot2), two scalars (exact zeros where switched off).

        Raises:
            ValueError: on inconsistent shapes, or patch counts that differ and
                are not both perfect squares.
        """
        self._check_inputs(
            teacher_patches, student_patches, teacher_embedding, student_embedding
        )
        zero = student_patches.new_zeros(())
        loss_ot1, loss_ot2 = zero, zero

        if self.use_ot1:
            assert self.teacher_query_key is not None
            assert self.student_query_key is not None
            num_teacher = teacher_patches.shape[1]
            num_student = student_patches.shape[1]
            if num_teacher != num_student:
                for name, count in (
                    ('teacher_patches', num_teacher),
                    ('student_patches', num_student),
                ):
                    if math.isqrt(count) ** 2 != count:
                        raise ValueError(
                            f'{name} must come from a square grid (N = h * h) when '
                            f'N_t != N_s, got N = {count}'
                        )
                grid_size = min(math.isqrt(num_teacher), math.isqrt(num_student))
                teacher_patches = pool_patches_to_grid(teacher_patches, grid_size)
                student_patches = pool_patches_to_grid(student_patches, grid_size)
            teacher_x = self.teacher_projection(teacher_patches)
            student_x = self.student_projection(student_patches)
            teacher_weights, student_weights = cross_modal_weights(
                patch_transport_weights(
                    teacher_x, self.teacher_query_key, self.num_heads
                ),
                patch_transport_weights(
                    student_x, self.student_query_key, self.num_heads
                ),
            )
            teacher_refined = energy_preserving_refinement(teacher_x, teacher_weights)
            student_refined = energy_preserving_refinement(student_x, student_weights)
            loss_ot1 = coral(teacher_refined.flatten(1), student_refined.flatten(1))

        if self.use_ot2:
            loss_ot2 = coral(
                self.teacher_projection(teacher_embedding),
                self.student_projection(student_embedding),
            )
        return loss_ot1, loss_ot2
