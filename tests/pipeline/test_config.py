"""The pipeline's options and the stage configurations built from them."""

from pathlib import Path

import pytest
import yaml

from torchgeo_ackd.pipeline import (
    EvaluationSplit,
    PipelineConfig,
    resolve_benchmark,
    run_pipeline,
    stage_config,
    student_arguments,
)
from torchgeo_ackd.pipeline.config import CONF
from torchgeo_ackd.synthetic import generate_synthetic_benchmark

TINY = {'ms_per_class': 2, 'rgb_per_class': 2, 'ms_size': 8, 'rgb_size': 8}


def test_runs_in_training_order() -> None:
    config = PipelineConfig(
        methods=['baseline', 'kd'], seeds=[3, 1], single_seed_methods=['kd', 'dkd']
    )
    # Every method with every seed, then the single-seed ones not already run.
    assert config.runs == [
        ('baseline', 3),
        ('baseline', 1),
        ('kd', 3),
        ('kd', 1),
        ('dkd', 3),
    ]


@pytest.mark.parametrize(
    ('options', 'message'),
    [
        ({'methods': ['baseline', 'kd_nope']}, r"unknown methods \['kd_nope'\]"),
        ({'single_seed_methods': ['nope']}, r"unknown methods \['nope'\]"),
        ({'seeds': []}, '--seeds: give at least one seed'),
        (
            {'dynm_epochs': [2, 12]},
            r'--dynm-epochs 2,12 must lie in \[0, --student-epochs=12\)',
        ),
        ({'dynm_epochs': [4, 4]}, 'strictly increasing'),
        ({'teacher_model': 'resnet50'}, '--teacher-model resnet50: .*--no-pretrained'),
    ],
)
def test_check_refuses(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PipelineConfig(**options).check()  # type: ignore[arg-type]


def test_the_defaults_pass_the_check() -> None:
    PipelineConfig().check()
    PipelineConfig(teacher_model='resnet50', use_pretrained=False).check()
    assert PipelineConfig().runs == [('baseline', 0), ('kd', 0), ('kd_sembridge', 0)]


def test_run_pipeline_takes_a_config_or_options_not_both(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match='not both'):
        run_pipeline(PipelineConfig(), out=tmp_path)
    # Options are checked before anything is read or written.
    with pytest.raises(ValueError, match='unknown methods'):
        run_pipeline(out=tmp_path / 'out', methods=['nope'])
    assert not (tmp_path / 'out').exists()


def test_stage_config_is_the_shipped_file_and_a_new_dict() -> None:
    teacher = stage_config('teacher')
    assert teacher == yaml.safe_load((CONF / 'teacher.yaml').read_text())
    teacher['model']['init_args']['model'] = 'changed'
    assert stage_config('teacher')['model']['init_args']['model'] != 'changed'


@pytest.mark.parametrize('method', ['baseline', 'kd_sembridge', 'kd_sembridge_no_dynm'])
def test_student_arguments(tmp_path: Path, method: str) -> None:
    """One student's config: the method's arguments on conf/ackd.yaml, its data."""
    root = generate_synthetic_benchmark(tmp_path / 'b', **TINY)
    config = PipelineConfig(root=root, out=tmp_path / 'out', student_model='resnet10t')
    bench = resolve_benchmark(root, None)
    split = EvaluationSplit('fold1_', tmp_path / 'split.csv')
    pairing = tmp_path / 'pairing.pt' if method != 'baseline' else None
    student = student_arguments(config, bench, method, 7, 'test_resnet', split, pairing)
    args = student['model']['init_args']
    assert args['student'] == 'resnet10t'
    assert args['num_classes'] == 10
    assert args['teacher']['model'] == 'test_resnet'
    assert args['teacher']['in_channels'] == 13
    assert args['teacher']['weights'] == str(tmp_path / 'out/teacher/best.ckpt')
    assert args['kd']['loss'] == ('none' if method == 'baseline' else 'kd')
    init = student['data']['init_args']
    assert student['data']['class_path'] == bench.datamodule
    assert init['split_file'] == str(tmp_path / 'split.csv')
    assert init['pairing_file'] == (None if pairing is None else str(pairing))
    assert student['seed_everything'] == 7
    assert student['trainer']['max_epochs'] == config.student_epochs
    [dynm] = student['trainer']['callbacks']
    assert dynm['class_path'] == 'torchgeo_ackd.callbacks.DynamicMatching'
    rematches = [4, 8] if method == 'kd_sembridge' else []
    assert dynm['init_args']['epochs'] == rematches
