"""The teacher stage through TorchGeo's CLI and through ``torchgeo-ackd``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchgeo_ackd.cli import load_plugins, main

CONF = Path(__file__).parents[1] / 'conf'
TINY = [
    '--data.init_args.ms_per_class=4',
    '--data.init_args.rgb_per_class=3',
    '--data.init_args.ms_size=16',
    '--data.init_args.rgb_size=24',
    '--data.init_args.batch_size=8',
    '--trainer.accelerator=cpu',
    '--trainer.enable_progress_bar=false',
]


def test_load_plugins() -> None:
    loaded = load_plugins()
    assert 'torchgeo_ackd' in loaded and 'torchgeo_ackd.datamodules' in loaded


def _teacher_args(root: Path, out: Path) -> list[str]:
    """One short epoch of conf/teacher.yaml on a tiny benchmark at *root*."""
    return [
        '--config',
        str(CONF / 'teacher.yaml'),
        f'--data.init_args.root={root}',
        f'--trainer.default_root_dir={out}',
        f'--trainer.callbacks.init_args.dirpath={out}',
        '--trainer.max_epochs=1',
        *TINY,
    ]


def test_teacher_fit_and_test(tmp_path: Path) -> None:
    out = tmp_path / 'teacher'
    args = _teacher_args(tmp_path / 'synthetic', out)
    main(['fit', *args])
    ckpt = out / 'teacher.ckpt'
    assert ckpt.is_file()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['hyper_parameters']['in_channels'] == 13
    # The datamodule's statistics travel with the checkpoint.
    assert state['SyntheticMSDataModule']['ms_mean'].shape == (13,)
    main(['test', *args, f'--ckpt_path={ckpt}'])


def test_short_class_names_with_torchgeo_ackd(tmp_path: Path) -> None:
    env = {**os.environ, 'PYTHONPATH': str(Path(__file__).parents[1])}
    cmd = [
        sys.executable,
        '-c',
        'from torchgeo_ackd.cli import main; main()',
        'fit',
        '--config',
        str(CONF / 'teacher.yaml'),
        '--data',
        'SyntheticMSDataModule',
        f'--data.root={tmp_path / "synthetic"}',
        *[a.replace('init_args.', '') for a in TINY],
        '--trainer.fast_dev_run=1',
        f'--trainer.default_root_dir={tmp_path}',
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_bad_config_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='band_dropout must be in'):
        main(
            [
                'fit',
                '--config',
                str(CONF / 'teacher.yaml'),
                '--data.init_args.band_dropout=1.5',
                f'--data.init_args.root={tmp_path}',
            ]
        )


def test_version_names_the_plugin_and_torchgeo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import torchgeo

    import torchgeo_ackd

    main(['--version'])
    out = capsys.readouterr().out.strip()
    assert (
        out
        == f'torchgeo-ackd {torchgeo_ackd.__version__} (torchgeo {torchgeo.__version__})'
    )
    assert torchgeo_ackd.__version__ != torchgeo.__version__


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, 'PYTHONPATH': str(Path(__file__).parents[1])}
    return subprocess.run(
        [sys.executable, '-c', 'from torchgeo_ackd.cli import main; main()', *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=cwd,
    )


def test_a_missing_earlier_stage_is_named_without_a_traceback(tmp_path: Path) -> None:
    # No teacher yet: the student stage names the teacher stage and its command.
    result = _run_cli(
        ['fit', '--config', str(CONF / 'ackd.yaml'), *TINY, '--trainer.fast_dev_run=1'],
        tmp_path,
    )
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    (line,) = [
        li for li in result.stderr.splitlines() if li.startswith('torchgeo-ackd:')
    ]
    assert "teacher weights 'output/teacher/teacher.ckpt' does not exist" in line
    assert 'run it first, e.g. torchgeo-ackd fit --config conf/teacher.yaml' in line
    # A checkpoint to test that no fit wrote.
    result = _run_cli(
        [
            'test',
            '--config',
            str(CONF / 'teacher.yaml'),
            '--ckpt_path',
            'nope/teacher.ckpt',
        ],
        tmp_path,
    )
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert "checkpoint 'nope/teacher.ckpt' does not exist" in result.stderr
    assert f'torchgeo-ackd fit --config {CONF / "teacher.yaml"} first' in result.stderr


def test_a_missing_pairing_names_the_matcher_stage(tmp_path: Path) -> None:
    from torchgeo_ackd.errors import MissingStageOutputError

    teacher = tmp_path / 'teacher'
    common = [f'--data.init_args.root={tmp_path / "synthetic"}', *TINY]
    main(['fit', *_teacher_args(tmp_path / 'synthetic', teacher)])
    args = [
        'fit',
        '--config',
        str(CONF / 'ackd.yaml'),
        f'--model.init_args.teacher.weights={teacher / "teacher.ckpt"}',
        f'--data.init_args.pairing_file={tmp_path / "matcher" / "pairing.pt"}',
        f'--trainer.default_root_dir={tmp_path / "ackd"}',
        '--trainer.fast_dev_run=1',
        *common,
    ]
    # Plain TorchGeo keeps its traceback, with the same message.
    from torchgeo.main import main as torchgeo_main

    with pytest.raises(MissingStageOutputError, match='written by the matcher stage'):
        torchgeo_main(args)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2


def test_running_a_stage_again_overwrites_its_checkpoints(tmp_path: Path) -> None:
    out = tmp_path / 'teacher'
    args = [
        'fit',
        *_teacher_args(tmp_path / 'synthetic', out),
        '--trainer.logger=false',
    ]
    main(args)
    first = torch.load(out / 'teacher.ckpt', map_location='cpu', weights_only=False)
    main([*args, '--seed_everything=1'])
    assert sorted(p.name for p in out.glob('*.ckpt')) == ['last.ckpt', 'teacher.ckpt']
    second = torch.load(out / 'teacher.ckpt', map_location='cpu', weights_only=False)
    # The file holds the second run, which the student stage then reads.
    assert not torch.equal(
        first['state_dict']['model.conv1.weight'],
        second['state_dict']['model.conv1.weight'],
    )
