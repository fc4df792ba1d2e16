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


def test_teacher_fit_and_test(tmp_path: Path) -> None:
    out = tmp_path / 'teacher'
    args = [
        '--config',
        str(CONF / 'teacher.yaml'),
        f'--data.init_args.root={tmp_path / "synthetic"}',
        f'--trainer.default_root_dir={out}',
        f'--trainer.callbacks.init_args.dirpath={out}',
        '--trainer.max_epochs=1',
        *TINY,
    ]
    main(['fit', *args])
    ckpt = out / 'teacher.ckpt'
    assert ckpt.is_file()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['hyper_parameters']['in_channels'] == 13
    # The datamodule's statistics travel with the checkpoint.
    assert state['SyntheticACKDDataModule']['ms_mean'].shape == (13,)
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
        'SyntheticACKDDataModule',
        f'--data.root={tmp_path / "synthetic"}',
        '--data.modality=ms',
        *[a.replace('init_args.', '') for a in TINY],
        '--trainer.fast_dev_run=1',
        f'--trainer.default_root_dir={tmp_path}',
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_bad_config_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="modality='sar'"):
        main(
            [
                'fit',
                '--config',
                str(CONF / 'teacher.yaml'),
                '--data.init_args.modality=sar',
                f'--data.init_args.root={tmp_path}',
            ]
        )
