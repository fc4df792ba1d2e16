"""Tests of the DistillationLoss modules (uniform interface, schedules, CTKD)."""

import math

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from torchgeo_ackd.losses import (
    CTKDLoss,
    DistillationLoss,
    DKDLoss,
    KDLoss,
    LogitsMSELoss,
    LSKDLoss,
    NoKDLoss,
    RKDLoss,
    available_kd_losses,
    build_kd_loss,
    rkd_loss,
)

Array = NDArray[np.float64]


def np_kd(s: Array, t: Array, temperature: float, squared: bool = True) -> float:
    """Hinton KD in float64 NumPy: KL(softmax(t/T) || softmax(s/T)), batch mean."""

    def log_softmax(z: Array) -> Array:
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    log_p, log_q = log_softmax(t / temperature), log_softmax(s / temperature)
    loss = (np.exp(log_p) * (log_p - log_q)).sum(axis=1).mean()
    return float(loss * temperature**2 if squared else loss)


def np_zscore(z: Array) -> Array:
    return (z - z.mean(axis=1, keepdims=True)) / (
        z.std(axis=1, ddof=1, keepdims=True) + 1e-7
    )


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return {
        'student_logits': 3
        * torch.randn(6, 5, generator=generator, dtype=torch.float64),
        'teacher_logits': 3
        * torch.randn(6, 5, generator=generator, dtype=torch.float64),
        'target': torch.tensor([0, 1, 2, 3, 4, 0]),
        'student_embedding': torch.randn(
            6, 8, generator=generator, dtype=torch.float64
        ),
        'teacher_embedding': torch.randn(
            6, 4, generator=generator, dtype=torch.float64
        ),
    }


@pytest.mark.parametrize('name', available_kd_losses())
def test_uniform_interface(name: str, batch: dict[str, torch.Tensor]) -> None:
    loss_fn = build_kd_loss(name)
    loss_fn.set_epoch(3)
    student = batch['student_logits'].clone().requires_grad_()
    student_embedding = batch['student_embedding'].clone().requires_grad_()
    loss = loss_fn(
        student,
        batch['teacher_logits'],
        batch['target'],
        student_embedding,
        batch['teacher_embedding'],
    )
    assert loss.shape == ()
    assert torch.isfinite(loss)
    if name == 'none':
        assert loss.item() == 0.0 and loss.grad_fn is None
        return
    loss.backward()
    grad = student_embedding.grad if loss_fn.uses_embeddings else student.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize('name', sorted(set(available_kd_losses()) - {'rkd'}))
def test_logit_losses_ignore_missing_embeddings(
    name: str, batch: dict[str, torch.Tensor]
) -> None:
    loss_fn = build_kd_loss(name)
    assert not loss_fn.uses_embeddings
    loss = loss_fn(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert torch.isfinite(loss)


def test_kd_module_reference_configuration(batch: dict[str, torch.Tensor]) -> None:
    # the ACKD authors' headline "Vanilla KD": T = 3 without the T^2 factor
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss_fn = KDLoss(temperature=3.0, scale_by_temperature_squared=False)
    loss = loss_fn(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert loss.item() == pytest.approx(np_kd(s, t, 3.0, squared=False), rel=1e-10)
    hinton = KDLoss()(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert hinton.item() == pytest.approx(np_kd(s, t, 4.0), rel=1e-10)


def test_lskd_module(batch: dict[str, torch.Tensor]) -> None:
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss = LSKDLoss()(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert loss.item() == pytest.approx(
        np_kd(np_zscore(s), np_zscore(t), 2.0), rel=1e-9
    )


def test_logits_mse_module(batch: dict[str, torch.Tensor]) -> None:
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss = LogitsMSELoss()(
        batch['student_logits'], batch['teacher_logits'], batch['target']
    )
    assert loss.item() == pytest.approx(float(((s - t) ** 2).mean()), rel=1e-12)


def test_losses_have_no_weight_of_their_own() -> None:
    """The task weighs every term (kd.weight); the teacher converts multi-label logits."""
    for cls in (LogitsMSELoss, KDLoss, RKDLoss):
        for option in ('weight', 'multilabel_teacher'):
            with pytest.raises(TypeError, match=option):
                cls(**{option: 1.0})  # type: ignore[arg-type]
    assert KDLoss.needs_teacher and not NoKDLoss.needs_teacher


def test_rkd_module(batch: dict[str, torch.Tensor]) -> None:
    loss_fn = RKDLoss()
    assert loss_fn.uses_embeddings
    loss = loss_fn(
        batch['student_logits'],
        batch['teacher_logits'],
        batch['target'],
        batch['student_embedding'],
        batch['teacher_embedding'],
    )
    expected = rkd_loss(batch['student_embedding'], batch['teacher_embedding'])
    torch.testing.assert_close(loss, expected)
    # The student's embedding gets a gradient (the reference detaches both
    # embeddings, so its RKD trains nothing).
    student = batch['student_embedding'].clone().requires_grad_(True)
    loss_fn(
        batch['student_logits'],
        batch['teacher_logits'],
        batch['target'],
        student,
        batch['teacher_embedding'],
    ).backward()
    assert student.grad is not None and float(student.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match='embedding'):
        loss_fn(batch['student_logits'], batch['teacher_logits'], batch['target'])


def test_none_is_exact_zero(batch: dict[str, torch.Tensor]) -> None:
    loss = NoKDLoss()(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert loss.item() == 0.0 and loss.dtype == torch.float64


# ------------------------------------------------------------------- DKD warm-up
def np_binary_kl(s: Array, t: Array, temperature: float) -> float:
    """DKD for K = 2 (NCKD vanishes): binary KL times T^2, batch mean."""
    p = 1 / (1 + np.exp(-(t[:, 0] - t[:, 1]) / temperature))
    q = 1 / (1 + np.exp(-(s[:, 0] - s[:, 1]) / temperature))
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    return float(kl.mean() * temperature**2)


@pytest.mark.parametrize(
    ('epoch', 'factor'), [(0, 1 / 20), (1, 2 / 20), (9, 10 / 20), (19, 1.0), (150, 1.0)]
)
def test_dkd_warmup_follows_mdistiller(epoch: int, factor: float) -> None:
    generator = torch.Generator().manual_seed(0)
    s = torch.randn(5, 2, generator=generator, dtype=torch.float64)
    t = torch.randn(5, 2, generator=generator, dtype=torch.float64)
    target = torch.tensor([0, 1, 1, 0, 1])
    loss_fn = DKDLoss()
    loss_fn.set_epoch(epoch)
    assert loss_fn.warmup_factor == pytest.approx(factor)
    loss = loss_fn(s, t, target)
    expected = factor * np_binary_kl(s.numpy(), t.numpy(), 4.0)
    assert loss.item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ('epoch', 'factor'),
    [(0, 0.0), (1, 1 / 20), (10, 10 / 20), (19, 19 / 20), (20, 1.0)],
)
def test_dkd_warmup_of_the_ackd_reference(epoch: int, factor: float) -> None:
    # The reference multiplies by min(epoch / 20, 1) with its 0-based epoch.
    generator = torch.Generator().manual_seed(1)
    s = torch.randn(6, 2, generator=generator, dtype=torch.float64)
    t = torch.randn(6, 2, generator=generator, dtype=torch.float64)
    target = torch.tensor([0, 1, 1, 0, 1, 0])
    loss_fn = DKDLoss(first_epoch=0)
    loss_fn.set_epoch(epoch)
    assert loss_fn.warmup_factor == pytest.approx(factor)
    expected = factor * np_binary_kl(s.numpy(), t.numpy(), 4.0)
    assert loss_fn(s, t, target).item() == pytest.approx(expected, rel=1e-9, abs=0)
    with pytest.raises(ValueError, match='first_epoch must be 0 or 1'):
        DKDLoss(first_epoch=2)


def test_dkd_without_warmup() -> None:
    loss_fn = DKDLoss(warmup_epochs=0)
    assert loss_fn.warmup_factor == 1.0


def test_dkd_warmup_before_set_epoch_is_first_epoch() -> None:
    assert DKDLoss().warmup_factor == pytest.approx(1 / 20)


# -------------------------------------------------------------------------- CTKD
def ctkd_lambda(epoch: int, cosine_epochs: int = 10) -> float:
    """CTKD's lambda at the 1-based epoch epoch + 1: cosine from 0 to -1."""
    step = min(epoch + 1, cosine_epochs)
    return -(1.0 - math.cos(math.pi * step / cosine_epochs)) / 2


def np_ctkd(s: Array, t: Array, theta: float) -> float:
    temperature = 1.0 + 20.0 / (1.0 + math.exp(-theta))
    return np_kd(s, t, temperature)


@pytest.mark.parametrize('epoch', [0, 1, 4, 8, 9, 10, 100])
def test_ctkd_lambda_schedule(epoch: int) -> None:
    loss_fn = CTKDLoss()
    loss_fn.set_epoch(epoch)
    assert loss_fn.grl_lambda == pytest.approx(ctkd_lambda(epoch), abs=1e-15)


def test_ctkd_lambda_schedule_reference_length() -> None:
    loss_fn = CTKDLoss(cosine_epochs=5)
    loss_fn.set_epoch(2)
    assert loss_fn.grl_lambda == pytest.approx(ctkd_lambda(2, 5), abs=1e-15)
    loss_fn.set_epoch(4)
    assert loss_fn.grl_lambda == -1.0


def test_ctkd_lambda_schedule_of_the_ackd_reference() -> None:
    """``first_epoch=0``: the ACKD authors' CosineDecay(0, -1, 5).get_value(epoch)."""
    loss_fn = CTKDLoss(cosine_epochs=5, first_epoch=0)
    # (cos(i pi / 5) + 1) / 2 * (0 - (-1)) - 1, by hand.
    expected = [0.0, -0.0954915, -0.3454915, -0.6545085, -0.9045085, -1.0, -1.0]
    for epoch, value in enumerate(expected):
        loss_fn.set_epoch(epoch)
        assert loss_fn.grl_lambda == pytest.approx(value, abs=1e-7)
    loss_fn = CTKDLoss(cosine_epochs=5)  # CTKD's count: one epoch ahead
    loss_fn.set_epoch(0)
    assert loss_fn.grl_lambda == pytest.approx(expected[1], abs=1e-7)
    with pytest.raises(ValueError, match='first_epoch must be 0 or 1'):
        CTKDLoss(first_epoch=2)


def test_ctkd_forward_value_and_temperature(batch: dict[str, torch.Tensor]) -> None:
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss_fn = CTKDLoss()
    assert loss_fn.temperature().item() == pytest.approx(1 + 20 / (1 + math.exp(-1)))
    loss = loss_fn(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert loss.item() == pytest.approx(np_ctkd(s, t, 1.0), rel=1e-6)
    assert any(p is loss_fn.theta for p in loss_fn.parameters())


@pytest.mark.parametrize('epoch', [0, 4, 20])
def test_ctkd_theta_gradient_is_lambda_times_plain_gradient(
    epoch: int, batch: dict[str, torch.Tensor]
) -> None:
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss_fn = CTKDLoss(initial_theta=0.3).double()
    loss_fn.set_epoch(epoch)
    lambda_ = ctkd_lambda(epoch)
    loss_fn(
        batch['student_logits'], batch['teacher_logits'], batch['target']
    ).backward()
    assert loss_fn.theta.grad is not None
    # plain gradient of the loss with respect to theta, by central differences
    h = 1e-6
    plain = (np_ctkd(s, t, 0.3 + h) - np_ctkd(s, t, 0.3 - h)) / (2 * h)
    assert plain != 0
    assert loss_fn.theta.grad.item() == pytest.approx(
        lambda_ * plain, rel=1e-6, abs=1e-12
    )
    if epoch > 0:
        assert np.sign(loss_fn.theta.grad.item()) == -np.sign(plain)


def test_ctkd_student_gradient_is_not_reversed(batch: dict[str, torch.Tensor]) -> None:
    s_np, t_np = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss_fn = CTKDLoss().double()
    loss_fn.set_epoch(30)
    student = batch['student_logits'].clone().requires_grad_()
    loss_fn(student, batch['teacher_logits'], batch['target']).backward()
    assert student.grad is not None
    h = 1e-6
    bump = np.zeros_like(s_np)
    bump[2, 3] = h
    numeric = (np_ctkd(s_np + bump, t_np, 1.0) - np_ctkd(s_np - bump, t_np, 1.0)) / (
        2 * h
    )
    assert student.grad[2, 3].item() == pytest.approx(numeric, rel=1e-6)


def test_ctkd_without_temperature_squared(batch: dict[str, torch.Tensor]) -> None:
    s, t = batch['student_logits'].numpy(), batch['teacher_logits'].numpy()
    loss_fn = CTKDLoss(scale_by_temperature_squared=False, initial_theta=0.0)
    loss = loss_fn(batch['student_logits'], batch['teacher_logits'], batch['target'])
    assert loss.item() == pytest.approx(np_kd(s, t, 11.0, squared=False), rel=1e-6)


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize('epoch', [-1, 1.5, True, '2'])
def test_set_epoch_rejects_bad_values(epoch: object) -> None:
    with pytest.raises(ValueError, match='epoch'):
        DistillationLoss().set_epoch(epoch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('name', 'kwargs', 'match'),
    [
        ('kd', {'temperature': 0.0}, 'temperature'),
        ('dkd', {'temperature': -1.0}, 'temperature'),
        ('dkd', {'warmup_epochs': -1}, 'warmup_epochs'),
        ('lskd', {'temperature': 0.0}, 'temperature'),
        ('ctkd', {'temperature_start': 0.0}, 'temperature_start'),
        ('ctkd', {'temperature_range': -1.0}, 'temperature_range'),
        ('ctkd', {'cosine_epochs': 0}, 'cosine_epochs'),
    ],
)
def test_constructor_errors(name: str, kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_kd_loss(name, **kwargs)


def test_base_class_logits_loss_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        DistillationLoss()(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1))
