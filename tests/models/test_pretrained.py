"""Pretrained starts of students and matcher encoders: TorchGeo enums, timm, files."""

import logging
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from conftest import serve_weights

from torchgeo_ackd.models import pretrained
from torchgeo_ackd.models.factory import create_model
from torchgeo_ackd.models.pretrained import load_pretrained
from torchgeo_ackd.tasks import ACKDTask, MatcherTask


def _same(model: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str) -> bool:
    own = model.state_dict()
    return all(torch.equal(own[k], v) for k, v in state.items() if k.startswith(prefix))


def test_rgb_enum_gives_the_backbone(
    hub: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = serve_weights(hub, 'ResNet18_Weights.SENTINEL2_RGB_MOCO', 'resnet18')
    student = create_model('resnet18', 3, 10)
    head = student.fc.weight.clone()
    with caplog.at_level(logging.INFO):
        load_pretrained(student, 'ResNet18_Weights.SENTINEL2_RGB_MOCO', 'student')
    assert _same(student, served, 'layer') and _same(student, served, 'conv1')
    assert torch.equal(student.fc.weight, head)  # the enum has no classifier
    assert 'backbone only' in caplog.text


def test_a_13_band_enum_does_not_fit_an_rgb_student(hub: Path) -> None:
    serve_weights(hub, 'ResNet18_Weights.SENTINEL2_ALL_MOCO', 'resnet18')
    student = create_model('resnet18', 3, 10)
    with pytest.raises(ValueError, match='take 13 input bands .* the student is'):
        load_pretrained(student, 'ResNet18_Weights.SENTINEL2_ALL_MOCO', 'student')


def test_timm_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'timm:<tag>' asks timm for that tag's weights; timm reads a local file here."""
    source = timm.create_model('resnet18', num_classes=1000)
    torch.save(source.state_dict(), tmp_path / 'in1k.pth')
    asked: list[str] = []
    create = timm.create_model

    def offline(name: str, **kwargs: Any) -> torch.nn.Module:
        if not kwargs.get('pretrained'):
            return create(name, **kwargs)
        asked.append(name)
        overlay = {'file': str(tmp_path / 'in1k.pth')}
        return create(name, pretrained_cfg_overlay=overlay, **kwargs)

    monkeypatch.setattr(pretrained.timm, 'create_model', offline)
    student = create_model('resnet18', 3, 10)
    load_pretrained(student, 'timm:a1_in1k', 'student')
    assert asked == ['resnet18.a1_in1k']
    assert _same(student, source.state_dict(), 'layer4')
    assert not torch.equal(student.fc.weight[:10], source.fc.weight[:10])


def test_files_of_every_kind(
    bench: dict[str, Path], student_checkpoint: Path, tmp_path: Path
) -> None:
    from torchgeo_ackd.deploy import export_student, read_student

    trained, _ = read_student(student_checkpoint)
    expected = trained.state_dict()
    export_student(student_checkpoint, tmp_path / 'exported')
    torch.save(expected, tmp_path / 'state.pt')
    for source in (
        student_checkpoint,  # 'student.' keys
        tmp_path / 'exported',  # model.safetensors
        tmp_path / 'exported' / 'torchgeo.ckpt',  # 'model.' keys
        tmp_path / 'state.pt',
    ):
        student = create_model('resnet18', 3, 10)
        load_pretrained(student, str(source), 'student')
        assert _same(student, expected, ''), source  # classifier included
    # Another class count: the backbone only.
    student = create_model('resnet18', 3, 4)
    load_pretrained(student, str(tmp_path / 'state.pt'), 'student')
    assert _same(student, expected, 'layer4') and student.fc.weight.shape == (4, 512)
    with pytest.raises(FileNotFoundError):
        load_pretrained(student, str(tmp_path / 'missing.pt'), 'student')


def test_tasks_take_pretrained_starts(bench: dict[str, Path], tmp_path: Path) -> None:
    teacher = torch.load(bench['teacher'], weights_only=True)['state_dict']
    # M_V from the teacher's checkpoint: its backbone (the encoder has no classifier).
    matcher = MatcherTask(ms_weights=str(bench['teacher']))
    assert _same(matcher.ms_encoder, {k[6:]: v for k, v in teacher.items()}, 'layer')
    rgb = timm.create_model('resnet18', num_classes=0)
    torch.save(rgb.state_dict(), tmp_path / 'rgb.pt')
    matcher = MatcherTask(rgb_weights=str(tmp_path / 'rgb.pt'))
    assert _same(matcher.rgb_encoder, rgb.state_dict(), '')
    from torchgeo_ackd.models.teacher import TeacherConfig

    task = ACKDTask(
        student='resnet18',
        student_weights=str(tmp_path / 'rgb.pt'),
        teacher=TeacherConfig('resnet18', weights=str(bench['teacher'])),
    )
    assert _same(task.student, rgb.state_dict(), '')
