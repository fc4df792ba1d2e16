"""experiments/teacher_feature_pairing.py: the loss and the training epoch, by hand."""

import math

import pytest
import teacher_feature_pairing as probe
import torch
from torch import nn


def test_cosine_loss_by_hand() -> None:
    prediction = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    target = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 0.0], [4.0, 3.0]])
    # 1 - cos: 0 (same direction), 1 (orthogonal), 2 (opposite), 1 - 24/25.
    expected = (0 + 1 + 2 + (1 - 24 / 25)) / 4
    assert probe.cosine_loss(prediction, target).item() == pytest.approx(expected)


def test_in_batches_keeps_every_row_in_order() -> None:
    x = torch.arange(600).reshape(600, 1)
    batches = probe.in_batches(x)
    assert [len(b) for b in batches] == [256, 256, 88]
    assert torch.equal(torch.cat(batches), x)


def test_train_epoch_reports_the_loss_of_the_samples_trained_on() -> None:
    # 65 samples in batches of 64: the last batch of one is left out. With a
    # learning rate of 0 nothing changes, so the reported loss is the cosine
    # loss of the 64 samples of the first batch, which the same generator
    # seed picks.
    torch.manual_seed(0)
    images = torch.randn(65, 3, 2, 2)
    targets = torch.randn(65, 5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    loss = probe.train_epoch(
        model, optimizer, lambda x: x, images, targets, torch.Generator().manual_seed(3)
    )
    first = torch.randperm(65, generator=torch.Generator().manual_seed(3))[:64]
    with torch.no_grad():
        expected = probe.cosine_loss(model(images[first]), targets[first]).item()
    assert math.isclose(loss, expected, rel_tol=1e-5)


def test_train_epoch_fits_a_learnable_target() -> None:
    torch.manual_seed(0)
    images = torch.randn(128, 3, 2, 2)
    targets = images.flatten(1) @ torch.randn(12, 4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(0)
    losses = [
        probe.train_epoch(model, optimizer, lambda x: x, images, targets, generator)
        for _ in range(30)
    ]
    assert losses[0] > 0.3
    assert losses[-1] < 0.02
