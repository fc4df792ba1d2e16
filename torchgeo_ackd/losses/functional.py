"""Pure tensor functions for knowledge distillation and CORAL alignment.

Stateless: schedules and parameters live in :mod:`.modules`. Logits are (B, K),
embeddings (B, D); nothing here detaches the teacher (run it under no_grad).
"""

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

#: Added to the standard deviation in LSKD's z-score, as in the authors' code.
LSKD_STD_EPSILON = 1e-7

#: Subtracted from the scaled target logit in DKD's NCKD (as mdistiller): p = 0.
DKD_TARGET_MASK_OFFSET = 1000.0

#: Floor of RKD's squared pairwise distances before the root, as the authors' code.
RKD_SQUARED_DISTANCE_FLOOR = 1e-12


def _check_matrix(name: str, x: Tensor, layout: str) -> None:
    """Raise unless ``x`` is a 2-D tensor; ``layout`` names its axes, e.g. (B, K)."""
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a Tensor, got {type(x).__name__}')
    if x.ndim != 2:
        raise ValueError(f'{name} must have shape {layout}, got {tuple(x.shape)}')


def _check_logits_pair(student_logits: Tensor, teacher_logits: Tensor) -> None:
    """Raise if two logit tensors are not (B, K) tensors of the same shape."""
    _check_matrix('student_logits', student_logits, '(B, K)')
    _check_matrix('teacher_logits', teacher_logits, '(B, K)')
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            'student_logits and teacher_logits must have the same shape (B, K), '
            f'got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}; '
            "if the student's classes are a subset of the teacher's, select those "
            "columns of the teacher's logits first"
        )
    if student_logits.shape[0] < 1:
        raise ValueError('student_logits must hold at least one sample (B >= 1)')


def _check_temperature(temperature: float | Tensor) -> None:
    """Raise if a temperature is not a positive scalar."""
    if isinstance(temperature, Tensor):
        if temperature.numel() != 1:
            raise ValueError(
                'temperature must be a scalar, got a tensor of shape '
                f'{tuple(temperature.shape)}'
            )
    elif not (isinstance(temperature, int | float) and temperature > 0):
        raise ValueError(f'temperature must be a positive number, got {temperature!r}')


def _kl_from_log_probs(teacher_log_probs: Tensor, student_log_probs: Tensor) -> Tensor:
    """Sum of p_t * (log p_t - log p_s) over all entries (nats), finite at p_t = 0."""
    return F.kl_div(
        student_log_probs, teacher_log_probs, reduction='sum', log_target=True
    )


def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float | Tensor = 4.0,
    scale_by_temperature_squared: bool = True,
) -> Tensor:
    """Hinton knowledge distillation (Hinton et al., 2015).

    KL(softmax(z_t / T) || softmax(z_s / T)), summed over classes, averaged over
    the batch, times T^2 (the ACKD authors' "Vanilla KD": T = 3 without T^2).

    Args:
        student_logits: student logits z_s, shape (B, K).
        teacher_logits: teacher logits z_t, shape (B, K).
        temperature: softmax temperature T > 0, or a differentiable 0-dim tensor.
        scale_by_temperature_squared: whether to multiply by T^2.

    Returns:
        The loss, a scalar in nats.

    Raises:
        ValueError: if the shapes differ or are not (B, K), or T is not positive.
    """
    _check_logits_pair(student_logits, teacher_logits)
    _check_temperature(temperature)
    student_log_probs = F.log_softmax(student_logits / temperature, dim=1)
    teacher_log_probs = F.log_softmax(teacher_logits / temperature, dim=1)
    loss = _kl_from_log_probs(teacher_log_probs, student_log_probs)
    loss = loss / student_logits.shape[0]
    if scale_by_temperature_squared:
        loss = loss * temperature**2
    return loss


def _binary_target_log_probs(
    scaled_logits: Tensor, target: Tensor, target_mask: Tensor
) -> Tensor:
    """Log-probabilities [log p_target, log(1 - p_target)], (B, 2), of scaled logits.

    Log-sum-exp keeps probabilities near 0 or 1 finite (mdistiller's ``log`` does
    not). ``target_mask`` is the boolean (B, K) one-hot of the (B,) ``target``.
    """
    log_normaliser = torch.logsumexp(scaled_logits, dim=1)
    target_logit = scaled_logits.gather(1, target.unsqueeze(1)).squeeze(1)
    other_logits = scaled_logits.masked_fill(target_mask, -math.inf)
    log_target = target_logit - log_normaliser
    log_other = torch.logsumexp(other_logits, dim=1) - log_normaliser
    return torch.stack([log_target, log_other], dim=1)


def _check_target(target: Tensor, batch_size: int, num_classes: int) -> None:
    """Raise if ``target`` is not (B,) integer class indices in [0, K)."""
    if not isinstance(target, Tensor):
        raise TypeError(f'target must be a Tensor, got {type(target).__name__}')
    if target.shape != (batch_size,):
        raise ValueError(
            f'target must have shape (B,) = ({batch_size},), got {tuple(target.shape)}'
        )
    if target.dtype.is_floating_point or target.dtype.is_complex:
        raise TypeError(f'target must hold integer class indices, got {target.dtype}')
    # Off the CPU, reading values would synchronise: one_hot catches bad indices.
    if target.device.type != 'cpu':
        return
    if int(target.min()) < 0 or int(target.max()) >= num_classes:
        raise ValueError(
            f'target must hold class indices in [0, {num_classes}), got values in '
            f'[{int(target.min())}, {int(target.max())}]'
        )


def dkd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    beta: float = 8.0,
    temperature: float = 4.0,
) -> Tensor:
    """Decoupled knowledge distillation (Zhao et al., CVPR 2022), as in mdistiller.

    With p = softmax(z / T), TCKD is the KL between the binary distributions
    [p_target, 1 - p_target] of teacher and student, NCKD the KL between
    softmax(z / T - 1000 * onehot(target)) over the non-target classes. Each is
    summed over classes, averaged over the batch and multiplied by T^2; the loss is
    alpha * TCKD + beta * NCKD (the warm-up is :class:`~.modules.DKDLoss`'s).

    Args:
        student_logits: student logits, shape (B, K), K >= 2.
        teacher_logits: teacher logits, shape (B, K).
        target: ground-truth class indices of the student samples, shape (B,).
        alpha: weight of TCKD.
        beta: weight of NCKD.
        temperature: softmax temperature T > 0.

    Returns:
        The loss, a scalar in nats.

    Raises:
        ValueError: on bad shapes, K < 2, a non-positive T or out-of-range target.
        TypeError: if ``target`` is not an integer tensor.
    """
    _check_logits_pair(student_logits, teacher_logits)
    _check_temperature(temperature)
    batch_size, num_classes = student_logits.shape
    if num_classes < 2:
        raise ValueError(
            f'dkd_loss needs at least 2 classes (K >= 2), got K = {num_classes}'
        )
    _check_target(target, batch_size, num_classes)

    target_mask = F.one_hot(target.long(), num_classes).bool()
    student_scaled = student_logits / temperature
    teacher_scaled = teacher_logits / temperature

    tckd = _kl_from_log_probs(
        _binary_target_log_probs(teacher_scaled, target.long(), target_mask),
        _binary_target_log_probs(student_scaled, target.long(), target_mask),
    )

    offset = DKD_TARGET_MASK_OFFSET * target_mask.to(student_scaled.dtype)
    nckd = _kl_from_log_probs(
        F.log_softmax(teacher_scaled - offset, dim=1),
        F.log_softmax(student_scaled - offset, dim=1),
    )
    scale = temperature**2 / batch_size
    return (alpha * tckd + beta * nckd) * scale


def _pairwise_distances(embeddings: Tensor) -> Tensor:
    """(B, B) Euclidean distances between all rows of (B, D), as RKD's ``pdist``.

    Squared distances are floored at 1e-12 before the root; the diagonal is zero.
    """
    squared_norms = embeddings.pow(2).sum(dim=1)
    squared = squared_norms.unsqueeze(0) + squared_norms.unsqueeze(1)
    squared = squared - 2 * embeddings @ embeddings.t()
    distances = squared.clamp(min=RKD_SQUARED_DISTANCE_FLOOR).sqrt()
    off_diagonal = 1 - torch.eye(
        len(embeddings), dtype=embeddings.dtype, device=embeddings.device
    )
    return distances * off_diagonal


def _normalised_distances(embeddings: Tensor) -> Tensor:
    """(B, B) pairwise distances of (B, D), B >= 2, over their mean positive entry.

    The positive entries are the B (B - 1) off-diagonal ones (no boolean indexing).
    """
    distances = _pairwise_distances(embeddings)
    batch_size = len(embeddings)
    mean_distance = distances.sum() / (batch_size * (batch_size - 1))
    return distances / mean_distance


def _triplet_angles(embeddings: Tensor) -> Tensor:
    """Cosines of the angles at every anchor of (B, D), flattened to (B^3,).

    Entry (i, j, k) is the cosine between e_j - e_i and e_k - e_i, as in RKD's code.
    """
    differences = embeddings.unsqueeze(0) - embeddings.unsqueeze(1)
    directions = F.normalize(differences, p=2, dim=2)
    return torch.bmm(directions, directions.transpose(1, 2)).reshape(-1)


def rkd_loss(
    student_feats: Tensor,
    teacher_feats: Tensor,
    distance_weight: float = 25.0,
    angle_weight: float = 50.0,
) -> Tensor:
    """Relational knowledge distillation (Park et al., CVPR 2019).

    Distance term: smooth-L1 between the pairwise distance matrices, each divided
    by its mean positive entry. Angle term: smooth-L1 between the cosines of the
    angles of every triplet. The widths D_s and D_t may differ.

    Args:
        student_feats: student embeddings, shape (B, D_s).
        teacher_feats: teacher embeddings, shape (B, D_t).
        distance_weight: weight of the distance term (paper: 25).
        angle_weight: weight of the angle term (paper: 50).

    Returns:
        ``distance_weight * distance + angle_weight * angle``, a scalar.

    Raises:
        ValueError: on bad shapes, or B < 2 (distance term) or B < 3 (angle term).
    """
    _check_matrix('student_feats', student_feats, '(B, D)')
    _check_matrix('teacher_feats', teacher_feats, '(B, D)')
    if len(student_feats) != len(teacher_feats):
        raise ValueError(
            'student_feats and teacher_feats must have the same batch size, got '
            f'{len(student_feats)} and {len(teacher_feats)}'
        )
    batch_size = len(student_feats)
    if distance_weight != 0 and batch_size < 2:
        raise ValueError(
            f'rkd_loss distance term needs a batch of at least 2, got B = {batch_size}'
        )
    if angle_weight != 0 and batch_size < 3:
        raise ValueError(
            'rkd_loss angle term needs a batch of at least 3 (or angle_weight=0), '
            f'got B = {batch_size}'
        )

    loss = student_feats.new_zeros(())
    if distance_weight != 0:
        distance = F.smooth_l1_loss(
            _normalised_distances(student_feats), _normalised_distances(teacher_feats)
        )
        loss = loss + distance_weight * distance
    if angle_weight != 0:
        angle = F.smooth_l1_loss(
            _triplet_angles(student_feats), _triplet_angles(teacher_feats)
        )
        loss = loss + angle_weight * angle
    return loss


def standardize_logits(logits: Tensor) -> Tensor:
    """Z-score each logit vector as LSKD does: (z - mean) / (std + 1e-7).

    The std is the unbiased one (K - 1), as in the authors' code. A constant vector
    maps to zeros, with a finite gradient (``Tensor.std`` would give NaN).

    Args:
        logits: shape (B, K), K >= 2.

    Returns:
        Standardised logits, shape (B, K).
    """
    mean = logits.mean(dim=1, keepdim=True)
    variance = logits.var(dim=1, keepdim=True, correction=1)
    spread = variance > 0
    std = torch.where(spread, torch.where(spread, variance, 1.0).sqrt(), 0.0)
    return (logits - mean) / (std + LSKD_STD_EPSILON)


def lskd_loss(
    student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0
) -> Tensor:
    """Logit-standardised KD (Sun et al., CVPR 2024, "Logit Standardization in KD").

    Hinton KD with T^2 (:func:`kd_loss`) on logits z-scored per sample.

    Args:
        student_logits: student logits, shape (B, K), K >= 2.
        teacher_logits: teacher logits, shape (B, K).
        temperature: softmax temperature T > 0 (the ACKD authors used 3).

    Returns:
        The loss, a scalar in nats.

    Raises:
        ValueError: on bad shapes, K < 2 (no unbiased std) or non-positive T.
    """
    _check_logits_pair(student_logits, teacher_logits)
    if student_logits.shape[1] < 2:
        raise ValueError(
            'lskd_loss needs at least 2 classes (K >= 2) for the unbiased std, got '
            f'K = {student_logits.shape[1]}'
        )
    return kd_loss(
        standardize_logits(student_logits),
        standardize_logits(teacher_logits),
        temperature=temperature,
        scale_by_temperature_squared=True,
    )


def logits_mse_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Mean squared error between logits (Ba & Caruana, NeurIPS 2014).

    Args:
        student_logits: student logits, shape (B, K).
        teacher_logits: teacher logits, shape (B, K).

    Returns:
        Mean over all B * K entries of (z_s - z_t)^2, a scalar.
    """
    _check_logits_pair(student_logits, teacher_logits)
    return F.mse_loss(student_logits, teacher_logits)


def multilabel_teacher_logits(logits: Tensor) -> Tensor:
    """Turn a multi-label teacher's logits into single-label logits.

    Returns log sigmoid(z), whose softmax is sigmoid(z) / sum_k sigmoid(z_k): the
    per-class probabilities renormalised into one distribution. At temperature T a
    KD loss sees softmax(log sigmoid(z) / T) proportional to sigmoid(z)^(1 / T).

    Args:
        logits: multi-label teacher logits, shape (B, K).

    Returns:
        log sigmoid(logits), shape (B, K), all <= 0 and finite.
    """
    return F.logsigmoid(logits)


def _coral_covariance_form(x_centred: Tensor, y_centred: Tensor) -> Tensor:
    """||C_x - C_y||_F^2 / (4 d^3) from the d x d covariances (used when d <= B)."""
    dim = x_centred.shape[1]
    difference = x_centred.t() @ x_centred - y_centred.t() @ y_centred
    return difference.pow(2).mean() / (4 * dim)


def _coral_gram_form(x_centred: Tensor, y_centred: Tensor) -> Tensor:
    """||C_x - C_y||_F^2 / (4 d^3) from the B x B Gram matrices.

    ||X^T X - Y^T Y||_F^2 = ||X X^T||_F^2 - 2 ||X Y^T||_F^2 + ||Y Y^T||_F^2.
    """
    dim = x_centred.shape[1]
    squared_norm = (
        (x_centred @ x_centred.t()).pow(2).sum()
        - 2 * (x_centred @ y_centred.t()).pow(2).sum()
        + (y_centred @ y_centred.t()).pow(2).sum()
    )
    return squared_norm / (4 * dim**3)


def coral(x: Tensor, y: Tensor) -> Tensor:
    """CORAL distance between two feature sets, as in the ACKD reference.

    With C_x = (x - mean_b x)^T (x - mean_b x), the covariance not divided by
    B - 1, likewise C_y, the loss is ||C_x - C_y||_F^2 / (4 d^3); zero for B = 1.
    When d > B it is computed from B x B Gram matrices (less precise when C_x and
    C_y nearly agree). Half-precision inputs give a float32 result (autocast off).

    Args:
        x: features, shape (B, d).
        y: features, shape (B, d).

    Returns:
        The loss, a scalar.

    Raises:
        ValueError: if the inputs are not (B, d) tensors of the same shape.
    """
    _check_matrix('x', x, '(B, d)')
    _check_matrix('y', y, '(B, d)')
    if x.shape != y.shape:
        raise ValueError(
            f'x and y must have the same shape (B, d), got {tuple(x.shape)} and '
            f'{tuple(y.shape)}'
        )
    batch_size, dim = x.shape
    # A difference of covariances keeps few bits in half precision.
    with torch.autocast(device_type=x.device.type, enabled=False):
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        if y.dtype in (torch.float16, torch.bfloat16):
            y = y.float()
        x_centred = x - x.mean(dim=0, keepdim=True)
        y_centred = y - y.mean(dim=0, keepdim=True)
        if dim > batch_size:
            return _coral_gram_form(x_centred, y_centred)
        return _coral_covariance_form(x_centred, y_centred)


class _GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by lambda backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, lambda_: float) -> Tensor:  # type: ignore[override]
        """Return a copy of ``x`` and remember lambda."""
        ctx.lambda_ = lambda_
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        """Scale the gradient by lambda (no gradient for lambda itself)."""
        return grad_output * ctx.lambda_, None


def gradient_reversal(x: Tensor, lambda_: float) -> Tensor:
    """Gradient reversal layer (Ganin & Lempitsky, 2015), as used by CTKD.

    Identity forward; backward it multiplies the gradient by ``lambda_`` (CTKD: <= 0).

    Args:
        x: any tensor.
        lambda_: gradient multiplier.

    Returns:
        A copy of ``x`` whose gradient is ``lambda_`` times the incoming one.
    """
    output: Tensor = _GradientReversal.apply(x, lambda_)
    return output


def cosine_decay(
    step: float, num_steps: float, max_value: float, min_value: float
) -> float:
    """Cosine schedule from ``max_value`` at step 0 to ``min_value`` at ``num_steps``.

    min + (max - min) * (1 + cos(pi * s / num_steps)) / 2, s clamped to [0, num_steps].

    Args:
        step: current step (CTKD: the 1-based epoch).
        num_steps: length of the decay, > 0.
        max_value: value at step 0.
        min_value: value from ``num_steps`` on.

    Returns:
        The scheduled value.

    Raises:
        ValueError: if ``num_steps`` is not positive.
    """
    if num_steps <= 0:
        raise ValueError(f'num_steps must be positive, got {num_steps}')
    step = min(max(step, 0), num_steps)
    fraction = (math.cos(step * math.pi / num_steps) + 1.0) * 0.5
    return fraction * (max_value - min_value) + min_value


def linear_warmup(step: float, num_steps: float) -> float:
    """Linear warm-up factor min(step / num_steps, 1), as DKD (mdistiller).

    Args:
        step: current step (DKD: the 1-based epoch).
        num_steps: warm-up length; 0 or less disables the warm-up (factor 1).

    Returns:
        The factor in [0, 1].
    """
    if num_steps <= 0:
        return 1.0
    return min(max(step, 0) / num_steps, 1.0)
