"""The teacher stage's task: TorchGeo's ClassificationTask plus calibration."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_DATA
from conftest import quiet_trainer as _trainer

from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.models.teacher import FrozenTeacher
from torchgeo_ackd.synthetic import generate_synthetic_benchmark
from torchgeo_ackd.tasks import TeacherTask
from torchgeo_ackd.tasks.teacher import SoftmaxCalibrationError


def _ece(probs: np.ndarray, target: np.ndarray, bins: int) -> float:
    """Expected calibration error by its definition (equal-width bins, L1)."""
    confidence, predicted = probs.max(1), probs.argmax(1)
    correct = (predicted == target).astype(float)
    # Bin b holds confidences in (b / bins, (b + 1) / bins].
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            total += members.mean() * gap
    return total


def test_calibration_error_by_definition() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(200, 5, generator=generator)
    target = torch.randint(0, 5, (200,), generator=generator)
    metric = SoftmaxCalibrationError(5, n_bins=10)
    metric.update(logits[:120], target[:120])
    metric.update(logits[120:], target[120:])
    expected = _ece(logits.softmax(1).numpy(), target.numpy(), 10)
    assert metric.compute().item() == pytest.approx(expected, abs=1e-6)


def test_logits_inside_the_unit_interval_are_still_logits() -> None:
    # All in [0, 1]: torchmetrics alone would read them as probabilities.
    logits = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.1]])
    target = torch.tensor([0, 0])
    metric = SoftmaxCalibrationError(3, n_bins=5)
    metric.update(logits, target)
    expected = _ece(logits.softmax(1).numpy(), target.numpy(), 5)
    assert metric.compute().item() == pytest.approx(expected, abs=1e-6)
    assert expected != pytest.approx(_ece(logits.numpy(), target.numpy(), 5))


def test_teacher_logs_calibration_and_loads_as_a_frozen_teacher(
    tmp_path: Path,
) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'data', **TINY_DATA)
    dm = SyntheticACKDDataModule(root, modality='ms', batch_size=8, **TINY_DATA)
    task = TeacherTask(
        model='resnet18', in_channels=13, num_classes=10, calibration_bins=7
    )
    trainer = _trainer(tmp_path, max_epochs=1)
    trainer.fit(task, dm)
    (metrics,) = trainer.test(task, dm, verbose=False)
    assert 0.0 <= metrics['test_CalibrationError'] <= 1.0
    assert 'test_OverallAccuracy' in metrics
    assert task.test_metrics['CalibrationError'].n_bins == 7
    trainer.save_checkpoint(tmp_path / 'teacher.ckpt')
    frozen = FrozenTeacher('resnet18', 13, 10, str(tmp_path / 'teacher.ckpt'))
    for name, value in frozen.model.state_dict().items():
        assert torch.equal(value, task.model.state_dict()[name])
    loaded = TeacherTask.load_from_checkpoint(
        tmp_path / 'teacher.ckpt', weights_only=True
    )
    assert loaded.calibration_bins == 7


def test_multilabel_teacher_has_no_calibration_error() -> None:
    task = TeacherTask(
        model='resnet18', in_channels=13, task='multilabel', num_labels=4
    )
    assert 'CalibrationError' not in task.val_metrics
