"""benchmarks/fresh_test.py: the comparison lines, by hand."""

import fresh_test


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
