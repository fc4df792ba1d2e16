"""Confidence intervals and paired differences against hand-computed values."""

import math

import pytest

from torchgeo_ackd.pipeline.intervals import mean_interval, paired_difference


def test_mean_interval_hand_computed() -> None:
    # mean 2.5, s = sqrt(5/3) = 1.290994, t(0.975, 3) = 3.182446 (t table):
    # half-width 3.182446 * 1.290994 / sqrt(4) = 2.054260.
    interval = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert interval.mean == pytest.approx(2.5)
    assert interval.std == pytest.approx(1.290994, abs=1e-6)
    assert interval.half_width == pytest.approx(2.054260, abs=1e-5)
    assert interval.low == pytest.approx(0.445740, abs=1e-5)
    assert interval.excludes_zero() and str(interval) == '2.50 ± 2.05'
    # 90 %: t(0.95, 3) = 2.353363.
    ninety = mean_interval([1.0, 2.0, 3.0, 4.0], confidence=0.9)
    assert ninety.half_width == pytest.approx(2.353363 * 1.290994 / 2, abs=1e-5)


def test_one_value_has_no_interval() -> None:
    one = mean_interval([83.3])
    assert one.mean == 83.3 and one.n == 1 and one.std == 0
    assert math.isnan(one.low) and math.isnan(one.high) and str(one) == '83.30'
    with pytest.raises(ValueError, match='at least one'):
        mean_interval([])
    with pytest.raises(ValueError, match='confidence'):
        mean_interval([1.0, 2.0], confidence=1.0)


def test_paired_difference_hand_computed() -> None:
    method = {'fold0_seed0': 80.0, 'fold1_seed0': 82.0, 'fold2_seed0': 84.0}
    baseline = {'fold0_seed0': 79.0, 'fold1_seed0': 80.0, 'fold2_seed0': 81.0}
    baseline['fold3_seed0'] = 10.0  # a run the method lacks: not compared
    # Differences 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.302653.
    gain = paired_difference(method, baseline)
    assert gain.n == 3 and gain.mean == pytest.approx(2.0)
    assert gain.half_width == pytest.approx(4.302653 / math.sqrt(3), abs=1e-5)
    assert not gain.excludes_zero()  # [-0.48, 4.48]: within the noise
    # The same gain with less spread is significant; unpaired it would not be.
    steady = {k: v + 2.0 for k, v in baseline.items() if k != 'fold3_seed0'}
    assert paired_difference(steady, baseline).low == pytest.approx(2.0)
    with pytest.raises(ValueError, match='share no'):
        paired_difference({'a': 1.0}, {'b': 1.0})
