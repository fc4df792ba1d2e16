"""Tests of the SKA Planner against a float64 NumPy transcription of its equations."""

import math
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from torch import nn

from torchgeo_ackd.models import Planner, cross_modal_weights, patch_transport_weights

Array = NDArray[np.float64]


# ------------------------------------------------------------- NumPy reference
def np_pool_square(patches: Array, grid: int) -> Array:
    """Average h x h patches (row-major) over equal blocks down to grid x grid."""
    batch, count, channels = patches.shape
    side = math.isqrt(count)
    block = side // grid
    maps = patches.reshape(batch, side, side, channels)
    pooled = maps.reshape(batch, grid, block, grid, block, channels).mean(axis=(2, 4))
    return pooled.reshape(batch, grid * grid, channels)


def np_plan_weights(x: Array, w_qk: Array, heads: int) -> Array:
    """softmax(Q K^T / sqrt(d_head)) per head, averaged over queries: (B, H, N)."""
    batch, count, dim = x.shape
    head_dim = dim // heads
    qk = x @ w_qk.T
    q = qk[..., :dim].reshape(batch, count, heads, head_dim).transpose(0, 2, 1, 3)
    k = qk[..., dim:].reshape(batch, count, heads, head_dim).transpose(0, 2, 1, 3)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_dim)
    scores = scores - scores.max(axis=-1, keepdims=True)
    plan = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return plan.mean(axis=2)


def np_refine(x: Array, weights: Array) -> Array:
    a = weights.mean(axis=1)[..., None]
    before = (x.mean(axis=1) ** 2).sum(axis=-1)
    after = ((a * x).mean(axis=1) ** 2).sum(axis=-1)
    return np.sqrt(before / after)[:, None, None] * a * x


def np_coral(x: Array, y: Array) -> float:
    batch, dim = x.shape
    cx = np.cov(x, rowvar=False) * (batch - 1)
    cy = np.cov(y, rowvar=False) * (batch - 1)
    return float(((cx - cy) ** 2).mean() / (4 * dim))


def np_planner(
    planner: Planner, tp: Array, sp: Array, te: Array, se: Array
) -> tuple[float, float]:
    def weight(module: nn.Module | None) -> Array | None:
        return (
            None
            if not isinstance(module, nn.Linear)
            else module.weight.detach().numpy()
        )

    proj_t, proj_s = (
        weight(planner.teacher_projection),
        weight(planner.student_projection),
    )
    if tp.shape[1] != sp.shape[1]:
        grid = math.isqrt(min(tp.shape[1], sp.shape[1]))
        tp, sp = np_pool_square(tp, grid), np_pool_square(sp, grid)
    if proj_t is not None:
        tp, te = tp @ proj_t.T, te @ proj_t.T
    if proj_s is not None:
        sp, se = sp @ proj_s.T, se @ proj_s.T
    w_t = np_plan_weights(tp, weight(planner.teacher_query_key), planner.num_heads)  # type: ignore[arg-type]
    w_s = np_plan_weights(sp, weight(planner.student_query_key), planner.num_heads)  # type: ignore[arg-type]
    # the cross-modal plan materialised: (B, H, N_s, N_t)
    cross = w_s[:, :, :, None] * w_t[:, :, None, :]
    cross_t = cross.mean(axis=2) / w_t.mean(axis=-1, keepdims=True)
    cross_s = cross.mean(axis=3) / w_s.mean(axis=-1, keepdims=True)
    refined_t = np_refine(tp, cross_t).reshape(len(tp), -1)
    refined_s = np_refine(sp, cross_s).reshape(len(sp), -1)
    return np_coral(refined_t, refined_s), np_coral(te, se)


def random_inputs(
    seed: int, batch: int, n_t: int, c_t: int, n_s: int, c_s: int
) -> tuple[Array, Array, Array, Array]:
    rng = np.random.default_rng(seed)
    # ReLU-like non-negative features, as ResNet layer4 outputs
    tp = np.abs(rng.standard_normal((batch, n_t, c_t)))
    sp = np.abs(rng.standard_normal((batch, n_s, c_s)))
    return tp, sp, tp.mean(axis=1), sp.mean(axis=1)


def as_tensors(*arrays: Array) -> list[torch.Tensor]:
    return [torch.from_numpy(a) for a in arrays]


# ---------------------------------------------------------------------- golden
def test_golden_reference_configuration() -> None:
    # equal widths at embed_dim and equal grids: the reference (no projection)
    torch.manual_seed(0)
    planner = Planner(8, 8, embed_dim=8, num_heads=2).double()
    assert isinstance(planner.teacher_projection, nn.Identity)
    assert isinstance(planner.student_projection, nn.Identity)
    arrays = random_inputs(1, batch=5, n_t=4, c_t=8, n_s=4, c_s=8)
    loss_ot1, loss_ot2 = planner(*as_tensors(*arrays))
    expected_ot1, expected_ot2 = np_planner(planner, *arrays)
    assert loss_ot1.item() == pytest.approx(expected_ot1, rel=1e-9)
    assert loss_ot2.item() == pytest.approx(expected_ot2, rel=1e-9)
    assert loss_ot1.item() > 0 and loss_ot2.item() > 0


def test_golden_with_projection_and_pooling() -> None:
    # teacher 4 x 4 grid, 6 channels = embed_dim; student 2 x 2 grid, 3 channels
    torch.manual_seed(1)
    planner = Planner(6, 3, embed_dim=6, num_heads=3, qkv_bias=False).double()
    assert isinstance(planner.teacher_projection, nn.Identity)
    assert isinstance(planner.student_projection, nn.Linear)
    assert planner.student_projection.weight.shape == (6, 3)
    arrays = random_inputs(2, batch=4, n_t=16, c_t=6, n_s=4, c_s=3)
    loss_ot1, loss_ot2 = planner(*as_tensors(*arrays))
    expected_ot1, expected_ot2 = np_planner(planner, *arrays)
    assert loss_ot1.item() == pytest.approx(expected_ot1, rel=1e-9)
    assert loss_ot2.item() == pytest.approx(expected_ot2, rel=1e-9)


def test_golden_with_both_projected_and_student_pooled() -> None:
    torch.manual_seed(2)
    planner = Planner(5, 7, embed_dim=4, num_heads=2).double()
    assert isinstance(planner.teacher_projection, nn.Linear)
    assert isinstance(planner.student_projection, nn.Linear)
    arrays = random_inputs(3, batch=6, n_t=1, c_t=5, n_s=9, c_s=7)
    loss_ot1, loss_ot2 = planner(*as_tensors(*arrays))
    expected_ot1, expected_ot2 = np_planner(planner, *arrays)
    assert loss_ot1.item() == pytest.approx(expected_ot1, rel=1e-9)
    assert loss_ot2.item() == pytest.approx(expected_ot2, rel=1e-9)


# ------------------------------------------------------------------ properties
def test_zero_for_identical_modalities() -> None:
    torch.manual_seed(3)
    planner = Planner(8, 8, embed_dim=8, num_heads=4).double()
    planner.student_query_key.load_state_dict(planner.teacher_query_key.state_dict())  # type: ignore[union-attr]
    tp, _, te, _ = as_tensors(*random_inputs(4, batch=5, n_t=4, c_t=8, n_s=4, c_s=8))
    loss_ot1, loss_ot2 = planner(tp, tp, te, te)
    assert loss_ot1.item() == 0.0 and loss_ot2.item() == 0.0


def test_cross_modal_plan_on_common_grid_keeps_weights() -> None:
    # attention weights sum to one per head, so with N_t = N_s the cross plan
    # returns them unchanged (as the reference does)
    torch.manual_seed(5)
    x = torch.rand(3, 4, 8, dtype=torch.float64)
    y = torch.rand(3, 4, 8, dtype=torch.float64)
    w_t = patch_transport_weights(x, nn.Linear(8, 16).double(), num_heads=2)
    w_s = patch_transport_weights(y, nn.Linear(8, 16).double(), num_heads=2)
    torch.testing.assert_close(w_t.sum(dim=-1), torch.ones(3, 2, dtype=torch.float64))
    cross_t, cross_s = cross_modal_weights(w_t, w_s)
    torch.testing.assert_close(cross_t, w_t)
    torch.testing.assert_close(cross_s, w_s)


def test_refinement_preserves_energy_of_patch_mean() -> None:
    from torchgeo_ackd.models import energy_preserving_refinement

    x = torch.rand(2, 4, 3, dtype=torch.float64)
    weights = torch.rand(2, 5, 4, dtype=torch.float64)
    refined = energy_preserving_refinement(x, weights)
    torch.testing.assert_close(
        refined.mean(dim=1).pow(2).sum(dim=-1), x.mean(dim=1).pow(2).sum(dim=-1)
    )


def test_switches_for_the_ablation() -> None:
    torch.manual_seed(6)
    inputs = as_tensors(*random_inputs(7, batch=4, n_t=4, c_t=6, n_s=4, c_s=6))
    full = Planner(6, 6, embed_dim=6, num_heads=2).double()
    full_ot1, full_ot2 = full(*inputs)

    no_ot1 = Planner(6, 6, embed_dim=6, num_heads=2, use_ot1=False).double()
    assert no_ot1.teacher_query_key is None and no_ot1.student_query_key is None
    loss_ot1, loss_ot2 = no_ot1(*inputs)
    assert loss_ot1.item() == 0.0 and loss_ot1.grad_fn is None
    torch.testing.assert_close(loss_ot2, full_ot2)

    no_ot2 = Planner(6, 6, embed_dim=6, num_heads=2, use_ot2=False).double()
    no_ot2.load_state_dict(full.state_dict())
    loss_ot1, loss_ot2 = no_ot2(*inputs)
    assert loss_ot2.item() == 0.0
    torch.testing.assert_close(loss_ot1, full_ot1)

    neither = Planner(6, 3, embed_dim=6, num_heads=2, use_ot1=False, use_ot2=False)
    assert len(list(neither.parameters())) == 0
    zeros = neither(
        torch.rand(2, 4, 6), torch.rand(2, 4, 3), torch.rand(2, 6), torch.rand(2, 3)
    )
    assert [z.item() for z in zeros] == [0.0, 0.0]


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(8)
    planner = Planner(6, 4, embed_dim=8, num_heads=2, qkv_bias=True)
    loss_ot1, loss_ot2 = planner(
        torch.rand(5, 16, 6), torch.rand(5, 4, 4), torch.rand(5, 6), torch.rand(5, 4)
    )
    (loss_ot1 + loss_ot2).backward()
    for name, parameter in planner.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_gradcheck_small_planner() -> None:
    torch.manual_seed(9)
    planner = Planner(4, 3, embed_dim=4, num_heads=2).double()
    inputs = [
        t.requires_grad_()
        for t in as_tensors(*random_inputs(10, batch=4, n_t=4, c_t=4, n_s=1, c_s=3))
    ]

    def losses(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return planner(*args)

    assert torch.autograd.gradcheck(losses, tuple(inputs))


def test_finite_for_all_zero_features_and_batch_one() -> None:
    planner = Planner(4, 4, embed_dim=4, num_heads=2)
    patches = torch.zeros(3, 4, 4, requires_grad=True)
    loss_ot1, loss_ot2 = planner(
        patches, torch.rand(3, 4, 4), torch.zeros(3, 4), torch.rand(3, 4)
    )
    (loss_ot1 + loss_ot2).backward()
    assert torch.isfinite(loss_ot1) and torch.isfinite(loss_ot2)
    assert patches.grad is not None and torch.isfinite(patches.grad).all()
    single = planner(
        torch.rand(1, 4, 4), torch.rand(1, 4, 4), torch.rand(1, 4), torch.rand(1, 4)
    )
    assert [z.item() for z in single] == [0.0, 0.0]


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'embed_dim': 10, 'num_heads': 4}, 'divide'),
        ({'embed_dim': 0}, 'embed_dim'),
        ({'num_heads': 0}, 'num_heads'),
        ({'teacher_channels': -2}, 'teacher_channels'),
    ],
)
def test_constructor_errors(kwargs: dict[str, int], match: str) -> None:
    arguments: dict[str, Any] = {
        'teacher_channels': 8,
        'student_channels': 8,
        'embed_dim': 8,
        'num_heads': 2,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Planner(**arguments)


def test_input_shape_errors() -> None:
    planner = Planner(6, 4, embed_dim=8, num_heads=2)
    tp, sp, te, se = (
        torch.rand(2, 4, 6),
        torch.rand(2, 4, 4),
        torch.rand(2, 6),
        torch.rand(2, 4),
    )
    with pytest.raises(ValueError, match='teacher_patches'):
        planner(torch.rand(2, 4, 5), sp, te, se)
    with pytest.raises(ValueError, match='student_patches'):
        planner(tp, torch.rand(3, 4, 4), te, se)
    with pytest.raises(ValueError, match='teacher_embedding'):
        planner(tp, sp, torch.rand(2, 4, 6), se)
    with pytest.raises(ValueError, match='student_embedding'):
        planner(tp, sp, te, torch.rand(2, 5))
    with pytest.raises(ValueError, match='square grid'):
        planner(torch.rand(2, 6, 6), sp, te, se)
