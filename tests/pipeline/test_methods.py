"""The pipeline's methods: the paper's rows, as the main job's table was made."""

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
