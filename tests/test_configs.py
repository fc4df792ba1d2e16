"""Every shipped config parses with TorchGeo's CLI and encodes the reference schedule."""

from pathlib import Path

import pytest
import yaml

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.cli import main
from torchgeo_ackd.matching import dynm_schedule

CONF = Path(__file__).parents[1] / 'conf'


@pytest.mark.parametrize('config', sorted(p.name for p in CONF.glob('*.yaml')))
def test_config_parses(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', f'--config={CONF / config}', '--print_config'])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed['model']['class_path'] and printed['data']['class_path']


@pytest.mark.parametrize(
    'config,epochs',
    [
        ('s2s_eu.yaml', [30, 60, 95, 135]),
        ('s2s_cn.yaml', [45, 60, 80, 105, 135]),
        ('m2s_gl.yaml', [15, 45, 80, 120, 165]),
    ],
)
def test_reference_dynm_schedules(config: str, epochs: list[int]) -> None:
    conf = yaml.safe_load((CONF / config).read_text())
    (dynm,) = [
        c['init_args']
        for c in conf['trainer']['callbacks']
        if c['class_path'] == 'torchgeo_ackd.callbacks.DynamicMatching'
    ]
    max_epochs = conf['trainer']['max_epochs']
    assert DynamicMatching(**dynm).schedule_for(max_epochs) == epochs
    got = dynm_schedule(
        dynm['e0'], dynm['delta_e'], dynm['e_mu'], max_epochs, dynm['num_matchings']
    )
    assert got == epochs
    # SSM: the student reads the matcher stage's pairing.
    assert conf['data']['init_args']['pairing_file'].endswith('matcher/pairing.pt')


def _printed(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', f'--config={config}', '--print_config'])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.parametrize('paper', ['s2s_eu', 's2s_cn', 'm2s_gl'])
def test_paper_configs_have_the_reference_setting(
    paper: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each benchmark's three stages as the authors' code runs them."""
    student = _printed(CONF / f'{paper}.yaml', capsys)
    model, data = student['model']['init_args'], student['data']['init_args']
    assert model['student'] == model['teacher']['model'] == 'resnet34'
    assert data['rgb_augment'] is False  # Resize + Normalize only
    assert data['gallery_split'] == 'all'  # matched against all MS images
    assert data['batch_size'] == 256 and student['trainer']['max_epochs'] == 200
    # Each KD loss with the reference's setting, whichever is chosen.
    assert model['kd']['options'] == {
        'kd': {'temperature': 3.0, 'scale_by_temperature_squared': False},
        'dkd': {'first_epoch': 0},
        'lskd': {'temperature': 3.0},
        'ctkd': {
            'cosine_epochs': 5,
            'scale_by_temperature_squared': False,
            'first_epoch': 0,
        },
    }
    multilabel = paper == 'm2s_gl'
    assert model['teacher']['multilabel'] is multilabel
    if multilabel:  # raw BCE logits into softmax(z / T), as the reference
        assert model['teacher']['multilabel_logits'] == 'raw'
    teacher = _printed(CONF / f'{paper}_teacher.yaml', capsys)
    t = teacher['model']['init_args']
    assert t['model'] == 'resnet34' and t['weights'] is None and t['lr'] == 0.001
    assert t['in_channels'] == model['teacher']['in_channels']
    assert t['task'] == ('multilabel' if multilabel else 'multiclass')
    assert teacher['data']['init_args']['batch_size'] == 256
    assert teacher['data']['init_args']['ms_augment'] is False
    assert teacher['trainer']['max_epochs'] == 200
    (checkpoint,) = (
        c['init_args']
        for c in teacher['trainer']['callbacks']
        if c['class_path'].endswith('ModelCheckpoint')
    )
    assert (checkpoint['monitor'], checkpoint['mode']) == ('val_OverallAccuracy', 'max')
    matcher = _printed(CONF / f'{paper}_matcher.yaml', capsys)
    m = matcher['model']['init_args']
    assert m['ms_model'] == m['rgb_model'] == 'resnet34'
    assert (m['embed_dim'], m['dropout'], m['temperature']) == (256, 0.1, 1.0)
    assert (m['lr'], m['weight_decay'], m['patience']) == (0.001, 0.001, None)
    assert m['in_channels'] == model['teacher']['in_channels']
    assert matcher['data']['init_args']['batch_size'] == 64
    assert matcher['data']['init_args']['gallery_split'] == 'all'
    assert matcher['data']['init_args']['ms_augment'] is False  # nor the views
    assert matcher['trainer']['max_epochs'] == 100
    # The stages read each other's outputs.
    assert model['teacher']['weights'] == f'output/{paper}/teacher/teacher.ckpt'
    (pairing,) = (
        c['init_args']
        for c in matcher['trainer']['callbacks']
        if c['class_path'] == 'torchgeo_ackd.callbacks.InitialPairing'
    )
    assert data['pairing_file'] == f'{pairing["output_dir"]}/pairing.pt'


def test_m2s_gl_teacher_trains_with_bce(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from torchgeo_ackd.tasks import TeacherTask

    printed = _printed(CONF / 'm2s_gl_teacher.yaml', capsys)
    args = printed['model']['init_args']
    assert (args['task'], args['loss']) == ('multilabel', 'bce')
    task = TeacherTask(**args)
    assert isinstance(task.criterion, torch.nn.BCEWithLogitsLoss)
    # The reference keeps the teacher of the best validation accuracy.
    (checkpoint,) = (
        c['init_args']
        for c in printed['trainer']['callbacks']
        if c['class_path'].endswith('ModelCheckpoint')
    )
    assert (checkpoint['monitor'], checkpoint['mode']) == ('val_OverallAccuracy', 'max')


def _batchnorm_weights(model: object) -> list[object]:
    import torch

    assert isinstance(model, torch.nn.Module)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    return [m.weight for m in norms]


def _starts_as_the_reference(model: object) -> bool:
    """Every BatchNorm weight at one (timm's zero_init_last puts some at zero)."""
    return all(bool((w == 1).all()) for w in _batchnorm_weights(model))  # type: ignore[attr-defined]


PAPER_STUDENTS = sorted(
    [f'{p}.yaml' for p in ('s2s_eu', 's2s_cn', 'm2s_gl')]
    + [f'pairs/{p.name}' for p in (CONF / 'pairs').glob('*.yaml')]
)


@pytest.mark.parametrize('config', PAPER_STUDENTS)
def test_paper_configs_start_from_the_reference_initialisation(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The networks each paper config trains from scratch, as the reference's."""
    from torchgeo_ackd.tasks import ACKDTask, MatcherTask, TeacherTask

    student = _printed(CONF / config, capsys)['model']['init_args']
    student['teacher'] = dict(student['teacher'], weights='random')
    assert _starts_as_the_reference(ACKDTask(**student).student)
    if config.startswith('pairs/'):
        return  # their teacher and matcher stages are the benchmark's
    stem = config.removesuffix('.yaml')
    teacher = _printed(CONF / f'{stem}_teacher.yaml', capsys)['model']['init_args']
    assert _starts_as_the_reference(TeacherTask(**teacher).model)
    matcher = MatcherTask(
        **_printed(CONF / f'{stem}_matcher.yaml', capsys)['model']['init_args']
    )
    assert _starts_as_the_reference(matcher.ms_encoder)
    assert _starts_as_the_reference(matcher.rgb_encoder)


def test_pipeline_configs_keep_timms_initialisation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The control: without the option timm zero-initialises, so the check can fail."""
    from torchgeo_ackd.tasks import TeacherTask

    teacher = _printed(CONF / 'teacher.yaml', capsys)['model']['init_args']
    assert teacher['zero_init_last'] is True
    assert not _starts_as_the_reference(TeacherTask(**teacher).model)


def _documented_overrides() -> list[str]:
    import re

    text = (Path(__file__).parents[1] / 'docs' / 'pipeline.md').read_text()
    section = text.split('### Command-line overrides for each method')[1].split(
        '\n\n', 2
    )[2]
    return re.findall(r'^\| [^|]+ \| `([^`]+)`', section, flags=re.M)


@pytest.mark.parametrize('overrides', _documented_overrides())
def test_documented_overrides(
    overrides: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    from torchgeo_ackd.losses import DistillationConfig

    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                'fit',
                f'--config={CONF / "ackd.yaml"}',
                *shlex.split(overrides),
                '--print_config',
            ]
        )
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    args = printed['model']['init_args']
    DistillationConfig(**args['kd']).build()  # the options fit the chosen loss
    # Each override reaches its place: the pairing, the callback, the model.
    for override in shlex.split(overrides):
        key, _, value = override.removeprefix('--').partition('=')
        if key == 'trainer.callbacks.init_args.epochs':
            callbacks = printed['trainer']['callbacks']
            assert callbacks[-1]['init_args']['epochs'] == yaml.safe_load(value)
        elif key.startswith(('data.init_args.', 'model.init_args.')):
            section, _, path = key.partition('.init_args.')
            got = printed[section]['init_args']
            for part in path.split('.'):  # a group's key: model.init_args.kd.loss
                got = got[part]
            assert got == yaml.safe_load(value)


def test_overrides_table_found() -> None:
    assert len(_documented_overrides()) >= 12


PAIRS = sorted((CONF / 'pairs').glob('*.yaml'))


def test_every_paper_pair_has_a_config() -> None:
    archs = {'R': 'resnet34', 'M': 'mobilenetv2_512', 'S': 'shufflenetv2_x0_5_512'}
    pairs = {(t, s) for t, s in ['RR', 'MM', 'SS', 'RM', 'RS', 'MS']}
    assert {p.stem for p in PAIRS} == {
        f's2s_eu_{archs[t]}_{archs[s]}' for t, s in pairs
    }


@pytest.mark.parametrize('config', PAIRS, ids=[p.stem for p in PAIRS])
def test_paper_pair_runs_one_step(
    config: Path, bench: dict[str, Path], tmp_path: Path
) -> None:
    """Each pair's teacher and student build and take a step (SKA and DynM on)."""
    from conftest import TINY_DATA, TINY_TRAINER

    conf = yaml.safe_load(config.read_text())
    teacher, student = (
        conf['model']['init_args']['teacher']['model'],
        conf['model']['init_args']['student'],
    )
    assert config.stem == f's2s_eu_{teacher}_{student}'
    conf['model']['init_args']['teacher'] |= {'in_channels': 13, 'weights': 'random'}
    conf['model']['init_args']['num_classes'] = 10
    conf['data'] = {
        'class_path': 'torchgeo_ackd.datamodules.SyntheticACKDDataModule',
        'init_args': {
            'root': str(bench['root']),
            'batch_size': 4,
            **TINY_DATA,
        },
    }
    conf['trainer'] = {
        'default_root_dir': str(tmp_path),
        'fast_dev_run': 1,
        'callbacks': [
            {
                'class_path': 'torchgeo_ackd.callbacks.DynamicMatching',
                'init_args': {'epochs': [0], 'log_pairs': 0},
            }
        ],
    }
    file = tmp_path / 'pair.yaml'
    file.write_text(yaml.safe_dump(conf))
    main(['fit', f'--config={file}', *TINY_TRAINER])
    assert (tmp_path / 'pairing_epoch0' / 'pairing.pt').is_file()
