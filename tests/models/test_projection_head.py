import numpy as np
import pytest
import torch

from torchgeo_ackd.models.projection_head import ProjectionHead


def _gelu(x: np.ndarray) -> np.ndarray:
    from math import erf, sqrt

    return x * 0.5 * (1 + np.vectorize(erf)(x / sqrt(2)))


def test_matches_numpy_in_eval_mode() -> None:
    torch.manual_seed(0)
    head = ProjectionHead(5, 4, dropout=0.5).double().eval()
    # Random LayerNorm affine so that the test sees it (it starts at 1, 0).
    torch.nn.init.normal_(head.layer_norm.weight)
    torch.nn.init.normal_(head.layer_norm.bias)
    x = torch.randn(3, 5, dtype=torch.float64)
    with torch.no_grad():
        got = head(x).numpy()
        w1, b1 = head.projection.weight.numpy(), head.projection.bias.numpy()
        w2, b2 = head.fc.weight.numpy(), head.fc.bias.numpy()
        gamma, beta = head.layer_norm.weight.numpy(), head.layer_norm.bias.numpy()
    xn = x.numpy()
    projected = xn @ w1.T + b1
    y = _gelu(projected) @ w2.T + b2 + projected
    mean = y.mean(axis=1, keepdims=True)
    var = y.var(axis=1, keepdims=True)
    expected = (y - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    head = ProjectionHead(8, 6, dropout=0.9)
    x = torch.randn(4, 8)
    head.eval()
    torch.testing.assert_close(head(x), head(x))
    head.train()
    assert not torch.allclose(head(x), head(x))


def test_shapes_and_defaults() -> None:
    head = ProjectionHead(512)
    assert head(torch.randn(2, 512)).shape == (2, 256)
    assert head.dropout.p == 0.1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='in_features'):
        ProjectionHead(0)
    with pytest.raises(ValueError, match='out_features'):
        ProjectionHead(4, 0)
    with pytest.raises(ValueError, match='dropout'):
        ProjectionHead(4, 4, dropout=1.0)
