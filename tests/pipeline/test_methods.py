"""The pipeline's methods: the paper's rows, as the main job's table was made."""

from pathlib import Path
from typing import Any

import pytest

from torchgeo_ackd.pipeline.methods import METHODS, model_args

_KD = {
    'kd': {
        'loss': 'kd',
        'options': {'kd': {'temperature': 3.0, 'scale_by_temperature_squared': False}},
    }
}
_DKD = {'kd': {'loss': 'dkd', 'options': {'dkd': {'warmup_epochs': 2}}}}
_NO_SKA = {'ska': {'use_ot1': False, 'use_ot2': False}}

#: (label, ACKDTask arguments, initial pairing, DynM) of every method the
#: tables in docs/results.md were made with, written out as they were.
PAPER_ROWS: dict[str, tuple[str, dict[str, Any], str, bool]] = {
    'baseline': (
        'Baseline (no KD)',
        {'kd': {'loss': 'none', 'options': {}}} | _NO_SKA,
        'random',
        False,
    ),
    'kd': ('Vanilla KD', _KD | _NO_SKA, 'random', False),
    'kd_sembridge': ('Vanilla KD + SemBridge', _KD, 'ssm', True),
    'dkd': ('DKD', _DKD | _NO_SKA, 'random', False),
    'dkd_sembridge': ('DKD + SemBridge', _DKD, 'ssm', True),
    'kd_sembridge_no_ssm': ('KD + SemBridge w/o SSM', _KD, 'random', True),
    'kd_sembridge_no_dynm': ('KD + SemBridge w/o DynM', _KD, 'ssm', False),
    'kd_sembridge_no_ot1': (
        'KD + SemBridge w/o L_ot1',
        _KD | {'ska': {'use_ot1': False}},
        'ssm',
        True,
    ),
    'kd_sembridge_no_ot2': (
        'KD + SemBridge w/o L_ot2',
        _KD | {'ska': {'use_ot2': False}},
        'ssm',
        True,
    ),
}


@pytest.mark.parametrize('name', PAPER_ROWS)
def test_the_paper_rows_are_unchanged(name: str) -> None:
    label, model, initial, dynm = PAPER_ROWS[name]
    method = METHODS[name]
    assert (method.label, method.initial, method.dynm) == (label, initial, dynm)
    assert model_args(name) == model


def test_model_args_is_a_copy() -> None:
    args = model_args('kd_sembridge_no_ot1')
    args['kd']['loss'] = 'dkd'
    args['ska']['use_ot2'] = False
    assert model_args('kd_sembridge_no_ot1') == PAPER_ROWS['kd_sembridge_no_ot1'][1]
    with pytest.raises(KeyError):
        model_args('no_such_method')


def test_every_registered_kd_loss_has_its_two_rows() -> None:
    from torchgeo_ackd.losses import DistillationConfig, available_kd_losses

    losses = [n for n in available_kd_losses() if n != 'none']
    ablations = {f'kd_sembridge_no_{p}' for p in ('ssm', 'dynm', 'ot1', 'ot2')}
    expected = {'baseline', *losses, *(f'{n}_sembridge' for n in losses), *ablations}
    assert set(METHODS) == expected
    for loss in losses:
        plain, sembridge = METHODS[loss], METHODS[f'{loss}_sembridge']
        assert (plain.initial, plain.dynm) == ('random', False)
        assert plain.model['ska'] == {'use_ot1': False, 'use_ot2': False}
        assert (sembridge.initial, sembridge.dynm) == ('ssm', True)
        assert 'ska' not in sembridge.model  # both OT losses, as conf/ackd.yaml
        assert plain.model['kd'] == sembridge.model['kd']
        assert sembridge.label == f'{plain.label} + SemBridge'
        kd = DistillationConfig(**model_args(loss)['kd'])
        assert kd.loss == loss
        if loss not in ('kd', 'dkd'):  # the registry's defaults
            assert kd.options == {}
        kd.build()  # the options fit the loss


def test_register_method_extends_the_pipeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from torchgeo_ackd.pipeline import Method, register_method
    from torchgeo_ackd.pipeline.__main__ import main
    from torchgeo_ackd.pipeline.methods import LABELS

    t4 = {'kd': {'options': {'kd': {'temperature': 4.0}}}}
    method = Method('KD (T = 4) + SemBridge', t4)
    try:
        register_method('kd_sembridge_t4', method)
        assert METHODS['kd_sembridge_t4'] is method
        assert LABELS['kd_sembridge_t4'] == 'KD (T = 4) + SemBridge'
        assert model_args('kd_sembridge_t4') == t4
        with pytest.raises(ValueError, match='already registered'):
            register_method('kd_sembridge_t4', method)
        register_method('kd_sembridge_t4', Method('T4', t4, 'random'), replace=True)
        assert METHODS['kd_sembridge_t4'].initial == 'random'
        # The command line offers it.
        with pytest.raises(SystemExit):
            main(['--help'])
        assert 'kd_sembridge_t4' in capsys.readouterr().out
    finally:
        METHODS.pop('kd_sembridge_t4', None)
        LABELS.pop('kd_sembridge_t4', None)
    with pytest.raises(ValueError, match='lower-case letters'):
        register_method('KD T4', method)
    with pytest.raises(TypeError, match='must be a Method'):
        register_method('kd_t4', {'label': 'x'})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'ssm' or 'random'"):
        Method('label space', {}, 'label_space')  # type: ignore[arg-type]
    assert 'kd_sembridge_t4' not in METHODS


def test_a_registered_method_runs_in_the_pipeline_check(tmp_path: Path) -> None:
    """run_pipeline knows it (an unknown name is refused before any stage)."""
    from torchgeo_ackd.pipeline import Method, register_method, run_pipeline
    from torchgeo_ackd.pipeline.methods import LABELS

    with pytest.raises(ValueError, match=r"unknown methods \['kd_other'\]"):
        run_pipeline(out=tmp_path, methods=['kd_other'])
    register_method('kd_other', Method('Other', {}))
    try:
        # Known now: it fails later, at the impossible re-matching epochs.
        with pytest.raises(ValueError, match='--dynm-epochs'):
            run_pipeline(
                out=tmp_path, methods=['kd_other'], dynm_epochs=[5], student_epochs=2
            )
    finally:
        METHODS.pop('kd_other', None)
        LABELS.pop('kd_other', None)
