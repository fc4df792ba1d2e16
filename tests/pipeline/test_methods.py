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
            assert options['scale_by_temperature_squared'] is True
            assert options['temperature'] == 3.0
        else:  # the baseline and DKD keep their options
            assert scaled == method.model
    # The methods' own dicts are left as they were.
    assert METHODS['kd'].model['kd']['options']['scale_by_temperature_squared'] is False
    with pytest.raises(KeyError):
        model_args('no_such_method')
