import numpy as np
import pytest
import torch

from torchgeo_ackd.matching import clip_soft_infonce


def _numpy_reference(ms: np.ndarray, rgb: np.ndarray, temperature: float) -> float:
    """The simple-CLIP soft-target loss, written out in float64 NumPy."""

    def log_softmax(x: np.ndarray) -> np.ndarray:
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    logits = rgb @ ms.T / temperature
    mean_similarity = (ms @ ms.T + rgb @ rgb.T) / 2 * temperature
    targets = np.exp(log_softmax(mean_similarity))
    rgb_rows = -(targets * log_softmax(logits)).sum(axis=1)
    ms_rows = -(targets.T * log_softmax(logits.T)).sum(axis=1)
    return float(((rgb_rows + ms_rows) / 2).mean())


@pytest.mark.parametrize('temperature', [1.0, 0.5, 2.0])
def test_matches_numpy(temperature: float) -> None:
    rng = np.random.default_rng(0)
    ms = rng.normal(size=(6, 5))
    rgb = rng.normal(size=(6, 5))
    expected = _numpy_reference(ms, rgb, temperature)
    got = clip_soft_infonce(
        torch.from_numpy(ms), torch.from_numpy(rgb), temperature=temperature
    )
    assert got.dtype == torch.float64
    assert got.ndim == 0
    assert got.item() == pytest.approx(expected, rel=1e-12)
    got32 = clip_soft_infonce(
        torch.from_numpy(ms).float(), torch.from_numpy(rgb).float(), temperature
    )
    assert got32.item() == pytest.approx(expected, rel=1e-5)


def test_hand_computed_two_samples() -> None:
    # ms = rgb = I (2x2), T = 1: logits = I, targets = softmax(I) rows
    # (e/(e+1), 1/(e+1)); log_softmax(I) rows (-log(1+e^-1), -log(1+e)).
    # Both directions give the same CE, so the loss is that CE.
    e = np.e
    p, q = e / (e + 1), 1 / (e + 1)
    expected = p * np.log(1 + 1 / e) + q * np.log(1 + e)
    eye = torch.eye(2, dtype=torch.float64)
    assert clip_soft_infonce(eye, eye).item() == pytest.approx(expected, rel=1e-12)


def test_single_sample_is_zero() -> None:
    x = torch.randn(1, 4)
    assert clip_soft_infonce(x, torch.randn(1, 4)).item() == 0.0


def test_gradient_finite_at_large_scale() -> None:
    g = torch.Generator().manual_seed(2)
    ms = (10 * torch.randn(8, 16, generator=g, dtype=torch.float64)).requires_grad_()
    rgb = (10 * torch.randn(8, 16, generator=g, dtype=torch.float64)).requires_grad_()
    loss = clip_soft_infonce(ms, rgb)
    loss.backward()
    assert ms.grad is not None and rgb.grad is not None
    assert torch.isfinite(ms.grad).all() and torch.isfinite(rgb.grad).all()
    assert ms.grad.abs().sum() > 0


def test_gradient_matches_finite_differences_of_numpy() -> None:
    # The NumPy loss includes the targets' dependence on the embeddings, so
    # this also checks that the targets are not detached (as in the reference).
    rng = np.random.default_rng(3)
    ms = rng.normal(size=(4, 3))
    rgb = rng.normal(size=(4, 3))
    ms_t = torch.from_numpy(ms).requires_grad_()
    clip_soft_infonce(ms_t, torch.from_numpy(rgb), 0.8).backward()
    assert ms_t.grad is not None
    eps = 1e-6
    numeric = np.zeros_like(ms)
    for i in range(ms.shape[0]):
        for j in range(ms.shape[1]):
            up, down = ms.copy(), ms.copy()
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = (
                _numpy_reference(up, rgb, 0.8) - _numpy_reference(down, rgb, 0.8)
            ) / (2 * eps)
    np.testing.assert_allclose(ms_t.grad.numpy(), numeric, rtol=1e-5, atol=1e-8)


def test_bad_inputs() -> None:
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match='same'):
        clip_soft_infonce(x, torch.randn(4, 2))
    with pytest.raises(ValueError, match=r'\(B, D\)'):
        clip_soft_infonce(torch.randn(4), torch.randn(4))
    with pytest.raises(ValueError, match=r'\(B, D\)'):
        clip_soft_infonce(torch.randn(0, 3), torch.randn(0, 3))
    with pytest.raises(TypeError, match='ms_embedding'):
        clip_soft_infonce(torch.ones(4, 3, dtype=torch.long), x)
    for temperature in (0.0, -1.0, float('nan'), float('inf')):
        with pytest.raises(ValueError, match='temperature'):
            clip_soft_infonce(x, x, temperature)
