"""The pipeline's methods and the KD options it applies to them."""

import pytest

from torchgeo_ackd.pipeline.methods import METHODS, model_args


def test_kd_temperature_squared_scales_vanilla_kd_only() -> None:
    for name, method in METHODS.items():
        plain = model_args(name)
        assert plain == method.model  # nothing changes without the option
        scaled = model_args(name, kd_temperature_squared=True)
        loss = method.model['kd']['loss']
        options = scaled['kd']['options']
        if loss == 'kd':
            assert options == {
                'kd': {'temperature': 3.0, 'scale_by_temperature_squared': True}
            }
        else:  # the baseline and DKD keep their options
            assert scaled == method.model
    # The methods' own dicts are left as they were.
    assert METHODS['kd'].model['kd']['options']['kd'] == {
        'temperature': 3.0,
        'scale_by_temperature_squared': False,
    }
    with pytest.raises(KeyError):
        model_args('no_such_method')


def test_label_space_starts_get_their_baseline_first() -> None:
    from torchgeo_ackd.pipeline.run import with_baselines_first

    runs = [('kd', 0), ('kd_label_space', 0), ('kd_sembridge_label_space', 1)]
    assert with_baselines_first(runs) == [('baseline', 0), ('baseline', 1), *runs]
    # A requested baseline is moved first, not added twice.
    runs = [('kd_sembridge_label_space', 0), ('baseline', 0)]
    assert with_baselines_first(runs) == [('baseline', 0), runs[0]]
    # Without a label-space start nothing is added or moved.
    runs = [('kd', 0), ('kd_sembridge', 0)]
    assert with_baselines_first(runs) == runs
    assert METHODS['kd_label_space'].initial == 'label_space'
    assert not METHODS['kd_label_space'].dynm
    assert METHODS['kd_sembridge_label_space'].dynm
    # SemBridge from the label-space start without re-matching keeps SKA on.
    no_dynm = METHODS['kd_sembridge_label_space_no_dynm']
    assert (no_dynm.initial, no_dynm.dynm) == ('label_space', False)
    assert 'ska' not in model_args('kd_sembridge_label_space_no_dynm')
