"""Tests of the KD loss registry."""

import pytest
import torch

import torchgeo_ackd.losses.registry as registry
from torchgeo_ackd.losses import (
    CTKDLoss,
    DistillationConfig,
    DistillationLoss,
    DKDLoss,
    KDLoss,
    LogitsMSELoss,
    LSKDLoss,
    NoKDLoss,
    RKDLoss,
    available_kd_losses,
    build_kd_loss,
    register_kd_loss,
)

EXPECTED = {
    'ctkd': CTKDLoss,
    'dkd': DKDLoss,
    'kd': KDLoss,
    'logits': LogitsMSELoss,
    'lskd': LSKDLoss,
    'none': NoKDLoss,
    'rkd': RKDLoss,
}


def test_available_kd_losses() -> None:
    assert available_kd_losses() == sorted(EXPECTED)


@pytest.mark.parametrize(('name', 'cls'), sorted(EXPECTED.items()))
def test_build_each(name: str, cls: type[DistillationLoss]) -> None:
    loss = build_kd_loss(name)
    assert type(loss) is cls
    assert isinstance(loss, DistillationLoss)


def test_build_is_case_insensitive_and_passes_kwargs() -> None:
    loss = build_kd_loss(' DKD ', alpha=2.0, temperature=3.0, warmup_epochs=5)
    assert isinstance(loss, DKDLoss)
    assert (loss.alpha, loss.beta, loss.temperature, loss.warmup_epochs) == (
        2.0,
        8.0,
        3.0,
        5,
    )


def test_unknown_name_lists_registered_names() -> None:
    with pytest.raises(ValueError, match='unknown KD loss') as info:
        build_kd_loss('fitnet')
    for name in EXPECTED:
        assert name in str(info.value)


def test_bad_kwargs_name_the_loss() -> None:
    with pytest.raises(TypeError, match="'kd'"):
        build_kd_loss('kd', alpha=1.0)


def test_empty_name() -> None:
    with pytest.raises(ValueError, match='non-empty'):
        build_kd_loss('  ')


def test_register_new_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, '_REGISTRY', dict(registry._REGISTRY))

    @register_kd_loss('Constant')
    class ConstantLoss(DistillationLoss):
        def logits_loss(
            self, student_logits: torch.Tensor, teacher_logits: torch.Tensor
        ) -> torch.Tensor:
            return student_logits.new_tensor(2.0)

    assert 'constant' in available_kd_losses()
    loss = build_kd_loss('constant')
    assert loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1)).item() == 2.0
    with pytest.raises(TypeError, match="'constant'"):
        build_kd_loss('constant', weight=3.0)


def test_duplicate_and_invalid_registrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, '_REGISTRY', dict(registry._REGISTRY))
    with pytest.raises(ValueError, match='already registered'):
        register_kd_loss('KD')(type('Other', (DistillationLoss,), {}))
    with pytest.raises(TypeError, match='DistillationLoss'):
        register_kd_loss('module')(torch.nn.MSELoss)  # type: ignore[type-var]
    assert registry._REGISTRY['kd'] is KDLoss


def test_options_are_given_per_loss() -> None:
    options = {
        'kd': {'temperature': 3.0, 'scale_by_temperature_squared': False},
        'dkd': {'first_epoch': 0},
        'LSKD': {'temperature': 3.0},  # names are case-insensitive here too
    }
    kd = DistillationConfig('kd', 0.4, options).build()
    assert isinstance(kd, KDLoss) and kd.temperature == 3.0
    assert not kd.scale_by_temperature_squared
    dkd = DistillationConfig('dkd', 0.4, options).build()
    assert isinstance(dkd, DKDLoss) and dkd.first_epoch == 0
    assert dkd.temperature == 4.0  # its own default, not kd's 3.0
    lskd = DistillationConfig('lskd', 0.4, options).build()
    assert isinstance(lskd, LSKDLoss) and lskd.temperature == 3.0
    # A loss without options takes its defaults; none takes nothing.
    assert DistillationConfig('rkd', 0.4, options).build().distance_weight == 25.0
    assert isinstance(DistillationConfig('none', 0.4, options).build(), NoKDLoss)


def test_options_of_an_unknown_loss_are_refused() -> None:
    # The flat form (options of one loss, not keyed by loss) names the fix.
    with pytest.raises(ValueError, match="options for 'temperature', which is no"):
        DistillationConfig('kd', 0.4, {'temperature': 3.0}).build()  # type: ignore[dict-item]
    with pytest.raises(ValueError, match='kd.options.kd must be a mapping'):
        DistillationConfig('kd', 0.4, {'kd': 3.0}).build()  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="KD loss 'dkd' .*first_epch"):
        DistillationConfig('dkd', 0.4, {'dkd': {'first_epch': 0}}).build()
