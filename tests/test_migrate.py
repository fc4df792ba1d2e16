"""Configs of an earlier version: refused with what to write, and migrated."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from torchgeo_ackd.callbacks import DynamicMatching
from torchgeo_ackd.cli import main
from torchgeo_ackd.migrate import main as migrate_main
from torchgeo_ackd.migrate import migrate, moved_options

OLD = Path(__file__).parent / 'data' / 'ackd'


def _printed(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', f'--config={config}', '--print_config'])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_old_config_is_refused_with_what_to_write(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', '--config', str(OLD / 'old_ackd.yaml')])
    message = str(exit_info.value.code)
    assert (
        'model.init_args.matcher_checkpoint -> data.init_args.pairing_file' in message
    )
    assert 'model.init_args.dynm_epochs -> DynamicMatching init_args.epochs' in message
    assert 'python -m torchgeo_ackd.migrate' in message


def test_plain_torchgeo_refuses_old_config_with_what_to_write() -> None:
    """``torchgeo fit`` (not only ``torchgeo-ackd``) says what an option became."""
    # As a shell starts it: in the config's folder, with PWD set, a relative path.
    env = os.environ | {'PWD': str(OLD)}
    process = subprocess.run(
        [sys.executable, '-m', 'torchgeo', 'fit', '--config', 'old_ackd.yaml'],
        cwd=OLD,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode != 0
    assert (
        'old_ackd.yaml: options of an earlier torchgeo-ackd version' in process.stderr
    )
    assert 'model.init_args.w_kd -> model.init_args.kd.weight' in process.stderr
    assert 'python -m torchgeo_ackd.migrate old_ackd.yaml' in process.stderr
    # jsonargparse's own message never comes: nothing was parsed.
    assert 'Unable to load config' not in process.stderr


@pytest.mark.parametrize('name', ['old_ackd.yaml', 'old_s2s_eu.yaml'])
def test_migrated_configs_parse_and_keep_their_meaning(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / name
    assert migrate_main([str(OLD / name), '--output', str(new)]) == 0
    printed = _printed(new, capsys)
    old = yaml.safe_load((OLD / name).read_text())['model']['init_args']
    (dynm,) = [
        c['init_args']
        for c in printed['trainer']['callbacks']
        if c['class_path'].endswith('DynamicMatching')
    ]
    max_epochs = printed['trainer']['max_epochs']
    if 'dynm_epochs' in old:
        assert dynm['epochs'] == old['dynm_epochs']
    else:  # the paper schedule
        assert DynamicMatching(**dynm).schedule_for(max_epochs) == [30, 60, 95, 135]
    args = printed['model']['init_args']
    assert args['teacher'] == {
        'model': old['teacher'],
        'in_channels': old['teacher_in_channels'],
        'weights': old['teacher_weights'],
        'multilabel': old.get('teacher_multilabel', False),
        'multilabel_logits': 'logsigmoid',  # the default, as before
        'out_of_fold_logits': None,  # the teacher's own logits, as before
    }
    assert args['kd'] == {
        'loss': old['kd'],
        'weight': old['w_kd'],
        'options': {old['kd']: old['kd_kwargs']},
    }
    assert args['ska']['weight'] == old['w_ot']
    pairing = printed['data']['init_args']['pairing_file']
    assert pairing == str(Path(old['matcher_checkpoint']).parent / 'pairing.pt')
    assert moved_options(yaml.safe_load(new.read_text())) == []


def test_switches_and_kd_options() -> None:
    config = {
        'model': {
            'class_path': 'torchgeo_ackd.tasks.ACKDTask',
            'init_args': {
                'sembridge': False,
                'w_kd': 0.4,
                'kd': 'logits',
                'kd_kwargs': {'weight': 0.01, 'multilabel_teacher': True},
            },
        },
        'data': {'init_args': {'pairing_file': 'x.pt'}},
    }
    assert len(moved_options(config)) == 6  # 3 moved, 3 now in a group
    new = migrate(config)
    args = new['model']['init_args']
    assert args['ska'] == {'use_ot1': False, 'use_ot2': False}
    assert args['teacher'] == {'multilabel': True}
    assert args['kd'] == {
        'loss': 'logits',
        'weight': pytest.approx(0.004),
        'options': {},
    }
    assert 'sembridge' not in args and 'w_kd' not in args and 'kd_kwargs' not in args
    assert new['data']['init_args']['pairing_file'] is None
    assert new['trainer']['callbacks'][-1]['init_args'] == {'epochs': []}
    assert config['model']['init_args']['sembridge'] is False  # input unchanged
    ssm_off = migrate(
        {'model': {'class_path': 'ACKDTask', 'init_args': {'ssm': False}}}
    )
    assert ssm_off['data']['init_args']['pairing_file'] is None
    assert 'epochs' not in ssm_off['trainer']['callbacks'][-1]['init_args']


def test_old_matcher_config_is_refused_and_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = OLD / 'old_s2s_eu_matcher.yaml'
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', '--config', str(old)])
    message = str(exit_info.value.code)
    assert 'model.init_args.pairing_dir -> InitialPairing init_args.output_dir' in (
        message
    )
    assert 'model.init_args.write_pairing -> true: the InitialPairing' in message
    new = tmp_path / 'matcher.yaml'
    assert migrate_main([str(old), '--output', str(new)]) == 0
    printed = _printed(new, capsys)
    assert 'write_pairing' not in printed['model']['init_args']
    (pairing,) = [
        c['init_args']
        for c in printed['trainer']['callbacks']
        if c['class_path'] == 'torchgeo_ackd.callbacks.InitialPairing'
    ]
    assert pairing == {
        'output_dir': 'output/s2s_eu/matcher',
        'capacity': None,
        'adapt_batchnorm': False,
        'chunk_size': 4096,
    }
    # The same stage as the current paper config (which also sets the
    # reference's initialisation, an option the old versions did not have).
    current = yaml.safe_load(
        (Path(__file__).parents[1] / 'conf' / 's2s_eu_matcher.yaml').read_text()
    )
    assert current['model']['init_args'].pop('zero_init_last') is False
    assert yaml.safe_load(new.read_text())['model'] == current['model']
    assert moved_options(yaml.safe_load(new.read_text())) == []


def test_matcher_pairing_options() -> None:
    def matcher(**args: object) -> dict:  # type: ignore[type-arg]
        return {
            'model': {
                'class_path': 'torchgeo_ackd.tasks.MatcherTask',
                'init_args': args,
            },
            'trainer': {'callbacks': [{'class_path': 'x.ModelCheckpoint'}]},
        }

    config = matcher(
        pairing_capacity=1.0, adapt_batchnorm=True, pairing_chunk_size=7, lr=0.1
    )
    assert len(moved_options(config)) == 3
    new = migrate(config)
    assert new['model']['init_args'] == {'retrieval_chunk_size': 7, 'lr': 0.1}
    first, checkpoint = new['trainer']['callbacks']
    assert first == {
        'class_path': 'torchgeo_ackd.callbacks.InitialPairing',
        'init_args': {'capacity': 1.0, 'adapt_batchnorm': True, 'chunk_size': 7},
    }
    assert checkpoint == {'class_path': 'x.ModelCheckpoint'}
    # write_pairing: false: no pairing callback, and its options go with it.
    off = migrate(matcher(write_pairing=False, pairing_dir='out'))
    assert off['model']['init_args'] == {}
    assert off['trainer']['callbacks'] == [{'class_path': 'x.ModelCheckpoint'}]
    # A student config is not a matcher config.
    student = {'model': {'class_path': 'ACKDTask', 'init_args': {'adapt_batchnorm': 1}}}
    assert moved_options(student) == []
