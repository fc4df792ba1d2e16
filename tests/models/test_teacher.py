"""FrozenTeacher: weights, frozen state, raw-input adapter, multi-label logits, cache."""

import math
from pathlib import Path

import pytest
import timm
import torch
from torch.utils.data import DataLoader

from torchgeo_ackd.matching import loader_outputs
from torchgeo_ackd.models.teacher import FrozenTeacher, TeacherConfig, TeacherOutputs
from torchgeo_ackd.models.teacher_weights import TeacherInput
from torchgeo_ackd.sensors import SENTINEL2_EUROSAT, SENTINEL2_SSL4EO


def test_loaded_from_torchgeo_checkpoint(bench: dict[str, Path]) -> None:
    teacher = FrozenTeacher('resnet18', 13, 10, weights=str(bench['teacher']))
    state = torch.load(bench['teacher'], map_location='cpu', weights_only=True)
    state = state['state_dict']
    assert torch.equal(teacher.model.conv1.weight, state['model.conv1.weight'])
    assert torch.equal(teacher.model.fc.bias, state['model.fc.bias'])


def test_loaded_from_state_dict(tmp_path: Path) -> None:
    model = timm.create_model('resnet18', in_chans=13, num_classes=10)
    torch.save(model.state_dict(), tmp_path / 'teacher.pt')
    teacher = FrozenTeacher('resnet18', weights=str(tmp_path / 'teacher.pt'))
    assert torch.equal(teacher.model.conv1.weight, model.conv1.weight)


def test_from_config_reads_every_teacher_field(tmp_path: Path) -> None:
    model = timm.create_model('resnet18', in_chans=12, num_classes=5)
    torch.save(model.state_dict(), tmp_path / 'teacher.pt')
    config = TeacherConfig(
        model='resnet18',
        in_channels=12,
        weights=str(tmp_path / 'teacher.pt'),
        multilabel=True,
        multilabel_logits='raw',
    )
    teacher = FrozenTeacher.from_config(config, 5)
    assert torch.equal(teacher.model.conv1.weight, model.conv1.weight)
    assert teacher.in_channels == 12 and teacher.model.num_classes == 5
    assert teacher.multilabel and not teacher.convert_logits
    converted = FrozenTeacher.from_config(
        TeacherConfig('resnet18', 12, 'random', multilabel=True), 5
    )
    assert converted.convert_logits


def test_from_torchgeo_enum_served_locally(tmp_path: Path) -> None:
    from torchgeo.models import ResNet18_Weights

    weights = ResNet18_Weights.SENTINEL2_ALL_MOCO
    backbone = timm.create_model('resnet18', in_chans=13, num_classes=0)
    hub = tmp_path / 'hub'
    (hub / 'checkpoints').mkdir(parents=True)
    torch.save(backbone.state_dict(), hub / 'checkpoints' / Path(weights.url).name)
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        teacher = FrozenTeacher(
            'resnet18', weights='ResNet18_Weights.SENTINEL2_ALL_MOCO'
        )
    finally:
        torch.hub.set_dir(old)
    assert torch.equal(teacher.model.conv1.weight, backbone.conv1.weight)
    assert teacher.input.scale == 10000.0
    assert teacher.input.bands is not None and teacher.input.bands[8] == 'B8A'


def test_stays_frozen_and_in_eval_mode() -> None:
    teacher = FrozenTeacher('resnet18', 13, 10)
    outer = torch.nn.Sequential(teacher)
    outer.train()  # what Lightning does at every training epoch
    assert not teacher.training
    assert not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    out = teacher(torch.randn(2, 13, 32, 32))
    assert isinstance(out, TeacherOutputs) and not out.logits.requires_grad
    assert out.logits.shape == (2, 10)
    assert out.patches.shape == (2, 1, 512) and out.embedding.shape == (2, 512)


def test_raw_input_adapter_reorders_and_scales() -> None:
    teacher = FrozenTeacher('resnet18', 13, 10)
    teacher.input = TeacherInput(bands=SENTINEL2_SSL4EO.bands, scale=10000.0)
    raw = torch.rand(3, 13, 4, 4) * 3000
    mean, std = torch.rand(13) * 1000, torch.rand(13) * 100 + 1
    teacher.adapt_input(SENTINEL2_EUROSAT.bands, mean, std)
    normalised = (raw - mean[:, None, None]) / std[:, None, None]
    # EuroSAT order stores B8A last; SSL4EO wants it 9th, all values / 10000.
    expected = raw[:, [0, 1, 2, 3, 4, 5, 6, 7, 12, 8, 9, 10, 11]] / 10000
    torch.testing.assert_close(teacher.adapter(normalised), expected)
    # Derived at every fit start: not part of the checkpoint.
    assert not any(k.startswith('adapter') for k in teacher.state_dict())


def test_band_count_is_checked() -> None:
    teacher = FrozenTeacher('resnet18', 12, 10)
    with pytest.raises(ValueError, match='13 bands.*takes 12'):
        teacher.check_bands(SENTINEL2_EUROSAT.bands)
    teacher.check_bands(SENTINEL2_EUROSAT.bands[:12])


def test_multilabel_logits_converted_once() -> None:
    torch.manual_seed(0)
    teacher = FrozenTeacher('resnet18', 13, 5, multilabel=True)
    raw = FrozenTeacher('resnet18', 13, 5)
    raw.load_state_dict(teacher.state_dict())
    x = torch.randn(2, 13, 16, 16)
    torch.testing.assert_close(
        teacher(x).logits, torch.nn.functional.logsigmoid(raw(x).logits)
    )
    # Hand-computed: z = [5, -5, -5, -5, -5] at T = 3 gives the top class
    # sigmoid(5)^(1/3) / (sigmoid(5)^(1/3) + 4 sigmoid(-5)^(1/3)) = 0.5696.
    z = torch.tensor([[5.0, -5, -5, -5, -5]])
    converted = torch.nn.functional.logsigmoid(z)
    top = torch.softmax(converted / 3, 1)[0, 0]
    s = 1 / (1 + math.exp(-5))
    expected = s ** (1 / 3) / (s ** (1 / 3) + 4 * (1 - s) ** (1 / 3))
    assert float(top) == pytest.approx(expected, rel=1e-6)
    assert float(top) == pytest.approx(0.5696, abs=1e-4)


def test_multilabel_raw_logits_as_the_reference() -> None:
    """``multilabel_logits='raw'``: BCE logits straight into the softmax."""
    from torchgeo_ackd.models.teacher import TeacherConfig

    z = torch.tensor([5.0, -5, -5, -5, -5])
    tops = {}
    for mode in ('raw', 'logsigmoid'):
        teacher = FrozenTeacher(
            'resnet18', 13, 5, multilabel=True, multilabel_logits=mode
        )
        # A classifier that answers z whatever the image.
        torch.nn.init.zeros_(teacher.model.fc.weight)
        with torch.no_grad():
            teacher.model.fc.bias.copy_(z)
        logits = teacher(torch.randn(2, 13, 16, 16)).logits
        tops[mode] = float(torch.softmax(logits / 3, 1)[0, 0])
    # Reference: e^(5/3) / (e^(5/3) + 4 e^(-5/3)) = 1 / (1 + 4 e^(-10/3)).
    assert tops['raw'] == pytest.approx(1 / (1 + 4 * math.exp(-10 / 3)), rel=1e-5)
    assert tops['raw'] == pytest.approx(0.8751, abs=1e-4)
    # logsigmoid: sigmoid(5)^(1/3) / (sigmoid(5)^(1/3) + 4 sigmoid(-5)^(1/3)).
    assert tops['logsigmoid'] == pytest.approx(0.5696, abs=1e-4)
    with pytest.raises(ValueError, match="'logsigmoid' or 'raw'"):
        TeacherConfig(multilabel=True, multilabel_logits='softmax')  # type: ignore[arg-type]


def test_cached_gallery_equals_forward() -> None:
    torch.manual_seed(0)
    teacher = FrozenTeacher('resnet10t', 4, 3)
    images = torch.randn(7, 4, 16, 16)
    rows = [{'image_ms': images[i], 'index': torch.tensor(i)} for i in range(7)]
    loader = DataLoader(rows, batch_size=3, shuffle=False)  # type: ignore[arg-type]
    cached = teacher.set_cache(
        TeacherOutputs(*loader_outputs(teacher, loader, 'image_ms'))
    )
    assert teacher.gallery is cached
    direct = teacher(images)
    index = torch.tensor([6, 0, 3])
    for got, want in zip(teacher.lookup(index), direct, strict=True):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want[index])
    assert cached.patches.shape == (7, 1, teacher.num_features)
