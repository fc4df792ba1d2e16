import json
import shutil
from pathlib import Path

import pytest
import timm
import torch
from conftest import TINY_DATA
from safetensors.torch import load_file
from torchgeo.trainers import ClassificationTask

from torchgeo_ackd.cli import main
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.deploy import export_student, read_student
from torchgeo_ackd.tasks import ACKDTask


@pytest.fixture(scope='module')
def exported(
    student_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp('export') / 'student'
    main(['export', str(student_checkpoint), str(out)])
    return out


def test_export_gives_the_checkpoints_logits_in_timm_and_torchgeo(
    bench: dict[str, Path], student_checkpoint: Path, exported: Path
) -> None:
    task = ACKDTask.load_from_checkpoint(student_checkpoint, map_location='cpu')
    task.eval()
    dm = SyntheticACKDDataModule(root=bench['root'], batch_size=8, **TINY_DATA)
    state = torch.load(student_checkpoint, weights_only=True)
    dm.load_state_dict(state['SyntheticACKDDataModule'])
    dm.setup('test')
    image = dm.preprocess(next(iter(dm.test_dataloader())))['image']
    with torch.no_grad():
        expected = task(image)
        from_timm = timm.create_model(f'local-dir:{exported}', pretrained=True)
        from_torchgeo = ClassificationTask(
            model='resnet18',
            weights=str(exported / 'torchgeo.ckpt'),
            in_channels=3,
            num_classes=10,
        )
        assert torch.equal(from_timm.eval()(image), expected)
        assert torch.equal(from_torchgeo.model.eval()(image), expected)
    # timm's config names the classes and holds the normalisation (in [0, 1] units).
    classes = list(SyntheticACKDDataModule.dataset_class.classes)
    assert from_timm.pretrained_cfg['label_names'] == classes
    mean = state['SyntheticACKDDataModule']['rgb_mean'] / 255
    assert from_timm.pretrained_cfg['mean'] == pytest.approx(mean.tolist())


def test_export_holds_the_student_alone(
    student_checkpoint: Path, exported: Path
) -> None:
    assert sorted(p.name for p in exported.iterdir()) == [
        'README.md',
        'config.json',
        'model.safetensors',
        'torchgeo.ckpt',
    ]
    tensors = load_file(exported / 'model.safetensors')
    student_keys = {
        k.removeprefix('student.')
        for k in torch.load(student_checkpoint, weights_only=True)['state_dict']
        if k.startswith('student.')
    }
    assert set(tensors) == student_keys
    size = (exported / 'model.safetensors').stat().st_size
    assert size < student_checkpoint.stat().st_size / 3
    ckpt = torch.load(exported / 'torchgeo.ckpt', weights_only=True)
    assert ckpt['hyper_parameters'] == {
        'model': 'resnet18',
        'in_channels': 3,
        'num_classes': 10,
    }
    card = (exported / 'README.md').read_text()
    assert 'AnnualCrop, Forest' in card and 'SyntheticACKDDataModule' in card
    assert 'KD loss kd; SKA ot1 + ot2' in card
    assert json.loads((exported / 'config.json').read_text())['num_classes'] == 10


def test_the_card_reports_the_pipelines_test_metrics(
    student_checkpoint: Path, tmp_path: Path
) -> None:
    stage = tmp_path / 'stage'
    stage.mkdir()
    shutil.copy(student_checkpoint, stage / 'best.ckpt')
    done = {'metrics': {'test_OverallAccuracy': 0.625, 'val_loss': 1.0}}
    (stage / 'done.json').write_text(json.dumps(done))
    card = export_student(stage / 'best.ckpt', tmp_path / 'out')
    assert card.test_metrics == {'test_OverallAccuracy': 0.625}
    assert 'test_OverallAccuracy 0.6250' in (tmp_path / 'out' / 'README.md').read_text()


def test_export_refuses_what_is_not_a_student(
    bench: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match='not a student checkpoint'):
        read_student(bench['teacher'])
    truncated = tmp_path / 'best.ckpt'
    truncated.write_bytes(bench['teacher'].read_bytes()[:1000])
    with pytest.raises(ValueError, match='truncated or not a torch file'):
        read_student(truncated)
    with pytest.raises(SystemExit) as exit_info:
        main(['export', str(tmp_path / 'missing.ckpt'), str(tmp_path / 'out')])
    assert exit_info.value.code == 2
    assert not (tmp_path / 'out').exists()
