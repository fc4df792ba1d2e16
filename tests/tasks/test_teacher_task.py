"""The teacher stage's task: TorchGeo's ClassificationTask plus calibration."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_DATA
from conftest import quiet_trainer as _trainer

from torchgeo_ackd.datamodules import SyntheticMSDataModule
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
    dm = SyntheticMSDataModule(root, batch_size=8, **TINY_DATA)
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
        model='resnet18', in_channels=13, task='multilabel', num_labels=4, loss='bce'
    )
    assert 'CalibrationError' not in task.val_metrics


def test_multilabel_with_a_softmax_loss_is_refused() -> None:
    # TorchGeo's default loss is ce: a multi-label teacher would be softmax.
    for loss in ({}, {'loss': 'ce'}):
        with pytest.raises(ValueError, match="task='multilabel' with loss='ce'"):
            TeacherTask(
                model='resnet18', in_channels=3, task='multilabel', num_labels=4, **loss
            )
    task = TeacherTask(
        model='resnet18', in_channels=3, task='multilabel', num_labels=4, loss='bce'
    )
    assert isinstance(task.criterion, torch.nn.BCEWithLogitsLoss)


def _last_batchnorm_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    """The last BatchNorm weight of every timm ResNet block (bn2 or bn3)."""
    blocks = [m for m in model.modules() if hasattr(m, 'zero_init_last')]
    assert blocks, 'no residual blocks'
    return [getattr(b, 'bn3', None) or b.bn2 for b in blocks]  # type: ignore[misc]


def test_reference_initialisation() -> None:
    timm_default = TeacherTask(model='resnet18', in_channels=5, num_classes=3)
    assert all(
        (bn.weight == 0).all() for bn in _last_batchnorm_weights(timm_default.model)
    )
    reference = TeacherTask(
        model='resnet18', in_channels=5, num_classes=3, zero_init_last=False
    )
    assert all(
        (bn.weight == 1).all() for bn in _last_batchnorm_weights(reference.model)
    )
    assert reference.model.conv1.in_channels == 5 and reference.model.num_classes == 3
    # TorchGeo's freeze_backbone still holds for the model built here.
    frozen = TeacherTask(
        model='resnet18',
        in_channels=5,
        num_classes=3,
        zero_init_last=False,
        freeze_backbone=True,
    )
    trainable = {n for n, p in frozen.model.named_parameters() if p.requires_grad}
    assert trainable == {'fc.weight', 'fc.bias'}
    with pytest.raises(
        ValueError, match="'vit_tiny_patch16_224' has no zero_init_last"
    ):
        TeacherTask(
            model='vit_tiny_patch16_224',
            in_channels=5,
            num_classes=3,
            zero_init_last=False,
        )


def test_bands_and_classes_are_checked_before_the_first_step(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'data', **TINY_DATA)
    dm = SyntheticMSDataModule(root, batch_size=8, **TINY_DATA)
    task = TeacherTask(model='resnet18', in_channels=10, num_classes=10)
    with pytest.raises(
        ValueError,
        match=r"SyntheticMSDataModule gives 13 MS bands \['B01', .*'B8A'\], but "
        r'TeacherTask takes in_channels=10: set --model.init_args.in_channels=13$',
    ):
        _trainer(tmp_path, max_epochs=1).fit(task, dm)
    task = TeacherTask(model='resnet18', in_channels=13, num_classes=7)
    with pytest.raises(
        ValueError,
        match='gives 10 classes, but TeacherTask takes num_classes=7: '
        'set --model.init_args.num_classes=10',
    ):
        _trainer(tmp_path, max_epochs=1).test(task, dm)
    # A band subset changes what the model must take.
    dm = SyntheticMSDataModule(
        root, batch_size=8, bands=['B02', 'B03', 'B04'], **TINY_DATA
    )
    task = TeacherTask(model='resnet18', in_channels=13, num_classes=10)
    with pytest.raises(ValueError, match=r"3 MS bands \['B02', 'B03', 'B04'\]"):
        _trainer(tmp_path, max_epochs=1).fit(task, dm)


def test_teacher_stage_on_a_root_with_ms_images_only(tmp_path: Path) -> None:
    root = generate_synthetic_benchmark(tmp_path / 'data', **TINY_DATA)
    shutil.rmtree(root / 'RGB')
    dm = SyntheticMSDataModule(root, batch_size=8, generate=False, **TINY_DATA)
    task = TeacherTask(model='resnet18', in_channels=13, num_classes=10)
    trainer = _trainer(tmp_path, max_epochs=1)
    trainer.fit(task, dm)
    trainer.test(task, dm, verbose=False)
    assert {key[0] for key in dm.datasets.built} == {'ms'}  # no RGB split built


def test_optimizer_is_torchgeos() -> None:
    """AdamW with TorchGeo's plateau schedule (the reference: Adam, constant)."""
    task = TeacherTask(model='resnet18', in_channels=3, num_classes=2, patience=4)
    config = task.configure_optimizers()
    optimizer, scheduler = config['optimizer'], config['lr_scheduler']['scheduler']
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults['weight_decay'] == 0.01  # torch's AdamW default
    assert isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert scheduler.patience == 4
