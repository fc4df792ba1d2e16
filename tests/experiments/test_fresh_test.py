"""experiments/fresh_test.py: the comparison lines, by hand."""

import math
from pathlib import Path

import fresh_test
import pytest


def test_comparisons_pair_by_seed_against_each_named_method() -> None:
    scores = {
        'baseline': {'0': 80.0, '1': 82.0, '2': 81.0},
        'kd': {'0': 81.0, '1': 84.0, '2': 84.0},
        'kd_sembridge': {'0': 80.0, '1': 83.0, '2': 85.0},
    }
    lines = fresh_test.comparisons(scores, ['baseline', 'kd', 'absent'])
    assert list(lines) == ['baseline', 'kd', 'kd_sembridge']
    # kd: [81, 84, 84], mean 83, sd sqrt(3), t(0.975, 2) = 4.303 -> 4.30;
    # kd - baseline = [1, 2, 3]: mean 2, sd 1 -> 4.303 / sqrt(3) = 2.48.
    assert lines['kd'] == (
        "kd: OA 83.00 ± 4.30 over seeds ['0', '1', '2']; vs baseline 2.00 ± 2.48"
    )
    # kd_sembridge - baseline = [0, 1, 4]: mean 5/3, sd 2.082 -> 5.17;
    # kd_sembridge - kd = [-1, -1, 1]: mean -1/3, sd 1.155 -> 2.87.
    assert lines['kd_sembridge'].endswith(
        '; vs baseline 1.67 ± 5.17; vs kd -0.33 ± 2.87'
    )
    # A method is never compared with itself; absent methods are skipped.
    assert 'vs baseline' not in lines['baseline']
    assert lines['baseline'].endswith('; vs kd -2.00 ± 2.48')
    assert 'absent' not in ''.join(lines.values())


def test_spread_ratio_by_hand() -> None:
    # stdev([0, 0, 3]) = sqrt((1 + 1 + 4) / 2) = sqrt(3); stdev([1, 2, 3]) = 1.
    method = {'0': 0.0, '1': 0.0, '2': 3.0, 'only_here': 50.0}
    baseline = {'0': 1.0, '1': 2.0, '2': 3.0}
    ratio, low, high = fresh_test.spread_ratio(method, baseline, resamples=2000)
    assert ratio == pytest.approx(math.sqrt(3))
    assert low <= ratio <= high


def test_spread_ratio_of_a_scaled_copy_is_exact() -> None:
    # Every bootstrap draw of twice the baseline has twice its spread (with 10
    # seeds a draw of one seed ten times has probability 1e-9).
    baseline = {str(i): float(v) for i, v in enumerate([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])}
    method = {k: 2 * v + 7 for k, v in baseline.items()}
    ratio, low, high = fresh_test.spread_ratio(method, baseline)
    assert (ratio, low, high) == pytest.approx((2.0, 2.0, 2.0))


def test_spread_ratio_refuses_too_few_seeds_and_a_constant_baseline() -> None:
    with pytest.raises(ValueError, match='3 or more shared seeds'):
        fresh_test.spread_ratio({'0': 1.0, '1': 2.0, '2': 3.0}, {'0': 1.0, '1': 2.0})
    with pytest.raises(ValueError, match='same OA for every seed'):
        fresh_test.spread_ratio(
            {'0': 1.0, '1': 2.0, '2': 3.0}, dict.fromkeys('012', 5.0)
        )


def test_fresh_indices_take_the_numbered_range_of_every_class() -> None:
    files = [
        Path(f'RGB/{c}/{c}_{i:04d}.jpg') for c in ('Forest', 'River') for i in range(7)
    ]
    # The first 2 of each class were seen; 3 fresh ones after skipping 1.
    assert fresh_test.fresh_indices(files, 3, 3) == [3, 4, 5, 10, 11, 12]
    assert fresh_test.fresh_indices(files, 2, 5) == [2, 3, 4, 5, 6, 9, 10, 11, 12, 13]
    assert fresh_test.fresh_indices(files, 7, 3) == []


@pytest.mark.parametrize('option', [['--skip', '-1'], ['--per-class', '0']])
def test_main_refuses_a_range_that_would_test_seen_images(
    option: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Refused before the output folder is read (it does not exist).
    monkeypatch.setattr('sys.argv', ['fresh_test.py', str(tmp_path / 'none'), *option])
    with pytest.raises(SystemExit) as raised:
        fresh_test.main()
    assert raised.value.code == 2
    assert '--per-class must be >= 1 and --skip >= 0' in capsys.readouterr().err
