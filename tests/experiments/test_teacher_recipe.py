"""experiments/teacher_recipe.py: each fold's teacher config, from the repository's conf/."""

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import teacher_recipe

from torchgeo_ackd.synthetic import generate_synthetic_benchmark


def test_each_fold_trains_the_conf_teacher_on_its_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = generate_synthetic_benchmark(
        tmp_path / 'synthetic', ms_per_class=5, rgb_per_class=2, ms_size=16, rgb_size=16
    )
    stages: list[tuple[str, dict[str, Any], Path]] = []

    def fake_stage(name: str, config: dict[str, Any], directory: Path) -> Any:
        stages.append((name, config, directory))
        oa = 0.5 + 0.1 * len(stages)
        metrics = {'test_OverallAccuracy': oa, 'test_CalibrationError': 0.1}
        return SimpleNamespace(metrics=metrics)

    monkeypatch.setattr(teacher_recipe, 'run_stage', fake_stage)
    out = tmp_path / 'folds'
    argv = ['--root', str(root), '--out', str(out), '--folds', '5', '--fold', '0', '3']
    teacher_recipe.main([*argv, '--epochs', '2'])
    assert [name for name, _, _ in stages] == ['teacher fold 0', 'teacher fold 3']
    for fold, (_, config, directory) in zip((0, 3), stages, strict=True):
        assert directory == out / f'fold{fold}'
        assert config['model']['class_path'] == 'torchgeo_ackd.tasks.TeacherTask'
        assert config['model']['init_args']['in_channels'] == 13
        assert config['trainer']['max_epochs'] == 2
        data = config['data']['init_args']
        assert data['root'] == str(root)
        assert data['split_file'] == str(out / f'split_fold{fold}.csv')
        assert (out / f'split_fold{fold}.csv').is_file()
    printed = capsys.readouterr().out
    assert re.search(r'^fold 0: OA 60\.00 %, ECE 0\.100, \d+ s$', printed, re.M)
    assert re.search(r'^2 folds: OA 65\.00 ', printed, re.M)
