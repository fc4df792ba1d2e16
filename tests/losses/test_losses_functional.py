"""Golden-value, property and robustness tests of torchgeo_ackd.losses.functional.

Expected values come from float64 NumPy implementations written here from the
papers' formulas (not from the code under test).
"""

import math

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from torchgeo_ackd.losses.functional import (
    coral,
    cosine_decay,
    dkd_loss,
    gradient_reversal,
    kd_loss,
    linear_warmup,
    logits_mse_loss,
    lskd_loss,
    multilabel_teacher_logits,
    rkd_loss,
    standardize_logits,
)

Array = NDArray[np.float64]


# ---------------------------------------------------------------- NumPy references
def np_log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def np_softmax(z: Array) -> Array:
    return np.exp(np_log_softmax(z))


def np_kl_rows(p: Array, q: Array) -> Array:
    """sum_k p log(p / q) per row, with 0 log 0 = 0."""
    safe_p = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p * (np.log(safe_p) - np.log(q)), 0.0).sum(axis=1)


def np_kd(s: Array, t: Array, temperature: float, squared: bool = True) -> float:
    """Hinton: KL(softmax(t/T) || softmax(s/T)), batch mean, times T^2."""
    p_t = np_softmax(t / temperature)
    p_s = np_softmax(s / temperature)
    loss = np_kl_rows(p_t, p_s).mean()
    return float(loss * temperature**2 if squared else loss)


def np_dkd(
    s: Array, t: Array, y: NDArray[np.int64], alpha: float, beta: float, temp: float
) -> float:
    """DKD from the paper: binary target/non-target KL + KL over non-target classes."""
    batch, classes = s.shape
    p_s, p_t = np_softmax(s / temp), np_softmax(t / temp)
    rows = np.arange(batch)
    b_s = np.stack([p_s[rows, y], 1 - p_s[rows, y]], axis=1)
    b_t = np.stack([p_t[rows, y], 1 - p_t[rows, y]], axis=1)
    tckd = np_kl_rows(b_t, b_s).sum() / batch * temp**2
    nckd = 0.0
    for i in range(batch):
        keep = np.arange(classes) != y[i]
        # distributions over the non-target classes only, renormalised
        q_s = np_softmax(s[i : i + 1, keep] / temp)
        q_t = np_softmax(t[i : i + 1, keep] / temp)
        nckd += np_kl_rows(q_t, q_s).sum()
    nckd = nckd / batch * temp**2
    return float(alpha * tckd + beta * nckd)


def np_smooth_l1(a: Array, b: Array) -> float:
    d = np.abs(a - b)
    return float(np.where(d < 1, 0.5 * d**2, d - 0.5).mean())


def np_rkd(s: Array, t: Array, w_dist: float, w_angle: float) -> float:
    """RKD (Park et al.): normalised distances and triplet angles, smooth-L1."""

    def distances(x: Array) -> Array:
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
        off = ~np.eye(len(x), dtype=bool)
        return d / d[off].mean()

    def angles(x: Array) -> Array:
        n = len(x)
        out = np.zeros((n, n, n))
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    u, v = x[j] - x[i], x[k] - x[i]
                    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
                    if nu > 0 and nv > 0:
                        out[i, j, k] = u @ v / (nu * nv)
        return out.ravel()

    return w_dist * np_smooth_l1(distances(s), distances(t)) + w_angle * np_smooth_l1(
        angles(s), angles(t)
    )


def np_zscore(z: Array) -> Array:
    return (z - z.mean(axis=1, keepdims=True)) / (
        z.std(axis=1, ddof=1, keepdims=True) + 1e-7
    )


def np_coral(x: Array, y: Array) -> float:
    """Mean squared difference of unnormalised covariances, divided by 4 d."""
    batch, dim = x.shape
    cx = np.cov(x, rowvar=False) * (batch - 1)
    cy = np.cov(y, rowvar=False) * (batch - 1)
    return float(((cx - cy) ** 2).mean() / (4 * dim))


# ------------------------------------------------------------------------ fixtures
@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20251126)


def logits_pair(
    rng: np.random.Generator, batch: int = 6, classes: int = 5, scale: float = 3.0
) -> tuple[Array, Array]:
    return scale * rng.standard_normal((batch, classes)), scale * rng.standard_normal(
        (batch, classes)
    )


def t64(a: Array) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float64)


# ------------------------------------------------------------------------------ KD
def test_kd_hand_computed_two_classes() -> None:
    # teacher probabilities [3/4, 1/4], student [1/2, 1/2], T = 1
    student = torch.zeros(1, 2, dtype=torch.float64)
    teacher = torch.tensor([[math.log(3.0), 0.0]], dtype=torch.float64)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kd_loss(student, teacher, temperature=1.0).item() == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize('temperature', [1.0, 3.0, 4.0])
@pytest.mark.parametrize('squared', [True, False])
def test_kd_golden(rng: np.random.Generator, temperature: float, squared: bool) -> None:
    s, t = logits_pair(rng)
    loss = kd_loss(t64(s), t64(t), temperature, scale_by_temperature_squared=squared)
    assert loss.item() == pytest.approx(np_kd(s, t, temperature, squared), rel=1e-10)


def test_kd_default_temperature_is_four(rng: np.random.Generator) -> None:
    s, t = logits_pair(rng)
    assert kd_loss(t64(s), t64(t)).item() == pytest.approx(np_kd(s, t, 4.0), rel=1e-10)


def test_kd_zero_when_student_equals_teacher(rng: np.random.Generator) -> None:
    s, _ = logits_pair(rng)
    assert abs(kd_loss(t64(s), t64(s)).item()) < 1e-12


def test_kd_accepts_tensor_temperature_and_differentiates_it(
    rng: np.random.Generator,
) -> None:
    s, t = logits_pair(rng)
    temperature = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    loss = kd_loss(t64(s), t64(t), temperature)
    loss.backward()
    assert loss.item() == pytest.approx(np_kd(s, t, 2.5), rel=1e-10)
    h = 1e-6
    numeric = (np_kd(s, t, 2.5 + h) - np_kd(s, t, 2.5 - h)) / (2 * h)
    assert temperature.grad is not None
    assert temperature.grad.item() == pytest.approx(numeric, rel=1e-6)


# ----------------------------------------------------------------------------- DKD
@pytest.mark.parametrize(
    ('alpha', 'beta', 'temperature'),
    [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0), (2.0, 0.0, 3.0)],
)
def test_dkd_golden(
    rng: np.random.Generator, alpha: float, beta: float, temperature: float
) -> None:
    s, t = logits_pair(rng, batch=7, classes=6)
    y = rng.integers(0, 6, size=7)
    loss = dkd_loss(t64(s), t64(t), torch.from_numpy(y), alpha, beta, temperature)
    assert loss.item() == pytest.approx(
        np_dkd(s, t, y, alpha, beta, temperature), rel=1e-9
    )


def test_dkd_defaults(rng: np.random.Generator) -> None:
    s, t = logits_pair(rng)
    y = rng.integers(0, 5, size=6)
    loss = dkd_loss(t64(s), t64(t), torch.from_numpy(y))
    assert loss.item() == pytest.approx(np_dkd(s, t, y, 1.0, 8.0, 4.0), rel=1e-9)


def test_dkd_two_classes_is_kd(rng: np.random.Generator) -> None:
    # with K = 2 the non-target distribution is a point mass: NCKD = 0, TCKD = KD
    s, t = logits_pair(rng, classes=2)
    y = torch.from_numpy(rng.integers(0, 2, size=6))
    loss = dkd_loss(t64(s), t64(t), y, alpha=1.0, beta=8.0, temperature=4.0)
    assert loss.item() == pytest.approx(np_kd(s, t, 4.0), rel=1e-9)


def test_dkd_zero_when_student_equals_teacher(rng: np.random.Generator) -> None:
    s, _ = logits_pair(rng)
    y = torch.from_numpy(rng.integers(0, 5, size=6))
    assert abs(dkd_loss(t64(s), t64(s), y).item()) < 1e-12


def test_dkd_target_must_be_valid() -> None:
    logits = torch.zeros(3, 4)
    with pytest.raises(TypeError, match='integer'):
        dkd_loss(logits, logits, torch.zeros(3))
    with pytest.raises(ValueError, match=r'\[0, 4\)'):
        dkd_loss(logits, logits, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match='shape'):
        dkd_loss(logits, logits, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='K >= 2'):
        dkd_loss(torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))


def test_dkd_reads_no_values_off_a_device() -> None:
    """On a device the target check reads no values (no host-device sync).

    Meta tensors have no values: reading one (``int(t.max())``) raises, so the
    loss building its graph here proves the step never waits for the device.
    """
    logits = torch.zeros(3, 4, device='meta')
    target = torch.empty(3, dtype=torch.long, device='meta')
    assert dkd_loss(logits, logits, target).shape == ()
    with pytest.raises((RuntimeError, NotImplementedError)):
        int(target.max())  # what the CPU check does


# ----------------------------------------------------------------------------- RKD
@pytest.mark.parametrize(('w_dist', 'w_angle'), [(25.0, 50.0), (1.0, 0.0), (0.0, 1.0)])
def test_rkd_golden(rng: np.random.Generator, w_dist: float, w_angle: float) -> None:
    s = rng.standard_normal((5, 4))
    t = 3.0 * rng.standard_normal((5, 7))  # widths may differ
    loss = rkd_loss(t64(s), t64(t), w_dist, w_angle)
    assert loss.item() == pytest.approx(np_rkd(s, t, w_dist, w_angle), rel=1e-9)


def test_rkd_defaults_are_25_and_50(rng: np.random.Generator) -> None:
    s, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert rkd_loss(t64(s), t64(t)).item() == pytest.approx(
        np_rkd(s, t, 25.0, 50.0), rel=1e-9
    )


def test_rkd_invariant_to_scaling_and_translation(rng: np.random.Generator) -> None:
    s, t = t64(rng.standard_normal((6, 4))), t64(rng.standard_normal((6, 5)))
    reference = rkd_loss(s, t)
    assert reference.item() > 0
    scaled = rkd_loss(7.0 * s + 1.5, 0.01 * t - 3.0)
    torch.testing.assert_close(scaled, reference, rtol=1e-9, atol=0)


def test_rkd_zero_for_same_relations(rng: np.random.Generator) -> None:
    s = t64(rng.standard_normal((5, 3)))
    assert abs(rkd_loss(s, 2.0 * s).item()) < 1e-12


def test_rkd_batch_size_errors(rng: np.random.Generator) -> None:
    one = t64(rng.standard_normal((1, 3)))
    two = t64(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match='at least 2'):
        rkd_loss(one, one, angle_weight=0.0)
    with pytest.raises(ValueError, match='at least 3'):
        rkd_loss(two, two)
    assert torch.isfinite(rkd_loss(two, 2 * two + 1, angle_weight=0.0))
    with pytest.raises(ValueError, match='same batch size'):
        rkd_loss(two, t64(rng.standard_normal((3, 3))))
    with pytest.raises(ValueError, match=r'\(B, D\)'):
        rkd_loss(two[0], two[0])


def test_rkd_finite_for_coincident_embeddings() -> None:
    student = torch.ones(4, 3, requires_grad=True)
    teacher = torch.randn(4, 3)
    loss = rkd_loss(student, teacher)
    loss.backward()
    assert torch.isfinite(loss)
    assert student.grad is not None and torch.isfinite(student.grad).all()


# ---------------------------------------------------------------------------- LSKD
@pytest.mark.parametrize('temperature', [2.0, 3.0])
def test_lskd_golden(rng: np.random.Generator, temperature: float) -> None:
    s, t = logits_pair(rng)
    expected = np_kd(np_zscore(s), np_zscore(t), temperature)
    assert lskd_loss(t64(s), t64(t), temperature).item() == pytest.approx(
        expected, rel=1e-9
    )


def test_lskd_default_temperature_is_two(rng: np.random.Generator) -> None:
    s, t = logits_pair(rng)
    expected = np_kd(np_zscore(s), np_zscore(t), 2.0)
    assert lskd_loss(t64(s), t64(t)).item() == pytest.approx(expected, rel=1e-9)


def test_standardize_logits_golden(rng: np.random.Generator) -> None:
    s, _ = logits_pair(rng)
    np.testing.assert_allclose(
        standardize_logits(t64(s)).numpy(), np_zscore(s), rtol=1e-12
    )


def test_lskd_invariant_to_affine_logit_changes(rng: np.random.Generator) -> None:
    s, t = logits_pair(rng)
    reference = lskd_loss(t64(s), t64(t))
    shifted = lskd_loss(t64(5.0 * s - 2.0), t64(0.3 * t + 9.0))
    torch.testing.assert_close(shifted, reference, rtol=1e-6, atol=0)


def test_lskd_zero_when_student_equals_teacher(rng: np.random.Generator) -> None:
    s, _ = logits_pair(rng)
    assert abs(lskd_loss(t64(s), t64(s)).item()) < 1e-12


@pytest.mark.parametrize('value', [0.0, 3.7])
def test_lskd_finite_for_constant_logits(value: float) -> None:
    student = torch.full((3, 5), value, requires_grad=True)
    teacher = torch.randn(3, 5)
    loss = lskd_loss(student, teacher)
    loss.backward()
    assert torch.isfinite(loss)
    assert student.grad is not None and torch.isfinite(student.grad).all()
    # constant teacher too: a uniform teacher distribution
    assert torch.isfinite(lskd_loss(teacher, torch.full((3, 5), value)))


def test_lskd_needs_two_classes() -> None:
    with pytest.raises(ValueError, match='K >= 2'):
        lskd_loss(torch.zeros(2, 1), torch.zeros(2, 1))


# -------------------------------------------------------------------- logits (MSE)
def test_logits_mse_golden(rng: np.random.Generator) -> None:
    s, t = logits_pair(rng)
    assert logits_mse_loss(t64(s), t64(t)).item() == pytest.approx(
        float(((s - t) ** 2).mean()), rel=1e-12
    )


# ------------------------------------------------------------ multi-label teachers
def test_multilabel_teacher_logits_golden(rng: np.random.Generator) -> None:
    z = 4.0 * rng.standard_normal((4, 6))
    sigmoid = 1.0 / (1.0 + np.exp(-z))
    converted = multilabel_teacher_logits(t64(z))
    np.testing.assert_allclose(converted.numpy(), np.log(sigmoid), rtol=1e-12)
    # softmax of the result is the renormalised per-class sigmoid probabilities
    np.testing.assert_allclose(
        torch.softmax(converted, dim=1).numpy(),
        sigmoid / sigmoid.sum(axis=1, keepdims=True),
        rtol=1e-12,
    )
    # at temperature T it is proportional to sigmoid ** (1 / T)
    powered = sigmoid ** (1 / 3.0)
    np.testing.assert_allclose(
        torch.softmax(converted / 3.0, dim=1).numpy(),
        powered / powered.sum(axis=1, keepdims=True),
        rtol=1e-12,
    )


def test_multilabel_teacher_logits_finite_for_extreme_logits() -> None:
    z = torch.tensor([[-200.0, 0.0, 200.0]])
    converted = multilabel_teacher_logits(z)
    assert torch.isfinite(converted).all()
    assert torch.isfinite(kd_loss(torch.zeros(1, 3), converted))


# --------------------------------------------------------------------------- CORAL
def test_coral_hand_computed() -> None:
    # x has covariance [[2, 0], [0, 0]] (unnormalised), y none: mean(4, 0, 0, 0) / 8
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    y = torch.zeros(2, 2, dtype=torch.float64)
    assert coral(x, y).item() == pytest.approx(0.125, rel=1e-12)


# (B, d) with d <= B (covariance form) and d > B (Gram form)
CORAL_SHAPES = [(9, 5), (4, 4), (4, 10), (3, 40)]


@pytest.mark.parametrize('shape', CORAL_SHAPES)
def test_coral_golden(rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x, y = rng.standard_normal(shape), 2.0 * rng.standard_normal(shape) + 1.0
    assert coral(t64(x), t64(y)).item() == pytest.approx(np_coral(x, y), rel=1e-10)


@pytest.mark.parametrize('shape', CORAL_SHAPES)
def test_coral_symmetric_zero_on_identical_and_shift_invariant(
    rng: np.random.Generator, shape: tuple[int, int]
) -> None:
    x, y = t64(rng.standard_normal(shape)), t64(rng.standard_normal(shape))
    assert coral(x, y).item() > 0
    torch.testing.assert_close(coral(x, y), coral(y, x), rtol=1e-12, atol=0)
    assert coral(x, x).item() == 0.0
    torch.testing.assert_close(coral(x + 3.0, y - 1.0), coral(x, y), rtol=1e-9, atol=0)


def test_coral_batch_size_one_is_zero() -> None:
    assert coral(torch.randn(1, 4), torch.randn(1, 4)).item() == 0.0


@pytest.mark.parametrize('shape', [(5, 3), (3, 5)])
def test_coral_gradcheck(rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x = t64(rng.standard_normal(shape)).requires_grad_()
    y = t64(rng.standard_normal(shape)).requires_grad_()
    assert torch.autograd.gradcheck(coral, (x, y))


def test_coral_float32_gram_form_close_to_float64(rng: np.random.Generator) -> None:
    # d > B in float32: the Gram form; value and gradient against float64
    x, y = (
        rng.random((16, 300)),
        rng.random((16, 300)) + 0.1 * rng.standard_normal((16, 300)),
    )
    x32 = t64(x).float().requires_grad_()
    x64 = t64(x).requires_grad_()
    loss32, loss64 = coral(x32, t64(y).float()), coral(x64, t64(y))
    loss32.backward()
    loss64.backward()
    assert loss32.item() == pytest.approx(np_coral(x, y), rel=1e-4)
    assert x32.grad is not None and x64.grad is not None
    error = (x32.grad.double() - x64.grad).norm() / x64.grad.norm()
    assert error.item() < 1e-4


def test_coral_half_precision_computed_in_float32(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    loss = coral(t64(x).to(torch.bfloat16), t64(y).to(torch.bfloat16))
    assert loss.dtype == torch.float32
    expected = np_coral(
        t64(x).to(torch.bfloat16).double().numpy(),
        t64(y).to(torch.bfloat16).double().numpy(),
    )
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_coral_shape_errors() -> None:
    with pytest.raises(ValueError, match='same shape'):
        coral(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r'\(B, d\)'):
        coral(torch.zeros(3), torch.zeros(3))


# ------------------------------------------------------------ robustness (all KD)
def near_one_hot(batch: int, classes: int, margin: float = 80.0) -> torch.Tensor:
    logits = torch.full((batch, classes), -margin)
    logits[torch.arange(batch), torch.arange(batch) % classes] = margin
    return logits


@pytest.mark.parametrize('teacher_confident', [True, False])
def test_losses_finite_for_near_one_hot_logits(teacher_confident: bool) -> None:
    confident = near_one_hot(4, 5)
    other = torch.randn(4, 5)
    student = (other if teacher_confident else confident).clone().requires_grad_()
    teacher = confident if teacher_confident else other
    target = torch.tensor([1, 2, 3, 4])
    for loss in (
        kd_loss(student, teacher, temperature=1.0),
        kd_loss(student, teacher),
        dkd_loss(student, teacher, target, temperature=1.0),
        dkd_loss(student, teacher, target),
        lskd_loss(student, teacher),
    ):
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, student)
        assert torch.isfinite(grad).all()


def test_losses_defined_for_batch_size_one() -> None:
    student, teacher = torch.randn(1, 4), torch.randn(1, 4)
    target = torch.tensor([2])
    for loss in (
        kd_loss(student, teacher),
        dkd_loss(student, teacher, target),
        lskd_loss(student, teacher),
        logits_mse_loss(student, teacher),
    ):
        assert loss.shape == () and torch.isfinite(loss)


def test_logit_shape_errors() -> None:
    with pytest.raises(ValueError, match='same shape'):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r'\(B, K\)'):
        kd_loss(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match='positive'):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(TypeError, match='Tensor'):
        logits_mse_loss([[0.0]], torch.zeros(1, 1))  # type: ignore[arg-type]


# --------------------------------------------------- gradient reversal, schedules
@pytest.mark.parametrize('lambda_', [-1.0, -0.3, 0.0, 2.0])
def test_gradient_reversal(lambda_: float) -> None:
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y = gradient_reversal(x, lambda_)
    assert torch.equal(y, x)
    (y * torch.tensor([2.0, 5.0, -1.0], dtype=torch.float64)).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(
        x.grad, lambda_ * torch.tensor([2.0, 5.0, -1.0], dtype=torch.float64)
    )


def test_cosine_decay_matches_ctkd_formula() -> None:
    for step in [-1, 0, 1, 3, 5, 9, 10, 11, 50]:
        clamped = min(max(step, 0), 10)
        expected = -1.0 + (1.0 + math.cos(math.pi * clamped / 10)) / 2
        assert cosine_decay(step, 10, 0.0, -1.0) == pytest.approx(expected, abs=1e-15)
    assert cosine_decay(0, 10, 0.0, -1.0) == 0.0
    assert cosine_decay(10, 10, 0.0, -1.0) == -1.0
    with pytest.raises(ValueError, match='num_steps'):
        cosine_decay(1, 0, 0.0, -1.0)


def test_linear_warmup() -> None:
    assert linear_warmup(1, 20) == pytest.approx(0.05)
    assert linear_warmup(10, 20) == pytest.approx(0.5)
    assert linear_warmup(20, 20) == 1.0
    assert linear_warmup(35, 20) == 1.0
    assert linear_warmup(0, 20) == 0.0
    assert linear_warmup(3, 0) == 1.0
